"""The vocabulary of a checkpoint: SentencePiece pieces plus the added tokens, as GGUF wants it.

Byte-level BPE vocabularies (a tokenizer.json alone) are read by `vocab_bpe.py` into the same `Vocab`.

MathCoder checkpoints saved with transformers 4.31 list their block tokens only in `added_tokens.json`, with
no `special` flag; converters that trust the flag make them USER_DEFINED, and llama.cpp then parses them out
of any text, execution output included. Here every MathCoder token is CONTROL, whatever the files say.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.convert.vocab_base import (  # noqa: F401 - the vocabulary's names, re-exported
    BYTE,
    CONTROL,
    EOT_TOKENS,
    NORMAL,
    UNKNOWN,
    UNUSED,
    USER_DEFINED,
    Vocab,
    load_json,
    read_added_tokens,
    token_text,
)

from mathcoder_local.errors import UserError
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

SP_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclass
class SentencePieceModel:
    pieces: list[str]
    scores: list[float]
    types: list[int]
    add_dummy_prefix: bool = True
    model_type: str = "unigram"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) for each field of a protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def read_sentencepiece(path: Path) -> SentencePieceModel:
    """Parse tokenizer.model (a SentencePiece ModelProto) without the sentencepiece library."""
    try:
        data = path.read_bytes()
        model = SentencePieceModel([], [], [])
        for number, _wire, value in _fields(data):
            if number == 1:  # repeated SentencePiece { piece = 1; score = 2; type = 3 }
                piece, score, kind = "", 0.0, NORMAL
                for n, _w, v in _fields(value):
                    if n == 1:
                        piece = v.decode("utf-8")
                    elif n == 2:
                        (score,) = struct.unpack("<f", v)
                    elif n == 3:
                        kind = v
                model.pieces.append(piece)
                model.scores.append(score)
                model.types.append(kind)
            elif number == 2:  # TrainerSpec { model_type = 3 }
                for n, _w, v in _fields(value):
                    if n == 3:
                        model.model_type = SP_MODEL_TYPES.get(v, str(v))
            elif number == 3:  # NormalizerSpec { add_dummy_prefix = 3 }
                for n, _w, v in _fields(value):
                    if n == 3:
                        model.add_dummy_prefix = bool(v)
    except (OSError, ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise UserError(f"cannot read the SentencePiece model {path}: {exc}") from None
    if not model.pieces:
        raise UserError(f"{path} holds no SentencePiece pieces; is it a tokenizer.model?")
    return model


def load_vocab(folder: Path, vocab_size: int, *, pre: str | None = None) -> Vocab:
    """The checkpoint's vocabulary, padded to the model's `vocab_size` with unused tokens.

    A SentencePiece `tokenizer.model` is read here; a folder with only a `tokenizer.json` has a byte-level BPE
    vocabulary (Qwen2, DeepSeek, Llama-3), read by `vocab_bpe.load_bpe_vocab`, where `pre` forces llama.cpp's
    pre-tokenizer instead of the one identified from tokenizer.json.
    """
    sp_path = folder / "tokenizer.model"
    if not sp_path.is_file() and (folder / "tokenizer.json").is_file():
        from mathcoder_local.convert.vocab_bpe import load_bpe_vocab

        return load_bpe_vocab(folder, vocab_size, pre=pre)
    if not sp_path.is_file():
        raise UserError(
            f"{folder} has no tokenizer.model (the SentencePiece model a Llama checkpoint needs) and no "
            "tokenizer.json (a byte-level BPE vocabulary)"
        )
    if pre is not None:
        raise UserError(
            f"--pre applies to byte-level BPE vocabularies (tokenizer.json); {folder} has a tokenizer.model"
        )
    sp = read_sentencepiece(sp_path)
    tokens, scores, types = list(sp.pieces), list(sp.scores), list(sp.types)

    tok_config = load_json(folder / "tokenizer_config.json")
    special_map = load_json(folder / "special_tokens_map.json")
    added, special = read_added_tokens(folder)

    for text, token_id in sorted(added.items(), key=lambda item: item[1]):
        kind = CONTROL if (text in MATHCODER_TOKENS or text in special) else USER_DEFINED
        if token_id < len(tokens):
            if tokens[token_id] != text:  # an added token that replaces a piece
                tokens[token_id], types[token_id] = text, kind
            elif text in MATHCODER_TOKENS:
                types[token_id] = CONTROL
            continue
        while len(tokens) < token_id:  # a gap in the ids: unused filler, as llama.cpp's converter writes
            tokens.append(f"[PAD{len(tokens)}]")
            scores.append(-1000.0)
            types.append(UNUSED)
        tokens.append(text)
        scores.append(-1000.0)
        types.append(kind)

    if len(tokens) > vocab_size:
        raise UserError(
            f"the tokenizer has {len(tokens)} tokens but config.json says vocab_size {vocab_size}; "
            "the checkpoint's files do not belong together"
        )
    while len(tokens) < vocab_size:
        tokens.append(f"[PAD{len(tokens)}]")
        scores.append(-1000.0)
        types.append(UNUSED)

    index = {t: i for i, t in enumerate(tokens)}
    config = load_json(folder / "config.json")

    def special_id(name: str, default: str | None) -> int | None:
        text = token_text(tok_config.get(name)) or token_text(special_map.get(name)) or default
        if text is not None and text in index:
            return index[text]
        fallback = config.get(f"{name}_id")
        return fallback if isinstance(fallback, int) and 0 <= fallback < len(tokens) else None

    return Vocab(
        tokens=tokens,
        scores=scores,
        types=types,
        bos_id=special_id("bos_token", "<s>"),
        eos_id=special_id("eos_token", "</s>"),
        unk_id=special_id("unk_token", "<unk>"),
        pad_id=special_id("pad_token", None),
        add_bos=bool(tok_config.get("add_bos_token", True)),
        add_eos=bool(tok_config.get("add_eos_token", False)),
        add_space_prefix=sp.add_dummy_prefix,
        added=added,
        sp_model_type=sp.model_type,
    )
