"""A Hugging Face checkpoint on disk: config, weights (safetensors or .bin, sharded or not), hub lookup."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.convert.arch import ARCHITECTURES, DEFAULT_ROPE_BASE, Architecture, unsupported_message
from mathcoder_local.convert.tensors import LazyTensor, read_safetensors
from mathcoder_local.convert.torch_bin import read_torch_bin

from mathcoder_local.errors import UserError

# Every file a vocabulary may come from: a SentencePiece tokenizer.model, or a tokenizer.json (byte-level BPE)
# with its configuration and chat template.
TOKENIZER_FILES = [
    "config.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.json",
    "generation_config.json",
    "chat_template.json",
    "chat_template.jinja",
]


@dataclass(frozen=True)
class ModelConfig:
    arch: Architecture
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float
    rope_theta_given: bool  # False: config.json has no rope_theta and the default 10000 applies
    tie_word_embeddings: bool
    warnings: tuple[str, ...] = ()  # settings llama.cpp does not follow, worth telling the user about

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def read_config(folder: Path) -> tuple[dict, ModelConfig]:
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json; is it a Hugging Face checkpoint folder?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a JSON object")
    architectures = raw.get("architectures") or [raw.get("model_type", "unknown")]
    arch = ARCHITECTURES.get(str(architectures[0]))
    if arch is None:
        raise UserError(unsupported_message(str(architectures[0])))
    try:
        heads = int(raw["num_attention_heads"])
        config = ModelConfig(
            arch=arch,
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            intermediate_size=int(raw["intermediate_size"]),
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(raw.get("num_key_value_heads") or heads),
            max_position_embeddings=int(raw.get("max_position_embeddings") or arch.default_context),
            rms_norm_eps=float(raw.get("rms_norm_eps") or arch.default_rms_eps),
            rope_theta=float(raw.get("rope_theta") or DEFAULT_ROPE_BASE),
            rope_theta_given=raw.get("rope_theta") is not None,
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            warnings=tuple(_sliding_window_warning(raw)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} lacks or garbles a {arch.hf_class} setting: {exc}") from None
    if config.num_heads <= 0 or config.hidden_size % config.num_heads or config.num_heads % max(config.num_kv_heads, 1):
        raise UserError(
            f"{path}: {config.num_heads} attention heads ({config.num_kv_heads} key/value) do not divide "
            f"hidden_size {config.hidden_size}"
        )
    head_dim = raw.get("head_dim")
    if head_dim is not None and head_dim != config.head_dim:
        raise UserError(
            f"{path} sets head_dim {head_dim}, not hidden_size / num_attention_heads = {config.head_dim}, "
            "which this converter does not handle"
        )
    if raw.get("rope_scaling"):
        raise UserError(f"{path} uses rope_scaling {raw['rope_scaling']}, which this converter does not handle")
    return raw, config


def _sliding_window_warning(raw: dict) -> list[str]:
    """llama.cpp attends over the whole context; a checkpoint trained with a shorter window differs beyond it."""
    window, context = raw.get("sliding_window"), raw.get("max_position_embeddings")
    if raw.get("use_sliding_window") and isinstance(window, int) and window < (context or window + 1):
        return [
            f"warning: config.json turns on sliding-window attention ({window} tokens); llama.cpp attends over the "
            "whole context, so outputs differ once a prompt is longer than the window"
        ]
    return []


def _weight_files(folder: Path) -> list[Path]:
    for index_name, pattern in (
        ("model.safetensors.index.json", "*.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model*.bin"),
    ):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError) as exc:
                raise UserError(f"cannot read {index}: {exc}") from None
            files = sorted(set(weight_map.values()))
            missing = [f for f in files if not (folder / f).is_file()]
            if missing:
                raise UserError(f"{folder} is missing shard {missing[0]} listed in {index_name}")
            return [folder / f for f in files]
        found = sorted(folder.glob(pattern))
        if found:
            return found
    raise UserError(f"{folder} has no weights (*.safetensors or pytorch_model*.bin)")


def read_tensors(folder: Path) -> dict[str, LazyTensor]:
    tensors: dict[str, LazyTensor] = {}
    for path in _weight_files(folder):
        part = read_safetensors(path) if path.suffix == ".safetensors" else read_torch_bin(path)
        tensors.update(part)
    return tensors


def resolve_source(source: str, *, revision: str | None = None, download: bool = False) -> tuple[Path, str | None]:
    """A local folder as is; otherwise a hub id looked up in the local Hugging Face cache, fetched only
    with download=True. Returns the folder and the repo id (None for a plain folder)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path, None
    if path.exists() or source.count("/") != 1:
        raise UserError(f"{source} is neither a checkpoint folder nor a hub id like MathLLM/MathCoder-CL-7B")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    # Read at call time (huggingface_hub reads them once, at import): a mirror and a cache directory.
    endpoint, cache_dir = os.environ.get("HF_ENDPOINT"), os.environ.get("HF_HUB_CACHE")
    try:
        if download:
            patterns = _download_patterns(source, revision, endpoint)
            folder = snapshot_download(
                source, revision=revision, allow_patterns=patterns, endpoint=endpoint, cache_dir=cache_dir
            )
        else:
            patterns = TOKENIZER_FILES + WEIGHT_PATTERNS["safetensors"] + WEIGHT_PATTERNS["bin"]
            folder = snapshot_download(
                source, revision=revision, allow_patterns=patterns, local_files_only=True, cache_dir=cache_dir
            )
        return Path(folder), source
    except HFValidationError:
        raise UserError(f"{source} is not a valid hub id") from None
    except Exception as exc:  # noqa: BLE001 - the hub raises many kinds; each means "not available"
        if not download:
            raise UserError(
                f"{source} is not in the local Hugging Face cache; add --download to fetch it ({type(exc).__name__})"
            ) from None
        raise UserError(f"downloading {source} failed: {type(exc).__name__}: {exc}".splitlines()[0]) from None


WEIGHT_PATTERNS = {
    "safetensors": ["*.safetensors", "model.safetensors.index.json"],
    "bin": ["pytorch_model*.bin", "pytorch_model.bin.index.json"],
}


def _download_patterns(repo_id: str, revision: str | None, endpoint: str | None) -> list[str]:
    """Only what conversion needs: the tokenizer files and one copy of the weights (safetensors preferred)."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision)
    files = [s.rfilename for s in info.siblings or []]
    kind = "safetensors" if any(f.endswith(".safetensors") for f in files) else "bin"
    return TOKENIZER_FILES + WEIGHT_PATTERNS[kind]
