"""Remote engines: the ordinary solve loop over an inference server; the executor stays local.

The loop works on token lists, so a remote engine keeps the model's vocabulary here (the GGUF loaded
vocab-only in llama.cpp) for tokenizing, special-token ids, token text and end-of-generation tests. Each
`generate()` sends the token list (as token ids where the server takes them, else as text with the special
tokens written out), asks for one stretch of output that ends where the prompt format wants control back (a
MathCoder block, ToRA's ```output), turns the answer back into tokens and yields them one by one, so the
solver's contract is unchanged: it stops pulling when it wants to run code.

What a server kind can and cannot do is in `openai_server.py` and `tgi.py`. This module has what they share:
the HTTP client (retries with exponential backoff on connection errors, 429 and 5xx; a one-line error naming
the URL when a server is down), server probing (`/info` answers on TGI, `/v1/models` on OpenAI-compatible
servers), prompt rendering as text, and text → tokens.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlsplit

import llama_cpp

from mathcoder_local.engine.base import ContextFull, EngineCounters, LogitsProcessor, SamplingParams, reusable_prefix
from mathcoder_local.engine.llama import LlamaVocabulary, check_gguf_path, load_llama
from mathcoder_local.errors import UserError

SERVER_KINDS = ("auto", "openai", "tgi")
API_KEY_ENV = "MATHCODER_LOCAL_API_KEY"  # sent as a bearer token when set
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTEXT_ERROR = re.compile(r"context|must be <=|must have less than|too long", re.IGNORECASE)


@dataclass(frozen=True)
class RemoteOptions:
    timeout: float = 600.0  # seconds one request may take (a long block on a busy server)
    attempts: int = 5  # tries of one request on transient failures
    backoff: float = 0.5  # first wait; doubled per retry, capped
    backoff_cap: float = 8.0
    probe_attempts: int = 2  # tries when first contacting a server: a down server is reported at once
    request_tokens: int = 512  # most tokens one request generates (MathCoder's harness: 512 per block)


class ServerDown(UserError):
    """The server could not be reached (refused, reset, timed out) after every retry."""


class ServerError(UserError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    generated_tokens: int = 0


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--server {url!r} is not an http(s) URL like http://127.0.0.1:8080")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _error_text(data: bytes) -> str:
    """The server's error message, on one line (servers send JSON {"error": ...} or {"detail": ...})."""
    try:
        value = json.loads(data)
    except ValueError:
        value = data.decode("utf-8", "replace")
    if isinstance(value, dict):
        value = value.get("error", value.get("detail", value.get("message", value)))
        if isinstance(value, dict):
            value = value.get("message", value)
    return " ".join(str(value).split())[:300] or "no details"


