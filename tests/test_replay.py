"""Compatibility with MathCoder's Jupyter kernel: the display, tracebacks, the replay command."""

from __future__ import annotations

import collections
import json
import os

import pytest
from conftest import SHARED
from typer.testing import CliRunner

from mathcoder_local.cli import app
from mathcoder_local.errors import UserError
from mathcoder_local.executor import worker_display
from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorLimits, ExecutorSession
from mathcoder_local.formats.mathcoder import execution_text
from mathcoder_local.replay import (
    compare,
    exclusion,
    load_transcripts,
    normalize,
    parse_error,
    replay_file,
    strip_ansi,
)

OUTPUTS = SHARED / "data" / "mathcoder_outputs"
SHARED_FILES = [
    "MathCoder-CL-7B_SVAMP.jsonl",
    "MathCoder-CL-7B_mathematics.jsonl",
    "MathCoder-CL-7B_simuleq.jsonl",
    "debug_GSM8K.jsonl",
]

# A block of MathCoder-CL-7B_mathematics.jsonl (row 4) and what their kernel printed, colour remnants included.
RECORDED_CODE = (
    "# Function to convert fractions to decimals\r\ndef fraction_to_decimal(fraction):\r\n"
    "    return fraction[0] / fraction[1]\r\n\r\n# List of numbers\r\nnumbers = [-6244, -2, 2/23]\r\n\r\n"
    "# Convert fractions to decimals\r\nnumbers[2] = fraction_to_decimal(numbers[2])\r\n\r\nnumbers"
)
RECORDED_TRACEBACK = (
    "--------------------------------------------------------------------------- TypeError                     "
    "            Traceback (most recent call last) Cell In[1], line 9\n      6 numbers \x1b[38;5;241m= [\x1b[38;5;241m-"
    "\x1b[38;5;241m6244, \x1b[38;5;241m-\x1b[38;5;241m2, \x1b[38;5;241m2\x1b[38;5;241m/\x1b[38;5;241m23]\n      8 "
    "\x1b[38;5;66;03m# Convert fractions to decimals\n----> 9 numbers[\x1b[38;5;241m2] \x1b[38;5;241m= "
    "fraction_to_decimal(numbers[\x1b[38;5;241;43m2])\n     11 numbers\n Cell In[1], line 3, in "
    "fraction_to_decimal(fraction)\n      2 \x1b[38;5;28;01mdef \x1b[38;5;21mfraction_to_decimal(fraction):\n----> 3"
    "     \x1b[38;5;28;01mreturn fraction[\x1b[38;5;241;43m0] \x1b[38;5;241m/ fraction[\x1b[38;5;241m1]\n "
    "TypeError: 'float' object is not subscriptable"
)


@pytest.fixture(scope="module")
def server():
    with ForkServer(DEFAULT_PRELOAD) as fs:
        yield fs


@pytest.fixture
def run(server):
    """run(code) -> what a MathCoder model reads back, from a fresh session shared by the test's blocks."""
    session = ExecutorSession(ExecutorLimits(timeout=10.0), start=False, forkserver=server)
    yield lambda code: execution_text(session.run(code))
    session.close()


# --- the display ---------------------------------------------------------------------------------------------


def test_ints_floats_and_state_across_blocks(run):
    assert run("a = 6") == "<empty_execution>"
    assert run("a * 7") == "42"
    assert run("0.1 + 0.2") == "0.30000000000000004"
    assert run("a / 4") == "1.5"
    assert run("2 ** 100") == "1267650600228229401496703205376"


def test_sympy_objects_show_as_their_str(run):
    run("import sympy as sp\nx = sp.Symbol('x')")
    assert run("sp.expand((x + 1)**2)") == "x**2 + 2*x + 1"
    assert run("sp.Rational(1, 3), sp.sqrt(8)") == "(1/3, 2*sqrt(2))"
    assert run("sp.solve(x**2 - 2, x)") == "[-sqrt(2), sqrt(2)]"
    assert run("sp.Eq(x, 2)") == "Eq(x, 2)"
    assert run("sp.Float(4700)") == "4700.00000000000"
    assert run("sp.Matrix([[1, 2], [3, 4]])") == "Matrix([\n[1, 2],\n[3, 4]])"


