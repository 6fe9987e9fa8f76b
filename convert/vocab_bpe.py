"""Byte-level BPE vocabularies (Qwen2, DeepSeek, Llama-3): a tokenizer.json read into the converter's `Vocab`.

The tokenizer is loaded with Hugging Face `tokenizers`, which gives the tokens (byte-level strings, as llama.cpp
stores them), the added tokens with their `special` flags, and the declarations the pre-tokenizer is identified
from (`pretokenizer.py`). gguf-py's `SpecialVocab` reads what llama.cpp's own converter reads beside it: the
merges, the bos/eos/unk/pad ids (tokenizer_config.json, then config.json), what tokenizer.json's post-processor
adds, and the chat template. add_bos/add_eos follow transformers: tokenizer_config.json's add_bos_token /
add_eos_token, else BOS only for a LlamaTokenizer(Fast) class, else what the post-processor adds.

Token types follow the HF tokenizer's behaviour: an added token marked special is CONTROL (llama.cpp finds it
in text only with special parsing, as HF does unless told to split special tokens), any other added token is
USER_DEFINED (found in any text, as HF always does), MathCoder's block tokens are CONTROL whatever the files
say, and ids the tokenizer does not fill up to config.json's vocab_size are unused `[PAD{i}]` tokens.

The result is cross-checked in llama.cpp itself before it is used: `CHECK_TEXT` must tokenize to the same ids
with the HF tokenizer and with llama.cpp over a vocab-only GGUF of the vocabulary.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from mathcoder_local.convert.pretokenizer import CHECK_TEXT, KNOWN, choose, declaration_of, is_byte_level
from mathcoder_local.convert.vocab_base import CONTROL, NORMAL, UNUSED, USER_DEFINED, Vocab, load_json

from mathcoder_local.errors import UserError
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

Tokenize = Callable[[str], list[int]]


def open_tokenizer(folder: Path):
    """The folder's tokenizer.json as a `tokenizers.Tokenizer`; a UserError when it is missing or unreadable."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"{folder} has no tokenizer.json (the byte-level BPE tokenizer this checkpoint needs)")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise UserError("reading tokenizer.json needs the tokenizers package: pip install tokenizers") from None
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises plain Exception for every kind of bad file
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot read {path}: {detail}") from None


def _special_vocab(folder: Path, vocab_size: int):
    """gguf-py's reading of merges, special ids, add_bos/add_eos and the chat template, with its log kept quiet."""
    import gguf

    log = logging.getLogger("gguf.vocab")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    except (ValueError, OSError) as exc:
        raise UserError(f"cannot read the special tokens or merges of {folder}: {exc}") from None
    finally:
        log.setLevel(level)


# The fast tokenizer classes of transformers (4.57) that rebuild tokenizer.json's post-processor from
# add_bos_token / add_eos_token, with their defaults; every other class keeps the post-processor as it is.
_REBUILDS_POST_PROCESSOR = {
    "LlamaTokenizer": (True, False),
    "CodeLlamaTokenizer": (True, False),
    "GemmaTokenizer": (True, False),
    "CohereTokenizer": (True, False),
    "GPTNeoXTokenizer": (False, False),
}


def _post_processor_adds(tok) -> tuple[list[int], list[int]]:
    """The ids tokenizer.json's post-processor puts before and after a text's own ids."""
    plain = tok.encode("x", add_special_tokens=False).ids
    full = tok.encode("x", add_special_tokens=True).ids
    at = next((i for i in range(len(full) - len(plain) + 1) if full[i : i + len(plain)] == plain), 0)
    return full[:at], full[at + len(plain) :]


def _adds_bos_eos(folder: Path, tok, special) -> tuple[bool, bool]:
    """Whether the HF tokenizer puts BOS first and EOS last, as transformers decides it: for a class that
    rebuilds the post-processor (`_REBUILDS_POST_PROCESSOR`), tokenizer_config.json's add_bos_token /
    add_eos_token or the class's defaults; for any other class (PreTrainedTokenizerFast, Qwen2TokenizerFast,
    ...) whether tokenizer.json's post-processor adds them, whatever tokenizer_config.json says."""
    config = load_json(folder / "tokenizer_config.json")
    defaults = _REBUILDS_POST_PROCESSOR.get(str(config.get("tokenizer_class") or "").removesuffix("Fast"))
    if defaults is None:
        before, after = _post_processor_adds(tok)
        ids = special.special_token_ids
        return before[:1] == [ids.get("bos")], after[-1:] == [ids.get("eos")]
    values = [config.get(f"add_{key}_token") for key in ("bos", "eos")]
    return tuple(v if isinstance(v, bool) else d for v, d in zip(values, defaults, strict=True))


