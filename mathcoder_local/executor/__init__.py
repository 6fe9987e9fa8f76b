"""The restricted executor: model-written code runs in worker processes, one session per problem."""

from mathcoder_local.executor.session import CellResult, ExecutorLimits, ExecutorSession
from mathcoder_local.executor.withheld import WithheldSession

__all__ = ["CellResult", "ExecutorLimits", "ExecutorSession", "WithheldSession"]
