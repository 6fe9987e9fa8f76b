"""The batched engine: several sequences in one llama.cpp context, each behaving like a LlamaEngine."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mathcoder_local.engine.base import ContextFull, SamplingParams, StopRules
from mathcoder_local.engine.batched import BatchedLlama
from mathcoder_local.engine.llama import LlamaEngine

PROMPTS = ["one two three", "the answer is", "x = 5\nprint(x)", "a b c d e f g h"]


def _take(stream, n):
    out = []
    for token in stream:
        out.append(token)
        if len(out) == n:
            break
    stream.close()
    return out


def _recorder(store):
    def record(history, logits):
        store.append(logits.copy())
        return logits

    return record


@pytest.fixture
def batched(mathcoder_gguf):
    engine = BatchedLlama(mathcoder_gguf, n_parallel=4, n_ctx=256, n_threads=2)
    yield engine
    engine.close()


def test_each_sequence_sees_its_own_logits_and_matches_a_single_engine(batched, mathcoder_gguf):
    """Decoded together in one batch, every sequence gets the logits a lone engine computes for it."""
    tokens, logits = {}, {i: [] for i in range(len(PROMPTS))}
    barrier = threading.Barrier(len(PROMPTS))

    def run(i):
        seq = batched.sequence(i)
        prompt = seq.tokenize(PROMPTS[i], bos=True)
        barrier.wait()
        tokens[i] = _take(seq.generate(prompt, logits_processor=_recorder(logits[i])), 12)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batched.counters.max_batch_sequences == len(PROMPTS)  # really decoded together

    single = LlamaEngine(mathcoder_gguf, n_ctx=256, n_threads=2)
    try:
        for i, text in enumerate(PROMPTS):
            alone: list[np.ndarray] = []
            prompt = single.tokenize(text, bos=True)
            assert _take(single.generate(prompt, logits_processor=_recorder(alone)), 12) == tokens[i]
            for step, (a, b) in enumerate(zip(alone, logits[i], strict=True)):
                # Batch shape changes float summation order (differences ~1e-3); another row is far off.
                np.testing.assert_allclose(a, b, atol=1e-2)
                other = logits[(i + 1) % len(PROMPTS)][step]
                assert np.abs(other - a).max() > 0.05
    finally:
        single.close()


def test_prefix_reuse_evaluates_only_new_tokens(batched):
    seq = batched.sequence(1)
    prompt = seq.tokenize("the answer is", bos=True)
    first = _take(seq.generate(prompt), 5)
    assert seq.counters.evaluated_tokens == len(prompt) + 4  # the last sampled token is not evaluated yet
    extended = prompt + first + seq.tokenize(" more text")
    before = seq.counters.evaluated_tokens
    _take(seq.generate(extended), 1)
    assert seq.counters.evaluated_tokens - before == len(extended) - (len(prompt) + 4)


def test_a_new_problem_on_a_sequence_drops_the_old_cells(batched, mathcoder_gguf):
    seq = batched.sequence(0)
    _take(seq.generate(seq.tokenize("a b c d e f g h", bos=True)), 8)
    prompt = seq.tokenize("one two three", bos=True)
    again = _take(seq.generate(prompt, sampling=SamplingParams()), 8)
    single = LlamaEngine(mathcoder_gguf, n_ctx=256, n_threads=2)
    try:
        assert _take(single.generate(prompt), 8) == again
    finally:
        single.close()


def test_stop_rules_change_nothing_and_a_sequence_closes_without_the_batch(batched):
    seq = batched.sequence(1)
    prompt = seq.tokenize("one two three", bos=True)
    plain = _take(seq.generate(prompt), 6)
    assert _take(seq.generate(prompt, stops=StopRules(strings=("two",))), 6) == plain
    seq.close()  # the batch owns the context: the other sequences (and this one) go on
    assert _take(seq.generate(prompt), 6) == plain
    assert len(_take(batched.sequence(0).generate(prompt), 3)) == 3


def test_context_is_per_sequence(batched):
    seq = batched.sequence(2)
    assert seq.n_ctx == 256
    with pytest.raises(ContextFull):
        _take(seq.generate([seq.bos_id or 1] * 300), 1)
    # the sequence (and the others) still work afterwards
    assert len(_take(seq.generate(seq.tokenize("x", bos=True)), 3)) == 3


def test_a_sequence_that_stops_pulling_does_not_stall_the_others(batched):
    idle = batched.sequence(3).generate(batched.tokenize("one", bos=True))
    next(idle)  # inside generate, but never asked again (and not closed)
    busy = batched.sequence(0)
    assert len(_take(busy.generate(busy.tokenize("two", bos=True)), 20)) == 20
    idle.close()


def test_parallel_must_be_positive(mathcoder_gguf):
    from mathcoder_local.errors import UserError

    with pytest.raises(UserError, match="--parallel"):
        BatchedLlama(mathcoder_gguf, n_parallel=0)
