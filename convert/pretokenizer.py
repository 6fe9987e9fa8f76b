"""Which llama.cpp pre-tokenizer (`tokenizer.ggml.pre`) a byte-level BPE tokenizer.json needs, never guessed.

A byte-level BPE vocabulary is only half the tokenizer: before BPE, the text is cut into words by the
normalizer and the pre-tokenizer that tokenizer.json declares (for Qwen2: NFC, then one Split regex, then
ByteLevel). llama.cpp does not read those declarations; it implements a fixed set of pre-tokenizers in C++ and
picks one by the name in `tokenizer.ggml.pre`. A wrong name gives a model that loads and runs but sees
slightly different token ids than it was trained on.

So the name is chosen by comparing what tokenizer.json declares (read through the `tokenizers` library's own
serialisation of its normalizer and pre-tokenizer) with the declarations each known name stands for, exactly:
the same normalizer, the same Split regexes in the same order with the same behaviour, the same ByteLevel
settings. Anything else is refused, naming what was found; `--pre NAME` forces a name. The match is then
cross-checked (`vocab_bpe.py`): `CHECK_TEXT` tokenized by the HF tokenizer and by llama.cpp over the written
vocabulary must give identical ids.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.errors import UserError

_CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_GPT4_STYLE = (  # the Llama-3 / Qwen2 split regex; {digits} is how many digits make one word
    _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"  # DeepSeek's run of CJK ideographs and Hangul syllables
# DeepSeek-LLM's "cased letter" class, written with escapes: several of its characters (U+1F7D, U+1FD3,
# U+1FDB, U+2126, U+212A) are changed by Unicode normalization, and a normalized copy is a different regex.
_DEEPSEEK_LETTERS = (
    "\\s?[A-Za-z\xb5\xc0-\xd6\xd8-\xf6\xf8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376"
    "\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f"
    "\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d"
    "\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb"
    "\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128"
    "\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4"
    "\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
    "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+"
)
_DEEPSEEK_PUNCT = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"


@dataclass(frozen=True)
class Declaration:
    """What a tokenizer.json declares before BPE, in a canonical form two declarations compare by.

    `normalizers`: each normalizer step as canonical JSON (nested sequences flattened; none = ()).
    `steps`: each pre-tokenizer step: ("Split", regex, behavior, invert) with the regex's \\r, \\n, \\t
    escapes written as the characters they stand for; ("ByteLevel", add_prefix_space, use_regex); or
    (type, canonical JSON) for anything else. Offsets-only settings (trim_offsets) are left out.
    """

    normalizers: tuple[str, ...]
    steps: tuple[tuple, ...]

    def summary(self) -> str:
        """One line for a person: the normalizer and every step, long regexes cut short."""
        norm = ", ".join(json.loads(n)["type"] for n in self.normalizers) or "none"
        parts = [f"normalizer {norm}"]
        for step in self.steps:
            if step[0] == "Split":
                shown = step[1].replace("\r", r"\r").replace("\n", r"\n").replace("\t", r"\t")
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                parts.append(f"Split /{shown}/ {step[2].lower()}" + (" inverted" if step[3] else ""))
            elif step[0] == "ByteLevel":
                parts.append(f"ByteLevel(add_prefix_space={step[1]}, use_regex={step[2]})")
            else:
                parts.append(step[1] if len(step[1]) <= 80 else step[1][:77] + "...")
        return "; ".join(parts)


@dataclass(frozen=True)
class PreTokenizer:
    """A llama.cpp pre-tokenizer and the tokenizer.json declaration it implements."""

    name: str
    splits: tuple[str, ...]  # Split regexes (isolated, not inverted), in order, then ByteLevel without its regex
    nfc: bool = False
    ignore_merges: bool = False  # llama.cpp takes a word that is itself a token as is, before any merge

    def declaration(self) -> Declaration:
        norm = (_canonical_json({"type": "NFC"}),) if self.nfc else ()
        steps = tuple(("Split", _canonical_regex(r), "Isolated", False) for r in self.splits)
        return Declaration(norm, (*steps, ("ByteLevel", False, False)))

    def hf_normalizer(self):
        """The `tokenizers` normalizer object of this declaration (None when it has none)."""
        from tokenizers import normalizers

        return normalizers.NFC() if self.nfc else None

    def hf_pre_tokenizer(self):
        """The `tokenizers` pre-tokenizer object of this declaration."""
        from tokenizers import Regex, pre_tokenizers

        splits = [pre_tokenizers.Split(Regex(r), behavior="isolated", invert=False) for r in self.splits]
        return pre_tokenizers.Sequence([*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


KNOWN: dict[str, PreTokenizer] = {
    p.name: p
    for p in (
        PreTokenizer("qwen2", (_GPT4_STYLE.replace("{digits}", ""),), nfc=True),
        PreTokenizer("llama-bpe", (_GPT4_STYLE.replace("{digits}", "{1,3}"),), ignore_merges=True),
        PreTokenizer(
            "deepseek-llm", ("[\r\n]", _DEEPSEEK_LETTERS, _DEEPSEEK_PUNCT, "\\s+$", _CJK, "\\p{N}+"), nfc=False
        ),
        PreTokenizer("deepseek-coder", ("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", _CJK, "\\p{N}")),
    )
}

_PRE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

# The cross-check text: whitespace runs, digits, contractions, many scripts, emoji, LaTeX, Python and the
# ToRA/MathCoder fences. Stored NFC-normalized: llama.cpp applies no normalizer, so text that NFC would change
# is not what this compares.
CHECK_TEXT = unicodedata.normalize(
    "NFC",
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\r\n\r\r\n"
    "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 1,234,567.89 -0.5e-10 2^{10} x_1 0x1F 007\n"
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL\n"
    "Hello world!  Hello   World.\tTabs\tand  double  spaces   \n"
    "''''''```````\"\"\"\"......!!!!!!?????? ------======= (a+b)*[c-d]/{e}; <tag> @user #42 $100 50% ~/path\n"
    "Grüße aus Köln, naïve café, Æsir, Øre, ß, İstanbul, Ωmega ΚΑΛΗΜΕΡΑ καλημέρα, ﬁne ＡＢＣ１２３！？\n"
    "нещо на Български, Ελληνικά, עברית, العربية ١٢٣, हिन्दी, ไทย, ქართული, Հայերեն\n"
    "我想在apple工作1314151天～ 数学题：求解方程。 日本語のテキスト、カタカナ。 한국어 텍스트입니다.\n"
    "កាន់តែពិសេសអាច 🚀 (normal) 😶\u200d🌫️ (emoji sequence) ✅ 🦙🦙 👍🏽 🇫🇷\n"
    "\\frac{1}{2} + \\sqrt{x^2+1} = \\boxed{42} \\quad \\text{and} \\; \\alpha_{i,j} \\le \\infty\n"
    "```python\ndef solve(n):\n    total = sum(i ** 2 for i in range(1, n + 1))\n\treturn total  # comment\n"
    "print(solve(10))\n```\n```output\n385\n```\nThe answer is $\\boxed{385}$.   ",
)


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _canonical_regex(pattern: str) -> str:
    """The pattern with \\r, \\n and \\t escapes as the characters: tokenizer.json files write them either way."""
    chars = {"r": "\r", "n": "\n", "t": "\t"}
    return re.sub(r"(?<!\\)((?:\\\\)*)\\([rnt])", lambda m: m.group(1) + chars[m.group(2)], pattern)


def _flatten(state: dict | None, key: str) -> list[dict]:
    if state is None:
        return []
    if state.get("type") == "Sequence":
        return [step for inner in state.get(key, []) for step in _flatten(inner, key)]
    return [state]


def _step(state: dict) -> tuple:
    kind = state.get("type")
    if kind == "Split" and isinstance(state.get("pattern"), dict):
        pattern = state["pattern"]
        regex = pattern["Regex"] if "Regex" in pattern else re.escape(pattern.get("String", ""))
        return ("Split", _canonical_regex(regex), state.get("behavior"), bool(state.get("invert")))
    if kind == "ByteLevel":
        return ("ByteLevel", bool(state.get("add_prefix_space")), bool(state.get("use_regex", True)))
    return (str(kind), _canonical_json(state))


def _state(component) -> dict | None:
    return None if component is None else json.loads(component.__getstate__())


def declaration_of(tokenizer) -> Declaration:
    """The declaration of a loaded `tokenizers.Tokenizer`, from the library's serialisation of it."""
    normalizers = tuple(_canonical_json(n) for n in _flatten(_state(tokenizer.normalizer), "normalizers"))
    steps = tuple(_step(s) for s in _flatten(_state(tokenizer.pre_tokenizer), "pretokenizers"))
    return Declaration(normalizers, steps)


