"""The models the settings screen offers: the bundled default and the GGUF files in the models cache.

Kept behind `model_choices()` so a fuller catalog (issue 8) can replace it without touching the screens.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.paths import models_cache

BUNDLED_LABEL = "bundled nano model (default)"
_BUNDLED_GGUF = re.compile(r"^nano-[0-9a-f]{16}\.f32\.gguf$")  # the bundled model's own conversion cache


@dataclass(frozen=True)
class ModelChoice:
    label: str
    path: str | None  # None: the bundled default ($MATHCODER_LOCAL_MODEL when set)


def model_choices(current: str | None = None) -> list[ModelChoice]:
    """The bundled default first, then *.gguf files in the models cache, then `current` if not among them."""
    choices = [ModelChoice(BUNDLED_LABEL, None)]
    seen: set[str] = set()
    folder = models_cache()
    if folder.is_dir():
        for path in sorted(folder.glob("*.gguf")):
            if _BUNDLED_GGUF.match(path.name) or not path.is_file():
                continue
            choices.append(ModelChoice(path.name, str(path)))
            seen.add(os.path.realpath(path))
    if current and os.path.realpath(current) not in seen:
        choices.append(ModelChoice(Path(current).name, current))
    return choices


def model_label(path: str | None) -> str:
    """How the status line names a model: the file's stem, or "nano" for the bundled one."""
    if path is None:
        return "nano"
    name = Path(path).name
    if _BUNDLED_GGUF.match(name):
        return "nano"
    return name[: -len(".gguf")] if name.endswith(".gguf") else name
