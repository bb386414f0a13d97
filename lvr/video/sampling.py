"""Frame sampling: which frames of a video a model sees, and decoding them.

    from lvr.video import SamplingSpec, sample_frames
    spec = SamplingSpec(mode="exact", num_frames=64)               # 64 frames, uniform
    spec = SamplingSpec(mode="exact", fps=1.0, max_frames=256)     # 1 frame/s, at most 256
    spec = SamplingSpec(mode="keyframe", num_frames=64, start=30, end=40, resize=(224, 224))
    s = sample_frames("movie.mp4", spec)   # s.frames uint8 [N,H,W,3], s.indices, s.timestamps

Which frames (both modes):
- The range is the frames whose timestamp t satisfies start <= t < end (defaults: the whole
  video; an `end` past the end of the video is clamped to it, a `start` past it is an error).
- N = num_frames, or round(span_seconds * fps) (at least 1); then N = min(N, max_frames,
  frames in range): never more frames than the range holds, so indices are distinct.
- The range of F frames is cut into N equal segments and the frame at the centre of each is
  taken: index = lo + floor((k + 0.5) * F / N), k = 0..N-1.

Modes:
- "exact" decodes exactly those frames (decord `get_batch` by default, PyAV with
  `reader="pyav"`; the two give identical pixels on the files tested). A file decord cannot
  open or decode (e.g. a VP9 .webm written without a duration) or that has a display rotation
  is decoded with PyAV instead, with the same indices and timestamps; `source` names the
  reader that really decoded it.
- "keyframe" moves each requested time to the nearest keyframe (ties go to the earlier one)
  and decodes only keyframes: one seek and one intra-frame decode each, so it stays fast on
  long groups of pictures. `timestamps`/`indices` report the keyframes really used and
  `requested_times` the times that were asked for. With `dedup=True` (default) several
  requests that snap to the same keyframe yield that frame once (fewer than N frames, in time
  order); with `dedup=False` there is one frame per request, repeats included.

Frames are upright: a phone video's display rotation (and mirroring) is applied by every
reader and mode alike, so frames have the probed (shown) size.
`resize=(h, w)` resizes every frame to exactly h x w (aspect ratio not kept) with PIL's
bilinear filter after decoding, so all readers resize the same pixels. Frames are RGB uint8.
A spec's `key()` is a stable string naming everything that changes the output (the frame
cache in `lvr.video.cache` keys on it).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from lvr.video.errors import VideoError
from lvr.video.probe import FrameTable, VideoInfo, probe_with_table
from lvr.video.readers import decode_exact, decode_keyframes_pyav

MODES = ("exact", "keyframe")
READERS = ("auto", "decord", "pyav")
KEY_VERSION = "v1"


@dataclass(frozen=True)
class SamplingSpec:
    """How to sample frames. Give exactly one of `num_frames` or `fps`."""

    mode: str = "exact"
    num_frames: int | None = None
    fps: float | None = None
    max_frames: int = 512
    start: float | None = None
    end: float | None = None
    resize: tuple[int, int] | None = None
    dedup: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"SamplingSpec.mode must be one of {MODES}, got {self.mode!r}")
        if (self.num_frames is None) == (self.fps is None):
            raise ValueError("SamplingSpec needs exactly one of num_frames or fps "
                             f"(got num_frames={self.num_frames!r}, fps={self.fps!r})")
        if self.num_frames is not None and (not _is_int(self.num_frames) or self.num_frames < 1):
            raise ValueError(f"SamplingSpec.num_frames must be an integer >= 1, got {self.num_frames!r}")
        if self.fps is not None:
            if not _is_num(self.fps) or not math.isfinite(self.fps) or self.fps <= 0:
                raise ValueError(f"SamplingSpec.fps must be a number > 0, got {self.fps!r}")
            object.__setattr__(self, "fps", float(self.fps))
        if not _is_int(self.max_frames) or self.max_frames < 1:
            raise ValueError(f"SamplingSpec.max_frames must be an integer >= 1, got {self.max_frames!r}")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                if not _is_num(v) or not math.isfinite(v) or v < 0:
                    raise ValueError(f"SamplingSpec.{name} must be a number of seconds >= 0, got {v!r}")
                object.__setattr__(self, name, float(v))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"SamplingSpec.end ({self.end}) must be greater than start ({self.start})")
        if self.resize is not None:
            r = tuple(self.resize)
            if len(r) != 2 or not all(_is_int(x) and x > 0 for x in r):
                raise ValueError(f"SamplingSpec.resize must be (height, width) positive integers, "
                                 f"got {self.resize!r}")
            object.__setattr__(self, "resize", (int(r[0]), int(r[1])))
        if not isinstance(self.dedup, bool):
            raise ValueError(f"SamplingSpec.dedup must be a bool, got {self.dedup!r}")

    def key(self) -> str:
        """Stable, human-readable cache key: equal specs give equal keys across processes."""
        def f(v):
            return "-" if v is None else repr(float(v))
        parts = [KEY_VERSION, self.mode,
                 f"n={self.num_frames if self.num_frames is not None else '-'}",
                 f"fps={f(self.fps)}", f"max={self.max_frames}",
                 f"start={f(self.start)}", f"end={f(self.end)}",
                 "resize=" + ("-" if self.resize is None else f"{self.resize[0]}x{self.resize[1]}")]
        if self.mode == "keyframe":
            parts.append(f"dedup={int(self.dedup)}")
        return "|".join(parts)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["resize"] = list(self.resize) if self.resize is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SamplingSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"SamplingSpec: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


@dataclass
class SampledFrames:
    """Decoded frames with the display-order index and timestamp (seconds) of each."""

    frames: np.ndarray  # uint8 [N, H, W, 3]
    indices: list[int]
    timestamps: list[float]
    requested_times: list[float] = field(default_factory=list)  # where the spec asked to sample
    source: str = ""  # "decord" | "pyav" | "pyav-keyframe" | "cache"

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def plan_indices(info: VideoInfo, table: FrameTable, spec: SamplingSpec) -> list[int]:
    """The display-order frame indices `spec` asks for (before keyframe snapping)."""
    path = info.path
    start = spec.start or 0.0
    if start >= info.duration:
        raise VideoError(path, f"sampling start {start:.3f}s is at or past the end of the video "
                               f"({info.duration:.3f}s)")
    end = info.duration if spec.end is None else min(spec.end, info.duration)
    lo = int(np.searchsorted(table.times, start, side="left"))
    hi = int(np.searchsorted(table.times, end, side="left"))
    if hi <= lo:
        raise VideoError(path, f"no frame lies in [{start:.3f}s, {end:.3f}s)")
    count = hi - lo
    if spec.num_frames is not None:
        n = spec.num_frames
    else:
        n = max(1, int(round((end - start) * spec.fps)))
    n = min(n, spec.max_frames, count)
    return [lo + i for i in segment_centres(count, n)]


def segment_centres(count: int, n: int) -> list[int]:
    """Of `count` frames, the one at the centre of each of `n` equal segments: where uniform sampling looks."""
    return [int((k + 0.5) * count / n) for k in range(n)]


def snap_to_keyframes(table: FrameTable, indices: list[int]) -> list[int]:
    """For each index, the keyframe whose time is nearest to that frame's time (ties: earlier)."""
    key_times = table.times[table.key_indices]
    out = []
    for i in indices:
        t = table.times[i]
        j = int(np.searchsorted(key_times, t, side="left"))
        if j >= key_times.shape[0]:
            j = key_times.shape[0] - 1
        elif j > 0 and (t - key_times[j - 1]) <= (key_times[j] - t):
            j -= 1
        out.append(int(table.key_indices[j]))
    return out


