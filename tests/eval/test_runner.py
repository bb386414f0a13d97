"""The runner: per-item records and summary in the store, resume after a crash, skips, validation."""
from __future__ import annotations

import json

import pytest

from lvr.eval import EvalConfig, Prediction, RandomAnswerer, run_eval
from lvr.store import CATEGORIES

from .conftest import make_items


class KeyedAnswerer:
    """Answers right on the qa ids in `right`, wrong elsewhere; can crash after `crash_after` items."""

    needs_video = False

    def __init__(self, right=(), crash_after=None, name="keyed", thinking="let me think"):
        self.right, self.crash_after, self.name, self.thinking = set(right), crash_after, name, thinking
        self.seen: list[int] = []

    def answer_batch(self, items, frames):
        out = []
        for it in items:
            if self.crash_after is not None and len(self.seen) >= self.crash_after:
                raise RuntimeError("simulated crash")
            self.seen.append(it["id"])
            letter = it["answer"] if it["id"] in self.right else "ABCD"[("ABCD".index(it["answer"]) + 1) % 4]
            out.append(Prediction(text=f"<think>{self.thinking}</think><answer>{letter}</answer>",
                                  thinking=self.thinking, answer=letter, letter=letter, format_ok=True, tokens=9))
        return out

    def describe(self):
        return {"answerer": self.name}


def test_records_and_summary_in_the_store(ws):
    ws.add_qa_many(make_items(40, "sft", seed=1))
    ws.add_qa_many(make_items(40, "eval", seed=2))
    ids = [it["id"] for it in ws.iter_qa(split="eval")]
    right = {i for i in ids if i % 2 == 0}
    res = run_eval(ws, KeyedAnswerer(right), EvalConfig(split="eval", frames=4, batch_size=6, n_boot=300))
    rows = ws.eval_items(res.run_id)
    assert len(rows) == 40 and {r["qa_id"] for r in rows} == set(ids)
    assert all(r["correct"] == (r["qa_id"] in right) for r in rows)
    assert all(r["format_ok"] == 1 and r["tokens"] == 9 and r["latency"] is not None for r in rows)
    run = ws.get_eval_run(res.run_id)
    assert run["status"] == "succeeded" and run["frames"] == 4 and run["answerer"] == "keyed"
    s = run["summary"]
    assert s["overall"]["n"] == 40 and s["overall"]["acc"] == pytest.approx(len(right) / 40)
    assert s["overall"]["lo"] <= s["overall"]["acc"] <= s["overall"]["hi"]
    assert {c: s["categories"][c]["n"] for c in CATEGORIES} == {c: 10 for c in CATEGORIES}
    assert s["format_ok_rate"] == 1.0 and s["thinking"]["mean_words"] == 3
    assert sum(s["letters"]["pred"].values()) == 40 and sum(s["letters"]["key"].values()) == 40
    assert set(s["references"]) == {"random", "most-frequent", "text-only"}
    assert all(s["references"][r]["overall"]["n"] == 40 for r in s["references"])
    assert s["bootstrap"]["n"] == 300
    on_disk = json.loads((ws.runs_dir / res.run_id / "summary.json").read_text())
    assert on_disk["overall"] == s["overall"]


def test_resume_after_a_crash_scores_nothing_twice(ws):
    ws.add_qa_many(make_items(20, "eval", seed=3))
    ids = [it["id"] for it in ws.iter_qa(split="eval")]
    cfg = EvalConfig(split="eval", frames=8, batch_size=3, n_boot=100, figures=False, references=())
    crashing = KeyedAnswerer(right=ids[:5], crash_after=7)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_eval(ws, crashing, cfg, run_id="eval-resume")
    run = ws.get_eval_run("eval-resume")
    assert run["status"] == "failed" and "simulated crash" in run["summary"]["error"]
    first = {r["qa_id"]: r for r in ws.eval_items("eval-resume")}
    assert len(first) == 6                     # two full batches of 3 were written before the crash

    again = KeyedAnswerer(right=ids)           # would score everything right if it were asked
    res = run_eval(ws, again, cfg, run_id="eval-resume")
    assert set(again.seen) == set(ids) - set(first) and len(again.seen) == 14
    after = {r["qa_id"]: r for r in ws.eval_items("eval-resume")}
    assert all(after[q] == first[q] for q in first)     # untouched
    assert res.summary["overall"]["correct"] == sum(r["correct"] for r in after.values())
    assert ws.get_eval_run("eval-resume")["status"] == "succeeded"

    third = KeyedAnswerer(right=ids)
    run_eval(ws, third, cfg, run_id="eval-resume")
    assert third.seen == []


