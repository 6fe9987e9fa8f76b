"""`solve` as a plain function: load the model, pick the format, run the loop, yield its events.

The CLI only translates arguments into this call; the TUI and the bench call the same pieces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from mathcoder_local.engine.base import Engine
from mathcoder_local.errors import UserError
from mathcoder_local.events import SolveEvent
from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver
from mathcoder_local.store.resolve import chosen_model, resolve_model, resolve_model_name

if TYPE_CHECKING:
    from mathcoder_local.engine.remote import RemoteOptions, ServerInfo


@dataclass(frozen=True)
class EngineOptions:
    """Where and how the model runs: speed and memory, never the transcript (sampling is `SolveConfig`'s)."""

    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int | None = None  # None: all layers when the build supports offload, else 0


def load_engine(
    model: str | os.PathLike[str] | None,
    options: EngineOptions = EngineOptions(),
    *,
    servers: Sequence[str] = (),
    server_kind: str = "auto",
) -> Engine:
    """The in-process llama.cpp engine; with `servers`, a remote engine on the first server that answers."""
    if servers:
        return load_remote_engine(model, servers, kind=server_kind, n_ctx=options.n_ctx)
    from mathcoder_local.engine.llama import LlamaEngine  # llama_cpp loads only when a model is needed

    return LlamaEngine(
        resolve_model(model),
        n_ctx=options.n_ctx,
        n_threads=options.n_threads,
        n_gpu_layers=options.n_gpu_layers,
    )


def remote_vocabulary(model: str | os.PathLike[str] | None, info: ServerInfo) -> str:
    """The GGUF whose vocabulary the served model has: --model (or $MATHCODER_LOCAL_MODEL) when given, else the
    file, registered name or catalog name the server reports as its model."""
    if chosen_model(model):
        return resolve_model(model)
    reported = info.model_id
    if reported:
        try:
            found = resolve_model_name(reported)
        except UserError:
            found = None
        if found is not None and Path(found).is_file():
            return found
    about = f" (it reports {reported!r})" if reported else ""
    raise UserError(
        f"--server needs the model's vocabulary here: pass --model NAME or PATH.gguf for the model {info.url} "
        f"serves{about}"
    )


def load_remote_engine(
    model: str | os.PathLike[str] | None,
    servers: Sequence[str],
    *,
    kind: str = "auto",
    n_ctx: int = EngineOptions.n_ctx,
    options: RemoteOptions | None = None,
) -> Engine:
    from mathcoder_local.engine.remote import RemoteOptions, ServerDown, make_engine, probe_server

    options = options or RemoteOptions()
    first_down: ServerDown | None = None
    for url in servers:
        try:
            info = probe_server(url, kind, options)
        except ServerDown as exc:  # one problem: the first server that answers does it
            first_down = first_down or exc
            continue
        vocab = remote_vocabulary(model, info)
        return make_engine(info, vocab, n_ctx=n_ctx, options=options)
    assert first_down is not None
    raise first_down


def make_solver(
    engine: Engine,
    config: SolveConfig = SolveConfig(),
    *,
    session_factory: Callable[[ExecutorLimits], ExecutorSession] | None = None,
) -> Solver:
    """A solver for `engine` with the format `config` names (detected from the model when it names none)."""
    from mathcoder_local.formats import make_format

    fmt = make_format(engine, config.validated().format, system=config.system)
    return Solver(engine, fmt, config, session_factory=session_factory)


def solve(
    question: str,
    *,
    model: str | os.PathLike[str] | None = None,
    engine_options: EngineOptions = EngineOptions(),
    config: SolveConfig = SolveConfig(),
    should_stop: Callable[[], bool] = lambda: False,
    servers: Sequence[str] = (),
    server_kind: str = "auto",
) -> Iterator[SolveEvent]:
    """Solve one question; yields the loop's events, the last one `Finished`. With `servers`, the model runs on
    the first of them that answers (OpenAI-compatible or TGI); the code still runs here. The engine loaded
    here is closed when the events end (or the caller stops pulling them)."""
    if not question.strip():
        raise UserError("the question is empty: pass it as an argument, with --file, or on stdin with -")
    config.validated()
    engine = load_engine(model, engine_options, servers=servers, server_kind=server_kind)
    try:
        solver = make_solver(engine, config)
        yield from solver.solve(question, should_stop=should_stop)
    finally:
        engine.close()
