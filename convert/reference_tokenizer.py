"""The token ids the checkpoint's Hugging Face tokenizer gives, for checking the GGUF against it.

A SentencePiece checkpoint (`tokenizer.model`): MathCoder and ToRA were trained with transformers'
SentencePiece-based `LlamaTokenizer` in legacy mode: split the text at added tokens, encode each piece of plain
text with SentencePiece, put the added tokens' ids in between. We do exactly that with the `sentencepiece`
library (tests check it against transformers 4.x on real transcripts). transformers 5 tokenizes some leading
spaces differently, so it is not the reference.

A checkpoint with only a `tokenizer.json` (byte-level BPE: Qwen2, DeepSeek, Llama-3): the fast tokenizer,
through the `tokenizers` library that transformers' fast tokenizers wrap. Added tokens are split out of the
text, as llama.cpp's special parsing does. BOS/EOS come from tokenizer.json's post-processor, except for a
`LlamaTokenizer(Fast)` class, where transformers rebuilds the post-processor from `add_bos_token` /
`add_eos_token` (default: BOS only), and so do we.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from mathcoder_local.convert.vocab import load_json, read_added_tokens

from mathcoder_local.errors import UserError

Tokenize = Callable[[str], list[int]]


def has_reference_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.model").is_file() or (folder / "tokenizer.json").is_file()


def reference_tokenizer(folder: Path) -> Tokenize:
    if (folder / "tokenizer.model").is_file():
        return _sentencepiece_tokenizer(folder)
    if (folder / "tokenizer.json").is_file():
        return _fast_tokenizer(folder)
    raise UserError(f"{folder} has neither tokenizer.model nor tokenizer.json to compare the GGUF's tokens with")


def _sentencepiece_tokenizer(folder: Path) -> Tokenize:
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    # The slow tokenizer splits out every added token and every special token (<s>, </s>, <unk> written as
    # text become those ids), exactly as llama.cpp's special parsing does.
    added, _ = read_added_tokens(folder)
    special_map = load_json(folder / "special_tokens_map.json")
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = special_map.get(key)
        text = value.get("content") if isinstance(value, dict) else value
        if isinstance(text, str):
            token_id = sp.piece_to_id(text)  # unk_id for text that is no piece, unless it is "<unk>" itself
            if token_id != sp.unk_id() or text == sp.id_to_piece(token_id):
                added.setdefault(text, token_id)
    add_bos = bool(load_json(folder / "tokenizer_config.json").get("add_bos_token", True))
    pattern = "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True))
    splitter = re.compile(f"({pattern})") if added else None

    def tokenize(text: str) -> list[int]:
        ids = [sp.bos_id()] if add_bos else []
        for part in splitter.split(text) if splitter else [text]:
            if part in added:
                ids.append(added[part])
            elif part:
                ids.extend(sp.encode(part))
        return ids

    return tokenize


def _special_id(tok, config: dict, key: str) -> int | None:  # noqa: ANN001 - a tokenizers.Tokenizer
    value = config.get(key)
    text = value.get("content") if isinstance(value, dict) else value
    return tok.token_to_id(text) if isinstance(text, str) else None


def _fast_tokenizer(folder: Path) -> Tokenize:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise UserError(
            "comparing with a tokenizer.json needs the `tokenizers` package: pip install tokenizers"
        ) from None
    try:
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises its own exception type for bad files
        raise UserError(f"cannot read {folder / 'tokenizer.json'}: {exc}".splitlines()[0]) from None
    config = load_json(folder / "tokenizer_config.json")
    llama_class = str(config.get("tokenizer_class", "")).startswith("LlamaTokenizer")
    if not llama_class:
        return lambda text: tok.encode(text, add_special_tokens=True).ids
    bos = _special_id(tok, config, "bos_token") if config.get("add_bos_token", True) else None
    eos = _special_id(tok, config, "eos_token") if config.get("add_eos_token", False) else None

    def tokenize(text: str) -> list[int]:
        ids = tok.encode(text, add_special_tokens=False).ids
        return ([bos] if bos is not None else []) + ids + ([eos] if eos is not None else [])

    return tokenize
