"""The special tokens of each prompt convention a math model's vocabulary may carry, and how to tell them apart.

A GGUF made elsewhere says nothing of our prompt formats; its vocabulary does. Each `TokenSet` names the
tokens that identify a convention, the tokens that must be CONTROL (llama.cpp then never finds them in plain
text, so execution output cannot inject them), the token that ends the model's turn, and the prompt format
of ours (`mathcoder_local.formats.FORMATS`) that its models run with: MathCoder's block tokens for MathCoder,
ToRA's markdown fences (```python … ```output) for every other convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

DEEPSEEK_BOS = "<｜begin▁of▁sentence｜>"
DEEPSEEK_EOS = "<｜end▁of▁sentence｜>"


@dataclass(frozen=True)
class TokenSet:
    name: str
    label: str  # plain words, for messages
    short: str  # a few words, for tables
    markers: tuple[str, ...]  # all present: the vocabulary follows this convention
    control: tuple[str, ...]  # each one present must be CONTROL
    end: str  # ends the model's turn: must end generation in llama.cpp
    records_eot: bool  # the converter records `end` as tokenizer.ggml.eot_token_id
    prompt_format: str  # the loop's format for these models
    required: tuple[str, ...] = ()  # all needed to run `prompt_format`

    def present(self, ids: Mapping[str, int]) -> list[str]:
        return [t for t in self.control if t in ids]


MATHCODER = TokenSet(
    "mathcoder",
    "MathCoder's block tokens <|text|>, <|code|>, <|execution|>, <|endofblock|>, …",
    "MathCoder tokens",
    markers=("<|endofblock|>", "<|code|>"),  # what mathcoder_local.formats.format_of looks for
    control=(*MATHCODER_TOKENS, "<s>", "</s>"),
    end="<|endofmessage|>",
    records_eot=True,
    prompt_format="mathcoder",
    required=MATHCODER_TOKENS,
)
CHATML = TokenSet(
    "chatml",
    "ChatML's <|im_start|>/<|im_end|> (Qwen)",
    "ChatML tokens",
    markers=("<|im_start|>", "<|im_end|>"),
    control=("<|im_start|>", "<|im_end|>", "<|endoftext|>"),
    end="<|im_end|>",
    records_eot=True,
    prompt_format="tora",
)
LLAMA3 = TokenSet(
    "llama3",
    "Llama-3's <|start_header_id|>/<|eot_id|>",
    "Llama-3 tokens",
    markers=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    control=("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    end="<|eot_id|>",
    records_eot=True,
    prompt_format="tora",
)
DEEPSEEK = TokenSet(
    "deepseek",
    f"DeepSeek's begin/end of sentence {DEEPSEEK_BOS}, {DEEPSEEK_EOS}",
    "DeepSeek tokens",
    markers=(DEEPSEEK_BOS, DEEPSEEK_EOS),
    control=(DEEPSEEK_BOS, DEEPSEEK_EOS),
    end=DEEPSEEK_EOS,  # the end of sentence is the end of the answer (DeepSeek-Math's harness stops there)
    records_eot=False,
    prompt_format="tora",
)
LLAMA = TokenSet(
    "llama",
    "Llama's <s>/</s> (plain-text prompts, as ToRA's)",
    "Llama <s>/</s>",
    markers=("<s>", "</s>"),
    control=("<s>", "</s>"),
    end="</s>",
    records_eot=False,
    prompt_format="tora",
)

TOKEN_SETS: tuple[TokenSet, ...] = (MATHCODER, CHATML, LLAMA3, DEEPSEEK, LLAMA)  # the first that matches wins


def detect_token_set(ids: Mapping[str, int]) -> TokenSet | None:
    """The convention whose marker tokens are all in the vocabulary (`ids`: token text → id), or None."""
    return next((s for s in TOKEN_SETS if all(m in ids for m in s.markers)), None)


def looked_for() -> str:
    """What detection looks for, in plain words."""
    return "; ".join(s.label for s in TOKEN_SETS)


def token_index(tokens: list[str], wanted: set[str] | None = None) -> dict[str, int]:
    """text → id, the first id for a text that occurs twice; only `wanted` texts when given."""
    if wanted is None:
        wanted = {t for s in TOKEN_SETS for t in (*s.markers, *s.control, s.end)}
    index: dict[str, int] = {}
    for i, text in enumerate(tokens):
        if text in wanted and text not in index:
            index[text] = i
    return index
