"""Prompt formats, and auto-detection from a model's metadata and vocabulary."""

from __future__ import annotations

from mathcoder_local.engine.base import Engine
from mathcoder_local.errors import UserError
from mathcoder_local.formats.base import BlockTracker, PromptFormat, Step
from mathcoder_local.formats.mathcoder import MathCoderFormat
from mathcoder_local.formats.tora import ToraFormat

FORMATS: dict[str, type[PromptFormat]] = {cls.name: cls for cls in (MathCoderFormat, ToraFormat)}
FORMAT_METADATA_KEY = "mathcoder_local.prompt_format"  # written by `mathcoder-local convert`


def detect_format(engine: Engine) -> str:
    """The converter's metadata when present, else MathCoder when the vocabulary has its block tokens."""
    recorded = engine.metadata.get(FORMAT_METADATA_KEY)
    if recorded in FORMATS:
        return recorded
    if engine.token_id("<|endofblock|>") is not None and engine.token_id("<|code|>") is not None:
        return MathCoderFormat.name
    return ToraFormat.name


def make_format(engine: Engine, name: str | None = None, **options: object) -> PromptFormat:
    name = name or detect_format(engine)
    if name not in FORMATS:
        raise UserError(f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name](engine, **options)  # type: ignore[arg-type]


__all__ = [
    "FORMATS",
    "BlockTracker",
    "MathCoderFormat",
    "PromptFormat",
    "Step",
    "ToraFormat",
    "detect_format",
    "make_format",
]