class HttpClient:
    """JSON over one keep-alive HTTP connection (one client per engine, so per thread), with retries."""

    def __init__(self, url: str, options: RemoteOptions = RemoteOptions()) -> None:
        self.url = normalize_url(url)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.options = options
        self.stats = RequestStats()
        self._conn: http.client.HTTPConnection | None = None
        key = os.environ.get(API_KEY_ENV)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.options.timeout)
        return self._conn

    def get(self, path: str, *, attempts: int | None = None) -> object:
        return self.request("GET", path, None, attempts=attempts)

    def post(self, path: str, body: dict[str, object], *, attempts: int | None = None) -> object:
        return self.request("POST", path, body, attempts=attempts)

    def request(self, method: str, path: str, body: dict[str, object] | None, *, attempts: int | None = None) -> object:
        tries = max(1, attempts or self.options.attempts)
        payload = None if body is None else json.dumps(body).encode("utf-8")
        where = f"{self.url}{path}"
        failure = ""
        down = True
        for attempt in range(tries):
            if attempt:
                self.stats.retries += 1
            start = time.perf_counter()
            retry_after: float | None = None
            try:
                conn = self._connection()
                conn.request(method, self._prefix + path, body=payload, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
                retry_after = _retry_after(response.getheader("Retry-After"))
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
            except (OSError, http.client.HTTPException) as exc:
                self.close()  # a broken keep-alive connection is reopened on the next try
                failure = _describe(exc)
                down = True
            else:
                self.stats.requests += 1
                self.stats.seconds += time.perf_counter() - start
                if status < 400:
                    try:
                        return json.loads(data)
                    except ValueError:
                        raise ServerError(f"{where} answered with something that is not JSON", status) from None
                message = _error_text(data)
                if status not in TRANSIENT_STATUS:
                    raise ServerError(f"{where} answered {status}: {message}", status)
                failure, down = f"{status} {message}", False
            if attempt + 1 < tries:
                wait = min(self.options.backoff * 2**attempt, self.options.backoff_cap)
                if retry_after is not None:
                    wait = min(max(wait, retry_after), self.options.backoff_cap)
                time.sleep(wait * (1 + 0.1 * random.random()))
        if down:
            raise ServerDown(f"cannot reach the server at {self.url} ({failure}); is it running?")
        raise ServerError(f"{where} kept failing after {tries} tries: {failure}", 503)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def is_context_error(exc: ServerError) -> bool:
    return exc.status in (400, 413, 422) and bool(_CONTEXT_ERROR.search(str(exc)))


# --- servers ---------------------------------------------------------------------------------------------


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


# --- the vocabulary ------------------------------------------------------------------------------------

_vocab_lock = threading.Lock()
_vocabularies: dict[Path, tuple[llama_cpp.Llama, dict[int, bytes]]] = {}


def open_vocabulary(path: str | os.PathLike[str]) -> tuple[llama_cpp.Llama, dict[int, bytes]]:
    """The GGUF loaded vocab-only (no weights: milliseconds), shared by every engine of this process."""
    p = check_gguf_path(path).resolve()
    with _vocab_lock:
        if p not in _vocabularies:
            _vocabularies[p] = (load_llama(p, vocab_only=True), {})
        return _vocabularies[p]


def request_seed(seed: int, position: int) -> int:
    """A seed per request, from the run's seed and where in the sequence it starts (never 0: TGI wants > 0)."""
    return ((seed & 0xFFFFFFFF) * 1_000_003 + position) % 0x7FFFFFFF + 1


# --- the engine ----------------------------------------------------------------------------------------


class RemoteEngine(LlamaVocabulary):
    """The Engine interface over one server; subclasses implement `_step` (one request → its tokens)."""

    kind = "remote"

    def __init__(
        self,
        vocab_path: str | os.PathLike[str],
        info: ServerInfo,
        *,
        n_ctx: int = 4096,
        prompt_format: str | None = None,
        options: RemoteOptions = RemoteOptions(),
    ) -> None:
        llama, pieces = open_vocabulary(vocab_path)
        super().__init__(llama, pieces)
        self.model_path = Path(vocab_path)
        self.server = info
        self.url = info.url
        self.options = options
        self.client = HttpClient(info.url, options)
        self.counters = EngineCounters()
        limit = info.max_total_tokens
        self._n_ctx = min(n_ctx, limit) if limit else n_ctx
        self._cached: list[int] = []  # what the server last saw (prompt and answer): its likely prefix cache
        self._space_prefix = self.metadata.get("tokenizer.ggml.add_space_prefix", "true") == "true"
        self._anchor = self.tokenize("\n")
        from mathcoder_local.formats import detect_format
        from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS

        self.prompt_format = prompt_format or detect_format(self)
        ids = {piece: self.token_id(piece) for piece in SPECIAL_TOKENS}
        self.mathcoder_ids: dict[str, int] | None = None
        if self.prompt_format == "mathcoder":
            missing = [p for p, i in ids.items() if i is None]
            if missing:
                raise UserError(
                    f"this model has no {missing[0]} token, so it is not a MathCoder model; try --format tora"
                )
            self.mathcoder_ids = {p: i for p, i in ids.items() if i is not None}
        self._specials = {i for i in ids.values() if i is not None}

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def stats(self) -> RequestStats:
        return self.client.stats

    def close(self) -> None:
        self.client.close()

    # --- text and tokens --------------------------------------------------------------------------------

    def is_special(self, token: int) -> bool:
        return token in self._specials or self.is_control(token)

    def special_text(self, token: int) -> str:
        return llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace")

    def render_text(self, tokens: Sequence[int]) -> str:
        """The token list as a prompt string for a server that tokenizes text with its special tokens parsed.

        The server adds the BOS token itself, and (SentencePiece, like llama.cpp and the HF legacy tokenizer)
        a space in front of text that starts the prompt or follows a special token: that space is dropped
        here so that it is not doubled.
        """
        start = 1 if tokens and self.bos_id is not None and tokens[0] == self.bos_id else 0
        parts: list[str] = []
        run: list[int] = []
        after_special = True

        def flush() -> None:
            nonlocal after_special
            if not run:
                return
            text = b"".join(self.token_bytes(t) for t in run).decode("utf-8", "replace")
            if self._space_prefix and after_special and text.startswith(" "):
                text = text[1:]
            parts.append(text)
            run.clear()
            after_special = False

        for token in tokens[start:]:
            if self.is_special(token):
                flush()
                parts.append(self.special_text(token))
                after_special = True
            else:
                run.append(token)
        flush()
        return "".join(parts)

    def text_tokens(self, text: str, *, after_special: bool) -> list[int]:
        """Tokens for generated `text`: canonical tokenization, as if the model had written exactly it."""
        if not text:
            return []
        if self._space_prefix and after_special and text.startswith(" ") and len(text) > 1:
            return self.tokenize(text[1:])  # llama.cpp puts the word-start space back
        tokens = self.tokenize("\n" + text)  # mid-text: an anchor keeps the word-start space out
        anchor = self._anchor
        return tokens[len(anchor) :] if tokens[: len(anchor)] == anchor else self.tokenize(text)

    # --- generation -------------------------------------------------------------------------------------

    def generate(
        self,
        tokens: Sequence[int],
        *,
        sampling: SamplingParams = SamplingParams(),
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
    ) -> Iterator[int]:
        if not tokens:
            raise ValueError("generate() needs at least one token (the prompt)")
        if logits_processor is not None:
            raise UserError("a logits processor needs the model in this process; it cannot be used with --server")
        self._check_grammar(grammar)
        sequence = list(tokens)
        while True:
            room = self.n_ctx - len(sequence)
            if room <= 0:
                raise ContextFull(len(sequence) + 1, self.n_ctx)
            out = self._step(sequence, sampling, min(self.options.request_tokens, room))
            if not out:
                raise UserError(f"{self.url} returned no tokens for a request that allowed {room}")
            self._account(sequence, out)
            for token in out:
                sequence.append(token)
                yield token

    def _check_grammar(self, grammar: str | None) -> None:
        if grammar is None:
            return
        from mathcoder_local.engine.grammar import mathcoder_turn_grammar

        allowed = {mathcoder_turn_grammar(end_of_message_is_eog=flag) for flag in (True, False)}
        if grammar not in allowed:
            raise UserError("a custom grammar cannot be used with --server (only the MathCoder block grammar)")

    def _account(self, sequence: Sequence[int], out: Sequence[int]) -> None:
        keep = reusable_prefix(self._cached, sequence) if self._cached else 0
        self.counters.evaluated_tokens += len(sequence) - keep + len(out)  # an estimate: the server's cache
        self.counters.sampled_tokens += len(out)
        self.stats.generated_tokens += len(out)
        self._cached = [*sequence, *out]

    def _step(self, sequence: list[int], sampling: SamplingParams, max_tokens: int) -> list[int]:
        raise NotImplementedError

    def _post(
        self, path: str, body: dict[str, object], sequence: Sequence[int], *, attempts: int | None = None
    ) -> dict[str, object]:
        try:
            answer = self.client.post(path, body, attempts=attempts)
        except ServerError as exc:
            if is_context_error(exc):
                raise ContextFull(len(sequence) + 1, self.n_ctx) from None
            raise
        if not isinstance(answer, dict):
            raise UserError(f"{self.url}{path} answered with an unexpected JSON value")
        return answer


def warn_once(key: str, message: str, _seen: set[str] = set()) -> None:  # noqa: B006 - deliberate memo
    if key not in _seen:
        _seen.add(key)
        print(f"warning: {message}", file=sys.stderr)


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


def make_engine(
    info: ServerInfo,
    vocab_path: str | os.PathLike[str],
    *,
    n_ctx: int = 4096,
    prompt_format: str | None = None,
    options: RemoteOptions = RemoteOptions(),
) -> RemoteEngine:
    if info.kind == "tgi":
        from mathcoder_local.engine.tgi import TGIEngine

        return TGIEngine(vocab_path, info, n_ctx=n_ctx, prompt_format=prompt_format, options=options)
    from mathcoder_local.engine.openai_server import OpenAIEngine

    return OpenAIEngine(vocab_path, info, n_ctx=n_ctx, prompt_format=prompt_format, options=options)
