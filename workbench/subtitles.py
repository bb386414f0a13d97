"""WebVTT subtitles of a video's clip captions, written into the workspace cache for the player.

    path = write_captions_vtt(ws, video_id)      # <workspace>/cache/subtitles/<video id>.vtt
    gr.Video(value=str(ws.video_path(video_id)), subtitles=str(path))

One cue per captioned clip (its start → end; a long caption is split into a few consecutive cues
of whole sentences); an uncaptioned clip gets no cue. The file is
rewritten after every caption edit (atomically: a temporary file, then a rename) so the
player never reads a half-written file.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from lvr.store import Workspace


def vtt_time(seconds: float) -> str:
    """12.5 → '00:00:12.500' (WebVTT needs hours when a video may be longer than an hour)."""
    ms = max(0, round(float(seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


CUE_CHARS = 160
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def cue_text(caption: str) -> str:
    """A caption made safe for a cue: no blank lines (they end a cue) and no '-->' (it starts one)."""
    lines = [ln.strip() for ln in caption.replace("-->", "→").splitlines()]
    return "\n".join(ln for ln in lines if ln)


def chunks(text: str, max_chars: int = CUE_CHARS) -> list[str]:
    """Split a caption into readable cue texts: whole sentences, at most about `max_chars` each."""
    out: list[str] = []
    for sentence in _SENTENCE.split(" ".join(text.split())):
        if out and len(out[-1]) + 1 + len(sentence) <= max_chars:
            out[-1] += " " + sentence
        else:
            out.append(sentence)
    return [c for c in out if c]


def captions_vtt(clips: list[dict], max_chars: int = CUE_CHARS) -> str:
    """The WebVTT document of `clips` (dicts with start, end, caption, idx).

    A long caption (a paragraph per 10 s clip is common) becomes several consecutive cues of a
    few sentences, sharing the clip's time in proportion to their length, so the subtitles stay
    readable; together they hold the whole caption. Cue ids are `clip-<idx>` / `clip-<idx>.<k>`.
    """
    out = ["WEBVTT", ""]
    for c in clips:
        parts = chunks(cue_text(c.get("caption") or ""), max_chars)
        if not parts:
            continue
        start, end = float(c["start"]), float(c["end"])
        total = sum(len(p) for p in parts)
        t = start
        for k, part in enumerate(parts):
            t_end = end if k == len(parts) - 1 else t + (end - start) * len(part) / total
            # end 1 ms early: at a boundary the player would otherwise show two cues together
            cue_id = f"clip-{c.get('idx', 0)}" + (f".{k + 1}" if len(parts) > 1 else "")
            out += [cue_id, f"{vtt_time(t)} --> {vtt_time(max(t, t_end - 0.001))}", part, ""]
            t = t_end
    return "\n".join(out)


def subtitles_dir(ws: Workspace) -> Path:
    d = ws.root / "cache" / "subtitles"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_captions_vtt(ws: Workspace, video_id: str) -> Path:
    """Write (or rewrite) the captions of `video_id` as WebVTT; returns the file's path."""
    path = subtitles_dir(ws) / f"{video_id}.vtt"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(captions_vtt(ws.clips(video_id)), encoding="utf-8")
    tmp.replace(path)
    return path