def test_long_containers_wrap_at_79_columns_one_item_per_line(run):
    assert run("list(range(20))") == repr(list(range(20)))  # fits: one line
    assert run("list(range(30))") == "[" + ",\n ".join(map(str, range(30))) + "]"
    # Nested, as MathCoder's kernel printed it (MathCoder-CL-7B_simuleq.jsonl): inner lists indent by two.
    shown = run("(list(range(36, -1, -1)), list(range(0, 145, 4)))")
    assert shown.startswith("([36,\n  35,\n  34,") and "  0],\n [0,\n  4,\n  8," in shown and shown.endswith("  144])")
    for k in range(60, 75):  # the one-line form is kept up to 79 characters exactly
        value = ["a" * k, "b"]
        assert ("\n" in run(repr(value))) == (len(repr(value)) > 79)


def test_dicts_keep_insertion_order_and_sets_are_sorted(run):
    assert run("{'b': 1, 'a': [1, 2]}") == "{'b': 1, 'a': [1, 2]}"
    assert run("{3, 1, 2}") == "{1, 2, 3}"
    assert run("{i: i * i for i in range(12)}").startswith("{0: 0,\n 1: 1,\n 2: 4,")


def test_numpy_arrays_and_scalars_print_as_numpy_1_did(run):
    run("import numpy as np")
    assert run("np.array([1.5, 2])") == "array([1.5, 2. ])"
    assert run("np.float64(3.5), np.int64(7)") == "(3.5, 7)"  # not np.float64(3.5): the models saw numpy 1.x
    assert run("print(np.float64(2.5), [np.float64(2.5)])") == "2.5 [2.5]"
    assert run("np.arange(4).reshape(2, 2)") == "array([[0, 1],\n       [2, 3]])"


def test_nothing_shown_for_none_assignments_and_a_trailing_semicolon(run):
    assert run("None") == "<empty_execution>"
    assert run("x = 5") == "<empty_execution>"
    assert run("x + 1;  # hidden, as in IPython") == "<empty_execution>"
    assert run("print(x)") == "5"


def test_prints_come_before_the_display_in_order(run):
    assert run("print('a')\nimport sys\nprint('b', file=sys.stderr)\nprint('c')\n3 * 3") == "a\nb\nc\n9"


def test_functions_and_classes_show_as_ipython_shows_them(run):
    assert run("def f(x, y=2):\n    return x\nf") == "<function __main__.f(x, y=2)>"
    assert run("int") == "int"
    assert run("from fractions import Fraction\nFraction(1, 3)") == "Fraction(1, 3)"


def test_traceback_has_ipythons_layout_and_no_colour_codes(run):
    shown = run("def f():\n    return 1 / 0\n\nf()")
    assert shown.startswith("-" * 75 + " ZeroDivisionError" + " " * 25 + "Traceback (most recent call last)")
    assert " Cell In[1], line 4\n" in shown and " Cell In[1], line 2, in f()\n" in shown
    assert "----> 2     return 1 / 0\n" in shown
    assert shown.endswith("\n ZeroDivisionError: division by zero")
    assert "\x1b" not in shown


def test_traceback_is_what_mathcoders_kernel_printed(run):
    assert run(RECORDED_CODE) == strip_ansi(RECORDED_TRACEBACK)


def test_syntax_error_chained_error_and_recursion(run):
    shown = run("x = 1\ny = (x +")
    assert shown.startswith("Cell In[1], line 2\n    y = (x +\n") and shown.splitlines()[-1].startswith("SyntaxError: ")
    shown = run("import sympy\nsympy.factorint(386.2)")
    assert "During handling of the above exception, another exception occurred:" in shown
    assert shown.endswith("ValueError: 386.2 is not an integer")
    shown = run("def g(n):\n    return g(n + 1)\ng(0)")
    assert "[... skipping similar frames: g at line 2" in shown and len(shown) < 5000
    assert shown.endswith("RecursionError: maximum recursion depth exceeded")


class _Grid:
    """A value with a multi-line repr, as a sympy Matrix has."""

    def __repr__(self):
        return "Grid([\n[1, 2],\n[3, 4]])"


