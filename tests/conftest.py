"""Shared fixtures: small real GGUF files written by the tests, real llama.cpp engines over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, write_tiny_gguf

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


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

    from mathcoder_local.default_model import bundled_checkpoint

    target = tmp_path_factory.mktemp("nano") / "nano.f32.gguf"
    convert_checkpoint(make_plan(str(bundled_checkpoint()), outtype="f32", outfile=target), force=True)
    return target
