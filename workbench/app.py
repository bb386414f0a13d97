"""Assemble the workbench: `build_app(ws) -> gr.Blocks`, one module per tab; the demo's quick SFT job.

    python app.py [--workspace DIR]                    # the real entry point (workbench/launch.py)
    demo = build_app(ws := Workspace.open("ws", create=True))      # workbench.serving: what may be served
    demo.launch(prevent_thread_lock=True, allowed_paths=allowed_paths(ws),   # how the tests run it
                blocked_paths=blocked_paths(ws))

    ws = ensure_demo_workspace("workspaces/demo")     # lvr.recipe.demo: corpus, review round, base model
    job = start_demo_training(ws)                      # quick SFT as a tracked job, unless one exists

Tabs (in order): Videos, Generate, Review, then those other modules provide (Train, Evaluate,
Chat…) when present. The Review tab's keyboard shortcuts are installed by a page-load script
(`workbench/shortcuts.py`), so they need nothing from `launch()`.

The demo workspace is built by `lvr.recipe.demo.ensure_demo_workspace` (each step once, recorded in
`<workspace>/demo.json`): the "Build the demo" button of an empty workspace calls it.
`start_demo_training` then launches a short CoT-SFT of its base model exactly as the Train tab's
button does (`train.launch_training`, a tracked `lvr.jobs` subprocess), so the app opens at
once, the Train tab shows the run's curves, and its checkpoint appears in Chat and Evaluate about
a minute later.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

import gradio as gr

from lvr.jobs import refresh
from lvr.recipe.demo import DEMO_BASE, demo_state, ensure_demo_workspace, record_demo
from lvr.store import Workspace

from .diffs import CSS as DIFF_CSS
from .review_tab import REVIEW_CSS
from .shortcuts import KEYBOARD_JS
from .train import FORM, launch_training

# (tab label, module, builder function): a tab whose module is not in the tree (yet) is left out;
# an error while importing an existing module is raised, never hidden.
TABS = [
    ("Videos", "workbench.videos_tab", "build_videos_tab"),
    ("Generate", "workbench.generate_tab", "build_generate_tab"),
    ("Review", "workbench.review_tab", "build_review_tab"),
    ("Train", "workbench.train_tab", "build_train_tab"),
    ("Evaluate", "workbench.eval_tab", "build_eval_tab"),
    ("Chat", "workbench.chat_tab", "build_chat_tab"),
]
# Table headers never break inside a word ("star/t", "captio/ner"): Gradio's own `.header.wrap` span rule is more
# specific than a plain selector, hence !important; a header wraps at its spaces only.
TABLE_CSS = """
.table-wrap th, .table-wrap th span, table thead th .header-content {word-break: keep-all !important;
  overflow-wrap: normal !important; hyphens: none !important}
.table-wrap th span.header {white-space: nowrap !important}
"""
# Chat: the model's reasoning (the collapsible "Reasoning" block) reads at the normal text size and colour.
CHAT_CSS = """
#chat-chatbot .thought-group, #chat-chatbot .thought-group .message-content,
#chat-chatbot .thought-group .message-content * {font-size: inherit !important; opacity: 1 !important;
  color: var(--body-text-color) !important}