def test_display_layout_rules():
    pretty = worker_display.pretty
    # One line while it fits in 79 columns, then one item per line, indented by the opening bracket.
    assert pretty(["a" * 70, "b"]) == "['" + "a" * 70 + "', 'b']"  # 79 columns
    assert pretty(["a" * 71, "b"]) == "['" + "a" * 71 + "',\n 'b']"  # 80 columns
    assert pretty([(6 - 3 * i, 2 + 4 * i) for i in range(12)]) == (
        "[(6, 2),\n (3, 6),\n (0, 10),\n (-3, 14),\n (-6, 18),\n (-9, 22),\n (-12, 26),\n (-15, 30),\n"
        " (-18, 34),\n (-21, 38),\n (-24, 42),\n (-27, 46)]"
    )
    # Items of a nested container are indented by all the brackets around them, not from a dict's key.
    assert pretty({"k": {"j": list(range(12))}}) == "{'k': {'j': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}"
    assert pretty({"k": {"j": list(range(30))}}) == "{'k': {'j': [" + ",\n   ".join(map(str, range(30))) + "]}}"
    # The text after a container up to the next place a line may break counts: here `]],`.
    assert pretty([[["a" * 66, "b"]], "c"]) == "[[['" + "a" * 66 + "', 'b']],\n 'c']"
    assert pretty([[["a" * 67, "b"]], "c"]) == "[[['" + "a" * 67 + "',\n   'b']],\n 'c']"
    # Sets sorted (by str when the items do not compare), empty set, one-tuple, frozenset's indentation.
    assert pretty([{3, 1, 2}, {10, 9, "a"}, set(), frozenset({2, 1}), (1,)]) == (
        "[{1, 2, 3}, {10, 9, 'a'}, set(), frozenset({1, 2}), (1,)]"
    )
    assert pretty(frozenset(range(25))).startswith("frozenset({0,\n           1,\n           2,\n")
    # Cut after 1000 items; a container inside itself.
    assert pretty(list(range(1001))).endswith("\n 998,\n 999,\n ...]")
    loop: list = []
    loop.append(loop)
    me: dict = {}
    me["me"] = me
    assert pretty([loop, me]) == "[[[...]], {'me': {...}}]"
    # A multi-line repr breaks its container; its later lines are indented like the container's items.
    assert pretty([_Grid(), _Grid()]) == "[Grid([\n [1, 2],\n [3, 4]]),\n Grid([\n [1, 2],\n [3, 4]])]"
    assert pretty([(1, 2), (3, _Grid()), 4]) == "[(1, 2),\n (3, Grid([\n  [1, 2],\n  [3, 4]])),\n 4]"
    # Classes, functions, the collections types, exceptions; a subclass's own __repr__.
    assert pretty([int, _Grid]) == f"[int, {__name__}._Grid]"
    assert pretty([collections.Counter("abca"), collections.defaultdict(list)]) == (
        "[Counter({'a': 2, 'b': 1, 'c': 1}), defaultdict(list, {})]"
    )
    assert pretty([collections.deque([1], maxlen=2), ValueError("bad"), range(3)]) == (
        "[deque([1], maxlen=2), ValueError('bad'), range(0, 3)]"
    )
    assert pretty(collections.defaultdict(int, {f"key{i}": i for i in range(4)})) == (
        "defaultdict(int, {'key0': 0, 'key1': 1, 'key2': 2, 'key3': 3})"
    )
    assert pretty(collections.defaultdict(int, {f"key{i}": i for i in range(8)})) == (
        "defaultdict(int,\n            {'key0': 0,\n" + "".join(f"             'key{i}': {i},\n" for i in range(1, 7))
        + "             'key7': 7})"
    )  # fmt: skip
    assert pretty(lambda x, y=2: x).startswith("<function ") and pretty(len) == "<function len(obj, /)>"

    class Tagged(list):
        def __repr__(self):
            return "Tagged(" + list.__repr__(self) + ")"

    assert pretty(Tagged(range(30))) == "Tagged(" + repr(list(range(30))) + ")"
    # A tuple key breaks when its value cannot.
    assert pretty({(1, 2): "x" * 80}) == "{(1,\n  2): '" + "x" * 80 + "'}"


