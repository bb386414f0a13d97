"""The workspace: one folder, one SQLite file.

    workspace/
      lvr.db          SQLite (WAL), schema in lvr/store/schema.py
      media/          videos the workspace owns
      cache/frames/   decoded frames       cache/embeds/   vision embeddings
      checkpoints/    model checkpoints    runs/<job id>/  config, log, metrics.jsonl

    >>> ws = Workspace.open("demo", create=True)
    >>> ws.list_videos()

`lvr.store` imports nothing else from `lvr`: it is the bottom layer. One `Workspace`
object is safe to share between threads (a lock serialises its connection); several
processes may open the same workspace at once (WAL + busy timeout + optimistic versions).
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from .qa import QAMixin
from .runs import RunsMixin
from .schema import SCHEMA_VERSION, current_version, migrate
from .videos import VideosMixin

DB_NAME = "lvr.db"
SUBDIRS = ("media", "cache/frames", "cache/embeds", "checkpoints", "runs")


class WorkspaceError(RuntimeError):
    """A workspace folder that cannot be opened (missing, not a workspace, newer schema)."""


class Workspace(VideosMixin, QAMixin, RunsMixin):
    """A workspace folder and its database. Open with `Workspace.open(path)`."""

    def __init__(self, root: Path, conn: sqlite3.Connection):
        self.root = root
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, create: bool = False, migrate_schema: bool = True) -> "Workspace":
        root = Path(path).expanduser().resolve()
        db_path = root / DB_NAME
        if not db_path.exists():
            if not create:
                raise WorkspaceError(f"{root}: not a workspace (no {DB_NAME}); create it with `lvr init {path}`")
            root.mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        ws = cls(root, conn)
        if migrate_schema:
            try:
                migrate(conn)
            except RuntimeError as e:
                conn.close()
                raise WorkspaceError(f"{root}: {e}") from None
        return ws

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return current_version(self.conn)

    @property
    def latest_schema_version(self) -> int:
        return SCHEMA_VERSION

    # ------------------------------------------------------------------ paths
    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def frames_cache_dir(self) -> Path:
        return self.root / "cache" / "frames"

    @property
    def embeds_cache_dir(self) -> Path:
        return self.root / "cache" / "embeds"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def resolve(self, path: str | Path) -> Path:
        """A stored path (relative to the workspace root, or absolute) as an absolute path."""
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def relativize(self, path: str | Path) -> str:
        """Store paths inside the workspace relative to it, so the folder can move."""
        p = Path(path).resolve()
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A (re-entrant) write transaction; the outermost one commits or rolls back."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: tuple | dict = ()) -> Any:
        with self._lock:
            row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def stats(self) -> dict:
        """Counts for dashboards: videos, clips, captioned clips, QA by status/category/split."""
        out = {
            "videos": self.scalar("SELECT count(*) FROM videos"),
            "clips": self.scalar("SELECT count(*) FROM clips"),
            "captioned_clips": self.scalar("SELECT count(*) FROM clips WHERE caption IS NOT NULL AND caption != ''"),
            "qa": self.scalar("SELECT count(*) FROM qa"),
        }
        for col in ("status", "category", "split", "source"):
            out[f"qa_by_{col}"] = {
                (r["k"] if r["k"] is not None else "none"): r["n"]
                for r in self.query(f"SELECT {col} AS k, count(*) AS n FROM qa GROUP BY {col} ORDER BY {col}")
            }
        return out
