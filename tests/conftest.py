"""Shared fixtures: small real GGUF files written by the tests, real llama.cpp engines over them."""

from __future__ import annotations

import warnings
from fnmatch import fnmatchcase as fnmatch
from pathlib import Path

import pytest

from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, write_tiny_gguf

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# The tests marked `slow`, left out of the inner loop `python -m pytest -m "not slow"` (the full suite still
# runs them). A key is a test file's name, which marks the whole file, or "file::test" for single tests (the
# test's name without its parameters; a class's test is "file::Class::test"); both parts are fnmatch patterns,
# so files added later under a pattern's name are covered too. A "file::test" key with the value None keeps
# that test in the inner loop although its file is slow; "file::test" keys win over file keys.
# Chosen with `pytest --durations`: the inner loop stays under ~90 s on two cores and still runs every module
# at least once (real llama.cpp solves, the real executor, grading, datasets, the CLI, the TUI, the remote
# engines).
SLOW: dict[str, str | None] = {
    # whole files
    "test_convert_parity.py": "torch and transformers: the converter against the reference implementation",
    "test_convert_parity_qwen2.py": "torch and transformers: Qwen2 and BPE-vocabulary models against the reference",
    "test_engine_remote*.py": "starts llama-cpp-python servers and a TGI stand-in",
    "test_executor_hostile.py": "the hostile-code battery: a fresh worker per program, most of them timing out",
    "test_tui.py": "the Textual app driven headless over real solves",
    "test_tui_*.py": "the Textual app: snapshots and other whole-app tests",
    # single tests
    "test_replay.py::test_replay_of_mathcoders_released_transcripts": "replays MathCoder's released transcripts",
    "test_grading_files.py::test_published_accuracy_is_reproduced": "grades the released outputs in full",
    "test_default_model.py::test_held_out_problems_need_the_executed_code": "60 solves of the nano model",
    "test_bench.py::test_kill_9_then_resume_loses_nothing_and_duplicates_nothing": "bench CLI in a subprocess",
    "test_bench.py::test_ctrl_c_keeps_finished_rows_and_says_how_to_resume": "bench CLI in a subprocess",
    "test_convert_vocab_bpe.py::test_real_*": "real BPE vocabularies: llama.cpp's test strings, all ToRA transcripts",
    "test_convert_vocab_bpe.py::test_the_reference_is_what_transformers_gives": "imports transformers",
    # kept in the inner loop: one quick test each of the TUI and the remote engines
    "test_tui.py::test_solve_streams_the_transcript_and_saves_it": None,
    "test_engine_remote.py::test_prompts_written_as_text_tokenize_back_exactly": None,
    "test_engine_remote.py::test_context_full_over_tgi": None,
}


def _matches(pattern: str, item: pytest.Item) -> bool:
    file_pattern, _, test_pattern = pattern.partition("::")
    test = item.nodeid.partition("::")[2].partition("[")[0]
    return fnmatch(item.path.name, file_pattern) and (not test_pattern or fnmatch(test, test_pattern))


def _slow_reason(item: pytest.Item) -> str | None:
    """The table's reason for `item`, or None when it stays in the inner loop."""
    tests_first = sorted(SLOW, key=lambda pattern: "::" not in pattern)
    return next((SLOW[pattern] for pattern in tests_first if _matches(pattern, item)), None)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = _slow_reason(item)
        if reason is not None:
            item.add_marker(pytest.mark.slow(reason=reason))
    if any("::" in arg for arg in config.args):
        return  # single tests were asked for: the table's other entries need not match
    # A "file::test" key that matches nothing although its file was collected names a renamed test.
    files = {item.path.name for item in items}
    for pattern in SLOW:
        file_pattern, _, test_pattern = pattern.partition("::")
        collected = any(fnmatch(name, file_pattern) for name in files)
        if test_pattern and collected and not any(_matches(pattern, item) for item in items):
            warnings.warn(pytest.PytestWarning(f"tests/conftest.py SLOW: {pattern!r} matches no test"), stacklevel=1)


@pytest.fixture(autouse=True)
def _user_home(tmp_path, monkeypatch):
    """Every test gets its own user directory; nothing touches the real one."""
    monkeypatch.setenv("MATHCODER_LOCAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MATHCODER_LOCAL_MODEL", raising=False)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def mathcoder_gguf(models_dir) -> Path:
    return write_tiny_gguf(models_dir / "tiny-mathcoder.gguf", TinyModelSpec())


@pytest.fixture(scope="session")
def mathcoder_eot_gguf(models_dir) -> Path:
    """<|endofmessage|> marked end-of-turn, as our converter writes it."""
    return write_tiny_gguf(models_dir / "tiny-mathcoder-eot.gguf", TinyModelSpec(eom_is_eot=True, seed=1))


@pytest.fixture(scope="session")
def tora_gguf(models_dir) -> Path:
    return write_tiny_gguf(models_dir / "tiny-tora.gguf", TinyModelSpec(mathcoder_tokens=False, seed=2))


def _engine(path: Path):
    from mathcoder_local.engine.llama import LlamaEngine

    return LlamaEngine(path, n_ctx=2048, n_threads=2, seed=0)


@pytest.fixture
def mathcoder_engine(mathcoder_gguf):
    engine = _engine(mathcoder_gguf)
    yield engine
    engine.close()


@pytest.fixture
def tora_engine(tora_gguf):
    engine = _engine(tora_gguf)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def sp_model() -> bytes:
    """A Llama-style SentencePiece model trained here (needs the sentencepiece package)."""
    from mathcoder_local.devtools.tiny_checkpoint import train_sentencepiece, training_corpus

    return train_sentencepiece(training_corpus())


@pytest.fixture(scope="session")
def make_checkpoint(tmp_path_factory, sp_model):
    """make_checkpoint(**spec fields) -> folder of a small HF Llama checkpoint; cached per spec."""
    from mathcoder_local.devtools.tiny_checkpoint import CheckpointSpec, write_checkpoint

    made: dict = {}

    def make(**fields):
        spec = CheckpointSpec(**fields)
        if spec not in made:
            if spec.weights == "bin":
                pytest.importorskip("torch", reason="writing .bin checkpoints needs torch")
            folder = tmp_path_factory.mktemp("ckpt")
            made[spec] = write_checkpoint(folder, spec, sp_model)
        return made[spec]

    return make


@pytest.fixture(scope="session")
def nano_gguf(tmp_path_factory) -> Path:
    """The bundled nano model, converted once for the whole test session (a trained model: real answers)."""
    from mathcoder_local.convert import convert_checkpoint, make_plan

    from mathcoder_local.store import bundled_checkpoint

    target = tmp_path_factory.mktemp("nano") / "nano.f32.gguf"
    convert_checkpoint(make_plan(str(bundled_checkpoint()), outtype="f32", outfile=target), force=True)
    return target
