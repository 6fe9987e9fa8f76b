"""The events the solve loop yields. The CLI, the TUI and the bench all consume these and nothing else.

Each event carries what a view needs without pairing it with another one: `SolveStarted` names the format
and its round limit, an execution block holds its executor result, and every `BlockEnded` and `Finished` says
how many rounds the format counted so far and how many it allows.

Order: `SolveStarted`; per block `BlockStarted`, `TextDelta`s (text and code), `BlockEnded` — an execution
block starts when its code is handed to the executor and ends with the result —; `Finished` last.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Union

BlockKind = Literal["text", "code", "execution"]
ExecutionStatus = Literal["ok", "error", "timeout"]

# Why a solve ended. "answer": the model closed its message; the rest are limits or failures.
FinishReason = Literal[
    "answer",  # the model ended its message (end-of-message / EOS)
    "max_blocks",  # the format's round limit (MathCoder: 16 blocks, ToRA: 4 code calls)
    "max_block_tokens",  # one block ran past the per-block token limit
    "max_tokens",  # the total generated-token budget ran out
    "context_full",  # the context window is full
    "cancelled",  # the caller asked the loop to stop
]


@dataclass(frozen=True)
class ExecutionResult:
    """How running one code block ended; the block's `content` is exactly what the model is shown."""

    error: str | None = None  # exception type name, or None
    timed_out: bool = False
    seconds: float = field(default=0.0, compare=False)  # timing is not part of what the block says

    @property
    def status(self) -> ExecutionStatus:
        if self.timed_out:
            return "timeout"
        return "error" if self.error else "ok"

    @property
    def title(self) -> str:
        """How views label the output: "output", "timeout", or "error: NameError"."""
        status = self.status
        return f"error: {self.error}" if status == "error" else "output" if status == "ok" else status


_TIMEOUT_TEXT = re.compile(r"the code ran longer than .* and was stopped|^Timeout Error$")
_ERROR_NAME = r"([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b"
_ERROR_LINE = re.compile(r"^\s*" + _ERROR_NAME, re.M)  # "NameError: name 'x' is not defined"
_ANY_ERROR = re.compile(r"\b" + _ERROR_NAME)


def result_from_text(content: str) -> ExecutionResult:
    """The result an execution block's text shows, for rows that stored only the text (files written before
    the executor's result was recorded): a timeout message, else an exception line, else plain output."""
    if _TIMEOUT_TEXT.search(content.strip()):
        return ExecutionResult("Timeout", timed_out=True)
    found = _ERROR_LINE.findall(content)
    if not found and "Traceback (most recent call last)" in content:
        found = _ANY_ERROR.findall(content) or ["Error"]
    return ExecutionResult(found[-1].rsplit(".", 1)[-1] if found else None)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    content: str
    result: ExecutionResult | None = None  # execution blocks made by the executor

    def to_dict(self) -> dict[str, object]:
        row: dict[str, object] = {"kind": self.kind, "content": self.content}
        if self.result is not None:
            row.update(error=self.result.error, timed_out=self.result.timed_out, seconds=round(self.result.seconds, 4))
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, object]) -> Block:
        """A block as `to_dict` wrote it. An execution block without the result fields (an older file) gets
        the result its text shows (`result_from_text`)."""
        kind = str(row.get("kind", "text"))
        content = str(row.get("content", ""))
        result = None
        if kind == "execution" and ("error" in row or "timed_out" in row):
            error = row.get("error")
            seconds = row.get("seconds")
            result = ExecutionResult(
                error=str(error) if error else None,
                timed_out=bool(row.get("timed_out")),
                seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0,
            )
        elif kind == "execution":
            result = result_from_text(content)
        return cls(kind, content, result)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rounds:
    """The format's round count: MathCoder counts the blocks the model wrote, ToRA its code calls."""

    used: int
    allowed: int
    unit: str  # what is counted, for display: "blocks", "calls"


@dataclass(frozen=True)
class SolveStarted:
    """The loop has its prompt: which format runs and how many rounds it allows."""

    format: str
    rounds: Rounds
    prompt_tokens: int


@dataclass(frozen=True)
class BlockStarted:
    """A block begins. For an execution block: the executor starts running the code now."""

    kind: BlockKind


@dataclass(frozen=True)
class TextDelta:
    """New text of the block in progress (text or code), as the model generates it."""

    kind: BlockKind
    text: str


@dataclass(frozen=True)
class BlockEnded:
    block: Block
    rounds: Rounds | None = None  # filled in by the solve loop


@dataclass
class SolveStats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    evaluated_tokens: int = 0  # tokens llama.cpp actually ran through the model
    context_tokens: int = 0  # final length of the token sequence
    seconds: float = 0.0  # wall time of the whole solve
    generation_seconds: float = 0.0  # time inside the engine (prompt + decoding)
    execution_seconds: float = 0.0  # time waiting on the executor
    tokens_per_second: float = 0.0  # generated tokens / generation seconds
    code_blocks: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class Finished:
    answer: str
    finish_reason: FinishReason
    format: str
    blocks: tuple[Block, ...]
    stats: SolveStats = field(default_factory=SolveStats)
    rounds: Rounds | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "answer": self.answer,
            "format": self.format,
            "finish_reason": self.finish_reason,
            "blocks": [b.to_dict() for b in self.blocks],
            "stats": self.stats.to_dict(),
        }
        if self.rounds is not None:
            out["rounds"] = asdict(self.rounds)
        return out


SolveEvent = Union[SolveStarted, BlockStarted, TextDelta, BlockEnded, Finished]
