"""`convert --repair`: a metadata-only repair of GGUFs made elsewhere. The repaired file loads in llama.cpp,
its prompt tokens are CONTROL and cannot be injected from plain text, and its tensor data are the input's,
byte for byte; a failed repair leaves nothing behind."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil

import gguf
import pytest
from conftest import SHARED
from mathcoder_local.convert import RepairReport, default_repair_path, inspect_gguf, repair_gguf, verify_gguf
from mathcoder_local.convert import repair as repair_module
from mathcoder_local.convert.gguf_file import read_header
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.devtools.gguf_variants import (
    CONTROL,
    USER_DEFINED,
    ModelShape,
    checkpoint_shape,
    checkpoint_vocab,
    renamed,
    retyped,
    rewrite_gguf,
    spm_vocab,
    without_end_of_turn,
    write_model_gguf,
)
from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.errors import UserError
from mathcoder_local.formats import detect_format
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

runner = CliRunner()
CHATML = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
EOT = "tokenizer.ggml.eot_token_id"
FORMAT = "mathcoder_local.prompt_format"


def cli(*args):
    return runner.invoke(app, ["convert", *map(str, args)], env={"COLUMNS": "200"})


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def assert_same_tensors(a, b):
    """Every tensor of `b` is `a`'s: names, types, shapes and every byte of the data."""
    ra, rb = gguf.GGUFReader(str(a)), gguf.GGUFReader(str(b))
    assert [(t.name, t.tensor_type, list(t.shape)) for t in ra.tensors] == [
        (t.name, t.tensor_type, list(t.shape)) for t in rb.tensors
    ]
    assert ra.tensors, "no tensors to compare"
    for x, y in zip(ra.tensors, rb.tensors, strict=True):
        assert x.data.tobytes() == y.data.tobytes(), x.name
    return ra, rb


def assert_other_metadata_unchanged(ra, rb, changed):
    for key in ra.fields:
        if key not in changed and not key.startswith("GGUF."):
            assert field(rb, key) == field(ra, key), key
    assert set(rb.fields) - set(ra.fields) <= set(changed)


def assert_not_injectable(path, tokens):
    engine = LlamaEngine(path, n_ctx=256)
    try:
        for text in tokens:
            token_id = engine.token_id(text)
            assert token_id is not None and engine.is_control(token_id), text
            assert engine.tokenize(text, special=True) == [token_id]
            assert token_id not in engine.tokenize(f"print('{text}')\n{text}"), text  # plain text stays text
        stream = engine.generate(engine.tokenize("hello", bos=True))
        next(stream)  # llama.cpp runs the repaired model
        stream.close()
    finally:
        engine.close()


@pytest.fixture
def user_defined_mathcoder(mathcoder_gguf, tmp_path):
    """A MathCoder GGUF as llama.cpp's converter writes transformers 4.31 files: the block tokens
    USER_DEFINED, no end-of-turn token, no prompt format recorded."""
    return rewrite_gguf(mathcoder_gguf, tmp_path / "mathcoder.gguf", token_types=dict.fromkeys(MATHCODER_TOKENS, 4))


def test_repair_a_mathcoder_gguf_with_user_defined_tokens(user_defined_mathcoder, tmp_path):
    bad = user_defined_mathcoder
    result = cli("--repair", bad)
    assert result.exit_code == 0, result.output
    out = tmp_path / "mathcoder.repaired.gguf"
    assert files(tmp_path) == ["mathcoder.gguf", "mathcoder.repaired.gguf"]  # no temporary file left
    text = " ".join(result.output.split())
    assert "<|code|> (tokenizer.ggml.token_type[440]) │ USER_DEFINED │ CONTROL" in text
    assert "tokenizer.ggml.eot_token_id │ not set │ 443 (<|endofmessage|>)" in text
    assert f"{FORMAT} │ not set │ mathcoder" in text and f"wrote {out}" in text
    ra, rb = assert_same_tensors(bad, out)
    types = field(rb, "tokenizer.ggml.token_type")
    tokens = field(rb, "tokenizer.ggml.tokens")
    assert all(types[tokens.index(t)] == CONTROL for t in MATHCODER_TOKENS)
    assert field(rb, EOT) == tokens.index("<|endofmessage|>") and field(rb, FORMAT) == "mathcoder"
    assert_other_metadata_unchanged(ra, rb, {"tokenizer.ggml.token_type", EOT, FORMAT})
    assert_not_injectable(out, MATHCODER_TOKENS)
    engine = LlamaEngine(out, n_ctx=256)
    assert detect_format(engine) == "mathcoder" and engine.is_end_of_generation(tokens.index("<|endofmessage|>"))
    engine.close()
    assert cli("--verify", out).exit_code == 0


