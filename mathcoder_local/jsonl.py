"""Reading JSON Lines files (datasets, run results, released model outputs) with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from mathcoder_local.errors import UserError


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) for each non-blank line; a bad line is a UserError naming it."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{path} line {number} is not valid JSON ({exc}); expected JSON Lines") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path} line {number} is not a JSON object; expected one object per line")
                yield number, row
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; expected JSON Lines") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
