"""Solved problems, kept in SQLite in the user directory (`history.db`), with a small list of migrations.

Each migration is one SQL script; `schema_migrations` records which have run, so a newer release appends to
MIGRATIONS and an existing database is brought up to date on open. A problem keeps its question, answer, finish
reason, format, model, the transcript blocks (`[{kind, content}]`, execution blocks also `error`/`timed_out`),
the solve's stats and the settings it ran with.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from mathcoder_local.atomic import write_text_atomic
from mathcoder_local.errors import UserError
from mathcoder_local.events import Block
from mathcoder_local.paths import user_home

DB_NAME = "history.db"

MIGRATIONS: tuple[str, ...] = (
    # 1: problems
    """
    CREATE TABLE problems (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        finish_reason TEXT NOT NULL DEFAULT '',
        format TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        blocks TEXT NOT NULL DEFAULT '[]',
        stats TEXT NOT NULL DEFAULT '{}',
        settings TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX problems_created_at ON problems (created_at);
    """,
)


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    created_at: str  # ISO 8601, UTC
    question: str
    answer: str = ""
    finish_reason: str = ""
    format: str = ""
    model: str = ""
    blocks: list[dict[str, object]] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The question's first non-empty line."""
        return next((line.strip() for line in self.question.splitlines() if line.strip()), "(empty)")


def history_path() -> Path:
    return user_home() / DB_NAME


def migrate(conn: sqlite3.Connection) -> int:
    """Run the migrations this database has not had yet; returns its schema version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    if current > len(MIGRATIONS):
        raise UserError(
            f"the history database has schema version {current}, newer than this mathcoder-local knows "
            f"({len(MIGRATIONS)}); upgrade mathcoder-local"
        )
    for version in range(current + 1, len(MIGRATIONS) + 1):
        script = MIGRATIONS[version - 1]
        # One transaction per migration (executescript() would commit mid-way). The scripts hold no ';' in strings.
        conn.execute("BEGIN")
        try:
            for statement in (s.strip() for s in script.split(";")):
                if statement:
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, _now()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class History:
    """The history database. One connection, used from one thread (the app's UI thread)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or history_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each statement is its own transaction; migrations open theirs explicitly.
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the history database {self.path}: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        try:
            # WAL with synchronous=NORMAL: a saved problem costs no fsync on the UI thread, and a crash can lose at
            # most the last few saves, never corrupt the file.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self.version = migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise UserError(f"{self.path} is not a usable history database ({exc}); move it away") from None
        except BaseException:
            self._conn.close()
            raise

    def add(
        self,
        question: str,
        *,
        answer: str = "",
        finish_reason: str = "",
        format: str = "",
        model: str = "",
        blocks: Sequence[Mapping[str, object]] = (),
        stats: Mapping[str, object] | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> HistoryEntry:
        created = _now()
        values = (
            created,
            question,
            answer,
            finish_reason,
            format,
            model,
            json.dumps([dict(b) for b in blocks], ensure_ascii=False),
            json.dumps(dict(stats or {}), ensure_ascii=False),
            json.dumps(dict(settings or {}), ensure_ascii=False),
        )
        cur = self._conn.execute(
            "INSERT INTO problems (created_at, question, answer, finish_reason, format, model, blocks, stats, "
            "settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        entry = self.get(int(cur.lastrowid))
        assert entry is not None
        return entry

    def entries(self, limit: int = 500, *, transcripts: bool = True) -> list[HistoryEntry]:
        """Newest first; without `transcripts`, blocks, stats and settings are left empty (a cheap listing)."""
        columns = "*" if transcripts else "id, created_at, question, answer, finish_reason, format, model"
        rows = self._conn.execute(f"SELECT {columns} FROM problems ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        row = self._conn.execute("SELECT * FROM problems WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row is not None else None

    def delete(self, entry_id: int) -> bool:
        cur = self._conn.execute("DELETE FROM problems WHERE id = ?", (entry_id,))
        return cur.rowcount > 0

    def questions(self, limit: int = 200) -> list[str]:
        """Distinct questions, oldest first (the order prompt history steps back through)."""
        rows = self._conn.execute(
            "SELECT question FROM problems GROUP BY question ORDER BY MAX(id) DESC LIMIT ?", (limit,)
        ).fetchall()
        return [r[0] for r in reversed(rows)]

    def close(self) -> None:
        self._conn.close()


def _entry(row: sqlite3.Row) -> HistoryEntry:
    def load(text: str, default: object) -> object:
        try:
            return json.loads(text)
        except ValueError:
            return default

    keys = row.keys()
    return HistoryEntry(
        id=row["id"],
        created_at=row["created_at"],
        question=row["question"],
        answer=row["answer"],
        finish_reason=row["finish_reason"],
        format=row["format"],
        model=row["model"],
        blocks=load(row["blocks"], []) if "blocks" in keys else [],  # type: ignore[arg-type]
        stats=load(row["stats"], {}) if "stats" in keys else {},  # type: ignore[arg-type]
        settings=load(row["settings"], {}) if "settings" in keys else {},  # type: ignore[arg-type]
    )


# --- Markdown export -----------------------------------------------------------------------------------------


def _fence(content: str, lang: str) -> str:
    """A code fence longer than any backtick run in the content, so the content cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", content)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{content.rstrip()}\n{ticks}"


def entry_markdown(entry: HistoryEntry) -> str:
    """The problem and its transcript as a Markdown document."""
    parts = ["# Problem", "", entry.question.strip(), "", "## Solution", ""]
    for block in entry.blocks:
        kind, content = block.get("kind"), str(block.get("content", ""))
        if kind == "text":
            parts += [content.strip(), ""]
        elif kind == "code":
            parts += [_fence(content, "python"), ""]
        elif kind == "execution":
            result = Block.from_dict(block).result
            if result is not None and result.status != "ok":
                parts += [f"*{result.title[:1].upper()}{result.title[1:]}*", ""]
            parts += [_fence(content, "text"), ""]
    parts += [f"**Answer:** {entry.answer or '(none)'}", ""]
    stats = entry.stats
    facts = [
        f"model: {Path(entry.model).name or '?'}",
        f"format: {entry.format or '?'}",
        f"finish: {entry.finish_reason or '?'}",
    ]
    if stats.get("generated_tokens") is not None:
        facts.append(f"{stats['generated_tokens']} tokens")
    if stats.get("seconds") is not None:
        facts.append(f"{float(stats['seconds']):.1f} s")  # type: ignore[arg-type]
    facts.append(entry.created_at)
    parts += ["---", "", " · ".join(facts), ""]
    return "\n".join(parts)


def export_markdown(entry: HistoryEntry, folder: Path | None = None) -> Path:
    """Write the entry as Markdown into `folder` (default: exports/ in the user directory); returns the path."""
    folder = folder or user_home() / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", entry.title.lower()).strip("-")[:40] or "problem"
    path = folder / f"problem-{entry.id}-{slug}.md"
    write_text_atomic(path, entry_markdown(entry))
    return path
