"""lvr.media.frames: the specs keep the frame-cache keys callers wrote before, cached ≡ decoded frames,
workspace videos go through the workspace frame cache under their stored hash.

    .venv/bin/pytest tests/media/test_frames.py
"""
from __future__ import annotations

import numpy as np
import pytest

from lvr.ingest import ingest_file
from lvr.media import frame_spec, video_frames, workspace_frames
from lvr.store import Workspace
from lvr.video import SamplingSpec, VideoError
from lvr.video.encode import numbered_frames, write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("media") / "v.mp4", numbered_frames(90, 64, 64), fps=10)


@pytest.mark.parametrize("kwargs, spec", [
    ({}, SamplingSpec(mode="exact", num_frames=8)),                                   # chat, eval, CLI
    ({"start": 10, "end": 20}, SamplingSpec(mode="exact", num_frames=8, start=10, end=20)),   # captioning
    ({"resize": (32, 32), "max_frames": 8}, SamplingSpec(num_frames=8, resize=(32, 32), max_frames=8)),  # perception
    ({"mode": "keyframe", "resize": [24, 32], "max_frames": 8},                         # training
     SamplingSpec(mode="keyframe", num_frames=8, resize=(24, 32), max_frames=8)),
    ({"resize": ()}, SamplingSpec(num_frames=8)),
])
def test_frame_spec_keeps_the_cache_key(kwargs, spec):
    made = frame_spec(8, **kwargs)
    assert made == spec and made.key() == spec.key()


def test_cached_frames_equal_decoded_frames(tmp_path, video):
    spec = frame_spec(5)
    decoded = video_frames(video, spec)
    first = video_frames(video, spec, cache_dir=tmp_path)
    hit = video_frames(video, spec, cache_dir=tmp_path)
    assert decoded.source != "cache" and hit.source == "cache"
    for s in (first, hit):
        assert np.array_equal(np.asarray(s.frames), decoded.frames) and s.timestamps == decoded.timestamps


def test_workspace_frames_use_the_workspace_cache(tmp_path, video):
    ws = Workspace.open(tmp_path / "ws", create=True)
    vid, _ = ingest_file(ws, video, copy=True)
    row = ws.get_video(vid)
    first = workspace_frames(ws, row, frame_spec(6))
    assert first.source != "cache" and len(first) == 6
    assert (ws.frames_cache_dir / row["sha256"][:2] / row["sha256"]).is_dir()
    again = workspace_frames(ws, row, frame_spec(6))
    assert again.source == "cache" and again.timestamps == first.timestamps


def test_unreadable_video_raises_video_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError):
        video_frames(bad, frame_spec(4))
