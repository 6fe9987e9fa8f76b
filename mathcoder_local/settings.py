"""The terminal app's settings: a small JSON file in the user directory, written atomically.

`config.json` in the user directory ($MATHCODER_LOCAL_HOME, else the platform's data directory). Unknown keys
are ignored and missing keys take their defaults, so an older or newer file still loads; a value of the wrong
type or out of range is an error that names the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from mathcoder_local.atomic import write_text_atomic
from mathcoder_local.errors import UserError
from mathcoder_local.paths import user_home
from mathcoder_local.solve_config import SolveConfig

CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # a GGUF path or model name; None: $MATHCODER_LOCAL_MODEL, else the bundled model
    format: str | None = SolveConfig.format  # a format name; None: detected from the GGUF
    temperature: float = SolveConfig.temperature
    max_blocks: int | None = SolveConfig.max_rounds  # None: the format's own round limit
    timeout: float = SolveConfig.timeout  # seconds each code block may run
    grammar: bool | None = SolveConfig.grammar  # None: the format's default

    def validated(self) -> Settings:
        """The same settings, or a UserError naming the first bad value."""
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise UserError("settings: model must be a GGUF path or a model name (or empty for the bundled model)")
        from mathcoder_local.formats import FORMATS

        if self.format is not None and self.format not in FORMATS:
            raise UserError(f"settings: format must be one of {', '.join(FORMATS)} (or empty: detected)")
        if not _number(self.temperature) or not 0 <= self.temperature <= 5:
            raise UserError("settings: temperature must be a number from 0 to 5")
        if self.max_blocks is not None and (
            isinstance(self.max_blocks, bool) or not isinstance(self.max_blocks, int) or self.max_blocks < 1
        ):
            raise UserError("settings: max_blocks must be a whole number of at least 1 (or empty: the format's)")
        if not _number(self.timeout) or self.timeout <= 0:
            raise UserError("settings: timeout must be a positive number of seconds")
        if self.grammar is not None and not isinstance(self.grammar, bool):
            raise UserError("settings: grammar must be true, false or null (null: on for mathcoder)")
        return replace(self, temperature=float(self.temperature), timeout=float(self.timeout))

    def solve_config(self, *, seed: int = SolveConfig.seed) -> SolveConfig:
        """What the solve loop runs with under these settings."""
        return SolveConfig(
            format=self.format,
            temperature=self.temperature,
            grammar=self.grammar,
            max_rounds=self.max_blocks,
            timeout=self.timeout,
            seed=seed,
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Settings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}).validated()  # type: ignore[arg-type]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def settings_path() -> Path:
    return user_home() / CONFIG_NAME


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; the defaults when there is no file yet. A broken file is a UserError."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise UserError(f"{path} is not valid JSON; fix or delete it to start from the defaults") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object")
    try:
        return Settings.from_dict(data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically (temp file in the same folder, fsync, rename): a crash leaves the old file or the new."""
    settings = settings.validated()
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(settings.to_dict(), indent=2) + "\n")
    return path
