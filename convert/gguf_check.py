"""What is wrong with a GGUF's vocabulary for our loop, from its metadata and from llama.cpp itself.

Works on any GGUF (any architecture, SentencePiece or byte-level BPE, with or without our metadata). The
prompt convention is read from the vocabulary (`prompt_tokens`); each of its control tokens is tokenized by
llama.cpp with and without special parsing, and its end-of-turn token is asked whether it ends generation.
The result is plain data: `Problem`s, each in one plain sentence, marked as something a metadata repair
(`convert.repair`) can fix or not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

from mathcoder_local.convert.gguf_file import GGUFHeader, read_header
from mathcoder_local.convert.prompt_tokens import MATHCODER, TokenSet, detect_token_set, looked_for, token_index
from mathcoder_local.convert.vocab_base import BYTE, CONTROL, NORMAL, UNKNOWN, UNUSED, USER_DEFINED

from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMAT_METADATA_KEY, FORMATS, format_of

TYPE_NAMES = {NORMAL: "NORMAL", UNKNOWN: "UNKNOWN", CONTROL: "CONTROL", USER_DEFINED: "USER_DEFINED"}
TYPE_NAMES.update({UNUSED: "UNUSED", BYTE: "BYTE"})

TOKENS_KEY = "tokenizer.ggml.tokens"
TYPES_KEY = "tokenizer.ggml.token_type"
MODEL_KEY = "tokenizer.ggml.model"
PRE_KEY = "tokenizer.ggml.pre"
EOT_KEY = "tokenizer.ggml.eot_token_id"
EOS_KEY = "tokenizer.ggml.eos_token_id"

TOKENIZER_KINDS = {"llama": "SentencePiece", "gpt2": "byte-level BPE"}


def type_name(kind: int | None) -> str:
    return "untyped" if kind is None else TYPE_NAMES.get(kind, f"type {kind}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a GGUF for our loop, in plain words.

    `kind` is a stable name for programs (e.g. "injectable-token", "no-end-of-turn", "unknown-format");
    `severity` is "error" when the loop can go wrong, "note" when it works but the file does not say what it
    should; `repairable` says whether `repair_gguf` fixes it (by metadata alone)."""

    kind: str
    message: str
    severity: Literal["error", "note"] = "error"
    repairable: bool = False
    token: str | None = None
    token_id: int | None = None
    token_type: str | None = None  # the token's type in the file ("USER_DEFINED", "NORMAL", …)


def token_message(kind: str, tokens: list[tuple[str, int, str]]) -> str:
    """The plain-words sentence for one or more tokens (text, id, type name in the file) with one problem."""
    many = len(tokens) > 1
    names = ", ".join(f"{t} (id {i})" for t, i, _ in tokens) if len(tokens) <= 3 else ", ".join(t for t, _, _ in tokens)
    types = " / ".join(dict.fromkeys(k for _, _, k in tokens))
    it, are = ("one of them", "are") if many else (tokens[0][0], "is")
    if kind == "injectable-token":
        return (
            f"{names} {are} {types}, so llama.cpp finds {'them' if many else 'it'} in plain text: an execution "
            f"output that prints {it} reaches the model as the real token"
        )
    if kind == "not-a-special-token":
        return (
            f"{names} {are} {types}: llama.cpp does not read {'them' if many else 'it'} as one token even with "
            "special parsing, so prompts cannot contain " + ("them" if many else "it")
        )
    return (
        f"{names} {are} {types} in the file; llama.cpp treats {'them' if many else 'it'} as control tokens only "
        "because they end generation (other tools may not)"
        if many
        else f"{names} is {types} in the file; llama.cpp treats it as a control token only because it ends "
        "generation (other tools may not)"
    )


@dataclass(frozen=True)
class TokenCheck:
    """A control token as llama.cpp handles it."""

    text: str
    id: int
    file_type: int | None
    single_with_special: bool  # special parsing gives exactly this id
    from_plain_text: bool  # plain text (no special parsing) produces this id: execution output can inject it


@dataclass
class Analysis:
    path: Path
    architecture: str | None
    tokenizer_model: str | None
    pre: str | None
    n_tokens: int
    token_set: TokenSet | None
    recorded_format: object  # the raw value under FORMAT_METADATA_KEY (None when absent)
    prompt_format: str | None  # what the file should record (None: cannot tell)
    effective_format: str  # what `solve` uses for this file now
    ids: dict[str, int] = field(default_factory=dict)  # the prompt-convention tokens present: text → id
    types: list[int] | None = None
    tokens: list[str] | None = None
    end_id: int | None = None
    end_is_eog: bool | None = None
    recorded_eot: int | None = None
    wanted_eot: int | None = None  # the end-of-turn id the file should record (None: leave as it is)
    token_checks: list[TokenCheck] = field(default_factory=list)
    loaded: bool = False  # llama.cpp loaded the vocabulary
    load_error: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


