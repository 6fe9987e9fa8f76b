"""`pull` of a catalog model's prebuilt GGUF (against the loopback stand-in hub), and `--from checkpoint`.

The catalog here is a test catalog written per test and named by $MATHCODER_LOCAL_CATALOG: one model with a
prebuilt GGUF that runs as it is (MathCoder tokens CONTROL, end of turn recorded; no format key, which is a
note only) and a checkpoint, one whose prebuilt GGUF needs its metadata repaired.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import resources
from pathlib import Path
from unittest import mock

import pytest
from cli_helpers import invoke, one_line_error
from hub_server import FakeHub

from mathcoder_local.devtools import tiny_gguf
from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, write_tiny_gguf
from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMAT_METADATA_KEY
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS
from mathcoder_local.paths import models_cache
from mathcoder_local.store import load_catalog, resolve_model
from mathcoder_local.store.catalog import CATALOG_ENV, QUANTS

GOOD = "Tiny-MathCoder"
GOOD_GGUF_REPO = "test-org/tiny-mathcoder-GGUF"
GOOD_CKPT_REPO = "test-org/tiny-mathcoder"
GOOD_FILE = "tiny-mathcoder.F32.gguf"
MISSING_FILE = "tiny-mathcoder.Q8_0.gguf"  # named by the catalog, absent on the hub
BROKEN = "Tiny-Broken"
BROKEN_REPO = "test-org/tiny-broken-GGUF"
BROKEN_FILE = "tiny-broken.F32.gguf"
WRONG = "Tiny-Wrong"  # the catalog says mathcoder and rope 1e6 of a plain Llama vocabulary at rope 1e4
WRONG_REPO = "test-org/tiny-plain-GGUF"
WRONG_FILE = "tiny-plain.F32.gguf"


def listing():
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def needs_repair_module():
    return pytest.importorskip("mathcoder_local.convert.repair", reason="convert/repair.py is not there yet")


def needs_check_module():
    return pytest.importorskip("mathcoder_local.convert.gguf_check", reason="convert/gguf_check.py is not there yet")


def write_user_defined_gguf(path: Path) -> Path:
    """A tiny MathCoder GGUF as llama.cpp's own converter writes one from a transformers 4.31 checkpoint: the
    MathCoder tokens USER_DEFINED, no end-of-turn token, no format key."""
    import gguf

    plain = tiny_gguf.tiny_vocab

    def vocab(spec):
        tokens, scores, types = plain(spec)
        user = int(gguf.TokenType.USER_DEFINED)
        return tokens, scores, [user if t in MATHCODER_TOKENS else k for t, k in zip(tokens, types, strict=True)]

    with mock.patch.object(tiny_gguf, "tiny_vocab", vocab):
        return write_tiny_gguf(path, TinyModelSpec(seed=3))


def write_misshapen_gguf(path: Path) -> Path:
    """A tiny MathCoder GGUF whose metadata says feed_forward_length 256 while its FFN tensors are 128 wide."""
    import gguf

    real = gguf.GGUFWriter.add_feed_forward_length
    with mock.patch.object(gguf.GGUFWriter, "add_feed_forward_length", lambda self, n: real(self, 2 * n)):
        return write_tiny_gguf(path, TinyModelSpec(eom_is_eot=True, seed=4))


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Path:
    real = json.loads((resources.files("mathcoder_local.models") / "catalog.json").read_text(encoding="utf-8"))
    spec = TinyModelSpec()
    arch = {"hidden": spec.n_embd, "intermediate": spec.n_ff, "layers": spec.n_layer, "heads": spec.n_head}
    arch |= {"kv_heads": spec.n_head_kv, "vocab": 400, "source": "test-hub"}
    cited = {"hub_id": "test-hub", "base": "test-hub", "prompt_format": "test-hub", "rope_freq_base": "test-hub"}
    common = {"family": "MathCoder", "base": "Llama-2", "architecture": "tiny", "prompt_format": "mathcoder"}
    common |= {"rope_freq_base": 10000, "gsm8k": None, "math": None, "licence": None, "source": cited}
    data = {
        "schema": 2,
        "about": "a test catalog",
        "size_rule": real["size_rule"],
        "sources": {"test-hub": "tests/hub_server.py, the loopback stand-in hub"},
        "architectures": {"tiny": arch},
        "models": [
            {
                "name": GOOD,
                "hub_id": GOOD_CKPT_REPO,
                **common,
                "gguf": {
                    "repo": GOOD_GGUF_REPO,
                    "files": {"f32": GOOD_FILE, "q8_0": MISSING_FILE},
                    "source": "test-hub",
                },
            },
            {
                "name": BROKEN,
                "hub_id": None,
                **common,
                "gguf": {"repo": BROKEN_REPO, "files": {"f32": BROKEN_FILE}, "source": "test-hub"},
                "note": "only a prebuilt GGUF",
            },
            {
                "name": WRONG,
                "hub_id": None,
                **common,
                "gguf": {"repo": WRONG_REPO, "files": {"f32": WRONG_FILE, "q8_0": WRONG_FILE}, "source": "test-hub"},
                "note": "a catalog entry that does not fit its file",
            },
        ],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv(CATALOG_ENV, str(path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return path


@pytest.fixture
def repos(tmp_path) -> dict[str, Path]:
    """The GGUF repositories on the stand-in hub: the catalog's file and others that must not be fetched."""
    good = tmp_path / "good-repo"
    good.mkdir()
    # MathCoder tokens CONTROL and <|endofmessage|> the end of turn; no format key (solve detects mathcoder)
    write_tiny_gguf(good / GOOD_FILE, TinyModelSpec(eom_is_eot=True))
    shutil.copy(good / GOOD_FILE, good / "tiny-mathcoder.Q4_K_M.gguf")  # another quantization: not fetched
    (good / "README.md").write_text("# a model card")
    broken = tmp_path / "broken-repo"
    broken.mkdir()
    write_user_defined_gguf(broken / BROKEN_FILE)
    plain = tmp_path / "plain-repo"
    plain.mkdir()
    write_tiny_gguf(plain / WRONG_FILE, TinyModelSpec(mathcoder_tokens=False, seed=2))
    return {GOOD_GGUF_REPO: good, BROKEN_REPO: broken, WRONG_REPO: plain}


