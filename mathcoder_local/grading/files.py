"""Grading a finished run from its file: our bench's results, MathCoder's released outputs, ToRA's outputs.

The layout is detected from the first row's keys:

- **bench** (`results.jsonl` of `mathcoder-local bench`): `id`, `gold`, `prediction`, `correct` (the verdict at
  run time), `subject`, `level`, `blocks`, optional `samples` (maj@K). The `prediction` is used as it is: it
  is already our format's extraction, made by the format that ran (the row does not say which).
- **mathcoder** (mathllm/MathCoder `outs/`): `messages`, `ground_truth: {answer}`, `debug_result` (blocks),
  `completion`. The answer is re-extracted from the `debug_result` blocks with our MathCoder extraction (the
  last short text block, else the last \\boxed{}), the same code the solve loop uses, so a released output and
  our own run are graded alike. `completion` is the authors' raw last block (sometimes an execution output or
  a paragraph); `answer_source="file"` grades it instead. The rows carry no verdict.
- **tora** (microsoft/ToRA outputs): `idx`, `gt`, `code` (one transcript string), `pred`, optional `score`
  (ToRA's verdicts, carried). The answer is re-extracted from the `code` transcript with our ToRA extraction
  (`answer_source="file"`: ToRA's own `pred`).

Measured on the shared files (transcript / file answers → published): MathCoder-CL-7B SVAMP 70.8 / 70.7 → 70.7,
Mathematics 55.9 / 55.9 → 56.0, SimulEq 50.0 / 50.0 → 49.6, debug GSM8K 50.0 / 50.0 → 50.0; ToRA-Code-34B
GSM8K 80.5 / 80.5 → 80.7. Row by row against the authors' correct/wrong split, the differences are theirs
to explain: their 0.01 absolute tolerance (0.990 for 1, 1/6 for 0.165), units their parser kept
("30{nickels}" for 30), ToRA's ×/÷100 rule (0.05 for 5, 0.7 for 70), and one SVAMP row whose last block is
an execution output ("[]") after the text block "11". Transcripts are the default: they are what our own
runs are graded on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mathcoder_local.errors import UserError
from mathcoder_local.events import Block
from mathcoder_local.grading.checker import DEFAULT_TIMEOUT, AnswerChecker, Verdict
from mathcoder_local.grading.equivalence import as_text
from mathcoder_local.jsonl import iter_jsonl

Layout = Literal["bench", "mathcoder", "tora"]
AnswerSource = Literal["transcript", "file"]
BENCH_RESULTS = "results.jsonl"


@dataclass(frozen=True)
class GradeItem:
    """One row to grade: what was answered, what is right, and the file's own verdict if it has one."""

    id: str
    prediction: str
    gold: str
    subject: str | None = None
    level: int | None = None
    carried: bool | None = None  # the verdict the file records for this row
    samples: tuple[str, ...] = ()  # maj@K samples' predictions (bench)


@dataclass
class Bucket:
    n: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "correct": self.correct, "accuracy": round(self.accuracy, 2)}


@dataclass(frozen=True)
class Disagreement:
    id: str
    prediction: str
    gold: str
    ours: bool
    carried: bool
    timed_out: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "prediction": self.prediction,
            "gold": self.gold,
            "ours": self.ours,
            "carried": self.carried,
            "timed_out": self.timed_out,
        }


