"""Waiting in tests: poll a condition until a deadline instead of sleeping for a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky failure) or too long everywhere else (a slow
suite). `wait_until` returns as soon as the condition holds and fails the test when it never does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> T:
    """Call `predicate` every `interval` seconds until it returns a true value, and return that value.

    Fails the test (AssertionError) if it is still false after `timeout` seconds. The last call starts after
    the deadline, so a slow predicate or a late wake-up cannot fail the wait early.
    """
    deadline = time.monotonic() + timeout
    while True:
        expired = time.monotonic() >= deadline
        value = predicate()
        if value:
            return value
        if expired:
            name = getattr(predicate, "__name__", "<lambda>")
            what = message or (f"{name}()" if name != "<lambda>" else "the condition")
            raise AssertionError(f"{what}: still false after {timeout:g} s")
        time.sleep(interval)


def process_exited(pid: int) -> bool:
    """True when process `pid` has exited: gone, or a zombie waiting for its parent to reap it.

    A zombie runs no code; counting it as exited keeps the answer independent of whether the process's
    parent (after reparenting: init, or whatever PID 1 is in a container) reaps promptly.
    """
    if not os.path.isdir("/proc"):  # macOS: ask the kernel (a zombie still counts as a process there)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # it exists, as another user's process
            pass
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = stat.rpartition(")")[2].split()[0]  # the command name (in parentheses) may contain spaces
    return state in ("Z", "X")
