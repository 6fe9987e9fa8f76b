"""Replay a MathCoder transcript file: re-execute every code block, compare with the recorded execution block.

A transcript file is MathCoder's released format: JSON Lines whose rows carry `debug_result`, a list of blocks
`{"role" (or "type"): system|user|text|code|execution, "content"}`. Each row's code blocks run in order in one
fresh executor session (a worker process forked from a warm fork server, never this process), as MathCoder's
harness ran them in one Jupyter kernel per problem; several rows run at once in threads. What we would show
the model (`formats.mathcoder.execution_text`) is compared with the recorded execution block.

Comparison rule. Both texts lose ANSI colour codes (MathCoder's harness left remnants such as
`\x1b[38;5;241m`); absolute file paths read `<path>`; whitespace runs collapse to one space and spaces just
inside brackets go; every float literal is rounded to 10 significant digits (magnitudes below 1e-12 count as
0), so float noise and numpy's column padding do not count. A block that raised is compared by what printed
before the traceback, the exception type and the exception message (the last line), not by frames, paths or
source context, which differ by machine and library version; a cell that does not compile (SyntaxError,
IndentationError, TabError) is compared by type only, because Python 3.10 rewrote the parser's messages.

Exclusion rule. A block is excluded from the rate, and counted apart with its reason, when (1) its code or an
earlier block's code in the same transcript reads a time, randomness or environment source (the modules
`random`, `time`, `datetime`, `secrets`, `uuid`; `np.random`; `os.getpid`/`os.urandom`/`os.environ`/
`os.getcwd`/`os.listdir`; `sys.version`/`sys.platform`/`sys.path`; `id()`), (2) either output shows a memory
address (`0x…` in a repr), (3) the recorded block is MathCoder's harness failing rather than the kernel
answering (its timeout message: a traceback header without any frame), or (4) it comes after such a harness
failure in the same transcript (their kernel went on running the abandoned code).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from mathcoder_local.errors import UserError
from mathcoder_local.jsonl import iter_jsonl

DEFAULT_TIMEOUT = 20.0  # generous: MathCoder's 6 s were measured on their machine, a replay tests semantics
SEPARATOR = "-" * 75
COMPILE_ERRORS = ("SyntaxError", "IndentationError", "TabError")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FLOAT = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|(?<![\w.])\d+[eE][-+]?\d+(?![\w.])")
_HEADER = re.compile(r"(\S+)[ \t]+Traceback \(most recent call last\)")
_CHAIN = re.compile(
    r"During handling of the above exception, another exception occurred:|"
    r"The above exception was the direct cause of the following exception:"
)
_FRAME = re.compile(r"(?:^|\s)(?:Cell In\[\d+\], line \d+|File \S)")
_COMPILE = re.compile(r"(?:^|\n)\s*(?:Cell In\[\d+\]|File [^\n]*), line \d+\n(?:.*\n)*?(\w+): ([^\n]*)\s*$")
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
_NONDETERMINISTIC = re.compile(
    r"\b(?:import|from)\s+(?:random|time|datetime|secrets|uuid)\b"
    r"|\b(?:np|numpy)\s*\.\s*random\b"
    r"|\b(?:random|secrets|uuid)\s*\.\s*\w+\s*\("
    r"|\btime\s*\.\s*(?:time|time_ns|perf_counter|monotonic|process_time|sleep|localtime|ctime)\s*\("
    r"|\b(?:datetime|date)\s*\.\s*(?:now|today|utcnow)\s*\("
    r"|\bos\s*\.\s*(?:getpid|urandom|environ|getcwd|listdir)\b"
    r"|\bsys\s*\.\s*(?:version|platform|path)\b"
    r"|(?<![\w.])id\s*\("
)


# --- reading transcripts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    """One row: its line in the file, its id if any, and its (code, recorded execution) pairs in order."""

    line: int
    ident: str
    cells: tuple[tuple[str, str], ...]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def load_transcripts(path: Path, limit: int | None = None) -> list[Transcript]:
    """The rows of a MathCoder transcript file that have `debug_result`; a code block counts when an
    execution block follows it."""
    transcripts: list[Transcript] = []
    rows = 0
    for number, row in iter_jsonl(path):
        blocks = row.get("debug_result")
        if not isinstance(blocks, list):
            raise UserError(
                f"{path} line {number} has no debug_result list; expected MathCoder's transcripts "
                "(rows with debug_result: [{role, content}, ...])"
            )
        rows += 1
        blocks = [b for b in blocks if isinstance(b, dict)]
        kinds = [(_text(b.get("role") or b.get("type")), _text(b.get("content"))) for b in blocks]
        cells = tuple(
            (content, kinds[i + 1][1])
            for i, (kind, content) in enumerate(kinds)
            if kind == "code" and i + 1 < len(kinds) and kinds[i + 1][0] == "execution"
        )
        transcripts.append(Transcript(number, _text(row.get("id", "")), cells))
        if limit is not None and rows >= limit:
            break
    return transcripts


# --- normalising and comparing -----------------------------------------------------------------------------


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _float(match: re.Match[str]) -> str:
    value = float(match.group(0))
    if math.isinf(value) or math.isnan(value):
        return match.group(0)
    if abs(value) < 1e-12:
        return "0.0"
    shown = f"{value:.10g}"
    return shown if any(c in shown for c in ".e") else shown + ".0"


def normalize(text: str) -> str:
    """Plain output as compared: no colour codes, whitespace collapsed, floats to 10 significant digits."""
    text = _PATH.sub("<path>", strip_ansi(text))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"([\[({]) ", r"\1", text)
    text = re.sub(r" ([\])}])", r"\1", text)
    text = re.sub(r" ,", ",", text)
    return _FLOAT.sub(_float, text)


@dataclass(frozen=True)
class ErrorText:
    prefix: str  # what printed before the traceback
    etype: str
    message: str
    compile_error: bool = False
    harness: bool = False  # a traceback header without frames: the harness's own failure (its timeout)


def parse_error(text: str) -> ErrorText | None:
    """The error part of an execution block in IPython's layout (as MathCoder's harness joined it), or None."""
    text = strip_ansi(text)
    start = text.find(SEPARATOR)
    if start >= 0 and "Traceback (most recent call last)" in text[start:]:
        prefix, body = text[:start], text[start + len(SEPARATOR) :]
        section = _CHAIN.split(body)[-1]
        header = _HEADER.search(section)
        if header is None:
            return None
        etype = header.group(1)
        if not _FRAME.search(section[header.end() :]):
            return ErrorText(prefix, etype, section[header.end() :].strip(), harness=True)
        message = ""
        found = list(re.finditer(rf"(?:^|\n) ?{re.escape(etype)}:(?: |$)", section, re.M))
        if found:
            message = section[found[-1].end() :]
        else:
            message = section.rstrip().rsplit("\n", 1)[-1]
        return ErrorText(prefix, etype, message.strip())
    match = _COMPILE.search(text)
    if match and match.group(1) in COMPILE_ERRORS:
        return ErrorText(text[: match.start()], match.group(1), match.group(2).strip(), compile_error=True)
    return None


def compare(recorded: str, ours: str) -> str | None:
    """None when the two execution blocks match under the rule above, else the mismatch's class."""
    theirs, mine = parse_error(recorded), parse_error(ours)
    if theirs is None and mine is None:
        return None if normalize(recorded) == normalize(ours) else "output differs"
    if theirs is None:
        return "raised here, ran there"
    if mine is None:
        return "ran here, raised there"
    if normalize(theirs.prefix) != normalize(mine.prefix):
        return "output before the error differs"
    if theirs.etype != mine.etype:
        return "different exception type"
    if theirs.compile_error and mine.compile_error:
        return None
    if normalize(theirs.message) != normalize(mine.message):
        return "different exception message"
    return None


