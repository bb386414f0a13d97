"""Probe a video without decoding it: size, rate, frame count, keyframes; and its content hash.

    from lvr.video import probe, content_hash
    info = probe("movie.mp4")        # VideoInfo(duration=600.0, fps=30.0, n_frames=18000, ...)
    info.keyframe_interval           # median number of frames between keyframes (GOP length)
    sha = content_hash("movie.mp4")  # sha256 hex of the file bytes, streamed

`probe` demuxes every packet of the video stream with PyAV (no decoding, ~0.05 s for a
10-minute 30 fps video) to build the *frame table*: the presentation timestamp of every frame
in display order and which frames are keyframes. Frame ``i`` of a video is the ``i``-th frame
in display order; its timestamp is ``(pts_i - pts_0) * time_base`` seconds, so the first frame
is at 0.0 (the same convention as decord). One frame is decoded to prove the stream is
decodable and has the size the container declares, and to read its display orientation
(`lvr.video.orient`): `width`/`height` are the size as shown, after a phone video's quarter
turn (a 160x90 stream turned 90 degrees is reported 90x160); `rotation`/`mirrored` say how the
coded pictures are turned, and every reader returns frames in the shown orientation.

The table is kept in a small in-process cache keyed by (real path, size, mtime), so sampling
the same file again does not demux it again; `clear_probe_cache()` empties it.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lvr.video.errors import VideoError
from lvr.video.orient import display_orientation, display_size

_STILL_IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")
_TABLE_CACHE_SIZE = 64


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` found. Times are seconds; `keyframe_indices` are display-order frame indices.
    `width`/`height` are the size as shown; `rotation` (clockwise degrees) and `mirrored` turn the
    coded pictures (`coded_size`) into that."""

    path: str
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    codec: str
    pix_fmt: str
    container: str
    size_bytes: int
    keyframe_interval: float
    keyframe_indices: tuple[int, ...]
    keyframe_times: tuple[float, ...]
    rotation: int = 0
    mirrored: bool = False

    @property
    def coded_size(self) -> tuple[int, int]:
        """(width, height) of the pictures as stored, before the display rotation."""
        return display_size(self.width, self.height, self.rotation)  # swapping the sides back is the same swap

    def to_dict(self) -> dict:
        """JSON-friendly dict (keyframe lists included)."""
        return {
            "path": self.path, "duration": self.duration, "fps": self.fps, "n_frames": self.n_frames,
            "width": self.width, "height": self.height, "codec": self.codec, "pix_fmt": self.pix_fmt,
            "container": self.container, "size_bytes": self.size_bytes,
            "rotation": self.rotation, "mirrored": self.mirrored,
            "keyframe_interval": self.keyframe_interval,
            "keyframe_indices": list(self.keyframe_indices), "keyframe_times": list(self.keyframe_times),
        }


@dataclass(frozen=True)
class FrameTable:
    """Per-frame timing of one video stream, in display order (built by demuxing, not decoding)."""

    pts: np.ndarray  # int64 [n_frames], sorted ascending, unique
    times: np.ndarray  # float64 [n_frames], seconds from the first frame
    key_indices: np.ndarray  # int64 [n_keyframes], display-order indices of keyframes
    time_base: Fraction
    end_time: float  # end of the last frame, seconds from the first frame (= duration)

    @property
    def n_frames(self) -> int:
        return int(self.pts.shape[0])

    def index_of_pts(self, pts: int) -> int:
        """Display-order index of the frame with this pts, or -1 if no frame has it."""
        i = int(np.searchsorted(self.pts, pts))
        return i if i < self.pts.shape[0] and int(self.pts[i]) == pts else -1


