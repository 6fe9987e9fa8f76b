"""The bundled default model: the nano MathCoder checkpoint in the package, converted once to GGUF.

The GGUF is cached under the user directory, keyed by a hash of the checkpoint's files, so a second run does
not convert again and a new checkpoint (a new release) gets a new file.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import resources
from pathlib import Path

from mathcoder_local.paths import models_cache

NANO_NAME = "nano"


def bundled_checkpoint() -> Path:
    return Path(str(resources.files("mathcoder_local.models") / "nano" / "checkpoint"))


def checkpoint_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def default_model_path(*, announce: bool = True) -> Path:
    """The bundled model's GGUF, converting it with our converter on first use."""
    checkpoint = bundled_checkpoint()
    target = models_cache() / f"{NANO_NAME}-{checkpoint_hash(checkpoint)[:16]}.f32.gguf"
    if target.is_file():
        return target
    from mathcoder_local.convert import convert_checkpoint, make_plan

    if announce:
        print(f"converting the bundled nano model to {target} (first use only)", file=sys.stderr)
    plan = make_plan(str(checkpoint), outtype="f32", outfile=target)
    plan.model_name = "mathcoder-nano"
    convert_checkpoint(plan, force=True)  # another process may have just written it: same bytes
    return target
