"""Evaluation sets: GSM8K, MATH, MATH-500, SVAMP, Mathematics, SimulEq, the bundled nano set, any JSONL.

Reading is offline; only `pull_dataset` (the `data pull` command) touches the network.
"""

from mathcoder_local.datasets.load import load_dataset
from mathcoder_local.datasets.pull import pull_dataset
from mathcoder_local.datasets.records import Problem
from mathcoder_local.datasets.registry import KNOWN_SETS, KnownSet, data_home, find_known, known, set_path
from mathcoder_local.datasets.status import DatasetStatus, dataset_status
from mathcoder_local.datasets.subset import select

__all__ = [
    "KNOWN_SETS",
    "DatasetStatus",
    "KnownSet",
    "Problem",
    "data_home",
    "dataset_status",
    "find_known",
    "known",
    "load_dataset",
    "pull_dataset",
    "select",
    "set_path",
]
