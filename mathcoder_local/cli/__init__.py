"""The command line: a thin Typer layer, one module per command, that translates arguments into calls of
plain functions. Options several commands share are declared once in `options.py`; the terminal views are
`render.py` (solve's transcript) and `convert_view.py`.

Heavy modules (llama_cpp, sympy, textual) are imported inside commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys

import typer

from mathcoder_local import __version__
from mathcoder_local.cli import bench, convert, data, grade, models, replay, solve, tui
from mathcoder_local.cli import exec as exec_code
from mathcoder_local.cli.common import CONTEXT
from mathcoder_local.errors import UserError

app = typer.Typer(
    name="mathcoder-local",
    help="Run code-integrated math-reasoning models (MathCoder, ToRA, MuMath-Code) locally on llama.cpp.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mathcoder-local {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Run code-integrated math-reasoning models locally."""


app.command(context_settings=CONTEXT)(solve.solve)
app.command(context_settings=CONTEXT)(convert.convert)
app.command(context_settings=CONTEXT)(bench.bench)
for _module in (data, grade, tui, exec_code, replay, models):
    _module.register(app)


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
