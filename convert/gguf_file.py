"""A GGUF file's header (metadata and tensor list) read without touching the tensor data, and written anew.

The header is parsed from a read-only memory map, so only its own pages are read: a 150k-token vocabulary
takes a fraction of a second and no more memory than the header. Every metadata entry keeps its byte span in
the file, so a rewritten header copies the entries it does not change byte for byte. Tensor offsets in GGUF
count from the start of the aligned data section, so a new header of any length can sit in front of the
original data section unchanged.

Layout (GGUF v2/v3): magic "GGUF", u32 version, u64 tensor count, u64 entry count; the entries (string key,
u32 value type, value); the tensor infos (string name, u32 dims, u64 × dims, u32 ggml type, u64 offset);
zero padding to `general.alignment` (default 32); the tensor data.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathcoder_local.errors import UserError

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
ALIGNMENT_KEY = "general.alignment"

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {
    UINT8: "B",
    INT8: "b",
    UINT16: "H",
    INT16: "h",
    UINT32: "I",
    INT32: "i",
    FLOAT32: "f",
    BOOL: "?",
    UINT64: "Q",
    INT64: "q",
    FLOAT64: "d",
}
_MAX_DIMS = 8  # ggml uses 4; anything far beyond that is a damaged file, not a tensor


class GGUFFormatError(UserError):
    """The file is no GGUF, or a damaged or cut-short one."""


@dataclass(frozen=True)
class Entry:
    """One metadata entry and where its bytes lie in the file."""

    key: str
    type: int
    start: int  # the key's length prefix
    value_start: int  # the value (for an array: its element type)
    end: int  # just past the value
    item_type: int | None = None  # arrays: the elements' type
    count: int | None = None  # arrays: how many elements


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]  # GGUF order: the fastest-varying dimension first
    ggml_type: int
    offset: int  # from the start of the data section

    @property
    def shape(self) -> tuple[int, ...]:
        """numpy order (rows first), as Hugging Face checkpoints state shapes."""
        return tuple(reversed(self.dims))

    @property
    def nbytes(self) -> int | None:
        """Size of the data, or None for a ggml type this gguf package does not know."""
        import gguf

        try:
            block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(self.ggml_type)]
        except (ValueError, KeyError):
            return None
        elements = 1
        for d in self.dims:
            elements *= d
        return elements // block * size

    @property
    def type_name(self) -> str:
        import gguf

        try:
            return gguf.GGMLQuantizationType(self.ggml_type).name
        except ValueError:
            return f"type {self.ggml_type}"


@dataclass
class GGUFHeader:
    path: Path
    file_size: int
    version: int
    byteorder: str  # "<" or ">"
    entries: dict[str, Entry]
    tensors: list[TensorInfo]
    tensor_infos_start: int
    tensor_infos_end: int
    alignment: int
    data_offset: int
    _buf: Any = field(repr=False, default=None)

    # -- values --------------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        """The decoded value of `key` (scalar, str, or list for arrays), or `default` when absent."""
        entry = self.entries.get(key)
        if entry is None:
            return default
        return self._decode(entry)

    def string(self, key: str) -> str | None:
        value = self.get(key)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        value = self.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def raw(self, start: int, end: int) -> bytes:
        return bytes(self._buf[start:end])

    def _decode(self, entry: Entry) -> Any:
        bo, buf = self.byteorder, self._buf
        if entry.type == STRING:
            return _read_string(buf, entry.value_start, self.file_size, bo)[0]
        if entry.type in _SCALAR:
            return struct.unpack_from(bo + _SCALAR[entry.type], buf, entry.value_start)[0]
        if entry.type == ARRAY:
            values, _ = _read_array(buf, entry.value_start, self.file_size, bo, decode=True)
            return values
        raise GGUFFormatError(f"{self.path}: entry {entry.key} has unknown value type {entry.type}")

    @property
    def data_bytes(self) -> int:
        """Bytes from the data section's start to the end of the file (0 for a vocabulary-only file)."""
        return max(0, self.file_size - self.data_offset)

    def close(self) -> None:
        if self._buf is not None:
            self._buf.close()
            self._buf = None

    def __enter__(self) -> GGUFHeader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _need(pos: int, n: int, size: int) -> None:
    if n < 0 or pos + n > size:
        raise _Truncated


class _Truncated(Exception):
    pass


