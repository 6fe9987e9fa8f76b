"""The help screen: what each screen does and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# mathcoder-local

The model writes text and Python; the Python runs in a separate worker process and its output goes back to
the model. Text streams as Markdown, code is highlighted, each run's output has its own panel (errors in red,
timeouts in yellow), and the answer is set apart at the end.

## Everywhere

| key | action |
|---|---|
| `F1` | this help |
| `F2` | settings (model, format, temperature, max blocks, code timeout, grammar) |
| `F3` | bench browser |
| `Ctrl+P` | command palette: every command of the app |
| `Ctrl+Q` | quit |

## Solve

| key | action |
|---|---|
| `Enter` | solve the problem in the input |
| `Ctrl+J` / `Shift+Enter` | new line in the problem |
| `Up` / `Down` | earlier problems (on the input's first / last line) |
| `Esc` | stop generating; the running code is killed |
| `Ctrl+N` | new problem |
| `Ctrl+R` | re-run the open (or highlighted) problem |
| `Ctrl+S` | export the open problem as Markdown |
| `Ctrl+B` | show / hide the history |
| `Tab` | move between history, transcript and input |

In the history: `Enter` opens a problem, `r` re-runs it, `e` exports it, `Delete` removes it.

## Bench browser

Open a `mathcoder-local bench` output folder: accuracy by subject and level, the problems with filters
(`w` wrong only, `t` timeouts, subject, level); `Enter` on a problem shows its transcript. `Esc` goes back.

## Files

History: `history.db` (SQLite) and settings: `config.json`, in the user directory (`$MATHCODER_LOCAL_HOME`,
else the platform's data directory). Exports go to `exports/` there.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,f1,q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP, id="help")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
