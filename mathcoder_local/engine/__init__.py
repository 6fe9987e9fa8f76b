"""Engines generate tokens from token lists. `LlamaEngine` (llama.cpp) lives in `engine.llama`, imported lazily."""

from mathcoder_local.engine.base import ContextFull, Engine, EngineCounters, LogitsProcessor, SamplingParams

__all__ = ["ContextFull", "Engine", "EngineCounters", "LogitsProcessor", "SamplingParams"]
