"""The run folder: append-only rows that survive a kill, metrics, one configuration per folder."""

from __future__ import annotations

import json

import pytest

from mathcoder_local.bench.results import ResultsFile, check_config, read_rows, summarize
from mathcoder_local.bench.vote import majority_index
from mathcoder_local.errors import UserError


def test_a_torn_last_row_is_cut_off_and_nothing_else(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a", "correct": true}\n{"id": "b", "correct": false}\n{"id": "c", "cor', encoding="utf-8")
    results = ResultsFile(path)
    assert list(results.rows) == ["a", "b"]
    results.append({"id": "c", "correct": True})
    results.close()
    rows, size = read_rows(path)
    assert [r["id"] for r in rows] == ["a", "b", "c"] and size == path.stat().st_size


def test_a_row_is_never_written_twice(tmp_path):
    results = ResultsFile(tmp_path / "results.jsonl")
    results.append({"id": "a"})
    with pytest.raises(RuntimeError):
        results.append({"id": "a"})
    results.close()


def test_summary_by_subject_and_level():
    rows = [
        {"id": "1", "correct": True, "subject": "Algebra", "level": 1, "completion_tokens": 10},
        {"id": "2", "correct": False, "subject": "Algebra", "level": 5, "completion_tokens": 5},
        {"id": "3", "correct": True, "subject": "Geometry", "level": 5},
    ]
    s = summarize(rows)
    assert (s["n"], s["correct"], s["accuracy"]) == (3, 2, 66.67)
    assert s["by_subject"]["Algebra"] == {"n": 2, "correct": 1, "accuracy": 50.0}
    assert list(s["by_level"]) == ["1", "5"] and s["by_level"]["5"]["correct"] == 1
    assert s["completion_tokens"] == 15


def test_one_configuration_per_folder(tmp_path):
    folder = tmp_path / "run"
    check_config(folder, {"a": 1}, resume=False)
    assert json.loads((folder / "config.json").read_text()) == {"a": 1}
    with pytest.raises(UserError, match="--resume"):
        check_config(folder, {"a": 1}, resume=False)
    check_config(folder, {"a": 1}, resume=True)
    with pytest.raises(UserError, match=r"different configuration \(a\)"):
        check_config(folder, {"a": 2}, resume=True)


def test_majority_vote():
    assert majority_index(["3", "4", "4", "3.0"]) == 1  # 4 twice; "3" and "3.0" are different strings
    assert majority_index(["$\\frac{1}{2}$", "\\dfrac{1}{2}", "0.5"]) == 0  # notation normalised
    assert majority_index(["", "", "7"]) == 2  # empty answers do not vote
    assert majority_index(["", ""]) == 0
    assert majority_index(["a", "b"]) == 0  # ties: first seen


def test_the_run_identity_keeps_the_layout_older_run_folders_hold():
    """config.json's `settings` as earlier versions wrote them: --resume compares them key by key."""
    from mathcoder_local.bench.config import BenchSettings
    from mathcoder_local.solve_config import SolveConfig

    written_before = {
        "format": "mathcoder",
        "system": "",
        "temperature": 0.7,
        "top_p": 1.0,
        "seed": 3,
        "samples": 4,
        "grammar": None,
        "limits": {"max_rounds": None, "max_block_tokens": 1024, "max_tokens": 4096},
        "timeout": 6.0,
        "n_ctx": 4096,
    }
    settings = BenchSettings(solve=SolveConfig(format="mathcoder", temperature=0.7, seed=3), samples=4)
    assert settings.to_dict() == written_before


def test_every_solve_setting_is_part_of_the_run_identity():
    from dataclasses import fields

    from mathcoder_local.bench.config import LIMITS, BenchSettings
    from mathcoder_local.solve_config import SolveConfig

    identity = BenchSettings().to_dict()
    for field in fields(SolveConfig):
        assert field.name in (identity["limits"] if field.name in LIMITS else identity), field.name
