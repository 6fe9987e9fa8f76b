"""Remote engines: the solve loop and the bench over real llama-cpp-python servers started here on loopback
(OpenAI-compatible `/v1/completions`) and over a TGI stand-in that follows TGI's documented `/generate` API;
retries, down servers, context limits, and transcripts equal to a local run's."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tgi_server import TGIStandIn
from typer.testing import CliRunner

from mathcoder_local.bench.runner import BenchFinished, run_bench
from mathcoder_local.cli import app
from mathcoder_local.engine.base import SamplingParams
from mathcoder_local.engine.remote import RemoteOptions, ServerError, ServerInfo, probe_server
from mathcoder_local.errors import UserError
from mathcoder_local.events import Finished
from mathcoder_local.solve import load_remote_engine, make_solver
from mathcoder_local.solver import SolveLimits

WAREHOUSE = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
QUICK = RemoteOptions(backoff=0.01, backoff_cap=0.05, probe_attempts=1)
runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1"]
    out = log.open("wb")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT), f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen, url: str, log: Path, deadline: float = 90.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"llama_cpp.server at {url} was not ready after {deadline} s")


@pytest.fixture(scope="module")
def llama_servers(nano_gguf, tmp_path_factory):
    """Two `python -m llama_cpp.server` processes on the nano model, one thread each."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    logs = tmp_path_factory.mktemp("servers")
    started = [start_llama_server(nano_gguf, logs / f"server-{i}.log") for i in range(2)]
    try:
        for i, (process, url) in enumerate(started):
            wait_ready(process, url, logs / f"server-{i}.log")
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def tgi(nano_gguf):
    with TGIStandIn(nano_gguf) as server:
        yield server


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *messages):
    assert result.exit_code == 2, result.output
    for message in messages:
        assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def transcript(engine, question, **solver_options):
    final = list(make_solver(engine, **solver_options).solve(question))[-1]
    assert isinstance(final, Finished)
    return final


# --- OpenAI-compatible: llama-cpp-python's server ------------------------------------------------------


def test_solve_over_an_openai_server_runs_the_code_here(llama_servers):
    info = probe_server(llama_servers[0])
    assert (info.kind, info.dialect) == ("openai", "llama.cpp")
    # No --model: the vocabulary is the GGUF the server reports (the same file, on this machine).
    result = invoke("solve", WAREHOUSE, "--server", llama_servers[0], "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["answer"] == "15283521" and out["finish_reason"] == "answer"
    kinds = [b["kind"] for b in out["blocks"]]
    assert "code" in kinds and {"kind": "execution", "content": "15283521"} in out["blocks"]
    assert out["stats"]["code_blocks"] >= 1


def test_transcripts_equal_a_local_run(nano_gguf, llama_servers, tgi):
    """Greedy decoding gives the same blocks in process, over llama-cpp-python's server and over TGI."""
    from mathcoder_local.datasets import load_dataset
    from mathcoder_local.engine.llama import LlamaEngine

    questions = [WAREHOUSE] + [p.question for p in load_dataset("nano")[:4]]
    local = LlamaEngine(nano_gguf, n_ctx=2048, n_threads=1)
    openai = load_remote_engine(str(nano_gguf), [llama_servers[0]], n_ctx=2048, options=QUICK)
    tgi_engine = load_remote_engine(str(nano_gguf), [tgi.url], kind="tgi", options=QUICK)
    try:
        for question in questions:
            want = transcript(local, question)
            for engine in (openai, tgi_engine):
                got = transcript(engine, question)
                assert (got.answer, got.finish_reason, got.blocks) == (want.answer, want.finish_reason, want.blocks)
                assert got.stats.generated_tokens == want.stats.generated_tokens
    finally:
        local.close()


def test_bench_spreads_problems_over_two_servers(nano_gguf, llama_servers, tmp_path):
    out = tmp_path / "remote"
    args = ["bench", "--limit", "10", "--out", out, "--json", "--model", nano_gguf]
    result = invoke(*args, "--server", llama_servers[0], "--server", llama_servers[1])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and {r["server"] for r in rows} == set(llama_servers)
    servers = metrics["session_servers"]
    assert set(servers) == set(llama_servers) and all(s["requests"] > 0 and s["workers"] == 1 for s in servers.values())
    assert metrics["config"]["engine"] == {"kind": "openai", "dialect": "llama.cpp", "model": str(nano_gguf)}
    assert metrics["config"]["servers"] == llama_servers
    # the same problems in process: the same predictions
    local = list(run_bench(dataset="nano", limit=10, model=str(nano_gguf), out=tmp_path / "local", parallel=2))
    assert isinstance(local[-1], BenchFinished)
    local_rows = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "local" / "results.jsonl").open()}
    assert {r["id"]: r["prediction"] for r in rows} == {k: r["prediction"] for k, r in local_rows.items()}
    assert metrics["correct"] == local[-1].metrics["correct"]
    # Resuming on one server is the same experiment; resuming in process is not.
    more = invoke(*args[:2], "12", *args[3:], "--server", llama_servers[1], "--resume")
    assert more.exit_code == 0, more.output
    assert len((out / "results.jsonl").read_text().splitlines()) == 12
    refused = invoke("bench", "--limit", "12", "--out", out, "--model", nano_gguf, "--resume")
    assert refused.exit_code == 2 and "engine" in refused.output


