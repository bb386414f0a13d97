"""Summaries of scored items: accuracy with bootstrap intervals, overall and per category.

    from lvr.eval.summary import summarize, accuracy_block
    s = summarize(records, keys={qa_id: "B", ...})
    s["overall"]    # {"acc": 0.62, "lo": 0.59, "hi": 0.65, "n": 1000, "correct": 620}
    s["categories"]["temporal"], s["format_ok_rate"], s["letters"]["pred"], s["best_constant"]

`records` are eval_items rows (qa_id, category, answer = predicted letter, correct, format_ok,
thinking, tokens, latency). Overall intervals are stratified by category (the category mix is
fixed, as in a curated benchmark); per-category intervals resample within the category.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from lvr.store import CATEGORIES

from .answerer import LETTERS
from .stats import DEFAULT_N_BOOT, DEFAULT_SEED, bootstrap_ci


def _acc(correct: list[int], n_boot: int, seed: int, strata: list[str] | None = None) -> dict:
    n = len(correct)
    k = int(sum(correct))
    lo, hi = bootstrap_ci(correct, strata=strata, n_boot=n_boot, seed=seed)
    return {"acc": (k / n) if n else None, "lo": lo, "hi": hi, "n": n, "correct": k}


def accuracy_block(correct: Iterable[int | bool], categories: Iterable[str], *, n_boot: int = DEFAULT_N_BOOT,
                   seed: int = DEFAULT_SEED) -> dict:
    """{"overall": {...}, "categories": {cat: {...}}}; every known category is listed (n = 0 → acc None)."""
    c = [int(bool(x)) for x in correct]
    cats = [str(x) for x in categories]
    if len(c) != len(cats):
        raise ValueError(f"{len(c)} correctness values for {len(cats)} categories")
    per = {}
    for cat in (*CATEGORIES, *sorted(set(cats) - set(CATEGORIES))):
        sub = [x for x, y in zip(c, cats) if y == cat]
        per[cat] = _acc(sub, n_boot, seed)
    return {"overall": _acc(c, n_boot, seed, strata=cats), "categories": per}


def letter_counts(letters: Iterable[str | None]) -> dict:
    """Counts of A–D and `none` (no letter parsed / another letter)."""
    cnt = Counter(x if x in LETTERS else "none" for x in letters)
    return {k: cnt.get(k, 0) for k in (*LETTERS, "none")}


def best_constant(keys: Iterable[str]) -> dict | None:
    """The accuracy of always answering the commonest key letter (the "always B" check)."""
    keys = list(keys)
    if not keys:
        return None
    cnt = Counter(keys)
    letter = max(LETTERS, key=lambda x: (cnt.get(x, 0), -LETTERS.index(x)))
    return {"letter": letter, "acc": cnt.get(letter, 0) / len(keys)}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarize(records: list[dict], keys: dict[int, str], *, n_boot: int = DEFAULT_N_BOOT,
              seed: int = DEFAULT_SEED) -> dict:
    """The summary of one run over `records` (one per scored item). `keys` maps qa_id → key letter."""
    block = accuracy_block([r["correct"] for r in records], [r["category"] for r in records],
                           n_boot=n_boot, seed=seed)
    fmt = [int(r["format_ok"]) for r in records if r.get("format_ok") is not None]
    thinking = [r.get("thinking") or "" for r in records if r.get("format_ok") is not None]
    tokens = [r["tokens"] for r in records if r.get("tokens") is not None]
    latency = [r["latency"] for r in records if r.get("latency") is not None]
    key_letters = [keys[r["qa_id"]] for r in records if r["qa_id"] in keys]
    return {
        "n_scored": len(records),
        **block,
        "format_ok_rate": _mean(fmt),
        "format_ok_n": len(fmt),
        "thinking": {"mean_words": _mean([len(t.split()) for t in thinking]),
                     "mean_chars": _mean([len(t) for t in thinking]),
                     "empty": sum(1 for t in thinking if not t.strip())} if thinking else None,
        "tokens": {"mean": _mean(tokens), "total": sum(tokens)} if tokens else None,
        "latency": {"mean_s": _mean(latency), "total_s": sum(latency)} if latency else None,
        "letters": {"pred": letter_counts(r.get("answer") for r in records), "key": letter_counts(key_letters)},
        "best_constant": best_constant(key_letters),
        "bootstrap": {"n": n_boot, "seed": seed, "level": 0.95, "method": "percentile",
                      "overall": "stratified by category"},
    }
