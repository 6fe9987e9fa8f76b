"""The app's settings file: defaults, round trip, atomic write, bad files."""

from __future__ import annotations

import json

import pytest

from mathcoder_local.errors import UserError
from mathcoder_local.paths import user_home
from mathcoder_local.settings import Settings, load_settings, save_settings, settings_path


def test_defaults_without_a_file():
    assert not settings_path().exists()
    assert load_settings() == Settings()
    assert settings_path() == user_home() / "config.json"


def test_round_trip_and_atomic_write():
    chosen = Settings(model="/m/x.gguf", format="tora", temperature=0.7, max_blocks=8, timeout=2.5, grammar=False)
    path = save_settings(chosen)
    assert path == settings_path()
    assert load_settings() == chosen
    assert json.loads(path.read_text())["max_blocks"] == 8
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temp file left behind
    save_settings(Settings())
    assert load_settings() == Settings()


def test_unknown_keys_are_ignored_and_missing_keys_default():
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(json.dumps({"temperature": 0.2, "from_the_future": 1}))
    assert load_settings() == Settings(temperature=0.2)


@pytest.mark.parametrize(
    "data, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"temperature": "hot"}', "temperature"),
        ('{"max_blocks": 0}', "max_blocks"),
        ('{"timeout": -1}', "timeout"),
        ('{"format": "llama"}', "format"),
        ('{"grammar": "yes"}', "grammar"),
    ],
)
def test_bad_files_name_the_problem(data, message):
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(data)
    with pytest.raises(UserError, match=message):
        load_settings()


def test_invalid_settings_are_not_saved():
    with pytest.raises(UserError, match="temperature"):
        save_settings(Settings(temperature=-1))
    assert not settings_path().exists()
