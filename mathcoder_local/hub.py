"""Downloading one file from the Hugging Face hub, for `pull` (a prebuilt GGUF) and `data pull` (a data file).

`hf_hub_download` into the Hugging Face cache (a partial download there is resumed), with HF_ENDPOINT,
HF_HUB_CACHE and HF_HUB_OFFLINE read when the download runs (huggingface_hub reads them once, at import), and
every failure turned into one line that says what to do. The converter's checkpoint download
(`convert/checkpoint.py`) uses snapshot_download for many files and has its own messages.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import Iterator

from mathcoder_local.errors import UserError

_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_url() -> str:
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


@contextlib.contextmanager
def progress_bars(show: bool) -> Iterator[None]:
    """huggingface_hub's progress bars on or off for the block (as they were after it)."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    if show or are_progress_bars_disabled():
        yield
        return
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def snapshot_commit(local: Path, filename: str) -> str | None:
    """The commit of a file the Hugging Face cache keeps at `local` as snapshots/COMMIT/`filename`, where
    `filename` may name a subfolder of the repository (Q4_K_M/model.gguf); None for a path laid out otherwise."""
    depth = len(PurePosixPath(filename).parts)
    if len(local.parents) <= depth:
        return None
    folder = local.parents[depth - 1]  # snapshots/COMMIT
    return folder.name if folder.parent.name == "snapshots" else None


def download_file(
    repo: str,
    filename: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    force: bool = False,
    retry: str = "pull",
) -> Path:
    """`filename` of hub repository `repo` in the local Hugging Face cache: the cached copy with HF_HUB_OFFLINE
    set, else downloaded (resumed). `retry` names the command to run again after a broken download."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = hub_offline()
    where = f"{repo}{f'@{revision}' if revision else ''}"
    try:
        path = hf_hub_download(
            repo,
            filename,
            repo_type=repo_type,
            revision=revision,
            cache_dir=os.environ.get("HF_HUB_CACHE"),
            endpoint=os.environ.get("HF_ENDPOINT"),
            local_files_only=offline,
            force_download=force and not offline,
        )
    # LocalEntryNotFoundError first: it subclasses EntryNotFoundError but means "could not ask the hub at all".
    except LocalEntryNotFoundError:
        if offline:
            raise UserError(
                f"cannot download {filename} from {where}: HF_HUB_OFFLINE is set and it is not in the local "
                "Hugging Face cache; unset it to download"
            ) from None
        raise UserError(
            f"cannot download {filename} from {where}: {hub_url()} is unreachable (network down?)"
        ) from None
    except EntryNotFoundError:
        raise UserError(f"{where} has no file {filename} on the hub at {hub_url()}; nothing was downloaded") from None
    except RevisionNotFoundError:
        raise UserError(f"{repo} has no revision {revision} on the hub at {hub_url()}") from None
    except GatedRepoError:
        raise UserError(f"{repo} is gated on the hub: accept its terms there and log in (HF_TOKEN)") from None
    except RepositoryNotFoundError:
        kind = "dataset repository" if repo_type == "dataset" else "repository"
        raise UserError(f"{repo} is not a {kind} on the hub at {hub_url()} (or it is private)") from None
    except HFValidationError:
        raise UserError(f"{repo} is not a valid hub id") from None
    except Exception as exc:  # noqa: BLE001 - the hub and the network raise many kinds; each means "not fetched"
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise UserError(
            f"downloading {filename} from {where} failed ({text}); run {retry} again to resume where it stopped"
        ) from None
    return Path(path)
