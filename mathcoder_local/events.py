"""The events the solve loop yields. The CLI, the TUI and the bench all consume these and nothing else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Union

BlockKind = Literal["text", "code", "execution"]

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
class Block:
    kind: BlockKind
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "content": self.content}


@dataclass(frozen=True)
class BlockStarted:
    kind: BlockKind


@dataclass(frozen=True)
class TextDelta:
    """New text of the block in progress (text or code), as the model generates it."""

    kind: BlockKind
    text: str


@dataclass(frozen=True)
class BlockEnded:
    block: Block


@dataclass(frozen=True)
class ExecutionResult:
    """What running one code block gave; `output` is exactly what the model is shown."""

    output: str
    error: str | None  # exception type name, or None
    timed_out: bool
    seconds: float


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

    def to_dict(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "format": self.format,
            "finish_reason": self.finish_reason,
            "blocks": [b.to_dict() for b in self.blocks],
            "stats": self.stats.to_dict(),
        }


SolveEvent = Union[BlockStarted, TextDelta, BlockEnded, ExecutionResult, Finished]
