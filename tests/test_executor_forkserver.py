"""Executor sessions forked from a warm fork server: fresh state per session, same limits, fast start."""

from __future__ import annotations

import os
import signal
import time

import pytest
from waiting import wait_until

from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorLimits, ExecutorSession


@pytest.fixture
def server():
    fs = ForkServer(DEFAULT_PRELOAD)
    yield fs
    fs.close()


def _reaped(pid: int) -> bool:
    """The process is gone, zombie included (the fork server reaps its workers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def session(server, **limits):
    return ExecutorSession(ExecutorLimits(**limits), start=False, forkserver=server)


def test_each_session_starts_from_a_pristine_interpreter(server):
    with session(server) as a:
        assert a.run("import math\nmath.pi = 3\nsecret = 42").error is None
        assert a.run("secret, math.pi").display == "(42, 3)"
    with session(server) as b:
        assert b.run("import math\nmath.pi").display == repr(__import__("math").pi)
        assert b.run("secret").error == "NameError"


def test_sessions_are_separate_processes_with_private_dirs(server):
    with session(server) as a, session(server) as b:
        pa = a.run("import os; os.getpid(), os.getpgrp(), os.getcwd(), os.environ['HOME']").display
        pb = b.run("import os; os.getpid(), os.getpgrp(), os.getcwd(), os.environ['HOME']").display
        pid_a, pgrp_a, cwd_a, home_a = eval(pa)
        pid_b, _, cwd_b, _ = eval(pb)
        assert pid_a != pid_b and pid_a != os.getpid()
        assert pgrp_a == pid_a  # its own process group, killed as one
        assert cwd_a == home_a != cwd_b
        assert a.run("open('f.txt', 'w').write('x')").error is None
        assert b.run("import os; os.path.exists('f.txt')").display == "False"


def test_a_timeout_kills_the_session_and_the_next_block_gets_a_new_one(server):
    with session(server, timeout=1.0) as s:
        s.run("x = 1")
        pid = int(s.run("import os; os.getpid()").display)
        result = s.run("while True: pass")
        assert result.timed_out
        wait_until(lambda: _reaped(pid), timeout=5.0, message=f"the timed-out worker {pid} is still a process")
        assert s.run("x").error == "NameError"  # a fresh worker: state is lost, as documented
        assert s.run("1 + 1").display == "2"


def test_forked_workers_start_in_milliseconds(server):
    with session(server) as warm:
        warm.run("1")  # the server's one-time start (imports numpy and sympy)
    started = time.perf_counter()
    for _ in range(5):
        with session(server) as s:
            assert s.run("import sympy; str(sympy.Rational(1, 3))").display == "'1/3'"
    assert (time.perf_counter() - started) / 5 < 1.0  # generous: an interpreter start + sympy is ~0.3 s


def test_rlimits_apply_in_forked_workers(server):
    with session(server, memory_bytes=512 << 20) as s:
        result = s.run("b = bytearray(1 << 30)")
        assert result.error == "MemoryError"


def test_a_dead_server_is_restarted(server):
    with session(server) as s:
        s.run("1")
    os.killpg(server._proc.pid, signal.SIGKILL)
    server._proc.wait()
    with session(server) as s:
        assert s.run("2 + 2").display == "4"


def test_the_server_exits_when_closed(server):
    with session(server) as s:
        s.run("1")
    proc = server._proc
    server.close()
    assert proc.poll() is not None
