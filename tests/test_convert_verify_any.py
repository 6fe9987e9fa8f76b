"""`convert --verify` on GGUFs made elsewhere: any architecture, SentencePiece or byte-level BPE, with or
without our metadata; what is wrong for the loop said in plain words."""

from __future__ import annotations

from dataclasses import replace

import gguf
import pytest
from conftest import SHARED
from mathcoder_local.convert import inspect_gguf, verify_gguf
from mathcoder_local.convert.gguf_file import read_header
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.devtools.gguf_variants import (
    NORMAL,
    USER_DEFINED,
    checkpoint_shape,
    checkpoint_vocab,
    renamed,
    retyped,
    rewrite_gguf,
    spm_vocab,
    without_end_of_turn,
    write_model_gguf,
)
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

runner = CliRunner()
VOCABS = SHARED / "vocab"
needs_shared = pytest.mark.skipif(not VOCABS.is_dir(), reason="../shared/vocab is absent (a fresh clone)")


def verify(*args):
    return runner.invoke(app, ["convert", "--verify", *map(str, args)], env={"COLUMNS": "200"})


def by_name(checks):
    return {c.name: c for c in checks}


def bpe_gguf(make_checkpoint, path, kind="qwen2", *, user_defined=False, eot=True, pre=None, prompt_format=None):
    """(checkpoint folder, a random-weight GGUF over its tokenizer.json vocabulary as the converter reads it;
    `user_defined`: its added tokens USER_DEFINED; `eot`: record the end-of-turn token; `pre`: another
    pre-tokenizer name)."""
    pytest.importorskip("tokenizers")
    folder = make_checkpoint(architecture="qwen2" if kind == "qwen2" else "llama", tokenizer=kind)
    vocab = checkpoint_vocab(folder)
    if user_defined:
        vocab = retyped(vocab, dict.fromkeys(vocab.added, USER_DEFINED))
    if not eot:
        vocab = without_end_of_turn(vocab)
    if pre:
        vocab = replace(vocab, pre=pre)
    return folder, write_model_gguf(path, vocab, checkpoint_shape(folder), prompt_format=prompt_format)


def test_sentencepiece_gguf_without_our_metadata(tora_gguf):
    checks, warnings = verify_gguf(tora_gguf)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    table = by_name(checks)
    assert table["prompt format"].detail.startswith("tora (not recorded: detected; Llama <s>/</s> found")
    assert table["end of turn"].detail == "</s> (id 2) ends generation (the EOS)"
    assert "SentencePiece" in table["vocabulary"].detail
    assert any(w.startswith("note: the file does not record its prompt format") for w in warnings)
    result = verify(tora_gguf)
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "--repair" in result.output  # a repair would record the format


def test_user_defined_mathcoder_tokens_are_named_in_plain_words(mathcoder_eot_gguf, tmp_path):
    bad = rewrite_gguf(mathcoder_eot_gguf, tmp_path / "bad.gguf", token_types=dict.fromkeys(MATHCODER_TOKENS, 4))
    result = verify(bad)
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "Traceback" not in result.output
    out = " ".join(result.output.split())
    assert "<|code|>" in out and "are USER_DEFINED, so llama.cpp finds them in plain text" in out
    assert "an execution output that prints one of them reaches the model as the real token" in out
    assert f"convert --repair {bad}" in out
    problems = inspect_gguf(bad)
    injectable = {p.token for p in problems if p.kind == "injectable-token"}
    assert injectable == set(MATHCODER_TOKENS)
    assert all(p.repairable and p.severity == "error" and p.token_type == "USER_DEFINED" for p in problems
               if p.kind == "injectable-token")  # fmt: skip


