"""Tensors read lazily from checkpoint files, one at a time, without torch.

A `LazyTensor` knows where its bytes are; `load()` reads just those bytes into fresh memory (not an mmap:
touched mmap pages would count as resident and the peak would grow to the whole checkpoint).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mathcoder_local.errors import UserError

# Checkpoint dtypes we read. bf16 has no numpy dtype: it is read as uint16 and widened by hand.
SAFETENSORS_DTYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16"}
ITEM_SIZE = {"f32": 4, "f16": 2, "bf16": 2}


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """bf16 is the top half of an f32: shift the bits into place."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


@dataclass
class LazyTensor:
    name: str
    dtype: str  # "f32" | "f16" | "bf16"
    shape: tuple[int, ...]
    nbytes: int
    read: Callable[[], bytes | bytearray]  # the tensor's raw bytes, C order
    source: str  # file it comes from, for error messages
    span: tuple[Path, int] | None = None  # (file, offset) when the bytes lie there contiguously, as stored

    def load(self) -> np.ndarray:
        """The tensor as numpy: f32 or f16 as stored, bf16 widened to f32."""
        raw = self.read()
        if len(raw) != self.nbytes:
            raise UserError(f"{self.source} is truncated: tensor {self.name} needs {self.nbytes} bytes")
        if self.dtype == "bf16":
            return bf16_to_f32(np.frombuffer(raw, dtype=np.uint16)).reshape(self.shape)
        return np.frombuffer(raw, dtype=np.float32 if self.dtype == "f32" else np.float16).reshape(self.shape)


def _read_span(path: Path, offset: int, size: int) -> Callable[[], bytearray]:
    def read() -> bytearray:
        buf = bytearray(size)
        with path.open("rb") as f:
            f.seek(offset)
            n = f.readinto(buf)
        return buf if n == size else buf[:n]

    return read


def read_safetensors(path: Path) -> dict[str, LazyTensor]:
    """The header of a .safetensors file: an 8-byte length, a JSON table of dtype/shape/offsets, the data."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise UserError(f"{path} is truncated or not a safetensors file")
            (n,) = struct.unpack("<Q", head)
            header = json.loads(f.read(n))
        size = path.stat().st_size
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise UserError(f"{path}: tensor {name} has dtype {info['dtype']}; only F32, F16 and BF16 are supported")
        start, end = info["data_offsets"]
        if base + end > size:
            raise UserError(f"{path} is truncated: tensor {name} ends past the end of the file")
        shape = tuple(info["shape"])
        tensors[name] = LazyTensor(
            name, dtype, shape, end - start, _read_span(path, base + start, end - start), str(path)
        )
    return tensors
