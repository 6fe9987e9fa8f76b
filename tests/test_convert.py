"""Converting small real checkpoints end to end, then loading them in llama.cpp."""

from __future__ import annotations

import json

import gguf
import pytest
from mathcoder_local.convert import convert_checkpoint, make_plan, verify_gguf
from mathcoder_local.convert.vocab import CONTROL

from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.formats import detect_format

VARIANTS = {
    "safetensors": dict(),
    "safetensors-sharded-f16": dict(shards=3, dtype="f16"),
    "bin": dict(weights="bin"),
    "bin-sharded-bf16": dict(weights="bin", shards=2, dtype="bf16"),
    "gqa-rope1e6": dict(num_heads=8, num_kv_heads=2, rope_theta=1e6),
    "padded-tied-new-style": dict(vocab_padding=40, tie_word_embeddings=True, added_tokens_style="new"),
}


def field(reader, key):
    return reader.fields[key].contents()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_convert_and_load(make_checkpoint, tmp_path, variant):
    folder = make_checkpoint(**VARIANTS[variant])
    plan = make_plan(str(folder), outtype="f16", outfile=tmp_path / "m.gguf")
    path, checks, warnings = convert_checkpoint(plan)
    assert all(c.ok for c in checks), checks
    assert warnings == []
    config = json.loads((folder / "config.json").read_text())
    reader = gguf.GGUFReader(str(path))
    assert field(reader, "llama.rope.freq_base") == pytest.approx(config.get("rope_theta", 10000.0))
    assert field(reader, "llama.attention.head_count_kv") == config["num_key_value_heads"]
    assert field(reader, "mathcoder_local.prompt_format") == "mathcoder"
    added = json.loads((folder / "added_tokens.json").read_text())
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert all(types[i] == CONTROL for i in added.values())
    assert field(reader, "tokenizer.ggml.eot_token_id") == added["<|endofmessage|>"]
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == config["vocab_size"]
    assert ("output.weight" in {t.name for t in reader.tensors}) != config["tie_word_embeddings"]
    engine = LlamaEngine(path, n_ctx=256)
    assert detect_format(engine) == "mathcoder"
    assert engine.token_id("<|code|>") == added["<|code|>"]
    stream = engine.generate(engine.tokenize("<|user|><|text|>hi", special=True, bos=True))
    next(stream)  # llama.cpp runs the converted weights
    stream.close()


@pytest.mark.parametrize("outtype", ["f32", "bf16", "q8_0", "q4_k_m", "q5_k_m", "q6_k"])
def test_output_types(make_checkpoint, tmp_path, outtype):
    plan = make_plan(str(make_checkpoint()), outtype=outtype, outfile=tmp_path / f"m.{outtype}.gguf")
    path, checks, _ = convert_checkpoint(plan)
    assert all(c.ok for c in checks)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left behind
    reader = gguf.GGUFReader(str(path))
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    assert kinds["output_norm.weight"] == "F32"
    expected = {"f32": "F32", "bf16": "BF16", "q8_0": "Q8_0"}.get(outtype)
    if expected:
        assert kinds["blk.0.ffn_up.weight"] == expected
    else:
        # rows of 64 are too short for k-quant blocks (256): llama.cpp picks its fallback types
        assert set(kinds.values()) - {"F32", "F16"}


def test_codellama_vocab_with_default_rope_base_warns(make_checkpoint, tmp_path):
    folder = make_checkpoint(rope_theta=None, vocab_padding=32016 - 520)
    plan = make_plan(str(folder), outtype="f16", outfile=tmp_path / "m.gguf")
    assert any("1e+06" in w and "--rope-freq-base" in w for w in plan.warnings)
    fixed = make_plan(str(folder), outtype="f16", outfile=tmp_path / "m.gguf", rope_freq_base=1e6)
    assert fixed.warnings == [] and fixed.rope_freq_base == 1e6
    _, checks, warnings = convert_checkpoint(plan)
    assert any("CodeLlama" in w for w in warnings)
    assert all(c.ok for c in checks)


def test_tora_checkpoint_is_recorded_as_tora(make_checkpoint, tmp_path):
    folder = make_checkpoint(mathcoder_tokens=False)
    plan = make_plan(str(folder), outtype="f32", outfile=tmp_path / "t.gguf")
    path, checks, _ = convert_checkpoint(plan)
    assert all(c.ok for c in checks)
    assert detect_format(LlamaEngine(path, n_ctx=256)) == "tora"


def test_hub_id_from_the_local_cache(make_checkpoint, tmp_path, monkeypatch):
    import shutil

    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--MathLLM--MathCoder-Tiny"
    shutil.copytree(make_checkpoint(), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    plan = make_plan("MathLLM/MathCoder-Tiny", outtype="f32", outfile=tmp_path / "h.gguf")
    assert plan.repo_id == "MathLLM/MathCoder-Tiny" and plan.model_name == "MathCoder-Tiny"
    path, checks, _ = convert_checkpoint(plan)
    reader = gguf.GGUFReader(str(path))
    assert field(reader, "mathcoder_local.source.repo") == "MathLLM/MathCoder-Tiny"
    assert field(reader, "mathcoder_local.source.revision") == commit


def test_verify_catches_a_broken_vocabulary(make_checkpoint, tmp_path):
    """A GGUF whose MathCoder tokens are USER_DEFINED (what other converters write) fails verification."""
    from mathcoder_local.convert.vocab import USER_DEFINED

    plan = make_plan(str(make_checkpoint()), outtype="f32", outfile=tmp_path / "bad.gguf")
    for i in plan.vocab.added.values():
        plan.vocab.types[i] = USER_DEFINED
    from mathcoder_local.convert.writer import write_gguf

    path = write_gguf(plan)
    checks, _ = verify_gguf(path, checkpoint=plan.folder)
    failed = {c.name for c in checks if not c.ok}
    assert "…and plain text when not parsed" in failed
