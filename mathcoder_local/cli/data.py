"""The `data` commands (`list`, `pull`, `show`): argument translation over mathcoder_local.datasets."""

from __future__ import annotations

from typing import Optional

import typer

from mathcoder_local.cli.common import CONTEXT, user_errors
from mathcoder_local.cli.options import AnswerField, DataDir, Limit, QuestionField, Subset

data_app = typer.Typer(
    name="data",
    help="Evaluation sets: list what is known and present, pull one from the Hugging Face hub, show one.",
    context_settings=CONTEXT,
    no_args_is_help=True,
)


@data_app.command("list", context_settings=CONTEXT)
def list_command(
    data_dir: DataDir = None,
) -> None:
    """Show the known sets, which are present in the data directory, and where each comes from."""
    from rich.console import Console
    from rich.table import Table

    from mathcoder_local.datasets import data_home, dataset_status
    from mathcoder_local.datasets.registry import data_home_origin

    with user_errors():
        statuses = dataset_status(data_dir)
    console = Console(highlight=False)
    console.print(f"data directory: {data_home(data_dir)} ({data_home_origin(data_dir)})")
    table = Table(show_lines=False)
    for column in ("name", "what", "records", "present", "source"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        entry = status.entry
        aliases = [a for a in entry.aliases if a.lower() != entry.name]
        name = entry.name + (f" ({', '.join(aliases)})" if aliases else "")
        if not status.present:
            present = "[red]missing[/red]"
        elif status.count == entry.count:
            present = f"[green]yes[/green] ({status.count}) {status.path}"
        else:  # a different file under the set's name: it loads, but results will not compare with the papers'
            present = f"[yellow]yes ({status.count} record{'' if status.count == 1 else 's'})[/yellow] {status.path}"
        source = entry.source()
        if status.pulled and status.pulled.get("commit"):
            source += f"\npulled at {status.pulled['commit'][:12]}"
        table.add_row(name, entry.title, str(entry.count), present, source)
    console.print(table)


@data_app.command("pull", context_settings=CONTEXT)
def pull_command(
    name: str = typer.Argument(..., help="A known set: gsm8k, math, math500 (sets without a hub copy say so)."),
    data_dir: DataDir = None,
    revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision (branch, tag or commit)."),
) -> None:
    """Download a set from the Hugging Face hub into the data directory (the only command that goes online)."""
    from mathcoder_local.datasets import known, pull_dataset
    from mathcoder_local.datasets.status import count_records

    with user_errors():
        entry = known(name)
        path = pull_dataset(entry.name, data_dir=data_dir, revision=revision, progress=True)
    if entry.bundled:
        typer.echo(f"{entry.name} ships with mathcoder-local: {path}")
        return
    count = count_records(path)
    typer.echo(f"wrote {path} ({count} records)")
    if count != entry.count:
        typer.echo(f"warning: {entry.name} should have {entry.count} records, the hub's copy has {count}", err=True)


@data_app.command("show", context_settings=CONTEXT)
def show_command(
    dataset: str = typer.Argument(..., help="A known set (gsm8k, MATH, MATH-500, ...) or a .jsonl file."),
    data_dir: DataDir = None,
    subset: Subset = None,
    limit: Limit = None,
    question_field: QuestionField = None,
    answer_field: AnswerField = None,
    id_field: Optional[str] = typer.Option(None, "--id-field", help="Id field (default: id, idx, unique_id)."),
) -> None:
    """Print a set's problems as read for evaluation: one JSON object per line (id, question, answer, ...)."""
    import json

    from mathcoder_local.datasets import load_dataset, select

    with user_errors():
        problems = load_dataset(
            dataset, data_dir=data_dir, question_field=question_field, answer_field=answer_field, id_field=id_field
        )
        chosen = select(problems, subset=subset, limit=limit)
    for problem in chosen:
        typer.echo(json.dumps(problem.to_dict(), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the root app."""
    app.add_typer(data_app, name="data")
