"""What a conversion will write: the checked list of tensors (HF name → GGUF name, shape, output type)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mathcoder_local.convert.arch import IGNORED, expected_shapes, gguf_tensor_name, rope_heads
from mathcoder_local.convert.checkpoint import ModelConfig, read_config, read_tensors, resolve_source
from mathcoder_local.convert.tensors import LazyTensor
from mathcoder_local.convert.vocab import Vocab, load_vocab

from mathcoder_local.errors import UserError
from mathcoder_local.quants import QUANTS as OUTTYPES

CODELLAMA_VOCAB = 32016
CODELLAMA_ROPE_BASE = 1_000_000.0


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
    config: ModelConfig
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


def _expected_shapes(c: ModelConfig) -> dict[str, tuple[int, ...]]:
    return expected_shapes(
        c.arch,
        vocab=c.vocab_size,
        hidden=c.hidden_size,
        ff=c.intermediate_size,
        layers=c.num_layers,
        heads=c.num_heads,
        kv_heads=c.num_kv_heads,
        head_dim=c.head_dim,
    )


def plan_tensors(config: ModelConfig, tensors: dict[str, LazyTensor]) -> list[TensorPlan]:
    """Every tensor the architecture needs, checked against config.json, in llama.cpp's order. A tied model
    gets no output.weight (llama.cpp reuses token_embd, as transformers does; a stored lm_head is ignored)."""
    arch = config.arch
    expected = _expected_shapes(config)
    found: dict[str, LazyTensor] = {}
    for hf_name, tensor in tensors.items():
        name = gguf_tensor_name(arch, hf_name)
        if name is None:
            if IGNORED.fullmatch(hf_name):
                continue
            raise UserError(f"unexpected tensor {hf_name} in the weights: not a plain {arch.hf_class} checkpoint")
        if name not in expected:
            raise UserError(f"tensor {hf_name} does not fit config.json (num_hidden_layers={config.num_layers})")
        if tensor.shape != expected[name]:
            raise UserError(
                f"shape mismatch: {hf_name} is {list(tensor.shape)} but config.json implies {list(expected[name])}"
            )
        found[name] = tensor
    if "output.weight" not in found and not config.tie_word_embeddings:
        raise UserError("the weights have no lm_head.weight and config.json does not tie it to the embeddings")
    plans = []
    for name, shape in expected.items():
        if name == "output.weight" and config.tie_word_embeddings:
            continue
        if name not in found:
            raise UserError(f"the weights lack {name} (expected from config.json)")
        heads = rope_heads(arch, name, config.num_heads, config.num_kv_heads)
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
    pre: str | None = None,
) -> ConversionPlan:
    if outtype not in OUTTYPES:
        raise UserError(f"unknown --outtype {outtype}; choose one of: {', '.join(OUTTYPES)}")
    from mathcoder_local.formats import FORMATS

    if prompt_format is not None and prompt_format not in FORMATS:
        raise UserError(f"unknown --format {prompt_format}; choose one of: {', '.join(FORMATS)}")
    folder, repo_id = resolve_source(source, revision=revision, download=download)
    raw, config = read_config(folder)
    vocab = load_vocab(folder, config.vocab_size, pre=pre)
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
    plan.warnings.extend(config.warnings)
    plan.warnings.extend(vocab.warnings)  # a forced --pre, a tokenizer llama.cpp may split differently
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
