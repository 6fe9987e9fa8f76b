"""Pieces every CLI module shares: help options, the one-line error exit, the user-error guard."""

from __future__ import annotations

from contextlib import contextmanager
from typing import NoReturn

import typer

from mathcoder_local.errors import UserError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors():
    """Bad input and environment problems end as one line on stderr and exit code 2, not a traceback."""
    try:
        yield
    except UserError as exc:
        fail(str(exc), exc.exit_code)
