"""Executor costs against two baselines measured in the same run: session start and per-block latency.

  ours, forked    a session forked from the warm fork server (what `bench` uses)
  ours, spawned   a session that starts its own interpreter and imports numpy + sympy (what `solve` uses)
  ToRA-style      a fresh `python -c "import sympy; ..."` process per block (no state between blocks)
  Jupyter         a kernel start + execute through jupyter_client (only when jupyter_client and ipykernel are
                  installed; MathCoder's harness used a kernel per problem)

Medians and 95th percentiles; the block is a typical MathCoder cell (sympy arithmetic, trailing display).

    python benchmarks/executor_latency.py [--sessions 20] [--blocks 100]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorSession

BLOCK = "from sympy import Rational\nx = Rational(1, 3) + Rational(1, 6)\nx"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def show(label: str, values: list[float]) -> float:
    med = statistics.median(values)
    print(f"  {label:<34} median {med * 1000:8.2f} ms   p95 {p95(values) * 1000:8.2f} ms   (n={len(values)})")
    return med


def ours(sessions: int, blocks: int) -> dict[str, float]:
    out = {}
    with ForkServer(DEFAULT_PRELOAD) as server:
        ExecutorSession(start=False, forkserver=server).run("0")  # the server's own one-time start
        starts = []
        for _ in range(sessions):
            t0 = time.perf_counter()
            with ExecutorSession(start=False, forkserver=server) as s:
                s.run("0")
                starts.append(time.perf_counter() - t0)
        out["forked start"] = show("ours, forked: session start", starts)
        with ExecutorSession(start=False, forkserver=server) as s:
            s.run("0")
            lat = []
            for _ in range(blocks):
                t0 = time.perf_counter()
                assert s.run(BLOCK).display == "1/2"
                lat.append(time.perf_counter() - t0)
        out["block"] = show("ours: block in a live session", lat)
    starts = []
    for _ in range(max(3, sessions // 4)):
        t0 = time.perf_counter()
        with ExecutorSession() as s:
            s.run("0")
            starts.append(time.perf_counter() - t0)
    out["spawned start"] = show("ours, spawned: session start", starts)
    return out


def tora_style(blocks: int) -> float:
    lat = []
    code = BLOCK.rsplit("\n", 1)[0] + "\nprint(x)"  # no display without a kernel: print the result
    for _ in range(blocks):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import sympy\n" + code], capture_output=True, text=True)
        assert done.stdout.strip() == "1/2"
        lat.append(time.perf_counter() - t0)
    return show("ToRA-style: new process per block", lat)


def jupyter(sessions: int, blocks: int) -> dict[str, float] | None:
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError:
        print("  Jupyter: jupyter_client / ipykernel not installed; skipped")
        return None

    def run(client, code: str) -> None:
        client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)

    out = {}
    starts = []
    for _ in range(sessions):
        t0 = time.perf_counter()
        manager, client = start_new_kernel(kernel_name="python3")
        run(client, "import numpy, sympy\n0")
        starts.append(time.perf_counter() - t0)
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    out["start"] = show("Jupyter: kernel start + first cell", starts)
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        run(client, "import numpy, sympy")
        lat = []
        for _ in range(blocks):
            t0 = time.perf_counter()
            run(client, BLOCK)
            lat.append(time.perf_counter() - t0)
        out["block"] = show("Jupyter: block in a live kernel", lat)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=100)
    args = parser.parse_args()
    print("session start and per-block latency (2 cores are shared by everything)")
    mine = ours(args.sessions, args.blocks)
    tora = tora_style(max(10, args.blocks // 5))
    kernel = jupyter(max(3, args.sessions // 4), args.blocks)
    print(f"forked session start vs a ToRA-style process per block: {tora / mine['forked start']:.1f}x faster")
    print(f"block in a live session vs a ToRA-style process per block: {tora / mine['block']:.0f}x faster")
    if kernel:
        print(f"forked session start vs a Jupyter kernel start: {kernel['start'] / mine['forked start']:.0f}x faster")
        print(f"block in a live session vs a block in a live Jupyter kernel: {kernel['block'] / mine['block']:.1f}x")


if __name__ == "__main__":
    main()