@dataclass
class GradeReport:
    path: str
    format: Layout
    answer_source: AnswerSource
    overall: Bucket = field(default_factory=Bucket)
    by_subject: dict[str, Bucket] = field(default_factory=dict)
    by_level: dict[int, Bucket] = field(default_factory=dict)
    carried: Bucket | None = None  # accuracy by the file's own verdicts, where it has them
    samples: Bucket | None = None  # every maj@K sample graded on its own
    disagreements: list[Disagreement] = field(default_factory=list)
    timeouts: int = 0
    errors: int = 0

    @property
    def n(self) -> int:
        return self.overall.n

    @property
    def correct(self) -> int:
        return self.overall.correct

    @property
    def accuracy(self) -> float:
        return self.overall.accuracy

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "format": self.format,
            "answer_source": self.answer_source,
            "n": self.n,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 2),
            "by_subject": {k: v.to_dict() for k, v in sorted(self.by_subject.items())},
            "by_level": {str(k): v.to_dict() for k, v in sorted(self.by_level.items())},
            "carried": self.carried.to_dict() if self.carried else None,
            "samples": self.samples.to_dict() if self.samples else None,
            "n_disagreements": len(self.disagreements) if self.carried else None,
            "disagreements": [d.to_dict() for d in self.disagreements],
            "timeouts": self.timeouts,
            "errors": self.errors,
        }


# --- reading ---------------------------------------------------------------------------------------------


def results_path(path: str | Path) -> Path:
    """The file to grade: `path` itself, or the `results.jsonl` inside a run folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        inner = p / BENCH_RESULTS
        if not inner.is_file():
            raise UserError(f"{p} is a folder without {BENCH_RESULTS}; give the results file itself")
        return inner
    if not p.exists():
        raise UserError(f"no such file: {p}; give a bench results.jsonl or a MathCoder/ToRA output file")
    return p


def detect_layout(row: dict) -> Layout | None:
    if "debug_result" in row and "ground_truth" in row:
        return "mathcoder"
    if "code" in row and "gt" in row:
        return "tora"
    if "prediction" in row and "gold" in row:
        return "bench"
    return None


def load_items(path: str | Path, answer_source: AnswerSource = "transcript") -> tuple[Layout, list[GradeItem]]:
    """The rows of a results file as GradeItems, with the layout detected from the first row."""
    p = results_path(path)
    layout: Layout | None = None
    items: list[GradeItem] = []
    for number, row in iter_jsonl(p):
        if layout is None:
            layout = detect_layout(row)
            if layout is None:
                keys = ", ".join(sorted(row)[:8]) or "none"
                raise UserError(
                    f"{p} is not a layout grade knows (bench results, MathCoder outputs, ToRA outputs); "
                    f"its first row has the keys: {keys}"
                )
        try:
            items.append(_ITEM_READERS[layout](row, number, answer_source))
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise UserError(f"{p} line {number} is not a complete {layout} row (bad or missing {exc})") from None
    if layout is None:
        raise UserError(f"{p} has no rows to grade")
    return layout, items


def _bench_item(row: dict, number: int, answer_source: AnswerSource) -> GradeItem:
    carried = row.get("correct")
    samples = tuple(as_text(s.get("prediction")) for s in row.get("samples") or ())
    return GradeItem(
        id=as_text(row.get("id", number)),
        prediction=as_text(row["prediction"]),
        gold=as_text(row["gold"]),
        subject=row.get("subject"),
        level=_level(row.get("level")),
        carried=carried if isinstance(carried, bool) else None,
        samples=samples,
    )


def _mathcoder_item(row: dict, number: int, answer_source: AnswerSource) -> GradeItem:
    from mathcoder_local.formats.mathcoder import extract_answer

    if answer_source == "file":
        prediction = as_text(row["completion"])
    else:
        blocks = []
        for b in row["debug_result"]:
            kind = b.get("role") or b.get("type")  # the debug file says "type", the released outputs "role"
            if kind in ("text", "code", "execution"):
                blocks.append(Block(kind, as_text(b.get("content"))))
        prediction = extract_answer(blocks)
    ident = as_text(row.get("id", number))
    return GradeItem(
        id=ident,
        prediction=prediction,
        gold=as_text(row["ground_truth"]["answer"]),
        subject=_subject(row) or _math_subject_from_id(ident),
        level=_level(row.get("level")),
    )


def _tora_item(row: dict, number: int, answer_source: AnswerSource) -> GradeItem:
    from mathcoder_local.formats.tora import extract_answer, parse_transcript

    if answer_source == "file":
        pred = row["pred"]
        prediction = as_text(pred[0] if isinstance(pred, list) and pred else pred)
    else:
        code = row["code"]
        prediction = extract_answer(parse_transcript(as_text(code[0] if isinstance(code, list) else code)))
    score = row.get("score")
    if isinstance(score, list):
        score = score[0] if score else None
    return GradeItem(
        id=as_text(row.get("idx", number)),
        prediction=prediction,
        gold=as_text(row["gt"]),
        subject=_subject(row),
        level=_level(row.get("level")),
        carried=score if isinstance(score, bool) else None,
    )


_ITEM_READERS = {"bench": _bench_item, "mathcoder": _mathcoder_item, "tora": _tora_item}


def _subject(row: dict) -> str | None:
    value = row.get("subject") or row.get("type")
    return str(value) if value else None


def _math_subject_from_id(ident: str) -> str | None:
    m = re.search(r"(?:^|/)test/([a-z_]+)/\d+\.json$", ident)  # MathCoder's MATH ids: "test/algebra/1.json"
    return m.group(1) if m else None


def _level(value: object) -> int | None:
    """3, "3" or MATH's "Level 3"; None when unknown ("Level ?")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:level\s*)?(\d+)\s*", value, re.IGNORECASE)
        return int(m.group(1)) if m else None
    return None


