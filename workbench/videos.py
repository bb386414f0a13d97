"""Videos tab handlers (plain functions of the workspace): list, detail, clip captions, caption edits, ingest.

    rows = video_rows(ws, text="kitchen", captions="not captioned")
    detail = video_detail(ws, video_id)          # player path, WebVTT path, clips, counts
    save_caption(ws, clip_id, "new text", base="old text", who="alice")   # refuses if changed meanwhile
    report = ingest_uploads(ws, ["/tmp/a.mp4"], split="sft")

The Gradio wiring is in `videos_tab.py`; these functions only call `lvr` and return plain
data (pandas frames, strings, paths), so they are testable without a browser.
"""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import pandas as pd

from lvr.ingest import ingest
from lvr.store import CATEGORIES, QA_STATUSES, Workspace
from lvr.video import VideoError, contact_sheet

from .diffs import CSS as DIFF_CSS
from .diffs import word_diff
from .serving import served_video, visitor_error
from .subtitles import write_captions_vtt

VIDEO_COLUMNS = ["video", "file", "duration (s)", "split", "captioned clips", "QA", "pending", "draft",
                 "approved", "rejected"]
CLIP_COLUMNS = ["clip id", "#", "start", "end", "caption", "captioner", "edited by"]
CAPTION_FILTERS = ["any", "not captioned", "partly captioned", "fully captioned"]
QA_FILTERS = ["any", "no QA yet", "has pending", "fully reviewed"]
INGEST_COLUMNS = ["file", "result", "video", "detail"]
HUMAN_CAPTIONER = "human"
TABLE_CAPTION_CHARS = 180


def _caption_state(v: dict) -> str:
    if not v["n_captioned"]:
        return "not captioned"
    return "fully captioned" if v["n_captioned"] >= v["n_clips"] else "partly captioned"


def _qa_by_video(ws: Workspace) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in ws.query("SELECT video_id, status, count(*) AS n FROM qa GROUP BY video_id, status"):
        out.setdefault(r["video_id"], {})[r["status"]] = r["n"]
    return out


def video_rows(ws: Workspace, text: str | None = None, split: str | None = None, captions: str = "any",
               qa: str = "any") -> pd.DataFrame:
    """The video list: search (file name, id, caption text), split, caption state and QA review state."""
    by_status = _qa_by_video(ws)
    rows = []
    for v in ws.list_videos(split=None if split in (None, "", "any") else split, text=(text or "").strip() or None):
        counts = by_status.get(v["id"], {})
        n_qa = sum(counts.values())
        unreviewed = counts.get("pending", 0) + counts.get("draft", 0)
        if captions not in (None, "any") and _caption_state(v) != captions:
            continue
        if qa == "no QA yet" and n_qa:
            continue
        if qa == "has pending" and not unreviewed:
            continue
        if qa == "fully reviewed" and (not n_qa or unreviewed):
            continue
        rows.append([v["id"], v["filename"], round(v["duration"] or 0.0, 1), v["split"] or "",
                     f"{v['n_captioned']}/{v['n_clips']}", n_qa, counts.get("pending", 0), counts.get("draft", 0),
                     counts.get("approved", 0), counts.get("rejected", 0)])
    return pd.DataFrame(rows, columns=VIDEO_COLUMNS)


def counts_frame(ws: Workspace, video_id: str) -> pd.DataFrame:
    """QA items of one video: categories × statuses (plus totals)."""
    grid = {c: {s: 0 for s in QA_STATUSES} for c in CATEGORIES}
    for r in ws.query("SELECT category, status, count(*) AS n FROM qa WHERE video_id = ? GROUP BY category, status",
                      (video_id,)):
        grid.setdefault(r["category"], {s: 0 for s in QA_STATUSES})[r["status"]] = r["n"]
    rows = [[c, *(grid[c][s] for s in QA_STATUSES), sum(grid[c].values())] for c in grid]
    rows.append(["total", *(sum(grid[c][s] for c in grid) for s in QA_STATUSES), sum(r[-1] for r in rows)])
    return pd.DataFrame(rows, columns=["category", *QA_STATUSES, "total"])


