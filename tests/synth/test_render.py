"""The renderer: decodable H.264 of the right length and size, and frames that show the log's state."""

from __future__ import annotations

import av
import numpy as np
import pytest

from lvr.synth import WorldConfig, frames, render_video, simulate
from lvr.synth.render import Sprite


@pytest.fixture(scope="module")
def log():
    return simulate(WorldConfig(seed=4, minutes=1))


def test_mp4_decodes_with_expected_frames(tmp_path, log):
    info = render_video(log, tmp_path / "v.mp4", fps=3, size=128, gop_seconds=2)
    with av.open(str(tmp_path / "v.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and (s.width, s.height) == (128, 128)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == info["n_frames"] == 180
    assert info["duration"] == pytest.approx(60.0) and info["keyframe_interval"] == pytest.approx(2.0)
    assert len(info["sha256"]) == 64


def test_frames_show_floors_robots_and_carried_objects(log):
    size, fps = 224, 4
    imgs = list(frames(log, fps, size))
    assert len(imgs) == 240 and imgs[0].shape == (224, 224, 3) and imgs[0].dtype == np.uint8
    # each zone's floor colour is visible in the zone
    for z in log.layout.zones:
        x0, y0, x1, y1 = (int(v * size) for v in z.rect)
        patch = imgs[0][y0 + 4 : y1 - 4, x0 + 4 : x1 - 4].reshape(-1, 3)
        assert (patch == np.array(z.floor)).all(1).mean() > 0.5
    # a robot carrying an object shows the object's colour at its centre
    checked = 0
    for e in log.select("pick_up"):
        i = int(np.ceil((e["t"] + 1.0) * fps))
        t = i / fps
        if i >= len(imgs) or log.carrying_at(e["agent"], t) != e["object"]:
            continue
        x, y = log.position_at(e["agent"], t)
        colour = next(o["colour"] for o in log.layout.objects if o["id"] == e["object"])
        cx, cy = round(x * size), round(y * size)
        px = imgs[i][cy - 4 : cy + 5, cx - 4 : cx + 5]
        assert (np.abs(px.reshape(-1, 3).astype(int) - colour).sum(1) < 10).any(), e
        checked += 1
    assert checked >= 2


def test_hidden_objects_are_not_drawn():
    log = next(lg for s in range(20) if (lg := simulate(WorldConfig(seed=s, minutes=2))).select("hide"))
    h = log.select("hide")[0]
    colour = np.array(next(o["colour"] for o in log.layout.objects if o["id"] == h["object"]))
    fps, size = 4, 224
    imgs = list(frames(log, fps, size))
    i = int(np.ceil((h["t"] + 1) * fps))
    end = log.select("find", obj=h["object"], t0=h["t"])
    if end and end[0]["t"] <= (i + 1) / fps:
        pytest.skip("found again immediately")
    other = [np.array(o["colour"]) for o in log.layout.objects if o["id"] != h["object"]] + [
        np.array(a["colour"]) for a in log.layout.agents
    ]
    if any((np.abs(c - colour).sum() < 30) for c in other):
        pytest.skip("another sprite shares the colour")
    assert not (np.abs(imgs[i].reshape(-1, 3).astype(int) - colour).sum(1) < 6).any()


def test_sprites_clip_at_the_frame_border():
    frame = np.zeros((32, 32, 3), np.uint8)
    Sprite("circle", (255, 0, 0), 6).paste(frame, -3, 30)
    assert frame[..., 0].any() and not frame[0, 31].any()
