"""A pool of answer-checking worker processes with a per-check timeout.

Why processes: math-verify drives sympy, which can run for minutes (or forever) on an unlucky answer, and
math-verify's own timeouts use signals, which only work on the main thread. Here each check runs in a
worker process of our own; the parent waits with select(), so any thread may call `check`, and a check that
runs past the timeout gets its worker killed and replaced: the verdict is False and marked timed out.

    with AnswerChecker(workers=2, timeout=5.0) as checker:
        checker.check("\\frac{1}{2}", "0.5").correct          # True
        [v.correct for v in checker.check_many(pairs)]        # all workers busy
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from mathcoder_local.errors import UserError
from mathcoder_local.grading.equivalence import as_text, quick_verdict
from mathcoder_local.procio import LineBuffer, close_quietly, kill_group

DEFAULT_TIMEOUT = 5.0  # seconds per check; math-verify's own default
START_TIMEOUT = 120.0  # seconds for a worker to import sympy and math-verify (slow on a busy machine)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds mathcoder_local/
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from mathcoder_local.grading.worker import main; main()"


@dataclass(frozen=True)
class Verdict:
    correct: bool
    timed_out: bool = False
    error: str | None = None  # the worker failed (crashed, memory limit): the verdict is False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"correct": self.correct, "timed_out": self.timed_out, "error": self.error, "seconds": self.seconds}


class WorkerFailed(UserError):
    """A worker could not be started at all (an environment problem, not a failed check)."""


class _Worker:
    """One worker process, used by one thread at a time (the pool hands it out)."""

    def __init__(self, start: bool = True) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines = LineBuffer(clock=time.monotonic)
        self._ready = False
        self.retired = False  # set when the pool closes: no more restarts
        if start:
            self.spawn()

    def spawn(self) -> None:
        if self.retired:
            return
        # Started without waiting: the imports (about a second) overlap with other work, and the wait for
        # "ready" happens outside any check's timeout.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(PACKAGE_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: killed as a whole, spared the terminal's Ctrl-C
            close_fds=True,
        )
        self._lines.reset()
        self._ready = False

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        kill_group(proc.pid)
        close_quietly(proc.stdin, proc.stdout)
        proc.wait()

    def restart(self) -> None:
        self.kill()
        self.spawn()

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes | None:
        """One reply line, or None on timeout or worker death."""
        assert proc.stdout is not None
        return self._lines.read_line(proc.stdout.fileno(), deadline)

    def _wait_ready(self) -> None:
        if self._ready:
            return
        for _attempt in range(2):
            if self._proc is None:
                raise RuntimeError("the answer checker is closed")
            line = self._read_line(self._proc, time.monotonic() + START_TIMEOUT)
            if line is not None and _decode(line).get("ready"):
                self._ready = True
                return
            self.restart()
        self.kill()
        raise WorkerFailed("the answer-checking worker did not start; check that math-verify is installed")

    def check(self, prediction: str, gold: str, timeout: float, exact_shortcut: bool) -> Verdict:
        if self._proc is None or self._proc.poll() is not None:
            self.restart()  # died between checks (killed from outside): not this answer's fault
        if self._proc is None:
            raise RuntimeError("the answer checker is closed")
        self._wait_ready()
        proc = self._proc  # the pool may close (and kill it) from another thread meanwhile
        assert proc is not None and proc.stdin is not None
        request = json.dumps({"p": prediction, "g": gold, "x": exact_shortcut}).encode() + b"\n"
        start = time.monotonic()
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
            line = self._read_line(proc, start + timeout)
        except (OSError, ValueError):  # a closed pipe: the worker died or the pool closed
            line = None
        seconds = time.monotonic() - start
        if line is None:
            timed_out = proc.poll() is None and seconds >= timeout
            self.restart()
            if timed_out:
                return Verdict(False, timed_out=True, seconds=seconds)
            return Verdict(False, error="the checking worker exited (memory limit or crash)", seconds=seconds)
        reply = _decode(line)
        if "ok" not in reply:
            if "error" not in reply:
                self.restart()  # out of step with the protocol: start clean
            return Verdict(False, error=str(reply.get("error", "unreadable reply")), seconds=seconds)
        return Verdict(bool(reply["ok"]), seconds=seconds)


def _decode(line: bytes) -> dict:
    try:
        reply = json.loads(line)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


class AnswerChecker:
    """Checks answers in `workers` long-lived processes; thread-safe; a context manager."""

    def __init__(
        self, workers: int = 2, timeout: float = DEFAULT_TIMEOUT, *, exact_shortcut: bool = True, lazy: bool = False
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.exact_shortcut = exact_shortcut
        # lazy: workers start at the first check that needs one (a bench whose answers all match exactly
        # never pays for importing sympy beside llama.cpp).
        self._workers = [_Worker(start=not lazy) for _ in range(workers)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for worker in self._workers:
            self._idle.put(worker)
        self._lock = threading.Lock()
        self._closed = False
        self.timeouts = 0  # checks that ran past the timeout since the pool started
        self.errors = 0

    @property
    def size(self) -> int:
        return len(self._workers)

    def check(self, prediction: object, gold: object) -> Verdict:
        """Is `prediction` right for `gold`? Blocks until a worker is free; never raises for a bad answer."""
        pred, ref = as_text(prediction), as_text(gold)
        quick = quick_verdict(pred, ref)
        if quick is not None and (self.exact_shortcut or quick is False):
            return Verdict(quick)  # empty or identical: no need to cross a process boundary
        if self._closed:
            raise RuntimeError("the answer checker is closed")
        worker = self._idle.get()
        try:
            verdict = worker.check(pred, ref, self.timeout, self.exact_shortcut)
        finally:
            self._idle.put(worker)
        if verdict.timed_out or verdict.error:
            with self._lock:
                self.timeouts += verdict.timed_out
                self.errors += verdict.error is not None
        return verdict

    def check_many(self, pairs: Iterable[tuple[object, object]]) -> list[Verdict]:
        """Verdicts for (prediction, gold) pairs, in order, with every worker kept busy."""
        items: Sequence[tuple[object, object]] = list(pairs)
        if len(items) <= 1 or self.size == 1:
            return [self.check(p, g) for p, g in items]
        with ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="answer-check") as pool:
            return list(pool.map(lambda pair: self.check(*pair), items))

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.retired = True
            worker.kill()

    def __enter__(self) -> "AnswerChecker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
