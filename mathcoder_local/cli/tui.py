"""The `tui` command: argument translation only; the app is mathcoder_local.tui."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from mathcoder_local.cli.common import CONTEXT, fail
from mathcoder_local.cli.options import (
    GRAMMAR,
    MAX_BLOCKS,
    MODEL,
    TEMPERATURE,
    TIMEOUT,
    Ctx,
    E,
    Format,
    GpuLayers,
    Seed,
    Threads,
    engine_options,
    enum_value,
)


def tui(
    # The solve options default to None here: given, they override the saved settings for this session.
    model: Annotated[Optional[str], MODEL] = None,
    format: Format = None,
    temperature: Annotated[Optional[float], TEMPERATURE] = None,
    max_blocks: Annotated[Optional[int], MAX_BLOCKS] = None,
    timeout: Annotated[Optional[float], TIMEOUT] = None,
    grammar: Annotated[Optional[bool], GRAMMAR] = None,
    ctx: Ctx = E.n_ctx,
    threads: Threads = E.n_threads,
    n_gpu_layers: GpuLayers = E.n_gpu_layers,
    seed: Seed = E.seed,
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
        Settings(**overrides).validated().solve_config(seed=seed).validated()  # type: ignore[arg-type]
    except UserError as exc:
        fail(str(exc).replace("settings: ", "--").replace("max_blocks", "max-blocks"))
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
        engine_options=engine_options(ctx=ctx, threads=threads, n_gpu_layers=n_gpu_layers, seed=seed),
        bench=bench,
    )
    run_app(app)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("tui", context_settings=CONTEXT)(tui)
