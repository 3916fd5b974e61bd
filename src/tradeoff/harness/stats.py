"""Statistics for comparing two sets of timings, in plain numpy (no scipy).

Two questions are asked of a base and a current measurement of one benchmark.

*Did it move?*  :func:`mann_whitney_u` is the Mann-Whitney U rank test (Mann & Whitney
1947): pool both samples, rank them, and ask whether one sample's ranks are larger than
chance allows. It assumes nothing about the shape of the distribution, so the long right
tail of timings does no harm. The p-value comes from the normal approximation of U, with
the variance corrected for ties and a continuity correction of 1/2 (as in most textbooks,
and as R's ``wilcox.test(exact=FALSE)`` and scipy's ``method="asymptotic"`` do).

*By how much, and how sure?*  :func:`bootstrap_ratio_ci` estimates the ratio of the means
(current / base) and a percentile bootstrap interval for it (Efron & Tibshirani 1993,
ch. 13). pyperf measures in several worker processes ("runs"), and values from the same
process share its fate: its hash seed, its memory layout, the core it ran on, what else
the machine was doing. Values within a run are therefore correlated, and a bootstrap (or
a rank test) that treats all values as independent calls a difference between processes
a real effect. The hierarchical bootstrap resamples at both levels: first runs with
replacement, then values with replacement within each chosen run (Davison & Hinkley 1997,
sec. 3.8; Saravanan, Berman & Sober 2020). Between-process noise then widens the interval
as it should, which is what keeps a comparison honest on a small, shared, noisy machine.

The Mann-Whitney p-value here treats values as independent and so is too small when
between-process noise dominates; ``compare`` asks for the test, the interval *and* a
minimum effect size together, never for the p-value alone.

References:
    H. B. Mann and D. R. Whitney (1947). On a test of whether one of two random variables
    is stochastically larger than the other. Annals of Mathematical Statistics 18(1), 50-60.
    B. Efron and R. J. Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall.
    A. C. Davison and D. V. Hinkley (1997). Bootstrap Methods and their Application.
    Cambridge University Press.
    V. Saravanan, G. J. Berman and S. J. Sober (2020). Application of the hierarchical
    bootstrap to multi-level data in neuroscience. Neurons, Behavior, Data analysis, and
    Theory 3(5).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mann_whitney_u", "bootstrap_ratio_ci"]


def _sample(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} has a value that is not a finite number")
    return arr


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mann-Whitney U test of ``a`` against ``b``; returns ``(U, p_two_sided)``.

    ``U`` is the statistic of ``a``: the number of pairs ``(x in a, y in b)`` with
    ``x > y``, ties counting 1/2 (so ``U_a + U_b = len(a) * len(b)``). The two-sided
    p-value uses the normal approximation of U under the null hypothesis (mean
    ``n1*n2/2``; variance ``n1*n2/12 * ((n+1) - sum(t^3 - t) / (n*(n-1)))`` where ``t``
    runs over the sizes of groups of tied values) with a continuity correction of 1/2.
    If every value is tied the p-value is 1.

    Accuracy: exact enough from 3 values per sample up. Against the exact permutation
    p-value (enumerated in the tests) it is within 0.04 for untied samples of 3 to 7
    values, and within 0.02 where p <= 0.2, the region that decides anything; the error
    shrinks as samples grow. Many ties in tiny samples make the exact distribution lumpy
    and the approximation rougher (timings, being floats, are rarely tied). pyperf gives
    20 or more values per benchmark. Mann & Whitney (1947).

    >>> u, p = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    >>> u, round(p, 4)
    (17.0, 0.1113)
    """
    x = _sample(a, "first sample")
    y = _sample(b, "second sample")
    n1, n2 = x.size, y.size
    n = n1 + n2
    pooled = np.concatenate([x, y])
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    # a group of c ties ending at (1-based) position e holds ranks e-c+1..e: mean e-(c-1)/2
    midrank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = midrank[inverse.ravel()]
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    mean = n1 * n2 / 2.0
    ties = float(np.sum(counts.astype(float) ** 3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0.0:
        return u, 1.0
    dist = max(abs(u - mean) - 0.5, 0.0)
    p = math.erfc(dist / math.sqrt(2.0 * var))
    return u, min(p, 1.0)


def _pack_runs(runs, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Runs as a zero-padded (n_runs, max_len) matrix and the length of each run."""
    rows = [_sample(r, what) for r in runs if len(r) > 0]
    if not rows:
        raise ValueError(f"{what} has no values")
    lengths = np.array([r.size for r in rows], dtype=np.intp)
    matrix = np.zeros((len(rows), int(lengths.max())))
    for i, r in enumerate(rows):
        matrix[i, : r.size] = r
    return matrix, lengths


def _boot_means(matrix: np.ndarray, lengths: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Means of ``n_boot`` two-level resamples: runs, then values within each run.

    Each resample draws ``n_runs`` runs with replacement; each drawn run contributes as
    many values as it has, drawn with replacement from itself. The mean is over all
    values drawn, so a resample weighs runs as the plain mean of all values does.
    """
    n_runs, width = matrix.shape
    out = np.empty(n_boot)
    chunk = max(1, 1_000_000 // (n_runs * width))  # bound the memory of one step
    slot = np.arange(width)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        pick = rng.integers(0, n_runs, size=(k, n_runs))          # which runs
        lens = lengths[pick]                                        # (k, n_runs)
        within = (rng.random((k, n_runs, width)) * lens[..., None]).astype(np.intp)
        drawn = matrix[pick[..., None], within]                     # (k, n_runs, width)
        drawn[slot >= lens[..., None]] = 0.0                        # beyond a short run
        out[start:start + k] = drawn.sum(axis=(1, 2)) / lens.sum(axis=1)
    return out


def bootstrap_ratio_ci(
    base_runs: Sequence[Sequence[float]],
    cur_runs: Sequence[Sequence[float]],
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Ratio of means ``mean(cur) / mean(base)`` and its hierarchical bootstrap interval.

    ``base_runs`` and ``cur_runs`` are lists of runs, each run the list of values one
    pyperf worker process measured (``[run.values for run in bench.get_runs()]``); empty
    runs are ignored. The ratio is of the means of all values. Each of ``n_boot``
    resamples draws runs with replacement and then values with replacement within each
    drawn run, independently for base and current (Saravanan et al. 2020; Davison &
    Hinkley 1997, sec. 3.8); the interval is the percentile interval of the resampled
    ratios (Efron & Tibshirani 1993, ch. 13). With a single run per side only the
    within-run noise is left to resample, and the interval is too narrow to trust.

    Returns ``(ratio, lo, hi)``. The same inputs and seed give the same interval.

    >>> r, lo, hi = bootstrap_ratio_ci([[1.0, 1.1], [0.9, 1.0]], [[2.0, 2.1], [1.9, 2.2]])
    >>> round(r, 3), lo <= r <= hi
    (2.05, True)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    bm, bl = _pack_runs(base_runs, "base")
    cm, cl = _pack_runs(cur_runs, "current")
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float((cm.sum() / cl.sum()) / (bm.sum() / bl.sum()))
        boots = _boot_means(cm, cl, n_boot, rng) / _boot_means(bm, bl, n_boot, rng)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boots, [tail, 1.0 - tail])
    return ratio, float(lo), float(hi)
