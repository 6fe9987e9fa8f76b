"""The settings screen: model, format, temperature, max blocks, executor timeout, grammar; saved to config.json."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMATS
from mathcoder_local.settings import Settings, save_settings, settings_path
from mathcoder_local.store import present_models
from mathcoder_local.store.inventory import same_file
from mathcoder_local.store.resolve import model_file

if TYPE_CHECKING:
    from mathcoder_local.tui.app import MathcoderApp

BUNDLED = "__bundled__"  # Select values cannot be None
AUTO = "auto"


def model_options(current: str | None) -> list[tuple[str, str]]:
    """(label, value) pairs for the model picker: the models `mathcoder-local models` lists as present, by name.

    The bundled model's value is BUNDLED (the setting None); a registered model's is its name. The entry that
    `current` names (by name or by its file) takes `current` as its value, so the form shows it selected; a
    `current` that names none of them gets an entry of its own.
    """
    options: list[tuple[str, str]] = []
    matched = current is None
    target = model_file(current) if current is not None else None  # a catalog name: its pulled copy
    for row in present_models():
        value = BUNDLED if row.origin == "bundled" else row.name
        same = target is not None and Path(row.path).is_file() and target.is_file() and same_file(row.path, target)
        if not matched and (current == row.name or same):
            value, matched = current, True
        detail = "bundled, default" if row.origin == "bundled" else f"{row.format}, {row.quant}"
        options.append((f"{row.name} ({detail})", value))
    if not matched:
        options.append((Path(current).name, current))
    return options


class SettingsScreen(Screen):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    @property
    def mc_app(self) -> MathcoderApp:
        return cast("MathcoderApp", self.app)

    def compose(self) -> ComposeResult:
        s = self.settings
        models = model_options(s.model)
        with VerticalScroll(id="settings-form"):
            yield Static(f"Settings · saved to {settings_path().name} in the user directory", id="settings-title")
            yield from self._row(
                "Model",
                Select(models, value=s.model or BUNDLED, allow_blank=False, id="model", compact=True),
            )
            formats = [("detect from the model", AUTO), *((name, name) for name in FORMATS)]
            yield from self._row(
                "Format", Select(formats, value=s.format or AUTO, allow_blank=False, id="format", compact=True)
            )
            yield from self._row(
                "Temperature",
                Input(f"{s.temperature:g}", type="number", id="temperature", compact=True, placeholder="0 = greedy"),
            )
            yield from self._row(
                "Max blocks",
                Input(
                    "" if s.max_blocks is None else str(s.max_blocks),
                    type="integer",
                    id="max_blocks",
                    compact=True,
                    placeholder="format default ("
                    + ", ".join(f"{name} {cls.max_rounds}" for name, cls in FORMATS.items())
                    + ")",
                ),
            )
            yield from self._row("Code timeout (s)", Input(f"{s.timeout:g}", type="number", id="timeout", compact=True))
            grammar = AUTO if s.grammar is None else "on" if s.grammar else "off"
            with_grammar = ", ".join(name for name, cls in FORMATS.items() if cls.grammar_by_default)
            options = [(f"auto (on for {with_grammar})", AUTO), ("on", "on"), ("off", "off")]
            yield from self._row(
                "Grammar", Select(options, value=grammar, allow_blank=False, id="grammar", compact=True)
            )
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    @staticmethod
    def _row(label: str, widget):
        with Horizontal(classes="settings-row"):
            yield Label(label, classes="settings-label")
            yield widget

    def on_mount(self) -> None:
        self.query_one("#model", Select).focus()

    def read_form(self) -> Settings:
        """The settings the form holds; a UserError names the first bad field."""
        model = self.query_one("#model", Select).value
        fmt = self.query_one("#format", Select).value
        grammar = self.query_one("#grammar", Select).value
        temperature = self.query_one("#temperature", Input).value.strip()
        max_blocks = self.query_one("#max_blocks", Input).value.strip()
        timeout = self.query_one("#timeout", Input).value.strip()
        try:
            temperature_value = float(temperature or "0")
        except ValueError:
            raise UserError("temperature must be a number") from None
        try:
            max_blocks_value = int(max_blocks) if max_blocks else None
        except ValueError:
            raise UserError("max blocks must be a whole number (or empty for the format's default)") from None
        try:
            timeout_value = float(timeout)
        except ValueError:
            raise UserError("the code timeout must be a number of seconds") from None
        return Settings(
            model=None if model == BUNDLED else str(model),
            format=None if fmt == AUTO else str(fmt),
            temperature=temperature_value,
            max_blocks=max_blocks_value,
            timeout=timeout_value,
            grammar=None if grammar == AUTO else grammar == "on",
        ).validated()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        try:
            settings = self.read_form()
            path = save_settings(settings)
        except UserError as exc:
            self.notify(str(exc).removeprefix("settings: "), title="Not saved", severity="error")
            return
        except OSError as exc:
            self.notify(f"cannot write the settings: {exc}", title="Not saved", severity="error")
            return
        self.dismiss(settings)
        self.notify(f"Saved to {path}", title="Settings")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
