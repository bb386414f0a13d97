"""Draw a synthetic video from its event log (numpy) and encode it to H.264 mp4 (PyAV).

    from lvr.synth.render import render_video, frames
    info = render_video(log, "media/x.mp4", fps=4, size=224)   # {"n_frames", "fps", "sha256", ...}
    for arr in frames(log, fps=4, size=224): ...               # RGB uint8 [size, size, 3]

The frame at time t shows: the zones' floors (pale, one colour per zone name) with thin walls,
each zone's hiding spot (dark square), the chest (closed: brown with a gold lock; open: dark
inside), objects lying on the floor (small shapes, black outline), then the robots (large
saturated shapes, black outline) with whatever they carry drawn on top. Hidden objects and the
coin before the chest opens are not drawn. Robot positions are interpolated from the log's
tracks; everything else follows the events, so the video always agrees with the log.

Sprites are precomputed masks pasted with `np.copyto`; the background is drawn once. One core
renders several thousand 224x224 frames/s; x264 (one thread, so output bytes are reproducible)
is the larger cost. See bench/synth.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .eventlog import EventLog
from .world import AGENT_RADIUS, CHEST_COLOUR, CHEST_HALF, OBJECT_RADIUS, SPOT_COLOUR

WALL = (90, 90, 90)
OUTLINE = (0, 0, 0)


def _shape_mask(shape: str, r: float) -> np.ndarray:
    n = int(np.ceil(r)) + 1
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    d = np.hypot(xx, yy)
    if shape in ("circle", "ball"):
        m = d <= r
    elif shape in ("square", "box"):
        m = (np.abs(xx) <= r * 0.82) & (np.abs(yy) <= r * 0.82)
    elif shape in ("triangle", "cone"):
        m = (yy <= r * 0.8) & (yy >= -r) & (np.abs(xx) <= (yy + r) / 1.8)
    elif shape in ("diamond", "gem"):
        m = np.abs(xx) + np.abs(yy) <= r
    elif shape == "ring":
        m = (d <= r) & (d >= r * 0.5)
    elif shape == "star":
        m = ((np.abs(xx) <= r * 0.34) | (np.abs(yy) <= r * 0.34)) & (np.abs(xx) <= r) & (np.abs(yy) <= r)
    elif shape == "key":
        head = (np.hypot(xx + r * 0.45, yy) <= r * 0.55) & (np.hypot(xx + r * 0.45, yy) >= r * 0.22)
        shaft = (xx >= -r * 0.1) & (xx <= r) & (np.abs(yy) <= r * 0.2)
        tooth = (xx >= r * 0.55) & (xx <= r * 0.85) & (yy >= 0) & (yy <= r * 0.6)
        m = head | shaft | tooth
    elif shape == "cup":
        body = (np.abs(xx) <= r * 0.8) & (yy >= -r * 0.8) & (yy <= r * 0.8)
        inside = (np.abs(xx) <= r * 0.45) & (yy < r * 0.35)
        m = body & ~inside
    elif shape == "coin":
        m = d <= r
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return m


def _dilate(m: np.ndarray, k: int) -> np.ndarray:
    out = m.copy()
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            out |= np.roll(np.roll(m, dy, 0), dx, 1)
    return out


class Sprite:
    """An RGB patch and its mask, centred on (cy, cx) when pasted."""

    def __init__(self, shape: str, colour, r: float, outline: int = 1):
        m = _shape_mask(shape, r)
        pad = outline + 1
        m = np.pad(m, pad)
        full = _dilate(m, outline) if outline else m
        patch = np.zeros(m.shape + (3,), np.uint8)
        patch[full] = OUTLINE
        patch[m] = colour
        if shape == "coin":  # a darker inner ring makes the coin read as a coin
            c = m.shape[0] // 2
            yy, xx = np.mgrid[: m.shape[0], : m.shape[1]]
            dd = np.hypot(yy - c, xx - c)
            patch[m & (dd >= r * 0.45) & (dd <= r * 0.65)] = (150, 110, 0)
        self.patch, self.mask = patch, full[..., None]
        self.h, self.w = m.shape

    def paste(self, frame: np.ndarray, cx: float, cy: float) -> None:
        H, W = frame.shape[:2]
        x0, y0 = round(cx) - self.w // 2, round(cy) - self.h // 2
        x1, y1 = x0 + self.w, y0 + self.h
        sx0, sy0 = max(0, -x0), max(0, -y0)
        sx1, sy1 = self.w - max(0, x1 - W), self.h - max(0, y1 - H)
        if sx1 <= sx0 or sy1 <= sy0:
            return
        np.copyto(
            frame[y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1],
            self.patch[sy0:sy1, sx0:sx1],
            where=self.mask[sy0:sy1, sx0:sx1],
        )


class Renderer:
    """Everything that does not change over time, drawn once for a log and a frame size."""

    def __init__(self, log: EventLog, size: int):
        self.log, self.size = log, size
        S = size
        bg = np.zeros((S, S, 3), np.uint8)
        for z in log.layout.zones:
            x0, y0, x1, y1 = (round(v * S) for v in z.rect)
            bg[y0:y1, x0:x1] = z.floor
        wall = max(1, S // 112)
        for z in log.layout.zones:
            x0, y0, x1, y1 = (round(v * S) for v in z.rect)
            bg[y0 : y0 + wall, x0:x1] = WALL
            bg[y1 - wall : y1, x0:x1] = WALL
            bg[y0:y1, x0 : x0 + wall] = WALL
            bg[y0:y1, x1 - wall : x1] = WALL
        spot_half = max(3, round(0.04 * S))
        for z in log.layout.zones:
            cx, cy = round(z.spot_xy[0] * S), round(z.spot_xy[1] * S)
            bg[cy - spot_half - 1 : cy + spot_half + 1, cx - spot_half - 1 : cx + spot_half + 1] = (
                30,
                20,
                10,
            )
            bg[cy - spot_half : cy + spot_half, cx - spot_half : cx + spot_half] = SPOT_COLOUR
        self.bg_closed = bg
        self.bg_open = bg
        ch = log.layout.chest
        if ch:
            hx, hy = max(3, round(CHEST_HALF[0] * S)), max(2, round(CHEST_HALF[1] * S))
            cx, cy = round(ch["x"] * S), round(ch["y"] * S)
            closed = bg.copy()
            closed[cy - hy - 1 : cy + hy + 1, cx - hx - 1 : cx + hx + 1] = OUTLINE
            closed[cy - hy : cy + hy, cx - hx : cx + hx] = CHEST_COLOUR
            lock = max(1, hy // 3)
            closed[cy - lock : cy + lock, cx - lock : cx + lock] = (250, 210, 40)
            opened = bg.copy()
            opened[cy - hy - 1 : cy + hy + 1, cx - hx - 1 : cx + hx + 1] = OUTLINE
            opened[cy - hy : cy + hy, cx - hx : cx + hx] = (200, 150, 90)
            opened[cy - hy + 2 : cy + hy - 2, cx - hx + 2 : cx + hx - 2] = (20, 10, 5)
            self.bg_closed, self.bg_open = closed, opened
        ra, ro = AGENT_RADIUS * S, OBJECT_RADIUS * S
        self.agent_sprites = {
            a["id"]: Sprite(a["shape"], a["colour"], ra, outline=max(1, S // 150)) for a in log.layout.agents
        }
        self.object_sprites = {
            o["id"]: Sprite(o["kind"], o["colour"], ro, outline=1) for o in log.layout.objects
        }
        self.open_t = min((e["t"] for e in log.events if e["type"] == "open"), default=None)

    def frames(self, fps: float, n_frames: int | None = None) -> Iterator[np.ndarray]:
        log, S = self.log, self.size
        n = n_frames if n_frames is not None else max(1, round(log.duration * fps))
        obj_events = sorted(
            (
                e
                for e in log.events
                if e.get("object") and e["type"] in ("appear", "pick_up", "drop", "hand_over", "disappear")
            ),
            key=lambda e: (e["t"], e["id"]),
        )
        state: dict[str, tuple] = {}
        k = 0
        agents = log.agent_ids
        for i in range(n):
            t = i / fps
            while k < len(obj_events) and obj_events[k]["t"] <= t:
                e = obj_events[k]
                if e["type"] == "appear":
                    state[e["object"]] = ("held", e["agent"]) if e.get("agent") else ("floor", e["x"], e["y"])
                elif e["type"] == "pick_up":
                    state[e["object"]] = ("held", e["agent"])
                elif e["type"] == "hand_over":
                    state[e["object"]] = ("held", e["other"])
                elif e["type"] == "drop":
                    state[e["object"]] = ("floor", e["x"], e["y"])
                else:
                    state[e["object"]] = ("hidden",)
                k += 1
            bg = self.bg_open if self.open_t is not None and t >= self.open_t else self.bg_closed
            frame = bg.copy()
            for oid, st in state.items():
                if st[0] == "floor":
                    self.object_sprites[oid].paste(frame, st[1] * S, st[2] * S)
            pos = {a: log.position_at(a, t) for a in agents}
            for a in agents:
                self.agent_sprites[a].paste(frame, pos[a][0] * S, pos[a][1] * S)
            for oid, st in state.items():
                if st[0] == "held":
                    x, y = pos[st[1]]
                    self.object_sprites[oid].paste(frame, x * S, y * S)
            yield frame


def frames(log: EventLog, fps: float, size: int, n_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB frames of the video of `log` at `fps` (frame i shows time i / fps)."""
    return Renderer(log, size).frames(fps, n_frames)


def encode_mp4(
    path: str | Path, frame_iter, fps: float, size: int, *, gop: int, crf: int = 23, preset: str = "veryfast"
) -> int:
    """Encode RGB frames to H.264 yuv420p mp4; returns the frame count.

    x264 runs single-threaded, so the same frames always give the same bytes."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    n = 0
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        stream.options = {
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "crf": str(crf),
            "preset": preset,
            "bf": "0",
            "threads": "1",
        }
        for arr in frame_iter:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
            n += 1
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return n


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render_video(
    log: EventLog, path: str | Path, *, fps: float, size: int, gop_seconds: float = 2.0, crf: int = 23
) -> dict:
    """Render and encode the video of `log`; returns what `Workspace.add_video` needs."""
    n = max(1, round(log.duration * fps))
    gop = max(1, round(gop_seconds * fps))
    written = encode_mp4(path, frames(log, fps, size, n), fps, size, gop=gop, crf=crf)
    return {
        "path": str(path),
        "n_frames": written,
        "fps": float(fps),
        "duration": written / float(fps),
        "width": size,
        "height": size,
        "codec": "h264",
        "keyframe_interval": gop / float(fps),
        "sha256": sha256_file(path),
    }
