"""Write small llama-architecture GGUF files with random weights, for tests and benchmarks.

The vocabulary is a real SentencePiece-style ("llama") vocabulary: unknown/BOS/EOS, the 256 byte-fallback
tokens, single characters and a few merged pieces, plus the 8 MathCoder tokens typed CONTROL exactly as a
correct conversion of a MathCoder checkpoint has them. llama.cpp tokenizes, evaluates and samples these files
like any other model; they just know nothing.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

# Multi-character pieces so tokenization has merges to do (as in a real SentencePiece vocabulary).
_MERGED_PIECES = (
    "▁the",
    "▁is",
    "▁of",
    "▁and",
    "▁answer",
    "▁The",
    "print",
    "output",
    "python",
    "```",
    "``",
    "▁=",
    "▁+",
    "▁*",
    "return",
    "▁import",
    "import",
    "sympy",
    "▁x",
    "boxed",
    "\\boxed",
)


@dataclass(frozen=True)
class TinyModelSpec:
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 4
    n_ff: int = 128
    n_ctx: int = 4096
    seed: int = 0
    mathcoder_tokens: bool = True  # False: a ToRA-style vocabulary (plain Llama tokens only)
    eom_is_eot: bool = False  # mark <|endofmessage|> as the end-of-turn token (what our converter does)
    prompt_format: str | None = None  # value for the mathcoder_local.prompt_format metadata key
    extra_pieces: int = 0  # pad the vocabulary with this many filler pieces (a bigger, more realistic vocab)


def tiny_vocab(spec: TinyModelSpec) -> tuple[list[str], list[float], list[int]]:
    import gguf

    normal, control, byte, unknown = (
        gguf.TokenType.NORMAL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.BYTE,
        gguf.TokenType.UNKNOWN,
    )
    tokens: list[str] = ["<unk>", "<s>", "</s>"]
    types: list[int] = [unknown, control, control]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [byte] * 256
    chars = [c for c in string.printable if c not in " \t\n\r\x0b\x0c"] + ["▁"]
    pieces = chars + [p for p in _MERGED_PIECES if p not in chars]
    pieces += [f"▁{c}" for c in string.ascii_letters + string.digits if f"▁{c}" not in pieces]
    pieces += [f"▁filler{i}" for i in range(spec.extra_pieces)]
    tokens += pieces
    types += [normal] * len(pieces)
    if spec.mathcoder_tokens:
        tokens += list(MATHCODER_TOKENS)
        types += [control] * len(MATHCODER_TOKENS)
    # SentencePiece merges by score: longer pieces score higher so they win.
    scores = [0.0 if t != normal else float(len(tok)) for tok, t in zip(tokens, types, strict=False)]
    return tokens, scores, [int(t) for t in types]


def write_tiny_gguf(path: str | Path, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Write a random-weight llama GGUF to `path` (atomically) and return the path."""
    import gguf

    path = Path(path)
    tokens, scores, types = tiny_vocab(spec)
    n_vocab = len(tokens)
    rng = np.random.default_rng(spec.seed)
    tmp = path.with_name(path.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    writer.add_name("tiny-random-llama")
    writer.add_context_length(spec.n_ctx)
    writer.add_embedding_length(spec.n_embd)
    writer.add_block_count(spec.n_layer)
    writer.add_feed_forward_length(spec.n_ff)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    writer.add_rope_dimension_count(spec.n_embd // spec.n_head)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if spec.mathcoder_tokens and spec.eom_is_eot:
        writer.add_eot_token_id(tokens.index("<|endofmessage|>"))
    if spec.prompt_format:
        writer.add_string("mathcoder_local.prompt_format", spec.prompt_format)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.5 / np.sqrt(shape[-1])).astype(np.float32)

    e, ff = spec.n_embd, spec.n_ff
    kv = e * spec.n_head_kv // spec.n_head
    writer.add_tensor("token_embd.weight", weight(n_vocab, e))
    for i in range(spec.n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(e, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(e, e))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(kv, e))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(kv, e))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(e, e))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(e, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(ff, e))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(ff, e))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(e, ff))
    writer.add_tensor("output_norm.weight", np.ones(e, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, e))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path
