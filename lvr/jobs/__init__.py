"""Long jobs (datagen, SFT, GRPO, eval) as tracked subprocesses.

    from lvr.jobs import launch, cancel, refresh, read_metrics
    job = launch(ws, "sft", ["-m", "lvr.train.sft", "configs/tiny/sft.yaml"], nproc=2, config=cfg)
    refresh(ws, job)            # running / succeeded / failed / cancelled / dead
    follow(ws, job, print)      # each new log line until the job ends; returns its final row
    read_metrics(ws, job)       # rows of runs/<job>/metrics.jsonl

Every job runs under `python -m lvr.jobs.supervise`, which records pid, heartbeat and exit
status in the store even when the process that launched it (the app) is gone. Inside the
job, `lvr.jobs.context.JobContext.from_env()` reports progress and appends metrics.
"""
from .context import JobContext
from .manager import cancel, follow, is_alive, launch, python_command, read_log, read_metrics, refresh, relaunch

__all__ = ["JobContext", "launch", "relaunch", "cancel", "refresh", "follow", "is_alive", "read_metrics", "read_log",
           "python_command"]