def test_resume_refuses_a_different_setup(ws):
    ws.add_qa_many(make_items(8, "eval", seed=4))
    cfg = EvalConfig(split="eval", frames=8, n_boot=50, figures=False, references=())
    run_eval(ws, KeyedAnswerer(), cfg, run_id="r1")
    with pytest.raises(ValueError, match="frames"):
        run_eval(ws, KeyedAnswerer(), EvalConfig(split="eval", frames=16, figures=False), run_id="r1")
    with pytest.raises(ValueError, match="answerer"):
        run_eval(ws, RandomAnswerer(), EvalConfig(split="eval", frames=8, figures=False), run_id="r1")


class VideoAnswerer(KeyedAnswerer):
    needs_video = True


def test_items_without_usable_video_are_skipped_for_video_answerers(ws, video_ids, clip_paths):
    ws.add_qa_many(make_items(6, "eval", seed=5, video_ids=video_ids))
    ws.add_qa_many(make_items(2, "eval", seed=6))                       # no video at all
    a = VideoAnswerer()
    res = run_eval(ws, a, EvalConfig(split="eval", frames=4, n_boot=50, figures=False, references=()))
    assert res.summary["n_items"] == 8 and res.summary["n_scored"] == 6
    assert res.summary["skipped"]["count"] == 2
    assert all(s["reason"] == "no video linked" for s in res.summary["skipped"]["items"])
    # text-only answerers score every item
    res2 = run_eval(ws, KeyedAnswerer(), EvalConfig(split="eval", frames=None, n_boot=50, figures=False,
                                                    references=()))
    assert res2.summary["n_scored"] == 8 and res2.summary["skipped"]["count"] == 0


def test_selection_filters_and_validation(ws):
    ws.add_qa_many(make_items(12, "eval", seed=7))
    ws.add_qa_many(make_items(4, "eval", seed=8, source="bench"))
    res = run_eval(ws, KeyedAnswerer(), EvalConfig(split="eval", source="bench", frames=None, n_boot=50,
                                                   figures=False, references=()))
    assert res.summary["n_items"] == 4
    res = run_eval(ws, KeyedAnswerer(), EvalConfig(split="eval", categories=("goal",), limit=2, frames=None,
                                                   n_boot=50, figures=False, references=()))
    assert res.summary["n_items"] == 2 and res.summary["categories"]["goal"]["n"] == 2
    with pytest.raises(ValueError, match="categories: must be one of"):
        EvalConfig(categories=("funny",))
    with pytest.raises(ValueError, match="frames: must be >= 1"):
        EvalConfig(frames=0)
    with pytest.raises(ValueError, match="give a split or a source"):
        EvalConfig(split=None)
    with pytest.raises(ValueError, match="no QA items"):
        run_eval(ws, KeyedAnswerer(), EvalConfig(split="rl", frames=None))
    with pytest.raises(ValueError, match="give EvalConfig.frames"):
        run_eval(ws, VideoAnswerer(), EvalConfig(split="eval", frames=None))


def test_a_run_with_every_item_skipped_still_reports(ws):
    ws.add_qa_many(make_items(3, "eval", seed=9))                       # no videos
    res = run_eval(ws, VideoAnswerer(), EvalConfig(split="eval", frames=4, n_boot=50))
    s = res.summary
    assert s["n_scored"] == 0 and s["skipped"]["count"] == 3 and s["overall"]["acc"] is None
    assert "error" in s["references"]["most-frequent"] and s["references"]["random"]["overall"]["n"] == 0
    from lvr.eval.report import format_run

    assert "3 skipped" in format_run(ws.get_eval_run(res.run_id))
