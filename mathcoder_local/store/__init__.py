"""Models by name: the catalog, local names, `pull`, the bundled model, and the one resolver.

| module | job |
|---|---|
| `catalog.py` | the published checkpoints and prebuilt GGUFs (models/catalog.json), sizes per quantization |
| `registry.py` | local names in models.json (`models add`, `pull`) |
| `gguf_info.py` | a GGUF's (or the checkpoint's) prompt format and quantization, read without loading it |
| `pull.py` | `pull`: a prebuilt GGUF (checked, repaired if need be) or a converted checkpoint, as NAME:quant |
| `bundled.py` | the bundled nano checkpoint and its GGUF, converted on first use |
| `inventory.py` | what `models` lists and what the TUI's picker offers (the present part of it) |
| `resolve.py` | `--model` / $MATHCODER_LOCAL_MODEL / a setting → a GGUF path, for every command and the TUI |

Nothing here imports llama.cpp or the converter until a function needs them.
"""

from __future__ import annotations

from mathcoder_local.store.bundled import BUNDLED_NAME, bundled_checkpoint, bundled_gguf, bundled_gguf_path
from mathcoder_local.store.catalog import DEFAULT_QUANT, QUANTS, CatalogEntry, human_size, load_catalog
from mathcoder_local.store.inventory import ModelRow, inventory, model_label, present_models
from mathcoder_local.store.pull import pull_model, pulled_name, register_pulled
from mathcoder_local.store.registry import LocalModel, add_file, list_models, remove
from mathcoder_local.store.resolve import MODEL_ENV, check_model, chosen_model, resolve_model, resolve_model_name

__all__ = [
    "BUNDLED_NAME",
    "DEFAULT_QUANT",
    "MODEL_ENV",
    "QUANTS",
    "CatalogEntry",
    "LocalModel",
    "ModelRow",
    "add_file",
    "bundled_checkpoint",
    "bundled_gguf",
    "bundled_gguf_path",
    "check_model",
    "chosen_model",
    "human_size",
    "inventory",
    "list_models",
    "load_catalog",
    "model_label",
    "present_models",
    "pull_model",
    "pulled_name",
    "register_pulled",
    "remove",
    "resolve_model",
    "resolve_model_name",
]
