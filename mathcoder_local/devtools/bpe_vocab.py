"""Hugging Face byte-level BPE tokenizers for tests: small ones trained here, or real ones rebuilt from GGUF.

`write_bpe_tokenizer(folder, kind, small=True)` writes the tokenizer files of a checkpoint folder
(tokenizer.json, tokenizer_config.json, special_tokens_map.json) for one of the byte-level BPE kinds the
converter knows: "qwen2" (Qwen2 / Qwen2.5-Math: NFC, the Qwen2 split regex, ChatML tokens), "deepseek-llm"
(DeepSeek-Math, NuminaMath: DeepSeek's split regexes, BOS added), "llama-bpe" (Llama-3) or "deepseek-coder".

- `small=True`: a BPE trained with `tokenizers`' BpeTrainer on `corpus.training_corpus()` plus a
  little multilingual text and code, `vocab_size` tokens (default 400) plus the kind's added tokens. No files
  needed; takes well under a second.
- `small=False`: the kind's real vocabulary rebuilt from llama.cpp's vocab-only GGUF in `vocab_dir`
  (default `../shared/vocab/`, e.g. `ggml-vocab-qwen2.gguf`): Qwen1.5's 151,936 tokens, DeepSeek-LLM's
  102,400, Llama-3's 128,256.

It returns a `BpeTokenizer`: `n_tokens` (the ids the tokenizer fills; config.json's vocab_size must be at
least that), the added tokens' ids, and `config_ids` (bos/eos/pad token ids for config.json).

`write_tokenizer_from_gguf(gguf_path, folder)` is the rebuild on its own: BPE over the GGUF's tokens and
merges, the pre-tokenizer its `tokenizer.ggml.pre` names expressed as `tokenizers` objects (from
`convert/pretokenizer.py`), its CONTROL tokens as special added tokens and its USER_DEFINED ones as plain
added tokens. `read_vocab_tests(gguf_path)` reads llama.cpp's `.inp`/`.out` test files beside such a GGUF,
which the rebuilt tokenizer must reproduce.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mathcoder_local.convert.pretokenizer import KNOWN

SHARED_VOCAB = Path(__file__).resolve().parents[2].parent / "shared" / "vocab"

_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_DEEPSEEK_CHAT = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + "
    "message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + "
    "message['content'] + eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}"
    "{% endif %}"
)
_LLAMA3_CHAT = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
_DEEPSEEK_BOS, _DEEPSEEK_EOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"


@dataclass(frozen=True)
class _Kind:
    special: tuple[str, ...]  # added tokens marked special (CONTROL in GGUF)
    plain: tuple[str, ...] = ()  # added tokens not marked special (USER_DEFINED)
    bos: str | None = None
    eos: str | None = None
    pad: str | None = None
    add_bos: bool = False
    config_bos: str | None = None  # config.json's bos_token_id where tokenizer_config.json has no bos_token
    chat_template: str | None = None
    tokenizer_class: str = "PreTrainedTokenizerFast"


KINDS: dict[str, _Kind] = {
    "qwen2": _Kind(
        special=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        plain=("<tool_call>", "</tool_call>"),  # Qwen2.5 marks these not special
        eos="<|im_end|>",
        pad="<|endoftext|>",
        config_bos="<|endoftext|>",
        chat_template=_CHATML,
        tokenizer_class="Qwen2Tokenizer",
    ),
    "deepseek-llm": _Kind(
        special=(_DEEPSEEK_BOS, _DEEPSEEK_EOS),
        bos=_DEEPSEEK_BOS,
        eos=_DEEPSEEK_EOS,
        add_bos=True,
        chat_template=_DEEPSEEK_CHAT,
        tokenizer_class="LlamaTokenizerFast",
    ),
    "llama-bpe": _Kind(
        special=("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        add_bos=True,
        chat_template=_LLAMA3_CHAT,
    ),
    "deepseek-coder": _Kind(
        special=(_DEEPSEEK_BOS, _DEEPSEEK_EOS),
        bos=_DEEPSEEK_BOS,
        eos=_DEEPSEEK_EOS,
        add_bos=True,
        tokenizer_class="LlamaTokenizerFast",
    ),
}

_EXTRA_CORPUS = [
    "Grüße aus Köln: naïve café, 東京と大阪, 数学 123 ½ — ok? Привет, мир! Γειά σου κόσμε. 안녕하세요",
    "    for i in range(10):\n        print(i ** 2)\n\treturn x\r\n",
    "```python\nfrom sympy import *\nx = symbols('x')\nprint(solve(x**2 - 4, x))\n```\n```output\n[-2, 2]\n```",
    "We've got 'em, they'll see; it's \\frac{3}{4} = 0.75 and \\boxed{12}.  ",
]


@dataclass(frozen=True)
class BpeTokenizer:
    """What `write_bpe_tokenizer` wrote."""

    folder: Path
    kind: str
    n_tokens: int  # ids 0..n_tokens-1 are used; config.json's vocab_size must be at least this
    added: dict[str, int] = field(default_factory=dict)  # added token → id
    config_ids: dict[str, int] = field(default_factory=dict)  # bos_token_id / eos_token_id / pad_token_id


def write_bpe_tokenizer(
    folder: Path, kind: str = "qwen2", small: bool = True, *, vocab_size: int = 400, vocab_dir: Path | None = None
) -> BpeTokenizer:
    """Write a byte-level BPE tokenizer of `kind` into `folder` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown BPE kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not small:
        source = (vocab_dir or SHARED_VOCAB) / f"ggml-vocab-{kind}.gguf"
        if not source.is_file():
            raise FileNotFoundError(f"{source} is needed to rebuild the real {kind} vocabulary")
        return write_tokenizer_from_gguf(source, folder)
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer

    from mathcoder_local.devtools.corpus import training_corpus

    spec, pre = KINDS[kind], KNOWN[kind]
    tok = Tokenizer(models.BPE(ignore_merges=pre.ignore_merges))
    if pre.nfc:
        tok.normalizer = pre.hf_normalizer()
    tok.pre_tokenizer = pre.hf_pre_tokenizer()
    trainer = BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([*training_corpus(1500), *(_EXTRA_CORPUS * 20)], trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec.special])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec.plain])
    return _save(tok, folder, kind, spec)


