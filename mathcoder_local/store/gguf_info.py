"""What a model's files say about it without loading it: its prompt format and quantization.

The prompt format is `mathcoder_local.formats.format_of`, the rule every command uses, over what a GGUF's
header holds instead of over a loaded engine.
"""

from __future__ import annotations

from pathlib import Path


def _header(path: str | Path):
    from mathcoder_local.convert.gguf_file import read_header

    return read_header(path)  # a damaged or cut-short file is a one-line UserError


def metadata_values(path: str | Path, *keys: str) -> dict[str, object]:
    """The value of each of `keys` in a GGUF's metadata (None where a key is absent), without loading it."""
    with _header(path) as header:
        return {key: header.get(key) for key in keys}


def describe_gguf(path: Path) -> tuple[str, str, str | None]:
    """(prompt format, quantization, general.name) read from a GGUF's metadata, without loading the model."""
    import gguf

    from mathcoder_local.convert.prompt_tokens import token_index
    from mathcoder_local.formats import FORMAT_METADATA_KEY, format_of

    with _header(path) as header:
        tokens = header.get("tokenizer.ggml.tokens") or []
        recorded, file_type, name = (header.get(k) for k in (FORMAT_METADATA_KEY, "general.file_type", "general.name"))
    # the whole vocabulary, indexed as convert.gguf_check indexes it: a fine-tune's tokens may be followed by
    # any number of padding tokens
    fmt = format_of(recorded, token_index(tokens).__contains__)
    quant = "unknown"
    if isinstance(file_type, int):
        try:
            quant = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
        except ValueError:
            pass
    return fmt, quant, name if isinstance(name, str) else None
