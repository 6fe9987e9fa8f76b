"""The remote engine: the ordinary solve loop over an inference server; the executor stays local.

The loop works on token lists, so a remote engine keeps the model's vocabulary here (the GGUF loaded
vocab-only in llama.cpp) for tokenizing, special-token ids, token text and end-of-generation tests. Each
`generate()` sends the token list (as token ids where the server takes them, else as text with the special
tokens written out), asks for one stretch of output that ends where the caller's `StopRules` say, turns the
answer back into tokens and yields them one by one, so the solver's contract is unchanged: it stops pulling
when it wants to run code. A server kind implements `_step` (one request, its tokens).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import Iterator, Sequence

import llama_cpp

from mathcoder_local.engine.base import (
    ContextFull,
    EngineCounters,
    LogitsProcessor,
    SamplingParams,
    StopRules,
    reusable_prefix,
)
from mathcoder_local.engine.llama import LlamaVocabulary, check_gguf_path, load_llama
from mathcoder_local.engine.remote.http import HttpClient, RemoteOptions, RequestStats, ServerError, is_context_error
from mathcoder_local.engine.remote.probe import ServerInfo
from mathcoder_local.errors import UserError

NO_STOPS = StopRules()  # a caller that names no boundaries: generation ends at end of generation only

_vocab_lock = threading.Lock()
_vocabularies: dict[Path, tuple[llama_cpp.Llama, dict[int, bytes]]] = {}


def open_vocabulary(path: str | os.PathLike[str]) -> tuple[llama_cpp.Llama, dict[int, bytes]]:
    """The GGUF loaded vocab-only (no weights: milliseconds), shared by every engine of this process."""
    p = check_gguf_path(path).resolve()
    with _vocab_lock:
        if p not in _vocabularies:
            _vocabularies[p] = (load_llama(p, vocab_only=True), {})
        return _vocabularies[p]


def request_seed(seed: int, position: int) -> int:
    """A seed per request, from the run's seed and where in the sequence it starts (never 0: TGI wants > 0)."""
    return ((seed & 0xFFFFFFFF) * 1_000_003 + position) % 0x7FFFFFFF + 1


def warn_once(key: str, message: str, _seen: set[str] = set()) -> None:  # noqa: B006 - deliberate memo
    if key not in _seen:
        _seen.add(key)
        print(f"warning: {message}", file=sys.stderr)


def special_ids(stops: StopRules) -> frozenset[int]:
    """Every special token `stops` names."""
    ends = [t for t in (stops.block_end, stops.message_end) if t is not None]
    return frozenset((*stops.specials, *stops.tokens, *stops.block_openers, *ends))


