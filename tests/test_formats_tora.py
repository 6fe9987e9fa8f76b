"""The ToRA format: text-stream block tracking, the output block written back, answers."""

from __future__ import annotations

import pytest

from mathcoder_local.devtools.scripted import tora_script
from mathcoder_local.events import Block
from mathcoder_local.executor.session import CellResult
from mathcoder_local.formats import ToraFormat
from mathcoder_local.formats.tora import cut_middle

ANSWER = "Let me compute.\n```python\nx = 12 * 34\nprint(x)\n```\n```output"


def byte_tokens(text: str) -> list[int]:
    """The byte-fallback tokens <0x00>.. of the tiny vocabulary: one byte per token, the worst chunking."""
    return [3 + b for b in text.encode("utf-8")]


@pytest.mark.parametrize("chunking", ["tokens", "bytes"])
def test_tracker_finds_code_and_stops_at_output(tora_engine, chunking):
    fmt = ToraFormat(tora_engine)
    tokens = tora_script(tora_engine, [ANSWER]) if chunking == "tokens" else byte_tokens(ANSWER)
    tracker = fmt.tracker()
    steps = [tracker.feed(t) for t in tokens]
    assert steps[-1].action == "execute" and steps[-1].code == "x = 12 * 34\nprint(x)"
    assert all(s.action == "continue" for s in steps[:-1])
    assert tracker.blocks == [Block("text", "Let me compute."), Block("code", "x = 12 * 34\nprint(x)")]


def test_multibyte_text_split_across_tokens(tora_engine):
    tracker = ToraFormat(tora_engine).tracker()
    for t in byte_tokens("Ça fait 3 €, so \\boxed{3}."):
        tracker.feed(t)
    tracker.feed(tora_engine.eos_id)
    assert tracker.blocks == [Block("text", "Ça fait 3 €, so \\boxed{3}.")]


def test_boxed_answer_before_output_stops_instead_of_running(tora_engine):
    tracker = ToraFormat(tora_engine).tracker()
    text = "So \\boxed{5}.\n```python\nprint(5)\n```\n```output"
    steps = [tracker.feed(t) for t in byte_tokens(text)]
    assert steps[-1].action == "finish"


def test_output_block_continues_the_text(tora_engine):
    e = tora_engine
    fmt = ToraFormat(e)
    before = e.tokenize(ANSWER, bos=True)
    appended = fmt.execution_tokens("408")
    text = b"".join(e.token_bytes(t) for t in before + appended).decode()
    assert text.lstrip() == ANSWER + "\n408\n```\n"
    # identical to what tokenizing the whole transcript at once gives (what ToRA's harness sent)
    assert before + appended == e.tokenize(ANSWER + "\n408\n```\n", bos=True)


def test_execution_text_as_tora_showed_it(tora_engine):
    fmt = ToraFormat(tora_engine)
    assert fmt.execution_text(CellResult(stdout="408\n")) == "408"
    assert fmt.execution_text(CellResult(display="7")) == "7"
    err = CellResult(error="NameError", error_line="NameError: name 'y' is not defined", traceback="...")
    assert fmt.execution_text(err) == "NameError: name 'y' is not defined"
    assert fmt.execution_text(CellResult(timed_out=True, error="Timeout")) == "Timeout Error"
    long = fmt.execution_text(CellResult(stdout="a" * 300 + "b" * 300))
    assert len(long) == 403 and long.startswith("a" * 200) and long.endswith("b" * 200)


def test_cut_middle():
    assert cut_middle("short") == "short"
    assert cut_middle("x" * 400) == "x" * 400
    assert cut_middle("0123456789", cap=4) == "01...89"


def test_answer_extraction_order(tora_engine):
    fmt = ToraFormat(tora_engine)
    assert fmt.extract_answer([Block("text", "so \\boxed{12}"), Block("execution", "13")]) == "12"
    assert fmt.extract_answer([Block("text", "The answer is 7."), Block("execution", "13")]) == "7"
    assert fmt.extract_answer([Block("text", "Done"), Block("execution", "13")]) == "13"
    assert fmt.extract_answer([Block("text", "we get 1,234 apples")]) == "1234"
    assert fmt.extract_answer([]) == ""


def test_prompt(tora_engine):
    fmt = ToraFormat(tora_engine)
    assert fmt.prompt_tokens("What is 2+2?") == tora_engine.tokenize(
        "<|user|>\nWhat is 2+2?\n<|assistant|>\n", bos=True
    )


def test_system_text_is_refused(tora_engine):
    from mathcoder_local.errors import UserError

    with pytest.raises(UserError, match="no system text"):
        ToraFormat(tora_engine, system="Be brief.")
