"""Prompt formats, and auto-detection from a model's metadata and vocabulary."""

from __future__ import annotations

from typing import Callable

from mathcoder_local.engine.base import Engine
from mathcoder_local.errors import UserError
from mathcoder_local.formats.base import BlockTracker, PromptFormat, Step
from mathcoder_local.formats.mathcoder import MathCoderFormat
from mathcoder_local.formats.tora import ToraFormat

FORMATS: dict[str, type[PromptFormat]] = {cls.name: cls for cls in (MathCoderFormat, ToraFormat)}
FORMAT_METADATA_KEY = "mathcoder_local.prompt_format"  # written by `mathcoder-local convert`


def format_of(recorded: object, has_token: Callable[[str], bool]) -> str:
    """The one detection rule, over what a vocabulary says, wherever it comes from (a loaded engine, a GGUF's
    header, a checkpoint's added tokens): the converter's metadata value when it names a format, else MathCoder
    when the vocabulary has its block tokens, else ToRA."""
    if recorded in FORMATS:
        return recorded  # type: ignore[return-value]
    if has_token("<|endofblock|>") and has_token("<|code|>"):
        return MathCoderFormat.name
    return ToraFormat.name


def detect_format(engine: Engine) -> str:
    """`format_of` a loaded model."""
    return format_of(engine.metadata.get(FORMAT_METADATA_KEY), lambda piece: engine.token_id(piece) is not None)


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
    "format_of",
    "make_format",
]
