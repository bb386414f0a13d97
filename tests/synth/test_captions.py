"""Ground-truth captions: one per 10 s clip, describing the visible state and the clip's events, varied."""

from __future__ import annotations

import re

from lvr.synth import clip_captions


def test_one_caption_per_clip_covering_the_video(log3):
    caps = clip_captions(log3)
    assert len(caps) == log3.n_clips == 18
    assert [(c["start"], c["end"]) for c in caps] == log3.clips()
    assert all(c["caption"].strip().endswith(".") for c in caps)
    assert not any(re.search(r"\d{1,2}:\d{2}", c["caption"]) for c in caps)


def test_captions_mention_what_happens_in_their_clip(log3):
    caps = clip_captions(log3)
    for e in log3.select(("pick_up", "drop", "hand_over", "hide", "find", "open")):
        text = caps[log3.clip_of(e["t"])]["caption"]
        assert log3.name(e["agent"]) in text and log3.name(e["object"]) in text, (e, text)
    for i, c in enumerate(caps):  # the state at the clip start: where every robot is
        s = log3.clip_range(i)[0]
        for a in log3.agent_ids:
            assert f"{log3.name(a)}" in c["caption"].lower() or log3.name(a).capitalize() in c["caption"]
            assert log3.zone_at(a, s) in c["caption"]


def test_captions_vary_their_wording(log3):
    caps = " ".join(c["caption"] for c in clip_captions(log3))
    verbs = {
        v
        for v in (
            "picks up",
            "grabs",
            "lifts",
            "takes",
            "puts down",
            "drops",
            "sets",
            "leaves",
            "moves from",
            "walks out",
            "crosses",
            "heads into",
            "bumps into",
            "collide",
            "runs into",
        )
        if v in caps
    }
    assert len(verbs) >= 8
