"""The engine interface: generate from a token list. Implementations own the KV cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

if TYPE_CHECKING:  # numpy loads with an engine, not with every module that names this interface
    import numpy as np

# Called once per sampled token with the full token sequence so far and the next-token logits (a copy);
# returns the logits to sample from. Tests use it to script a model's output through the real engine.
LogitsProcessor = Callable[[Sequence[int], "np.ndarray"], "np.ndarray"]


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy, as MathCoder's and ToRA's evaluations decode
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int = 0


@dataclass(frozen=True)
class StopRules:
    """Where one stretch of generation ends, as a prompt format tells an engine.

    Engines in this process ignore it: the solve loop stops pulling tokens when its tracker says so. A remote
    engine sends one request per stretch and needs to know where the server should stop, and how a boundary
    that the server's output cannot show is made visible. A server that returns text without the stop string
    it stopped at, and reports no token count, cannot say whether a stop string or the end of generation ended
    the answer: `stop_follows` is the format's evidence for a stop string, and without it the answer ended.
    """

    #: text stops the model writes (```output); kept in the output, so the tracker sees them
    strings: tuple[str, ...] = ()
    #: for servers that return text without the stop and report no token count: text that must end the
    #: answer (trailing whitespace aside) for it to be taken as stopped at the first of `strings`; an answer
    #: without a count that ends with none of these ended at end of generation
    stop_follows: tuple[str, ...] = ()
    #: special tokens that end a stretch (a block's end, the message's end)
    tokens: tuple[int, ...] = ()
    #: every special token the format uses: written out as text for servers that take text, and turned back
    #: into ids from answers that come back as text
    specials: tuple[int, ...] = ()
    #: special tokens, one of which starts each block, for servers whose output cannot show control tokens:
    #: the block is chosen under a grammar that follows the token with a one-character tag per opener
    block_openers: tuple[int, ...] = ()
    #: the token that ends a block (with `block_openers`: the body runs up to it)
    block_end: int | None = None
    #: the token that ends the message where no block opens
    message_end: int | None = None
    #: grammars that the stop protocol already enforces on a server, so asking for them there is allowed
    implied_grammar: tuple[str, ...] = ()


@dataclass
class EngineCounters:
    evaluated_tokens: int = 0  # tokens run through the model (prompt and generated alike)
    sampled_tokens: int = 0
    eval_seconds: float = 0.0
    sample_seconds: float = 0.0
    grammar_full_passes: int = 0  # sampled tokens the grammar rejected, forcing a full-vocabulary pass


def reusable_prefix(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """How many leading tokens of `tokens` the KV cache (holding `cached`) already has, leaving at least the
    last token to evaluate: its logits are what the next sample needs."""
    n = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        n += 1
    return min(n, len(tokens) - 1)


class ContextFull(Exception):
    def __init__(self, needed: int, n_ctx: int) -> None:
        super().__init__(f"the context window is full ({needed} > {n_ctx} tokens); raise --ctx")
        self.needed = needed
        self.n_ctx = n_ctx


class Engine(Protocol):
    """What the solve loop needs from a model."""

    counters: EngineCounters

    @property
    def n_ctx(self) -> int: ...

    @property
    def n_vocab(self) -> int: ...

    @property
    def metadata(self) -> dict[str, str]: ...

    @property
    def eos_id(self) -> int: ...

    @property
    def bos_id(self) -> int | None: ...

    def tokenize(self, text: str, *, special: bool = False, bos: bool = False) -> list[int]: ...

    def token_id(self, piece: str) -> int | None:
        """The id of a special token such as <|code|>, or None when the vocabulary lacks it as one token."""
        ...

    def token_bytes(self, token: int) -> bytes:
        """The text of one token as the model's output shows it (control tokens render empty)."""
        ...

    def is_end_of_generation(self, token: int) -> bool: ...

    def generate(
        self,
        tokens: Sequence[int],
        *,
        sampling: SamplingParams = SamplingParams(),
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
        stops: StopRules | None = None,
    ) -> Iterator[int]:
        """Yield sampled tokens continuing `tokens`; the caller stops pulling to stop.

        Only the part of `tokens` not already in the KV cache is evaluated; a token yielded here is evaluated
        when the next token is asked for, or by the next call if the caller appended it to `tokens`. `stops`
        says where the prompt format takes control back; engines that yield token by token may ignore it.
        """
        ...

    def close(self) -> None:
        """Release what the engine holds (its context, its connection)."""
        ...
