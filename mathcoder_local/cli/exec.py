"""The `exec` command: run code in a fresh executor session and print what the model would see."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from mathcoder_local.cli.common import CONTEXT, fail
from mathcoder_local.cli.options import TIMEOUT, D, with_help


def _read_code(file: Optional[str]) -> str:
    if file is None and sys.stdin.isatty():
        fail("no code: give a FILE, or - to read it from stdin")
    if file is None or file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"cannot read {file}: not UTF-8 text")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")


def _explain(as_json: bool) -> None:
    from mathcoder_local.executor.containment import platform_summary
    from mathcoder_local.executor.session import ExecutorSession

    try:
        with ExecutorSession() as session:
            report = session.containment()
    except RuntimeError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"platform": platform_summary(), **report.to_dict()}, ensure_ascii=False))
        return
    typer.echo(f"executor containment: {platform_summary()}")
    typer.echo("(as a `solve` or `exec` session reports it; `bench` sessions: the same, sandbox-exec aside)")
    width = max(len(name) for name, _, _ in report.rows())
    for name, active, text in report.rows():
        typer.echo(f"  {'active' if active else 'inactive':<9}{name:<{width + 2}}{text}")
    typer.echo("Restricted, not a sandbox: the README's executor section says what these layers do not stop.")


def exec_command(
    file: Optional[str] = typer.Argument(
        None, help="A Python file to run; '-' reads stdin (as does no FILE when input is piped)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"output", "error", "timed_out", "seconds", "layers"} instead of the text.'
    ),
    explain: bool = typer.Option(
        False, "--explain", help="List the containment layers, active or not and why; run nothing."
    ),
    timeout: Annotated[float, with_help(TIMEOUT, "Seconds the code may run (wall clock).")] = D.timeout,
) -> None:
    """Run code in a fresh executor session and print what the model would see (MathCoder format).

    Exit code 1 when the code raised, timed out or killed its worker; 2 for bad input.
    """
    if explain:
        if file is not None:
            fail("--explain runs nothing: give no FILE")
        _explain(as_json)
        return
    if timeout <= 0:
        fail("--timeout must be positive")
    code = _read_code(file)
    from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
    from mathcoder_local.formats.mathcoder import execution_text

    try:
        with ExecutorSession(ExecutorLimits(timeout=timeout)) as session:
            layers = session.layers
            cell = session.run(code)
    except RuntimeError as exc:  # the worker did not start
        fail(str(exc))
    output = execution_text(cell)
    if as_json:
        data = {
            "output": output,
            "error": cell.error,
            "timed_out": cell.timed_out,
            "seconds": round(cell.seconds, 4),
            "layers": list(layers),
        }
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        typer.echo(output)
    if cell.error is not None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("exec", context_settings=CONTEXT)(exec_command)
