"""The solve loop through the real engine, real llama.cpp and the real executor, steered by a script."""

from __future__ import annotations

from mathcoder_local.devtools.scripted import ScriptedTokens, mathcoder_script, tora_script
from mathcoder_local.events import (
    BlockEnded,
    BlockStarted,
    Finished,
    Rounds,
    TextDelta,
)
from mathcoder_local.formats import MathCoderFormat, ToraFormat
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver

QUESTION = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
GOOD = [
    ("text", "Multiply boxes by items per box."),
    ("code", "boxes = 48213\nper_box = 317\nboxes * per_box"),
    ("text", "There are \\boxed{15283521} items."),
    ("text", "15283521"),
]


def run(engine, fmt, script, **config):
    """Solve QUESTION with the model's tokens scripted; `config` fields on top of no grammar."""
    settings = SolveConfig(**{"grammar": False, **config})
    solver = Solver(engine, fmt, settings, logits_processor=ScriptedTokens(script, engine.eos_id))
    events = list(solver.solve(QUESTION))
    assert isinstance(events[-1], Finished)
    return events, events[-1]


def executions(events):
    return [ev.block for ev in events if isinstance(ev, BlockEnded) and ev.block.kind == "execution"]


def test_mathcoder_solve_runs_the_code_and_answers(mathcoder_engine):
    e = mathcoder_engine
    events, done = run(e, MathCoderFormat(e), mathcoder_script(e, GOOD))
    assert done.finish_reason == "answer" and done.answer == "15283521"
    assert [b.kind for b in done.blocks] == ["text", "code", "execution", "text", "text"]
    assert done.blocks[2].content == "15283521"
    ran = executions(events)
    assert len(ran) == 1 and ran[0].result is not None and ran[0].result.error is None
    assert ran[0] == done.blocks[2]  # the result travels on its block, into Finished too
    # the execution block starts when the code is handed to the executor and ends with its result
    i = next(i for i, ev in enumerate(events) if isinstance(ev, BlockEnded) and ev.block.kind == "execution")
    assert events[i - 1] == BlockStarted("execution")
    assert done.to_dict()["blocks"][2]["error"] is None and done.to_dict()["blocks"][2]["timed_out"] is False
    streamed = "".join(ev.text for ev in events if isinstance(ev, TextDelta) and ev.kind == "code")
    assert streamed == GOOD[1][1]


def test_every_token_is_evaluated_once(mathcoder_engine):
    e = mathcoder_engine
    blocks = [
        ("text", "Step one."),
        ("code", "a = 5"),
        ("code", "b = a * 7\nb"),
        ("code", "print(a + b)"),
        ("text", "40"),
    ]
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks))
    s = done.stats
    assert s.code_blocks == 3
    # the final end-of-message token is sampled but never needs evaluating
    assert s.evaluated_tokens == s.context_tokens - 1
    assert s.context_tokens > s.prompt_tokens + s.generated_tokens  # execution blocks were appended too
    assert s.generated_tokens == len(mathcoder_script(e, blocks))


def test_grammar_on_gives_the_same_solve(mathcoder_engine):
    e = mathcoder_engine
    _, plain = run(e, MathCoderFormat(e), mathcoder_script(e, GOOD))
    _, constrained = run(e, MathCoderFormat(e), mathcoder_script(e, GOOD), grammar=True)
    assert constrained.blocks == plain.blocks and constrained.answer == plain.answer


def test_error_timeout_and_empty_blocks_are_written_back(mathcoder_engine):
    e = mathcoder_engine
    blocks = [
        ("code", "x = 1"),
        ("code", "undefined_name + 1"),
        ("code", "while True:\n    pass"),
        ("code", "print('still here')"),
        ("text", "done"),
    ]
    events, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks), timeout=1)
    results = executions(events)
    assert [r.result.error for r in results] == [None, "NameError", "Timeout", None]
    assert [r.result.status for r in results] == ["ok", "error", "timeout", "ok"]
    assert results[0].content == "<empty_execution>"
    assert "NameError: name 'undefined_name' is not defined" in results[1].content
    assert results[2].result.timed_out and "TimeoutError" in results[2].content
    assert results[3].content == "still here"
    assert done.finish_reason == "answer" and done.answer == "done"


def test_mathcoder_round_limit_is_16_blocks(mathcoder_engine):
    e = mathcoder_engine
    blocks = [("text", f"Thinking {i}.") for i in range(20)]
    events, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks))
    assert done.finish_reason == "max_blocks"
    assert sum(b.kind == "text" for b in done.blocks) == 16
    counts = [ev.rounds for ev in events if isinstance(ev, BlockEnded)]
    assert counts == [Rounds(i, 16, "blocks") for i in range(1, 17)]
    assert done.rounds == Rounds(16, 16, "blocks")


def test_last_allowed_block_is_still_executed(mathcoder_engine):
    e = mathcoder_engine
    blocks = [("text", "a"), ("code", "2 + 2"), ("text", "never")]
    _, done = run(e, MathCoderFormat(e, max_rounds=2), mathcoder_script(e, blocks))
    assert done.finish_reason == "max_blocks"
    assert [b.kind for b in done.blocks] == ["text", "code", "execution"]


