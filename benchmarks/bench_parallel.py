"""Bench throughput with --parallel 8 against --parallel 1 on the same problems, measured in one run.

Two models, because the ratio depends on what bounds decoding:
  * the bundled nano model (real answers, real code execution; 2M parameters, so each token is compute on
    cached weights and batching saves only the per-call overhead);
  * a random-weight model of 160M parameters (f32, 640 MB: every decode step streams the weights from memory,
    as a 7B model does, so one step for 8 sequences costs little more than for one). Its answers are noise;
    the token budget per problem is capped so both settings decode the same amount.

    python benchmarks/bench_parallel.py [--problems 64] [--threads 2] [--skip-large]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import bench_model

from mathcoder_local.bench.config import BenchSettings
from mathcoder_local.bench.runner import BenchFinished, BenchStarted, run_bench
from mathcoder_local.devtools.tiny_gguf import TinyModelSpec
from mathcoder_local.solve import EngineOptions
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.store import resolve_model

LARGE = TinyModelSpec(n_embd=1024, n_layer=8, n_head=16, n_head_kv=16, n_ff=2816, n_ctx=4096, seed=5)


def one_run(model: str, parallel: int, problems: int, threads: int, settings: BenchSettings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        final = first = None
        for event in run_bench(
            dataset="nano",
            limit=problems,
            model=model,
            parallel=parallel,
            settings=settings,
            engine_options=EngineOptions(n_threads=threads),
            out=Path(tmp) / "run",
        ):
            if isinstance(event, BenchStarted):
                first = time.perf_counter()  # the model is loaded: from here on it is the problems
            if isinstance(event, BenchFinished):
                final = event
        ended = time.perf_counter()
    assert final is not None and first is not None
    m = final.metrics
    d = m["session_decoding"]
    return {
        "seconds": ended - first,
        "wall": ended - started,
        "tokens": m["completion_tokens"],
        "accuracy": m["accuracy"],
        "decode_seconds": d["decode_seconds"],
        "tokens_per_call": d["decoded_tokens"] / max(d["decode_calls"], 1),
    }


def compare(label: str, model: str, problems: int, threads: int, settings: BenchSettings, rounds: int) -> None:
    runs: dict[int, list[dict]] = {1: [], 8: []}
    for _ in range(rounds):  # alternate, so machine noise hits both settings alike
        for parallel in (1, 8):
            runs[parallel].append(one_run(model, parallel, problems, threads, settings))
    best = {p: min(r, key=lambda x: x["seconds"]) for p, r in runs.items()}
    for p in (1, 8):
        b = best[p]
        print(
            f"{label} --parallel {p}: {b['seconds']:.2f} s, {problems / b['seconds']:.2f} problems/s, "
            f"{b['tokens'] / b['seconds']:.0f} tok/s, accuracy {b['accuracy']:.1f}% "
            f"(wall with model load {b['wall']:.2f} s; in llama_decode {b['decode_seconds']:.2f} s, "
            f"{b['tokens_per_call']:.1f} tokens per call)"
        )
    print(f"{label}: throughput --parallel 8 / --parallel 1 = {best[1]['seconds'] / best[8]['seconds']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-tokens", type=int, default=64, help="tokens per problem for the random model")
    args = parser.parse_args()
    compare("nano", resolve_model(None), args.problems, args.threads, BenchSettings(), args.rounds)
    if not args.skip_large:
        capped = BenchSettings(solve=SolveConfig(max_tokens=args.large_tokens))
        compare("random 160M", str(bench_model(LARGE)), args.problems, args.threads, capped, 1)


if __name__ == "__main__":
    main()
