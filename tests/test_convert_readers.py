"""Reading checkpoint tensors without torch: safetensors and the torch zip/pickle layout."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from mathcoder_local.convert.tensors import bf16_to_f32, read_safetensors
from mathcoder_local.convert.torch_bin import read_torch_bin

from mathcoder_local.devtools.tiny_checkpoint import _encode, write_safetensors
from mathcoder_local.errors import UserError


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_safetensors_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((3, 5)).astype(np.float32), "b": rng.standard_normal(7).astype(np.float32)}
    path = tmp_path / "w.safetensors"
    write_safetensors(path, {k: (v.shape, _encode(v, dtype)) for k, v in arrays.items()}, dtype)
    tensors = read_safetensors(path)
    for name, array in arrays.items():
        got = tensors[name].load()
        want = {"f32": array, "f16": array.astype(np.float16)}.get(dtype)
        if want is None:
            want = bf16_to_f32(np.frombuffer(_encode(array, "bf16"), dtype=np.uint16)).reshape(array.shape)
            assert np.allclose(got, array, rtol=1e-2)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_bf16_widening_matches_torch():
    torch = pytest.importorskip("torch")
    x = torch.randn(64, dtype=torch.float32).to(torch.bfloat16)
    raw = x.view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(bf16_to_f32(raw), x.float().numpy())


def test_torch_bin_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    state = {
        "f32": torch.randn(4, 6),
        "f16": torch.randn(5).half(),
        "bf16": torch.randn(3, 2).to(torch.bfloat16),
        "transposed": torch.randn(6, 4).t(),
        "slice": torch.randn(20)[5:15],
    }
    torch.save(state, tmp_path / "pytorch_model.bin")
    tensors = read_torch_bin(tmp_path / "pytorch_model.bin")
    assert set(tensors) == set(state)
    for name, tensor in state.items():
        assert np.array_equal(tensors[name].load().astype(np.float32), tensor.float().numpy()), name


def test_truncated_files_are_user_errors(tmp_path):
    path = tmp_path / "w.safetensors"
    write_safetensors(path, {"a": ((100,), np.zeros(100, np.float32).tobytes())}, "f32")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(UserError, match="truncated"):
        read_safetensors(path)
    torch = pytest.importorskip("torch")
    torch.save({"a": torch.zeros(100)}, tmp_path / "pytorch_model.bin")
    data = (tmp_path / "pytorch_model.bin").read_bytes()
    (tmp_path / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        read_torch_bin(tmp_path / "pytorch_model.bin")


def test_hostile_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with zipfile.ZipFile(tmp_path / "pytorch_model.bin", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(UserError, match="refusing to unpickle"):
        read_torch_bin(tmp_path / "pytorch_model.bin")
    assert not (tmp_path / "pwned").exists()
