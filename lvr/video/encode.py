"""Write H.264 mp4 files with PyAV, and a test pattern whose pixels carry the frame number.

    from lvr.video.encode import numbered_frames, read_frame_number, write_video
    write_video("t.mp4", numbered_frames(300, 96, 128), fps=30, gop=250)   # GOP 250, no B-frames
    read_frame_number(decoded_rgb_frame)                                    # -> the frame's number

The pattern: the top band holds the frame number as 16 black/white blocks (2 rows of 8,
each width//8 pixels square; bit b set = white block), which survives lossy coding; below it
a gradient with a checkerboard scrolls sideways, so consecutive frames differ like real
motion. Used by the tests (which frame did we get?) and by `bench/video.py`.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np

BITS = 16


def numbered_frames(n: int, height: int = 96, width: int = 128, start: int = 0) -> Iterator[np.ndarray]:
    """Yield `n` RGB uint8 frames numbered start..start+n-1 (see the module docstring)."""
    bs = width // 8
    if bs < 4 or height < 2 * bs + 8:
        raise ValueError(f"numbered_frames: {width}x{height} is too small (need width >= 32, "
                         f"height >= width/4 + 8)")
    yy, xx = np.mgrid[0:height, 0:2 * width]
    base = np.stack([xx * 255 // (2 * width), yy * 255 // height,
                     ((xx // 16 + yy // 16) % 2) * 160 + 40], -1).astype(np.uint8)
    if start + n > 2 ** BITS:
        raise ValueError(f"numbered_frames: frame numbers must stay below {2 ** BITS}")
    for i in range(start, start + n):
        off = (i * 4) % width
        f = np.ascontiguousarray(base[:, off:off + width])
        f[: 2 * bs] = 0
        for b in range(BITS):
            if (i >> b) & 1:
                r, c = divmod(b, 8)
                f[r * bs:(r + 1) * bs, c * bs:(c + 1) * bs] = 255
        yield f


def read_frame_number(frame: np.ndarray) -> int:
    """Recover the number drawn by `numbered_frames` from a decoded (or resized) RGB frame."""
    width = frame.shape[1]
    bs = width / 8
    m = max(1, int(bs // 4))
    n = 0
    for b in range(BITS):
        r, c = divmod(b, 8)
        y0, x0 = int(r * bs), int(c * bs)
        block = frame[y0 + m:int(y0 + bs) - m, x0 + m:int(x0 + bs) - m]
        if block.mean() > 127:
            n |= 1 << b
    return n


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int = 30, *, gop: int = 250,
                crf: int = 23, preset: str = "ultrafast", bframes: int = 0, faststart: bool = False) -> Path:
    """Encode RGB frames to an H.264 (yuv420p) mp4 with fixed keyframe spacing `gop`."""
    p = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("write_video: no frames")
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"write_video: yuv420p needs even sizes, got {w}x{h}")
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(p), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "crf": str(crf),
                          "preset": preset, "bf": str(bframes)}
        for arr in _chain(first, frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p


def _chain(first, rest):
    yield first
    yield from rest
