"""Talking to helper processes by lines (the executor's workers, the answer checkers) without signals."""

from __future__ import annotations

import os
import select
import signal
import time
from typing import IO, Callable


class LineBuffer:
    """Reads newline-terminated replies from a pipe or socket with a deadline, using select() (no signal
    handlers, so any thread may wait). A reply longer than `limit` bytes counts as no reply."""

    def __init__(self, limit: int | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.limit = limit
        self.clock = clock
        self.data = b""

    def reset(self) -> None:
        self.data = b""

    def read_line(self, fd: int, deadline: float) -> bytes | None:
        """One line without its newline, or None on timeout, end of file or an oversized reply."""
        while b"\n" not in self.data:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.data += chunk
            if self.limit is not None and len(self.data) > self.limit:
                return None
        line, _, self.data = self.data.partition(b"\n")
        return line


def kill_group(pid: int) -> None:
    """SIGKILL a process group (the helper and anything it started); gone already is fine."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def close_quietly(*streams: IO[bytes] | None) -> None:
    for stream in streams:
        try:
            if stream:
                stream.close()
        except OSError:
            pass
