"""Grading speed: MATH gold-vs-gold (each of the 5000 golds against itself) through the worker pool.

python benchmarks/grading_speed.py [--workers N] [--timeout S]

Prints answers checked per second and the share judged equal (it should be 100 %), listing any that are not,
in three modes:
- "identical": gold vs gold as the bench and `grade` check; identical strings are equal in the caller's
  process without crossing to a worker (the cheap path most right answers take);
- "boxed": \\boxed{gold} vs gold, so each check crosses to a worker and is normalised there (the pool's
  round-trip cost);
- "full": gold vs gold with every shortcut off, so each gold goes through normalisation, the rules and
  math-verify in a worker (the real cost of a symbolic check, and the real test that each gold equals itself).
Needs ../shared/data/math/test.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mathcoder_local.answers import last_boxed
from mathcoder_local.grading.checker import DEFAULT_TIMEOUT, AnswerChecker

MATH_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "math" / "test.jsonl"


def golds() -> list[str]:
    if not MATH_TEST.is_file():
        sys.exit(f"needs {MATH_TEST} (the shared MATH test set)")
    rows = [json.loads(line) for line in MATH_TEST.open(encoding="utf-8") if line.strip()]
    return [last_boxed(row["solution"]) or "" for row in rows]


MODES = {
    "identical": (lambda gold: gold, True),
    "boxed": (lambda gold: "\\boxed{" + gold + "}", True),
    "full": (lambda gold: gold, False),
}


def run(answers: list[str], workers: int, timeout: float, mode: str) -> None:
    predict, exact_shortcut = MODES[mode]
    label = f"{mode:9}"
    with AnswerChecker(workers=workers, timeout=timeout, exact_shortcut=exact_shortcut) as checker:
        checker.check_many([("1", "2")] * workers)  # wait for the workers to start: startup is not checking
        t0 = time.perf_counter()
        verdicts = checker.check_many([(predict(gold), gold) for gold in answers])
        seconds = time.perf_counter() - t0
    equal = sum(v.correct for v in verdicts)
    timeouts = sum(v.timed_out for v in verdicts)
    print(
        f"{label}: {len(answers)} golds in {seconds:.2f} s = {len(answers) / seconds:,.0f} checks/s "
        f"({workers} workers); judged equal {equal}/{len(answers)} = {100 * equal / len(answers):.2f} %"
        + (f"; {timeouts} timed out" if timeouts else "")
    )
    slowest = sorted(range(len(answers)), key=lambda i: verdicts[i].seconds, reverse=True)[:3]
    print("  slowest: " + ", ".join(f"{answers[i]!r} {verdicts[i].seconds * 1000:.0f} ms" for i in slowest))
    for i, verdict in enumerate(verdicts):
        if not verdict.correct:
            why = "timed out" if verdict.timed_out else (verdict.error or "judged different")
            print(f"  not equal: MATH test row {i}: {answers[i]!r} ({why})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args()
    answers = golds()
    for mode in MODES:
        run(answers, args.workers, args.timeout, mode)


if __name__ == "__main__":
    main()
