"""Byte-level BPE vocabularies (tokenizer.json): read into the converter's Vocab, written to GGUF, and tokenized
by llama.cpp exactly as the Hugging Face fast tokenizer does, on small trained vocabularies and on the real
Qwen2, DeepSeek-LLM and Llama-3 ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mathcoder_local.convert.vocab import CONTROL, NORMAL, UNUSED, USER_DEFINED, load_vocab
from mathcoder_local.convert.vocab_bpe import (
    first_difference,
    llama_tokenizer,
    load_bpe_vocab,
    open_tokenizer,
    reference_bpe_tokenizer,
)
from mathcoder_local.convert.vocab_writer import write_vocab_gguf

from mathcoder_local.devtools.bpe_vocab import (
    SHARED_VOCAB,
    read_gguf_metadata,
    read_vocab_tests,
    write_bpe_tokenizer,
)
from mathcoder_local.errors import UserError

pytest.importorskip("tokenizers", reason="byte-level BPE vocabularies are read with the tokenizers package")

KINDS = ["qwen2", "deepseek-llm", "llama-bpe"]
VOCAB = 450
TORA = SHARED_VOCAB.parent / "data" / "tora_outputs" / "tora-code-34b_gsm8k.jsonl"
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
DEEPSEEK_BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"


def prompt(kind: str, question: str, transcript: str) -> str:
    """The question and a solution in each model family's own prompt (no BOS: the tokenizer adds it)."""
    if kind == "qwen2":
        return (
            f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n"
            f"<|im_start|>assistant\n{transcript}"
        )
    if kind == "llama-bpe":
        return (
            f"<|start_header_id|>user<|end_header_id|>\n\n{question}<|eot_id|>"
            f"<|start_header_id|>assistant<|end_header_id|>\n\n{transcript}"
        )
    return f"User: {question}\n\nAssistant: {transcript}"


