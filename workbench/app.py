"""Assemble the workbench: `build_app(ws) -> gr.Blocks`, one module per tab; `ensure_demo_workspace`.

    python app.py [--workspace DIR]                    # the real entry point (workbench/launch.py)
    demo = build_app(Workspace.open("ws", create=True))
    demo.launch(prevent_thread_lock=True, allowed_paths=[str(ws.root)])   # how the tests run it

Tabs (in order): Videos, Generate, Review, then those other modules provide (Train, Evaluate,
Chat…) when present. The Review tab's keyboard shortcuts are installed by a page-load script
(`workbench/shortcuts.py`), so they need nothing from `launch()`.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import gradio as gr

from lvr.store import Workspace

from .diffs import CSS as DIFF_CSS
from .shortcuts import KEYBOARD_JS

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
CSS = DIFF_CSS + """
#review-banner p {margin: 0}
#review-header {font-size: 0.95em}
"""


def available_tabs() -> list[tuple[str, object]]:
    out = []
    for label, module, fn in TABS:
        if importlib.util.find_spec(module) is None:
            continue
        out.append((label, getattr(importlib.import_module(module), fn)))
    return out


def allowed_paths(ws: Workspace) -> list[str]:
    """What `launch(allowed_paths=…)` should serve: the workspace, plus the folders of videos that were
    ingested by reference (`lvr ingest --link`) and so live outside it (the registered media roots)."""
    roots = {str(ws.root)}
    for v in ws.list_videos():
        path = ws.resolve(v["path"])
        if not path.is_relative_to(ws.root):
            roots.add(str(path.parent))
    return sorted(roots)


def _stats_line(ws: Workspace) -> str:
    s = ws.stats()
    by = s["qa_by_status"]
    return (f"Workspace `{ws.root}` · {s['videos']} videos · {s['captioned_clips']}/{s['clips']} clips captioned · "
            f"{s['qa']} QA items ({by.get('approved', 0)} approved, {by.get('pending', 0)} pending)")


def build_app(ws: Workspace) -> gr.Blocks:
    """The whole workbench on one workspace."""
    with gr.Blocks(title="LVR Workbench") as demo:
        gr.HTML(f"<style>{CSS}</style>", padding=False)
        with gr.Row():
            gr.Markdown("## LVR Workbench — long-video reasoning data, training and evaluation")
        stats = gr.Markdown(_stats_line(ws))
        for label, build in available_tabs():
            with gr.Tab(label, id=label.lower()) as tab:
                build(ws)
            tab.select(lambda: _stats_line(ws), None, stats, api_name=False)
        demo.load(None, None, None, js=KEYBOARD_JS)
    return demo


def demo_corpus_config():
    """The demo corpus: 6 synthetic 2-minute videos (lvr.synth) with ground-truth captions and pending QAs."""
    from lvr.synth import SynthConfig, WorldConfig

    return SynthConfig(videos=6, seed=0, world=WorldConfig(minutes=2), workers=2, progress=True)


def ensure_demo_workspace(path: Path, build: bool = True) -> Workspace:
    """Open the demo workspace (creating it); with `build`, an empty one gets the synthetic demo corpus (~10 s)."""
    ws = Workspace.open(path, create=True)
    if build and not ws.list_videos():
        from lvr.synth import synth_workspace

        print(f"building the demo corpus into {ws.root} (lvr.synth: 6 videos x 2 min) …", flush=True)
        synth_workspace(ws, demo_corpus_config())
    return ws
