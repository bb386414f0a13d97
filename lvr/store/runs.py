"""Jobs, checkpoints, evaluation runs and data-generation outputs.

Part of `Workspace`. Ids of jobs/checkpoints/eval runs are short readable strings
(`sft-20261124-1530-3f2a`), unique per workspace.
"""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any, Iterable

from .schema import JOB_STATUSES
from .values import dumps, now


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _decode(row: dict, *fields: str) -> dict:
    for f in fields:
        if isinstance(row.get(f), str):
            row[f] = json.loads(row[f] or "{}")
    return row


class RunsMixin:
    # ------------------------------------------------------------------ jobs
    def add_job(self, kind: str, config: dict, run_dir: str | Path | None = None, job_id: str | None = None) -> str:
        """Record a queued job; its run folder defaults to runs/<job id>/ (created)."""
        job_id = job_id or new_id(kind)
        run = Path(run_dir) if run_dir else self.runs_dir / job_id
        run.mkdir(parents=True, exist_ok=True)
        with self.transaction():
            self.conn.execute(
                "INSERT INTO jobs (id, kind, status, config, run_dir, log_path, metrics_path, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, kind, dumps(config), self.relativize(run), self.relativize(run / "log.txt"),
                 self.relativize(run / "metrics.jsonl"), now()),
            )
        return job_id

    def update_job(self, job_id: str, **fields: Any) -> None:
        if "status" in fields and fields["status"] not in JOB_STATUSES:
            raise ValueError(f"job status {fields['status']!r} is not one of {', '.join(JOB_STATUSES)}")
        if "config" in fields and not isinstance(fields["config"], str):
            fields["config"] = dumps(fields["config"])
        sets = ", ".join(f'"{k}" = ?' for k in fields)
        with self.transaction():
            cur = self.conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            if cur.rowcount == 0:
                raise KeyError(f"no job {job_id!r}")

    def get_job(self, job_id: str) -> dict:
        rows = self.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise KeyError(f"no job {job_id!r} in workspace {self.root}")
        return _decode(rows[0], "config")

    def list_jobs(self, kind: str | None = None, status: str | None = None, limit: int = 200) -> list[dict]:
        where, params = [], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if status:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT * FROM jobs {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY created_at DESC LIMIT ?"
        return [_decode(r, "config") for r in self.query(sql, (*params, limit))]

    # ------------------------------------------------------------------ checkpoints
    def register_checkpoint(self, path: str | Path, *, kind: str, stage: str, parent: str | None = None,
                            step: int | None = None, metrics: dict | None = None, job_id: str | None = None,
                            ckpt_id: str | None = None) -> str:
        """Register a checkpoint directory (idempotent by path); returns its id."""
        rel = self.relativize(path)
        existing = self.scalar("SELECT id FROM checkpoints WHERE path = ?", (rel,))
        if existing:
            return existing
        ckpt_id = ckpt_id or new_id(stage)
        with self.transaction():
            self.conn.execute(
                "INSERT INTO checkpoints (id, path, kind, stage, parent, step, metrics, job_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ckpt_id, rel, kind, stage, parent, step, dumps(metrics or {}), job_id, now()),
            )
        return ckpt_id

    def get_checkpoint(self, ckpt_id: str) -> dict:
        rows = self.query("SELECT * FROM checkpoints WHERE id = ? OR path = ?", (ckpt_id, ckpt_id))
        if not rows:
            raise KeyError(f"no checkpoint {ckpt_id!r} in workspace {self.root}")
        row = _decode(rows[0], "metrics")
        row["abspath"] = str(self.resolve(row["path"]))
        return row

    def list_checkpoints(self, stage: str | None = None) -> list[dict]:
        sql = "SELECT * FROM checkpoints" + (" WHERE stage = ?" if stage else "") + " ORDER BY created_at"
        rows = [_decode(r, "metrics") for r in self.query(sql, (stage,) if stage else ())]
        for r in rows:
            r["abspath"] = str(self.resolve(r["path"]))
        return rows

    def checkpoint_lineage(self, ckpt_id: str) -> list[dict]:
        """The chain base → … → this checkpoint (oldest first)."""
        chain, seen = [], set()
        cur: str | None = ckpt_id
        while cur and cur not in seen:
            seen.add(cur)
            try:
                row = self.get_checkpoint(cur)
            except KeyError:
                break
            chain.append(row)
            cur = row.get("parent")
        return chain[::-1]

    # ------------------------------------------------------------------ evaluation
    def add_eval_run(self, *, checkpoint: str | None, split: str | None, frames: int | None,
                     answerer: str = "model", config: dict | None = None, job_id: str | None = None,
                     run_id: str | None = None) -> str:
        run_id = run_id or new_id("eval")
        with self.transaction():
            self.conn.execute(
                "INSERT INTO eval_runs (id, checkpoint, split, frames, answerer, config, status, job_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, checkpoint, split, frames, answerer, dumps(config or {}), job_id, now()),
            )
        return run_id

    def update_eval_run(self, run_id: str, **fields: Any) -> None:
        for f in ("config", "summary"):
            if f in fields and not isinstance(fields[f], str):
                fields[f] = dumps(fields[f])
        sets = ", ".join(f'"{k}" = ?' for k in fields)
        with self.transaction():
            self.conn.execute(f"UPDATE eval_runs SET {sets} WHERE id = ?", (*fields.values(), run_id))

    def get_eval_run(self, run_id: str) -> dict:
        rows = self.query("SELECT * FROM eval_runs WHERE id = ?", (run_id,))
        if not rows:
            raise KeyError(f"no eval run {run_id!r}")
        return _decode(rows[0], "config", "summary")

    def list_eval_runs(self) -> list[dict]:
        return [_decode(r, "config", "summary") for r in self.query("SELECT * FROM eval_runs ORDER BY created_at")]

    def add_eval_items(self, run_id: str, items: Iterable[dict]) -> int:
        """Upsert per-item records of a run (resuming a run rewrites nothing already scored)."""
        cols = ("run_id", "qa_id", "category", "prediction", "thinking", "answer", "correct", "format_ok",
                "tokens", "latency")
        rows = [tuple({**it, "run_id": run_id}.get(c) for c in cols) for it in items]
        with self.transaction():
            self.conn.executemany(
                f"INSERT OR REPLACE INTO eval_items ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        return len(rows)

    def eval_items(self, run_id: str) -> list[dict]:
        return self.query("SELECT * FROM eval_items WHERE run_id = ? ORDER BY qa_id", (run_id,))

    # ------------------------------------------------------------------ data-generation outputs
    def add_gen_output(self, *, task: str, key: str, ok: bool, raw: str | None, reason: str | None = None,
                       **fields: Any) -> int:
        """Keep one raw model output of data generation (successes and failures alike)."""
        row = {"task": task, "key": key, "ok": int(bool(ok)), "raw": raw, "reason": reason,
               "created_at": now(), **fields}
        cols = ", ".join(f'"{k}"' for k in row)
        with self.transaction():
            cur = self.conn.execute(f"INSERT INTO gen_outputs ({cols}) VALUES ({', '.join('?' * len(row))})",
                                    tuple(row.values()))
        return cur.lastrowid

    def gen_outputs(self, task: str | None = None, ok: bool | None = None, job_id: str | None = None,
                    limit: int = 500) -> list[dict]:
        where, params = [], []
        for col, val in (("task", task), ("job_id", job_id)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if ok is not None:
            where.append("ok = ?")
            params.append(int(ok))
        sql = f"SELECT * FROM gen_outputs {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id DESC LIMIT ?"
        return self.query(sql, (*params, limit))

    def done_keys(self, task: str) -> set[str]:
        """Keys of work units already completed successfully (for resumable jobs)."""
        return {r["key"] for r in self.query("SELECT DISTINCT key FROM gen_outputs WHERE task = ? AND ok = 1", (task,))}
