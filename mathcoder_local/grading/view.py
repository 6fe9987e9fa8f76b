"""The `grade` command's terminal output: accuracy tables and the disagreement list."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mathcoder_local.grading.files import Bucket, GradeReport

SHOWN_CHARS = 60  # predictions can be paragraphs; the table shows their start


def _row(table: Table, label: str, bucket: Bucket) -> None:
    table.add_row(escape(label), str(bucket.n), str(bucket.correct), f"{bucket.accuracy:.1f}")


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("", overflow="fold")
    for column in ("n", "correct", "accuracy %"):
        table.add_column(column, justify="right")
    return table


def print_report(console: Console, report: GradeReport) -> None:
    source = "re-extracted from the transcripts" if report.answer_source == "transcript" else "as the file records"
    if report.format == "bench":
        source = "the bench's predictions"
    console.print(f"{escape(report.path)}: {report.format} layout, answers {source}")
    table = _table("accuracy")
    _row(table, "overall", report.overall)
    if report.carried is not None:
        _row(table, "the file's own verdicts", report.carried)
    if report.samples is not None:
        _row(table, "every sample (maj@K runs)", report.samples)
    console.print(table)
    if report.by_subject:
        table = _table("by subject")
        for subject, bucket in sorted(report.by_subject.items()):
            _row(table, subject, bucket)
        console.print(table)
    if report.by_level:
        table = _table("by level")
        for level, bucket in sorted(report.by_level.items()):
            _row(table, f"level {level}", bucket)
        console.print(table)
    if report.timeouts or report.errors:
        console.print(
            f"[yellow]{report.timeouts} check(s) timed out and {report.errors} failed; "
            "they count as wrong (try a larger --timeout)[/yellow]"
        )
    if report.carried is not None:
        console.print(f"{len(report.disagreements)} row(s) where our verdict differs from the file's")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def print_disagreements(console: Console, report: GradeReport) -> None:
    if report.carried is None:
        console.print("this file carries no per-row verdicts, so there is nothing to disagree with")
        return
    if not report.disagreements:
        console.print("no disagreements")
        return
    table = Table(title="disagreements", title_justify="left")
    for column in ("id", "prediction", "gold", "ours", "file"):
        table.add_column(column, overflow="fold")
    for d in report.disagreements:
        ours = "timed out" if d.timed_out else ("right" if d.ours else "wrong")
        table.add_row(
            escape(d.id), escape(_short(d.prediction)), escape(_short(d.gold)), ours, "right" if d.carried else "wrong"
        )
    console.print(table)
