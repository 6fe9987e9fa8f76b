"""The catalog (models/catalog.json): sourced values, and sizes computed with llama.cpp's own type rule."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from mathcoder_local.store.catalog import QUANTS, Architecture, load_catalog


def raw():
    return json.loads((resources.files("mathcoder_local.models") / "catalog.json").read_text(encoding="utf-8"))


def test_the_issue_s_families_are_all_there():
    names = {e.name for e in load_catalog().entries}
    expected = {f"MathCoder-L-{s}" for s in ("7B", "13B", "70B")} | {f"MathCoder-CL-{s}" for s in ("7B", "13B", "34B")}
    expected |= {f"MuMath-Code-L-{s}" for s in ("7B", "13B", "70B")}
    expected |= {f"MuMath-Code-CL-{s}" for s in ("7B", "13B", "34B", "70B")}
    expected |= {"ToRA-7B", "ToRA-13B", "ToRA-70B", "ToRA-Code-7B", "ToRA-Code-13B", "ToRA-Code-34B"}
    assert names == expected


def test_every_value_names_its_source():
    data = raw()
    sources = set(data["sources"])
    for model in data["models"]:
        for key in ("hub_id", "base", "gsm8k", "math", "licence", "rope_freq_base"):
            assert key in model, (model["name"], key)
        cited = model["source"]
        for key in ("base", "prompt_format"):
            assert cited.get(key, "").split(" ")[0].rstrip(";") in sources, (model["name"], key)
        if model["hub_id"] is not None:
            assert cited["hub_id"] in sources
        if model["gsm8k"] is not None:
            assert cited["scores"] in sources
        if model["licence"] is not None:
            assert cited["licence"] in sources
        if model["rope_freq_base"] is not None:
            assert cited["rope_freq_base"].split(";")[0] in sources
        # a value left null says why, or its repository has no card to say it
        if model["hub_id"] is None or model["rope_freq_base"] is None:
            assert model.get("note")
    for spec in data["architectures"].values():
        assert spec["source"].split(" ")[0] in sources


def test_published_scores_and_bases():
    catalog = load_catalog()
    cl7 = catalog.get("MathCoder-CL-7B")
    assert (cl7.gsm8k, cl7.math, cl7.base, cl7.hub_id) == (67.8, 30.2, "CodeLlama", "MathLLMs/MathCoder-CL-7B")
    mu = catalog.get("MuMath-Code-CL-7B")
    assert (mu.gsm8k, mu.math, mu.prompt_format, mu.hub_id) == (82.6, 52.4, "tora", "weihao1/MuMath-Code-CL-7B")
    tora = catalog.get("llm-agents/tora-code-34b-v1.0")  # by hub id too
    assert (tora.name, tora.gsm8k, tora.math) == ("ToRA-Code-34B", 80.7, 51.0)
    for entry in catalog.entries:
        assert entry.prompt_format == ("mathcoder" if entry.family == "MathCoder" else "tora")
        if entry.base == "CodeLlama" and entry.rope_freq_base is not None:
            assert entry.rope_freq_base == 1e6  # the base MAmmoTH-Coder lost half its MATH accuracy without
        if entry.base == "Llama-2":
            assert entry.rope_freq_base == 1e4
    assert catalog.find("mathcoder-cl-7b") is cl7 and catalog.find("nope") is None


@pytest.mark.parametrize(
    "name, published",
    [
        # file sizes of published GGUFs made by llama.cpp's quantizer (RichardErkhov/MathLLMs_-_MathCoder-*-gguf)
        ("MathCoder-CL-7B", 4.08e9),
        ("MathCoder-L-13B", 7.87e9),
    ],
)
def test_q4_k_m_size_matches_published_files(name, published):
    size = load_catalog().get(name).size_bytes("q4_k_m")
    assert abs(size - published) / published < 0.01


def test_size_rule_is_llama_cpp_s(make_checkpoint, tmp_path):
    """Every quantization's tensor bytes, computed, equal those of the file llama.cpp's quantizer writes."""
    gguf = pytest.importorskip("gguf")
    from mathcoder_local.convert import convert_checkpoint, make_plan

    folder = make_checkpoint(hidden_size=256, intermediate_size=512, num_layers=8, num_heads=4, num_kv_heads=2)
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    arch = Architecture("test", 256, 512, 8, 4, 2, vocab, "test")
    for quant in ("q8_0", "q6_k", "q4_k_m", "f16"):
        out = tmp_path / f"m.{quant}.gguf"
        convert_checkpoint(make_plan(str(folder), outtype=quant, outfile=out), force=True)
        written = sum(int(t.n_bytes) for t in gguf.GGUFReader(str(out)).tensors)
        assert written == arch.size_bytes(quant), quant


def test_sizes_for_every_quant():
    entry = load_catalog().get("ToRA-70B")
    sizes = entry.sizes()
    assert list(sizes) == list(QUANTS)
    assert sizes["f32"] > sizes["f16"] > sizes["q8_0"] > sizes["q6_k"] > sizes["q5_k_m"] > sizes["q4_k_m"]
    assert 68e9 < entry.parameters < 70e9
