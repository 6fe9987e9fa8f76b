"""The app's one engine and its solves, with no UI: every method here blocks and runs in a thread worker.

`EngineHost` loads a model (converting the bundled one on first use) and runs the ordinary solve loop
(`make_solver(...).solve`) for a `SolveRun`. The run is the hand-over between threads: the worker appends the
loop's events to `run.events` without ever waiting on the UI, and the UI drains them on a timer. `run.cancel()`
(the Esc key) sets the loop's `should_stop` and kills the executor worker if code is running right now.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mathcoder_local.engine.base import Engine
from mathcoder_local.events import Block, BlockEnded, Finished, Rounds, SolveEvent, SolveStarted, SolveStats
from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.session import DEFAULT_PRELOAD, CellResult, ExecutorLimits, ExecutorSession
from mathcoder_local.settings import Settings
from mathcoder_local.solve import EngineOptions, load_engine
from mathcoder_local.solve_config import SolveConfig

EngineLoader = Callable[[str, EngineOptions], Engine]


class _StoppableSession(ExecutorSession):
    """An executor session the UI thread can stop: no new block starts after a stop, and a running one is
    killed (its process group), so the loop's `session.run` returns at once and the loop sees the stop."""

    def __init__(self, limits: ExecutorLimits, stop: threading.Event, forkserver: ForkServer | None = None) -> None:
        super().__init__(limits, start=False, forkserver=forkserver)
        self._stop = stop

    def run(self, code: str) -> CellResult:
        if self._stop.is_set():
            msg = "Cancelled: generation was stopped before this block ran"
            return CellResult(error="Cancelled", error_line=msg, traceback=msg)
        return super().run(code)


class SolveRun:
    """One solve in progress: its question and settings, the events so far, the stop flag."""

    def __init__(self, question: str, settings: Settings) -> None:
        self.question = question
        self.settings = settings
        self.events: deque[SolveEvent] = deque()  # appended by the worker thread, drained by the UI
        self.stop = threading.Event()
        self.done = threading.Event()
        self.error: str | None = None  # set (before `done`) when the solve failed
        self.started: float | None = None  # perf_counter when generation began (after the model was free)
        self.engine: Engine | None = None
        self.tokens_at_start = 0
        self._session: _StoppableSession | None = None

    def new_session(self, limits: ExecutorLimits, forkserver: ForkServer | None = None) -> ExecutorSession:
        session = _StoppableSession(limits, self.stop, forkserver)
        self._session = session
        return session

    def cancel(self) -> None:
        """Stop generating and kill the executor worker; the loop then ends with finish reason "cancelled"."""
        self.stop.set()
        session = self._session
        if session is not None:
            session.interrupt()

    @property
    def generated_tokens(self) -> int:
        engine = self.engine
        return engine.counters.sampled_tokens - self.tokens_at_start if engine is not None else 0


@dataclass(frozen=True)
class LoadedModel:
    path: str
    format: str  # detected (or chosen) prompt format
    seconds: float


class EngineHost:
    """Owns the engine. `load` and `solve` take the same lock, so a solve waits for a loading model.

    Executor sessions are forked from one warm fork server (as the bench does), started at the first code
    block: a problem's code then starts in milliseconds instead of an interpreter start and the numpy/sympy
    import (about 0.3 s of CPU) per problem.
    """

    def __init__(
        self,
        loader: EngineLoader | None = None,
        options: EngineOptions = EngineOptions(),
        *,
        seed: int = SolveConfig.seed,
    ) -> None:
        self.loader: EngineLoader = loader or load_engine
        self.options = options
        self.seed = seed  # sampling seed of every solve
        self.lock = threading.Lock()
        self.engine: Engine | None = None
        self.loaded: LoadedModel | None = None
        self._forkserver: ForkServer | None = None
        self._forkserver_lock = threading.Lock()

    @staticmethod
    def resolve(model: str | None, on_status: Callable[[str], None] = lambda s: None) -> str:
        """The settings' model, else $MATHCODER_LOCAL_MODEL, else the bundled model (converted on first use),
        resolved as every command resolves `--model`; preparing the bundled model is reported to `on_status`."""
        from mathcoder_local.store.resolve import resolve_model

        return resolve_model(model, on_status=on_status)

    def load(self, settings: Settings, on_status: Callable[[str], None] = lambda s: None) -> LoadedModel:
        """Load the settings' model in place of the current one (blocking)."""
        from mathcoder_local.formats import make_format

        with self.lock:
            self._close_engine()
            t0 = time.perf_counter()
            path = self.resolve(settings.model, on_status)
            on_status(f"loading {Path(path).name}")
            engine = self.loader(path, self.options)
            try:
                fmt = make_format(engine, settings.format).name
            except BaseException:
                _close(engine)
                raise
            self.engine = engine
            self.loaded = LoadedModel(path, fmt, time.perf_counter() - t0)
            return self.loaded

    def solve(self, run: SolveRun) -> None:
        """Run the solve loop for `run` (blocking); its events go to `run.events`. Never raises."""
        from mathcoder_local.solve import make_solver

        blocks: list[Block] = []
        started: SolveStarted | None = None
        rounds: Rounds | None = None
        try:
            with self.lock:
                engine = self.engine
                if engine is None:
                    raise RuntimeError("no model is loaded (choose one in Settings, F2)")
                solver = make_solver(
                    engine,
                    run.settings.solve_config(seed=self.seed),
                    session_factory=lambda limits: run.new_session(limits, self._fork_server()),
                )
                run.engine, run.tokens_at_start = engine, engine.counters.sampled_tokens
                run.started = time.perf_counter()
                try:
                    for event in solver.solve(run.question, should_stop=run.stop.is_set):
                        if isinstance(event, SolveStarted):
                            started, rounds = event, event.rounds
                        elif isinstance(event, BlockEnded):
                            blocks.append(event.block)
                            rounds = event.rounds or rounds
                        run.events.append(event)
                except Exception:
                    if not run.stop.is_set():
                        raise
                    # Killing the executor mid-start makes the session raise; a stop asked for it: cancelled.
                    seconds = time.perf_counter() - run.started
                    stats = SolveStats(generated_tokens=run.generated_tokens, seconds=seconds)
                    fmt = started.format if started is not None else solver.format.name
                    run.events.append(Finished("", "cancelled", fmt, tuple(blocks), stats, rounds))
        except Exception as exc:  # noqa: BLE001 - shown to the user as a notification, never a traceback
            run.error = str(exc) or type(exc).__name__
        finally:
            run.done.set()

    def _fork_server(self) -> ForkServer:
        with self._forkserver_lock:
            if self._forkserver is None:
                self._forkserver = ForkServer(DEFAULT_PRELOAD)
            return self._forkserver

    def _close_engine(self) -> None:
        engine, self.engine, self.loaded = self.engine, None, None
        if engine is not None:
            _close(engine)

    def close(self, timeout: float = 5.0) -> None:
        """Free the model (waits for a solve in progress to notice its stop flag)."""
        if self.lock.acquire(timeout=timeout):
            try:
                self._close_engine()
            finally:
                self.lock.release()
        with self._forkserver_lock:
            server, self._forkserver = self._forkserver, None
        if server is not None:
            server.close()


def _close(engine: Engine) -> None:
    close = getattr(engine, "close", None)
    if close is not None:
        close()
