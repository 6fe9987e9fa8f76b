"""The `replay` command: argument translation over mathcoder_local.replay."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from mathcoder_local.cli.common import CONTEXT, fail, user_errors

# Kept here rather than imported, so `--help` does not load the replay module.
DEFAULT_TIMEOUT = 20.0


def replay(
    file: Path = typer.Argument(..., help="A MathCoder transcript file: JSON Lines whose rows carry debug_result."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a summary."),
    show_mismatches: bool = typer.Option(
        False, "--show-mismatches", help="List every block whose output differs from the recorded one."
    ),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Only the first N rows."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", help="Seconds each code block may run."),
    workers: int = typer.Option(2, "--workers", "-w", help="Rows replayed at once, each in its own session."),
) -> None:
    """Re-execute every code block of a MathCoder transcript and compare with the recorded execution blocks."""
    if limit is not None and limit < 1:
        fail("--limit must be at least 1")
    if timeout <= 0:
        fail("--timeout must be positive")
    if workers < 1:
        fail("--workers must be at least 1")
    from mathcoder_local.replay import replay_file

    with user_errors():
        if as_json or not sys.stderr.isatty():
            report = replay_file(file, limit=limit, timeout=timeout, workers=workers)
        else:
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("replaying", total=None)
                report = replay_file(
                    file,
                    limit=limit,
                    timeout=timeout,
                    workers=workers,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    if as_json:
        typer.echo(json.dumps(report.to_dict(mismatches=show_mismatches), ensure_ascii=False))
        return
    excluded = sum(report.excluded.values())
    typer.echo(f"{report.file}: {report.rows} rows, {report.blocks} code blocks, {report.seconds:.1f} s")
    typer.echo(
        f"matched {report.matched} of {report.compared} compared blocks ({100 * report.match_rate:.2f} %), "
        f"{excluded} excluded; {report.identical} identical to the recorded text"
    )
    for reason, count in report.excluded.items():
        typer.echo(f"  excluded, {reason}: {count}")
    for reason, count in report.mismatch_classes.items():
        first = report.first_mismatch_classes.get(reason, 0)
        typer.echo(f"  mismatch, {reason}: {count} ({first} first in their row)")
    if show_mismatches:
        for o in report.mismatches:
            later = ", after an earlier mismatch in the row" if o.follows_mismatch else ""
            typer.echo(f"\n--- line {o.line}{f' ({o.ident})' if o.ident else ''}, In[{o.cell}]: {o.reason}{later}")
            typer.echo("code:\n" + _indent(o.code))
            typer.echo("recorded:\n" + _indent(o.recorded))
            typer.echo("ours:\n" + _indent(o.ours))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.replace("\r\n", "\n").split("\n"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("replay", context_settings=CONTEXT)(replay)
