"""Comparing runs on the same items: per-category deltas, exact McNemar, paired bootstrap, flips.

    from lvr.eval import compare_runs
    cmp = compare_runs(ws, ["eval-…-sft", "eval-…-grpo"])        # the first run is the baseline
    cmp["pairs"][0]["groups"]["temporal"]  # {"n", "base_acc", "acc", "delta", "lo", "hi", "b", "c", "p"}
    cmp["pairs"][0]["flips"]["right_to_wrong"]   # [{"qa_id", "category", "question", "key", "base", "new"}, …]

Every later run is compared with the first on the items both scored (`n_common`; items only
one run scored are counted in `only_in_baseline` / `only_in_run`). For each group (overall
and every category): b = right in the baseline and wrong in the run, c = wrong → right;
p = exact two-sided McNemar (binomial on b + c discordant pairs); the delta's 95 % interval
is a paired percentile bootstrap (stratified by category for overall). `save_comparison`
writes comparison.json and the delta chart (deltas.html/.json) to `runs/compare-<hash>/`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .plots import GROUPS, category_bars, comparison_chart, run_label, save_figure
from .stats import DEFAULT_N_BOOT, DEFAULT_SEED, mcnemar_exact, paired_bootstrap_diff


def _group(base: list[int], new: list[int], cats: list[str] | None, n_boot: int, seed: int) -> dict:
    n = len(base)
    if n == 0:
        return {"n": 0, "base_acc": None, "acc": None, "delta": None, "lo": None, "hi": None, "b": 0, "c": 0,
                "p": None}
    b = sum(1 for x, y in zip(base, new) if x and not y)
    c = sum(1 for x, y in zip(base, new) if not x and y)
    lo, hi = paired_bootstrap_diff(new, base, strata=cats, n_boot=n_boot, seed=seed)
    return {"n": n, "base_acc": sum(base) / n, "acc": sum(new) / n, "delta": (sum(new) - sum(base)) / n,
            "lo": lo, "hi": hi, "b": b, "c": c, "p": mcnemar_exact(b, c)}


def compare_runs(ws, run_ids: list[str], *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                 question_chars: int = 120) -> dict:
    """Compare runs[1:] against runs[0] item by item (see the module docstring)."""
    if len(run_ids) < 2:
        raise ValueError("compare needs at least two runs")
    if len(set(run_ids)) != len(run_ids):
        raise ValueError(f"compare got the same run twice: {run_ids}")
    runs = [ws.get_eval_run(r) for r in run_ids]
    items = {rid: {r["qa_id"]: r for r in ws.eval_items(rid)} for rid in run_ids}
    base_id = run_ids[0]
    base = items[base_id]
    pairs = []
    for rid in run_ids[1:]:
        other = items[rid]
        common = sorted(set(base) & set(other))
        qa = {q["id"]: q for q in ws.iter_qa(ids=common)} if common else {}
        cats = [base[q]["category"] for q in common]
        b_ok = [int(base[q]["correct"] or 0) for q in common]
        n_ok = [int(other[q]["correct"] or 0) for q in common]
        groups = {"overall": _group(b_ok, n_ok, cats, n_boot, seed)}
        for g in GROUPS[1:]:
            idx = [i for i, c in enumerate(cats) if c == g]
            groups[g] = _group([b_ok[i] for i in idx], [n_ok[i] for i in idx], None, n_boot, seed)

        def flip(q: int, qa: dict = qa, other: dict = other) -> dict:
            row = qa.get(q, {})
            return {"qa_id": q, "category": base[q]["category"],
                    "question": (row.get("question") or "")[:question_chars],
                    "key": row.get("answer"), "base": base[q]["answer"], "new": other[q]["answer"]}

        pairs.append({
            "run": rid, "n_common": len(common),
            "only_in_baseline": len(set(base) - set(other)), "only_in_run": len(set(other) - set(base)),
            "groups": groups,
            "flips": {"right_to_wrong": [flip(q) for q, x, y in zip(common, b_ok, n_ok) if x and not y],
                      "wrong_to_right": [flip(q) for q, x, y in zip(common, b_ok, n_ok) if not x and y]},
        })
    return {"baseline": base_id, "runs": [{"id": r["id"], "checkpoint": r["checkpoint"], "answerer": r["answerer"],
                                           "frames": r["frames"], "split": r["split"], "status": r["status"]}
                                          for r in runs],
            "pairs": pairs, "bootstrap": {"n": n_boot, "seed": seed, "level": 0.95, "method": "paired percentile"}}


def comparison_id(run_ids: list[str]) -> str:
    return "compare-" + hashlib.sha1("|".join(run_ids).encode()).hexdigest()[:10]


def save_comparison(ws, comparison: dict) -> list[Path]:
    """Write comparison.json, the delta chart (deltas.html/.json) and the runs' category bars side by side
    (categories.html/.json) to runs/compare-<hash>/."""
    folder = ws.runs_dir / comparison_id([r["id"] for r in comparison["runs"]])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "comparison.json").write_text(json.dumps(comparison, indent=1))
    runs = [ws.get_eval_run(r["id"]) for r in comparison["runs"]]
    bars = category_bars([(f"{run_label(r)} ({r['id']})", r["summary"]) for r in runs if "overall" in r["summary"]],
                         title="Accuracy by category, runs side by side (95 % bootstrap CI; whole runs)")
    return [folder / "comparison.json", *save_figure(comparison_chart(comparison), folder, "deltas"),
            *save_figure(bars, folder, "categories")]
