"""The command line, through typer's CliRunner and as the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mathcoder_local import __version__
from mathcoder_local.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_version_and_help():
    assert invoke("--version").output.strip() == f"mathcoder-local {__version__}"
    for flag in ("-h", "--help"):
        result = invoke("solve", flag)
        assert result.exit_code == 0 and "--model" in result.output and "--json" in result.output


def test_heavy_modules_are_not_imported_for_help():
    code = (
        "import sys\n"
        "from mathcoder_local.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['solve', '--help'])\n"
        "print(sorted(m for m in ('llama_cpp', 'sympy', 'textual', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(shutil.which("mathcoder-local") is None, reason="console script not installed")
def test_console_script():
    result = subprocess.run(["mathcoder-local", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


def test_json_output_schema(mathcoder_gguf):
    result = invoke("solve", "What is 2+2?", "--model", str(mathcoder_gguf), "--max-tokens", "40", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data["answer"], str)
    assert data["format"] == "mathcoder"
    assert data["finish_reason"] in ("answer", "max_tokens", "max_blocks", "max_block_tokens")
    assert all(set(b) == {"kind", "content"} and b["kind"] in ("text", "code", "execution") for b in data["blocks"])
    stats = data["stats"]
    for key in (
        "prompt_tokens",
        "generated_tokens",
        "evaluated_tokens",
        "context_tokens",
        "seconds",
        "tokens_per_second",
    ):
        assert key in stats
    assert 0 < stats["generated_tokens"] <= 40
    assert stats["evaluated_tokens"] <= stats["context_tokens"]


def test_question_from_stdin_and_file(tora_gguf, tmp_path):
    result = invoke("solve", "-", "-m", str(tora_gguf), "--max-tokens", "5", "--json", input="What is 3*3?\n")
    assert result.exit_code == 0 and json.loads(result.output)["format"] == "tora"
    question = tmp_path / "q.txt"
    question.write_text("What is 4*4?")
    result = invoke(
        "solve", "--file", str(question), "-m", str(tora_gguf), "--max-tokens", "5", "--json", "--format", "tora"
    )
    assert result.exit_code == 0 and json.loads(result.output)["stats"]["generated_tokens"] == 5


def test_readable_transcript(mathcoder_gguf):
    result = invoke("solve", "What is 2+2?", "-m", str(mathcoder_gguf), "--max-tokens", "20", "--no-grammar")
    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output and "finish:" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["solve"], "no question"),
        (["solve", "q", "--file", "x.txt"], "not both"),
        (["solve", "--file", "/no/such/file.txt"], "cannot read"),
        (["solve", "q", "--model", "/no/such.gguf"], "model file not found"),
        (["solve", "   ", "--model", "/no/such.gguf"], "question is empty"),
        (["solve", "q", "--max-blocks", "0"], "--max-blocks"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_wrong_format_for_the_model(tora_gguf):
    result = invoke("solve", "q", "-m", str(tora_gguf), "--format", "mathcoder")
    assert result.exit_code == 2 and "--format tora" in result.output


def test_grammar_for_a_format_without_one(tora_gguf):
    result = invoke("solve", "q", "-m", str(tora_gguf), "--grammar")
    assert result.exit_code == 2 and "no grammar" in result.output


def test_not_a_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("hello")
    result = invoke("solve", "q", "-m", str(bad))
    assert result.exit_code == 2 and "not a GGUF" in result.output
