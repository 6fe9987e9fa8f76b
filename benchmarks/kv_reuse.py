"""evaluated_tokens / context_tokens over a multi-round MathCoder solve (target: 1.00).

The solve is steered along a fixed script (6 code rounds) through the real engine and executor. Also
printed: what a harness that re-sends the whole sequence at every generation call would evaluate (MathCoder's
TGI harness made one call per block, so its real cost is higher still).

    python benchmarks/kv_reuse.py
"""

from __future__ import annotations

from _common import bench_model

from mathcoder_local.devtools.scripted import ScriptedTokens, mathcoder_script
from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.events import Finished
from mathcoder_local.formats import MathCoderFormat
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver

BLOCKS = [("text", "We split the work into steps and compute each one exactly.")]
for i in range(6):
    BLOCKS += [
        ("text", f"Step {i + 1}: multiply the running total."),
        ("code", f"t{i} = {48213 + i} * {317 + i}\nt{i}"),
    ]
BLOCKS += [("text", "The last product is the answer, \\boxed{15460560}."), ("text", "15460560")]


class CountingEngine:
    """Records the sequence length handed to each generate() call."""

    def __init__(self, engine: LlamaEngine) -> None:
        self._engine = engine
        self.call_lengths: list[int] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, tokens, **kw):
        self.call_lengths.append(len(tokens))
        return self._engine.generate(tokens, **kw)


def main() -> None:
    engine = CountingEngine(LlamaEngine(bench_model(), n_ctx=4096, n_threads=2))
    fmt = MathCoderFormat(engine)
    script = ScriptedTokens(mathcoder_script(engine, BLOCKS), engine.eos_id)
    solver = Solver(engine, fmt, SolveConfig(grammar=False), logits_processor=script)
    done = [e for e in solver.solve("Multiply the six pairs.") if isinstance(e, Finished)][0]
    s = done.stats
    resend = sum(engine.call_lengths) + s.generated_tokens - len(engine.call_lengths)
    print(f"code rounds:          {s.code_blocks}")
    print(f"generate() calls:     {len(engine.call_lengths)}")
    print(f"context_tokens:       {s.context_tokens}")
    print(f"evaluated_tokens:     {s.evaluated_tokens}  (the final end-of-message token is never evaluated)")
    print(
        f"evaluated / context:  {s.evaluated_tokens / s.context_tokens:.2f}  ({s.evaluated_tokens}/{s.context_tokens})"
    )
    print(f"re-sending harness:   {resend} tokens evaluated ({resend / s.context_tokens:.2f}x the context)")
    assert s.evaluated_tokens == s.context_tokens - 1, "a token was evaluated twice or not at all"


if __name__ == "__main__":
    main()
