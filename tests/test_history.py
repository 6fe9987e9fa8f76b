"""The history database: migrations, add/list/get/delete, prompt history, Markdown export."""

from __future__ import annotations

import sqlite3

import pytest

from mathcoder_local.errors import UserError
from mathcoder_local.history import MIGRATIONS, History, entry_markdown, export_markdown, history_path
from mathcoder_local.paths import user_home

BLOCKS = [
    {"kind": "text", "content": "We multiply."},
    {"kind": "code", "content": "x = 48213 * 317\nprint('```')\nx"},
    {"kind": "execution", "content": "```\n15283521", "error": None, "timed_out": False},
    {"kind": "code", "content": "1/0"},
    {"kind": "execution", "content": "ZeroDivisionError: division by zero", "error": "ZeroDivisionError"},
    {"kind": "text", "content": "15283521"},
]


def test_migrations_run_once_and_are_recorded():
    history = History()
    assert history.path == history_path() == user_home() / "history.db"
    history.close()
    History().close()  # reopening runs nothing twice
    conn = sqlite3.connect(history_path())
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    conn.close()


def test_a_newer_database_is_refused():
    History().close()
    conn = sqlite3.connect(history_path())
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'later')", (len(MIGRATIONS) + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer"):
        History()


def test_a_file_that_is_not_a_database_is_a_user_error():
    history_path().parent.mkdir(parents=True)
    history_path().write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(UserError, match="history database"):
        History()


def test_add_list_get_delete_and_prompts():
    history = History()
    first = history.add("What is 2+2?", answer="4", finish_reason="answer", format="mathcoder", model="/m/a.gguf")
    second = history.add(
        "Line one\nline two", answer="", finish_reason="cancelled", blocks=BLOCKS, stats={"seconds": 1}
    )
    history.add("What is 2+2?", answer="4")
    entries = history.entries()
    assert [e.id for e in entries] == [first.id + 2, second.id, first.id]  # newest first
    assert history.get(second.id).blocks == BLOCKS and history.get(second.id).stats == {"seconds": 1}
    listing = history.entries(transcripts=False)
    assert [e.id for e in listing] == [e.id for e in entries] and listing[1].blocks == []
    assert listing[1].answer == "" and listing[1].finish_reason == "cancelled" and entries[1].blocks == BLOCKS
    assert second.title == "Line one"
    assert history.questions() == ["Line one\nline two", "What is 2+2?"]  # distinct, oldest first
    assert history.delete(second.id) and not history.delete(second.id)
    assert history.get(second.id) is None
    history.close()


def test_markdown_export(tmp_path):
    history = History()
    entry = history.add(
        "A warehouse holds 48213 boxes with 317 items each. How many items are there?",
        answer="15283521",
        finish_reason="answer",
        format="mathcoder",
        model="/models/nano.f32.gguf",
        blocks=BLOCKS,
        stats={"generated_tokens": 68, "seconds": 0.7},
    )
    text = entry_markdown(entry)
    assert text.startswith("# Problem\n\nA warehouse holds 48213 boxes")
    assert "````python\nx = 48213 * 317\nprint('```')\nx\n````" in text  # a longer fence than the content's
    assert "*Error: ZeroDivisionError*" in text
    assert "**Answer:** 15283521" in text
    assert "nano.f32.gguf · format: mathcoder · finish: answer · 68 tokens · 0.7 s" in text
    path = export_markdown(entry)
    assert path.parent == user_home() / "exports" and path.name.startswith(f"problem-{entry.id}-a-warehouse")
    assert path.read_text() == text
    assert export_markdown(entry, tmp_path / "out").parent == tmp_path / "out"
    history.close()
