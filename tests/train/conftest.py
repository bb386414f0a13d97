"""Training fixtures: a small real workspace (PyAV videos + QA items in sft/rl/eval) and a tiny model.

Built once per test session (session-scoped, in a temp dir) because every training test reads
the same data; tests that write to the store get their own copy via `train_ws`.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lvr.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable

COLORS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220), "yellow": (230, 220, 40)}


def _video(path: Path, colors: list[str], seconds_each: float = 1.0, fps: int = 8, size: int = 64) -> Path:
    from lvr.video.encode import write_video

    frames = []
    for c in colors:
        rgb = np.array(COLORS[c], dtype=np.uint8)
        for k in range(int(seconds_each * fps)):
            f = np.zeros((size, size, 3), dtype=np.uint8) + rgb
            f[: size // 4, (k * 3) % size:] = 255 - rgb  # a little motion
            frames.append(f)
    return write_video(path, frames, fps=fps, gop=fps)


def build_workspace(root: Path, n_videos: int = 4) -> Path:
    """Videos showing 4 colour segments; questions ask which colour came first/last."""
    from lvr.video import probe

    ws = Workspace.open(root, create=True)
    names = list(COLORS)
    rng = np.random.default_rng(0)
    items = []
    for v in range(n_videos):
        order = [names[(v + k) % 4] for k in range(4)]
        path = _video(root / f"src{v}.mp4", order)
        info = probe(path)
        import hashlib

        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        vid = ws.add_video(path, sha256=sha, duration=info.duration, fps=info.fps, n_frames=info.n_frames,
                           width=info.width, height=info.height, copy=True)
        for q, (kind, target) in enumerate((("first", order[0]), ("last", order[-1]))):
            opts = list(names)
            rng.shuffle(opts)
            letter = "ABCD"[opts.index(target)]
            reasoning = (f"The video starts {order[0]}, then turns {order[1]}, then {order[2]}, and ends "
                         f"{order[3]}. So the {kind} colour is {target}.")
            for split in ("sft", "rl", "eval"):
                items.append(dict(video_id=vid, category="temporal", question=f"Which colour is shown {kind}?",
                                  options=[o.capitalize() for o in opts], answer=letter, reasoning=reasoning,
                                  status="approved" if (v + q) % 2 else "pending", source="test", split=split))
    ws.add_qa_many(items)
    ws.close()
    return root


@pytest.fixture(scope="session")
def base_ws(tmp_path_factory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("train") / "ws")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, base_ws) -> Path:
    """A tiny composite model whose tokenizer covers the workspace's texts."""
    from lvr.model import init_tiny

    out = tmp_path_factory.mktemp("model") / "tiny"
    ws = Workspace.open(base_ws)
    init_tiny(out, kind="lvr_composite", workspace=ws)
    ws.close()
    return out


@pytest.fixture
def train_ws(tmp_path, base_ws) -> Path:
    """A private copy of the workspace (tests register checkpoints and jobs in it)."""
    dest = tmp_path / "ws"
    shutil.copytree(base_ws, dest)
    return dest


def torchrun(args: list[str], nproc: int = 2, timeout: float = 120, env: dict | None = None):
    import os

    cmd = [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=full_env)
    if res.returncode != 0:
        raise AssertionError(f"torchrun failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}")
    return res
