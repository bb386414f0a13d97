"""JPEG-encode video frames for vision requests (PIL when importable, else PyAV's mjpeg encoder).

    from lvr.datagen.images import jpeg_data_url
    url = jpeg_data_url(frame, max_side=512)   # "data:image/jpeg;base64,/9j/…", frame uint8 [H,W,3]

Frames larger than `max_side` on their longest side are shrunk (aspect kept) first.
"""
from __future__ import annotations

import base64
import io
from fractions import Fraction

import numpy as np


def _target_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(h, w))
    # even sizes keep the yuv420 encoders happy
    return max(2, int(round(h * scale)) // 2 * 2), max(2, int(round(w * scale)) // 2 * 2)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB frame [H,W,3], got dtype {frame.dtype} shape {frame.shape}")
    return np.ascontiguousarray(frame)


def encode_jpeg_pil(frame: np.ndarray, max_side: int = 512, quality: int = 85) -> bytes:
    from PIL import Image

    frame = _check_frame(frame)
    img = Image.fromarray(frame, "RGB")
    h, w = _target_size(*frame.shape[:2], max_side)
    if (h, w) != frame.shape[:2]:
        img = img.resize((w, h), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def encode_jpeg_av(frame: np.ndarray, max_side: int = 512, quality: int = 85) -> bytes:
    import av

    frame = _check_frame(frame)
    h, w = _target_size(*frame.shape[:2], max_side)
    vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(width=w, height=h, format="yuvj420p")
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    # mjpeg quality: qscale 2 (best) .. 31 (worst); map 100 → 2, 1 → 31
    q = int(round(2 + (100 - quality) * 29 / 99))
    ctx.options = {"qmin": str(q), "qmax": str(q)}
    packets = list(ctx.encode(vf)) + list(ctx.encode(None))
    data = b"".join(bytes(p) for p in packets)
    if not data.startswith(b"\xff\xd8"):
        raise RuntimeError("PyAV mjpeg encoder returned no JPEG data")
    return data


def encode_jpeg(frame: np.ndarray, max_side: int = 512, quality: int = 85, prefer: str = "pil") -> bytes:
    """JPEG bytes of one RGB frame; `prefer="av"` forces the PyAV encoder."""
    if prefer == "pil":
        try:
            import PIL  # noqa: F401
        except ImportError:
            prefer = "av"
    if prefer == "pil":
        return encode_jpeg_pil(frame, max_side, quality)
    if prefer == "av":
        return encode_jpeg_av(frame, max_side, quality)
    raise ValueError(f"prefer must be 'pil' or 'av', got {prefer!r}")


def jpeg_data_url(frame: np.ndarray, max_side: int = 512, quality: int = 85, prefer: str = "pil") -> str:
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(frame, max_side, quality, prefer)).decode("ascii")
