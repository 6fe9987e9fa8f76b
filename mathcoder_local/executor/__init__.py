"""The restricted executor: model-written code runs in worker processes, one session per problem."""

from mathcoder_local.executor.session import CellResult, ExecutorLimits, ExecutorSession

__all__ = ["CellResult", "ExecutorLimits", "ExecutorSession"]
