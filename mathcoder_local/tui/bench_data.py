"""Reading a bench run folder for the bench browser (no UI): rows, metrics by subject and level, filters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from mathcoder_local.bench.results import CONFIG, METRICS, RESULTS, read_rows, summarize
from mathcoder_local.errors import UserError
from mathcoder_local.events import Block

Row = Mapping[str, object]


@dataclass(frozen=True)
class BenchRun:
    folder: Path
    rows: list[dict[str, object]]
    summary: dict[str, object]  # summarize(rows): accuracy overall, by_subject, by_level, finish reasons
    config: dict[str, object]  # metrics.json's (else config.json's) run configuration, if any

    @property
    def subjects(self) -> list[str]:
        return list(self.summary["by_subject"])  # type: ignore[call-overload]

    @property
    def levels(self) -> list[str]:
        return list(self.summary["by_level"])  # type: ignore[call-overload]

    @property
    def title(self) -> str:
        model = self.config.get("model_path")
        fmt = self.config.get("format")
        parts = [self.folder.name]
        if model:
            parts.append(Path(str(model)).name)
        if fmt:
            parts.append(str(fmt))
        s = self.summary
        parts.append(f"{s['correct']}/{s['n']} correct ({s['accuracy']}%)")
        return " · ".join(parts)


def load_run(path: str | Path) -> BenchRun:
    """A bench output folder (or its results.jsonl)."""
    p = Path(path).expanduser()
    folder = p.parent if p.is_file() else p
    results = p if p.is_file() else folder / RESULTS
    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    if not results.is_file():
        raise UserError(f"{folder} has no {RESULTS}: is it a bench output folder (`mathcoder-local bench --out`)?")
    rows, _ = read_rows(results)
    config: dict[str, object] = {}
    for name, key in ((METRICS, "config"), (CONFIG, None)):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found = data.get(key) if key else data
            if isinstance(found, dict):
                config = found
                break
    return BenchRun(folder, [dict(r) for r in rows], summarize(rows), config)


def row_timed_out(row: Row) -> bool:
    """A code block ran out of time (or the answer check did)."""
    if row.get("check_timed_out"):
        return True
    blocks = row.get("blocks") or []
    return any(
        isinstance(b, Mapping) and (result := Block.from_dict(b).result) is not None and result.timed_out
        for b in blocks  # type: ignore[union-attr]
    )


def filter_rows(
    rows: Sequence[Row],
    *,
    wrong_only: bool = False,
    timeouts: bool = False,
    subject: str | None = None,
    level: str | None = None,
) -> list[Row]:
    out = []
    for row in rows:
        if wrong_only and row.get("correct"):
            continue
        if timeouts and not row_timed_out(row):
            continue
        if subject is not None and str(row.get("subject")) != subject:
            continue
        if level is not None and str(row.get("level")) != level:
            continue
        out.append(row)
    return out
