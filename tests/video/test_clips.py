"""clip_segments: 10 s clips, short tail merged, exact coverage."""
from __future__ import annotations

import pytest

from lvr.video import clip_segments


@pytest.mark.parametrize("duration, expected", [
    (34.0, [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 34.0)]),  # 4 s tail >= 3 s: own clip
    (32.0, [(0.0, 10.0), (10.0, 20.0), (20.0, 32.0)]),                # 2 s tail: merged
    (30.0, [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]),                # exact multiple
    (30.0000001, [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]),          # float noise is not a clip
    (13.0, [(0.0, 10.0), (10.0, 13.0)]),                              # tail of exactly min_last kept
    (12.9, [(0.0, 12.9)]),
    (5.0, [(0.0, 5.0)]),                                              # shorter than one clip
    (0.5, [(0.0, 0.5)]),
])
def test_default_rule(duration, expected):
    assert clip_segments(duration) == expected


def test_covers_duration_contiguously():
    for duration in (600.05, 3599.97, 61.0, 9.99):
        clips = clip_segments(duration)
        assert clips[0][0] == 0.0 and clips[-1][1] == round(duration, 6)
        assert all(a[1] == b[0] for a, b in zip(clips, clips[1:]))
        assert all(3.0 <= e - s <= 13.0 for s, e in clips[:-1] + ([clips[-1]] if len(clips) > 1 else []))


def test_custom_lengths():
    assert clip_segments(25.0, clip_seconds=5.0, min_last=0.0) == [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0),
                                                                    (15.0, 20.0), (20.0, 25.0)]
    assert clip_segments(21.0, clip_seconds=10.0, min_last=0.0) == [(0.0, 10.0), (10.0, 20.0), (20.0, 21.0)]


@pytest.mark.parametrize("kwargs", [{"duration": 0}, {"duration": -1}, {"duration": float("nan")},
                                    {"duration": 10, "clip_seconds": 0}, {"duration": 10, "min_last": 11},
                                    {"duration": True}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="clip_segments"):
        clip_segments(**kwargs)


def test_clips_shorter_than_the_default_tail_rule():
    # the tail rule shrinks to the clip length, so any clip length > 0 works
    assert clip_segments(10.0, 2.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, 10.0)]
    assert clip_segments(9.0, 2.0) == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 9.0)]   # 1 s tail joins
    assert clip_segments(32.0) == [(0.0, 10.0), (10.0, 20.0), (20.0, 32.0)]              # unchanged for 10 s
