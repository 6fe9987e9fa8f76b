"""The one model resolver: what `--model`, `$MATHCODER_LOCAL_MODEL` or a setting names → a GGUF path.

A name is, in this order: a path that exists; a registered name (`models add`, `pull`); the bundled model's
name; a catalog name or hub id (its newest present copy). With no name, `$MATHCODER_LOCAL_MODEL`, else the
bundled model (converted on first use). Anything else is a one-line UserError that says what to do. Only local
files are consulted: resolving never touches the network. `solve`, `bench` and the TUI all call this.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mathcoder_local.errors import UserError
from mathcoder_local.store import registry
from mathcoder_local.store.bundled import BUNDLED_NAME, bundled_gguf
from mathcoder_local.store.catalog import load_catalog

MODEL_ENV = "MATHCODER_LOCAL_MODEL"
PREPARING_BUNDLED = "preparing the bundled model (converted on first use)"

Status = Callable[[str], None]


def chosen_model(model: str | os.PathLike[str] | None) -> str | None:
    """`model`, else $MATHCODER_LOCAL_MODEL; None stands for the bundled model."""
    chosen = model or os.environ.get(MODEL_ENV)
    return os.fspath(chosen) if chosen else None


def _lookup(name: str) -> Path | None:
    """The file `name` stands for, converting nothing; None: the bundled model. A path-like name that does not
    exist comes back as it is (the engine then says "model file not found"); any other miss is a UserError."""
    path = Path(name).expanduser()
    if path.exists():
        return path
    local = registry.find(name)
    if local is None and name.strip().lower() == BUNDLED_NAME:
        return None
    entry = load_catalog().find(name)
    if local is None and entry is not None:
        local = registry.find(entry.name)  # a hub id: the entry's copies
    if local is not None:
        if not local.present:
            raise UserError(
                f"model {local.name} is registered at {local.path}, which no longer exists; "
                f"`mathcoder-local models remove {local.name}`, then add or pull it again"
            )
        return Path(local.path)
    if entry is not None:
        if not entry.pullable:
            raise UserError(f"{entry.name} has no published checkpoint to pull; pass --model PATH.gguf if you have one")
        raise UserError(f"{entry.name} is not downloaded yet: run `mathcoder-local pull {entry.name}`")
    if name.endswith(".gguf") or os.sep in name or "/" in name:
        return path
    raise UserError(
        f"unknown model {name!r}: not a file, not a registered name and not in the catalog "
        "(`mathcoder-local models` lists them)"
    )


def _bundled(on_status: Status | None) -> str:
    if on_status is None:
        return os.fspath(bundled_gguf())
    on_status(PREPARING_BUNDLED)
    return os.fspath(bundled_gguf(on_status))


def model_file(name: str | os.PathLike[str]) -> Path | None:
    """The file `name` stands for without converting anything: None for the bundled model or a name that
    stands for nothing here."""
    try:
        return _lookup(os.fspath(name))
    except UserError:
        return None


def resolve_model_name(name: str | os.PathLike[str], *, on_status: Status | None = None) -> str:
    """The GGUF path `name` stands for (see the module's order); the bundled model is converted if need be.

    `on_status` hears what is being prepared (the bundled model); without it, a conversion says so on stderr.
    """
    found = _lookup(os.fspath(name))
    return os.fspath(found) if found is not None else _bundled(on_status)


def resolve_model(model: str | os.PathLike[str] | None = None, *, on_status: Status | None = None) -> str:
    """--model, else $MATHCODER_LOCAL_MODEL, else the bundled model (converted on first use) → a GGUF path."""
    chosen = chosen_model(model)
    return resolve_model_name(chosen, on_status=on_status) if chosen else _bundled(on_status)


def check_model(name: str | os.PathLike[str]) -> None:
    """A UserError unless `name` resolves to a model here: a GGUF file, a registered name whose file exists,
    the bundled model, a catalog name with a copy here. Converts and loads nothing."""
    text = os.fspath(name)
    found = _lookup(text)
    if found is not None and not found.is_file():
        raise UserError(f"model file not found: {text}")
