"""Kill -9 a bench at random moments, resume each time, and compare with an uninterrupted run.

Prints rows lost (a row on disk before a kill that is gone after), rows duplicated (an id twice in
results.jsonl), and the final accuracy against the uninterrupted run's. All three must say 0 / 0 / equal.

    python benchmarks/bench_kill_resume.py [--problems 64] [--kills 5] [--parallel 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mathcoder_local.store import resolve_model


def command(model: str, out: Path, problems: int, parallel: int, resume: bool) -> list[str]:
    args = [sys.executable, "-m", "mathcoder_local", "bench", "--dataset", "nano", "--model", model]
    args += ["--limit", str(problems), "--parallel", str(parallel), "--threads", "2", "--out", str(out), "--json"]
    return args + (["--resume"] if resume else [])


def complete_ids(out: Path) -> list[str]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    ids = []
    for line in path.read_bytes().splitlines(keepends=True):
        if line.endswith(b"\n"):
            ids.append(json.loads(line)["id"])
    return ids


def run_to_end(args: list[str]) -> dict:
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    model = resolve_model(None)
    with tempfile.TemporaryDirectory() as tmp:
        reference_out, out = Path(tmp) / "reference", Path(tmp) / "killed"
        started = time.perf_counter()
        reference = run_to_end(command(model, reference_out, args.problems, args.parallel, False))
        full_seconds = time.perf_counter() - started
        lost = 0
        for k in range(args.kills):
            proc = subprocess.Popen(
                command(model, out, args.problems, args.parallel, resume=k > 0),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            delay = rng.uniform(0.2, full_seconds / 2)  # anywhere from start-up to mid-run
            time.sleep(delay)
            before = set(complete_ids(out))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            after = set(complete_ids(out))
            lost += len(before - after)
            print(f"kill {k + 1} after {delay:.2f} s: {len(after)} rows on disk")
        before = set(complete_ids(out))
        final = run_to_end(command(model, out, args.problems, args.parallel, resume=True))
        ids = complete_ids(out)
        lost += len(before - set(ids))
        duplicated = len(ids) - len(set(ids))
        print(f"uninterrupted run: {reference['correct']}/{reference['n']} = {reference['accuracy']}%")
        print(f"killed {args.kills}x and resumed: {final['correct']}/{final['n']} = {final['accuracy']}%")
        print(f"rows lost: {lost}; rows duplicated: {duplicated}; rows: {len(ids)} of {args.problems}")

        def predictions(folder: Path) -> dict[str, str]:
            rows = (json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines())
            return {r["id"]: r["prediction"] for r in rows}

        ours, theirs = predictions(out), predictions(reference_out)
        agree = sum(ours.get(k) == v for k, v in theirs.items())
        print(f"predictions identical to the uninterrupted run: {agree}/{len(theirs)}")
        same = final["accuracy"] == reference["accuracy"] and final["n"] == reference["n"]
        print(f"final accuracy equal to the uninterrupted run: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
