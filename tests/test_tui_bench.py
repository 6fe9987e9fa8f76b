"""The bench browser (F3, `tui --bench`): a run's metrics, its filters and its transcripts, driven with Pilot."""

from __future__ import annotations

from tui_helpers import notifications, run_async, write_bench_folder

from mathcoder_local.settings import Settings
from mathcoder_local.tui.app import MathcoderApp
from mathcoder_local.tui.screens.bench import BenchScreen, TranscriptScreen
from mathcoder_local.tui.testing import wait_until
from mathcoder_local.tui.widgets.transcript import AnswerBlock, CodeBlock, ExecutionBlock


def shown_ids(screen) -> list[str]:
    return [str(r.get("id")) for r in screen.shown]


@run_async
async def test_bench_browser_metrics_filters_and_transcripts(tmp_path, nano_gguf):
    folder = write_bench_folder(tmp_path / "run")
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, BenchScreen) and screen.query_one("#bench-path").has_focus
        screen.query_one("#bench-path").value = str(folder)
        await pilot.press("enter")
        assert screen.bench is not None
        assert "demo-7b.Q4_K_M.gguf" in str(screen.query_one("#bench-summary").render())
        by_subject = screen.query_one("#by-subject")
        assert [by_subject.get_row_at(i)[0] for i in range(by_subject.row_count)] == [
            "Algebra",
            "Geometry",
            "Number Theo…",
            by_subject.get_row_at(3)[0],
        ]
        assert by_subject.get_row_at(0)[1:] == ["2", "1", "50.0"] and str(by_subject.get_row_at(3)[0]) == "all"
        by_level = screen.query_one("#by-level")
        assert [by_level.get_row_at(i)[0] for i in range(3)] == ["1", "2", "3"]
        assert by_level.get_row_at(2)[1:] == ["2", "0", "0.0"]
        assert shown_ids(screen) == ["alg-1", "alg-2", "geo-1", "geo-2", "num-1"]
        assert screen.query_one("#problems").has_focus
        await pilot.press("w")  # wrong only
        assert shown_ids(screen) == ["alg-2", "geo-2", "num-1"]
        await pilot.press("t")  # and timeouts
        assert shown_ids(screen) == ["geo-2"]
        await pilot.press("w")
        assert shown_ids(screen) == ["geo-2"]
        await pilot.press("t")
        screen.query_one("#subject").value = "Algebra"
        await pilot.pause()
        assert shown_ids(screen) == ["alg-1", "alg-2"]
        screen.query_one("#level").value = "2"
        await pilot.pause()
        assert shown_ids(screen) == ["alg-2"]
        # a transcript, shown as a live solve shows it
        screen.query_one("#problems").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TranscriptScreen), what="the transcript")
        view = app.screen
        await wait_until(pilot, lambda: view.query(AnswerBlock), what="the blocks")
        execution = view.query_one(ExecutionBlock)
        assert execution.status == "error" and execution.has_class("exec-error")
        assert view.query_one(CodeBlock).code == "x + 1" and view.query_one(AnswerBlock).answer == "7"
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert app.screen is app.solve_screen


@run_async
async def test_bench_browser_on_a_real_bench_run(tmp_path, nano_gguf):
    from mathcoder_local.bench.runner import run_bench

    out = tmp_path / "nano-run"
    for _ in run_bench(dataset="nano", limit=2, model=str(nano_gguf), out=out):
        pass
    app = MathcoderApp(Settings(model=str(nano_gguf)), bench=out)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BenchScreen) and app.screen.bench, what="the run")
        screen = app.screen
        assert shown_ids(screen) == ["nano-000", "nano-001"] and all(r["correct"] for r in screen.shown)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TranscriptScreen), what="the transcript")
        await wait_until(pilot, lambda: app.screen.query(AnswerBlock), what="the blocks")
        assert app.screen.query_one(ExecutionBlock).status == "ok"
        assert app.screen.query_one(AnswerBlock).answer == screen.shown[0]["prediction"]


@run_async
async def test_a_folder_that_is_not_a_bench_run_becomes_a_notification(tmp_path, nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        app.screen.query_one("#bench-path").value = str(tmp_path)
        await pilot.press("enter")
        assert app.screen.bench is None
        assert any("has no results.jsonl" in m for m in notifications(app))
