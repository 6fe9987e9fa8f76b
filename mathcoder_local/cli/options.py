"""The options several commands share, each declared once, and the enums built from the code's own tables.

Commands take these as `Annotated` aliases (`model: Model = None`); Typer copies each declaration, so one
object serves every command. Defaults come from `SolveConfig` and `EngineOptions`; the allowed values of
`--format`, `--server-kind` and the quantizations come from the formats, the remote engine and the model
store, so a new format or quantization appears in every command at once.
"""

from __future__ import annotations

from copy import copy
from enum import Enum
from pathlib import Path
from typing import Any, List, Mapping, Optional

import typer
from typer.models import OptionInfo
from typing_extensions import Annotated

from mathcoder_local.engine.remote import SERVER_KINDS
from mathcoder_local.formats import FORMATS
from mathcoder_local.quants import QUANTS
from mathcoder_local.solve import EngineOptions
from mathcoder_local.solve_config import SolveConfig

FormatName = Enum("FormatName", {name: name for name in FORMATS}, type=str)  # type: ignore[misc]
ServerKind = Enum("ServerKind", {name: name for name in SERVER_KINDS}, type=str)  # type: ignore[misc]
Quant = Enum("Quant", {name: name for name in QUANTS}, type=str)  # type: ignore[misc]

_FORMATS = ", ".join(FORMATS)
_ROUNDS = ", ".join(f"{name} {cls.max_rounds} {cls.round_unit}" for name, cls in FORMATS.items())
_GRAMMAR = ", ".join(name for name, cls in FORMATS.items() if cls.grammar_by_default) or "none"

MODEL = typer.Option(
    "--model", "-m", help="A GGUF path, or a name from `mathcoder-local models` (default: the bundled model)."
)
FORMAT = typer.Option("--format", help=f"Prompt format: {_FORMATS} (default: detected).")
SYSTEM = typer.Option("--system", help="System text, for formats that take one (MathCoder).")
SERVERS = typer.Option(
    "--server", help="Run the model on this server (OpenAI-compatible or TGI); repeatable: the first that answers."
)
SERVER_KIND = typer.Option("--server-kind", help="Server API (auto: detected).")
CTX = typer.Option("--ctx", help="Context window in tokens.")
THREADS = typer.Option("--threads", "-t", help="CPU threads (default: llama.cpp's).")
GPU_LAYERS = typer.Option(
    "--n-gpu-layers", "-ngl", help="Layers to offload (default: all if the build has a GPU, else 0)."
)
SEED = typer.Option("--seed", help="Sampling seed.")
TEMPERATURE = typer.Option("--temperature", help="0 decodes greedily.")
TOP_P = typer.Option("--top-p", help="Nucleus sampling threshold, in (0, 1].")
GRAMMAR = typer.Option(
    "--grammar/--no-grammar", help=f"Constrain output to well-formed blocks (default: on for {_GRAMMAR})."
)
MAX_BLOCKS = typer.Option("--max-blocks", help=f"Round limit (default: the format's: {_ROUNDS}).")
MAX_BLOCK_TOKENS = typer.Option("--max-block-tokens", help="Token limit for one block.")
MAX_TOKENS = typer.Option("--max-tokens", help="Token limit for the whole answer.")
TIMEOUT = typer.Option("--timeout", help="Seconds each code block may run.")


def with_help(option: OptionInfo, help: str) -> OptionInfo:
    """The same option (flags, kind) with the help text one command needs; Typer copies it again per use."""
    variant = copy(option)
    variant.help = help
    return variant


Model = Annotated[Optional[str], MODEL]
Format = Annotated[Optional[FormatName], FORMAT]
System = Annotated[str, SYSTEM]
Servers = Annotated[Optional[List[str]], SERVERS]
ServerKindOption = Annotated[ServerKind, SERVER_KIND]
Ctx = Annotated[int, CTX]
Threads = Annotated[Optional[int], THREADS]
GpuLayers = Annotated[Optional[int], GPU_LAYERS]
Seed = Annotated[int, SEED]
Temperature = Annotated[float, TEMPERATURE]
TopP = Annotated[float, TOP_P]
Grammar = Annotated[Optional[bool], GRAMMAR]
MaxBlocks = Annotated[Optional[int], MAX_BLOCKS]
MaxBlockTokens = Annotated[int, MAX_BLOCK_TOKENS]
MaxTokens = Annotated[int, MAX_TOKENS]
Timeout = Annotated[float, TIMEOUT]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the terminal view.")]

# Choosing problems (bench, data show).
DataDir = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir", help="Data directory (default: $MATHCODER_LOCAL_DATA, else the user directory's data/)."
    ),
]
QuestionField = Annotated[Optional[str], typer.Option("--question-field", help="Question field of a JSONL file.")]
AnswerField = Annotated[Optional[str], typer.Option("--answer-field", help="Answer field of a JSONL file.")]
Subset = Annotated[
    Optional[str], typer.Option("--subset", help="e.g. 'level=5', 'level=4,5', 'subject=Algebra', 'Level 5'.")
]
Limit = Annotated[Optional[int], typer.Option("--limit", "-n", help="Only the first N problems (after --subset).")]

# Defaults, for the signatures.
D = SolveConfig()
E = EngineOptions()


def enum_value(value: Enum | None) -> str | None:
    return None if value is None else str(value.value)


SOLVE_OPTIONS = (
    "format", "system", "temperature", "top_p", "seed", "grammar", "max_blocks", "max_block_tokens", "max_tokens",
    "timeout",
)  # fmt: skip


def solve_config(options: Mapping[str, Any]) -> SolveConfig:
    """The configuration that a command's shared options describe, validated (a bad value is one line and
    exit 2). `options` is the command's arguments by name (its `locals()`); only the shared ones are read."""
    o = {name: options[name] for name in SOLVE_OPTIONS}
    return SolveConfig(
        format=enum_value(o["format"]),
        system=o["system"],
        temperature=o["temperature"],
        top_p=o["top_p"],
        seed=o["seed"],
        grammar=o["grammar"],
        max_rounds=o["max_blocks"],
        max_block_tokens=o["max_block_tokens"],
        max_tokens=o["max_tokens"],
        timeout=o["timeout"],
    ).validated()


def engine_options(*, ctx: int, threads: int | None, n_gpu_layers: int | None) -> EngineOptions:
    return EngineOptions(n_ctx=ctx, n_threads=threads, n_gpu_layers=n_gpu_layers)
