"""Supervisor of one job: `python -m lvr.jobs.supervise --workspace WS --job ID -- cmd...`.

Runs the command as a child, marks the job running (pid = this supervisor, the leader of
the job's process group), heartbeats every few seconds, and records the exit: succeeded
(status 0), failed (with the log's last lines as the error), or cancelled (SIGTERM). A command that
reports units (lvr.datagen's `report-<kind>.json` in the run folder) ends with that report's verdict:
`failed` when every unit failed (the CLI then exits 1; the error is the report's summary, not the
log tail), `partial` when some did (`unit_verdict`).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

from lvr.store import Workspace

from .manager import read_log


def _ts() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def unit_verdict(ws: Workspace, job_id: str) -> tuple[str, str | None] | None:
    """(status, error) from the unit report(s) the job wrote in its run folder; None without one."""
    run_dir = ws.resolve(ws.get_job(job_id)["run_dir"])
    verdicts = []
    for path in sorted(run_dir.glob("report-*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if rep.get("job_id") == job_id and rep.get("status") in ("failed", "partial"):
            verdicts.append((rep["status"], (rep.get("extra") or {}).get("failure_summary")))
    if not verdicts:
        return None
    status = "failed" if any(s == "failed" for s, _ in verdicts) else "partial"
    return status, "; ".join(e for _, e in verdicts if e) or None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--workspace", required=True)
    p.add_argument("--job", required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    ws = Workspace.open(args.workspace)
    ws.update_job(args.job, status="running", pid=os.getpid(), started_at=_ts(), heartbeat_at=_ts())
    print(f"[supervise] job {args.job}: {' '.join(cmd)}", flush=True)
    child = subprocess.Popen(cmd)
    stopping = {"signal": None}

    def on_term(signum, _frame):
        stopping["signal"] = signum
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    done = threading.Event()

    def heartbeat():
        while not done.wait(5.0):
            try:
                ws.update_job(args.job, heartbeat_at=_ts())
            except Exception:  # a busy database must not kill the job
                pass

    threading.Thread(target=heartbeat, daemon=True).start()
    rc = child.wait()
    done.set()
    if stopping["signal"] is not None or ws.get_job(args.job)["status"] == "cancelled":
        status, error = "cancelled", None
    elif rc == 0:
        status, error = unit_verdict(ws, args.job) or ("succeeded", None)
    else:
        verdict = unit_verdict(ws, args.job)           # every unit failed: the report says why, not the exit
        status, error = ("failed", verdict[1]) if verdict and verdict[1] else \
            ("failed", f"exit status {rc}\n" + read_log(ws, args.job, lines=20))
    ws.update_job(args.job, status=status, error=error, finished_at=_ts())
    print(f"[supervise] job {args.job} {status} (exit {rc})", flush=True)
    return 0 if status in ("succeeded", "partial") else 1


if __name__ == "__main__":
    sys.exit(main())
