"""The ToRA / MuMath-Code format: plain text with ```python blocks; the model stops at ```output.

The fences are ordinary text, so this tracker works on the decoded text stream. The model's own
"```output" tokens are kept in the sequence and the harness appends the rest of the output block, so no
token is ever taken back (or evaluated twice).
"""

from __future__ import annotations

import re
from typing import Sequence

from mathcoder_local.answers import after_answer_phrase, last_boxed, last_number
from mathcoder_local.engine.base import Engine, StopRules
from mathcoder_local.errors import UserError
from mathcoder_local.events import Block, ExecutionResult, SolveEvent
from mathcoder_local.executor.session import CellResult
from mathcoder_local.formats.base import BlockTracker, PromptFormat, Step, utf8_decoder

CODE_OPEN = "```python\n"
CODE_CLOSE = "```"
OUTPUT_STOP = "```output"
OUTPUT_CAP = 400  # characters of output the model sees; longer output keeps its two ends around "..."


def cut_middle(text: str, cap: int = OUTPUT_CAP) -> str:
    if len(text) <= cap:
        return text
    half = cap // 2
    return text[:half] + "..." + text[-half:]


def _partial_suffix(text: str, *markers: str) -> int:
    """Length of the longest end of `text` that could be the start of one of `markers`."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best


def extract_answer(blocks: Sequence[Block]) -> str:
    """The last \\boxed{}, else "the answer is …", else the last output, else the last number."""
    text = "\n".join(b.content for b in blocks if b.kind == "text")
    for found in (last_boxed(text), after_answer_phrase(text)):
        if found:
            return found
    outputs = [b.content for b in blocks if b.kind == "execution" and b.content.strip()]
    if outputs:
        return outputs[-1].strip()
    return last_number(text) or ""


_FENCE = re.compile(r"```(python|output)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def parse_transcript(transcript: str) -> list[Block]:
    """A finished ToRA transcript (ToRA's released `code` field) as the blocks our tracker would have made."""
    blocks: list[Block] = []
    at = 0
    for m in _FENCE.finditer(transcript):
        blocks += _text_block(transcript[at : m.start()])
        if m.group(1) == "python":
            blocks.append(Block("code", m.group(2).strip("\n")))
        else:
            blocks.append(Block("execution", m.group(2).strip()))
        at = m.end()
    return blocks + _text_block(transcript[at:])


def _text_block(text: str) -> list[Block]:
    return [Block("text", text.strip())] if text.strip() else []


class ToraTracker(BlockTracker):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._decoder = utf8_decoder()
        self._pending = ""  # decoded text not yet assigned to a block (could be part of a fence)
        self._segment = ""  # all text generated since the last execution

    def feed(self, token: int) -> Step:
        step = Step()
        if self._engine.is_end_of_generation(token):
            self._consume(self._decoder.decode(b"", final=True), step, final=True)
            self._end_block(step.events)
            step.action = "finish"
            return step
        self._consume(self._decoder.decode(self._engine.token_bytes(token)), step)
        return step

    def add_execution(self, output: str, result: ExecutionResult | None = None) -> Block:
        self._segment = ""
        return super().add_execution(output, result)

    def _consume(self, text: str, step: Step, final: bool = False) -> None:
        self._segment += text
        buf = self._pending + text
        events = step.events
        while True:
            if self._kind == "code":
                at = buf.find(CODE_CLOSE)
                if at < 0:
                    keep = 0 if final else _partial_suffix(buf, CODE_CLOSE)
                    self._append(buf[: len(buf) - keep], events)
                    self._pending = buf[len(buf) - keep :]
                    return
                self._append(buf[:at], events)
                self._end_block(events)
                buf = buf[at + len(CODE_CLOSE) :]
                continue
            opener, stop = buf.find(CODE_OPEN), buf.find(OUTPUT_STOP)
            if stop >= 0 and (opener < 0 or stop < opener):
                self._text(buf[:stop], events)
                self._end_block(events)
                self._pending = ""
                code = self._last_unexecuted_code()
                # ToRA ran code only when the segment had no \boxed answer yet.
                if code is not None and "boxed" not in self._segment:
                    step.action, step.code = "execute", code
                else:
                    step.action = "finish"
                return
            if opener >= 0:
                self._text(buf[:opener], events)
                self._start_block("code", events)
                buf = buf[opener + len(CODE_OPEN) :]
                continue
            keep = 0 if final else _partial_suffix(buf, CODE_OPEN, OUTPUT_STOP)
            self._text(buf[: len(buf) - keep], events)
            self._pending = buf[len(buf) - keep :]
            return

    def _text(self, text: str, events: list[SolveEvent]) -> None:
        if self._kind is None:
            if not text.strip():
                return  # whitespace between blocks is not a block of its own
            self._start_block("text", events)
            text = text.lstrip("\n")
        self._append(text, events)

    def _close_content(self, content: str) -> str:
        return content.strip("\n") if self._kind == "code" else content.strip()

    def _last_unexecuted_code(self) -> str | None:
        for block in reversed(self.blocks):
            if block.kind == "execution":
                return None
            if block.kind == "code":
                return block.content
        return None


class ToraFormat(PromptFormat):
    name = "tora"
    max_rounds = 4  # code executions, as ToRA's max_func_call
    round_unit = "calls"

    def __init__(self, engine: Engine, *, system: str = "", max_rounds: int | None = None) -> None:
        if system:
            raise UserError("the tora format has no system text; drop --system")
        super().__init__(engine, max_rounds=max_rounds)

    def prompt_tokens(self, question: str) -> list[int]:
        prompt = f"<|user|>\n{question.strip()}\n<|assistant|>\n"
        return self.engine.tokenize(prompt, bos=self.engine.bos_id is not None)

    def tracker(self) -> ToraTracker:
        return ToraTracker(self.engine)

    def execution_text(self, cell: CellResult) -> str:
        if cell.timed_out:
            return "Timeout Error"
        if cell.error:
            return cut_middle(cell.error_line.strip())
        return cut_middle((cell.stdout.strip() or cell.display.strip()))

    def execution_tokens(self, text: str) -> list[int]:
        # The model already wrote "```output"; the rest of the block continues mid-text. Tokenizing after an
        # anchor newline avoids the word-start space a fresh SentencePiece tokenization would add.
        anchor = self.engine.tokenize("\n")
        tokens = self.engine.tokenize("\n" + f"\n{text}\n```\n")
        return tokens[len(anchor) :] if tokens[: len(anchor)] == anchor else tokens

    def extract_answer(self, blocks: Sequence[Block]) -> str:
        return extract_answer(blocks)

    def rounds_used(self, tracker: BlockTracker) -> int:
        return tracker.code_blocks

    def stop_rules(self) -> StopRules:
        return StopRules(strings=(OUTPUT_STOP,), stop_follows=("```",))  # ```output follows a closed fence
