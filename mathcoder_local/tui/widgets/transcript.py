"""The transcript: the question, one widget per block, the final answer. Live solves and saved ones look alike.

A live solve feeds `apply(events)` with whatever arrived since the last UI tick: text deltas are joined and
appended to the block in progress only (a Markdown widget's `append` re-parses just its last lines; a code block
re-highlights only itself), so the transcript is never redrawn as a whole per token.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Markdown, Static

from mathcoder_local.events import Block, BlockEnded, BlockStarted, ExecutionResult, Finished, SolveEvent, TextDelta


def _code(code: str) -> Syntax:
    return Syntax(code, "python", theme="monokai", background_color="default", word_wrap=True)


class QuestionBlock(Static):
    def __init__(self, question: str) -> None:
        super().__init__(Text(question.strip()), classes="question")
        self.border_title = "problem"


class TextBlock(Markdown):
    """A text block, rendered as Markdown as it streams."""

    def __init__(self, content: str = "") -> None:
        super().__init__(content, classes="text-block")


class CodeBlock(Static):
    """A code block, syntax-highlighted as it streams."""

    def __init__(self, code: str = "") -> None:
        super().__init__(_code(code), classes="code-block")
        self.code = code
        self.border_title = "code"

    def append(self, text: str) -> None:
        self.set_code(self.code + text)

    def set_code(self, code: str) -> None:
        if code != self.code:
            self.code = code
            self.update(_code(code))


class ExecutionBlock(Static):
    """What running a code block gave, in its own panel: output, error or timeout each styled apart."""

    def __init__(self, block: Block) -> None:
        result = block.result or ExecutionResult()
        super().__init__(Text(block.content), classes=f"execution exec-{result.status}")
        self.status = result.status
        self.content = block.content
        self.border_title = result.title


class AnswerBlock(Static):
    def __init__(self, answer: str, finish_reason: str) -> None:
        note = {
            "answer": "",
            "cancelled": "stopped",
            "max_blocks": "stopped at the block limit",
            "max_block_tokens": "stopped: a block ran past its token limit",
            "max_tokens": "stopped at the token limit",
            "context_full": "stopped: the context window is full",
        }.get(finish_reason, finish_reason)
        text = Text.assemble(("Answer: ", "bold"), (answer or "(none)", "bold"))
        if note:
            text.append(f"   ({note})", style="italic")
        super().__init__(text, classes=f"answer finish-{finish_reason}")
        self.answer = answer
        self.finish_reason = finish_reason


class Transcript(VerticalScroll):
    """The scrolling transcript of one solve."""

    can_focus = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._current: Widget | None = None  # the block in progress
        self._pending = ""  # text for it not shown yet
        self.answer: str | None = None

    # --- live ---------------------------------------------------------------------------------------------

    async def start(self, question: str) -> None:
        """Clear, and show the question of a new solve."""
        await self.remove_children()
        self._current, self._pending, self.answer = None, "", None
        await self.mount(QuestionBlock(question))

    async def apply(self, events: Iterable[SolveEvent]) -> None:
        """Show the events that arrived since the last call (one UI update for all of them)."""
        follow = self._at_end()
        for event in events:
            if isinstance(event, TextDelta):
                self._pending += event.text
            elif isinstance(event, BlockStarted):
                await self._flush()
                if event.kind == "text":
                    self._current = TextBlock()
                elif event.kind == "code":
                    self._current = CodeBlock()
                else:
                    self._current = None  # an execution block arrives complete, with its result
                if self._current is not None:
                    await self.mount(self._current)
            elif isinstance(event, BlockEnded):
                await self._end_block(event)
            elif isinstance(event, Finished):
                await self._flush()
                self.answer = event.answer
                await self.mount(AnswerBlock(event.answer, event.finish_reason))
        await self._flush()
        if follow:
            self.scroll_end(animate=False)

    async def _flush(self) -> None:
        text, self._pending = self._pending, ""
        current = self._current
        if not text or current is None:
            return
        if isinstance(current, TextBlock):
            await current.append(text)
        elif isinstance(current, CodeBlock):
            current.append(text)

    async def _end_block(self, event: BlockEnded) -> None:
        block = event.block
        if block.kind == "execution":
            await self.mount(ExecutionBlock(block))
            return
        self._pending = ""
        current = self._current
        if isinstance(current, TextBlock):
            if current.source != block.content:  # the format may trim what it streamed
                await current.update(block.content)
        elif isinstance(current, CodeBlock):
            current.set_code(block.content)
        self._current = None

    def _at_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    # --- saved --------------------------------------------------------------------------------------------

    async def show(
        self, question: str, blocks: Sequence[Mapping[str, object]], answer: str | None, finish_reason: str
    ) -> None:
        """Show a saved transcript (history entry or bench row) the way a live solve shows it."""
        await self.remove_children()
        self._current, self._pending = None, ""
        widgets: list[Widget] = [QuestionBlock(question)]
        for row in blocks:
            block = Block.from_dict(row)
            if block.kind == "text":
                widgets.append(TextBlock(block.content))
            elif block.kind == "code":
                widgets.append(CodeBlock(block.content))
            elif block.kind == "execution":
                widgets.append(ExecutionBlock(block))
        if answer is not None:
            widgets.append(AnswerBlock(answer, finish_reason))
        self.answer = answer
        await self.mount_all(widgets)
        self.scroll_home(animate=False)

    def clear(self) -> None:
        self._current, self._pending, self.answer = None, "", None
        self.remove_children()
