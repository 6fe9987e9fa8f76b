"""The project's own promises: CI runs the README's test command; the package layout is the design's."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_layout():
    for name in ("mathcoder_local", "convert", "tests", "models", "benchmarks", "pyproject.toml", "README.md"):
        assert (ROOT / name).exists(), name
