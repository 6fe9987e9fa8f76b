"""Writing a `Vocab` into GGUF keys, for a full conversion (`writer.py`) and for a vocabulary-only GGUF that
llama.cpp loads to check a tokenizer in llama.cpp itself (`vocab_bpe.py`)."""

from __future__ import annotations

from pathlib import Path

import gguf
from mathcoder_local.convert.vocab_base import Vocab


def add_vocab_metadata(w: gguf.GGUFWriter, v: Vocab) -> None:
    """The tokenizer keys: model and pre-tokenizer, tokens, scores (SentencePiece) or merges (byte-level BPE),
    token types, special ids, add_bos/add_eos, the space prefix (SentencePiece) and the chat template."""
    w.add_tokenizer_model(v.tokenizer_model)
    w.add_tokenizer_pre(v.pre)
    w.add_token_list(v.tokens)
    if v.tokenizer_model == "gpt2":
        w.add_token_types(v.types)
        w.add_token_merges(v.merges)
    else:
        w.add_token_scores(v.scores)
        w.add_token_types(v.types)
    for setter, value in (
        (w.add_bos_token_id, v.bos_id),
        (w.add_eos_token_id, v.eos_id),
        (w.add_unk_token_id, v.unk_id),
        (w.add_pad_token_id, v.pad_id),
        (w.add_eot_token_id, v.eot_id),  # <|endofmessage|>, <|im_end|>: other llama.cpp tools stop there too
    ):
        if value is not None:
            setter(value)
    w.add_add_bos_token(v.add_bos)
    w.add_add_eos_token(v.add_eos)
    if v.tokenizer_model != "gpt2":
        w.add_add_space_prefix(v.add_space_prefix)
    if v.chat_template is not None:
        w.add_chat_template(v.chat_template)


def write_vocab_gguf(vocab: Vocab, path: Path, *, arch: str = "llama") -> Path:
    """A GGUF with the vocabulary and no tensors, which llama.cpp loads with `vocab_only=True` (the
    architecture keys it needs to load are placeholders). For checking a tokenizer in llama.cpp itself."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("vocabulary")
    w.add_context_length(4096)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(len(vocab.tokens))
    add_vocab_metadata(w, vocab)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    return path
