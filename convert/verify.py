"""Checking a GGUF, ours or made elsewhere: structure from its own metadata, its vocabulary through llama.cpp.

Works on any GGUF: the tensor shapes are checked for the architectures the converter writes (llama, qwen2),
the vocabulary for any architecture and tokenizer. What is wrong for our loop (`gguf_check`: a prompt
token that plain text produces, no end of turn, a format that cannot be told) fails a check and is said in
plain words; what is merely unrecorded comes back as a note. Given the checkpoint, a sample transcript in the
model's own prompt format must tokenize in llama.cpp exactly as the checkpoint's Hugging Face tokenizer does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.convert.arch import DEFAULT_ROPE_BASE
from mathcoder_local.convert.gguf_check import (
    TOKENIZER_KINDS,
    TOKENS_KEY,
    Analysis,
    Problem,
    analyse,
    open_vocab,
    token_message,
)
from mathcoder_local.convert.gguf_file import GGUFHeader, read_header
from mathcoder_local.convert.plan import CODELLAMA_ROPE_BASE, CODELLAMA_VOCAB
from mathcoder_local.convert.writer import SOURCE_PATH_KEY

from mathcoder_local.formats import FORMATS

SAMPLE_MATHCODER = (
    "<|system|><|text|>Below is a math problem. Please solve it step by step.<|endofblock|><|endofmessage|>"
    "<|user|><|text|>A warehouse holds 48213 boxes with 317 items each. How many items are there?\n"
    "<|endofblock|><|endofmessage|><|assistant|><|text|>Let's multiply: boxes × items per box.<|endofblock|>"
    "<|code|>boxes = 48213\nitems = 317\ntotal = boxes * items\ntotal<|endofblock|>"
    "<|execution|>15283521<|endofblock|><|text|>So there are $\\boxed{15283521}$ items — done.<|endofblock|>"
    "<|text|>15283521<|endofblock|><|endofmessage|>"
)
SAMPLE_TORA = (
    "<|user|>\nWhat is 48213 * 317?\n<|assistant|>\nLet's compute it.\n```python\nprint(48213 * 317)\n```\n"
    "```output\n15283521\n```\nThe answer is $\\boxed{15283521}$."
)
_TIR = "Please integrate natural language reasoning with programs to solve the problem above, and put your final answer within \\boxed{}."  # noqa: E501 - the harnesses' exact instruction
_QUESTION = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
_ANSWER = (
    "Let's multiply: boxes × items per box.\n```python\nboxes = 48213\nitems  = 317\nprint(boxes * items)\n```\n"
    "```output\n15283521\n```\n\nSo there are $\\boxed{15283521}$ items — done."
)
SAMPLE_CHATML = (
    f"<|im_start|>system\n{_TIR}<|im_end|>\n<|im_start|>user\n{_QUESTION}<|im_end|>\n"
    f"<|im_start|>assistant\n{_ANSWER}<|im_end|>\n"
)
SAMPLE_DEEPSEEK = f"User: {_QUESTION}\n{_TIR}\n\nAssistant: {_ANSWER}<｜end▁of▁sentence｜>"
SAMPLE_LLAMA3 = (
    f"<|start_header_id|>user<|end_header_id|>\n\n{_QUESTION}\n{_TIR}<|eot_id|>"
    f"<|start_header_id|>assistant<|end_header_id|>\n\n{_ANSWER}<|eot_id|>"
)
# A transcript in each convention's own prompt format (prompt_tokens.TOKEN_SETS), BOS left to the tokenizer.
SAMPLES = {
    "mathcoder": SAMPLE_MATHCODER,
    "chatml": SAMPLE_CHATML,
    "llama3": SAMPLE_LLAMA3,
    "deepseek": SAMPLE_DEEPSEEK,
    "llama": SAMPLE_TORA,
}

# The architecture keys checked, under the architecture's own prefix (llama.context_length, qwen2.…).
_ARCH_KEYS = (
    "context_length",
    "embedding_length",
    "block_count",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "rope.freq_base",
    "attention.layer_norm_rms_epsilon",
)
_GENERIC_KEYS = ("context_length", "embedding_length", "block_count")  # every architecture has these
NOTE = "note: "  # starts the warnings that are notes: the loop works, the file does not say what it should
REPAIR_RECORDS = "; a repair records it"  # ends the notes that `convert --repair` takes care of


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    explain: str = ""  # a failed check: what is wrong, in plain words
    repairable: bool = False  # a failed check that `convert --repair` fixes


def _structure_checks(header: GGUFHeader) -> tuple[list[Check], dict]:
    from mathcoder_local.convert.arch import BY_GGUF_ARCH, expected_shapes

    checks: list[Check] = []
    arch_name = header.string("general.architecture")
    checks.append(Check("architecture", arch_name is not None, arch_name or "missing (general.architecture)"))
    if arch_name is None:
        return checks, {}
    arch = BY_GGUF_ARCH.get(arch_name)
    keys = {k: header.get(f"{arch_name}.{k}") for k in _ARCH_KEYS}
    required = [k for k in (_ARCH_KEYS if arch else _GENERIC_KEYS) if k != "rope.freq_base"]
    missing = [k for k in required if keys[k] is None]
    checks.append(
        Check("architecture keys", not missing, "missing " + ", ".join(missing) if missing else "all present")
    )
    n_tensors = len(header.tensors)
    if n_tensors == 0:
        checks.append(
            Check(
                "tensor count",
                False,
                "0: a vocabulary-only file",
                "the file has no weights (a vocabulary-only GGUF): llama.cpp cannot run it as a model",
            )
        )
        return checks, keys
    if arch is None:
        checks.append(Check("tensor shapes", True, f"{n_tensors} tensors; shapes are checked for llama and qwen2 only"))
        return checks, keys
    if missing:
        return checks, keys
    entry = header.entries.get(TOKENS_KEY)
    n_vocab = entry.count if entry is not None and entry.count else 0
    e, heads = keys["embedding_length"], keys["attention.head_count"]
    head_dim = header.integer(f"{arch_name}.attention.key_length") or e // heads
    expected = expected_shapes(
        arch,
        vocab=n_vocab,
        hidden=e,
        ff=keys["feed_forward_length"],
        layers=keys["block_count"],
        heads=heads,
        kv_heads=keys["attention.head_count_kv"],
        head_dim=head_dim,
    )
    actual = {t.name: t.shape for t in header.tensors}
    if "output.weight" not in actual:
        del expected["output.weight"]  # tied: llama.cpp reuses token_embd
    checks.append(Check("tensor count", len(actual) == len(expected), f"{len(actual)} (expected {len(expected)})"))
    wrong = [n for n, s in expected.items() if actual.get(n) != s]
    checks.append(Check("tensor shapes", not wrong, f"{len(wrong)} wrong, e.g. {wrong[0]}" if wrong else "all match"))
    return checks, keys


def verify_gguf(path: str | Path, checkpoint: str | Path | None = None) -> tuple[list[Check], list[str]]:
    """(checks, warnings) for the GGUF at `path`; `checkpoint` (or the source path the GGUF records) gives
    the config and the HF tokenizer to compare with. Notes (what works but is not recorded) are warnings that
    start with NOTE. Raises a one-line UserError for a missing, unreadable or truncated file."""
    path = Path(path)
    with read_header(path) as header:
        checks, keys = _structure_checks(header)
        recorded = header.string(SOURCE_PATH_KEY)
        folder = Path(checkpoint) if checkpoint else (Path(recorded) if recorded and Path(recorded).is_dir() else None)
        warnings: list[str] = []
        checks += _config_checks(keys, folder)
        entry = header.entries.get(TOKENS_KEY)
        n_vocab = entry.count if entry is not None else 0
        rope = keys.get("rope.freq_base")
        if n_vocab == CODELLAMA_VOCAB and abs((rope or DEFAULT_ROPE_BASE) - CODELLAMA_ROPE_BASE) > 1:
            warnings.append(
                f"WARNING: CodeLlama vocabulary ({CODELLAMA_VOCAB}) with rope base {rope or DEFAULT_ROPE_BASE:g}; "
                f"CodeLlama fine-tunes need {CODELLAMA_ROPE_BASE:g}. Reconvert with --rope-freq-base "
                f"{CODELLAMA_ROPE_BASE:g} if this is one."
            )
        vocab_checks, notes = _vocab_checks(path, header, folder)
    return checks + vocab_checks, warnings + [NOTE + n for n in notes]


def _config_checks(keys: dict, folder: Path | None) -> list[Check]:
    ctx, rope = keys.get("context_length"), keys.get("rope.freq_base")
    rope_text = f"{rope:g}" if rope is not None else f"not set (llama.cpp uses {DEFAULT_ROPE_BASE:g})"
    if folder is None or not (folder / "config.json").is_file():
        return [Check("context length", ctx is not None, f"{ctx}"), Check("rope base", True, rope_text)]
    from mathcoder_local.convert.checkpoint import read_config

    config, parsed = read_config(folder)
    want_ctx = parsed.max_position_embeddings  # the architecture's default where config.json has none
    checks = [
        Check("context length", ctx == want_ctx, f"{ctx}" + ("" if ctx == want_ctx else f" (config.json: {want_ctx})"))
    ]
    want_rope = float(config.get("rope_theta") or DEFAULT_ROPE_BASE)
    if rope is None:
        same = abs(DEFAULT_ROPE_BASE - want_rope) < 1e-6 * want_rope
        checks.append(Check("rope base", same, rope_text + ("" if same else f"; config.json says {want_rope:g}")))
    else:
        differs = abs(rope - want_rope) >= 1e-6 * want_rope
        checks.append(
            Check("rope base", True, rope_text + (f" (config.json: {want_rope:g}; overridden)" if differs else ""))
        )
    return checks


_FORMAT_KINDS = ("unknown-format", "unknown-recorded-format", "missing-format-tokens")


def _explain(problems: list[Problem]) -> str:
    """The problems in plain words, those of one token kind in one sentence."""
    kinds = {p.kind for p in problems}
    if len(problems) > 1 and len(kinds) == 1 and all(p.token_id is not None for p in problems):
        tokens = [(p.token or "", p.token_id or 0, p.token_type or "untyped") for p in problems]
        return token_message(problems[0].kind, tokens)
    return "; ".join(p.message for p in problems)


def _failed(name: str, detail: str, problems: list[Problem]) -> Check:
    fixable = bool(problems) and all(p.repairable for p in problems)
    return Check(name, False, detail, _explain(problems), fixable)


def _vocab_checks(path: Path, header: GGUFHeader, folder: Path | None) -> tuple[list[Check], list[str]]:
    with contextlib.ExitStack() as stack:
        try:
            vocab = stack.enter_context(open_vocab(path))
        except ValueError as exc:
            a = analyse(path, header=header)  # what the metadata alone says
            checks = _analysis_checks(a)
            checks.append(Check("llama.cpp loads the vocabulary", False, str(exc), f"llama.cpp cannot load it: {exc}"))
        else:
            a = analyse(path, vocab=vocab, header=header)
            checks = _analysis_checks(a)
            checks.append(_sample_check(a, vocab, folder))
    notes = [p.message + (REPAIR_RECORDS if p.repairable else "") for p in a.problems if p.severity == "note"]
    return checks, notes


def _of(a: Analysis, *kinds: str) -> list[Problem]:
    return [p for p in a.problems if p.kind in kinds and p.severity == "error"]


def _analysis_checks(a: Analysis) -> list[Check]:
    checks: list[Check] = []
    if a.tokens is None:
        return [_failed("vocabulary", "none", _of(a, "no-vocabulary"))]
    kind = TOKENIZER_KINDS.get(a.tokenizer_model or "", "unknown tokenizer")
    bad_types = _of(a, "no-token-types")
    checks.append(
        Check("vocabulary", not bad_types, f"{a.n_tokens:,} tokens, {kind} ({a.tokenizer_model})")
        if not bad_types
        else _failed("vocabulary", f"{a.n_tokens:,} tokens, no token types", bad_types)
    )
    pre_problems = _of(a, "no-pre-tokenizer")
    pre = a.pre or "not set"
    if a.tokenizer_model == "llama" and not a.pre:
        pre += " (SentencePiece needs none)"
    checks.append(_failed("pre-tokenizer", pre, pre_problems) if pre_problems else Check("pre-tokenizer", True, pre))
    checks.append(_format_check(a))
    missing = _of(a, "missing-format-tokens")
    if missing:
        checks.append(_failed("MathCoder tokens", missing[0].message.split(" (")[0], missing))
    if not a.loaded:
        return checks
    present = len(a.token_checks)
    if present:
        not_special = _of(a, "not-a-special-token")
        detail = ", ".join(p.token or "" for p in not_special) or f"{present} tokens"
        checks.append(
            _failed("special tokens are single ids", detail, not_special)
            if not_special
            else Check("special tokens are single ids", True, detail)
        )
        injectable = _of(a, "injectable-token")
        detail = ", ".join(p.token or "" for p in injectable) or "none become the token"
        checks.append(
            _failed("…and plain text when not parsed", detail, injectable)
            if injectable
            else Check("…and plain text when not parsed", True, detail)
        )
    checks.append(_end_check(a))
    return checks


def _format_check(a: Analysis) -> Check:
    problems = _of(a, *_FORMAT_KINDS)
    s = a.token_set
    found = f"{s.short} found" if s else "no known prompt tokens"
    if a.recorded_format in FORMATS:
        detail = f"{a.recorded_format} (recorded; {found})"
    elif a.recorded_format is None:
        detail = f"{a.effective_format} (not recorded: detected; {found})"
    else:
        detail = f"{a.recorded_format!r} recorded: unknown; {found}"
    blocking = [p for p in problems if p.kind != "missing-format-tokens"]
    return _failed("prompt format", detail, blocking) if blocking else Check("prompt format", True, detail)


def _end_check(a: Analysis) -> Check:
    problems = _of(a, "no-end-of-turn")
    s = a.token_set
    if s is None:
        return Check("end of turn", True, "not checked: no known prompt tokens")
    if problems:
        detail = f"{s.end} does not end generation" if a.end_id is not None else f"no {s.end} in the vocabulary"
        return _failed("end of turn", detail, problems)
    how = "recorded" if a.recorded_eot == a.end_id else ("the EOS" if not s.records_eot else "not recorded")
    return Check("end of turn", True, f"{s.end} (id {a.end_id}) ends generation ({how})")


def _sample_check(a: Analysis, vocab, folder: Path | None) -> Check:  # noqa: ANN001 - a LlamaVocabulary
    from mathcoder_local.convert.reference_tokenizer import has_reference_tokenizer, reference_tokenizer

    name = "sample transcript = HF tokenizer"
    if folder is None or not has_reference_tokenizer(folder):
        return Check(name, True, "skipped: no checkpoint to compare with")
    sample = SAMPLES[a.token_set.name] if a.token_set else SAMPLE_TORA
    ours = vocab.tokenize(sample, special=True, bos=True)
    theirs = reference_tokenizer(folder)(sample)
    if ours == theirs:
        return Check(name, True, f"{len(ours)} ids identical")
    from mathcoder_local.convert.vocab_bpe import first_mismatch

    first = first_mismatch(ours, theirs)
    return Check(
        name,
        False,
        f"differ at position {first}",
        f"llama.cpp tokenizes the sample transcript differently from the checkpoint's tokenizer from token {first} "
        f"on (llama.cpp {ours[first : first + 4]}…, Hugging Face {theirs[first : first + 4]}…): the model would "
        f"read text it was not trained on{'; check the pre-tokenizer' if a.tokenizer_model == 'gpt2' else ''}",
    )
