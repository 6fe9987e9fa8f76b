"""Shared by the benchmark scripts: a random-weight model of realistic vocabulary size, cached in /tmp."""

from __future__ import annotations

import hashlib
import statistics
import tempfile
from pathlib import Path

from mathcoder_local.devtools.tiny_gguf import TinyModelSpec, tiny_vocab, write_tiny_gguf

# ~32k tokens like Llama-2 / CodeLlama, so sampling and grammar work per token are at their real size;
# the layers are small so a run takes seconds on 2 cores.
BENCH_SPEC = TinyModelSpec(n_embd=256, n_layer=4, n_head=4, n_head_kv=4, n_ff=688, n_ctx=4096, seed=3)


def bench_model(spec: TinyModelSpec = BENCH_SPEC) -> Path:
    n_base = len(tiny_vocab(TinyModelSpec(mathcoder_tokens=spec.mathcoder_tokens))[0])
    spec = TinyModelSpec(**{**spec.__dict__, "extra_pieces": 32016 - n_base})
    key = hashlib.sha256(repr(spec).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"mathcoder-local-bench-{key}.gguf"
    if not path.exists():
        write_tiny_gguf(path, spec)
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)
