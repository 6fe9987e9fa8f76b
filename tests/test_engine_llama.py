"""The llama.cpp engine on real GGUF files: KV-cache reuse, token-level work, loading errors."""

from __future__ import annotations

import pytest

from mathcoder_local.devtools.scripted import ScriptedTokens
from mathcoder_local.engine.base import ContextFull, SamplingParams, StopRules
from mathcoder_local.engine.llama import LlamaEngine, default_gpu_layers
from mathcoder_local.errors import UserError


def take(stream, n):
    out = [next(stream) for _ in range(n)]
    stream.close()
    return out


def test_each_token_is_evaluated_once_across_rounds(mathcoder_engine):
    e = mathcoder_engine
    prompt = e.tokenize("<|user|><|text|>What is 2+2?<|endofblock|>", special=True, bos=True)
    first = take(e.generate(prompt), 5)
    # 5 sampled: the prompt and the first 4 were evaluated; the 5th waits for the next call.
    assert e.counters.evaluated_tokens == len(prompt) + 4
    inserted = e.tokenize("<|execution|>4<|endofblock|>", special=True)
    sequence = prompt + first + inserted
    take(e.generate(sequence), 3)
    assert e.counters.evaluated_tokens == len(sequence) + 2


def test_diverging_sequence_rewinds_the_cache(mathcoder_engine):
    e = mathcoder_engine
    a = e.tokenize("<|user|><|text|>alpha beta gamma", special=True, bos=True)
    take(e.generate(a), 1)
    b = a[:3] + e.tokenize("delta")
    before = e.counters.evaluated_tokens
    take(e.generate(b), 1)
    assert e.counters.evaluated_tokens - before == len(b) - 3


def test_same_sequence_again_reevaluates_only_the_last_token(mathcoder_engine):
    e = mathcoder_engine
    a = e.tokenize("hello there", bos=True)
    take(e.generate(a), 1)
    before = e.counters.evaluated_tokens
    take(e.generate(a), 1)
    assert e.counters.evaluated_tokens - before == 1


def test_stop_rules_change_nothing_in_process(mathcoder_gguf):
    """Token by token, the caller stops pulling where a format wants control back: the rules are not needed."""
    e = LlamaEngine(mathcoder_gguf, n_ctx=512, n_threads=2)
    p = e.tokenize("<|user|><|text|>Compute 12*34<|endofblock|><|assistant|>", special=True, bos=True)
    stops = StopRules(strings=("```output",), tokens=(e.token_id("<|endofblock|>"),))
    plain = take(e.generate(p), 8)
    assert take(e.generate(p, stops=stops), 8) == plain
    e.close()


def test_greedy_generation_is_deterministic_and_cache_consistent(mathcoder_gguf):
    """Continuing from a reused cache gives the same tokens as a fresh evaluation of the whole sequence."""
    prompt_text = "<|user|><|text|>Compute 12*34<|endofblock|><|assistant|>"
    warm = LlamaEngine(mathcoder_gguf, n_ctx=512, n_threads=2)
    p = warm.tokenize(prompt_text, special=True, bos=True)
    part = take(warm.generate(p), 4)
    rest = take(warm.generate(p + part), 4)
    cold = LlamaEngine(mathcoder_gguf, n_ctx=512, n_threads=2)
    assert take(cold.generate(p), 8) == part + rest


def test_sampling_with_seed_is_reproducible(mathcoder_gguf):
    runs = []
    for _ in range(2):
        e = LlamaEngine(mathcoder_gguf, n_ctx=512, n_threads=2, seed=7)
        p = e.tokenize("some words", bos=True)
        runs.append(take(e.generate(p, sampling=SamplingParams(temperature=1.0, top_p=0.9, seed=7)), 12))
    assert runs[0] == runs[1]


def test_special_tokens_are_single_control_tokens(mathcoder_engine):
    e = mathcoder_engine
    for piece in ("<|code|>", "<|endofblock|>", "<|endofmessage|>"):
        token = e.token_id(piece)
        assert token is not None and e.is_control(token)
        assert e.token_bytes(token) == b""  # why string stops cannot work: they render as nothing
    assert e.token_id("<|nothing|>") is None
    assert e.token_id("ab") is None  # ordinary text is not a special token


def test_logits_processor_steers_the_real_engine(mathcoder_engine):
    e = mathcoder_engine
    target = e.tokenize("The answer is 42")
    p = e.tokenize("Q:", bos=True)
    assert take(e.generate(p, logits_processor=ScriptedTokens(target, e.eos_id)), len(target)) == target


def test_context_full_is_reported(mathcoder_gguf):
    e = LlamaEngine(mathcoder_gguf, n_ctx=256, n_threads=2)
    p = e.tokenize("x" * (e.n_ctx - 10), bos=True)
    stream = e.generate(p)
    with pytest.raises(ContextFull):
        for _ in range(20):
            next(stream)
    with pytest.raises(ContextFull):
        next(e.generate(e.tokenize("y" * (e.n_ctx + 1))))


def test_gpu_layers_default_follows_the_build():
    import llama_cpp

    assert default_gpu_layers() == (-1 if llama_cpp.llama_supports_gpu_offload() else 0)


def test_missing_or_foreign_model_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        LlamaEngine(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a GGUF"):
        LlamaEngine(junk)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 8)
    with pytest.raises(UserError, match="could not load"):
        LlamaEngine(truncated)
