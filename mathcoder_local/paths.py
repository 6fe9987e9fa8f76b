"""Where mathcoder-local keeps its files: one user directory, overridable with MATHCODER_LOCAL_HOME.

Tests point MATHCODER_LOCAL_HOME at a temporary directory; nothing else decides these paths.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "MATHCODER_LOCAL_HOME"


def user_home() -> Path:
    """The user directory: $MATHCODER_LOCAL_HOME, else the platform's data directory."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("mathcoder-local", appauthor=False))


def models_cache() -> Path:
    """Converted models (the bundled default model's GGUF among them)."""
    return user_home() / "models"