def test_a_normal_token_cannot_be_in_prompts(mathcoder_eot_gguf, tmp_path):
    bad = rewrite_gguf(mathcoder_eot_gguf, tmp_path / "normal.gguf", token_types={"<|code|>": NORMAL})
    checks, _ = verify_gguf(bad)
    failed = by_name(checks)["special tokens are single ids"]
    assert not failed.ok and failed.detail == "<|code|>" and failed.repairable
    assert "<|code|> (id 440) is NORMAL: llama.cpp does not read it as one token even with special parsing" in (
        failed.explain
    )


def test_no_end_of_turn_token(mathcoder_gguf):
    checks, warnings = verify_gguf(mathcoder_gguf)  # MathCoder tokens, no tokenizer.ggml.eot_token_id
    end = by_name(checks)["end of turn"]
    assert not end.ok and end.repairable
    assert "<|endofmessage|> (id 443) does not end generation in llama.cpp" in end.explain
    assert "records no end-of-turn token" in end.explain
    assert [c.name for c in checks if not c.ok] == ["end of turn"]


def test_a_format_it_cannot_detect_names_what_it_found(tmp_path):
    vocab = renamed(spm_vocab(mathcoder_tokens=False), {"<s>": "<|startoftext|>", "</s>": "<|endoftext|>"})
    path = write_model_gguf(tmp_path / "gpt.gguf", vocab)
    checks, _ = verify_gguf(path)
    fmt = by_name(checks)["prompt format"]
    assert not fmt.ok
    assert "cannot tell the prompt format" in fmt.explain
    for looked_for in ("MathCoder", "ChatML's <|im_start|>/<|im_end|>", "DeepSeek's begin/end of sentence", "<s>/</s>"):
        assert looked_for in fmt.explain
    assert "its control tokens are <|startoftext|>, <|endoftext|>" in fmt.explain
    assert "pass --format" in fmt.explain


def test_chatml_tokens_user_defined_in_a_bpe_qwen2_gguf(make_checkpoint, tmp_path):
    folder, path = bpe_gguf(make_checkpoint, tmp_path / "qwen.gguf", user_defined=True, eot=False)
    checks, warnings = verify_gguf(path, folder)
    table = by_name(checks)
    assert table["architecture"].detail == "qwen2" and table["tensor shapes"].ok
    assert table["pre-tokenizer"].detail == "qwen2"
    assert "ChatML tokens found" in table["prompt format"].detail
    plain = table["…and plain text when not parsed"]
    assert not plain.ok and plain.detail == "<|im_start|>"  # llama.cpp itself makes the end tokens control
    assert "<|im_start|> (id 401) is USER_DEFINED, so llama.cpp finds it in plain text" in plain.explain
    assert table["end of turn"].ok and "not recorded" in table["end of turn"].detail
    assert table["sample transcript = HF tokenizer"].ok, table["sample transcript = HF tokenizer"]
    notes = " ".join(warnings)
    assert "<|im_end|> (id 402) is USER_DEFINED in the file; llama.cpp treats it as a control token only" in notes
    assert "records no end-of-turn token" in notes


@pytest.mark.parametrize(
    "kind, found", [("qwen2", "ChatML tokens"), ("deepseek-llm", "DeepSeek tokens"), ("llama-bpe", "Llama-3 tokens")]
)
def test_bpe_gguf_tokenizes_the_sample_as_the_fast_tokenizer(make_checkpoint, tmp_path, kind, found):
    folder, path = bpe_gguf(make_checkpoint, tmp_path / f"{kind}.gguf", kind, prompt_format="tora")
    checks, warnings = verify_gguf(path, folder)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert warnings == []
    table = by_name(checks)
    assert table["pre-tokenizer"].detail == kind
    assert found in table["prompt format"].detail
    assert table["sample transcript = HF tokenizer"].detail.endswith("ids identical")
    assert table["special tokens are single ids"].ok and table["…and plain text when not parsed"].ok
    result = verify(path, folder)
    assert result.exit_code == 0 and kind in result.output, result.output


