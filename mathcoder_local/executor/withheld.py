"""A session that runs nothing: every block reads back as empty. For measuring how much a model's answers
depend on executed code (the "execution withheld" condition)."""

from __future__ import annotations

from mathcoder_local.executor.session import CellResult, ExecutorLimits


class WithheldSession:
    def __init__(self, limits: ExecutorLimits | None = None) -> None:
        pass

    def run(self, code: str) -> CellResult:
        return CellResult()

    def close(self) -> None:
        pass
