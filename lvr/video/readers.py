"""Frame decoders: exact frames by index (decord or PyAV) and keyframes only (PyAV).

Each reader takes display-order frame indices (see `lvr.video.probe`: index = rank of the
frame's pts) and returns uint8 RGB frames `[N, H, W, 3]` in the order asked (duplicates
allowed), upright: turned by the file's display orientation (`lvr.video.orient`), so `H, W`
are the probed (shown) size. They never clamp, skip or substitute: a frame that does not
decode, decodes with the wrong size, or lies past the end raises `VideoError` naming the file
and the index.

- `decode_exact`: what `lvr.video.sampling` calls. decord when asked for (or, with "auto",
  when importable), falling back per file to PyAV when decord cannot open or decode the file
  (e.g. a VP9 .webm written live, without a duration, which decord refuses to open); returns
  the frames and the reader that really decoded them. The indices, hence the timestamps, come
  from the probe's frame table either way, so the fallback gives the same frames.
- `decode_exact_decord`: `decord.VideoReader.get_batch` (seeks to the keyframe before each
  needed group of pictures and decodes forward). Files with a display rotation or mirroring
  go to PyAV instead: decord 0.6 turns pictures itself from the rotation angle alone and
  ignores mirroring (a mirrored file comes out rotated 180 degrees), so one implementation,
  `orient`, turns every frame.
- `decode_exact_pyav`: the same strategy written with PyAV; pixel-identical to decord on the
  H.264 and VP9 files tested (both convert YUV to RGB with libswscale at the native size).
- `decode_keyframes_pyav`: seek to each keyframe and decode just that frame, with the
  decoder told to skip non-key frames (`skip_frame="NONKEY"`), so the cost is one
  intra-frame decode per keyframe no matter how long the groups of pictures are.

Call these directly only if you already hold a frame table.
"""
from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from lvr.video.errors import VideoError
from lvr.video.orient import orient
from lvr.video.probe import FrameTable, VideoInfo, _ffmpeg_cause, open_container

log = logging.getLogger(__name__)


def decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _check_indices(path: Path, table: FrameTable, indices: list[int]) -> list[int]:
    n = table.n_frames
    bad = [i for i in indices if not 0 <= int(i) < n]
    if bad:
        raise VideoError(path, f"frame index {bad[0]} is out of range: the video has {n} frames "
                               f"(valid 0..{n - 1})")
    return sorted(set(int(i) for i in indices))


class _DecordUnusable(Exception):
    """decord cannot decode this file as asked (the message says why); PyAV may."""


def _needs_orient(info: VideoInfo) -> bool:
    return bool(info.rotation % 360 or info.mirrored)


def decode_exact(path: Path, info: VideoInfo, table: FrameTable, indices: list[int],
                 reader: str = "auto") -> tuple[np.ndarray, str]:
    """Frames at `indices` and the reader that decoded them ("decord" or "pyav"); see the module docstring.

    reader: "auto" (decord when importable, else PyAV), "decord" or "pyav". When decord fails on
    the file (cannot open it, counts its frames differently, raises while decoding, or returns
    frames of another size), PyAV decodes it; if PyAV fails too, its `VideoError` is raised.
    """
    if reader not in ("auto", "decord", "pyav"):
        raise ValueError(f"reader must be one of auto, decord, pyav; got {reader!r}")
    if reader == "pyav" or not decord_available() or _needs_orient(info):
        return decode_exact_pyav(path, info, table, indices), "pyav"
    _check_indices(path, table, indices)  # a bad index is the caller's error, not decord's
    try:
        return _decord_batch(path, info, table, indices), "decord"
    except _DecordUnusable as e:  # PyAV has the last word: its frames, or its VideoError
        log.warning("%s: %s; decoding with PyAV instead", path, e)
        return decode_exact_pyav(path, info, table, indices), "pyav"


def _check_shape(path: Path, info: VideoInfo, arr: np.ndarray, what: str) -> None:
    want = (info.height, info.width, 3)
    if arr.dtype != np.uint8 or tuple(arr.shape[-3:]) != want:
        raise VideoError(path, f"{what} decoded as {arr.dtype} {tuple(arr.shape[-3:])}, expected uint8 "
                               f"{want}; refusing frames of the wrong size")


def decode_exact_decord(path: Path, info: VideoInfo, table: FrameTable, indices: list[int]) -> np.ndarray:
    """Frames at `indices` via decord, or via PyAV where decord cannot (see `decode_exact`)."""
    return decode_exact(path, info, table, indices, reader="decord")[0]


