"""The `tui` command: argument translation only; the app is mathcoder_local.tui."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from mathcoder_local.cli.common import CONTEXT, fail
from mathcoder_local.cli.options import (
    FORMAT,
    GRAMMAR,
    MAX_BLOCKS,
    MODEL,
    TEMPERATURE,
    TIMEOUT,
    Ctx,
    D,
    E,
    FormatName,
    GpuLayers,
    Seed,
    Threads,
    engine_options,
    enum_value,
    with_help,
)

SAVED = "(default: the saved settings)"


def tui(
    # The solve options default to None here: given, they override the saved settings for this session.
    model: Annotated[Optional[str], with_help(MODEL, f"A GGUF path or a model name {SAVED}.")] = None,
    format: Annotated[Optional[FormatName], with_help(FORMAT, f"Prompt format {SAVED}, else detected.")] = None,
    temperature: Annotated[Optional[float], with_help(TEMPERATURE, f"0 decodes greedily {SAVED}.")] = None,
    max_blocks: Annotated[Optional[int], with_help(MAX_BLOCKS, f"Round limit {SAVED}, else the format's.")] = None,
    timeout: Annotated[Optional[float], with_help(TIMEOUT, f"Seconds each code block may run {SAVED}.")] = None,
    grammar: Annotated[Optional[bool], with_help(GRAMMAR, f"Constrain output to well-formed blocks {SAVED}.")] = None,
    ctx: Ctx = E.n_ctx,
    threads: Threads = E.n_threads,
    n_gpu_layers: GpuLayers = E.n_gpu_layers,
    seed: Seed = D.seed,
    bench: Optional[Path] = typer.Option(None, "--bench", help="Open this bench output folder in the browser."),
) -> None:
    """The terminal app: solve problems with a live transcript, history, settings, bench browser.

    Options given here apply to this session on top of the saved settings (F2 saves settings).
    """
    from mathcoder_local.errors import UserError
    from mathcoder_local.settings import Settings

    overrides: dict[str, object] = {}
    for key, value in (
        ("model", model),
        ("format", enum_value(format)),
        ("temperature", temperature),
        ("max_blocks", max_blocks),
        ("timeout", timeout),
        ("grammar", grammar),
    ):
        if value is not None:
            overrides[key] = value
    try:
        Settings(**overrides).solve_config(seed=seed).validated()  # type: ignore[arg-type]
    except UserError as exc:
        fail(str(exc))
    if model is not None:
        from mathcoder_local.store import check_model

        try:
            check_model(model)  # a GGUF path, a registered name, the bundled model, a catalog name pulled here
        except UserError as exc:
            fail(str(exc))
    if bench is not None and not bench.exists():
        fail(f"no such bench folder: {bench}")

    from mathcoder_local.tui.app import MathcoderApp, run_app

    app = MathcoderApp(
        overrides=overrides,
        engine_options=engine_options(ctx=ctx, threads=threads, n_gpu_layers=n_gpu_layers),
        bench=bench,
        seed=seed,
    )
    run_app(app)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("tui", context_settings=CONTEXT)(tui)
