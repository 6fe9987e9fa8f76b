"""What a format's `StopRules` make a remote engine send and how the answers come back as tokens, with the
server's completions answered here (no server): the requests the block protocol and the stop strings need, and
each way a stretch can end. The formats' own rules are checked too; the end-to-end runs are in
test_engine_remote.py and test_engine_remote_vllm.py."""

from __future__ import annotations

import pytest

from mathcoder_local.engine.base import SamplingParams, StopRules
from mathcoder_local.engine.remote import ServerInfo
from mathcoder_local.engine.remote.openai import OpenAIEngine
from mathcoder_local.engine.remote.tgi import TGIEngine
from mathcoder_local.errors import UserError
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS, MathCoderFormat
from mathcoder_local.formats.mathcoder_grammar import mathcoder_turn_grammar
from mathcoder_local.formats.tora import OUTPUT_STOP, ToraFormat

LLAMA_CPP = ServerInfo(url="http://127.0.0.1:9", kind="openai", dialect="llama.cpp")


class Scripted:
    """Stands in for `_complete`: records each request body and answers with the next scripted choice."""

    def __init__(self, engine: OpenAIEngine, *choices: dict) -> None:
        self.bodies: list[dict] = []
        self._choices = list(choices)
        engine._complete = self  # type: ignore[method-assign]

    def __call__(self, sequence, body):
        self.bodies.append(body)
        return dict(self._choices.pop(0))


def choice(text: str, finish: str = "stop", counted: int | None = None) -> dict:
    return {"text": text, "finish_reason": finish, "_completion_tokens": counted}


def first_answer(engine, prompt, stops, **options) -> list[int]:
    """The tokens of the first request's answer (`generate()` makes the next request when they are used up)."""
    calls: list[list[int]] = []
    step = engine._step

    def recording(*args):
        calls.append(step(*args))
        return calls[-1]

    engine._step = recording
    stream = engine.generate(prompt, stops=stops, **options)
    next(stream)
    stream.close()
    del engine._step
    return calls[0]


@pytest.fixture
def mathcoder(mathcoder_gguf):
    engine = OpenAIEngine(mathcoder_gguf, LLAMA_CPP)
    yield engine, MathCoderFormat(engine)
    engine.close()


# --- the formats' rules ---------------------------------------------------------------------------------


def test_mathcoder_names_its_blocks_and_tora_its_stop_string(mathcoder_engine, tora_engine):
    ids = MathCoderFormat(mathcoder_engine).ids
    rules = MathCoderFormat(mathcoder_engine).stop_rules()
    assert rules.tokens == (ids["<|endofblock|>"], ids["<|endofmessage|>"]) and not rules.strings
    assert rules.block_openers == (ids["<|text|>"], ids["<|code|>"])
    assert (rules.block_end, rules.message_end) == (ids["<|endofblock|>"], ids["<|endofmessage|>"])
    assert rules.specials == tuple(ids[p] for p in SPECIAL_TOKENS)
    assert set(rules.implied_grammar) == {mathcoder_turn_grammar(end_of_message_is_eog=e) for e in (True, False)}
    assert ToraFormat(tora_engine).stop_rules() == StopRules(strings=(OUTPUT_STOP,), stop_follows=("```",))


# --- llama.cpp dialect: blocks opened by control tokens ---------------------------------------------------


def test_block_requests_are_the_block_protocol(mathcoder):
    engine, fmt = mathcoder
    ids, rules = fmt.ids, fmt.stop_rules()
    prompt = fmt.prompt_tokens("What is 2 + 2?")
    server = Scripted(engine, choice("\x02"), choice(" x = 4\x01"), choice("\x03"))
    assert first_answer(engine, prompt, rules, grammar=fmt.grammar()) == [ids["<|code|>"]]
    opened = [*prompt, ids["<|code|>"]]
    body = first_answer(engine, opened, rules)
    assert body == [*engine.text_tokens(" x = 4", after_special=True), ids["<|endofblock|>"]]
    closed = [*opened, *body]
    assert first_answer(engine, closed, rules) == [ids["<|endofmessage|>"]]
    choose, inside, end = server.bodies
    assert choose["max_tokens"] == 2 and inside["max_tokens"] > 2
    assert choose["grammar"] == 'root ::= <|text|> "\\x01" | <|code|> "\\x02" | <|endofmessage|> "\\x03"'
    assert inside["grammar"] == (
        'root ::= body <|endofblock|> "\\x01"\nbody ::= ( [^<\\x01\\x02\\x03] | "<"+ [^<|\\x01\\x02\\x03] )*'
    )
    assert end["grammar"] == choose["grammar"] and "stop" not in choose


def test_a_block_cut_short_is_continued(mathcoder):
    engine, fmt = mathcoder
    ids, rules = fmt.ids, fmt.stop_rules()
    opened = [*fmt.prompt_tokens("q"), ids["<|text|>"]]
    Scripted(engine, choice(" We add", finish="length"))
    assert first_answer(engine, opened, rules) == engine.text_tokens(" We add", after_special=True)


