"""The bundled nano model on its 200 held-out problems, through the real loop (llama.cpp, our GGUF, our
executor), then again with execution withheld (every block reads back `<empty_execution>`).

Targets: >= 90 % with execution, <= 20 % without. Also the solve loop's tokens/s on 2 CPU threads.

    python benchmarks/nano_accuracy.py [--limit N] [--threads 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from importlib import resources
from pathlib import Path

from mathcoder_local.events import Finished
from mathcoder_local.executor import WithheldSession
from mathcoder_local.solve import EngineOptions, load_engine, make_solver


def heldout() -> list[dict]:
    path = Path(str(resources.files("mathcoder_local.models") / "nano" / "heldout.jsonl"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def evaluate(solver, problems: list[dict]) -> dict:
    correct, by_subject = 0, collections.Counter()
    generated, gen_seconds, started = 0, 0.0, time.perf_counter()
    for p in problems:
        done = next(e for e in solver.solve(p["question"]) if isinstance(e, Finished))
        ok = done.answer.strip() == p["answer"]
        correct += ok
        by_subject[p["subject"]] += ok
        generated += done.stats.generated_tokens
        gen_seconds += done.stats.generation_seconds
    return {
        "n": len(problems),
        "correct": correct,
        "accuracy": correct / len(problems),
        "by_subject": dict(by_subject),
        "tokens_per_second": generated / gen_seconds,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="GGUF (default: the bundled nano model)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    problems = heldout()[: args.limit]
    totals = collections.Counter(p["subject"] for p in problems)
    engine = load_engine(args.model, EngineOptions(n_threads=args.threads, n_ctx=2048))
    for label, factory in (("with execution", None), ("execution withheld", WithheldSession)):
        solver = make_solver(engine, session_factory=factory)
        r = evaluate(solver, problems)
        subjects = ", ".join(f"{s} {r['by_subject'].get(s, 0)}/{n}" for s, n in sorted(totals.items()))
        print(f"{label:19s} {r['correct']}/{r['n']} = {100 * r['accuracy']:.1f} %   ({subjects})")
        print(f"{'':19s} solve loop {r['tokens_per_second']:.0f} tok/s on {args.threads} threads, {r['seconds']:.0f} s")


if __name__ == "__main__":
    main()