"""
CSS = DIFF_CSS + REVIEW_CSS + TABLE_CSS + CHAT_CSS
EMPTY_HINT = ("### This workspace is empty\n"
              "Add your own videos in the **Videos** tab (Ingest), then caption them and generate QA items in "
              "**Generate**. Or build the demo here: 6 synthetic 2-minute videos with captions, QA items and a "
              "first review round, plus a tiny base model (about 30 s; `python app.py --workspace DIR --demo` "
              "does the same from the shell).")
STATS_REFRESH_S = 10.0


def available_tabs() -> list[tuple[str, object]]:
    out = []
    for label, module, fn in TABS:
        if importlib.util.find_spec(module) is None:
            continue
        out.append((label, getattr(importlib.import_module(module), fn)))
    return out


def _stats_line(ws: Workspace) -> str:
    s = ws.stats()
    by = s["qa_by_status"]
    return (f"Workspace `{ws.root.name}` · {s['videos']} videos · {s['captioned_clips']}/{s['clips']} clips "
            f"captioned · {s['qa']} QA items ({by.get('approved', 0)} approved, {by.get('rejected', 0)} rejected, "
            f"{by.get('pending', 0)} pending)")


def build_app(ws: Workspace) -> gr.Blocks:
    """The whole workbench on one workspace."""
    with gr.Blocks(title="LVR Workbench") as demo:
        gr.HTML(f"<style>{CSS}</style>", padding=False)
        with gr.Row():
            gr.Markdown("## LVR Workbench — long-video reasoning data, training and evaluation")
        stats = gr.Markdown(_stats_line(ws), elem_id="app-stats")
        empty = not ws.list_videos()
        with gr.Group(visible=empty, elem_id="app-empty") as empty_box:
            gr.Markdown(EMPTY_HINT)
            build_demo = gr.Button("Build the demo corpus in this workspace", variant="primary", size="sm",
                                   elem_id="app-build-demo")
            demo_msg = gr.Markdown()
        for label, build in available_tabs():
            with gr.Tab(label, id=label.lower()) as tab:
                build(ws)
            tab.select(lambda: _stats_line(ws), None, stats, api_name=False)
        # the header counts follow ingests, generation and reviews made anywhere (other tabs, jobs, the CLI)
        gr.Timer(STATS_REFRESH_S).tick(lambda: _stats_line(ws), None, stats, api_name=False, show_progress="hidden")

        def on_build_demo():
            if ws.list_videos():
                return gr.Group(visible=False), "", _stats_line(ws)
            ensure_demo_workspace(ws.root)
            return (gr.Group(visible=False), "demo built: open a tab to see it", _stats_line(ws))

        build_demo.click(on_build_demo, None, [empty_box, demo_msg, stats], api_name="build_demo",
                         concurrency_limit=1)
        demo.load(None, None, None, js=KEYBOARD_JS)
    return demo


# The demo's quick SFT (the demo workspace itself is built by lvr.recipe.demo): 300 steps of 2 items x 4 frames,
# one thread: about a minute on two idle cores (~0.1 s a step plus decoding the frames once). Greedy answers show
# real `<think>` reasoning from ~200 steps on; the recipe's 60 steps are too few for that.
DEMO_RECIPE = "configs/tiny/sft.yaml"
DEMO_SFT_OVERRIDES = ("max_steps=300", "save_every=0", "eval_every=50")


def start_demo_training(ws: Workspace) -> str | None:
    """Launch the quick demo SFT as a tracked job unless the workspace has an SFT checkpoint or the
    demo job was launched before; returns the id of a demo job that is queued or running, else None.

    The job is started by `train.launch_training` (what the Train tab's Launch button calls) on
    `DEMO_RECIPE` with `DEMO_SFT_OVERRIDES`, one process with OMP_NUM_THREADS=1 unless set (the
    tiny model gains nothing from more threads, and the UI keeps the other core). A demo job that
    ended without a checkpoint is not relaunched: the Train tab shows it and can resume it.
    """
    job_id = demo_state(ws).get("sft_job")
    if job_id:
        try:
            job = refresh(ws, job_id)
        except KeyError:
            job = None
        if job and job["status"] in ("queued", "running"):
            return job_id
        if job and not ws.list_checkpoints(stage="sft"):
            print(f"the demo SFT job {job_id} ended {job['status']} without a checkpoint: see the Train tab "
                  "(Resume job, or launch another)", flush=True)
        if job:
            return None
    if ws.list_checkpoints(stage="sft"):
        return None
    base = demo_state(ws).get("base") or DEMO_BASE
    values = [base if key == "model" else None for key, _, _ in FORM]
    job_id, _ = launch_training(ws, "sft", DEMO_RECIPE, 1, "\n".join(DEMO_SFT_OVERRIDES), *values,
                                env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    record_demo(ws, sft_job=job_id)
    return job_id
