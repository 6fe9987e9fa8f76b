"""Write small Hugging Face checkpoints: a tokenizer trained here, random weights.

The folder has the layout of a real checkpoint, so the converter reads it exactly as it reads a downloaded one:
- `LlamaForCausalLM` with a SentencePiece `tokenizer.model` (MathCoder / Llama-2: tokenizer_config.json,
  special_tokens_map.json, added_tokens.json), or with a byte-level BPE `tokenizer.json` only (DeepSeek-Math,
  Llama-3 fine-tunes);
- `Qwen2ForCausalLM` (q/k/v biases, random and non-zero; tied or untied embeddings) with a Qwen2 BPE
  `tokenizer.json` and ChatML tokens;
weights as safetensors or pytorch_model.bin, single or sharded with an index. The BPE tokenizer files come from
`bpe_vocab.write_bpe_tokenizer`. Needs `sentencepiece` for the SentencePiece vocabulary, `tokenizers` for the
BPE ones, and torch for `.bin` weights.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from mathcoder_local.devtools.corpus import training_corpus  # noqa: F401 - re-exported for tests
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS


def train_sentencepiece(corpus: Iterable[str], vocab_size: int = 512) -> bytes:
    """A Llama-style SentencePiece model: BPE, byte fallback, digits split, identity normalization."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(corpus)),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


@dataclass(frozen=True)
class CheckpointSpec:
    hidden_size: int = 64
    intermediate_size: int = 160
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 4
    rope_theta: float | None = 10000.0  # None: leave it out of config.json, as transformers 4.31 did
    vocab_padding: int = 0  # extra rows beyond the tokenizer, as checkpoints padded to a multiple have
    tie_word_embeddings: bool = False
    added_tokens_style: str = "4.31"  # "4.31": added_tokens.json only; "new": added_tokens_decoder too
    mathcoder_tokens: bool = True
    weights: str = "safetensors"  # or "bin"
    dtype: str = "f32"  # f32 | f16 | bf16
    shards: int = 1
    max_position_embeddings: int = 2048
    seed: int = 0
    sp_vocab_size: int = 512
    architecture: str = "llama"  # or "qwen2"
    # "sentencepiece", or a byte-level BPE kind of `bpe_vocab`; None: the architecture's own (qwen2 → "qwen2")
    tokenizer: str | None = None
    rms_norm_eps: float = 1e-5
    bpe_vocab_size: int = 400
    vocab_size: int | None = None  # embedding rows in all, padding past the tokenizer (instead of vocab_padding)

    @property
    def tokenizer_kind(self) -> str:
        return self.tokenizer or ("qwen2" if self.architecture == "qwen2" else "sentencepiece")


