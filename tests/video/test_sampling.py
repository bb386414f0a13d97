"""SamplingSpec and sample_frames: which frames, exact vs keyframe mode, decord vs PyAV readers."""
from __future__ import annotations

import decord
import numpy as np
import pytest

from lvr.video import SamplingSpec, VideoError, probe, sample_frames
from lvr.video.encode import read_frame_number

from .conftest import N_FRAMES, H, W


def numbers(frames) -> list[int]:
    return [read_frame_number(f) for f in frames]


# ---- the spec ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, msg", [
    ({}, "exactly one of num_frames or fps"),
    ({"num_frames": 8, "fps": 1.0}, "exactly one of num_frames or fps"),
    ({"num_frames": 0}, "num_frames must be an integer >= 1"),
    ({"num_frames": 2.5}, "num_frames must be an integer >= 1"),
    ({"fps": -1.0}, "fps must be a number > 0"),
    ({"num_frames": 4, "mode": "random"}, "mode must be one of"),
    ({"num_frames": 4, "max_frames": 0}, "max_frames must be an integer >= 1"),
    ({"num_frames": 4, "start": -1}, "start must be a number of seconds >= 0"),
    ({"num_frames": 4, "start": 5, "end": 5}, "end .* must be greater than start"),
    ({"num_frames": 4, "resize": (0, 10)}, "resize must be \\(height, width\\)"),
    ({"num_frames": 4, "resize": (10,)}, "resize must be \\(height, width\\)"),
])
def test_spec_rejects_bad_values(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        SamplingSpec(**kwargs)


def test_spec_key_is_stable_and_distinguishes_outputs():
    a = SamplingSpec(num_frames=64, resize=[224, 224], start=1, end=2)
    assert a.resize == (224, 224) and a.start == 1.0
    assert a.key() == SamplingSpec(num_frames=64, resize=(224, 224), start=1.0, end=2.0).key()
    assert a.key() == "v1|exact|n=64|fps=-|max=512|start=1.0|end=2.0|resize=224x224"
    keys = {s.key() for s in [a, SamplingSpec(num_frames=65), SamplingSpec(fps=1.0), SamplingSpec(fps=1.5),
                              SamplingSpec(num_frames=64, mode="keyframe"),
                              SamplingSpec(num_frames=64, mode="keyframe", dedup=False),
                              SamplingSpec(num_frames=64, max_frames=32)]}
    assert len(keys) == 7
    # dedup does not change exact-mode output, so it does not split the cache
    assert SamplingSpec(num_frames=4, dedup=False).key() == SamplingSpec(num_frames=4).key()
    assert SamplingSpec.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="unknown field"):
        SamplingSpec.from_dict({"num_frames": 4, "frames": 3})


# ---- which frames -----------------------------------------------------------------------------

def test_uniform_centre_of_segment_indices(long_gop):
    s = sample_frames(long_gop, SamplingSpec(num_frames=4))
    assert s.indices == [37, 112, 187, 262]  # floor((k + 0.5) * 300 / 4)
    assert s.timestamps == pytest.approx([i / 30 for i in s.indices])
    assert s.requested_times == s.timestamps
    assert s.frames.shape == (4, H, W, 3) and s.frames.dtype == np.uint8
    assert numbers(s.frames) == s.indices


def test_fps_mode_and_max_frames_cap(short_gop):
    s = sample_frames(short_gop, SamplingSpec(fps=2.0))
    assert len(s) == 20 and s.indices[:3] == [7, 22, 37]
    capped = sample_frames(short_gop, SamplingSpec(fps=2.0, max_frames=5))
    assert capped.indices == [30, 90, 150, 210, 270]
    # never more frames than the range holds: 1000 requested, 300 exist -> all 300, distinct
    everything = sample_frames(short_gop, SamplingSpec(num_frames=1000, max_frames=1000))
    assert everything.indices == list(range(N_FRAMES)) and numbers(everything.frames) == everything.indices


def test_start_end_window(short_gop):
    s = sample_frames(short_gop, SamplingSpec(num_frames=5, start=2.0, end=4.0))
    assert all(2.0 <= t < 4.0 for t in s.timestamps)
    assert s.indices == [66, 78, 90, 102, 114]
    tail = sample_frames(short_gop, SamplingSpec(num_frames=3, start=9.0, end=99.0))  # end clamped
    assert tail.indices == [275, 285, 295]
    with pytest.raises(VideoError, match="start 12.000s is at or past the end of the video"):
        sample_frames(short_gop, SamplingSpec(num_frames=3, start=12.0))


# ---- exact mode -------------------------------------------------------------------------------

def test_exact_equals_direct_decord_get_batch(numbered):
    s = sample_frames(numbered, SamplingSpec(num_frames=16))
    direct = decord.VideoReader(str(numbered)).get_batch(s.indices).asnumpy()
    assert s.source == "decord"
    assert np.array_equal(s.frames, direct)
    assert numbers(s.frames) == s.indices


