"""Loop overhead: tokens/s of the solve loop / tokens/s of a bare llama.cpp decode loop (target: >= 0.95).

Same model file, same threads, same number of greedy tokens, measured in the same run, alternating, median
of several repetitions. The bare loop is llama_decode on one token + llama.cpp's greedy sampler, nothing
else. The solve loop is the product's: engine, block tracking, UTF-8 decoding, events, the executor
session started at the beginning of the solve (as in a real solve). Decode phase only: prompt evaluation
is excluded from both.

    python benchmarks/loop_overhead.py [--tokens 400] [--reps 5]
"""

from __future__ import annotations

import argparse
import time

import llama_cpp
from _common import bench_model, median

from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.events import BlockStarted, Finished, TextDelta
from mathcoder_local.formats import MathCoderFormat
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver

QUESTION = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"


def bare_loop(engine: LlamaEngine, prompt: list[int], n: int) -> float:
    llm = engine._llama
    llm.reset()
    engine._cached.clear()
    ctx = llm._ctx.ctx
    mem = llama_cpp.llama_get_memory(ctx)
    llama_cpp.llama_memory_clear(mem, True)
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
    arr = (llama_cpp.llama_token * len(prompt))(*prompt)
    llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(prompt)))
    one = (llama_cpp.llama_token * 1)()
    start = time.perf_counter()
    for _ in range(n):
        one[0] = llama_cpp.llama_sampler_sample(chain, ctx, -1)
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1))
    elapsed = time.perf_counter() - start
    llama_cpp.llama_sampler_free(chain)
    llama_cpp.llama_memory_clear(mem, True)
    return n / elapsed


def solve_loop(engine: LlamaEngine, n: int) -> float:
    engine._llama.reset()
    engine._cached.clear()
    config = SolveConfig(grammar=False, max_tokens=n + 1, max_block_tokens=n + 2)
    solver = Solver(engine, MathCoderFormat(engine), config)
    first = None
    for event in solver.solve(QUESTION):
        if first is None and isinstance(event, (TextDelta, BlockStarted)):
            first = time.perf_counter()  # the first token is out: the prompt has been evaluated
        if isinstance(event, Finished):
            end = time.perf_counter()
            assert event.stats.generated_tokens == n + 1, f"stopped early: {event.finish_reason}"
            return n / (end - first)
    raise AssertionError("no Finished event")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    engine = LlamaEngine(bench_model(), n_ctx=2048, n_threads=args.threads)
    prompt = MathCoderFormat(engine).prompt_tokens(QUESTION)
    bare, loop = [], []
    solve_loop(engine, 32)  # warm-up: first-use allocations in llama.cpp
    for _ in range(args.reps):
        bare.append(bare_loop(engine, prompt, args.tokens))
        loop.append(solve_loop(engine, args.tokens))
    b, s = median(bare), median(loop)
    print(f"model: {engine.n_vocab}-token vocabulary, {args.threads} threads, {args.tokens} tokens x {args.reps}")
    print(f"bare llama.cpp decode loop: {b:8.1f} tok/s (median)")
    print(f"solve loop:                 {s:8.1f} tok/s (median)")
    print(f"solve loop / bare loop:     {s / b:.3f}")


if __name__ == "__main__":
    main()
