"""The Videos tab: searchable video list, player with caption subtitles, clip captions (edit + history), ingest.

    with gr.Tab("Videos"):
        build_videos_tab(ws)

Handlers live in `workbench/videos.py`; this module only lays out components and binds them.
API (gradio_client), each returning what the tab shows:

    client.predict("kitchen", "any", "any", "any", api_name="/list_videos")    # → video table
    client.predict(video_id, api_name="/video_detail")   # → player, info, counts, clips, contact sheet, …
    client.predict(clip_id, api_name="/clip_detail")     # → clip id, label, caption, loaded caption, history, player
    client.predict(clip_id, "new caption", "old caption", api_name="/save_caption")
    client.predict([handle_file("a.mp4")], "sft", 10, api_name="/ingest")      # → per-file report
"""
from __future__ import annotations

import gradio as gr
from gradio.context import Context

from lvr.store import QA_STATUSES, SPLITS, Workspace

from . import videos as h
from .identity import username

SPLIT_CHOICES = ["any", *SPLITS]


def _player(path: str | None = None, subtitles: str | None = None, position: float | None = None, label=None):
    kwargs = {}
    if path is not None:
        kwargs.update(value=path, subtitles=subtitles)
    if position is not None:
        kwargs["playback_position"] = float(position)
    if label:
        kwargs["label"] = label
    return gr.Video(**kwargs)


def build_videos_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    with gr.Row():
        search = gr.Textbox(label="Search (file name, video id or caption words)", scale=4,
                            placeholder="e.g. kitchen, red ball, 3f2a…")
        split = gr.Dropdown(SPLIT_CHOICES, value="any", label="split", scale=1)
        captions = gr.Dropdown(h.CAPTION_FILTERS, value="any", label="captions", scale=1)
        qa = gr.Dropdown(h.QA_FILTERS, value="any", label="QA review", scale=1)
        refresh = gr.Button("↻ Refresh", scale=0, min_width=90)
    table = gr.Dataframe(h.video_rows(ws), interactive=False, label="videos (click a row to open it)",
                         max_height=260, elem_id="videos-table")
    with gr.Row():
        with gr.Column(scale=3):
            video_id = gr.Textbox(label="video id", max_lines=1, elem_id="videos-id")
            player = gr.Video(label="player (captions as subtitles)", interactive=False, elem_id="videos-player")
            info = gr.Markdown()
            counts = gr.Dataframe(headers=["category", *QA_STATUSES, "total"], interactive=False,
                                  label="QA items of this video: category × status")
            sheet = gr.Image(label="keyframes", interactive=False, height=200)
        with gr.Column(scale=4):
            clips = gr.Dataframe(headers=h.CLIP_COLUMNS, interactive=False, wrap=True, max_height=360,
                                 label="clips and captions (click a clip: the player jumps to it)",
                                 column_widths=["11%", "5%", "9%", "9%", "36%", "15%", "15%"], elem_id="videos-clips")
            with gr.Group():
                with gr.Row():
                    clip_id = gr.Number(label="clip id", precision=0, scale=1, min_width=80)
                    clip_label = gr.Textbox(label="clip", interactive=False, scale=4)
                caption = gr.Textbox(label="caption (edit, then Save)", lines=3, elem_id="videos-caption")
                base = gr.Textbox(visible=False, label="caption as loaded")
                with gr.Row():
                    save = gr.Button("Save caption", variant="primary", elem_id="videos-save-caption")
                    reload_clip = gr.Button("Reload clip")
            saved = gr.Markdown()
            history = gr.HTML(label="caption history")
    with gr.Accordion("Ingest new videos", open=False):
        gr.Markdown("Uploaded files are copied into the workspace's `media/`, checked (probe + decode), "
                    "deduplicated by content and cut into clips. A bad file is reported with its cause; "
                    "the others go on.")
        with gr.Row():
            files = gr.File(file_count="multiple", file_types=["video"], type="filepath", label="video files",
                            scale=3)
            with gr.Column(scale=1):
                ingest_split = gr.Dropdown(["none", *SPLITS], value="none", label="split of the new videos")
                clip_seconds = gr.Number(10, label="clip length (s)", minimum=1)
                go = gr.Button("Ingest", variant="primary")
        report = gr.Dataframe(headers=h.INGEST_COLUMNS, interactive=False, wrap=True, label="ingest report")

    filters = [search, split, captions, qa]
    detail_out = [video_id, player, info, counts, clips, sheet, clip_id, clip_label, caption, base, history]
    clip_out = [clip_id, clip_label, caption, base, history, player]

    def list_videos(text: str, split: str, captions: str, qa_review: str):
        return h.video_rows(ws, text, split, captions, qa_review)

    def open_video(video_id: str):
        d = h.video_detail(ws, video_id)
        return (d["id"], _player(d["path"], d["subtitles"], 0.0, label=f"{d['id']} (captions as subtitles)"),
                d["info"], d["counts"], d["clips"], str(d["sheet"]) if d["sheet"] else None, None, "", "", "", "")

    def pick_video(evt: gr.SelectData):
        row = evt.row_value or []
        return open_video(row[0]) if row else [gr.skip()] * len(detail_out)

    def open_clip(clip_id: int):
        c = h.clip_detail(ws, clip_id)
        return c["id"], c["label"], c["caption"], c["caption"], c["history"], _player(position=c["start"])

    def pick_clip(evt: gr.SelectData):
        row = evt.row_value or []
        return open_clip(row[0]) if row else [gr.skip()] * len(clip_out)

    def save_caption(clip_id: int, caption: str, loaded_caption: str | None, request: gr.Request):
        msg = h.save_caption(ws, clip_id, caption, loaded_caption, username(request))
        c = h.clip_detail(ws, clip_id)
        d = h.video_detail(ws, c["video_id"])
        return (msg, c["caption"], c["history"], d["clips"],
                _player(d["path"], d["subtitles"], c["start"], label=f"{d['id']} (captions as subtitles)"))

    def ingest(files: list[str], split: str, clip_seconds: float, progress=gr.Progress()):
        total = len(files or [])
        done = {"n": 0}

        def tick(_path):
            done["n"] += 1
            progress((done["n"], total), desc="ingesting")

        return h.ingest_uploads(ws, files, split, clip_seconds, progress=tick)

    search.submit(list_videos, filters, table, api_name="list_videos")
    refresh.click(list_videos, filters, table, api_name=False)
    for dd in (split, captions, qa):
        dd.change(list_videos, filters, table, api_name=False)
    table.select(pick_video, None, detail_out, api_name=False)
    video_id.submit(open_video, video_id, detail_out, api_name="video_detail")
    clips.select(pick_clip, None, clip_out, api_name=False)
    clip_id.submit(open_clip, clip_id, clip_out, api_name="clip_detail")
    reload_clip.click(open_clip, clip_id, clip_out, api_name=False)
    save.click(save_caption, [clip_id, caption, base], [saved, base, history, clips, player], api_name="save_caption") \
        .success(list_videos, filters, table, api_name=False)
    go.click(ingest, [files, ingest_split, clip_seconds], report, api_name="ingest") \
        .success(list_videos, filters, table, api_name=False)
    if isinstance(Context.block, gr.Tab):  # refresh the list whenever the tab is opened
        Context.block.select(list_videos, filters, table, api_name=False)
