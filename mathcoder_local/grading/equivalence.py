"""Is a predicted answer equal to the gold one? Normalisation, a few exact rules, then math-verify.

`answers_match` is pure and in-process. It may call sympy (through math-verify), which can run for a long time
on hostile input, so callers that grade model output run it in a worker process with a timeout
(`grading.checker`); math-verify's own signal-based timeouts are turned off here, because signals only work on
the main thread and the process-level timeout is ours.

Order of the checks, cheapest first:
1. identical strings (after normalisation) → equal;
2. both plain numbers → compared exactly here (thousands commas, `{,}` and `,\\!` separators, `\\%` and
   `$` removed; floats rounded to 6 decimals as math-verify does; two decimals given to different places,
   at least 2, agree when the longer rounds to the shorter). Never ToRA's ×/÷100 rule, which accepts 1 for
   100: a percentage may equal its own value or its value / 100, nothing else;
3. clock times ("3:00 PM" = "3:00 p.m." = "15:00");
4. text answers ("Monday" = "\\text{monday}"), decided here because sympy would read a word as a product of
   one-letter symbols and call anagrams equal;
5. a number with a unit word against a bare number ("18 dollars", "575\\text{ students}");
6. unordered lists ("1, 2" = "2, 1"), item by item with these same rules; several answers where the gold
   has one are wrong (a hedge is not an answer);
7. math-verify (`parse` + `verify`), for everything symbolic: fractions vs decimals, radicals, sets,
   intervals, matrices, equations; then a gold given as a rounded decimal ("0.6667") against an exact
   prediction (\\frac{2}{3}).
"""

from __future__ import annotations

import logging
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from mathcoder_local.answers import last_boxed, strip_math_delimiters

# math-verify compares floats rounded to this many decimals; plain numbers are compared the same way here.
FLOAT_DECIMALS = 6
# Two decimals given to different places match when both have at least this many places and agree to the
# shorter one: data sets round their golds ("0.6667"), models round theirs ("583.33"). One place is too
# coarse (0.54 is not 0.5).
MIN_ROUNDED_PLACES = 2
# Longer answers are not compared symbolically: a model that dumps a page of text has no short answer, and
# parsing it costs seconds.
MAX_SYMBOLIC_CHARS = 1000

