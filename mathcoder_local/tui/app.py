"""The terminal app: one engine (loaded off the UI thread), the solve screen, settings, bench browser, help.

The app consumes the solve loop's events like the CLI and the bench do (`EngineHost` runs `make_solver(...)
.solve` in a thread worker); nothing here re-implements the loop.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from mathcoder_local.errors import UserError
from mathcoder_local.history import History
from mathcoder_local.paths import user_home
from mathcoder_local.settings import Settings, load_settings
from mathcoder_local.solve import EngineOptions
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.store import chosen_model, model_label
from mathcoder_local.tui.engine_host import EngineHost, EngineLoader, LoadedModel
from mathcoder_local.tui.screens.bench import BenchScreen
from mathcoder_local.tui.screens.help import HelpScreen
from mathcoder_local.tui.screens.settings import SettingsScreen
from mathcoder_local.tui.screens.solve import SolveScreen


class ModelStatus(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ModelLoaded(Message):
    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__()
        self.loaded = loaded


class ModelFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class MathcoderApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mathcoder-local"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "settings", "Settings"),
        Binding("f3", "bench", "Bench"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        overrides: Mapping[str, object] | None = None,
        engine_options: EngineOptions = EngineOptions(),
        engine_loader: EngineLoader | None = None,
        bench: str | Path | None = None,
        seed: int = SolveConfig.seed,
    ) -> None:
        """`settings`: None loads config.json; `overrides` (command-line options) apply on top for this run;
        `seed`: the sampling seed of this run's solves."""
        super().__init__()
        self._startup_errors: list[str] = []
        if settings is None:
            try:
                settings = load_settings()
            except UserError as exc:
                self._startup_errors.append(f"{exc}; using the defaults")
                settings = Settings()
        if overrides:
            try:
                settings = replace(settings, **overrides).validated()
            except (UserError, TypeError) as exc:
                self._startup_errors.append(str(exc))
        self.settings = settings
        self.host = EngineHost(engine_loader, engine_options, seed=seed)
        self.history: History | None = None
        try:
            self.history = History()
        except UserError as exc:
            self._startup_errors.append(f"{exc}; history is off for this session")
        self.model_state = "loading"  # loading | ready | error
        self.model_view: tuple[str, str | None, str, str] | None = None  # what the status line shows of it
        self.bench_folder = bench
        self.solve_screen: SolveScreen | None = None

    def get_default_screen(self) -> Screen:
        self.solve_screen = SolveScreen()
        return self.solve_screen

    def on_mount(self) -> None:
        for error in self._startup_errors:
            self.notify(error, title="mathcoder-local", severity="error", timeout=10)
        self.load_model()
        if self.bench_folder is not None:
            self.push_screen(BenchScreen(self.bench_folder))

    def on_unmount(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop a running solve, free the model, close the history (idempotent)."""
        screen = self.solve_screen
        if screen is not None and screen.current is not None:
            screen.current.cancel()
        self.host.close()
        if self.history is not None:
            self.history.close()
            self.history = None

    # --- the model ----------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def load_model(self) -> None:
        """Load the settings' model in a thread (a solve submitted meanwhile waits for it)."""
        self.post_message(ModelStatus("loading"))
        try:
            loaded = self.host.load(self.settings, on_status=lambda text: self.post_message(ModelStatus(text)))
        except Exception as exc:  # noqa: BLE001 - the UI shows it; the app stays usable (pick another model)
            self.post_message(ModelFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(ModelLoaded(loaded))

    def _show_model(self, state: str, style: str, fmt: str | None = None, model: str | None = None) -> None:
        label = model or model_label(chosen_model(self.settings.model))
        self.model_view = (label, fmt or self.settings.format, state, style)
        if self.solve_screen is not None and self.solve_screen.is_mounted:
            self.solve_screen.model_status(*self.model_view)

    def on_model_status(self, message: ModelStatus) -> None:
        self.model_state = "loading"
        self._show_model(message.text + "…", "yellow")

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.model_state = "ready"
        loaded = message.loaded
        self._show_model("ready", "green", loaded.format, model_label(loaded.path))

    def on_model_failed(self, message: ModelFailed) -> None:
        self.model_state = "error"
        self._show_model("no model", "red")
        self.notify(message.error, title="Model not loaded", severity="error", timeout=10)

    # --- actions ------------------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_settings(self) -> None:
        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(self.settings), callback=self.apply_settings)

    def action_bench(self) -> None:
        if not isinstance(self.screen, BenchScreen):
            self.push_screen(BenchScreen(self.bench_folder))

    def apply_settings(self, settings: Settings | None) -> None:
        """Use new settings from now on; reload the model when the model or the format changed."""
        if settings is None:
            return
        old, self.settings = self.settings, settings
        if (old.model, old.format) != (settings.model, settings.format) or self.model_state == "error":
            screen = self.solve_screen
            if screen is not None and screen.solving and screen.current is not None:
                screen.current.cancel()  # the new model loads once this solve has stopped
            self.load_model()

    def _solve_screen_action(self, action: str) -> None:
        async def run() -> None:
            if self.screen is not self.solve_screen:
                self.switch_to_solve()
            await self.solve_screen.run_action(action)  # type: ignore[union-attr]

        self.call_later(run)

    def switch_to_solve(self) -> None:
        while len(self.screen_stack) > 1 and self.screen is not self.solve_screen:
            self.pop_screen()

    SOLVE_COMMANDS = (  # (title, help, action of the solve screen)
        ("Solve", "Solve the problem in the input (Enter)", "solve_input"),
        ("Stop generation", "Stop the running solve and its code (Esc)", "stop"),
        ("New problem", "Clear the transcript and the input (Ctrl+N)", "new_problem"),
        ("Re-run problem", "Solve the open problem again (Ctrl+R)", "rerun"),
        ("Export problem as Markdown", "Write the open problem to a .md file (Ctrl+S)", "export_entry"),
        ("Delete problem", "Remove the open problem from the history", "delete_entry"),
        ("Toggle history", "Show or hide the history sidebar (Ctrl+B)", "toggle_sidebar"),
    )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for title, description, action in self.SOLVE_COMMANDS:
            yield SystemCommand(title, description, functools.partial(self._solve_screen_action, action))
        yield SystemCommand("Settings", "Model, format, temperature, limits, grammar (F2)", self.action_settings)
        yield SystemCommand("Bench browser", "Open a bench output folder (F3)", self.action_bench)
        yield SystemCommand("Help", "Keys and screens (F1)", self.action_help)
        yield SystemCommand("Reload model", "Load the model again", self.load_model)
        yield from super().get_system_commands(screen)


@contextlib.contextmanager
def native_output_to_log(log_path: Path) -> Iterator[None]:
    """Keep llama.cpp's native writes off the screen while the app runs.

    Textual draws through `sys.__stderr__`, which is file descriptor 2, where llama.cpp (and anything native)
    writes its notices. Textual gets its own descriptor for the terminal here, and descriptor 2 goes to a log
    file, so no native write can land in the middle of the screen; and the engine's `silence_native_stderr`
    (which points descriptor 2 at /dev/null while a model loads) cannot swallow the app's own drawing.
    """
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    terminal = open(terminal_fd, "w", encoding="utf-8", errors="replace", closefd=True)  # noqa: SIM115
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = sys.__stderr__
    try:
        os.dup2(log_fd, 2)
        sys.__stderr__ = terminal
        yield
    finally:
        sys.__stderr__ = saved
        terminal.flush()
        os.dup2(terminal_fd, 2)
        terminal.close()
        os.close(log_fd)


def run_app(app: MathcoderApp) -> None:
    """Run the app on this terminal, llama.cpp's stderr going to tui.log in the user directory."""
    try:
        with native_output_to_log(user_home() / "tui.log"):
            app.run()
    finally:
        app.shutdown()
