"""A stand-in for Text Generation Inference on loopback, backed by a real llama.cpp model (TGI cannot run here).

It follows TGI's documented API (docs/openapi.json of huggingface/text-generation-inference, 2.x):

- `GET /info`: `model_id`, `model_sha`, `max_concurrent_requests`, `max_best_of`, `max_stop_sequences`,
  `max_input_tokens`, `max_total_tokens`, `validation_workers`, `max_client_batch_size`, `router`, `version`.
- `GET /health`: 200.
- `POST /generate` `{"inputs": str, "parameters": {...}}` with `max_new_tokens` (default 100), `stop` (at most
  `max_stop_sequences`), `do_sample` (default false: greedy), `temperature` / `top_p` / `top_k` / `seed`,
  `details`, `decoder_input_details`, `return_full_text`. The inputs are tokenized with the special tokens
  parsed and BOS added, as TGI's Llama tokenizer does. Stop sequences are matched on the decoded output with
  special tokens written out (how MathCoder's harness stopped at <|endofblock|>). The answer is
  `{"generated_text", "details": {"finish_reason": "length"|"eos_token"|"stop_sequence", "generated_tokens",
  "seed", "prefill": [{"id", "text", "logprob"}], "tokens": [{"id", "text", "logprob", "special"}]}}`;
  `generated_text` leaves special tokens out. Errors are `{"error", "error_type"}` with 422 (validation),
  424 (generation) or 503.

`fail_next` makes the next requests answer with the given statuses (503: retries), `requests` records them.
"""

from __future__ import annotations

import ctypes
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import llama_cpp

from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.engine.llama import LlamaEngine


class TGIStandIn:
    def __init__(self, model: Path, *, max_input_tokens: int = 1536, max_total_tokens: int = 2048) -> None:
        self.engine = LlamaEngine(model, n_ctx=max_total_tokens, n_threads=1, seed=0)
        self.model = model
        self.max_input_tokens = max_input_tokens
        self.max_total_tokens = max_total_tokens
        self.fail_next: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                stand_in._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stand_in._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TGIStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.engine.close()

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _send(self, handler, status: int, value: object) -> None:
        data = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler, body: bytes | None) -> None:
        path = handler.path.split("?")[0]
        self.requests.append((handler.command, path))
        if self.fail_next:
            status = self.fail_next.pop(0)
            return self._send(handler, status, {"error": "Model is overloaded", "error_type": "overloaded"})
        if handler.command == "GET" and path == "/info":
            return self._send(handler, 200, self.info())
        if handler.command == "GET" and path == "/health":
            return self._send(handler, 200, {})
        if handler.command == "POST" and path == "/generate":
            try:
                request = json.loads(body or b"")
            except ValueError:
                return self._send(
                    handler, 422, {"error": "Failed to deserialize the JSON body", "error_type": "validation"}
                )
            status, answer = self.generate(request)
            return self._send(handler, status, answer)
        return self._send(handler, 404, {"error": "Not Found", "error_type": "not_found"})

    def info(self) -> dict[str, object]:
        return {
            "model_id": str(self.model),
            "model_sha": None,
            "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": 128,
            "max_best_of": 2,
            "max_stop_sequences": 4,
            "max_input_tokens": self.max_input_tokens,
            "max_total_tokens": self.max_total_tokens,
            "validation_workers": 2,
            "max_client_batch_size": 4,
            "router": "text-generation-router",
            "version": "2.4.1-stand-in",
        }

    # --- generation -----------------------------------------------------------------------------------

    def _piece(self, token: int, special: bool) -> bytes:
        vocab = self.engine._vocab
        buf = ctypes.create_string_buffer(256)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, special)
        return buf.raw[: max(n, 0)]

    def _is_special(self, token: int) -> bool:
        return self.engine.is_control(token)

    def generate(self, request: dict) -> tuple[int, dict]:
        inputs = request.get("inputs")
        params = request.get("parameters") or {}
        if not isinstance(inputs, str) or not inputs:
            return 422, {"error": "`inputs` must be a non-empty string", "error_type": "validation"}
        stops = params.get("stop") or []
        if len(stops) > 4:
            return 422, {"error": "`stop` supports up to 4 stop sequences. Given: 5", "error_type": "validation"}
        max_new = int(params.get("max_new_tokens") or 100)
        with self._lock:
            prompt = self.engine.tokenize(inputs, special=True, bos=True)
            if len(prompt) > self.max_input_tokens:
                return 422, {
                    "error": f"`inputs` must have less than {self.max_input_tokens} tokens. Given: {len(prompt)}",
                    "error_type": "validation",
                }
            if len(prompt) + max_new > self.max_total_tokens:
                return 422, {
                    "error": f"`inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                    f"Given: {len(prompt)} `inputs` tokens and {max_new} `max_new_tokens`",
                    "error_type": "validation",
                }
            do_sample = bool(params.get("do_sample"))
            temperature = float(params.get("temperature") or 1.0) if do_sample else 0.0
            sampling = SamplingParams(
                temperature=temperature,
                top_p=float(params.get("top_p") or 1.0),
                top_k=int(params.get("top_k") or 0),
                seed=int(params.get("seed") or 0),
            )
            tokens: list[int] = []
            text = b""
            finish = "length"
            stream = self.engine.generate(prompt, sampling=sampling)
            try:
                for token in stream:
                    tokens.append(token)
                    text += self._piece(token, True)
                    if self.engine.is_end_of_generation(token):
                        finish = "eos_token"
                        break
                    decoded = text.decode("utf-8", "replace")
                    if any(decoded.endswith(s) for s in stops):
                        finish = "stop_sequence"
                        break
                    if len(tokens) >= max_new:
                        break
            finally:
                stream.close()
        generated_text = b"".join(self._piece(t, False) for t in tokens if not self._is_special(t))
        answer: dict[str, object] = {"generated_text": generated_text.decode("utf-8", "replace")}
        if params.get("details", True):
            prefill = []
            if params.get("decoder_input_details"):
                prefill = [
                    {"id": t, "text": self._piece(t, True).decode("utf-8", "replace"), "logprob": None} for t in prompt
                ]
            answer["details"] = {
                "finish_reason": finish,
                "generated_tokens": len(tokens),
                "seed": sampling.seed if do_sample else None,
                "prefill": prefill,
                "tokens": [
                    {
                        "id": t,
                        "text": self._piece(t, True).decode("utf-8", "replace"),
                        "logprob": None,
                        "special": self._is_special(t),
                    }
                    for t in tokens
                ],
                "top_tokens": None,
            }
        return 200, answer
