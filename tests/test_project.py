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


def test_every_package_folder_is_installed():
    import pytest

    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("mathcoder_local", *p.parent.relative_to(ROOT / "mathcoder_local").parts))
        for p in (ROOT / "mathcoder_local").rglob("__init__.py")
    }
    assert (ROOT / "convert" / "__init__.py").is_file() and (ROOT / "models" / "__init__.py").is_file()
    assert found | {"mathcoder_local.convert", "mathcoder_local.models"} == listed