def test_repair_chatml_tokens_of_a_bpe_qwen2_gguf(make_checkpoint, tmp_path):
    pytest.importorskip("tokenizers")
    folder = make_checkpoint(architecture="qwen2", tokenizer="qwen2")
    vocab = without_end_of_turn(retyped(checkpoint_vocab(folder), dict.fromkeys(CHATML, USER_DEFINED)))
    bad = write_model_gguf(tmp_path / "qwen.gguf", vocab, checkpoint_shape(folder))
    report = repair_gguf(bad)
    assert report.output == tmp_path / "qwen.repaired.gguf" and report.token_set == "chatml"
    assert {c.token for c in report.changes if c.token} == set(CHATML)
    assert [str(c) for c in report.changes if not c.token] == [
        f"{EOT}: not set → {vocab.tokens.index('<|im_end|>')} (<|im_end|>)",
        f"{FORMAT}: not set → tora",
    ]
    assert report.remaining == ()
    ra, rb = assert_same_tensors(bad, report.output)
    assert_other_metadata_unchanged(ra, rb, {"tokenizer.ggml.token_type", EOT, FORMAT})
    assert_not_injectable(report.output, CHATML)
    checks, warnings = verify_gguf(report.output, folder)
    assert all(c.ok for c in checks) and warnings == [], (checks, warnings)


def test_nothing_to_repair_writes_nothing(mathcoder_eot_gguf, tmp_path):
    good = rewrite_gguf(mathcoder_eot_gguf, tmp_path / "good.gguf", strings={FORMAT: "mathcoder"})
    result = cli("--repair", good, "--outfile", tmp_path / "out.gguf")
    assert result.exit_code == 0, result.output
    assert "nothing to repair" in result.output and "nothing written" in result.output
    assert files(tmp_path) == ["good.gguf"]
    report = repair_gguf(good)
    assert not report.written and report.changes == () and report.prompt_format == "mathcoder"


def test_the_format_option(user_defined_mathcoder, tora_gguf, tmp_path):
    report = repair_gguf(user_defined_mathcoder, tmp_path / "as-tora.gguf", fmt="tora")
    assert field(gguf.GGUFReader(str(report.output)), FORMAT) == "tora"
    result = cli("--repair", tora_gguf, "--outfile", tmp_path / "x.gguf", "--format", "mathcoder")
    assert result.exit_code == 2 and "MathCoder tokens" in result.output, result.output
    assert not (tmp_path / "x.gguf").exists()


def test_a_format_it_cannot_tell_needs_the_format_option(tmp_path):
    vocab = renamed(spm_vocab(mathcoder_tokens=False), {"<s>": "<|startoftext|>", "</s>": "<|endoftext|>"})
    path = write_model_gguf(tmp_path / "gpt.gguf", vocab)
    result = cli("--repair", path)
    assert result.exit_code == 2 and "cannot tell the prompt format" in result.output, result.output
    assert "--format" in result.output and files(tmp_path) == ["gpt.gguf"]
    report = repair_gguf(path, fmt="tora")
    assert [c.key for c in report.changes] == [FORMAT] and report.token_set is None


def test_refuses_to_overwrite_and_repairs_in_place_with_force(user_defined_mathcoder, tmp_path):
    bad = user_defined_mathcoder
    original = tmp_path / "original.gguf"
    shutil.copyfile(bad, original)
    shutil.copyfile(bad, default_repair_path(bad))
    exists = cli("--repair", bad)
    assert exists.exit_code == 2 and "already exists" in exists.output and "--force" in exists.output
    same = cli("--repair", bad, "--outfile", bad)
    assert same.exit_code == 2 and "refusing to overwrite the input" in same.output, same.output
    assert cli("--repair", bad, "--outfile", bad, "--force").exit_code == 0
    assert inspect_gguf(bad) == [] and sorted(files(tmp_path)) == sorted(
        ["mathcoder.gguf", "mathcoder.repaired.gguf", "original.gguf"]
    )
    assert_same_tensors(original, bad)


