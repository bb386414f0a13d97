"""The ideal frame reader's ceiling on a split: how many items N sampled frames can answer.

    from lvr.eval.ideal_reader import ideal_ceiling
    ideal_ceiling(items, [2, 4, 8, 16])    # {n: {"overall": %, "n": items, "by_category": {...}}}

The rule is lvr.synth.visibility's (fixed before any model is scored); items without an event log
(real videos) are left out and `n` says how many were counted.
"""
from __future__ import annotations

from collections import defaultdict

from lvr.synth.visibility import item_answerable


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
