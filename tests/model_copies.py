"""Models placed in the user directory as the commands would leave them, without converting anything."""

from __future__ import annotations

import shutil

from mathcoder_local.store import load_catalog, register_pulled
from mathcoder_local.store.pull import pulled_path


def pulled_copy(gguf, name="MathCoder-CL-7B", quant="q4_k_m"):
    """A tiny GGUF placed and registered as `pull` would leave a catalog model."""
    entry = load_catalog().get(name)
    target = pulled_path(entry, quant)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(gguf, target)
    register_pulled(entry, quant, target)
    return target