def load_bpe_vocab(folder: Path, vocab_size: int, *, pre: str | None = None, check: bool = True) -> Vocab:
    """The byte-level BPE vocabulary of `folder`'s tokenizer.json, padded to `vocab_size`.

    `pre` forces llama.cpp's pre-tokenizer name (with a warning in `Vocab.warnings` when it is not the one
    tokenizer.json declares); otherwise an unknown declaration is a UserError. With `check`, the vocabulary
    is cross-checked in llama.cpp (`check_in_llama`).
    """
    from tokenizers import models

    path = folder / "tokenizer.json"
    tok = open_tokenizer(folder)
    declaration = declaration_of(tok)
    if not isinstance(tok.model, models.BPE) or tok.model.byte_fallback or not is_byte_level(declaration):
        kind = type(tok.model).__name__ + (" with byte fallback" if getattr(tok.model, "byte_fallback", 0) else "")
        raise UserError(
            f"{path} is not a byte-level BPE tokenizer ({kind}; {declaration.summary()}); from a tokenizer.json only "
            "byte-level BPE vocabularies (Qwen2, DeepSeek, Llama-3) are converted"
        )
    name, warnings = choose(declaration, path, pre)
    special = _special_vocab(folder, vocab_size)
    if not special.merges:
        raise UserError(f"{path} has no BPE merges (model.merges is empty or missing); the file is incomplete")

    by_id = {i: t for t, i in tok.get_vocab(with_added_tokens=True).items()}
    added_tokens = tok.get_added_tokens_decoder()
    if max(by_id) >= vocab_size:
        raise UserError(
            f"the tokenizer has {max(by_id) + 1} tokens but config.json says vocab_size {vocab_size}; "
            "the checkpoint's files do not belong together"
        )
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        if i not in by_id:  # a gap, or padding up to the model's embedding rows
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        elif i in added_tokens:
            text = added_tokens[i].content
            tokens.append(text)
            types.append(CONTROL if added_tokens[i].special or text in MATHCODER_TOKENS else USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(NORMAL)

    ids = special.special_token_ids
    add_bos, add_eos = _adds_bos_eos(folder, tok, special)
    if add_bos and ids.get("bos") is None:  # llama.cpp would put its default id (11) first
        warnings.append("warning: the tokenizer adds a BOS token but names none that is in the vocabulary; no BOS")
        add_bos = False
    known = KNOWN.get(name)
    if known is not None and known.ignore_merges != bool(tok.model.ignore_merges):
        warnings.append(
            f"warning: llama.cpp's '{name}' pre-tokenizer {'takes' if known.ignore_merges else 'does not take'} "
            f"a word that is a token as is, but tokenizer.json says ignore_merges={bool(tok.model.ignore_merges)}; "
            "rare words may tokenize differently"
        )
    vocab = Vocab(
        tokens=tokens,
        scores=[0.0] * vocab_size,  # BPE has ranks (the merges), no scores; GGUF carries none for it
        types=types,
        bos_id=ids.get("bos"),
        eos_id=ids.get("eos"),
        unk_id=ids.get("unk"),
        pad_id=ids.get("pad"),
        add_bos=add_bos,
        add_eos=add_eos,
        add_space_prefix=False,
        added={a.content: i for i, a in sorted(added_tokens.items())},
        tokenizer_model="gpt2",
        pre=name,
        merges=list(special.merges),
        chat_template=special.chat_template,
        warnings=warnings,
    )
    if check:
        problem = check_in_llama(vocab, tok)
        if problem is not None and pre is None:
            raise UserError(f"{problem}; the vocabulary would not tokenize as the model was trained")
        if problem is not None:
            vocab.warnings.append(f"WARNING: {problem}")
    return vocab


@contextlib.contextmanager
def llama_tokenizer(vocab: Vocab) -> Iterator[Callable[..., list[int]]]:
    """llama.cpp's tokenizer over `vocab`, written to a temporary vocab-only GGUF.

    Yields `tokenize(text, special=True, bos=False) -> ids`.
    """
    from mathcoder_local.convert.vocab_writer import write_vocab_gguf

    from mathcoder_local.engine.llama import load_llama

    with tempfile.TemporaryDirectory(prefix="mathcoder-vocab-") as tmp:
        llm = load_llama(write_vocab_gguf(vocab, Path(tmp) / "vocab.gguf"), vocab_only=True)
        try:
            yield lambda text, special=True, bos=False: list(
                llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special)
            )
        finally:
            llm.close()


def first_mismatch(ours: list[int], theirs: list[int]) -> int:
    """The position where two id lists part (the shorter one's length when one is the other's start)."""
    return next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))


def first_difference(ours: list[int], theirs: list[int]) -> str:
    """Where two id lists part, for a message."""
    i = first_mismatch(ours, theirs)
    return (
        f"{len(ours)} vs {len(theirs)} ids, first difference at position {i}: {ours[i : i + 3]} vs {theirs[i : i + 3]}"
    )


def check_in_llama(vocab: Vocab, tokenizer, text: str = CHECK_TEXT) -> str | None:
    """None when llama.cpp over `vocab` tokenizes `text` to exactly the HF tokenizer's ids, else what differs."""
    with llama_tokenizer(vocab) as tokenize:
        ours = tokenize(text)
    theirs = tokenizer.encode(text, add_special_tokens=False).ids
    if ours == theirs:
        return None
    return (
        f"llama.cpp's '{vocab.pre}' pre-tokenizer does not tokenize the check text as tokenizer.json does "
        f"({first_difference(ours, theirs)})"
    )


def reference_bpe_tokenizer(folder: Path) -> Tokenize:
    """The ids the checkpoint's HF fast tokenizer gives: added tokens parsed out of the text (special or not),
    BOS first and EOS last when the tokenizer adds them (`Vocab.add_bos` / `add_eos` decide the same way)."""
    tok = open_tokenizer(folder)
    special = _special_vocab(folder, tok.get_vocab_size(with_added_tokens=True))
    add_bos, add_eos = _adds_bos_eos(folder, tok, special)
    bos = special.special_token_ids.get("bos") if add_bos else None
    eos = special.special_token_ids.get("eos") if add_eos else None

    def tokenize(text: str) -> list[int]:
        ids = tok.encode(text, add_special_tokens=False).ids
        return ([bos] if bos is not None else []) + ids + ([eos] if eos is not None else [])

    return tokenize
