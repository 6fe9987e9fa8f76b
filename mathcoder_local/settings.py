"""The terminal app's settings: a small JSON file in the user directory, written atomically.

`config.json` in the user directory ($MATHCODER_LOCAL_HOME, else the platform's data directory). Unknown keys
are ignored and missing keys take their defaults, so an older or newer file still loads; a value of the wrong
type or out of range is an error that names the key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from mathcoder_local.atomic import write_text_atomic
from mathcoder_local.errors import UserError
from mathcoder_local.paths import user_home
from mathcoder_local.solve_config import ConfigError, SolveConfig

CONFIG_NAME = "config.json"
_KEYS = {"max_rounds": "max_blocks"}  # SolveConfig fields whose key in the file is another name


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # a GGUF path or model name; None: $MATHCODER_LOCAL_MODEL, else the bundled model
    format: str | None = SolveConfig.format  # a format name; None: detected from the GGUF
    temperature: float = SolveConfig.temperature
    max_blocks: int | None = SolveConfig.max_rounds  # None: the format's own round limit
    timeout: float = SolveConfig.timeout  # seconds each code block may run
    grammar: bool | None = SolveConfig.grammar  # None: the format's default

    def validated(self) -> Settings:
        """The same settings, or a UserError naming the first bad value by its key in the file; the solve
        values are checked by `SolveConfig`, with the same rules as the command line's."""
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise UserError("settings: model must be a GGUF path or a model name (or empty for the bundled model)")
        try:
            config = self.solve_config().validated()
        except ConfigError as exc:
            key = _KEYS.get(exc.field, exc.field)
            raise UserError(f"settings: {key}: {exc}") from None
        return replace(self, temperature=config.temperature, timeout=config.timeout)

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
