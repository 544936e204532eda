"""Rank correlation, the top fraction and the proxy's first choice, checked
by hand on small cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from datadam_lib.method.nas import ranking as nr


def test_spearman_by_hand():
    # rank differences 0, 1, 1, 0: rho = 1 - 6 * 2 / (4 * (16 - 1)) = 0.8
    assert nr.spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    assert nr.spearman([1, 2, 3], [5, 6, 70]) == pytest.approx(1.0)
    assert nr.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ties take their average rank: x ranks 1, 2.5, 2.5, 4; Pearson of the ranks = 4.5 / sqrt(4.5 * 5)
    assert nr.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9))


def test_ties_share_their_mean_rank():
    assert nr.ranks([30, 10, 20, 20]).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert nr.ranks([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]


def test_spearman_ignores_monotone_rescaling_and_is_symmetric():
    x, y = [0.3, 0.1, 0.9, 0.5, 0.7], [40.0, 10.0, 35.0, 20.0, 50.0]
    rho = nr.spearman(x, y)
    assert nr.spearman([100 * v + 3 for v in x], [math.exp(v / 10) for v in y]) == pytest.approx(rho)
    assert nr.spearman(y, x) == pytest.approx(rho)
    assert nr.spearman(x, [-v for v in y]) == pytest.approx(-rho)


def test_spearman_is_nan_when_undefined():
    assert math.isnan(nr.spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(nr.spearman([1], [2]))
    with pytest.raises(ValueError):
        nr.spearman([1, 2], [1, 2, 3])


def test_top_fraction():
    assert nr.top([5, 1, 9, 3, 7], 0.4) == [2, 4]
    assert nr.top([5, 1, 9, 3, 7], 0.01) == [2, 4]                  # at least two, so rho is defined
    assert nr.top([2, 2, 2, 1], 0.5) == [0, 1]                       # ties: the earlier index first
    assert len(nr.top(list(range(720)), 0.2)) == 144                 # the supplement's 144 of 720
    assert nr.top(list(range(720)), 0.2) == list(range(576, 720))


def test_top1_is_the_truth_of_the_proxys_first_choice():
    assert nr.top1([0.2, 0.9, 0.5], [70.0, 80.0, 90.0]) == 80.0
    assert nr.top1([0.1, 0.5, 0.5], [10.0, 20.0, 40.0]) == 30.0     # a tie: the mean of the tied
    with pytest.raises(ValueError):
        nr.top1([], [])


def test_the_bootstrap_interval_of_a_perfect_ranking_is_a_point():
    """Every resample of a monotone pairing that defines rho gives rho = 1
    (or -1 reversed), so the interval is that point."""
    x = [float(i) for i in range(8)]
    assert nr.spearman_interval(x, [10 * v for v in x]) == (pytest.approx(1.0), pytest.approx(1.0))
    assert nr.spearman_interval(x, [-v for v in x]) == (pytest.approx(-1.0), pytest.approx(-1.0))


def test_the_bootstrap_interval_holds_the_estimate_and_narrows_with_more_candidates():
    rng = np.random.default_rng(1)
    widths = []
    for n in (10, 40, 160):
        truth = rng.normal(size=n)
        proxy = truth + rng.normal(size=n)          # a noisy proxy: rho about 0.7
        lo, hi = nr.spearman_interval(proxy, truth)
        assert lo <= nr.spearman(proxy, truth) <= hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    assert nr.spearman_interval(proxy, truth, seed=3) == nr.spearman_interval(proxy, truth, seed=3)


def test_the_bootstrap_interval_is_undefined_below_three_pairs():
    assert all(math.isnan(v) for v in nr.spearman_interval([1.0, 2.0], [2.0, 1.0]))
    with pytest.raises(ValueError, match="paired"):
        nr.spearman_interval([1.0, 2.0, 3.0], [1.0, 2.0])


def test_the_paired_difference_interval_shares_each_resample_between_the_two_proxies():
    rng = np.random.default_rng(2)
    truth = rng.normal(size=60)
    noisy = truth + rng.normal(size=60)                     # rho about 0.7
    # the same proxy twice: every resample's difference is exactly 0 (paired), not the spread of two draws
    assert nr.spearman_difference_interval(truth, noisy, noisy) == (0.0, 0.0)
    # a perfect proxy against the noisy one: above 0, and the swap mirrors it
    lo, hi = nr.spearman_difference_interval(truth, 3 * truth, noisy)
    assert 0 < lo <= 1 - nr.spearman(noisy, truth) <= hi
    assert nr.spearman_difference_interval(truth, noisy, 3 * truth) == (pytest.approx(-hi), pytest.approx(-lo))
    # two equally noisy proxies: the interval holds 0
    other = truth + rng.normal(size=60)
    lo, hi = nr.spearman_difference_interval(truth, noisy, other)
    assert lo < 0 < hi
    assert all(math.isnan(v) for v in nr.spearman_difference_interval([1.0, 2.0], [1.0, 2.0], [2.0, 1.0]))
