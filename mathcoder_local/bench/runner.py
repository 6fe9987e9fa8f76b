"""`bench` as a plain function: many problems through the solve loop at once, resumable, yielding events.

N threads each own one sequence of a BatchedLlama and run the ordinary solve loop on one problem after
another (continuous batching: a finished problem's slot takes the next one at once). Code runs in executor
sessions forked from one warm fork server, while the other sequences keep generating. The caller's thread
collects finished problems, grades votes, appends rows and yields progress; the CLI only renders them.
"""

from __future__ import annotations

import queue
import threading
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from mathcoder_local.atomic import write_json_atomic
from mathcoder_local.bench.backends import local_backend, remote_backend
from mathcoder_local.bench.config import BenchSettings, file_sha256, identity, problems_sha256, versions
from mathcoder_local.bench.results import (
    CONFIG,
    METRICS,
    RESULTS,
    ResultsFile,
    check_config,
    summarize,
)
from mathcoder_local.bench.vote import majority_index
from mathcoder_local.datasets import Problem, load_dataset, select
from mathcoder_local.errors import UserError
from mathcoder_local.events import Finished
from mathcoder_local.paths import user_home
from mathcoder_local.solve import EngineOptions
from mathcoder_local.store.resolve import resolve_model

if TYPE_CHECKING:
    from mathcoder_local.engine.remote import RemoteOptions

METRICS_EVERY = 2.0  # seconds between metrics.json rewrites while running


@dataclass(frozen=True)
class BenchStarted:
    out: Path
    total: int  # problems in this selection
    done: int  # already in results.jsonl (resumed)
    correct: int
    config: dict[str, object]


@dataclass(frozen=True)
class ProblemScored:
    row: dict[str, object]
    done: int
    total: int
    correct: int
    generated_tokens: int  # in this session
    elapsed: float  # seconds since this session started


@dataclass(frozen=True)
class BenchFinished:
    out: Path
    metrics: dict[str, object]
    interrupted: bool


BenchEvent = BenchStarted | ProblemScored | BenchFinished


@dataclass
class _Sample:
    problem: Problem
    index: int
    prediction: str = ""
    correct: bool = False
    check_timed_out: bool = False
    finished: Finished | None = None
    server: str | None = None  # the server that ran it (remote runs)


def default_out(dataset: str, model_path: str) -> Path:
    stem = Path(dataset).stem if dataset.endswith(".jsonl") else dataset.lower()
    return user_home() / "runs" / f"{stem}-{Path(model_path).stem}-{datetime.now():%Y%m%d-%H%M%S}"


def sample_seed(seed: int, problem_id: str, index: int) -> int:
    """Each (problem, sample) gets its own seed, so a resumed or reordered run draws the same samples."""
    return (seed ^ zlib.crc32(f"{problem_id}/{index}".encode())) & 0xFFFFFFFF


def _validate(parallel: int, settings: BenchSettings) -> None:
    if parallel < 1:
        raise UserError("--parallel must be at least 1")
    if settings.samples < 1:
        raise UserError("--samples must be at least 1")
    if settings.samples > 1 and settings.solve.temperature <= 0:
        raise UserError("--samples K needs --temperature > 0: greedy decoding gives K identical answers")
    settings.solve.validated()


def run_bench(
    *,
    dataset: str,
    data_dir: str | Path | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    subset: str | None = None,
    limit: int | None = None,
    model: str | None = None,
    engine_options: EngineOptions = EngineOptions(),
    parallel: int = 1,
    settings: BenchSettings = BenchSettings(),
    out: str | Path | None = None,
    resume: bool = False,
    check_workers: int = 1,
    should_stop: Callable[[], bool] = lambda: False,
    servers: Sequence[str] = (),
    server_kind: str = "auto",
    remote_options: RemoteOptions | None = None,
) -> Iterator[BenchEvent]:
    """Run (or resume) a bench; yields BenchStarted, a ProblemScored per finished problem, BenchFinished.

    With `servers`, the model runs there: `parallel` problems at a time on each server (so parallel x servers
    in all), each worker bound to one server (round-robin) through its own remote engine; code runs here."""
    _validate(parallel, settings)
    if resume and out is None:
        raise UserError("--resume needs --out DIR (the folder of the run to continue)")
    problems = load_dataset(dataset, data_dir=data_dir, question_field=question_field, answer_field=answer_field)
    chosen = select(problems, subset=subset, limit=limit)

    from mathcoder_local.executor.forkserver import ForkServer
    from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorSession
    from mathcoder_local.formats import make_format
    from mathcoder_local.grading.checker import AnswerChecker

    closers: list[Callable[[], None]] = []
    try:
        if servers:
            backend = remote_backend(model, servers, server_kind, remote_options, parallel, settings)
        else:
            backend = local_backend(resolve_model(model), engine_options, parallel, settings)
        closers.append(backend.close)
        fmt = make_format(backend.engines[0], settings.solve.format, system=settings.solve.system).name
        settings = replace(settings, solve=replace(settings.solve, format=fmt))
        folder = Path(out) if out is not None else default_out(dataset, backend.model_path)
        ident = identity(
            dataset=dataset,
            dataset_sha256=problems_sha256(problems),
            model_sha256=file_sha256(Path(backend.model_path)),
            fmt=fmt,
            settings=settings,
            engine=backend.identity,
        )
        check_config(folder, ident, resume=resume)
        results = ResultsFile(folder / RESULTS)
        closers.append(results.close)
        config = {
            **ident,
            "model_path": str(Path(backend.model_path).resolve()),
            "subset": subset,
            "limit": limit,
            "parallel": parallel,
            **backend.facts,
            "versions": versions(),
        }
        forkserver = ForkServer(DEFAULT_PRELOAD)
        closers.append(forkserver.close)
        checker = AnswerChecker(workers=check_workers, lazy=True)
        closers.append(checker.close)
        yield from _run(
            backend,
            chosen,
            results,
            folder,
            config,
            settings,
            should_stop,
            lambda limits: ExecutorSession(limits, start=False, forkserver=forkserver),
            checker,
        )
    finally:
        for close in reversed(closers):
            close()


