"""Local names: GGUF files known by name (`models add`, `pull`), kept in the user directory's models.json.

`models add` registers a file where it lies (no copy); `pull` registers what it made or fetched: a checkpoint
converted into the models cache, or a prebuilt GGUF from the hub, where the Hugging Face cache keeps it or, when
its metadata needed repairs, as a repaired copy in the models cache. A pulled prebuilt GGUF's record carries the
SHA-256 of the file as downloaded and of the file registered. Writes are atomic (a temporary file, then a
rename) under a lock file, so two commands never leave a half-written registry. Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from mathcoder_local.errors import UserError
from mathcoder_local.paths import user_home

REGISTRY_NAME = "models.json"


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: str
    format: str  # a prompt format, a key of mathcoder_local.formats.FORMATS
    quant: str  # f16, q4_k_m, ... ("unknown" when the file does not say)
    origin: str  # "added" (registered in place) or "pulled" (fetched by `pull`)
    catalog: str | None = None  # the catalog entry it is a copy of
    source: str | None = None  # hub repository@revision a pulled model came from
    added: float = 0.0
    pulled_from: str | None = None  # "checkpoint" (converted here) or "gguf" (a prebuilt GGUF); None: added
    file: str | None = None  # the file in the hub repository (prebuilt GGUFs)
    sha256: str | None = None  # of the file at `path`, when `pull` recorded it
    download_sha256: str | None = None  # of the prebuilt GGUF as downloaded (equals sha256 unless repaired)
    repairs: tuple[str, ...] = ()  # what was repaired in the prebuilt GGUF's metadata to make the file at `path`

    def __post_init__(self) -> None:
        object.__setattr__(self, "repairs", tuple(self.repairs or ()))  # a list once read back from JSON

    @property
    def present(self) -> bool:
        return Path(self.path).is_file()

    @property
    def pull_source(self) -> str | None:
        """The source of a pulled model, gguf or checkpoint (older records without one are conversions)."""
        if self.pulled_from:
            return self.pulled_from
        return "checkpoint" if self.origin == "pulled" else None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "repairs": list(self.repairs)}


def registry_path() -> Path:
    return user_home() / REGISTRY_NAME


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        try:
            import fcntl
        except ImportError:  # Windows: atomic renames still keep the file whole
            yield
            return
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _load(path: Path) -> list[LocalModel]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the model registry {path}: {exc}".splitlines()[0]) from None
    fields = LocalModel.__dataclass_fields__
    return [LocalModel(**{k: v for k, v in m.items() if k in fields}) for m in raw.get("models", [])]


def _save(path: Path, models: list[LocalModel]) -> None:
    from mathcoder_local.atomic import write_json_atomic

    write_json_atomic(path, {"schema": 1, "models": [m.to_dict() for m in models]})


def list_models() -> list[LocalModel]:
    """Every registered model, in the order they were registered."""
    return _load(registry_path())


def find(name: str) -> LocalModel | None:
    """A registered model by name, else the newest present copy of catalog entry `name` (pulled or added)."""
    models = list_models()
    for m in models:
        if m.name == name:
            return m
    lowered = name.lower()
    for m in models:
        if m.name.lower() == lowered:
            return m
    copies = [m for m in models if m.catalog and m.catalog.lower() == lowered]
    return max(copies, key=lambda m: (m.present, m.added)) if copies else None  # a file that is here, newest


def register(model: LocalModel, *, replace: bool = False, keep_links: bool = False) -> LocalModel:
    """Add `model` (its path made absolute, symbolic links resolved unless `keep_links`: a file in the Hugging
    Face cache keeps its name there, a link into the cache's blobs); an existing name is an error unless
    `replace`."""
    where = Path(model.path).expanduser()
    where = where.absolute() if keep_links else where.resolve()
    model = LocalModel(**{**model.to_dict(), "path": str(where), "added": time.time()})
    path = registry_path()
    with _locked(path):
        models = _load(path)
        same = [m for m in models if m.name == model.name]
        if same and not replace:
            raise UserError(
                f"a model named {model.name} is already registered ({same[0].path}); pick another --name "
                "or `mathcoder-local models remove` it first"
            )
        models = [m for m in models if m.name != model.name] + [model]
        _save(path, models)
    return model


def remove(name: str) -> LocalModel:
    """Forget the model registered as `name` (its file is left alone)."""
    path = registry_path()
    with _locked(path):
        models = _load(path)
        gone = [m for m in models if m.name == name]
        if not gone:
            raise UserError(f"no registered model is named {name}; `mathcoder-local models` lists them")
        _save(path, [m for m in models if m.name != name])
    return gone[0]


def add_file(path: str | os.PathLike[str], name: str | None = None, *, replace: bool = False) -> LocalModel:
    """Register an existing GGUF in place (`models add`)."""
    from mathcoder_local.engine.llama import check_gguf_path
    from mathcoder_local.store.bundled import BUNDLED_NAME
    from mathcoder_local.store.catalog import load_catalog
    from mathcoder_local.store.gguf_info import describe_gguf

    p = check_gguf_path(path)
    fmt, quant, _ = describe_gguf(p)
    chosen = name or p.name.removesuffix(".gguf")
    if not chosen or chosen != chosen.strip() or "/" in chosen:
        raise UserError(f"{chosen!r} cannot be a model name: use letters, digits, '-', '_', '.' or ':'")
    if chosen.lower() == BUNDLED_NAME:
        raise UserError(f"{chosen} is the bundled model's name; pick another --name")
    entry = load_catalog().find(chosen)
    return register(
        LocalModel(
            name=chosen, path=str(p), format=fmt, quant=quant, origin="added", catalog=entry.name if entry else None
        ),
        replace=replace,
    )
