"""What a conversion will write: the checked list of tensors (HF name → GGUF name, shape, output type)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mathcoder_local.convert.checkpoint import LlamaConfig, read_config, read_tensors, resolve_source
from mathcoder_local.convert.tensors import LazyTensor
from mathcoder_local.convert.vocab import Vocab, load_vocab

from mathcoder_local.errors import UserError
from mathcoder_local.quants import QUANTS as OUTTYPES

CODELLAMA_VOCAB = 32016
CODELLAMA_ROPE_BASE = 1_000_000.0

_LAYER_MAP = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_IGNORED = re.compile(r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq")


@dataclass
class TensorPlan:
    gguf_name: str
    source: LazyTensor
    shape: tuple[int, ...]
    permute_heads: int | None = None  # q/k: undo HF's rotary layout for this many heads


@dataclass
class ConversionPlan:
    folder: Path
    repo_id: str | None
    revision: str | None
    raw_config: dict
    config: LlamaConfig
    vocab: Vocab
    tensors: list[TensorPlan]
    outtype: str
    outfile: Path
    prompt_format: str
    rope_freq_base: float
    model_name: str
    warnings: list[str] = field(default_factory=list)

    @property
    def source_bytes(self) -> int:
        return sum(t.source.nbytes for t in self.tensors)


def _expected_shapes(c: LlamaConfig) -> dict[str, tuple[int, ...]]:
    kv = c.num_kv_heads * c.head_dim
    per_layer = {
        "attn_norm.weight": (c.hidden_size,),
        "attn_q.weight": (c.hidden_size, c.hidden_size),
        "attn_k.weight": (kv, c.hidden_size),
        "attn_v.weight": (kv, c.hidden_size),
        "attn_output.weight": (c.hidden_size, c.hidden_size),
        "ffn_norm.weight": (c.hidden_size,),
        "ffn_gate.weight": (c.intermediate_size, c.hidden_size),
        "ffn_up.weight": (c.intermediate_size, c.hidden_size),
        "ffn_down.weight": (c.hidden_size, c.intermediate_size),
    }
    shapes = {"token_embd.weight": (c.vocab_size, c.hidden_size)}
    for i in range(c.num_layers):
        shapes.update({f"blk.{i}.{k}": v for k, v in per_layer.items()})
    shapes["output_norm.weight"] = (c.hidden_size,)
    shapes["output.weight"] = (c.vocab_size, c.hidden_size)
    return shapes


def gguf_name(hf_name: str) -> str | None:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", hf_name)
    if m and m.group(2) in _LAYER_MAP:
        return f"blk.{m.group(1)}.{_LAYER_MAP[m.group(2)]}"
    return None


def plan_tensors(config: LlamaConfig, tensors: dict[str, LazyTensor]) -> list[TensorPlan]:
    expected = _expected_shapes(config)
    found: dict[str, LazyTensor] = {}
    for hf_name, tensor in tensors.items():
        name = gguf_name(hf_name)
        if name is None:
            if _IGNORED.fullmatch(hf_name):
                continue
            raise UserError(f"unexpected tensor {hf_name} in the weights: not a plain LlamaForCausalLM checkpoint")
        if name not in expected:
            raise UserError(f"tensor {hf_name} does not fit config.json (num_hidden_layers={config.num_layers})")
        if tensor.shape != expected[name]:
            raise UserError(
                f"shape mismatch: {hf_name} is {list(tensor.shape)} but config.json implies {list(expected[name])}"
            )
        found[name] = tensor
    tied = "output.weight" not in found
    if tied and not config.tie_word_embeddings:
        raise UserError("the weights have no lm_head.weight and config.json does not tie it to the embeddings")
    plans = []
    for name, shape in expected.items():
        if name == "output.weight" and tied:
            continue  # llama.cpp reuses token_embd for a tied output
        if name not in found:
            raise UserError(f"the weights lack {name} (expected from config.json)")
        heads = None
        if name.endswith("attn_q.weight"):
            heads = config.num_heads
        elif name.endswith("attn_k.weight"):
            heads = config.num_kv_heads
        plans.append(TensorPlan(name, found[name], shape, heads))
    return plans


def permute_for_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """HF stores q/k rows as [first halves | second halves] per head; llama.cpp wants them interleaved."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def default_outfile(model_name: str, outtype: str) -> Path:
    return Path(f"{model_name}.{outtype.upper()}.gguf")


def make_plan(
    source: str,
    *,
    outtype: str = "f16",
    outfile: str | Path | None = None,
    revision: str | None = None,
    download: bool = False,
    prompt_format: str | None = None,
    rope_freq_base: float | None = None,
) -> ConversionPlan:
    if outtype not in OUTTYPES:
        raise UserError(f"unknown --outtype {outtype}; choose one of: {', '.join(OUTTYPES)}")
    from mathcoder_local.formats import FORMATS

    if prompt_format is not None and prompt_format not in FORMATS:
        raise UserError(f"unknown --format {prompt_format}; choose one of: {', '.join(FORMATS)}")
    folder, repo_id = resolve_source(source, revision=revision, download=download)
    raw, config = read_config(folder)
    vocab = load_vocab(folder, config.vocab_size)
    tensors = plan_tensors(config, read_tensors(folder))
    name = (repo_id.split("/")[-1] if repo_id else folder.resolve().name) or "model"
    plan = ConversionPlan(
        folder=folder,
        repo_id=repo_id,
        revision=revision or (folder.name if repo_id else None),  # a cache snapshot folder is named by commit
        raw_config=raw,
        config=config,
        vocab=vocab,
        tensors=tensors,
        outtype=outtype,
        outfile=Path(outfile) if outfile else default_outfile(name, outtype),
        prompt_format=prompt_format or vocab.prompt_format,
        rope_freq_base=rope_freq_base if rope_freq_base is not None else config.rope_theta,
        model_name=name,
    )
    if config.vocab_size == CODELLAMA_VOCAB and rope_freq_base is None and plan.rope_freq_base != CODELLAMA_ROPE_BASE:
        plan.warnings.append(
            f"WARNING: a CodeLlama vocabulary ({CODELLAMA_VOCAB} tokens) with rope base {plan.rope_freq_base:g}: "
            f"CodeLlama models need {CODELLAMA_ROPE_BASE:g} (MAmmoTH-Coder lost about half its MATH accuracy to this). "
            f"If this is a CodeLlama fine-tune, convert again with --rope-freq-base {CODELLAMA_ROPE_BASE:g}."
        )
    if vocab.sp_model_type != "bpe":
        plan.warnings.append(
            f"warning: the SentencePiece model is {vocab.sp_model_type}, not bpe as in Llama; llama.cpp may "
            "tokenize differently (the verification checks it)"
        )
    return plan
