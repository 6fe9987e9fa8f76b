"""The architectures the converter reads: one row each, holding only what differs between them.

Both are decoder-only transformers with RMS norms, rotary attention (multi-head or grouped-query) and a SwiGLU
feed-forward, so the tensor layout below is shared; a row adds the projection biases or the q/k reordering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The rope base a config.json without rope_theta means (transformers' default), and the one llama.cpp uses for
# a llama or qwen2 GGUF without the key: one number for the converter, the verification and the repair.
DEFAULT_ROPE_BASE = 10000.0


@dataclass(frozen=True)
class Architecture:
    hf_class: str  # config.json's "architectures"[0]
    gguf_arch: str  # general.architecture, and the prefix of the model's keys (llama.context_length, …)
    family: str  # for messages: the models that have it
    # HF's q/k rows are laid out for rotate-half rope; llama.cpp's `llama` applies rope to adjacent pairs, so
    # the rows are reordered. `qwen2` is a NEOX-rope architecture in llama.cpp: rows stay as stored.
    permute_qk: bool
    qkv_bias: bool  # q/k/v projections carry biases (llama.cpp's qwen2 requires them)
    default_context: int  # when config.json gives no max_position_embeddings
    default_rms_eps: float  # when config.json gives no rms_norm_eps


LLAMA = Architecture(
    hf_class="LlamaForCausalLM",
    gguf_arch="llama",
    family="Llama-2 / CodeLlama / Llama-3 / DeepSeek-Math fine-tunes",
    permute_qk=True,
    qkv_bias=False,
    default_context=4096,
    default_rms_eps=1e-5,
)
QWEN2 = Architecture(
    hf_class="Qwen2ForCausalLM",
    gguf_arch="qwen2",
    family="Qwen2 / Qwen2.5 / Qwen2.5-Math",
    permute_qk=False,
    qkv_bias=True,
    default_context=32768,
    default_rms_eps=1e-6,
)
ARCHITECTURES: dict[str, Architecture] = {a.hf_class: a for a in (LLAMA, QWEN2)}
BY_GGUF_ARCH: dict[str, Architecture] = {a.gguf_arch: a for a in ARCHITECTURES.values()}


def unsupported_message(name: str) -> str:
    known = "; ".join(f"{a.hf_class} ({a.family})" for a in ARCHITECTURES.values())
    return f"unsupported architecture {name}: only {known} can be converted"


# One row per tensor of a layer: HF name under model.layers.N, GGUF name under blk.N, shape in config terms
# ("hidden": the model width; "q"/"kv": query and key/value projection widths; "ff": the feed-forward width).
_LAYER = (
    ("input_layernorm.weight", "attn_norm.weight", ("hidden",)),
    ("self_attn.q_proj.weight", "attn_q.weight", ("q", "hidden")),
    ("self_attn.k_proj.weight", "attn_k.weight", ("kv", "hidden")),
    ("self_attn.v_proj.weight", "attn_v.weight", ("kv", "hidden")),
    ("self_attn.o_proj.weight", "attn_output.weight", ("hidden", "q")),
    ("post_attention_layernorm.weight", "ffn_norm.weight", ("hidden",)),
    ("mlp.gate_proj.weight", "ffn_gate.weight", ("ff", "hidden")),
    ("mlp.up_proj.weight", "ffn_up.weight", ("ff", "hidden")),
    ("mlp.down_proj.weight", "ffn_down.weight", ("hidden", "ff")),
)
_QKV_BIAS = (
    ("self_attn.q_proj.bias", "attn_q.bias", ("q",)),
    ("self_attn.k_proj.bias", "attn_k.bias", ("kv",)),
    ("self_attn.v_proj.bias", "attn_v.bias", ("kv",)),
)
_GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
# Buffers some checkpoints saved along with the weights; they are recomputed, never converted.
IGNORED = re.compile(r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq")


def _layer_rows(arch: Architecture) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return _LAYER + (_QKV_BIAS if arch.qkv_bias else ())


def gguf_tensor_name(arch: Architecture, hf_name: str) -> str | None:
    """The GGUF name of a checkpoint tensor, or None when the architecture has no such tensor."""
    if hf_name in _GLOBAL:
        return _GLOBAL[hf_name]
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", hf_name)
    if m:
        for hf_part, gguf_part, _shape in _layer_rows(arch):
            if m.group(2) == hf_part:
                return f"blk.{m.group(1)}.{gguf_part}"
    return None


def expected_shapes(
    arch: Architecture, *, vocab: int, hidden: int, ff: int, layers: int, heads: int, kv_heads: int, head_dim: int
) -> dict[str, tuple[int, ...]]:
    """Every tensor the architecture has, in file order, with its shape as HF stores it (rows, columns);
    `output.weight` is listed although a tied model omits it."""
    dims = {"hidden": hidden, "q": heads * head_dim, "kv": kv_heads * head_dim, "ff": ff}
    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (vocab, hidden)}
    rows = _layer_rows(arch)
    for i in range(layers):
        for _hf, name, shape in rows:
            shapes[f"blk.{i}.{name}"] = tuple(dims[d] for d in shape)
    shapes["output_norm.weight"] = (hidden,)
    shapes["output.weight"] = (vocab, hidden)
    return shapes


def rope_heads(arch: Architecture, gguf_name: str, heads: int, kv_heads: int) -> int | None:
    """For a q/k weight of an architecture that reorders them: the head count to reorder by; else None."""
    if not arch.permute_qk:
        return None
    if gguf_name.endswith("attn_q.weight"):
        return heads
    if gguf_name.endswith("attn_k.weight"):
        return kv_heads
    return None
