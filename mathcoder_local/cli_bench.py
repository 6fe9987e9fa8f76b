"""The `bench` command: argument translation over mathcoder_local.bench (issue 5)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from mathcoder_local.cli_common import CONTEXT, fail, user_errors


def bench(
    dataset: str = typer.Option(
        "nano", "--dataset", "-d", help="gsm8k, MATH, MATH-500, svamp, mathematics, simuleq, nano, or a JSONL path."
    ),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where datasets live (default: user dir)."),
    question_field: Optional[str] = typer.Option(None, "--question-field", help="Question field of a JSONL."),
    answer_field: Optional[str] = typer.Option(None, "--answer-field", help="Answer field of a JSONL."),
    subset: Optional[str] = typer.Option(None, "--subset", help="e.g. 'level=5', 'subject=Algebra', 'Level 5'."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Only the first N problems (after --subset)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="A GGUF path or a name from `mathcoder-local models` (default: bundled nano)."
    ),
    format: Optional[str] = typer.Option(None, "--format", help="mathcoder or tora (default: detected)."),
    system: str = typer.Option("", "--system", help="System text for the MathCoder prompt."),
    parallel: int = typer.Option(
        1, "--parallel", "-p", help="Problems decoded together in one batch (with --server: at a time per server)."
    ),
    server: Optional[List[str]] = typer.Option(
        None, "--server", help="Run the model on this server (OpenAI-compatible or TGI); repeat to spread the problems."
    ),
    server_kind: str = typer.Option("auto", "--server-kind", help="auto, openai or tgi (auto: detected)."),
    samples: int = typer.Option(1, "--samples", "-k", help="Samples per problem; K > 1 scores the majority vote."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: user dir/runs/...)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out, skipping finished problems."),
    ctx: int = typer.Option(4096, "--ctx", help="Context window per problem, in tokens."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", help="CPU threads (default: llama.cpp's)."),
    n_gpu_layers: Optional[int] = typer.Option(None, "--n-gpu-layers", "-ngl", help="Layers to offload."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (each problem and sample derives its own)."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 decodes greedily."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling threshold."),
    grammar: Optional[bool] = typer.Option(None, "--grammar/--no-grammar", help="Block grammar (default: mathcoder)."),
    max_blocks: Optional[int] = typer.Option(None, "--max-blocks", help="Round limit (default: the format's)."),
    max_block_tokens: int = typer.Option(1024, "--max-block-tokens", help="Token limit for one block."),
    max_tokens: int = typer.Option(4096, "--max-tokens", help="Token limit for one answer."),
    timeout: float = typer.Option(6.0, "--timeout", help="Seconds each code block may run."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json's content at the end, no progress bar."),
) -> None:
    """Score a model on a dataset: batched, resumable, results in DIR/results.jsonl and DIR/metrics.json."""
    if limit is not None and limit < 1:
        fail("--limit must be at least 1")
    if max_blocks is not None and max_blocks < 1:
        fail("--max-blocks must be at least 1")
    from mathcoder_local.bench.config import BenchSettings
    from mathcoder_local.bench.runner import BenchFinished, BenchStarted, run_bench
    from mathcoder_local.solve import EngineOptions
    from mathcoder_local.solver import SolveLimits

    settings = BenchSettings(
        format=format,
        system=system,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        samples=samples,
        grammar=grammar,
        limits=SolveLimits(max_rounds=max_blocks, max_block_tokens=max_block_tokens, max_tokens=max_tokens),
        timeout=timeout,
        n_ctx=ctx,
    )
    events = run_bench(
        dataset=dataset,
        data_dir=data_dir,
        question_field=question_field,
        answer_field=answer_field,
        subset=subset,
        limit=limit,
        model=model,
        engine_options=EngineOptions(n_ctx=ctx, n_threads=threads, n_gpu_layers=n_gpu_layers, seed=seed),
        parallel=parallel,
        settings=settings,
        out=out,
        resume=resume,
        servers=tuple(server or ()),
        server_kind=server_kind,
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


def register(app: typer.Typer) -> None:
    app.command(context_settings=CONTEXT)(bench)
