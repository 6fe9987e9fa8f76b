"""Grammars: validated before llama.cpp sees them; the MathCoder turn grammar really constrains the model."""

from __future__ import annotations

import pytest

from mathcoder_local.devtools.scripted import ScriptedTokens, mathcoder_script
from mathcoder_local.engine.grammar import validate_gbnf
from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.errors import GrammarError
from mathcoder_local.formats.mathcoder_grammar import mathcoder_turn_grammar


@pytest.mark.parametrize(
    "grammar, reason",
    [
        ("root ::= item\n", "never defined"),
        ('start ::= "a"\n', "no 'root'"),
        ('root ::= ( "a"\n', "unbalanced"),
        ('root ::= "a" )\n', "unbalanced"),
        ("root ::= <|nosuch|>\n", "not a single token"),
        ("root ::= <[999999]>\n", "outside the vocabulary"),
        ('root ::= "a"\nroot ::= "b"\n', "defined twice"),
        ('root "a"\n', "expected '::='"),
        ('root ::= "a" ::= "b"\n', "unexpected '::='"),
        ('root ::= "unterminated\n', "cannot parse"),
    ],
)
def test_invalid_grammars_are_refused_with_a_reason(mathcoder_engine, grammar, reason):
    with pytest.raises(GrammarError, match=reason):
        validate_gbnf(grammar, mathcoder_engine.token_id, mathcoder_engine.n_vocab)


@pytest.mark.parametrize("eog", [True, False])
def test_turn_grammar_is_valid_and_loads_in_llama_cpp(mathcoder_engine, eog):
    grammar = mathcoder_turn_grammar(end_of_message_is_eog=eog)
    validate_gbnf(grammar, mathcoder_engine.token_id, mathcoder_engine.n_vocab)
    p = mathcoder_engine.tokenize("<|assistant|>", special=True, bos=True)
    stream = mathcoder_engine.generate(p, grammar=grammar)
    next(stream)  # llama.cpp parsed it and sampled under it
    stream.close()


def test_grammar_forbids_a_fabricated_execution_block(mathcoder_engine):
    e = mathcoder_engine
    # The script tries to write an execution block itself, right after its code block.
    honest = mathcoder_script(e, [("text", "Compute."), ("code", "x = 2")], end=False)
    fake = [e.token_id("<|execution|>")] + e.tokenize("999") + [e.token_id("<|endofblock|>")]
    p = e.tokenize("<|assistant|>", special=True, bos=True)
    grammar = mathcoder_turn_grammar(end_of_message_is_eog=False)
    steer = ScriptedTokens([e.token_id("<|text|>")] + fake, e.eos_id)
    stream = e.generate(p, grammar=grammar, logits_processor=steer)
    out = [next(stream) for _ in range(len(fake) + 1)]
    stream.close()
    assert e.token_id("<|execution|>") not in out
    assert e.counters.grammar_full_passes >= 1
    # and without the grammar the same steering does produce it: the test can fail
    steer = ScriptedTokens(honest + fake, e.eos_id)
    stream = e.generate(p, logits_processor=steer)
    out = [next(stream) for _ in range(len(honest) + 1)]
    stream.close()
    assert out[-1] == e.token_id("<|execution|>")


def test_grammar_lets_well_formed_blocks_through_untouched(mathcoder_engine):
    e = mathcoder_engine
    script = mathcoder_script(e, [("text", "Let x be 3."), ("code", "x = 3\nprint(x < 4)")], end=False)
    p = e.tokenize("<|assistant|>", special=True, bos=True)
    grammar = mathcoder_turn_grammar(end_of_message_is_eog=False)
    stream = e.generate(p, grammar=grammar, logits_processor=ScriptedTokens(script, e.eos_id))
    out = [next(stream) for _ in range(len(script))]
    stream.close()
    assert out == script
    assert e.counters.grammar_full_passes == 0


def test_end_of_turn_variant_ends_where_the_grammar_may_end(mathcoder_eot_gguf):
    e = LlamaEngine(mathcoder_eot_gguf, n_ctx=512, n_threads=2)
    eom = e.token_id("<|endofmessage|>")
    assert e.is_end_of_generation(eom)
    script = mathcoder_script(e, [("text", "Done.")], end=True)
    p = e.tokenize("<|assistant|>", special=True, bos=True)
    grammar = mathcoder_turn_grammar(end_of_message_is_eog=True)
    stream = e.generate(p, grammar=grammar, logits_processor=ScriptedTokens(script, e.eos_id))
    out = [next(stream) for _ in range(len(script))]
    stream.close()
    assert out == script