# --- TGI -------------------------------------------------------------------------------------------------


def test_solve_over_tgi(tgi):
    tgi.requests.clear()
    result = invoke("solve", WAREHOUSE, "--server", tgi.url, "--server-kind", "tgi", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["answer"] == "15283521"
    assert {"kind": "execution", "content": "15283521"} in out["blocks"]
    assert ("GET", "/info") in tgi.requests and ("POST", "/generate") in tgi.requests
    info = probe_server(tgi.url)
    assert (info.kind, info.max_total_tokens, info.max_input_tokens) == ("tgi", 2048, 1536)


def test_tora_over_tgi_is_token_exact(tora_gguf):
    """ToRA's stop at ```output and TGI's token details: the same tokens as in process (random weights)."""
    from mathcoder_local.engine.llama import LlamaEngine

    limits = SolveLimits(max_tokens=48)
    with TGIStandIn(tora_gguf) as server:
        remote = load_remote_engine(str(tora_gguf), [server.url], options=QUICK)
        local = LlamaEngine(tora_gguf, n_ctx=2048, n_threads=1)
        try:
            for question in ("What is 2 + 3?", "Solve x + 1 = 3."):
                want = transcript(local, question, limits=limits)
                got = transcript(remote, question, limits=limits)
                assert (got.blocks, got.finish_reason, got.format) == (want.blocks, want.finish_reason, "tora")
        finally:
            local.close()


def test_retries_with_backoff(tgi, nano_gguf):
    engine = load_remote_engine(str(nano_gguf), [tgi.url], options=QUICK)
    tgi.fail_next = [503, 503]
    final = transcript(engine, WAREHOUSE)
    assert final.answer == "15283521" and engine.stats.retries == 2
    impatient = load_remote_engine(str(nano_gguf), [tgi.url], options=RemoteOptions(attempts=2, backoff=0.01))
    tgi.fail_next = [503, 429, 503]
    with pytest.raises(ServerError, match="kept failing after 2 tries"):
        transcript(impatient, "What is 2 + 2?")
    tgi.fail_next = []


def test_context_full_over_tgi(nano_gguf):
    with TGIStandIn(nano_gguf, max_input_tokens=48, max_total_tokens=64) as small:
        engine = load_remote_engine(str(nano_gguf), [small.url], options=QUICK)
        assert engine.n_ctx == 64
        final = transcript(engine, WAREHOUSE)
        assert final.finish_reason == "context_full"


# --- what is the same for every server -------------------------------------------------------------------


def test_a_down_server_is_one_line_naming_it(nano_gguf, tgi, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    one_line_error(invoke("solve", "What is 2 + 2?", "--server", down, "-m", nano_gguf), "cannot reach", down)
    one_line_error(invoke("bench", "--limit", "2", "--server", tgi.url, "--server", down, "--out", tmp_path), down)
    # solve takes the first server that answers
    result = invoke("solve", WAREHOUSE, "--server", down, "--server", tgi.url, "-m", nano_gguf, "--json")
    assert result.exit_code == 0 and json.loads(result.output)["answer"] == "15283521"
    one_line_error(invoke("solve", "q", "--server", "ftp://x"), "not an http(s) URL")


def test_prompts_written_as_text_tokenize_back_exactly(nano_gguf):
    """The text prompt for servers that take text (special tokens written out, BOS and word-start spaces left
    to the server's tokenizer) tokenizes back to the same token list, execution output included."""
    from mathcoder_local.engine.openai_server import OpenAIEngine
    from mathcoder_local.formats import make_format

    info = ServerInfo(url="http://127.0.0.1:9", kind="openai", dialect="llama.cpp")
    engine = OpenAIEngine(nano_gguf, info)
    fmt = make_format(engine, system="Be brief.")
    tokens = fmt.prompt_tokens(WAREHOUSE)
    ids = fmt.ids
    tokens += [ids["<|text|>"], *engine.text_tokens(" We multiply 3 by 4.", after_special=True), ids["<|endofblock|>"]]
    tokens += [ids["<|code|>"], *engine.text_tokens(" print(3 * 4)", after_special=True), ids["<|endofblock|>"]]
    tokens += fmt.execution_tokens("12\n  indented ünïcode")
    text = engine.render_text(tokens)
    assert "<|code|>" in text and not text.startswith("<s>")
    assert engine.tokenize(text, special=True, bos=True) == tokens


def test_what_a_remote_engine_cannot_do(nano_gguf, tgi):
    engine = load_remote_engine(str(nano_gguf), [tgi.url], options=QUICK)
    prompt = engine.tokenize("hello", bos=True)
    with pytest.raises(UserError, match="logits processor"):
        next(engine.generate(prompt, logits_processor=lambda ids, logits: logits))
    with pytest.raises(UserError, match="custom grammar"):
        next(engine.generate(prompt, sampling=SamplingParams(), grammar='root ::= "a"'))
    from mathcoder_local.solve import remote_vocabulary

    with pytest.raises(UserError, match="vocabulary"):
        remote_vocabulary(None, ServerInfo(url=tgi.url, kind="tgi", dialect="tgi", model_id="org/not-here"))