def _weights(spec: CheckpointSpec, vocab_size: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    h, ff = spec.hidden_size, spec.intermediate_size
    kv = h // spec.num_heads * spec.num_kv_heads
    yield "model.embed_tokens.weight", (vocab_size, h)
    for i in range(spec.num_layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (h, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        if spec.architecture == "qwen2":
            yield p + "self_attn.q_proj.bias", (h,)
            yield p + "self_attn.k_proj.bias", (kv,)
            yield p + "self_attn.v_proj.bias", (kv,)
        yield p + "self_attn.o_proj.weight", (h, h)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (ff, h)
        yield p + "mlp.up_proj.weight", (ff, h)
        yield p + "mlp.down_proj.weight", (h, ff)
    yield "model.norm.weight", (h,)
    if not spec.tie_word_embeddings:
        yield "lm_head.weight", (vocab_size, h)


def _random(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name.endswith(".bias"):
        return (0.5 * rng.standard_normal(shape)).astype(np.float32)  # large enough that dropping them shows
    if len(shape) == 1:
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)


_ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


def _encode(array: np.ndarray, dtype: str) -> bytes:
    if dtype == "f32":
        return array.astype(np.float32).tobytes()
    if dtype == "f16":
        return array.astype(np.float16).tobytes()
    bits = array.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).tobytes()  # round to nearest even


def write_safetensors(path: Path, tensors: dict[str, tuple[tuple[int, ...], bytes]], dtype: str) -> None:
    header, offset = {}, 0
    for name, (shape, data) in tensors.items():
        header[name] = {"dtype": _ST_DTYPE[dtype], "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for _shape, data in tensors.values():
            f.write(data)


def write_checkpoint(folder: Path, spec: CheckpointSpec = CheckpointSpec(), sp_model: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if spec.tokenizer_kind == "sentencepiece":
        n_tokens, ids = _write_sentencepiece_files(folder, spec, sp_model)
    else:
        n_tokens, ids = _write_bpe_files(folder, spec)
    vocab_size = spec.vocab_size or n_tokens + spec.vocab_padding
    if vocab_size < n_tokens:
        raise ValueError(f"vocab_size {vocab_size} is smaller than the tokenizer's {n_tokens} tokens")
    config = {
        "architectures": ["Qwen2ForCausalLM" if spec.architecture == "qwen2" else "LlamaForCausalLM"],
        "model_type": spec.architecture,
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads,
        "num_key_value_heads": spec.num_kv_heads,
        "max_position_embeddings": spec.max_position_embeddings,
        "rms_norm_eps": spec.rms_norm_eps,
        "hidden_act": "silu",
        "tie_word_embeddings": spec.tie_word_embeddings,
        **ids,
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[spec.dtype],
    }
    if spec.architecture == "qwen2":  # as Qwen2.5-Math's config.json has them
        config.update(use_sliding_window=False, sliding_window=spec.max_position_embeddings,
                      max_window_layers=spec.num_layers, attention_dropout=0.0)  # fmt: skip
    if spec.rope_theta is not None:
        config["rope_theta"] = spec.rope_theta
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    _write_weights(folder, spec, vocab_size)
    return folder


def _write_sentencepiece_files(folder: Path, spec: CheckpointSpec, sp_model: bytes | None) -> tuple[int, dict]:
    sp_model = sp_model or train_sentencepiece(training_corpus(), spec.sp_vocab_size)
    (folder / "tokenizer.model").write_bytes(sp_model)
    import sentencepiece as spm

    n_sp = spm.SentencePieceProcessor(model_proto=sp_model).get_piece_size()
    added = {t: n_sp + i for i, t in enumerate(MATHCODER_TOKENS)} if spec.mathcoder_tokens else {}
    tok_config: dict[str, object] = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "model_max_length": spec.max_position_embeddings,
        "tokenizer_class": "LlamaTokenizer",
        "legacy": True,
        "clean_up_tokenization_spaces": False,
    }
    if spec.added_tokens_style == "new" and added:
        decoder = {str(i): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False,
                            "single_word": False} for t, i in added.items()}  # fmt: skip
        tok_config["added_tokens_decoder"] = decoder
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2))
    if added:
        (folder / "added_tokens.json").write_text(json.dumps(added, indent=2))
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2)
    )
    return n_sp + len(added), {"bos_token_id": 1, "eos_token_id": 2}


def _write_bpe_files(folder: Path, spec: CheckpointSpec) -> tuple[int, dict]:
    """The tokenizer files of a byte-level BPE kind (`bpe_vocab`); (tokens, config.json's token ids)."""
    from mathcoder_local.devtools.bpe_vocab import write_bpe_tokenizer

    info = write_bpe_tokenizer(folder, spec.tokenizer_kind, vocab_size=spec.bpe_vocab_size)
    return info.n_tokens, dict(info.config_ids)


def _write_weights(folder: Path, spec: CheckpointSpec, vocab_size: int) -> None:
    rng = np.random.default_rng(spec.seed)
    names = list(_weights(spec, vocab_size))
    per_shard = -(-len(names) // spec.shards)
    weight_map: dict[str, str] = {}
    ext = "safetensors" if spec.weights == "safetensors" else "bin"
    for s in range(spec.shards):
        chunk = names[s * per_shard : (s + 1) * per_shard]
        if spec.shards == 1:
            fname = "model.safetensors" if ext == "safetensors" else "pytorch_model.bin"
        else:
            stem = "model" if ext == "safetensors" else "pytorch_model"
            fname = f"{stem}-{s + 1:05d}-of-{spec.shards:05d}.{ext}"
        arrays = {name: _random(rng, name, shape) for name, shape in chunk}
        if ext == "safetensors":
            write_safetensors(folder / fname, {n: (a.shape, _encode(a, spec.dtype)) for n, a in arrays.items()},
                              spec.dtype)  # fmt: skip
        else:
            import torch

            torch_dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[spec.dtype]
            torch.save({n: torch.from_numpy(a).to(torch_dtype) for n, a in arrays.items()}, folder / fname)
        weight_map.update({name: fname for name, _ in chunk})
    if spec.shards > 1:
        index_name = "model.safetensors.index.json" if ext == "safetensors" else "pytorch_model.bin.index.json"
        (folder / index_name).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2))
