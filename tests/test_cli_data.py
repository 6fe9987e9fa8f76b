"""`mathcoder-local data list|pull|show` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED
from hub_server import FakeHub
from typer.testing import CliRunner

from mathcoder_local.cli import app

runner = CliRunner()
DATA = SHARED / "data"
MATH500 = "HuggingFaceH4/MATH-500"


def invoke(*args):
    return runner.invoke(app, ["data", *map(str, args)])


def rows(output: str, name: str) -> str:
    """The table row(s) of one set, as one string."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"│ {name} "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("│  ")), len(lines))
    return " ".join(lines[start:end])


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # rich folds long paths at 80 columns


def test_list_shows_known_sets_and_what_is_missing(tmp_path):
    result = invoke("list", "--data-dir", tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert f"data directory: {tmp_path / 'data'} (--data-dir)" in result.output
    for name in ("gsm8k", "math", "math500", "svamp", "mathematics", "simuleq", "nano"):
        assert f"│ {name} " in result.output
    assert "missing" in rows(result.output, "gsm8k") and "hf:openai/gsm8k" in rows(result.output, "gsm8k")
    assert "data/SVAMP_test_post.jsonl (manual)" in rows(result.output, "svamp")
    assert "yes (200)" in rows(result.output, "nano")  # bundled: always present


@pytest.mark.skipif(not (DATA / "gsm8k").is_dir(), reason="../shared/data is absent (a fresh clone)")
def test_list_with_the_shared_data():
    result = invoke("list", "--data-dir", DATA)
    assert result.exit_code == 0, result.output
    assert "missing" not in result.output
    assert f"yes (1319) {DATA / 'gsm8k' / 'test.jsonl'}" in rows(result.output, "gsm8k")
    assert "yes (514)" in rows(result.output, "simuleq")


def test_data_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MATHCODER_LOCAL_DATA", str(tmp_path / "env-data"))
    result = invoke("list")
    assert f"data directory: {tmp_path / 'env-data'} ($MATHCODER_LOCAL_DATA)" in result.output


def test_pull_then_list_shows_it_present(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    records = [
        {"problem": f"What is {i}+1?", "solution": f"$\\boxed{{{i + 1}}}$", "answer": str(i + 1), "subject": "Algebra",
         "level": 1, "unique_id": f"test/algebra/{i}.json"}
        for i in range(3)
    ]  # fmt: skip
    (repo / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    data = tmp_path / "data"
    with FakeHub({}, datasets={MATH500: repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert "missing" in rows(invoke("list", "--data-dir", data).output, "math500")
        assert hub.requests == []  # listing never goes online
        result = invoke("pull", "MATH-500", "--data-dir", data)
        commit = hub.commits[MATH500]
    assert result.exit_code == 0, result.output
    target = data / "math500" / "test.jsonl"
    assert f"wrote {target} (3 records)" in result.output
    assert "should have 500 records, the hub's copy has 3" in result.output
    listed = rows(invoke("list", "--data-dir", data).output, "math500")
    assert f"yes (3 records) {target}" in listed and f"pulled at {commit[:12]}" in listed
    shown = invoke("show", "math500", "--data-dir", data, "--limit", "2")
    assert [json.loads(line)["answer"] for line in shown.output.splitlines()] == ["1", "2"]


def test_pull_without_a_hub_copy_exits_2_with_one_line(tmp_path):
    result = invoke("pull", "svamp", "--data-dir", tmp_path / "data")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: svamp has no Hugging Face hub copy")
    assert not (tmp_path / "data").exists()


def test_pull_an_unknown_name(tmp_path):
    result = invoke("pull", "gsm9k", "--data-dir", tmp_path / "data")
    assert result.exit_code == 2 and "unknown dataset 'gsm9k'" in result.output


def test_pull_nano_points_at_the_package():
    result = invoke("pull", "nano")
    assert result.exit_code == 0 and "nano ships with mathcoder-local" in result.output


def test_show_a_missing_set_exits_2_saying_how_to_get_it(tmp_path):
    result = invoke("show", "gsm8k", "--data-dir", tmp_path / "data")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: dataset gsm8k is not in {tmp_path / 'data'} (expected {tmp_path / 'data' / 'gsm8k' / 'test.jsonl'}): "
        "run `mathcoder-local data pull gsm8k`, or pass --data-dir DIR"
    )


def test_show_a_jsonl_file_with_fields_and_a_subset(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(
        "".join(json.dumps({"q": f"q{i}", "a": i, "subject": "odd" if i % 2 else "even"}) + "\n" for i in range(6))
    )
    result = invoke("show", path, "--question-field", "q", "--answer-field", "a", "--subset", "odd", "-n", "2")
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == [
        {"id": "1", "question": "q1", "answer": "1", "subject": "odd", "level": None},
        {"id": "3", "question": "q3", "answer": "3", "subject": "odd", "level": None},
    ]
    bad = invoke("show", path, "--subset", "level=5", "--question-field", "q", "--answer-field", "a")
    assert bad.exit_code == 2 and "have no levels" in bad.output


def test_show_the_nano_set_by_level_subset_error():
    result = invoke("show", "nano", "--subset", "subject=calculus")
    assert result.exit_code == 2 and "subjects present:" in result.output and "product" in result.output
