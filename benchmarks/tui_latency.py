"""Key-press-to-screen latency of the terminal app while the bundled model generates at full speed.

The real app (`mathcoder-local tui`: real llama.cpp, real executor) runs headless under Textual's Pilot with
the bundled nano model. Keys are typed into the problem input one at a time, first with the app idle (the
baseline), then while a task keeps the model busy solving the nano held-out problems back to back (each one
started as a re-run the moment the previous one ends, so what is typed stays in the input).

Latency of one key: from handing the key event to the app (what Pilot.press does, without its wait for the
whole process to go idle, which during generation would wait out the model) to the moment the first frame
rendered after the input's text holds the key goes to the terminal driver (App._display). A key counts as
"during generation" only when the model sampled tokens within that window. The script also reports the
model's tokens/s with and without typing, so the cost of a responsive UI to generation shows too.

    python benchmarks/tui_latency.py [--keys 300] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time

TARGET_MS = 100.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def show(label: str, values: list[float]) -> None:
    if not values:
        print(f"  {label:<34} no samples")
        return
    ms = [v * 1000 for v in values]
    print(
        f"  {label:<34} median {statistics.median(ms):6.1f} ms   p95 {p95(ms):6.1f} ms   "
        f"max {max(ms):6.1f} ms   (n={len(ms)})"
    )


class KeyProbe:
    """Types keys into the problem input and times each until a frame showing it is displayed."""

    def __init__(self, app) -> None:
        self.app = app
        self.box = app.solve_screen.problem_input
        self.expected: str | None = None
        self.displayed: float | None = None
        original = app._display

        def display(screen, renderable):  # every frame the compositor renders goes through here
            original(screen, renderable)
            if renderable is not None and self.expected is not None and self.box.text == self.expected:
                self.displayed = time.perf_counter()
                self.expected = None

        app._display = display

    async def press(self, char: str) -> float:
        from textual import events

        self.displayed = None
        self.expected = self.box.text + char
        event = events.Key(char, char)
        event.set_sender(self.app)
        t0 = time.perf_counter()
        self.app._driver.send_message(event)  # as Pilot.press sends it
        deadline = t0 + 10
        while self.displayed is None:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"key {char!r} never reached the screen")
            await asyncio.sleep(0.0005)
        return self.displayed - t0


async def type_keys(probe: KeyProbe, n: int, engine=None) -> tuple[list[float], list[float]]:
    """(latencies of all keys, latencies of keys during which the model sampled tokens)."""
    rng = random.Random(0)
    every, generating = [], []
    for i in range(n):
        if len(probe.box.text) >= 40:
            probe.box.clear()
            await asyncio.sleep(0.05)
        before = engine.counters.sampled_tokens if engine is not None else 0
        latency = await probe.press("abcdefghijklmnopqrstuvwxyz"[i % 26])
        every.append(latency)
        if engine is not None and engine.counters.sampled_tokens > before:
            generating.append(latency)
        await asyncio.sleep(rng.uniform(0.02, 0.06))  # a fast typist: 15-50 keys per second
    return every, generating


async def measure(model: str, keys: int, threads: int | None) -> None:
    from mathcoder_local.datasets import load_dataset
    from mathcoder_local.events import Finished
    from mathcoder_local.settings import Settings
    from mathcoder_local.solve import EngineOptions
    from mathcoder_local.tui.app import MathcoderApp
    from mathcoder_local.tui.testing import wait_until

    problems = [p.question for p in load_dataset("nano")]
    app = MathcoderApp(Settings(model=model), engine_options=EngineOptions(n_threads=threads))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.model_state == "ready", 60, "the model")
        screen = app.solve_screen
        engine = app.host.engine
        probe = KeyProbe(app)
        stop = asyncio.Event()
        finished: list[Finished] = []

        async def keep_generating() -> None:
            i = 0
            while not stop.is_set():
                if not screen.solving:
                    if screen._final is not None and (not finished or finished[-1] is not screen._final):
                        finished.append(screen._final)
                    await screen.solve(problems[i % len(problems)])
                    i += 1
                await asyncio.sleep(0.002)

        # warm up: the executor's fork server starts at the first code block
        await screen.solve(problems[0])
        await wait_until(pilot, lambda: not screen.solving, 60, "the warm-up solve")

        idle, _ = await type_keys(probe, keys)

        solver = asyncio.create_task(keep_generating())
        await asyncio.sleep(5)  # tokens/s with nobody typing
        quiet = list(finished)
        every, generating = await type_keys(probe, keys, engine)
        typed = finished[len(quiet) :]
        stop.set()
        await solver
        await wait_until(pilot, lambda: not screen.solving, 60, "the last solve")

    def tokens_per_second(done: list[Finished]) -> float:
        tokens = sum(f.stats.generated_tokens for f in done)
        seconds = sum(f.stats.generation_seconds for f in done)
        return tokens / seconds if seconds else 0.0

    n_threads = getattr(getattr(engine, "_llama", None), "n_threads", "default")
    print(f"key press -> frame on screen (bundled nano model, {os.cpu_count()} cores, llama.cpp threads: {n_threads})")
    show("idle (baseline)", idle)
    show("while solving (all keys)", every)
    show("while tokens were being generated", generating)
    print(
        f"  generation: {tokens_per_second(quiet):.0f} tok/s with nobody typing ({len(quiet)} problems), "
        f"{tokens_per_second(typed):.0f} tok/s while typing ({len(typed)} problems)"
    )
    result = {
        "idle_median_ms": statistics.median(idle) * 1000,
        "idle_p95_ms": p95(idle) * 1000,
        "generating_median_ms": statistics.median(generating) * 1000 if generating else None,
        "generating_p95_ms": p95(generating) * 1000 if generating else None,
        "generating_keys": len(generating),
        "tok_s_quiet": tokens_per_second(quiet),
        "tok_s_typing": tokens_per_second(typed),
    }
    ok = generating and result["generating_p95_ms"] < TARGET_MS
    print(f"  target: p95 under {TARGET_MS:.0f} ms while generating: {'met' if ok else 'NOT met'}")
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=300, help="keys per phase")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: llama.cpp's)")
    args = parser.parse_args()
    from mathcoder_local.store import bundled_gguf

    model = str(bundled_gguf())  # the bundled model, converted into the user directory on first use
    with tempfile.TemporaryDirectory() as home:
        os.environ["MATHCODER_LOCAL_HOME"] = home  # history and settings of this run stay out of yours
        asyncio.run(measure(model, args.keys, args.threads))


if __name__ == "__main__":
    main()
