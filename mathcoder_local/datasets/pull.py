"""`pull_dataset`: fetch a known set from the Hugging Face hub, only when the user asks (`data pull`).

The hub's files (JSONL, or parquet read with pyarrow when installed) are rewritten as JSONL records in their
original layout to ``DATA_DIR/<name>/test.jsonl``. Each record is checked by the same reader `load_dataset`
uses before the file appears, and it appears atomically (a temporary file, then `os.replace`): a failed or
interrupted pull leaves the previous file, or none, never a partial one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from mathcoder_local import hub
from mathcoder_local.datasets.layouts import iter_rows, read_problems
from mathcoder_local.datasets.registry import SOURCE_NAME, HubSource, KnownSet, how_to_get, known, set_path
from mathcoder_local.errors import UserError
from mathcoder_local.hub import progress_bars, snapshot_commit


def pull_dataset(
    name: str, *, data_dir: str | Path | None = None, revision: str | None = None, progress: bool = True
) -> Path:
    """Download a known set with huggingface_hub into the data directory; returns the written test.jsonl."""
    entry = known(name)
    if entry.bundled:
        return set_path(entry)  # ships with the package: nothing to fetch
    if entry.hub is None:
        raise UserError(f"{entry.name} has no Hugging Face hub copy to pull: {how_to_get(entry, data_dir)}")
    source = entry.hub
    if source.needs_pyarrow:
        _require_pyarrow(entry)
    revision = revision or source.revision
    with progress_bars(progress):
        downloaded = [_download(source, file, revision) for file in source.files]
    target = set_path(entry, data_dir)
    rows = (row for path, file in zip(downloaded, source.files, strict=True) for row in _read_rows(path, file))
    _write_checked(target, entry, rows)
    commit = snapshot_commit(downloaded[0], source.files[0])
    record = {"repo": source.repo, "files": list(source.files), "revision": revision, "commit": commit}
    _write_atomic(target.parent / SOURCE_NAME, lambda out: out.write(json.dumps(record, indent=1) + "\n"))
    return target


def _require_pyarrow(entry: KnownSet) -> None:
    # Checked before downloading anything: parquet is the only form these sets are published in on the hub.
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UserError(
            f"{entry.name} is published on the hub as parquet, which needs pyarrow: run `pip install pyarrow` "
            "and pull again"
        ) from None


def _download(source: HubSource, file: str, revision: str) -> Path:
    return hub.download_file(source.repo, file, repo_type="dataset", revision=revision, retry="data pull")


def _read_rows(path: Path, file: str) -> Iterable[dict]:
    if file.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors vary by version
            raise UserError(f"cannot read {file} as parquet: {exc}".splitlines()[0]) from None
        return table.to_pylist()
    if file.endswith(".jsonl"):
        return (row for _, row in iter_rows(path))
    raise UserError(f"cannot read {file}: only .jsonl and .parquet hub files are supported")


def _write_checked(target: Path, entry: KnownSet, rows: Iterable[dict]) -> None:
    """Write the rows as JSONL; before the file takes its name, read it back as load_dataset will."""

    def write(out: IO[str]) -> None:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        out.flush()
        read_problems(Path(out.name), layout=entry.layout)

    _write_atomic(target, write)


def _write_atomic(target: Path, write: Callable[[IO[str]], object]) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
        )
    except OSError as exc:
        raise UserError(f"cannot write to {target.parent}: {exc.strerror}") from None
    temp = Path(handle.name)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:  # KeyboardInterrupt included: never leave the partial file behind
        temp.unlink(missing_ok=True)
        raise