def test_tora_solve_and_its_four_call_limit(tora_engine):
    e = tora_engine
    step = "Compute.\n```python\nprint({n} * 2)\n```\n```output"
    script = tora_script(e, [step.format(n=n) for n in range(6)])
    events, done = run(e, ToraFormat(e), script)
    results = [b.content for b in executions(events)]
    assert results == ["0", "2", "4", "6"]
    assert done.rounds == Rounds(4, 4, "calls")
    assert [ev.rounds.used for ev in events if isinstance(ev, BlockEnded) and ev.block.kind == "execution"] == [
        1,
        2,
        3,
        4,
    ]
    assert done.finish_reason == "max_blocks" and done.answer == "6"
    # with no round left, the model's last "```output" token and the output block appended after it are
    # part of the transcript but never need evaluating
    last_output = len(ToraFormat(e).execution_tokens("6"))
    assert done.stats.evaluated_tokens == done.stats.context_tokens - last_output - 1


def test_tora_solve_to_the_answer(tora_engine):
    e = tora_engine
    script = tora_script(
        e, ["Let me compute.\n```python\nprint(48213 * 317)\n```\n```output", "So the total is \\boxed{15283521}."]
    )
    _, done = run(e, ToraFormat(e), script)
    assert done.finish_reason == "answer" and done.answer == "15283521"
    assert [b.kind for b in done.blocks] == ["text", "code", "execution", "text"]
    assert done.stats.evaluated_tokens == done.stats.context_tokens - 1


def test_token_limits(mathcoder_engine):
    e = mathcoder_engine
    long_block = [("text", "word " * 200)]
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, long_block), max_block_tokens=50)
    assert done.finish_reason == "max_block_tokens" and done.stats.generated_tokens == 51
    many = [("text", "ab " * 10)] * 10
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, many), max_tokens=100)
    assert done.finish_reason == "max_tokens" and done.stats.generated_tokens == 100
    assert done.blocks[-1].kind == "text"  # the open block is closed and kept


def test_context_full(mathcoder_gguf):
    from mathcoder_local.engine.llama import LlamaEngine

    e = LlamaEngine(mathcoder_gguf, n_ctx=256, n_threads=2)
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, [("text", "go on " * 300)]))
    assert done.finish_reason == "context_full"
    # the KV cache is full; the last sampled token is kept in the answer but could not be evaluated
    assert done.stats.evaluated_tokens == 256 and done.stats.context_tokens == 257


def test_cancel(mathcoder_engine):
    e = mathcoder_engine
    seen = []
    solver = Solver(
        e,
        MathCoderFormat(e),
        SolveConfig(grammar=False),
        logits_processor=ScriptedTokens(mathcoder_script(e, GOOD), e.eos_id),
    )
    for ev in solver.solve(QUESTION, should_stop=lambda: len(seen) > 5):
        seen.append(ev)
    assert seen[-1].finish_reason == "cancelled"


def test_round_limit_from_the_configuration(mathcoder_engine):
    e = mathcoder_engine
    blocks = [("text", "a"), ("code", "2 + 2"), ("text", "never")]
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks), max_rounds=2)
    assert done.finish_reason == "max_blocks" and done.rounds == Rounds(2, 2, "blocks")


def test_the_configuration_is_validated(mathcoder_engine):
    import pytest

    from mathcoder_local.errors import UserError

    e = mathcoder_engine
    for bad, option in (
        ({"temperature": -1}, "--temperature"),
        ({"top_p": 0}, "--top-p"),
        ({"max_tokens": 0}, "--max-tokens"),
        ({"timeout": 0}, "--timeout"),
        ({"format": "nope"}, "format"),
    ):
        with pytest.raises(UserError, match=option):
            Solver(e, MathCoderFormat(e), SolveConfig(**bad))


def test_grammar_follows_the_format_by_default(mathcoder_engine, tora_engine):
    import pytest

    from mathcoder_local.errors import UserError

    assert Solver(mathcoder_engine, MathCoderFormat(mathcoder_engine)).grammar is not None
    assert Solver(tora_engine, ToraFormat(tora_engine)).grammar is None
    with pytest.raises(UserError, match="has no grammar"):
        Solver(tora_engine, ToraFormat(tora_engine), SolveConfig(grammar=True))


def test_solve_closes_the_engine_it_loaded(mathcoder_gguf, monkeypatch):
    """`solve()` owns the engine it loads: closed when the events end and when the caller stops early."""
    import mathcoder_local.solve as solve_module
    from mathcoder_local.engine.llama import LlamaEngine

    closed = []

    class Recording(LlamaEngine):
        def close(self) -> None:
            closed.append(True)
            super().close()

    monkeypatch.setattr(solve_module, "load_engine", lambda *a, **k: Recording(mathcoder_gguf, n_ctx=512, n_threads=2))
    config = SolveConfig(grammar=False, max_tokens=8)
    events = list(solve_module.solve(QUESTION, config=config))
    assert isinstance(events[-1], Finished) and closed == [True]
    stream = solve_module.solve(QUESTION, config=config)
    next(stream)  # the first event, then the caller walks away
    stream.close()
    assert closed == [True, True]