@pytest.mark.parametrize("case", ["missing", "not-gguf", "empty", "header-cut", "data-cut"])
def test_bad_input_is_one_line_and_writes_nothing(user_defined_mathcoder, tmp_path, case):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "model.gguf"
    data = user_defined_mathcoder.read_bytes()
    if case == "missing":
        path = work / "nowhere.gguf"
    else:
        cut = {"not-gguf": b"not a model", "empty": b"", "header-cut": data[:2000], "data-cut": data[:-1000]}
        path.write_bytes(cut[case])
    before = files(work)
    for args in (["--repair", path], ["--verify", path]):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
        expected = {"missing": "does not exist", "header-cut": "truncated", "data-cut": "truncated"}
        assert expected.get(case, "not a readable GGUF") in result.output
    assert files(work) == before  # no output, no temporary file


def test_a_failure_while_copying_leaves_nothing(user_defined_mathcoder, tmp_path, monkeypatch):
    real = repair_module.copy_range

    def disk_full(src, src_offset, dst, dst_offset, count, progress=None):
        real(src, src_offset, dst, dst_offset, count // 2, progress)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(repair_module, "copy_range", disk_full)
    with pytest.raises(UserError, match="No space left on device"):
        repair_gguf(user_defined_mathcoder)
    assert files(tmp_path) == ["mathcoder.gguf"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(repair_module, "copy_range", interrupted)
    with pytest.raises(KeyboardInterrupt):
        repair_gguf(user_defined_mathcoder)
    assert files(tmp_path) == ["mathcoder.gguf"]


def test_a_repair_that_does_not_take_is_refused(user_defined_mathcoder, tmp_path, monkeypatch):
    monkeypatch.setattr(repair_module, "_new_entries", lambda header, analysis, changes: ({}, []))  # rewrites nothing
    result = cli("--repair", user_defined_mathcoder)
    assert result.exit_code == 2 and "did not take" in result.output, result.output
    assert files(tmp_path) == ["mathcoder.gguf"]


def test_plain_data_for_the_library(user_defined_mathcoder, tmp_path):
    problems = inspect_gguf(user_defined_mathcoder)
    kinds = {p.kind for p in problems}
    assert kinds == {"injectable-token", "no-end-of-turn", "format-not-recorded"}
    assert all(isinstance(dataclasses.asdict(p), dict) for p in problems)
    report = repair_gguf(user_defined_mathcoder, tmp_path / "r.gguf")
    assert isinstance(report, RepairReport) and report.written and report.prompt_format == "mathcoder"
    assert dataclasses.asdict(report)["output"] == tmp_path / "r.gguf"
    assert inspect_gguf(report.output) == []


@pytest.mark.skipif(not (SHARED / "vocab").is_dir(), reason="../shared/vocab is absent (a fresh clone)")
def test_repair_the_real_qwen2_vocabulary(tmp_path):
    report = repair_gguf(SHARED / "vocab" / "ggml-vocab-qwen2.gguf", tmp_path / "qwen2.gguf")
    assert [str(c) for c in report.changes] == [f"{EOT}: not set → 151645 (<|im_end|>)", f"{FORMAT}: not set → tora"]
    with read_header(report.output) as header:  # gguf-py's reader takes seconds over 151,936 tokens
        assert header.get(EOT) == 151645 and header.get(FORMAT) == "tora"
    assert inspect_gguf(report.output) == []


def test_repair_takes_the_gguf_alone(user_defined_mathcoder, tmp_path):
    with_source = cli("some/checkpoint", "--repair", user_defined_mathcoder)
    assert with_source.exit_code == 2 and "--repair takes the GGUF alone" in with_source.output
    both = cli("--verify", user_defined_mathcoder, "--repair", user_defined_mathcoder)
    assert both.exit_code == 2 and "not both" in both.output
    assert files(tmp_path) == ["mathcoder.gguf"]
    assert "--repair" in cli("-h").output


def test_a_custom_alignment_is_kept(tmp_path):
    vocab = retyped(spm_vocab(), dict.fromkeys(MATHCODER_TOKENS, USER_DEFINED))
    bad = write_model_gguf(tmp_path / "aligned.gguf", vocab, ModelShape(alignment=256))
    report = repair_gguf(bad)
    ra, rb = assert_same_tensors(bad, report.output)
    assert field(rb, "general.alignment") == 256 and rb.data_offset % 256 == 0
    assert all((t.data_offset - rb.data_offset) % 256 == 0 for t in rb.tensors)
    assert_not_injectable(report.output, MATHCODER_TOKENS)