_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,])")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_WORDS = re.compile(r"[A-Za-z]+(?:[ '\-][A-Za-z]+)*")
_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(?:([ap])\.?\s*m\.?)?", re.IGNORECASE)
# A unit after a number: words, possibly squared or cubed, possibly in braces ("50{ounces}", MathCoder's
# answers lose their \text).
_UNIT = re.compile(r"\{?\s*[A-Za-z][A-Za-z .\-/]*\}?(?:\^\{?[23]\}?)?")
_SPACES = re.compile(r"\s+")
_MATH_WORDS = {"pi", "sqrt", "log", "ln", "sin", "cos", "tan", "exp", "inf", "infty", "infinity"}


def answers_match(prediction: object, gold: object, *, exact_shortcut: bool = True) -> bool:
    """True when `prediction` is an acceptable answer for `gold`. Empty or None predictions are wrong.

    `exact_shortcut=False` skips the identical-string shortcut (a benchmark uses it to measure the rules and
    math-verify on gold-vs-gold, which the shortcut would otherwise decide without looking).
    """
    pred, ref = as_text(prediction), as_text(gold)
    if not pred.strip() or not ref.strip():
        return False
    if exact_shortcut and pred.strip() == ref.strip():
        return True
    return _match(normalize(pred), normalize(ref), exact_shortcut, lists=True)


def quick_verdict(prediction: object, gold: object) -> bool | None:
    """The verdicts that need no parsing (empty, identical): safe to take in the caller's process."""
    pred, ref = as_text(prediction).strip(), as_text(gold).strip()
    if not pred or not ref:
        return False
    if pred == ref:
        return True
    return None


def as_text(value: object) -> str:
    """Gold answers come as strings or numbers (SVAMP's 51.0); integral floats lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def normalize(text: str) -> str:
    """Notation that never changes the value: delimiters, \\boxed, spacing commands, \\dfrac, \\left/\\right,
    degree signs, dollar signs, digit-group separators, a final full stop."""
    s = text.strip()
    if "boxed" in s or "fbox" in s:
        boxed = last_boxed(s)
        if boxed is not None:
            s = boxed
    previous = None
    while previous != s:
        previous = s
        s = strip_math_delimiters(s).strip().rstrip(".").strip()
    s = s.replace("\\displaystyle", "").replace("\u2212", "-")  # a typographic minus
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])", "", s)
    s = s.replace("{,}", ",").replace("\\!", "")
    s = re.sub(r"\\[,;: ]|~", " ", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|°", "", s)
    s = s.replace("\\$", "").replace("$", "")
    s = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), s)
    return _SPACES.sub(" ", s).strip()


def _match(pred: str, gold: str, exact_shortcut: bool, lists: bool) -> bool:
    if not pred or not gold:
        return False
    if exact_shortcut and pred == gold:
        return True
    for rule in (_numbers, _times, _texts, _numbers_with_units):
        verdict = rule(pred, gold)
        if verdict is not None:
            return verdict
    if lists:
        verdict = _unordered_lists(pred, gold, exact_shortcut)
        if verdict is not None:
            return verdict
    return _math_verify(pred, gold)


# --- numbers ---------------------------------------------------------------------------------------------


def plain_number(text: str) -> tuple[Decimal, bool] | None:
    """(value, is_percent) for "1,000", "-2.50", "10%", "+3e5"; None for anything else."""
    s = text.replace(" ", "")
    percent = s.endswith("%")  # "\\%" in LaTeX, "%" in plain text
    if percent:
        s = s[:-2] if s.endswith("\\%") else s[:-1]
    if not _NUMBER.fullmatch(s):
        return None
    try:
        return Decimal(s), percent
    except InvalidOperation:
        return None


def _same_number(a: Decimal, b: Decimal) -> bool:
    if a == b:
        return True
    places = min(_places(a), _places(b))
    if places >= MIN_ROUNDED_PLACES and _places(a) != _places(b):
        # One side is the other rounded: SimulEq's gold "583.3333" for 1750/3, a model's "583.33" for it.
        decimals = places
    else:
        decimals = FLOAT_DECIMALS
    quantum = Decimal(1).scaleb(-decimals)
    try:
        return a.quantize(quantum, ROUND_HALF_UP) == b.quantize(quantum, ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to quantize: only exact equality counts
        return False


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _numbers(pred: str, gold: str) -> bool | None:
    p, g = plain_number(pred), plain_number(gold)
    if p is None or g is None:
        return None
    # A percentage is its number or its number / 100 ("10%" = 10 = 0.1). The other side is never scaled:
    # ToRA's rule (gold × 100 or ÷ 100 always accepted) calls 1 right for 100.
    p_values = (p[0], p[0] / 100) if p[1] else (p[0],)
    g_values = (g[0], g[0] / 100) if g[1] else (g[0],)
    return any(_same_number(a, b) for a in p_values for b in g_values)


def _number_and_unit(text: str) -> Decimal | None:
    """The number of "18 dollars", "575\\text{ students}", "4 miles per hour", "50{ounces}"; else None."""
    s = _TEXT_WRAPPER.sub(lambda m: " " + m.group(1), text).strip()
    m = _NUMBER.match(s)
    if m is None or m.end() == len(s):
        return None
    unit = s[m.end() :].strip()
    if not _UNIT.fullmatch(unit) or len(re.sub(r"[^A-Za-z]", "", unit)) < 2:
        return None  # "5x" is an expression, not five of a unit
    if unit.strip("{} ").split(" ")[0].lower() in _MATH_WORDS:
        return None  # "2 pi" is not two of anything
    return Decimal(m.group(0))


def _numbers_with_units(pred: str, gold: str) -> bool | None:
    p = plain_number(pred)
    g = plain_number(gold)
    p_value = p[0] if p is not None and not p[1] else _number_and_unit(pred)
    g_value = g[0] if g is not None and not g[1] else _number_and_unit(gold)
    if p_value is None or g_value is None:
        return None
    if _same_number(p_value, g_value):
        return True
    return None  # different numbers: math-verify may still know the units ("1 foot" vs "12 inches" aside)


# --- times and text --------------------------------------------------------------------------------------


def clock_minutes(text: str) -> tuple[int, bool] | None:
    """(minutes after midnight, had a.m./p.m.) for "3:00 PM", "3 p.m.", "15:30"; None for anything else.

    Needs a colon or a.m./p.m.: a bare "3" is a number, not a time."""
    s = _TEXT_WRAPPER.sub(lambda m: " " + m.group(1), text).replace("\\", "").strip()
    m = _TIME.fullmatch(s)
    if m is None or (m.group(2) is None and m.group(3) is None):
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if minute >= 60 or hour > 23:
        return None
    if m.group(3) is None:
        return hour * 60 + minute, False
    if not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if m.group(3).lower() == "p" else 0)
    return hour * 60 + minute, True


def _times(pred: str, gold: str) -> bool | None:
    p, g = clock_minutes(pred), clock_minutes(gold)
    if p is None or g is None:
        return None
    if p[1] == g[1]:
        return p[0] == g[0]
    # One side without a.m./p.m.: "3:00" is right for "3:00 PM", as is "15:00".
    bare, full = (p[0], g[0]) if not p[1] else (g[0], p[0])
    return bare == full or (bare < 12 * 60 and bare + 12 * 60 == full)


def plain_text(text: str) -> str | None:
    """A word answer ("Monday", "\\text{even}", "(C)") lower-cased with single spaces; None when not words."""
    s = _TEXT_WRAPPER.sub(lambda m: m.group(1), text).strip().strip("\"'").strip()
    if re.fullmatch(r"\(\s*[A-Za-z]\s*\)", s):  # a multiple-choice letter in parentheses
        s = s[1:-1].strip()
    if not _WORDS.fullmatch(s):
        return None
    return _SPACES.sub(" ", s).lower()


def _texts(pred: str, gold: str) -> bool | None:
    p, g = plain_text(pred), plain_text(gold)
    if p is None or g is None:
        return None
    if p == g:
        return True
    # A real word on either side: decide here. Short symbol-like strings ("xy", "a") go on to math-verify.
    if any(len(w) >= 3 for w in (p + " " + g).split()):
        return False
    return None


# --- lists -----------------------------------------------------------------------------------------------


def split_top_level(text: str) -> list[str]:
    """Split at commas and " and " outside brackets ("19 \\text{ and }43" too); one item when there is none."""
    text = _TEXT_WRAPPER.sub(lambda m: " " + m.group(1) + " ", text)
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and (ch == "," or text.startswith(" and ", i)):
            items.append(text[start:i])
            start = i + (1 if ch == "," else len(" and "))
    items.append(text[start:])
    return [_SPACES.sub(" ", item).strip() for item in items if item.strip()]


def _list_items(text: str) -> list[str]:
    """Items of a bare list; a Python-style "[2, 3]" (the Mathematics data set's multiple answers) counts as
    bare. Parentheses stay: "(1, 2)" is an ordered pair or an interval, one item."""
    items = split_top_level(text)
    if len(items) == 1 and text.startswith("[") and text.endswith("]"):
        inner = split_top_level(text[1:-1])
        if len(inner) > 1:
            return inner
    return items


def _unordered_lists(pred: str, gold: str, exact_shortcut: bool) -> bool | None:
    """A bare list ("1, 2") matches a permutation of itself. Several answers where the gold has one are
    wrong ("25 children and 102 adults" for 25): a hedge is not an answer. None when neither is a list."""
    p_items, g_items = _list_items(pred), _list_items(gold)
    if len(p_items) == 1 and len(g_items) == 1:
        return None
    if len(p_items) != len(g_items):
        if len(g_items) == 1 and "," not in gold:
            return False
        return None  # let math-verify try ("x \\in \\{1, 2\\}" and the like)
    unused = list(p_items)
    for g_item in g_items:
        for j, p_item in enumerate(unused):
            if _match(p_item, g_item, exact_shortcut, lists=False):
                del unused[j]
                break
        else:
            return None
    return True


# --- math-verify -----------------------------------------------------------------------------------------


def _math_verify(pred: str, gold: str) -> bool:
    if len(pred) > MAX_SYMBOLIC_CHARS or len(gold) > MAX_SYMBOLIC_CHARS:
        return False
    from math_verify import verify

    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    if verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None):
        return True
    return _rounded_gold(gold, pred_parsed)


def _rounded_gold(gold: str, pred_parsed: tuple[object, ...]) -> bool:
    """A gold given as a rounded decimal ("0.6667") against an exact prediction (\frac{2}{3}): equal when the
    prediction rounds to it. math-verify compares at 6 places, which a 4-place gold never meets."""
    g = plain_number(gold)
    if g is None or g[1] or _places(g[0]) < MIN_ROUNDED_PLACES:
        return False
    import sympy

    quantum = Decimal(1).scaleb(-_places(g[0]))
    for expr in pred_parsed:
        if isinstance(expr, sympy.Expr) and expr.is_number and not expr.is_Float:
            try:
                value = Decimal(str(sympy.N(expr, 30)))
            except (InvalidOperation, TypeError, ValueError):
                continue
            if value.is_finite() and value.quantize(quantum, ROUND_HALF_UP) == g[0]:
                return True
    return False


@lru_cache(maxsize=4096)
def _parse(answer: str) -> tuple[object, ...]:
    """math-verify's parse of a bare answer; cached, since the same gold is compared many times (maj@K)."""
    from math_verify import LatexExtractionConfig, parse

    _quiet_math_verify()
    # \boxed{} makes math-verify take the whole answer as one expression. LaTeX extraction only: the plain
    # expression extractor would search prose for any number ("... the amount left is 1, not -9" → -9).
    config = [LatexExtractionConfig(boxed_match_priority=0)]
    return tuple(parse("\\boxed{" + answer + "}", extraction_config=config, parsing_timeout=None))


@lru_cache(maxsize=1)
def _quiet_math_verify() -> None:
    # It warns once that timeouts are off (they are on purpose: see the module docstring) and logs every
    # unparsable answer at warning level.
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.ERROR)
