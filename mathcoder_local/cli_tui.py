"""The `tui` command: argument translation only; the app is mathcoder_local.tui."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from mathcoder_local.cli_common import CONTEXT, fail


class _Format(str, Enum):
    mathcoder = "mathcoder"
    tora = "tora"


def tui(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Path to a GGUF model (default: settings)."),
    format: Optional[_Format] = typer.Option(
        None, "--format", help="Prompt format (default: settings, else detected)."
    ),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="0 decodes greedily."),
    max_blocks: Optional[int] = typer.Option(None, "--max-blocks", help="Round limit (default: the format's)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds each code block may run."),
    grammar: Optional[bool] = typer.Option(None, "--grammar/--no-grammar", help="Constrain output to blocks."),
    ctx: int = typer.Option(4096, "--ctx", help="Context window in tokens."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", help="CPU threads (default: llama.cpp's)."),
    n_gpu_layers: Optional[int] = typer.Option(
        None, "--n-gpu-layers", "-ngl", help="Layers to offload (default: all if the build has a GPU, else 0)."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    bench: Optional[Path] = typer.Option(None, "--bench", help="Open this bench output folder in the browser."),
) -> None:
    """The terminal app: solve problems with a live transcript, history, settings, bench browser.

    Options given here apply to this session on top of the saved settings (F2 saves settings).
    """
    from mathcoder_local.errors import UserError
    from mathcoder_local.settings import Settings
    from mathcoder_local.solve import EngineOptions

    overrides: dict[str, object] = {}
    for key, value in (
        ("model", model),
        ("format", format.value if format else None),
        ("temperature", temperature),
        ("max_blocks", max_blocks),
        ("timeout", timeout),
        ("grammar", grammar),
    ):
        if value is not None:
            overrides[key] = value
    try:
        Settings(**overrides).validated()  # type: ignore[arg-type]
    except UserError as exc:
        fail(str(exc).replace("settings: ", "--").replace("max_blocks", "max-blocks"))
    if model is not None and not Path(model).expanduser().is_file():
        fail(f"model file not found: {model}")
    if bench is not None and not bench.exists():
        fail(f"no such bench folder: {bench}")

    from mathcoder_local.tui.app import MathcoderApp, run_app

    app = MathcoderApp(
        overrides=overrides,
        engine_options=EngineOptions(n_ctx=ctx, n_threads=threads, n_gpu_layers=n_gpu_layers, seed=seed),
        bench=bench,
    )
    run_app(app)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("tui", context_settings=CONTEXT)(tui)
