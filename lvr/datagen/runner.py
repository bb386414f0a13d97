"""Job bookkeeping shared by the caption and generate jobs: a job row, progress, a worker pool.

    tracker = JobTracker.start(ws, "generate", config, total=len(todo), already_done=n_done)
    await run_pool(todo, worker, concurrency=16)    # worker(unit) calls tracker.record(...)
    report = tracker.finish()                       # JobReport: counts, tokens, failures, rate

Run from the shell, a job adds its own `jobs` row (kind "caption"/"generate") and sets its status;
launched by `lvr.jobs` (LVR_JOB_ID in the environment) it reports into that row and leaves the
status to the supervisor. Jobs of the same kind left "running" by a process that no longer exists
(killed) are marked "dead" when the next one starts. Progress is written at most every
`min_interval` seconds (plus once at the end), with a metrics.jsonl line each time; `note(text)`
says what the job is doing between units ("unit …: model call 2"), so a slow model shows life at once.

A job tells the truth about its units (`final_status`): every unit of the run failed → `failed`
(the error names the count and the first reasons), some failed → `partial` ("3 of 8 units failed"),
none → `succeeded`. A job launched by `lvr.jobs` leaves the row's status to its supervisor, which
reads the same verdict from `report-<kind>.json` in the run folder.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from lvr.store import Workspace


def _ts() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def mark_dead_jobs(ws: Workspace, kind: str) -> list[str]:
    """Mark `running` jobs of this kind whose process is gone as `dead`; returns their ids."""
    dead = []
    for job in ws.list_jobs(kind=kind, status="running"):
        if job.get("pid") and not pid_alive(job["pid"]) and job["pid"] != os.getpid():
            ws.update_job(job["id"], status="dead", finished_at=_ts(),
                          error="process disappeared (killed?) before finishing; rerun to resume")
            dead.append(job["id"])
    return dead


@dataclass
class JobReport:
    job_id: str
    kind: str
    total: int                      # units this run had to do
    already_done: int               # units done by earlier runs (skipped)
    succeeded: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0                  # model calls made (attempts inside a call not counted)
    elapsed: float = 0.0
    status: str = "running"
    failures: list[tuple[str, str]] = field(default_factory=list)   # (key, reason), last reason per unit
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return (self.succeeded + self.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rate"] = round(self.rate, 3)
        return d

    def summary(self) -> str:
        state = f"partial ({self.failed} failed)" if self.status == "partial" else self.status
        return (f"{self.kind} job {self.job_id}: {state}; {self.succeeded} done, {self.failed} failed, "
                f"{self.already_done} already done before; {self.calls} model calls, "
                f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens; "
                f"{self.elapsed:.1f} s ({self.rate:.2f} units/s)")


def final_status(succeeded: int, failed: int) -> str:
    """The honest end state of a run that finished its units: failed / partial / succeeded."""
    if failed and not succeeded:
        return "failed"
    return "partial" if failed else "succeeded"


def failure_summary(report: "JobReport", show: int = 3) -> str:
    """"all 4 unit(s) failed" / "2 of 6 unit(s) failed", with the first reasons."""
    n = report.succeeded + report.failed
    head = f"all {n} unit(s) failed" if not report.succeeded else f"{report.failed} of {n} unit(s) failed"
    reasons = "; ".join(f"{key}: {why[:160]}" for key, why in report.failures[:show])
    return f"{head} (e.g. {reasons})" if reasons else head


class JobTracker:
    def __init__(self, ws: Workspace, job_id: str, kind: str, total: int, already_done: int, own_row: bool,
                 progress: Callable[[JobReport], None] | None = None, min_interval: float = 0.5):
        self.ws, self.own_row, self.progress_cb, self.min_interval = ws, own_row, progress, min_interval
        self.report = JobReport(job_id=job_id, kind=kind, total=total, already_done=already_done)
        self.t0 = time.perf_counter()
        self._last_write = 0.0
        self._metrics_path = None
        try:
            job = ws.get_job(job_id)
            self._metrics_path = ws.resolve(job["metrics_path"]) if job.get("metrics_path") else None
        except KeyError:
            pass

    @property
    def job_id(self) -> str:
        return self.report.job_id

    @classmethod
    def start(cls, ws: Workspace, kind: str, config: dict, *, total: int, already_done: int,
              progress: Callable[[JobReport], None] | None = None) -> "JobTracker":
        mark_dead_jobs(ws, kind)
        env_job, env_ws = os.environ.get("LVR_JOB_ID"), os.environ.get("LVR_WORKSPACE")
        own = True
        if env_job and env_ws and os.path.realpath(env_ws) == os.path.realpath(ws.root):
            try:
                ws.get_job(env_job)
                job_id, own = env_job, False
            except KeyError:
                job_id = ws.add_job(kind, config)
        else:
            job_id = ws.add_job(kind, config)
        fields: dict[str, Any] = {"progress": 0.0, "total": float(total), "heartbeat_at": _ts(),
                                  "message": f"{already_done} unit(s) already done; {total} to do"}
        if own:
            fields.update(status="running", pid=os.getpid(), started_at=_ts())
        ws.update_job(job_id, **fields)
        return cls(ws, job_id, kind, total, already_done, own, progress)

    def record(self, key: str, ok: bool, reason: str | None = None) -> None:
        r = self.report
        if ok:
            r.succeeded += 1
        else:
            r.failed += 1
            r.failures.append((key, reason or "failed"))
        self._tick()

    def account(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        r = self.report
        r.calls += 1
        r.prompt_tokens += prompt_tokens or 0
        r.completion_tokens += completion_tokens or 0

    def note(self, text: str) -> None:
        """What the job is doing right now (shown in the job's message; rate-limited like progress)."""
        now = time.monotonic()
        if now - self._last_write < self.min_interval:
            return
        self._last_write = now
        r = self.report
        try:
            self.ws.update_job(self.job_id, heartbeat_at=_ts(),
                               message=f"{r.succeeded} done, {r.failed} failed of {r.total} · {text[:160]}")
        except Exception:  # a busy database must not fail a unit
            pass

    def _tick(self, force: bool = False) -> None:
        r = self.report
        r.elapsed = time.perf_counter() - self.t0
        if self.progress_cb:
            self.progress_cb(r)
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        done = r.succeeded + r.failed
        self.ws.update_job(self.job_id, progress=float(done), total=float(r.total), heartbeat_at=_ts(),
                           message=f"{r.succeeded} done, {r.failed} failed of {r.total}")
        if self._metrics_path is not None:
            row = {"time": time.time(), "done": done, "succeeded": r.succeeded, "failed": r.failed,
                   "total": r.total, "rate": round(r.rate, 4), "prompt_tokens": r.prompt_tokens,
                   "completion_tokens": r.completion_tokens}
            try:
                self._metrics_path.parent.mkdir(parents=True, exist_ok=True)
                with open(self._metrics_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            except OSError:
                pass

    def finish(self, status: str | None = None, error: str | None = None) -> JobReport:
        r = self.report
        r.status = status or "succeeded"
        if r.status == "succeeded":
            r.status = final_status(r.succeeded, r.failed)
            if r.status != "succeeded":
                r.extra["failure_summary"] = failure_summary(r)
                error = error or (failure_summary(r) if r.status == "failed" else None)
        self._tick(force=True)
        fields: dict[str, Any] = {"message": r.summary()}
        if self.own_row:
            fields.update(status=r.status, finished_at=_ts(), error=error)
        self.ws.update_job(self.job_id, **fields)
        run_dir = self.ws.resolve(self.ws.get_job(self.job_id)["run_dir"])
        try:
            (run_dir / f"report-{self.report.kind}.json").write_text(json.dumps(r.as_dict(), indent=1))
        except OSError:
            pass
        return r


async def run_pool(units: Iterable[Any], worker: Callable[[Any], Awaitable[None]], concurrency: int) -> None:
    """Run `worker(unit)` for every unit with at most `concurrency` at once; the first error cancels the rest."""
    queue: asyncio.Queue = asyncio.Queue()
    for u in units:
        queue.put_nowait(u)

    async def loop() -> None:
        while True:
            try:
                unit = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await worker(unit)

    tasks = [asyncio.create_task(loop()) for _ in range(max(1, min(concurrency, queue.qsize())))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
