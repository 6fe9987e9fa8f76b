"""Parity with the reference implementation for the byte-level BPE models: transformers' Qwen2ForCausalLM
(tied and untied embeddings) and LlamaForCausalLM with a DeepSeek-style tokenizer.json, prompts tokenized by
the HF fast tokenizer, logits from llama.cpp.

Tolerances (relative = max |difference| / max |reference logit|), measured on these random-weight models over
253–318 prompt positions: f32 4.6e-4 – 5.4e-4 (Qwen2) and 1.0e-3 (Llama), argmax identical everywhere; f16 up to
1.6e-3 with 99.2–100 % argmax agreement; q8_0 2.0e-2 – 3.4e-2 with 94.0–97.5 % (random models have flat logits,
so rounding flips close calls). The same f32 GGUF with its biases zeroed is off by 1.3.
"""

from __future__ import annotations

import numpy as np
import pytest
from mathcoder_local.convert import convert_checkpoint, make_plan

torch = pytest.importorskip("torch", reason="parity tests need torch (CPU)")
transformers = pytest.importorskip("transformers", reason="parity tests need transformers")

# (relative max difference, share of positions whose argmax agrees)
TOLERANCE = {"f32": (2e-3, 1.0), "f16": (4e-3, 0.98), "q8_0": (0.1, 0.9)}

SPECS = {
    "qwen2-tied-gqa": dict(architecture="qwen2", tie_word_embeddings=True, num_heads=4, num_kv_heads=2,
                           rope_theta=10000.0, max_position_embeddings=4096, rms_norm_eps=1e-6, vocab_padding=29),
    "qwen2-untied-bf16": dict(architecture="qwen2", num_heads=8, num_kv_heads=2, rope_theta=1e6, rms_norm_eps=1e-6,
                              max_position_embeddings=32768, dtype="bf16", shards=2, seed=7),
    "llama-deepseek-bpe": dict(tokenizer="deepseek-llm", num_heads=8, num_kv_heads=2, max_position_embeddings=4096,
                               vocab_padding=16, seed=8),
}  # fmt: skip

SYSTEM = "Please integrate natural language reasoning with programs to solve the problem."
_TURNS = [
    ("A warehouse holds 48213 boxes with 317 items each. How many items are there?",
     "```python\nprint(48213 * 317)\n```\n```output\n15283521\n```\nThe answer is $\\boxed{15283521}$."),
    ("And if 1/3 of them are sold?", "$15283521 - 5094507 = 10189014$ remain."),
    ("Is that even — yes or no?", "Yes."),
    ("Thanks! Now divide it by 7.", None),
]  # fmt: skip


def prompt(spec: dict) -> str:
    """The model's own prompt format: ChatML for Qwen2, DeepSeek's `User: … Assistant:` with its sentence tokens."""
    qwen = spec.get("architecture") == "qwen2"
    out = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n" if qwen else ""
    for user, answer in _TURNS:
        if qwen:
            out += f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
            out += f"{answer}<|im_end|>\n" if answer else ""
        else:
            out += f"User: {user}\n\nAssistant:" + (f" {answer}<｜end▁of▁sentence｜>" if answer else "")
    return out


def llama_cpp_logits(path, ids: list[int]) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(str(path), n_ctx=1024, logits_all=True, verbose=False)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out


@pytest.fixture(scope="module")
def reference():
    """(folder, ids, reference logits) per spec, computed once for all output types."""
    made: dict = {}

    def get(make_checkpoint, name):
        if name not in made:
            spec = SPECS[name]
            folder = make_checkpoint(**spec)
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
            ids = tokenizer(prompt(spec))["input_ids"]
            special = set(tokenizer.get_added_vocab().values())
            assert len(ids) >= 64 and sum(i in special for i in ids) >= 4  # control tokens are part of the prompt
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=torch.float32, attn_implementation="eager"
            )
            assert type(model).__name__ == ("Qwen2" if spec.get("architecture") == "qwen2" else "Llama") + "ForCausalLM"
            with torch.no_grad():
                made[name] = folder, ids, model(torch.tensor([ids])).logits[0].float().numpy()
        return made[name]

    return get


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("outtype", ["f32", "f16", "q8_0"])
def test_logits_match_transformers(make_checkpoint, reference, tmp_path, name, outtype):
    folder, ids, want = reference(make_checkpoint, name)
    path, checks, _ = convert_checkpoint(make_plan(str(folder), outtype=outtype, outfile=tmp_path / "m.gguf"))
    ours = llama_cpp_logits(path, ids)
    relative = np.abs(ours - want).max() / np.abs(want).max()
    agree = (ours.argmax(-1) == want.argmax(-1)).mean()
    print(f"{name} {outtype}: relative {relative:.2e}, argmax agrees {agree:.3f} over {len(ids)} positions")
    max_relative, min_agree = TOLERANCE[outtype]
    assert relative <= max_relative, f"{outtype}: relative max difference {relative:.2e}"
    assert agree >= min_agree, f"{outtype}: argmax agrees at {agree:.3f} of positions"


def test_dropping_the_biases_is_caught(make_checkpoint, reference, tmp_path):
    """The biases matter: a GGUF written without them (zeroed) misses the tolerance by far."""
    folder, ids, want = reference(make_checkpoint, "qwen2-tied-gqa")
    plan = make_plan(str(folder), outtype="f32", outfile=tmp_path / "m.gguf")
    for t in plan.tensors:
        if t.gguf_name.endswith(".bias"):
            zeros = np.zeros(t.shape, np.float32).tobytes()
            t.source.read, t.source.span, t.source.dtype = (lambda z=zeros: z), None, "f32"
    from mathcoder_local.convert.writer import write_gguf

    ours = llama_cpp_logits(write_gguf(plan), ids)
    relative = np.abs(ours - want).max() / np.abs(want).max()
    print(f"biases zeroed: relative {relative:.2e}")
    assert relative > 20 * TOLERANCE["f32"][0]
