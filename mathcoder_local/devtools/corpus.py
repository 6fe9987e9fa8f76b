"""The text small test tokenizers are trained on: math word problems, Python and answers, with numbers drawn
from a seeded generator (the SentencePiece model of `tiny_checkpoint` and the BPE models of `bpe_vocab`)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

_CORPUS_LINES = [
    "A warehouse holds {a} boxes with {b} items each. How many items are there?",
    "Let's compute the total with Python: total = {a} * {b}, then print(total).",
    "The answer is \\boxed{{{c}}}.",
    "def solve():\n    x = {a} + {b}\n    return x % 7",
    "from sympy import symbols, solve\nx = symbols('x')\nsolve(2*x - {a}, x)",
    "We find that {a} divided by {b} leaves a remainder of {c}.",
    "Janet’s ducks lay {a} eggs per day; she sells the remainder for ${b}.",
]


def training_corpus(n: int = 3000, seed: int = 0) -> Iterator[str]:
    rng = np.random.default_rng(seed)
    for i in range(n):
        a, b = int(rng.integers(10, 10**6)), int(rng.integers(2, 999))
        yield _CORPUS_LINES[i % len(_CORPUS_LINES)].format(a=a, b=b, c=a * b)