def short(text: str | None, limit: int = TABLE_CAPTION_CHARS) -> str:
    """`text` cut at a word boundary to about `limit` characters (with …); the editor shows it whole."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def clip_frame(ws: Workspace, video_id: str) -> pd.DataFrame:
    """The clips table: captions shortened for the table (click a clip for the full text)."""
    rows = [[c["id"], c["idx"], round(c["start"], 2), round(c["end"], 2), short(c["caption"]), c["captioner"] or "",
             c["updated_by"] or ""] for c in ws.clips(video_id)]
    return pd.DataFrame(rows, columns=CLIP_COLUMNS)


def _video(ws: Workspace, video_id: str | None) -> dict:
    if not video_id or not str(video_id).strip():
        raise gr.Error("pick a video in the list (or type its id)")
    try:
        return ws.get_video(str(video_id).strip())
    except KeyError as e:
        raise visitor_error(ws, e) from e


def sheet_path(ws: Workspace, video_id: str) -> Path | None:
    """A cached contact sheet (8 keyframes, labelled mm:ss) of the video; None if it cannot be decoded."""
    out = ws.root / "cache" / "thumbs" / f"{video_id}-sheet.jpg"
    if not out.exists():
        try:
            data = contact_sheet(ws.video_path(video_id), n=8, cols=4, tile_width=160)
        except (VideoError, OSError, ValueError):
            return None
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return out


def video_detail(ws: Workspace, video_id: str | None) -> dict:
    """Everything the detail pane shows for one video."""
    v = _video(ws, video_id)
    path = served_video(ws, v["id"])
    if not path.exists():
        raise gr.Error(f"video {v['id']}: its file {path.name} is missing (moved or deleted?)")
    clips = ws.clips(v["id"])
    info = (f"### {html.escape(v['filename'])}\n`{v['id']}` · {v['duration']:.1f} s · {v['width']}×{v['height']} · "
            f"{v['fps']:.2f} fps · {v['codec']} · split **{v['split'] or '—'}** · source {v['source']} · "
            f"{sum(1 for c in clips if c['caption'])}/{len(clips)} clips captioned")
    return {"id": v["id"], "path": str(path), "subtitles": str(write_captions_vtt(ws, v["id"])), "info": info,
            "clips": clip_frame(ws, v["id"]), "counts": counts_frame(ws, v["id"]), "sheet": sheet_path(ws, v["id"])}


def _clip(ws: Workspace, clip_id) -> dict:
    if clip_id is None or clip_id == "":
        raise gr.Error("pick a clip in the clips table")
    try:
        return ws.get_clip(int(clip_id))
    except KeyError as e:
        raise visitor_error(ws, e) from e


def caption_history_html(ws: Workspace, clip_id: int) -> str:
    """Every caption the clip had, newest first, each with who wrote it, when, and a word diff to the previous."""
    clip = ws.get_clip(int(clip_id))
    hist = ws.caption_history(int(clip_id))
    # version k was written by whoever replaced version k-1 (the first by its captioner)
    versions = []
    for k, h in enumerate(hist):
        by = hist[k - 1]["replaced_by"] if k else None
        at = hist[k - 1]["replaced_at"] if k else None
        versions.append((h["caption"] or "", h["captioner"], by, at))
    if clip["caption"]:
        versions.append((clip["caption"], clip["captioner"], clip["updated_by"], clip["updated_at"]))
    if not versions:
        return "<i>no caption yet</i>"
    blocks = []
    for k in range(len(versions) - 1, -1, -1):
        text, captioner, by, at = versions[k]
        prev = versions[k - 1][0] if k else ""
        label = "current" if k == len(versions) - 1 and clip["caption"] else f"v{k + 1}"
        head = (f"{label} · {html.escape(captioner or '?')} · by <b>{html.escape(by or captioner or '?')}</b>"
                + (f" · {html.escape(at[:19].replace('T', ' '))}" if at else ""))
        body = word_diff(prev, text) if k else html.escape(text)
        blocks.append(f"<div class='lvr-rev'><div class='head'>{head}</div>{body}</div>")
    return f"<style>{DIFF_CSS}</style>" + "".join(blocks)


def clip_detail(ws: Workspace, clip_id) -> dict:
    """The caption editor's content for one clip: text, time range, history."""
    c = _clip(ws, clip_id)
    return {"id": c["id"], "video_id": c["video_id"], "start": float(c["start"]), "end": float(c["end"]),
            "caption": c["caption"] or "", "history": caption_history_html(ws, c["id"]),
            "label": f"clip #{c['idx']} · {c['start']:.1f}–{c['end']:.1f} s · {c['captioner'] or 'no captioner'}"}


def save_caption(ws: Workspace, clip_id, text: str, base: str | None, who: str) -> str:
    """Set a clip's caption as `who` (captioner "human"); the old one goes to the history.

    `base` is the caption the editor loaded: if the clip's caption changed since (someone else
    saved first) nothing is written and gr.Error says who changed it. None skips that check.
    """
    c = _clip(ws, clip_id)
    text = (text or "").strip()
    if not text:
        raise gr.Error("the caption is empty: write what happens in the clip")
    with ws.transaction():
        current = ws.get_clip(c["id"])
        if base is not None and (current["caption"] or "").strip() != (base or "").strip():
            raise gr.Error(f"clip {c['id']} was changed by {current['updated_by'] or current['captioner']} at "
                           f"{(current['updated_at'] or '?')[:19]} after you opened it; reload the clip "
                           "and apply your edit again (nothing was overwritten)")
        if (current["caption"] or "").strip() == text:
            return f"clip {c['id']}: caption unchanged"
        ws.set_caption(c["id"], text, captioner=HUMAN_CAPTIONER, who=who)
    write_captions_vtt(ws, c["video_id"])
    return f"clip {c['id']}: caption saved by {who}"


def ingest_uploads(ws: Workspace, files: list | None, split: str | None = None, clip_seconds: float = 10.0,
                   progress=None) -> pd.DataFrame:
    """Ingest uploaded files (copied into media/); one report row per file, errors with their cause."""
    paths = [Path(f if isinstance(f, (str, Path)) else getattr(f, "name", f)) for f in (files or [])]
    if not paths:
        raise gr.Error("choose one or more video files to ingest")
    if not clip_seconds or clip_seconds <= 0:
        raise gr.Error(f"clip length must be > 0 seconds, got {clip_seconds}")
    report = ingest(ws, paths, copy=True, clip_seconds=float(clip_seconds),
                    split=None if split in (None, "", "none") else split, progress=progress, source="upload")
    added = {ws.get_video(v)["filename"]: v for v in report.added}
    rows = []
    errors = dict(report.errors)
    dups = dict(report.duplicates)
    for p in paths:
        if str(p) in errors:
            rows.append([p.name, "error", "", errors[str(p)].replace(str(p), p.name)])
        elif str(p) in dups:
            rows.append([p.name, "duplicate", dups[str(p)], "the same file is already in the workspace"])
        elif p.name in added:
            v = ws.get_video(added[p.name])
            rows.append([p.name, "added", v["id"], f"{v['duration']:.1f} s, {len(ws.clips(v['id']))} clips"])
        else:
            rows.append([p.name, "error", "", "not ingested (unknown cause)"])
    return pd.DataFrame(rows, columns=INGEST_COLUMNS)