def _save(tok, folder: Path, kind: str, spec: _Kind, chat_template: str | None = None) -> BpeTokenizer:
    from tokenizers import decoders, processors

    added = {t: tok.token_to_id(t) for t in (*spec.special, *spec.plain)}
    tok.decoder = decoders.ByteLevel()
    if spec.add_bos and spec.bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos} $A:0",
            pair=f"{spec.bos} $A:0 {spec.bos}:1 $B:1",
            special_tokens=[(spec.bos, added[spec.bos])],
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    config: dict[str, object] = {
        "added_tokens_decoder": {
            str(i): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": t in spec.special,
            }
            for t, i in sorted(added.items(), key=lambda item: item[1])
        },
        "bos_token": spec.bos,
        "eos_token": spec.eos,
        "pad_token": spec.pad,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 4096,
        "tokenizer_class": spec.tokenizer_class,
    }
    if spec.tokenizer_class == "LlamaTokenizerFast":
        config.update(add_bos_token=spec.add_bos, add_eos_token=False, legacy=False)
    template = chat_template if chat_template is not None else spec.chat_template
    if template is not None:
        config["chat_template"] = template
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    special_map = {k: v for k, v in (("bos_token", spec.bos), ("eos_token", spec.eos), ("pad_token", spec.pad)) if v}
    (folder / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2, ensure_ascii=False), "utf-8")
    config_ids = {
        f"{name}_token_id": added[text]
        for name, text in (("bos", spec.bos or spec.config_bos), ("eos", spec.eos), ("pad", spec.pad))
        if text in added
    }
    return BpeTokenizer(folder, kind, tok.get_vocab_size(with_added_tokens=True), added, config_ids)


# --- llama.cpp's vocab-only GGUFs ---------------------------------------------------------------------------


