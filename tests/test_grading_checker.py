"""The checker pool: worker processes, a per-check timeout that kills and replaces, use from threads."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from waiting import wait_until

from mathcoder_local.grading.checker import AnswerChecker, Verdict

# sympy expands both products to compare them: tens of seconds, with little memory.
SLOW = ("(x+1)^{80}(y+1)^{80}", "(x+2)^{80}(y+1)^{80}")


@pytest.fixture(scope="module")
def checker():
    with AnswerChecker(workers=2, timeout=5.0) as pool:
        yield pool


def _pids(pool: AnswerChecker) -> list[int]:
    return [w._proc.pid for w in pool._workers if w._proc is not None]


def test_check_runs_in_other_processes(checker):
    verdict = checker.check("\\frac{1}{2}", "0.5")
    assert verdict == Verdict(True, seconds=verdict.seconds)
    assert checker.check("1", "100").correct is False
    assert os.getpid() not in _pids(checker) and len(_pids(checker)) == 2


def test_check_many_keeps_order(checker):
    pairs = [("1,000", "1000"), ("1", "100"), ("\\text{Monday}", "monday"), ("", "3")] * 50
    verdicts = checker.check_many(pairs)
    assert [v.correct for v in verdicts] == [True, False, True, False] * 50


def test_usable_from_threads(checker):
    results: dict[int, bool] = {}

    def work(i: int) -> None:
        results[i] = checker.check(f"{i}/2", str(i / 2)).correct and not checker.check(str(i), str(i + 1)).correct

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: True for i in range(8)}


def test_timeout_kills_the_worker_and_the_pool_goes_on():
    with AnswerChecker(workers=1, timeout=1.0) as pool:
        assert pool.check("2", "2.0").correct  # started and warm
        before = _pids(pool)
        t0 = time.monotonic()
        verdict = pool.check(*SLOW)
        assert verdict.timed_out and not verdict.correct
        assert time.monotonic() - t0 < 5
        assert _pids(pool) != before and pool.timeouts == 1  # killed and replaced
        assert pool.check("\\frac{3}{4}", "0.75").correct
        assert [v.correct for v in pool.check_many([("1", "1.0"), ("2", "3")])] == [True, False]


def test_a_worker_killed_between_checks_is_replaced():
    with AnswerChecker(workers=1) as pool:
        assert pool.check("1/2", "0.5").correct
        (pid,) = _pids(pool)
        os.kill(pid, signal.SIGKILL)
        proc = pool._workers[0]._proc
        wait_until(lambda: proc.poll() is not None, timeout=10.0, message="the killed worker did not exit")
        assert pool.check("1/2", "0.5").correct
        assert _pids(pool) != [pid]


def test_closed_pool_refuses():
    pool = AnswerChecker(workers=1)
    pool.close()
    assert pool.check("", "1").correct is False  # decided without a worker
    with pytest.raises(RuntimeError):
        pool.check("1/2", "0.5")
