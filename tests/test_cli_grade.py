"""`mathcoder-local grade`: tables, --json, --disagreements, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import SHARED
from typer.testing import CliRunner

from mathcoder_local.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["grade", *map(str, args)])


@pytest.fixture
def results(tmp_path):
    rows = [
        {"id": "a", "gold": "0.5", "prediction": "\\frac{1}{2}", "correct": True, "subject": "Algebra", "level": 1},
        {"id": "b", "gold": "100", "prediction": "1", "correct": True, "subject": "Algebra", "level": 2},
        {"id": "c", "gold": "18", "prediction": "18", "correct": True, "subject": "Geometry", "level": 2},
        {"id": "d", "gold": "7", "prediction": "", "correct": False, "subject": "Geometry", "level": 5},
    ]
    for row in rows:
        row.update(question="q", finish_reason="answer", blocks=[], prompt_tokens=1, completion_tokens=1, seconds=0)
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_table(results):
    result = invoke(results, "--workers", 1)
    assert result.exit_code == 0, result.output
    for text in ("bench layout", "overall", "50.0", "by subject", "Algebra", "Geometry", "by level", "level 5"):
        assert text in result.output
    assert "1 row(s) where our verdict differs" in result.output


def test_json(results):
    result = invoke(results, "--json", "--workers", 2, "--timeout", 3)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["n"], data["correct"], data["accuracy"], data["format"]) == (4, 2, 50.0, "bench")
    assert data["by_subject"]["Algebra"] == {"n": 2, "correct": 1, "accuracy": 50.0}
    assert data["by_level"]["2"] == {"n": 2, "correct": 1, "accuracy": 50.0}
    assert data["n_disagreements"] == 1 and "disagreements" not in data


def test_disagreements(results):
    result = invoke(results, "--disagreements")
    assert result.exit_code == 0, result.output
    listed = result.output.split("disagreements", 1)[1]
    assert "│ b " in listed and "wrong" in listed and "right" in listed and "│ a " not in listed
    data = json.loads(invoke(results, "--json", "--disagreements").output)
    assert data["disagreements"] == [
        {"id": "b", "prediction": "1", "gold": "100", "ours": False, "carried": True, "timed_out": False}
    ]


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: None, [], "no such file"),
        (lambda p: p.write_text("nope\n"), [], "is not valid JSON"),
        (lambda p: p.write_text('{"problem": "x"}\n'), [], "not a layout grade knows"),
        (lambda p: p.write_text('{"gold": "1", "prediction": "1"}\n'), ["--workers", "0"], "--workers"),
        (lambda p: p.write_text('{"gold": "1", "prediction": "1"}\n'), ["--timeout", "0"], "--timeout"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, make, args, message):
    path = tmp_path / "results.jsonl"
    make(path)
    result = invoke(path, *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_shared_tora_file_json():
    path = SHARED / "data" / "tora_outputs" / "tora-code-34b_gsm8k.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not checked out)")
    data = json.loads(invoke(path, "--json").output)
    assert data["format"] == "tora" and data["n"] == 1319 and abs(data["accuracy"] - 80.7) <= 0.5


def test_help_imports_no_grading_machinery():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from mathcoder_local.cli import app\n"
        "CliRunner().invoke(app, ['grade', '--help'])\n"
        "print(sorted(m for m in ('sympy', 'math_verify', 'mathcoder_local.grading.checker') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
