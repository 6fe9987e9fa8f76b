"""The pre-tokenizer of a byte-level BPE tokenizer.json: identified from its declarations, checked in llama.cpp,
refused when unknown, forced with --pre and a loud warning."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import pytest
from mathcoder_local.convert import pretokenizer
from mathcoder_local.convert.pretokenizer import CHECK_TEXT, KNOWN, declaration_of, identify
from mathcoder_local.convert.vocab import load_vocab
from mathcoder_local.convert.vocab_bpe import check_in_llama, load_bpe_vocab, open_tokenizer
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.devtools.bpe_vocab import write_bpe_tokenizer
from mathcoder_local.errors import UserError

pytest.importorskip("tokenizers", reason="byte-level BPE vocabularies are read with the tokenizers package")

VOCAB = 450  # config.json's vocab_size for the small tokenizers: 400 trained + added tokens + padding


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """small(kind) -> folder of a small trained tokenizer of that kind (made once per module)."""
    made: dict[str, Path] = {}

    def make(kind: str) -> Path:
        if kind not in made:
            made[kind] = write_bpe_tokenizer(tmp_path_factory.mktemp(kind), kind, small=True).folder
        return made[kind]

    return make


def edited(folder: Path, tmp_path: Path, edit) -> Path:
    """A copy of `folder` whose tokenizer.json went through `edit(json) -> None`."""
    copy = shutil.copytree(folder, tmp_path / "edited")
    data = json.loads((copy / "tokenizer.json").read_text(encoding="utf-8"))
    edit(data)
    (copy / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return copy


@pytest.mark.parametrize("kind", sorted(KNOWN))
def test_each_known_pre_tokenizer_is_identified_and_llama_cpp_agrees(small, kind):
    vocab = load_vocab(small(kind), VOCAB)  # raises if llama.cpp tokenizes the check text differently
    assert vocab.pre == kind and vocab.tokenizer_model == "gpt2" and vocab.warnings == []
    assert check_in_llama(vocab, open_tokenizer(small(kind))) is None


def test_the_check_text_covers_what_pre_tokenizers_disagree_on():
    assert unicodedata.is_normalized("NFC", CHECK_TEXT)
    for needle in ("333333", "'RE", "\n\n\n", "\t\t", "   \n", "\r\n", "我想", "😶\u200d🌫️", "ＡＢＣ", "```output"):
        assert needle in CHECK_TEXT
    assert CHECK_TEXT.endswith("   ")  # trailing spaces: DeepSeek's \s+$ rule


def test_equivalent_spellings_of_a_declaration_are_identified(small, tmp_path):
    def respell(data):
        split = data["pre_tokenizer"]["pretokenizers"][0]
        split["pattern"]["Regex"] = split["pattern"]["Regex"].replace("\\r", "\r").replace("\\n", "\n")
        byte_level = data["pre_tokenizer"]["pretokenizers"][1]
        nested = {"type": "Sequence", "pretokenizers": [split]}
        data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [nested, byte_level]}
        data["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}]}
        data["pre_tokenizer"]["pretokenizers"][1]["trim_offsets"] = True  # offsets only: no matter

    assert identify(declaration_of(open_tokenizer(edited(small("qwen2"), tmp_path, respell)))) == "qwen2"


def test_no_normalizer_and_an_empty_sequence_are_the_same(small, tmp_path):
    def empty(data):
        data["normalizer"] = {"type": "Sequence", "normalizers": []}

    assert identify(declaration_of(open_tokenizer(edited(small("deepseek-llm"), tmp_path, empty)))) == "deepseek-llm"


def test_a_normalized_copy_of_the_deepseek_regex_is_not_deepseek(small, tmp_path):
    """NFC turns U+2126 OHM SIGN into Ω: a different character class, so a different pre-tokenizer."""

    def normalize(data):
        split = data["pre_tokenizer"]["pretokenizers"][1]
        split["pattern"]["Regex"] = split["pattern"]["Regex"].replace("\u2126", "\u03a9")

    assert identify(declaration_of(open_tokenizer(edited(small("deepseek-llm"), tmp_path, normalize)))) is None


def _nfkc(data):
    data["normalizer"] = {"type": "NFKC"}


def _digits_in_pairs(data):
    split = data["pre_tokenizer"]["pretokenizers"][0]
    split["pattern"]["Regex"] = split["pattern"]["Regex"].replace("\\p{N}|", "\\p{N}{1,2}|")


@pytest.mark.parametrize(("edit", "named"), [(_nfkc, "normalizer NFKC"), (_digits_in_pairs, "Split /(?i:'s")])
def test_an_unknown_declaration_is_refused_naming_what_was_found(small, tmp_path, edit, named):
    folder = edited(small("qwen2"), tmp_path, edit)
    with pytest.raises(UserError) as caught:
        load_vocab(folder, VOCAB)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert named in message and "ByteLevel(add_prefix_space=False, use_regex=False)" in message
    assert "--pre NAME forces it" in message and "known: qwen2, llama-bpe, deepseek-llm" in message


def test_gpt2_style_byte_level_is_refused_too(small, tmp_path):
    def gpt2(data):
        data["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                 "use_regex": True}  # fmt: skip
        data["normalizer"] = None

    with pytest.raises(UserError, match=r"ByteLevel\(add_prefix_space=False, use_regex=True\)"):
        load_vocab(edited(small("qwen2"), tmp_path, gpt2), VOCAB)


def test_pre_forces_a_name_with_a_loud_warning(small, tmp_path):
    folder = edited(small("qwen2"), tmp_path, _nfkc)
    vocab = load_vocab(folder, VOCAB, pre="qwen2")
    assert vocab.pre == "qwen2"
    assert vocab.warnings[0].startswith("WARNING: --pre qwen2 forces llama.cpp's 'qwen2' pre-tokenizer")
    assert "normalizer NFKC" in vocab.warnings[0] and "matches no pre-tokenizer we know" in vocab.warnings[0]
    # NFKC folds the check text's ligature and full-width letters, which llama.cpp leaves alone
    assert any("does not tokenize the check text" in w for w in vocab.warnings[1:])


def test_forcing_the_identified_name_is_quiet(small):
    assert load_vocab(small("qwen2"), VOCAB, pre="qwen2").warnings == []


def test_forcing_another_known_name_says_which_one_it_is(small):
    vocab = load_vocab(small("qwen2"), VOCAB, pre="deepseek-llm")  # DeepSeek splits words off differently
    assert "which is llama.cpp's 'qwen2'" in vocab.warnings[0]
    assert any("does not tokenize the check text" in w and "first difference" in w for w in vocab.warnings)


def test_an_identified_pre_tokenizer_that_llama_cpp_contradicts_is_refused(small, monkeypatch):
    import mathcoder_local.convert.vocab_bpe as vocab_bpe

    monkeypatch.setattr(vocab_bpe, "check_in_llama", lambda vocab, tok: "llama.cpp's 'qwen2' differs (1 vs 2 ids)")
    with pytest.raises(UserError, match="differs.*would not tokenize as the model was trained"):
        load_bpe_vocab(small("qwen2"), VOCAB)


def test_the_check_sees_a_real_difference(small):
    """Qwen2 declares NFC, which llama.cpp does not apply: decomposed text shows it."""
    vocab = load_bpe_vocab(small("qwen2"), VOCAB)
    problem = check_in_llama(vocab, open_tokenizer(small("qwen2")), text="cafe\u0301 re\u0301sume\u0301")
    assert problem is not None and "'qwen2' pre-tokenizer does not tokenize the check text" in problem


@pytest.mark.parametrize("name", ["Qwen 2", "", "../x"])
def test_a_pre_that_is_no_name_is_refused(small, name):
    with pytest.raises(UserError, match="not a llama.cpp pre-tokenizer name"):
        load_vocab(small("qwen2"), VOCAB, pre=name)


def test_pre_on_a_sentencepiece_checkpoint_is_refused(make_checkpoint):
    with pytest.raises(UserError, match="--pre applies to byte-level BPE"):
        load_vocab(make_checkpoint(), 1000, pre="qwen2")


def test_summary_is_one_line_with_long_regexes_cut():
    summary = KNOWN["deepseek-llm"].declaration().summary()
    assert "\n" not in summary and "\r" not in summary and "Split /[\\r\\n]/ isolated" in summary
    assert "..." in summary and len(summary) < 400


def test_every_known_declaration_builds_in_the_tokenizers_library():
    for known in KNOWN.values():
        from tokenizers import Tokenizer, models

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = known.hf_pre_tokenizer()
        if known.nfc:
            tok.normalizer = known.hf_normalizer()
        assert pretokenizer.identify(declaration_of(tok)) == known.name


# --- the command line ----------------------------------------------------------------------------------------

runner = CliRunner()


def bpe_llama_checkpoint(make_checkpoint, tmp_path: Path, kind: str, edit=None) -> Path:
    """A small Llama checkpoint whose SentencePiece tokenizer is replaced by a byte-level BPE one."""
    folder = shutil.copytree(make_checkpoint(mathcoder_tokens=False), tmp_path / "ck")
    for name in ("tokenizer.model", "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json"):
        (folder / name).unlink(missing_ok=True)
    written = write_bpe_tokenizer(folder, kind, small=True)
    config = json.loads((folder / "config.json").read_text())
    assert config["vocab_size"] >= written.n_tokens
    config.update(written.config_ids)
    (folder / "config.json").write_text(json.dumps(config))
    if edit is not None:
        data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        edit(data)
        (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def test_cli_unknown_pre_tokenizer_exits_2_with_one_line_and_no_file(make_checkpoint, tmp_path):
    folder = bpe_llama_checkpoint(make_checkpoint, tmp_path, "deepseek-llm", _nfkc)
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(app, ["convert", str(folder), "--outfile", str(out / "m.gguf")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "normalizer NFKC" in lines[0] and "--pre NAME" in lines[0]
    assert "Traceback" not in result.output and list(out.iterdir()) == []


def test_cli_pre_forces_it_and_the_warning_is_printed(make_checkpoint, tmp_path):
    folder = bpe_llama_checkpoint(make_checkpoint, tmp_path, "deepseek-llm", _nfkc)
    result = runner.invoke(app, ["convert", str(folder), "--pre", "deepseek-llm", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "WARNING: --pre deepseek-llm forces" in result.output and "would write" in result.output


def test_digits_split_one_by_one_are_deepseek_where_the_vocabulary_agrees(small, tmp_path):
    """DeepSeek's tokenizer.json may split digits with a `Digits` step instead of llama.cpp's `\\p{N}+`: the same
    tokens over a vocabulary without multi-digit tokens, which the llama.cpp cross-check confirms."""

    def digits_step(data):
        steps = data["pre_tokenizer"]["pretokenizers"]
        at = next(i for i, s in enumerate(steps) if s.get("pattern", {}).get("Regex") == "\\p{N}+")
        steps[at] = {"type": "Digits", "individual_digits": True}

    folder = edited(small("deepseek-llm"), tmp_path, digits_step)
    assert identify(declaration_of(open_tokenizer(folder))) == "deepseek-llm"
    vocab = load_vocab(folder, VOCAB)  # the cross-check in llama.cpp passes: the small vocabulary has no "33"
    assert vocab.pre == "deepseek-llm" and vocab.warnings == []
    # a run of digits is not Qwen2's digit-by-digit rule, nor Llama-3's groups of three
    assert identify(declaration_of(open_tokenizer(small("qwen2")))) == "qwen2"
