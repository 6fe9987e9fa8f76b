"""llama.cpp's OpenAI-compatible completions servers: llama-server and llama-cpp-python's server
(`python -m llama_cpp.server`). Where a stretch of generation ends comes from the caller's `StopRules`: this
module knows the server, and nothing of how a prompt is laid out. The request plumbing (token ids or text as
the prompt, the choice and its token count) is `completions.CompletionsEngine`'s.

- Output: text only. Block tokens that are CONTROL tokens render as empty text, so with `block_openers` the
  boundaries are made visible: blocks come one request at a time, each shaped by a GBNF grammar with
  llama.cpp's token references: (1) which block comes next: `( <opener-1> "\\x01" | <opener-2> "\\x02" )?` (or
  the message end), two tokens at most; (2) the block's body, which must end with the block-end token and then
  a one-character tag the body cannot contain. The tag makes the end visible; it is never kept (the next prompt
  ends before it). The body may not spell the start that every special token's text shares ("<|"), so blocks
  are always well formed over these servers, with or without --grammar.
- Otherwise: `stop` on the stop strings (and the stop tokens' text). An answer that stopped at one is told
  from one that ended at end of generation by the token count the server reports (the stop's tokens are
  counted but not returned); with several stops, the count says which one. A server that reports no count
  is taken to have stopped at the first stop string only where the text ends with one of the rules'
  `stop_follows`; otherwise the answer ended at end of generation.
- Sampling: temperature, top_p, top_k, seed; llama.cpp's own extras (repeat_penalty 1.1, min_p 0.05, top_k 40
  by default) are switched off so that temperature 0 is the same greedy decoding as in process.

Neither a logits processor nor a custom grammar can run on these servers.
"""

from __future__ import annotations

from typing import Sequence

from mathcoder_local.engine.base import SamplingParams, StopRules
from mathcoder_local.engine.remote.completions import CompletionsEngine
from mathcoder_local.errors import UserError

_TAG_CANDIDATES = "\x01\x02\x03\x04\x05\x06\x07\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"


def _gbnf_char(ch: str) -> str:
    return f"\\x{ord(ch):02x}"


def _class_char(ch: str) -> str:
    """`ch` inside a GBNF character class or string literal."""
    return ch if ch.isprintable() and ch not in '\\]^-"[' else _gbnf_char(ch)


