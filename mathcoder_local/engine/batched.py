"""Batched decoding: many sequences in one llama.cpp context, each one looking like an ordinary Engine.

The bench runs N problems at once. Each problem runs the ordinary solve loop in its own thread against a
`SequenceEngine` (one KV sequence id); every `generate()` step posts a request (new tokens for its sequence)
and waits. One decoder thread gathers the requests, decodes them together in one `llama_decode` call (the
low-level batch API, one seq id per problem), samples each sequence's next token from its own output row,
and wakes the waiting threads. A thread that is running code, or between problems, simply posts nothing, so
generation goes on for the others: that is continuous batching with the executor working in parallel.

The llama.cpp context is only ever touched by the decoder thread.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
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
from mathcoder_local.engine.llama import (
    LlamaVocabulary,
    check_gguf_path,
    default_gpu_layers,
    load_llama,
    silence_native_stderr,
)
from mathcoder_local.engine.sampling import TokenSampler
from mathcoder_local.errors import UserError

# A request that waits this long for the other sequences to post theirs is decoded without them: a caller
# that stops pulling from generate() without closing it must not stall everyone else.
STRAGGLER_WAIT = 0.05


@dataclass
class _Request:
    seq: int
    pos: int  # position of the first of `tokens`
    drop: bool  # drop this sequence's KV cells from `pos` on first (the cache diverged from the new tokens)
    tokens: list[int]
    sampler: TokenSampler
    history: list[int]
    counters: EngineCounters
    done: threading.Event = field(default_factory=threading.Event)
    token: int | None = None
    error: BaseException | None = None


@dataclass
class BatchCounters:
    decode_calls: int = 0
    decoded_tokens: int = 0
    decode_seconds: float = 0.0
    sample_seconds: float = 0.0
    max_batch_sequences: int = 0


class BatchedLlama(LlamaVocabulary):
    """One model, one context with `n_parallel` sequences of `n_ctx` tokens each; see the module docstring."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_parallel: int,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        seed: int = 0,
        n_batch: int = 512,
    ) -> None:
        if not 1 <= n_parallel <= llama_cpp.llama_max_parallel_sequences():
            raise UserError(f"--parallel must be between 1 and {llama_cpp.llama_max_parallel_sequences()}")
        path: Path = check_gguf_path(model_path)
        self.model_path = path
        self.n_parallel = n_parallel
        self.n_gpu_layers = default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
        # The Llama object gives us the model and its vocabulary; its own context stays tiny and unused.
        llama = load_llama(path, n_ctx=32, n_batch=32, n_threads=n_threads, n_gpu_layers=self.n_gpu_layers, seed=seed)
        super().__init__(llama)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * n_parallel
        params.n_seq_max = n_parallel
        # One unified cache: a batch mixing a prompt chunk of one problem with single tokens of the others
        # stays one graph computation (per-sequence streams split it into several, which costs more than
        # the masked attention over the others' cells saves). Each sequence is held to n_ctx by its engine.
        params.kv_unified = True
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_threads = llama.n_threads
        params.n_threads_batch = llama.n_threads  # not more for batches: oversubscribed cores stall every op
        params.no_perf = True
        with silence_native_stderr():
            self._ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self._ctx:
            raise UserError(f"llama.cpp could not create a context of {n_parallel} x {n_ctx} tokens; lower --parallel")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx_per_sequence = n_ctx
        self.n_batch = n_batch
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.counters = BatchCounters()
        self._lock = threading.Condition()
        self._generating: set[int] = set()
        self._pending: dict[int, _Request] = {}
        self._closed = False
        self._sequences = [SequenceEngine(self, seq) for seq in range(n_parallel)]
        self._thread = threading.Thread(target=self._decoder, name="llama-decoder", daemon=True)
        self._thread.start()

    def sequence(self, seq: int) -> SequenceEngine:
        return self._sequences[seq]

    # --- what SequenceEngine calls ----------------------------------------------------------------------

    def _enter(self, seq: int) -> None:
        with self._lock:
            self._generating.add(seq)

    def _leave(self, seq: int) -> None:
        with self._lock:
            self._generating.discard(seq)
            self._lock.notify_all()

    def _submit(self, request: _Request) -> int:
        with self._lock:
            if self._closed:
                raise RuntimeError("the batched engine is closed")
            self._pending[request.seq] = request
            self._lock.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.token is not None
        return request.token

    # --- the decoder thread -----------------------------------------------------------------------------

    def _ready(self) -> bool:
        return bool(self._pending) and len(self._pending) >= len(self._generating)

    def _decoder(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._ready():
                    if self._pending and not self._lock.wait(STRAGGLER_WAIT):
                        break  # somebody is slow to post: go with what we have
                    if not self._pending:
                        self._lock.wait()
                if self._closed:
                    for request in self._pending.values():
                        request.error = RuntimeError("the batched engine was closed")
                        request.done.set()
                    return
                requests = list(self._pending.values())
                self._pending.clear()
            self._step(requests)

    def _step(self, requests: list[_Request]) -> None:
        """Evaluate every request's tokens (in chunks of n_batch), then sample each sequence's next token."""
        for request in requests:
            if request.drop:
                llama_cpp.llama_memory_seq_rm(self._memory, request.seq, request.pos, -1)
        queue = [(r, r.pos, list(r.tokens)) for r in requests]
        outputs: dict[int, int] = {}  # seq -> batch index of its last token
        try:
            while queue:
                batch, n, rest = self._batch, 0, []
                outputs.clear()
                for request, pos, tokens in queue:
                    take = tokens[: self.n_batch - n]
                    for i, token in enumerate(take):
                        batch.token[n] = token
                        batch.pos[n] = pos + i
                        batch.n_seq_id[n] = 1
                        batch.seq_id[n][0] = request.seq
                        batch.logits[n] = False
                        n += 1
                    if len(take) == len(tokens):
                        batch.logits[n - 1] = True
                        outputs[request.seq] = n - 1
                    else:
                        rest.append((request, pos + len(take), tokens[len(take) :]))
                    request.counters.evaluated_tokens += len(take)
                batch.n_tokens = n
                start = time.perf_counter()
                status = llama_cpp.llama_decode(self._ctx, batch)
                elapsed = time.perf_counter() - start
                self.counters.decode_calls += 1
                self.counters.decoded_tokens += n
                self.counters.decode_seconds += elapsed
                if status != 0:
                    raise RuntimeError(f"llama_decode failed ({status}) on a batch of {n} tokens")
                finished = [r for r in requests if r.seq in outputs and r.token is None and r.error is None]
                self.counters.max_batch_sequences = max(self.counters.max_batch_sequences, len(outputs))
                for request in finished:
                    request.counters.eval_seconds += elapsed * len(request.tokens) / max(n, 1)
                    self._sample(request, outputs[request.seq])
                queue = rest
        except BaseException as exc:  # a failed decode fails every request in it, not the decoder
            for request in requests:
                if request.token is None:
                    request.error = exc
        for request in requests:
            request.done.set()

    def _sample(self, request: _Request, index: int) -> None:
        start = time.perf_counter()
        try:
            request.token = request.sampler.sample(request.history, index)
        except BaseException as exc:
            request.error = exc
        elapsed = time.perf_counter() - start
        self.counters.sample_seconds += elapsed
        request.counters.sample_seconds += elapsed
        request.counters.sampled_tokens += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)
        self._llama.close()

    def __enter__(self) -> BatchedLlama:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SequenceEngine(LlamaVocabulary):
    """One sequence of a BatchedLlama, with the Engine interface the solve loop expects."""

    def __init__(self, owner: BatchedLlama, seq: int) -> None:
        super().__init__(owner._llama, owner._pieces)
        self._owner = owner
        self.seq = seq
        self.model_path = owner.model_path
        self._cached: list[int] = []  # what this sequence's KV cells hold
        self._unknown_cells = False  # a failed decode may have left cells that _cached does not describe
        self.counters = EngineCounters()

    @property
    def n_ctx(self) -> int:
        return self._owner.n_ctx_per_sequence

    def generate(
        self,
        tokens: Sequence[int],
        *,
        sampling: SamplingParams = SamplingParams(),
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
        stops: StopRules | None = None,  # token by token: the caller stops pulling
    ) -> Iterator[int]:
        if not tokens:
            raise ValueError("generate() needs at least one token (the prompt)")
        owner = self._owner
        sequence = list(tokens)
        keep = reusable_prefix(self._cached, sequence)
        pending = sequence[keep:]
        drop = keep < len(self._cached) or self._unknown_cells  # cells past the shared prefix must go
        del self._cached[keep:]
        sampler = TokenSampler(
            owner._ctx, self._vocab, self._n_vocab, sampling, self.counters, grammar, logits_processor
        )
        owner._enter(self.seq)
        try:
            while True:
                if len(self._cached) + len(pending) > self.n_ctx:
                    raise ContextFull(len(self._cached) + len(pending), self.n_ctx)
                request = _Request(self.seq, len(self._cached), drop, pending, sampler, sequence, self.counters)
                try:
                    token = owner._submit(request)
                except BaseException:
                    self._unknown_cells = True
                    raise
                self._unknown_cells = False
                self._cached.extend(pending)
                drop = False
                sequence.append(token)
                pending = [token]
                yield token
        finally:
            owner._leave(self.seq)
            sampler.close()

    def close(self) -> None:
        """Nothing to release: the BatchedLlama owns the context and is closed once for every sequence."""
