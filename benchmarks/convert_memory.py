"""Converter figures on synthetic f16 safetensors checkpoints, each in its own run:

- `llama-1b`: TinyLlama's dimensions, SentencePiece vocabulary (~2.2 GB);
- `qwen2-1.5b`: Qwen2.5-1.5B's dimensions (1536 wide, 28 layers, 12 heads / 2 kv, ff 8960, 151936 rows, tied
  embeddings, q/k/v biases), Qwen2 byte-level BPE vocabulary (~3.1 GB).

For each: peak RSS of the `mathcoder-local convert` process / checkpoint size (target <= 0.3); wall time of
converting to f16 / wall time of `cp` of the same bytes, same run (target <= 3); wall time of converting to
q4_k_m (f16 staging + llama.cpp's quantizer), and its ratio to `cp`.

A checkpoint is written once to the temp directory and reused (`--clean` deletes it at the end); outputs are
deleted after.

    python benchmarks/convert_memory.py [--model llama-1b|qwen2-1.5b] [--keep] [--clean]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mathcoder_local.devtools.tiny_checkpoint import CheckpointSpec, write_checkpoint

SPEC = CheckpointSpec(
    hidden_size=2048,
    intermediate_size=5632,
    num_layers=22,
    num_heads=32,
    num_kv_heads=4,
    vocab_padding=32000 - 520,
    dtype="f16",
    shards=8,
    max_position_embeddings=2048,
    seed=5,
)


QWEN2_SPEC = CheckpointSpec(
    architecture="qwen2",
    hidden_size=1536,
    intermediate_size=8960,
    num_layers=28,
    num_heads=12,
    num_kv_heads=2,
    vocab_size=151936,
    tie_word_embeddings=True,
    rope_theta=10000.0,
    rms_norm_eps=1e-6,
    dtype="f16",
    shards=4,
    max_position_embeddings=4096,
    seed=6,
)
MODELS = {"llama-1b": SPEC, "qwen2-1.5b": QWEN2_SPEC}
_FOLDERS = {"llama-1b": "mathcoder-local-bench-1b-f16", "qwen2-1.5b": "mathcoder-local-bench-qwen2-1.5b-f16"}


def folder_of(model: str) -> Path:
    return Path(tempfile.gettempdir()) / _FOLDERS[model]


def checkpoint(model: str) -> Path:
    """Made in a child process: ru_maxrss of a forked child counts the parent's memory at fork time, so
    this process must stay small for the convert figures to be the converter's own."""
    if not (folder_of(model) / "config.json").is_file():
        subprocess.run([sys.executable, __file__, "--make-checkpoint", model], check=True)
    return folder_of(model)


def make_checkpoint(model: str) -> None:
    folder = folder_of(model)
    if not (folder / "config.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        write_checkpoint(partial, MODELS[model])
        partial.rename(folder)


def timed(cmd: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all", help="which checkpoint (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the output files")
    parser.add_argument("--clean", action="store_true", help="delete the synthetic checkpoints at the end too")
    parser.add_argument("--make-checkpoint", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_checkpoint:
        return make_checkpoint(args.make_checkpoint)
    for model in MODELS if args.model == "all" else [args.model]:
        try:
            bench(model, keep=args.keep)
        finally:
            if args.clean:
                shutil.rmtree(folder_of(model), ignore_errors=True)


def bench(model: str, *, keep: bool) -> None:
    source = checkpoint(model)
    shards = list(source.glob("*.safetensors"))
    size = sum(p.stat().st_size for p in shards)
    work = Path(tempfile.mkdtemp(prefix="mathcoder-local-convert-bench-"))
    convert = [sys.executable, "-m", "mathcoder_local", "convert", str(source), "--force"]
    try:
        # warm the page cache the same way for every contestant
        subprocess.run(["cat", *map(str, shards)], stdout=subprocess.DEVNULL, check=True)
        cp_seconds, _ = timed(["cp", "-r", str(source), str(work / "copy")])
        f16_seconds, f16_rss = timed([*convert, "--outtype", "f16", "--outfile", str(work / "m.f16.gguf")])
        q4_seconds, q4_rss = timed([*convert, "--outtype", "q4_k_m", "--outfile", str(work / "m.q4_k_m.gguf")])
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"{model}")
        print(f"checkpoint:           {size / 1e9:.2f} GB in {len(shards)} f16 shards")
        print(f"(this script's own peak RSS, inherited by each child at fork: {own / 1e6:.0f} MB)")
        print(f"cp -r:                {cp_seconds:6.1f} s")
        print(f"convert --outtype f16: {f16_seconds:6.1f} s  ({f16_seconds / cp_seconds:.2f}x cp)")
        print(f"  peak RSS:           {f16_rss / 1e6:6.0f} MB  ({f16_rss / size:.3f} of the checkpoint)")
        print(f"convert --outtype q4_k_m: {q4_seconds:6.1f} s  ({q4_seconds / cp_seconds:.2f}x cp), "
              f"peak RSS {q4_rss / 1e6:.0f} MB ({q4_rss / size:.3f})")  # fmt: skip
        print(f"output sizes:         f16 {(work / 'm.f16.gguf').stat().st_size / 1e9:.2f} GB, "
              f"q4_k_m {(work / 'm.q4_k_m.gguf').stat().st_size / 1e9:.2f} GB")  # fmt: skip
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
