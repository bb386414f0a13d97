"""Difficulty marks for RL: items the current model always gets right, or always wrong.

    from lvr.store.difficulty import mark_difficulty
    report = mark_difficulty(ws, {12: 1.0, 13: 0.3, 14: 0.0}, k=10)   # pass rates over k samples
    report.always_right, report.always_wrong                           # qa ids

Step 6 of the paper's pipeline: the model answers each question k times (~10); a question it
always answers correctly or never does gives every GRPO sample the same reward, so the group
advantage is zero and the item teaches nothing. This hook only *marks* them (the trainer's
`lvr filter-difficulty` measures the pass rates and calls it; the RL split builder skips
flagged items): `qa.difficulty` = pass rate, `meta["difficulty_flag"]` = "always_right" |
"always_wrong" | "informative", `meta["difficulty_k"]` = k. Each mark is an `update_qa` with a
revision (action "difficulty"); an item edited meanwhile is re-read and marked again once.
A rule of the stored items, used by lvr.train (which measures) and lvr.datagen (re-exported).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .qa import StaleEditError
from .workspace import Workspace

FLAGS = ("always_right", "always_wrong", "informative")


def difficulty_flag(pass_rate: float, k: int) -> str:
    """Flag of a pass rate measured over k samples (rates within half a sample of 0 or 1 count as 0/1)."""
    if pass_rate >= 1.0 - 0.5 / k:
        return "always_right"
    if pass_rate <= 0.5 / k:
        return "always_wrong"
    return "informative"


@dataclass
class DifficultyReport:
    counts: dict[str, int] = field(default_factory=dict)
    always_right: list[int] = field(default_factory=list)
    always_wrong: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (f"difficulty: {c.get('always_right', 0)} always right, {c.get('always_wrong', 0)} always wrong, "
                f"{c.get('informative', 0)} informative"
                + (f"; {len(self.missing)} unknown ids" if self.missing else ""))


def mark_difficulty(ws: Workspace, pass_rates: dict[int, float], k: int, *,
                    who: str = "difficulty") -> DifficultyReport:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k (samples per question) must be an integer >= 1, got {k!r}")
    bad = {q: r for q, r in pass_rates.items() if not (isinstance(r, (int, float)) and 0.0 <= r <= 1.0)}
    if bad:
        first = next(iter(bad.items()))
        raise ValueError(f"pass rates must be numbers in [0, 1]; QA item {first[0]} has {first[1]!r}")
    report = DifficultyReport()
    counts: Counter = Counter()
    for qa_id, rate in pass_rates.items():
        flag = difficulty_flag(float(rate), k)
        for attempt in range(2):
            try:
                item = ws.get_qa(int(qa_id))
            except KeyError:
                report.missing.append(int(qa_id))
                break
            meta = {**(item.get("meta") or {}), "difficulty_flag": flag, "difficulty_k": k}
            try:
                ws.update_qa(item["id"], {"difficulty": float(rate), "meta": meta}, expected_version=item["version"],
                             who=who, action="difficulty", comment=f"pass rate {rate:.2f} over {k} samples: {flag}")
            except StaleEditError:
                if attempt == 1:
                    raise
                continue
            counts[flag] += 1
            if flag == "always_right":
                report.always_right.append(item["id"])
            elif flag == "always_wrong":
                report.always_wrong.append(item["id"])
            break
    report.counts = {f: counts.get(f, 0) for f in FLAGS}
    return report
