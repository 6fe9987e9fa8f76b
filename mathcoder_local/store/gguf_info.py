"""What a model's files say about it without loading it: its prompt format and quantization.

The prompt format is detected by `mathcoder_local.formats.detect_format`, the rule every command uses, here
over what a GGUF's metadata or a checkpoint's added tokens hold instead of over a loaded engine.
"""

from __future__ import annotations

from pathlib import Path


class Vocabulary:
    """What `mathcoder_local.formats.detect_format` reads of an engine (metadata, token ids), from files alone."""

    def __init__(self, metadata: dict[str, object], token_ids: dict[str, int]) -> None:
        self.metadata = metadata
        self._ids = token_ids

    def token_id(self, text: str) -> int | None:
        return self._ids.get(text)

    def prompt_format(self) -> str:
        from mathcoder_local.formats import detect_format

        return detect_format(self)  # type: ignore[arg-type]


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
    from mathcoder_local.formats import FORMAT_METADATA_KEY

    with _header(path) as header:
        tokens = header.get("tokenizer.ggml.tokens") or []
        recorded, file_type, name = (header.get(k) for k in (FORMAT_METADATA_KEY, "general.file_type", "general.name"))
    # the whole vocabulary, indexed as convert.gguf_check indexes it: a fine-tune's tokens may be followed by
    # any number of padding tokens
    fmt = Vocabulary({FORMAT_METADATA_KEY: recorded}, token_index(tokens)).prompt_format()
    quant = "unknown"
    if isinstance(file_type, int):
        try:
            quant = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
        except ValueError:
            pass
    return fmt, quant, name if isinstance(name, str) else None
