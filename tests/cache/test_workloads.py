"""Tests of the synthetic workload generators in ``tradeoff.workloads``."""
import numpy as np
import pytest

from tradeoff.cache import replay
from tradeoff.workloads import hotspot, scan, uniform, zipf

GENERATORS = {
    "zipf": lambda n, m, seed: zipf(n, m, 1.0, seed),
    "uniform": lambda n, m, seed: uniform(n, m, seed),
    "scan": lambda n, m, seed: scan(n, m, seed),
    "hotspot": lambda n, m, seed: hotspot(n, m, 1.0, seed),
    "hotspot-early": lambda n, m, seed: hotspot(n, m, 0.7, seed, shift_at=0.2),
}
SEEDED = sorted(set(GENERATORS) - {"scan"})


def ranked_counts(trace, n_objects):
    """Request counts per id, most popular first, and the ids in that order."""
    counts = np.bincount(trace, minlength=n_objects)
    order = np.argsort(-counts, kind="stable")
    return counts[order], order


def harmonic(n, alpha):
    return float(np.sum(1.0 / np.arange(1, n + 1, dtype=np.float64) ** alpha))


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("n_requests, n_objects", [(0, 5), (1, 1), (17, 1), (1000, 3), (5000, 1000)])
def test_shape_dtype_and_range(name, n_requests, n_objects):
    trace = GENERATORS[name](n_requests, n_objects, 11)
    assert isinstance(trace, np.ndarray)
    assert trace.dtype == np.int64
    assert trace.ndim == 1
    assert trace.shape == (n_requests,)
    if n_requests:
        assert trace.min() >= 0
        assert trace.max() < n_objects


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_arguments_same_trace(name):
    a = GENERATORS[name](20_000, 500, 3)
    b = GENERATORS[name](20_000, 500, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", SEEDED)
def test_different_seeds_different_traces(name):
    a = GENERATORS[name](2000, 500, 1)
    b = GENERATORS[name](2000, 500, 2)
    assert not np.array_equal(a, b)


def test_a_trace_feeds_replay():
    trace = zipf(10_000, 1000, 1.0, 5)
    result = replay(trace, "lru", 100)
    assert result.requests == 10_000
    assert 0 < result.hits < 10_000


# -- scan ----------------------------------------------------------------------


def test_scan_loops_over_the_working_set_in_order():
    np.testing.assert_array_equal(scan(10, 4, 0), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    np.testing.assert_array_equal(scan(7, 1, 0), np.zeros(7, dtype=np.int64))
    np.testing.assert_array_equal(scan(12345, 100, 9), np.arange(12345) % 100)


def test_scan_ignores_the_seed():
    np.testing.assert_array_equal(scan(1000, 37, 1), scan(1000, 37, 2))


# -- uniform -------------------------------------------------------------------


def test_uniform_is_flat():
    counts = np.bincount(uniform(200_000, 10, 4), minlength=10)
    # 20,000 expected per id; the standard deviation is about 134.
    assert counts.min() > 19_000
    assert counts.max() < 21_000


# -- zipf ----------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5])
def test_zipf_rank_one_over_rank_two_is_two_to_the_alpha(alpha):
    n_objects = 1000
    trace = zipf(200_000, n_objects, alpha, 42)
    counts, _ = ranked_counts(trace, n_objects)
    ratio = counts[0] / counts[1]
    assert ratio == pytest.approx(2.0**alpha, rel=0.1), f"rank1/rank2 = {ratio:.3f}"
    # The most popular id takes 1 / H(n, alpha) of the requests.
    share = counts[0] / len(trace)
    assert share == pytest.approx(1.0 / harmonic(n_objects, alpha), rel=0.05)


def test_zipf_alpha_zero_is_uniform():
    counts = np.bincount(zipf(200_000, 10, 0.0, 8), minlength=10)
    assert counts.min() > 19_000
    assert counts.max() < 21_000


def test_zipf_skew_grows_with_alpha():
    n, n_objects = 100_000, 1000
    shares = {}
    for alpha in (0.0, 0.5, 1.0, 1.5):
        counts, _ = ranked_counts(zipf(n, n_objects, alpha, 1), n_objects)
        shares[alpha] = counts[:10].sum() / n  # the ten most requested ids
    assert list(shares.values()) == sorted(shares.values())
    assert shares[0.0] < 0.02  # 0.01 for exactly uniform, plus noise
    for alpha in (1.0, 1.5):
        theory = harmonic(10, alpha) / harmonic(n_objects, alpha)
        assert shares[alpha] == pytest.approx(theory, rel=0.03)


# -- hotspot -------------------------------------------------------------------


def top_ids(trace, n_objects, k):
    _, order = ranked_counts(trace, n_objects)
    return set(order[:k].tolist())


@pytest.mark.parametrize("shift_at", [0.5, 0.3, 0.8])
def test_hotspot_moves_the_popular_set(shift_at):
    n, n_objects = 200_000, 1000
    trace = hotspot(n, n_objects, 1.0, 17, shift_at=shift_at)
    cut = int(n * shift_at)
    margin = n // 100  # stay clear of the exact cut, which is not specified
    before, after = trace[: cut - margin], trace[cut + margin:]
    assert top_ids(before, n_objects, 1) != top_ids(after, n_objects, 1)
    assert len(top_ids(before, n_objects, 10) & top_ids(after, n_objects, 10)) < 5
    # Each phase is itself Zipf(1.0): rank 1 about twice rank 2.
    for phase in (before, after):
        counts, _ = ranked_counts(phase, n_objects)
        assert counts[0] / counts[1] == pytest.approx(2.0, rel=0.15)


@pytest.mark.parametrize("shift_at", [0.0, 1.0])
def test_hotspot_without_a_shift_inside_the_trace(shift_at):
    n, n_objects = 100_000, 1000
    trace = hotspot(n, n_objects, 1.0, 23, shift_at=shift_at)
    first, second = trace[: n // 2], trace[n // 2:]
    assert top_ids(first, n_objects, 1) == top_ids(second, n_objects, 1)


# -- validation ----------------------------------------------------------------

BAD_CALLS = [
    ("n_requests", -1, lambda: zipf(-1, 10, 1.0, 0)),
    ("n_requests", -1, lambda: uniform(-1, 10, 0)),
    ("n_requests", -5, lambda: scan(-5, 10, 0)),
    ("n_requests", -1, lambda: hotspot(-1, 10, 1.0, 0)),
    ("n_objects", 0, lambda: zipf(10, 0, 1.0, 0)),
    ("n_objects", 0, lambda: uniform(10, 0, 0)),
    ("n_objects", -2, lambda: scan(10, -2, 0)),
    ("n_objects", 0, lambda: hotspot(10, 0, 1.0, 0)),
    ("alpha", -0.5, lambda: zipf(10, 10, -0.5, 0)),
    ("alpha", -1.0, lambda: hotspot(10, 10, -1.0, 0)),
    ("shift_at", 1.5, lambda: hotspot(10, 10, 1.0, 0, shift_at=1.5)),
    ("shift_at", -0.1, lambda: hotspot(10, 10, 1.0, 0, shift_at=-0.1)),
]


@pytest.mark.parametrize(
    "param, value, call", BAD_CALLS, ids=[f"{p}={v}-{i}" for i, (p, v, _) in enumerate(BAD_CALLS)]
)
def test_bad_arguments_are_value_errors_naming_the_value(param, value, call):
    with pytest.raises(ValueError) as excinfo:
        call()
    message = str(excinfo.value)
    assert param in message
    assert str(value) in message
