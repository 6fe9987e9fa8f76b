"""The terminal app, driven with Textual's Pilot on the real solve loop and the bundled nano model."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import pytest
import waiting
from tui_helpers import (
    ANSWER,
    QUESTION,
    GatedEngine,
    SlowEngine,
    answer_of,
    notifications,
    run_async,
    seed_history,
    solve,
    write_bench_folder,
)
from typer.testing import CliRunner

from mathcoder_local.cli import app as cli_app
from mathcoder_local.executor.session import ExecutorLimits
from mathcoder_local.paths import user_home
from mathcoder_local.settings import Settings, load_settings
from mathcoder_local.solve import load_engine
from mathcoder_local.tui.app import MathcoderApp, native_output_to_log
from mathcoder_local.tui.engine_host import SolveRun
from mathcoder_local.tui.screens.bench import BenchScreen
from mathcoder_local.tui.screens.help import HelpScreen
from mathcoder_local.tui.screens.settings import SettingsScreen
from mathcoder_local.tui.testing import type_text, wait_until
from mathcoder_local.tui.widgets.history_list import HistoryList
from mathcoder_local.tui.widgets.problem_input import ProblemInput
from mathcoder_local.tui.widgets.transcript import CodeBlock, ExecutionBlock, TextBlock, Transcript

# --- solve --------------------------------------------------------------------------------------------------


@run_async
async def test_solve_streams_the_transcript_and_saves_it(nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.solve_screen
        await wait_until(pilot, lambda: app.model_state == "ready", what="the model")
        assert screen.status.fields["model"] == "nano.f32" and screen.status.fields["format"] == "mathcoder"
        answer = await solve(pilot, app)
        assert answer.answer == ANSWER and answer.finish_reason == "answer"
        transcript = screen.query_one(Transcript)
        kinds = [type(w).__name__ for w in transcript.children]
        assert kinds[0] == "QuestionBlock" and "TextBlock" in kinds and kinds[-1] == "AnswerBlock"
        code = transcript.query_one(CodeBlock)
        assert "317" in code.code and code.border_title == "code"
        execution = transcript.query_one(ExecutionBlock)
        assert execution.status == "ok" and execution.content == ANSWER and execution.has_class("exec-ok")
        fields = screen.status.fields
        assert fields["state"] == "done (answer)" and fields["speed"].endswith("tok/s")
        assert fields["blocks"].startswith("blocks ") and fields["blocks"].endswith("/16")
        assert fields["elapsed"].endswith(" s")
        # saved and listed
        entries = app.history.entries()
        assert len(entries) == 1 and entries[0].answer == ANSWER and entries[0].question == QUESTION
        executions = [b for b in entries[0].blocks if b["kind"] == "execution"]
        assert [{k: v for k, v in b.items() if k != "seconds"} for b in executions] == [
            {"kind": "execution", "content": ANSWER, "error": None, "timed_out": False}
        ]
        assert executions[0]["seconds"] >= 0
        history_list = screen.query_one(HistoryList)
        assert history_list.option_count == 1 and history_list.highlighted_entry_id == entries[0].id
        assert screen.query_one(ProblemInput).text == ""  # cleared for the next problem


@run_async
async def test_esc_stops_generation_and_the_app_stays_usable(nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)), engine_loader=lambda p, o: GatedEngine(load_engine(p, o)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.solve_screen
        await wait_until(pilot, lambda: app.model_state == "ready", what="the model")
        engine = app.host.engine
        screen.query_one(ProblemInput).load_text(QUESTION)
        await pilot.press("enter")
        await wait_until(pilot, engine.waiting.is_set, what="generation to start")
        await wait_until(pilot, lambda: any(b.source for b in screen.query(TextBlock)), what="streamed text")
        await wait_until(pilot, lambda: screen.status.fields["state"] == "generating", what="the status")
        assert screen.solving
        assert not screen.query(CodeBlock)  # the text streamed before its block ended
        await pilot.press("escape")
        assert screen.current.stop.is_set()
        engine.gate.set()
        await wait_until(pilot, lambda: not screen.solving and answer_of(screen) is not None, what="the stop")
        stopped = answer_of(screen)
        assert stopped.finish_reason == "cancelled" and screen.status.fields["state"] == "stopped"
        assert not screen.query(ExecutionBlock)  # it stopped before running any code
        assert app.history.entries()[0].finish_reason == "cancelled"
        # usable: the next problem solves to the end
        answer = await solve(pilot, app)
        assert answer.answer == ANSWER and answer.finish_reason == "answer"
        assert len(app.history.entries()) == 2


@run_async
async def test_quitting_while_generating_stops_the_solve(nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)), engine_loader=lambda p, o: SlowEngine(load_engine(p, o)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.solve_screen
        screen.query_one(ProblemInput).load_text(QUESTION)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(b.source for b in screen.query(TextBlock)), what="streamed text")
        run = screen.current
        t0 = time.monotonic()
        await pilot.press("ctrl+q")
    assert run.stop.is_set() and run.done.wait(5) and time.monotonic() - t0 < 5
    assert app.host.engine is None  # the model was freed


@pytest.mark.parametrize("forked", [False, True], ids=["spawned", "forked"])
def test_stop_kills_the_code_that_is_running(forked):
    from mathcoder_local.executor.forkserver import ForkServer
    from mathcoder_local.executor.session import DEFAULT_PRELOAD

    server = ForkServer(DEFAULT_PRELOAD) if forked else None
    run = SolveRun("q", Settings(timeout=60))
    session = run.new_session(ExecutorLimits(timeout=60), server)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("cell", session.run("import time\ntime.sleep(60)")))
    try:
        worker.start()
        # the worker is up: the block is being sent
        waiting.wait_until(lambda: session._ready, timeout=30, message="the executor worker to start")
        t0 = time.monotonic()
        run.cancel()
        worker.join(10)
        assert not worker.is_alive() and time.monotonic() - t0 < 5
        assert result["cell"].error == "WorkerDied" and not result["cell"].timed_out
        assert session.run("1 + 1").error == "Cancelled"  # nothing new starts after a stop
    finally:
        session.close()
        if server is not None:
            server.close()


# --- history ------------------------------------------------------------------------------------------------


@run_async
async def test_history_reopen_export_rerun_delete(nano_gguf):
    first, second = seed_history()
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.solve_screen
        history_list = screen.query_one(HistoryList)
        assert [e.id for e in history_list.entries] == [second, first]  # newest first
        # reopen the older one: shown as a live solve shows it
        history_list.focus()
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: screen.entry is not None and screen.entry.id == first, what="reopen")
        panels = {b.status: b for b in screen.query(ExecutionBlock)}
        assert set(panels) == {"error", "timeout"}
        assert panels["error"].border_title == "error: ZeroDivisionError" and panels["error"].has_class("exec-error")
        assert panels["timeout"].has_class("exec-timeout")
        assert answer_of(screen).answer == "42"
        # export it as Markdown
        await pilot.press("e")
        exported = list((user_home() / "exports").glob(f"problem-{first}-*.md"))
        assert len(exported) == 1 and "**Answer:** 42" in exported[0].read_text()
        assert any("Exported to" in m for m in notifications(app))
        # re-run the other one with the real model
        await pilot.press("up")
        assert history_list.highlighted_entry_id == second
        await pilot.press("r")
        await wait_until(pilot, lambda: answer_of(screen) is not None and not screen.solving, what="re-run")
        assert answer_of(screen).answer == ANSWER
        assert len(app.history.entries()) == 3
        # delete the reopened one
        history_list.focus()
        await pilot.pause()
        history_list.highlighted = [e.id for e in history_list.entries].index(first)
        await pilot.press("delete")
        assert app.history.get(first) is None
        assert first not in [e.id for e in history_list.entries] and history_list.option_count == 2


@run_async
async def test_prompt_history_with_up_and_down(nano_gguf):
    seed_history()
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.solve_screen.query_one(ProblemInput)
        assert box.has_focus
        await type_text(pilot, "draft")
        await pilot.press("up")
        assert box.text == QUESTION
        await pilot.press("up")
        assert box.text == "What is 6 * 7?"
        await pilot.press("up")  # the oldest stays
        assert box.text == "What is 6 * 7?"
        await pilot.press("down")
        assert box.text == QUESTION
        await pilot.press("down")
        assert box.text == "draft"
        await type_text(pilot, "\nsecond line")  # Ctrl+J breaks the line; Enter would solve
        assert box.text == "draft\nsecond line"


# --- settings -----------------------------------------------------------------------------------------------


@run_async
async def test_settings_are_saved_and_reloaded(nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.model_state == "ready", what="the model")
        await pilot.press("f2")
        assert isinstance(app.screen, SettingsScreen)
        form = app.screen
        form.query_one("#format").value = "tora"
        form.query_one("#grammar").value = "off"
        for field, value in (("#temperature", "0.5"), ("#max_blocks", "3"), ("#timeout", "2.5")):
            form.query_one(field).value = value
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, SettingsScreen)
        expected = Settings(
            model=str(nano_gguf), format="tora", temperature=0.5, max_blocks=3, timeout=2.5, grammar=False
        )
        assert load_settings() == expected and app.settings == expected
        assert json.loads((user_home() / "config.json").read_text())["format"] == "tora"
        # a format change reloads the model with it
        await wait_until(pilot, lambda: app.solve_screen.status.fields.get("format") == "tora", what="the reload")
        # a bad value is refused with a notification, and nothing is written
        await pilot.press("f2")
        app.screen.query_one("#temperature").value = "-1"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        assert any("temperature" in m for m in notifications(app))
        await pilot.press("escape")
        assert load_settings() == expected

    again = MathcoderApp()  # reads config.json
    async with again.run_test(size=(80, 24)) as pilot:
        assert again.settings == expected
        await pilot.press("f2")
        form = again.screen
        assert form.query_one("#format").value == "tora" and form.query_one("#grammar").value == "off"
        assert form.query_one("#max_blocks").value == "3" and form.query_one("#temperature").value == "0.5"
        assert form.query_one("#model").value == str(nano_gguf)


# --- errors -------------------------------------------------------------------------------------------------


@run_async
async def test_a_missing_model_becomes_a_notification(tmp_path):
    app = MathcoderApp(Settings(model=str(tmp_path / "missing.gguf")))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.model_state == "error", what="the load to fail")
        assert any("model file not found" in m for m in notifications(app))
        assert app.solve_screen.status.fields["state"] == "no model"
        await type_text(pilot, "What is 1 + 1?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("no model is loaded" in m for m in notifications(app)), what="the error")
        await pilot.press("f1")  # still usable
        assert isinstance(app.screen, HelpScreen)


@run_async
async def test_a_broken_config_file_becomes_a_notification(nano_gguf):
    (user_home()).mkdir(parents=True)
    (user_home() / "config.json").write_text("{broken")
    app = MathcoderApp(overrides={"model": str(nano_gguf)})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert any("not valid JSON" in m for m in notifications(app))
        assert app.settings == Settings(model=str(nano_gguf))


# --- keys, help, command palette, sizes ---------------------------------------------------------------------


@run_async
async def test_help_screen_and_footer(nano_gguf):
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        keys = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
        assert {"enter", "escape", "ctrl+n", "f1", "f2", "f3", "ctrl+q"} <= keys
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help").source
        assert "`Esc` | stop generating" in text and "Bench browser" in text and "history.db" in text
        await pilot.press("escape")
        assert app.screen is app.solve_screen


@run_async
async def test_command_palette_lists_the_app_commands(nano_gguf):
    from textual.command import CommandList, CommandPalette

    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        commands = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Solve", "Stop generation", "New problem", "Re-run problem", "Export problem as Markdown"} <= commands
        assert {"Delete problem", "Settings", "Bench browser", "Help", "Toggle history"} <= commands
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "bench")

        def listed():
            return [str(o.prompt) for o in app.screen.query_one(CommandList).options]

        await wait_until(pilot, lambda: any("Bench browser" in p for p in listed()), what="the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BenchScreen), what="the bench browser")
        # a solve-screen command run from another screen comes back to the solve screen
        await pilot.press("ctrl+p")
        await type_text(pilot, "toggle")
        await wait_until(pilot, lambda: any("Toggle history" in p for p in listed()), what="the command")
        await pilot.press("enter")
        sidebar = app.solve_screen.query_one("#sidebar")
        await wait_until(pilot, lambda: app.screen is app.solve_screen and not sidebar.display, what="the toggle")


@run_async
async def test_resize_on_every_screen(tmp_path, nano_gguf):
    folder = write_bench_folder(tmp_path / "run")
    seed_history()
    app = MathcoderApp(Settings(model=str(nano_gguf)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.solve_screen
        await solve(pilot, app)
        for size in ((120, 40), (80, 24), (60, 16), (80, 24)):
            await pilot.resize_terminal(*size)
            assert app.screen.size == size
        for key, kind in (("f2", SettingsScreen), ("f1", HelpScreen), ("f3", BenchScreen)):
            await pilot.press(key)
            assert isinstance(app.screen, kind)
            if kind is BenchScreen:
                app.screen.open(folder)
            for size in ((120, 40), (80, 24)):
                await pilot.resize_terminal(*size)
            await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("ctrl+b")
        assert not screen.query_one("#sidebar").display


# --- the command and the terminal ---------------------------------------------------------------------------


def test_tui_command_help_and_bad_options():
    runner = CliRunner()
    result = runner.invoke(cli_app, ["tui", "--help"])
    assert result.exit_code == 0 and "--model" in result.output and "--bench" in result.output
    result = runner.invoke(cli_app, ["tui", "--max-blocks", "0"])
    assert result.exit_code == 2 and "max-blocks" in result.output
    result = runner.invoke(cli_app, ["tui", "--model", "/no/such/model.gguf"])
    assert result.exit_code == 2 and "model file not found" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="file descriptors")
def test_native_stderr_goes_to_the_log_not_the_screen(tmp_path):
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    os.dup2(write_end, 2)  # stands in for the terminal
    try:
        with native_output_to_log(tmp_path / "tui.log"):
            os.write(2, b"llama.cpp notice\n")  # what native code writes
            sys.__stderr__.write("the screen\n")  # what Textual's driver writes
            sys.__stderr__.flush()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write_end)
    with os.fdopen(read_end, "rb") as terminal:
        assert terminal.read() == b"the screen\n"
    assert (tmp_path / "tui.log").read_bytes() == b"llama.cpp notice\n"
