"""Synthetic word problems whose answers need exact computation, with MathCoder-style solutions.

Each kind returns (question, explanation sentence, code). The code ends with the answer as a trailing
expression, so the executor displays it, exactly as MathCoder's Jupyter kernel did.
"""

from __future__ import annotations

import random
from typing import Callable

Problem = tuple[str, str, str]


def _product(r: random.Random) -> Problem:
    a, b = r.randint(1000, 999999), r.randint(12, 9999)
    thing, unit = r.choice([("boxes", "items"), ("crates", "bottles"), ("shelves", "books"), ("trucks", "bricks")])
    place = r.choice(["A warehouse", "A depot", "A factory", "A store"])
    q = f"{place} holds {a} {thing} with {b} {unit} each. How many {unit} are there?"
    code = f"count = {a}\neach = {b}\ntotal = count * each\ntotal"
    return q, f"We multiply the number of {thing} by the {unit} in each.", code


def _sum_of_products(r: random.Random) -> Problem:
    a, p, b, c = r.randint(100, 99999), r.randint(5, 999), r.randint(100, 99999), r.randint(5, 999)
    q = f"A shop sells {a} pens at {p} cents each and {b} pencils at {c} cents each. How many cents does it take in?"
    code = f"pens = {a} * {p}\npencils = {b} * {c}\ntotal = pens + pencils\ntotal"
    return q, "We add the takings from pens and from pencils.", code


def _remainder(r: random.Random) -> Problem:
    a, b = r.randint(10000, 999999999), r.randint(7, 9999)
    q = f"{a} marbles are shared equally among {b} children. How many marbles are left over?"
    code = f"marbles = {a}\nchildren = {b}\nleft = marbles % children\nleft"
    return q, "The marbles left over are the remainder of the division.", code


def _percentage(r: random.Random) -> Problem:
    a, p = r.randint(10, 99999) * 100, r.randint(1, 99)
    q = f"What is {p}% of {a}?"
    code = f"value = {a}\npercent = {p}\nresult = value * percent // 100\nresult"
    return q, "We multiply by the percentage and divide by 100.", code


def _linear(r: random.Random) -> Problem:
    a = r.choice([i for i in range(-99, 100) if i not in (0, 1, -1)])
    b, c = r.randint(-9999, 9999), r.randint(-9999, 9999)
    sign = "+" if b >= 0 else "-"
    q = f"Solve for x: {a}*x {sign} {abs(b)} = {c}."
    code = f"from sympy import symbols, Eq, solve\nx = symbols('x')\nsolve(Eq({a}*x + {b}, {c}), x)[0]"
    return q, "We solve the linear equation with sympy.", code


def _root(r: random.Random) -> Problem:
    n = r.randint(101, 99999)
    q = f"What is the square root of {n * n}?"
    code = f"from sympy import sqrt\nsqrt({n * n})"
    return q, "We take the square root with sympy.", code


def _fraction(r: random.Random) -> Problem:
    a, b, c, d = r.randint(1, 999), r.randint(2, 999), r.randint(1, 999), r.randint(2, 999)
    q = f"What is {a}/{b} + {c}/{d} in lowest terms?"
    code = f"from sympy import Rational\nRational({a}, {b}) + Rational({c}, {d})"
    return q, "We add the fractions exactly with sympy.", code


KINDS: dict[str, Callable[[random.Random], Problem]] = {
    "product": _product,
    "sum_of_products": _sum_of_products,
    "remainder": _remainder,
    "percentage": _percentage,
    "linear": _linear,
    "root": _root,
    "fraction": _fraction,
}
# Word problems over big numbers are the point; the symbolic kinds are a small share.
WEIGHTS = {"product": 3, "sum_of_products": 3, "remainder": 2, "percentage": 2, "linear": 1, "root": 1, "fraction": 1}


def sample(r: random.Random) -> tuple[str, Problem]:
    kind = r.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    return kind, KINDS[kind](r)
