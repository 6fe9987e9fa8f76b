"""A fork server for executor sessions: one warm process that forks a fresh worker per session.

Starting a worker costs an interpreter start and the numpy/sympy import (about 0.3 s of CPU). A bench
running hundreds of problems would spend more CPU on that than on the model; forking a process that has
already imported them takes milliseconds, and every session still starts from a pristine namespace.

The server is the same worker.py, started with `--fork-server`; it never runs model code itself. Each
session gets a socketpair: one end is passed to the server (SCM_RIGHTS) and becomes the child's channel.
The child calls setsid(), so the session kills it and its descendants as one process group.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from typing import Mapping

from mathcoder_local.executor.worker_env import worker_env

WORKER = os.path.join(os.path.dirname(__file__), "worker.py")


class ForkServerError(RuntimeError):
    pass


class ForkServer:
    """Thread-safe; start() is implicit on first spawn, close() stops the server (running sessions go on)."""

    def __init__(self, preload: tuple[str, ...], *, nice: int = 10) -> None:
        self.preload = preload
        self.nice = nice
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._workdir: str | None = None

    def _start(self) -> None:
        self._workdir = workdir = tempfile.mkdtemp(prefix="mathcoder-forkserver-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        config = json.dumps({"preload": list(self.preload), "nice": self.nice})
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", WORKER, "--fork-server", config],
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=workdir,
                env=worker_env(workdir),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            theirs.close()
        ours.settimeout(60.0)
        self._control = ours
        reply = self._receive()
        if not reply.get("ready"):
            self._stop()
            raise ForkServerError("the executor fork server failed to start")

    def _receive(self) -> dict[str, object]:
        assert self._control is not None
        try:
            data = self._control.recv(65536)
        except OSError as exc:  # timeout or a dead server
            raise ForkServerError(f"the executor fork server did not answer ({exc})") from None
        if not data:
            raise ForkServerError("the executor fork server exited")
        return json.loads(data)

    def spawn(self, channel: socket.socket, request: Mapping[str, object]) -> int:
        """Fork a session worker that talks over `channel` (the caller keeps the other end); returns its pid."""
        with self._lock:
            for attempt in range(2):
                if self._proc is None or self._proc.poll() is not None:
                    self._stop()
                    self._start()
                assert self._control is not None
                try:
                    socket.send_fds(self._control, [json.dumps(dict(request)).encode()], [channel.fileno()])
                    reply = self._receive()
                except (OSError, ForkServerError):
                    self._stop()  # a server that died between sessions is restarted once
                    if attempt:
                        raise
                    continue
                if "pid" not in reply:
                    raise ForkServerError(f"the executor fork server refused: {reply.get('error')}")
                return int(reply["pid"])  # type: ignore[call-overload]
        raise ForkServerError("unreachable")

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            self._proc.wait()
            self._proc = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
