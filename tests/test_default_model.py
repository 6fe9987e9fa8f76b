"""The bundled nano model: shipped as a checkpoint, converted once by our converter, solving with code."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.events import Finished
from mathcoder_local.executor import WithheldSession
from mathcoder_local.solve import EngineOptions, load_engine, make_solver
from mathcoder_local.store import bundled_checkpoint, bundled_gguf

WAREHOUSE = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"


def test_bundled_checkpoint_is_a_small_mathcoder_release():
    folder = bundled_checkpoint()
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
            "added_tokens.json", "model.safetensors"} <= names  # fmt: skip
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20 * 2**20
    assert "added_tokens_decoder" not in json.loads((folder / "tokenizer_config.json").read_text())


def test_converted_on_first_use_then_cached(monkeypatch):
    first = bundled_gguf(on_status=None)
    stamp = first.stat().st_mtime_ns

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr("mathcoder_local.convert.convert_checkpoint", no_second_conversion)
    assert bundled_gguf(on_status=None) == first and first.stat().st_mtime_ns == stamp


def test_solve_with_no_model_answers_from_executed_code():
    result = CliRunner().invoke(app, ["solve", WAREHOUSE, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.splitlines()[-1])
    assert data["answer"] == "15283521" and data["finish_reason"] == "answer"
    kinds = [b["kind"] for b in data["blocks"]]
    assert "code" in kinds and "execution" in kinds
    assert next(b for b in data["blocks"] if b["kind"] == "execution")["content"] == "15283521"


def heldout(n: int) -> list[dict]:
    from importlib import resources

    text = (resources.files("mathcoder_local.models") / "nano" / "heldout.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()[:n]]


def accuracy(solver, problems) -> float:
    hits = 0
    for p in problems:
        done = next(e for e in solver.solve(p["question"]) if isinstance(e, Finished))
        hits += done.answer.strip() == p["answer"]
    return hits / len(problems)


def test_held_out_problems_need_the_executed_code():
    """A sample of the figure (all 200: benchmarks/nano_accuracy.py)."""
    problems = heldout(30)
    engine = load_engine(None, EngineOptions(n_ctx=2048, n_threads=2))
    assert accuracy(make_solver(engine), problems) >= 0.8
    assert accuracy(make_solver(engine, session_factory=WithheldSession), problems) <= 0.3