def exclusion(code: str, earlier: Sequence[str], recorded: str, ours: str) -> str | None:
    """Why a block does not count (the exclusion rule above), or None."""
    if any(_NONDETERMINISTIC.search(c) for c in (*earlier, code)):
        return "time, random or environment source"
    if _ADDRESS.search(strip_ansi(recorded)) or _ADDRESS.search(ours):
        return "memory address in the output"
    error = parse_error(recorded)
    if error is not None and error.harness:
        return "recorded harness failure (timeout)"
    return None


# --- running -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockOutcome:
    line: int  # the row's line in the file
    ident: str
    cell: int  # 1-based, In[N] of the row's session
    code: str
    recorded: str  # ANSI codes stripped
    ours: str
    status: str  # "matched", "mismatched" or "excluded"
    reason: str = ""  # the mismatch class or the exclusion reason
    follows_mismatch: bool = False  # an earlier block of the row mismatched: its state may differ from theirs

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "id": self.ident,
            "cell": self.cell,
            "status": self.status,
            "reason": self.reason,
            "follows_mismatch": self.follows_mismatch,
            "code": self.code,
            "recorded": self.recorded,
            "ours": self.ours,
        }


@dataclass
class ReplayReport:
    file: str
    rows: int = 0
    blocks: int = 0
    matched: int = 0
    mismatched: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    mismatch_classes: dict[str, int] = field(default_factory=dict)
    first_mismatch_classes: dict[str, int] = field(default_factory=dict)  # the first mismatch of each row
    outcomes: list[BlockOutcome] = field(default_factory=list)
    seconds: float = 0.0
    timeout: float = DEFAULT_TIMEOUT

    @property
    def compared(self) -> int:
        return self.matched + self.mismatched

    @property
    def match_rate(self) -> float:
        return self.matched / self.compared if self.compared else 1.0

    @property
    def identical(self) -> int:
        """Compared blocks whose text is exactly the recorded one (colour codes and outer whitespace aside)."""
        return sum(o.status != "excluded" and o.recorded.strip() == o.ours.strip() for o in self.outcomes)

    @property
    def mismatches(self) -> list[BlockOutcome]:
        return [o for o in self.outcomes if o.status == "mismatched"]

    def to_dict(self, *, mismatches: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "file": self.file,
            "rows": self.rows,
            "blocks": self.blocks,
            "compared": self.compared,
            "matched": self.matched,
            "match_rate": round(self.match_rate, 6),
            "identical": self.identical,
            "excluded": sum(self.excluded.values()),
            "excluded_by_reason": dict(self.excluded),
            "mismatch_classes": dict(self.mismatch_classes),
            "first_mismatch_classes": dict(self.first_mismatch_classes),
            "timeout": self.timeout,
            "seconds": round(self.seconds, 2),
        }
        if mismatches:
            data["mismatches"] = [o.to_dict() for o in self.mismatches]
        return data


