"""Grammar on / off: tokens/s of MathCoder solves with and without the turn grammar (target: >= 0.90).

Two measurements, each alternating on/off in the same run, median of several repetitions:
- scripted: a well-formed MathCoder answer (text and code blocks) steered through the real engine, so both
  runs produce the same tokens and the grammar's only cost is checking each one;
- free: the random-weight model decoding greedily, where the grammar must also reject tokens and pay
  for full-vocabulary passes (a worst case: a trained model rarely proposes an ill-formed token).

    python benchmarks/grammar_cost.py [--reps 5]
"""

from __future__ import annotations

import argparse

from _common import bench_model, median

from mathcoder_local.devtools.scripted import ScriptedTokens, mathcoder_script
from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.events import Finished
from mathcoder_local.formats import MathCoderFormat
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver

QUESTION = "A shop sells 4817 pens at 23 cents each and 9051 pencils at 7 cents each. What is the total?"
BLOCKS = []
for i in range(4):
    BLOCKS += [
        ("text", f"Step {i + 1}. We compute the partial total for this item exactly, using Python to be sure."),
        ("code", f"pens_{i} = 4817 * 23\npencils_{i} = 9051 * 7\ntotal_{i} = pens_{i} + pencils_{i}\nprint(total_{i})"),
    ]
BLOCKS += [("text", "The total is \\boxed{174148} cents."), ("text", "174148")]


def run(engine: LlamaEngine, grammar: bool, scripted: bool) -> tuple[float, int]:
    engine._llama.reset()
    engine._cached.clear()
    processor = ScriptedTokens(mathcoder_script(engine, BLOCKS), engine.eos_id) if scripted else None
    solver = Solver(
        engine,
        MathCoderFormat(engine),
        SolveConfig(grammar=grammar, max_tokens=400, max_block_tokens=400),
        logits_processor=processor,
    )
    passes = engine.counters.grammar_full_passes
    done = [e for e in solver.solve(QUESTION) if isinstance(e, Finished)][0]
    s = done.stats
    return s.generated_tokens / s.generation_seconds, engine.counters.grammar_full_passes - passes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    engine = LlamaEngine(bench_model(), n_ctx=4096, n_threads=2)
    run(engine, False, True)  # warm-up
    for scripted in (True, False):
        on, off, rejected = [], [], 0
        for _ in range(args.reps):
            off.append(run(engine, False, scripted)[0])
            speed, passes = run(engine, True, scripted)
            on.append(speed)
            rejected += passes
        label = "scripted answer" if scripted else "free decoding  "
        print(
            f"{label}: off {median(off):7.1f} tok/s, on {median(on):7.1f} tok/s, "
            f"on/off {median(on) / median(off):.3f}, full-vocabulary passes per run {rejected / args.reps:.0f}"
        )


if __name__ == "__main__":
    main()
