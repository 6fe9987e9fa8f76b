"""Token sampling over llama.cpp's sampler API, with a grammar checked the cheap way first.

Applying a grammar to every candidate costs a UTF-8 decode and a grammar walk for each of ~32k tokens per
step. Like llama.cpp's own common sampler, we sample without the grammar, ask the grammar about that one
token, and only when it is rejected pay for the full constrained pass.
"""

from __future__ import annotations

import ctypes
from typing import Sequence

import llama_cpp
import numpy as np

from mathcoder_local.engine.base import EngineCounters, LogitsProcessor, SamplingParams
from mathcoder_local.errors import GrammarError

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


def _chain(params: SamplingParams) -> llama_cpp.llama_sampler_p:
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = lambda s: llama_cpp.llama_sampler_chain_add(chain, s)  # noqa: E731
    if params.temperature <= 0:
        add(llama_cpp.llama_sampler_init_greedy())
        return chain
    if params.top_k > 0:
        add(llama_cpp.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
    add(llama_cpp.llama_sampler_init_temp(params.temperature))
    add(llama_cpp.llama_sampler_init_dist(params.seed & 0xFFFFFFFF))
    return chain


def init_grammar_sampler(vocab: llama_cpp.llama_vocab_p, grammar: str) -> llama_cpp.llama_sampler_p:
    """A llama.cpp grammar sampler; the grammar must already have passed `grammar.validate_gbnf`."""
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        # llama.cpp returns NULL for grammars it cannot parse; adding NULL to a chain would crash.
        raise GrammarError("llama.cpp rejected the grammar; run with --no-grammar or fix the grammar file")
    return sampler


class TokenSampler:
    """Samples one token at a time from a context's last logits; freed with close()."""

    def __init__(
        self,
        ctx: llama_cpp.llama_context_p,
        vocab: llama_cpp.llama_vocab_p,
        n_vocab: int,
        params: SamplingParams,
        counters: EngineCounters,
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
    ) -> None:
        self._ctx = ctx
        self._n_vocab = n_vocab
        self._counters = counters
        self._processor = logits_processor
        self._chain = _chain(params)
        self._grammar = init_grammar_sampler(vocab, grammar) if grammar is not None else None
        self._data = np.empty(n_vocab, dtype=_TOKEN_DATA)
        self._one = np.empty(1, dtype=_TOKEN_DATA)

    def close(self) -> None:
        for sampler in (self._chain, self._grammar):
            if sampler:
                llama_cpp.llama_sampler_free(sampler)
        self._chain = self._grammar = None

    def sample(self, history: Sequence[int], index: int = -1) -> int:
        """Sample from the logits of output `index` of the last decode (-1: the last output)."""
        if self._processor is None and self._grammar is None:
            # Everything in C: the same path llama.cpp's own examples take.
            return int(llama_cpp.llama_sampler_sample(self._chain, self._ctx, index))
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx, index), shape=(self._n_vocab,))
        if self._processor is not None:
            logits = self._processor(history, logits.copy())
        token = self._sample_from(logits)
        if self._grammar is not None:
            if not self._grammar_allows(token):
                self._counters.grammar_full_passes += 1
                token = self._sample_from(logits, constrain=True)
            llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def _as_array(self, data: np.ndarray) -> llama_cpp.llama_token_data_array:
        return llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(data), selected=-1, sorted=False
        )

    def _sample_from(self, logits: np.ndarray, constrain: bool = False) -> int:
        data = self._data
        data["id"] = np.arange(self._n_vocab, dtype=np.int32)
        data["logit"] = logits
        data["p"] = 0.0
        array = self._as_array(data)
        if constrain:
            llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
            if not np.isfinite(data["logit"][: array.size]).any():
                raise GrammarError("the grammar allows no next token; the model cannot continue under it")
        llama_cpp.llama_sampler_apply(self._chain, ctypes.byref(array))
        token = int(data["id"][array.selected])
        llama_cpp.llama_sampler_accept(self._chain, token)
        return token

    def _grammar_allows(self, token: int) -> bool:
        one = self._one
        one["id"][0], one["logit"][0], one["p"][0] = token, 0.0, 0.0
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(self._as_array(one)))
        return bool(np.isfinite(one["logit"][0]))
