"""Frames of a video: the sampling spec everyone builds, decoded directly or through a frame cache.

    from lvr.media.frames import frame_spec, video_frames, workspace_frames
    spec = frame_spec(8, start=10.0, end=20.0)          # SamplingSpec(mode="exact", num_frames=8, …)
    s = video_frames("clip.mp4", spec)                  # decoded every time
    s = video_frames(path, spec, cache_dir=ws.frames_cache_dir, sha=item_sha)   # decoded once, then cached
    s = workspace_frames(ws, ws.get_video(video_id), spec)   # a workspace video via its frame cache

A cache entry is keyed by (video content hash, `spec.key()`), so the same spec always finds
the same entry: `frame_spec` leaves every field it is not given at `SamplingSpec`'s default
(`max_frames` included), which keeps the keys of entries written before this module existed.
"""
from __future__ import annotations

import os
from typing import Sequence

from lvr.store import Workspace
from lvr.video import FrameCache, SampledFrames, SamplingSpec, cached_sample, sample_frames


def frame_spec(n_frames: int, *, mode: str = "exact", start: float | None = None, end: float | None = None,
               resize: Sequence[int] | None = None, max_frames: int | None = None) -> SamplingSpec:
    """`n_frames` uniform frames (of [start, end) when given), resized to (h, w) when `resize` is given;
    `max_frames` defaults to SamplingSpec's own default."""
    cap = {} if max_frames is None else {"max_frames": max_frames}
    return SamplingSpec(mode=mode, num_frames=n_frames, start=start, end=end,
                        resize=tuple(resize) if resize else None, **cap)


def video_frames(path: str | os.PathLike, spec: SamplingSpec, *, cache_dir: str | os.PathLike | None = None,
                 sha: str | None = None) -> SampledFrames:
    """`spec`'s frames of the video at `path`: through the frame cache in `cache_dir` when given (`sha`, the
    stored content hash, saves hashing the file), else decoded. Raises VideoError on an unreadable file."""
    if cache_dir is None:
        return sample_frames(path, spec)
    return cached_sample(path, spec, FrameCache(cache_dir), sha=sha)


def workspace_frames(ws: Workspace, video: dict, spec: SamplingSpec) -> SampledFrames:
    """`spec`'s frames of a workspace video (its row, `ws.get_video`), through the workspace's frame cache."""
    return video_frames(ws.video_path(video["id"]), spec, cache_dir=ws.frames_cache_dir, sha=video["sha256"])