def _read_string(buf: Any, pos: int, size: int, bo: str) -> tuple[str, int]:
    _need(pos, 8, size)
    (n,) = struct.unpack_from(bo + "Q", buf, pos)
    pos += 8
    _need(pos, n, size)
    return bytes(buf[pos : pos + n]).decode("utf-8", "replace"), pos + n


def _read_array(buf: Any, pos: int, size: int, bo: str, decode: bool) -> tuple[Any, int]:
    """(values or None, position after the array) for the array whose element type is at `pos`."""
    _need(pos, 12, size)
    item_type, count = struct.unpack_from(bo + "IQ", buf, pos)
    pos += 12
    if item_type in _SCALAR:
        width = struct.calcsize(_SCALAR[item_type])
        _need(pos, count * width, size)
        end = pos + count * width
        if not decode:
            return None, end
        import numpy as np

        dtype = np.dtype(_SCALAR[item_type]).newbyteorder(bo)
        return np.frombuffer(buf, dtype=dtype, count=count, offset=pos).tolist(), end
    if item_type == STRING:
        _need(pos, count * 8, size)  # every string has at least its length prefix
        unpack = struct.Struct(bo + "Q").unpack_from
        values: list[str] | None = [] if decode else None
        for _ in range(count):
            (n,) = unpack(buf, pos)
            pos += 8
            if pos + n > size:
                raise _Truncated
            if values is not None:
                values.append(bytes(buf[pos : pos + n]).decode("utf-8", "replace"))
            pos += n
        return values, pos
    if item_type == ARRAY:
        nested: list[Any] | None = [] if decode else None
        for _ in range(count):
            value, pos = _read_array(buf, pos, size, bo, decode)
            if nested is not None:
                nested.append(value)
        return nested, pos
    raise GGUFFormatError(f"unknown array element type {item_type}")


def _skip_value(buf: Any, pos: int, size: int, bo: str, vtype: int) -> tuple[int, int | None, int | None]:
    """(end, element type, count) of the value of type `vtype` at `pos`."""
    if vtype in _SCALAR:
        width = struct.calcsize(_SCALAR[vtype])
        _need(pos, width, size)
        return pos + width, None, None
    if vtype == STRING:
        return _read_string(buf, pos, size, bo)[1], None, None
    if vtype == ARRAY:
        _need(pos, 12, size)
        item_type, count = struct.unpack_from(bo + "IQ", buf, pos)
        _, end = _read_array(buf, pos, size, bo, decode=False)
        return end, item_type, count
    raise GGUFFormatError(f"unknown value type {vtype}")


