"""The command line: a thin Typer layer that translates arguments into calls of plain functions.

Heavy modules (llama_cpp, sympy, textual) are imported inside commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from mathcoder_local import __version__, cli_bench, cli_data, cli_exec, cli_grade, cli_models, cli_replay, cli_tui
from mathcoder_local.cli_common import CONTEXT, fail, user_errors
from mathcoder_local.errors import UserError

app = typer.Typer(
    name="mathcoder-local",
    help="Run code-integrated math-reasoning models (MathCoder, ToRA, MuMath-Code) locally on llama.cpp.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class FormatName(str, Enum):
    mathcoder = "mathcoder"
    tora = "tora"


class ServerKind(str, Enum):
    auto = "auto"
    openai = "openai"
    tgi = "tgi"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mathcoder-local {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Run code-integrated math-reasoning models locally."""


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


@app.command(context_settings=CONTEXT)
def solve(
    question: Optional[str] = typer.Argument(None, help="The problem; '-' reads it from stdin."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read the problem from a file."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="A GGUF path, or a name from `mathcoder-local models` (default: bundled nano)."
    ),
    format: Optional[FormatName] = typer.Option(None, "--format", help="Prompt format (default: detected)."),
    system: str = typer.Option("", "--system", help="System text for the MathCoder prompt."),
    server: Optional[List[str]] = typer.Option(
        None, "--server", help="Run the model on this server (OpenAI-compatible or TGI); repeatable: first to answer."
    ),
    server_kind: ServerKind = typer.Option(ServerKind.auto, "--server-kind", help="Server API (auto: detected)."),
    ctx: int = typer.Option(4096, "--ctx", help="Context window in tokens."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", help="CPU threads (default: llama.cpp's)."),
    n_gpu_layers: Optional[int] = typer.Option(
        None, "--n-gpu-layers", "-ngl", help="Layers to offload (default: all if the build has a GPU, else 0)."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 decodes greedily."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling threshold."),
    grammar: Optional[bool] = typer.Option(
        None, "--grammar/--no-grammar", help="Constrain output to well-formed blocks (default: on for mathcoder)."
    ),
    max_blocks: Optional[int] = typer.Option(
        None, "--max-blocks", help="Round limit (default: MathCoder 16 blocks, ToRA 4 code calls)."
    ),
    max_block_tokens: int = typer.Option(1024, "--max-block-tokens", help="Token limit for one block."),
    max_tokens: int = typer.Option(4096, "--max-tokens", help="Token limit for the whole answer."),
    timeout: float = typer.Option(6.0, "--timeout", help="Seconds each code block may run."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the transcript."),
) -> None:
    """Solve one problem, running the model's code as it goes."""
    from mathcoder_local.events import Finished
    from mathcoder_local.solve import EngineOptions
    from mathcoder_local.solve import solve as run_solve
    from mathcoder_local.solver import SolveLimits

    text = _read_question(question, file)
    if max_blocks is not None and max_blocks < 1:
        fail("--max-blocks must be at least 1")
    events = run_solve(
        text,
        model=model,
        engine_options=EngineOptions(n_ctx=ctx, n_threads=threads, n_gpu_layers=n_gpu_layers, seed=seed),
        format=format.value if format else None,
        system=system,
        temperature=temperature,
        top_p=top_p,
        grammar=grammar,
        limits=SolveLimits(max_rounds=max_blocks, max_block_tokens=max_block_tokens, max_tokens=max_tokens),
        timeout=timeout,
        servers=tuple(server or ()),
        server_kind=server_kind.value,
    )
    with user_errors():
        if as_json:
            for event in events:
                if isinstance(event, Finished):
                    typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))
            return
        from rich.console import Console

        from mathcoder_local.render import TranscriptPrinter

        printer = TranscriptPrinter(Console(highlight=False))
        for event in events:
            printer(event)


class OutType(str, Enum):
    f32 = "f32"
    f16 = "f16"
    bf16 = "bf16"
    q8_0 = "q8_0"
    q4_k_m = "q4_k_m"
    q5_k_m = "q5_k_m"
    q6_k = "q6_k"


@app.command(context_settings=CONTEXT)
def convert(
    source: Optional[str] = typer.Argument(
        None, help="Checkpoint folder, or a hub id (MathLLM/MathCoder-CL-7B) from the local Hugging Face cache."
    ),
    outtype: OutType = typer.Option(OutType.f16, "--outtype", help="Tensor type of the GGUF."),
    outfile: Optional[Path] = typer.Option(None, "--outfile", "-o", help="Output path (default: NAME.TYPE.gguf)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be written; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    download: bool = typer.Option(False, "--download", help="Fetch a hub id with huggingface_hub if not cached."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision (branch, tag or commit)."),
    format: Optional[FormatName] = typer.Option(None, "--format", help="Prompt format to record (default: detected)."),
    rope_freq_base: Optional[float] = typer.Option(None, "--rope-freq-base", help="Override config.json's rope_theta."),
    verify: Optional[Path] = typer.Option(None, "--verify", help="Verify an existing GGUF (against SOURCE if given)."),
) -> None:
    """Convert a Hugging Face Llama checkpoint (MathCoder, MuMath-Code, ToRA) to GGUF, special tokens kept."""
    from rich.console import Console

    from mathcoder_local.convert_view import print_checks, print_plan, progress_bar

    console = Console(highlight=False)
    with user_errors():
        from mathcoder_local.convert import VerificationFailed, convert_checkpoint, make_plan, verify_gguf

        if verify is not None:
            checks, warnings = verify_gguf(verify, checkpoint=source)
            print_checks(console, checks, warnings)
            if not all(c.ok for c in checks):
                raise typer.Exit(1)
            return
        if source is None:
            fail("give a checkpoint folder or hub id to convert, or --verify FILE")
        plan = make_plan(
            source,
            outtype=outtype.value,
            outfile=outfile,
            revision=revision,
            download=download,
            prompt_format=format.value if format else None,
            rope_freq_base=rope_freq_base,
        )
        for warning in plan.warnings:
            console.print(f"[bold red]{warning}[/bold red]")
        if dry_run:
            print_plan(console, plan)
            return
        try:
            with progress_bar(console, plan) as advance:
                path, checks, warnings = convert_checkpoint(plan, force=force, progress=advance)
        except VerificationFailed as failed:
            print_checks(console, failed.checks, [])
            raise
        print_checks(console, checks, warnings)
        console.print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


for _module in (cli_data, cli_grade, cli_bench, cli_tui, cli_exec, cli_replay, cli_models):
    _module.register(app)


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
