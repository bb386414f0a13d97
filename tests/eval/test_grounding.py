"""Does the reasoning say what the frames show (lvr.eval.grounding): each claim of a run's timestamped reasoning
lines checked against its video's event log at the frame it names; reasoning written from another video's frames
scores near chance on the same items.

    .venv/bin/pytest tests/eval/test_grounding.py
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.eval.grounding import LINE, grounding_line, reasoning_claims, run_grounding
from lvr.store import Workspace
from lvr.synth import SynthConfig, WorldConfig, synth_workspace
from lvr.synth.visibility import event_log, frame_reasoning, frame_times, item_conclusion

FRAMES = 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two eval runs of one synthetic workspace: reasoning written from each item's own frames, and from the next
    video's (its log, its frame times)."""
    ws = Workspace.open(tmp_path_factory.mktemp("grounding") / "ws", create=True)
    synth_workspace(ws, SynthConfig(videos=3, seed=5, workers=1, progress=False,
                                    world=WorldConfig(minutes=1, fps=2, size=64)))
    videos = [v["id"] for v in ws.list_videos()]
    seen = {v: (event_log(str(ws.video_path(v))), frame_times(ws.video_path(v), FRAMES)) for v in videos}
    out = {}
    for name, shift in (("own", 0), ("other", 1)):
        run = ws.add_eval_run(checkpoint=None, split=None, frames=FRAMES, config={})
        recs = []
        for qa in ws.iter_qa():
            log, times = seen[videos[(videos.index(qa["video_id"]) + shift) % len(videos)]]
            text = frame_reasoning(log, qa["meta"], times, item_conclusion(qa["meta"], qa["reasoning"]))
            recs.append({"qa_id": qa["id"], "category": qa["category"], "correct": 0, "thinking": text})
        ws.add_eval_items(run, recs)
        ws.update_eval_run(run, status="succeeded")
        out[name] = run
    return ws, out, seen


def test_reasoning_written_from_the_frames_is_all_true(runs):
    ws, ids, _ = runs
    g = run_grounding(ws, ids["own"])
    assert g.items == len(list(ws.iter_qa())) and g.lines > g.items
    assert g.claims["robot zone"][1] > 50 and "unknown" not in g.claims
    assert all(ok == n for ok, n in g.claims.values()), g.claims


def test_reasoning_about_another_videos_frames_is_mostly_false(runs):
    ws, ids, _ = runs
    own, other = run_grounding(ws, ids["own"]), run_grounding(ws, ids["other"])
    assert other.rate("robot zone") < 0.6 < own.rate("robot zone") == 1.0
    line = grounding_line(other)
    assert line.startswith(f"{ids['other']}: robot zone ") and "% true" in line


def test_each_false_claim_is_caught(runs):
    _, _, seen = runs
    log, times = next(iter(seen.values()))
    t = times[0]
    robot = sorted(log.agent_ids)[0]
    name = log.name(robot).removeprefix("the ")
    zone = log.zone_at(robot, t)
    wrong = next(z for z in ("kitchen", "hall", "garden", "garage", "bedroom", "office") if z != zone)
    stamp = f"{int(t) // 60:02d}:{int(round(t)) % 60:02d}"
    assert reasoning_claims(log, f"{stamp}: {name} {zone}.", times)[0] == ("robot zone", True)
    assert reasoning_claims(log, f"{stamp}: {name} {wrong}.", times)[0] == ("robot zone", False)
    assert ("carrying", False) in reasoning_claims(log, f"{stamp}: {name} {zone} with purple unicorn.", times)
    assert reasoning_claims(log, f"{stamp}: golden dragon hall.", times) == [("unknown", False)]
    assert reasoning_claims(log, f"{stamp}: none of them in view.", times) == []
    assert reasoning_claims(log, f"{name} {zone}.", times) == []                   # no time stamp: no claim
    assert LINE.match("01:05: red robot hall")


def test_cli_prints_a_line_or_json_per_run(runs):
    ws, ids, _ = runs
    res = CliRunner().invoke(cli, ["eval", "grounding", str(ws.root), ids["own"], ids["other"], "--json"])
    assert res.exit_code == 0, res.output
    own, other = json.loads(res.output)
    assert own["claims"]["robot zone"]["true"] == own["claims"]["robot zone"]["n"]
    assert other["claims"]["robot zone"]["true"] < other["claims"]["robot zone"]["n"]
    res = CliRunner().invoke(cli, ["eval", "grounding", str(ws.root), "no-such-run"])
    assert res.exit_code != 0 and "no eval run 'no-such-run'" in res.output
