"""GGUF files as other converters make them, for testing `convert --verify` and `convert --repair`.

- `write_model_gguf`: a random-weight llama or qwen2 GGUF around any vocabulary (`GGUFVocab`), the
  tensors written one at a time (a benchmark file of gigabytes never sits in memory), shaped as asked or as
  a checkpoint's config.json says (`checkpoint_shape`);
- `spm_vocab`: the tiny SentencePiece-style vocabulary of `tiny_gguf`, its tokens retyped or renamed;
- `bpe_vocab`: the byte-level BPE vocabulary of a checkpoint folder's tokenizer.json (tokens, merges, added
  tokens typed as asked: USER_DEFINED is what converters that ignore the `special` flag write);
- `rewrite_gguf`: a copy of a GGUF with token types changed and metadata entries dropped or set, the
  tensor data copied unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, tiny_vocab

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
EOT_CANDIDATES = ("<|endofmessage|>", "<|im_end|>", "<|eot_id|>")


@dataclass
class GGUFVocab:
    tokens: list[str]
    types: list[int]
    model: str = "llama"  # tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str | None = None
    scores: list[float] | None = None  # SentencePiece
    merges: list[str] = field(default_factory=list)  # byte-level BPE, "left right" by rank
    bos: int | None = None
    eos: int | None = None
    unk: int | None = None
    eot: int | None = None
    add_bos: bool | None = None

    def retyped(self, types: Mapping[str, int]) -> GGUFVocab:
        new = list(self.types)
        for text, kind in types.items():
            new[self.tokens.index(text)] = kind
        return replace(self, types=new)

    def renamed(self, names: Mapping[str, str]) -> GGUFVocab:
        return replace(self, tokens=[names.get(t, t) for t in self.tokens])


def spm_vocab(*, mathcoder_tokens: bool = True, extra_pieces: int = 0, eot: bool = False) -> GGUFVocab:
    """`tiny_gguf`'s vocabulary (unknown/BOS/EOS, byte tokens, pieces, the MathCoder tokens CONTROL)."""
    tokens, scores, types = tiny_vocab(TinyModelSpec(mathcoder_tokens=mathcoder_tokens, extra_pieces=extra_pieces))
    eot_id = tokens.index("<|endofmessage|>") if eot and mathcoder_tokens else None
    return GGUFVocab(tokens, types, "llama", "default", scores, bos=1, eos=2, unk=0, eot=eot_id, add_bos=True)


def bpe_vocab(folder: Path, *, special_type: int = CONTROL, eot: bool = True, pre: str = "qwen2") -> GGUFVocab:
    """The byte-level BPE vocabulary of `folder`'s tokenizer.json, padded to config.json's vocab_size;
    added tokens typed `special_type`; `eot`: record the first end-of-turn token present."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    by_id = {i: t for t, i in tok.get_vocab(with_added_tokens=True).items()}
    config = json.loads((folder / "config.json").read_text())
    size = max(int(config.get("vocab_size", 0)), len(by_id))
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(size)]
    types = [NORMAL if i in by_id else UNUSED for i in range(size)]
    for i in tok.get_added_tokens_decoder():
        types[i] = special_type
    merges = [m if isinstance(m, str) else " ".join(m) for m in json.loads(tok.to_str())["model"]["merges"]]
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    eot_id = next((tokens.index(t) for t in EOT_CANDIDATES if t in tokens), None) if eot else None
    bos = config.get("bos_token_id")
    add_bos = tok_config.get("add_bos_token")
    if not isinstance(add_bos, bool):  # as tokenizer.json's post-processor does it
        add_bos = bos is not None and tok.encode("a", add_special_tokens=True).ids[:1] == [bos]
    return GGUFVocab(
        tokens,
        types,
        "gpt2",
        pre,
        merges=merges,
        bos=bos,
        eos=config.get("eos_token_id"),
        eot=eot_id,
        add_bos=add_bos,
    )


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
    path: str | Path, vocab: GGUFVocab, shape: ModelShape = ModelShape(), *, prompt_format: str | None = None
) -> Path:
    """A random-weight GGUF with `vocab`, written to a temporary name and renamed; tensors one at a time."""
    import gguf

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
    w.add_tokenizer_model(vocab.model)
    if vocab.pre:
        w.add_tokenizer_pre(vocab.pre)
    w.add_token_list(vocab.tokens)
    if vocab.scores is not None:
        w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    if vocab.merges:
        w.add_token_merges(vocab.merges)
    for setter, value in (
        (w.add_bos_token_id, vocab.bos),
        (w.add_eos_token_id, vocab.eos),
        (w.add_unk_token_id, vocab.unk),
        (w.add_eot_token_id, vocab.eot),
    ):
        if value is not None:
            setter(value)
    if vocab.add_bos is not None:
        w.add_add_bos_token(vocab.add_bos)
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
    from mathcoder_local.convert.gguf_file import ARRAY, STRING, build_header, encode_entry, read_header
    from mathcoder_local.convert.repair import copy_range

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
        kept = {k: e for k, e in header.entries.items() if k not in dropped}
        header.entries = kept
        new_header = build_header(header, replace_entries, add)
        with dst.open("wb") as out, header.path.open("rb") as f:
            out.write(new_header)
            out.flush()
            copy_range(f.fileno(), header.data_offset, out.fileno(), len(new_header), header.data_bytes)
            os.fsync(out.fileno())
    return dst
