"""Repair figures on a synthetic 1.7 GB f16 GGUF (TinyLlama's width, 16 layers, a 32k vocabulary whose
MathCoder tokens are USER_DEFINED, as llama.cpp's converter writes transformers 4.31 checkpoints):

- wall time of `mathcoder-local convert --repair` ÷ wall time of `cp` of the same file, same run (and ÷ `cp`
  followed by `sync` of the copy: the repair syncs its output before renaming it);
- peak RSS of the repair process, and its ratio to the file's size.

Each contestant runs 5 times, interleaved, from a warm page cache, with every output deleted and synced away
before the next run; the medians are printed.

The repaired copy's tensor data are compared with the input's (`cmp` from each file's data offset). The
GGUF is written in a child process to the temp directory and, like every output, deleted at the end.

    python benchmarks/repair_speed.py [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from convert_memory import timed  # (seconds, peak RSS) of a child process

from mathcoder_local.devtools.gguf_variants import USER_DEFINED, ModelShape, retyped, spm_vocab, write_model_gguf
from mathcoder_local.formats.mathcoder import SPECIAL_TOKENS as MATHCODER_TOKENS

SHAPE = ModelShape(n_embd=2048, n_layer=16, n_head=32, n_head_kv=4, n_ff=5632, n_ctx=2048, dtype="f16", seed=7)
VOCAB_SIZE = 32016  # CodeLlama's: MathCoder-CL's vocabulary size
ROUNDS = 5


def make_gguf(path: Path) -> None:
    base = len(spm_vocab().tokens)
    vocab = retyped(spm_vocab(extra_pieces=VOCAB_SIZE - base), dict.fromkeys(MATHCODER_TOKENS, USER_DEFINED))
    write_model_gguf(path, vocab, SHAPE)


def data_offset(path: Path) -> int:
    from mathcoder_local.convert.gguf_file import read_header

    with read_header(path) as header:
        return header.data_offset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="keep the GGUF and the outputs")
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        return make_gguf(args.make)
    work = Path(tempfile.mkdtemp(prefix="mathcoder-local-repair-bench-"))
    source = work / "model.f16.gguf"
    try:
        start = time.perf_counter()
        # a child process: ru_maxrss of a forked child counts the parent's memory at fork time
        subprocess.run([sys.executable, __file__, "--make", str(source)], check=True)
        made = time.perf_counter() - start
        size = source.stat().st_size
        subprocess.run(["sync"], check=True)  # the new file's dirty pages would slow whoever runs first
        subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        copy, repaired = work / "copy.gguf", work / "model.repaired.gguf"
        repair = [
            sys.executable,
            "-m",
            "mathcoder_local",
            "convert",
            "--repair",
            str(source),
            "--outfile",
            str(repaired),
        ]
        contestants = {
            "cp": ["cp", str(source), str(copy)],
            "cp + sync": ["sh", "-c", f"cp '{source}' '{copy}' && sync '{copy}'"],
            "repair": repair,
        }
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in contestants}
        for _ in range(ROUNDS):  # interleaved, each output deleted and synced away before the next run
            for name, cmd in contestants.items():
                runs[name].append(timed(cmd))
                if name != "repair" or _ < ROUNDS - 1:
                    (repaired if name == "repair" else copy).unlink()
                subprocess.run(["sync"], check=True)
        cp_seconds = median([t for t, _ in runs["cp"]])
        cp_sync_seconds = median([t for t, _ in runs["cp + sync"]])
        repair_seconds = median([t for t, _ in runs["repair"]])
        repair_rss = max(rss for _, rss in runs["repair"])
        skip = f"{data_offset(source)}:{data_offset(repaired)}"
        same = subprocess.run(["cmp", "-s", "-i", skip, str(source), str(repaired)]).returncode == 0
        print(f"GGUF:                 {size / 1e9:.2f} GB, f16, {VOCAB_SIZE} tokens (written in {made:.0f} s)")
        print(f"(medians of {ROUNDS} interleaved runs each)")
        print(f"cp:                   {cp_seconds:6.2f} s")
        print(f"cp + sync:            {cp_sync_seconds:6.2f} s")
        print(f"convert --repair:     {repair_seconds:6.2f} s  ({repair_seconds / cp_seconds:.2f}x cp, "
              f"{repair_seconds / cp_sync_seconds:.2f}x cp + sync)")  # fmt: skip
        print(f"  peak RSS:           {repair_rss / 1e6:6.0f} MB  ({repair_rss / size:.3f} of the file)")
        print(f"  tensor data identical to the input's: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit(1)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
