"""Tests of the Mann-Whitney U test and the hierarchical bootstrap."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.harness.stats import bootstrap_ratio_ci, mann_whitney_u


def exact_two_sided_p(a, b):
    """Permutation p-value by enumerating every split of the pooled midranks."""
    pooled = np.concatenate([a, b]).astype(float)
    n1, n = len(a), len(pooled)
    _, inv, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inv]
    splits = np.array(list(itertools.combinations(range(n), n1)))
    u = ranks[splits].sum(axis=1) - n1 * (n1 + 1) / 2
    u_obs = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    mu = n1 * len(b) / 2
    return float(np.mean(np.abs(u - mu) >= abs(u_obs - mu) - 1e-9))


# ---------------------------------------------------------------- Mann-Whitney U

def test_mwu_scipy_documentation_example():
    # scipy.stats.mannwhitneyu docs (males vs females): U1 = 17, asymptotic p with
    # continuity correction 0.11134688653314041 (exact p 0.111).
    u, p = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert u == 17.0
    assert p == pytest.approx(0.11134688653314041, abs=1e-12)


def test_mwu_completely_separated_samples():
    # R: wilcox.test(c(1,2,3), c(4,5,6), exact=FALSE) gives W = 0, p-value = 0.08086
    u, p = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert u == 0.0
    assert p == pytest.approx(0.0808556, abs=1e-6)
    u2, p2 = mann_whitney_u([4, 5, 6], [1, 2, 3])
    assert u2 == 9.0 and p2 == pytest.approx(p)


def test_mwu_tortoise_and_hare():
    # The race from the Wikipedia article: finishing order T H H H H H T T T T T H.
    order = "THHHHHTTTTTH"
    t = [i for i, c in enumerate(order) if c == "T"]
    h = [i for i, c in enumerate(order) if c == "H"]
    u_t, p_t = mann_whitney_u(h, t)     # pairs where the tortoise finished first
    u_h, p_h = mann_whitney_u(t, h)
    assert (u_t, u_h) == (11.0, 25.0)
    assert p_t == pytest.approx(p_h)
    sigma = math.sqrt(6 * 6 * 13 / 12)  # no ties
    assert p_t == pytest.approx(math.erfc((7 - 0.5) / sigma / math.sqrt(2)))


def test_mwu_tie_correction_by_hand():
    # U = 1 (1 < everything, each 2 ties one 2 and loses to 3, 4 -> 0.5 + 0.5).
    # The value 2 occurs 3 times: sum(t^3 - t) = 24; var = 9/12 * (7 - 24/30) = 4.65.
    u, p = mann_whitney_u([1, 2, 2], [2, 3, 4])
    assert u == 1.0
    assert p == pytest.approx(math.erfc((3.5 - 0.5) / math.sqrt(4.65) / math.sqrt(2)))
    assert p == pytest.approx(0.1641597, abs=1e-6)


def test_mwu_all_tied_and_identical_samples():
    assert mann_whitney_u([2, 2, 2], [2, 2]) == (3.0, 1.0)
    assert mann_whitney_u([1, 2, 3], [1, 2, 3])[1] == 1.0


def test_mwu_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_u([1.0, float("nan")], [1.0, 2.0])


@pytest.mark.parametrize("seed", range(4))
def test_mwu_close_to_exact_permutation_p_untied(seed):
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(40):
        n1, n2 = rng.integers(3, 8, size=2)
        a = rng.normal(0, 1, n1)
        b = rng.normal(rng.uniform(0, 3), 1, n2)
        worst = max(worst, abs(mann_whitney_u(a, b)[1] - exact_two_sided_p(a, b)))
    assert worst <= 0.04


def test_mwu_close_to_exact_permutation_p_in_the_tail_with_ties():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(120):
        n1, n2 = rng.integers(5, 9, size=2)
        a = rng.integers(0, 10, n1)
        b = rng.integers(0, 10, n2) + rng.integers(0, 5)
        exact = exact_two_sided_p(a, b)
        if exact <= 0.2:
            checked += 1
            assert mann_whitney_u(a, b)[1] == pytest.approx(exact, abs=0.03)
    assert checked >= 20


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=12),
       st.lists(st.integers(-5, 5), min_size=1, max_size=12))
def test_mwu_properties(a, b):
    u_ab, p_ab = mann_whitney_u(a, b)
    u_ba, p_ba = mann_whitney_u(b, a)
    assert u_ab + u_ba == pytest.approx(len(a) * len(b))
    assert p_ab == pytest.approx(p_ba)
    assert 0.0 <= p_ab <= 1.0
    pairs = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    assert u_ab == pytest.approx(pairs)


# ---------------------------------------------------------------- hierarchical bootstrap

def lognormal_runs(rng, mean, n_runs=20, n_values=3, run_sd=0.05, value_sd=0.02):
    """Runs whose population mean is exactly ``mean`` (lognormal means corrected)."""
    scale = mean / math.exp((run_sd ** 2 + value_sd ** 2) / 2)
    return [list(scale * rng.lognormal(0, run_sd) * rng.lognormal(0, value_sd, n_values))
            for _ in range(n_runs)]


def test_bootstrap_ratio_is_the_ratio_of_means():
    base = [[1.0, 2.0], [3.0]]
    cur = [[2.0, 4.0, 6.0], []]
    r, lo, hi = bootstrap_ratio_ci(base, cur, n_boot=200)
    assert r == pytest.approx((12 / 3) / (6 / 3))
    assert lo <= hi


def test_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    base, cur = lognormal_runs(rng, 1e-6), lognormal_runs(rng, 1.1e-6)
    first = bootstrap_ratio_ci(base, cur, seed=42)
    assert bootstrap_ratio_ci(base, cur, seed=42) == first
    other = bootstrap_ratio_ci(base, cur, seed=43)
    assert other[0] == first[0] and other[1:] != first[1:]


def test_bootstrap_interval_covers_the_true_ratio():
    rng = np.random.default_rng(11)
    true_ratio, trials, covered = 1.2, 100, 0
    for seed in range(trials):
        base = lognormal_runs(rng, 1e-6)
        cur = lognormal_runs(rng, true_ratio * 1e-6)
        _, lo, hi = bootstrap_ratio_ci(base, cur, confidence=0.95, seed=seed)
        covered += lo <= true_ratio <= hi
    # nominal 95%; a percentile interval from 20 runs undercovers a little
    assert covered >= 85


def test_between_run_noise_widens_the_interval():
    rng = np.random.default_rng(5)
    base = lognormal_runs(rng, 1.0, run_sd=0.08, value_sd=0.005)
    cur = lognormal_runs(rng, 1.0, run_sd=0.08, value_sd=0.005)
    _, lo, hi = bootstrap_ratio_ci(base, cur)
    # the same values with the run structure thrown away: every value its own run
    flat = lambda runs: [[v] for r in runs for v in r]  # noqa: E731
    _, flo, fhi = bootstrap_ratio_ci(flat(base), flat(cur))
    assert (hi - lo) > 1.3 * (fhi - flo)


def test_bootstrap_level_and_single_run():
    rng = np.random.default_rng(9)
    base, cur = lognormal_runs(rng, 1.0), lognormal_runs(rng, 1.0)
    _, lo90, hi90 = bootstrap_ratio_ci(base, cur, confidence=0.90)
    _, lo99, hi99 = bootstrap_ratio_ci(base, cur, confidence=0.99)
    assert lo99 < lo90 < hi90 < hi99
    r, lo, hi = bootstrap_ratio_ci([[1.0, 1.1, 0.9]], [[2.0, 2.2, 1.8]], n_boot=500)
    assert r == pytest.approx(2.0) and lo < 2.0 < hi


@pytest.mark.parametrize("kwargs", [dict(confidence=1.0), dict(confidence=0.0), dict(n_boot=0)])
def test_bootstrap_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([[1.0]], [[1.0]], **kwargs)


def test_bootstrap_rejects_runs_without_values():
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([[], []], [[1.0]])
