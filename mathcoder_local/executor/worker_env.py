"""The environment an executor worker runs with: nothing inherited from the user's shell."""

from __future__ import annotations

import os


def worker_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": os.defpath,
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
        # One BLAS thread: the worker must not compete with llama.cpp for cores (and fork stays safe).
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
