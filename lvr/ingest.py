"""Ingest video files into a workspace: probe, verify decodable, dedup by content, cut clips.

    from lvr.ingest import ingest
    report = ingest(ws, ["videos/", "talk.mp4"], copy=True)
    print(report.added, report.duplicates, report.errors)

A bad or missing file (corrupt, truncated, empty, not a video, no such path) is reported by
name and cause and the batch goes on; it leaves no row behind (the video row and its clips are
written in one transaction after every check passed). Mirrored by `lvr ingest WORKSPACE PATH...`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from lvr.store import Workspace
from lvr.video import SamplingSpec, VideoError, clip_segments, content_hash, probe, sample_frames

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"}


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)          # new video ids
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, existing video id)
    errors: list[tuple[str, str]] = field(default_factory=list)      # (file, cause)

    @property
    def ok(self) -> bool:
        return not self.errors


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders walked recursively for video suffixes, in a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def ingest_file(ws: Workspace, path: Path, *, copy: bool = False, clip_seconds: float = 10.0,
                split: str | None = None, source: str = "ingest", meta: dict | None = None) -> tuple[str, bool]:
    """Ingest one file; returns (video id, newly added). Raises VideoError / OSError on a bad file."""
    if not path.exists():
        raise VideoError(path, "no such file")
    sha = content_hash(path)
    existing = ws.scalar("SELECT id FROM videos WHERE sha256 = ?", (sha,))
    if existing:
        return existing, False
    info = probe(path)
    # decode two frames spread over the video: catches truncated and undecodable streams early
    sample_frames(path, SamplingSpec(mode="exact", num_frames=2))
    with ws.transaction():
        vid = ws.add_video(
            path, sha256=sha, duration=info.duration, fps=info.fps, n_frames=info.n_frames, width=info.width,
            height=info.height, codec=info.codec, keyframe_interval=info.keyframe_interval, split=split,
            source=source, meta=meta, copy=copy,
        )
        ws.set_clips(vid, clip_segments(info.duration, clip_seconds))
    return vid, True


def ingest(ws: Workspace, paths: Iterable[str | Path], *, copy: bool = False, clip_seconds: float = 10.0,
           split: str | None = None, source: str = "ingest",
           progress: Callable[[Path], None] | None = None) -> IngestReport:
    report = IngestReport()
    for path in expand_paths(paths):
        try:
            vid, new = ingest_file(ws, path, copy=copy, clip_seconds=clip_seconds, split=split, source=source)
        except (VideoError, OSError, ValueError) as e:
            msg = str(e)
            report.errors.append((str(path), msg if str(path) in msg else f"{path}: {msg}"))
        else:
            (report.added.append(vid) if new else report.duplicates.append((str(path), vid)))
        if progress:
            progress(path)
    return report