def fetched(hub) -> list[str]:
    return [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]


def in_cache(path: str, tmp_path: Path) -> bool:
    return Path(path).is_relative_to(tmp_path / "hf-cache")


def solves(name: str) -> None:
    result = invoke("solve", "What is 2 + 2?", "--model", name, "--max-tokens", "16", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["format"] == "mathcoder"


# --- a prebuilt GGUF that is right as it is ------------------------------------------------------------------


def test_only_the_one_file_is_fetched_checked_and_used_where_it_lies(catalog, repos, tmp_path, monkeypatch):
    needs_check_module()
    hub_file = repos[GOOD_GGUF_REPO] / GOOD_FILE
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "f32")  # the default source: the catalog names a GGUF at f32
        assert result.exit_code == 0, result.output
        assert f"pulled {GOOD}:f32" in result.output and sha256(hub_file) in result.output
        assert fetched(hub) == [f"/{GOOD_GGUF_REPO}/resolve/main/{GOOD_FILE}"]  # that file, once; nothing else
        seen = len(hub.requests)
        again = invoke("pull", GOOD, "--quant", "f32")
        assert again.exit_code == 0 and "already present" in again.output, again.output
        assert len(hub.requests) == seen  # nothing asked of the hub
    row = listing()[f"{GOOD}:f32"]
    assert row["present"] and row["origin"] == "pulled" and row["pulled_from"] == "gguf"
    assert row["sha256"] == row["download_sha256"] == sha256(hub_file) == sha256(row["path"])
    assert row["source"] == f"{GOOD_GGUF_REPO}@{hub.commits[GOOD_GGUF_REPO]}" and row["file"] == GOOD_FILE
    assert row["repairs"] == [] and row["quant"] == "f32" and row["format"] == "mathcoder"
    assert in_cache(row["path"], tmp_path) and row["path"].endswith(GOOD_FILE)  # used where the cache keeps it
    assert not (models_cache() / f"{GOOD}.F32.gguf").exists()  # no copy made
    # The hub is gone and offline mode is on: the model loads by name from disk alone.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model(GOOD) == resolve_model(f"{GOOD}:f32") == row["path"]
    solves(GOOD)
    monkeypatch.delenv("HF_HUB_OFFLINE")


