"""The `models` commands (list, `add`, `remove`) and `pull`: argument translation over the catalog and registry."""

from __future__ import annotations

import contextlib
import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from mathcoder_local.cli.common import CONTEXT, user_errors
from mathcoder_local.cli.options import Quant
from mathcoder_local.store.catalog import DEFAULT_QUANT

models_app = typer.Typer(
    name="models",
    help="Models by name: the catalog of published checkpoints and the GGUF files present here.",
    context_settings=CONTEXT,
    invoke_without_command=True,
)


@models_app.callback(invoke_without_command=True)
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (with the catalog's details)."),
) -> None:
    """List the catalog and what is present locally (NAME, FORMAT, QUANT, SIZE, PATH)."""
    if ctx.invoked_subcommand is not None:
        return
    from mathcoder_local.store import human_size, inventory

    with user_errors():
        rows = inventory()
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("NAME", "FORMAT", "QUANT", "SIZE", "PATH"):
        table.add_column(column, overflow="fold")
    for row in rows:
        size = human_size(row.size_bytes)
        if row.size_bytes is None and row.catalog is not None:
            size = f"~{human_size(row.catalog.size_bytes(DEFAULT_QUANT))} ({DEFAULT_QUANT})"
        style = "" if row.present else "dim"
        table.add_row(row.name, row.format, row.quant or "-", size, row.path, style=style)
    Console(highlight=False).print(table)


@models_app.command("add", context_settings=CONTEXT)
def add_command(
    path: Path = typer.Argument(..., help="A GGUF file; it stays where it is (no copy)."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="The name to use with --model (default: file stem)."),
    replace: bool = typer.Option(False, "--replace", help="Replace a model already registered under this name."),
) -> None:
    """Register a GGUF file in place, so that --model NAME finds it."""
    from mathcoder_local.store import add_file

    with user_errors():
        model = add_file(path, name, replace=replace)
    typer.echo(f"registered {model.name} ({model.format}, {model.quant}): {model.path}")


@models_app.command("remove", context_settings=CONTEXT)
def remove_command(name: str = typer.Argument(..., help="A registered name.")) -> None:
    """Forget a registered model (the file is left alone)."""
    from mathcoder_local.store import remove

    with user_errors():
        model = remove(name)
    typer.echo(f"removed {model.name} from the registry; the file is still at {model.path}")


class PullFrom(str, Enum):
    gguf = "gguf"
    checkpoint = "checkpoint"


def pull(
    name: str = typer.Argument(..., help="A catalog name (see `mathcoder-local models`) or its hub id."),
    quant: Quant = typer.Option(Quant(DEFAULT_QUANT), "--quant", "-q", help="Tensor type of the GGUF."),
    source: Optional[PullFrom] = typer.Option(
        None,
        "--from",
        help="gguf: the prebuilt GGUF the catalog names (one file, its metadata repaired if need be); checkpoint: "
        "the official checkpoint, converted here. Default: gguf when the catalog has one at this --quant.",
    ),
    revision: Optional[str] = typer.Option(
        None, "--revision", help="Hub revision (branch, tag or commit) of the repository pulled from."
    ),
    force: bool = typer.Option(False, "--force", help="Download or convert again even if the GGUF is already here."),
) -> None:
    """Download a catalog model from the Hugging Face hub and register it as NAME:quant: its prebuilt GGUF (one
    file, checked by SHA-256, repaired if need be) or its checkpoint (only the files needed), converted here.
    The only command, with `data pull` and `convert --download`, that goes online."""
    from rich.console import Console

    from mathcoder_local.cli.convert_view import progress_bar
    from mathcoder_local.store import pull_model

    console = Console(highlight=False, stderr=True)

    def progress(plan):
        return progress_bar(console, plan) if console.is_terminal else contextlib.nullcontext(lambda n: None)

    with user_errors():
        model, fresh = pull_model(
            name,
            quant=quant.value,
            revision=revision,
            force=force,
            progress=progress,
            source=source.value if source else None,
            download_progress=console.is_terminal,
        )
    size = Path(model.path).stat().st_size / 1e9
    verb = "pulled" if fresh else "already present:"
    origin = ""
    if model.pulled_from == "gguf":
        repaired = f", {len(model.repairs)} metadata values repaired (models --json lists them)"
        origin = f" from {model.source}/{model.file} (sha256 {model.sha256}{repaired if model.repairs else ''})"
    elif fresh and model.source:
        origin = f" from {model.source}, converted"
    typer.echo(
        f"{verb} {model.name} ({model.format}, {size:.2f} GB){origin} at {model.path}; use it with --model {model.name}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("pull", context_settings=CONTEXT)(pull)
