"""Cut a video's duration into fixed-length clips (the paper's ~10 s captioning clips).

    from lvr.video import clip_segments
    clip_segments(34.0)   # [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 34.0)]
    clip_segments(32.0)   # [(0.0, 10.0), (10.0, 20.0), (20.0, 32.0)]: the 2 s tail is shorter
                          # than min_last=3 s, so it joins the clip before it

Rule: boundaries every `clip_seconds` from 0; a last clip shorter than `min_last` seconds (3 s, or
`clip_seconds` for clips shorter than that) is merged into the clip before it (so that clip is up to
clip_seconds + min_last long); a video
shorter than one clip is one clip. Clips are contiguous, cover [0, duration] exactly, and
times are rounded to microseconds.
"""
from __future__ import annotations

import math
from numbers import Real


def clip_segments(duration: float, clip_seconds: float = 10.0,
                  min_last: float | None = None) -> list[tuple[float, float]]:
    """Contiguous (start, end) clips covering [0, duration]; see the module docstring."""
    for name, v in (("duration", duration), ("clip_seconds", clip_seconds)):
        if not isinstance(v, Real) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"clip_segments: {name} must be a number > 0, got {v!r}")
    if min_last is None:
        min_last = min(3.0, clip_seconds)      # 2 s clips: a tail under 2 s joins the clip before it
    if not isinstance(min_last, Real) or not 0 <= min_last <= clip_seconds:
        raise ValueError(f"clip_segments: min_last must be in [0, clip_seconds], got {min_last!r}")
    n_full = int(math.floor(duration / clip_seconds + 1e-9))
    bounds = [round(k * clip_seconds, 6) for k in range(n_full + 1)]
    dur = round(float(duration), 6)
    if dur - bounds[-1] > 1e-6:
        tail = dur - bounds[-1]
        if tail < min_last and len(bounds) > 1:
            bounds[-1] = dur
        else:
            bounds.append(dur)
    else:
        bounds[-1] = dur
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
