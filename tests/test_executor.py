"""The executor: real worker processes, state across blocks, Jupyter-like display, timeouts and limits."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from waiting import process_exited, wait_until

from mathcoder_local.executor import ExecutorLimits, ExecutorSession


@pytest.fixture
def session():
    with ExecutorSession(ExecutorLimits(timeout=3.0)) as s:
        yield s


def test_state_persists_and_trailing_expression_is_displayed(session):
    assert session.run("x = 6\ny = 7").display == ""
    r = session.run("x * y")
    assert r.display == "42" and r.error is None


def test_prints_come_before_the_display_and_none_is_not_shown(session):
    r = session.run("print('a')\nimport sys\nprint('b', file=sys.stderr)\n'shown'")
    assert r.stdout == "a\nb\n" and r.display == "'shown'"
    assert session.run("None").display == ""
    assert session.run("1 + 1;").display == ""  # a trailing semicolon hides it, as in Jupyter


def test_reprs_match_what_jupyter_shows(session):
    r = session.run("import sympy as sp\nx = sp.Symbol('x')\nsp.expand((x + 1)**2)")
    assert r.display == "x**2 + 2*x + 1"
    assert session.run("import numpy as np\nnp.array([1, 2])").display == "array([1, 2])"
    assert session.run("from fractions import Fraction\nFraction(1, 3)").display == "Fraction(1, 3)"
    assert session.run("0.1 + 0.2").display == "0.30000000000000004"


def test_modules_are_importable_but_names_are_not_pre_imported(session):
    # MathCoder's kernel had no imports preloaded: the model had to import Fraction itself.
    r = session.run("Fraction(1, 2)")
    assert r.error == "NameError"
    assert session.run("import math, itertools, fractions\nmath.comb(5, 2)").display == "10"


def test_traceback_is_readable_and_points_at_the_cell(session):
    r = session.run("def f():\n    return 1 / 0\n\nf()")
    assert r.error == "ZeroDivisionError"
    assert r.traceback.startswith("-" * 75)
    assert "Traceback (most recent call last)" in r.traceback
    assert "----> 2     return 1 / 0" in r.traceback
    assert r.traceback.endswith("ZeroDivisionError: division by zero")
    assert "\x1b[" not in r.traceback
    assert r.error_line == "ZeroDivisionError: division by zero"


def test_syntax_error(session):
    r = session.run("x = (1 +")
    assert r.error == "SyntaxError" and "SyntaxError" in r.traceback


def test_timeout_kills_the_worker_and_the_next_block_gets_a_new_one():
    with ExecutorSession(ExecutorLimits(timeout=1.0)) as session:
        session.run("kept = 1")
        r = session.run("while True:\n    pass")
        assert r.timed_out and r.error == "Timeout" and 1.0 <= r.seconds < 4.0
        after = session.run("1 + 1")
        assert after.display == "2" and session.restarts == 1
        assert session.run("kept").error == "NameError"  # state went with the killed worker


def test_children_of_the_worker_die_with_it():
    with ExecutorSession(ExecutorLimits(timeout=2.0)) as s:
        # The child writes its pid into the session folder (the one place it may write), then sleeps for so
        # long that only the timeout's kill of the whole group ends it. The worker spins once it has the pid.
        child = (
            "import os, time\nopen('pid.tmp', 'w').write(str(os.getpid()))\nos.rename('pid.tmp', 'pid')\n"
            "time.sleep(600)"
        )
        code = (
            f"import os, subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
            "while not os.path.exists('pid'): pass\nwhile True: pass"
        )
        assert s.run(code).timed_out
        pid_file = Path(s.workdir) / "pid"
        assert pid_file.exists(), "the child did not start before the timeout"
        pid = int(pid_file.read_text())
        wait_until(lambda: process_exited(pid), timeout=5.0, message=f"the worker's child {pid} outlived the timeout")


def test_worker_death_is_reported_not_raised(session):
    r = session.run("import os\nos._exit(3)")
    assert r.error == "WorkerDied"
    assert session.run("2 + 2").display == "4"


def test_exit_and_keyboard_interrupt_are_contained(session):
    assert session.run("import sys\nsys.exit(1)").error == "SystemExit"
    assert session.run("raise KeyboardInterrupt").error == "KeyboardInterrupt"
    assert session.run("3").display == "3"


def test_output_cap(tmp_path):
    with ExecutorSession(ExecutorLimits(output_cap=1000)) as s:
        r = s.run("print('x' * 5000)")
        assert len(r.stdout) == 1000 and r.dropped_chars == 4001
        r = s.run("'y' * 5000")
        assert len(r.display) == 1000 and r.dropped_chars > 0


def test_memory_limit(tmp_path):
    with ExecutorSession(ExecutorLimits(memory_bytes=1 << 30)) as s:
        r = s.run("block = bytearray(3 << 30)")
        assert r.error == "MemoryError"


def test_code_runs_in_another_process_with_a_private_directory(session):
    pid = int(session.run("import os\nos.getpid()").display)
    assert pid != os.getpid()
    cwd = session.run("os.getcwd()").display.strip("'")
    home = session.run("os.environ['HOME']").display.strip("'")
    assert cwd == home and "mathcoder-exec-" in cwd and cwd != os.getcwd()
    assert session.run("sorted(os.environ)").display.count("MATHCODER") == 0
    session.close()
    assert not os.path.exists(cwd)


def test_can_be_driven_from_a_thread():
    with ExecutorSession(ExecutorLimits(timeout=1.0)) as session:
        results = []
        thread = threading.Thread(target=lambda: results.append(session.run("while True: pass")))
        thread.start()
        thread.join(10)
        assert results and results[0].timed_out


def test_file_size_limit():
    with ExecutorSession(ExecutorLimits(file_bytes=1 << 20)) as s:
        r = s.run("open('big', 'wb').write(b'0' * (4 << 20))")
        assert r.error in ("OSError", "WorkerDied")  # SIGXFSZ or EFBIG, depending on the platform
