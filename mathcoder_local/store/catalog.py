"""The catalog of published checkpoints (models/catalog.json): names, hub ids, bases, formats, scores, sizes.

The data file holds only values with a public source; sizes per quantization are computed here from the
architecture, with llama.cpp's rule for which tensor gets which type (the file's `size_rule`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mathcoder_local.errors import UserError
from mathcoder_local.quants import DEFAULT_QUANT, DIRECT, FULL_PRECISION, QUANTS  # noqa: F401 - re-exported

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
        }


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]
    sources: dict[str, str]
    size_rule: str

    def find(self, name: str) -> CatalogEntry | None:
        """An entry by name or hub id, ignoring case."""
        key = name.strip().lower()
        for entry in self.entries:
            if key == entry.name.lower() or (entry.hub_id and key == entry.hub_id.lower()):
                return entry
        return None

    def get(self, name: str) -> CatalogEntry:
        entry = self.find(name)
        if entry is None:
            raise UserError(f"{name} is not in the catalog; `mathcoder-local models` lists the known names")
        return entry


def _read() -> dict[str, Any]:
    path = resources.files("mathcoder_local.models") / "catalog.json"
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    raw = _read()
    archs = {
        name: Architecture(name=name, **{k: v for k, v in spec.items()}) for name, spec in raw["architectures"].items()
    }
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
            )
        )
    return Catalog(tuple(entries), dict(raw["sources"]), raw["size_rule"])


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