def test_offline_pull_uses_the_cached_file_and_nothing_else(catalog, repos, monkeypatch):
    needs_check_module()
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert invoke("pull", GOOD, "--quant", "f32").exit_code == 0
        assert invoke("models", "remove", f"{GOOD}:f32").exit_code == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("pull", GOOD, "--quant", "f32")
    assert result.exit_code == 0, result.output
    assert listing()[f"{GOOD}:f32"]["pulled_from"] == "gguf"


def test_offline_without_the_file_in_the_cache(catalog, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    one_line_error(invoke("pull", GOOD, "--quant", "f32"), "HF_HUB_OFFLINE is set")
    assert f"{GOOD}:f32" not in listing()


# --- a prebuilt GGUF that needs its metadata repaired --------------------------------------------------------


def test_a_gguf_that_needs_repair_is_registered_as_a_repaired_copy(catalog, repos, tmp_path, monkeypatch):
    import gguf

    needs_repair_module()
    check = needs_check_module()
    hub_file = repos[BROKEN_REPO] / BROKEN_FILE
    assert any(p.severity == "error" for p in check.inspect_gguf(hub_file))  # as published: wrong for our loop
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", BROKEN)  # no --quant: the default q4_k_m has no file, so name the one there is
        one_line_error(result, "no prebuilt GGUF of Tiny-Broken at q4_k_m (it has f32)")
        result = invoke("pull", BROKEN, "--quant", "f32")
        assert result.exit_code == 0, result.output
        assert "repaired" in result.output
        assert fetched(hub) == [f"/{BROKEN_REPO}/resolve/main/{BROKEN_FILE}"]
    row = listing()[f"{BROKEN}:f32"]
    target = models_cache() / f"{BROKEN}.F32.gguf"
    assert row["path"] == str(target.resolve()) and row["pulled_from"] == "gguf" and row["repairs"]
    assert not check.inspect_gguf(target)
    registry = json.loads((tmp_path / "home" / "models.json").read_text())["models"]
    record = next(m for m in registry if m["name"] == f"{BROKEN}:f32")  # what models.json keeps
    assert record["download_sha256"] == sha256(hub_file) != record["sha256"] == sha256(target)
    assert (row["download_sha256"], row["sha256"]) == (record["download_sha256"], record["sha256"])
    # the file the hub published stays in the cache as it was; the copy differs only in its metadata
    cached = next((tmp_path / "hf-cache").rglob(BROKEN_FILE))
    assert sha256(cached) == sha256(hub_file)
    before, after = gguf.GGUFReader(str(hub_file)), gguf.GGUFReader(str(target))
    assert [(t.name, bytes(t.data)) for t in before.tensors] == [(t.name, bytes(t.data)) for t in after.tensors]
    tokens = [
        bytes(after.fields["tokenizer.ggml.tokens"].parts[i]).decode()
        for i in after.fields["tokenizer.ggml.tokens"].data
    ]
    types = after.fields["tokenizer.ggml.token_type"].contents()
    assert all(types[tokens.index(t)] == gguf.TokenType.CONTROL for t in MATHCODER_TOKENS)
    assert after.fields["tokenizer.ggml.eot_token_id"].contents() == tokens.index("<|endofmessage|>")
    assert after.fields[FORMAT_METADATA_KEY].contents() == "mathcoder"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model(BROKEN) == str(target.resolve())
    solves(BROKEN)


def test_a_download_that_does_not_match_the_hubs_hash_is_refused_and_removed(catalog, repos, tmp_path, monkeypatch):
    needs_check_module()
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert invoke("pull", GOOD, "--quant", "f32").exit_code == 0
        assert invoke("models", "remove", f"{GOOD}:f32").exit_code == 0
        blob = Path(listing_path := next((tmp_path / "hf-cache").rglob(GOOD_FILE))).resolve()
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0xFF  # one byte of the last tensor
        blob.write_bytes(bytes(data))
        one_line_error(invoke("pull", GOOD, "--quant", "f32"), "does not match the hash the hub gives")
        assert not blob.exists() and not listing_path.exists() and f"{GOOD}:f32" not in listing()
        result = invoke("pull", GOOD, "--quant", "f32")  # downloaded again, whole
        assert result.exit_code == 0, result.output
    assert listing()[f"{GOOD}:f32"]["sha256"] == sha256(repos[GOOD_GGUF_REPO] / GOOD_FILE)


# --- errors, resuming ----------------------------------------------------------------------------------------


def test_a_gguf_that_does_not_fit_the_catalog_is_refused(catalog, repos, monkeypatch):
    needs_check_module()
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        # it is an f32 file, not the q8_0 the catalog names it as
        one_line_error(invoke("pull", WRONG, "--quant", "q8_0"), "is a f32 GGUF, not q8_0 as the catalog says")
        # no MathCoder tokens for the catalog's mathcoder format: nothing a metadata repair can fix
        one_line_error(invoke("pull", WRONG, "--quant", "f32"), "cannot run in our loop")
    assert not any(name.startswith(("Tiny-Wrong:", "Tiny-MathCoder:")) for name in listing())
    assert not models_cache().exists() or not list(models_cache().glob("*.gguf"))


def test_a_gguf_whose_tensors_do_not_fit_its_metadata_is_refused(catalog, repos, tmp_path, monkeypatch):
    needs_check_module()
    write_misshapen_gguf(repos[GOOD_GGUF_REPO] / GOOD_FILE)  # its vocabulary is as right as the good one's
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "f32")
    one_line_error(result, "cannot run in our loop (tensor shapes: 6 wrong, e.g. blk.0.ffn_gate.weight)")
    assert "nothing was registered" in result.output
    assert not any(name.startswith(f"{GOOD}:") for name in listing())
    assert not models_cache().exists() or not list(models_cache().glob("*.gguf"))
    assert next((tmp_path / "hf-cache").rglob(GOOD_FILE))  # it stays in the Hugging Face cache