def test_exact_real_videos_equal_decord_and_pyav(real_video):
    path, (w, h, n, fps) = real_video
    spec = SamplingSpec(num_frames=12)
    s = sample_frames(path, spec, reader="decord")
    direct = decord.VideoReader(str(path)).get_batch(s.indices).asnumpy()
    assert s.frames.shape == (12, h, w, 3)
    assert np.array_equal(s.frames, direct)
    p = sample_frames(path, spec, reader="pyav")
    assert p.source == "pyav" and p.indices == s.indices and p.timestamps == s.timestamps
    assert np.array_equal(p.frames, s.frames)
    assert s.timestamps == pytest.approx(decord.VideoReader(str(path)).get_frame_timestamp(s.indices)[:, 0],
                                         abs=1e-4)


@pytest.mark.parametrize("spec", [SamplingSpec(num_frames=40), SamplingSpec(fps=3.0, start=1.0, end=9.5),
                                  SamplingSpec(num_frames=7, resize=(48, 64))])
def test_pyav_reader_identical_to_decord(numbered, spec):
    d = sample_frames(numbered, spec, reader="decord")
    p = sample_frames(numbered, spec, reader="pyav")
    assert (d.indices, d.timestamps) == (p.indices, p.timestamps)
    assert np.array_equal(d.frames, p.frames)
    if spec.resize is None:
        assert numbers(p.frames) == p.indices


def test_pyav_reader_unsorted_and_repeated_indices(short_gop):
    from lvr.video.probe import probe_with_table
    from lvr.video.readers import decode_exact_decord, decode_exact_pyav
    info, table = probe_with_table(short_gop)
    idx = [250, 3, 3, 299, 0, 121, 120]
    a = decode_exact_pyav(short_gop, info, table, idx)
    b = decode_exact_decord(short_gop, info, table, idx)
    assert numbers(a) == idx and np.array_equal(a, b)


def test_resize_exact_size(long_gop):
    s = sample_frames(long_gop, SamplingSpec(num_frames=3, resize=(64, 200)))  # aspect not kept
    assert s.frames.shape == (3, 64, 200, 3) and s.frames.dtype == np.uint8
    same_aspect = sample_frames(long_gop, SamplingSpec(num_frames=3, resize=(72, 96)))
    assert same_aspect.frames.shape == (3, 72, 96, 3)
    assert numbers(same_aspect.frames) == same_aspect.indices  # still the right frames


def test_decord_frame_count_disagreement_falls_back_to_pyav(short_gop, monkeypatch, caplog):
    class MiscountingReader(decord.VideoReader):
        def __len__(self):
            return super().__len__() + 1
    monkeypatch.setattr(decord, "VideoReader", MiscountingReader)
    s = sample_frames(short_gop, SamplingSpec(num_frames=5))
    assert numbers(s.frames) == s.indices
    assert "decoding with PyAV instead" in caplog.text


# ---- keyframe mode ----------------------------------------------------------------------------

def test_keyframe_mode_reports_true_keyframes(short_gop):
    info = probe(short_gop)
    s = sample_frames(short_gop, SamplingSpec(mode="keyframe", num_frames=6))
    assert s.source == "pyav-keyframe"
    assert set(s.indices) <= set(info.keyframe_indices)
    # requested 25, 75, 125, 175, 225, 275 -> nearest keyframe; ties (75, 225) go to the earlier one
    assert s.indices == [30, 60, 120, 180, 210, 270]
    assert s.timestamps == pytest.approx([i / 30 for i in s.indices])
    assert s.requested_times == pytest.approx([i / 30 for i in (25, 75, 125, 175, 225, 275)])
    assert numbers(s.frames) == s.indices  # pixels really are those frames


def test_keyframe_dedup_choice(long_gop):
    d = sample_frames(long_gop, SamplingSpec(mode="keyframe", num_frames=6))
    assert d.indices == [0, 250] and len(d.requested_times) == 6  # de-duplicated, in time order
    full = sample_frames(long_gop, SamplingSpec(mode="keyframe", num_frames=6, dedup=False))
    assert full.indices == [0, 0, 0, 250, 250, 250]  # one per request: 25, 75, 125 | 175, 225, 275
    assert numbers(full.frames) == full.indices
    assert np.array_equal(full.frames[0], d.frames[0]) and np.array_equal(full.frames[5], d.frames[1])


def test_keyframe_frames_equal_exact_frames(real_video):
    path, _ = real_video
    s = sample_frames(path, SamplingSpec(mode="keyframe", num_frames=8))
    info = probe(path)
    assert set(s.indices) <= set(info.keyframe_indices)
    key_time = dict(zip(info.keyframe_indices, info.keyframe_times))
    assert s.timestamps == pytest.approx([key_time[i] for i in s.indices])
    direct = decord.VideoReader(str(path)).get_batch(s.indices).asnumpy()
    assert np.array_equal(s.frames, direct)
