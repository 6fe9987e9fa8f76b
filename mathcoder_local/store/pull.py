"""`pull`: a catalog model from the Hugging Face hub, registered by name as NAME:quant.

A model comes from one of two sources (`source=`, the command line's `--from`):

- "gguf": the prebuilt GGUF the catalog names for that quantization (its `gguf` object). Only that one file is
  downloaded, by huggingface_hub's hf_hub_download (resumable, into the Hugging Face cache). Its SHA-256 is
  computed and checked against the hash the hub announced for it, which the cache names the file's blob
  after. The file is then checked from its header and a vocabulary-only llama.cpp load, never loading the
  weights: its quantization against the catalog's; its vocabulary (`mathcoder_local.convert.gguf_check`, for
  the catalog's prompt format), the format solve would detect and the rope base against the catalog; and its
  structure (`mathcoder_local.convert.verify_gguf`: the architecture keys, the tensor count and every
  tensor's shape against what the file's own metadata implies, the context length). A file whose problems
  are at most notes (the loop works, the file just does not say all it should) is registered where the cache
  keeps it; one with errors a metadata repair fixes — a rope base other than the catalog's among them — gets a copy
  with its metadata repaired (`mathcoder_local.convert.repair`, tensor data copied byte for byte) as
  NAME.QUANT.gguf in the models cache, checked again, and that copy is registered. A file with an error no
  repair fixes is refused (it stays in the Hugging Face cache). The registry record keeps
  both SHA-256s, the repository, commit and file, and what was repaired.
- "checkpoint": the official checkpoint, downloaded by the converter (`convert/checkpoint.py`: snapshot_download
  of only the files conversion needs, resumable, with progress) and converted with the catalog's prompt
  format and rope base into NAME.QUANT.gguf in the models cache.

Without `source`, "gguf" when the catalog names a file at that quantization, else "checkpoint"; a copy already
registered as NAME:quant is then used whichever source made it. HF_ENDPOINT and HF_HUB_CACHE are read when a
pull runs; with HF_HUB_OFFLINE set, only what the Hugging Face cache already holds is used and nothing else is
tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from mathcoder_local import hub
from mathcoder_local.errors import UserError
from mathcoder_local.hub import hub_offline, hub_url, progress_bars, snapshot_commit
from mathcoder_local.paths import models_cache
from mathcoder_local.store import registry
from mathcoder_local.store.catalog import DEFAULT_QUANT, QUANTS, CatalogEntry, load_catalog

SOURCES = ("gguf", "checkpoint")


def pulled_name(entry: CatalogEntry, quant: str) -> str:
    """The registered name of a pulled copy: NAME:quant."""
    return f"{entry.name}:{quant}"


def pulled_path(entry: CatalogEntry, quant: str) -> Path:
    """Where `pull` writes a file of its own (a converted checkpoint or a repaired GGUF): NAME.QUANT.gguf in the
    models cache."""
    return models_cache() / f"{entry.name}.{quant.upper()}.gguf"


def choose_source(entry: CatalogEntry, quant: str, source: str | None = None) -> str:
    """`source` checked against what the catalog has for `entry` at `quant`; None picks gguf when there is one."""
    if source is None:
        if entry.gguf_file(quant):
            return "gguf"
        source = "checkpoint" if entry.hub_id is not None else "gguf"
    if source not in SOURCES:
        raise UserError(f"unknown source {source!r}; choose one of: {', '.join(SOURCES)}")
    if source == "gguf" and not entry.gguf_file(quant):
        if entry.gguf and entry.gguf.files:
            have = ", ".join(entry.gguf.files)
            raise UserError(
                f"the catalog names no prebuilt GGUF of {entry.name} at {quant} (it has {have}); "
                "pick one of those with --quant, or --from checkpoint to convert the checkpoint"
            )
        raise UserError(f"the catalog names no prebuilt GGUF of {entry.name}; use --from checkpoint")
    if source == "checkpoint" and entry.hub_id is None:
        also = "; --from gguf fetches its prebuilt GGUF" if entry.gguf else ""
        raise UserError(f"{entry.name} has no published checkpoint to pull: {entry.note or 'none is on the hub'}{also}")
    return source


def pull_model(
    name: str,
    *,
    quant: str = DEFAULT_QUANT,
    revision: str | None = None,
    force: bool = False,
    progress: Callable[[object], object] | None = None,
    source: str | None = None,
    download_progress: bool = True,
) -> tuple[registry.LocalModel, bool]:
    """Fetch (unless here already) and register `name` at `quant`; returns the registered model and whether it
    was new. `source` is "gguf", "checkpoint" or None (see the module); `revision` is the hub revision of the
    repository pulled from; `force` downloads or converts again.

    `progress(plan)` may return a context manager yielding the converter's progress callback (bytes done);
    `download_progress` shows huggingface_hub's progress bar while a prebuilt GGUF downloads.
    """
    entry = load_catalog().get(name)
    if not entry.pullable:
        raise UserError(f"{entry.name} has no published checkpoint to pull: {entry.note or 'none is on the hub'}")
    if quant not in QUANTS:
        raise UserError(f"unknown --quant {quant}; choose one of: {', '.join(QUANTS)}")
    chosen = choose_source(entry, quant, source)
    current = registry.find(pulled_name(entry, quant))
    if current is not None and current.name != pulled_name(entry, quant):
        current = None  # find() also answers with other copies of the entry; only NAME:quant counts here
    if current is not None and current.present and not force and source in (None, current.pull_source):
        return current, False
    with _offline_as_set():
        if chosen == "gguf":
            return pull_gguf(entry, quant, revision=revision, force=force, show_progress=download_progress), True
        replaces_gguf = current is not None and current.pull_source == "gguf"
        return _pull_checkpoint(entry, quant, revision, force or replaces_gguf, progress)


@contextlib.contextmanager
def _offline_as_set() -> Iterator[None]:
    """huggingface_hub reads HF_HUB_OFFLINE once, when it is imported; make it follow the variable as it is now."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = hub_offline()
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _pull_checkpoint(
    entry: CatalogEntry,
    quant: str,
    revision: str | None,
    force: bool,
    progress: Callable[[object], object] | None,
) -> tuple[registry.LocalModel, bool]:
    assert entry.hub_id is not None
    target = pulled_path(entry, quant)
    registered = registry.find(pulled_name(entry, quant))
    if target.is_file() and not force and _converted_here(target):
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
            raise UserError(
                f"cannot reach the Hugging Face hub at {hub_url()} to download {entry.hub_id} (network down?)"
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


def _converted_here(path: Path) -> bool:
    """Whether the GGUF at `path` was written by our converter (a repaired prebuilt GGUF was not)."""
    from mathcoder_local.convert.writer import SOURCE_PATH_KEY
    from mathcoder_local.store.gguf_info import metadata_values

    try:
        return metadata_values(path, SOURCE_PATH_KEY)[SOURCE_PATH_KEY] is not None
    except UserError:
        return False  # not a readable GGUF: convert it again


def register_pulled(entry: CatalogEntry, quant: str, target: Path, revision: str | None = None) -> registry.LocalModel:
    """Register `target` as the converted checkpoint of `entry` at `quant` (NAME:quant), replacing an older record."""
    source = f"{entry.hub_id}@{revision}" if revision else entry.hub_id
    model = registry.LocalModel(
        name=pulled_name(entry, quant),
        path=str(target),
        format=entry.prompt_format,
        quant=quant,
        origin="pulled",
        catalog=entry.name,
        source=source,
        pulled_from="checkpoint",
    )
    return registry.register(model, replace=True)


# --- prebuilt GGUFs -----------------------------------------------------------------------------------------


def pull_gguf(
    entry: CatalogEntry, quant: str, *, revision: str | None = None, force: bool = False, show_progress: bool = True
) -> registry.LocalModel:
    """Download the catalog's prebuilt GGUF of `entry` at `quant`, check its SHA-256, inspect it, repair a copy
    when it needs that, and register the result as NAME:quant."""
    spec = entry.gguf
    filename = entry.gguf_file(quant)
    if spec is None or filename is None:
        raise UserError(f"the catalog names no prebuilt GGUF of {entry.name} at {quant}; use --from checkpoint")
    downloaded, commit = download_file(
        spec.repo, filename, revision=revision or spec.revision, force=force, show_progress=show_progress
    )
    digest = verify_download(downloaded, spec.repo, filename)
    from mathcoder_local.store.gguf_info import describe_gguf

    file_quant = describe_gguf(downloaded)[1]
    if file_quant not in ("unknown", quant):
        raise UserError(
            f"{filename} from {spec.repo} is a {file_quant} GGUF, not {quant} as the catalog says; "
            "nothing was registered"
        )
    found = inspect_for(downloaded, entry)
    fatal = found.fatal or unrepairable_checks(downloaded)
    if fatal:
        raise _refuse(f"{filename} from {spec.repo}", fatal, entry)
    common = {
        "name": pulled_name(entry, quant),
        "format": entry.prompt_format,
        "quant": quant,
        "origin": "pulled",
        "catalog": entry.name,
        "source": f"{spec.repo}@{commit}" if commit else spec.repo,
        "pulled_from": "gguf",
        "file": filename,
        "download_sha256": digest,
    }
    if not found.repair:
        model = registry.LocalModel(path=str(downloaded), sha256=digest, **common)  # type: ignore[arg-type]
        return registry.register(model, replace=True, keep_links=True)
    target = pulled_path(entry, quant)
    repairs = repair_copy(downloaded, target, entry)
    model = registry.LocalModel(
        path=str(target),
        sha256=sha256_file(target),
        repairs=tuple(repairs),
        **common,  # type: ignore[arg-type]
    )
    return registry.register(model, replace=True)


def download_file(
    repo: str, filename: str, *, revision: str | None = None, force: bool = False, show_progress: bool = True
) -> tuple[Path, str | None]:
    """One file of a hub repository into the Hugging Face cache (`mathcoder_local.hub`); its path in the
    cache's snapshot folder and the commit it came from."""
    with progress_bars(show_progress):
        local = hub.download_file(repo, filename, revision=revision, force=force, retry="pull")
    return local, snapshot_commit(local, filename)


def sha256_file(path: str | os.PathLike[str], chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _git_blob_sha1(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's object id, not security
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_download(path: Path, repo: str, filename: str) -> str:
    """The file's SHA-256, checked against the hub's hash for it: the Hugging Face cache names each blob after
    the hash the hub announced (SHA-256 for LFS files, git's SHA-1 otherwise). A file that does not match is
    removed from the cache, so that the next pull downloads it again."""
    blob = path.resolve()
    digest = sha256_file(path)
    expected = blob.name
    if re.fullmatch(r"[0-9a-f]{64}", expected):
        ok = digest == expected
    elif re.fullmatch(r"[0-9a-f]{40}", expected):
        ok = _git_blob_sha1(blob) == expected
    else:
        ok = True  # a cache without blobs (no symlinks on this file system): nothing to compare with
    if not ok:
        for p in (path, blob):
            with contextlib.suppress(OSError):
                p.unlink()
        raise UserError(
            f"{filename} from {repo} does not match the hash the hub gives for it (SHA-256 {digest[:16]}…, "
            f"expected {expected[:16]}…); the damaged copy was removed from the cache: run pull again"
        )
    return digest


@dataclass(frozen=True)
class Inspection:
    """What `inspect_for` found in a GGUF, sorted by what `pull` does about it."""

    repair: list[str]  # wrong for our loop as the file is, and fixed by repairing its metadata
    fatal: list[str]  # wrong, and no metadata repair fixes it
    notes: list[str]  # the loop works, but the file does not say what it should (fixed too when repairing)


def _rope_problem(path: Path, entry: CatalogEntry) -> str | None:
    """The file's rope base where it differs from the catalog's (llama.cpp's default where the file has none)."""
    from mathcoder_local.convert.gguf_file import read_header
    from mathcoder_local.convert.repair import rope_change

    with read_header(path) as header:
        change = rope_change(header, entry.rope_freq_base)
    return None if change is None else f"rope base {change.before} where the catalog says {change.after}"


def inspect_for(path: Path, entry: CatalogEntry) -> Inspection:
    """The vocabulary check of `mathcoder_local.convert.gguf_check` for the catalog's prompt format, the format
    solve would detect, and the rope base against the catalog's. A file with nothing under `repair` or `fatal`
    runs as it is."""
    from mathcoder_local.convert.gguf_check import inspect_gguf
    from mathcoder_local.store.gguf_info import describe_gguf

    problems = inspect_gguf(path, fmt=entry.prompt_format)
    errors = [p for p in problems if p.severity == "error"]
    repair = [p.message for p in errors if p.repairable]
    detected = describe_gguf(path)[0]
    if detected != entry.prompt_format:  # the repair records the catalog's format
        repair.append(f"solve would run it as {detected}; the catalog says {entry.prompt_format}")
    rope = _rope_problem(path, entry)
    if rope:  # a metadata value: the repair writes the catalog's
        repair.append(rope)
    return Inspection(
        repair=repair,
        fatal=[p.message for p in errors if not p.repairable],
        notes=[p.message for p in problems if p.severity != "error"],
    )


# verify_gguf's checks that depend on the prompt format it assumes (the file's own); inspect_for makes them
# against the catalog's format instead
_FORMAT_CHECKS = frozenset({"prompt format", "MathCoder tokens"})


def unrepairable_checks(path: Path) -> list[str]:
    """The failed checks of `mathcoder_local.convert.verify_gguf` (no checkpoint: the architecture keys, the
    tensor count and shapes against the file's own metadata, the context length, and the vocabulary again)
    that no metadata repair fixes, one line each. It reads the header and loads the vocabulary only, never the
    weights."""
    from mathcoder_local.convert import verify_gguf

    checks, _warnings = verify_gguf(path)
    return [
        c.explain or f"{c.name}: {c.detail}"
        for c in checks
        if not c.ok and not c.repairable and c.name not in _FORMAT_CHECKS
    ]


def _refuse(what: str, problems: list[str], entry: CatalogEntry) -> UserError:
    instead = "; --from checkpoint converts the official checkpoint instead" if entry.hub_id else ""
    return UserError(f"{what} cannot run in our loop ({'; '.join(problems)}); nothing was registered{instead}")


def repair_copy(source: Path, target: Path, entry: CatalogEntry) -> list[str]:
    """Write `source` with its metadata repaired to `target` (`mathcoder_local.convert.repair`: written under a
    temporary name, checked, then renamed) and check the copy again here; returns what was repaired, one line
    each. A copy that still has problems is removed."""
    from mathcoder_local.convert.repair import repair_gguf

    target.parent.mkdir(parents=True, exist_ok=True)
    report = repair_gguf(source, target, fmt=entry.prompt_format, force=True, rope_freq_base=entry.rope_freq_base)
    if report.output is None:  # nothing it could change: the problems found are not its to fix
        raise _refuse(source.name, inspect_for(source, entry).repair, entry)
    after = inspect_for(target, entry)
    if after.repair or after.fatal:
        target.unlink(missing_ok=True)
        raise _refuse(f"{source.name}, repaired,", after.repair + after.fatal, entry)
    return [str(change) for change in report.changes]
