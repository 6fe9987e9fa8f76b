"""The `bench` command: argument translation over `mathcoder_local.bench`."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from mathcoder_local.cli.common import fail, user_errors
from mathcoder_local.cli.options import (
    CTX,
    SEED,
    SERVERS,
    AnswerField,
    D,
    DataDir,
    E,
    Format,
    GpuLayers,
    Grammar,
    Limit,
    MaxBlocks,
    MaxBlockTokens,
    MaxTokens,
    Model,
    QuestionField,
    ServerKind,
    ServerKindOption,
    Subset,
    System,
    Temperature,
    Threads,
    Timeout,
    TopP,
    engine_options,
    solve_config,
    with_help,
)


def bench(
    dataset: str = typer.Option(
        "nano", "--dataset", "-d", help="gsm8k, MATH, MATH-500, svamp, mathematics, simuleq, nano, or a JSONL path."
    ),
    data_dir: DataDir = None,
    question_field: QuestionField = None,
    answer_field: AnswerField = None,
    subset: Subset = None,
    limit: Limit = None,
    model: Model = None,
    format: Format = None,
    system: System = D.system,
    parallel: int = typer.Option(
        1, "--parallel", "-p", help="Problems decoded together in one batch (with --server: at a time per server)."
    ),
    server: Annotated[
        Optional[List[str]],
        with_help(SERVERS, "Run the model on this server (OpenAI-compatible or TGI); repeat to spread the problems."),
    ] = None,
    server_kind: ServerKindOption = ServerKind("auto"),
    samples: int = typer.Option(1, "--samples", "-k", help="Samples per problem; K > 1 scores the majority vote."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: user dir/runs/...)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out, skipping finished problems."),
    ctx: Annotated[int, with_help(CTX, "Context window per problem, in tokens.")] = E.n_ctx,
    threads: Threads = E.n_threads,
    n_gpu_layers: GpuLayers = E.n_gpu_layers,
    seed: Annotated[int, with_help(SEED, "Sampling seed (each problem and sample derives its own).")] = D.seed,
    temperature: Temperature = D.temperature,
    top_p: TopP = D.top_p,
    grammar: Grammar = D.grammar,
    max_blocks: MaxBlocks = D.max_rounds,
    max_block_tokens: MaxBlockTokens = D.max_block_tokens,
    max_tokens: MaxTokens = D.max_tokens,
    timeout: Timeout = D.timeout,
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json's content at the end, no progress bar."),
) -> None:
    """Score a model on a dataset: batched, resumable, results in DIR/results.jsonl and DIR/metrics.json."""
    if limit is not None and limit < 1:
        fail("--limit must be at least 1")
    from mathcoder_local.bench.config import BenchSettings
    from mathcoder_local.bench.runner import BenchFinished, BenchStarted, run_bench

    with user_errors():
        config = solve_config(locals())
    events = run_bench(
        dataset=dataset,
        data_dir=data_dir,
        question_field=question_field,
        answer_field=answer_field,
        subset=subset,
        limit=limit,
        model=model,
        engine_options=engine_options(ctx=ctx, threads=threads, n_gpu_layers=n_gpu_layers),
        parallel=parallel,
        settings=BenchSettings(solve=config, samples=samples, n_ctx=ctx),
        out=out,
        resume=resume,
        servers=tuple(server or ()),
        server_kind=str(server_kind.value),
    )
    folder: list[Path] = []

    def noting_folder(stream):
        for event in stream:
            if isinstance(event, BenchStarted):
                folder.append(event.out)
            yield event

    events = noting_folder(events)
    with user_errors(), _interrupt_note(folder):
        if as_json:
            final = None
            for event in events:
                if isinstance(event, BenchFinished):
                    final = event
            assert final is not None
            typer.echo(json.dumps(final.metrics, ensure_ascii=False))
        else:
            from rich.console import Console

            from mathcoder_local.bench.view import render

            final = render(Console(highlight=False), events)
    if final is not None and final.interrupted:
        raise typer.Exit(130)


@contextmanager
def _interrupt_note(folder: list[Path]):
    """Ctrl-C: the finished problems are already on disk; say how to go on."""
    try:
        yield
    except KeyboardInterrupt:
        where = f" --out {folder[0]}" if folder else ""
        typer.echo(f"interrupted: finished problems are saved; continue with --resume{where}", err=True)
        raise typer.Exit(130) from None
