"""Drive a real engine along a scripted token sequence: a logits processor that favours the next token.

The model still runs: every token is evaluated by llama.cpp, sampled through its samplers (and grammar), and
the KV cache carries over rounds; only the choice of token is steered. Once the script is used up it steers
to end-of-sequence.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BONUS = 1.0e4  # added to the scripted token's logit: dominant, yet a grammar can still overrule it


class ScriptedTokens:
    def __init__(self, tokens: Sequence[int], eos_id: int) -> None:
        self.tokens = list(tokens)
        self.eos_id = eos_id
        self.position = 0

    def __call__(self, history: Sequence[int], logits: np.ndarray) -> np.ndarray:
        target = self.tokens[self.position] if self.position < len(self.tokens) else self.eos_id
        self.position += 1
        logits[target] += BONUS
        return logits


def mathcoder_script(engine, blocks: Sequence[tuple[str, str]], *, end: bool = True) -> list[int]:
    """Tokens of a MathCoder answer made of ("text"|"code", content) blocks (execution blocks excluded:
    the harness writes those). Each block is tokenized as llama.cpp would after a special token."""
    tokens: list[int] = []
    for kind, content in blocks:
        tokens.append(engine.token_id(f"<|{kind}|>"))
        tokens += engine.tokenize(content)
        tokens.append(engine.token_id("<|endofblock|>"))
    if end:
        tokens.append(engine.token_id("<|endofmessage|>"))
    return tokens


def tora_script(engine, segments: Sequence[str]) -> list[int]:
    """Tokens of a ToRA answer given as the text between execution results (each but the last ending in
    "```output"). Later segments are tokenized as continuations (after the harness's "```\\n")."""
    tokens: list[int] = []
    anchor = engine.tokenize("\n")
    for i, segment in enumerate(segments):
        if i == 0:
            tokens += engine.tokenize(segment)
        else:
            part = engine.tokenize("\n" + segment)
            tokens += part[len(anchor) :] if part[: len(anchor)] == anchor else part
    return tokens
