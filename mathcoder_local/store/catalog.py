"""The catalog of published checkpoints (models/catalog.json): names, hub ids, bases, formats, scores, sizes,
and the prebuilt GGUF files published for them.

The data file holds only values with a public source; sizes per quantization are computed here from the
architecture, with llama.cpp's rule for which tensor gets which type (the file's `size_rule`).
`$MATHCODER_LOCAL_CATALOG` names another catalog file of the same schema to read instead of the bundled one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mathcoder_local.errors import UserError
from mathcoder_local.quants import DEFAULT_QUANT, DIRECT, FULL_PRECISION, QUANTS  # noqa: F401 - re-exported

CATALOG_ENV = "MATHCODER_LOCAL_CATALOG"
SCHEMAS = (1, 2)  # 2 added the optional per-model "gguf" object

# bytes per block and weights per block, as ggml stores them
_BLOCKS = {
    "f32": (4, 1),
    "f16": (2, 1),
    "bf16": (2, 1),
    "q8_0": (34, 32),
    "q4_k": (144, 256),
    "q5_k": (176, 256),
    "q6_k": (210, 256),
}


@dataclass(frozen=True)
class Architecture:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    source: str

    def tensors(self) -> list[tuple[str, int, int]]:
        """(GGUF name, rows, columns) of every weight matrix; columns is the row length that gets quantized."""
        kv = self.hidden // self.heads * self.kv_heads
        mats = [("token_embd.weight", self.vocab, self.hidden)]
        for i in range(self.layers):
            mats += [
                (f"blk.{i}.attn_q.weight", self.hidden, self.hidden),
                (f"blk.{i}.attn_k.weight", kv, self.hidden),
                (f"blk.{i}.attn_v.weight", kv, self.hidden),
                (f"blk.{i}.attn_output.weight", self.hidden, self.hidden),
                (f"blk.{i}.ffn_gate.weight", self.intermediate, self.hidden),
                (f"blk.{i}.ffn_up.weight", self.intermediate, self.hidden),
                (f"blk.{i}.ffn_down.weight", self.hidden, self.intermediate),
            ]
        mats.append(("output.weight", self.vocab, self.hidden))
        return mats

    @property
    def norm_weights(self) -> int:
        return (2 * self.layers + 1) * self.hidden

    @property
    def parameters(self) -> int:
        return sum(rows * cols for _, rows, cols in self.tensors()) + self.norm_weights

    def size_bytes(self, quant: str) -> int:
        """Bytes of tensor data in a GGUF of this architecture at `quant` (see the catalog's size_rule)."""
        if quant not in QUANTS:
            raise UserError(f"unknown quantization {quant!r}; choose one of: {', '.join(QUANTS)}")
        total = self.norm_weights * 4
        for name, rows, cols in self.tensors():
            kind = tensor_type(name, quant, self.layers)
            block_bytes, block = _BLOCKS[kind]
            if cols % block:
                block_bytes, block = _BLOCKS["f16"]  # rows that do not fill whole blocks stay f16
            total += rows * (cols // block) * block_bytes
        return total


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensor_type(name: str, quant: str, n_layers: int) -> str:
    """The ggml type llama.cpp gives a 2-D tensor at `quant` (llama_tensor_get_type for these file types)."""
    if quant in DIRECT:
        return quant
    base = {"q4_k_m": "q4_k", "q5_k_m": "q5_k", "q6_k": "q6_k"}[quant]
    if name == "output.weight":
        return "q6_k"
    if base == "q6_k" or not name.startswith("blk."):
        return base
    layer = int(name.split(".")[1])
    if name.endswith(("attn_v.weight", "ffn_down.weight")) and _use_more_bits(layer, n_layers):
        return "q6_k"
    if name.endswith("attn_v.weight") and n_layers == 80 and base == "q4_k":
        return "q5_k"  # llama.cpp's 70B rule: the small shared V projection gets more bits
    return base


@dataclass(frozen=True)
class GgufSource:
    """Prebuilt GGUF files of a model on the hub: one repository, one file per quantization."""

    repo: str
    files: dict[str, str]  # quantization (a key of QUANTS) -> file name in the repository
    source: str  # the catalog's sources key that confirms the repository and the file names
    revision: str | None = None  # a branch, tag or commit to pin; None: the repository's default branch

    def file(self, quant: str) -> str | None:
        return self.files.get(quant)

    def to_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "files": dict(self.files), "source": self.source, "revision": self.revision}


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    family: str
    hub_id: str | None
    base: str
    architecture: Architecture
    prompt_format: str
    rope_freq_base: float | None  # None: keep the checkpoint's config.json value
    gsm8k: float | None
    math: float | None
    licence: str | None
    source: dict[str, str] = field(default_factory=dict)
    note: str = ""
    gguf: GgufSource | None = None

    @property
    def pullable(self) -> bool:
        """Whether `pull` has anything to fetch: the official checkpoint or a prebuilt GGUF."""
        return self.hub_id is not None or bool(self.gguf and self.gguf.files)

    def gguf_file(self, quant: str) -> str | None:
        """The prebuilt GGUF's file name at `quant`, if the catalog names one."""
        return self.gguf.file(quant) if self.gguf else None

    @property
    def parameters(self) -> int:
        return self.architecture.parameters

    def size_bytes(self, quant: str = DEFAULT_QUANT) -> int:
        return self.architecture.size_bytes(quant)

    def sizes(self) -> dict[str, int]:
        return {q: self.size_bytes(q) for q in QUANTS}

    def to_dict(self) -> dict[str, Any]:
        a = self.architecture
        return {
            "name": self.name,
            "family": self.family,
            "hub_id": self.hub_id,
            "base": self.base,
            "prompt_format": self.prompt_format,
            "rope_freq_base": self.rope_freq_base,
            "gsm8k": self.gsm8k,
            "math": self.math,
            "licence": self.licence,
            "parameters": self.parameters,
            "architecture": {
                "name": a.name,
                "hidden": a.hidden,
                "intermediate": a.intermediate,
                "layers": a.layers,
                "heads": a.heads,
                "kv_heads": a.kv_heads,
                "vocab": a.vocab,
            },
            "size_bytes": self.sizes(),
            "source": dict(self.source),
            "note": self.note,
            "gguf": self.gguf.to_dict() if self.gguf else None,
        }


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]
    sources: dict[str, str]
    size_rule: str

    def find(self, name: str) -> CatalogEntry | None:
        """An entry by name, hub id or prebuilt GGUF repository, ignoring case."""
        key = name.strip().lower()
        for entry in self.entries:
            if key == entry.name.lower() or (entry.hub_id and key == entry.hub_id.lower()):
                return entry
        for entry in self.entries:
            if entry.gguf and key == entry.gguf.repo.lower():
                return entry
        return None

    def get(self, name: str) -> CatalogEntry:
        entry = self.find(name)
        if entry is None:
            raise UserError(f"{name} is not in the catalog; `mathcoder-local models` lists the known names")
        return entry


