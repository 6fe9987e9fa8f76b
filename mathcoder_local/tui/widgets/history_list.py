"""The history sidebar: solved problems, newest first; Enter reopens one."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mathcoder_local.history import HistoryEntry

WIDTH = 23  # the sidebar's inner width (app.tcss: #sidebar width 26, less border and padding)


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _prompt(entry: HistoryEntry) -> Text:
    mark = "■ " if entry.finish_reason == "cancelled" else "→ "
    text = Text(_cut(entry.title))
    text.append("\n")
    text.append(_cut(mark + (entry.answer or "(no answer)")), style="dim")
    return text


class HistoryList(OptionList):
    BINDINGS = [
        Binding("delete,ctrl+d", "screen.delete_entry", "Delete"),
        Binding("r", "screen.rerun", "Re-run"),
        Binding("e", "screen.export_entry", "Export"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[HistoryEntry] = []

    def set_entries(self, entries: Sequence[HistoryEntry], select: int | None = None) -> None:
        """Replace the list; keep the highlight on entry `select` (an id), else on the one highlighted now."""
        keep = select if select is not None else self.highlighted_entry_id
        self.entries = list(entries)
        self.clear_options()
        self.add_options([Option(_prompt(e), id=str(e.id)) for e in self.entries])
        if not self.entries:
            return
        ids = [e.id for e in self.entries]
        self.highlighted = ids.index(keep) if keep in ids else 0

    @property
    def highlighted_entry_id(self) -> int | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index].id