def test_a_gguf_in_a_subfolder_of_its_repository_keeps_its_commit(catalog, repos, tmp_path, monkeypatch):
    needs_check_module()
    nested = "F32/tiny-mathcoder.gguf"
    data = json.loads(catalog.read_text())
    data["models"][0]["gguf"]["files"]["f32"] = nested
    catalog.write_text(json.dumps(data))
    (repos[GOOD_GGUF_REPO] / "F32").mkdir()
    shutil.copy(repos[GOOD_GGUF_REPO] / GOOD_FILE, repos[GOOD_GGUF_REPO] / nested)
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "f32")
        assert result.exit_code == 0, result.output
        assert fetched(hub) == [f"/{GOOD_GGUF_REPO}/resolve/main/{nested}"]
    row = listing()[f"{GOOD}:f32"]
    assert row["source"] == f"{GOOD_GGUF_REPO}@{hub.commits[GOOD_GGUF_REPO]}" and row["file"] == nested
    assert in_cache(row["path"], tmp_path) and row["path"].endswith(nested)


def test_a_rope_base_other_than_the_catalogs_is_repaired(catalog, repos, monkeypatch):
    """A community conversion of a CodeLlama fine-tune may carry Llama-2's 10000: the copy gets the catalog's."""
    needs_check_module()
    from mathcoder_local.convert.gguf_file import read_header

    data = json.loads(catalog.read_text())
    data["models"][0]["rope_freq_base"] = 1e6
    catalog.write_text(json.dumps(data))
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "f32")
        assert result.exit_code == 0, result.output
    copies = list(models_cache().glob("*.gguf"))
    assert len(copies) == 1
    with read_header(copies[0]) as header:
        assert header.get("llama.rope.freq_base") == 1e6


