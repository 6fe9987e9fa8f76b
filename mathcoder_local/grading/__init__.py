"""Answer checking: equivalence, a worker-process pool with timeouts, and grading result files.

What the bench calls: `AnswerChecker(workers, timeout)` once per run, then `check(prediction, gold)` from any
thread (or `check_many(pairs)`); `answers_match(prediction, gold)` is the same verdict in-process, no timeout.
"""

from mathcoder_local.grading.checker import DEFAULT_TIMEOUT, AnswerChecker, Verdict
from mathcoder_local.grading.equivalence import answers_match
from mathcoder_local.grading.files import GradeReport, grade_file

__all__ = ["DEFAULT_TIMEOUT", "AnswerChecker", "GradeReport", "Verdict", "answers_match", "grade_file"]
