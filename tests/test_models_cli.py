"""`models`, `models add/remove`, `pull` (against the loopback stand-in hub) and models used by name."""

from __future__ import annotations

import json
import shutil

from cli_helpers import invoke, one_line_error
from hub_server import FakeHub


def listing():
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def test_models_lists_the_catalog_and_what_is_here():
    result = invoke("models")
    assert result.exit_code == 0, result.output
    for word in ("NAME", "FORMAT", "QUANT", "SIZE", "PATH", "nano", "MathCoder-CL-7B", "ToRA-Code-34B"):
        assert word in result.output
    rows = listing()
    cl7 = rows["MathCoder-CL-7B"]
    assert not cl7["present"] and cl7["origin"] == "catalog" and "pull MathCoder-CL-7B" in cl7["path"]
    assert cl7["catalog"]["hub_id"] == "MathLLMs/MathCoder-CL-7B" and cl7["catalog"]["gsm8k"] == 67.8
    assert cl7["catalog"]["size_bytes"]["q4_k_m"] > 4e9
    assert rows["MathCoder-L-70B"]["path"] == "no published checkpoint"
    assert rows["nano"]["origin"] == "bundled"


def test_add_in_place_and_use_by_name(mathcoder_gguf, tmp_path):
    copy = tmp_path / "my model.gguf"
    shutil.copy(mathcoder_gguf, copy)
    result = invoke("models", "add", copy, "--name", "tiny")
    assert result.exit_code == 0 and "registered tiny" in result.output, result.output
    row = listing()["tiny"]
    assert row["path"] == str(copy.resolve()) and row["present"] and row["format"] == "mathcoder"
    assert row["quant"] == "f32" and row["size_bytes"] == copy.stat().st_size and row["origin"] == "added"
    solved = invoke("solve", "What is 2 + 2?", "--model", "tiny", "--max-tokens", "16", "--json")
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.output)["format"] == "mathcoder"
    one_line_error(invoke("models", "add", copy, "--name", "tiny"), "already registered")
    assert invoke("models", "add", copy, "--name", "tiny", "--replace").exit_code == 0
    assert invoke("models", "remove", "tiny").exit_code == 0 and copy.exists()  # the file is left alone
    one_line_error(invoke("solve", "q", "--model", "tiny"), "unknown model 'tiny'")


def test_a_registered_file_that_moved_says_so(mathcoder_gguf, tmp_path):
    copy = tmp_path / "m.gguf"
    shutil.copy(mathcoder_gguf, copy)
    assert invoke("models", "add", copy).exit_code == 0  # named after the file: m
    copy.unlink()
    one_line_error(invoke("solve", "q", "--model", "m"), "no longer exists")
    assert listing()["m"]["present"] is False


def test_add_refuses_what_is_not_a_gguf(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_text("not a model")
    one_line_error(invoke("models", "add", bad), "not a GGUF")
    one_line_error(invoke("models", "add", tmp_path / "missing.gguf"), "not found")


def test_names_that_are_not_here_say_what_to_do():
    one_line_error(invoke("solve", "q", "--model", "MathCoder-CL-7B"), "mathcoder-local pull MathCoder-CL-7B")
    one_line_error(invoke("solve", "q", "--model", "mathcoder-cl-34b"), "pull MathCoder-CL-34B")
    one_line_error(invoke("solve", "q", "--model", "MathCoder-L-70B"), "no published checkpoint")
    one_line_error(invoke("bench", "--model", "ToRA-70B", "--limit", "1"), "pull ToRA-70B")
    one_line_error(invoke("pull", "MathCoder-CL-13B"), "no published checkpoint")
    one_line_error(invoke("pull", "GPT-5"), "not in the catalog")


def test_pull_downloads_only_what_it_needs_converts_and_works_offline(make_checkpoint, tmp_path, monkeypatch):
    repo = shutil.copytree(make_checkpoint(), tmp_path / "repo")
    (repo / "README.md").write_text("# a model card")
    (repo / "optimizer.pt").write_bytes(b"\0" * 4096)  # training state: never needed
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with FakeHub({"MathLLMs/MathCoder-CL-7B": repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert invoke("models").exit_code == 0 and hub.requests == []  # listing never goes online
        result = invoke("pull", "MathCoder-CL-7B", "--quant", "q8_0", "--from", "checkpoint")
        assert result.exit_code == 0, result.output
        assert "pulled MathCoder-CL-7B:q8_0" in result.output
        fetched = {p.rsplit("/", 1)[-1] for m, p in hub.requests if m == "GET" and "/resolve/" in p}
        assert fetched == {p.name for p in repo.iterdir()} - {"README.md", "optimizer.pt"}
        seen = len(hub.requests)
        again = invoke("pull", "MathCoder-CL-7B", "--quant", "q8_0")
        assert again.exit_code == 0 and "already present" in again.output
        assert len(hub.requests) == seen
    row = listing()["MathCoder-CL-7B:q8_0"]
    assert row["present"] and row["origin"] == "pulled" and row["quant"] == "q8_0"
    assert row["catalog"]["name"] == "MathCoder-CL-7B"
    from mathcoder_local.engine.llama import LlamaEngine

    engine = LlamaEngine(row["path"], n_ctx=256, n_threads=1)
    assert float(engine.metadata["llama.rope.freq_base"]) == 1e6  # the catalog's rope base, not config.json's
    assert engine.metadata["mathcoder_local.prompt_format"] == "mathcoder"
    engine.close()
    # The hub is gone and offline mode is on: the model still loads by its catalog name, from disk alone.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("MathCoder-CL-7B", "MathCoder-CL-7B:q8_0"):
        solved = invoke("solve", "What is 2 + 2?", "--model", name, "--max-tokens", "16", "--json")
        assert solved.exit_code == 0, solved.output
    offline = invoke("pull", "MathCoder-CL-7B", "--quant", "f16")  # converts from the local HF cache
    assert offline.exit_code == 0, offline.output


def test_pull_offline_without_a_cached_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    one_line_error(invoke("pull", "ToRA-Code-7B"), "HF_HUB_OFFLINE")


def test_an_unreachable_hub_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    result = invoke("pull", "MathCoder-L-7B")
    one_line_error(result, "MathLLMs/MathCoder-L-7B")
