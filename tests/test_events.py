"""The event records: blocks carry their execution result through rows and back; older rows still load."""

from __future__ import annotations

import json

from mathcoder_local.events import Block, ExecutionResult, Finished, Rounds, SolveStats
from mathcoder_local.tui.bench_data import row_timed_out


def test_an_execution_block_keeps_its_result_through_a_row():
    block = Block("execution", "TimeoutError: ...", ExecutionResult("Timeout", True, 6.01234))
    row = json.loads(json.dumps(block.to_dict()))
    assert row == {
        "kind": "execution",
        "content": "TimeoutError: ...",
        "error": "Timeout",
        "timed_out": True,
        "seconds": 6.0123,
    }
    back = Block.from_dict(row)
    assert back == block and back.result is not None and back.result.status == "timeout"


def test_rows_that_stored_only_the_text_get_the_result_it_shows():
    def status(content):
        return Block.from_dict({"kind": "execution", "content": content}).result

    assert status("15283521") == ExecutionResult()
    assert status("NameError: name 'x' is not defined") == ExecutionResult("NameError")
    assert status("Traceback (most recent call last):\n  ...\nsympy.core.sympify.SympifyError: bad") == (
        ExecutionResult("SympifyError")
    )
    assert status("Traceback (most recent call last) ... cut") == ExecutionResult("Error")
    assert status("TimeoutError: the code ran longer than 6 s and was stopped").timed_out  # MathCoder
    assert status("Timeout Error").timed_out  # ToRA
    assert status("the ValueError count is 3") == ExecutionResult()  # words inside output are not errors
    assert Block.from_dict({"kind": "text", "content": "hi"}) == Block("text", "hi")
    old_timeout = {"kind": "execution", "content": "Timeout Error"}
    assert row_timed_out({"blocks": [old_timeout]})
    assert not row_timed_out({"blocks": [{"kind": "execution", "content": "5"}]})
    assert row_timed_out({"blocks": [Block("execution", "x", ExecutionResult(None, True)).to_dict()]})


def test_statuses_and_finished_rows():
    assert ExecutionResult().status == "ok"
    assert ExecutionResult("NameError").status == "error"
    assert ExecutionResult("Timeout", timed_out=True).status == "timeout"
    done = Finished("4", "answer", "tora", (Block("text", "4"),), SolveStats(), Rounds(1, 4, "calls"))
    assert done.to_dict()["rounds"] == {"used": 1, "allowed": 4, "unit": "calls"}


def test_views_label_outputs_from_one_rule():
    assert [r.title for r in (ExecutionResult(), ExecutionResult("NameError"), ExecutionResult("Timeout", True))] == [
        "output",
        "error: NameError",
        "timeout",
    ]
