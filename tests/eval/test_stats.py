"""Bootstrap intervals and the exact McNemar test against known values."""
from __future__ import annotations

import math

import pytest

from lvr.eval.stats import bootstrap_ci, mcnemar_exact, paired_bootstrap_diff, wilson_ci


def test_all_correct_and_all_wrong_give_degenerate_intervals():
    assert bootstrap_ci([1] * 50) == (1.0, 1.0)
    assert bootstrap_ci([0] * 50) == (0.0, 0.0)


def test_half_correct_of_100_has_width_about_point_two():
    lo, hi = bootstrap_ci([1] * 50 + [0] * 50)
    assert lo < 0.5 < hi
    assert 0.17 <= hi - lo <= 0.23
    wlo, whi = wilson_ci(50, 100)          # closed form: 0.404 .. 0.596
    assert abs(lo - wlo) < 0.02 and abs(hi - whi) < 0.02


def test_fixed_seed_is_reproducible_and_seed_matters():
    v = [(i * 37 % 11) / 10 for i in range(60)]   # continuous values: quantiles move with the seed
    assert bootstrap_ci(v, seed=3) == bootstrap_ci(v, seed=3)
    assert bootstrap_ci(v, seed=3) != bootstrap_ci(v, seed=4)


def test_stratified_bootstrap_is_narrower_when_strata_differ():
    # one stratum all right, one all wrong: with the mix held fixed there is no variance at all
    v = [1] * 40 + [0] * 40
    strata = ["a"] * 40 + ["b"] * 40
    assert bootstrap_ci(v, strata=strata) == (0.5, 0.5)
    lo, hi = bootstrap_ci(v)
    assert hi - lo > 0.15


def test_empty_input_and_bad_arguments():
    assert bootstrap_ci([]) == (None, None)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1, 0], n_boot=0)
    with pytest.raises(ValueError, match="strata has 1 labels for 2 values"):
        bootstrap_ci([1, 0], strata=["a"])


@pytest.mark.parametrize("b,c,p", [
    (10, 2, 0.0386),            # 2 * (1 + 12 + 66) / 4096 = 0.03857
    (2, 10, 0.0386),
    (0, 6, 0.03125),            # 2 / 64
    (1, 8, 0.0390625),          # 2 * (1 + 9) / 512
    (5, 5, 1.0),
    (0, 0, 1.0),
    (0, 1, 1.0),
])
def test_mcnemar_exact_matches_hand_computed_values(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=5e-5)


def test_mcnemar_matches_the_binomial_definition():
    b, c = 7, 19
    n = b + c
    expected = 2 * sum(math.comb(n, k) for k in range(b + 1)) / 2 ** n
    assert mcnemar_exact(b, c) == pytest.approx(expected)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_paired_bootstrap_difference():
    same = [1, 0, 1, 1, 0] * 10
    assert paired_bootstrap_diff(same, same) == (0.0, 0.0)
    base = [0] * 30 + [1] * 70
    new = [1] * 30 + [1] * 70          # 30 more right, none lost: delta 0.3
    lo, hi = paired_bootstrap_diff(new, base)
    assert lo < 0.3 < hi and lo > 0.15
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap_diff([1], [1, 0])


def test_unstratified_bootstrap_agrees_with_scipy():
    # the interval is written here (strata, published numbers); scipy's percentile bootstrap is the cross-check
    import numpy as np
    from scipy.stats import bootstrap

    v = np.array([1] * 37 + [0] * 63, dtype=float)
    lo, hi = bootstrap_ci(v, n_boot=20_000)
    ref = bootstrap((v,), np.mean, n_resamples=20_000, method="percentile", rng=np.random.default_rng(1))
    assert abs(lo - ref.confidence_interval.low) < 0.01 and abs(hi - ref.confidence_interval.high) < 0.01
