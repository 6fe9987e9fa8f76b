"""The vLLM dialect (`engine/remote/vllm.py`), against an in-test server that follows vLLM's documented
completions parameters (vLLM itself cannot run here): `prompt` as token ids, `stop` matched on the output text
with special tokens written out (`skip_special_tokens: false`), `include_stop_str_in_output`, `stop_reason`
(the stop string, or null for EOS), and token ids as `logprobs.tokens` "token_id:N" with
`return_tokens_as_token_ids`. `/v1/models` reports `owned_by: "vllm"`."""

from __future__ import annotations

import ctypes
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import llama_cpp
import pytest

from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.engine.llama import LlamaEngine
from mathcoder_local.engine.remote import RemoteOptions, probe_server
from mathcoder_local.solve import load_remote_engine, make_solver

WAREHOUSE = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"


class VLLMStandIn:
    def __init__(self, model) -> None:
        self.engine = LlamaEngine(model, n_ctx=2048, n_threads=1)
        self.model = str(model)
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                models = {"object": "list", "data": [{"id": stand_in.model, "object": "model", "owned_by": "vllm"}]}
                stand_in._send(self, 200, models)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                stand_in.bodies.append(body)
                stand_in._send(self, 200, stand_in.complete(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.engine.close()

    def _send(self, handler, status, value) -> None:
        data = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _piece(self, token: int, special: bool) -> str:
        buf = ctypes.create_string_buffer(256)
        n = llama_cpp.llama_token_to_piece(self.engine._vocab, token, buf, len(buf), 0, special)
        return buf.raw[: max(n, 0)].decode("utf-8", "replace")

    def complete(self, body: dict) -> dict:
        prompt = body["prompt"]
        if isinstance(prompt, str):
            prompt = self.engine.tokenize(prompt, special=True, bos=True)
        stops = body.get("stop") or []
        keep_specials = body.get("skip_special_tokens", True) is False
        temperature = float(body.get("temperature", 1.0))
        sampling = SamplingParams(temperature=temperature, top_p=float(body.get("top_p", 1.0)), seed=body["seed"])
        tokens: list[int] = []
        finish, stop_reason, text = "length", None, ""
        with self._lock:
            stream = self.engine.generate(prompt, sampling=sampling)
            try:
                for token in stream:
                    tokens.append(token)
                    if self.engine.is_end_of_generation(token):
                        finish = "stop"
                        break
                    text += self._piece(token, keep_specials)
                    hit = next((s for s in stops if s in text), None)
                    if hit is not None:
                        finish, stop_reason = "stop", hit
                        end = text.index(hit) + (len(hit) if body.get("include_stop_str_in_output") else 0)
                        text = text[:end]
                        break
                    if len(tokens) >= body["max_tokens"]:
                        break
            finally:
                stream.close()
        logprobs = None
        if body.get("logprobs") is not None and body.get("return_tokens_as_token_ids"):
            logprobs = {"tokens": [f"token_id:{t}" for t in tokens], "token_logprobs": [0.0] * len(tokens)}
        choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish, "stop_reason": stop_reason}
        usage = {
            "prompt_tokens": len(prompt),
            "completion_tokens": len(tokens),
            "total_tokens": len(prompt) + len(tokens),
        }
        return {"id": "cmpl-1", "object": "text_completion", "model": self.model, "choices": [choice], "usage": usage}


@pytest.fixture(scope="module")
def vllm(nano_gguf):
    with VLLMStandIn(nano_gguf) as server:
        yield server


def test_the_vllm_dialect_is_token_exact(vllm, nano_gguf):
    info = probe_server(vllm.url)
    assert (info.kind, info.dialect, info.model_id) == ("openai", "vllm", str(nano_gguf))
    remote = load_remote_engine(None, [vllm.url], options=RemoteOptions(probe_attempts=1))
    assert type(remote).__name__ == "VLLMEngine"  # make_engine picks the module by the probed dialect
    local = LlamaEngine(nano_gguf, n_ctx=2048, n_threads=1)
    try:
        for question in (WAREHOUSE, "What is 17 * 23?"):
            want = list(make_solver(local).solve(question))[-1]
            got = list(make_solver(remote).solve(question))[-1]
            assert (got.answer, got.blocks, got.finish_reason) == (want.answer, want.blocks, want.finish_reason)
    finally:
        local.close()
    assert got.answer != "" and want.blocks
    body = vllm.bodies[-1]
    assert isinstance(body["prompt"], list) and body["stop"] == ["<|endofblock|>", "<|endofmessage|>"]
    assert body["skip_special_tokens"] is False and body["include_stop_str_in_output"] is True
    assert body["temperature"] == 0.0 and "grammar" not in body
