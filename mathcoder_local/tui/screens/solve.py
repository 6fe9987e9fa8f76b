"""The solve screen: history sidebar, live transcript, the problem input and the status line."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Label, OptionList

from mathcoder_local.events import BlockEnded, BlockStarted, Finished, Rounds, SolveStarted
from mathcoder_local.history import HistoryEntry, export_markdown
from mathcoder_local.tui.engine_host import SolveRun
from mathcoder_local.tui.widgets.history_list import HistoryList
from mathcoder_local.tui.widgets.problem_input import ProblemInput
from mathcoder_local.tui.widgets.status import StatusLine
from mathcoder_local.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from mathcoder_local.tui.app import MathcoderApp

FPS = 20  # UI updates per second while a solve streams (each may re-lay out the transcript)
STATUS_EVERY = 0.25  # seconds between tokens/s and elapsed-time refreshes
SIDEBAR_ENTRIES = 200  # newest problems listed in the history sidebar


class SolveScreen(Screen):
    AUTO_FOCUS = "#problem"
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+n", "new_problem", "New"),
        Binding("ctrl+r", "rerun", "Re-run", show=False),
        Binding("ctrl+s", "export_entry", "Export", show=False),
        Binding("ctrl+b", "toggle_sidebar", "History", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: SolveRun | None = None  # the latest solve (running or finished)
        self.entry: HistoryEntry | None = None  # the saved problem shown in the transcript
        self._exec_seconds = 0.0  # time the current solve's finished code blocks ran
        self._final: Finished | None = None  # the current solve's Finished event, once it came
        self._settled = True  # the current solve has ended and everything it produced is on screen
        self._code_since: float | None = None  # when the code block now running was handed to the executor
        self._rounds: Rounds | None = None  # the loop's latest count (None: before the solve started)
        self._format: str | None = None  # the format the loop runs (from its first event)
        self._drain_timer: Timer | None = None
        self._last_status = 0.0

    @property
    def mc_app(self) -> MathcoderApp:
        return cast("MathcoderApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Label("History", id="sidebar-title")
                yield HistoryList(id="history")
            with Vertical(id="work"):
                yield Transcript(id="transcript")
                yield ProblemInput(id="problem")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._drain_timer = self.set_interval(1 / FPS, self._drain, pause=True)
        if self.mc_app.model_view is not None:  # the model got somewhere before this screen was up
            self.model_status(*self.mc_app.model_view)
        self.refresh_history()
        self.query_one(ProblemInput).focus()

    # --- widgets ------------------------------------------------------------------------------------------

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def problem_input(self) -> ProblemInput:
        return self.query_one(ProblemInput)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def history_list(self) -> HistoryList:
        return self.query_one(HistoryList)

    @property
    def solving(self) -> bool:
        """A solve is running, or its last events are not on screen yet."""
        return not self._settled

    def refresh_history(self, select: int | None = None) -> None:
        history = self.mc_app.history
        if history is None:
            return
        entries = history.entries(SIDEBAR_ENTRIES, transcripts=False)
        self.history_list.set_entries(entries, select=select)
        if not self.problem_input.prompts:
            self.problem_input.prompts = history.questions()

    # --- solving ------------------------------------------------------------------------------------------

    @on(ProblemInput.Submitted)
    async def _submitted(self, message: ProblemInput.Submitted) -> None:
        await self.solve(message.text)

    async def solve(self, question: str) -> bool:
        """Start solving `question` (waits for the model if it is still loading). False when busy."""
        question = question.strip()
        if not question:
            self.notify("Type a problem first.", severity="warning")
            return False
        if self.solving:
            self.notify("Already solving; Esc stops it.", severity="warning")
            return False
        app = self.mc_app
        run = SolveRun(question, app.settings)
        self.current, self.entry = run, None
        self._exec_seconds, self._final, self._rounds, self._last_status = 0.0, None, None, 0.0
        self._format = None
        self._settled, self._code_since = False, None
        box = self.problem_input
        box.remember(question)
        if box.text.strip() == question:  # solved from the input; a re-run leaves a draft there alone
            box.clear()
        self.status.clear_run()
        waiting = app.model_state != "ready"
        self.status.set(
            state="waiting for the model" if waiting else "generating", state_style="yellow" if waiting else "green"
        )
        await self.transcript.start(question)
        self._solve_in_thread(run)
        assert self._drain_timer is not None
        self._drain_timer.resume()
        return True

    async def action_solve_input(self) -> None:
        await self.solve(self.problem_input.text)

    @work(thread=True, group="solve", exit_on_error=False)
    def _solve_in_thread(self, run: SolveRun) -> None:
        self.mc_app.host.solve(run)  # never raises; errors land in run.error

    def action_stop(self) -> None:
        if self.solving:
            assert self.current is not None
            self.current.cancel()
            self.status.set(state="stopping", state_style="yellow")

    async def _drain(self) -> None:
        """Each UI tick: show what the solve produced since the last one."""
        run = self.current
        if run is None:
            return
        done = run.done.is_set()  # read before draining, so no event is left behind once done
        events = []
        while run.events:
            events.append(run.events.popleft())
        finished: Finished | None = None
        for event in events:
            if isinstance(event, SolveStarted):
                self._format, self._rounds = event.format, event.rounds
            elif isinstance(event, BlockStarted) and event.kind == "execution":  # the executor runs the code now
                self._code_since, self._last_status = time.perf_counter(), 0.0
            elif isinstance(event, BlockEnded):
                self._rounds = event.rounds or self._rounds
                result = event.block.result
                if result is not None:
                    self._exec_seconds += result.seconds
                    self._code_since, self._last_status = None, 0.0
            elif isinstance(event, Finished):
                finished = event
                self._rounds = event.rounds or self._rounds
        if events:
            await self.transcript.apply(events)
        now = time.perf_counter()
        if finished is not None:
            self._final = finished
            self._finished(run, finished)
        elif self._final is None and not done and run.started is not None and now - self._last_status >= STATUS_EVERY:
            self._last_status = now
            self._show_progress(run, now - run.started, run.generated_tokens)
        if done and not run.events:
            assert self._drain_timer is not None
            self._drain_timer.pause()
            self._settled = True
            if run.error is not None:
                self.status.set(state="error", state_style="red")
                self.notify(run.error, title="Solve failed", severity="error", timeout=8)

    def _show_progress(
        self, run: SolveRun, seconds: float, tokens: int, tokens_per_second: float | None = None
    ) -> None:
        state, style = ("generating", "green") if tokens else ("reading the problem", "green")
        if tokens_per_second is None:
            running = time.perf_counter() - self._code_since if self._code_since is not None else 0.0
            busy = max(seconds - self._exec_seconds - running, 1e-6)
            tokens_per_second = tokens / busy
            if self._code_since is not None:
                state, style = "running code", "cyan"
        if run.stop.is_set():
            state, style = "stopping", "yellow"
        rounds = self._rounds
        self.status.set(
            state=state,
            state_style=style,
            format=self._format or self.status.fields.get("format"),
            speed=f"{tokens_per_second:.0f} tok/s",
            blocks=f"{rounds.unit} {rounds.used}/{rounds.allowed}" if rounds else None,
            elapsed=f"{seconds:.1f} s",
        )

    def _finished(self, run: SolveRun, finished: Finished) -> None:
        s = finished.stats
        self._show_progress(run, s.seconds, s.generated_tokens, s.tokens_per_second)
        stopped = finished.finish_reason == "cancelled"
        self.status.set(
            state="stopped" if stopped else f"done ({finished.finish_reason})",
            state_style="yellow" if stopped else "green",
        )
        app = self.mc_app
        if app.history is None:
            return
        try:
            self.entry = app.history.add(
                run.question,
                answer=finished.answer,
                finish_reason=finished.finish_reason,
                format=finished.format,
                model=app.host.loaded.path if app.host.loaded else "",
                blocks=[b.to_dict() for b in finished.blocks],
                stats=s.to_dict(),
                settings=run.settings.to_dict(),
            )
        except Exception as exc:  # noqa: BLE001 - a full disk must not end the app
            self.notify(f"could not save to history: {exc}", severity="error")
            return
        self.refresh_history(select=self.entry.id)

    def model_status(self, model: str, fmt: str | None, state: str, style: str) -> None:
        """Called by the app as the model loads (unless a solve is showing its own state)."""
        if self.solving and state in ("ready", "loaded"):
            self.status.set(model=model, format=fmt or "")
            return
        self.status.set(model=model, format=fmt or "", state=state, state_style=style)

    # --- history ------------------------------------------------------------------------------------------

    def _selected_entry(self) -> HistoryEntry | None:
        """The highlighted entry when the sidebar has focus, else the one the transcript shows."""
        history = self.mc_app.history
        if history is None:
            return None
        entry_id = None
        if self.history_list.has_focus:
            entry_id = self.history_list.highlighted_entry_id
        elif self.entry is not None:
            entry_id = self.entry.id
        return history.get(entry_id) if entry_id is not None else None

    @on(OptionList.OptionSelected, "#history")
    async def _open_selected(self, message: OptionList.OptionSelected) -> None:
        history = self.mc_app.history
        if history is None or message.option_id is None:
            return
        entry = history.get(int(message.option_id))
        if entry is not None:
            await self.open_entry(entry)

    async def open_entry(self, entry: HistoryEntry) -> None:
        if self.solving:
            self.notify("Stop the running solve first (Esc).", severity="warning")
            return
        self.current, self.entry = None, entry
        await self.transcript.show(entry.question, entry.blocks, entry.answer, entry.finish_reason)
        stats = entry.stats
        self.status.set(
            state=f"saved ({entry.finish_reason})",
            state_style="dim",
            speed=f"{float(stats.get('tokens_per_second', 0.0)):.0f} tok/s" if stats else None,  # type: ignore[arg-type]
            blocks=None,
            elapsed=f"{float(stats.get('seconds', 0.0)):.1f} s" if stats else None,  # type: ignore[arg-type]
        )

    async def action_rerun(self) -> None:
        entry = self._selected_entry()
        if entry is None:
            self.notify("No problem to re-run: open one from the history first.", severity="warning")
            return
        await self.solve(entry.question)

    def action_export_entry(self) -> None:
        entry = self._selected_entry()
        if entry is None:
            self.notify("No saved problem to export: solve or open one first.", severity="warning")
            return
        try:
            path = export_markdown(entry)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"Exported to {path}", title="Markdown")

    def action_delete_entry(self) -> None:
        entry = self._selected_entry()
        history = self.mc_app.history
        if entry is None or history is None:
            self.notify("No saved problem selected.", severity="warning")
            return
        history.delete(entry.id)
        self.problem_input.forget(entry.question)
        if self.entry is not None and self.entry.id == entry.id:
            self.entry = None
            if not self.solving:
                self.transcript.clear()
        self.refresh_history()
        self.notify("Deleted from history.")

    def action_new_problem(self) -> None:
        if not self.solving:
            self.current, self.entry = None, None
            self.transcript.clear()
            self.status.clear_run()
        self.problem_input.clear()
        self.problem_input.focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