# --- grading ---------------------------------------------------------------------------------------------


def grade_items(items: list[GradeItem], checker: AnswerChecker) -> tuple[list[Verdict], list[list[Verdict]]]:
    """Verdicts for each item and for each of its samples, checked in one batch."""
    pairs = [(item.prediction, item.gold) for item in items]
    pairs += [(sample, item.gold) for item in items for sample in item.samples]
    verdicts = checker.check_many(pairs)
    main, rest = verdicts[: len(items)], iter(verdicts[len(items) :])
    return main, [[next(rest) for _ in item.samples] for item in items]


def grade_file(
    path: str | Path,
    *,
    checker: AnswerChecker | None = None,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    answer_source: AnswerSource = "transcript",
) -> GradeReport:
    """Grade a finished run. Uses `checker` if given, else a pool of `workers` processes for this call."""
    p = results_path(path)
    layout, items = load_items(p, answer_source)
    if checker is None:
        with AnswerChecker(workers=workers, timeout=timeout) as own:
            verdicts, sample_verdicts = grade_items(items, own)
    else:
        verdicts, sample_verdicts = grade_items(items, checker)
    return build_report(str(p), layout, answer_source, items, verdicts, sample_verdicts)


def build_report(
    path: str,
    layout: Layout,
    answer_source: AnswerSource,
    items: list[GradeItem],
    verdicts: list[Verdict],
    sample_verdicts: list[list[Verdict]],
) -> GradeReport:
    report = GradeReport(path=path, format=layout, answer_source=answer_source)
    for item, verdict, samples in zip(items, verdicts, sample_verdicts, strict=True):
        ok = verdict.correct
        _add(report.overall, ok)
        if item.subject:
            _add(report.by_subject.setdefault(item.subject, Bucket()), ok)
        if item.level is not None:
            _add(report.by_level.setdefault(item.level, Bucket()), ok)
        report.timeouts += verdict.timed_out + sum(v.timed_out for v in samples)
        report.errors += (verdict.error is not None) + sum(v.error is not None for v in samples)
        if item.carried is not None:
            report.carried = report.carried or Bucket()
            _add(report.carried, item.carried)
            if item.carried != ok:
                report.disagreements.append(
                    Disagreement(item.id, item.prediction, item.gold, ok, item.carried, verdict.timed_out)
                )
        for sample in samples:
            report.samples = report.samples or Bucket()
            _add(report.samples, sample.correct)
    return report


def _add(bucket: Bucket, ok: bool) -> None:
    bucket.n += 1
    bucket.correct += ok