def read_header(path: str | Path) -> GGUFHeader:
    """Parse the header of the GGUF at `path`. Raises a one-line UserError for a missing file, a file that is
    not GGUF, a damaged header, or tensor data cut short."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    try:
        f = path.open("rb")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        size = path.stat().st_size
        if size < 24:
            raise GGUFFormatError(f"{path} is not a readable GGUF file: only {size} bytes")
        if f.read(4) != MAGIC:
            raise GGUFFormatError(f"{path} is not a readable GGUF file: it does not start with 'GGUF'")
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        header = _parse(path, buf, size)
    except _Truncated:
        buf.close()
        raise GGUFFormatError(f"{path} is not a readable GGUF file: its header is cut short (truncated)") from None
    except (GGUFFormatError, struct.error, UnicodeDecodeError, OverflowError) as exc:
        buf.close()
        message = str(exc).removeprefix(f"{path}: ")
        raise GGUFFormatError(f"{path} is not a readable GGUF file: {message}") from None
    return header


def _parse(path: Path, buf: Any, size: int) -> GGUFHeader:
    (version,) = struct.unpack_from("<I", buf, 4)
    bo = "<"
    if version & 0xFFFF == 0:  # written on a big-endian machine
        bo = ">"
        (version,) = struct.unpack_from(">I", buf, 4)
    if version not in (2, 3):
        raise GGUFFormatError(f"GGUF version {version} (only 2 and 3 are in use)")
    n_tensors, n_entries = struct.unpack_from(bo + "QQ", buf, 8)
    pos = 24
    entries: dict[str, Entry] = {}
    for _ in range(n_entries):
        start = pos
        key, pos = _read_string(buf, pos, size, bo)
        _need(pos, 4, size)
        (vtype,) = struct.unpack_from(bo + "I", buf, pos)
        pos += 4
        end, item_type, count = _skip_value(buf, pos, size, bo, vtype)
        if key in entries:
            raise GGUFFormatError(f"metadata key {key} appears twice")
        entries[key] = Entry(key, vtype, start, pos, end, item_type, count)
        pos = end
    infos_start = pos
    tensors: list[TensorInfo] = []
    for _ in range(n_tensors):
        name, pos = _read_string(buf, pos, size, bo)
        _need(pos, 4, size)
        (n_dims,) = struct.unpack_from(bo + "I", buf, pos)
        if n_dims > _MAX_DIMS:
            raise GGUFFormatError(f"tensor {name} has {n_dims} dimensions")
        pos += 4
        _need(pos, 8 * n_dims + 12, size)
        dims = struct.unpack_from(bo + "Q" * n_dims, buf, pos)
        pos += 8 * n_dims
        ggml_type, offset = struct.unpack_from(bo + "IQ", buf, pos)
        pos += 12
        tensors.append(TensorInfo(name, tuple(int(d) for d in dims), int(ggml_type), int(offset)))
    alignment = DEFAULT_ALIGNMENT
    align_entry = entries.get(ALIGNMENT_KEY)
    if align_entry is not None:
        if align_entry.type != UINT32:
            raise GGUFFormatError(f"{ALIGNMENT_KEY} is not a u32")
        (alignment,) = struct.unpack_from(bo + "I", buf, align_entry.value_start)
        if alignment == 0 or alignment & (alignment - 1):
            raise GGUFFormatError(f"{ALIGNMENT_KEY} is {alignment}, not a power of two")
    data_offset = _align(pos, alignment)
    if tensors and data_offset > size:
        raise _Truncated
    header = GGUFHeader(path, size, version, bo, entries, tensors, infos_start, pos, alignment, data_offset, buf)
    data = header.data_bytes
    for t in tensors:
        if t.offset % alignment:
            raise GGUFFormatError(f"tensor {t.name} is not aligned to {alignment} bytes")
        n = t.nbytes
        if n is not None and t.offset + n > data:
            raise GGUFFormatError(
                f"tensor {t.name} ends at byte {header.data_offset + t.offset + n:,} but the file has only "
                f"{size:,} bytes (truncated: an interrupted download or copy?)"
            )
    return header


def _align(n: int, alignment: int) -> int:
    return n + (-n % alignment)


# -- writing --------------------------------------------------------------------------------------------------
def _encode_string(text: str, bo: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(bo + "Q", len(data)) + data


def encode_entry(key: str, vtype: int, value: Any, byteorder: str = "<", item_type: int | None = None) -> bytes:
    """The bytes of one metadata entry: a scalar, a string, or an array of scalars or strings."""
    bo = byteorder
    out = _encode_string(key, bo) + struct.pack(bo + "I", vtype)
    if vtype == STRING:
        return out + _encode_string(value, bo)
    if vtype in _SCALAR:
        return out + struct.pack(bo + _SCALAR[vtype], value)
    if vtype == ARRAY and item_type is not None:
        out += struct.pack(bo + "IQ", item_type, len(value))
        if item_type == STRING:
            return out + b"".join(_encode_string(v, bo) for v in value)
        if item_type in _SCALAR:
            import numpy as np

            return out + np.asarray(value, dtype=np.dtype(_SCALAR[item_type]).newbyteorder(bo)).tobytes()
    raise ValueError(f"cannot encode a value of type {vtype} (elements {item_type})")


def build_header(header: GGUFHeader, replace: dict[str, bytes], add: list[bytes]) -> bytes:
    """A new header for `header`'s tensor data: every entry copied byte for byte except those in `replace`
    (key → the entry's new bytes), then the entries in `add`, then the tensor infos unchanged, then zero
    padding up to the alignment. The tensor data follow it as they are."""
    bo = header.byteorder
    parts = [MAGIC, struct.pack(bo + "IQQ", header.version, len(header.tensors), len(header.entries) + len(add))]
    for key, entry in header.entries.items():
        parts.append(replace[key] if key in replace else header.raw(entry.start, entry.end))
    parts.extend(add)
    parts.append(header.raw(header.tensor_infos_start, header.tensor_infos_end))
    head = b"".join(parts)
    return head + b"\0" * (-len(head) % header.alignment)
