"""The solve loop: generate, run each code block, append its result as tokens, continue; yield events.

The loop owns one token list that only grows: the prompt, the model's tokens, the execution blocks. Nothing
is re-tokenized, so llama.cpp evaluates each token once per problem (the KV cache carries over rounds).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Iterator

from mathcoder_local.engine.base import ContextFull, Engine, LogitsProcessor
from mathcoder_local.engine.grammar import validate_gbnf
from mathcoder_local.errors import UserError
from mathcoder_local.events import (
    BlockEnded,
    BlockStarted,
    ExecutionResult,
    Finished,
    FinishReason,
    Rounds,
    SolveEvent,
    SolveStarted,
    SolveStats,
)
from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
from mathcoder_local.formats.base import BlockTracker, PromptFormat
from mathcoder_local.solve_config import SolveConfig

SessionFactory = Callable[[ExecutorLimits], ExecutorSession]


class Solver:
    """Solves questions with one engine, one prompt format and one configuration; each solve gets a fresh
    executor session.

    `fmt` is built from the configuration's `format` and `system` by `make_solver`; tests and benchmarks pass
    a format directly. `config.grammar` None means the format's default (`grammar_by_default`: on for
    MathCoder), so a bare `Solver(engine, fmt)` decodes as `solve` does."""

    def __init__(
        self,
        engine: Engine,
        fmt: PromptFormat,
        config: SolveConfig = SolveConfig(),
        *,
        logits_processor: LogitsProcessor | None = None,
        session_factory: SessionFactory | None = None,
    ) -> None:
        self.engine = engine
        self.format = fmt
        self.config = config.validated()
        self.max_rounds = config.max_rounds if config.max_rounds is not None else fmt.max_rounds
        self.executor_limits = config.executor_limits()
        self.logits_processor = logits_processor
        self.stops = fmt.stop_rules()
        # Started at the first code block, not at creation: warming up beside llama.cpp would take cores from
        # it (with threads == cores, one descheduled thread stalls every op), which costs more than the wait.
        self.new_session = session_factory or (lambda limits: ExecutorSession(limits, start=False))
        use_grammar = fmt.grammar_by_default if config.grammar is None else config.grammar
        self.grammar: str | None = fmt.grammar() if use_grammar else None
        if use_grammar and self.grammar is None:
            raise UserError(f"the {fmt.name} format has no grammar; drop --grammar")
        if self.grammar is not None:
            validate_gbnf(self.grammar, engine.token_id, engine.n_vocab)

    def _rounds(self, tracker: BlockTracker) -> Rounds:
        return Rounds(self.format.rounds_used(tracker), self.max_rounds, self.format.round_unit)

    def solve(
        self, question: str, should_stop: Callable[[], bool] = lambda: False, *, seed: int | None = None
    ) -> Iterator[SolveEvent]:
        """Yield the loop's events for one question, the last one `Finished`. `seed` overrides the
        configuration's (the bench gives each problem and sample its own)."""
        started = time.perf_counter()
        engine, fmt, limits = self.engine, self.format, self.config
        sampling = limits.sampling(seed)
        before = replace(engine.counters)
        tokens = fmt.prompt_tokens(question)
        stats = SolveStats(prompt_tokens=len(tokens))
        tracker = fmt.tracker()
        yield SolveStarted(fmt.name, self._rounds(tracker), len(tokens))
        finish: FinishReason | None = None
        generated = 0
        session = self.new_session(self.executor_limits)
        try:
            while finish is None:
                code: str | None = None
                block_tokens = 0
                stream = engine.generate(
                    tokens,
                    sampling=sampling,
                    grammar=self.grammar,
                    logits_processor=self.logits_processor,
                    stops=self.stops,
                )
                try:
                    for token in stream:
                        tokens.append(token)
                        generated += 1
                        block_tokens += 1
                        step = tracker.feed(token)
                        text_ended = False
                        for event in step.events:
                            if isinstance(event, BlockStarted):
                                block_tokens = 0
                            elif isinstance(event, BlockEnded):
                                event = replace(event, rounds=self._rounds(tracker))
                                text_ended = text_ended or event.block.kind == "text"
                            yield event
                        if step.action == "finish":
                            finish = "answer"
                        elif step.action == "execute":
                            code = step.code
                        elif should_stop():
                            finish = "cancelled"
                        elif text_ended and fmt.rounds_used(tracker) >= self.max_rounds:
                            finish = "max_blocks"  # (a code block's round is checked once it has run)
                        elif block_tokens >= limits.max_block_tokens:
                            finish = "max_block_tokens"
                        elif generated >= limits.max_tokens:
                            finish = "max_tokens"
                        if finish is not None or code is not None:
                            break
                except ContextFull:
                    finish = "context_full"
                finally:
                    stream.close()
                if code is None:
                    continue
                yield BlockStarted("execution")
                t0 = time.perf_counter()
                cell = session.run(code)
                stats.execution_seconds += time.perf_counter() - t0
                stats.code_blocks += 1
                output = fmt.execution_text(cell)
                result = ExecutionResult(cell.error, cell.timed_out, cell.seconds)
                yield BlockEnded(tracker.add_execution(output, result), self._rounds(tracker))
                appended = fmt.execution_tokens(output)
                if len(tokens) + len(appended) >= engine.n_ctx:
                    finish = "context_full"
                    continue
                tokens.extend(appended)
                if fmt.rounds_used(tracker) >= self.max_rounds:
                    finish = "max_blocks"
                elif should_stop():
                    finish = "cancelled"
        finally:
            session.close()
        for event in tracker.finish():
            yield replace(event, rounds=self._rounds(tracker)) if isinstance(event, BlockEnded) else event
        counters = engine.counters
        stats.generated_tokens = generated
        stats.evaluated_tokens = counters.evaluated_tokens - before.evaluated_tokens
        stats.context_tokens = len(tokens)
        stats.seconds = time.perf_counter() - started
        stats.generation_seconds = max(stats.seconds - stats.execution_seconds, 1e-9)
        stats.tokens_per_second = generated / stats.generation_seconds
        yield Finished(
            answer=fmt.extract_answer(tracker.blocks),
            finish_reason=finish,
            format=fmt.name,
            blocks=tuple(tracker.blocks),
            stats=stats,
            rounds=self._rounds(tracker),
        )
