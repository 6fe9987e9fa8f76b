"""Bench throughput over one local inference server against two, measured in one run.

Starts `python -m llama_cpp.server` processes (llama-cpp-python's OpenAI-compatible server) on the bundled nano
model on loopback, then runs the same problems of the nano set through `bench --server URL` (one server, one
problem at a time) and through `bench --server URL1 --server URL2` (two servers, one problem at a time on each),
alternating the two settings for --rounds rounds; reports problems/s and tokens/s (medians) and their ratio,
and checks that both settings give the same predictions. A third setting, one server with two problems at a
time, shows how much comes from the second server rather than from a second client: llama-cpp-python's server
runs one request at a time. A fourth runs the same problems in process (no server, as many llama.cpp
threads as one server has), for the cost of going through HTTP.

Honest limits: the servers, the bench process and the executors share this machine's cores. On 2 cores two
single-threaded servers compete with each other and with the client, so the ratio here is a floor, not what
two GPU servers give.

    python benchmarks/remote_servers.py [--problems 64] [--rounds 3] [--server-threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mathcoder_local.bench.runner import BenchFinished, BenchStarted, run_bench
from mathcoder_local.solve import EngineOptions
from mathcoder_local.store import resolve_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, threads: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "2048", "--n_threads", str(threads), "--n_threads_batch", str(threads)]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready")


def one_run(model: str, servers: list[str], parallel: int, problems: int, out: Path, threads: int) -> dict:
    first = final = None
    events = run_bench(
        dataset="nano",
        limit=problems,
        model=model,
        servers=servers,
        parallel=parallel,
        out=out,
        engine_options=EngineOptions(n_threads=threads),
    )
    for event in events:
        if isinstance(event, BenchStarted):
            first = time.perf_counter()  # servers probed, workers ready: from here on it is the problems
        elif isinstance(event, BenchFinished):
            final = event
    ended = time.perf_counter()
    assert first is not None and final is not None
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    seconds = ended - first
    return {
        "seconds": seconds,
        "problems_per_s": len(rows) / seconds,
        "tokens_per_s": final.metrics["completion_tokens"] / seconds,
        "accuracy": final.metrics["accuracy"],
        "predictions": {r["id"]: r["prediction"] for r in rows},
        "servers": final.metrics.get("session_servers", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-threads", type=int, default=1)
    args = parser.parse_args()
    model = resolve_model(None)
    settings = {
        "1 server": ("one", 1),
        "2 servers": ("two", 1),
        "1 server, 2 clients": ("one", 2),
        "in process, no server": ("none", 1),
    }
    results: dict[str, list[dict]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MATHCODER_LOCAL_HOME"] = str(Path(tmp) / "home")
        started = [start_server(model, args.server_threads, Path(tmp) / f"server-{i}.log") for i in range(2)]
        urls = {"one": [started[0][1]], "two": [started[0][1], started[1][1]], "none": []}
        try:
            for rnd in range(args.rounds):
                for name, (which, parallel) in settings.items():
                    out = Path(tmp) / f"{rnd}-{which}-{parallel}"
                    run = one_run(model, urls[which], parallel, args.problems, out, args.server_threads)
                    results[name].append(run)
        finally:
            for process, _ in started:
                process.terminate()
                process.wait()
    cores = os.cpu_count()
    print(f"nano model, {args.problems} problems, {args.rounds} rounds (medians), llama-cpp-python servers with")
    print(f"{args.server_threads} thread(s) each, one problem at a time per client; {cores} cores shared by all.")
    print(f"{'setting':22} {'seconds':>8} {'problems/s':>11} {'tokens/s':>9} {'accuracy':>9}")
    med = {}
    for name, runs in results.items():
        med[name] = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "problems_per_s", "tokens_per_s")}
        m = med[name]
        acc = runs[0]["accuracy"]
        print(f"{name:22} {m['seconds']:8.2f} {m['problems_per_s']:11.2f} {m['tokens_per_s']:9.1f} {acc:8.1f}%")
    ratio = med["2 servers"]["problems_per_s"] / med["1 server"]["problems_per_s"]
    print(f"throughput, 2 servers / 1 server: {ratio:.2f}x")
    same = all(r["predictions"] == results["1 server"][0]["predictions"] for runs in results.values() for r in runs)
    print(f"same predictions in every run: {same}")
    spread = results["2 servers"][0]["servers"]
    print("problems' requests per server (2 servers, round 1):", {u: s["requests"] for u, s in spread.items()})


if __name__ == "__main__":
    main()