SAMPLES = [
    "A warehouse holds 48213 boxes with 317 items each. How many items are there?",
    "```python\ndef solve():\n    x = 48213 * 317\n    return x\n\nprint(solve())\n```\n```output\n15283521\n```\n"
    "The answer is $\\boxed{15283521}$.",
    'Grüße: 東京 ½ — ok?  \n\n\t<tool_call>{"name": 1}</tool_call> <|im_end|> trailing   ',
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    made: dict[str, object] = {}

    def make(kind: str):
        if kind not in made:
            made[kind] = write_bpe_tokenizer(tmp_path_factory.mktemp(kind), kind, small=True)
        return made[kind]

    return make


# --- small trained vocabularies ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_vocab_fields_follow_the_hf_files(small, kind):
    written = small(kind)
    vocab = load_vocab(written.folder, VOCAB)
    tok_json = json.loads((written.folder / "tokenizer.json").read_text(encoding="utf-8"))
    tok_config = json.loads((written.folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (vocab.tokenizer_model, vocab.pre) == ("gpt2", kind)
    assert len(vocab.tokens) == len(vocab.types) == len(vocab.scores) == VOCAB
    assert len(vocab.merges) == len(tok_json["model"]["merges"]) > 100
    assert all(vocab.types[i] == NORMAL and vocab.tokens[i] == t for t, i in tok_json["model"]["vocab"].items())
    for info in tok_json["added_tokens"]:
        assert vocab.tokens[info["id"]] == info["content"] and vocab.added[info["content"]] == info["id"]
        assert vocab.types[info["id"]] == (CONTROL if info["special"] else USER_DEFINED)
    n = written.n_tokens
    assert vocab.types[n:] == [UNUSED] * (VOCAB - n) and vocab.tokens[-1] == f"[PAD{VOCAB - 1}]"
    assert vocab.chat_template == tok_config["chat_template"]
    added = written.added
    if kind == "qwen2":
        assert (vocab.eos_id, vocab.pad_id, vocab.eot_id) == (added["<|im_end|>"], added["<|endoftext|>"],
                                                              added["<|im_end|>"])  # fmt: skip
        assert vocab.types[added["<tool_call>"]] == USER_DEFINED and not vocab.add_bos
    elif kind == "deepseek-llm":
        assert (vocab.bos_id, vocab.eot_id, vocab.add_bos) == (added[DEEPSEEK_BOS], None, True)
    else:  # Llama-3: the post-processor adds <|begin_of_text|>; tokenizer_config.json does not say
        assert "add_bos_token" not in tok_config
        assert (vocab.bos_id, vocab.eot_id, vocab.add_bos) == (added["<|begin_of_text|>"], added["<|eot_id|>"], True)
    assert not vocab.add_eos and vocab.add_space_prefix is False and vocab.warnings == []


def test_written_gguf_has_the_bpe_keys(small, tmp_path):
    written = small("qwen2")
    vocab = load_vocab(written.folder, VOCAB)
    meta = read_gguf_metadata(write_vocab_gguf(vocab, tmp_path / "v.gguf"))
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "qwen2"
    assert meta["tokenizer.ggml.tokens"] == vocab.tokens and meta["tokenizer.ggml.token_type"] == vocab.types
    assert meta["tokenizer.ggml.merges"] == vocab.merges and meta["tokenizer.chat_template"] == vocab.chat_template
    assert meta["tokenizer.ggml.eot_token_id"] == written.added["<|im_end|>"]
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert "tokenizer.ggml.scores" not in meta and "tokenizer.ggml.add_space_prefix" not in meta


@pytest.mark.parametrize("kind", KINDS)
def test_control_tokens_are_single_ids_and_never_made_from_plain_text(small, kind):
    written = small(kind)
    vocab = load_vocab(written.folder, VOCAB)
    hf = open_tokenizer(written.folder)
    with llama_tokenizer(vocab) as tokenize:
        for text, token_id in written.added.items():
            assert tokenize(text, special=True) == [token_id]
            plain = tokenize(text, special=False)
            if vocab.types[token_id] == CONTROL:
                assert token_id not in plain and len(plain) > 1
                hf.encode_special_tokens = True  # HF's "split special tokens": the same plain-text ids
                assert hf.encode(text, add_special_tokens=False).ids == plain
                hf.encode_special_tokens = False
            else:  # a plain added token is found in any text, by HF and by llama.cpp alike
                assert plain == [token_id] == hf.encode(text, add_special_tokens=False).ids


@pytest.mark.parametrize("kind", KINDS)
def test_prompts_tokenize_as_the_hf_tokenizer_does(small, kind):
    written = small(kind)
    vocab = load_vocab(written.folder, VOCAB)
    reference = reference_bpe_tokenizer(written.folder)
    with llama_tokenizer(vocab) as tokenize:
        for text in [prompt(kind, SAMPLES[0], SAMPLES[1]), *SAMPLES]:
            assert tokenize(text, bos=vocab.add_bos) == reference(text)


@pytest.mark.parametrize("kind", [*KINDS, "LlamaTokenizerFast", "PreTrainedTokenizerFast"])
def test_the_reference_is_what_transformers_gives(small, tmp_path, kind):
    transformers = pytest.importorskip("transformers", reason="transformers (the parity extra) is the reference")
    folder = small(kind).folder if kind in KINDS else without_add_bos(small, tmp_path, kind)
    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    reference = reference_bpe_tokenizer(folder)
    for text in [prompt(kind, SAMPLES[0], SAMPLES[1]), *SAMPLES]:
        assert hf(text)["input_ids"] == reference(text)


def without_add_bos(small, tmp_path, tokenizer_class: str) -> Path:
    """The DeepSeek tokenizer with neither add_bos_token nor a BOS-adding post-processor."""
    folder = shutil.copytree(small("deepseek-llm").folder, tmp_path / f"tok-{tokenizer_class}")
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    del config["add_bos_token"], config["add_eos_token"]
    config["tokenizer_class"] = tokenizer_class
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    data["post_processor"] = None
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("tokenizer_class", "adds_bos"), [("LlamaTokenizerFast", True), ("PreTrainedTokenizerFast", False)]
)
def test_add_bos_follows_transformers(small, tmp_path, tokenizer_class, adds_bos):
    folder = without_add_bos(small, tmp_path, tokenizer_class)
    vocab = load_vocab(folder, VOCAB)
    assert vocab.add_bos is adds_bos and vocab.add_eos is False
    assert (reference_bpe_tokenizer(folder)(SAMPLES[0])[0] == vocab.bos_id) is adds_bos


def bos_case(small, tmp_path, tokenizer_class: str, add_bos_token: bool | None, processor_bos: bool) -> Path:
    """The DeepSeek tokenizer as `tokenizer_class`, with add_bos_token set (None: absent) and a post-processor
    that does or does not put BOS first."""
    from tokenizers import Tokenizer, processors

    folder = without_add_bos(small, tmp_path, tokenizer_class)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    if add_bos_token is not None:
        config["add_bos_token"] = add_bos_token
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    if processor_bos:
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        bos = config["bos_token"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
        tok.save(str(folder / "tokenizer.json"))
    return folder


# What transformers 4.57 does: LlamaTokenizerFast rebuilds the post-processor from add_bos_token (default
# true); any other class keeps tokenizer.json's post-processor and ignores add_bos_token.
BOS_CASES = [
    ("LlamaTokenizerFast", None, False, True),
    ("LlamaTokenizerFast", True, False, True),
    ("LlamaTokenizerFast", False, True, False),
    ("PreTrainedTokenizerFast", True, False, False),
    ("Qwen2TokenizerFast", True, False, False),
    ("PreTrainedTokenizerFast", None, True, True),
    ("Qwen2TokenizerFast", False, True, True),
]


@pytest.mark.parametrize(("tokenizer_class", "add_bos_token", "processor_bos", "adds_bos"), BOS_CASES)
def test_add_bos_is_what_transformers_does(small, tmp_path, tokenizer_class, add_bos_token, processor_bos, adds_bos):
    transformers = pytest.importorskip("transformers", reason="transformers (the parity extra) is the reference")
    folder = bos_case(small, tmp_path, tokenizer_class, add_bos_token, processor_bos)
    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    vocab = load_vocab(folder, VOCAB)
    assert vocab.add_bos is adds_bos and vocab.add_eos is False
    reference = reference_bpe_tokenizer(folder)
    with llama_tokenizer(vocab) as tokenize:  # add_special: llama.cpp adds BOS as the GGUF's add_bos says
        for text in SAMPLES:
            expected = hf(text)["input_ids"]
            assert (expected[0] == vocab.bos_id) is adds_bos
            assert reference(text) == expected
            assert tokenize(text, bos=True) == expected


def test_a_bos_that_is_not_in_the_vocabulary_is_not_added(small, tmp_path):
    folder = without_add_bos(small, tmp_path, "LlamaTokenizerFast")
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["bos_token"] = "<s>"  # not a token of this vocabulary
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    vocab = load_vocab(folder, VOCAB)
    assert vocab.add_bos is False and vocab.bos_id is None and "no BOS" in vocab.warnings[0]


def test_first_difference_names_the_position():
    assert first_difference([1, 2, 3], [1, 2, 4, 5]) == "3 vs 4 ids, first difference at position 2: [3] vs [4, 5]"


# --- bad input -----------------------------------------------------------------------------------------------


def copy_of(small, tmp_path, kind="qwen2") -> Path:
    return shutil.copytree(small(kind).folder, tmp_path / "tok")


def test_no_tokenizer_at_all(tmp_path):
    with pytest.raises(UserError, match="no tokenizer.model .* and no tokenizer.json"):
        load_vocab(tmp_path, 1000)
    with pytest.raises(UserError, match="has no tokenizer.json"):
        load_bpe_vocab(tmp_path, 1000)


@pytest.mark.parametrize("merges", [[], None])
def test_missing_merges(small, tmp_path, merges):
    folder = copy_of(small, tmp_path)
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if merges is None:
        del data["model"]["merges"]
    else:
        data["model"]["merges"] = merges
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(UserError, match="no BPE merges" if merges == [] else "Missing vocab/merges") as caught:
        load_vocab(folder, VOCAB)
    assert "\n" not in str(caught.value)


def test_garbage_tokenizer_json(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read .*tokenizer.json") as caught:
        load_vocab(tmp_path, 1000)
    assert "\n" not in str(caught.value)


def test_a_tokenizer_that_is_not_byte_level_bpe(small, tmp_path):
    folder = copy_of(small, tmp_path)
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(UserError, match="is not a byte-level BPE tokenizer"):
        load_vocab(folder, VOCAB)


def test_a_tokenizer_larger_than_the_model(small):
    with pytest.raises(UserError, match="vocab_size 100"):
        load_vocab(small("qwen2").folder, 100)


def test_a_tokenizer_model_wins_over_tokenizer_json(make_checkpoint, small, tmp_path):
    folder = shutil.copytree(make_checkpoint(), tmp_path / "ck")
    shutil.copy(small("qwen2").folder / "tokenizer.json", folder / "tokenizer.json")
    vocab = load_vocab(folder, json.loads((folder / "config.json").read_text())["vocab_size"])
    assert vocab.tokenizer_model == "llama" and vocab.pre == "default" and vocab.merges == []


# --- a whole conversion ----------------------------------------------------------------------------------------


def test_convert_a_llama_checkpoint_with_a_deepseek_vocabulary(make_checkpoint, tmp_path):
    """DeepSeek-Math's layout: LlamaForCausalLM weights, a byte-level BPE tokenizer.json and no tokenizer.model."""
    from mathcoder_local.convert import convert_checkpoint, make_plan

    from mathcoder_local.engine.llama import load_llama

    folder = shutil.copytree(make_checkpoint(mathcoder_tokens=False), tmp_path / "ck")
    for name in ("tokenizer.model", "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json"):
        (folder / name).unlink(missing_ok=True)
    written = write_bpe_tokenizer(folder, "deepseek-llm", small=True)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **written.config_ids}))
    path, checks, _ = convert_checkpoint(make_plan(str(folder), outtype="f32", outfile=tmp_path / "m.gguf"))
    assert all(c.ok for c in checks), checks
    meta = read_gguf_metadata(path)
    assert (meta["tokenizer.ggml.model"], meta["tokenizer.ggml.pre"]) == ("gpt2", "deepseek-llm")
    assert meta["tokenizer.chat_template"].startswith("{{ bos_token }}")
    llm = load_llama(path, vocab_only=True)
    reference = reference_bpe_tokenizer(folder)
    try:
        for text in [prompt("deepseek-llm", SAMPLES[0], SAMPLES[1]), *SAMPLES]:
            assert list(llm.tokenize(text.encode(), add_bos=True, special=True)) == reference(text)
    finally:
        llm.close()


# --- the real vocabularies (../shared/vocab) -------------------------------------------------------------------

needs_shared = pytest.mark.skipif(
    not all((SHARED_VOCAB / f"ggml-vocab-{k}.gguf").is_file() for k in KINDS),
    reason=f"llama.cpp's vocab-only GGUFs are not in {SHARED_VOCAB}",
)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """real(kind) -> (HF folder rebuilt from llama.cpp's GGUF, our Vocab of it, llama.cpp's GGUF metadata)."""
    made: dict[str, tuple] = {}

    def make(kind: str):
        if kind not in made:
            source = SHARED_VOCAB / f"ggml-vocab-{kind}.gguf"
            folder = tmp_path_factory.mktemp(f"real-{kind}")
            written = write_bpe_tokenizer(folder, kind, small=False, vocab_dir=SHARED_VOCAB)
            assert written.kind == kind and written.n_tokens == len(open_tokenizer(folder).get_vocab(True))
            meta = read_gguf_metadata(source)
            n = len(meta["tokenizer.ggml.tokens"])
            (folder / "config.json").write_text(json.dumps({"vocab_size": n, **written.config_ids}))
            made[kind] = folder, load_vocab(folder, n), meta
        return made[kind]

    return make


@needs_shared
@pytest.mark.parametrize("kind", KINDS)
def test_real_rebuilt_hf_tokenizer_reproduces_llama_cpp_test_ids(real, kind):
    folder, _, _ = real(kind)
    hf = open_tokenizer(folder)
    for text, ids in read_vocab_tests(SHARED_VOCAB / f"ggml-vocab-{kind}.gguf"):
        assert hf.encode(text, add_special_tokens=False).ids == ids, repr(text)


@needs_shared
@pytest.mark.parametrize("kind", KINDS)
def test_real_vocabulary_is_llama_cpps_own(real, kind):
    """Tokens, merges and special ids as llama.cpp's converter wrote them; types too, except that padding is
    UNUSED (its older converter, which wrote these files, made it USER_DEFINED)."""
    _, vocab, meta = real(kind)
    assert vocab.pre == kind and vocab.warnings == []
    assert vocab.tokens == meta["tokenizer.ggml.tokens"] and vocab.merges == meta["tokenizer.ggml.merges"]
    for i, (ours, theirs) in enumerate(zip(vocab.types, meta["tokenizer.ggml.token_type"], strict=True)):
        assert ours == theirs or (ours == UNUSED and vocab.tokens[i].startswith("[PAD")), (i, vocab.tokens[i])
    assert (vocab.bos_id, vocab.eos_id) == (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"])


@needs_shared
@pytest.mark.parametrize("kind", KINDS)
def test_real_llama_cpp_over_our_gguf_matches_hf_on_every_test_string(real, kind):
    folder, vocab, _ = real(kind)
    hf = open_tokenizer(folder)
    with llama_tokenizer(vocab) as tokenize:
        for text, ids in read_vocab_tests(SHARED_VOCAB / f"ggml-vocab-{kind}.gguf"):
            assert tokenize(text) == ids == hf.encode(text, add_special_tokens=False).ids, repr(text)


@needs_shared
@pytest.mark.skipif(not TORA.is_file(), reason=f"ToRA's released transcripts are not at {TORA}")
@pytest.mark.parametrize("kind", KINDS)
def test_real_tora_transcripts_in_the_models_prompt(real, kind):
    folder, vocab, _ = real(kind)
    reference = reference_bpe_tokenizer(folder)
    rows = [json.loads(line) for line in TORA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 1319
    with llama_tokenizer(vocab) as tokenize:
        for row in rows:
            text = prompt(kind, row["question"], row["code"][0])
            ours, theirs = tokenize(text, bos=vocab.add_bos), reference(text)
            assert ours == theirs, f"row {row['idx']}: {first_difference(ours, theirs)}"
            if kind == "deepseek-llm":
                assert ours[0] == vocab.bos_id


@needs_shared
def test_chatml_markers_are_single_control_ids_in_the_real_qwen2_vocabulary(real):
    _, vocab, _ = real("qwen2")
    with llama_tokenizer(vocab) as tokenize:
        for text in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
            token_id = vocab.added[text]
            assert vocab.types[token_id] == CONTROL and tokenize(text) == [token_id]
            assert token_id not in tokenize(text, special=False)
    assert vocab.eot_id == vocab.added["<|im_end|>"] and not vocab.add_bos
