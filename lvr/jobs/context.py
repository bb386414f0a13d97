"""What a running job uses to talk to the workbench: progress, metrics, status.

    ctx = JobContext.from_env()          # None when not launched as a job
    ctx.progress(3, 10, "captioning")    # jobs.progress/total/message
    ctx.log_metrics({"step": 3, "loss": 1.2})   # one JSON line in runs/<job>/metrics.jsonl

Metrics are appended and flushed line by line, so the app can plot them while the job runs.
Only rank 0 of a distributed job should write (the caller decides; see `is_main`).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from lvr.store import Workspace

ENV_JOB = "LVR_JOB_ID"
ENV_WORKSPACE = "LVR_WORKSPACE"


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


@dataclass
class JobContext:
    ws: Workspace
    job_id: str
    run_dir: Path

    @classmethod
    def from_env(cls) -> "JobContext | None":
        job_id, root = os.environ.get(ENV_JOB), os.environ.get(ENV_WORKSPACE)
        if not job_id or not root:
            return None
        return cls.attach(Workspace.open(root), job_id)

    @classmethod
    def attach(cls, ws: Workspace, job_id: str) -> "JobContext":
        job = ws.get_job(job_id)
        return cls(ws, job_id, ws.resolve(job["run_dir"]))

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        fields = {"progress": float(done), "heartbeat_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if total is not None:
            fields["total"] = float(total)
        if message is not None:
            fields["message"] = message
        self.ws.update_job(self.job_id, **fields)

    def log_metrics(self, row: dict) -> None:
        row = {"time": time.time(), **{k: _clean(v) for k, v in row.items()}}
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()


def is_main() -> bool:
    """True on rank 0 (or outside torch.distributed)."""
    return int(os.environ.get("RANK", "0")) == 0
