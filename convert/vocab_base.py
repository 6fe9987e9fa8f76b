"""What every vocabulary reader produces: `Vocab`, the GGUF token types, the added tokens a checkpoint lists.

The SentencePiece reader (`vocab.py`) and the byte-level BPE reader (`vocab_bpe.py`) both fill a `Vocab`;
`vocab_writer.py` writes it. This module imports neither, so the readers and the writer never import each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mathcoder_local.errors import UserError
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

# GGUF token types; SentencePiece numbers its piece types the same way.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
EOT_TOKENS = ("<|endofmessage|>", "<|im_end|>", "<|eot_id|>")


@dataclass
class Vocab:
    tokens: list[str]
    scores: list[float]
    types: list[int]
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool
    added: dict[str, int] = field(default_factory=dict)  # added tokens, as the HF tokenizer has them
    sp_model_type: str = "bpe"  # the SentencePiece model type; "bpe" for a byte-level BPE vocabulary too
    tokenizer_model: str = "llama"  # tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str = "default"  # tokenizer.ggml.pre: llama.cpp's pre-tokenizer (convert/pretokenizer.py)
    merges: list[str] = field(default_factory=list)  # byte-level BPE merges, "left right", by rank
    chat_template: str | list | None = None  # tokenizer.chat_template, as tokenizer_config.json has it
    warnings: list[str] = field(default_factory=list)  # for the plan: what the user must hear about it

    @property
    def eot_id(self) -> int | None:
        """The end-of-turn token: MathCoder's <|endofmessage|>, ChatML's <|im_end|> or Llama-3's <|eot_id|>."""
        return next((self.added[t] for t in EOT_TOKENS if t in self.added), None)

    @property
    def prompt_format(self) -> str:
        return "mathcoder" if all(t in self.added for t in MATHCODER_TOKENS) else "tora"


def load_json(path: Path) -> dict:
    """A JSON file of the checkpoint, or {} when it is absent."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None


def token_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("content")
    return None


def read_added_tokens(folder: Path) -> tuple[dict[str, int], set[str]]:
    """Added tokens from every place transformers has kept them (text → id), and which are special."""
    tok_config = load_json(folder / "tokenizer_config.json")
    special_map = load_json(folder / "special_tokens_map.json")
    added: dict[str, int] = {}
    special: set[str] = set()
    for text, token_id in load_json(folder / "added_tokens.json").items():
        added[text] = int(token_id)
    for token_id, info in tok_config.get("added_tokens_decoder", {}).items():
        added[info["content"]] = int(token_id)
        if info.get("special"):
            special.add(info["content"])
    for info in load_json(folder / "tokenizer.json").get("added_tokens", []):
        added[info["content"]] = int(info["id"])
        if info.get("special"):
            special.add(info["content"])
    for value in special_map.get("additional_special_tokens", []) + tok_config.get("additional_special_tokens", []):
        if token_text(value):
            special.add(token_text(value))
    return added, special
