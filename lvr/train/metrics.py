"""Where a training run reports: metrics rows, progress, and console lines (rank 0 only).

    rep = Reporter(run_dir, job=JobContext.from_env(), is_main=dist.is_main, total_steps=100)
    rep.log({"step": 3, "loss": 1.2})      # job: runs/<job>/metrics.jsonl via JobContext; else run_dir/metrics.jsonl
    rep.progress(3, "step 3/100 loss 1.2")
    rep.print("saved checkpoint …")

Rows are JSON lines with a `time` field; non-finite numbers are written as null so every
reader (the app's plots included) can parse them.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any


def _clean(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Reporter:
    def __init__(self, run_dir: Path, *, job=None, is_main: bool = True, total_steps: int | None = None):
        self.run_dir = Path(run_dir)
        self.job = job
        self.is_main = is_main
        self.total_steps = total_steps
        self.metrics_path = job.metrics_path if job is not None else self.run_dir / "metrics.jsonl"

    def log(self, row: dict) -> None:
        if not self.is_main:
            return
        row = {k: _clean(v) for k, v in row.items()}
        if self.job is not None:
            self.job.log_metrics(row)
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps({"time": time.time(), **row}) + "\n")

    def progress(self, step: int, message: str | None = None) -> None:
        if self.is_main and self.job is not None:
            try:
                self.job.progress(step, self.total_steps, message)
            except Exception as e:  # a busy database must not stop training
                print(f"[train] could not record progress: {e}", flush=True)

    def print(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if not Path(path).exists():
        return rows
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
