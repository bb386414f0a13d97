"""Launch, watch and cancel jobs; detect dead ones; relaunch (resume) a killed one.

A job is `python -m lvr.jobs.supervise --workspace WS --job ID -- <command...>` started in
its own session (process group), with stdout+stderr in runs/<id>/log.txt (or the run folder
the caller names). The supervisor marks the job running with its pid, heartbeats, and records
the exit status; `follow` streams the log until the job ends; `cancel` sends SIGTERM to the
whole group (torchrun and its workers included). `python_command` is the one place a
(torchrun) launch's command line is written: the app, `lvr train` and the recipe all launch
training through `launch`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import yaml

from lvr.store import Workspace

from .context import ENV_JOB, ENV_WORKSPACE

HEARTBEAT_STALE_S = 60.0


def python_command(nproc: int, args: list[str]) -> list[str]:
    """`python args...` for one process, `python -m torch.distributed.run --standalone --nproc_per_node=N
    args...` (torchrun) for several; `args` are python arguments, e.g. ["-m", "lvr.train.sft", cfg]."""
    if nproc <= 1:
        return [sys.executable, *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]


def launch(ws: Workspace, kind: str, args: list[str], *, config: dict | None = None, nproc: int = 1,
           env: dict | None = None, job_id: str | None = None, run_dir: str | Path | None = None,
           wait: bool = False) -> str:
    """Start `args` (python arguments, e.g. ["-m", "lvr.train.sft", cfg]) as a tracked job; its run
    folder is `run_dir` when given (an existing one is reused, e.g. to resume), else runs/<job id>/."""
    config = dict(config or {})
    job_id = ws.add_job(kind, {**config, "_args": args, "_nproc": nproc}, run_dir=run_dir, job_id=job_id)
    run_dir = ws.resolve(ws.get_job(job_id)["run_dir"])
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "lvr.jobs.supervise", "--workspace", str(ws.root), "--job", job_id, "--",
           *python_command(nproc, args)]
    full_env = {**os.environ, **(env or {}), ENV_JOB: job_id, ENV_WORKSPACE: str(ws.root),
                "PYTHONUNBUFFERED": "1"}
    log = open(run_dir / "log.txt", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env,
                            start_new_session=True, cwd=os.getcwd())
    log.close()
    ws.update_job(job_id, pid=proc.pid)
    if wait:
        proc.wait()
    return job_id


def relaunch(ws: Workspace, job_id: str, extra_args: list[str] | None = None, wait: bool = False) -> str:
    """Start a job again with the same command (plus `extra_args`, e.g. a resume override)."""
    job = ws.get_job(job_id)
    cfg = dict(job["config"])
    args, nproc = cfg.pop("_args"), cfg.pop("_nproc", 1)
    cfg["resumed_from"] = job_id
    return launch(ws, job["kind"], [*args, *(extra_args or [])], config=cfg, nproc=nproc, wait=wait)


def follow(ws: Workspace, job_id: str, on_line: Callable[[str], None], *, start: int = 0,
           poll: float = 0.5) -> dict:
    """Hand every line the job's log gains (from byte `start`) to `on_line` until the job ends;
    returns the job's final row (status succeeded / partial / failed / cancelled / dead)."""
    log = ws.resolve(ws.get_job(job_id)["log_path"])
    pos, pending = start, b""
    while True:
        job = refresh(ws, job_id)
        if log.exists():
            with open(log, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                on_line(line.decode("utf-8", "replace"))
        if job["status"] not in ("queued", "running"):
            if pending:
                on_line(pending.decode("utf-8", "replace"))
            return job
        time.sleep(poll)


def is_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def refresh(ws: Workspace, job_id: str) -> dict:
    """The job row, with a running job whose supervisor vanished marked `dead`."""
    job = ws.get_job(job_id)
    if job["status"] in ("queued", "running") and job["pid"] and not is_alive(job["pid"]):
        ws.update_job(job_id, status="dead", error="process disappeared without recording an exit status",
                      finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        job = ws.get_job(job_id)
    return job


def cancel(ws: Workspace, job_id: str, timeout: float = 10.0) -> dict:
    """SIGTERM the job's process group, SIGKILL after `timeout`; the job ends `cancelled`."""
    job = ws.get_job(job_id)
    pid = job["pid"]
    if job["status"] in ("succeeded", "partial", "failed", "cancelled", "dead") or not pid:
        return job
    ws.update_job(job_id, status="cancelled", finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return ws.get_job(job_id)
    deadline = time.time() + timeout
    while time.time() < deadline and is_alive(pid):
        time.sleep(0.1)
    if is_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return ws.get_job(job_id)


def read_metrics(ws: Workspace, job_id: str) -> list[dict]:
    """All rows of the job's metrics.jsonl (a partly written last line is skipped)."""
    path = ws.resolve(ws.get_job(job_id)["metrics_path"])
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def read_log(ws: Workspace, job_id: str, lines: int = 200) -> str:
    path: Path = ws.resolve(ws.get_job(job_id)["log_path"])
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 256 * 1024))
        tail = f.read().decode("utf-8", "replace")
    return "\n".join(tail.splitlines()[-lines:])
