"""Helpers for driving the app with Textual's Pilot (tests and benchmarks/tui_latency.py)."""

from __future__ import annotations

import time
from typing import Callable

from textual.pilot import Pilot


async def wait_until(pilot: Pilot, predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` every 50 ms (letting the app run in between) until it is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate!r}")
        await pilot.pause(0.05)


async def type_text(pilot: Pilot, text: str) -> None:
    """Type `text` key by key (newlines as Ctrl+J, the problem input's line break)."""
    keys = ["ctrl+j" if c == "\n" else c for c in text]
    await pilot.press(*keys)
