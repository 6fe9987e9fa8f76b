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
from cli_helpers import invoke, one_line_error
from tgi_server import TGIStandIn

from mathcoder_local.bench.runner import BenchFinished, run_bench
from mathcoder_local.engine.base import SamplingParams, StopRules
from mathcoder_local.engine.remote import RemoteOptions, ServerError, ServerInfo, probe_server
from mathcoder_local.errors import UserError
from mathcoder_local.events import Finished
from mathcoder_local.formats.base import BlockTracker, PromptFormat, Step, utf8_decoder
from mathcoder_local.formats.mathcoder import MathCoderFormat
from mathcoder_local.solve import load_remote_engine, make_solver
from mathcoder_local.solve_config import SolveConfig
from mathcoder_local.solver import Solver

WAREHOUSE = "A warehouse holds 48213 boxes with 317 items each. How many items are there?"
QUICK = RemoteOptions(backoff=0.01, backoff_cap=0.05, probe_attempts=1)


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


def transcript(engine, question, config=SolveConfig()):
    final = list(make_solver(engine, config).solve(question))[-1]
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
    blocks = [(b["kind"], b["content"]) for b in out["blocks"]]
    assert "code" in {kind for kind, _ in blocks} and ("execution", "15283521") in blocks
    assert out["stats"]["code_blocks"] >= 1


def test_transcripts_equal_a_local_run(nano_gguf, llama_servers, tgi):
    """Greedy decoding gives the same blocks in process, over llama-cpp-python's server and over TGI."""
    from mathcoder_local.datasets import load_dataset
    from mathcoder_local.engine.llama import LlamaEngine

    questions = [WAREHOUSE] + [p.question for p in load_dataset("nano")[:4]]
    local = LlamaEngine(nano_gguf, n_ctx=2048, n_threads=1)
    openai = load_remote_engine(str(nano_gguf), [llama_servers[0]], n_ctx=2048, options=QUICK)
    assert type(openai).__name__ == "OpenAIEngine"  # the llama.cpp dialect's module
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


# --- a prompt format no engine knows --------------------------------------------------------------------

TOY_STOP = " the"


class ToyFenceTracker(BlockTracker):
    """Plain text in which every " the" hands over to the executor; the code counts the words since the last."""

    def __init__(self, engine) -> None:
        super().__init__()
        self._engine = engine
        self._decoder = utf8_decoder()
        self._since = ""

    def feed(self, token: int) -> Step:
        step = Step()
        if self._engine.is_control(token) or self._engine.is_end_of_generation(token):
            self._end_block(step.events)
            step.action = "finish"
            return step
        if self._kind is None:
            self._start_block("text", step.events)
        text = self._decoder.decode(self._engine.token_bytes(token))
        self._since += text
        self._append(text, step.events)
        if self._since.endswith(TOY_STOP):
            words, self._since = len(self._since.split()), ""
            self._end_block(step.events)
            step.action, step.code = "execute", f"print({words})"
        return step


class ToyFenceFormat(PromptFormat):
    """A fence format of its own: the nano model's prompt opened into a text block, so that it writes plain
    text; generation stops at the text " the", the result is written back as "<output>," mid-text."""

    name = "toy-fence"
    max_rounds = 4
    round_unit = "calls"

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self._mathcoder = MathCoderFormat(engine)

    def prompt_tokens(self, question: str) -> list[int]:
        return [*self._mathcoder.prompt_tokens(question), self._mathcoder.ids["<|text|>"]]

    def tracker(self) -> ToyFenceTracker:
        return ToyFenceTracker(self.engine)

    def execution_text(self, cell) -> str:
        return cell.stdout.strip()

    def execution_tokens(self, text: str) -> list[int]:
        anchor = self.engine.tokenize("\n")
        tokens = self.engine.tokenize(f"\n{text},")
        return tokens[len(anchor) :]

    def extract_answer(self, blocks) -> str:
        outputs = [b.content for b in blocks if b.kind == "execution"]
        return outputs[-1] if outputs else ""

    def rounds_used(self, tracker: BlockTracker) -> int:
        return sum(1 for b in tracker.blocks if b.kind == "execution")

    def stop_rules(self) -> StopRules:
        return StopRules(strings=(TOY_STOP,))


def test_a_new_fence_format_runs_over_an_openai_server(nano_gguf, llama_servers):
    """A format defined here, with its own stop string, over llama-cpp-python's server: the same blocks and
    tokens as in process, code run at every stop. In process the tracker also ends at the model's first block
    token, which a text-only server cannot show, so both runs stop one token before it."""
    from mathcoder_local.datasets import load_dataset
    from mathcoder_local.engine.llama import LlamaEngine

    questions = [WAREHOUSE] + [p.question for p in load_dataset("nano")[:3]]
    local = LlamaEngine(nano_gguf, n_ctx=2048, n_threads=1)
    remote = load_remote_engine(str(nano_gguf), [llama_servers[0]], n_ctx=2048, options=QUICK)
    answers: list[tuple[dict, dict]] = []
    post = remote.client.post

    def recording(path, body, **options):
        answer = post(path, body, **options)
        answers.append((body, answer))
        return answer

    remote.client.post = recording
    executions = 0
    try:
        for question in questions:
            whole = list(Solver(local, ToyFenceFormat(local)).solve(question))[-1]
            config = SolveConfig(max_tokens=whole.stats.generated_tokens - 1)
            want = list(Solver(local, ToyFenceFormat(local), config).solve(question))[-1]
            got = list(Solver(remote, ToyFenceFormat(remote), config).solve(question))[-1]
            assert (got.blocks, got.finish_reason, got.format) == (want.blocks, want.finish_reason, "toy-fence")
            assert got.stats.generated_tokens == want.stats.generated_tokens
            executions += sum(1 for b in got.blocks if b.kind == "execution")
            assert all(b.content.endswith(TOY_STOP) for b in got.blocks[:-1] if b.kind == "text")
    finally:
        local.close()
    assert executions >= len(questions) + 1  # at least one answer went on past written-back output to a stop
    assert remote.stats.requests > executions
    # the server stopped at the stop string each time: it was asked to, and no answer runs past one
    assert answers and all(body["stop"] == [TOY_STOP] for body, _ in answers)
    assert not any(TOY_STOP in answer["choices"][0]["text"] for _, answer in answers)


# --- TGI -------------------------------------------------------------------------------------------------


def test_solve_over_tgi(tgi):
    tgi.requests.clear()
    result = invoke("solve", WAREHOUSE, "--server", tgi.url, "--server-kind", "tgi", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["answer"] == "15283521"
    assert ("execution", "15283521") in [(b["kind"], b["content"]) for b in out["blocks"]]
    assert ("GET", "/info") in tgi.requests and ("POST", "/generate") in tgi.requests
    info = probe_server(tgi.url)
    assert (info.kind, info.max_total_tokens, info.max_input_tokens) == ("tgi", 2048, 1536)


def test_tora_over_tgi_is_token_exact(tora_gguf):
    """ToRA's stop at ```output and TGI's token details: the same tokens as in process (random weights)."""
    from mathcoder_local.engine.llama import LlamaEngine

    config = SolveConfig(max_tokens=48)
    with TGIStandIn(tora_gguf) as server:
        remote = load_remote_engine(str(tora_gguf), [server.url], options=QUICK)
        local = LlamaEngine(tora_gguf, n_ctx=2048, n_threads=1)
        try:
            for question in ("What is 2 + 3?", "Solve x + 1 = 3."):
                want = transcript(local, question, config)
                got = transcript(remote, question, config)
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
    from mathcoder_local.engine.remote.openai import OpenAIEngine
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
