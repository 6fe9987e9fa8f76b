"""`select`: subsets by level, subject or id, then a limit."""

from __future__ import annotations

import pytest

from mathcoder_local.datasets import Problem, select
from mathcoder_local.datasets.subset import parse_subset
from mathcoder_local.errors import UserError

PROBLEMS = [
    Problem("a", "q", "1", "Algebra", 5),
    Problem("b", "q", "2", "Counting & Probability", 4),
    Problem("c", "q", "3", "Algebra", 4),
    Problem("d", "q", "4", "Number Theory", 1),
    Problem("e", "q", "5", "Algebra", 5),
]


def ids(problems):
    return [p.id for p in problems]


@pytest.mark.parametrize(
    "subset, expected",
    [
        ("level=5", ["a", "e"]),
        ("level=4,5", ["a", "b", "c", "e"]),
        ("Level 5", ["a", "e"]),
        ("5", ["a", "e"]),
        ("subject=Algebra", ["a", "c", "e"]),
        ("algebra", ["a", "c", "e"]),
        ("counting_and_probability", ["b"]),
        ("subject=number theory,Counting & Probability", ["b", "d"]),
        ("level=4,subject=Algebra", ["c"]),
        ("level=4,5,Algebra", ["a", "c", "e"]),
        ("type=Algebra", ["a", "c", "e"]),
        ("id=d,b", ["b", "d"]),
        ("", ["a", "b", "c", "d", "e"]),
    ],
)
def test_subsets(subset, expected):
    assert ids(select(PROBLEMS, subset=subset)) == expected


def test_limit_takes_the_first_n_after_the_subset():
    assert ids(select(PROBLEMS, limit=2)) == ["a", "b"]
    assert ids(select(PROBLEMS, subset="Algebra", limit=2)) == ["a", "c"]
    assert ids(select(PROBLEMS, limit=99)) == ids(PROBLEMS)
    with pytest.raises(UserError, match="at least 1"):
        select(PROBLEMS, limit=0)


def test_unknown_values_list_what_exists():
    with pytest.raises(UserError, match=r"no problem has level 3; levels present: 1 \(1\), 4 \(2\), 5 \(2\)"):
        select(PROBLEMS, subset="level=3")
    with pytest.raises(UserError, match=r"no problem has subject Geometry; subjects present: Algebra \(3\), Counting"):
        select(PROBLEMS, subset="Geometry")
    with pytest.raises(UserError, match="no problem has id zz"):
        select(PROBLEMS, subset="id=zz")
    with pytest.raises(UserError, match="unknown subset key 'difficulty'"):
        select(PROBLEMS, subset="difficulty=5")
    with pytest.raises(UserError, match="no problem matches every part"):
        select(PROBLEMS, subset="level=1,subject=Algebra")


def test_sets_without_levels_or_subjects():
    plain = [Problem("0", "q", "1"), Problem("1", "q", "2")]
    with pytest.raises(UserError, match="have no subjects"):
        select(plain, subset="Algebra")
    with pytest.raises(UserError, match="have no levels"):
        select(plain, subset="level=5")


def test_parse_subset():
    assert parse_subset("level=4,5,subject=Algebra,Geometry") == {
        "level": ["4", "5"],
        "subject": ["Algebra", "Geometry"],
    }
    with pytest.raises(UserError, match="not a number"):
        parse_subset("level=hard")
