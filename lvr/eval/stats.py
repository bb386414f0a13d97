"""Statistics for evaluation: bootstrap intervals and paired tests.

    from lvr.eval.stats import bootstrap_ci, mcnemar_exact, paired_bootstrap_diff
    lo, hi = bootstrap_ci([1, 0, 1, 1])                       # percentile bootstrap, 95 %
    lo, hi = bootstrap_ci(correct, strata=categories)          # stratified (overall accuracy)
    p = mcnemar_exact(b=10, c=2)                               # 0.0386 (two-sided exact binomial)
    lo, hi = paired_bootstrap_diff(correct_b, correct_a)       # CI of acc(b) - acc(a), same items

All bootstraps are percentile bootstraps with a fixed seed (default 0) and 2,000 resamples, so a
report is reproducible to the last digit. Resampling indices with replacement; stratified
resampling draws each stratum's own size from that stratum, so the category mix is held fixed.

What scipy does is taken from scipy: the exact McNemar test is `scipy.stats.binomtest` on the
discordant pairs, the Wilson interval is `binomtest(...).proportion_ci("wilson")`. The bootstrap is
written here because `scipy.stats.bootstrap` cannot hold strata fixed (the overall accuracy resamples
within categories) and draws its resamples in a different order, which would change every interval
already published in docs/results*.md; tests/eval/test_stats.py checks the unstratified interval
against `scipy.stats.bootstrap(method="percentile")`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import binomtest

DEFAULT_N_BOOT = 2000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
_CHUNK = 4_000_000  # max index cells drawn at once (keeps memory flat for big splits)


def _check(n_boot: int, level: float) -> None:
    if not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _resampled_means(values: np.ndarray, strata: np.ndarray | None, n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Mean of `values` over `n_boot` resamples (optionally stratified); values may be 2-D [n, k]."""
    n = values.shape[0]
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    total = np.zeros((n_boot,) + values.shape[1:], dtype=np.float64)
    for idx in groups:
        m = len(idx)
        rows = max(1, _CHUNK // max(m, 1))
        for start in range(0, n_boot, rows):
            stop = min(n_boot, start + rows)
            draw = idx[rng.integers(0, m, size=(stop - start, m))]
            total[start:stop] += values[draw].sum(axis=1)
    return total / n


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, strata: Sequence | None = None,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                 level: float = DEFAULT_LEVEL) -> tuple[float, float] | tuple[None, None]:
    """Percentile-bootstrap interval of the mean of `values` (e.g. 0/1 correctness).

    With `strata` (one label per value) the resampling is stratified. Empty input gives
    (None, None).
    """
    _check(n_boot, level)
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return None, None
    s = None if strata is None else np.asarray(list(strata), dtype=object).astype(str)
    if s is not None and len(s) != len(v):
        raise ValueError(f"strata has {len(s)} labels for {len(v)} values")
    means = _resampled_means(v, s, n_boot, np.random.default_rng(seed))
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return float(lo), float(hi)


def paired_bootstrap_diff(new: Sequence[float], base: Sequence[float], *, strata: Sequence | None = None,
                          n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                          level: float = DEFAULT_LEVEL) -> tuple[float, float] | tuple[None, None]:
    """Interval of mean(new) - mean(base) resampling items jointly (paired: same items in both)."""
    _check(n_boot, level)
    a, b = np.asarray(new, dtype=np.float64), np.asarray(base, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape[0]} vs {b.shape[0]}")
    if a.size == 0:
        return None, None
    s = None if strata is None else np.asarray(list(strata), dtype=object).astype(str)
    means = _resampled_means(a - b, s, n_boot, np.random.default_rng(seed))
    q = (1 - level) / 2
    lo, hi = np.quantile(means, [q, 1 - q])
    return float(lo), float(hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: binomial test of b vs c discordant pairs at p = 1/2.

    b = items the first system got right and the second wrong, c = the reverse.
    p = min(1, 2 * P[X <= min(b, c)]) with X ~ Binomial(b + c, 1/2); no discordant pairs gives 1.
    """
    if b < 0 or c < 0 or int(b) != b or int(c) != c:
        raise ValueError(f"discordant counts must be non-negative integers, got b={b!r}, c={c!r}")
    b, c = int(b), int(c)
    if b + c == 0:
        return 1.0
    return float(binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue)


def wilson_ci(correct: int, n: int, level: float = DEFAULT_LEVEL) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval (a closed-form cross-check of the bootstrap; used in tests and docs)."""
    if n == 0:
        return None, None
    ci = binomtest(correct, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)
