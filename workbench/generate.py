"""Generate tab handlers: start caption / QA-generation / filter jobs, watch them, list their failures, cancel.

    args = job_args(ws, JobRequest(kind="caption", backend="openai", model="gpt-4o-mini",
                                   base_url="http://127.0.0.1:8000/v1", frames=8))
    job_id = start_job(ws, request)                  # `python -m lvr.cli caption WS …` as a tracked job
    view = job_view(ws, job_id)                      # status, progress, log tail, failures, finished?
    cancel_job(ws, job_id)

Jobs run the `lvr caption|generate|filter` command line through `lvr.jobs.launch`, never in
the UI process; the command reports progress into the job row (lvr.datagen's JobTracker) and
every failed unit into `gen_outputs` with its reason. An API key is handed to the job in its
environment (LVR_LLM_API_KEY) and is never written to the job's config.
"""
from __future__ import annotations

import html
import os
from dataclasses import asdict, dataclass, field

import gradio as gr
import pandas as pd

from lvr.datagen import BackendConfig
from lvr.datagen.model_captioner import domain_warning
from lvr.jobs import cancel, launch, read_log, refresh
from lvr.store import CATEGORIES, SPLITS, Workspace
from workbench.serving import visitor_error, without_server_folders

JOB_KINDS = ("caption", "generate", "filter")
BACKENDS = ("openai", "local", "ground-truth")
FINISHED = ("succeeded", "partial", "failed", "cancelled", "dead")
# a job whose units partly failed has its own state, worded with the count in its message
STATUS_WORDS = {"partial": "partial: finished, some units failed", "failed": "failed"}
FAILURE_COLUMNS = ["#", "task", "unit", "video", "category", "backend", "attempts", "reason", "raw output"]
JOB_COLUMNS = ["job", "kind", "status", "progress", "message", "created"]
_BACKEND = ("backend", "base_url", "model", "concurrency", "videos")
KIND_FIELDS = {  # the request fields that matter for each kind (what the job's config records)
    "caption": ("kind", *_BACKEND, "frames", "overwrite"),
    "generate": ("kind", *_BACKEND, "categories", "per_category", "attempts", "rewrite", "split"),
    "filter": ("kind", "dedup", "threshold", "balance_letters", "split"),
}


# the form's labels of the numeric fields, so a refusal names the field the user sees
FIELD_LABELS = {"concurrency": "concurrency", "frames": "frames per clip",
                "per_category": "items per category per video", "attempts": "attempts per item"}


