"""Executor sessions: one worker process per problem, state kept across its code blocks.

This is a *restricted* executor, not a sandbox: the worker is a separate process in its own process group,
with a clean environment, `python -I`, a private temporary directory as cwd and HOME, rlimits, a wall-clock
timeout that kills the whole group, and an output cap; where the OS allows it, also Landlock, a network
namespace and a seccomp filter (Linux) or a sandbox-exec profile (macOS). `session.containment()` says which
layers a worker actually got (containment.py describes them); the README says what they do not stop.

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

from mathcoder_local.executor.containment import (
    SANDBOX_EXEC,
    Containment,
    ContainmentReport,
    sandbox_exec_available,
    sandbox_exec_profile,
)
from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.worker_env import worker_env
from mathcoder_local.procio import LineBuffer, close_quietly, kill_group

WORKER = Path(__file__).with_name("worker.py")
DEFAULT_PRELOAD = ("math", "fractions", "itertools", "numpy", "sympy")


def _wait_group_gone(group: int, limit: float) -> None:
    """Wait (briefly) until a SIGKILLed process group has no member left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.002)


@dataclass(frozen=True)
class ExecutorLimits:
    timeout: float = 6.0  # seconds of wall clock per block, as MathCoder's harness allowed
    memory_bytes: int | None = 4 << 30
    cpu_seconds: int | None = 300  # for the whole session
    file_bytes: int | None = 16 << 20
    open_files: int | None = 256
    processes: int | None = 64  # tasks (processes and threads) the code may have at once, where enforceable
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
        containment: Containment = Containment(),
    ) -> None:
        self.limits = limits
        self.preload = preload
        self.forkserver = forkserver  # fork workers from it instead of starting an interpreter each time
        self.options = containment
        self._report: ContainmentReport | None = None
        self._sandboxed = False  # this worker runs under sandbox-exec (macOS)
        self._sandbox_failed = ""  # why sandbox-exec was given up for this session
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
            "processes": self.limits.processes,
        }
        request = {
            "limits": limits,
            "output_cap": self.limits.output_cap,
            "workdir": self._tmpdir,
            "containment": self.options.request(),
        }
        self._spawned_at = time.perf_counter()
        self._lines.reset()
        self._ready = False
        self._report = None
        self._started_once = True
        if self.forkserver is not None:
            ours, theirs = socket.socketpair()
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
        config = json.dumps({**request, "preload": list(self.preload)})
        command = [sys.executable, "-I", str(WORKER), config]
        self._sandboxed = self.options.sandbox_exec and not self._sandbox_failed and sandbox_exec_available()
        if self._sandboxed:
            command = [SANDBOX_EXEC, "-p", sandbox_exec_profile(self._tmpdir), *command]
        self._proc = subprocess.Popen(
            command,
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

    @property
    def pid(self) -> int | None:
        """The worker's pid (also its process group), None while no worker runs."""
        return self._pid

    def interrupt(self) -> None:
        """Kill the running worker's group from any thread: a block in progress returns at once (as
        WorkerDied) and the next block, if any, gets a fresh worker."""
        pid = self._pid  # read once: the running thread may be starting or replacing the worker
        if pid is not None:
            kill_group(pid)

    @property
    def workdir(self) -> str:
        """The session's private folder (cwd, HOME and TMPDIR of the worker)."""
        return self._tmpdir

    def containment(self) -> ContainmentReport:
        """The layers this session's worker runs under, as the worker reported them (starts it if needed)."""
        self._ensure_started()
        self._wait_ready()
        assert self._report is not None
        return self._report

    def _ensure_started(self) -> None:
        if self._pid is None:
            self.restarts += self._started_once
            self.start()

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the active containment layers (starts the worker if needed)."""
        return self.containment().active

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
        deadline = time.perf_counter() + 60.0
        reply: dict[str, object] = {}
        worker: dict[str, object] | None = None
        for _ in range(2):  # the containment report, then "ready"
            line = self._read_line(deadline)
            try:
                reply = json.loads(line) if line is not None else {}
            except ValueError:
                reply = {}
            if "containment" not in reply:
                break
            worker = reply["containment"]  # type: ignore[assignment]
        if not reply.get("ready"):
            self._kill()
            if self._sandboxed:  # macOS: our profile may not suit this system; go on without it, and say so
                self._sandbox_failed = "the worker did not start under our sandbox-exec profile"
                self.start()
                return self._wait_ready()
            raise RuntimeError("the executor worker failed to start")
        self._ready = True
        self.start_seconds = time.perf_counter() - self._spawned_at
        self._report = ContainmentReport.from_worker(worker, *self._outer_layers())

    def _outer_layers(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """The layers applied around the worker rather than by it (sandbox-exec), with reasons when absent."""
        if self._sandboxed:
            return ("sandbox-exec",), {}
        if sys.platform != "darwin":
            why = "macOS only"
        elif self.forkserver is not None:
            why = "forked sessions cannot get it: sandbox-exec applies when an interpreter starts"
        elif not self.options.sandbox_exec:
            why = "turned off for this session"
        else:
            why = self._sandbox_failed or f"{SANDBOX_EXEC} is missing"
        return (), {"sandbox-exec": why}

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
        group = self._pid
        self._kill()
        if group is not None:
            _wait_group_gone(group, limit=1.0)  # so that no dying process writes into the folder being deleted
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
        self._ensure_started()
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
            msg = (
                "WorkerDied: the executor process exited or stopped answering (a resource limit, os._exit, "
                "a crash, or its channel was closed or flooded)"
            )
            return CellResult(error="WorkerDied", error_line=msg, traceback=msg, seconds=seconds)
        try:
            reply = json.loads(line)
            return CellResult(
                stdout=str(reply["stdout"]),
                display=str(reply["display"]),
                traceback=str(reply["traceback"]),
                error=None if reply["error"] is None else str(reply["error"]),
                error_line=str(reply["error_line"]),
                dropped_chars=int(reply["dropped_chars"]),
                seconds=seconds,
            )
        except (ValueError, TypeError, KeyError):  # the code wrote to the channel itself: the session is spent
            self._kill()
            msg = "WorkerDied: the executor sent a malformed reply (the code wrote to its channel) and was stopped"
            return CellResult(error="WorkerDied", error_line=msg, traceback=msg, seconds=seconds)
