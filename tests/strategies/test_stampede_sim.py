"""The stampede simulation against its closed forms and its pure-Python model."""
import math

import numpy as np
import pytest

from tradeoff.harness.errors import UserError
from tradeoff.strategies import stampede as S
from tradeoff.strategies._stampede import FIX_KINDS, Stampede


def test_none_grows_linearly_with_rate():
    """Without a fix a key is recomputed 1 + lambda d times per expiry on average (the
    first miss and the Poisson arrivals while it runs): within 3 standard errors at
    each rate, so doubling the rate nearly doubles the recomputes."""
    per = {}
    for rate in (100, 400, 1600):
        r = S.simulate("none", rate=rate, recompute="100ms", ttl="2s", requests=rate * 2000, seed=1)
        expected = S.expected_none(rate, 0.1)
        # the arrivals in d are Poisson(lambda d): standard error sqrt(lambda d / expiries)
        se = math.sqrt(rate * 0.1 / r.expiries)
        assert abs(r.recomputes_per_expiry - expected) < 3 * se + 1e-9, (rate, r.recomputes_per_expiry, expected)
        assert r.peak_db >= expected * 0.8
        per[rate] = r.recomputes_per_expiry
    assert per[1600] / per[400] > 3.5 and per[400] / per[100] > 3


def test_none_with_many_keys_splits_the_rate():
    r = S.simulate("none", rate=2000, recompute="100ms", ttl="1s", keys=4, requests=400_000, seed=2)
    assert abs(r.recomputes_per_expiry - S.expected_none(2000, 0.1, 4)) < 3 * math.sqrt(50 / r.expiries)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_xfetch_is_bounded_in_rate(beta):
    """XFetch: recomputes per expiry tend to exp(1/beta) (stampede.py's derivation)
    and do not grow with the rate, where none's grow 100-fold over the same range."""
    got = []
    for rate in (1000, 10_000, 100_000):
        # ttl >> delta beta and rate x delta from 20 to 2000; about 60 expiries
        r = S.simulate(f"xfetch:beta={beta}", rate=rate, recompute="20ms", ttl="2s", requests=rate * 120, seed=3)
        assert r.expiries >= 55
        got.append(r.recomputes_per_expiry)
        # the count per expiry is 1 + Poisson(E (e^{1/beta} - 1)), E ~ Exp(1): sd about e^{1/beta}
        tol = 4 * math.exp(1 / beta) / math.sqrt(r.expiries) + 0.05
        assert abs(r.recomputes_per_expiry - S.expected_xfetch(beta)) < tol, (rate, r.recomputes_per_expiry)
    assert max(got) < 1.6 * min(got)


def test_xfetch_recomputes_early():
    r = S.simulate("xfetch:beta=1", rate=1000, recompute="200ms", ttl="60s", requests=2_000_000, seed=4)
    assert r.early == r.recomputes > 0         # at this rate no value ever expires
    assert r.stale_reads == 0 and r.waits == 0


@pytest.mark.parametrize("rate", [50, 1000, 20_000])
@pytest.mark.parametrize("spec", ["lock", "lock:stale=1", "swr"])
def test_single_flight_is_exactly_one(spec, rate):
    r = S.simulate(spec, rate=rate, recompute="exp:100ms", ttl="1s", keys=3, requests=300_000, seed=5)
    assert r.expiries > 0 and r.recomputes == r.expiries
    assert r.recomputes_per_expiry == 1.0
    assert r.peak_db <= 3


def test_lock_waiters_and_stale():
    w = S.simulate("lock", rate=1000, recompute="100ms", ttl="1s", requests=100_000, seed=6)
    s = S.simulate("lock:stale=1", rate=1000, recompute="100ms", ttl="1s", requests=100_000, seed=6)
    assert w.waits > 0 and w.stale_reads == 0
    assert s.waits == 0 and s.stale_reads == w.waits       # the same requests, served stale instead
    assert s.recomputes == w.recomputes
    assert w.p99_ms > 0 and w.max_ms <= 100.0 + 1e-9


def test_swr_window():
    """Past the window a stale value is not served: a short window behaves like none
    once the background refresh is late."""
    full = S.simulate("swr", rate=2000, recompute="100ms", ttl="1s", requests=100_000, seed=7)
    short = S.simulate("swr:window=10ms", rate=2000, recompute="100ms", ttl="1s", requests=100_000, seed=7)
    assert full.recomputes_per_expiry == 1.0 and full.p99_ms == 0.0
    assert short.recomputes_per_expiry > 50 and short.stale_reads < full.stale_reads


def test_jitter_spreads_keys_set_together():
    """100 keys set at time 0 expire together without jitter: the first stampede
    puts every key in flight at once; spread=0.5 lowers that peak."""
    kw = dict(rate=20_000, recompute="50ms", ttl="10s", keys=100, requests=300_000, seed=8)
    none = S.simulate("none", **kw)
    jit = S.simulate("jitter:spread=0.5", **kw)
    assert none.peak_db >= 100
    assert jit.peak_db < none.peak_db / 3


def test_common_random_numbers():
    """Every fix sees the same request times: the same span and request count."""
    a = S.simulate("none", rate=500, recompute="50ms", ttl="1s", requests=10_000, seed=9)
    b = S.simulate("swr", rate=500, recompute="50ms", ttl="1s", requests=10_000, seed=9)
    times, _ = S.schedule(10_000, 500, 1, 9)
    assert a.simulated_s == b.simulated_s == times[-1]
    c = S.simulate("none", rate=500, recompute="50ms", ttl="1s", requests=10_000, seed=10)
    assert c.simulated_s != a.simulated_s


def test_check_and_runs_once():
    s = Stampede(FIX_KINDS["none"], 2, 1000.0, 1.0, (1, 0.1, None), 3)
    s.run(50_000)
    assert s._check()
    with pytest.raises(RuntimeError):
        s.run(1)


@pytest.mark.parametrize("kw, msg", [(dict(keys=0), "keys"), (dict(rate=-1.0), "rate"), (dict(ttl=0.0), "ttl"),
                                     (dict(beta=0.0), "beta"), (dict(spread=1.0), "spread")])
def test_core_rejects(kw, msg):
    args = dict(fix=0, keys=1, rate=10.0, ttl=1.0, recompute=(0, 0.1, None), seed=0)
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        Stampede(**args)


@pytest.mark.parametrize("spec", ["bogus", "lock:beta=1", "xfetch:beta=0", "jitter:spread=2", "lock:stale=7"])
def test_bad_fix(spec):
    with pytest.raises(UserError):
        S.parse_fixes(spec)


def test_bad_inputs():
    with pytest.raises(UserError):
        S.parse_recompute("-5ms")
    with pytest.raises(UserError):
        S.parse_recompute("gamma:5ms")
    with pytest.raises(UserError):
        S.parse_rates("10,-1")
    assert S.parse_rates("1_000, 2e3") == [1000.0, 2000.0]


def test_p99_nearest_rank():
    assert S.p99(np.array([5.0]), 100) == 0.0
    assert S.p99(np.array([5.0, 7.0]), 100) == 5.0
    assert S.p99(np.array([1.0, 2.0, 3.0]), 3) == 3.0


def test_sweep_order():
    rs = S.sweep(["none", "lock"], [100, 200], recompute="10ms", ttl="1s", requests=1000)
    assert [(r.fix, r.rate) for r in rs] == [("none", 100), ("none", 200), ("lock", 100), ("lock", 200)]
