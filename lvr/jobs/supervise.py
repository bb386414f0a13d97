"""Supervisor of one job: `python -m lvr.jobs.supervise --workspace WS --job ID -- cmd...`.

Runs the command as a child, marks the job running (pid = this supervisor, the leader of
the job's process group), heartbeats every few seconds, and records the exit: succeeded
(status 0), failed (with the log's last lines as the error), or cancelled (SIGTERM).
"""
from __future__ import annotations

import argparse
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
        status, error = "succeeded", None
    else:
        status, error = "failed", f"exit status {rc}\n" + read_log(ws, args.job, lines=20)
    ws.update_job(args.job, status=status, error=error, finished_at=_ts())
    print(f"[supervise] job {args.job} {status} (exit {rc})", flush=True)
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
