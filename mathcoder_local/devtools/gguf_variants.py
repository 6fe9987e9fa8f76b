"""GGUF files as other converters make them, for testing `convert --verify` and `convert --repair`.

- `write_model_gguf`: a random-weight llama or qwen2 GGUF around any vocabulary (the converter's `Vocab`,
  written by the converter's own `vocab_writer`), the tensors written one at a time (a benchmark file of
  gigabytes never sits in memory), shaped as asked or as a checkpoint's config.json says
  (`checkpoint_shape`);
- `spm_vocab`: the tiny SentencePiece-style vocabulary of `tiny_gguf`; `checkpoint_vocab`: a checkpoint
  folder's vocabulary as the converter reads it (SentencePiece or byte-level BPE); `retyped` / `renamed` /
  `without_end_of_turn`: the same vocabulary with tokens retyped (USER_DEFINED is what converters that
  ignore the `special` flag write), renamed, or no end-of-turn token recorded;
- `rewrite_gguf`: a copy of a GGUF with token types changed and metadata entries dropped or set (a file
  with no end-of-turn token, no pre-tokenizer name, …), the tensor data copied unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from mathcoder_local.convert.vocab_base import CONTROL, EOT_TOKENS, NORMAL, UNUSED, USER_DEFINED, Vocab
from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, tiny_vocab

__all__ = [
    "CONTROL",
    "NORMAL",
    "UNUSED",
    "USER_DEFINED",
    "ModelShape",
    "checkpoint_shape",
    "checkpoint_vocab",
    "renamed",
    "retyped",
    "rewrite_gguf",
    "spm_vocab",
    "without_end_of_turn",
    "write_model_gguf",
]


def spm_vocab(*, mathcoder_tokens: bool = True, extra_pieces: int = 0) -> Vocab:
    """`tiny_gguf`'s vocabulary (unknown/BOS/EOS, byte tokens, pieces, the MathCoder tokens CONTROL), with no
    end-of-turn token."""
    tokens, scores, types = tiny_vocab(TinyModelSpec(mathcoder_tokens=mathcoder_tokens, extra_pieces=extra_pieces))
    return Vocab(tokens, scores, types, bos_id=1, eos_id=2, unk_id=0, pad_id=None, add_bos=True, add_eos=False,
                 add_space_prefix=True)  # fmt: skip


def checkpoint_vocab(folder: Path) -> Vocab:
    """The vocabulary of the checkpoint in `folder`, read by the converter, padded to config.json's size."""
    from mathcoder_local.convert.vocab import load_vocab

    return load_vocab(folder, int(json.loads((folder / "config.json").read_text())["vocab_size"]))


def retyped(vocab: Vocab, types: Mapping[str, int]) -> Vocab:
    new = list(vocab.types)
    for text, kind in types.items():
        new[vocab.tokens.index(text)] = kind
    return replace(vocab, types=new)


def renamed(vocab: Vocab, names: Mapping[str, str]) -> Vocab:
    return replace(vocab, tokens=[names.get(t, t) for t in vocab.tokens], added={})


def without_end_of_turn(vocab: Vocab) -> Vocab:
    """The vocabulary written with no tokenizer.ggml.eot_token_id (its end-of-turn token stays a token)."""
    return replace(vocab, added={t: i for t, i in vocab.added.items() if t not in EOT_TOKENS})


@dataclass(frozen=True)
class ModelShape:
    arch: str = "llama"  # or "qwen2"
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 4
    n_ff: int = 128
    n_ctx: int = 4096
    rope_base: float = 10000.0
    tied: bool = False
    dtype: str = "f32"  # matrices: f32 or f16 (norms and biases stay f32)
    seed: int = 0
    alignment: int | None = None  # general.alignment (None: GGUF's default, 32)


def checkpoint_shape(folder: Path, **changes: object) -> ModelShape:
    """The model shape config.json in `folder` describes (Qwen2ForCausalLM → qwen2, else llama)."""
    c = json.loads((folder / "config.json").read_text())
    shape = ModelShape(
        arch="qwen2" if c["architectures"][0] == "Qwen2ForCausalLM" else "llama",
        n_embd=c["hidden_size"],
        n_layer=c["num_hidden_layers"],
        n_head=c["num_attention_heads"],
        n_head_kv=c.get("num_key_value_heads", c["num_attention_heads"]),
        n_ff=c["intermediate_size"],
        n_ctx=c.get("max_position_embeddings", 4096),
        rope_base=float(c.get("rope_theta", 10000.0)),
        tied=bool(c.get("tie_word_embeddings", False)),
    )
    return replace(shape, **changes)


