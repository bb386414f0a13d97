"""Assemble the workbench: `build_app(ws) -> gr.Blocks`.

Run it with `python app.py`; tests launch it in-process with `prevent_thread_lock=True`.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lvr.store import Workspace

VIDEO_COLUMNS = ["id", "filename", "duration", "split", "captions", "qa", "approved"]


def video_rows(ws: Workspace, text: str | None = None) -> list[list]:
    rows = []
    for v in ws.list_videos(text=text or None):
        rows.append([v["id"], v["filename"], round(v["duration"] or 0, 1), v["split"] or "",
                     f"{v['n_captioned']}/{v['n_clips']}", v["n_qa"], v["n_approved"]])
    return rows


def ensure_demo_workspace(path: Path, build: bool = True) -> Workspace:
    """Open the demo workspace, creating it on first run."""
    return Workspace.open(path, create=True)


def build_app(ws: Workspace) -> gr.Blocks:
    with gr.Blocks(title="LVR Workbench") as demo:
        gr.Markdown(f"# LVR Workbench\nWorkspace `{ws.root}`")
        with gr.Tab("Videos"):
            search = gr.Textbox(label="Search videos (file name or caption text)")
            table = gr.Dataframe(headers=VIDEO_COLUMNS, value=video_rows(ws), interactive=False)
            search.submit(lambda q: video_rows(ws, q), search, table, api_name="list_videos")
    return demo
