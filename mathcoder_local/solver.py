"""The solve loop: generate, run each code block, append its result as tokens, continue; yield events.

The loop owns one token list that only grows: the prompt, the model's tokens, the execution blocks. Nothing
is re-tokenized, so llama.cpp evaluates each token once per problem (the KV cache carries over rounds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from mathcoder_local.engine.base import ContextFull, Engine, LogitsProcessor, SamplingParams
from mathcoder_local.engine.grammar import validate_gbnf
from mathcoder_local.events import (
    BlockEnded,
    BlockStarted,
    ExecutionResult,
    Finished,
    FinishReason,
    SolveEvent,
    SolveStats,
)
from mathcoder_local.executor.session import ExecutorLimits, ExecutorSession
from mathcoder_local.formats.base import PromptFormat


@dataclass(frozen=True)
class SolveLimits:
    max_rounds: int | None = None  # None: the format's own (MathCoder 16 blocks, ToRA 4 code calls)
    max_block_tokens: int = 1024  # one block (MathCoder's harness: 512 per call; ToRA: 1024)
    max_tokens: int = 4096  # generated tokens for the whole answer


class Solver:
    """Solves questions with one engine and one prompt format; each solve gets a fresh executor session."""

    def __init__(
        self,
        engine: Engine,
        fmt: PromptFormat,
        *,
        sampling: SamplingParams = SamplingParams(),
        limits: SolveLimits = SolveLimits(),
        grammar: bool | str = False,
        executor_limits: ExecutorLimits = ExecutorLimits(),
        logits_processor: LogitsProcessor | None = None,
        session_factory: Callable[[ExecutorLimits], ExecutorSession] | None = None,
    ) -> None:
        self.engine = engine
        self.format = fmt
        self.sampling = sampling
        self.limits = limits
        self.max_rounds = limits.max_rounds if limits.max_rounds is not None else fmt.max_rounds
        self.executor_limits = executor_limits
        self.logits_processor = logits_processor
        # Started at the first code block, not at creation: warming up beside llama.cpp would take cores from
        # it (with threads == cores, one descheduled thread stalls every op), which costs more than the wait.
        self.new_session = session_factory or (lambda limits: ExecutorSession(limits, start=False))
        if grammar is True:
            grammar = fmt.grammar() or False
        self.grammar: str | None = grammar or None
        if self.grammar is not None:
            validate_gbnf(self.grammar, engine.token_id, engine.n_vocab)

    @staticmethod
    def _text_block_ended(events: list[SolveEvent]) -> bool:
        return any(isinstance(e, BlockEnded) and e.block.kind == "text" for e in events)

    def solve(self, question: str, should_stop: Callable[[], bool] = lambda: False) -> Iterator[SolveEvent]:
        started = time.perf_counter()
        engine, fmt = self.engine, self.format
        before = replace(engine.counters)
        tokens = fmt.prompt_tokens(question)
        stats = SolveStats(prompt_tokens=len(tokens))
        tracker = fmt.tracker()
        finish: FinishReason | None = None
        generated = 0
        session = self.new_session(self.executor_limits)
        try:
            while finish is None:
                code: str | None = None
                block_tokens = 0
                stream = engine.generate(
                    tokens, sampling=self.sampling, grammar=self.grammar, logits_processor=self.logits_processor
                )
                try:
                    for token in stream:
                        tokens.append(token)
                        generated += 1
                        block_tokens += 1
                        step = tracker.feed(token)
                        for event in step.events:
                            if isinstance(event, BlockStarted):
                                block_tokens = 0
                            yield event
                        if step.action == "finish":
                            finish = "answer"
                        elif step.action == "execute":
                            code = step.code
                        elif should_stop():
                            finish = "cancelled"
                        elif self._text_block_ended(step.events) and fmt.rounds_used(tracker) >= self.max_rounds:
                            finish = "max_blocks"  # (a code block's round is checked once it has run)
                        elif block_tokens >= self.limits.max_block_tokens:
                            finish = "max_block_tokens"
                        elif generated >= self.limits.max_tokens:
                            finish = "max_tokens"
                        if finish is not None or code is not None:
                            break
                except ContextFull:
                    finish = "context_full"
                finally:
                    stream.close()
                if code is None:
                    continue
                t0 = time.perf_counter()
                cell = session.run(code)
                stats.execution_seconds += time.perf_counter() - t0
                stats.code_blocks += 1
                output = fmt.execution_text(cell)
                yield BlockStarted("execution")
                yield ExecutionResult(output, cell.error, cell.timed_out, cell.seconds)
                yield BlockEnded(tracker.add_execution(output))
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
        yield from tracker.finish()
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
        )
