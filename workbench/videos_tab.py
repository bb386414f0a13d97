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

from types import SimpleNamespace

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


def _filter_bar() -> SimpleNamespace:
    """The list's search box, its split / captions / QA filters and a refresh button."""
    with gr.Row():
        search = gr.Textbox(label="Search (file name, video id or caption words)", scale=4,
                            placeholder="e.g. kitchen, red ball, 3f2a…")
        split = gr.Dropdown(SPLIT_CHOICES, value="any", label="split", scale=1)
        captions = gr.Dropdown(h.CAPTION_FILTERS, value="any", label="captions", scale=1)
        qa = gr.Dropdown(h.QA_FILTERS, value="any", label="QA review", scale=1)
        refresh = gr.Button("↻ Refresh", scale=0, min_width=90)
    return SimpleNamespace(search=search, split=split, captions=captions, qa=qa, refresh=refresh)


def _video_column() -> SimpleNamespace:
    """The open video: id, player, info, QA counts and keyframes."""
    with gr.Column(scale=3):
        video_id = gr.Textbox(label="video id", max_lines=1, elem_id="videos-id")
        player = gr.Video(label="player (captions as subtitles)", interactive=False, elem_id="videos-player")
        info = gr.Markdown()
        counts = gr.Dataframe(headers=["category", *QA_STATUSES, "total"], interactive=False,
                              label="QA items of this video: category × status")
        sheet = gr.Image(label="keyframes", interactive=False, height=200)
    return SimpleNamespace(video_id=video_id, player=player, info=info, counts=counts, sheet=sheet)


def _clip_column() -> SimpleNamespace:
    """The video's clips and the caption editor of the picked clip, with its history."""
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
    return SimpleNamespace(clips=clips, clip_id=clip_id, clip_label=clip_label, caption=caption, base=base,
                           save=save, reload_clip=reload_clip, saved=saved, history=history)


def _ingest_panel() -> SimpleNamespace:
    """The closed accordion that ingests uploaded video files, with its per-file report."""
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
    return SimpleNamespace(files=files, ingest_split=ingest_split, clip_seconds=clip_seconds, go=go, report=report)


def _layout(ws: Workspace) -> SimpleNamespace:
    """Every component of the tab in page order, with the input/output lists the events share."""
    bar = _filter_bar()
    table = gr.Dataframe(h.video_rows(ws), interactive=False, label="videos (click a row to open it)",
                         max_height=260, elem_id="videos-table")
    with gr.Row():
        video = _video_column()
        clip = _clip_column()
    ui = SimpleNamespace(**vars(bar), table=table, **vars(video), **vars(clip), **vars(_ingest_panel()))
    ui.filters = [ui.search, ui.split, ui.captions, ui.qa]
    ui.detail_out = [ui.video_id, ui.player, ui.info, ui.counts, ui.clips, ui.sheet, ui.clip_id, ui.clip_label,
                     ui.caption, ui.base, ui.history]
    ui.clip_out = [ui.clip_id, ui.clip_label, ui.caption, ui.base, ui.history, ui.player]
    return ui


class VideosHandlers:
    """The tab's event handlers on one workspace; what they show comes from `videos.py`. A click on an empty
    row leaves the `detail_size` (video) or `clip_size` (clip) outputs as they are."""

    def __init__(self, ws: Workspace, detail_size: int, clip_size: int):
        self.ws = ws
        self.detail_size = detail_size
        self.clip_size = clip_size

    def list_videos(self, text: str, split: str, captions: str, qa_review: str):
        return h.video_rows(self.ws, text, split, captions, qa_review)

    def open_video(self, video_id: str):
        d = h.video_detail(self.ws, video_id)
        return (d["id"], _player(d["path"], d["subtitles"], 0.0, label=f"{d['id']} (captions as subtitles)"),
                d["info"], d["counts"], d["clips"], str(d["sheet"]) if d["sheet"] else None, None, "", "", "", "")

    def pick_video(self, evt: gr.SelectData):
        row = evt.row_value or []
        return self.open_video(row[0]) if row else [gr.skip()] * self.detail_size

    def open_clip(self, clip_id: int):
        c = h.clip_detail(self.ws, clip_id)
        return c["id"], c["label"], c["caption"], c["caption"], c["history"], _player(position=c["start"])

    def pick_clip(self, evt: gr.SelectData):
        row = evt.row_value or []
        return self.open_clip(row[0]) if row else [gr.skip()] * self.clip_size

    def save_caption(self, clip_id: int, caption: str, loaded_caption: str | None, request: gr.Request):
        msg = h.save_caption(self.ws, clip_id, caption, loaded_caption, username(request))
        c = h.clip_detail(self.ws, clip_id)
        d = h.video_detail(self.ws, c["video_id"])
        return (msg, c["caption"], c["history"], d["clips"],
                _player(d["path"], d["subtitles"], c["start"], label=f"{d['id']} (captions as subtitles)"))

    def ingest(self, files: list[str], split: str, clip_seconds: float, progress=gr.Progress()):
        total = len(files or [])
        done = {"n": 0}

        def tick(_path):
            done["n"] += 1
            progress((done["n"], total), desc="ingesting")

        return h.ingest_uploads(self.ws, files, split, clip_seconds, progress=tick)


def _wire(ui: SimpleNamespace, hd: VideosHandlers) -> None:
    """List filters, opening a video or a clip, saving a caption and ingesting (both then refresh the list)."""
    ui.search.submit(hd.list_videos, ui.filters, ui.table, api_name="list_videos")
    ui.refresh.click(hd.list_videos, ui.filters, ui.table, api_name=False)
    for dd in (ui.split, ui.captions, ui.qa):
        dd.change(hd.list_videos, ui.filters, ui.table, api_name=False)
    ui.table.select(hd.pick_video, None, ui.detail_out, api_name=False)
    ui.video_id.submit(hd.open_video, ui.video_id, ui.detail_out, api_name="video_detail")
    ui.clips.select(hd.pick_clip, None, ui.clip_out, api_name=False)
    ui.clip_id.submit(hd.open_clip, ui.clip_id, ui.clip_out, api_name="clip_detail")
    ui.reload_clip.click(hd.open_clip, ui.clip_id, ui.clip_out, api_name=False)
    ui.save.click(hd.save_caption, [ui.clip_id, ui.caption, ui.base],
                  [ui.saved, ui.base, ui.history, ui.clips, ui.player], api_name="save_caption") \
        .success(hd.list_videos, ui.filters, ui.table, api_name=False)
    ui.go.click(hd.ingest, [ui.files, ui.ingest_split, ui.clip_seconds], ui.report, api_name="ingest") \
        .success(hd.list_videos, ui.filters, ui.table, api_name=False)


def build_videos_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    ui = _layout(ws)
    hd = VideosHandlers(ws, detail_size=len(ui.detail_out), clip_size=len(ui.clip_out))
    _wire(ui, hd)
    if isinstance(Context.block, gr.Tab):  # refresh the list whenever the tab is opened
        Context.block.select(hd.list_videos, ui.filters, ui.table, api_name=False)
