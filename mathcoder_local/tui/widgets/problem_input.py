"""The multi-line problem input: Enter solves, Ctrl+J (or Shift+Enter) breaks the line, Up/Down at the first or
last line step through earlier problems (prompt history)."""

from __future__ import annotations

from typing import Iterable

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class ProblemInput(TextArea):
    BINDINGS = [
        Binding("enter", "submit", "Solve", key_display="⏎"),
        Binding("ctrl+j", "newline", "New line", show=False),
    ]

    class Submitted(Message):
        def __init__(self, problem_input: ProblemInput, text: str) -> None:
            super().__init__()
            self.problem_input = problem_input
            self.text = text

        @property
        def control(self) -> ProblemInput:
            return self.problem_input

    def __init__(self, prompts: Iterable[str] = (), *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder="A problem… (Enter solves, Ctrl+J: new line)",
        )
        self.prompts: list[str] = list(prompts)  # oldest first
        self._index: int | None = None  # position in history while stepping through it
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        # TextArea inserts a newline for Enter in its own key handler; take Enter (and the newline keys) first.
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.action_newline()

    def action_submit(self) -> None:
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end)

    # --- prompt history -----------------------------------------------------------------------------------

    def remember(self, problem: str) -> None:
        problem = problem.strip()
        if problem:
            if problem in self.prompts:
                self.prompts.remove(problem)
            self.prompts.append(problem)
        self._index = None

    def forget(self, problem: str) -> None:
        if problem.strip() in self.prompts:
            self.prompts.remove(problem.strip())
        self._index = None

    def set_problem(self, text: str) -> None:
        self.load_text(text)
        last = self.document.line_count - 1
        self.move_cursor((last, len(self.document.get_line(last))))

    def _recall(self, step: int) -> None:
        if self._index is None:
            if step > 0:
                return
            self._draft = self.text
            self._index = len(self.prompts)
        index = self._index + step
        if index < 0:
            return
        if index >= len(self.prompts):
            self._index = None
            self.set_problem(self._draft)
            return
        self._index = index
        self.set_problem(self.prompts[index])

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0 and self.prompts:
            self._recall(-1)
        else:
            super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self._index is not None and self.cursor_location[0] == self.document.line_count - 1:
            self._recall(+1)
        else:
            super().action_cursor_down(select)
