"""`pull`: a catalog checkpoint from the Hugging Face hub, converted to GGUF and registered by name.

The download is the converter's own (`convert/checkpoint.py`: huggingface_hub's snapshot_download of only the
files conversion needs, resumable, with progress); the conversion takes the catalog's prompt format and rope
base. With HF_HUB_OFFLINE set, a checkpoint already in the local Hugging Face cache still converts and nothing
else is tried.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mathcoder_local.errors import UserError
from mathcoder_local.paths import models_cache
from mathcoder_local.store import registry
from mathcoder_local.store.catalog import DEFAULT_QUANT, QUANTS, CatalogEntry, load_catalog

_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def pulled_name(entry: CatalogEntry, quant: str) -> str:
    """The registered name of a pulled copy: NAME:quant."""
    return f"{entry.name}:{quant}"


def pulled_path(entry: CatalogEntry, quant: str) -> Path:
    """Where `pull` writes a copy: NAME.QUANT.gguf in the models cache."""
    return models_cache() / f"{entry.name}.{quant.upper()}.gguf"


def pull_model(
    name: str,
    *,
    quant: str = DEFAULT_QUANT,
    revision: str | None = None,
    force: bool = False,
    progress: Callable[[object], object] | None = None,
) -> tuple[registry.LocalModel, bool]:
    """Download (unless cached), convert and register; returns the registered model and whether it was new.

    `progress(plan)` may return a context manager yielding the converter's progress callback (bytes done).
    """
    entry = load_catalog().get(name)
    if entry.hub_id is None:
        raise UserError(f"{entry.name} has no published checkpoint to pull: {entry.note or 'none is on the hub'}")
    if quant not in QUANTS:
        raise UserError(f"unknown --quant {quant}; choose one of: {', '.join(QUANTS)}")
    target = pulled_path(entry, quant)
    registered = registry.find(pulled_name(entry, quant))
    if target.is_file() and not force:
        if registered is None or not registered.present or Path(registered.path) != target.resolve():
            registered = register_pulled(entry, quant, target, revision)
        return registered, False

    from mathcoder_local.convert import convert_checkpoint, make_plan

    offline = hub_offline()
    try:
        plan = make_plan(
            entry.hub_id,
            outtype=quant,
            outfile=target,
            revision=revision,
            download=not offline,
            prompt_format=entry.prompt_format,
            rope_freq_base=entry.rope_freq_base,
        )
    except UserError as exc:
        if offline:
            raise UserError(
                f"HF_HUB_OFFLINE is set and {entry.hub_id} is not in the local Hugging Face cache; unset it to download"
            ) from None
        text = str(exc)
        if "ConnectionError" in text or "Connection refused" in text or "Max retries" in text:
            hub = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
            raise UserError(
                f"cannot reach the Hugging Face hub at {hub} to download {entry.hub_id} (network down?)"
            ) from None
        raise
    plan.model_name = entry.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        convert_checkpoint(plan, force=True)
    else:
        with progress(plan) as advance:  # type: ignore[attr-defined]
            convert_checkpoint(plan, force=True, progress=advance)
    return register_pulled(entry, quant, target, plan.revision), True


def register_pulled(entry: CatalogEntry, quant: str, target: Path, revision: str | None = None) -> registry.LocalModel:
    """Register `target` as the pulled copy of `entry` at `quant` (NAME:quant), replacing an older record."""
    source = f"{entry.hub_id}@{revision}" if revision else entry.hub_id
    model = registry.LocalModel(
        name=pulled_name(entry, quant),
        path=str(target),
        format=entry.prompt_format,
        quant=quant,
        origin="pulled",
        catalog=entry.name,
        source=source,
    )
    return registry.register(model, replace=True)
