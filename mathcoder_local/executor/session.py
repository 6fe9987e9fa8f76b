"""Executor sessions: one worker process per problem, state kept across its code blocks.

This is a *restricted* executor, not a sandbox: the worker is a separate process in its own process group,
with a clean environment, `python -I`, a private temporary directory as cwd and HOME, rlimits on memory,
CPU time, file size and open files, a wall-clock timeout that kills the whole group, and an output cap.
It does not stop code from reading files the user can read or from using the network.

Timeouts are enforced by the parent with select() on the worker's pipe, so no signal handler is involved
and a session may be driven from any thread (the TUI runs it from a thread worker).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER = Path(__file__).with_name("worker.py")
DEFAULT_PRELOAD = ("math", "fractions", "itertools", "numpy", "sympy")


@dataclass(frozen=True)
class ExecutorLimits:
    timeout: float = 6.0  # seconds of wall clock per block, as MathCoder's harness allowed
    memory_bytes: int | None = 4 << 30
    cpu_seconds: int | None = 300  # for the whole session
    file_bytes: int | None = 16 << 20
    open_files: int | None = 256
    output_cap: int = 20000  # characters kept per block


@dataclass(frozen=True)
class CellResult:
    """What one block produced, before any prompt format decides how the model sees it."""

    stdout: str = ""  # prints and stderr, in order
    display: str = ""  # the trailing expression's repr, as Jupyter shows it
    traceback: str = ""  # IPython-style, no colour codes
    error: str | None = None  # exception type name, "Timeout" or "WorkerDied"
    error_line: str = ""  # "ValueError: ..." (what ToRA showed)
    timed_out: bool = False
    dropped_chars: int = 0  # output past the cap
    seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


class ExecutorSession:
    """A worker process and its namespace. Use as a context manager, or call close()."""

    def __init__(
        self,
        limits: ExecutorLimits = ExecutorLimits(),
        preload: tuple[str, ...] = DEFAULT_PRELOAD,
        *,
        start: bool = True,
    ) -> None:
        self.limits = limits
        self.preload = preload
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._ready = False
        self._tmpdir = tempfile.mkdtemp(prefix="mathcoder-exec-")
        self.start_seconds = 0.0  # spawn to ready, for the last worker started
        self.restarts = 0
        self._started_once = False
        if start:
            self.start()

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the worker without waiting for it to be ready (run() waits, outside the block's timeout)."""
        limits = {
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_bytes": self.limits.file_bytes,
            "open_files": self.limits.open_files,
        }
        config = json.dumps({"limits": limits, "preload": list(self.preload), "output_cap": self.limits.output_cap})
        env = {
            "PATH": os.defpath,
            "HOME": self._tmpdir,
            "TMPDIR": self._tmpdir,
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONHASHSEED": "0",
            # One BLAS thread: the worker must not compete with llama.cpp for cores.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        self._spawned_at = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self._tmpdir,
            env=env,
            start_new_session=True,  # its own process group, killed as a whole
            close_fds=True,
        )
        self._buffer = b""
        self._ready = False
        self._started_once = True

    def _wait_ready(self) -> None:
        if self._ready:
            return
        line = self._read_line(deadline=time.perf_counter() + 60.0)
        if line is None or not json.loads(line).get("ready"):
            self._kill()
            raise RuntimeError("the executor worker failed to start")
        self._ready = True
        self.start_seconds = time.perf_counter() - self._spawned_at

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        proc.wait()
        self._proc = None
        self._ready = False

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> "ExecutorSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running code -----------------------------------------------------------------------------------

    def _read_line(self, deadline: float) -> bytes | None:
        """One reply line, or None on timeout or worker death. Bounded so a flood cannot exhaust memory."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        max_reply = 16 * self.limits.output_cap + 65536
        while b"\n" not in self._buffer:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > max_reply:
                return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def run(self, code: str) -> CellResult:
        """Run one block in this session. A timeout or crash kills the worker; the next block gets a new one."""
        if self._proc is None:
            self.restarts += self._started_once
            self.start()
        self._wait_ready()
        assert self._proc is not None and self._proc.stdin is not None
        start = time.perf_counter()
        try:
            self._proc.stdin.write(json.dumps({"code": code}).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._kill()
            return CellResult(error="WorkerDied", error_line="WorkerDied: the executor process exited")
        line = self._read_line(deadline=start + self.limits.timeout)
        seconds = time.perf_counter() - start
        if line is None:
            timed_out = self._proc.poll() is None and seconds >= self.limits.timeout
            self._kill()
            if timed_out:
                msg = f"TimeoutError: the code ran longer than {self.limits.timeout:g} s and was stopped"
                return CellResult(error="Timeout", error_line=msg, traceback=msg, timed_out=True, seconds=seconds)
            msg = "WorkerDied: the executor process exited (a resource limit, os._exit or a crash)"
            return CellResult(error="WorkerDied", error_line=msg, traceback=msg, seconds=seconds)
        reply = json.loads(line)
        return CellResult(
            stdout=reply["stdout"],
            display=reply["display"],
            traceback=reply["traceback"],
            error=reply["error"],
            error_line=reply["error_line"],
            dropped_chars=reply["dropped_chars"],
            seconds=seconds,
        )
