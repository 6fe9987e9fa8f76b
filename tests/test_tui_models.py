"""The TUI and models by name: `tui --model NAME`, and the settings picker listing what `models` lists."""

from __future__ import annotations

import asyncio
import functools
import json
import shutil

import pytest
from model_copies import pulled_copy
from textual.widgets import Select
from typer.testing import CliRunner

from mathcoder_local.cli import app as cli_app
from mathcoder_local.paths import user_home
from mathcoder_local.settings import Settings, load_settings
from mathcoder_local.solve import EngineOptions
from mathcoder_local.store import BUNDLED_NAME
from mathcoder_local.tui.app import MathcoderApp
from mathcoder_local.tui.screens.settings import BUNDLED, SettingsScreen
from mathcoder_local.tui.testing import wait_until

runner = CliRunner()
OPTIONS = EngineOptions(n_ctx=512, n_threads=1)


def run_async(test):
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


def models_add(path, name):
    result = runner.invoke(cli_app, ["models", "add", str(path), "--name", name])
    assert result.exit_code == 0, result.output


@pytest.fixture
def started(monkeypatch):
    """The apps `tui` would run; none of them starts."""
    apps: list[MathcoderApp] = []
    monkeypatch.setattr("mathcoder_local.tui.app.run_app", apps.append)
    yield apps
    for app in apps:
        app.shutdown()


# --- tui --model NAME ---------------------------------------------------------------------------------------


def test_tui_takes_a_registered_name(started, mathcoder_gguf, tmp_path):
    copy = tmp_path / "mine.gguf"
    shutil.copy(mathcoder_gguf, copy)
    models_add(copy, "mine")
    result = runner.invoke(cli_app, ["tui", "--model", "mine"])
    assert result.exit_code == 0, result.output
    (app,) = started
    assert app.settings.model == "mine" and app.host.resolve(app.settings.model) == str(copy.resolve())


def test_tui_takes_a_catalog_name_whose_pulled_copy_is_here(started, tora_gguf):
    target = pulled_copy(tora_gguf)
    for name in ("MathCoder-CL-7B", "MathCoder-CL-7B:q4_k_m"):
        result = runner.invoke(cli_app, ["tui", "--model", name])
        assert result.exit_code == 0, result.output
        assert started[-1].settings.model == name and started[-1].host.resolve(name) == str(target)


def test_tui_takes_the_bundled_name_without_converting(started, monkeypatch):
    monkeypatch.setattr("mathcoder_local.convert.convert_checkpoint", lambda *a, **k: pytest.fail("converted"))
    result = runner.invoke(cli_app, ["tui", "--model", BUNDLED_NAME])
    assert result.exit_code == 0, result.output
    assert len(started) == 1


@pytest.mark.parametrize(
    "name, message",
    [
        ("GPT-5", "unknown model 'GPT-5'"),
        ("MathCoder-CL-7B", "mathcoder-local pull MathCoder-CL-7B"),  # in the catalog, not pulled
        ("/no/such/model.gguf", "model file not found"),
    ],
)
def test_tui_refuses_a_name_that_is_not_here(started, name, message):
    result = runner.invoke(cli_app, ["tui", "--model", name])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert started == []


# --- the settings screen's model picker ---------------------------------------------------------------------


def picker(app) -> Select:
    return app.screen.query_one("#model", Select)


def options(select: Select) -> list[tuple[str, object]]:
    return [(str(label), value) for label, value in select._options if value is not Select.NULL]


@run_async
async def test_a_model_added_by_name_is_in_the_picker_and_loads(mathcoder_gguf, tora_gguf, tmp_path):
    copy = tmp_path / "mine.gguf"
    shutil.copy(mathcoder_gguf, copy)
    models_add(copy, "mine")
    pulled = pulled_copy(tora_gguf)
    app = MathcoderApp(Settings(model=str(tora_gguf)), engine_options=OPTIONS)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.model_state == "ready", what="the first model")
        await pilot.press("f2")
        assert isinstance(app.screen, SettingsScreen)
        select = picker(app)
        offered = options(select)
        listed = json.loads(runner.invoke(cli_app, ["models", "--json"]).output)
        present = [row["name"] for row in listed if row["present"]]
        # exactly the present models, by name, then the current setting (a file no name stands for)
        assert [label.split(" (")[0] for label, _ in offered] == [*present, tora_gguf.name]
        assert [value for _, value in offered] == [BUNDLED, "mine", "MathCoder-CL-7B:q4_k_m", str(tora_gguf)]
        assert select.value == str(tora_gguf)
        # choose "mine" with the keys, as a user would
        await pilot.press("enter")  # opens the list, on the current entry
        await pilot.pause()
        for _ in range(len(offered) - 1 - [v for _, v in offered].index("mine")):
            await pilot.press("up")
        await pilot.press("enter")
        await pilot.pause()
        assert select.value == "mine"
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: app.model_state == "ready" and app.host.loaded and app.host.loaded.path == str(copy.resolve()),
            what="the chosen model",
        )
        assert app.solve_screen.status.fields["model"] == "mine"
        assert load_settings().model == "mine"
        assert json.loads((user_home() / "config.json").read_text())["model"] == "mine"
        # reopened, the picker shows the saved name selected; a pulled copy loads the same way
        await pilot.press("f2")
        assert picker(app).value == "mine"
        picker(app).value = "MathCoder-CL-7B:q4_k_m"
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: app.model_state == "ready" and app.host.loaded and app.host.loaded.path == str(pulled),
            what="the pulled model",
        )
        assert app.solve_screen.status.fields["model"] == "MathCoder-CL-7B:q4_k_m"


@run_async
async def test_a_setting_that_is_a_registered_file_shows_as_its_name(mathcoder_gguf, tmp_path):
    copy = tmp_path / "mine.gguf"
    shutil.copy(mathcoder_gguf, copy)
    models_add(copy, "mine")
    app = MathcoderApp(Settings(model=str(copy)), engine_options=OPTIONS)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.model_state == "ready", what="the model")
        assert app.solve_screen.status.fields["model"] == "mine"
        await pilot.press("f2")
        offered = options(picker(app))
        assert [value for _, value in offered] == [BUNDLED, str(copy)]  # the entry "mine", holding the setting
        assert offered[1][0].startswith("mine (") and picker(app).value == str(copy)
