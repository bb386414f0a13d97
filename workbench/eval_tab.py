"""The Evaluate tab: launch eval jobs, read runs (category bars, frames curves, comparisons), browse items.

    with gr.Tab("Evaluate"):
        build_eval_tab(ws)

Everything is computed by `lvr.eval` (the same figures as the notebooks and runs/<id>/*.html) and
evaluations run as `lvr.jobs` subprocesses (`python -m lvr.eval run …`), never in the UI
process. Every handler has an `eval_*` api_name, so `gradio_client` can drive the tab:

    client.predict("ref:random", "eval", "", 0, api_name="/eval_launch")   # → job id, status
    client.predict(["eval-a", "eval-b"], api_name="/eval_compare")        # → deltas figure, table
    client.predict(["eval-a", "eval-b"], "all", "flipped", api_name="/eval_items")
    client.predict("sft-…", api_name="/eval_pick_answerer")    # → frames: what the checkpoint was trained on

Handlers live in `workbench/eval.py`: plain functions of the workspace (`launch_eval(ws, …)`,
`item_rows(ws, …)`) bound in `build_eval_tab`, so they are also usable and testable without a browser.
"""
from __future__ import annotations

from functools import partial

import gradio as gr
from gradio.context import Context

from lvr.store import CATEGORIES

from . import eval as ev


def build_eval_tab(ws) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    with gr.Accordion("Launch an evaluation", open=True):
        with gr.Row():
            who = gr.Dropdown(ev.answerer_choices(ws), label="checkpoint or reference answerer", scale=3,
                              allow_custom_value=True)
            split = gr.Dropdown(ev.SPLITS, value="eval", label="split", scale=1)
            frames = gr.Textbox("16", label="frames (8,16,32 → sweep)", scale=1)
            limit = gr.Number(0, label="limit (first N items, 0 = all)", precision=0, scale=1)
            shuffled = gr.Checkbox(False, label="another video's frames (does it use the video?)", scale=1)
        with gr.Row():
            go = gr.Button("Launch eval job", variant="primary")
            stop = gr.Button("Cancel job", variant="stop")
            job = gr.Textbox(label="job id (Enter to watch another job)", scale=2)
        status = gr.Markdown("no job")
        log = gr.Textbox(label="log (last lines)", lines=6, max_lines=12, autoscroll=True)
        timer = gr.Timer(2.0, active=False)

    with gr.Row():
        refresh_btn = gr.Button("↻ Refresh runs", scale=0)
        picked = gr.Dropdown([r["id"] for r in ws.list_eval_runs()], multiselect=True, scale=4,
                             allow_custom_value=True,
                             label="runs (the first is the baseline of comparisons and flip filters)")
    runs = gr.Dataframe(ev.runs_frame(ws), interactive=False, label="eval runs")
    with gr.Row():
        show_bars = gr.Button("Category bars")
        show_cmp = gr.Button("Compare runs")
    bars = gr.Plot(label="accuracy by category (95 % bootstrap CI)")
    deltas = gr.Plot(label="deltas vs baseline (paired bootstrap CI)")
    cmp_table = gr.Dataframe(headers=ev.CMP_COLUMNS, interactive=False, label="deltas and McNemar p-values")
    with gr.Row():
        sweep = gr.Dropdown(ev.sweep_ids(ws), label="frames sweep", scale=3, allow_custom_value=True)
        show_sweep = gr.Button("Frames curve", scale=1)
    curve = gr.Plot(label="accuracy vs frames")
    curve_text = gr.Textbox(label="sweep table", lines=6)

    gr.Markdown("### Items")
    with gr.Row():
        category = gr.Dropdown(["all", *CATEGORIES], value="all", label="category")
        flip = gr.Dropdown(ev.FLIPS, value="all", label="flipped between the first two runs")
        list_items = gr.Button("List items")
    items = gr.Dataframe(headers=ev.ITEM_COLUMNS, interactive=False, wrap=True,
                         label="items (pick runs above, then List items; click a row)")
    qa_id = gr.Number(None, label="item id", precision=0)
    with gr.Row():
        detail = gr.Markdown()
        video = gr.Video(label="clip", interactive=False)
    side = gr.Dataframe(headers=["field", "(pick an item)"], interactive=False, wrap=True,
                        label="answers side by side")

    def lists():
        ids = [r["id"] for r in ws.list_eval_runs()]
        return (ev.runs_frame(ws), gr.Dropdown(choices=ids), gr.Dropdown(choices=ev.sweep_ids(ws)),
                gr.Dropdown(choices=ev.answerer_choices(ws)))

    def on_launch(a, s, f, n, shuffle=False):
        job_id, md = ev.launch_eval(ws, a, s, f, n, shuffle)
        return job_id, md, gr.Timer(active=True)

    def on_tick(job_id):
        md, tail, done = ev.job_status(ws, job_id)
        return md, tail, gr.Timer(active=not done), (ev.runs_frame(ws) if done else gr.skip())

    def on_cancel(job_id):
        ev.cancel_eval(ws, job_id)
        md, tail, _ = ev.job_status(ws, job_id)
        return md, tail, gr.Timer(active=False)

    listed = [runs, picked, sweep, who]
    refresh_btn.click(lists, None, listed, api_name="eval_refresh")
    who.input(partial(ev.frames_for, ws), who, frames, api_name="eval_pick_answerer")
    go.click(on_launch, [who, split, frames, limit, shuffled], [job, status, timer], api_name="eval_launch")
    timer.tick(on_tick, job, [status, log, timer, runs], api_name="eval_job_status")
    stop.click(on_cancel, job, [status, log, timer], api_name="eval_cancel")
    show_bars.click(partial(ev.bars_figure, ws), picked, bars, api_name="eval_bars")
    show_cmp.click(partial(ev.comparison, ws), picked, [deltas, cmp_table], api_name="eval_compare")
    show_sweep.click(partial(ev.sweep_view, ws), sweep, [curve, curve_text], api_name="eval_sweep")
    list_items.click(partial(ev.item_rows, ws), [picked, category, flip], items, api_name="eval_items")
    items.select(ev.pick_item, None, qa_id, api_name="eval_pick_item")
    qa_id.change(partial(ev.item_detail, ws), [qa_id, picked], [detail, video, side], api_name="eval_item")
    job.submit(lambda j: gr.Timer(active=bool(j and j.strip())), job, timer, api_name="eval_watch")
    if isinstance(Context.block, gr.Tab):  # refresh the lists whenever the enclosing tab is opened
        Context.block.select(lists, None, listed, api_name="eval_tab_opened")
