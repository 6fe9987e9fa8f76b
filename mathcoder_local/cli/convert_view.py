"""Terminal output of `mathcoder-local convert`: the plan, a progress bar by bytes, the verification table."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from mathcoder_local.convert import Check, ConversionPlan, output_bytes
from mathcoder_local.convert.vocab import CONTROL, USER_DEFINED
from mathcoder_local.quants import DIRECT

_TYPE_NAMES = {1: "normal", 2: "unknown", CONTROL: "control", USER_DEFINED: "user-defined", 5: "unused", 6: "byte"}


def print_plan(console: Console, plan: ConversionPlan) -> None:
    c, v = plan.config, plan.vocab
    table = Table(title=f"would write {plan.outfile}", show_header=False)
    direct = plan.outtype if plan.outtype in DIRECT else "f16"  # k-quants are made from an f16 file
    rows = [
        ("source", str(plan.folder) + (f"  ({plan.repo_id})" if plan.repo_id else "")),
        (
            "architecture",
            f"llama: {c.num_layers} layers, {c.hidden_size} wide, {c.num_heads} heads "
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


def print_checks(console: Console, checks: list[Check], warnings: list[str]) -> None:
    table = Table(title="verification")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for check in checks:
        table.add_row(check.name, "[green]ok[/green]" if check.ok else "[bold red]FAILED[/bold red]", check.detail)
    console.print(table)
    for warning in warnings:
        console.print(f"[bold red]{warning}[/bold red]")
