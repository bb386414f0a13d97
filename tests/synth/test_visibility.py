"""The ideal frame reader (lvr.synth.visibility): which items N frames can answer, and reasoning grounded in them."""
from __future__ import annotations

import numpy as np

from lvr.eval.ideal_reader import ideal_ceiling
from lvr.synth.visibility import (
    answerable,
    drawn,
    entities_at,
    frame_reasoning,
    frame_times,
    item_answerable,
    seen,
    snapshot,
)
from lvr.train.data import load_items


def uniform(duration: float, n: int) -> list[float]:
    return [(k + 0.5) * duration / n for k in range(n)]


def zone_change(log):
    """A robot's zone change with other zone events of that robot well apart on both sides."""
    for a in log.agent_ids:
        evs = [e for e in log.select(agent=a) if e["type"] == "enter"]
        for prev, e, nxt in zip(evs, evs[1:], evs[2:]):
            if e["t"] - prev["t"] > 4 and nxt["t"] - e["t"] > 4:
                return a, e, prev["t"], nxt["t"]
    raise AssertionError("no isolated zone change in the log")


def test_a_change_is_seen_between_frames_that_bracket_it_and_not_across_another(log3):
    a, e, before, after = zone_change(log3)
    t = e["t"]
    ents = {a}
    assert seen(log3, ents, t, [t - 1.0, t + 1.0])                          # both sides of the change
    assert seen(log3, ents, t, [t + 0.5])                                   # the state after it, on a frame
    assert not seen(log3, ents, t, [before - 1.0, after + 1.0][:1])         # only the state before it
    assert not seen(log3, ents, t, [before - 0.5, after + 0.5])             # frames straddle three stays
    assert snapshot(log3, ents, t - 0.5) != snapshot(log3, ents, t + 0.5)


def test_more_frames_answer_more_items_and_every_frame_answers_most(corpus):
    logs = corpus["logs"]
    items = corpus["eval"] + corpus["sft"][:150]
    rates = []
    for n in (2, 8, 32, 720):                       # 720 = every frame of a 3-minute 4 fps video
        ok = [answerable(it["meta"], logs[it["video_id"]], uniform(logs[it["video_id"]].duration, n))
              for it in items]
        rates.append(float(np.mean(ok)))
    assert rates == sorted(rates) and rates[0] < 0.3 and rates[-1] > 0.85, rates


def test_entities_come_from_the_events_at_the_evidence_time(corpus):
    it = next(i for i in corpus["sft"] if i["meta"]["template"].startswith("order"))
    log = corpus["logs"][it["video_id"]]
    for t in it["meta"]["evidence_times"]:
        ev = next(e for e in log.events if abs(e["t"] - t) < 0.01)
        assert entities_at(log, it["meta"]["params"], t) & {ev.get("agent"), ev.get("object")}


def test_frame_reasoning_states_only_what_the_frames_show(corpus):
    it = next(i for i in corpus["sft"] if "was" in i["question"] and i["meta"]["template"] != "count_collisions")
    log = corpus["logs"][it["video_id"]]
    times = uniform(log.duration, 8)
    text = frame_reasoning(log, it["meta"], times, it["meta"]["conclusion"])
    lines = text.splitlines()
    stamps = {f"{round(t) // 60:02d}:{round(t) % 60:02d}" for t in times}
    assert lines[-1] == f"So {it['meta']['conclusion']}."
    assert all(line.split(": ", 1)[0] in stamps for line in lines[:-1]) and 1 <= len(lines) - 1 <= 8
    assert lines[0].startswith(f"{round(times[0]) // 60:02d}:{round(times[0]) % 60:02d}:")   # the first frame


def test_workspace_items_use_the_frames_the_model_sees(small_ws):
    ws, cfg, _ = small_ws
    items = load_items(ws, split=None, statuses=["pending", "approved", "draft"])
    it = items[0]
    times = frame_times(it.video_path, 4)
    assert len(times) == 4 and times == sorted(times) and times[-1] < 60.0
    assert item_answerable(it, 4) in (True, False)
    ceiling = ideal_ceiling(items, [2, 8])
    assert ceiling[2]["n"] == len(items) and ceiling[2]["overall"] <= ceiling[8]["overall"]


def test_eval_ceiling_command(small_ws):
    from click.testing import CliRunner

    from lvr.cli import cli

    ws, _, _ = small_ws
    out = CliRunner().invoke(cli, ["eval", "ceiling", str(ws.root), "--split", "", "--frames", "2,8"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].strip().startswith("2 frames:") and lines[1].strip().startswith("8 frames:")
    assert "% of" in lines[0] and "items answerable" in lines[1]


def _hidden_final_zone(corpus):
    """A final_zone item whose object ends hidden (not drawn from its hide event on), with its log."""
    for it in corpus["eval"] + corpus["sft"] + corpus["rl"]:
        log = corpus["logs"][it["video_id"]]
        if it["meta"]["template"] == "final_zone":
            obj = next(iter(entities_at(log, it["meta"]["params"], it["meta"]["evidence_times"][-1])))
            if log.object_state_at(obj, log.duration)[0] == "hidden":
                return it, log, obj
    raise AssertionError("no final_zone item about a hidden object")


def test_a_hidden_object_is_not_seen_where_it_was_hidden(corpus):
    """The renderer does not draw a hidden object: no number of frames shows which zone it was hidden in."""
    it, log, obj = _hidden_final_zone(corpus)
    hide = next(e["t"] for e in log.select(obj=obj) if e["type"] == "disappear")
    assert not drawn(log, obj, hide + 1.0) and snapshot(log, {obj}, hide + 1.0) == ((obj, "not in view"),)
    assert not seen(log, {obj}, hide, [hide + 0.5, log.duration - 0.5])
    assert not answerable(it["meta"], log, uniform(log.duration, 720))     # every frame of the video
    agent = next(e["agent"] for e in log.select(obj=obj) if e["type"] == "hide")
    assert seen(log, {agent, obj}, hide, [hide + 0.1])                    # the robot that hid it is drawn


def test_reasoning_about_a_hidden_object_names_no_zone_for_it(corpus):
    it, log, obj = _hidden_final_zone(corpus)
    text = frame_reasoning(log, it["meta"], uniform(log.duration, 16), it["meta"]["conclusion"])
    hide = next(e["t"] for e in log.select(obj=obj) if e["type"] == "disappear")
    after = [line for line in text.splitlines()[:-1] if _seconds(line) > hide + 0.5]
    assert after and all(line.endswith("none of them in view.") for line in after), text


def _seconds(line: str) -> int:
    m, s = line.split(": ", 1)[0].split(":")
    return int(m) * 60 + int(s)