def _decord_batch(path: Path, info: VideoInfo, table: FrameTable, indices: list[int]) -> np.ndarray:
    """decord's frames at `indices`; `_DecordUnusable` when decord cannot open or decode the file."""
    unique = _check_indices(path, table, indices)
    import decord

    try:
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
    except Exception as e:  # decord raises RuntimeError / DECORDError
        raise _DecordUnusable(f"decord cannot open it ({_first_line(e)})") from e
    if len(vr) != table.n_frames:
        n = len(vr)
        del vr
        raise _DecordUnusable(f"decord counts {n} frames, the demuxer {table.n_frames}")
    try:
        batch = vr.get_batch(unique).asnumpy()
    except Exception as e:
        raise _DecordUnusable(f"decord failed to decode it ({_last_line(e)})") from e
    finally:
        del vr
    if batch.shape[0] != len(unique):
        raise _DecordUnusable(f"decord returned {batch.shape[0]} frames for {len(unique)} indices")
    if batch.dtype != np.uint8 or tuple(batch.shape[1:]) != (info.height, info.width, 3):
        raise _DecordUnusable(f"decord gave {batch.dtype} frames of shape {tuple(batch.shape[1:])}")
    pos = {i: k for k, i in enumerate(unique)}
    if len(unique) == len(indices) and all(pos[int(i)] == k for k, i in enumerate(indices)):
        return batch
    return batch[[pos[int(i)] for i in indices]]


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:200]


def _last_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[-1] if lines else type(e).__name__)[:200]


def _to_rgb(path: Path, info: VideoInfo, frame: av.VideoFrame, index: int) -> np.ndarray:
    """The coded picture as RGB (turned upright later, all frames at once, by `_upright`)."""
    want_w, want_h = info.coded_size
    if (frame.width, frame.height) != (want_w, want_h):
        raise VideoError(path, f"frame {index} decoded as {frame.width}x{frame.height}, expected "
                               f"{want_w}x{want_h}; refusing frames of the wrong size")
    return frame.to_ndarray(format="rgb24")


def _upright(path: Path, info: VideoInfo, coded: list[np.ndarray]) -> np.ndarray:
    """Stack coded RGB pictures and turn them by the file's display orientation; check the shown size."""
    frames = orient(np.stack(coded), info.rotation, info.mirrored)
    _check_shape(path, info, frames, "frames")
    return frames


def decode_exact_pyav(path: Path, info: VideoInfo, table: FrameTable, indices: list[int]) -> np.ndarray:
    """Frames at `indices` via PyAV: seek to the keyframe of each needed group, decode forward."""
    unique = _check_indices(path, table, indices)
    keys = table.key_indices
    wanted = set(unique)
    got: dict[int, np.ndarray] = {}
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = None  # the live decode iterator
        pos = -1  # display index of the last decoded frame
        for target in unique:
            if target in got:
                continue
            key = int(keys[np.searchsorted(keys, target, side="right") - 1])
            if frames is None or target <= pos or key > pos:
                container.seek(int(table.pts[key]), stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
                pos = key - 1
                floor = key  # frames before the keyframe (open-GOP leading pictures) are not trusted
            while pos < target:
                frame = next(frames, None)
                if frame is None:
                    raise VideoError(path, f"frame {target} could not be decoded: the stream ended after "
                                           f"frame {pos} (the video has fewer decodable frames than its "
                                           f"{table.n_frames} packets)")
                if frame.pts is None:
                    raise VideoError(path, f"a decoded frame near index {target} has no timestamp")
                idx = table.index_of_pts(int(frame.pts))
                if idx < 0:
                    raise VideoError(path, f"decoded a frame with pts {frame.pts} that is not in the "
                                           f"container index")
                if idx < floor:
                    continue
                pos = idx
                if idx in wanted and idx not in got:
                    got[idx] = _to_rgb(path, info, frame, idx)
    except av.error.FFmpegError as e:
        raise VideoError(path, f"decoding failed (corrupt data?): {_ffmpeg_cause(e)}") from e
    finally:
        container.close()
    missing = [i for i in unique if i not in got]
    if missing:
        raise VideoError(path, f"frames {missing[:5]} could not be decoded")
    return _upright(path, info, [got[int(i)] for i in indices])


def decode_keyframes_pyav(path: Path, info: VideoInfo, table: FrameTable,
                          key_indices: list[int]) -> np.ndarray:
    """Frames at keyframe indices only: one seek + one intra-frame decode per distinct keyframe."""
    unique = _check_indices(path, table, key_indices)
    is_key = set(int(k) for k in table.key_indices)
    not_key = [i for i in unique if i not in is_key]
    if not_key:
        raise VideoError(path, f"frame {not_key[0]} is not a keyframe")
    got: dict[int, np.ndarray] = {}
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        for idx in unique:
            target = int(table.pts[idx])
            container.seek(target, stream=stream, backward=True, any_frame=False)
            frame = _decode_pts(container, stream, target)
            if frame is None:  # the decoder did not flag it as key: decode that group normally
                stream.codec_context.skip_frame = "DEFAULT"
                container.seek(target, stream=stream, backward=True, any_frame=False)
                frame = _decode_pts(container, stream, target)
                stream.codec_context.skip_frame = "NONKEY"
            if frame is None:
                raise VideoError(path, f"keyframe {idx} (t={table.times[idx]:.3f}s) could not be decoded")
            got[idx] = _to_rgb(path, info, frame, idx)
    except av.error.FFmpegError as e:
        raise VideoError(path, f"decoding failed (corrupt data?): {_ffmpeg_cause(e)}") from e
    finally:
        container.close()
    return _upright(path, info, [got[int(i)] for i in key_indices])


def _decode_pts(container, stream, target: int):
    """Decode from the current position until the frame with pts == target (None if passed/ended)."""
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        if frame.pts == target:
            return frame
        if frame.pts > target:
            return None
    return None
