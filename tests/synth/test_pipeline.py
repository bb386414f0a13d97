"""synth_workspace: rendered videos, clips with ground-truth captions and QA registered in a real store,
splits disjoint by video, re-runs skip what is there, and the datagen ground-truth readers agree."""

from __future__ import annotations

from collections import Counter

import pytest

from lvr.synth import assign_splits
from lvr.synth.eventlog import EventLog


def test_assign_splits_by_video():
    s = assign_splits(20, (0.6, 0.3, 0.1), seed=0)
    assert Counter(s) == {"sft": 12, "rl": 6, "eval": 2}
    assert assign_splits(20, (0.6, 0.3, 0.1), seed=0) == s != assign_splits(20, (0.6, 0.3, 0.1), seed=1)
    for n in (2, 3, 5):
        c = Counter(assign_splits(n, (0.6, 0.3, 0.1), seed=0))
        assert c["eval"] >= 1 and c["sft"] >= 1 and sum(c.values()) == n


def test_workspace_holds_videos_clips_captions_and_qa(small_ws):
    ws, _, summary = small_ws
    assert summary["new_videos"] == 5 and summary["skipped"] == 0
    videos = ws.list_videos(source="synth")
    assert len(videos) == 5
    for v in videos:
        path = ws.video_path(v["id"])
        assert path.parent == ws.media_dir and path.exists() and path.suffix == ".mp4"
        assert (v["width"], v["height"], v["fps"], v["n_frames"]) == (96, 96, 2.0, 120)
        log = EventLog.load(ws.resolve(v["meta"]["event_log"]))
        assert log.seed == v["meta"]["seed"]
        clips = ws.clips(v["id"])
        assert [(c["start"], c["end"]) for c in clips] == log.clips()
        assert all(c["caption"] and c["captioner"] == "ground-truth" for c in clips)
        items, total = ws.query_qa(video_id=v["id"], page_size=500)
        assert total == v["n_qa"] > 0
        assert {it["split"] for it in items} == {v["split"]} and {it["source"] for it in items} == {
            "synth-gt"
        }
        assert all(it["reasoning"] and it["reasoning_raw"] and len(it["meta"]["clips"]) >= 2 for it in items)
    by_split = Counter(v["split"] for v in videos)
    assert by_split["eval"] >= 1 and by_split["sft"] >= 1
    assert summary["qa"] == ws.scalar("SELECT count(*) FROM qa") == sum(summary["qa_by_split"].values())


def test_rerun_skips_registered_videos(small_ws):
    from lvr.synth import synth_workspace

    ws, cfg, summary = small_ws
    again = synth_workspace(ws, cfg)
    assert again["new_videos"] == 0 and again["skipped"] == 5 and again["qa"] == 0
    assert ws.scalar("SELECT count(*) FROM qa") == summary["qa"]


def test_datagen_ground_truth_readers_accept_the_corpus(small_ws):
    from lvr.datagen.ground_truth import GroundTruthBackend, clip_ground_truth_caption

    ws, _, _ = small_ws
    v = ws.list_videos(source="synth")[0]
    clip = ws.clips(v["id"])[2]
    assert clip_ground_truth_caption(ws, clip) == clip["caption"]
    backend = GroundTruthBackend(ws)
    for cat in ("temporal", "goal", "spatial", "plot"):
        item = backend.item(v["id"], cat, 0)
        assert item["category"] == cat and item["reasoning_raw"].startswith("From ")


def test_a_failing_render_leaves_nothing_half_registered(tmp_path, monkeypatch):
    from lvr.store import Workspace
    from lvr.synth import SynthConfig, WorldConfig, pipeline, synth_workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    calls = {"n": 0}
    real = pipeline.make_video

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full (simulated)")
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "make_video", flaky)
    cfg = SynthConfig(videos=3, workers=1, progress=False, world=WorldConfig(minutes=1, fps=1, size=64))
    with pytest.raises(RuntimeError, match="disk full"):
        synth_workspace(ws, cfg)
    assert ws.scalar("SELECT count(*) FROM videos") == 1
    monkeypatch.setattr(pipeline, "make_video", real)
    done = synth_workspace(ws, cfg)  # the rest completes on a re-run
    assert (done["skipped"], done["new_videos"]) == (1, 2)


def test_max_minutes_draws_each_video_length_from_its_seed(tmp_path):
    from lvr.synth import SynthConfig, WorldConfig, synth_workspace
    from lvr.synth.pipeline import corpus_stem

    cfg = SynthConfig(videos=6, seed=3, world=WorldConfig(minutes=1.0, size=64), max_minutes=2.0, workers=1,
                      progress=False)
    lengths = [cfg.world_for(i).minutes for i in range(6)]
    assert all(1.0 <= x <= 2.0 for x in lengths) and len(set(lengths)) == 6
    assert lengths == [cfg.world_for(i).minutes for i in range(6)]                  # the seed decides
    fixed = SynthConfig(videos=6, seed=3, world=WorldConfig(minutes=1.0, size=64))
    assert {fixed.world_for(i).minutes for i in range(6)} == {1.0}
    assert corpus_stem(cfg, 0) != corpus_stem(fixed, 0)                             # never mixed in one folder
    ws_videos = synth_workspace(tmp_path / "ws", SynthConfig(**{**cfg.__dict__, "videos": 2}))
    assert ws_videos["videos"] == 2
    from lvr.store import Workspace

    got = sorted(v["duration"] for v in Workspace.open(tmp_path / "ws").list_videos())
    assert got == pytest.approx(sorted(60 * x for x in lengths[:2]), abs=0.5)
