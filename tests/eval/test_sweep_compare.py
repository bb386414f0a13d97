"""Frames-scaling curves and run comparison (McNemar, paired bootstrap, flipped items)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lvr.eval import EvalConfig, Prediction, compare_runs, run_eval, run_sweep, save_comparison, sweep_curve
from lvr.eval.stats import mcnemar_exact

from .conftest import make_items


class FramesAnswerer:
    """Right on the first `frames * 5` items (by id order) of each call's view: accuracy grows with frames."""

    needs_video = False
    name = "frames-aware"

    def __init__(self, ids):
        self.rank = {q: i for i, q in enumerate(sorted(ids))}

    def answer_batch(self, items, frames):
        out = []
        for it in items:
            ok = self.rank[it["id"]] < (frames or 0) * 5
            letter = it["answer"] if ok else "ABCD"[("ABCD".index(it["answer"]) + 1) % 4]
            out.append(Prediction(text=letter, answer=letter, letter=letter))
        return out

    def describe(self):
        return {"answerer": self.name}


class SetAnswerer(FramesAnswerer):
    name = "set"

    def __init__(self, right):
        self.right = set(right)

    def answer_batch(self, items, frames):
        return [Prediction(text=x, answer=x, letter=x) for x in
                (it["answer"] if it["id"] in self.right else "ABCD"[("ABCD".index(it["answer"]) + 1) % 4]
                 for it in items)]


def test_sweep_curve_follows_the_runs(ws):
    ws.add_qa_many(make_items(40, "eval", seed=1))
    ids = [it["id"] for it in ws.iter_qa(split="eval")]
    res = run_sweep(ws, FramesAnswerer(ids), [2, 4, 8], EvalConfig(split="eval", n_boot=200, references=()))
    curve = sweep_curve(ws, res.sweep_id)
    assert curve["frames"] == [2, 4, 8]
    assert [p["acc"] for p in curve["series"]["overall"]] == [0.25, 0.5, 1.0]
    for p in curve["series"]["overall"]:
        assert p["lo"] <= p["acc"] <= p["hi"] and p["n"] == 40
    assert sum(p["n"] for p in (curve["series"][c][0] for c in ("temporal", "goal", "spatial", "plot"))) == 40
    saved = json.loads((ws.runs_dir / res.sweep_id / "curve.json").read_text())
    assert saved["runs"] == res.run_ids
    with pytest.raises(KeyError):
        sweep_curve(ws, "sweep-none")
    with pytest.raises(ValueError, match="positive"):
        run_sweep(ws, FramesAnswerer(ids), [0, 4], EvalConfig(split="eval"))


class CountingAnswerer(FramesAnswerer):
    def __init__(self, ids):
        super().__init__(ids)
        self.calls = []

    def answer_batch(self, items, frames):
        self.calls.append(frames)
        return super().answer_batch(items, frames)


def test_a_sweep_reusing_a_finished_run_equals_the_plain_sweep(ws):
    """The eval run at 4 frames stands for the sweep's 4-frame point: same curve, same answers, no new scoring."""
    ws.add_qa_many(make_items(40, "eval", seed=1))
    ids = [it["id"] for it in ws.iter_qa(split="eval")]
    cfg = EvalConfig(split="eval", n_boot=200, references=(), batch_size=8)
    plain = run_sweep(ws, FramesAnswerer(ids), [2, 4, 8], cfg, checkpoint="ck")
    first = run_eval(ws, FramesAnswerer(ids), replace(cfg, frames=4), checkpoint="ck")
    before = ws.get_eval_run(first.run_id)
    counting = CountingAnswerer(ids)
    reused = run_sweep(ws, counting, [2, 4, 8], cfg, checkpoint="ck", reuse=(first.run_id,))
    assert 4 not in counting.calls and set(counting.calls) == {2, 8}
    a, b = sweep_curve(ws, plain.sweep_id), sweep_curve(ws, reused.sweep_id)
    def points(c):
        return {g: [{k: v for k, v in p.items() if k != "run"} for p in c["series"][g]] for g in c["series"]}
    assert points(a) == points(b)
    point = ws.get_eval_run(reused.run_ids[1])
    assert point["config"]["adopted_from"] == first.run_id and point["id"] != first.run_id
    assert [r["correct"] for r in ws.eval_items(point["id"])] == [r["correct"] for r in ws.eval_items(first.run_id)]
    assert ws.get_eval_run(first.run_id) == before                       # the eval run itself is left alone

    other = run_eval(ws, FramesAnswerer(ids), replace(cfg, frames=4, n_boot=100), checkpoint="ck")
    with pytest.raises(ValueError, match="n_boot"):
        run_sweep(ws, FramesAnswerer(ids), [4], cfg, checkpoint="ck", reuse=(other.run_id,))
    with pytest.raises(ValueError, match="checkpoint"):
        run_sweep(ws, FramesAnswerer(ids), [4], cfg, checkpoint="other", reuse=(first.run_id,))


