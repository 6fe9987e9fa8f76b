"""Checking a written GGUF: structure from its own metadata, and its vocabulary through llama.cpp itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mathcoder_local.convert.plan import CODELLAMA_ROPE_BASE, CODELLAMA_VOCAB
from mathcoder_local.convert.writer import SOURCE_PATH_KEY

from mathcoder_local.engine.llama import silence_native_stderr
from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMAT_METADATA_KEY
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

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


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _field(reader, key: str):
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def _structure_checks(reader) -> tuple[list[Check], dict]:
    checks: list[Check] = []
    arch = _field(reader, "general.architecture")
    checks.append(Check("architecture", arch == "llama", str(arch)))
    keys = {
        k: _field(reader, f"llama.{k}")
        for k in (
            "context_length",
            "embedding_length",
            "block_count",
            "feed_forward_length",
            "attention.head_count",
            "attention.head_count_kv",
            "rope.freq_base",
            "attention.layer_norm_rms_epsilon",
        )
    }
    missing = [k for k, v in keys.items() if v is None]
    checks.append(
        Check("architecture keys", not missing, "missing " + ", ".join(missing) if missing else "all present")
    )
    if missing:
        return checks, keys
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    e, ff, layers = keys["embedding_length"], keys["feed_forward_length"], keys["block_count"]
    heads, kv_heads = keys["attention.head_count"], keys["attention.head_count_kv"]
    kv = e // heads * kv_heads
    expected = {"token_embd.weight": (n_vocab, e), "output_norm.weight": (e,)}
    for i in range(layers):
        for name, shape in (
            ("attn_norm", (e,)), ("attn_q", (e, e)), ("attn_k", (kv, e)), ("attn_v", (kv, e)),
            ("attn_output", (e, e)), ("ffn_norm", (e,)), ("ffn_gate", (ff, e)), ("ffn_up", (ff, e)),
            ("ffn_down", (e, ff)),
        ):  # fmt: skip
            expected[f"blk.{i}.{name}.weight"] = shape
    actual = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    if "output.weight" in actual:
        expected["output.weight"] = (n_vocab, e)
    checks.append(Check("tensor count", len(actual) == len(expected), f"{len(actual)} (expected {len(expected)})"))
    wrong = [n for n, s in expected.items() if actual.get(n) != s]
    checks.append(Check("tensor shapes", not wrong, f"{len(wrong)} wrong, e.g. {wrong[0]}" if wrong else "all match"))
    return checks, keys


def verify_gguf(path: str | Path, checkpoint: str | Path | None = None) -> tuple[list[Check], list[str]]:
    """(checks, warnings) for the GGUF at `path`; `checkpoint` (or the source path the GGUF records) gives
    the config and the HF tokenizer to compare with."""
    import gguf

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist")
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a readable GGUF"
        raise UserError(f"{path} is not a readable GGUF file: {exc}") from None
    checks, keys = _structure_checks(reader)
    warnings: list[str] = []
    recorded = _field(reader, SOURCE_PATH_KEY)
    folder = Path(checkpoint) if checkpoint else (Path(recorded) if recorded and Path(recorded).is_dir() else None)
    tokens = list(reader.fields["tokenizer.ggml.tokens"].contents())
    rope = keys.get("rope.freq_base")
    if folder is not None and (folder / "config.json").is_file():
        config = json.loads((folder / "config.json").read_text())
        want_ctx = int(config.get("max_position_embeddings", 4096))
        checks.append(Check("context length", keys.get("context_length") == want_ctx, f"{keys.get('context_length')}"))
        want_rope = float(config.get("rope_theta") or 10000.0)
        detail = (
            "missing"
            if rope is None
            else f"{rope:g}"
            + ("" if abs(rope - want_rope) < 1e-6 * want_rope else f" (config.json: {want_rope:g}; overridden)")
        )
        checks.append(Check("rope base", rope is not None, detail))
    else:
        checks.append(Check("context length", keys.get("context_length") is not None, f"{keys.get('context_length')}"))
        checks.append(Check("rope base", rope is not None, f"{rope:g}" if rope is not None else "missing"))
    if len(tokens) == CODELLAMA_VOCAB and rope is not None and abs(rope - CODELLAMA_ROPE_BASE) > 1:
        warnings.append(
            f"WARNING: CodeLlama vocabulary ({CODELLAMA_VOCAB}) with rope base {rope:g}; CodeLlama fine-tunes need "
            f"{CODELLAMA_ROPE_BASE:g}. Reconvert with --rope-freq-base {CODELLAMA_ROPE_BASE:g} if this is one."
        )
    checks += _vocab_checks(path, tokens, _field(reader, FORMAT_METADATA_KEY), folder)
    return checks, warnings


def _vocab_checks(path: Path, tokens: list[str], fmt: str | None, folder: Path | None) -> list[Check]:
    import llama_cpp

    checks = []
    try:
        with silence_native_stderr():  # llama.cpp logs context warnings for vocab-only loads
            llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    except ValueError as exc:
        return [Check("llama.cpp loads the vocabulary", False, str(exc))]
    index = {t: i for i, t in enumerate(tokens)}
    present = [t for t in MATHCODER_TOKENS if t in index]
    if fmt == "mathcoder" and len(present) != len(MATHCODER_TOKENS):
        checks.append(Check("MathCoder tokens", False, f"only {len(present)} of 8 in the vocabulary"))
    bad_special, bad_plain = [], []
    for text in present:
        if llm.tokenize(text.encode(), add_bos=False, special=True) != [index[text]]:
            bad_special.append(text)
        if llm.tokenize(text.encode(), add_bos=False, special=False) == [index[text]]:
            bad_plain.append(text)
    if present:
        checks.append(
            Check("special tokens are single ids", not bad_special, ", ".join(bad_special) or f"{len(present)} tokens")
        )
        checks.append(
            Check("…and plain text when not parsed", not bad_plain, ", ".join(bad_plain) or "none become the token")
        )
    if folder is not None and (folder / "tokenizer.model").is_file():
        from mathcoder_local.convert.reference_tokenizer import reference_tokenizer

        sample = SAMPLE_MATHCODER if present else SAMPLE_TORA
        ours = llm.tokenize(sample.encode(), add_bos=True, special=True)
        theirs = reference_tokenizer(folder)(sample)
        first = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs))
        )
        same = ours == theirs
        checks.append(
            Check(
                "sample transcript = HF tokenizer",
                same,
                f"{len(ours)} ids identical" if same else f"differ at position {first}",
            )
        )
    else:
        checks.append(Check("sample transcript = HF tokenizer", True, "skipped: no checkpoint to compare with"))
    llm.close()
    return checks
