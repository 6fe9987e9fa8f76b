"""The `grade` command: argument translation over mathcoder_local.grading."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mathcoder_local.cli.common import CONTEXT, fail, user_errors

# Kept here rather than imported, so `--help` does not load the grading package.
DEFAULT_TIMEOUT = 5.0


def grade(
    file: Path = typer.Argument(
        ..., help="A bench results.jsonl (or its run folder), MathCoder's released outputs or ToRA's outputs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    disagreements: bool = typer.Option(
        False, "--disagreements", help="List the rows where our verdict differs from the one the file carries."
    ),
    workers: int = typer.Option(2, "--workers", "-w", help="Answer-checking worker processes."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", help="Seconds one answer check may take."),
    file_answers: bool = typer.Option(
        False,
        "--file-answers",
        help="Grade the answers the file recorded (MathCoder's completion, ToRA's pred) instead of re-extracting "
        "them from the transcripts.",
    ),
) -> None:
    """Grade a finished run: accuracy overall, by subject and by level (format detected from the file)."""
    if workers < 1:
        fail("--workers must be at least 1")
    if timeout <= 0:
        fail("--timeout must be positive")
    from mathcoder_local.grading.files import grade_file

    with user_errors():
        report = grade_file(
            file, workers=workers, timeout=timeout, answer_source="file" if file_answers else "transcript"
        )
    if as_json:
        data = report.to_dict()
        if not disagreements:
            data.pop("disagreements")
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    from rich.console import Console

    from mathcoder_local.grading.view import print_disagreements, print_report

    console = Console(highlight=False)
    print_report(console, report)
    if disagreements:
        print_disagreements(console, report)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("grade", context_settings=CONTEXT)(grade)