class OpenAIEngine(CompletionsEngine):
    """The llama.cpp dialect: the block protocol under GBNF grammars, or stop strings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tags: dict[int, tuple[str, ...]] = {}

    def _dialect_body(self, sampling: SamplingParams) -> dict[str, object]:
        return {
            "top_k": sampling.top_k,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            "cache_prompt": True,
        }

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules) -> list[int]:
        if stops.block_openers:
            return self._block_step(sequence, sampling, max_tokens, stops)
        return self._stop_string_step(sequence, sampling, max_tokens, stops)

    # --- blocks opened by control tokens ----------------------------------------------------------------

    def tags(self, count: int = 3) -> tuple[str, ...]:
        """`count` characters that are each one token of this vocabulary (byte tokens), used as end tags."""
        if count not in self._tags:
            found: list[str] = []
            for ch in _TAG_CANDIDATES:
                ids = self.text_tokens(ch, after_special=False)
                if len(ids) == 1 and self.token_bytes(ids[0]) == ch.encode():
                    found.append(ch)
                if len(found) == count:
                    break
            if len(found) < count:
                raise UserError("this vocabulary has no single-byte control-character tokens to mark block ends")
            self._tags[count] = tuple(found)
        return self._tags[count]

    def _token_ref(self, token: int) -> str:
        """A GBNF reference to one token: its text where llama.cpp can parse that (<|code|>), else its id."""
        text = self.special_text(token)
        plain = text.startswith("<") and text.endswith(">") and ">" not in text[1:-1] and text.isprintable()
        return text if plain and self.token_id(text) == token else f"<[{token}]>"

    def _in_block(self, sequence: Sequence[int], stops: StopRules) -> bool:
        """Whether the sequence ends inside a block: the last special token in it opened one."""
        openers = set(stops.block_openers)
        for token in reversed(sequence):
            if token in openers:
                return True
            if token in self._specials:
                return False
        return False

    def _body_rule(self, tags: Sequence[str]) -> str:
        marks = "".join(_gbnf_char(t) for t in tags)
        texts = [self.special_text(t) for t in self._specials]
        first = {t[:2] for t in texts}
        if len(first) == 1 and len(lead := first.pop()) == 2:
            a, b = _class_char(lead[0]), _class_char(lead[1])
            return f'body ::= ( [^{a}{marks}] | "{a}"+ [^{a}{b}{marks}] )*'
        return f"body ::= [^{marks}]*"

    def _block_step(
        self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules
    ) -> list[int]:
        if stops.block_end is None:
            raise ValueError("StopRules with block_openers need a block_end")
        tags = self.tags(len(stops.block_openers) + 1)
        if self._in_block(sequence, stops):
            return self._block_body(sequence, sampling, max_tokens, stops.block_end, tags)
        return self._next_block(sequence, sampling, stops, tags)

    def _next_block(
        self, sequence: list[int], sampling: SamplingParams, stops: StopRules, tags: Sequence[str]
    ) -> list[int]:
        """Which block comes next (its opener), or the end of the message: one request of two tokens at most."""
        openers, eom = stops.block_openers, stops.message_end
        tag_end = tags[len(openers)]
        choices = " | ".join(f'{self._token_ref(t)} "{_gbnf_char(tags[i])}"' for i, t in enumerate(openers))
        eom_is_eog = eom is None or self.is_end_of_generation(eom)
        if eom is None or eom_is_eog:
            grammar = f"root ::= ( {choices} )?"  # llama.cpp lets an end of generation through where root may end
        else:
            grammar = f'root ::= {choices} | {self._token_ref(eom)} "{_gbnf_char(tag_end)}"'
        choice = self._complete(sequence, {**self._body(sequence, 2, sampling), "grammar": grammar})
        text = str(choice.get("text") or "")
        for tag, opener in zip(tags, openers, strict=False):
            if text.endswith(tag):
                return [opener]
        if text.endswith(tag_end) or (not text and choice.get("finish_reason") == "stop"):
            return [eom if eom is not None and (eom_is_eog or text) else self.eos_id]
        raise UserError(f"{self.url} did not follow the block grammar (answered {text!r}); is it a llama.cpp server?")

    def _block_body(
        self, sequence: list[int], sampling: SamplingParams, max_tokens: int, block_end: int, tags: Sequence[str]
    ) -> list[int]:
        """The open block's body up to its end token, made visible by the first tag after it."""
        tag = tags[0]
        grammar = f'root ::= body {self._token_ref(block_end)} "{_gbnf_char(tag)}"\n{self._body_rule(tags)}'
        choice = self._complete(sequence, {**self._body(sequence, max_tokens, sampling), "grammar": grammar})
        text = str(choice.get("text") or "")
        complete = text.endswith(tag)
        if complete:
            text = text[: -len(tag)]
        # A request cut short right after the invisible block end looks like a cut body: the next request
        # continues the body and the model closes it again, so nothing is lost.
        out = self.text_tokens(text, after_special=self.is_special(sequence[-1]))
        if complete:
            out.append(block_end)
        return out

    # --- stop strings -----------------------------------------------------------------------------------

    def _stop_string_step(
        self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules
    ) -> list[int]:
        body = self._body(sequence, max_tokens, sampling)
        marks = self.stop_texts(stops)
        if marks:
            body["stop"] = marks
        choice = self._complete(sequence, body)
        text = str(choice.get("text") or "")
        after = self.is_special(sequence[-1])
        out = self.text_tokens(text, after_special=after)
        if choice.get("finish_reason") != "stop":
            return out
        # The stop's tokens are counted but not returned: the count tells a stop from end of generation.
        candidates = [self.text_tokens(text + s, after_special=after) for s in stops.strings]
        candidates += [[*out, t] for t in stops.tokens if not self.is_end_of_generation(t)]
        counted = choice.get("_completion_tokens")
        if counted is None:  # a server that counts nothing: a stop string only where the text shows one is due
            tail = text.rstrip()
            if stops.strings and any(tail.endswith(f) for f in stops.stop_follows if f):
                return candidates[0]
        if candidates and isinstance(counted, int) and counted > len(out):
            return min(candidates, key=lambda c: abs(len(c) - counted))  # the first of equally near ones
        ends = [t for t in stops.tokens if self.is_end_of_generation(t)]
        return [*out, ends[0] if ends else self.eos_id]
