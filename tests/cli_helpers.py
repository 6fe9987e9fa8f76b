"""Running the real command line in tests and checking its one-line errors."""

from __future__ import annotations

from typer.testing import CliRunner

from mathcoder_local.cli import app

runner = CliRunner()


def invoke(*args, **kwargs):
    """`mathcoder-local ARGS` through Typer's runner (arguments may be paths or numbers)."""
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def one_line_error(result, *messages, code=2):
    """Bad input's promise: exit `code`, one line on the output naming each of `messages`, no traceback."""
    assert result.exit_code == code, result.output
    for message in messages:
        assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
