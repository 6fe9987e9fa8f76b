"""Copying a byte range between two open files in the kernel (`copy_file_range`, as `cp` does), through user
space where the kernel cannot (across file systems on older kernels). The converter copies tensors whose bytes
need no change this way, and the repair copies a GGUF's whole data section."""

from __future__ import annotations

import errno
import os
from typing import Callable

from mathcoder_local.errors import UserError

CHUNK = 64 << 20  # bytes per copy_file_range call
_FALLBACK_CHUNK = 16 << 20  # bytes per read/write through user space
Progress = Callable[[int], None]


def copy_range(
    src: int, src_offset: int, dst: int, dst_offset: int, count: int, progress: Progress | None = None
) -> None:
    """Copy `count` bytes between two open files at the given offsets, in the kernel where it can."""
    kernel = hasattr(os, "copy_file_range")
    while count:
        done = 0
        if kernel:
            try:
                done = os.copy_file_range(src, dst, min(count, CHUNK), src_offset, dst_offset)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM):
                    raise
                kernel = False  # e.g. across file systems on old kernels: through user space below
                continue
        else:
            data = os.pread(src, min(count, _FALLBACK_CHUNK), src_offset)
            view = memoryview(data)
            while view:
                written = os.pwrite(dst, view, dst_offset + done)
                view = view[written:]
                done += written
        if done == 0:
            raise UserError("the input file got shorter while it was being copied")
        count, src_offset, dst_offset = count - done, src_offset + done, dst_offset + done
        if progress is not None:
            progress(done)
