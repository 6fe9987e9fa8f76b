"""The model store: one resolver for every command and the TUI, the inventory, the bundled model's file name."""

from __future__ import annotations

import json
import shutil

import pytest
from model_copies import pulled_copy
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.errors import UserError
from mathcoder_local.paths import models_cache
from mathcoder_local.settings import Settings
from mathcoder_local.store import (
    BUNDLED_NAME,
    add_file,
    bundled_gguf,
    bundled_gguf_path,
    check_model,
    inventory,
    model_label,
    present_models,
    resolve_model,
    resolve_model_name,
)
from mathcoder_local.store.bundled import checkpoint_hash, gguf_name
from mathcoder_local.store.gguf_info import describe_gguf


class Resolved(Exception):
    """Raised by the stand-ins below with the path they were given, so nothing is loaded."""


def fake_bundled(gguf):
    """A tiny GGUF where the bundled model's conversion would be, so nothing is converted."""
    target = bundled_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(gguf, target)
    return target


def no_conversion(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("converted the bundled model")

    monkeypatch.setattr("mathcoder_local.convert.convert_checkpoint", refuse)


# --- the one resolver ---------------------------------------------------------------------------------------


def test_names_resolve_in_order(mathcoder_gguf, tora_gguf, tmp_path, monkeypatch):
    added = tmp_path / "mine.gguf"
    shutil.copy(mathcoder_gguf, added)
    add_file(added, "mine")
    pulled = pulled_copy(tora_gguf)
    bundled = fake_bundled(mathcoder_gguf)
    assert resolve_model_name("mine") == str(added.resolve())
    assert resolve_model_name("MINE") == str(added.resolve())  # names ignore case when nothing matches exactly
    assert resolve_model_name("MathCoder-CL-7B") == str(pulled)  # a catalog name: its copy here
    assert resolve_model_name("mathllms/mathcoder-cl-7b") == str(pulled)  # its hub id too
    assert resolve_model_name("MathCoder-CL-7B:q4_k_m") == str(pulled)  # the registered name of the copy
    assert resolve_model_name(BUNDLED_NAME) == str(bundled)
    assert resolve_model_name(str(tora_gguf)) == str(tora_gguf)  # a path that exists is a path
    add_file(tora_gguf, "mine.gguf")
    monkeypatch.chdir(tmp_path)
    assert resolve_model_name("mine.gguf") == "mine.gguf"  # the file here, not the model registered so
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_model_name("~/mine.gguf") == str(added)
    # --model, else $MATHCODER_LOCAL_MODEL, else the bundled model
    monkeypatch.setenv("MATHCODER_LOCAL_MODEL", "mine")
    assert resolve_model(None) == str(added.resolve()) and resolve_model("MathCoder-CL-7B") == str(pulled)
    monkeypatch.delenv("MATHCODER_LOCAL_MODEL")
    assert resolve_model(None) == str(bundled)


@pytest.mark.parametrize(
    "name, message",
    [
        ("GPT-5", "unknown model 'GPT-5'"),
        ("ToRA-70B", "mathcoder-local pull ToRA-70B"),
        ("MathCoder-L-70B", "no published checkpoint"),
    ],
)
def test_names_that_are_not_here_are_one_line_errors(name, message):
    with pytest.raises(UserError) as caught:
        resolve_model(name)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UserError, match=message):
        check_model(name)


def test_a_missing_path_is_left_to_the_engine_but_checked_on_request(tmp_path):
    missing = tmp_path / "gone.gguf"
    assert resolve_model_name(str(missing)) == str(missing)  # the engine says "model file not found"
    with pytest.raises(UserError, match="model file not found"):
        check_model(str(missing))


def test_a_registered_file_that_moved(mathcoder_gguf, tmp_path):
    copy = tmp_path / "m.gguf"
    shutil.copy(mathcoder_gguf, copy)
    add_file(copy)
    copy.unlink()
    with pytest.raises(UserError, match="no longer exists"):
        resolve_model("m")
    assert "m" not in {row.name for row in present_models()}


def test_checking_a_name_converts_nothing(monkeypatch, mathcoder_gguf):
    no_conversion(monkeypatch)
    check_model(BUNDLED_NAME)  # the bundled model is always there: converted when it is loaded
    add_file(mathcoder_gguf, "tiny")
    check_model("tiny")


