"""A small, realistic-looking workspace for the workbench tests: PyAV-rendered scenes, captions, QA items.

    info = build_corpus(ws, tmp_path / "videos", n_videos=3, seconds=40)

Each video is a sequence of 10 s scenes (a coloured room, a red ball rolling across, a blue box
rising) rendered with numpy and encoded with PyAV (H.264, 10 fps, 320×180), ingested with
`lvr.ingest`, captioned per clip (captioner "synth"), and given 8 pending reasoning QA items
(two per category) whose clip ranges point into the video.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lvr.ingest import ingest
from lvr.store import Workspace
from lvr.video.encode import write_video

FPS, W, H = 10, 320, 180
ROOMS = [("kitchen", (214, 196, 160)), ("garden", (120, 170, 110)), ("garage", (150, 150, 160)),
         ("hallway", (190, 170, 200)), ("studio", (90, 110, 150)), ("attic", (170, 140, 110))]
BALLS = ["red ball", "orange ball", "green ball"]


def _frames(seconds: int, video: int):
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(seconds * FPS):
        t = i / FPS
        scene = int(t // 10)
        name, colour = ROOMS[(video + scene) % len(ROOMS)]
        img = np.empty((H, W, 3), np.uint8)
        img[:] = colour
        img[int(H * 0.7):] = (np.array(colour) * 0.6).astype(np.uint8)  # floor
        frac = (t % 10) / 10
        cx, cy = int(20 + frac * (W - 40)), int(H * 0.7) - 14
        ball = (xx - cx) ** 2 + (yy - cy) ** 2 < 14 ** 2
        img[ball] = (220, 40, 40) if video % 3 == 0 else ((240, 140, 30) if video % 3 == 1 else (40, 180, 60))
        by = int(H * 0.65 - frac * H * 0.4)
        img[max(0, by - 20):by, W - 70:W - 40] = (40, 70, 200)
        yield img


def captions_for(seconds: int, video: int) -> list[str]:
    out = []
    for scene in range(seconds // 10):
        room = ROOMS[(video + scene) % len(ROOMS)][0]
        ball = BALLS[video % 3]
        out.append(f"In the {room}, a {ball} rolls from the left wall to the right along the floor "
                   f"while a blue box rises on the right side.")
    return out


def qa_for(video_id: str, seconds: int, video: int) -> list[dict]:
    rooms = [ROOMS[(video + s) % len(ROOMS)][0] for s in range(seconds // 10)]
    ball = BALLS[video % 3]
    others = [r for r, _ in ROOMS if r not in rooms] + ["basement", "balcony", "office"]
    items = []
    for k in range(2):
        a, b = (k, k + 1) if k + 1 < len(rooms) else (0, 1)
        items += [
            dict(category="temporal", question=f"Which room does the video show right after the {rooms[a]}?",
                 options=[rooms[b], others[0], others[1], rooms[a]], answer="A", start=10.0 * a, end=10.0 * b + 10,
                 reasoning=f"I first see the {rooms[a]}; when the scene cuts, the {rooms[b]} appears next."),
            dict(category="goal", question=f"Why does the {ball} keep crossing the floor in every room?",
                 options=["someone keeps pushing it offscreen", "it is the recurring subject that links the scenes",
                          "the floor is tilted", "it is chasing the blue box"], answer="B",
                 start=0.0, end=float(seconds),
                 reasoning=f"Each scene starts with the {ball} on the left and ends with it on the right, so it "
                           "ties the scenes together."),
            dict(category="spatial", question=f"Where is the blue box relative to the {ball} in the {rooms[a]}?",
                 options=["left of it", "on top of it", "on the right side, above the floor", "under the floor"],
                 answer="C", start=10.0 * a, end=10.0 * a + 10,
                 reasoning="The box stays near the right wall and rises, while the ball rolls along the floor."),
            dict(category="plot", question="How does the story of the video progress?",
                 options=["it stays in one room", "it moves through " + ", ".join(rooms),
                          "it ends in the " + others[0], "it goes backwards"], answer="B",
                 start=0.0, end=float(seconds),
                 reasoning="The same motion repeats as the video moves from room to room in order."),
        ]
    for it in items:
        it.update(video_id=video_id, source="synth-test", split="sft" if video % 2 == 0 else "rl",
                  reasoning_raw=it["reasoning"])
    return items


def build_corpus(ws: Workspace, video_dir: Path, n_videos: int = 3, seconds: int = 40) -> dict:
    """Render, ingest, caption and annotate `n_videos` videos; returns {"videos": [...], "qa": n}."""
    video_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_video(video_dir / f"{ROOMS[v][0]}_tour_{v + 1}.mp4", _frames(seconds, v), fps=FPS, gop=FPS * 2)
             for v in range(n_videos)]
    report = ingest(ws, paths, copy=True, split=None)
    assert report.ok, report.errors
    n_qa = 0
    for v, vid in enumerate(report.added):
        ws.update_video(vid, split="sft" if v % 2 == 0 else "rl")
        for clip, text in zip(ws.clips(vid), captions_for(seconds, v)):
            ws.set_caption(clip["id"], text, captioner="synth")
        n_qa += ws.add_qa_many(qa_for(vid, seconds, v))
    return {"videos": report.added, "qa": n_qa, "paths": paths}
