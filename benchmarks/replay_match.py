"""Replay match rate: MathCoder's released transcripts re-executed in our executor, per file.

python benchmarks/replay_match.py [--timeout S] [--workers N]

Each file's code blocks run session by session (one fresh worker per transcript row) and our execution text is
compared with the recorded one under the rule in mathcoder_local/replay.py. The figure is matched / compared
blocks; excluded blocks (time-, random- or environment-dependent, harness failures) are counted apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathcoder_local.replay import DEFAULT_TIMEOUT, replay_file

OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mathcoder_outputs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = sorted(OUTPUTS.glob("*.jsonl")) if OUTPUTS.is_dir() else []
    if not files:
        print(f"skipped: no transcripts in {OUTPUTS} (the shared data folder is not on this machine)")
        return
    total_matched = total_compared = 0
    for path in files:
        report = replay_file(path, timeout=args.timeout, workers=args.workers)
        total_matched += report.matched
        total_compared += report.compared
        excluded = sum(report.excluded.values())
        reasons = ", ".join(f"{k}: {v}" for k, v in report.excluded.items()) or "none"
        classes = ", ".join(f"{k}: {v}" for k, v in report.mismatch_classes.items()) or "none"
        print(
            f"{path.name}: match rate {report.match_rate:.4f} ({report.matched}/{report.compared} compared; "
            f"{report.identical} identical; {report.blocks} blocks in {report.rows} rows; "
            f"excluded {excluded} [{reasons}]; "
            f"mismatches [{classes}]; {report.seconds:.1f} s)"
        )
    print(f"all files: {total_matched / total_compared:.4f} ({total_matched}/{total_compared})")


if __name__ == "__main__":
    main()
