"""The bundled default model: the nano MathCoder checkpoint in the package, converted once to GGUF.

The GGUF is cached in the models cache under a name keyed by a hash of the checkpoint's files (`gguf_name`,
the one place that rule is written), so a second run does not convert again and a new checkpoint (a new
release) gets a new file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from mathcoder_local.paths import models_cache
from mathcoder_local.store.catalog import FULL_PRECISION

BUNDLED_NAME = "nano"  # how `models`, `--model` and the TUI name it
BUNDLED_QUANT = FULL_PRECISION
GGUF_MODEL_NAME = "mathcoder-nano"  # general.name in the converted file


def bundled_checkpoint() -> Path:
    """The Hugging Face checkpoint folder shipped in the package."""
    return Path(str(resources.files("mathcoder_local.models") / "nano" / "checkpoint"))


def checkpoint_hash(folder: Path) -> str:
    """SHA-256 over the folder's file names and contents (recomputed only when a file's size or time changes)."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return _hash_files(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@lru_cache(maxsize=8)
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in files:
        path = Path(name)
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def gguf_name(digest: str) -> str:
    """The converted file's name for a checkpoint hash: nano-<first 16 hex digits>.f32.gguf."""
    return f"{BUNDLED_NAME}-{digest[:16]}.{BUNDLED_QUANT}.gguf"


def bundled_gguf_path() -> Path:
    """Where the bundled checkpoint's GGUF is (or will be, once converted)."""
    return models_cache() / gguf_name(checkpoint_hash(bundled_checkpoint()))


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def bundled_gguf(on_status: Callable[[str], None] | None = _to_stderr) -> Path:
    """The bundled model's GGUF, converting it with our converter on first use.

    `on_status` hears one line when a conversion starts (by default on stderr; None: nothing).
    """
    target = bundled_gguf_path()
    if target.is_file():
        return target
    from mathcoder_local.convert import convert_checkpoint, make_plan

    if on_status is not None:
        on_status(f"converting the bundled {BUNDLED_NAME} model to {target} (first use only)")
    plan = make_plan(str(bundled_checkpoint()), outtype=BUNDLED_QUANT, outfile=target)
    plan.model_name = GGUF_MODEL_NAME
    convert_checkpoint(plan, force=True)  # another process may have just written it: same bytes
    return target


@lru_cache(maxsize=1)
def bundled_format() -> str:
    """The bundled model's prompt format, detected from the added tokens its checkpoint ships in
    added_tokens.json (nothing is converted)."""
    from mathcoder_local.formats import format_of

    added = json.loads((bundled_checkpoint() / "added_tokens.json").read_text(encoding="utf-8"))
    return format_of(None, added.__contains__)
