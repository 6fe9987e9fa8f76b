"""The evaluation sets mathcoder-local knows: names, layouts, sizes, where they live and where they come from.

A known set is the file ``DATA_DIR/<name>/test.jsonl`` (the layout of ``../shared/data``), with DATA_DIR from
``--data-dir``, else ``$MATHCODER_LOCAL_DATA``, else the user directory's ``data/``. The nano set ships inside
the package instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mathcoder_local.errors import UserError
from mathcoder_local.paths import user_home

DATA_ENV = "MATHCODER_LOCAL_DATA"
FILE_NAME = "test.jsonl"
SOURCE_NAME = "source.json"  # what `data pull` fetched: repo, files, revision, commit


@dataclass(frozen=True)
class HubSource:
    """Files of a Hugging Face hub dataset repo that together hold the set's test split, in order."""

    repo: str
    files: tuple[str, ...]
    revision: str = "main"

    @property
    def needs_pyarrow(self) -> bool:
        return any(f.endswith(".parquet") for f in self.files)

    def describe(self) -> str:
        files = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files {self.files[0]}…"
        return f"hf:{self.repo} {files} @{self.revision}"


@dataclass(frozen=True)
class ManualSource:
    """A set with no hub copy we can name with confidence: where to download it by hand."""

    url: str
    file: str

    def describe(self) -> str:
        return f"{self.url} {self.file} (manual)"


@dataclass(frozen=True)
class KnownSet:
    name: str  # canonical: lowercase, the folder name under DATA_DIR
    title: str
    count: int  # records in the published test file
    layout: str  # a key of layouts.READERS
    aliases: tuple[str, ...] = ()
    hub: HubSource | None = None
    manual: ManualSource | None = None
    bundled: bool = False

    def source(self) -> str:
        if self.bundled:
            return "bundled with mathcoder-local"
        if self.hub is not None:
            return self.hub.describe()
        return self.manual.describe() if self.manual else "-"


_MATHCODER = "https://github.com/mathllm/MathCoder"
# EleutherAI/hendrycks_math (the copy lm-evaluation-harness reads) keeps MATH as one config per subject; the
# test split is these seven parquet files. The original competition_math repo was taken down.
_MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)

KNOWN_SETS: tuple[KnownSet, ...] = (
    KnownSet(
        "gsm8k",
        "GSM8K test: grade-school word problems",
        1319,
        "gsm8k",
        aliases=("GSM8K",),
        hub=HubSource("openai/gsm8k", ("main/test-00000-of-00001.parquet",)),
    ),
    KnownSet(
        "math",
        "MATH test: competition problems, 7 subjects, levels 1-5",
        5000,
        "math",
        aliases=("MATH", "hendrycks_math", "competition_math"),
        hub=HubSource("EleutherAI/hendrycks_math", tuple(f"{s}/test-00000-of-00001.parquet" for s in _MATH_SUBJECTS)),
    ),
    KnownSet(
        "math500",
        "MATH-500: the PRM800K subset of MATH test",
        500,
        "math",
        aliases=("MATH-500",),
        hub=HubSource("HuggingFaceH4/MATH-500", ("test.jsonl",)),
    ),
    KnownSet(
        "svamp",
        "SVAMP: varied one-step word problems (MathCoder's file)",
        1000,
        "mathcoder",
        aliases=("SVAMP",),
        manual=ManualSource(_MATHCODER, "data/SVAMP_test_post.jsonl"),
    ),
    KnownSet(
        "mathematics",
        "DeepMind Mathematics sample (MathCoder's file)",
        1000,
        "mathcoder",
        aliases=("Mathematics", "deepmind_mathematics"),
        manual=ManualSource(_MATHCODER, "data/mathematics_test_post.jsonl"),
    ),
    KnownSet(
        "simuleq",
        "SimulEq: simultaneous-equation word problems (MathCoder's file)",
        514,
        "mathcoder",
        aliases=("SimulEq",),
        manual=ManualSource(_MATHCODER, "data/simuleq_test_post.jsonl"),
    ),
    KnownSet("nano", "nano: the bundled model's 200 held-out problems", 200, "generic", bundled=True),
)


def _key(name: str) -> str:
    """Names match case-insensitively and without separators: MATH-500, math_500 and math500 are one set."""
    return re.sub(r"[\s_-]+", "", name.lower())


_BY_KEY = {_key(alias): s for s in KNOWN_SETS for alias in (s.name, *s.aliases)}


def find_known(name: str) -> KnownSet | None:
    return _BY_KEY.get(_key(name))


def known(name: str) -> KnownSet:
    found = find_known(name)
    if found is None:
        raise UserError(f"unknown dataset {name!r}: known sets are {', '.join(s.name for s in KNOWN_SETS)}")
    return found


def data_home(data_dir: str | Path | None = None) -> Path:
    """Where known sets live: the given directory, else $MATHCODER_LOCAL_DATA, else the user directory's data/."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    return user_home() / "data"


def data_home_origin(data_dir: str | Path | None = None) -> str:
    if data_dir is not None and str(data_dir) != "":
        return "--data-dir"
    return f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "default"


def bundled_path(entry: KnownSet) -> Path:
    return Path(str(resources.files("mathcoder_local.models") / entry.name / "heldout.jsonl"))


def set_path(entry: KnownSet, data_dir: str | Path | None = None) -> Path:
    """The file a known set is read from (present or not)."""
    if entry.bundled:
        return bundled_path(entry)
    return data_home(data_dir) / entry.name / FILE_NAME


def how_to_get(entry: KnownSet, data_dir: str | Path | None = None) -> str:
    """The advice for a missing set: pull it, or (no hub copy) where to put the file."""
    target = set_path(entry, data_dir)
    if entry.manual is not None:
        return f"download {entry.manual.file} from {entry.manual.url} and save it as {target}, or pass --data-dir DIR"
    return f"run `mathcoder-local data pull {entry.name}`, or pass --data-dir DIR"


def missing_error(entry: KnownSet, data_dir: str | Path | None = None) -> UserError:
    home, target = data_home(data_dir), set_path(entry, data_dir)
    return UserError(f"dataset {entry.name} is not in {home} (expected {target}): {how_to_get(entry, data_dir)}")