def test_a_file_missing_on_the_hub_is_one_line_and_registers_nothing(catalog, repos, monkeypatch):
    with FakeHub(repos) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "q8_0")
        one_line_error(result, f"{GOOD_GGUF_REPO} has no file {MISSING_FILE}")
        assert fetched(hub) == []
    rows = listing()
    assert not any(name.startswith(f"{GOOD}:") for name in rows) and not rows[GOOD]["present"]
    assert not models_cache().exists() or not list(models_cache().glob("*.gguf"))


def test_an_interrupted_download_resumes_where_it_stopped(catalog, repos, tmp_path, monkeypatch):
    # huggingface_hub writes what arrives in chunks of this size (10 MB); a smaller one stands for a big file
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 16 << 10)
    path = f"{GOOD_GGUF_REPO}/{GOOD_FILE}"
    size = (repos[GOOD_GGUF_REPO] / GOOD_FILE).stat().st_size
    with FakeHub(repos, truncate={path}) as hub:  # sends half the file, then drops the connection
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        one_line_error(invoke("pull", GOOD, "--quant", "f32"), "run pull again to resume")
        partial = list((tmp_path / "hf-cache").rglob("*.incomplete"))
        assert len(partial) == 1
        done = partial[0].stat().st_size
        assert size // 4 < done <= size // 2
        assert f"{GOOD}:f32" not in listing() and hub.ranges == []
        needs_check_module()
        hub.truncate.clear()
        result = invoke("pull", GOOD, "--quant", "f32")
        assert result.exit_code == 0, result.output
        assert hub.ranges == [(f"/{GOOD_GGUF_REPO}/resolve/main/{GOOD_FILE}", f"bytes={done}-")]  # the rest only
    assert listing()[f"{GOOD}:f32"]["sha256"] == sha256(repos[GOOD_GGUF_REPO] / GOOD_FILE)
    assert not list((tmp_path / "hf-cache").rglob("*.incomplete"))


def test_source_choices_that_the_catalog_cannot_serve(catalog):
    one_line_error(
        invoke("pull", GOOD, "--quant", "f16", "--from", "gguf"), "no prebuilt GGUF of Tiny-MathCoder at f16"
    )
    one_line_error(invoke("pull", BROKEN, "--quant", "f32", "--from", "checkpoint"), "no published checkpoint")
    result = invoke("pull", GOOD, "--from", "elsewhere")
    assert result.exit_code == 2 and "elsewhere" in result.output


# --- the checkpoint path ------------------------------------------------------------------------------------