@contextlib.contextmanager
def open_vocab(path: Path) -> Iterator[object]:
    """llama.cpp's vocabulary of the GGUF at `path` (a LlamaVocabulary over a vocab-only load); raises
    ValueError with llama.cpp's reason when it cannot load it."""
    import llama_cpp

    from mathcoder_local.engine.llama import LlamaVocabulary, silence_native_stderr

    with silence_native_stderr():  # llama.cpp logs context warnings for vocab-only loads
        llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        yield LlamaVocabulary(llm)
    finally:
        llm.close()


def _effective_format(recorded: object, ids: dict[str, int]) -> str:
    """What `solve` detects for this vocabulary (`mathcoder_local.formats.format_of`)."""
    return format_of(recorded, ids.__contains__)


def analyse(
    path: str | Path, *, fmt: str | None = None, vocab: object | None = None, header: GGUFHeader | None = None
) -> Analysis:
    """Everything `inspect_gguf` and `convert --verify` report on the vocabulary of the GGUF at `path`.
    `fmt` is the prompt format the file should record (default: the recorded one, else the vocabulary's).
    `vocab`: an open llama.cpp vocabulary of the same file, `header`: its parsed header (else both are
    opened here)."""
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt}; choose one of: {', '.join(FORMATS)}")
    path = Path(path)
    if header is None:
        with read_header(path) as own:
            analysis = _from_metadata(path, own, fmt)
    else:
        analysis = _from_metadata(path, header, fmt)
    if analysis.tokens is None:
        return analysis
    if vocab is not None:
        _through_llama(analysis, vocab)
    else:
        try:
            with open_vocab(path) as opened:
                _through_llama(analysis, opened)
        except ValueError as exc:
            analysis.load_error = str(exc)
            analysis.problems.append(
                Problem("vocabulary-unloadable", f"llama.cpp cannot load the vocabulary: {exc}", "error", False)
            )
    _add_problems(analysis)
    return analysis


def inspect_gguf(path: str | Path, *, fmt: str | None = None) -> list[Problem]:
    """What is wrong with the GGUF at `path` for our loop (errors and notes), each in one plain sentence.
    Raises UserError (one line) when the file is missing or not a readable GGUF."""
    return analyse(path, fmt=fmt).problems


def _from_metadata(path: Path, header: GGUFHeader, fmt: str | None) -> Analysis:
    tokens = header.get(TOKENS_KEY)
    types = header.get(TYPES_KEY)
    recorded = header.get(FORMAT_METADATA_KEY)
    analysis = Analysis(
        path=path,
        architecture=header.string("general.architecture"),
        tokenizer_model=header.string(MODEL_KEY),
        pre=header.string(PRE_KEY),
        n_tokens=len(tokens) if isinstance(tokens, list) else 0,
        token_set=None,
        recorded_format=recorded,
        prompt_format=None,
        effective_format="tora",
        recorded_eot=header.integer(EOT_KEY),
    )
    if not isinstance(tokens, list) or not tokens:
        analysis.problems.append(
            Problem("no-vocabulary", "the file has no vocabulary (tokenizer.ggml.tokens): llama.cpp cannot tokenize")
        )
        return analysis
    analysis.tokens = tokens
    analysis.types = types if isinstance(types, list) and len(types) == len(tokens) else None
    ids = token_index(tokens)
    analysis.token_set = detect_token_set(ids)
    analysis.effective_format = _effective_format(recorded, ids)
    token_set = analysis.token_set
    if fmt is not None:
        analysis.prompt_format = fmt
    elif recorded in FORMATS:
        analysis.prompt_format = recorded  # type: ignore[assignment]
    elif token_set is not None:
        analysis.prompt_format = token_set.prompt_format
    if token_set is not None:
        analysis.ids = {t: ids[t] for t in token_set.present(ids)}
        analysis.end_id = ids.get(token_set.end)
    eos = header.integer(EOS_KEY)
    if token_set is not None and analysis.end_id is not None:
        if token_set.records_eot or analysis.end_id not in (eos, analysis.recorded_eot):
            analysis.wanted_eot = analysis.end_id
    return analysis


def _through_llama(analysis: Analysis, vocab) -> None:  # noqa: ANN001 - a LlamaVocabulary
    analysis.loaded = True
    for text, token_id in analysis.ids.items():
        embedded = f"print('{text}')\n{text}"
        analysis.token_checks.append(
            TokenCheck(
                text,
                token_id,
                analysis.types[token_id] if analysis.types else None,
                vocab.tokenize(text, special=True) == [token_id],
                token_id in vocab.tokenize(text) or token_id in vocab.tokenize(embedded),
            )
        )
    if analysis.end_id is not None:
        analysis.end_is_eog = vocab.is_end_of_generation(analysis.end_id)


