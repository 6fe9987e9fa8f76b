"""The converter's vocabulary: SentencePiece parsed without the library, added tokens typed and placed."""

from __future__ import annotations

import json

import pytest
from mathcoder_local.convert.vocab import BYTE, CONTROL, UNUSED, USER_DEFINED, load_vocab, read_sentencepiece

from mathcoder_local.errors import UserError
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS


def test_sentencepiece_parse_matches_the_library(make_checkpoint):
    import sentencepiece

    folder = make_checkpoint()
    ours = read_sentencepiece(folder / "tokenizer.model")
    sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    assert ours.pieces == [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    assert ours.scores == pytest.approx([sp.get_score(i) for i in range(sp.get_piece_size())])
    assert ours.types[0] == 2 and ours.types[1] == ours.types[2] == CONTROL
    assert ours.types[3:259] == [BYTE] * 256
    assert ours.model_type == "bpe" and ours.add_dummy_prefix


@pytest.mark.parametrize("style", ["4.31", "new"])
def test_mathcoder_tokens_are_control_with_their_hf_ids(make_checkpoint, style):
    folder = make_checkpoint(added_tokens_style=style)
    config = json.loads((folder / "config.json").read_text())
    vocab = load_vocab(folder, config["vocab_size"])
    hf_ids = json.loads((folder / "added_tokens.json").read_text())
    for token in SPECIAL_TOKENS:
        assert vocab.tokens[hf_ids[token]] == token
        assert vocab.types[hf_ids[token]] == CONTROL
    assert vocab.eot_id == hf_ids["<|endofmessage|>"]
    assert (vocab.bos_id, vocab.eos_id, vocab.unk_id, vocab.pad_id) == (1, 2, 0, None)
    assert vocab.add_bos and not vocab.add_eos and vocab.prompt_format == "mathcoder"


def test_padding_to_the_model_vocab_size(make_checkpoint):
    folder = make_checkpoint(vocab_padding=24)
    config = json.loads((folder / "config.json").read_text())
    vocab = load_vocab(folder, config["vocab_size"])
    assert len(vocab.tokens) == config["vocab_size"]
    assert vocab.types[-24:] == [UNUSED] * 24 and vocab.tokens[-1] == f"[PAD{config['vocab_size'] - 1}]"


def test_non_special_added_token_is_user_defined(make_checkpoint, tmp_path):
    import shutil

    folder = shutil.copytree(make_checkpoint(added_tokens_style="new"), tmp_path / "ck")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"]["512"]["special"] = False  # <|system|> marked plain...
    extra_id = max(int(k) for k in config["added_tokens_decoder"]) + 1
    config["added_tokens_decoder"][str(extra_id)] = {"content": "<note>", "special": False}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    vocab = load_vocab(folder, extra_id + 1)
    assert vocab.types[512] == CONTROL  # ...but a MathCoder token is CONTROL whatever the files say
    assert vocab.types[extra_id] == USER_DEFINED


def test_tokenizer_larger_than_the_model_is_refused(make_checkpoint):
    with pytest.raises(UserError, match="vocab_size"):
        load_vocab(make_checkpoint(), 100)


def test_garbage_tokenizer_model(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(b"\xff\xff\xff")
    with pytest.raises(UserError, match="SentencePiece"):
        load_vocab(tmp_path, 1000)
