"""`SolveConfig`: everything that decides how one problem is solved, in one frozen dataclass.

The solver takes it, the bench embeds it in its run identity, the TUI's settings produce it and the CLI's
shared options build it, so each default and each allowed value is written here once. Engine placement
(context size, threads, GPU layers) is `EngineOptions`, apart: it changes speed, not the transcript.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.errors import UserError
from mathcoder_local.executor.session import ExecutorLimits


@dataclass(frozen=True)
class SolveConfig:
    format: str | None = None  # a name of mathcoder_local.formats.FORMATS; None: detected from the model
    system: str = ""  # system text, for formats that have one
    temperature: float = SamplingParams.temperature
    top_p: float = SamplingParams.top_p
    seed: int = SamplingParams.seed
    grammar: bool | None = None  # None: the format's default (on for MathCoder's block grammar)
    max_rounds: int | None = None  # None: the format's own (MathCoder 16 blocks, ToRA 4 code calls)
    max_block_tokens: int = 1024  # one block (MathCoder's harness: 512 per call; ToRA: 1024)
    max_tokens: int = 4096  # generated tokens for the whole answer
    timeout: float = ExecutorLimits.timeout  # seconds each code block may run

    def validated(self) -> SolveConfig:
        """The same configuration (numbers as floats), or a `ConfigError` naming the command-line option that
        is out of range or of the wrong type (the values may come from a JSON file)."""
        from mathcoder_local.formats import FORMATS

        if self.format is not None and self.format not in FORMATS:
            raise ConfigError("format", f"unknown format {self.format!r}; choose one of: {', '.join(FORMATS)}")
        if not isinstance(self.system, str):
            raise ConfigError("system", "--system must be text")
        if not _finite(self.temperature) or self.temperature < 0:
            raise ConfigError("temperature", f"--temperature must be 0 (greedy) or more, not {self.temperature!r}")
        if not _finite(self.top_p) or not 0 < self.top_p <= 1:
            raise ConfigError("top_p", f"--top-p must be more than 0 and at most 1, not {self.top_p!r}")
        if not _whole(self.seed):
            raise ConfigError("seed", f"--seed must be a whole number, not {self.seed!r}")
        if self.grammar is not None and not isinstance(self.grammar, bool):
            raise ConfigError("grammar", "--grammar must be on, off or unset (the format's default)")
        for field, option, value in (
            ("max_rounds", "--max-blocks", self.max_rounds),
            ("max_block_tokens", "--max-block-tokens", self.max_block_tokens),
            ("max_tokens", "--max-tokens", self.max_tokens),
        ):
            if value is not None and (not _whole(value) or value < 1):
                raise ConfigError(field, f"{option} must be a whole number of at least 1, not {value!r}")
        if not _finite(self.timeout) or self.timeout <= 0:
            raise ConfigError("timeout", "--timeout must be a positive number of seconds")
        return replace(self, temperature=float(self.temperature), top_p=float(self.top_p), timeout=float(self.timeout))

    def sampling(self, seed: int | None = None) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, seed=self.seed if seed is None else seed)

    def executor_limits(self) -> ExecutorLimits:
        return ExecutorLimits(timeout=self.timeout)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ConfigError(UserError):
    """A value of a `SolveConfig` that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
