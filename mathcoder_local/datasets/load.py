"""`load_dataset`: a known set by name, or any JSONL file by path, as a list of Problems. Never touches the network."""

from __future__ import annotations

from pathlib import Path

from mathcoder_local.datasets.layouts import read_problems
from mathcoder_local.datasets.records import Problem
from mathcoder_local.datasets.registry import KNOWN_SETS, find_known, missing_error, set_path
from mathcoder_local.errors import UserError


def load_dataset(
    name_or_path: str | Path,
    *,
    data_dir: str | Path | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
) -> list[Problem]:
    """A known set (gsm8k, MATH, MATH-500, svamp, mathematics, simuleq, nano; any case) from the data directory,
    or a JSONL file: one of the known layouts, detected, or any records with question/answer fields (named by
    question_field/answer_field). A missing known set is a UserError saying how to get it."""
    entry = find_known(str(name_or_path)) if not isinstance(name_or_path, Path) else None
    if entry is not None:
        path = set_path(entry, data_dir)
        if not path.is_file():
            raise missing_error(entry, data_dir)
        layout = None if (question_field or answer_field) else entry.layout
        return read_problems(
            path, layout=layout, question_field=question_field, answer_field=answer_field, id_field=id_field
        )
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        if path.exists():
            raise UserError(f"{path} is not a file; give a known dataset name or a .jsonl file")
        looks_like_path = path.suffix or len(path.parts) > 1
        if looks_like_path:
            raise UserError(f"no such file: {path}")
        raise UserError(
            f"unknown dataset {str(name_or_path)!r}: known sets are "
            f"{', '.join(s.name for s in KNOWN_SETS)}, or give the path of a .jsonl file"
        )
    return read_problems(path, question_field=question_field, answer_field=answer_field, id_field=id_field)
