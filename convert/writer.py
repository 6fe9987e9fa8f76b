"""Writing the GGUF: metadata, then tensors streamed one at a time, to a temporary name renamed at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import gguf
import numpy as np
from mathcoder_local.convert.file_copy import copy_range
from mathcoder_local.convert.plan import ConversionPlan, TensorPlan, permute_for_rope
from mathcoder_local.convert.tensors import LazyTensor
from mathcoder_local.convert.vocab_writer import add_vocab_metadata

from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMAT_METADATA_KEY
from mathcoder_local.quants import K_QUANTS

SOURCE_REPO_KEY = "mathcoder_local.source.repo"
SOURCE_REVISION_KEY = "mathcoder_local.source.revision"
SOURCE_PATH_KEY = "mathcoder_local.source.path"

Q = gguf.GGMLQuantizationType
_DIRECT = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}
_FILE_TYPE = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}
_K_QUANT_FTYPE = {"q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}  # llama.cpp's LLAMA_FTYPE_MOSTLY_*

Progress = Callable[[int], None]  # called with bytes of source tensors done


def tensor_type(plan: TensorPlan, outtype: str) -> gguf.GGMLQuantizationType:
    if len(plan.shape) == 1:
        return Q.F32  # norms stay f32, as llama.cpp expects
    qtype = _DIRECT[outtype]
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    if plan.shape[-1] % block:
        return Q.F16  # rows that do not fill whole blocks cannot be quantized
    return qtype


def output_bytes(plan: ConversionPlan, outtype: str) -> int:
    return sum(_nbytes(t.shape, tensor_type(t, outtype)) for t in plan.tensors)


def _nbytes(shape: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> int:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return int(np.prod(shape[:-1])) * (shape[-1] // block) * size


def _encode(data: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype == Q.F32:
        return data.astype(np.float32, copy=False)
    if qtype == Q.F16:
        return data.astype(np.float16, copy=False)
    return gguf.quants.quantize(data.astype(np.float32, copy=False), qtype)


def _add_metadata(w: gguf.GGUFWriter, plan: ConversionPlan, file_type: int) -> None:
    c, v = plan.config, plan.vocab
    w.add_name(plan.model_name)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_heads)
    w.add_head_count_kv(c.num_kv_heads)
    w.add_rope_dimension_count(c.head_dim)
    w.add_rope_freq_base(plan.rope_freq_base)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    w.add_file_type(file_type)
    add_vocab_metadata(w, v)
    w.add_string(FORMAT_METADATA_KEY, plan.prompt_format)
    if plan.repo_id:
        w.add_string(SOURCE_REPO_KEY, plan.repo_id)
        if plan.revision:
            w.add_string(SOURCE_REVISION_KEY, plan.revision)
    w.add_string(SOURCE_PATH_KEY, str(plan.folder.resolve()))


def write_direct(plan: ConversionPlan, path: Path, outtype: str, progress: Progress) -> None:
    """Write an f32/f16/bf16/q8_0 GGUF at `path`, holding at most one tensor in memory at a time."""
    writer = gguf.GGUFWriter(str(path), plan.config.arch.gguf_arch)
    _add_metadata(writer, plan, _FILE_TYPE[outtype])
    types = [tensor_type(t, outtype) for t in plan.tensors]
    for t, qtype in zip(plan.tensors, types, strict=False):
        nbytes = _nbytes(t.shape, qtype)
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        byte_shape = (*t.shape[:-1], t.shape[-1] // block * size)
        writer.add_tensor_info(t.gguf_name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    fout = writer.fout[0]  # tensor data is written here directly: some of it is copied file to file
    for t, qtype in zip(plan.tensors, types, strict=True):
        writer.write_padding(fout, fout.tell())
        if t.source.span is not None and not t.permute_heads and _SAME_BITS.get(t.source.dtype) == qtype:
            _copy_span(t.source, fout)  # stored bits are already what GGUF wants: no trip through Python
        else:
            data = t.source.load()
            if t.permute_heads:
                data = permute_for_rope(data, t.permute_heads)
            encoded = _encode(data, qtype)
            del data
            fout.write(memoryview(np.ascontiguousarray(encoded)).cast("B"))
            del encoded
        writer.write_padding(fout, _nbytes(t.shape, qtype))
        progress(t.source.nbytes)
    writer.close()


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the OS lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_SAME_BITS = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16}


def _copy_span(tensor: LazyTensor, fout: BinaryIO) -> None:
    """Copy a tensor's stored bytes into the output in the kernel (copy_file_range), as cp does."""
    path, offset = tensor.span  # type: ignore[misc]
    fout.flush()
    out_pos = fout.tell()
    with path.open("rb") as src:
        try:
            copy_range(src.fileno(), offset, fout.fileno(), out_pos, tensor.nbytes)
        except UserError:
            raise UserError(f"{tensor.source} is truncated: tensor {tensor.name} is cut short") from None
    fout.seek(out_pos + tensor.nbytes)


def quantize_k(src: Path, dst: Path, outtype: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _K_QUANT_FTYPE[outtype]
    params.nthread = os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise UserError(f"llama.cpp's quantizer failed with code {rc} while making {outtype}")


def write_gguf(
    plan: ConversionPlan,
    *,
    force: bool = False,
    progress: Progress = lambda n: None,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Write the plan's GGUF atomically: nothing appears under the final name unless the whole file is done
    (and, given `check`, passed it: `check` raises to refuse the file)."""
    out = plan.outfile
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it or --outfile to choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    staged: Path | None = None
    try:
        if plan.outtype in K_QUANTS:
            fd, staged_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".f16.partial", dir=out.parent)
            os.close(fd)
            staged = Path(staged_name)
            write_direct(plan, staged, "f16", progress)
            quantize_k(staged, tmp, plan.outtype)
        else:
            write_direct(plan, tmp, plan.outtype, progress)
        with tmp.open("rb") as written:  # on disk before the name points at it: a crash leaves the old or the new
            os.fsync(written.fileno())
        if check is not None:
            check(tmp)
        tmp.replace(out)
        _sync_folder(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
        if staged is not None:
            staged.unlink(missing_ok=True)
    return out
