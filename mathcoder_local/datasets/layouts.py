"""Reading JSONL files in the layouts the math benchmarks are published in, into `Problem` records.

Layouts (each detected from a file's first record, or named by the registry for a known set):

- ``gsm8k``: OpenAI's ``{"question", "answer"}`` with the worked answer ending ``#### 18``.
- ``math``: Hendrycks MATH ``{"problem", "level": "Level 3", "type", "solution"}`` (gold = last ``\\boxed{}``),
  and MATH-500's ``{"problem", "solution", "answer", "subject", "level": 3, "unique_id"}`` (gold = ``answer``).
- ``mathcoder``: MathCoder's ``*_test_post`` ``{"messages": [system, user], "ground_truth": {"answer"}}``.
- ``generic``: any JSONL with a question and an answer field (``question``/``answer`` unless told otherwise),
  plus ``subject``/``level`` when present; the bundled nano set is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mathcoder_local.answers import last_boxed
from mathcoder_local.datasets.records import Problem
from mathcoder_local.errors import UserError
from mathcoder_local.jsonl import iter_jsonl

LAYOUTS = ("gsm8k", "math", "mathcoder", "generic")
ID_FIELDS = ("id", "idx", "unique_id")  # a file's own ids, in the order we look for them

_GSM8K_MARK = "####"
_NUMBER_WITH_COMMAS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_LEVEL = re.compile(r"(?:level\s*)?(\d+)", re.IGNORECASE)


class RowError(ValueError):
    """A record that does not fit its layout; the reader adds the file and line."""


@dataclass(frozen=True)
class Fields:
    """The pieces of a record before it gets its id."""

    question: str
    answer: str
    subject: str | None = None
    level: int | None = None


def answer_text(value: Any) -> str:
    """A gold answer as text: SVAMP's 51.0 → "51", GSM8K's "1,000" → "1000", lists as JSON."""
    if isinstance(value, bool) or value is None:
        raise RowError(f"answer is {json.dumps(value)}, not a value")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    # Thousands separators only ("1,000", "1,450,000"): a comma inside "(1,2)" is part of the answer.
    if _NUMBER_WITH_COMMAS.fullmatch(text):
        text = text.replace(",", "")
    return text


def parse_level(value: Any) -> int | None:
    """MATH's "Level 3" → 3, MATH-500's 3 → 3; "Level ?" (some MATH problems) and anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    m = _LEVEL.fullmatch(str(value).strip())
    return int(m.group(1)) if m else None


def _text(row: dict, field: str) -> str:
    if field not in row:
        raise RowError(f"has no field {field!r} (fields: {', '.join(row) or 'none'})")
    value = row[field]
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"field {field!r} is {json.dumps(value)[:40]}, not text")
    return value


def _subject(row: dict, *fields: str) -> str | None:
    for field in fields:
        value = row.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def read_gsm8k(row: dict) -> Fields:
    answer = _text(row, "answer")
    if _GSM8K_MARK in answer:
        answer = answer.rsplit(_GSM8K_MARK, 1)[1]
    return Fields(_text(row, "question"), answer_text(answer), _subject(row, "subject"), parse_level(row.get("level")))


def read_math(row: dict) -> Fields:
    question = _text(row, "problem")
    if row.get("answer") not in (None, ""):
        answer = answer_text(row["answer"])
    else:
        boxed = last_boxed(_text(row, "solution"))
        if boxed is None:
            raise RowError("has no answer field and no \\boxed{} in its solution")
        answer = boxed
    return Fields(question, answer, _subject(row, "subject", "type"), parse_level(row.get("level")))


def _message_text(message: Any) -> str | None:
    """A MathCoder message's text: content is a list of {"type": "text", "content": ...} (or a plain string)."""
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("content") for c in content if isinstance(c, dict) and isinstance(c.get("content"), str)]
        return "".join(parts) if parts else None
    return None


def read_mathcoder(row: dict) -> Fields:
    messages = row.get("messages")
    if not isinstance(messages, list):
        raise RowError("has no 'messages' list")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    question = _message_text(users[0]) if users else None
    if not question or not question.strip():
        raise RowError("has no user message with text")
    truth = row.get("ground_truth")
    if not isinstance(truth, dict) or "answer" not in truth:
        raise RowError("has no ground_truth.answer")
    return Fields(question, answer_text(truth["answer"]), _subject(row, "subject"), parse_level(row.get("level")))


def generic_reader(question_field: str = "question", answer_field: str = "answer") -> Callable[[dict], Fields]:
    def read(row: dict) -> Fields:
        question = _text(row, question_field)
        if answer_field not in row:
            raise RowError(f"has no field {answer_field!r} (fields: {', '.join(row) or 'none'})")
        return Fields(question, answer_text(row[answer_field]), _subject(row, "subject"), parse_level(row.get("level")))

    return read


READERS: dict[str, Callable[[dict], Fields]] = {
    "gsm8k": read_gsm8k,
    "math": read_math,
    "mathcoder": read_mathcoder,
    "generic": generic_reader(),
}


def detect_layout(row: dict) -> str:
    """The layout of a file from its first record (fields decide; values only tell GSM8K from plain Q/A)."""
    if "messages" in row and "ground_truth" in row:
        return "mathcoder"
    if "problem" in row and ("solution" in row or "answer" in row):
        return "math"
    if isinstance(row.get("answer"), str) and _GSM8K_MARK in row["answer"] and "question" in row:
        return "gsm8k"
    return "generic"


def iter_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(0-based line number, record) for each non-blank line: the line number is the id of id-less sets."""
    for number, row in iter_jsonl(path):
        yield number - 1, row


def read_problems(
    path: Path,
    *,
    layout: str | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
) -> list[Problem]:
    """Every record of a JSONL file as a Problem. Giving a question or answer field means the generic layout."""
    rows = iter_rows(path)
    if question_field or answer_field:
        layout = "generic"
        reader = generic_reader(question_field or "question", answer_field or "answer")
    else:
        reader = READERS[layout] if layout else None
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        if reader is None:
            layout = detect_layout(row)
            reader = READERS[layout]
        try:
            fields = reader(row)
        except RowError as exc:
            hint = ": pass --question-field/--answer-field" if layout == "generic" else f" ({layout} layout)"
            raise UserError(f"{path} line {number + 1} {exc}{hint}") from None
        problem_id = _row_id(row, number, id_field, path)
        if problem_id in seen:
            raise UserError(
                f"{path} line {number + 1} repeats id {problem_id!r} (first on line {seen[problem_id] + 1}); "
                "ids must be unique" + ("" if id_field else ": pass --id-field to choose another field")
            )
        seen[problem_id] = number
        problems.append(Problem(problem_id, fields.question, fields.answer, fields.subject, fields.level))
    if not problems:
        raise UserError(f"{path} has no records")
    return problems


def _row_id(row: dict, number: int, id_field: str | None, path: Path) -> str:
    if id_field is not None:
        if row.get(id_field) in (None, ""):
            raise UserError(f"{path} line {number + 1} has no id field {id_field!r} (fields: {', '.join(row)})")
        return str(row[id_field])
    for field in ID_FIELDS:
        if row.get(field) not in (None, ""):
            return str(row[field])
    return str(number)
