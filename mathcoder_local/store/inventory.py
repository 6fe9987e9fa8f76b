"""What `--model` can name: the bundled model, the registered (added or pulled) files, the catalog's entries.

`inventory()` is what `mathcoder-local models` lists; `present_models()` is the part of it that runs here
without a download (the bundled model and every registered file that exists), which is also exactly what the
TUI's model picker offers. `model_label` names a model setting or a resolved path the way these lists do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.paths import models_cache
from mathcoder_local.store import bundled, registry
from mathcoder_local.store.catalog import CatalogEntry, load_catalog

ORIGINS = ("bundled", "added", "pulled", "catalog")


@dataclass(frozen=True)
class ModelRow:
    name: str
    format: str
    quant: str | None
    size_bytes: int | None  # of the GGUF file, when it is here
    path: str  # the GGUF, or what to do to get one
    present: bool  # usable by name without a download
    origin: str  # one of ORIGINS
    catalog: CatalogEntry | None = None
    pulled_from: str | None = None  # a pulled model's source: "gguf" (prebuilt) or "checkpoint" (converted here)
    source: str | None = None  # the hub repository@revision it came from
    file: str | None = None  # the prebuilt GGUF's file in that repository
    sha256: str | None = None  # of the file at `path`, as `pull` recorded it
    download_sha256: str | None = None  # of the prebuilt GGUF as the hub served it
    repairs: tuple[str, ...] = ()  # metadata repaired in the prebuilt GGUF to make that file

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "format": self.format,
            "quant": self.quant,
            "size_bytes": self.size_bytes,
            "path": self.path,
            "present": self.present,
            "origin": self.origin,
            "pulled_from": self.pulled_from,
            "source": self.source,
            "file": self.file,
            "sha256": self.sha256,
            "download_sha256": self.download_sha256,
            "repairs": list(self.repairs),
            "catalog": self.catalog.to_dict() if self.catalog else None,
        }


def bundled_row() -> ModelRow:
    """The bundled model: always present (converted on first use); its GGUF's path once it is converted."""
    path = bundled.bundled_gguf_path()
    converted = path.is_file()
    where = str(path) if converted else f"bundled ({bundled.bundled_checkpoint()}); converted on first use"
    size = path.stat().st_size if converted else None
    return ModelRow(bundled.BUNDLED_NAME, bundled.bundled_format(), bundled.BUNDLED_QUANT, size, where, True, "bundled")


def _pulled(m: registry.LocalModel) -> dict[str, object]:
    """What a registry record says of where a pulled model came from."""
    return {
        "pulled_from": m.pull_source,
        "source": m.source,
        "file": m.file,
        "sha256": m.sha256,
        "download_sha256": m.download_sha256,
        "repairs": m.repairs,
    }


def _registered_rows() -> list[ModelRow]:
    catalog = load_catalog()
    rows = []
    for m in registry.list_models():
        entry = catalog.find(m.catalog) if m.catalog else None
        present = m.present
        size = Path(m.path).stat().st_size if present else None
        rows.append(ModelRow(m.name, m.format, m.quant, size, m.path, present, m.origin, entry, **_pulled(m)))
    return rows


def inventory() -> list[ModelRow]:
    """Every model `models` lists: the bundled one, the registered files, then catalog entries with no copy here."""
    registered = _registered_rows()
    rows = [bundled_row(), *registered]
    have = {r.catalog.name for r in registered if r.catalog is not None and r.present}
    for entry in load_catalog().entries:
        if entry.name in have:
            continue
        where = f"not downloaded: mathcoder-local pull {entry.name}" if entry.pullable else "no published checkpoint"
        rows.append(ModelRow(entry.name, entry.prompt_format, None, None, where, False, "catalog", entry))
    return rows


def present_models() -> list[ModelRow]:
    """The models that run here by name: the bundled one first, then every registered file that exists."""
    return [bundled_row(), *(r for r in _registered_rows() if r.present)]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def _in_models_cache(path: str) -> bool:
    return os.path.dirname(os.path.realpath(os.path.expanduser(path))) == os.path.realpath(models_cache())


def model_label(model: str | os.PathLike[str] | None) -> str:
    """A short name for a model setting or a resolved GGUF path: None and the bundled GGUF are the bundled
    model's name, a registered name or file is its registered name, any other file its name without .gguf."""
    if model is None:
        return bundled.BUNDLED_NAME
    text = os.fspath(model)
    registered = [m for m in registry.list_models() if m.present]
    for m in registered:
        if m.name == text:
            return m.name
    if text == bundled.BUNDLED_NAME or (_in_models_cache(text) and same_file(text, bundled.bundled_gguf_path())):
        return bundled.BUNDLED_NAME
    for m in registered:
        if same_file(m.path, text):
            return m.name
    return Path(text).name.removesuffix(".gguf")
