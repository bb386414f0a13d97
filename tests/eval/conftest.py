"""Eval fixtures: a real workspace with synthetic-like QA splits, and small real H.264 videos."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from lvr.store import CATEGORIES, Workspace

LETTERS = "ABCD"


def make_items(n: int, split: str, *, seed: int = 0, weights=(1, 1, 1, 1), video_ids=None,
               source: str = "synthetic", artefact: bool = False) -> list[dict]:
    """n QA items over the four categories; key letters drawn with `weights`.

    With `artefact=True` the correct option is always the longest and mentions the question's
    object (a text-only model can exploit that, a fair item set cannot be answered that way).
    """
    rng = random.Random(f"{seed}:{split}")
    objects = ["key", "ball", "lamp", "book", "cup", "box", "hat", "map"]
    rooms = ["kitchen", "garage", "garden", "hall", "attic", "cellar", "porch", "study"]
    out = []
    for i in range(n):
        obj = rng.choice(objects)
        key = rng.choices(LETTERS, weights=weights)[0]
        opts = [f"to the {r}" for r in rng.sample(rooms, 4)]
        if artefact:
            opts[LETTERS.index(key)] = f"the robot carries the {obj} slowly to the {rng.choice(rooms)} at the end"
        out.append(dict(
            video_id=(video_ids[i % len(video_ids)] if video_ids else None), category=CATEGORIES[i % 4],
            question=f"Where does the robot take the {obj} after item {i}?", options=opts, answer=key,
            reasoning="The robot picks it up and walks.", split=split, source=source, status="approved"))
    return out


@pytest.fixture
def ws(tmp_path) -> Workspace:
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


@pytest.fixture(scope="session")
def clip_paths(tmp_path_factory) -> list[Path]:
    """Two small numbered H.264 videos (60 frames, 64x48 at 10 fps)."""
    from lvr.video.encode import numbered_frames, write_video

    d = tmp_path_factory.mktemp("eval_videos")
    return [write_video(d / f"v{i}.mp4", numbered_frames(60, 48, 64, start=100 * i), fps=10, gop=10)
            for i in range(2)]


@pytest.fixture
def video_ids(ws, clip_paths) -> list[str]:
    from lvr.ingest import ingest_file

    return [ingest_file(ws, p, split="eval")[0] for p in clip_paths]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random-init composite checkpoint saved offline (lvr.model.init_tiny)."""
    from lvr.model import init_tiny

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    init_tiny(out, "composite", seed=0)
    return out