class RemoteEngine(LlamaVocabulary):
    """The Engine interface over one server; subclasses implement `_step` (one request → its tokens)."""

    kind = "remote"

    def __init__(
        self,
        vocab_path: str | os.PathLike[str],
        info: ServerInfo,
        *,
        n_ctx: int = 4096,
        options: RemoteOptions = RemoteOptions(),
    ) -> None:
        llama, pieces = open_vocabulary(vocab_path)
        super().__init__(llama, pieces)
        self.model_path = Path(vocab_path)
        self.server = info
        self.url = info.url
        self.options = options
        self.client = HttpClient(info.url, options)
        self.counters = EngineCounters()
        limit = info.max_total_tokens
        self._n_ctx = min(n_ctx, limit) if limit else n_ctx
        self._cached: list[int] = []  # what the server last saw (prompt and answer): its likely prefix cache
        self._space_prefix = self.metadata.get("tokenizer.ggml.add_space_prefix", "true") == "true"
        self._anchor = self.tokenize("\n")
        self._specials: frozenset[int] = frozenset()  # the special tokens of the last generate()'s StopRules

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def stats(self) -> RequestStats:
        return self.client.stats

    def close(self) -> None:
        self.client.close()

    # --- text and tokens --------------------------------------------------------------------------------

    def is_special(self, token: int) -> bool:
        return token in self._specials or self.is_control(token)

    def special_text(self, token: int) -> str:
        return llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace")

    def render_text(self, tokens: Sequence[int]) -> str:
        """The token list as a prompt string for a server that tokenizes text with its special tokens parsed.

        Special tokens (control tokens and the ones the last `generate()`'s StopRules named) are written out as
        their text. The server adds the BOS token itself, and (SentencePiece, like llama.cpp and
        the HF legacy tokenizer) a space in front of text that starts the prompt or follows a special token:
        that space is dropped here so that it is not doubled.
        """
        start = 1 if tokens and self.bos_id is not None and tokens[0] == self.bos_id else 0
        parts: list[str] = []
        run: list[int] = []
        after_special = True

        def flush() -> None:
            nonlocal after_special
            if not run:
                return
            text = b"".join(self.token_bytes(t) for t in run).decode("utf-8", "replace")
            if self._space_prefix and after_special and text.startswith(" "):
                text = text[1:]
            parts.append(text)
            run.clear()
            after_special = False

        for token in tokens[start:]:
            if self.is_special(token):
                flush()
                parts.append(self.special_text(token))
                after_special = True
            else:
                run.append(token)
        flush()
        return "".join(parts)

    def text_tokens(self, text: str, *, after_special: bool) -> list[int]:
        """Tokens for generated `text`: canonical tokenization, as if the model had written exactly it."""
        if not text:
            return []
        if self._space_prefix and after_special and text.startswith(" ") and len(text) > 1:
            return self.tokenize(text[1:])  # llama.cpp puts the word-start space back
        tokens = self.tokenize("\n" + text)  # mid-text: an anchor keeps the word-start space out
        anchor = self._anchor
        return tokens[len(anchor) :] if tokens[: len(anchor)] == anchor else self.tokenize(text)

    def tokens_with_specials(self, text: str, *, after_special: bool) -> list[int]:
        """Tokens for generated `text` in which the special tokens are written out as their text."""
        pieces = sorted((self.special_text(t) for t in self._specials), key=len, reverse=True)
        if not pieces:
            return self.text_tokens(text, after_special=after_special)
        out: list[int] = []
        for part in re.split("(" + "|".join(map(re.escape, pieces)) + ")", text):
            if not part:
                continue
            token = self.token_id(part) if part in pieces else None
            if token is not None:
                out.append(token)
                after_special = True
            else:
                out += self.text_tokens(part, after_special=after_special)
                after_special = False
        return out

    def stop_texts(self, stops: StopRules) -> list[str]:
        """What a server that matches stops on text is told to stop at: the strings, then the tokens' text."""
        return [*stops.strings, *(self.special_text(t) for t in stops.tokens)]

    # --- generation -------------------------------------------------------------------------------------

    def generate(
        self,
        tokens: Sequence[int],
        *,
        sampling: SamplingParams = SamplingParams(),
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
        stops: StopRules | None = None,
    ) -> Iterator[int]:
        if not tokens:
            raise ValueError("generate() needs at least one token (the prompt)")
        if logits_processor is not None:
            raise UserError("a logits processor needs the model in this process; it cannot be used with --server")
        rules = stops or NO_STOPS
        if grammar is not None and grammar not in rules.implied_grammar:
            raise UserError("a custom grammar cannot be used with --server (only the prompt format's own grammar)")
        self._specials = special_ids(rules)
        sequence = list(tokens)
        while True:
            room = self.n_ctx - len(sequence)
            if room <= 0:
                raise ContextFull(len(sequence) + 1, self.n_ctx)
            out = self._step(sequence, sampling, min(self.options.request_tokens, room), rules)
            if not out:
                raise UserError(f"{self.url} returned no tokens for a request that allowed {room}")
            self._account(sequence, out)
            for token in out:
                sequence.append(token)
                yield token

    def _account(self, sequence: Sequence[int], out: Sequence[int]) -> None:
        keep = reusable_prefix(self._cached, sequence) if self._cached else 0
        self.counters.evaluated_tokens += len(sequence) - keep + len(out)  # an estimate: the server's cache
        self.counters.sampled_tokens += len(out)
        self.stats.generated_tokens += len(out)
        self._cached = [*sequence, *out]

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int, stops: StopRules) -> list[int]:
        raise NotImplementedError

    def _post(
        self, path: str, body: dict[str, object], sequence: Sequence[int], *, attempts: int | None = None
    ) -> dict[str, object]:
        try:
            answer = self.client.post(path, body, attempts=attempts)
        except ServerError as exc:
            if is_context_error(exc):
                raise ContextFull(len(sequence) + 1, self.n_ctx) from None
            raise
        if not isinstance(answer, dict):
            raise UserError(f"{self.url}{path} answered with an unexpected JSON value")
        return answer
