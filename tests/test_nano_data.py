"""The nano model's data: deterministic, held-out problems disjoint from training, MathCoder's loss mask."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

NANO = Path(__file__).resolve().parents[1] / "models" / "nano"


def load(name: str):
    sys.path.insert(0, str(NANO))
    spec = importlib.util.spec_from_file_location(f"nano_{name}", NANO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_heldout_is_reproducible_and_disjoint_from_training():
    problems = load("problems")
    rows = [json.loads(line) for line in (NANO / "heldout.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and len({r["question"] for r in rows}) == 200
    r, regenerated = random.Random(1), []
    while len(regenerated) < 200:
        q = problems.sample(r)[1][0]
        if q not in regenerated:
            regenerated.append(q)
    assert regenerated == [row["question"] for row in rows]
    r, held = random.Random(0), set(regenerated)
    assert not any(problems.sample(r)[1][0] in held for _ in range(40000))


def test_loss_covers_text_and_code_only(sp_model):
    import sentencepiece

    train = load("train")
    sp = sentencepiece.SentencePieceProcessor(model_proto=sp_model)
    ids = {t: sp.get_piece_size() + i for i, t in enumerate(train.SPECIAL_TOKENS)}
    row = {
        "question": "What is 2% of 300?",
        "blocks": [
            {"kind": "text", "content": "Multiply."},
            {"kind": "code", "content": "300 * 2 // 100"},
            {"kind": "execution", "content": "6"},
            {"kind": "text", "content": "6"},
        ],
    }
    tokens, labels = train.encode(sp, ids, row)
    assert len(tokens) == len(labels)
    first_block = tokens.index(ids["<|assistant|>"]) + 1
    assert all(label == -100 for label in labels[:first_block])  # the prompt
    start = tokens.index(ids["<|execution|>"])
    end = tokens.index(ids["<|endofblock|>"], start)
    assert all(label == -100 for label in labels[start : end + 1])  # the execution block
    trained = [i for i, label in enumerate(labels) if label != -100]
    assert trained == [i for i in range(first_block, len(tokens)) if not start <= i <= end]
    assert labels[-1] == ids["<|endofmessage|>"]
