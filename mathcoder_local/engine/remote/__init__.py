"""Remote engines: the solve loop over an inference server, the vocabulary here, the code run here.

`http` (the client, retries, errors), `probe` (what runs at a URL and which dialect it speaks), `base`
(`RemoteEngine`: the vocabulary, prompts as text, the generate loop), `completions` (`POST /v1/completions`,
shared by the OpenAI-compatible dialects), and one module per server dialect: `openai` (llama.cpp's
llama-server and llama-cpp-python's server), `vllm`, `tgi`. Dependencies point one way: the dialects import
`completions`, `base` and `http`; nothing imports a dialect but `make_engine`, which picks one by the probed
`ServerInfo.dialect`. llama.cpp (for the vocabulary) loads only with `base`, so the command line can name the
server kinds without it.
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
    """The remote engine for the server dialect `info` describes."""
    if info.kind == "tgi":
        from mathcoder_local.engine.remote.tgi import TGIEngine

        return TGIEngine(vocab_path, info, n_ctx=n_ctx, options=options)
    if info.dialect == "vllm":
        from mathcoder_local.engine.remote.vllm import VLLMEngine

        return VLLMEngine(vocab_path, info, n_ctx=n_ctx, options=options)
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
