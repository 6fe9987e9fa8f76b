"""`solve` as a plain function: load the model, pick the format, run the loop, yield its events.

The CLI only translates arguments into this call; the TUI and the bench call the same pieces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

from mathcoder_local.engine.base import Engine, SamplingParams
from mathcoder_local.errors import UserError
from mathcoder_local.events import SolveEvent
from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
from mathcoder_local.solver import SolveLimits, Solver


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int | None = None  # None: all layers when the build supports offload, else 0
    seed: int = 0


def resolve_model(model: str | os.PathLike[str] | None) -> str:
    """--model, else $MATHCODER_LOCAL_MODEL, else the bundled nano model (converted on first use)."""
    chosen = model or os.environ.get("MATHCODER_LOCAL_MODEL")
    if chosen:
        return os.fspath(chosen)
    from mathcoder_local.default_model import default_model_path

    return os.fspath(default_model_path())


def load_engine(model: str | os.PathLike[str] | None, options: EngineOptions = EngineOptions()) -> Engine:
    from mathcoder_local.engine.llama import LlamaEngine  # llama_cpp loads only when a model is needed

    return LlamaEngine(
        resolve_model(model),
        n_ctx=options.n_ctx,
        n_threads=options.n_threads,
        n_gpu_layers=options.n_gpu_layers,
        seed=options.seed,
    )


def make_solver(
    engine: Engine,
    *,
    format: str | None = None,
    system: str = "",
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    grammar: bool | None = None,
    limits: SolveLimits = SolveLimits(),
    timeout: float = 6.0,
    session_factory: Callable[[ExecutorLimits], ExecutorSession] | None = None,
) -> Solver:
    from mathcoder_local.formats import make_format

    fmt = make_format(engine, format, system=system)
    use_grammar = (fmt.name == "mathcoder") if grammar is None else grammar
    if use_grammar and fmt.grammar() is None:
        raise UserError(f"the {fmt.name} format has no grammar; drop --grammar")
    if timeout <= 0:
        raise UserError("--timeout must be a positive number of seconds")
    return Solver(
        engine,
        fmt,
        sampling=SamplingParams(temperature=temperature, top_p=top_p, seed=seed),
        limits=limits,
        grammar=use_grammar,
        executor_limits=ExecutorLimits(timeout=timeout),
        session_factory=session_factory,
    )


def solve(
    question: str,
    *,
    model: str | os.PathLike[str] | None = None,
    engine_options: EngineOptions = EngineOptions(),
    format: str | None = None,
    system: str = "",
    temperature: float = 0.0,
    top_p: float = 1.0,
    grammar: bool | None = None,
    limits: SolveLimits = SolveLimits(),
    timeout: float = 6.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[SolveEvent]:
    """Solve one question; yields the loop's events, the last one `Finished`."""
    if not question.strip():
        raise UserError("the question is empty: pass it as an argument, with --file, or on stdin with -")
    engine = load_engine(model, engine_options)
    solver = make_solver(
        engine,
        format=format,
        system=system,
        temperature=temperature,
        top_p=top_p,
        seed=engine_options.seed,
        grammar=grammar,
        limits=limits,
        timeout=timeout,
    )
    yield from solver.solve(question, should_stop=should_stop)
