"""Reading the evaluation sets: the published files in ../shared/data, the bundled nano set, any JSONL."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SHARED

from mathcoder_local.datasets import Problem, data_home, known, load_dataset
from mathcoder_local.datasets.layouts import answer_text, parse_level
from mathcoder_local.errors import UserError

DATA = SHARED / "data"
needs_shared = pytest.mark.skipif(not (DATA / "gsm8k").is_dir(), reason="../shared/data is absent (a fresh clone)")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@needs_shared
@pytest.mark.parametrize(
    "name, count, first",
    [
        ("gsm8k", 1319, Problem("0", "Janet’s ducks lay 16 eggs per day.", "18")),
        ("math", 5000, Problem("0", "How many vertical asymptotes does the graph of", "2", "Algebra", 3)),
        ("math500", 500, Problem("test/precalculus/807.json", "Convert the point $(0,3)$", "", "Precalculus", 2)),
        ("svamp", 1000, Problem("0", "Each pack of dvds costs 76 dollars.", "51")),
        ("mathematics", 1000, Problem("0", "What is 451 to the power of 1/10", "2")),
        ("simuleq", 514, Problem("0", "A writing workshop enrolls novelists and poets", "15")),
    ],
)
def test_every_shared_set_loads_with_its_published_count(name, count, first):
    problems = load_dataset(name, data_dir=DATA)
    assert len(problems) == count == known(name).count
    got = problems[0]
    assert got.id == first.id and got.question.startswith(first.question)
    assert (got.subject, got.level) == (first.subject, first.level)
    if first.answer:
        assert got.answer == first.answer
    assert len({p.id for p in problems}) == count
    assert all(p.question.strip() and p.answer for p in problems)


@needs_shared
def test_gold_answers_follow_each_layout():
    gsm8k = load_dataset("GSM8K", data_dir=DATA)
    assert [p.answer for p in gsm8k[:4]] == ["18", "3", "70000", "540"]
    assert all("," not in p.answer and "####" not in p.answer for p in gsm8k)  # "#### 1,000" → "1000"
    math = load_dataset("MATH", data_dir=DATA)
    assert [p.answer for p in math[:4]] == ["2", "10", "\\dfrac{9}{7}", "i"]  # the last \boxed{} of the solution
    assert {p.level for p in math} == {1, 2, 3, 4, 5}
    assert len({p.subject for p in math}) == 7
    math500 = load_dataset("MATH-500", data_dir=DATA)
    assert math500[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    svamp = load_dataset("SVAMP", data_dir=DATA)
    assert all(not p.answer.endswith(".0") for p in svamp)  # 51.0 → "51"
    mathematics = load_dataset("mathematics", data_dir=DATA)
    assert mathematics[1].answer == "[3]"  # the file's own text, as MathCoder graded it


@needs_shared
def test_a_known_layout_is_detected_in_any_path(tmp_path):
    copy = shutil.copy(DATA / "math" / "test.jsonl", tmp_path / "my-math.jsonl")
    assert load_dataset(str(copy)) == load_dataset("math", data_dir=DATA)
    copy = shutil.copy(DATA / "svamp" / "test.jsonl", tmp_path / "svamp.jsonl")
    assert load_dataset(copy)[0].answer == "51"


def test_nano_loads_from_the_package(tmp_path):
    problems = load_dataset("nano", data_dir=tmp_path / "empty")
    assert len(problems) == 200 and problems[0].id == "nano-000"
    assert problems[0].answer == "929629910" and problems[0].subject == "product"


def test_generic_jsonl_with_custom_fields(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"q": "1+1?", "a": 2, "level": "Level 2"}, {"q": "2+2?", "a": 4.0}])
    problems = load_dataset(path, question_field="q", answer_field="a")
    assert problems == [Problem("0", "1+1?", "2", None, 2), Problem("1", "2+2?", "4")]
    with pytest.raises(UserError, match=r"line 1 has no field 'question' \(fields: q, a, level\).*--question-field"):
        load_dataset(path)


def test_ids_come_from_the_file_or_the_line_number(tmp_path):
    rows = [{"question": "a", "answer": "1", "uid": "x"}, {"question": "b", "answer": "2", "uid": "y"}]
    path = write_jsonl(tmp_path / "ids.jsonl", rows)
    assert [p.id for p in load_dataset(path)] == ["0", "1"]
    assert [p.id for p in load_dataset(path, id_field="uid")] == ["x", "y"]
    rows = [{"question": "a", "answer": "1", "id": 7}, {"question": "b", "answer": "2", "id": 7}]
    with pytest.raises(UserError, match=r"line 2 repeats id '7' \(first on line 1\)"):
        load_dataset(write_jsonl(tmp_path / "dup.jsonl", rows))


def test_blank_lines_are_skipped_and_keep_line_numbers(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_text('{"question": "a", "answer": "1"}\n\n{"question": "b", "answer": "2"}\n')
    assert [p.id for p in load_dataset(path)] == ["0", "2"]


def test_bad_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "a", "answer": "1"}\n{"question": "b", \n')
    with pytest.raises(UserError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path} line 2 is not valid JSON") and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_a_record_that_does_not_fit_its_layout(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"problem": "p", "solution": "no box here", "level": "Level 1"}])
    with pytest.raises(UserError, match=r"line 1 has no answer field and no \\boxed\{\} in its solution \(math"):
        load_dataset(path)
    with pytest.raises(UserError, match="has no records"):
        load_dataset(write_jsonl(tmp_path / "empty.jsonl", []))


def test_a_missing_known_set_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("gsm8k", data_dir=tmp_path / "data")
    expected = tmp_path / "data" / "gsm8k" / "test.jsonl"
    assert str(err.value) == (
        f"dataset gsm8k is not in {tmp_path / 'data'} (expected {expected}): "
        "run `mathcoder-local data pull gsm8k`, or pass --data-dir DIR"
    )
    assert err.value.exit_code == 2
    with pytest.raises(UserError, match=r"download data/SVAMP_test_post.jsonl from https://github.com/mathllm/Math"):
        load_dataset("svamp", data_dir=tmp_path / "data")


def test_unknown_names_and_missing_paths(tmp_path):
    with pytest.raises(UserError, match=r"unknown dataset 'gsm9k': known sets are gsm8k, math, math500"):
        load_dataset("gsm9k")
    with pytest.raises(UserError, match="no such file"):
        load_dataset(str(tmp_path / "nope.jsonl"))


def test_names_are_case_and_separator_insensitive():
    for name in ("MATH-500", "math_500", "Math500", "math500"):
        assert known(name).name == "math500"
    assert known("GSM8K").name == "gsm8k" and known("SimulEq").name == "simuleq"


def test_data_home_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MATHCODER_LOCAL_DATA", raising=False)
    assert data_home() == tmp_path / "home" / "data"  # conftest's MATHCODER_LOCAL_HOME
    monkeypatch.setenv("MATHCODER_LOCAL_DATA", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"


def test_answer_and_level_text():
    assert [answer_text(v) for v in (51.0, 0.5, 7, " 1,000 ", "(1,2)", "-1,450,000", [3])] == [
        "51",
        "0.5",
        "7",
        "1000",
        "(1,2)",
        "-1450000",
        "[3]",
    ]
    assert [parse_level(v) for v in ("Level 3", "Level ?", 4, None, "hard")] == [3, None, 4, None, None]
