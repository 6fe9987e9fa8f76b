"""The one record every dataset reader produces and the bench and grader consume."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    id: str  # stable within its dataset: the file's own id when it has one, else the line number
    question: str
    answer: str  # the gold final answer as text (GSM8K's "#### 18" → "18"; MATH's last \boxed{})
    subject: str | None = None
    level: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
