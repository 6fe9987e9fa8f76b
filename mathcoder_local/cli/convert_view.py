"""Terminal output of `mathcoder-local convert`: the plan, progress bars by bytes, the verification table
with what is wrong in plain words, and what a repair changed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from mathcoder_local.convert import Check, ConversionPlan, RepairReport, output_bytes
from mathcoder_local.convert.verify import NOTE, REPAIR_RECORDS
from mathcoder_local.convert.vocab import CONTROL, USER_DEFINED
from mathcoder_local.quants import DIRECT

_BAR_FROM = 256 << 20  # bytes of tensor data below which a repair shows no progress bar
_TYPE_NAMES = {1: "normal", 2: "unknown", CONTROL: "control", USER_DEFINED: "user-defined", 5: "unused", 6: "byte"}


def print_plan(console: Console, plan: ConversionPlan) -> None:
    c, v = plan.config, plan.vocab
    table = Table(title=f"would write {plan.outfile}", show_header=False)
    direct = plan.outtype if plan.outtype in DIRECT else "f16"  # k-quants are made from an f16 file
    rows = [
        ("source", str(plan.folder) + (f"  ({plan.repo_id})" if plan.repo_id else "")),
        (
            "architecture",
            f"{c.arch.gguf_arch}: {c.num_layers} layers, {c.hidden_size} wide, {c.num_heads} heads "
            f"({c.num_kv_heads} kv), ff {c.intermediate_size}",
        ),  # fmt: skip
        ("vocabulary", f"{len(v.tokens)} tokens (bos {v.bos_id}, eos {v.eos_id}, eot {v.eot_id})"),
        ("added tokens", ", ".join(f"{t}={i} {_TYPE_NAMES[v.types[i]]}" for t, i in v.added.items()) or "none"),
        ("prompt format", plan.prompt_format),
        ("rope base", f"{plan.rope_freq_base:g}"),
        ("context", str(c.max_position_embeddings)),
        ("tensors", f"{len(plan.tensors)} ({plan.source_bytes / 2**20:.1f} MiB in the checkpoint)"),
        (
            "output",
            f"{plan.outtype}, about {output_bytes(plan, direct) / 2**20:.1f} MiB"
            + ("" if direct == plan.outtype else " before llama.cpp quantizes it"),
        ),  # fmt: skip
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


@contextlib.contextmanager
def progress_bar(console: Console, plan: ConversionPlan) -> Iterator[Callable[[int], None]]:
    columns = (TextColumn("converting"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("convert", total=plan.source_bytes)
        yield lambda n: progress.advance(task, n)


def print_checks(console: Console, checks: list[Check], warnings: list[str], path: Path | None = None) -> None:
    """The table, then each failure in plain words, then warnings and notes; given the file's `path`, how to
    repair what a metadata repair can fix."""
    table = Table(title="verification")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for check in checks:
        result = "[green]ok[/green]" if check.ok else "[bold red]FAILED[/bold red]"
        table.add_row(escape(check.name), result, escape(check.detail))
    console.print(table)
    for check in checks:
        if not check.ok and check.explain:
            console.print(f"[bold red]✗ {escape(check.name)}:[/bold red] {escape(check.explain)}")
    notes = [w for w in warnings if w.startswith(NOTE)]
    for warning in warnings:
        if warning not in notes:
            console.print(f"[bold red]{escape(warning)}[/bold red]")
    for note in notes:
        console.print(f"[yellow]{escape(note)}[/yellow]")
    fixable = [c.name for c in checks if not c.ok and c.repairable]
    if path is not None and (fixable or any(n.endswith(REPAIR_RECORDS) for n in notes)):
        failed = " and ".join(f'"{name}"' for name in fixable)
        what = f"fixes {failed}" if fixable else "records what the notes say is missing"
        console.print(
            f"→ `mathcoder-local convert --repair {escape(str(path))}` {what}: metadata only, the tensors are copied "
            "unchanged"
        )


@contextlib.contextmanager
def copy_progress(console: Console, path: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar over the tensor data of the GGUF at `path` (shown while a repair copies it)."""
    from mathcoder_local.convert.gguf_file import read_header

    with read_header(path) as header:
        total = header.data_bytes
    if total < _BAR_FROM:
        yield lambda n: None  # done before a bar would show
        return
    columns = (
        TextColumn("copying tensors"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("repair", total=total)
        yield lambda n: progress.advance(task, n)


def print_repair(console: Console, report: RepairReport) -> None:
    """What the repair changed (or that nothing needed it), and what is still wrong after it."""
    source = escape(str(report.source))
    if not report.changes:
        console.print(
            f"nothing to repair in {source}: its tokens, end of turn and prompt format ({report.prompt_format}) "
            "are already as the loop needs them; nothing written"
        )
    else:
        table = Table(title=f"repaired {source} → {escape(str(report.output))}")
        table.add_column("metadata")
        table.add_column("before")
        table.add_column("after")
        for change in report.changes:
            key = f"{change.token} ({change.key})" if change.token else change.key
            table.add_row(escape(key), escape(change.before), escape(change.after))
        console.print(table)
        size = report.output.stat().st_size if report.output is not None else 0
        console.print(f"wrote {escape(str(report.output))} ({size / 2**20:.1f} MiB; tensor data copied byte for byte)")
    for problem in report.remaining:
        console.print(f"[bold red]still wrong (a metadata repair cannot fix it): {escape(problem.message)}[/bold red]")
