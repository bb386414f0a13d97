"""Schema of the workspace database, as forward-only migrations.

The schema version lives in SQLite's `PRAGMA user_version`. `migrate(conn)` applies every
migration above the current version, each in its own transaction, so a database created
by any earlier release opens with the newest code. Never edit a released migration:
append a new one.
"""
from __future__ import annotations

import sqlite3

CATEGORIES = ("temporal", "goal", "spatial", "plot")   # what generation and balancing iterate over
UNCATEGORISED = "uncategorised"                        # an imported item whose file names no known category
ITEM_CATEGORIES = (*CATEGORIES, UNCATEGORISED)         # what a stored item may carry
QA_STATUSES = ("pending", "draft", "approved", "rejected")
SPLITS = ("sft", "rl", "eval")
# partial: the job ran to its end but some of its units failed (lvr.datagen's caption / generate jobs)
JOB_STATUSES = ("queued", "running", "succeeded", "partial", "failed", "cancelled", "dead")


_M001_CORE = """
        CREATE TABLE videos (
            id TEXT PRIMARY KEY,             -- first 16 hex chars of the content sha256
            sha256 TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,              -- absolute, or relative to the workspace root
            filename TEXT NOT NULL,
            duration REAL, fps REAL, n_frames INTEGER, width INTEGER, height INTEGER,
            codec TEXT, keyframe_interval REAL,
            split TEXT, source TEXT, meta TEXT DEFAULT '{}',
            added_at TEXT NOT NULL
        );
        CREATE TABLE clips (
            id INTEGER PRIMARY KEY,
            video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start REAL NOT NULL, "end" REAL NOT NULL,
            caption TEXT, captioner TEXT, prompt TEXT, updated_at TEXT, updated_by TEXT,
            UNIQUE (video_id, idx)
        );
        CREATE TABLE caption_history (
            id INTEGER PRIMARY KEY,
            clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
            caption TEXT, captioner TEXT, prompt TEXT, replaced_at TEXT NOT NULL, replaced_by TEXT
        );
        CREATE TABLE qa (
            id INTEGER PRIMARY KEY,
            video_id TEXT REFERENCES videos(id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            question TEXT NOT NULL,
            options TEXT NOT NULL,           -- JSON list of 4 strings
            answer TEXT NOT NULL,            -- letter A-D
            reasoning TEXT NOT NULL DEFAULT '',
            reasoning_raw TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'pending',
            source TEXT, split TEXT,
            start REAL, "end" REAL,
            difficulty REAL,                 -- pass rate of the current model, if measured
            duplicate_of INTEGER,
            reject_reason TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT
        );
        CREATE INDEX qa_status ON qa(status);
        CREATE INDEX qa_video ON qa(video_id);
        CREATE INDEX qa_cat ON qa(category);
        CREATE INDEX qa_split ON qa(split);
        CREATE TABLE qa_revisions (
            id INTEGER PRIMARY KEY,
            qa_id INTEGER NOT NULL,
            version INTEGER NOT NULL,        -- the version this revision created
            who TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
            before TEXT, after TEXT, comment TEXT
        );
        CREATE INDEX qa_rev_qa ON qa_revisions(qa_id);
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
            pid INTEGER, config TEXT DEFAULT '{}', run_dir TEXT, log_path TEXT, metrics_path TEXT,
            progress REAL, total REAL, message TEXT, error TEXT,
            created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, heartbeat_at TEXT
        );
        CREATE TABLE checkpoints (
            id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT, stage TEXT,
            parent TEXT, step INTEGER, metrics TEXT DEFAULT '{}', job_id TEXT, created_at TEXT NOT NULL
        );
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY, checkpoint TEXT, split TEXT, frames INTEGER, answerer TEXT,
            config TEXT DEFAULT '{}', status TEXT, summary TEXT DEFAULT '{}', job_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE eval_items (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            qa_id INTEGER NOT NULL, category TEXT, prediction TEXT, thinking TEXT, answer TEXT,
            correct INTEGER, format_ok INTEGER, tokens INTEGER, latency REAL,
            UNIQUE (run_id, qa_id)
        );
"""