def test_the_printer_is_ipythons():
    pretty = pytest.importorskip("IPython.lib.pretty", reason="IPython is not installed").pretty
    import collections
    import fractions

    import numpy as np
    import sympy as sp

    x, y = sp.symbols("x y")
    loop: list = []
    loop.append(loop)
    matrix = sp.Matrix([[1, 2], [3, 4]])
    square = np.arange(4).reshape(2, 2)
    values = [
        1, 0.1, "s", None, [], (1,), set(), {3, 1, 2}, frozenset({"b", "a"}), list(range(40)), tuple(range(30)),
        {i: str(i) * 3 for i in range(20)}, {"k": {"j": list(range(30))}}, [(6 - 3 * i, 2 + 4 * i) for i in range(25)],
        sp.solve(x**2 - 3 * x - 7, x), [matrix] * 2, {x: 4700.0, y: sp.Rational(1, 3)},
        [fractions.Fraction(i, 7) for i in range(30)], collections.Counter("abracadabra"), ["x" * 100, "y"],
        collections.defaultdict(int, a=1), ValueError("bad"), int, len, range(3), loop, list(range(2000)),
        matrix.eigenvects(), matrix.diagonalize(), {"A": matrix, "b": list(range(30))}, [1, square, *range(30)],
        [(1, 2), (3, square), (4, 5)], [[1, 2], [3, [4, square]]], {(1, 2): "x" * 80, (3, 4): [5, "y" * 80]},
        {x, y, 1, 2, x + 1}, {10, 9, "a"}, set(range(1001)), {i: i for i in range(1001)}, [[[["a" * 67, "b"]]], 1],
        collections.defaultdict(list, {i: [i] * 9 for i in range(9)}), collections.deque(range(30), maxlen=40),
        collections.OrderedDict((i, i) for i in range(20)), ValueError("x" * 50, "y" * 50), [sp.Matrix([x, 1]), 1],
    ]  # fmt: skip
    for value in values:
        assert worker_display.pretty(value) == pretty(value)


# --- normalising and comparing -------------------------------------------------------------------------------


def test_normalize():
    assert strip_ansi("x \x1b[38;5;241m= \x1b[38;5;66;03m# c") == "x = # c"
    assert normalize("[1,\n 2,\n 3]") == normalize("[1, 2, 3]")
    assert normalize("0.30000000000000004") == normalize("0.3")
    assert normalize("(2.9999999999999996, 1e-17)") == normalize("(3.0, 0.0)")
    assert normalize("3") != normalize("3.0")  # an int and a float are not the same output
    assert normalize("0.33333") != normalize("0.3333333333")
    assert normalize("array([ 1. ,  2.5])") == normalize("array([1. , 2.5])")
    assert normalize("from 'sympy' (/mnt/a/sympy/__init__.py)") == normalize("from 'sympy' (/x/y/sympy/__init__.py)")


def test_parse_error():
    error = parse_error(RECORDED_TRACEBACK)
    assert error is not None and (error.etype, error.message, error.prefix) == (
        "TypeError",
        "'float' object is not subscriptable",
        "",
    )
    chained = (
        "7\n" + "-" * 75 + " TypeError   Traceback (most recent call last) Cell In[1], line 1\n----> 1 f()\n "
        "TypeError: inner \nDuring handling of the above exception, another exception occurred:\n ValueError   "
        "Traceback (most recent call last) Cell In[1], line 1\n----> 1 f()\n ValueError: outer\nsecond line"
    )
    error = parse_error(chained)
    assert (error.prefix, error.etype, error.message) == ("7\n", "ValueError", "outer\nsecond line")
    error = parse_error("Cell In[4], line 10\n    386.2 //= prime\n    ^\nIndentationError: unexpected indent")
    assert error.compile_error and error.etype == "IndentationError"
    harness = "-" * 75 + " Timeout waiting for output" + " " * 32 + "Traceback (most recent call last)"
    assert parse_error(harness).harness
    assert parse_error("[1, 2]") is None and parse_error("<empty_execution>") is None


def test_compare():
    ours = strip_ansi(RECORDED_TRACEBACK).replace("Cell In[1], line 3", "File /elsewhere/x.py:7")
    assert compare(RECORDED_TRACEBACK, ours) is None  # frames differ, type and message match
    assert compare(RECORDED_TRACEBACK, ours.replace("subscriptable", "callable")) == "different exception message"
    assert compare(RECORDED_TRACEBACK, "[1, 2]") == "ran here, raised there"
    assert compare("[1, 2]", RECORDED_TRACEBACK) == "raised here, ran there"
    assert compare("[1,\n 2]", "[1, 2]") is None and compare("(True, True)", "(False, True)") == "output differs"
    theirs = "Cell In[2], line 1\n    x = (1 +\n        ^\nSyntaxError: unexpected EOF while parsing"
    mine = "Cell In[2], line 1\n    x = (1 +\n        ^\nSyntaxError: '(' was never closed"
    assert compare(theirs, mine) is None  # the parser's wording changed in Python 3.10


