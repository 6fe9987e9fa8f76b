"""The HTTP side of remote engines: one keep-alive connection per engine, retries with exponential backoff on
connection errors, 429 and 5xx, and one-line errors naming the URL (a server that is down, an error status)."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from mathcoder_local.errors import UserError

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
