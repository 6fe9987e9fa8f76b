"""Make the nano model's data: MathCoder-format solutions whose execution blocks come from our executor.

    python models/nano/make_data.py            # build/train.jsonl (not committed) and heldout.jsonl

Fixed seeds; the held-out problems are drawn first and no training problem repeats one of them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problems import sample  # noqa: E402

from mathcoder_local.executor import ExecutorSession  # noqa: E402
from mathcoder_local.formats.mathcoder import execution_text  # noqa: E402

HELDOUT = HERE / "heldout.jsonl"
TRAIN = HERE / "build" / "train.jsonl"


def solution(session: ExecutorSession, kind: str, problem: tuple[str, str, str]) -> dict:
    question, sentence, code = problem
    cell = session.run(code)
    # The text the model sees is exactly what the solve loop writes back (MathCoder's rules).
    output = execution_text(cell)
    if cell.error:
        raise RuntimeError(f"generated code failed: {code!r}: {cell.traceback}")
    blocks = [
        {"kind": "text", "content": sentence},
        {"kind": "code", "content": code},
        {"kind": "execution", "content": output},
        {"kind": "text", "content": f"The answer is $\\boxed{{{output}}}$."},
        {"kind": "text", "content": output},
    ]
    return {"kind": kind, "question": question, "answer": output, "blocks": blocks}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=40000)
    parser.add_argument("--heldout", type=int, default=200)
    args = parser.parse_args()
    with ExecutorSession() as session:
        r = random.Random(1)
        heldout: dict[str, dict] = {}
        while len(heldout) < args.heldout:
            kind, problem = sample(r)
            if problem[0] not in heldout:
                heldout[problem[0]] = solution(session, kind, problem)
        r = random.Random(0)
        train: list[dict] = []
        seen = set(heldout)
        while len(train) < args.train:
            kind, problem = sample(r)
            if problem[0] in seen:
                continue
            seen.add(problem[0])
            train.append(solution(session, kind, problem))
    rows = [
        {"id": f"nano-{i:03d}", "question": row["question"], "answer": row["answer"], "subject": row["kind"]}
        for i, row in enumerate(heldout.values())
    ]
    write_jsonl(HELDOUT, rows)
    write_jsonl(TRAIN, train)
    print(f"wrote {len(rows)} held-out problems to {HELDOUT} and {len(train)} training solutions to {TRAIN}")


if __name__ == "__main__":
    main()
