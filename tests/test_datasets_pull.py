"""`pull_dataset` against the fake hub on loopback: what it writes, and that a failure leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from conftest import SHARED
from hub_server import FakeHub

from mathcoder_local.datasets import load_dataset, pull_dataset
from mathcoder_local.datasets.pull import _write_atomic
from mathcoder_local.errors import UserError

MATH500 = "HuggingFaceH4/MATH-500"
SAMPLE = [
    {"problem": "What is $1+1$?", "solution": "$\\boxed{2}$", "answer": "2", "subject": "Algebra", "level": 1,
     "unique_id": "test/algebra/1.json"},
    {"problem": "What is $2+3$?", "solution": "$\\boxed{5}$", "answer": "5", "subject": "Prealgebra", "level": 2,
     "unique_id": "test/prealgebra/2.json"},
]  # fmt: skip


@pytest.fixture
def hub_repo(tmp_path, monkeypatch):
    """A MATH-500 dataset repo folder (the real file when ../shared is there, else two records)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    repo = tmp_path / "repo"
    repo.mkdir()
    shared = SHARED / "data" / "math500" / "test.jsonl"
    if shared.is_file():
        shutil.copy(shared, repo / "test.jsonl")
    else:
        (repo / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SAMPLE))
    return repo


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_pull_writes_the_set_where_load_dataset_reads_it(hub_repo, tmp_path, monkeypatch):
    data = tmp_path / "data"
    with FakeHub({}, datasets={MATH500: hub_repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        path = pull_dataset("MATH-500", data_dir=data, progress=False)
        assert ("GET", f"/datasets/{MATH500}/resolve/main/test.jsonl") in hub.requests
        commit = hub.commits[MATH500]
    assert path == data / "math500" / "test.jsonl"
    assert leftovers(data) == ["math500", "source.json", "test.jsonl"]  # no temporary file left
    expected = load_dataset(hub_repo / "test.jsonl")
    assert load_dataset("math500", data_dir=data) == expected
    source = json.loads((data / "math500" / "source.json").read_text())
    assert source == {"repo": MATH500, "files": ["test.jsonl"], "revision": "main", "commit": commit}


def test_nothing_touches_the_network_without_pull(hub_repo, tmp_path, monkeypatch):
    with FakeHub({}, datasets={MATH500: hub_repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError, match="data pull math500"):
            load_dataset("math500", data_dir=tmp_path / "data")
        assert hub.requests == []


def test_a_dropped_download_leaves_no_file(hub_repo, tmp_path, monkeypatch):
    data = tmp_path / "data"
    with FakeHub({}, datasets={MATH500: hub_repo}, truncate={f"{MATH500}/test.jsonl"}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError) as err:
            pull_dataset("math500", data_dir=data, progress=False)
    assert str(err.value).startswith(f"downloading test.jsonl from {MATH500}@main failed")
    assert str(err.value).endswith("run data pull again to resume where it stopped")
    assert "\n" not in str(err.value)
    assert leftovers(data) == []


def test_a_failed_pull_keeps_the_previous_file(hub_repo, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "math500").mkdir(parents=True)
    previous = data / "math500" / "test.jsonl"
    previous.write_text("".join(json.dumps(r) + "\n" for r in SAMPLE))
    (hub_repo / "test.jsonl").write_text(json.dumps(SAMPLE[0]) + "\n" + '{"problem": "cut off' + "\n")
    with FakeHub({}, datasets={MATH500: hub_repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError, match="line 2 is not valid JSON"):
            pull_dataset("math500", data_dir=data, progress=False)
    assert leftovers(data) == ["math500", "test.jsonl"]
    assert len(load_dataset("math500", data_dir=data)) == len(SAMPLE)


def test_an_interrupted_write_removes_its_temporary_file(tmp_path):
    target = tmp_path / "set" / "test.jsonl"

    def write(out):
        out.write('{"question": "q", "answer": "1"}\n')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _write_atomic(target, write)
    assert leftovers(tmp_path / "set") == []


def test_a_file_the_hub_does_not_have(hub_repo, tmp_path, monkeypatch):
    (hub_repo / "test.jsonl").unlink()
    with FakeHub({}, datasets={MATH500: hub_repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError, match=f"{MATH500}@v9 has no file test.jsonl on the hub"):
            pull_dataset("math500", data_dir=tmp_path / "data", revision="v9", progress=False)
        assert ("HEAD", f"/datasets/{MATH500}/resolve/v9/test.jsonl") in hub.requests


def test_an_unreachable_hub_is_one_line(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(*args, **kwargs):
        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub\nand more")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(UserError, match=r"^cannot download test.jsonl from \S+: http://127.0.0.1:9 is unreachable"):
        pull_dataset("math500", data_dir=tmp_path / "data", progress=False)


def test_sets_without_a_hub_copy_say_where_to_put_the_file(tmp_path):
    with pytest.raises(UserError) as err:
        pull_dataset("simuleq", data_dir=tmp_path / "data")
    assert str(err.value) == (
        "simuleq has no Hugging Face hub copy to pull: download data/simuleq_test_post.jsonl from "
        f"https://github.com/mathllm/MathCoder and save it as {tmp_path / 'data' / 'simuleq' / 'test.jsonl'}, "
        "or pass --data-dir DIR"
    )


def test_parquet_sets_need_pyarrow_and_say_so_before_downloading(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with FakeHub({}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError, match=r"gsm8k is published on the hub as parquet.*`pip install pyarrow`"):
            pull_dataset("gsm8k", data_dir=tmp_path / "data")
        assert hub.requests == []


def test_parquet_pull(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet", reason="reading the hub's parquet files needs pyarrow")
    import pyarrow as pa

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    repo = tmp_path / "gsm8k-repo"
    (repo / "main").mkdir(parents=True)
    rows = {"question": ["How many?", "How much?"], "answer": ["3 + 4 = <<3+4=7>>7\n#### 7", "#### 1,000"]}
    pq.write_table(pa.table(rows), repo / "main" / "test-00000-of-00001.parquet")
    with FakeHub({}, datasets={"openai/gsm8k": repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        pull_dataset("gsm8k", data_dir=tmp_path / "data", progress=False)
    problems = load_dataset("gsm8k", data_dir=tmp_path / "data")
    assert [(p.id, p.question, p.answer) for p in problems] == [("0", "How many?", "7"), ("1", "How much?", "1000")]

    # MATH: one parquet file per subject on the hub, concatenated in the registry's order.
    from mathcoder_local.datasets.registry import known

    repo = tmp_path / "math-repo"
    for i, file in enumerate(known("math").hub.files):
        (repo / file).parent.mkdir(parents=True)
        row = {"problem": [f"p{i}"], "level": [f"Level {i % 5 + 1}"], "type": [file.split("/")[0]],
               "solution": [f"so $\\boxed{{{i}}}$"]}  # fmt: skip
        pq.write_table(pa.table(row), repo / file)
    with FakeHub({}, datasets={"EleutherAI/hendrycks_math": repo}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        pull_dataset("math", data_dir=tmp_path / "data", progress=False)
    problems = load_dataset("math", data_dir=tmp_path / "data")
    assert [p.answer for p in problems] == [str(i) for i in range(7)]
    assert problems[0].subject == "algebra" and problems[0].level == 1