def content_hash(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """sha256 hex digest of the file's bytes, read in chunks (constant memory)."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(p, "file not found")
    h = hashlib.sha256()
    with p.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


_cache: OrderedDict[tuple, tuple[VideoInfo, FrameTable]] = OrderedDict()
_cache_lock = threading.Lock()


def clear_probe_cache() -> None:
    """Forget every cached probe result (the next `probe` demuxes the file again)."""
    with _cache_lock:
        _cache.clear()


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of `path`; raises `VideoError` if it is not a readable video."""
    return probe_with_table(path)[0]


def probe_with_table(path: str | os.PathLike) -> tuple[VideoInfo, FrameTable]:
    """`probe` plus the frame table (cached per (real path, size, mtime))."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise VideoError(p, "file not found") from None
    if not p.is_file():
        raise VideoError(p, "not a regular file")
    if st.st_size == 0:
        raise VideoError(p, "file is empty (0 bytes)")
    key = (os.path.realpath(p), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    result = _probe_uncached(p, st.st_size)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _TABLE_CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def open_container(path: Path) -> av.container.InputContainer:
    """`av.open` with its errors turned into `VideoError`."""
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as e:
        raise VideoError(path, f"not a readable video container ({_ffmpeg_cause(e)})") from e
    except (OSError, UnicodeDecodeError) as e:
        raise VideoError(path, f"cannot open ({e})") from e


def _ffmpeg_cause(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e)


@dataclass(frozen=True)
class _StreamFacts:
    """What one pass over a container read from its first video stream (plain values: the container
    is closed once they are read)."""

    fmt: str
    width: int  # the coded size the stream declares
    height: int
    declared: int  # frames the container declares (0: it does not say)
    codec: str
    pix_fmt: str
    time_base: Fraction
    rate: float  # declared frame rate (0.0: none)
    pts: list[int]  # of every packet, in decode order
    key_pts: list[int]
    durations: list[int]
    first_size: tuple[int, int] | None  # of the first decoded frame (None: none decoded)
    rotation: int
    mirrored: bool


def _probe_uncached(path: Path, size_bytes: int) -> tuple[VideoInfo, FrameTable]:
    facts = _read_stream(path)
    _check_stream(path, facts)
    table, fps = _frame_table(path, facts)
    return _video_info(path, size_bytes, facts, table, fps), table


def _read_stream(path: Path) -> _StreamFacts:
    """Open `path`, refuse anything but a video stream with a size, demux it and read its orientation."""
    container = open_container(path)
    try:
        fmt = container.format.name
        if any(tag in fmt for tag in _STILL_IMAGE_FORMATS):
            raise VideoError(path, f"not a video: the file is a still image ({fmt})")
        if not container.streams.video:
            raise VideoError(path, f"no video stream (container {fmt!r})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            raise VideoError(path, f"video stream declares no frame size ({width}x{height})")
        declared = int(stream.frames or 0)
        codec, pix_fmt = ctx.name, str(ctx.pix_fmt)
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
        rate = stream.average_rate or stream.guessed_rate
        rate = float(rate) if rate else 0.0
        pts_list, key_pts, durations, first_frame = _demux_table(container, stream, path)
        first_size = None if first_frame is None else (first_frame.width, first_frame.height)
        try:
            rotation, mirrored = display_orientation(first_frame, stream.metadata)
        except ValueError as e:
            raise VideoError(path, f"unsupported display orientation: {e}") from None
        del first_frame
    finally:
        container.close()  # nothing of the container (stream, ctx, frames) may be touched after this
    return _StreamFacts(fmt, width, height, declared, codec, pix_fmt, tb, rate, pts_list, key_pts, durations,
                        first_size, rotation, mirrored)


def _check_stream(path: Path, f: _StreamFacts) -> None:
    """Refuse a stream with no frames, fewer frames than declared, or no first frame of the declared size."""
    if not f.pts:
        raise VideoError(path, "video stream has no frames")
    if f.declared and len(f.pts) < f.declared:
        raise VideoError(path, f"truncated: the container declares {f.declared} frames but only "
                               f"{len(f.pts)} are present in the file")
    if f.first_size is None:
        raise VideoError(path, "no frame could be decoded")
    if f.first_size != (f.width, f.height):
        raise VideoError(path, f"decoded frame is {f.first_size[0]}x{f.first_size[1]} but the "
                               f"stream declares {f.width}x{f.height}")


def _frame_table(path: Path, f: _StreamFacts) -> tuple[FrameTable, float]:
    """The frames in display order, their times, keyframes and end; and the frame rate (the declared
    one, else from the last frame's duration or the frame count)."""
    tb = f.time_base
    pts = np.asarray(f.pts, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    pts = pts[order]
    if np.any(np.diff(pts) == 0):
        raise VideoError(path, "several frames share one timestamp; cannot index frames")
    times = (pts - pts[0]).astype(np.float64) * float(tb)
    key_indices = np.searchsorted(pts, np.asarray(sorted(f.key_pts), dtype=np.int64)).astype(np.int64)
    if key_indices.size == 0:
        raise VideoError(path, "video stream has no keyframe")

    n = int(pts.shape[0])
    last_dur = float(f.durations[int(order[-1])]) * float(tb) if f.durations[int(order[-1])] else 0.0
    fps = f.rate
    if last_dur <= 0.0:
        last_dur = 1.0 / fps if fps > 0 else 0.0
    end_time = float(times[-1]) + last_dur
    if fps <= 0.0:
        fps = n / end_time if end_time > 0 else 1.0
    if end_time <= 0.0:
        end_time = n / fps
    table = FrameTable(pts=pts, times=times, key_indices=key_indices, time_base=tb,
                       end_time=end_time)
    return table, fps


def _video_info(path: Path, size_bytes: int, f: _StreamFacts, table: FrameTable, fps: float) -> VideoInfo:
    key_indices, n = table.key_indices, table.n_frames
    if key_indices.size >= 2:
        interval = float(np.median(np.diff(key_indices)))
    else:  # one keyframe: the whole video is one group of pictures
        interval = float(n)
    shown_w, shown_h = display_size(f.width, f.height, f.rotation)
    return VideoInfo(
        path=str(path), duration=table.end_time, fps=fps, n_frames=n, width=shown_w, height=shown_h,
        codec=f.codec, pix_fmt=f.pix_fmt, container=f.fmt, size_bytes=size_bytes,
        keyframe_interval=interval,
        keyframe_indices=tuple(int(i) for i in key_indices),
        keyframe_times=tuple(float(table.times[i]) for i in key_indices),
        rotation=f.rotation, mirrored=f.mirrored,
    )


def _demux_table(container, stream, path: Path):
    """Read every packet of `stream` (decoding only until the first frame comes out)."""
    pts_list: list[int] = []
    key_pts: list[int] = []
    durations: list[int] = []
    first_frame = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                if first_frame is None and packet.size == 0:  # flush packet at the end
                    first_frame = _first(stream.codec_context.decode(None))
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                raise VideoError(path, f"packet {len(pts_list)} has no timestamp; cannot index frames")
            pts_list.append(int(ts))
            durations.append(int(packet.duration or 0))
            if packet.is_keyframe:
                key_pts.append(int(ts))
            if first_frame is None:
                first_frame = _first(stream.codec_context.decode(packet))
    except av.error.FFmpegError as e:
        raise VideoError(path, f"corrupt or truncated after {len(pts_list)} packets "
                               f"({_ffmpeg_cause(e)})") from e
    return pts_list, key_pts, durations, first_frame


def _first(frames):
    for f in frames:
        return f
    return None
