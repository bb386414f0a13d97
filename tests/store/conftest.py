"""Store fixtures: a real workspace on disk, one video, a few QA items."""
from __future__ import annotations

import pytest

from lvr.store import Workspace


def make_item(video_id: str | None, i: int = 0, **kw) -> dict:
    item = dict(video_id=video_id, category=("temporal", "goal", "spatial", "plot")[i % 4],
                question=f"Question {i}: where did the red robot carry the key?",
                options=[f"kitchen {i}", f"garage {i}", f"garden {i}", f"hall {i}"], answer="ABCD"[i % 4],
                reasoning=f"The robot picks up the key and walks to the garage {i}.", source="test", split="sft")
    item.update(kw)
    return item


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


@pytest.fixture
def video_id(ws):
    return ws.add_video("/data/v.mp4", sha256="0123456789abcdef" * 4, duration=30.0, fps=30.0, n_frames=900,
                        width=64, height=48)
