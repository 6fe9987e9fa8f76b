"""`bench`: batched runs of the real loop on the trained nano model, rows on disk, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import SHARED
from typer.testing import CliRunner
from waiting import wait_until

from mathcoder_local.bench.config import BenchSettings
from mathcoder_local.bench.runner import BenchFinished, BenchStarted, ProblemScored, run_bench
from mathcoder_local.cli import app
from mathcoder_local.solve import EngineOptions
from mathcoder_local.solve_config import SolveConfig

N = 24


def bench(nano_gguf, out, **options):
    options.setdefault("engine_options", EngineOptions(n_threads=2))
    events = list(run_bench(dataset="nano", model=str(nano_gguf), out=out, **options))
    assert isinstance(events[0], BenchStarted) and isinstance(events[-1], BenchFinished)
    return events


def rows(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def reference(nano_gguf, tmp_path_factory):
    """An uninterrupted run of N problems, 4 at a time."""
    out = tmp_path_factory.mktemp("reference") / "run"
    events = bench(nano_gguf, out, limit=N, parallel=4)
    return out, events


def test_a_batched_run_scores_every_problem_and_records_it(reference):
    out, events = reference
    scored = [e for e in events if isinstance(e, ProblemScored)]
    assert [e.done for e in scored] == list(range(1, N + 1))
    table = rows(out)
    assert sorted(r["id"] for r in table) == [f"nano-{i:03d}" for i in range(N)]
    row = table[0]
    for key in ("id", "question", "gold", "prediction", "correct", "subject", "finish_reason", "blocks"):
        assert key in row
    assert row["completion_tokens"] > 0 and row["seconds"] > 0
    assert any(b["kind"] == "execution" for b in row["blocks"])
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == N and metrics["complete"] and metrics["correct"] == sum(r["correct"] for r in table)
    assert metrics["accuracy"] >= 80  # the nano model with its code executed
    assert sum(v["n"] for v in metrics["by_subject"].values()) == N
    config = metrics["config"]
    assert config["format"] == "mathcoder" and len(config["model_sha256"]) == 64
    assert config["settings"]["timeout"] == 6.0 and config["parallel"] == 4
    assert {"llama-cpp-python", "math-verify", "antlr4-python3-runtime"} <= set(config["versions"])


def test_one_at_a_time_gives_the_same_answers(reference, nano_gguf, tmp_path):
    out, _ = reference
    bench(nano_gguf, tmp_path / "serial", limit=8, parallel=1)
    serial = {r["id"]: r["prediction"] for r in rows(tmp_path / "serial")}
    batched = {r["id"]: r["prediction"] for r in rows(out)}
    assert serial == {k: batched[k] for k in serial}


def test_resume_runs_only_what_is_missing(nano_gguf, tmp_path):
    out = tmp_path / "run"
    bench(nano_gguf, out, limit=4, parallel=2)
    events = bench(nano_gguf, out, limit=8, parallel=2, resume=True)
    assert events[0].done == 4 and events[0].total == 8
    assert len([e for e in events if isinstance(e, ProblemScored)]) == 4
    ids = [r["id"] for r in rows(out)]
    assert len(ids) == len(set(ids)) == 8
    assert events[-1].metrics["n"] == 8


def test_stopping_writes_only_finished_problems_and_resume_completes(reference, nano_gguf, tmp_path):
    out = tmp_path / "run"
    seen = []
    events = run_bench(
        dataset="nano", model=str(nano_gguf), out=out, limit=N, parallel=4, should_stop=lambda: len(seen) >= 3
    )
    for event in events:
        if isinstance(event, ProblemScored):
            seen.append(event)
        last = event
    assert isinstance(last, BenchFinished) and last.interrupted
    partial = rows(out)
    assert 3 <= len(partial) < N and all(r["finish_reason"] != "cancelled" for r in partial)
    final = bench(nano_gguf, out, limit=N, parallel=4, resume=True)[-1]
    assert final.metrics["accuracy"] == reference[1][-1].metrics["accuracy"]
    assert len({r["id"] for r in rows(out)}) == len(rows(out)) == N


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(reference, nano_gguf, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "mathcoder_local", "bench", "--model", str(nano_gguf), "--dataset", "nano"]
    command += ["--limit", str(N), "--parallel", "4", "--threads", "2", "--out", str(out), "--json"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(command, env=dict(os.environ), start_new_session=True, **quiet)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = results.read_bytes().count(b"\n")
    assert 3 <= before < N, "the kill should land mid-run"
    final = bench(nano_gguf, out, limit=N, parallel=4, resume=True)[-1]
    table = rows(out)
    assert len(table) == len({r["id"] for r in table}) == N
    reference_rows = {r["id"]: r["prediction"] for r in rows(reference[0])}
    assert {r["id"]: r["prediction"] for r in table} == reference_rows
    assert final.metrics["accuracy"] == reference[1][-1].metrics["accuracy"]


def test_majority_vote_over_samples(nano_gguf, tmp_path):
    settings = BenchSettings(solve=SolveConfig(temperature=0.7), samples=3)
    final = bench(nano_gguf, tmp_path / "maj", limit=3, parallel=3, settings=settings)[-1]
    for row in rows(tmp_path / "maj"):
        assert len(row["samples"]) == 3
        votes = [s["prediction"] for s in row["samples"]]
        assert votes.count(row["prediction"]) == max(votes.count(v) for v in votes)
        assert row["correct"] == next(s["correct"] for s in row["samples"] if s["prediction"] == row["prediction"])
    assert final.metrics["n"] == 3


def test_cli_errors_are_one_line(nano_gguf, tmp_path):
    runner = CliRunner()
    base = ["bench", "--model", str(nano_gguf), "--limit", "2"]
    cases = [
        (base + ["--resume"], "--resume needs --out"),
        (base + ["--samples", "3"], "--temperature > 0"),
        (base + ["--dataset", "gsm8k", "--data-dir", str(tmp_path / "none")], "data pull gsm8k"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    out = str(tmp_path / "run")
    assert runner.invoke(app, base + ["--out", out, "--json"]).exit_code == 0
    again = runner.invoke(app, base + ["--out", out])
    assert again.exit_code == 2 and "--resume" in again.output
    other = runner.invoke(app, base + ["--out", out, "--resume", "--timeout", "3"])
    assert other.exit_code == 2 and "different configuration (settings)" in other.output
    done = runner.invoke(app, base + ["--out", out, "--resume", "--json"])
    assert done.exit_code == 0 and json.loads(done.output.splitlines()[-1])["n"] == 2


@pytest.mark.skipif(not (SHARED / "data" / "math").exists(), reason="needs ../shared/data/math (the MATH test set)")
def test_math_subset_reports_subject_and_level(mathcoder_gguf, tmp_path):
    """The random tiny model only exercises the plumbing: MATH records, --subset, metrics by level."""
    result = CliRunner().invoke(
        app,
        ["bench", "--dataset", "MATH", "--data-dir", str(SHARED / "data"), "--subset", "level=2", "--limit", "3"]
        + ["--model", str(mathcoder_gguf), "--max-tokens", "8", "--parallel", "3", "--out", str(tmp_path / "m")]
        + ["--ctx", "512", "--json"],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.splitlines()[-1])
    assert metrics["n"] == 3 and list(metrics["by_level"]) == ["2"]
    assert sum(v["n"] for v in metrics["by_subject"].values()) == 3
    assert {r["level"] for r in rows(tmp_path / "m")} == {2}


def test_ctrl_c_keeps_finished_rows_and_says_how_to_resume(nano_gguf, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "mathcoder_local", "bench", "--model", str(nano_gguf), "--limit", "200"]
    proc = subprocess.Popen(
        command + ["--parallel", "2", "--threads", "1", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = out / "results.jsonl"
    wait_until(
        lambda: results.exists() and results.read_bytes().count(b"\n") >= 2, timeout=120, message="two finished rows"
    )
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    last = err.strip().splitlines()[-1]
    assert last == f"interrupted: finished problems are saved; continue with --resume --out {out}"
    table = rows(out)
    assert 2 <= len(table) < 200 and len({r["id"] for r in table}) == len(table)
