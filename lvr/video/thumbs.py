"""Thumbnails and contact sheets (JPEG) for browsing videos in the app and CLI.

    from lvr.video import thumbnail, contact_sheet
    jpeg = thumbnail("movie.mp4", t=12.5, max_side=320)            # JPEG bytes of the frame shown at 12.5 s
    img = thumbnail("movie.mp4", t=12.5, as_array=True)           # uint8 [h, w, 3] instead
    sheet = contact_sheet("movie.mp4", n=16, cols=4)               # JPEG grid, each tile labelled mm:ss

`thumbnail` decodes the exact frame on screen at time t (the last frame starting at or before
t) and scales it to fit `max_side` keeping the aspect ratio. `contact_sheet` uses keyframe
sampling (fast on long videos) and labels each tile with the keyframe's real time.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lvr.video.errors import VideoError
from lvr.video.probe import probe_with_table
from lvr.video.readers import decode_exact_pyav
from lvr.video.sampling import SamplingSpec, sample_frames
from lvr.video.timefmt import fmt_time_tenths


def _fit(img: Image.Image, max_side: int) -> Image.Image:
    w, h = img.size
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return img


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def thumbnail(path: str | os.PathLike, t: float = 0.0, max_side: int = 320, *, as_array: bool = False,
              quality: int = 85) -> bytes | np.ndarray:
    """The frame shown at `t` seconds, fitted into max_side x max_side; JPEG bytes or an array."""
    if max_side < 1:
        raise ValueError(f"thumbnail: max_side must be >= 1, got {max_side}")
    p = Path(path)
    info, table = probe_with_table(p)
    if not 0.0 <= t <= info.duration:
        raise VideoError(p, f"thumbnail time {t:.3f}s is outside the video (0..{info.duration:.3f}s)")
    idx = max(0, int(np.searchsorted(table.times, t, side="right")) - 1)
    frame = decode_exact_pyav(p, info, table, [idx])[0]
    img = _fit(Image.fromarray(frame), max_side)
    return np.asarray(img) if as_array else _jpeg(img, quality)


def contact_sheet(path: str | os.PathLike, n: int = 16, cols: int = 4, tile_width: int = 240, *,
                  quality: int = 85, label: bool = True) -> bytes:
    """A grid of up to `n` keyframes spread over the video, as JPEG bytes."""
    if n < 1 or cols < 1 or tile_width < 8:
        raise ValueError(f"contact_sheet: need n >= 1, cols >= 1, tile_width >= 8 "
                         f"(got {n}, {cols}, {tile_width})")
    info, _ = probe_with_table(Path(path))
    tile_h = max(1, round(tile_width * info.height / info.width))
    s = sample_frames(path, SamplingSpec(mode="keyframe", num_frames=n, resize=(tile_h, tile_width)))
    cols = min(cols, len(s))
    rows = -(-len(s) // cols)
    sheet = Image.new("RGB", (cols * tile_width, rows * tile_h), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for k, (frame, ts) in enumerate(zip(s.frames, s.timestamps)):
        x, y = (k % cols) * tile_width, (k // cols) * tile_h
        sheet.paste(Image.fromarray(frame), (x, y))
        if label:
            text = fmt_time_tenths(ts)
            draw.rectangle((x, y, x + 7 * len(text) + 4, y + 14), fill=(0, 0, 0))
            draw.text((x + 2, y + 1), text, fill=(255, 255, 255))
    return _jpeg(sheet, quality)
