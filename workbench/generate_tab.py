"""The Generate tab: caption clips, generate reasoning QAs, filter them — as tracked background jobs.

    with gr.Tab("Generate"):
        build_generate_tab(ws)

Handlers live in `workbench/generate.py`. A `gr.Timer` polls the job row while a job runs.
API (gradio_client), inputs in the order of the form:

    job_id, status = client.predict("caption", "openai", "http://127.0.0.1:8000/v1", "gpt-4o-mini", "", 8, 8,
                                    False, ["temporal"], 1, 2, True, "", [], True, 0.9, False,
                                    api_name="/start_job")
    client.predict(job_id, api_name="/job_status")   # → status, progress bar, log, failures, timer
    client.predict(job_id, api_name="/cancel_job")
    client.predict("", api_name="/job_failures")      # failures of every job (or of one job id)
"""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
from gradio.context import Context

from lvr.store import CATEGORIES, SPLITS, Workspace

from . import generate as g
from .identity import username

KIND_HELP = {
    "caption": "**Caption**: sample N frames of every ~10 s clip and ask a vision model for one caption per clip.",
    "generate": "**Generate QAs**: from the clip captions, one reasoning question per video × category × index "
                "(with a second call rewriting the reasoning as if watching).",
    "filter": "**Filter**: mark near-duplicate questions (MiniLM cosine) and/or balance the answer letters.",
}


def _video_choices(ws: Workspace) -> list[tuple[str, str]]:
    return [(f"{v['filename']} ({v['id'][:8]})", v["id"]) for v in ws.list_videos()]


def _backend_box(ws: Workspace) -> SimpleNamespace:
    """The backend group (hidden for filter jobs): backend, base URL, model, API key, concurrency, videos."""
    with gr.Group() as backend_box:
        with gr.Row():
            backend = gr.Dropdown(list(g.BACKENDS), value="openai", label="backend", scale=1,
                                  info="openai: any OpenAI-compatible server (vLLM, SGLang, …)")
            base_url = gr.Textbox(g.default_base_url(), label="base URL", scale=2,
                                  placeholder="required for openai: e.g. http://127.0.0.1:8000/v1 or "
                                              "https://api.openai.com/v1")
        with gr.Row():
            model = gr.Textbox(label="model", placeholder="e.g. Qwen2.5-VL-72B-Instruct", scale=2)
            api_key = gr.Textbox(label="API key (kept out of the job config)", type="password", scale=2)
            concurrency = gr.Number(8, label="concurrency", precision=0, scale=1)
        videos = gr.Dropdown(_video_choices(ws), multiselect=True, label="only these videos (empty: all)")
    return SimpleNamespace(backend_box=backend_box, backend=backend, base_url=base_url, model=model,
                           api_key=api_key, concurrency=concurrency, videos=videos)


def _kind_boxes() -> SimpleNamespace:
    """The settings of each job kind (caption, generate, filter; one shown at a time) and the split."""
    with gr.Group(visible=True) as caption_box:
        with gr.Row():
            frames = gr.Number(8, label="frames per clip", precision=0)
            overwrite = gr.Checkbox(False, label="caption again clips already captioned by this model")
    with gr.Group(visible=False) as generate_box:
        categories = gr.CheckboxGroup(list(CATEGORIES), value=list(CATEGORIES), label="categories")
        with gr.Row():
            per_category = gr.Number(1, label="items per category per video", precision=0)
            attempts = gr.Number(2, label="attempts per item", precision=0)
            rewrite = gr.Checkbox(True, label="rewrite reasoning as if watching")
    split = gr.Dropdown(["", *SPLITS], value="", label="split (generate: of new items; filter: only this)")
    with gr.Group(visible=False) as filter_box:
        with gr.Row():
            dedup = gr.Checkbox(True, label="mark near-duplicates")
            threshold = gr.Slider(0.5, 1.0, 0.9, step=0.01, label="duplicate cosine threshold")
            balance = gr.Checkbox(False, label="balance answer letters")
    return SimpleNamespace(caption_box=caption_box, frames=frames, overwrite=overwrite, generate_box=generate_box,
                           categories=categories, per_category=per_category, attempts=attempts, rewrite=rewrite,
                           split=split, filter_box=filter_box, dedup=dedup, threshold=threshold, balance=balance)


def _job_form(ws: Workspace) -> SimpleNamespace:
    """The left column: the job kind and its help, the backend, the kind's settings, Start and Cancel."""
    with gr.Column(scale=3):
        kind = gr.Radio(list(g.JOB_KINDS), value="caption", label="job")
        kind_help = gr.Markdown(KIND_HELP["caption"])
        backend = _backend_box(ws)
        boxes = _kind_boxes()
        with gr.Row():
            start = gr.Button("Start job", variant="primary", elem_id="generate-start")
            stop = gr.Button("Cancel job", variant="stop")
    return SimpleNamespace(kind=kind, kind_help=kind_help, **vars(backend), **vars(boxes), start=start, stop=stop)


def _job_watch(ws: Workspace) -> SimpleNamespace:
    """The right column: the watched job (id, status, progress bar, log) and the recent jobs."""
    with gr.Column(scale=2):
        job_id = gr.Textbox(label="job id (Enter to watch another job)", max_lines=1, elem_id="generate-job")
        status = gr.Markdown("no job selected")
        bar = gr.HTML()
        log = gr.Textbox(label="log (last lines)", lines=8, max_lines=14, autoscroll=True)
        jobs = gr.Dataframe(g.jobs_frame(ws), interactive=False, wrap=True, max_height=260,
                            label="recent data jobs (click one to watch it)")
    return SimpleNamespace(job_id=job_id, status=status, bar=bar, log=log, jobs=jobs)


