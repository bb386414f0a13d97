"""Fixtures for lvr.model tests: tiny models (built once per session), frames, a PyAV video,
and a tiny composite overfitted on one answer (so generation has something real to produce)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lvr.model import build_messages, build_tiny, format_target

TARGET_THINKING = "The chef opens the door, then the dog runs to the kitchen."
TARGET_ANSWER = "B"
TRAILING = " and more words after"   # trained after </answer>: generation must stop before it
QUESTION = "What happens after the chef opens the door?"
OPTIONS = ["The car stops", "The dog runs to the kitchen", "A boat sails", "Nothing happens"]


def make_frames(n: int, h: int = 60, w: int = 80, seed: int = 0) -> np.ndarray:
    """Random-ish but smooth uint8 RGB frames [n, h, w, 3]."""
    rng = np.random.RandomState(seed)
    base = rng.randint(0, 256, (n, h // 4 + 1, w // 4 + 1, 3)).astype(np.uint8)
    return np.repeat(np.repeat(base, 4, axis=1), 4, axis=2)[:, :h, :w].copy()


def write_video(path: Path, n_frames: int = 24, size: tuple[int, int] = (64, 96), fps: int = 8) -> Path:
    """An H.264 mp4 with a moving bright square, written with PyAV."""
    import av

    h, w = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n_frames):
            img = np.full((h, w, 3), 30, dtype=np.uint8)
            x = (i * 4) % (w - 16)
            img[20:36, x:x + 16] = (250, 200, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def tiny_composite():
    return build_tiny("composite", seed=0)


@pytest.fixture(scope="session")
def tiny_qwen():
    return build_tiny("qwen2_5_vl", seed=0)


@pytest.fixture(scope="session")
def pyav_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "square.mp4")


def overfit(model, frames: np.ndarray, timestamps, steps: int = 120, lr: float = 3e-3) -> list[float]:
    """Train `model` on one (frames, question) → target example until it reproduces it."""
    target = format_target(TARGET_THINKING, TARGET_ANSWER) + TRAILING
    messages = build_messages(QUESTION, OPTIONS, target=target)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        inputs = model.prepare(frames, messages, timestamps=timestamps, train=True)
        logits = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], inputs.labels[0, 1:], ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if loss.item() < 0.01:
            break
    model.eval()
    return losses


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, pyav_video) -> Path:
    """A tiny composite overfitted on QUESTION about `pyav_video` (8 frames), saved to disk."""
    from lvr.video import SamplingSpec, sample_frames

    model = build_tiny("composite", seed=1)
    s = sample_frames(pyav_video, SamplingSpec(mode="exact", num_frames=8))
    losses = overfit(model, s.frames, s.timestamps)
    assert losses[-1] < 0.05, f"overfitting failed: {losses[0]:.3f} → {losses[-1]:.3f}"
    out = tmp_path_factory.mktemp("ckpt") / "trained"
    model.save(out)
    return out