def _add_problems(a: Analysis) -> None:
    add = a.problems.append
    if a.types is None:
        add(Problem("no-token-types", "the file has no token types (tokenizer.ggml.token_type) for its vocabulary"))
    if a.tokenizer_model == "gpt2" and not a.pre:
        add(
            Problem(
                "no-pre-tokenizer",
                "a byte-level BPE vocabulary with no pre-tokenizer name (tokenizer.ggml.pre): llama.cpp falls back "
                "to its default split, which tokenizes text differently from the model's own tokenizer; convert "
                "it again from the checkpoint",
            )
        )
    s = a.token_set
    if s is None:
        found = _control_tokens(a)
        seen = f"its control tokens are {', '.join(found)}" if found else "it has no control tokens"
        if a.prompt_format is None:
            add(
                Problem(
                    "unknown-format",
                    f"cannot tell the prompt format: the vocabulary has none of {looked_for()}; {seen}. Solve "
                    f"falls back to {a.effective_format}; pass --format to choose one",
                )
            )
        else:
            add(
                Problem(
                    "unknown-token-set",
                    f"the vocabulary has none of {looked_for()} ({seen}), so its special tokens are not checked",
                    "note",
                )
            )
    _format_problems(a, add)
    for c in a.token_checks:
        kind = "injectable-token" if c.from_plain_text else "not-a-special-token" if not c.single_with_special else None
        if kind is None and c.file_type != CONTROL:
            kind = "not-control"
        if kind is not None:
            severity = "note" if kind == "not-control" else "error"
            repairable = c.file_type != CONTROL
            typed = type_name(c.file_type)
            message = token_message(kind, [(c.text, c.id, typed)])
            add(Problem(kind, message, severity, repairable, c.text, c.id, typed))
    _end_problems(a, add)


def _control_tokens(a: Analysis, limit: int = 8) -> list[str]:
    if a.tokens is None or a.types is None:
        return []
    found = [t for t, kind in zip(a.tokens, a.types, strict=False) if kind == CONTROL]
    return found[:limit] + ([f"… ({len(found) - limit} more)"] if len(found) > limit else [])


def _format_problems(a: Analysis, add) -> None:  # noqa: ANN001
    recorded, s = a.recorded_format, a.token_set
    if recorded is not None and recorded not in FORMATS:
        add(
            Problem(
                "unknown-recorded-format",
                f"the file records prompt format {recorded!r} ({FORMAT_METADATA_KEY}), which this version does not "
                f"know; solve falls back to {a.effective_format}",
                "error",
                a.prompt_format is not None,
            )
        )
    if a.prompt_format == MATHCODER.prompt_format:
        missing = [t for t in MATHCODER.required if a.tokens is not None and t not in a.tokens]
        if missing:
            add(
                Problem(
                    "missing-format-tokens",
                    f"only {len(MATHCODER.required) - len(missing)} of {len(MATHCODER.required)} MathCoder tokens "
                    f"are in the vocabulary (missing {', '.join(missing)}), so it cannot run the mathcoder format; "
                    "choose --format tora",
                )
            )
    if a.prompt_format is not None and recorded != a.prompt_format and recorded in FORMATS:
        add(
            Problem(
                "format-mismatch",
                f"the file records prompt format {recorded}; {a.prompt_format} was asked for",
                "note",
                True,
            )
        )
    elif recorded is None and a.prompt_format is not None and s is not None:
        add(
            Problem(
                "format-not-recorded",
                f"the file does not record its prompt format ({FORMAT_METADATA_KEY}); solve detects "
                f"{a.effective_format} from the vocabulary ({s.label})",
                "note",
                True,
            )
        )


def _end_problems(a: Analysis, add) -> None:  # noqa: ANN001
    s = a.token_set
    if s is None:
        return
    if a.end_id is None:
        add(Problem("no-end-of-turn", f"the vocabulary has no {s.end}: nothing ends the model's turn", token=s.end))
        return
    recorded = a.recorded_eot
    said = "no end-of-turn token" if recorded is None else f"end of turn {token_text(a, recorded)} (id {recorded})"
    if a.end_is_eog is False:
        add(
            Problem(
                "no-end-of-turn",
                f"{s.end} (id {a.end_id}) does not end generation in llama.cpp (the file records {said}), so "
                "llama.cpp tools run past the end of the answer",
                "error",
                True,
                s.end,
                a.end_id,
            )
        )
    elif a.wanted_eot is not None and recorded != a.wanted_eot:
        add(
            Problem(
                "end-of-turn-not-recorded",
                f"the file records {said} (tokenizer.ggml.eot_token_id); llama.cpp ends generation at {s.end} "
                "only because it recognises its text",
                "note",
                True,
                s.end,
                a.end_id,
            )
        )


def token_text(a: Analysis, token_id: int) -> str:
    if a.tokens is not None and 0 <= token_id < len(a.tokens):
        return a.tokens[token_id]
    return "an id outside the vocabulary"
