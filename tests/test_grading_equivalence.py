"""Answer equivalence: math-verify plus the fallbacks it misses, never ToRA's ×/÷100 rule."""

from __future__ import annotations

import pytest

from mathcoder_local.grading.equivalence import answers_match, clock_minutes, normalize, quick_verdict, split_top_level

EQUAL = [
    ("10\\%", "10"),
    ("10", "10\\%"),
    ("0.1", "10\\%"),  # a percentage is also its value / 100
    ("1,000", "1000"),
    ("1{,}000", "1000"),
    ("1,\\!000", "1000"),
    ("\\$1,000.00", "1000"),
    ("Monday", "\\text{Monday}"),
    ("monday", "\\text{Monday}"),
    ("(C)", "\\text{(C)}"),
    ("1, 2", "2, 1"),
    ("2, 1, 3", "1,2,3"),
    ("\\text{A,D}", "D, A"),
    ("43, 19", "19 \\text{ and }43"),
    ("[2, 3]", "2,3"),  # the Mathematics set writes several answers as a Python list
    ("3:00 PM", "3:00 p.m."),
    ("15:00", "3:00 PM"),
    ("9 a.m.", "9\\text{ a.m.}"),
    ("0.5", "\\frac{1}{2}"),
    ("\\frac{3}{4}", "0.75"),
    ("0.333333", "\\frac13"),
    ("$\\frac{1}{2}$", "\\dfrac12"),
    ("\\boxed{5}", "5"),
    ("x=3", "3"),
    ("90^\\circ", "90"),
    ("\\left(1,2\\right)", "(1,2)"),
    ("18 dollars", "18"),
    ("575", "575\\text{ students}"),
    ("583.33", "583.3333"),  # golds and models round: agree to the shorter one's places (at least 2)
    ("\\frac{2}{3}", "0.6667"),
    ("x^2+2x+1", "(x+1)^2"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("(-\\infty, 3)", "(-\\infty,3)"),
    ("12", "12.0"),
    (51.0, "51"),
    ("51", 51.0),
]

DIFFERENT = [
    ("1", "100"),  # ToRA's rule would accept these: never
    ("100", "1"),
    ("0.5", "50"),
    ("50", "0.5"),
    ("Mondya", "\\text{Monday}"),  # sympy would call anagrams equal (a product of one-letter symbols)
    ("Tuesday", "\\text{Monday}"),
    ("1, 2", "1, 3"),
    ("(1,2)", "(2,1)"),  # ordered pairs keep their order
    ("[1, 3]", "(1,3)"),
    ("3:00 AM", "3:00 PM"),
    ("0.33", "\\frac13"),
    ("0.54", "0.5"),  # one decimal place is too coarse to call a rounding
    ("\\frac{1}{6}", "0.165"),
    ("17.6", "18"),
    ("0.990", "1"),
    ("-5", "5"),
    ("5x", "5"),  # an expression, not five of a unit
    ("25\\text{ children and }102\\text{ adults}", "25"),  # a hedge is not an answer
    ("I made the same mistake again. So, the correct amount left is 1, not -9.", "1"),  # prose is no answer
    ("", "5"),
    ("   ", "5"),
    (None, "5"),
    ("5", ""),
]


@pytest.mark.parametrize(("prediction", "gold"), EQUAL)
def test_equal(prediction, gold):
    assert answers_match(prediction, gold)
    if isinstance(prediction, str) and isinstance(gold, str):
        assert answers_match(prediction, gold, exact_shortcut=False)


@pytest.mark.parametrize(("prediction", "gold"), DIFFERENT)
def test_different(prediction, gold):
    assert not answers_match(prediction, gold)


def test_a_gold_equals_itself_without_the_shortcut():
    for gold in (
        "\\text{Evelyn}",
        "\\$115,000",
        "(-\\infty,-4)\\cup(-4,6)",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    ):
        assert answers_match(gold, gold, exact_shortcut=False), gold


def test_pieces():
    assert normalize("$1{,}000.$") == "1000"
    assert normalize("\\boxed{\\dfrac{1}{2}}") == "\\frac{1}{2}"
    assert clock_minutes("3:30 p.m.") == (15 * 60 + 30, True)
    assert clock_minutes("3") is None  # a bare number is not a time
    assert split_top_level("(1, 2), [3, 4]") == ["(1, 2)", "[3, 4]"]
    assert quick_verdict(" 5 ", "5") is True and quick_verdict("", "5") is False and quick_verdict("5", "6") is None
