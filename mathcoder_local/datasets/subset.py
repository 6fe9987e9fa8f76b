"""`select`: a subset of a set's problems by level, subject or id, then the first N.

Subset strings: ``level=5``, ``level=4,5``, ``subject=Algebra``, ``level=5,subject=Algebra,Geometry`` (values of
one key are alternatives; different keys must all hold), ``id=nano-003``, and the shorthands ``Level 5``, ``5``
and ``Algebra``. Subjects match without regard to case, spaces or ``&``/``and``: ``counting_and_probability``
is "Counting & Probability".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from mathcoder_local.datasets.records import Problem
from mathcoder_local.errors import UserError

KEYS = ("level", "subject", "id")
_KEY_ALIASES = {"type": "subject", "levels": "level", "subjects": "subject", "ids": "id"}
_LEVEL = re.compile(r"(?:level\s*)?(\d+)", re.IGNORECASE)


def subject_key(subject: str) -> str:
    return re.sub(r"[^a-z0-9]", "", subject.lower().replace("&", "and"))


def parse_subset(subset: str) -> dict[str, list[str]]:
    """``"level=4,5,subject=Algebra"`` → ``{"level": ["4", "5"], "subject": ["Algebra"]}``."""
    wanted: dict[str, list[str]] = {}
    current: str | None = None
    for token in (t.strip() for t in subset.split(",")):
        if not token:
            continue
        if "=" in token:
            key, value = (part.strip() for part in token.split("=", 1))
            current = _KEY_ALIASES.get(key.lower(), key.lower())
            if current not in KEYS:
                raise UserError(f"unknown subset key {key!r} in {subset!r}: use {', '.join(KEYS)} (e.g. level=5)")
        else:
            value = token
            if current is None or current == "level":
                # Bare shorthand: "Level 5" or "5" is a level, anything else a subject.
                current = "level" if _LEVEL.fullmatch(token) else "subject"
        if current == "level":
            m = _LEVEL.fullmatch(value)
            if not m:
                raise UserError(f"level {value!r} in {subset!r} is not a number (e.g. level=5 or level=4,5)")
            value = m.group(1)
        if value:
            wanted.setdefault(current, []).append(value)
    if not wanted:
        raise UserError(f"empty subset {subset!r}: use e.g. level=5, subject=Algebra or level=4,5")
    return wanted


def _check_values(problems: Sequence[Problem], wanted: dict[str, list[str]]) -> None:
    """Every asked-for level and subject exists in the set; otherwise say which do."""
    if "level" in wanted:
        levels = Counter(p.level for p in problems if p.level is not None)
        if not levels:
            raise UserError("these problems have no levels, so a level subset cannot apply")
        missing = [v for v in wanted["level"] if int(v) not in levels]
        if missing:
            have = ", ".join(f"{lv} ({n})" for lv, n in sorted(levels.items()))
            raise UserError(f"no problem has level {', '.join(missing)}; levels present: {have}")
    if "subject" in wanted:
        subjects = Counter(p.subject for p in problems if p.subject is not None)
        if not subjects:
            raise UserError("these problems have no subjects, so a subject subset cannot apply")
        keys = {subject_key(s) for s in subjects}
        missing = [v for v in wanted["subject"] if subject_key(v) not in keys]
        if missing:
            have = ", ".join(f"{s} ({n})" for s, n in sorted(subjects.items()))
            raise UserError(f"no problem has subject {', '.join(missing)}; subjects present: {have}")
    if "id" in wanted:
        ids = {p.id for p in problems}
        missing = [v for v in wanted["id"] if v not in ids]
        if missing:
            raise UserError(f"no problem has id {', '.join(missing)}")


def _matches(problem: Problem, wanted: dict[str, list[str]]) -> bool:
    if "level" in wanted and str(problem.level) not in wanted["level"]:
        return False
    if "subject" in wanted and (
        problem.subject is None or subject_key(problem.subject) not in {subject_key(v) for v in wanted["subject"]}
    ):
        return False
    return "id" not in wanted or problem.id in wanted["id"]


def select(problems: Sequence[Problem], *, subset: str | None = None, limit: int | None = None) -> list[Problem]:
    """The problems matching `subset` (None: all), in file order, then the first `limit` of them."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, not {limit}")
    chosen = list(problems)
    if subset is not None and subset.strip():
        wanted = parse_subset(subset)
        _check_values(chosen, wanted)
        chosen = [p for p in chosen if _matches(p, wanted)]
        if not chosen:
            raise UserError(f"no problem matches every part of subset {subset!r}")
    return chosen[:limit] if limit is not None else chosen