def sample_frames(path: str | os.PathLike, spec: SamplingSpec, *, reader: str = "auto") -> SampledFrames:
    """Decode the frames `spec` selects from `path` (see the module docstring for the rules).

    reader: "auto" (decord when importable, else PyAV), "decord" or "pyav" (PyAV stands in for
    decord on files decord cannot read); keyframe mode always uses PyAV's keyframe-only decoder.
    Raises `VideoError` for unreadable files.
    """
    if reader not in READERS:
        raise ValueError(f"reader must be one of {READERS}, got {reader!r}")
    p = Path(path)
    info, table = probe_with_table(p)
    wanted = plan_indices(info, table, spec)
    requested = [float(table.times[i]) for i in wanted]
    if spec.mode == "keyframe":
        indices = snap_to_keyframes(table, wanted)
        if spec.dedup:
            indices = sorted(set(indices))
        frames = decode_keyframes_pyav(p, info, table, indices)
        source = "pyav-keyframe"
    else:
        indices = wanted
        frames, source = decode_exact(p, info, table, indices, reader=reader)
    if spec.resize is not None:
        frames = resize_frames(frames, spec.resize)
    if frames.shape[0] != len(indices):
        raise VideoError(p, f"decoded {frames.shape[0]} frames for {len(indices)} indices")
    return SampledFrames(frames=frames, indices=[int(i) for i in indices],
                         timestamps=[float(table.times[i]) for i in indices],
                         requested_times=requested, source=source)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 [N,H,W,3] frames to exactly (h, w) with PIL's bilinear (antialiased) filter."""
    from PIL import Image

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)
    for k in range(frames.shape[0]):
        out[k] = np.asarray(Image.fromarray(frames[k]).resize((w, h), Image.Resampling.BILINEAR))
    return out
