"""The bench browser: a bench output folder's metrics by subject and level, its problems with filters, and any
problem's transcript shown as a live solve shows it."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Footer, Input, Select, Static

from mathcoder_local.errors import UserError
from mathcoder_local.tui.bench_data import BenchRun, Row, filter_rows, load_run, row_timed_out
from mathcoder_local.tui.widgets.transcript import Transcript

ALL = "__all__"


def _cut(value: object, width: int) -> str:
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class BenchScreen(Screen):
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+o", "focus_path", "Open folder"),
        Binding("w", "toggle('wrong')", "Wrong only"),
        Binding("t", "toggle('timeouts')", "Timeouts"),
    ]

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__()
        self.initial = folder
        self.bench: BenchRun | None = None
        self.shown: list[Row] = []

    def compose(self) -> ComposeResult:
        yield Input(
            str(self.initial or ""),
            placeholder="bench output folder (with results.jsonl); Enter opens it",
            id="bench-path",
            compact=True,
        )
        yield Static("No run open.", id="bench-summary")
        with Horizontal(id="bench-filters"):
            yield Checkbox("wrong only", id="wrong", compact=True)
            yield Checkbox("timeouts", id="timeouts", compact=True)
            yield Select([("all subjects", ALL)], value=ALL, allow_blank=False, id="subject", compact=True)
            yield Select([("all levels", ALL)], value=ALL, allow_blank=False, id="level", compact=True)
        with Horizontal(id="bench-body"):
            with Vertical(id="bench-metrics"):
                yield DataTable(id="by-subject", cursor_type="none", zebra_stripes=True)
                yield DataTable(id="by-level", cursor_type="none", zebra_stripes=True)
            yield DataTable(id="problems", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        for table_id, first in (("#by-subject", "subject"), ("#by-level", "level")):
            self.query_one(table_id, DataTable).add_columns(first, "n", "ok", "acc%")
        self.query_one("#problems", DataTable).add_columns("id", "", "subject", "lvl", "prediction", "gold", "finish")
        if self.initial:
            self.open(self.initial)
        else:
            self.query_one("#bench-path", Input).focus()

    # --- opening ------------------------------------------------------------------------------------------

    @on(Input.Submitted, "#bench-path")
    def _path_submitted(self, message: Input.Submitted) -> None:
        if message.value.strip():
            self.open(message.value.strip())

    def open(self, folder: str | Path) -> bool:
        try:
            bench = load_run(folder)
        except UserError as exc:
            self.notify(str(exc), title="Bench", severity="error")
            return False
        except Exception as exc:  # noqa: BLE001 - an unreadable or odd folder is a message, not a crash
            self.notify(f"cannot read {folder}: {exc}", title="Bench", severity="error")
            return False
        self.bench = bench
        if hasattr(self.app, "bench_folder"):
            self.app.bench_folder = bench.folder  # F3 reopens it
        self.query_one("#bench-path", Input).value = str(bench.folder)
        self.query_one("#bench-summary", Static).update(bench.title)
        self._fill_metrics(bench)
        with self.prevent(Select.Changed, Checkbox.Changed):
            self.query_one("#subject", Select).set_options(
                [("all subjects", ALL), *((_cut(s, 24), s) for s in bench.subjects)]
            )
            self.query_one("#level", Select).set_options(
                [("all levels", ALL), *((f"level {v}", v) for v in bench.levels)]
            )
            self.query_one("#subject", Select).value = ALL
            self.query_one("#level", Select).value = ALL
            self.query_one("#wrong", Checkbox).value = False
            self.query_one("#timeouts", Checkbox).value = False
        self.apply_filters()
        self.query_one("#problems", DataTable).focus()
        return True

    def _fill_metrics(self, bench: BenchRun) -> None:
        for table_id, key in (("#by-subject", "by_subject"), ("#by-level", "by_level")):
            table = self.query_one(table_id, DataTable)
            table.clear()
            groups: dict[str, dict[str, object]] = bench.summary[key]  # type: ignore[assignment]
            for name, cell in groups.items():
                table.add_row(_cut(name, 12), str(cell["n"]), str(cell["correct"]), f"{cell['accuracy']:.1f}")
            s = bench.summary
            table.add_row(Text("all", style="bold"), str(s["n"]), str(s["correct"]), f"{s['accuracy']:.1f}")

    # --- filters ------------------------------------------------------------------------------------------

    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _filters_changed(self) -> None:
        self.apply_filters()

    def action_toggle(self, which: str) -> None:
        box = self.query_one(f"#{which}", Checkbox)
        box.value = not box.value

    def apply_filters(self) -> None:
        bench = self.bench
        table = self.query_one("#problems", DataTable)
        table.clear()
        if bench is None:
            return
        subject = self.query_one("#subject", Select).value
        level = self.query_one("#level", Select).value
        self.shown = filter_rows(
            bench.rows,
            wrong_only=self.query_one("#wrong", Checkbox).value,
            timeouts=self.query_one("#timeouts", Checkbox).value,
            subject=None if subject == ALL else str(subject),
            level=None if level == ALL else str(level),
        )
        for index, row in enumerate(self.shown):
            mark = Text("✓", style="green") if row.get("correct") else Text("✗", style="red")
            if row_timed_out(row):
                mark.append("⏱", style="yellow")
            table.add_row(
                _cut(row.get("id"), 12),
                mark,
                _cut(row.get("subject") or "", 10),
                _cut(row.get("level") or "", 3),
                _cut(row.get("prediction"), 12),
                _cut(row.get("gold"), 12),
                _cut(row.get("finish_reason"), 10),
                key=str(index),
            )
        n = len(bench.rows)
        table.border_title = f"problems {len(self.shown)}/{n}"

    # --- transcripts --------------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#problems")
    def _row_selected(self, message: DataTable.RowSelected) -> None:
        index = int(message.row_key.value or 0)
        if 0 <= index < len(self.shown):
            self.app.push_screen(TranscriptScreen(self.shown[index]))

    def action_focus_path(self) -> None:
        self.query_one("#bench-path", Input).focus()

    def action_close(self) -> None:
        self.dismiss()


class TranscriptScreen(Screen):
    """One bench problem's transcript, shown as a live solve shows it."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        verdict = "correct" if row.get("correct") else "wrong"
        yield Static(
            f"{row.get('id')} · {verdict} · gold: {_cut(row.get('gold'), 30)} · finish: {row.get('finish_reason')}",
            id="transcript-title",
        )
        yield Transcript(id="bench-transcript")
        yield Footer()

    async def on_mount(self) -> None:
        row = self.row
        blocks = [b for b in (row.get("blocks") or []) if isinstance(b, dict)]  # type: ignore[union-attr]
        transcript = self.query_one(Transcript)
        await transcript.show(
            str(row.get("question", "")), blocks, str(row.get("prediction") or ""), str(row.get("finish_reason"))
        )
        transcript.focus()

    def action_close(self) -> None:
        self.dismiss()
