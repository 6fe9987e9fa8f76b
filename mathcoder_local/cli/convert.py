"""The `convert` command: argument translation over `mathcoder_local.convert`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mathcoder_local.cli.common import fail, user_errors
from mathcoder_local.cli.options import Format, Quant, enum_value


def convert(
    source: Optional[str] = typer.Argument(
        None, help="Checkpoint folder, or a hub id (MathLLM/MathCoder-CL-7B) from the local Hugging Face cache."
    ),
    outtype: Quant = typer.Option(Quant("f16"), "--outtype", help="Tensor type of the GGUF."),
    outfile: Optional[Path] = typer.Option(None, "--outfile", "-o", help="Output path (default: NAME.TYPE.gguf)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be written; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    download: bool = typer.Option(False, "--download", help="Fetch a hub id with huggingface_hub if not cached."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision (branch, tag or commit)."),
    format: Format = None,
    rope_freq_base: Optional[float] = typer.Option(None, "--rope-freq-base", help="Override config.json's rope_theta."),
    verify: Optional[Path] = typer.Option(None, "--verify", help="Verify an existing GGUF (against SOURCE if given)."),
    repair: Optional[Path] = typer.Option(
        None,
        "--repair",
        metavar="FILE",
        help="Rewrite a GGUF's metadata for the loop (control tokens, end of turn, prompt format; tensors copied "
        "unchanged) into --outfile (default: NAME.repaired.gguf beside it).",
    ),
    pre: Optional[str] = typer.Option(
        None,
        "--pre",
        metavar="NAME",
        help="Force llama.cpp's pre-tokenizer for a byte-level BPE tokenizer.json (e.g. qwen2, deepseek-llm, "
        "llama-bpe) instead of the one identified from it; warns.",
    ),
) -> None:
    """Convert a Hugging Face checkpoint (Llama or Qwen2) to GGUF, special tokens kept; verify or repair a GGUF."""
    from rich.console import Console
    from rich.markup import escape

    from mathcoder_local.cli.convert_view import print_checks, print_plan, progress_bar

    console = Console(highlight=False)
    with user_errors():
        from mathcoder_local.convert import VerificationFailed, convert_checkpoint, make_plan, verify_gguf

        if verify is not None and repair is not None:
            fail("give --verify FILE or --repair FILE, not both")
        if verify is not None or repair is not None:
            # options of a conversion mean nothing to a file that exists: say so rather than ignore them
            given = [
                name
                for name, value in (
                    ("--dry-run", dry_run),
                    ("--download", download),
                    ("--revision", revision),
                    ("--rope-freq-base", rope_freq_base),
                    ("--pre", pre),
                    ("--outtype", outtype.value != "f16"),
                )
                if value
            ]
            if verify is not None:
                given += [n for n, v in (("--outfile", outfile), ("--force", force), ("--format", format)) if v]
            if given:
                mode = "--verify" if verify is not None else "--repair"
                fail(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to {mode}; drop it")
        if verify is not None:
            checks, warnings = verify_gguf(verify, checkpoint=source)
            print_checks(console, checks, warnings, path=verify)
            if not all(c.ok for c in checks):
                raise typer.Exit(1)
            return
        if repair is not None:
            from mathcoder_local.cli.convert_view import copy_progress, print_repair
            from mathcoder_local.convert import repair_gguf

            if source is not None:
                fail("--repair takes the GGUF alone: convert --repair FILE [--outfile OUT] [--format NAME] [--force]")
            with copy_progress(console, repair) as advance:
                report = repair_gguf(repair, outfile, fmt=enum_value(format), force=force, progress=advance)
            print_repair(console, report)
            if report.remaining:
                raise typer.Exit(1)
            return
        if source is None:
            fail("give a checkpoint folder or hub id to convert, or --verify FILE")
        plan = make_plan(
            source,
            outtype=str(outtype.value),
            outfile=outfile,
            revision=revision,
            download=download,
            prompt_format=enum_value(format),
            rope_freq_base=rope_freq_base,
            pre=pre,
        )
        for warning in plan.warnings:
            console.print(f"[bold red]{escape(warning)}[/bold red]")  # warnings may quote regexes with [ ]
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
