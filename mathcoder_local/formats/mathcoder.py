"""The MathCoder format: <|text|>/<|code|>/<|execution|> blocks in special tokens, detected by token id.

In a correct GGUF the block tokens are CONTROL tokens, which llama.cpp renders as empty text, so stop strings
would never fire: everything here works on ids.
"""

from __future__ import annotations

from typing import Sequence

from mathcoder_local.answers import clean_short_answer, last_boxed
from mathcoder_local.engine.base import Engine, StopRules
from mathcoder_local.errors import UserError
from mathcoder_local.events import Block, SolveEvent
from mathcoder_local.executor.session import CellResult
from mathcoder_local.formats.base import BlockTracker, PromptFormat, Step, utf8_decoder
from mathcoder_local.formats.mathcoder_grammar import mathcoder_turn_grammar

SPECIAL_TOKENS = (
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|text|>",
    "<|code|>",
    "<|execution|>",
    "<|endofblock|>",
    "<|endofmessage|>",
)
EMPTY_EXECUTION = "<empty_execution>"
# A final text block at most this long, on one line, is MathCoder's short answer block ("22").
SHORT_ANSWER_CHARS = 64


def execution_text(cell: CellResult) -> str:
    """What a MathCoder model reads back: Jupyter's order (streams, the displayed value, the traceback),
    stripped as MathCoder's harness did, `<empty_execution>` when nothing is left."""
    text = (cell.stdout + cell.display + cell.traceback).strip()
    if cell.dropped_chars:
        text += f"\n... ({cell.dropped_chars} more characters not shown)"
    return text or EMPTY_EXECUTION


def extract_answer(blocks: Sequence[Block]) -> str:
    """The last short text block (MathCoder ends with one, e.g. "22"), else the last \\boxed{} in any text."""
    texts = [b.content for b in blocks if b.kind == "text"]
    if texts:
        last = texts[-1].strip()
        if last and len(last) <= SHORT_ANSWER_CHARS and "\n" not in last:
            return clean_short_answer(last)
    for text in reversed(texts):
        boxed = last_boxed(text)
        if boxed is not None:
            return boxed
    return ""


class MathCoderTracker(BlockTracker):
    def __init__(self, ids: dict[str, int], engine: Engine, strip_leading_space: bool) -> None:
        super().__init__()
        self._ids = ids
        self._specials = set(ids.values())
        self._engine = engine
        self._strip = strip_leading_space
        self._decoder = utf8_decoder()
        self._at_block_start = False

    def feed(self, token: int) -> Step:
        ids, step = self._ids, Step()
        events = step.events
        if token == ids["<|text|>"] or token == ids["<|execution|>"]:
            # A model-written <|execution|> block is shown as text, as MathCoder's own harness did: only
            # the executor produces execution blocks (the grammar, on by default, forbids these).
            self._open("text", events)
        elif token == ids["<|code|>"]:
            self._open("code", events)
        elif token == ids["<|endofblock|>"]:
            self._flush(events)
            block = self._end_block(events)
            if block is not None and block.kind == "code":
                step.action, step.code = "execute", block.content
        elif token == ids["<|endofmessage|>"] or self._engine.is_end_of_generation(token):
            self._flush(events)
            self._end_block(events)
            step.action = "finish"
        elif token in self._specials:
            pass  # role tokens inside an answer carry no text
        else:
            if self._kind is None:
                self._open("text", events)  # text with no opening token: keep it, as text
            text = self._decoder.decode(self._engine.token_bytes(token))
            if self._at_block_start and text:
                if self._strip and text.startswith(" "):
                    text = text[1:]  # SentencePiece's dummy prefix after a special token
                self._at_block_start = not text
            self._append(text, events)
        return step

    def _open(self, kind: str, events: list[SolveEvent]) -> None:
        self._flush(events)
        self._start_block(kind, events)  # type: ignore[arg-type]
        self._decoder = utf8_decoder()
        self._at_block_start = True

    def _flush(self, events: list[SolveEvent]) -> None:
        self._append(self._decoder.decode(b"", final=True), events)


class MathCoderFormat(PromptFormat):
    name = "mathcoder"
    max_rounds = 16  # blocks the model may write, as MathCoder's inference loop allowed
    round_unit = "blocks"
    grammar_by_default = True  # block tokens only where a block may start: well-formed turns

    def __init__(self, engine: Engine, *, system: str = "", max_rounds: int | None = None) -> None:
        super().__init__(engine, max_rounds=max_rounds)
        ids: dict[str, int] = {}
        for piece in SPECIAL_TOKENS:
            token = engine.token_id(piece)
            if token is None:
                raise UserError(f"this model has no {piece} token, so it is not a MathCoder model; try --format tora")
            ids[piece] = token
        self.ids = ids
        self.system = system
        # llama.cpp prefixes a space to text that follows a special token in SentencePiece vocabularies.
        self._strip_space = engine.metadata.get("tokenizer.ggml.add_space_prefix", "true") == "true"

    def _text(self, text: str) -> list[int]:
        return self.engine.tokenize(text, special=False)

    def prompt_tokens(self, question: str) -> list[int]:
        i = self.ids
        tokens: list[int] = [] if self.engine.bos_id is None else [self.engine.bos_id]
        tokens += [i["<|system|>"], i["<|text|>"]] + (self._text(self.system) if self.system else [])
        tokens += [i["<|endofblock|>"], i["<|endofmessage|>"], i["<|user|>"], i["<|text|>"]]
        # MathCoder's harness sent the question followed by a newline.
        tokens += self._text(question.rstrip("\n") + "\n")
        tokens += [i["<|endofblock|>"], i["<|endofmessage|>"], i["<|assistant|>"]]
        return tokens

    def tracker(self) -> MathCoderTracker:
        return MathCoderTracker(self.ids, self.engine, self._strip_space)

    def execution_text(self, cell: CellResult) -> str:
        return execution_text(cell)

    def execution_tokens(self, text: str) -> list[int]:
        # The output is tokenized as plain text: a "<|code|>" printed by the code must stay text.
        return [self.ids["<|execution|>"], *self._text(text), self.ids["<|endofblock|>"]]

    def extract_answer(self, blocks: Sequence[Block]) -> str:
        return extract_answer(blocks)

    def rounds_used(self, tracker: BlockTracker) -> int:
        return tracker.model_blocks

    def grammar(self) -> str:
        eom = self.ids["<|endofmessage|>"]
        return mathcoder_turn_grammar(end_of_message_is_eog=self.engine.is_end_of_generation(eom))

    def stop_rules(self) -> StopRules:
        i = self.ids
        return StopRules(
            tokens=(i["<|endofblock|>"], i["<|endofmessage|>"]),
            specials=tuple(i[piece] for piece in SPECIAL_TOKENS),
            block_openers=(i["<|text|>"], i["<|code|>"]),
            block_end=i["<|endofblock|>"],
            message_end=i["<|endofmessage|>"],
            implied_grammar=tuple(mathcoder_turn_grammar(end_of_message_is_eog=eog) for eog in (True, False)),
        )