def read_gguf_metadata(path: Path) -> dict[str, object]:
    """The key/value metadata of a GGUF file, arrays as lists; tensors are not read
    (`mathcoder_local.convert.gguf_file`: about 0.3 s for the 151,936-token Qwen2 vocabulary)."""
    from mathcoder_local.convert.gguf_file import read_header

    with read_header(path) as header:
        return {key: header.get(key) for key in header.entries}


def read_vocab_tests(gguf_path: Path) -> list[tuple[str, list[int]]]:
    """llama.cpp's test strings (`X.gguf.inp`, separated by `__ggml_vocab_test__` lines) with their ids
    (`X.gguf.out`, one line of ids per string)."""
    raw = Path(f"{gguf_path}.inp").read_text(encoding="utf-8")
    texts = raw.split("\n__ggml_vocab_test__\n")
    if texts and texts[-1] == "":
        texts.pop()
    lines = Path(f"{gguf_path}.out").read_text(encoding="utf-8").split("\n")
    if len(lines) > len(texts) and lines[-1] == "":
        lines.pop()
    if len(lines) != len(texts):
        raise ValueError(f"{gguf_path}: {len(texts)} test strings but {len(lines)} lines of ids")
    return [(text, [int(x) for x in line.split()]) for text, line in zip(texts, lines, strict=True)]


_PADDING = re.compile(r"\[PAD\d+\]")


def write_tokenizer_from_gguf(gguf_path: Path, folder: Path) -> BpeTokenizer:
    """Rebuild the HF tokenizer files of a byte-level BPE vocab-only GGUF into `folder`."""
    from tokenizers import AddedToken, Tokenizer, models

    meta = read_gguf_metadata(gguf_path)
    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise ValueError(f"{gguf_path} is not a byte-level BPE vocabulary")
    name = str(meta.get("tokenizer.ggml.pre"))
    if name not in KNOWN:
        raise ValueError(f"{gguf_path}: no declaration is known for pre-tokenizer {name!r}")
    pre = KNOWN[name]
    tokens: list[str] = meta["tokenizer.ggml.tokens"]  # type: ignore[assignment]
    types: list[int] = meta["tokenizer.ggml.token_type"]  # type: ignore[assignment]
    merges = []
    for merge in meta["tokenizer.ggml.merges"]:  # type: ignore[union-attr]
        cut = merge.index(" ", 1)  # as llama.cpp splits them: a token may start with a space
        merges.append((merge[:cut], merge[cut + 1 :]))
    vocab = {t: i for i, (t, kind) in enumerate(zip(tokens, types, strict=True)) if kind == 1}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=pre.ignore_merges))
    if pre.nfc:
        tok.normalizer = pre.hf_normalizer()
    tok.pre_tokenizer = pre.hf_pre_tokenizer()
    special = [(i, t) for i, (t, kind) in enumerate(zip(tokens, types, strict=True)) if kind == 3]
    plain = [
        (i, t) for i, (t, kind) in enumerate(zip(tokens, types, strict=True)) if kind == 4 and not _PADDING.fullmatch(t)
    ]
    for i, text in sorted(special + plain):
        added = AddedToken(text, special=(i, text) in special, normalized=False)
        (tok.add_special_tokens if added.special else tok.add_tokens)([added])
        if tok.token_to_id(text) != i:
            raise ValueError(f"{gguf_path}: added token {text!r} would get id {tok.token_to_id(text)}, not {i}")

    def text_of(key: str) -> str | None:
        token_id = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[token_id] if isinstance(token_id, int) and (token_id, tokens[token_id]) in special else None

    add_bos = meta.get("tokenizer.ggml.add_bos_token", name == "llama-bpe")  # llama.cpp's default for the name
    bos = text_of("bos")
    spec = _Kind(
        special=tuple(t for _, t in special),
        plain=tuple(t for _, t in plain),
        bos=bos if add_bos else None,
        eos=text_of("eos"),
        pad=text_of("padding"),
        add_bos=bool(add_bos and bos),
        config_bos=bos,
        tokenizer_class=KINDS[name].tokenizer_class if name in KINDS else "PreTrainedTokenizerFast",
    )
    template = meta.get("tokenizer.chat_template")
    return _save(tok, folder, name, spec, template if isinstance(template, str) else None)
