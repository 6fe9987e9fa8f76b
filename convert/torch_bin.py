"""PyTorch `pytorch_model*.bin` files read without torch: the zip archive + pickle layout, lazily.

`torch.save` writes a zip with `*/data.pkl` (the state dict, pickled, with tensors as calls to
`torch._utils._rebuild_tensor_v2` over persistent storage ids) and one entry `*/data/<key>` per storage.
Our unpickler maps only the handful of globals that layout uses onto harmless stand-ins and refuses every
other global, so a malicious pickle cannot run code here.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mathcoder_local.convert.tensors import ITEM_SIZE, LazyTensor

from mathcoder_local.errors import UserError

STORAGE_DTYPES = {"FloatStorage": "f32", "HalfStorage": "f16", "BFloat16Storage": "bf16"}
_RAW = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    numel: int


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


class _LazyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path, prefix: str) -> None:
        super().__init__(file)
        self._path = path
        self._prefix = prefix

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, requires_grad, hooks: data
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module == "torch" and name.endswith("Storage"):
            raise UserError(f"{self._path}: tensors stored as {name} are not supported (only f32, f16, bf16)")
        raise UserError(f"{self._path}: refusing to unpickle {module}.{name} (not part of a PyTorch state dict)")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise UserError(f"{self._path}: unexpected storage record {pid!r}")
        return _StorageRef(str(key), storage_type.dtype, int(numel))

    def _rebuild_tensor(self, storage, offset, size, stride, *_rest) -> LazyTensor:
        shape, stride = tuple(size), tuple(stride)
        dtype, item = storage.dtype, ITEM_SIZE[storage.dtype]
        numel = int(np.prod(shape)) if shape else 1
        entry = f"{self._prefix}data/{storage.key}"
        path = self._path
        span = 1 + sum((d - 1) * s for d, s in zip(shape, stride, strict=False)) if numel else 0

        def read() -> bytes:
            with zipfile.ZipFile(path) as archive, archive.open(entry) as f:
                f.seek(offset * item)
                raw = f.read(span * item)
            if len(raw) != span * item:
                return raw  # LazyTensor.load reports the truncation
            if stride == _contiguous_strides(shape):
                return raw
            flat = np.frombuffer(raw, dtype=_RAW[dtype])
            view = np.lib.stride_tricks.as_strided(flat, shape, tuple(s * item for s in stride))
            return np.ascontiguousarray(view).tobytes()

        return LazyTensor("", dtype, shape, numel * item, read, str(path))


def read_torch_bin(path: Path) -> dict[str, LazyTensor]:
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pickles:
                raise UserError(f"{path} is not a zip-format PyTorch checkpoint (legacy torch.save files are not read)")
            prefix = pickles[0][: -len("data.pkl")]
            with archive.open(pickles[0]) as f:
                state = _LazyUnpickler(f, path, prefix).load()
    except zipfile.BadZipFile:
        raise UserError(f"{path} is truncated or not a PyTorch checkpoint") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise UserError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    if not isinstance(state, dict):
        raise UserError(f"{path} does not hold a state dict")
    tensors = {}
    for name, tensor in state.items():
        if isinstance(tensor, LazyTensor):
            tensor.name = name
            tensors[name] = tensor
    return tensors