def _layout(ws: Workspace) -> SimpleNamespace:
    """Every component of the tab in page order, with the form (the /start_job inputs) and the watch outputs."""
    with gr.Row():
        left = _job_form(ws)
        right = _job_watch(ws)
    failures = gr.Dataframe(headers=g.FAILURE_COLUMNS, interactive=False, wrap=True, max_height=300,
                            label="failed units of the job, with reasons")
    timer = gr.Timer(1.0, active=False)
    ui = SimpleNamespace(**vars(left), **vars(right), failures=failures, timer=timer)
    ui.form = [ui.kind, ui.backend, ui.base_url, ui.model, ui.api_key, ui.concurrency, ui.frames, ui.overwrite,
               ui.categories, ui.per_category, ui.attempts, ui.rewrite, ui.split, ui.videos, ui.dedup, ui.threshold,
               ui.balance]
    ui.watch_out = [ui.status, ui.bar, ui.log, ui.failures, ui.timer]
    return ui


def on_kind(k):
    """The help line and the groups the job kind uses (the backend is hidden for filter jobs)."""
    return (KIND_HELP[k], gr.Group(visible=k != "filter"), gr.Group(visible=k == "caption"),
            gr.Group(visible=k == "generate"), gr.Group(visible=k == "filter"))


def pick_job(evt: gr.SelectData):
    row = evt.row_value or []
    return row[0] if row else gr.skip()


class GenerateHandlers:
    """The tab's event handlers on one workspace; jobs are started, read and cancelled by `generate.py`."""

    def __init__(self, ws: Workspace):
        self.ws = ws

    def start_job(self, kind: str, backend: str, base_url: str, model: str, api_key: str, concurrency: float,
                  frames: float, overwrite: bool, categories: list[str], per_category: float, attempts: float,
                  rewrite: bool, split: str, videos: list[str], dedup: bool, threshold: float, balance_letters: bool,
                  request: gr.Request):
        req = g.JobRequest(kind=kind, backend=backend, base_url=(base_url or "").strip(), model=(model or "").strip(),
                           concurrency=int(concurrency or 0), frames=int(frames or 0), overwrite=bool(overwrite),
                           categories=list(categories or []), per_category=int(per_category or 0),
                           attempts=int(attempts or 0), rewrite=bool(rewrite), split=split or "",
                           videos=list(videos or []), dedup=bool(dedup), threshold=float(threshold),
                           balance_letters=bool(balance_letters))
        warning = g.caption_warning(self.ws, req)
        if warning:
            gr.Warning(warning)
        jid = g.start_job(self.ws, req, api_key=(api_key or "").strip() or None, who=username(request))
        return jid, f"started {kind} job `{jid}`" + (f"\n\n⚠ {warning}" if warning else ""), gr.Timer(active=True)

    def job_status(self, job_id: str):
        v = g.job_view(self.ws, job_id)
        return v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=not v["finished"])

    def cancel_job(self, job_id: str):
        msg = g.cancel_job(self.ws, job_id)
        v = g.job_view(self.ws, job_id)
        return msg + "\n\n" + v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=False)

    def job_failures(self, job_id: str = "") -> list[list]:
        """Failed units ([#, task, unit, video, category, backend, attempts, reason, raw]) of a job, or of all."""
        return g.failures_frame(self.ws, job_id or None).values.tolist()

    def on_tick(self, job_id: str):
        v = g.job_view(self.ws, job_id)
        return (v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=not v["finished"]),
                g.jobs_frame(self.ws))           # the list follows the job while it runs

    def recent_jobs(self):
        return g.jobs_frame(self.ws)

    def opened(self):
        return gr.Dropdown(choices=_video_choices(self.ws)), g.jobs_frame(self.ws)


def _wire(ui: SimpleNamespace, h: GenerateHandlers) -> None:
    """Kind switch, start (then the job list), timer polling, watch by id or by click, cancel, failures API."""
    ui.kind.change(on_kind, ui.kind, [ui.kind_help, ui.backend_box, ui.caption_box, ui.generate_box, ui.filter_box],
                   api_name=False)
    ui.start.click(h.start_job, ui.form, [ui.job_id, ui.status, ui.timer], api_name="start_job") \
        .success(h.recent_jobs, None, ui.jobs, api_name=False)
    ui.timer.tick(h.on_tick, ui.job_id, [*ui.watch_out, ui.jobs], api_name=False)
    ui.job_id.submit(h.job_status, ui.job_id, ui.watch_out, api_name="job_status")
    ui.stop.click(h.cancel_job, ui.job_id, ui.watch_out, api_name="cancel_job") \
        .then(h.recent_jobs, None, ui.jobs, api_name=False)
    ui.jobs.select(pick_job, None, ui.job_id, api_name=False) \
        .success(h.job_status, ui.job_id, ui.watch_out, api_name=False)
    gr.api(h.job_failures, api_name="job_failures")


def build_generate_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    ui = _layout(ws)
    h = GenerateHandlers(ws)
    _wire(ui, h)
    if isinstance(Context.block, gr.Tab):        # opening the tab refreshes the video choices and the job list
        Context.block.select(h.opened, None, [ui.videos, ui.jobs], api_name=False)
