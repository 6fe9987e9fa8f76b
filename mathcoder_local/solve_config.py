"""`SolveConfig`: everything that decides how one problem is solved, in one frozen dataclass.

The solver takes it, the bench embeds it in its run identity, the TUI's settings produce it and the CLI's
shared options build it, so each default and each allowed value is written here once. Engine placement
(context size, threads, GPU layers) is `EngineOptions`, apart: it changes speed, not the transcript.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

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
        """The same configuration, or a UserError naming the command-line option that is out of range."""
        from mathcoder_local.formats import FORMATS

        if self.format is not None and self.format not in FORMATS:
            raise UserError(f"unknown format {self.format!r}; choose one of: {', '.join(FORMATS)}")
        if not _finite(self.temperature) or self.temperature < 0:
            raise UserError(f"--temperature must be 0 (greedy) or more, not {self.temperature}")
        if not _finite(self.top_p) or not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be more than 0 and at most 1, not {self.top_p}")
        for option, value in (
            ("--max-blocks", self.max_rounds),
            ("--max-block-tokens", self.max_block_tokens),
            ("--max-tokens", self.max_tokens),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise UserError(f"{option} must be a whole number of at least 1, not {value}")
        if not _finite(self.timeout) or self.timeout <= 0:
            raise UserError("--timeout must be a positive number of seconds")
        return self

    def sampling(self, seed: int | None = None) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, seed=self.seed if seed is None else seed)

    def executor_limits(self) -> ExecutorLimits:
        return ExecutorLimits(timeout=self.timeout)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
