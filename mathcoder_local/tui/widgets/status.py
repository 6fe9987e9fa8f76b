"""The status line under the transcript: model, format, state, tokens/s, blocks used, elapsed time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusLine(Static):
    """One line; `set(...)` changes some fields and redraws."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.fields: dict[str, str] = {"model": "…", "format": "", "state": "starting"}
        self.state_style = "dim"

    def set(self, *, state_style: str | None = None, **fields: str | None) -> None:
        changed = False
        for key, value in fields.items():
            if value is None:
                changed |= self.fields.pop(key, None) is not None
            elif self.fields.get(key) != value:
                self.fields[key] = value
                changed = True
        if state_style is not None and state_style != self.state_style:
            self.state_style, changed = state_style, True
        if changed:
            self.update(self.render_fields())

    def clear_run(self) -> None:
        self.set(speed=None, blocks=None, elapsed=None)

    def render_fields(self) -> Text:
        f = self.fields
        text = Text()
        text.append(f["model"], style="bold")
        if f.get("format"):
            text.append(f" · {f['format']}")
        text.append(" · ")
        text.append(f.get("state", ""), style=self.state_style)
        for key in ("speed", "blocks", "elapsed"):
            if f.get(key):
                text.append(f" · {f[key]}")
        return text
