"""The answer key's letter balance: does always answering one letter beat chance?

    from lvr.store.answer_key import key_skew, skew_text
    skew = key_skew(["B", "B", "A", …])     # {"n", "counts", "letter", "share", "skewed"}; None for no keys
    skew_text(skew)                        # "A 153 (15.3 %), B 441 (44.1 %), …; always answering B scores 44.1 % …"

A check on a set of QA items that lvr.datagen's import report and lvr.eval's benchmark report
both make (the published LongVideo-Reason eval key scores 44 % with "B").
"""
from __future__ import annotations

import math
from collections import Counter

from .qa import LETTERS

SKEW_MIN_SHARE = 0.30          # the key counts as skewed when always-<letter> scores at least this much


def key_skew(letters: list[str]) -> dict | None:
    """Letter counts of an answer key and what always answering its commonest letter scores.

    `skewed` is true when that score is at least SKEW_MIN_SHARE and above the 99 % range of a
    fair key of the same size (25 % + 2.58 standard errors), so a short file is not called skewed
    by chance. None for an empty key.
    """
    counts = Counter(x for x in letters if x in LETTERS)
    n = sum(counts.values())
    if not n:
        return None
    letter = max(LETTERS, key=lambda x: (counts.get(x, 0), -LETTERS.index(x)))
    share = counts[letter] / n
    bound = 0.25 + 2.58 * math.sqrt(0.25 * 0.75 / n)
    return {"n": n, "counts": {k: counts.get(k, 0) for k in LETTERS}, "letter": letter, "share": share,
            "skewed": share >= max(SKEW_MIN_SHARE, bound)}


def skew_text(skew: dict) -> str:
    """'B 44 (44.0 %), C 30 (30.0 %), …; always answering B scores 44.0 % (chance 25 %)'."""
    dist = ", ".join(f"{k} {v} ({100 * v / skew['n']:.1f} %)" for k, v in skew["counts"].items())
    return f"{dist}; always answering {skew['letter']} scores {100 * skew['share']:.1f} % (chance 25 %)"
