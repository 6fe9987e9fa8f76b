"""Parity with the reference implementation: transformers' LlamaForCausalLM and LlamaTokenizer.

Tolerances (relative = max |difference| / max |reference logit|), measured on these random-weight models:
f32 reaches 6e-4 – 8e-4 (llama.cpp's own converter: about 7e-4), f16 up to 2.0e-3, q8_0 up to 7.2e-2 with
94 – 97 % argmax agreement (random models have flat logits, so rounding flips close calls).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mathcoder_local.convert import convert_checkpoint, make_plan
from mathcoder_local.convert.reference_tokenizer import reference_tokenizer
from mathcoder_local.convert.verify import SAMPLE_MATHCODER

from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS

torch = pytest.importorskip("torch", reason="parity tests need torch (CPU)")
transformers = pytest.importorskip("transformers", reason="parity tests need transformers 4.x")
if int(transformers.__version__.split(".")[0]) >= 5:
    pytest.skip("transformers 5 replaced the SentencePiece LlamaTokenizer MathCoder used", allow_module_level=True)

SHARED_OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mathcoder_outputs"
TOLERANCE = {"f32": (2e-3, 1.0), "f16": (5e-3, 0.97), "q8_0": (0.12, 0.85)}  # (relative max diff, argmax share)


def llama_cpp_logits(path: Path, ids: list[int]) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(str(path), n_ctx=512, logits_all=True, verbose=False)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out


@pytest.mark.parametrize(
    "spec",
    [
        dict(),
        dict(num_heads=8, num_kv_heads=2, rope_theta=1e6, seed=1),
        dict(weights="bin", dtype="bf16", shards=2, seed=3),
        dict(vocab_padding=24, tie_word_embeddings=True, seed=4),
    ],
    ids=["mha", "gqa-rope1e6", "bin-bf16", "padded-tied"],
)
@pytest.mark.parametrize("outtype", ["f32", "f16", "q8_0"])
def test_logits_match_transformers(make_checkpoint, tmp_path, spec, outtype):
    folder = make_checkpoint(**spec)
    ids = reference_tokenizer(folder)(SAMPLE_MATHCODER)[:96]
    added = set(json.loads((folder / "added_tokens.json").read_text()).values())
    assert len(ids) >= 64 and len(added & set(ids)) >= 6  # special tokens are part of the prompt
    model = transformers.LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    with torch.no_grad():
        reference = model(torch.tensor([ids])).logits[0].float().numpy()
    path, checks, _ = convert_checkpoint(make_plan(str(folder), outtype=outtype, outfile=tmp_path / "m.gguf"))
    ours = llama_cpp_logits(path, ids)
    relative = np.abs(ours - reference).max() / np.abs(reference).max()
    agree = (ours.argmax(-1) == reference.argmax(-1)).mean()
    max_relative, min_agree = TOLERANCE[outtype]
    assert relative <= max_relative, f"{outtype}: relative max difference {relative:.2e}"
    assert agree >= min_agree, f"{outtype}: argmax agrees at {agree:.3f} of positions"


def transcript(row: dict) -> str:
    """A MathCoder transcript as the model saw it: the prompt, then every block in its special tokens."""
    blocks = row["debug_result"]
    role = lambda b: b.get("role") or b.get("type")  # noqa: E731 - the released files use both keys
    system = next((b["content"] for b in blocks if role(b) == "system"), "")
    user = next((b["content"] for b in blocks if role(b) == "user"), "")
    text = (
        f"<|system|><|text|>{system}<|endofblock|><|endofmessage|><|user|><|text|>{user}<|endofblock|>"
        "<|endofmessage|><|assistant|>"
    )
    for b in blocks:
        if role(b) in ("text", "code", "execution"):
            text += f"<|{role(b)}|>{b['content']}<|endofblock|>"
    return text + "<|endofmessage|>"


@pytest.mark.skipif(not SHARED_OUTPUTS.is_dir(), reason="../shared/data/mathcoder_outputs is absent")
def test_tokenization_matches_hf_on_the_real_transcripts(make_checkpoint, tmp_path):
    import llama_cpp

    folder = make_checkpoint(added_tokens_style="4.31")
    path, _, _ = convert_checkpoint(make_plan(str(folder), outtype="f16", outfile=tmp_path / "m.gguf"))
    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    hf = transformers.LlamaTokenizer.from_pretrained(str(folder), legacy=True)
    ours_reference = reference_tokenizer(folder)
    rows = 0
    for file in sorted(SHARED_OUTPUTS.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            text = transcript(json.loads(line))
            want = hf(text)["input_ids"]
            assert llm.tokenize(text.encode(), add_bos=True, special=True) == want, f"{file.name} row {rows}"
            assert ours_reference(text) == want
            rows += 1
    assert rows >= 2500
    # and the block tokens written inside an execution output stay text when special parsing is off
    for token in SPECIAL_TOKENS:
        assert len(llm.tokenize(token.encode(), add_bos=False, special=False)) > 1
