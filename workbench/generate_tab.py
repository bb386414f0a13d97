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


def build_generate_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    with gr.Row():
        with gr.Column(scale=3):
            kind = gr.Radio(list(g.JOB_KINDS), value="caption", label="job")
            kind_help = gr.Markdown(KIND_HELP["caption"])
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
                videos = gr.Dropdown([(f"{v['filename']} ({v['id'][:8]})", v["id"]) for v in ws.list_videos()],
                                     multiselect=True, label="only these videos (empty: all)")
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
            with gr.Row():
                start = gr.Button("Start job", variant="primary", elem_id="generate-start")
                stop = gr.Button("Cancel job", variant="stop")
        with gr.Column(scale=2):
            job_id = gr.Textbox(label="job id (Enter to watch another job)", max_lines=1, elem_id="generate-job")
            status = gr.Markdown("no job selected")
            bar = gr.HTML()
            log = gr.Textbox(label="log (last lines)", lines=8, max_lines=14, autoscroll=True)
            jobs = gr.Dataframe(g.jobs_frame(ws), interactive=False, wrap=True, max_height=260,
                                label="recent data jobs (click one to watch it)")
    failures = gr.Dataframe(headers=g.FAILURE_COLUMNS, interactive=False, wrap=True, max_height=300,
                            label="failed units of the job, with reasons")
    timer = gr.Timer(1.0, active=False)

    form = [kind, backend, base_url, model, api_key, concurrency, frames, overwrite, categories, per_category,
            attempts, rewrite, split, videos, dedup, threshold, balance]
    watch_out = [status, bar, log, failures, timer]

    def on_kind(k):
        return (KIND_HELP[k], gr.Group(visible=k != "filter"), gr.Group(visible=k == "caption"),
                gr.Group(visible=k == "generate"), gr.Group(visible=k == "filter"))

    def start_job(kind: str, backend: str, base_url: str, model: str, api_key: str, concurrency: float,
                  frames: float, overwrite: bool, categories: list[str], per_category: float, attempts: float,
                  rewrite: bool, split: str, videos: list[str], dedup: bool, threshold: float, balance_letters: bool,
                  request: gr.Request):
        req = g.JobRequest(kind=kind, backend=backend, base_url=(base_url or "").strip(), model=(model or "").strip(),
                           concurrency=int(concurrency or 0), frames=int(frames or 0), overwrite=bool(overwrite),
                           categories=list(categories or []), per_category=int(per_category or 0),
                           attempts=int(attempts or 0), rewrite=bool(rewrite), split=split or "",
                           videos=list(videos or []), dedup=bool(dedup), threshold=float(threshold),
                           balance_letters=bool(balance_letters))
        warning = g.caption_warning(ws, req)
        if warning:
            gr.Warning(warning)
        jid = g.start_job(ws, req, api_key=(api_key or "").strip() or None, who=username(request))
        return jid, f"started {kind} job `{jid}`" + (f"\n\n⚠ {warning}" if warning else ""), gr.Timer(active=True)

    def job_status(job_id: str):
        v = g.job_view(ws, job_id)
        return v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=not v["finished"])

    def cancel_job(job_id: str):
        msg = g.cancel_job(ws, job_id)
        v = g.job_view(ws, job_id)
        return msg + "\n\n" + v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=False)

    def job_failures(job_id: str = "") -> list[list]:
        """Failed units ([#, task, unit, video, category, backend, attempts, reason, raw]) of a job, or of all."""
        return g.failures_frame(ws, job_id or None).values.tolist()

    def pick_job(evt: gr.SelectData):
        row = evt.row_value or []
        return row[0] if row else gr.skip()

    def on_tick(job_id: str):
        v = g.job_view(ws, job_id)
        return (v["status"], v["bar"], v["log"], v["failures"], gr.Timer(active=not v["finished"]),
                g.jobs_frame(ws))           # the list follows the job while it runs

    kind.change(on_kind, kind, [kind_help, backend_box, caption_box, generate_box, filter_box], api_name=False)
    start.click(start_job, form, [job_id, status, timer], api_name="start_job") \
        .success(lambda: g.jobs_frame(ws), None, jobs, api_name=False)
    timer.tick(on_tick, job_id, [*watch_out, jobs], api_name=False)
    job_id.submit(job_status, job_id, watch_out, api_name="job_status")
    stop.click(cancel_job, job_id, watch_out, api_name="cancel_job") \
        .then(lambda: g.jobs_frame(ws), None, jobs, api_name=False)
    jobs.select(pick_job, None, job_id, api_name=False).success(job_status, job_id, watch_out, api_name=False)
    gr.api(job_failures, api_name="job_failures")
    if isinstance(Context.block, gr.Tab):
        def opened():
            return gr.Dropdown(choices=[(f"{v['filename']} ({v['id'][:8]})", v["id"]) for v in ws.list_videos()]), \
                g.jobs_frame(ws)

        Context.block.select(opened, None, [videos, jobs], api_name=False)
