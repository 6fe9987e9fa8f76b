"""The solve loop through the real engine, real llama.cpp and the real executor, steered by a script."""

from __future__ import annotations

from mathcoder_local.devtools.scripted import ScriptedTokens, mathcoder_script, tora_script
from mathcoder_local.events import (
    BlockEnded,
    BlockStarted,
    ExecutionResult,
    Finished,
    TextDelta,
)
from mathcoder_local.executor.session import ExecutorLimits
from mathcoder_local.formats import MathCoderFormat, ToraFormat
from mathcoder_local.solver import SolveLimits, Solver

QUESTION = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
GOOD = [
    ("text", "Multiply boxes by items per box."),
    ("code", "boxes = 48213\nper_box = 317\nboxes * per_box"),
    ("text", "There are \\boxed{15283521} items."),
    ("text", "15283521"),
]


def run(engine, fmt, script, **kw):
    solver = Solver(engine, fmt, logits_processor=ScriptedTokens(script, engine.eos_id), **kw)
    events = list(solver.solve(QUESTION, **({"should_stop": kw.pop("should_stop")} if "should_stop" in kw else {})))
    assert isinstance(events[-1], Finished)
    return events, events[-1]


def test_mathcoder_solve_runs_the_code_and_answers(mathcoder_engine):
    e = mathcoder_engine
    events, done = run(e, MathCoderFormat(e), mathcoder_script(e, GOOD))
    assert done.finish_reason == "answer" and done.answer == "15283521"
    assert [b.kind for b in done.blocks] == ["text", "code", "execution", "text", "text"]
    assert done.blocks[2].content == "15283521"
    executions = [ev for ev in events if isinstance(ev, ExecutionResult)]
    assert len(executions) == 1 and executions[0].error is None
    # event order around the execution block
    i = events.index(executions[0])
    assert events[i - 1] == BlockStarted("execution") and isinstance(events[i + 1], BlockEnded)
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
    events, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks), executor_limits=ExecutorLimits(timeout=1))
    results = [ev for ev in events if isinstance(ev, ExecutionResult)]
    assert [r.error for r in results] == [None, "NameError", "Timeout", None]
    assert results[0].output == "<empty_execution>"
    assert "NameError: name 'undefined_name' is not defined" in results[1].output
    assert results[2].timed_out and "TimeoutError" in results[2].output
    assert results[3].output == "still here"
    assert done.finish_reason == "answer" and done.answer == "done"


def test_mathcoder_round_limit_is_16_blocks(mathcoder_engine):
    e = mathcoder_engine
    blocks = [("text", f"Thinking {i}.") for i in range(20)]
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, blocks))
    assert done.finish_reason == "max_blocks"
    assert sum(b.kind == "text" for b in done.blocks) == 16


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
    results = [ev.output for ev in events if isinstance(ev, ExecutionResult)]
    assert results == ["0", "2", "4", "6"]
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
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, long_block), limits=SolveLimits(max_block_tokens=50))
    assert done.finish_reason == "max_block_tokens" and done.stats.generated_tokens == 51
    many = [("text", "ab " * 10)] * 10
    _, done = run(e, MathCoderFormat(e), mathcoder_script(e, many), limits=SolveLimits(max_tokens=100))
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
    solver = Solver(e, MathCoderFormat(e), logits_processor=ScriptedTokens(mathcoder_script(e, GOOD), e.eos_id))
    for ev in solver.solve(QUESTION, should_stop=lambda: len(seen) > 5):
        seen.append(ev)
    assert seen[-1].finish_reason == "cancelled"
