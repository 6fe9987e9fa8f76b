"""What makes two bench runs the same experiment, and the facts metrics.json records beside it."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Sequence

from mathcoder_local import __version__
from mathcoder_local.datasets.records import Problem
from mathcoder_local.paths import user_home
from mathcoder_local.solve import EngineOptions
from mathcoder_local.solve_config import SolveConfig

LIMITS = ("max_rounds", "max_block_tokens", "max_tokens")  # SolveConfig fields grouped under "limits"


@dataclass(frozen=True)
class BenchSettings:
    """Everything that can change a problem's result. --resume requires these to match exactly."""

    solve: SolveConfig = field(default_factory=SolveConfig)
    samples: int = 1  # K > 1: majority vote over K samples (maj@K)
    n_ctx: int = EngineOptions.n_ctx  # per problem

    def to_dict(self) -> dict[str, object]:
        """config.json's `settings`: every `SolveConfig` field, the token limits grouped under `limits` as run
        folders have always held them, `samples` and `n_ctx`."""
        solve = self.solve.to_dict()
        limits = {name: solve.pop(name) for name in LIMITS}
        return {**solve, "samples": self.samples, "limits": limits, "n_ctx": self.n_ctx}


def file_sha256(path: Path) -> str:
    """SHA-256 of a model file, remembered by (path, size, mtime) so a 4 GB GGUF is hashed once."""
    path = path.resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_path = user_home() / "cache" / "sha256.json"
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    cache[key] = digest.hexdigest()
    try:
        from mathcoder_local.atomic import write_json_atomic

        cache_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(cache_path, cache)
    except OSError:
        pass  # a cache we cannot write only costs time
    return cache[key]


def problems_sha256(problems: Sequence[Problem]) -> str:
    """Fingerprint of the whole dataset as read (ids, questions, golds): a changed file is a new experiment."""
    digest = hashlib.sha256()
    for p in problems:
        digest.update(json.dumps([p.id, p.question, p.answer], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def versions() -> dict[str, str]:
    found = {"mathcoder-local": __version__, "python": platform.python_version()}
    for dist in ("llama-cpp-python", "math-verify", "latex2sympy2_extended", "antlr4-python3-runtime", "sympy"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "absent"
    return found


def identity(
    *,
    dataset: str,
    dataset_sha256: str,
    model_sha256: str,
    fmt: str,
    settings: BenchSettings,
    engine: dict[str, object] | None = None,
) -> dict[str, object]:
    """The run's identity: what config.json holds and --resume compares.

    A run on servers (`engine`: server kind, dialect and the model id they report) is a different experiment
    from a local run of the same GGUF; its `model_sha256` is that of the GGUF whose vocabulary it used. Which
    servers and how many does not matter (like --parallel)."""
    ident: dict[str, object] = {
        "dataset": dataset,
        "dataset_sha256": dataset_sha256,
        "model_sha256": model_sha256,  # not the path: a moved or renamed file is the same model
        "format": fmt,
        "settings": json.loads(json.dumps(settings.to_dict())),  # tuples → lists, as the file will hold them
    }
    if engine is not None:
        ident["engine"] = dict(engine)
    return ident
