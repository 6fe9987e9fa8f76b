"""`solve` as a plain function: load the model, pick the format, run the loop, yield its events.

The CLI only translates arguments into this call; the TUI and the bench call the same pieces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from mathcoder_local.engine.base import Engine, SamplingParams
from mathcoder_local.errors import UserError
from mathcoder_local.events import SolveEvent
from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
from mathcoder_local.solver import SolveLimits, Solver

if TYPE_CHECKING:
    from mathcoder_local.engine.remote import RemoteOptions, ServerInfo


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int | None = None  # None: all layers when the build supports offload, else 0
    seed: int = 0


def resolve_model(model: str | os.PathLike[str] | None) -> str:
    """--model, else $MATHCODER_LOCAL_MODEL, else the bundled nano model (converted on first use).

    The model may be a GGUF path, a name registered with `models add` or `pull`, or a catalog name (its pulled
    copy). Only local files are consulted: resolving a name never touches the network.
    """
    chosen = model or os.environ.get("MATHCODER_LOCAL_MODEL")
    if chosen:
        return resolve_model_name(os.fspath(chosen))
    from mathcoder_local.default_model import default_model_path

    return os.fspath(default_model_path())


def resolve_model_name(name: str) -> str:
    """A path as is; a registered name to its file; a catalog name to its pulled copy; else a one-line error."""
    if Path(name).expanduser().exists():
        return name
    from mathcoder_local import registry
    from mathcoder_local.catalog import load_catalog

    entry = load_catalog().find(name)
    local = registry.find(name) or (registry.find(entry.name) if entry else None)
    if local is not None:
        if not local.present:
            raise UserError(
                f"model {local.name} is registered at {local.path}, which no longer exists; "
                f"`mathcoder-local models remove {local.name}`, then add or pull it again"
            )
        return local.path
    if entry is not None:
        if entry.hub_id is None:
            raise UserError(f"{entry.name} has no published checkpoint to pull; pass --model PATH.gguf if you have one")
        raise UserError(f"{entry.name} is not downloaded yet: run `mathcoder-local pull {entry.name}`")
    if name.endswith(".gguf") or os.sep in name or "/" in name:
        return name  # a path that does not exist: the engine says "model file not found"
    raise UserError(
        f"unknown model {name!r}: not a file, not a registered name and not in the catalog "
        "(`mathcoder-local models` lists them)"
    )


def load_engine(
    model: str | os.PathLike[str] | None,
    options: EngineOptions = EngineOptions(),
    *,
    servers: Sequence[str] = (),
    server_kind: str = "auto",
    prompt_format: str | None = None,
) -> Engine:
    """The in-process llama.cpp engine; with `servers`, a remote engine on the first server that answers."""
    if servers:
        return load_remote_engine(model, servers, kind=server_kind, n_ctx=options.n_ctx, prompt_format=prompt_format)
    from mathcoder_local.engine.llama import LlamaEngine  # llama_cpp loads only when a model is needed

    return LlamaEngine(
        resolve_model(model),
        n_ctx=options.n_ctx,
        n_threads=options.n_threads,
        n_gpu_layers=options.n_gpu_layers,
        seed=options.seed,
    )


def remote_vocabulary(model: str | os.PathLike[str] | None, info: ServerInfo) -> str:
    """The GGUF whose vocabulary the served model has: --model (or $MATHCODER_LOCAL_MODEL) when given, else the
    file, registered name or catalog name the server reports as its model."""
    if model or os.environ.get("MATHCODER_LOCAL_MODEL"):
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
    n_ctx: int = 4096,
    prompt_format: str | None = None,
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
        return make_engine(info, vocab, n_ctx=n_ctx, prompt_format=prompt_format, options=options)
    assert first_down is not None
    raise first_down


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
    servers: Sequence[str] = (),
    server_kind: str = "auto",
) -> Iterator[SolveEvent]:
    """Solve one question; yields the loop's events, the last one `Finished`. With `servers`, the model runs on
    the first of them that answers (OpenAI-compatible or TGI); the code still runs here."""
    if not question.strip():
        raise UserError("the question is empty: pass it as an argument, with --file, or on stdin with -")
    engine = load_engine(model, engine_options, servers=servers, server_kind=server_kind, prompt_format=format)
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
