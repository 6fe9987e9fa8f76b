"""Helpers shared by the terminal-app tests (test_tui, test_tui_bench, test_tui_snapshots): a solve driven with
Pilot, engines that hold back or slow down the real one, a seeded history, a hand-written bench run folder."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from pathlib import Path

from mathcoder_local.bench.results import summarize
from mathcoder_local.history import History
from mathcoder_local.tui.testing import wait_until
from mathcoder_local.tui.widgets.problem_input import ProblemInput
from mathcoder_local.tui.widgets.transcript import AnswerBlock

QUESTION = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
ANSWER = "15283521"


def run_async(test):
    """Run an async test function with asyncio (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def answer_of(screen) -> AnswerBlock | None:
    found = screen.query(AnswerBlock)
    return found.last() if found else None


async def solve(pilot, app, question: str = QUESTION, timeout: float = 30) -> AnswerBlock:
    screen = app.solve_screen
    box = screen.query_one(ProblemInput)
    await wait_until(pilot, lambda: box.has_focus, what="the input's focus")
    box.load_text(question)  # typing key by key is covered by the prompt-history test
    await pilot.press("enter")
    await wait_until(pilot, lambda: answer_of(screen) is not None and not screen.solving, timeout, "the answer")
    return answer_of(screen)


class GatedEngine:
    """The real engine, holding back after a few generated tokens until the test opens the gate; so a test
    can press Esc while the model is generating, however fast the machine is."""

    def __init__(self, engine, after: int = 6) -> None:
        self._engine = engine
        self.after = after
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, tokens, **kwargs):
        inner = self._engine.generate(tokens, **kwargs)
        try:
            for i, token in enumerate(inner):
                if i == self.after and not self.gate.is_set():
                    self.waiting.set()
                    self.gate.wait(30)
                yield token
        finally:
            inner.close()


class SlowEngine(GatedEngine):
    """The real engine, 20 ms per token: a long generation."""

    def generate(self, tokens, **kwargs):
        inner = self._engine.generate(tokens, **kwargs)
        try:
            for token in inner:
                time.sleep(0.02)
                yield token
        finally:
            inner.close()


SAVED_BLOCKS = [
    {"kind": "text", "content": "We try **two** ways."},
    {"kind": "code", "content": "1/0"},
    {
        "kind": "execution",
        "content": "ZeroDivisionError: division by zero",
        "error": "ZeroDivisionError",
        "timed_out": False,
    },
    {"kind": "code", "content": "while True: pass"},
    {
        "kind": "execution",
        "content": "TimeoutError: the code ran longer than 6 s",
        "error": "Timeout",
        "timed_out": True,
    },
    {"kind": "text", "content": "42"},
]


def seed_history() -> list[int]:
    history = History()
    ids = [
        history.add("What is 6 * 7?", answer="42", finish_reason="answer", format="mathcoder", blocks=SAVED_BLOCKS).id,
        history.add(QUESTION, answer="1", finish_reason="answer", format="mathcoder", stats={"seconds": 1.5}).id,
    ]
    history.close()
    return ids


def _row(id, subject, level, correct, blocks, prediction="1", gold="1", finish="answer"):
    return {
        "id": id,
        "question": f"Question {id}?",
        "gold": gold,
        "prediction": prediction,
        "correct": correct,
        "subject": subject,
        "level": level,
        "finish_reason": finish,
        "format": "mathcoder",
        "blocks": blocks,
        "prompt_tokens": 30,
        "completion_tokens": 40,
        "code_blocks": 1,
        "seconds": 0.5,
    }


OK_BLOCKS = [
    {"kind": "text", "content": "Add them."},
    {"kind": "code", "content": "2 + 3"},
    {"kind": "execution", "content": "5", "error": None, "timed_out": False},
    {"kind": "text", "content": "5"},
]
ERROR_BLOCKS = [
    {"kind": "code", "content": "x + 1"},
    {"kind": "execution", "content": "NameError: name 'x' is not defined", "error": "NameError", "timed_out": False},
    {"kind": "text", "content": "7"},
]
TIMEOUT_BLOCKS = [
    {"kind": "code", "content": "while True: pass"},
    {
        "kind": "execution",
        "content": "TimeoutError: the code ran longer than 6 s and was stopped",
        "error": "Timeout",
        "timed_out": True,
    },
    {"kind": "text", "content": "0"},
]


def write_bench_folder(folder: Path) -> Path:
    """A small hand-written bench run folder: results.jsonl, metrics.json, config.json."""
    rows = [
        _row("alg-1", "Algebra", 1, True, OK_BLOCKS, "5", "5"),
        _row("alg-2", "Algebra", 2, False, ERROR_BLOCKS, "7", "8"),
        _row("geo-1", "Geometry", 1, True, OK_BLOCKS, "5", "5"),
        _row("geo-2", "Geometry", 3, False, TIMEOUT_BLOCKS, "0", "12"),
        _row("num-1", "Number Theory", 3, False, OK_BLOCKS, "5", "6", "max_blocks"),
    ]
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"model_path": "/models/demo-7b.Q4_K_M.gguf", "format": "mathcoder"}
    (folder / "metrics.json").write_text(json.dumps({**summarize(rows), "config": config}))
    (folder / "config.json").write_text(json.dumps({"format": "mathcoder"}))
    return folder