def replay_transcript(transcript: Transcript, new_session: Callable[[], object]) -> list[BlockOutcome]:
    """Run one row's code blocks in one fresh session and judge each block."""
    from mathcoder_local.formats.mathcoder import execution_text

    outcomes: list[BlockOutcome] = []
    session = new_session()
    harness_failed = mismatched = False
    try:
        for n, (code, recorded) in enumerate(transcript.cells, 1):
            cell = session.run(code)  # type: ignore[attr-defined]
            ours = execution_text(cell)
            theirs = strip_ansi(recorded)
            earlier = [c for c, _ in transcript.cells[: n - 1]]
            reason = "after a recorded harness failure" if harness_failed else exclusion(code, earlier, recorded, ours)
            if reason == "recorded harness failure (timeout)":
                harness_failed = True
            if reason is not None:
                status = "excluded"
            elif cell.timed_out:  # type: ignore[attr-defined]
                status, reason = "mismatched", "timed out here"
            elif cell.error == "WorkerDied":  # type: ignore[attr-defined]
                status, reason = "mismatched", "worker died here"
            else:
                reason = compare(recorded, ours) or ""
                status = "mismatched" if reason else "matched"
            outcomes.append(
                BlockOutcome(transcript.line, transcript.ident, n, code, theirs, ours, status, reason, mismatched)
            )
            mismatched = mismatched or status == "mismatched"
    finally:
        session.close()  # type: ignore[attr-defined]
    return outcomes


def replay_file(
    path: Path | str,
    *,
    limit: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Re-execute every code block of a MathCoder transcript file, session by session, and compare."""
    from mathcoder_local.executor.forkserver import ForkServer
    from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorLimits, ExecutorSession

    path = Path(path)
    transcripts = load_transcripts(path, limit)
    report = ReplayReport(file=str(path), rows=len(transcripts), timeout=timeout)
    limits = ExecutorLimits(timeout=timeout)
    started = time.perf_counter()
    done = 0
    lock = threading.Lock()
    with ForkServer(DEFAULT_PRELOAD) as server:

        def run(transcript: Transcript) -> list[BlockOutcome]:
            nonlocal done
            outcomes = replay_transcript(transcript, lambda: ExecutorSession(limits, start=False, forkserver=server))
            with lock:
                done += 1
                if progress is not None:
                    progress(done, len(transcripts))
            return outcomes

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(pool.map(run, transcripts))
    excluded: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    first: Counter[str] = Counter()
    for outcomes in results:
        for o in outcomes:
            report.outcomes.append(o)
            if o.status == "matched":
                report.matched += 1
            elif o.status == "mismatched":
                report.mismatched += 1
                classes[o.reason] += 1
                first[o.reason] += not o.follows_mismatch
            else:
                excluded[o.reason] += 1
    report.blocks = len(report.outcomes)
    report.excluded = dict(excluded.most_common())
    report.mismatch_classes = dict(classes.most_common())
    report.first_mismatch_classes = {k: v for k, v in first.most_common() if v}
    report.seconds = time.perf_counter() - started
    return report