def test_a_server_that_ignores_the_grammar_is_one_line(mathcoder):
    engine, fmt = mathcoder
    Scripted(engine, choice("hello"))
    with pytest.raises(UserError, match="did not follow the block grammar"):
        first_answer(engine, fmt.prompt_tokens("q"), fmt.stop_rules())


def test_only_the_formats_own_grammar_goes_to_a_server(mathcoder):
    engine, fmt = mathcoder
    prompt = fmt.prompt_tokens("q")
    for grammar in fmt.stop_rules().implied_grammar:
        Scripted(engine, choice("\x01"))
        assert first_answer(engine, prompt, fmt.stop_rules(), grammar=grammar) == [fmt.ids["<|text|>"]]
    with pytest.raises(UserError, match="custom grammar"):
        next(engine.generate(prompt, grammar=fmt.grammar()))  # no StopRules: no grammar is implied


# --- llama.cpp dialect: stop strings ----------------------------------------------------------------------


@pytest.fixture
def plain(tora_gguf):
    engine = OpenAIEngine(tora_gguf, LLAMA_CPP)
    yield engine
    engine.close()


def test_a_stop_string_is_kept_and_told_from_the_end_by_the_count(plain):
    prompt = plain.tokenize("<|user|>\nq\n<|assistant|>\n", bos=True)
    code = "```python\nprint(2)\n```\n"
    rules = StopRules(strings=(OUTPUT_STOP,))
    kept = plain.text_tokens(code + OUTPUT_STOP, after_special=False)
    server = Scripted(plain, choice(code, counted=len(kept)))
    assert first_answer(plain, prompt, rules) == kept
    assert server.bodies[0]["stop"] == [OUTPUT_STOP] and "grammar" not in server.bodies[0]
    text = plain.text_tokens("The answer is 2.", after_special=False)
    Scripted(plain, choice("The answer is 2.", counted=len(text)))
    assert first_answer(plain, prompt, rules) == [*text, plain.eos_id]
    Scripted(plain, choice("The answer", finish="length", counted=2))
    assert first_answer(plain, prompt, rules) == plain.text_tokens("The answer", after_special=False)


def test_without_a_count_the_text_before_the_stop_decides(plain):
    """A server that reports no `usage`: a stop string is assumed only after text the rules say it follows."""
    prompt = plain.tokenize("<|user|>\nq\n<|assistant|>\n", bos=True)
    rules = StopRules(strings=(OUTPUT_STOP,), stop_follows=("```",))
    code = "```python\nprint(2)\n```\n"
    Scripted(plain, choice(code), choice("The answer is 2."))
    assert first_answer(plain, prompt, rules) == plain.text_tokens(code + OUTPUT_STOP, after_special=False)
    text = plain.text_tokens("The answer is 2.", after_special=False)
    assert first_answer(plain, prompt, rules) == [*text, plain.eos_id]
    Scripted(plain, choice(code))  # rules without `stop_follows` give no evidence: end of generation
    assert first_answer(plain, prompt, StopRules(strings=(OUTPUT_STOP,))) == [
        *plain.text_tokens(code, after_special=False),
        plain.eos_id,
    ]


def test_the_count_says_which_of_several_stops_ended_it(plain):
    prompt = plain.tokenize("q", bos=True)
    rules = StopRules(strings=("<end>", "```output"))
    for stop in rules.strings:
        kept = plain.text_tokens("x = 1\n" + stop, after_special=False)
        Scripted(plain, choice("x = 1\n", counted=len(kept)))
        assert first_answer(plain, prompt, rules) == kept


def test_stop_tokens_over_a_text_server(mathcoder_eot_gguf):
    engine = OpenAIEngine(mathcoder_eot_gguf, LLAMA_CPP)
    block_end, eom = engine.token_id("<|endofblock|>"), engine.token_id("<|endofmessage|>")
    assert engine.is_end_of_generation(eom) and not engine.is_end_of_generation(block_end)
    rules = StopRules(strings=(OUTPUT_STOP,), tokens=(block_end, eom))
    prompt = engine.tokenize("q", bos=True)
    text = engine.text_tokens("Done.", after_special=False)
    server = Scripted(engine, choice("Done.", counted=len(text)), choice("Done.", counted=len(text) + 1))
    assert first_answer(engine, prompt, rules) == [*text, eom]  # the end of generation the format names
    assert first_answer(engine, prompt, rules) == [*text, block_end]  # a stop token that is not one
    assert server.bodies[0]["stop"] == [OUTPUT_STOP, "<|endofblock|>", "<|endofmessage|>"]
    engine.close()


# --- servers that stop on text: what they are told ---------------------------------------------------------


def test_vllm_and_tgi_stop_on_the_strings_and_the_tokens_text(mathcoder_gguf):
    tgi = TGIEngine(mathcoder_gguf, ServerInfo(url="http://127.0.0.1:9", kind="tgi", dialect="tgi"))
    rules = MathCoderFormat(tgi).stop_rules()
    assert tgi._parameters([1], SamplingParams(), 8, rules)["stop"] == ["<|endofblock|>", "<|endofmessage|>"]
    assert tgi.stop_texts(StopRules(strings=(OUTPUT_STOP,))) == [OUTPUT_STOP]
    tgi.close()