def test_solve_bench_and_the_tui_resolve_alike(mathcoder_gguf, tora_gguf, tmp_path, monkeypatch):
    """Each command's own code path, stopped where it would load the file it resolved."""
    from mathcoder_local.bench.runner import run_bench
    from mathcoder_local.solve import load_engine
    from mathcoder_local.tui.engine_host import EngineHost

    added = tmp_path / "mine.gguf"
    shutil.copy(mathcoder_gguf, added)
    add_file(added, "mine")
    pulled = pulled_copy(tora_gguf)
    bundled = fake_bundled(mathcoder_gguf)

    def stop(path, *args, **kwargs):
        raise Resolved(str(path))

    monkeypatch.setattr("mathcoder_local.engine.llama.LlamaEngine", stop)
    monkeypatch.setattr("mathcoder_local.bench.runner.local_backend", stop)

    def via_solve(model):
        with pytest.raises(Resolved) as caught:
            load_engine(model)
        return caught.value.args[0]

    def via_bench(model):
        with pytest.raises(Resolved) as caught:
            for _ in run_bench(dataset="nano", limit=1, model=model, out=tmp_path / "run"):
                pass
        return caught.value.args[0]

    def via_tui(model):
        statuses: list[str] = []
        with pytest.raises(Resolved) as caught:
            EngineHost(loader=stop).load(Settings(model=model), on_status=statuses.append)
        path = caught.value.args[0]
        assert any("preparing the bundled model" in s for s in statuses) == (path == str(bundled))
        return path

    for model, expected in (
        ("mine", added.resolve()),
        ("MathCoder-CL-7B", pulled),
        ("MathCoder-CL-7B:q4_k_m", pulled),
        (str(tora_gguf), tora_gguf),
        (BUNDLED_NAME, bundled),
        (None, bundled),
    ):
        answers = {via_solve(model), via_bench(model), via_tui(model), resolve_model(model)}
        assert answers == {str(expected)}, model
    monkeypatch.setenv("MATHCODER_LOCAL_MODEL", "mine")
    assert {via_solve(None), via_bench(None), via_tui(None)} == {str(added.resolve())}
    for bad in ("GPT-5", "ToRA-70B"):
        errors = set()
        for via in (via_solve, via_bench, via_tui):
            with pytest.raises(UserError) as caught:
                via(bad)
            errors.add(str(caught.value))
        assert len(errors) == 1, errors


# --- the inventory ------------------------------------------------------------------------------------------


def test_present_models_are_what_models_lists_as_present(mathcoder_gguf, tora_gguf, tmp_path):
    add_file(mathcoder_gguf, "tiny")
    gone = tmp_path / "gone.gguf"
    shutil.copy(mathcoder_gguf, gone)
    add_file(gone)
    gone.unlink()
    pulled_copy(tora_gguf)
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    present = [row["name"] for row in listed if row["present"]]
    assert present == [row.name for row in present_models()] == [BUNDLED_NAME, "tiny", "MathCoder-CL-7B:q4_k_m"]
    assert [row.to_dict() for row in inventory()] == listed
    rows = {row["name"]: row for row in listed}
    assert rows["gone"]["present"] is False and "MathCoder-CL-7B" not in rows  # a copy is here
    assert rows["MathCoder-CL-7B:q4_k_m"]["catalog"]["name"] == "MathCoder-CL-7B"
    assert rows[BUNDLED_NAME]["format"] == "mathcoder" and rows[BUNDLED_NAME]["origin"] == "bundled"


def test_model_labels(mathcoder_gguf, tmp_path):
    add_file(mathcoder_gguf, "tiny")
    bundled = fake_bundled(mathcoder_gguf)
    other = tmp_path / "other.Q8_0.gguf"
    shutil.copy(mathcoder_gguf, other)
    assert model_label(None) == model_label(str(bundled)) == model_label(BUNDLED_NAME) == BUNDLED_NAME
    assert model_label("tiny") == "tiny" and model_label(str(mathcoder_gguf)) == "tiny"
    assert model_label(str(other)) == "other.Q8_0"


def test_the_bundled_name_is_taken(mathcoder_gguf):
    with pytest.raises(UserError, match="bundled model's name"):
        add_file(mathcoder_gguf, BUNDLED_NAME)


def test_formats_are_read_from_the_files(mathcoder_gguf, tora_gguf):
    assert describe_gguf(mathcoder_gguf)[:2] == ("mathcoder", "f32")
    assert describe_gguf(tora_gguf)[0] == "tora"


def test_the_format_is_read_from_the_whole_vocabulary(tmp_path):
    """MathCoder's tokens followed by more padding tokens than a tail of the vocabulary holds."""
    from dataclasses import replace

    from mathcoder_local.devtools.gguf_variants import NORMAL, spm_vocab, write_model_gguf

    vocab = spm_vocab()
    pad = [f"<pad_{i}>" for i in range(100)]
    padded = replace(vocab, tokens=vocab.tokens + pad, scores=vocab.scores + [0.0] * 100,
                     types=vocab.types + [NORMAL] * 100)  # fmt: skip
    path = write_model_gguf(tmp_path / "padded.gguf", padded)
    assert describe_gguf(path)[:2] == ("mathcoder", "f32")


# --- the bundled model --------------------------------------------------------------------------------------


def test_the_bundled_file_name_rule(monkeypatch, mathcoder_gguf):
    from mathcoder_local.store import bundled_checkpoint

    digest = checkpoint_hash(bundled_checkpoint())
    assert len(digest) == 64 and gguf_name(digest) == f"nano-{digest[:16]}.f32.gguf"
    assert bundled_gguf_path() == models_cache() / gguf_name(digest)
    no_conversion(monkeypatch)
    placed = fake_bundled(mathcoder_gguf)
    assert bundled_gguf(on_status=None) == placed  # present: used as it is
