"""Majority vote over K sampled answers (maj@K, as ToRA reports it)."""

from __future__ import annotations

from typing import Sequence

from mathcoder_local.grading.equivalence import normalize


def majority_index(predictions: Sequence[str]) -> int:
    """Index of a sample whose answer is the most common one (notation normalised; empty answers do not
    vote unless every answer is empty). Ties go to the answer that appeared first."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, prediction in enumerate(predictions):
        key = normalize(prediction or "")
        if not key:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return 0
    best = max(counts, key=lambda k: (counts[k], -first[k]))
    return first[best]
