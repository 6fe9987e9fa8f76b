"""Pulling a final answer out of model text: the pieces every prompt format combines its own way."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced; None when there is none."""
    best = None
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            best = text[m.end() : i - 1]
    return best.strip() if best is not None else None


def after_answer_phrase(text: str) -> str | None:
    """What follows the last "the answer is" (to the end of that sentence or line)."""
    matches = list(re.finditer(r"the (?:final )?answer is:?\s*", text, re.IGNORECASE))
    if not matches:
        return None
    rest = text[matches[-1].end() :].split("\n", 1)[0].strip()
    rest = re.sub(r"\.\s.*$", "", rest).rstrip(".").strip()
    return strip_math_delimiters(rest) or None


def last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


def strip_math_delimiters(text: str) -> str:
    text = text.strip()
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
            text = text[len(left) : len(text) - len(right)].strip()
    return text


def clean_short_answer(text: str) -> str:
    """A short final block such as "22", "$\\frac{1}{2}$" or "The answer is 22." reduced to the answer."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    phrase = after_answer_phrase(text)
    if phrase is not None:
        return phrase
    return strip_math_delimiters(text.strip().rstrip("."))
