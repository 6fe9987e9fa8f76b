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


def test_rows_without_results_load_as_plain_blocks():
    old = {"kind": "execution", "content": "Traceback (most recent call last): ... NameError"}
    block = Block.from_dict(old)
    assert block.kind == "execution" and block.result is None and block.to_dict() == old
    assert Block.from_dict({"kind": "text", "content": "hi"}) == Block("text", "hi")
    assert not row_timed_out({"blocks": [old]})
    assert row_timed_out({"blocks": [Block("execution", "x", ExecutionResult(None, True)).to_dict()]})


def test_statuses_and_finished_rows():
    assert ExecutionResult().status == "ok"
    assert ExecutionResult("NameError").status == "error"
    assert ExecutionResult("Timeout", timed_out=True).status == "timeout"
    done = Finished("4", "answer", "tora", (Block("text", "4"),), SolveStats(), Rounds(1, 4, "calls"))
    assert done.to_dict()["rounds"] == {"used": 1, "allowed": 4, "unit": "calls"}
