"""Qwen2 checkpoints and Llama checkpoints with a tokenizer.json: planning, writing, bad input."""

from __future__ import annotations

import json
import shutil

import gguf
import numpy as np
import pytest
from mathcoder_local.convert.arch import LLAMA, QWEN2
from mathcoder_local.convert.checkpoint import read_config, read_tensors
from mathcoder_local.convert.plan import permute_for_rope, plan_tensors
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.errors import UserError

QWEN2_TIED = dict(architecture="qwen2", tie_word_embeddings=True, num_heads=4, num_kv_heads=2, rope_theta=10000.0,
                  max_position_embeddings=4096, rms_norm_eps=1e-6, vocab_padding=13)  # fmt: skip
QWEN2_UNTIED = dict(architecture="qwen2", num_heads=8, num_kv_heads=2, rope_theta=1e6, rms_norm_eps=1e-6,
                    max_position_embeddings=32768, dtype="bf16", shards=2, seed=2)  # fmt: skip
DEEPSEEK = dict(tokenizer="deepseek-llm", num_heads=4, num_kv_heads=4, max_position_embeddings=4096, seed=3)


def planned(folder):
    raw, config = read_config(folder)
    return config, {p.gguf_name: p for p in plan_tensors(config, read_tensors(folder))}


@pytest.mark.parametrize("spec", [QWEN2_TIED, QWEN2_UNTIED], ids=["tied", "untied"])
def test_qwen2_plan_has_biases_no_permutation_and_the_config_values(make_checkpoint, spec):
    folder = make_checkpoint(**spec)
    config, plans = planned(folder)
    assert config.arch is QWEN2 and config.arch.gguf_arch == "qwen2"
    assert config.rope_theta == spec["rope_theta"] and config.max_position_embeddings == spec["max_position_embeddings"]
    assert config.rms_norm_eps == 1e-6 and config.num_kv_heads == 2
    kv = 64 // spec["num_heads"] * 2
    for i in range(2):
        assert plans[f"blk.{i}.attn_q.bias"].shape == (64,)
        assert plans[f"blk.{i}.attn_k.bias"].shape == (kv,)
        assert plans[f"blk.{i}.attn_v.bias"].shape == (kv,)
        assert f"blk.{i}.attn_output.bias" not in plans
    assert all(p.permute_heads is None for p in plans.values())  # NEOX rope: rows stay as stored
    assert ("output.weight" in plans) != spec.get("tie_word_embeddings", False)
    assert len(plans) == 2 + 2 * 12 + (0 if spec.get("tie_word_embeddings") else 1)
    assert all(np.any(plans[f"blk.0.attn_{x}.bias"].source.load() != 0) for x in "qkv")


def test_llama_with_a_tokenizer_json_plans_as_llama(make_checkpoint):
    folder = make_checkpoint(**DEEPSEEK)
    assert not (folder / "tokenizer.model").exists() and (folder / "tokenizer.json").is_file()
    config, plans = planned(folder)
    assert config.arch is LLAMA
    assert plans["blk.0.attn_q.weight"].permute_heads == 4 and plans["blk.1.attn_k.weight"].permute_heads == 4
    assert not any(name.endswith(".bias") for name in plans)


def test_a_tied_checkpoint_that_also_stores_lm_head_uses_the_embeddings(make_checkpoint, tmp_path):
    """transformers ties lm_head to embed_tokens on load, ignoring a stored lm_head; so does the plan."""
    from mathcoder_local.devtools.tiny_checkpoint import write_safetensors

    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    tensors = {name: t.load() for name, t in read_tensors(folder).items()}
    tensors["lm_head.weight"] = np.ones_like(tensors["model.embed_tokens.weight"])
    write_safetensors(folder / "model.safetensors", {n: (a.shape, a.tobytes()) for n, a in tensors.items()}, "f32")
    _, plans = planned(folder)
    assert "output.weight" not in plans