def _run(backend, chosen, results, folder, config, settings, should_stop, session_factory, checker):
    from mathcoder_local.solve import make_solver

    engines = backend.engines
    wanted = {p.id for p in chosen}
    done_rows = [r for k, r in results.rows.items() if k in wanted]
    todo = [p for p in chosen if p.id not in results.rows]
    jobs: queue.Queue[_Sample] = queue.Queue()
    for problem in todo:
        for k in range(settings.samples):
            jobs.put(_Sample(problem, k))
    finished: queue.Queue[_Sample | BaseException] = queue.Queue()
    stop = threading.Event()

    def work(seq: int) -> None:
        try:
            engine = engines[seq]
            solver = make_solver(engine, settings.solve, session_factory=session_factory)
            while not stop.is_set():
                try:
                    sample = jobs.get_nowait()
                except queue.Empty:
                    return
                seed = sample_seed(settings.solve.seed, sample.problem.id, sample.index)
                events = solver.solve(sample.problem.question, should_stop=stop.is_set, seed=seed)
                sample.finished = next(e for e in events if isinstance(e, Finished))
                sample.server = getattr(engine, "url", None)
                if sample.finished.finish_reason == "cancelled":
                    return  # an unfinished problem is never written; a resumed run does it again
                sample.prediction = sample.finished.answer
                verdict = checker.check(sample.prediction, sample.problem.answer)
                sample.correct, sample.check_timed_out = verdict.correct, verdict.timed_out
                finished.put(sample)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which re-raises it
            finished.put(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"bench-{i}", daemon=True) for i in range(len(engines))]
    started = time.perf_counter()
    generated = 0
    correct = sum(bool(r.get("correct")) for r in done_rows)
    done = len(done_rows)
    yield BenchStarted(folder, len(chosen), done, correct, config)
    votes: dict[str, list[_Sample]] = {}
    interrupted = False
    last_metrics = 0.0
    try:
        for t in threads:
            t.start()
        while done < len(chosen):
            if should_stop():
                interrupted = True
                break
            try:
                item = finished.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and finished.empty():
                    interrupted = True  # every worker left early (cancelled): nothing more will come
                    break
                continue
            if isinstance(item, BaseException):
                raise item
            votes.setdefault(item.problem.id, []).append(item)
            group = votes[item.problem.id]
            if len(group) < settings.samples:
                continue
            del votes[item.problem.id]
            row = _row(sorted(group, key=lambda s: s.index))
            results.append(row)
            done += 1
            correct += bool(row["correct"])
            generated += sum(s.finished.stats.generated_tokens for s in group)
            yield ProblemScored(row, done, len(chosen), correct, generated, time.perf_counter() - started)
            if time.perf_counter() - last_metrics > METRICS_EVERY:
                _write_metrics(folder, results, wanted, config, started, generated, backend)
                last_metrics = time.perf_counter()
    except (KeyboardInterrupt, GeneratorExit):
        interrupted = True
        raise
    finally:
        stop.set()
        for t in threads:
            t.join()
        metrics = _write_metrics(folder, results, wanted, config, started, generated, backend)
    yield BenchFinished(folder, metrics, interrupted)


def _row(samples: list[_Sample]) -> dict[str, object]:
    problem = samples[0].problem
    chosen = samples[majority_index([s.prediction for s in samples])]
    done = chosen.finished
    assert done is not None
    row: dict[str, object] = {
        "id": problem.id,
        "question": problem.question,
        "gold": problem.answer,
        "prediction": chosen.prediction,
        "correct": chosen.correct,
        "subject": problem.subject,
        "level": problem.level,
        "finish_reason": done.finish_reason,
        "format": done.format,
        "blocks": [b.to_dict() for b in done.blocks],
        "prompt_tokens": done.stats.prompt_tokens,
        "completion_tokens": sum(s.finished.stats.generated_tokens for s in samples if s.finished),
        "code_blocks": done.stats.code_blocks,
        "seconds": round(sum(s.finished.stats.seconds for s in samples if s.finished), 3),
    }
    if chosen.check_timed_out:
        row["check_timed_out"] = True
    if chosen.server is not None:
        row["server"] = chosen.server
    if len(samples) > 1:
        row["samples"] = [
            {
                "prediction": s.prediction,
                "correct": s.correct,
                "finish_reason": s.finished.finish_reason,
                "completion_tokens": s.finished.stats.generated_tokens,
                "blocks": [b.to_dict() for b in s.finished.blocks],
            }
            for s in samples
            if s.finished
        ]
        row["any_correct"] = any(s.correct for s in samples)  # pass@K, for reference
    return row


def _write_metrics(folder, results, wanted, config, started, generated, backend) -> dict[str, object]:
    rows = [r for k, r in results.rows.items() if k in wanted]
    seconds = time.perf_counter() - started
    metrics = {
        **summarize(rows),
        "total": len(wanted),
        "complete": len(rows) == len(wanted),
        "session_seconds": round(seconds, 3),
        "session_tokens_per_second": round(generated / seconds, 2) if seconds > 0 else 0.0,
        **backend.session_stats(),
        "config": config,
        "files": {"results": RESULTS, "config": CONFIG},
    }
    write_json_atomic(folder / METRICS, metrics)
    return metrics
