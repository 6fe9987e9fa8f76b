"""Grading result files: layouts, extraction from transcripts, and the published accuracies on real outputs."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED

from mathcoder_local.errors import UserError
from mathcoder_local.events import Block
from mathcoder_local.formats.tora import parse_transcript
from mathcoder_local.grading.checker import AnswerChecker
from mathcoder_local.grading.files import grade_file, load_items

MATHCODER_OUTPUTS = SHARED / "data" / "mathcoder_outputs"
TORA_OUTPUTS = SHARED / "data" / "tora_outputs"

# The authors' accuracies (their correct/wrong split; ToRA's metrics file).
PUBLISHED = [
    (MATHCODER_OUTPUTS / "MathCoder-CL-7B_SVAMP.jsonl", 70.7),
    (MATHCODER_OUTPUTS / "MathCoder-CL-7B_mathematics.jsonl", 56.0),
    (MATHCODER_OUTPUTS / "MathCoder-CL-7B_simuleq.jsonl", 49.6),
    (MATHCODER_OUTPUTS / "debug_GSM8K.jsonl", 50.0),
    (TORA_OUTPUTS / "tora-code-34b_gsm8k.jsonl", 80.7),
]


@pytest.fixture(scope="module")
def checker():
    with AnswerChecker(workers=2) as pool:
        yield pool


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def bench_row(i, prediction, gold, correct, **extra):
    row = {
        "id": str(i),
        "question": f"question {i}",
        "gold": gold,
        "prediction": prediction,
        "correct": correct,
        "subject": None,
        "level": None,
        "finish_reason": "answer",
        "blocks": [{"kind": "text", "content": prediction}],
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "seconds": 0.1,
    }
    row.update(extra)
    return row


@pytest.mark.parametrize(("path", "published"), PUBLISHED, ids=lambda v: getattr(v, "stem", str(v)))
def test_published_accuracy_is_reproduced(path, published, checker):
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not checked out)")
    report = grade_file(path, checker=checker)
    assert report.timeouts == 0 and report.errors == 0
    assert abs(report.accuracy - published) <= 0.5, (report.accuracy, published)
    # The answers the authors recorded give the same within the same half point.
    recorded = grade_file(path, checker=checker, answer_source="file")
    assert abs(recorded.accuracy - published) <= 0.5, (recorded.accuracy, published)


def test_bench_layout_by_subject_level_and_disagreements(tmp_path, checker):
    rows = [
        bench_row(1, "\\frac12", "0.5", True, subject="Algebra", level=2),
        bench_row(2, "1", "100", True, subject="Algebra", level=3),  # the run's grader was lenient: we differ
        bench_row(3, "3:00 p.m.", "3:00 PM", False, subject="Prealgebra", level=3),  # and strict here
        bench_row(4, "7", "7", True, subject="Prealgebra", level="Level 3"),
    ]
    rows[3]["samples"] = [
        {"prediction": p, "correct": None, "finish_reason": "answer", "completion_tokens": 3, "blocks": []}
        for p in ("7", "8", "7")
    ]
    report = grade_file(write_jsonl(tmp_path / "results.jsonl", rows), checker=checker)
    assert (report.format, report.n, report.correct, report.accuracy) == ("bench", 4, 3, 75.0)
    assert {k: (b.n, b.correct) for k, b in report.by_subject.items()} == {"Algebra": (2, 1), "Prealgebra": (2, 2)}
    assert {k: (b.n, b.correct) for k, b in report.by_level.items()} == {2: (1, 1), 3: (3, 2)}
    assert [(d.id, d.ours, d.carried) for d in report.disagreements] == [("2", False, True), ("3", True, False)]
    assert report.carried is not None and report.carried.correct == 3
    assert report.samples is not None and (report.samples.n, report.samples.correct) == (3, 2)
    # A run folder is read through its results.jsonl.
    assert grade_file(tmp_path, checker=checker).correct == 3


def test_mathcoder_and_tora_layouts_reextract(tmp_path):
    mathcoder = {
        "id": "test/algebra/12.json",
        "messages": [],
        "ground_truth": {"solution": "", "answer": 51.0},
        "debug_result": [
            {"role": "user", "content": "q"},
            {"role": "text", "content": "So it is \\(\\boxed{51}\\) dollars."},
            {"role": "text", "content": "51"},
            {"role": "execution", "content": "[]"},  # the authors' completion is whatever block came last
        ],
        "completion": "[]",
    }
    layout, items = load_items(write_jsonl(tmp_path / "mc.jsonl", [mathcoder]))
    assert layout == "mathcoder"
    assert (items[0].prediction, items[0].gold, items[0].subject) == ("51", "51", "algebra")
    assert load_items(tmp_path / "mc.jsonl", "file")[1][0].prediction == "[]"

    transcript = "```python\nprint(6 * 7)\n```\n```output\n42\n```\nSo the answer is $\\boxed{42}$."
    assert parse_transcript(transcript) == [
        Block("code", "print(6 * 7)"),
        Block("execution", "42"),
        Block("text", "So the answer is $\\boxed{42}$."),
    ]
    tora = {"idx": 7, "question": "q", "gt": "42", "code": [transcript], "pred": ["41"], "score": [False]}
    layout, items = load_items(write_jsonl(tmp_path / "tora.jsonl", [tora]))
    assert layout == "tora"
    assert (items[0].id, items[0].prediction, items[0].carried) == ("7", "42", False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "has no rows"),
        ("not json\n", "line 1 is not valid JSON"),
        ('["a list"]\n', "not a JSON object"),
        ('{"problem": "p", "solution": "s"}\n', "not a layout grade knows"),
        ('{"prediction": "1", "gold": "1"}\n{"prediction": "1"}\n', "line 2 is not a complete bench row"),
    ],
)
def test_bad_files_are_user_errors(tmp_path, content, message):
    path = tmp_path / "results.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_items(path)
