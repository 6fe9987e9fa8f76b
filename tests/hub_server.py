"""A stand-in for the Hugging Face Hub on loopback, for the download path (the real hub is unreachable here).

It answers the three requests huggingface_hub makes for a snapshot, as the hub documents and serves them:
`GET /api/models/{repo}/revision/{rev}` (model info with `sha` and `siblings`), and `HEAD` / `GET`
`/{repo}/resolve/{rev}/{file}` with `X-Repo-Commit`, `ETag`, `Content-Length` and byte ranges. Dataset repos
(`datasets=`) are served the same way under `/api/datasets/{repo}/revision/{rev}` and
`/datasets/{repo}/resolve/{rev}/{file}`. Files named in `truncate` ("repo/file") announce their full length
and then send half of it before closing the connection, as a dropped download does; the set may be changed
while the hub runs. `requests` logs (method, path) of every request, `ranges` (path, Range header) of every
GET that asked for a byte range.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(
        self, repos: dict[str, Path], datasets: dict[str, Path] | None = None, truncate: set[str] | None = None
    ) -> None:
        self.repos = repos
        self.datasets = datasets or {}
        self.truncate = truncate or set()
        self.commits = {name: hashlib.sha1(name.encode()).hexdigest() for name in [*repos, *self.datasets]}
        self.requests: list[tuple[str, str]] = []
        self.ranges: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, body=True)

            def do_HEAD(self) -> None:
                hub._handle(self, body=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, handler, status: int, headers: dict[str, str], data: bytes, body: bool) -> None:
        handler.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            handler.send_header(key, value)
        handler.end_headers()
        if body:
            handler.wfile.write(data)

    def _handle(self, handler, body: bool) -> None:
        path = handler.path.split("?")[0]
        self.requests.append((handler.command, path))
        if handler.command == "GET" and handler.headers.get("Range"):
            self.ranges.append((path, handler.headers["Range"]))
        repos = self.repos
        if path.startswith(("/datasets/", "/api/datasets/")):
            repos = self.datasets
            path = path.replace("/datasets/", "/", 1).replace("/api/", "/api/models/", 1)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m and m.group(1) in repos:
            repo, folder = m.group(1), repos[m.group(1)]
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            info = {"id": repo, "modelId": repo, "sha": self.commits[repo], "private": False,
                    "siblings": [{"rfilename": f} for f in files]}  # fmt: skip
            return self._send(handler, 200, {"Content-Type": "application/json"}, json.dumps(info).encode(), body)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m and m.group(1) in repos and (repos[m.group(1)] / m.group(3)).is_file():
            data = (repos[m.group(1)] / m.group(3)).read_bytes()
            headers = {
                "X-Repo-Commit": self.commits[m.group(1)],
                "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            status = 200
            rng = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range", ""))
            if rng and body:
                start = int(rng.group(1))
                end = int(rng.group(2)) if rng.group(2) else len(data) - 1
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data, status = data[start : end + 1], 206
            if not body:  # HEAD: the size of the whole file, no body
                handler.send_response(200)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    handler.send_header(key, value)
                handler.end_headers()
                return None
            if f"{m.group(1)}/{m.group(3)}" in self.truncate:
                handler.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    handler.send_header(key, value)
                handler.end_headers()
                handler.wfile.write(data[: len(data) // 2])
                handler.close_connection = True
                return None
            return self._send(handler, status, headers, data, body)
        return self._send(handler, 404, {"X-Error-Code": "EntryNotFound"}, b"{}", body)
