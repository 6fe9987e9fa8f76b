"""Executor costs: starting a session (spawn to ready) and running a trivial block (median).

python benchmarks/executor_latency.py
"""

from __future__ import annotations

import time

from _common import median

from mathcoder_local.executor import ExecutorSession


def main(sessions: int = 5, blocks: int = 200) -> None:
    for label, preload in (("with numpy+sympy preloaded", None), ("bare interpreter", ())):
        starts = []
        for _ in range(sessions):
            t0 = time.perf_counter()
            session = ExecutorSession() if preload is None else ExecutorSession(preload=preload)
            session.run("0")
            starts.append(time.perf_counter() - t0)
            session.close()
        print(f"session start, {label}: median {median(starts) * 1000:.0f} ms over {sessions}")
    with ExecutorSession() as session:
        session.run("0")
        latencies = []
        for _ in range(blocks):
            t0 = time.perf_counter()
            session.run("1 + 1")
            latencies.append(time.perf_counter() - t0)
    print(f"trivial block (1 + 1): median {median(latencies) * 1000:.2f} ms over {blocks}")


if __name__ == "__main__":
    main()
