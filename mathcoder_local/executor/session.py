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
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.worker_env import worker_env
from mathcoder_local.procio import LineBuffer, close_quietly, kill_group

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
        forkserver: ForkServer | None = None,
    ) -> None:
        self.limits = limits
        self.preload = preload
        self.forkserver = forkserver  # fork workers from it instead of starting an interpreter each time
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._pid: int | None = None
        self._read_fd: int | None = None
        self._lines = LineBuffer(limit=16 * limits.output_cap + 65536)
        self._ready = False
        self._tmpdir = tempfile.mkdtemp(prefix="mathcoder-exec-")
        self.start_seconds = 0.0  # spawn to ready, for the last worker started
        self.restarts = 0
        self._started_once = False
        if start:
            self.start()

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker without waiting for it to be ready (run() waits, outside the block's timeout)."""
        limits = {
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_bytes": self.limits.file_bytes,
            "open_files": self.limits.open_files,
        }
        self._spawned_at = time.perf_counter()
        self._lines.reset()
        self._ready = False
        self._started_once = True
        if self.forkserver is not None:
            ours, theirs = socket.socketpair()
            request = {"limits": limits, "output_cap": self.limits.output_cap, "workdir": self._tmpdir}
            try:
                self._pid = self.forkserver.spawn(theirs, request)
            except Exception:
                ours.close()
                raise
            finally:
                theirs.close()
            self._channel = ours
            self._read_fd = ours.fileno()
            return
        config = json.dumps({"limits": limits, "preload": list(self.preload), "output_cap": self.limits.output_cap})
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self._tmpdir,
            env=worker_env(self._tmpdir),
            start_new_session=True,  # its own process group, killed as a whole
            close_fds=True,
        )
        self._pid = self._proc.pid
        assert self._proc.stdout is not None
        self._read_fd = self._proc.stdout.fileno()

    def _send(self, data: bytes) -> None:
        if self._channel is not None:
            self._channel.sendall(data)
        else:
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write(data)
            self._proc.stdin.flush()

    def _alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        try:
            os.kill(self._pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

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
        if self._pid is None:
            return
        kill_group(self._pid)
        proc, channel = self._proc, self._channel
        if proc is not None:
            close_quietly(proc.stdin, proc.stdout)
            proc.wait()
        if channel is not None:
            channel.close()  # a forked worker is reaped by the fork server
        self._proc = self._channel = None
        self._pid = self._read_fd = None
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
        assert self._read_fd is not None
        return self._lines.read_line(self._read_fd, deadline)

    def run(self, code: str) -> CellResult:
        """Run one block in this session. A timeout or crash kills the worker; the next block gets a new one."""
        if self._pid is None:
            self.restarts += self._started_once
            self.start()
        self._wait_ready()
        start = time.perf_counter()
        try:
            self._send(json.dumps({"code": code}).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            self._kill()
            return CellResult(error="WorkerDied", error_line="WorkerDied: the executor process exited")
        line = self._read_line(deadline=start + self.limits.timeout)
        seconds = time.perf_counter() - start
        if line is None:
            timed_out = self._alive() and seconds >= self.limits.timeout
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