def test_compare_counts_flips_and_matches_mcnemar(ws):
    ws.add_qa_many(make_items(40, "eval", seed=2))
    items = list(ws.iter_qa(split="eval"))
    ids = [it["id"] for it in items]
    base_right = set(ids[:20])                       # baseline right on the first 20
    new_right = set(ids[2:32])                       # loses 2 (ids 0,1), gains 12 (ids 20..31)
    cfg = EvalConfig(split="eval", frames=None, n_boot=300, figures=False, references=())
    a = run_eval(ws, SetAnswerer(base_right), cfg).run_id
    b = run_eval(ws, SetAnswerer(new_right), cfg).run_id
    cmp = compare_runs(ws, [a, b], n_boot=300)
    pair = cmp["pairs"][0]
    o = pair["groups"]["overall"]
    assert (o["n"], o["b"], o["c"]) == (40, 2, 12)
    assert o["p"] == pytest.approx(mcnemar_exact(2, 12)) and o["p"] == pytest.approx(0.0129, abs=1e-4)
    assert o["delta"] == pytest.approx(0.25) and o["lo"] < 0.25 < o["hi"] and o["lo"] > 0
    assert {f["qa_id"] for f in pair["flips"]["right_to_wrong"]} == set(ids[:2])
    assert {f["qa_id"] for f in pair["flips"]["wrong_to_right"]} == set(ids[20:32])
    flip = pair["flips"]["right_to_wrong"][0]
    assert flip["key"] == flip["base"] and flip["new"] != flip["key"] and flip["question"]
    cats = {c: pair["groups"][c] for c in ("temporal", "goal", "spatial", "plot")}
    assert sum(g["b"] for g in cats.values()) == 2 and sum(g["c"] for g in cats.values()) == 12
    assert sum(g["n"] for g in cats.values()) == 40
    paths = save_comparison(ws, cmp)
    assert [p.name for p in paths] == ["comparison.json", "deltas.html", "deltas.json", "categories.html",
                                       "categories.json"]
    assert all(p.exists() for p in paths)
    bars = json.loads(paths[4].read_text())
    assert [t["name"].split(" (")[0] for t in bars["data"]] == ["set", "set"]
    assert json.loads(paths[0].read_text())["pairs"][0]["groups"]["overall"]["b"] == 2


def test_compare_three_runs_and_partial_overlap(ws):
    ws.add_qa_many(make_items(12, "eval", seed=3))
    ids = [it["id"] for it in ws.iter_qa(split="eval")]
    cfg = EvalConfig(split="eval", frames=None, n_boot=100, figures=False, references=())
    r1 = run_eval(ws, SetAnswerer(ids), cfg).run_id
    r2 = run_eval(ws, SetAnswerer([]), cfg).run_id
    r3 = run_eval(ws, SetAnswerer(ids[:3]), EvalConfig(split="eval", limit=6, frames=None, n_boot=100,
                                                        figures=False, references=())).run_id
    cmp = compare_runs(ws, [r1, r2, r3], n_boot=100)
    assert [p["run"] for p in cmp["pairs"]] == [r2, r3]
    assert cmp["pairs"][0]["groups"]["overall"]["b"] == 12
    assert cmp["pairs"][1]["n_common"] == 6 and cmp["pairs"][1]["only_in_baseline"] == 6
    with pytest.raises(ValueError, match="at least two"):
        compare_runs(ws, [r1])
    with pytest.raises(KeyError):
        compare_runs(ws, [r1, "eval-missing"])
