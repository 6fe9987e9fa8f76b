"""`mathcoder-local convert` on the command line: success, dry runs, and every kind of bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from mathcoder_local.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["convert", *map(str, args)])


def broken_copy(make_checkpoint, tmp_path, **spec):
    return shutil.copytree(make_checkpoint(**spec), tmp_path / "ck")


def assert_clean_failure(result, out_dir, message, code=2):
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert not any(p.suffix in (".gguf", ".partial") for p in out_dir.iterdir()), list(out_dir.iterdir())


def test_convert_verify_and_refuse_to_overwrite(make_checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = run(make_checkpoint(), "--outtype", "q8_0", "--outfile", out / "m.gguf")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "FAILED" not in result.output
    assert run("--verify", out / "m.gguf").exit_code == 0
    again = run(make_checkpoint(), "--outfile", out / "m.gguf")
    assert again.exit_code == 2 and "--force" in again.output
    assert run(make_checkpoint(), "--outfile", out / "m.gguf", "--force").exit_code == 0


def test_dry_run_writes_nothing(make_checkpoint, tmp_path):
    result = run(make_checkpoint(), "--dry-run", "--outfile", tmp_path / "m.gguf")
    assert result.exit_code == 0 and "would write" in result.output and "mathcoder" in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_tokenizer_model(make_checkpoint, tmp_path):
    folder = broken_copy(make_checkpoint, tmp_path)
    (folder / "tokenizer.model").unlink()
    assert_clean_failure(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, "no tokenizer.model")


def test_unknown_architecture(make_checkpoint, tmp_path):
    folder = broken_copy(make_checkpoint, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["MistralForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    assert_clean_failure(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, "MistralForCausalLM")


@pytest.mark.parametrize("weights", ["safetensors", "bin"])
def test_truncated_shard(make_checkpoint, tmp_path, weights):
    folder = broken_copy(make_checkpoint, tmp_path, weights=weights, shards=2)
    shard = sorted(folder.glob(f"*.{weights}"))[-1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert_clean_failure(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, "truncated")


def test_shape_mismatch(make_checkpoint, tmp_path):
    folder = broken_copy(make_checkpoint, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] += 32
    (folder / "config.json").write_text(json.dumps(config))
    assert_clean_failure(run(folder, "--outfile", tmp_path / "m.gguf"), tmp_path, "shape mismatch")


def test_not_cached_hub_id_says_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = run("MathLLM/MathCoder-CL-7B", "--outfile", tmp_path / "m.gguf")
    assert_clean_failure(result, tmp_path, "--download")


def test_nonsense_source(tmp_path):
    assert_clean_failure(run(tmp_path / "nowhere" / "x" / "y"), tmp_path, "neither a checkpoint folder")


def test_verify_a_file_that_is_not_gguf(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model")
    result = run("--verify", bad)
    assert result.exit_code == 2 and "not a readable GGUF" in result.output


def test_help():
    result = run("-h")
    assert result.exit_code == 0 and "--outtype" in result.output and "--rope-freq-base" in result.output


def test_download_fetches_only_what_conversion_needs(make_checkpoint, tmp_path, monkeypatch):
    from hub_server import FakeHub

    repo = shutil.copytree(make_checkpoint(), tmp_path / "repo")
    (repo / "README.md").write_text("# a model card")
    (repo / "optimizer.pt").write_bytes(b"\0" * 4096)  # training state: never needed
    (repo / "pytorch_model.bin").write_bytes(b"\0" * 4096)  # a second copy of the weights: not needed
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    out.mkdir()
    with FakeHub({"MathLLM/MathCoder-Tiny": repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        offline = run("MathLLM/MathCoder-Tiny", "--outfile", out / "m.gguf")
        assert_clean_failure(offline, out, "--download")
        assert hub.requests == []  # nothing touches the network without --download
        result = run("MathLLM/MathCoder-Tiny", "--download", "--outfile", out / "m.gguf")
        assert result.exit_code == 0, result.output
        fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path}
        assert fetched == {p.name for p in repo.iterdir()} - {"README.md", "optimizer.pt", "pytorch_model.bin"}
        hub.requests.clear()
        again = run("MathLLM/MathCoder-Tiny", "--outfile", out / "m2.gguf")  # now from the cache, offline
        assert again.exit_code == 0, again.output
        assert hub.requests == []


def test_verify_failure_exits_1_with_the_table(make_checkpoint, tmp_path):
    from mathcoder_local.convert import make_plan
    from mathcoder_local.convert.vocab import USER_DEFINED
    from mathcoder_local.convert.writer import write_gguf

    plan = make_plan(str(make_checkpoint()), outtype="f32", outfile=tmp_path / "bad.gguf")
    for i in plan.vocab.added.values():
        plan.vocab.types[i] = USER_DEFINED  # what a converter that trusts transformers 4.31's files writes
    write_gguf(plan)
    result = run("--verify", tmp_path / "bad.gguf", make_checkpoint())
    assert result.exit_code == 1 and "FAILED" in result.output
