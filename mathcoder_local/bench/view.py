"""The bench's terminal view: a live progress bar while it runs, summary tables at the end."""

from __future__ import annotations

import time
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mathcoder_local.bench.runner import BenchEvent, BenchFinished, BenchStarted, ProblemScored


def _table(title: str, cells: dict[str, dict[str, object]], label: str = "") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for column in ("n", "correct", "accuracy %"):
        table.add_column(column, justify="right")
    for key, cell in cells.items():
        table.add_row(escape(key), str(cell["n"]), str(cell["correct"]), f"{cell['accuracy']:.1f}")
    return table


def print_summary(console: Console, metrics: dict[str, object]) -> None:
    overall = {"overall": {k: metrics[k] for k in ("n", "correct", "accuracy")}}
    console.print(_table("accuracy", overall))
    for key, title in (("by_subject", "by subject"), ("by_level", "by level")):
        cells = metrics.get(key) or {}
        if cells:
            console.print(_table(title, cells))  # type: ignore[arg-type]
    reasons = ", ".join(f"{k} {v}" for k, v in (metrics.get("finish_reasons") or {}).items())  # type: ignore[union-attr]
    if reasons:
        console.print(f"finish reasons: {reasons}")


def render(console: Console, events: Iterable[BenchEvent]) -> BenchFinished | None:
    """Draw the progress bar from the events; return the final event (None if the run never finished)."""
    progress = Progress(
        TextColumn("[bold]bench"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    )
    task = None
    last_draw = 0.0
    with progress:
        for event in events:
            if isinstance(event, BenchStarted):
                if event.done:
                    console.print(f"resuming {escape(str(event.out))}: {event.done} of {event.total} already done")
                else:
                    console.print(f"writing {escape(str(event.out))}")
                stats = f"acc {100 * event.correct / event.done:.1f}%" if event.done else ""
                task = progress.add_task("bench", total=event.total, completed=event.done, stats=stats)
            elif isinstance(event, ProblemScored) and task is not None:
                now = time.monotonic()
                tps = event.generated_tokens / event.elapsed if event.elapsed > 0 else 0.0
                stats = f"acc {100 * event.correct / event.done:.1f}%  {tps:.0f} tok/s"
                progress.update(task, completed=event.done, stats=stats, refresh=now - last_draw > 0.25)
                last_draw = now
            elif isinstance(event, BenchFinished):
                progress.stop()
                print_summary(console, event.metrics)
                state = "interrupted; continue with --resume" if event.interrupted else "done"
                console.print(f"{state}: {escape(str(event.out))}")
                return event
    return None