def test_missing_bias_is_named(make_checkpoint, tmp_path):
    from mathcoder_local.devtools.tiny_checkpoint import write_safetensors

    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    tensors = {name: t.load() for name, t in read_tensors(folder).items()}
    del tensors["model.layers.1.self_attn.k_proj.bias"]
    write_safetensors(folder / "model.safetensors", {n: (a.shape, a.tobytes()) for n, a in tensors.items()}, "f32")
    with pytest.raises(UserError, match=r"lack blk\.1\.attn_k\.bias"):
        planned(folder)


def test_a_llama_checkpoint_with_biases_is_refused(make_checkpoint, tmp_path):
    """Biases under a Llama config are a different model; converting without them would be silently wrong."""
    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["LlamaForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"unexpected tensor model\.layers\.0\.self_attn\.q_proj\.bias"):
        planned(folder)


def edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_sliding_window_and_head_dim(make_checkpoint, tmp_path):
    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    assert read_config(folder)[1].warnings == ()
    edit_config(folder, use_sliding_window=True, sliding_window=1024)
    (warning,) = read_config(folder)[1].warnings
    assert "sliding-window" in warning and "1024" in warning
    edit_config(folder, use_sliding_window=False, head_dim=32)
    with pytest.raises(UserError, match="head_dim 32"):
        read_config(folder)


def run(*args):
    return CliRunner().invoke(app, ["convert", *map(str, args)])


def assert_one_line_exit_2(result, out_dir, message):
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
    assert not any(p.suffix in (".gguf", ".partial") for p in out_dir.iterdir())


@pytest.mark.parametrize("name", ["Qwen2MoeForCausalLM", "MistralForCausalLM"])
def test_other_architectures_are_one_line(make_checkpoint, tmp_path, name):
    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    edit_config(folder, architectures=[name])
    assert_one_line_exit_2(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, f"unsupported architecture {name}")


@pytest.mark.parametrize("spec", [QWEN2_UNTIED, DEEPSEEK | dict(shards=2)], ids=["qwen2", "llama-tokenizer-json"])
def test_truncated_shard(make_checkpoint, tmp_path, spec):
    folder = shutil.copytree(make_checkpoint(**spec), tmp_path / "ck")
    shard = sorted(folder.glob("*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert_one_line_exit_2(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, "truncated")


def gguf_arrays(path):
    reader = gguf.GGUFReader(str(path))
    return reader, {t.name: t for t in reader.tensors}


@pytest.mark.parametrize("spec", [QWEN2_TIED, QWEN2_UNTIED], ids=["tied", "untied"])
def test_qwen2_converts_with_its_keys_biases_and_rows_as_stored(make_checkpoint, tmp_path, spec):
    from mathcoder_local.convert import convert_checkpoint, make_plan

    from mathcoder_local.engine.llama import LlamaEngine

    folder = make_checkpoint(**spec)
    path, checks, _ = convert_checkpoint(make_plan(str(folder), outtype="f32", outfile=tmp_path / "q.gguf"))
    assert all(c.ok for c in checks), checks
    reader, tensors = gguf_arrays(path)
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    assert field("general.architecture") == "qwen2"
    assert field("qwen2.context_length") == spec["max_position_embeddings"]
    assert field("qwen2.rope.freq_base") == pytest.approx(spec["rope_theta"])
    assert field("qwen2.attention.head_count") == spec["num_heads"]
    assert field("qwen2.attention.head_count_kv") == 2
    assert field("qwen2.attention.layer_norm_rms_epsilon") == pytest.approx(1e-6)
    assert field("qwen2.block_count") == 2 and field("qwen2.feed_forward_length") == 160
    assert not any(key.startswith("llama.") for key in reader.fields)
    assert ("output.weight" in tensors) != spec.get("tie_word_embeddings", False)
    source = read_tensors(folder)
    for hf, name in [("self_attn.q_proj.bias", "attn_q.bias"), ("self_attn.k_proj.bias", "attn_k.bias"),
                     ("self_attn.v_proj.bias", "attn_v.bias"), ("self_attn.q_proj.weight", "attn_q.weight"),
                     ("self_attn.k_proj.weight", "attn_k.weight")]:  # fmt: skip
        want = source[f"model.layers.1.{hf}"].load().astype(np.float32)
        got = np.asarray(tensors[f"blk.1.{name}"].data).reshape(want.shape)
        assert tensors[f"blk.1.{name}"].tensor_type.name == "F32"
        assert np.array_equal(got, want), name  # biases kept, q/k rows not reordered
    engine = LlamaEngine(path, n_ctx=256)
    stream = engine.generate(engine.tokenize("<|im_start|>user\nhi<|im_end|>\n", special=True, bos=False))
    next(stream)  # llama.cpp loads and runs it
    stream.close()


def test_llama_with_a_tokenizer_json_converts_with_q_k_reordered(make_checkpoint, tmp_path):
    from mathcoder_local.convert import convert_checkpoint, make_plan

    folder = make_checkpoint(**DEEPSEEK)
    path, checks, _ = convert_checkpoint(make_plan(str(folder), outtype="f32", outfile=tmp_path / "d.gguf"))
    assert all(c.ok for c in checks), checks
    reader, tensors = gguf_arrays(path)
    assert reader.fields["general.architecture"].contents() == "llama"
    want = read_tensors(folder)["model.layers.0.self_attn.q_proj.weight"].load()
    got = np.asarray(tensors["blk.0.attn_q.weight"].data).reshape(want.shape)
    assert np.array_equal(got, permute_for_rope(want, 4))


@pytest.mark.parametrize("outtype", ["q8_0", "q4_k_m"])
def test_qwen2_quantized(make_checkpoint, tmp_path, outtype):
    from mathcoder_local.convert import convert_checkpoint, make_plan

    plan = make_plan(str(make_checkpoint(**QWEN2_TIED)), outtype=outtype, outfile=tmp_path / "q.gguf")
    path, checks, _ = convert_checkpoint(plan)
    assert all(c.ok for c in checks), checks
    _, tensors = gguf_arrays(path)
    assert tensors["blk.0.attn_q.bias"].tensor_type.name == "F32"
    assert [p.name for p in tmp_path.iterdir()] == ["q.gguf"]


def _without_merges(folder):
    tokenizer = folder / "tokenizer.json"
    data = json.loads(tokenizer.read_text(encoding="utf-8"))
    data["model"]["merges"] = []
    tokenizer.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda folder: (folder / "tokenizer.json").unlink(), "no tokenizer.json"),
        (_without_merges, "no BPE merges"),
        (lambda folder: edit_config(folder, max_position_embeddings=4096), None),  # control: converts
    ],
    ids=["no-tokenizer-json", "no-merges", "control"],
)
def test_a_broken_bpe_tokenizer_is_one_line(make_checkpoint, tmp_path, damage, message):
    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    damage(folder)
    result = run(folder, "--outfile", tmp_path / "m.gguf")
    if message is None:
        assert result.exit_code == 0, result.output
        return
    assert_one_line_exit_2(result, tmp_path, message)


def test_a_qwen2_config_without_a_context_length_verifies(make_checkpoint, tmp_path):
    """The converter and the verification use the architecture's default context (qwen2: 32768) alike."""
    folder = shutil.copytree(make_checkpoint(**QWEN2_TIED), tmp_path / "ck")
    config = json.loads((folder / "config.json").read_text())
    del config["max_position_embeddings"]
    (folder / "config.json").write_text(json.dumps(config))
    result = run(folder, "--outfile", tmp_path / "m.gguf")
    assert result.exit_code == 0, result.output


def test_conversion_options_do_not_apply_to_verify_or_repair(tmp_path):
    """`--repair FILE --dry-run` must not write a repaired file; other conversion options are refused too."""
    (tmp_path / "in").mkdir()
    target = tmp_path / "in" / "x.gguf"
    target.write_bytes(b"GGUF")
    cases = [(["--repair", target, "--dry-run"], "--repair"), (["--verify", target, "--pre", "qwen2"], "--verify")]
    for args, mode in cases:
        assert_one_line_exit_2(run(*args), tmp_path, f"not apply to {mode}")
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["x.gguf"]
