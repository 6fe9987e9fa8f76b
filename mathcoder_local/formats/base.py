"""What a prompt format is: prompt building, block tracking, writing execution back, answer extraction.

A format is bound to an engine (it needs token ids). The solve loop feeds it each sampled token through a
`BlockTracker`, which turns tokens into block events and says when to run code or stop.
"""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal, Sequence

from mathcoder_local.engine.base import Engine, StopRules
from mathcoder_local.events import Block, BlockEnded, BlockKind, BlockStarted, ExecutionResult, SolveEvent, TextDelta
from mathcoder_local.executor.session import CellResult

Action = Literal["continue", "execute", "finish"]


@dataclass
class Step:
    """The tracker's verdict on one token: events to publish and what the loop does next."""

    events: list[SolveEvent] = field(default_factory=list)
    action: Action = "continue"
    code: str | None = None  # with action "execute"


class BlockTracker(ABC):
    """Turns the model's tokens into blocks, for one assistant turn."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._kind: BlockKind | None = None
        self._parts: list[str] = []

    @abstractmethod
    def feed(self, token: int) -> Step: ...

    def finish(self) -> list[SolveEvent]:
        """Close whatever block is open (the loop stopped mid-block)."""
        events: list[SolveEvent] = []
        self._end_block(events)
        return events

    def add_execution(self, output: str, result: ExecutionResult | None = None) -> Block:
        """Record the executor's result; the model's next tokens continue after it."""
        block = Block("execution", output, result)
        self.blocks.append(block)
        return block

    @property
    def model_blocks(self) -> int:
        return sum(1 for b in self.blocks if b.kind != "execution")

    @property
    def code_blocks(self) -> int:
        return sum(1 for b in self.blocks if b.kind == "code")

    # helpers for subclasses
    def _start_block(self, kind: BlockKind, events: list[SolveEvent]) -> None:
        self._end_block(events)
        self._kind, self._parts = kind, []
        events.append(BlockStarted(kind))

    def _append(self, text: str, events: list[SolveEvent]) -> None:
        if text and self._kind is not None:
            self._parts.append(text)
            events.append(TextDelta(self._kind, text))

    def _end_block(self, events: list[SolveEvent]) -> Block | None:
        if self._kind is None:
            return None
        block = Block(self._kind, self._close_content("".join(self._parts)))
        self._kind, self._parts = None, []
        self.blocks.append(block)
        events.append(BlockEnded(block))
        return block

    def _close_content(self, content: str) -> str:
        return content


def utf8_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


class PromptFormat(ABC):
    name: str
    #: round limit: MathCoder counts model-written blocks, ToRA counts code executions
    max_rounds: int
    #: what `rounds_used` counts, as views name it ("blocks", "calls")
    round_unit: str
    #: whether `grammar()` is applied when the configuration leaves it open
    grammar_by_default: bool = False

    def __init__(self, engine: Engine, *, max_rounds: int | None = None) -> None:
        self.engine = engine
        if max_rounds is not None:
            self.max_rounds = max_rounds

    @abstractmethod
    def prompt_tokens(self, question: str) -> list[int]: ...

    @abstractmethod
    def tracker(self) -> BlockTracker: ...

    @abstractmethod
    def execution_text(self, cell: CellResult) -> str:
        """The text of the execution result exactly as the model will read it."""

    @abstractmethod
    def execution_tokens(self, text: str) -> list[int]:
        """Tokens to append after the model's code block so it reads `text` as the result."""

    @abstractmethod
    def extract_answer(self, blocks: Sequence[Block]) -> str: ...

    @abstractmethod
    def rounds_used(self, tracker: BlockTracker) -> int: ...

    def grammar(self) -> str | None:
        """A GBNF grammar for one generation segment, or None when the format has none."""
        return None

    @abstractmethod
    def stop_rules(self) -> StopRules:
        """Where one generation segment ends, for engines that generate a segment per request."""