def _tensors(shape: ModelShape, n_vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    from mathcoder_local.convert.arch import BY_GGUF_ARCH, expected_shapes

    shapes = expected_shapes(
        BY_GGUF_ARCH[shape.arch],
        vocab=n_vocab,
        hidden=shape.n_embd,
        ff=shape.n_ff,
        layers=shape.n_layer,
        heads=shape.n_head,
        kv_heads=shape.n_head_kv,
        head_dim=shape.n_embd // shape.n_head,
    )
    if shape.tied:
        del shapes["output.weight"]
    return list(shapes.items())


def write_model_gguf(
    path: str | Path, vocab: Vocab, shape: ModelShape = ModelShape(), *, prompt_format: str | None = None
) -> Path:
    """A random-weight GGUF with `vocab`, written to a temporary name and renamed; tensors one at a time."""
    import gguf

    from mathcoder_local.convert.vocab_writer import add_vocab_metadata

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    w = gguf.GGUFWriter(str(tmp), shape.arch)
    w.add_name(f"random-{shape.arch}")
    w.add_context_length(shape.n_ctx)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_rope_dimension_count(shape.n_embd // shape.n_head)
    w.add_rope_freq_base(shape.rope_base)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if shape.dtype == "f16" else gguf.LlamaFileType.ALL_F32)
    if shape.alignment is not None:
        w.add_custom_alignment(shape.alignment)
    add_vocab_metadata(w, vocab)
    if prompt_format:
        w.add_string("mathcoder_local.prompt_format", prompt_format)
    tensors = _tensors(shape, len(vocab.tokens))
    matrix = np.float16 if shape.dtype == "f16" else np.float32
    for name, dims in tensors:
        dtype = np.dtype(np.float32 if len(dims) == 1 else matrix)
        w.add_tensor_info(name, dims, dtype, int(np.prod(dims)) * dtype.itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(shape.seed)
    for name, dims in tensors:
        if len(dims) == 1:
            data = (0.5 * rng.standard_normal(dims) if name.endswith(".bias") else np.ones(dims)).astype(np.float32)
        else:
            data = (rng.standard_normal(dims, dtype=np.float32) * (0.5 / np.sqrt(dims[-1]))).astype(matrix)
        w.write_tensor_data(data)
        del data
    w.close()
    tmp.replace(path)
    return path


def rewrite_gguf(
    src: str | Path,
    dst: str | Path,
    *,
    token_types: Mapping[str, int] | None = None,
    drop: Iterable[str] = (),
    strings: Mapping[str, str] | None = None,
) -> Path:
    """A copy of `src` at `dst` with the named tokens retyped, the `drop` entries left out and the `strings`
    entries set; everything else, the tensor data included, copied byte for byte."""
    from mathcoder_local.convert.file_copy import copy_range
    from mathcoder_local.convert.gguf_file import ARRAY, STRING, build_header, encode_entry, read_header

    dst = Path(dst)
    with read_header(src) as header:
        replace_entries: dict[str, bytes] = {}
        add: list[bytes] = []
        if token_types:
            tokens = header.get("tokenizer.ggml.tokens")
            types = list(header.get("tokenizer.ggml.token_type"))
            for text, kind in token_types.items():
                types[tokens.index(text)] = kind
            item_type = header.entries["tokenizer.ggml.token_type"].item_type
            replace_entries["tokenizer.ggml.token_type"] = encode_entry(
                "tokenizer.ggml.token_type", ARRAY, types, header.byteorder, item_type
            )
        for key, value in (strings or {}).items():
            data = encode_entry(key, STRING, value, header.byteorder)
            if key in header.entries:
                replace_entries[key] = data
            else:
                add.append(data)
        dropped = set(drop)
        header.entries = {k: e for k, e in header.entries.items() if k not in dropped}
        new_header = build_header(header, replace_entries, add)
        with dst.open("wb") as out, header.path.open("rb") as f:
            out.write(new_header)
            out.flush()
            copy_range(f.fileno(), header.data_offset, out.fileno(), len(new_header), header.data_bytes)
            os.fsync(out.fileno())
    return dst