def test_from_checkpoint_still_converts_the_checkpoint(catalog, repos, make_checkpoint, tmp_path, monkeypatch):
    checkpoint = shutil.copytree(make_checkpoint(), tmp_path / "ckpt-repo")
    with FakeHub({**repos, GOOD_CKPT_REPO: checkpoint}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = invoke("pull", GOOD, "--quant", "f32", "--from", "checkpoint")
        assert result.exit_code == 0, result.output
        assert f"pulled {GOOD}:f32" in result.output and "converted" in result.output
        assert fetched(hub) and all(p.startswith(f"/{GOOD_CKPT_REPO}/") for p in fetched(hub))
        # no --from and no prebuilt GGUF at f16: the checkpoint, from the cache it is already in
        result = invoke("pull", GOOD, "--quant", "f16")
        assert result.exit_code == 0, result.output
        assert not any(p.startswith(f"/{GOOD_GGUF_REPO}/") for p in fetched(hub))
    rows = listing()
    for quant in ("f32", "f16"):
        row = rows[f"{GOOD}:{quant}"]
        assert row["pulled_from"] == "checkpoint" and row["source"].split("@")[0] == GOOD_CKPT_REPO
        assert row["path"] == str((models_cache() / f"{GOOD}.{quant.upper()}.gguf").resolve())
        assert row["file"] is None and row["sha256"] is None


def test_from_gguf_replaces_a_converted_copy_and_back(catalog, repos, make_checkpoint, tmp_path, monkeypatch):
    needs_check_module()
    checkpoint = shutil.copytree(make_checkpoint(), tmp_path / "ckpt-repo")
    with FakeHub({**repos, GOOD_CKPT_REPO: checkpoint}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert invoke("pull", GOOD, "--quant", "f32", "--from", "checkpoint").exit_code == 0
        present = invoke("pull", GOOD, "--quant", "f32")  # a copy is here: whichever source made it
        assert present.exit_code == 0 and "already present" in present.output
        assert invoke("pull", GOOD, "--quant", "f32", "--from", "gguf").exit_code == 0
        assert listing()[f"{GOOD}:f32"]["pulled_from"] == "gguf"
        result = invoke("pull", GOOD, "--quant", "f32", "--from", "checkpoint")
        assert result.exit_code == 0 and "converted" in result.output, result.output
        assert listing()[f"{GOOD}:f32"]["pulled_from"] == "checkpoint"


def test_a_repaired_copy_left_without_its_record_is_not_taken_for_a_conversion(
    catalog, repos, make_checkpoint, tmp_path, monkeypatch
):
    needs_repair_module()
    data = json.loads(catalog.read_text())
    data["models"][1]["hub_id"] = GOOD_CKPT_REPO  # Tiny-Broken gets a checkpoint as well
    catalog.write_text(json.dumps(data))
    checkpoint = shutil.copytree(make_checkpoint(), tmp_path / "ckpt-repo")
    with FakeHub({**repos, GOOD_CKPT_REPO: checkpoint}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert invoke("pull", BROKEN, "--quant", "f32").exit_code == 0  # the repaired copy, NAME.F32.gguf
        assert invoke("models", "remove", f"{BROKEN}:f32").exit_code == 0  # the file stays
        result = invoke("pull", BROKEN, "--quant", "f32", "--from", "checkpoint")
        assert result.exit_code == 0 and "converted" in result.output, result.output
    assert listing()[f"{BROKEN}:f32"]["pulled_from"] == "checkpoint"


# --- the catalog --------------------------------------------------------------------------------------------


def test_the_real_catalogs_prebuilt_ggufs_name_their_sources(monkeypatch):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    data = json.loads((resources.files("mathcoder_local.models") / "catalog.json").read_text(encoding="utf-8"))
    assert data["schema"] == 2 and "'gguf'" in data["about"]
    with_gguf = [m for m in data["models"] if "gguf" in m]
    assert with_gguf
    for model in with_gguf:
        spec = model["gguf"]
        assert spec["source"] in data["sources"], model["name"]
        assert spec["repo"] in data["sources"][spec["source"]], model["name"]  # the source is about that repo
        for quant, name in spec["files"].items():
            assert quant in QUANTS and name.endswith(".gguf"), (model["name"], quant)
            assert name.rsplit(".", 2)[-2].lower() == quant, (model["name"], name)  # NAME.Q4_K_M.gguf
    entry = load_catalog().get("ToRA-7B")
    assert entry.gguf_file("q4_k_m") == "tora-7b-v1.0.Q4_K_M.gguf" and entry.gguf_file("q8_0") is None
    assert load_catalog().find("TheBloke/tora-7B-v1.0-GGUF") is entry  # by its GGUF repository too
    row = listing()["ToRA-7B"]
    assert row["catalog"]["gguf"]["repo"] == "TheBloke/tora-7B-v1.0-GGUF" and row["pulled_from"] is None


def test_a_catalog_file_that_is_not_right_is_one_line(tmp_path, monkeypatch, catalog):
    data = json.loads(catalog.read_text())
    data["models"][0]["gguf"]["files"]["q3_k_m"] = "x.Q3_K_M.gguf"
    (tmp_path / "bad-quant.json").write_text(json.dumps(data))
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "bad-quant.json"))
    with pytest.raises(UserError, match="unknown quantization 'q3_k_m'"):
        load_catalog()
    data["models"][0]["gguf"]["files"].pop("q3_k_m")
    data["models"][0]["gguf"]["source"] = "nowhere"
    (tmp_path / "bad-source.json").write_text(json.dumps(data))
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "bad-source.json"))
    with pytest.raises(UserError, match="needs 'source'"):
        load_catalog()
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "missing.json"))
    one_line_error(invoke("models"), "cannot read the catalog")
