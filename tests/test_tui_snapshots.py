"""Snapshots of the app's main screens (pytest-textual-snapshot). Update with `pytest --snapshot-update`.

Each is made deterministic: a fixed terminal size, the model loaded before the picture, no clock or tokens/s
figure of a live run (the saved entry's figures are written by the test), a bench folder opened by a relative
path, the cursor not blinking.
"""

from __future__ import annotations

from tui_helpers import SAVED_BLOCKS, write_bench_folder

from mathcoder_local.history import History
from mathcoder_local.settings import Settings
from mathcoder_local.tui.app import MathcoderApp
from mathcoder_local.tui.testing import wait_until
from mathcoder_local.tui.widgets.problem_input import ProblemInput
from mathcoder_local.tui.widgets.transcript import AnswerBlock


def _app(nano_gguf, **kwargs) -> MathcoderApp:
    return MathcoderApp(Settings(model=str(nano_gguf)), **kwargs)


async def _ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.model_state == "ready", what="the model")
    app.solve_screen.query_one(ProblemInput).cursor_blink = False


def test_solve_screen(snap_compare, nano_gguf):
    assert snap_compare(_app(nano_gguf), terminal_size=(80, 24), run_before=_ready)


def test_solve_screen_with_a_saved_transcript(snap_compare, nano_gguf):
    history = History()
    history.add("What is 48213 * 317?", answer="15283521", finish_reason="answer", format="mathcoder")
    entry = history.add(
        "What is 6 * 7? Try the code first.",
        answer="42",
        finish_reason="answer",
        format="mathcoder",
        blocks=SAVED_BLOCKS,
        stats={"tokens_per_second": 400.0, "seconds": 1.5},
    )
    history.close()
    app = _app(nano_gguf)

    async def reopen(pilot) -> None:
        await _ready(pilot)
        screen = app.solve_screen
        await screen.open_entry(app.history.get(entry.id))
        await wait_until(pilot, lambda: screen.query(AnswerBlock), what="the transcript")

    assert snap_compare(app, terminal_size=(100, 30), run_before=reopen)


def test_settings_screen(snap_compare, nano_gguf):
    assert snap_compare(_app(nano_gguf), press=["f2"], terminal_size=(80, 24), run_before=_ready)


def test_help_screen(snap_compare, nano_gguf):
    assert snap_compare(_app(nano_gguf), press=["f1"], terminal_size=(80, 24), run_before=_ready)


def test_bench_browser(snap_compare, nano_gguf, tmp_path, monkeypatch):
    write_bench_folder(tmp_path / "demo-run")
    monkeypatch.chdir(tmp_path)
    app = _app(nano_gguf, bench="demo-run")

    async def opened(pilot) -> None:
        await _ready(pilot)
        await wait_until(pilot, lambda: getattr(app.screen, "bench", None) is not None, what="the run")

    assert snap_compare(app, terminal_size=(80, 24), run_before=opened)
