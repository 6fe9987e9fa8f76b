"""The in-process llama.cpp engine (llama-cpp-python), working on token lists with KV-cache reuse."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import llama_cpp

from mathcoder_local.engine.base import (
    ContextFull,
    EngineCounters,
    LogitsProcessor,
    SamplingParams,
    StopRules,
    reusable_prefix,
)
from mathcoder_local.engine.sampling import TokenSampler
from mathcoder_local.errors import UserError

GGUF_MAGIC = b"GGUF"


@contextlib.contextmanager
def silence_native_stderr() -> Iterator[None]:
    """Silence llama.cpp while it logs what the user cannot act on: native writes to fd 2, and the lines
    llama-cpp-python's log callback prints to sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def default_gpu_layers() -> int:
    """All layers when this llama.cpp build can offload (CUDA, Metal, ...), else none."""
    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


def check_gguf_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"model file not found: {p} (pass --model PATH to a .gguf file)")
    with p.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise UserError(f"{p} is not a GGUF file; convert the checkpoint with `mathcoder-local convert`")
    return p


def load_llama(path: Path, **params: object) -> llama_cpp.Llama:
    try:
        with silence_native_stderr():  # llama.cpp's load-time notices would garble the transcript
            return llama_cpp.Llama(model_path=str(path), verbose=False, **params)
    except ValueError as exc:  # llama-cpp-python raises ValueError when llama.cpp cannot load the file
        raise UserError(f"llama.cpp could not load {path}: {exc}") from None


class LlamaVocabulary:
    """The vocabulary side of a loaded model: tokenizing, special tokens, token text."""

    def __init__(self, llama: llama_cpp.Llama, pieces: dict[int, bytes] | None = None) -> None:
        self._llama = llama
        self._vocab = llama._model.vocab
        self._n_vocab = llama.n_vocab()
        self._pieces: dict[int, bytes] = {} if pieces is None else pieces

    @property
    def n_vocab(self) -> int:
        return self._n_vocab

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._llama.metadata)

    @property
    def eos_id(self) -> int:
        return int(llama_cpp.llama_vocab_eos(self._vocab))

    @property
    def bos_id(self) -> int | None:
        if not llama_cpp.llama_vocab_get_add_bos(self._vocab):
            return None
        return int(llama_cpp.llama_vocab_bos(self._vocab))

    def tokenize(self, text: str, *, special: bool = False, bos: bool = False) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def token_id(self, piece: str) -> int | None:
        ids = self.tokenize(piece, special=True)
        if len(ids) != 1:
            return None
        token = ids[0]
        if llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace") != piece:
            return None
        return token

    def is_control(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_control(self._vocab, token))

    def token_bytes(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            piece = self._pieces[token] = buf.raw[:n]
        return piece

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))


class LlamaEngine(LlamaVocabulary):
    """One llama.cpp context. The KV cache holds `self._cached`; generate() evaluates only what is new."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        seed: int = 0,
        n_batch: int = 512,
    ) -> None:
        path = check_gguf_path(model_path)
        self.model_path = path
        self.n_gpu_layers = default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
        llama = load_llama(
            path,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_gpu_layers=self.n_gpu_layers,
            seed=seed,
        )
        super().__init__(llama)
        self._ctx = llama._ctx.ctx
        self._cached: list[int] = []  # the token sequence whose keys/values sit in the KV cache
        self.counters = EngineCounters()

    @property
    def n_ctx(self) -> int:
        return self._llama.n_ctx()

    # --- generation -------------------------------------------------------------------------------------

    def _evaluate(self, tokens: Sequence[int]) -> None:
        if len(self._cached) + len(tokens) > self.n_ctx:
            raise ContextFull(len(self._cached) + len(tokens), self.n_ctx)
        start = time.perf_counter()
        self._llama.n_tokens = len(self._cached)
        self._llama.eval(tokens)  # drops any cache past n_tokens, then decodes in n_batch chunks
        self.counters.eval_seconds += time.perf_counter() - start
        self.counters.evaluated_tokens += len(tokens)
        self._cached.extend(tokens)

    def generate(
        self,
        tokens: Sequence[int],
        *,
        sampling: SamplingParams = SamplingParams(),
        grammar: str | None = None,
        logits_processor: LogitsProcessor | None = None,
        stops: StopRules | None = None,  # token by token: the caller stops pulling
    ) -> Iterator[int]:
        if not tokens:
            raise ValueError("generate() needs at least one token (the prompt)")
        sequence = list(tokens)
        keep = reusable_prefix(self._cached, sequence)
        del self._cached[keep:]
        pending = sequence[keep:]
        sampler = TokenSampler(
            self._ctx, self._vocab, self._n_vocab, sampling, self.counters, grammar, logits_processor
        )
        try:
            while True:
                self._evaluate(pending)
                start = time.perf_counter()
                token = sampler.sample(sequence)
                self.counters.sample_seconds += time.perf_counter() - start
                self.counters.sampled_tokens += 1
                sequence.append(token)
                pending = [token]
                yield token
        finally:
            sampler.close()

    def close(self) -> None:
        self._llama.close()
