"""The `solve` command: argument translation over `mathcoder_local.solve.solve`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from mathcoder_local.cli.common import fail, user_errors
from mathcoder_local.cli.options import (
    Ctx,
    D,
    E,
    Format,
    GpuLayers,
    Grammar,
    Json,
    MaxBlocks,
    MaxBlockTokens,
    MaxTokens,
    Model,
    Seed,
    ServerKind,
    ServerKindOption,
    Servers,
    System,
    Temperature,
    Threads,
    Timeout,
    TopP,
    engine_options,
    solve_config,
)


def _read_question(question: Optional[str], file: Optional[Path]) -> str:
    if file is not None and question is not None:
        fail("give the question as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
    if question is None:
        fail('no question: pass it as an argument ("..."), with --file PATH, or on stdin with -')
    if question == "-":
        return sys.stdin.read()
    return question  # type: ignore[return-value]


def solve(
    question: Optional[str] = typer.Argument(None, help="The problem; '-' reads it from stdin."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read the problem from a file."),
    model: Model = None,
    format: Format = None,
    system: System = D.system,
    server: Servers = None,
    server_kind: ServerKindOption = ServerKind("auto"),
    ctx: Ctx = E.n_ctx,
    threads: Threads = E.n_threads,
    n_gpu_layers: GpuLayers = E.n_gpu_layers,
    seed: Seed = D.seed,
    temperature: Temperature = D.temperature,
    top_p: TopP = D.top_p,
    grammar: Grammar = D.grammar,
    max_blocks: MaxBlocks = D.max_rounds,
    max_block_tokens: MaxBlockTokens = D.max_block_tokens,
    max_tokens: MaxTokens = D.max_tokens,
    timeout: Timeout = D.timeout,
    as_json: Json = False,
) -> None:
    """Solve one problem, running the model's code as it goes."""
    from mathcoder_local.events import Finished
    from mathcoder_local.solve import solve as run_solve

    text = _read_question(question, file)
    with user_errors():
        config = solve_config(locals())
        events = run_solve(
            text,
            model=model,
            engine_options=engine_options(ctx=ctx, threads=threads, n_gpu_layers=n_gpu_layers),
            config=config,
            servers=tuple(server or ()),
            server_kind=str(server_kind.value),
        )
        if as_json:
            for event in events:
                if isinstance(event, Finished):
                    typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
            return
        from rich.console import Console

        from mathcoder_local.cli.render import TranscriptPrinter

        printer = TranscriptPrinter(Console(highlight=False))
        for event in events:
            printer(event)
