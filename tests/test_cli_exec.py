"""`mathcoder-local exec`: what the model would see, --json, --explain, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mathcoder_local.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, ["exec", *map(str, args)], input=input)


def test_prints_what_the_model_would_see(tmp_path):
    code = tmp_path / "cell.py"
    code.write_text("print('a')\n6 * 7\n", encoding="utf-8")
    result = invoke(code)
    assert result.exit_code == 0, result.output
    assert result.output == "a\n42\n"


def test_reads_stdin_and_shows_empty_execution():
    result = invoke("-", input="x = 1\n")
    assert result.exit_code == 0 and result.output == "<empty_execution>\n"


def test_an_error_is_shown_as_the_model_sees_it_and_exits_1():
    result = invoke("-", input="1 / 0")
    assert result.exit_code == 1
    assert result.output.rstrip().endswith("ZeroDivisionError: division by zero")


def test_json():
    result = invoke("-", "--json", input="import os\nos.getcwd() != ''")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["output"] == "True" and data["error"] is None and data["timed_out"] is False
    assert isinstance(data["seconds"], float) and "process-group" in data["layers"]


def test_json_error_is_the_exception_type():
    data = json.loads(invoke("-", "--json", input="open('/nonexistent/x')").output)
    assert data["error"] == "FileNotFoundError" and "FileNotFoundError" in data["output"]


def test_timeout():
    result = invoke("-", "--json", "--timeout", "0.5", input="while True:\n    pass")
    data = json.loads(result.output)
    assert result.exit_code == 1
    assert data["timed_out"] is True and data["error"] == "Timeout" and 0.5 <= data["seconds"] < 5
    assert "ran longer than 0.5 s" in data["output"]


def test_explain_lists_every_layer_with_its_state():
    result = invoke("--explain")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("executor containment:")
    rows = [line.split(None, 2) for line in lines if line.startswith("  ")]
    states = {name: state for state, name, _ in rows}
    assert states["process-group"] == "active" and states["timeout"] == "active"
    assert set(states.values()) <= {"active", "inactive"}
    for state, name, text in rows:
        assert text.strip(), f"{name} says nothing about why it is {state}"
    assert "not a sandbox" in result.output


def test_explain_json_agrees_with_a_session():
    data = json.loads(invoke("--explain", "--json").output)
    assert "process-group" in data["active"] and data["platform"]
    assert not set(data["active"]) & set(data["inactive"])


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args, text in (
        ((tmp_path / "missing.py",), "cannot read"),
        (("-", "--timeout", "0"), "--timeout must be positive"),
        (("--explain", tmp_path / "x.py"), "--explain runs nothing"),
    ):
        result = invoke(*args, input="1")
        assert result.exit_code == 2, (args, result.output)
        assert result.output.count("\n") == 1 and text in result.output
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    result = invoke(binary)
    assert result.exit_code == 2 and "not UTF-8" in result.output
