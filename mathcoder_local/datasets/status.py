"""What is known and what is present: the facts `data list` shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.datasets.registry import KNOWN_SETS, SOURCE_NAME, KnownSet, set_path


@dataclass(frozen=True)
class DatasetStatus:
    entry: KnownSet
    path: Path  # where the set is read from, present or not
    count: int | None  # records in the file (non-blank lines); None when the file is absent
    pulled: dict | None = None  # source.json written by `data pull`: repo, files, revision, commit

    @property
    def present(self) -> bool:
        return self.count is not None


def count_records(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


def _pulled(path: Path) -> dict | None:
    try:
        found = json.loads((path.parent / SOURCE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def dataset_status(data_dir: str | Path | None = None) -> list[DatasetStatus]:
    """Every known set with its file, and the record count when the file is there. Reads no record."""
    found = []
    for entry in KNOWN_SETS:
        path = set_path(entry, data_dir)
        count = count_records(path) if path.is_file() else None
        pulled = None if entry.bundled or count is None else _pulled(path)
        found.append(DatasetStatus(entry, path, count, pulled))
    return found
