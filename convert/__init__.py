"""Hugging Face checkpoint → GGUF, with MathCoder's special tokens preserved (`mathcoder-local convert`); any
GGUF checked (`verify_gguf`, `inspect_gguf`) and its metadata repaired for the loop (`repair_gguf`).

Lives in the repository's `convert/` folder and installs as `mathcoder_local.convert`. No torch needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mathcoder_local.convert.gguf_check import Problem, inspect_gguf
from mathcoder_local.convert.plan import OUTTYPES, ConversionPlan, make_plan
from mathcoder_local.convert.repair import Change, RepairReport, default_repair_path, repair_gguf
from mathcoder_local.convert.verify import Check, verify_gguf
from mathcoder_local.convert.writer import output_bytes, write_gguf

from mathcoder_local.errors import UserError


class VerificationFailed(UserError):
    exit_code = 1

    def __init__(self, checks: list[Check]) -> None:
        failed = [c.name for c in checks if not c.ok]
        super().__init__(f"verification failed ({', '.join(failed)}); no file was written under the final name")
        self.checks = checks


def convert_checkpoint(
    plan: ConversionPlan,
    *,
    force: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> tuple[Path, list[Check], list[str]]:
    """Write `plan` and verify the result before it takes its final name. Returns (path, checks, warnings)."""
    report: dict[str, object] = {}

    def check(staged: Path) -> None:
        checks, warnings = verify_gguf(staged, checkpoint=plan.folder)
        report["checks"], report["warnings"] = checks, warnings
        if not all(c.ok for c in checks):
            raise VerificationFailed(checks)

    path = write_gguf(plan, force=force, progress=progress, check=check)
    return path, report["checks"], report["warnings"]  # type: ignore[return-value]


__all__ = [
    "OUTTYPES",
    "Change",
    "Check",
    "ConversionPlan",
    "Problem",
    "RepairReport",
    "VerificationFailed",
    "convert_checkpoint",
    "default_repair_path",
    "inspect_gguf",
    "make_plan",
    "output_bytes",
    "repair_gguf",
    "verify_gguf",
]