def catalog_path() -> Path | None:
    """The catalog file `$MATHCODER_LOCAL_CATALOG` names, else None: the bundled models/catalog.json."""
    override = os.environ.get(CATALOG_ENV)
    return Path(override).expanduser() if override else None


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        return json.loads((resources.files("mathcoder_local.models") / "catalog.json").read_text(encoding="utf-8"))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the catalog {path} (${CATALOG_ENV}): {exc}".splitlines()[0]) from None


def load_catalog() -> Catalog:
    """The catalog: `$MATHCODER_LOCAL_CATALOG`'s file when set, else the bundled one; read once per file."""
    path = catalog_path()
    if path is None:
        return _load(None, None)
    try:
        stat = path.stat()
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    return _load(str(path.resolve()), stamp)


def _gguf_source(model: dict[str, Any], sources: dict[str, str], where: str) -> GgufSource | None:
    spec = model.get("gguf")
    if spec is None:
        return None

    def bad(why: str) -> UserError:
        return UserError(f"catalog {where}: {model.get('name')}'s gguf {why}")

    if not isinstance(spec, dict) or not isinstance(spec.get("repo"), str) or spec["repo"].count("/") != 1:
        raise bad("needs a hub repository as 'repo' (owner/name)")
    files = spec.get("files")
    if not isinstance(files, dict) or not all(isinstance(f, str) and f.endswith(".gguf") for f in files.values()):
        raise bad("needs 'files': {quantization: file name ending in .gguf}")
    unknown = [q for q in files if q not in QUANTS]
    if unknown:
        raise bad(f"names unknown quantization {unknown[0]!r} (known: {', '.join(QUANTS)})")
    if spec.get("source") not in sources:
        raise bad("needs 'source': a key of the catalog's sources that confirms the repository and files")
    revision = spec.get("revision")
    return GgufSource(repo=spec["repo"], files=dict(files), source=spec["source"], revision=revision)


@lru_cache(maxsize=4)
def _load(path: str | None, stamp: tuple[int, int] | None) -> Catalog:
    raw = _read(Path(path) if path else None)
    where = path or "models/catalog.json"
    if raw.get("schema") not in SCHEMAS:
        raise UserError(f"catalog {where} has schema {raw.get('schema')!r}; this version reads {SCHEMAS}")
    archs = {
        name: Architecture(name=name, **{k: v for k, v in spec.items()}) for name, spec in raw["architectures"].items()
    }
    sources = dict(raw["sources"])
    entries = []
    for m in raw["models"]:
        rope = m.get("rope_freq_base")
        entries.append(
            CatalogEntry(
                name=m["name"],
                family=m["family"],
                hub_id=m.get("hub_id"),
                base=m["base"],
                architecture=archs[m["architecture"]],
                prompt_format=m["prompt_format"],
                rope_freq_base=float(rope) if rope is not None else None,
                gsm8k=m.get("gsm8k"),
                math=m.get("math"),
                licence=m.get("licence"),
                source=dict(m.get("source", {})),
                note=m.get("note", ""),
                gguf=_gguf_source(m, sources, where),
            )
        )
    return Catalog(tuple(entries), sources, raw["size_rule"])


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