def test_a_wrong_pre_tokenizer_fails_the_sample_transcript(make_checkpoint, tmp_path):
    folder, path = bpe_gguf(make_checkpoint, tmp_path / "wrong-pre.gguf", pre="deepseek-llm", prompt_format="tora")
    checks, _ = verify_gguf(path, folder)
    sample = by_name(checks)["sample transcript = HF tokenizer"]
    assert not sample.ok and sample.detail.startswith("differ at position")
    assert "check the pre-tokenizer" in sample.explain and not sample.repairable
    assert by_name(checks)["pre-tokenizer"].detail == "deepseek-llm"


def test_bpe_gguf_without_a_pre_tokenizer_name(make_checkpoint, tmp_path):
    _, path = bpe_gguf(make_checkpoint, tmp_path / "q.gguf", prompt_format="tora")
    bare = rewrite_gguf(path, tmp_path / "no-pre.gguf", drop=["tokenizer.ggml.pre"])
    pre = by_name(verify_gguf(bare)[0])["pre-tokenizer"]
    assert not pre.ok and pre.detail == "not set" and "falls back to its default split" in pre.explain


def test_header_reader_agrees_with_gguf_py(mathcoder_eot_gguf):
    reader = gguf.GGUFReader(str(mathcoder_eot_gguf))
    with read_header(mathcoder_eot_gguf) as header:
        assert list(header.entries) == [k for k in reader.fields if not k.startswith("GGUF.")]
        for key, field in reader.fields.items():
            if not key.startswith("GGUF."):
                assert header.get(key) == pytest.approx(field.contents()), key
        assert header.data_offset == reader.data_offset
        assert [(t.name, t.dims, t.ggml_type, t.offset, t.nbytes) for t in header.tensors] == [
            (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type), int(t.data_offset) - reader.data_offset,
             int(t.n_bytes))
            for t in reader.tensors
        ]  # fmt: skip


@needs_shared
@pytest.mark.parametrize(
    "name, found, pre",
    [
        ("qwen2", "ChatML tokens", "qwen2"),
        ("deepseek-llm", "DeepSeek tokens", "deepseek-llm"),
        ("llama-bpe", "Llama-3 tokens", "llama-bpe"),
        ("llama-spm", "Llama <s>/</s>", "default"),
    ],
)
def test_real_vocabularies_from_shared(name, found, pre):
    path = VOCABS / f"ggml-vocab-{name}.gguf"
    checks, warnings = verify_gguf(path)
    table = by_name(checks)
    assert [c.name for c in checks if not c.ok] == ["tensor count"]  # vocabulary only: no weights to run
    assert "vocabulary-only" in table["tensor count"].detail
    assert table["pre-tokenizer"].detail == pre
    assert found in table["prompt format"].detail
    assert table["special tokens are single ids"].ok and table["…and plain text when not parsed"].ok
    assert table["end of turn"].ok
    assert any("does not record its prompt format" in w for w in warnings)


@needs_shared
def test_verify_the_qwen2_vocabulary_on_the_command_line():
    result = verify(VOCABS / "ggml-vocab-qwen2.gguf")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "qwen2" in out and "151,936 tokens, byte-level BPE (gpt2)" in out
    assert "<|im_end|> (id 151645) ends generation (not recorded)" in out
    assert "the file has no weights" in out


def test_a_vocabulary_llama_cpp_refuses(make_checkpoint, tmp_path):
    _, path = bpe_gguf(make_checkpoint, tmp_path / "q.gguf", prompt_format="tora")
    odd = rewrite_gguf(path, tmp_path / "odd-pre.gguf", strings={"tokenizer.ggml.pre": "no-such-pre-tokenizer"})
    checks, _ = verify_gguf(odd)
    table = by_name(checks)
    assert not table["llama.cpp loads the vocabulary"].ok
    assert table["pre-tokenizer"].detail == "no-such-pre-tokenizer"
    result = runner.invoke(app, ["convert", "--repair", str(odd)])
    assert result.exit_code == 2 and "llama.cpp cannot load the vocabulary" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd-pre.gguf", "q.gguf"]