def is_byte_level(declaration: Declaration) -> bool:
    return any(step[0] == "ByteLevel" for step in declaration.steps)


_RUN_OF_DIGITS = ("Split", "\\p{N}+", "Isolated", False)
_SINGLE_DIGITS = ("Digits", _canonical_json({"individual_digits": True, "type": "Digits"}))


def _equivalents(p: PreTokenizer) -> list[Declaration]:
    """`p`'s declaration, and the ones that split text into the same tokens wherever the vocabulary has no
    token of two or more digits: a run of digits split off whole, or digit by digit (DeepSeek's vocabulary
    has single digits only; the cross-check in llama.cpp, whose text has long digit runs, refuses a
    vocabulary where the two differ)."""
    own = p.declaration()
    found = [own]
    if _RUN_OF_DIGITS in own.steps:
        steps = tuple(_SINGLE_DIGITS if step == _RUN_OF_DIGITS else step for step in own.steps)
        found.append(Declaration(own.normalizers, steps))
    return found


def identify(declaration: Declaration) -> str | None:
    """The llama.cpp pre-tokenizer whose declaration this is (or splits as it does: `_equivalents`), or None."""
    return next((name for name, p in KNOWN.items() if declaration in _equivalents(p)), None)


def choose(declaration: Declaration, path: Path, forced: str | None) -> tuple[str, list[str]]:
    """The `tokenizer.ggml.pre` to write, and warnings. Unknown declarations are refused unless forced."""
    found = identify(declaration)
    if forced is None:
        if found is None:
            raise UserError(
                f"{path}: no llama.cpp pre-tokenizer is known to match what it declares ({declaration.summary()}); "
                f"known: {', '.join(KNOWN)}. If you know which one it is, --pre NAME forces it"
            )
        return found, []
    if not _PRE_NAME.fullmatch(forced):
        raise UserError(f"--pre {forced!r} is not a llama.cpp pre-tokenizer name (like {', '.join(KNOWN)})")
    if forced == found:
        return forced, []
    what = f"which is llama.cpp's '{found}'" if found else "which matches no pre-tokenizer we know"
    return forced, [
        f"WARNING: --pre {forced} forces llama.cpp's '{forced}' pre-tokenizer, but tokenizer.json declares "
        f"{declaration.summary()}, {what}. Token ids may differ from the model's own tokenizer."
    ]
