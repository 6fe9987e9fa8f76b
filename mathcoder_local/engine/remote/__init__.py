"""Remote engines: the solve loop over an inference server, the vocabulary here, the code run here.

`http` (the client, retries, errors), `probe` (what runs at a URL), `base` (`RemoteEngine`: the vocabulary,
prompts as text, the generate loop), and one module per server kind: `openai` (llama.cpp and vLLM dialects),
`tgi`. Dependencies point one way: the server kinds import `base` and `http`; nothing imports them but
`make_engine`. llama.cpp (for the vocabulary) loads only with `base`, so the command line can name the server
kinds without it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mathcoder_local.engine.remote.http import API_KEY_ENV, RemoteOptions, RequestStats, ServerDown, ServerError
from mathcoder_local.engine.remote.probe import SERVER_KINDS, ServerInfo, connect, probe_server

if TYPE_CHECKING:
    from mathcoder_local.engine.remote.base import RemoteEngine


def make_engine(
    info: ServerInfo,
    vocab_path: str | os.PathLike[str],
    *,
    n_ctx: int = 4096,
    options: RemoteOptions = RemoteOptions(),
) -> RemoteEngine:
    """The remote engine for the kind of server `info` describes."""
    if info.kind == "tgi":
        from mathcoder_local.engine.remote.tgi import TGIEngine

        return TGIEngine(vocab_path, info, n_ctx=n_ctx, options=options)
    from mathcoder_local.engine.remote.openai import OpenAIEngine

    return OpenAIEngine(vocab_path, info, n_ctx=n_ctx, options=options)


def __getattr__(name: str) -> object:
    if name == "RemoteEngine":
        from mathcoder_local.engine.remote.base import RemoteEngine

        return RemoteEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "API_KEY_ENV",
    "SERVER_KINDS",
    "RemoteEngine",
    "RemoteOptions",
    "RequestStats",
    "ServerDown",
    "ServerError",
    "ServerInfo",
    "connect",
    "make_engine",
    "probe_server",
]
