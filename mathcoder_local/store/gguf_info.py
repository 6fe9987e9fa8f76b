"""What a model's files say about it without loading it: its prompt format and quantization.

The prompt format is detected by `mathcoder_local.formats.detect_format`, the rule every command uses, here
over what a GGUF's metadata or a checkpoint's added tokens hold instead of over a loaded engine.
"""

from __future__ import annotations

from pathlib import Path

from mathcoder_local.errors import UserError


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


def metadata_values(path: str | Path, *keys: str) -> dict[str, object]:
    """The value of each of `keys` in a GGUF's metadata (None where a key is absent), without loading it."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as exc:  # noqa: BLE001 - gguf raises several kinds for a damaged file
        raise UserError(f"{path} is not a readable GGUF file: {exc}".splitlines()[0]) from None
    values: dict[str, object] = {}
    for key in keys:
        f = reader.fields.get(key)
        values[key] = None if f is None or not f.data else f.contents()
    return values


def describe_gguf(path: Path) -> tuple[str, str, str | None]:
    """(prompt format, quantization, general.name) read from a GGUF's metadata, without loading the model."""
    import gguf

    from mathcoder_local.formats import FORMAT_METADATA_KEY

    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as exc:  # noqa: BLE001 - gguf raises several kinds for a damaged file
        raise UserError(f"{path} is not a readable GGUF file: {exc}".splitlines()[0]) from None

    def value(key: str) -> object:
        f = reader.fields.get(key)
        if f is None or not f.data:
            return None
        part = f.parts[f.data[0]]
        if f.types and f.types[0] == gguf.GGUFValueType.STRING:
            return bytes(part).decode("utf-8", "replace")
        return part.tolist()[0] if hasattr(part, "tolist") else part

    tokens = reader.fields.get("tokenizer.ggml.tokens")
    ids: dict[str, int] = {}
    if tokens is not None:  # the special tokens a fine-tune adds sit at the end of the vocabulary
        tail = tokens.data[-64:]
        first = len(tokens.data) - len(tail)
        ids = {bytes(tokens.parts[i]).decode("utf-8", "replace"): first + n for n, i in enumerate(tail)}
    fmt = Vocabulary({FORMAT_METADATA_KEY: value(FORMAT_METADATA_KEY)}, ids).prompt_format()
    file_type = value("general.file_type")
    quant = "unknown"
    if isinstance(file_type, int):
        try:
            quant = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
        except ValueError:
            pass
    name = value("general.name")
    return fmt, quant, name if isinstance(name, str) else None
