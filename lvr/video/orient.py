"""Display orientation: how a stream's coded pictures are turned to be shown upright.

    from lvr.video.orient import display_orientation, orient
    rotation, mirrored = display_orientation(first_frame, stream.metadata)   # e.g. (90, False)
    upright = orient(rgb_frames, rotation, mirrored)                         # [..., H, W, 3] -> shown

Phones record sensor-sized pictures and store how to show them: a display matrix (MP4 `tkhd`
matrix, exported by FFmpeg as `DISPLAYMATRIX` side data on every decoded frame) or, in files
written by older tools (e.g. Matroska), a `rotate` stream tag. Both are read into one
orientation: `rotation`, the clockwise quarter turn (0, 90, 180 or 270 degrees; the `rotate`
tag's convention) applied to the coded picture, then `mirrored`, a left-right flip. These 8
cases are every right-angle display matrix; other angles are refused with `VideoError`.

The matrix ``[a b u; c d v; x y w]`` maps a coded pixel (x, y) (y down) to the shown pixel
(a·x + c·y + tx, b·x + d·y + ty), as FFmpeg's `av_display_rotation_get` and the ffmpeg tool's
autorotation read it: e.g. a=0, b=1, c=-1, d=0 is a clockwise quarter turn (a phone held
upright). The readers in `lvr.video.readers` decode coded pictures and call `orient`, so every
reader and mode shows the same upright frames; `lvr.video.probe` reports the shown size.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

# (rotation clockwise, mirrored) -> the 2x2 matrix [[a, c], [b, d]] acting on (x, y), y down
_QUARTER = np.array([[0, -1], [1, 0]])  # clockwise quarter turn: right -> down
_MIRROR = np.array([[-1, 0], [0, 1]])   # left-right flip after the turn
_ORIENTATIONS = {
    (r, m): (np.linalg.matrix_power(_MIRROR, int(m)) @ np.linalg.matrix_power(_QUARTER, r // 90))
    for r in (0, 90, 180, 270) for m in (False, True)
}


def orientation_from_matrix(matrix) -> tuple[int, bool]:
    """(rotation, mirrored) of a 9-integer display matrix; ValueError for angles not a multiple of 90."""
    m = [int(v) for v in matrix]
    if len(m) != 9:
        raise ValueError(f"a display matrix has 9 entries, got {len(m)}")
    a, b, c, d = m[0], m[1], m[3], m[4]
    axis_aligned = (b == 0 and c == 0 and a != 0 and d != 0) or (a == 0 and d == 0 and b != 0 and c != 0)
    if not axis_aligned:
        deg = float(np.degrees(np.arctan2(b, a))) if (a or b) else float("nan")
        raise ValueError(f"display matrix turns the picture by {deg:.1f} degrees; only quarter turns "
                         f"(and mirroring) are supported")
    signs = np.sign(np.array([[a, c], [b, d]]))
    for key, mat in _ORIENTATIONS.items():
        if np.array_equal(mat, signs):
            return key
    raise AssertionError("unreachable: every signed permutation matrix is listed")


def orientation_from_tag(value: str) -> tuple[int, bool]:
    """(rotation, False) from a `rotate` tag ("90", "-90", "270.0"); ValueError for other angles."""
    if not re.fullmatch(r"\s*[-+]?\d+(?:\.0*)?\s*", str(value)):
        raise ValueError(f"rotate tag {value!r} is not a whole number of degrees")
    deg = int(float(value)) % 360
    if deg % 90:
        raise ValueError(f"rotate tag turns the picture by {deg} degrees; only quarter turns are supported")
    return deg, False


def side_data_entries(frame):
    """A decoded PyAV frame's side data entries. PyAV up to 18.1.0 iterates the entries themselves; 18.1.1 made
    the container a mapping that iterates their types."""
    container = frame.side_data
    for entry in container:
        yield entry if hasattr(entry, "type") else container[entry]


def display_matrix_of(frame) -> list[int] | None:
    """The 9 integers of a decoded PyAV frame's DISPLAYMATRIX side data, or None."""
    for sd in side_data_entries(frame):
        if getattr(sd.type, "name", str(sd.type)).upper().endswith("DISPLAYMATRIX"):
            raw = bytes(sd)
            if len(raw) >= 36:
                return [int(v) for v in np.frombuffer(raw[:36], dtype="<i4")]
    return None


def display_orientation(frame, metadata: Mapping[str, str] | None = None) -> tuple[int, bool]:
    """Orientation of a stream from its first decoded frame's display matrix, else its `rotate` tag."""
    matrix = display_matrix_of(frame) if frame is not None else None
    if matrix is not None:
        return orientation_from_matrix(matrix)
    for key, value in (metadata or {}).items():
        if key.lower() == "rotate":
            return orientation_from_tag(value)
    return 0, False


def display_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """(width, height) as shown: a quarter turn swaps them."""
    return (height, width) if rotation % 180 else (width, height)


def orient(frames: np.ndarray, rotation: int, mirrored: bool) -> np.ndarray:
    """Turn coded pictures `[..., H, W, C]` upright: `rotation` degrees clockwise, then a left-right flip."""
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    k = (rotation // 90) % 4
    if k == 0 and not mirrored:
        return frames
    out = np.rot90(frames, -k, axes=(-3, -2)) if k else frames
    if mirrored:
        out = out[..., ::-1, :]
    return np.ascontiguousarray(out)
