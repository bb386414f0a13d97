"""Migrations: a new workspace gets the newest schema; a database at any earlier version upgrades."""
import sqlite3

import pytest

from lvr.store import SCHEMA_VERSION, Workspace, WorkspaceError, migrate
from lvr.store.schema import current_version

from .conftest import make_item

TABLES = {"videos", "clips", "caption_history", "qa", "qa_revisions", "jobs", "checkpoints", "eval_runs",
          "eval_items", "gen_outputs", "qa_fts", "clips_fts"}


def tables(conn):
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_workspace_has_newest_schema_and_wal(tmp_path):
    ws = Workspace.open(tmp_path / "w", create=True)
    assert ws.schema_version == SCHEMA_VERSION
    assert TABLES <= tables(ws.conn)
    assert ws.scalar("PRAGMA journal_mode") == "wal"
    for sub in ("media", "cache/frames", "cache/embeds", "checkpoints", "runs"):
        assert (ws.root / sub).is_dir()


def test_open_missing_workspace_without_create_is_a_clear_error(tmp_path):
    with pytest.raises(WorkspaceError, match="not a workspace"):
        Workspace.open(tmp_path / "nope")


@pytest.mark.parametrize("start", range(0, SCHEMA_VERSION))
def test_upgrade_from_every_earlier_version(tmp_path, start):
    path = tmp_path / "w"
    path.mkdir()
    conn = sqlite3.connect(path / "lvr.db", isolation_level=None)
    migrate(conn, target=start)
    assert current_version(conn) == start
    if start >= 1:  # data written by the old schema survives the upgrade
        conn.execute("INSERT INTO qa (category, question, options, answer, created_at, updated_at)"
                     " VALUES ('plot', 'old question about the garden', '[\"a\",\"b\",\"c\",\"d\"]', 'C', 'x', 'x')")
    conn.close()
    ws = Workspace.open(path)
    assert ws.schema_version == SCHEMA_VERSION
    assert TABLES <= tables(ws.conn)
    if start >= 1:
        assert ws.get_qa(1)["question"] == "old question about the garden"
        assert ws.query_qa(text="garden")[1] == 1  # FTS built over pre-existing rows
    ws.add_qa(make_item(None))


def test_newer_schema_is_refused(tmp_path):
    ws = Workspace.open(tmp_path / "w", create=True)
    ws.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    ws.close()
    with pytest.raises(WorkspaceError, match="newer"):
        Workspace.open(tmp_path / "w")


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    from lvr.store import schema

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, "CREATE TABLE t (a); SELECT nonsense("])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn)
    assert current_version(conn) == SCHEMA_VERSION
    assert "t" not in tables(conn)