# Full-text search over QA text and clip captions, kept in sync by triggers.
_M002_FTS = """
        CREATE VIRTUAL TABLE qa_fts USING fts5(
            question, options, reasoning, content='qa', content_rowid='id', tokenize='porter unicode61');
        CREATE TRIGGER qa_ai AFTER INSERT ON qa BEGIN
            INSERT INTO qa_fts(rowid, question, options, reasoning)
            VALUES (new.id, new.question, new.options, new.reasoning);
        END;
        CREATE TRIGGER qa_ad AFTER DELETE ON qa BEGIN
            INSERT INTO qa_fts(qa_fts, rowid, question, options, reasoning)
            VALUES ('delete', old.id, old.question, old.options, old.reasoning);
        END;
        CREATE TRIGGER qa_au AFTER UPDATE OF question, options, reasoning ON qa BEGIN
            INSERT INTO qa_fts(qa_fts, rowid, question, options, reasoning)
            VALUES ('delete', old.id, old.question, old.options, old.reasoning);
            INSERT INTO qa_fts(rowid, question, options, reasoning)
            VALUES (new.id, new.question, new.options, new.reasoning);
        END;
        CREATE VIRTUAL TABLE clips_fts USING fts5(
            caption, content='clips', content_rowid='id', tokenize='porter unicode61');
        CREATE TRIGGER clips_ai AFTER INSERT ON clips BEGIN
            INSERT INTO clips_fts(rowid, caption) VALUES (new.id, coalesce(new.caption, ''));
        END;
        CREATE TRIGGER clips_ad AFTER DELETE ON clips BEGIN
            INSERT INTO clips_fts(clips_fts, rowid, caption) VALUES ('delete', old.id, coalesce(old.caption, ''));
        END;
        CREATE TRIGGER clips_au AFTER UPDATE OF caption ON clips BEGIN
            INSERT INTO clips_fts(clips_fts, rowid, caption) VALUES ('delete', old.id, coalesce(old.caption, ''));
            INSERT INTO clips_fts(rowid, caption) VALUES (new.id, coalesce(new.caption, ''));
        END;
        INSERT INTO qa_fts(qa_fts) VALUES ('rebuild');
        INSERT INTO clips_fts(clips_fts) VALUES ('rebuild');
"""


# Every raw LLM/VLM output of data generation, including failures and their reason.
_M003_GENERATION_LOG = """
        CREATE TABLE gen_outputs (
            id INTEGER PRIMARY KEY, job_id TEXT, task TEXT NOT NULL,    -- caption | qa | rewrite | judge
            key TEXT NOT NULL,                 -- idempotency key of the unit of work
            video_id TEXT, clip_id INTEGER, category TEXT,
            backend TEXT, model TEXT, prompt TEXT, raw TEXT,
            ok INTEGER NOT NULL, reason TEXT, qa_id INTEGER,
            prompt_tokens INTEGER, completion_tokens INTEGER, latency REAL, attempts INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE INDEX gen_outputs_key ON gen_outputs(task, key);
        CREATE INDEX gen_outputs_job ON gen_outputs(job_id);
"""


MIGRATIONS: list[str] = [_M001_CORE, _M002_FTS, _M003_GENERATION_LOG]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int | None = None) -> list[int]:
    """Apply migrations up to `target` (default: newest). Returns the versions applied.

    Refuses to open a database written by a newer release (its version is above ours).
    """
    target = SCHEMA_VERSION if target is None else target
    have = current_version(conn)
    if have > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {have} is newer than this release supports ({SCHEMA_VERSION}); "
            "upgrade lvr-workbench"
        )
    applied = []
    for version in range(have + 1, target + 1):
        # executescript commits any open transaction first, so BEGIN/COMMIT live in the script
        script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[version - 1]}\nPRAGMA user_version = {version};\nCOMMIT;"
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
