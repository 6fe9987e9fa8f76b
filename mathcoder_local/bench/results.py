"""A bench run's folder: config.json, results.jsonl (one row per finished problem), metrics.json.

Rows are appended with one write() each and flushed to disk, so a run killed at any moment loses at most the
problems in flight. A row torn by the kill (no final newline, or not JSON) is cut off when the run resumes.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping

from mathcoder_local.atomic import write_json_atomic
from mathcoder_local.errors import UserError

RESULTS = "results.jsonl"
METRICS = "metrics.json"
CONFIG = "config.json"


def read_rows(path: Path) -> tuple[list[dict[str, object]], int]:
    """The complete rows of a results file and the byte length they occupy (what follows is torn)."""
    if not path.exists():
        return [], 0
    rows: list[dict[str, object]] = []
    good = 0
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                row = json.loads(line)
            except ValueError:
                break
            if not isinstance(row, dict) or "id" not in row:
                break
            rows.append(row)
            good += len(line)
    return rows, good


class ResultsFile:
    """Appends rows to DIR/results.jsonl; on open, drops a torn tail left by a killed run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        rows, good = read_rows(path)
        if path.exists() and path.stat().st_size != good:
            with path.open("r+b") as f:
                f.truncate(good)
        self.rows: dict[str, dict[str, object]] = {}
        for row in rows:
            self.rows.setdefault(str(row["id"]), row)  # a duplicate would be a bug; the first row wins
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, row: Mapping[str, object]) -> None:
        key = str(row["id"])
        if key in self.rows:
            raise RuntimeError(f"row {key} is already in {self.path}")
        data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self.rows[key] = dict(row)

    def close(self) -> None:
        os.close(self._fd)


def _accuracy(correct: int, n: int) -> float:
    return round(100.0 * correct / n, 2) if n else 0.0


def summarize(rows: Iterable[Mapping[str, object]]) -> dict[str, object]:
    """Accuracy overall, by subject and by level (percent, two decimals), plus token and time totals."""
    n = correct = generated = 0
    seconds = 0.0
    finish: dict[str, int] = defaultdict(int)
    groups: dict[str, dict[str, list[int]]] = {
        "subject": defaultdict(lambda: [0, 0]),
        "level": defaultdict(lambda: [0, 0]),
    }
    for row in rows:
        ok = bool(row.get("correct"))
        n += 1
        correct += ok
        generated += int(row.get("completion_tokens") or 0)
        seconds += float(row.get("seconds") or 0.0)
        finish[str(row.get("finish_reason"))] += 1
        for key in ("subject", "level"):
            value = row.get(key)
            if value is not None:
                cell = groups[key][str(value)]
                cell[0] += 1
                cell[1] += ok

    def table(cells: Mapping[str, list[int]]) -> dict[str, dict[str, object]]:
        order = sorted(cells, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        return {
            k: {"n": cells[k][0], "correct": cells[k][1], "accuracy": _accuracy(cells[k][1], cells[k][0])}
            for k in order
        }

    return {
        "n": n,
        "correct": correct,
        "accuracy": _accuracy(correct, n),
        "by_subject": table(groups["subject"]),
        "by_level": table(groups["level"]),
        "finish_reasons": dict(sorted(finish.items())),
        "completion_tokens": generated,
        "problem_seconds": round(seconds, 3),
    }


def check_config(folder: Path, identity: Mapping[str, object], *, resume: bool) -> None:
    """Refuse to mix runs: a folder holds one configuration. Writes config.json for a new run."""
    config_path = folder / CONFIG
    has_rows = (folder / RESULTS).exists() and (folder / RESULTS).stat().st_size > 0
    if config_path.exists():
        try:
            saved = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            raise UserError(f"{config_path} is not valid JSON; remove the folder or choose another --out") from None
        if not resume:
            raise UserError(
                f"{folder} already holds a bench run: pass --resume to continue it, or choose another --out"
            )
        differing = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
        if differing:
            raise UserError(
                f"{folder} holds a run with a different configuration ({', '.join(differing)}); "
                "drop --resume and choose another --out"
            )
        return
    if has_rows:
        raise UserError(f"{folder} has results but no {CONFIG}; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(config_path, dict(identity))
