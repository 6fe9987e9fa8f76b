"""Where a bench's engines come from: one batched llama.cpp context here, or remote servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from mathcoder_local.bench.config import BenchSettings
from mathcoder_local.solve import EngineOptions

if TYPE_CHECKING:
    from mathcoder_local.engine.base import Engine
    from mathcoder_local.engine.remote import RemoteOptions


@dataclass
class Backend:
    """Where the workers' engines come from: one batched llama.cpp context, or remote servers."""

    engines: list[Engine]  # one per worker thread
    model_path: str
    identity: dict[str, object] | None  # the run identity's `engine` (None: a local run has none)
    facts: dict[str, object]  # what config records beside the identity
    session_stats: Callable[[], dict[str, object]]  # metrics.json's view of this session's decoding
    close: Callable[[], None]


def local_backend(model_path: str, options: EngineOptions, parallel: int, settings: BenchSettings) -> Backend:
    from mathcoder_local.engine.batched import BatchedLlama

    engine = BatchedLlama(
        model_path,
        n_parallel=parallel,
        n_ctx=settings.n_ctx,
        n_threads=options.n_threads,
        n_gpu_layers=options.n_gpu_layers,
    )

    def stats() -> dict[str, object]:
        c = engine.counters
        return {
            "session_decoding": {  # how well batching worked in this session
                "decode_calls": c.decode_calls,
                "decoded_tokens": c.decoded_tokens,
                "decode_seconds": round(c.decode_seconds, 3),
                "max_sequences_per_call": c.max_batch_sequences,
            }
        }

    return Backend(
        engines=[engine.sequence(i) for i in range(parallel)],
        model_path=model_path,
        identity=None,
        facts={"n_threads": engine._llama.n_threads, "n_gpu_layers": engine.n_gpu_layers},
        session_stats=stats,
        close=engine.close,
    )


def remote_backend(
    model: str | None,
    servers: Sequence[str],
    kind: str,
    options: RemoteOptions | None,
    parallel: int,
    settings: BenchSettings,
) -> Backend:
    from mathcoder_local.engine.remote import RemoteOptions, connect, make_engine
    from mathcoder_local.solve import remote_vocabulary

    options = options or RemoteOptions()
    infos = connect(servers, kind=kind, options=options)
    vocab = remote_vocabulary(model, infos[0])
    engines = [
        make_engine(infos[i % len(infos)], vocab, n_ctx=settings.n_ctx, options=options)
        for i in range(parallel * len(infos))
    ]

    def stats() -> dict[str, object]:
        by_server: dict[str, dict[str, object]] = {}
        for e in engines:
            s = by_server.setdefault(
                e.url, {"workers": 0, "requests": 0, "retries": 0, "generated_tokens": 0, "request_seconds": 0.0}
            )
            s["workers"] += 1  # type: ignore[operator]
            s["requests"] += e.stats.requests  # type: ignore[operator]
            s["retries"] += e.stats.retries  # type: ignore[operator]
            s["generated_tokens"] += e.stats.generated_tokens  # type: ignore[operator]
            s["request_seconds"] = round(s["request_seconds"] + e.stats.seconds, 3)  # type: ignore[operator]
        return {"session_servers": by_server}

    def close() -> None:
        for e in engines:
            e.close()

    return Backend(
        engines=list(engines),
        model_path=vocab,
        identity=infos[0].identity(),
        facts={"servers": [i.url for i in infos], "server_kind": infos[0].kind, "server_dialect": infos[0].dialect},
        session_stats=stats,
        close=close,
    )
