"""The ideal frame reader's ceiling on a split: how many items N sampled frames can answer.

    from lvr.eval.ideal_reader import ideal_ceiling
    ideal_ceiling(items, [2, 4, 8, 16])    # {n: {"overall": %, "n": items, "by_category": {...}}}
    answerable_subset(ws, run_id, 8)       # a run's accuracy block on the items 8 frames can answer

The rule is lvr.synth.visibility's (fixed before any model is scored); items without an event log
(real videos) are left out and `n` says how many were counted.
"""
from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from lvr.synth.visibility import item_answerable

from .summary import accuracy_block


def ideal_ceiling(items, frame_counts) -> dict:
    """Share (%) of items the ideal frame reader can answer, per frame count, overall and by category
    (items without an event log are left out; `n` says how many were counted)."""
    out = {}
    for n in frame_counts:
        hits, totals = defaultdict(int), defaultdict(int)
        for it in items:
            ok = item_answerable(it, n)
            if ok is None:
                continue
            for key in ("overall", it.category):
                totals[key] += 1
                hits[key] += bool(ok)
        out[int(n)] = {"overall": 100.0 * hits["overall"] / max(1, totals["overall"]), "n": totals["overall"],
                       "by_category": {c: 100.0 * hits[c] / totals[c] for c in totals if c != "overall"}}
    return out


def run_items(ws, run_id: str) -> list[tuple[SimpleNamespace, dict]]:
    """(item with video_path / meta / category, eval record) for every item of an eval run that has a video."""
    out = []
    for rec in ws.eval_items(run_id):
        qa = ws.get_qa(rec["qa_id"])
        if qa.get("video_id"):
            out.append((SimpleNamespace(video_path=str(ws.video_path(qa["video_id"])), meta=qa.get("meta") or {},
                                        category=qa["category"]), rec))
    return out


def answerable_subset(ws, run_id: str, num_frames: int) -> dict | None:
    """Accuracy of an eval run on the items the ideal reader of `num_frames` frames can answer (bootstrap
    intervals as in every eval table); None when the run has no synthetic items (no event logs)."""
    kept = [(it, rec) for it, rec in run_items(ws, run_id) if item_answerable(it, num_frames)]
    if not kept:
        return None
    return accuracy_block([int(bool(rec["correct"])) for _, rec in kept], [it.category for it, _ in kept])