@dataclass
class JobRequest:
    """What the Generate form asks for; `check()` fails fast with a message naming the field."""

    kind: str = "caption"
    backend: str = "openai"
    base_url: str = ""
    model: str = ""
    concurrency: int = 8
    frames: int = 8                                 # caption
    overwrite: bool = False                         # caption
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))  # generate
    per_category: int = 1                           # generate
    attempts: int = 2                               # generate
    rewrite: bool = True                            # generate
    split: str = ""                                 # generate: split of new items; filter: only this split
    videos: list[str] = field(default_factory=list)  # caption/generate: only these videos (empty: all)
    dedup: bool = True                              # filter
    threshold: float = 0.9                          # filter
    balance_letters: bool = False                   # filter

    def check(self) -> None:
        def bad(msg: str):
            raise gr.Error(msg)

        if self.kind not in JOB_KINDS:
            bad(f"job kind {self.kind!r} is not one of {', '.join(JOB_KINDS)}")
        if self.split not in ("", None, *SPLITS):
            bad(f"split {self.split!r} is not one of {', '.join(SPLITS)} (or empty)")
        if self.kind == "filter":
            if not (self.dedup or self.balance_letters):
                bad("a filter job needs at least one of: mark near-duplicates, balance answer letters")
            if not 0 < float(self.threshold) <= 1:
                bad(f"duplicate threshold must be in (0, 1], got {self.threshold}")
            return
        if self.backend not in BACKENDS:
            bad(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        for name, label in FIELD_LABELS.items():
            if int(getattr(self, name) or 0) < 1:
                bad(f"'{label}' must be 1 or more, got {getattr(self, name)}")
        if self.kind == "generate" and self.backend == "local":
            bad("QA generation with a local text model is not offered here: unconstrained, SmolLM2-135M wrote 0 "
                "valid items of 12 (each unit failed parsing); use an OpenAI-compatible server (vLLM, SGLang) or "
                "ground-truth (the CLI keeps `lvr generate --backend local` for experiments)")
        if self.kind == "generate":
            wrong = [c for c in self.categories or [] if c not in CATEGORIES]
            if wrong or not self.categories:
                bad(f"pick one or more categories of {', '.join(CATEGORIES)}" + (f" (not {wrong})" if wrong else ""))
        try:  # the same checks the job itself runs first (model required, URL shape, …)
            BackendConfig(kind=self.backend, model=self.model or ("-" if self.backend == "ground-truth" else ""),
                          base_url=self.base_url or default_base_url() or None, concurrency=int(self.concurrency))
        except ValueError as e:
            bad(str(e).replace("BackendConfig.base_url", "base URL").replace("BackendConfig.model", "model")
                .replace("BackendConfig.", ""))


def job_args(ws: Workspace, req: JobRequest) -> list[str]:
    """The python arguments of the job: `-m lvr.cli <kind> WS …` (exactly the CLI a user would type)."""
    args = ["-m", "lvr.cli", req.kind, str(ws.root)]
    if req.kind == "filter":
        if req.dedup:
            args += ["--dedup", "--threshold", str(float(req.threshold))]
        if req.balance_letters:
            args += ["--balance-letters"]
        return args + (["--split", req.split] if req.split else [])
    args += ["--backend", req.backend, "--concurrency", str(int(req.concurrency))]
    if req.model:
        args += ["--model", req.model]
    if req.base_url and req.backend == "openai":
        args += ["--base-url", req.base_url]
    for v in req.videos or []:
        args += ["--video", v]
    if req.kind == "caption":
        args += ["--frames", str(int(req.frames))] + (["--overwrite"] if req.overwrite else [])
    else:
        args += ["--categories", ",".join(req.categories), "--per-category", str(int(req.per_category)),
                 "--attempts", str(int(req.attempts)), "--rewrite" if req.rewrite else "--no-rewrite"]
        if req.split:
            args += ["--split", req.split]
    return args


def start_job(ws: Workspace, req: JobRequest, api_key: str | None = None, who: str = "local") -> str:
    """Launch the job (a tracked subprocess); returns its id."""
    req.check()
    return launch(ws, req.kind, job_args(ws, req), config=job_config(req, who), env=job_env(req, api_key))


def caption_warning(ws: Workspace, req: JobRequest) -> str | None:
    """The engine's warning for a local captioner asked to caption videos outside its training domain."""
    if req.kind != "caption" or req.backend != "local" or not req.model:
        return None
    try:
        return domain_warning(ws, req.model, req.videos or None)
    except (ValueError, FileNotFoundError):
        return None                     # the job itself reports a bad checkpoint, naming it


def job_config(req: JobRequest, who: str) -> dict:
    keep = KIND_FIELDS[req.kind]
    return {**{k: v for k, v in asdict(req).items() if k in keep}, "started_by": who}


def job_env(req: JobRequest, api_key: str | None) -> dict | None:
    """The key the job may send: the visitor's own, or the operator's (from the environment) only to the
    operator's endpoint ($LVR_LLM_BASE_URL); a visitor's other URL never receives the server's key."""
    if api_key:
        return {"LVR_LLM_API_KEY": api_key}
    if req.backend == "openai" and (req.base_url or default_base_url()).rstrip("/") != default_base_url().rstrip("/"):
        return {"LVR_LLM_API_KEY": "", "OPENAI_API_KEY": ""}
    return None


def _progress_html(done: float, total: float | None, status: str) -> str:
    if not total:
        return "<progress style='width:100%'></progress>" if status in ("queued", "running") else ""
    pct = 100 * done / total
    return (f"<progress value='{done:g}' max='{total:g}' style='width:100%;height:18px'></progress>"
            f"<div style='font-size:0.9em'>{done:g}/{total:g} units ({pct:.0f} %)</div>")


def failures_frame(ws: Workspace, job_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Failed units (newest first) of one job, or of every job when `job_id` is empty."""
    rows = [[g["id"], g["task"], g["key"], (g["video_id"] or "")[:8], g["category"] or "",
             ":".join(x for x in (g["backend"], g["model"]) if x), g["attempts"] or "", g["reason"] or "",
             (g["raw"] or "")[:300]] for g in ws.gen_outputs(ok=False, job_id=job_id or None, limit=limit)]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def job_view(ws: Workspace, job_id: str | None) -> dict:
    """Status markdown, a progress bar, the log tail, the job's failures, and whether it has finished."""
    if not job_id or not str(job_id).strip():
        return {"status": "no job selected", "bar": "", "log": "", "failures": failures_frame(ws, "-"),
                "finished": True}
    try:
        job = refresh(ws, str(job_id).strip())
    except KeyError as e:
        raise visitor_error(ws, e) from e
    md = f"job `{job['id']}` ({job['kind']}) **{STATUS_WORDS.get(job['status'], job['status'])}**"
    if job.get("message"):
        md += f" — {html.escape(job['message'])}"
    if job.get("error"):
        md += f"\n\n```\n{job['error']}\n```"
    n_fail = ws.scalar("SELECT count(*) FROM gen_outputs WHERE job_id = ? AND ok = 0", (job["id"],))
    if n_fail:
        md += (f"\n\n{n_fail} failed unit(s) below, each with its reason (one row per model answer); run the "
               "same job again to retry only the units not done.")
    return {"status": without_server_folders(ws, md),
            "bar": _progress_html(job["progress"] or 0.0, job["total"], job["status"]),
            "log": without_server_folders(ws, read_log(ws, job["id"], lines=20)),
            "failures": failures_frame(ws, job["id"]), "finished": job["status"] in FINISHED}


def jobs_frame(ws: Workspace, limit: int = 30) -> pd.DataFrame:
    rows = []
    for kind in JOB_KINDS:
        for j in ws.list_jobs(kind=kind, limit=limit):
            prog = f"{j['progress'] or 0:g}/{j['total']:g}" if j["total"] else ""
            if j["status"] in ("queued", "running"):      # the list shows what the status line shows
                j = refresh(ws, j["id"])
            rows.append([j["id"], j["kind"], j["status"], prog, (j["message"] or "")[:120], j["created_at"][:19]])
    rows.sort(key=lambda r: r[5], reverse=True)
    return pd.DataFrame(rows[:limit], columns=JOB_COLUMNS)


def cancel_job(ws: Workspace, job_id: str | None) -> str:
    if not job_id or not str(job_id).strip():
        raise gr.Error("no job to cancel")
    try:
        job = cancel(ws, str(job_id).strip())
    except KeyError as e:
        raise visitor_error(ws, e) from e
    return f"job `{job['id']}` is **{job['status']}**"


def default_base_url() -> str:
    return os.environ.get("LVR_LLM_BASE_URL", "")
