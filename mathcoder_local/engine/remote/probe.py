"""What runs at a server URL: TGI answers `GET /info` with its model id; OpenAI-compatible servers answer
`GET /v1/models` (vLLM says `owned_by: "vllm"`; llama-server and llama-cpp-python's server do not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from mathcoder_local.engine.remote.http import TRANSIENT_STATUS, HttpClient, RemoteOptions, ServerError
from mathcoder_local.errors import UserError

SERVER_KINDS = ("auto", "openai", "tgi")


@dataclass(frozen=True)
class ServerInfo:
    url: str
    kind: str  # "tgi" | "openai"
    dialect: str  # "tgi", "llama.cpp" (llama-server, llama-cpp-python's server), "vllm"
    model_id: str | None = None
    max_total_tokens: int | None = None
    max_input_tokens: int | None = None
    max_stop_sequences: int | None = None
    version: str | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False)

    def identity(self) -> dict[str, object]:
        return {"kind": self.kind, "dialect": self.dialect, "model": self.model_id}


def probe_server(url: str, kind: str = "auto", options: RemoteOptions = RemoteOptions()) -> ServerInfo:
    """What runs at `url`: TGI answers GET /info with its model id; OpenAI-compatible servers GET /v1/models."""
    if kind not in SERVER_KINDS:
        raise UserError(f"unknown --server-kind {kind!r}; choose one of: {', '.join(SERVER_KINDS)}")
    client = HttpClient(url, options)
    try:
        if kind in ("auto", "tgi"):
            try:
                info = client.get("/info", attempts=options.probe_attempts)
            except ServerError as exc:
                if exc.status in TRANSIENT_STATUS:
                    raise UserError(f"{client.url} is not answering properly ({exc})") from None
                if kind == "tgi":
                    raise UserError(f"{client.url} is not a Text Generation Inference server ({exc})") from None
                info = None
            if isinstance(info, dict) and "model_id" in info:
                return ServerInfo(
                    url=client.url,
                    kind="tgi",
                    dialect="tgi",
                    model_id=str(info.get("model_id")),
                    max_total_tokens=_int(info.get("max_total_tokens")),
                    max_input_tokens=_int(info.get("max_input_tokens", info.get("max_input_length"))),
                    max_stop_sequences=_int(info.get("max_stop_sequences")),
                    version=str(info.get("version")) if info.get("version") else None,
                    raw=info,
                )
            if kind == "tgi":
                raise UserError(f"{client.url}/info does not describe a Text Generation Inference server")
        try:
            models = client.get("/v1/models", attempts=options.probe_attempts)
        except ServerError as exc:
            raise UserError(f"{client.url} is neither a TGI nor an OpenAI-compatible server ({exc})") from None
        data = models.get("data") if isinstance(models, dict) else None
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        owner = str(first.get("owned_by", ""))
        return ServerInfo(
            url=client.url,
            kind="openai",
            dialect="vllm" if owner == "vllm" else "llama.cpp",
            model_id=str(first["id"]) if first.get("id") else None,
            max_total_tokens=_int(first.get("max_model_len")),
            raw=models if isinstance(models, dict) else {},
        )
    finally:
        client.close()


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def connect(
    servers: Sequence[str], *, kind: str = "auto", options: RemoteOptions = RemoteOptions()
) -> list[ServerInfo]:
    """Probe every server (a down one is a one-line error naming it); they must all serve the same model."""
    if not servers:
        raise UserError("no --server given")
    infos = [probe_server(url, kind, options) for url in servers]
    if len({i.kind for i in infos}) > 1:
        raise UserError("the --server URLs are of different kinds (TGI and OpenAI-compatible); use one kind")
    # TGI reports the hub id it serves; OpenAI-compatible servers often report a file path, which differs
    # between machines serving the same model, so only TGI's ids are compared.
    models = {i.model_id for i in infos if i.model_id and i.kind == "tgi"}
    if len(models) > 1:
        raise UserError(f"the --server URLs serve different models ({', '.join(sorted(models))}); use one model")
    return infos
