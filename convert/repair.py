"""A metadata-only repair of a GGUF made elsewhere (`mathcoder-local convert --repair FILE.gguf`).

Community GGUFs often type a prompt format's tokens USER_DEFINED (llama.cpp then finds them in any text,
execution output included), record no end-of-turn token, and never record our prompt format. The repair
rewrites exactly that, as our converter writes it (`convert.writer`, `convert.vocab`):

- the prompt convention's tokens (`prompt_tokens`) become CONTROL;
- its end-of-turn token (<|endofmessage|> for MathCoder, <|im_end|> for ChatML, <|eot_id|> for Llama-3)
  becomes `tokenizer.ggml.eot_token_id`; conventions that end at their end-of-sentence token get it only
  when that token is neither the EOS nor the EOT id;
- `mathcoder_local.prompt_format` records the format (`--format`, else the recorded one, else the
  vocabulary's).

Every other metadata entry and the tensor infos are copied byte for byte; the tensor data section is copied
byte for byte in the kernel (copy_file_range, in chunks; a read/write loop where the kernel cannot), so
memory stays at the size of the header whatever the model's size. The new file is written under a temporary
name in the target folder, synced, checked (same tensor list, the repaired problems gone in llama.cpp) and
only then renamed: an interrupted or failed repair leaves nothing under the final name.

Without an output name the repaired copy is `NAME.repaired.gguf` beside the input. The input is never
overwritten unless the output names it and `force` is set (an in-place repair, still atomic).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mathcoder_local.convert.arch import DEFAULT_ROPE_BASE
from mathcoder_local.convert.file_copy import copy_range
from mathcoder_local.convert.gguf_check import (
    CONTROL,
    EOT_KEY,
    TYPES_KEY,
    Analysis,
    Problem,
    analyse,
    open_vocab,
    type_name,
)
from mathcoder_local.convert.gguf_file import (
    ARRAY,
    FLOAT32,
    STRING,
    UINT32,
    GGUFHeader,
    build_header,
    encode_entry,
    read_header,
)

from mathcoder_local.errors import UserError
from mathcoder_local.formats import FORMAT_METADATA_KEY

Progress = Callable[[int], None]  # called with bytes of tensor data copied


@dataclass(frozen=True)
class Change:
    """One metadata value the repair rewrites."""

    key: str
    before: str
    after: str
    token: str | None = None  # for a token's type: the token's text

    def __str__(self) -> str:
        what = f"{self.token} ({self.key})" if self.token else self.key
        return f"{what}: {self.before} → {self.after}"


@dataclass(frozen=True)
class RepairReport:
    """What `repair_gguf` did. `output` is None when nothing needed repair (nothing was written)."""

    source: Path
    output: Path | None
    changes: tuple[Change, ...]
    prompt_format: str
    token_set: str | None  # the prompt convention found in the vocabulary ("mathcoder", "chatml", …)
    remaining: tuple[Problem, ...]  # errors a metadata repair cannot fix (still there in the output)

    @property
    def written(self) -> bool:
        return self.output is not None


def default_repair_path(path: str | Path) -> Path:
    """`NAME.repaired.gguf` beside `NAME.gguf`."""
    path = Path(path)
    stem = path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name
    return path.with_name(f"{stem}.repaired.gguf")


def rope_key(header: GGUFHeader) -> str:
    """The rope base's key for the file's architecture (`llama.rope.freq_base`, `qwen2.rope.freq_base`)."""
    return f"{header.string('general.architecture') or 'llama'}.rope.freq_base"


def rope_change(header: GGUFHeader, rope_freq_base: float | None) -> Change | None:
    """Setting the rope base, where `rope_freq_base` is given and the file has another (a file without the key
    has llama.cpp's default, `DEFAULT_ROPE_BASE`)."""
    if rope_freq_base is None:
        return None
    key = rope_key(header)
    recorded = header.get(key)
    current = float(recorded) if isinstance(recorded, (int, float)) else DEFAULT_ROPE_BASE
    if abs(current - rope_freq_base) <= 1e-6 * rope_freq_base:
        return None
    return Change(key, "not set" if recorded is None else f"{float(recorded):g}", f"{rope_freq_base:g}")


def plan_changes(analysis: Analysis) -> list[Change]:
    """The metadata changes that fix `analysis`'s repairable problems (an empty list: nothing to do)."""
    changes: list[Change] = []
    if analysis.types is not None:
        for text, token_id in analysis.ids.items():
            kind = analysis.types[token_id]
            if kind != CONTROL:
                changes.append(Change(f"{TYPES_KEY}[{token_id}]", type_name(kind), "CONTROL", text))
    if analysis.wanted_eot is not None and analysis.recorded_eot != analysis.wanted_eot:
        before = "not set" if analysis.recorded_eot is None else _describe_id(analysis, analysis.recorded_eot)
        changes.append(Change(EOT_KEY, before, _describe_id(analysis, analysis.wanted_eot)))
    if analysis.prompt_format is not None and analysis.recorded_format != analysis.prompt_format:
        recorded = analysis.recorded_format
        changes.append(
            Change(FORMAT_METADATA_KEY, "not set" if recorded is None else repr(recorded), analysis.prompt_format)
        )
    return changes


def _describe_id(analysis: Analysis, token_id: int) -> str:
    tokens = analysis.tokens or []
    return f"{token_id} ({tokens[token_id]})" if 0 <= token_id < len(tokens) else str(token_id)


def _new_entries(header: GGUFHeader, analysis: Analysis, changes: list[Change]) -> tuple[dict[str, bytes], list[bytes]]:
    replace: dict[str, bytes] = {}
    add: list[bytes] = []
    bo = header.byteorder

    def put(key: str, data: bytes) -> None:
        if key in header.entries:
            replace[key] = data
        else:
            add.append(data)

    retyped = {int(c.key[len(TYPES_KEY) + 1 : -1]) for c in changes if c.key.startswith(f"{TYPES_KEY}[")}
    if retyped:
        entry = header.entries[TYPES_KEY]
        types = list(analysis.types or [])
        for token_id in retyped:
            types[token_id] = CONTROL
        replace[TYPES_KEY] = encode_entry(TYPES_KEY, ARRAY, types, bo, item_type=entry.item_type)
    if any(c.key == EOT_KEY for c in changes):
        put(EOT_KEY, encode_entry(EOT_KEY, UINT32, analysis.wanted_eot, bo))
    if any(c.key == FORMAT_METADATA_KEY for c in changes):
        put(FORMAT_METADATA_KEY, encode_entry(FORMAT_METADATA_KEY, STRING, analysis.prompt_format, bo))
    for change in changes:
        if change.key.endswith(".rope.freq_base"):
            put(change.key, encode_entry(change.key, FLOAT32, float(change.after), bo))
    return replace, add


def repair_gguf(
    path: str | Path,
    outfile: str | Path | None = None,
    *,
    fmt: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    rope_freq_base: float | None = None,
) -> RepairReport:
    """Repair the metadata of the GGUF at `path` into `outfile` (default `NAME.repaired.gguf` beside it).

    `fmt`: the prompt format to record (`mathcoder`, `tora`; default: the recorded one, else the
    vocabulary's). `force`: overwrite an existing `outfile`, the input itself included. `rope_freq_base`: the
    rope base the model was trained with, written where the file records another (a community conversion of a
    CodeLlama fine-tune often carries Llama-2's 10000 instead of 1e6). Nothing to repair:
    nothing is written and the report's `output` is None. Raises a one-line UserError for a missing,
    unreadable or truncated file, a vocabulary llama.cpp cannot load, a format that cannot be told, or an
    output that exists."""
    path = Path(path)
    with read_header(path) as header:
        analysis = analyse(path, fmt=fmt, header=header)
        _refuse_unrepairable(path, analysis)
        changes = plan_changes(analysis)
        rope = rope_change(header, rope_freq_base)
        if rope is not None:
            changes.append(rope)
        remaining = tuple(p for p in analysis.errors if not p.repairable)
        report = RepairReport(path, None, tuple(changes), analysis.prompt_format or "", _set_name(analysis), remaining)
        if not changes:
            return report
        out = Path(outfile) if outfile is not None else default_repair_path(path)
        _check_output(path, out, force)
        replace, add = _new_entries(header, analysis, changes)
        new_header = build_header(header, replace, add)
        _check_space(out, len(new_header) + header.data_bytes)
        _write(header, new_header, out, analysis, progress)
    return RepairReport(path, out, report.changes, report.prompt_format, report.token_set, remaining)


def _set_name(analysis: Analysis) -> str | None:
    return analysis.token_set.name if analysis.token_set else None


def _refuse_unrepairable(path: Path, analysis: Analysis) -> None:
    if analysis.tokens is None:
        raise UserError(f"{path} has no vocabulary (tokenizer.ggml.tokens); there is nothing a repair could fix")
    if not analysis.loaded:
        raise UserError(
            f"llama.cpp cannot load the vocabulary of {path} ({analysis.load_error}); a metadata repair cannot fix that"
        )
    if analysis.prompt_format is None:
        unknown = next(p for p in analysis.problems if p.kind == "unknown-format")
        raise UserError(f"{path}: {unknown.message}")
    missing = next((p for p in analysis.problems if p.kind == "missing-format-tokens"), None)
    if missing is not None:
        raise UserError(f"{path}: {missing.message}")


def _check_output(path: Path, out: Path, force: bool) -> None:
    if out.exists():
        if out.is_dir():
            raise UserError(f"{out} is a folder; give --outfile a file name")
        same = os.path.samefile(out, path)
        if not force:
            if same:
                raise UserError(
                    f"refusing to overwrite the input {path}; pass --force to repair it in place, or another --outfile"
                )
            raise UserError(f"{out} already exists; pass --force to overwrite it or --outfile to choose another name")
    if not out.parent.is_dir():
        raise UserError(f"the folder {out.parent} does not exist")


def _check_space(out: Path, needed: int) -> None:
    free = shutil.disk_usage(out.parent).free
    if free < needed:
        raise UserError(
            f"the repaired copy needs {needed / 1e9:.2f} GB in {out.parent}, which has {free / 1e9:.2f} GB free; "
            "free some space or choose another --outfile"
        )


def _write(header: GGUFHeader, new_header: bytes, out: Path, analysis: Analysis, progress: Progress | None) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as dst, header.path.open("rb") as src:
                dst.write(new_header)
                dst.flush()
                copy_range(src.fileno(), header.data_offset, dst.fileno(), len(new_header), header.data_bytes, progress)
                os.fsync(dst.fileno())
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
        _check_written(tmp, header, analysis)
        os.chmod(tmp, stat.S_IMODE(header.path.stat().st_mode))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _check_written(tmp: Path, original: GGUFHeader, analysis: Analysis) -> None:
    """Refuse the new file unless it has the same tensors at the same places and the repair took."""
    with read_header(tmp) as written:
        if written.tensors != original.tensors or written.data_bytes != original.data_bytes:
            raise UserError(f"the repaired copy of {original.path} does not have the same tensor data; nothing written")
        try:
            with open_vocab(tmp) as vocab:
                after = analyse(tmp, fmt=analysis.prompt_format, vocab=vocab, header=written)
        except ValueError as exc:
            raise UserError(
                f"llama.cpp cannot load the repaired copy of {original.path} ({exc}); nothing written"
            ) from None
    left = [p for p in after.problems if p.repairable]
    if left:
        raise UserError(f"the repair of {original.path} did not take ({left[0].message}); nothing written")
