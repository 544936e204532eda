"""How well a proxy ranks architectures (supplement Sec. 2.3, Tables 4-5):
Spearman's rank correlation with the ground truth, over all candidates or
the best ``fraction`` of them, and the ground-truth accuracy of the candidate
the proxy ranks first.

Spearman's rho is Pearson's correlation of the ranks, ties getting their
average rank (what ``scipy.stats.spearmanr`` computes; numpy here, so the kit
needs no scipy import for it). It is undefined (NaN) when either side is
constant or has fewer than two values.

    rho = spearman(proxy_acc, truth_acc)
    rho20 = spearman(*restrict(proxy_acc, truth_acc, top(truth_acc, 0.2)))
    perf = top1(proxy_acc, truth_test_acc)
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def ranks(x: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    _, inverse, counts = np.unique(np.asarray(x, float), return_inverse=True, return_counts=True)
    last = np.cumsum(counts)                         # the last rank of each distinct value
    return (last - (counts - 1) / 2)[inverse]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho of paired values; NaN when undefined."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape:
        raise ValueError(f"paired values needed; got {x.shape} and {y.shape}")
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def spearman_interval(x: Sequence[float], y: Sequence[float], reps: int = 2000, level: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval for Spearman's rho of paired values:
    ``reps`` resamples of the pairs with replacement (one explicit
    ``numpy`` generator), the ``level`` central interval of the resamples'
    rho (resamples where rho is undefined are left out). NaN, NaN with fewer
    than 3 pairs or when no resample defines rho. With few candidates the
    interval is wide: it says how much the ranking could move."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape:
        raise ValueError(f"paired values needed; got {x.shape} and {y.shape}")
    if len(x) < 3:
        return math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, len(x), size=(reps, len(x)))
    rhos = np.array([spearman(x[i], y[i]) for i in idx])
    rhos = rhos[~np.isnan(rhos)]
    if len(rhos) == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(rhos, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def spearman_difference_interval(truth: Sequence[float], a: Sequence[float], b: Sequence[float], reps: int = 2000,
                                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A paired percentile bootstrap interval for ``spearman(a, truth) -
    spearman(b, truth)``: two proxies' accuracies of the same candidates,
    each resample of the candidates (with replacement) shared by both, so
    what the candidates have in common cancels. An interval above 0 says
    ``a`` ranks these candidates more like the ground truth than ``b`` beyond
    what other candidates of the same space could change. NaN, NaN with fewer
    than 3 candidates or when no resample defines both rho."""
    t, a, b = (np.asarray(v, float) for v in (truth, a, b))
    if not t.shape == a.shape == b.shape:
        raise ValueError(f"paired values needed; got {t.shape}, {a.shape} and {b.shape}")
    if len(t) < 3:
        return math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, len(t), size=(reps, len(t)))
    d = np.array([spearman(a[i], t[i]) - spearman(b[i], t[i]) for i in idx])
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def top(truth: Sequence[float], fraction: float) -> list[int]:
    """Indices of the best ``ceil(fraction * n)`` candidates by ``truth`` (at
    least 2, so a correlation can be computed; 144 of 720 at 20 %); among
    equal values the earlier index goes first."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must lie in (0, 1]")
    truth = np.asarray(truth, float)
    k = min(len(truth), max(2, math.ceil(fraction * len(truth) - 1e-9)))
    return sorted(np.argsort(-truth, kind="stable")[:k].tolist())


def restrict(x: Sequence[float], y: Sequence[float], idx: Sequence[int]) -> tuple[list[float], list[float]]:
    return [x[i] for i in idx], [y[i] for i in idx]


def top1(proxy: Sequence[float], report: Sequence[float]) -> float:
    """``report`` (e.g. the whole-data test accuracy) of the candidate the proxy
    ranks first; when several tie for first, the mean of theirs (what a
    uniformly random choice among them gives on average)."""
    proxy, report = np.asarray(proxy, float), np.asarray(report, float)
    if len(proxy) == 0 or proxy.shape != report.shape:
        raise ValueError("top1 needs paired, non-empty values")
    return float(report[proxy == proxy.max()].mean())