def test_exclusion_rule():
    assert exclusion("import random\nrandom.randint(1, 6)", [], "4", "2") is not None
    assert exclusion("x = np.random.rand(3)", [], "", "") is not None
    assert exclusion("y * 2", ["import time\nt0 = time.time()"], "1", "2") is not None  # an earlier block
    assert exclusion("time = 5\ntime * 2", [], "10", "10") is None  # a variable named time is no clock
    assert exclusion("f", [], "<function f at 0x7f3a2b1c>", "<function __main__.f()>") is not None
    harness = "-" * 75 + " Timeout waiting for output" + " " * 32 + "Traceback (most recent call last)"
    assert exclusion("while True: pass", [], harness, "") is not None


# --- reading and replaying transcripts -----------------------------------------------------------------------


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(*blocks, key="role"):
    return {"debug_result": [{key: "system", "content": ""}, {key: "user", "content": "q"}, *blocks]}


def _code(text, key="role"):
    return {key: "code", "content": text}


def _execution(text, key="role"):
    return {key: "execution", "content": text}


NAME_ERROR = (
    f"{'-' * 75} {'NameError':<42}Traceback (most recent call last) Cell In[1], line 1\n----> 1 x\n "
    "NameError: name 'x' is not defined"
)


@pytest.fixture
def transcript(tmp_path):
    return _write(
        tmp_path / "outs.jsonl",
        [
            _row(_code("x = 2\nx * 3"), _execution("6"), _code("print('hi')\nx"), _execution("hi\n2")),
            _row(_code("x"), _execution(NAME_ERROR)),
            _row(_code("import random\nrandom.random()"), _execution("0.8444218515250481")),
            _row(_code("1 / 0"), _execution(RECORDED_TRACEBACK.replace("TypeError", "ZeroDivisionError"))),
            _row(_code("7", "type"), _execution("8", "type"), _code("import os\nos.getpid()", "type"), key="type"),
        ],
    )


def test_load_transcripts(transcript, tmp_path):
    rows = load_transcripts(transcript)
    assert [len(r.cells) for r in rows] == [2, 1, 1, 1, 1]  # a code block with no execution after it is left out
    assert rows[4].cells == (("7", "8"),) and rows[0].line == 1
    assert len(load_transcripts(transcript, limit=2)) == 2
    with pytest.raises(UserError, match="debug_result"):
        load_transcripts(_write(tmp_path / "bad.jsonl", [{"question": "q"}]))


def test_replay_file_counts(transcript):
    report = replay_file(transcript, timeout=10.0)
    assert (report.rows, report.blocks, report.compared, report.excluded) == (
        5,
        6,
        5,
        {"time, random or environment source": 1},
    )
    # Each row has its own session: row 2 does not see row 1's x. Row 4 raised a different error than recorded.
    assert report.matched == 3 and report.mismatch_classes == {"different exception message": 1, "output differs": 1}
    assert report.match_rate == pytest.approx(3 / 5)
    data = report.to_dict()
    assert {"blocks", "matched", "match_rate"} <= set(data) and "mismatches" not in data


def test_replay_runs_code_in_worker_processes(tmp_path):
    path = _write(tmp_path / "pid.jsonl", [_row(_code("import os\nos.getpid()"), _execution("1"))])
    (outcome,) = replay_file(path).outcomes
    assert outcome.status == "excluded" and int(outcome.ours) != os.getpid()


def test_cli_json_and_mismatches(transcript):
    runner = CliRunner()
    result = runner.invoke(app, ["replay", str(transcript), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["blocks"], data["matched"], data["match_rate"]) == (6, 3, 0.6)
    result = runner.invoke(app, ["replay", str(transcript), "--show-mismatches", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "matched 3 of 5 compared blocks (60.00 %), 1 excluded; 3 identical" in result.output
    assert "line 5, In[1]: output differs" in result.output and "recorded:\n    8\nours:\n    7" in result.output
    result = runner.invoke(app, ["replay", str(transcript), "--json", "--show-mismatches"])
    assert len(json.loads(result.output)["mismatches"]) == 2
    result = runner.invoke(app, ["replay", str(transcript.with_name("missing.jsonl"))])
    assert result.exit_code == 2 and "cannot read" in result.output


# --- the released transcripts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHARED_FILES)
def test_replay_of_mathcoders_released_transcripts(name):
    path = OUTPUTS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data folder is not on this machine)")
    report = replay_file(path)
    assert sum(report.excluded.values()) <= 0.05 * report.blocks
    assert report.match_rate >= 0.95, report.to_dict()
