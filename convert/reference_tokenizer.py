"""The token ids the checkpoint's Hugging Face tokenizer gives, for checking the GGUF against it.

A SentencePiece checkpoint (`tokenizer.model`): MathCoder and ToRA were trained with transformers'
SentencePiece-based `LlamaTokenizer` in legacy mode: split the text at added tokens, encode each piece of plain
text with SentencePiece, put the added tokens' ids in between. We do exactly that with the `sentencepiece`
library (tests check it against transformers 4.x on real transcripts). transformers 5 tokenizes some leading
spaces differently, so it is not the reference.

A checkpoint with only a `tokenizer.json` (byte-level BPE: Qwen2, DeepSeek, Llama-3): the fast tokenizer,
through the `tokenizers` library that transformers' fast tokenizers wrap (`vocab_bpe.reference_bpe_tokenizer`):
added tokens are split out of the text, as llama.cpp's special parsing does, and BOS/EOS are added by the
same rule that sets the GGUF's add_bos/add_eos.
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


def _fast_tokenizer(folder: Path) -> Tokenize:
    from mathcoder_local.convert.vocab_bpe import reference_bpe_tokenizer

    return reference_bpe_tokenizer(folder)
