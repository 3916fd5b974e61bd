"""PBS (Bailis et al., VLDB 2012): k-staleness against enumeration, the WARS
Monte Carlo against a plain loop on the same draws and against closed forms,
limit cases, the paper's headline figures, the latency models and bad input."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from tradeoff.harness.errors import UserError
from tradeoff.replication import _pbs
from tradeoff.replication.latency import (Constant, Empirical, Exponential, LatencyModel, LogNormal,
                                          Mixture, Pareto, WanModel, fit, parse_duration, parse_latency,
                                          split_specs)
from tradeoff.replication.pbs import (PAPER_CONSISTENT_AT_ZERO, PAPER_T_VISIBILITY, _percentiles,
                                      _simulate, k_staleness, pbs, run_pbs, t_visibility_table, wars)


# ----------------------------------------------------------------------------- references

def brute_k_staleness(n, r, w, k):
    """Enumerate every read quorum and every k-tuple of write quorums: the share
    of combinations where the read quorum meets at least one of the k."""
    reads = list(itertools.combinations(range(n), r))
    writes = [set(c) for c in itertools.combinations(range(n), w)]
    meet = total = 0
    for rq in reads:
        for wqs in itertools.product(writes, repeat=k):
            total += 1
            meet += any(not wq.isdisjoint(rq) for wq in wqs)
    return Fraction(meet, total)


def loop_wars(W, A, R, S, r, w, ts):
    """WARS exactly as the paper states it, one trial and one t at a time: the
    write commits at the w-th smallest W_i + A_i; replica i has it for a read
    issued t after the commit iff W_i <= commit + t + R_i; the read waits for
    the r replicas with the smallest R_i + S_i (ties: lower replica first)."""
    consistent, write_lat, read_lat = [], [], []
    for Wr, Ar, Rr, Sr in zip(W.tolist(), A.tolist(), R.tolist(), S.tolist()):
        n = len(Wr)
        commit = sorted(Wr[i] + Ar[i] for i in range(n))[w - 1]
        order = sorted(range(n), key=lambda i: (Rr[i] + Sr[i], i))
        responders = order[:r]
        write_lat.append(commit)
        read_lat.append(Rr[order[r - 1]] + Sr[order[r - 1]])
        consistent.append([any(Wr[i] <= commit + t + Rr[i] for i in responders) for t in ts])
    return np.array(consistent, dtype=bool), np.array(write_lat), np.array(read_lat)


def split_draws(draws, n):
    return [np.ascontiguousarray(draws[:, k * n:(k + 1) * n]) for k in range(4)]


def one_line_value_error(fn, *args, match=None, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    if match:
        assert match in msg, msg
    return msg


# ----------------------------------------------------------------------------- k-staleness

@pytest.mark.parametrize("n", range(1, 6))
def test_k_staleness_matches_enumeration(n):
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            for k in range(1, 4 if n <= 4 else 3):
                exact = brute_k_staleness(n, r, w, k)
                assert k_staleness(n, r, w, k) == pytest.approx(float(exact), abs=1e-15), (n, r, w, k)
                if r + w > n:
                    assert k_staleness(n, r, w, k) == 1.0


def test_k_staleness_paper_examples():
    # the paper's k-staleness examples (CACM 2014 Section 4.1): N=3, R=W=1 -> 1/3, 5/9,
    # 0.703 for k = 1, 2, 3; > 0.868 at k = 5, > 0.98 at k = 10; R=1, W=2 -> 2/3, 8/9, > 0.995 at k=5
    assert k_staleness(3, 1, 1, 1) == pytest.approx(1 / 3)
    assert k_staleness(3, 1, 1, 2) == pytest.approx(5 / 9)
    assert k_staleness(3, 1, 1, 3) == pytest.approx(19 / 27)
    assert 0.868 < k_staleness(3, 1, 1, 5) and 0.98 < k_staleness(3, 1, 1, 10)
    assert k_staleness(3, 1, 2, 1) == pytest.approx(2 / 3)
    assert k_staleness(3, 2, 1, 2) == pytest.approx(8 / 9)
    assert k_staleness(3, 1, 2, 5) > 0.995
    # N=100, R=W=30: p_stale = 1.88e-6 (quoted from Malkhi et al. in the paper)
    assert 1 - k_staleness(100, 30, 30) == pytest.approx(1.88e-6, rel=0.01)


# ----------------------------------------------------------------------------- WARS = the loop, same draws

CASES = [("lnkd-ssd", 3), ("lnkd-disk", 3), ("ymmr", 3), ("wan", 3), ("lnkd-disk", 1), ("wan", 2),
         ("ymmr", 4), ("lnkd-ssd", 5), ("const:1ms", 3), ("const:1ms", 4),
         ("W=exp:mean=3ms;ARS=lognormal:median=1ms,sigma=0.5", 3)]


@pytest.mark.parametrize("spec,n", CASES)
def test_kernel_equals_loop_on_its_own_draws(spec, n):
    ts = [0.0, 0.1, 0.5, 1.0, 3.0, 10.0, 80.0, 200.0]
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            trials, draws = _simulate(parse_latency(spec), n, r, w, 300, seed=r * 10 + w, keep_draws=True)
            W, A, R, S = split_draws(draws, n)
            consistent, write_lat, read_lat = loop_wars(W, A, R, S, r, w, ts)
            assert np.array_equal(trials.write_latency, write_lat)
            assert np.array_equal(trials.read_latency, read_lat)
            assert np.array_equal(trials.visible[:, None] <= np.array(ts), consistent), (spec, n, r, w)
            # and the public function on the same draws gives the same trials
            again = wars(W, A, R, S, r=r, w=w)
            for x, y in zip(again, trials):
                assert np.array_equal(x, y)


def test_ties_follow_replica_order():
    # small integers: many exact ties in W+A and R+S; the loop breaks them by replica number
    rng = np.random.default_rng(5)
    ts = [0.0, 1.0, 2.0, 3.0]
    for n in (2, 3, 4):
        W, A, R, S = [rng.integers(0, 3, (2000, n)).astype(float) for _ in range(4)]
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                consistent, write_lat, read_lat = loop_wars(W, A, R, S, r, w, ts)
                got = wars(W, A, R, S, r=r, w=w)
                assert np.array_equal(got.visible[:, None] <= np.array(ts), consistent)
                assert np.array_equal(got.write_latency, write_lat)
                assert np.array_equal(got.read_latency, read_lat)
                if n == 3:                              # the three-replica fast path = the general one
                    out = [np.empty(2000) for _ in range(3)]
                    _pbs.evaluate(r, w, W, A, R, S, *out, generic=True)
                    assert all(np.array_equal(a, b) for a, b in zip(out, got))


def test_wars_by_hand():
    # N=3, W=1: the write commits when replica 0 acknowledges (1 + 1 = 2 ms);
    # R=1 reads replica 1 (R+S = 2 smallest), whose write lands at 5 ms, its read
    # request at 2 + t + 1: visible from t = 2
    W = np.array([[1.0, 5.0, 9.0]])
    A = np.array([[1.0, 1.0, 1.0]])
    R = np.array([[1.0, 1.0, 1.0]])
    S = np.array([[3.0, 1.0, 2.0]])
    got = wars(W, A, R, S, r=1, w=1)
    assert got.visible.tolist() == [2.0] and got.write_latency.tolist() == [2.0]
    assert got.read_latency.tolist() == [2.0]
    two = wars(W, A, R, S, r=2, w=1)                  # replicas 1 and 2 answer first (2 and 3 ms)
    assert two.visible.tolist() == [2.0] and two.read_latency.tolist() == [3.0]
    assert wars(W, A, R, S, r=3, w=1).visible.tolist() == [-2.0]     # replica 0, which has it, too
    assert wars(W, A, R, S, r=1, w=3).write_latency.tolist() == [10.0]


# ----------------------------------------------------------------------------- against independent estimates

def test_monte_carlo_agrees_with_the_loop_on_independent_draws():
    ts = [0.0, 0.3, 1.0, 2.0]
    for spec in ("lnkd-ssd", "lnkd-disk"):
        model = parse_latency(spec)
        W, A, R, S = model.sample_wars(20_000, 3, np.random.default_rng(11))     # numpy's samplers
        consistent, _, _ = loop_wars(W, A, R, S, 1, 1, ts)
        ref = consistent.mean(axis=0)
        res = pbs(3, 1, 1, spec, t=ts, trials=1_000_000, seed=3)
        se = np.sqrt(ref * (1 - ref) / 20_000 + res.p_consistent * (1 - res.p_consistent) / 1_000_000)
        assert np.all(np.abs(res.p_consistent - ref) <= 4.5 * se + 1e-12), (spec, res.p_consistent, ref)


def test_closed_form_two_replicas():
    # N=2, R=W=1, W ~ exp(mean m), A = R = S = c: the commit is min(W) + c and the
    # read (from either replica, independent of W) sees the write unless it went to
    # the slower replica and W_slow - W_fast > t + 2c: P = 1 - exp(-(t + 2c)/m) / 2
    m, c = 2.0, 0.25
    ts = np.array([0.0, 0.5, 1.0, 3.0, 8.0])
    res = pbs(2, 1, 1, f"W=exp:mean={m}ms;ARS=const:{c}ms", t=ts, trials=400_000, seed=9)
    exact = 1 - 0.5 * np.exp(-(ts + 2 * c) / m)
    se = np.sqrt(exact * (1 - exact) / 400_000)
    assert np.all(np.abs(res.p_consistent - exact) <= 5 * se), (res.p_consistent, exact)
    assert res.write_latency[50] == pytest.approx(m / 2 * math.log(2) + c, rel=0.02)   # min of 2 exp: mean m/2
    assert res.read_latency[99.9] == 2 * c


def test_custom_model_takes_the_numpy_path():
    class Shifted(LatencyModel):          # unknown to the Cython sampler: drawn with sample_wars
        pass

    custom = Shifted(**fit("lnkd-ssd").legs)
    a = pbs(3, 1, 1, custom, t=[0.0, 1.0], trials=300_000, seed=4)
    b = pbs(3, 1, 1, "lnkd-ssd", t=[0.0, 1.0], trials=300_000, seed=4)
    se = np.sqrt(2 * b.p_consistent * (1 - b.p_consistent) / 300_000)
    assert np.all(np.abs(a.p_consistent - b.p_consistent) <= 4.5 * se + 1e-12)
    assert np.array_equal(pbs(3, 1, 1, custom, t=0, trials=2000, seed=4).p_consistent,
                          pbs(3, 1, 1, custom, t=0, trials=2000, seed=4).p_consistent)


# ----------------------------------------------------------------------------- limits and shape

@pytest.mark.parametrize("spec", ["lnkd-ssd", "lnkd-disk", "ymmr", "wan", "exp:mean=5ms"])
def test_strict_quorums_are_always_consistent(spec):
    ts = [0.0, 0.001, 1.0, 100.0]
    for n in (2, 3, 4):
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                if r + w > n:
                    res = pbs(n, r, w, spec, t=ts, trials=20_000, seed=n)
                    assert np.all(res.p_consistent == 1.0), (spec, n, r, w)
                    assert res.t_visibility(0.999999) == 0.0


@pytest.mark.parametrize("spec", ["lnkd-ssd", "lnkd-disk", "ymmr", "wan"])
def test_monotone_in_t_and_one_in_the_limit(spec):
    ts = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 60)])
    res = pbs(3, 1, 1, spec, t=ts, trials=200_000, seed=1)
    res._check()
    parse_latency(spec)._check()
    assert np.all(np.diff(res.p_consistent) >= 0)
    assert res.p_consistent[0] < 1.0
    assert res.consistency(1e9) == 1.0
    unsorted = pbs(3, 1, 1, spec, t=ts[::-1], trials=200_000, seed=1)
    assert np.array_equal(unsorted.p_consistent, res.p_consistent[::-1])


def test_t_visibility_is_the_smallest_t_reaching_p():
    res = pbs(3, 1, 1, "lnkd-disk", trials=200_000, seed=6)
    for p in (0.5, 0.9, 0.99, 0.999):
        t = res.t_visibility(p)
        assert res.consistency(t) >= p
        assert res.consistency(np.nextafter(t, 0)) < p
        lo, hi = res.t_visibility_interval(p)
        assert lo <= t <= hi
    assert res.t_visibility(0.3) == 0.0          # 44% are consistent at once


def test_same_seed_same_result_whatever_the_threads():
    a = pbs(3, 1, 1, "ymmr", t=[0, 5, 50], trials=300_000, seed=8, jobs=1)
    b = pbs(3, 1, 1, "ymmr", t=[0, 5, 50], trials=300_000, seed=8, jobs=2)
    c = pbs(3, 1, 1, "ymmr", t=[0, 5, 50], trials=300_000, seed=9, jobs=2)
    assert np.array_equal(a.p_consistent, b.p_consistent) and a.read_latency == b.read_latency
    assert not np.array_equal(a.p_consistent, c.p_consistent)


def test_percentiles_are_numpys():
    rng = np.random.default_rng(2)
    for x in (rng.random(7), rng.pareto(1.1, 300_001), np.repeat(rng.random(5000), 40), np.ones(1000),
              rng.normal(size=1000)):
        ps = [0, 1, 50, 99, 99.9, 100]
        got = _percentiles(x, ps)
        assert [got[p] for p in ps] == pytest.approx(np.percentile(x, ps).tolist(), rel=1e-13, abs=1e-300)


# ----------------------------------------------------------------------------- the paper's figures

def test_headline_lnkd_ssd_at_zero():
    # "Immediately after write completion, LNKD-SSD had a 97.4% probability of
    # consistent reads" (N=3, R=W=1). Our error at 1M trials is 0.016 points; the
    # paper's figure is rounded to 0.1 and came from about 10,000 writes (its own
    # standard error 0.16 points), so the tolerance is 0.05 + 2 x 0.16 points.
    res = pbs(3, 1, 1, "lnkd-ssd", t=[0.0, 5.0], trials=1_000_000, seed=0)
    assert res.p_consistent[0] == pytest.approx(0.974, abs=0.0005 + 2 * 0.0016)
    assert res.p_consistent[1] > 0.99999          # "over a 99.999% probability ... after five milliseconds"
    assert res.read_latency[50] == pytest.approx(0.489, abs=0.002)     # "median .489 ms"


def test_other_fits_near_the_paper():
    # the same check, looser (the paper's estimates are from about 10,000 writes)
    for name, p0 in PAPER_CONSISTENT_AT_ZERO.items():
        res = pbs(3, 1, 1, name, t=0.0, trials=300_000, seed=2)
        assert res.p_consistent[0] == pytest.approx(p0, abs=0.01), name
    disk = pbs(3, 1, 1, "lnkd-disk", t=10.0, trials=300_000, seed=2)
    assert disk.p_consistent[0] == pytest.approx(0.925, abs=0.01)      # "10 ms later, only a 92.5%"


def test_t_visibility_table_has_ours_beside_the_papers():
    df = t_visibility_table(rs=(1, 2), ws=(1,), fits=["lnkd-ssd", "wan"], trials=100_000)
    assert list(df["latency"]) == ["lnkd-ssd", "lnkd-ssd", "wan", "wan"]
    assert list(df["r"]) == [1, 2, 1, 2] and set(df["w"]) == {1}
    for rec in df.to_dict("records"):
        paper = PAPER_T_VISIBILITY[(rec["latency"], rec["r"], rec["w"])]
        assert (rec["paper_read_p999_ms"], rec["paper_write_p999_ms"], rec["paper_t_ms"]) == paper
        assert rec["read_p999_ms"] == pytest.approx(paper[0], rel=0.1)
        assert rec["write_p999_ms"] == pytest.approx(paper[1], rel=0.1)
        assert rec["t_lo_ms"] <= rec["t_ms"] <= rec["t_hi_ms"]
    assert df["paper_p_consistent_t0"].tolist()[0] == 0.974 and math.isnan(df["paper_p_consistent_t0"][1])
    assert df["t_ms"].tolist()[1] == 0.0                    # LNKD-SSD R=2 W=1: 99.9% at t = 0


# ----------------------------------------------------------------------------- latency models

def test_numpy_samplers_have_their_distributions():
    rng = np.random.default_rng(0)
    n = 400_000
    assert Exponential(mean=2.0).draw(n, rng).mean() == pytest.approx(2.0, rel=0.01)
    assert Exponential(rate=0.5).mean == 2.0
    assert np.all(Constant(1.5).draw(5, rng) == 1.5)
    assert np.median(LogNormal(3.0, 1.0).draw(n, rng)) == pytest.approx(3.0, rel=0.01)
    x = Pareto(2.0, 3.0).draw(n, rng)
    assert x.min() >= 2.0 and np.mean(x > 4.0) == pytest.approx(0.125, abs=0.003)
    mix = Mixture([(0.25, Constant(1.0)), (0.75, Constant(2.0))])
    assert np.mean(mix.draw(n, rng) == 1.0) == pytest.approx(0.25, abs=0.004)


@pytest.mark.parametrize("spec", ["lnkd-ssd", "lnkd-disk", "ymmr", "lognormal:median=2ms,sigma=0.7",
                                  "pareto:xm=1ms,alpha=0.05", "mixed"])
def test_cython_sampler_matches_the_numpy_one(spec, tmp_path):
    if spec == "mixed":
        path = tmp_path / "d.txt"
        path.write_text("1 2 3\n4, 5 # comment\n")
        model = LatencyModel(W=Empirical.from_file(path), A=Constant(0.5),
                             R=Mixture([(0.3, Exponential(mean=1.0)), (0.5, Pareto(1.0, 2.0)),
                                        (0.2, LogNormal(1.0, 0.3))]), S=Exponential(mean=0.2))
    else:
        model = parse_latency(spec)
    n = 200_000
    _, draws = _simulate(model, 1, 1, 1, n, seed=1, keep_draws=True)
    rng = np.random.default_rng(1)
    for k, leg in enumerate("WARS"):
        ours, theirs = draws[:, k], model.sample(leg, n, rng)
        for q in (0.1, 0.5, 0.9, 0.99):
            cut = np.quantile(theirs, q)
            # the share below the other sampler's quantile: binomial, both samples noisy
            tol = 5 * math.sqrt(2 * q * (1 - q) / n) + 1e-12
            assert np.mean(ours <= cut) == pytest.approx(np.mean(theirs <= cut), abs=tol), (spec, leg, q)


def test_ziggurats_follow_the_exact_laws():
    # 20 equally likely bins under the exact CDF; chi-square with 19 df, 99.99% point ~ 50
    n = 1_000_000
    edges = -np.log(1 - np.linspace(0, 1, 21)[1:-1])
    counts = np.bincount(np.searchsorted(edges, _pbs.exponential_draws(n, 3)), minlength=20)
    assert ((counts - n / 20) ** 2 / (n / 20)).sum() < 50
    for alpha in (0.5, 1.51, 3.8, 10.0):
        edges = (1 - np.linspace(0, 1, 21)[1:-1]) ** (-1 / alpha)
        x = _pbs.pareto_draws(n, alpha, 4)
        assert x.min() >= 1.0
        counts = np.bincount(np.searchsorted(edges, x), minlength=20)
        assert ((counts - n / 20) ** 2 / (n / 20)).sum() < 50, alpha
        assert np.mean(x > 1000 ** (1 / alpha)) == pytest.approx(1e-3, abs=2e-4)     # the tail beyond R


def test_wan_puts_one_replica_near_each_coordinator():
    model = WanModel(LatencyModel(Constant(1.0)), delay=75.0)
    W, A, R, S = model.sample_wars(1000, 3, np.random.default_rng(0))
    assert np.all((W == 1.0).sum(axis=1) == 1) and np.array_equal(W, A)
    assert np.all((R == 1.0).sum(axis=1) == 1) and np.array_equal(R, S)
    assert 0.25 < np.mean(np.argmin(W, axis=1) == np.argmin(R, axis=1)) < 0.42   # same data centre: 1/3
    _, draws = _simulate(model, 3, 1, 1, 1000, seed=0, keep_draws=True)
    Wc, Ac, Rc, Sc = split_draws(draws, 3)
    assert np.all((Wc == 1.0).sum(axis=1) == 1) and np.array_equal(Wc, Ac) and np.array_equal(Rc, Sc)
    assert set(np.unique(Rc)) == {1.0, 76.0}
    marginal = model.sample("R", 30_000, np.random.default_rng(1))
    assert np.mean(marginal == 76.0) == pytest.approx(2 / 3, abs=0.015)


def test_parse_latency_spellings(tmp_path):
    assert parse_duration("250us") == 0.25 and parse_duration("2s") == 2000.0 and parse_duration("3") == 3.0
    assert parse_latency("exp:2ms").leg("W").mean == 2.0
    assert parse_latency("exp:rate=0.5").leg("S").mean == 2.0
    assert parse_latency("const:1ms").leg("A").value == 1.0
    assert parse_latency("pareto:xm=1ms,alpha=2").leg("R").alpha == 2.0
    assert parse_latency("pareto:xm=500us:alpha=2").leg("R").xm == 0.5
    ln = parse_latency("lognormal:median=1ms,sigma=1").leg("W")
    assert (ln.median, ln.sigma) == (1.0, 1.0)
    legs = parse_latency("W=exp:mean=10ms;AR=const:1ms;S=pareto:xm=1,alpha=3").legs
    assert legs["W"].mean == 10.0 and legs["A"].value == legs["R"].value == 1.0 and legs["S"].alpha == 3.0
    for name in ("lnkd-ssd", "LNKD-DISK", "ymmr", "wan"):
        assert parse_latency(name).name == name.lower()
    assert parse_latency("wan").dc_delay == 75.0
    path = tmp_path / "lat.txt"
    path.write_text("# one-way delays\n0.5 1.5\n2.5,3.5\n")
    emp = parse_latency(f"file:{path}")
    assert set(emp.sample("W", 1000, np.random.default_rng(0))) == {0.5, 1.5, 2.5, 3.5}
    assert parse_latency(np.array([1.0, 2.0])).leg("S").values.tolist() == [1.0, 2.0]
    assert split_specs("lnkd-ssd,lognormal:median=1ms,sigma=1,exp:mean=2ms") == \
        ["lnkd-ssd", "lognormal:median=1ms,sigma=1", "exp:mean=2ms"]


# ----------------------------------------------------------------------------- bad input

def test_bad_quorums_and_t_are_one_line_value_errors():
    one_line_value_error(pbs, 3, 0, 1, match="r (read quorum)")
    one_line_value_error(pbs, 3, 4, 1, match="must be in 1..3")
    one_line_value_error(pbs, 3, 1, 0, match="w (write quorum)")
    one_line_value_error(pbs, 3, 1, 4, match="must be in 1..3")
    one_line_value_error(pbs, 0, 1, 1, match="n (replicas)")
    one_line_value_error(pbs, 3, 1.5, 1, match="whole number")
    one_line_value_error(pbs, 3, 1, 1, t=-1.0, match="t must be finite and >= 0")
    one_line_value_error(pbs, 3, 1, 1, t=[0.0, float("nan")], match="t must be")
    one_line_value_error(pbs, 3, 1, 1, trials=0, match="trials")
    one_line_value_error(k_staleness, 3, 1, 4, match="w (write quorum)")
    one_line_value_error(k_staleness, 3, 1, 1, 0, match="k (versions)")
    one_line_value_error(wars, np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 2)), r=1, w=1)


@pytest.mark.parametrize("spec,match", [
    ("lnkd-foo", "unknown latency 'lnkd-foo'"),
    ("exp:mean=-1ms", "exp mean must be finite and >= 0"),
    ("exp:mean=1ms,rate=2", "one of them"),
    ("pareto:xm=1ms", "needs alpha="),
    ("pareto:xm=1ms,alpha=0", "pareto alpha must be > 0"),
    ("lognormal:median=1ms,sigma=x", "lognormal sigma must be a number"),
    ("const:1xs", "bad const value '1xs'"),
    ("const:1ms,mean=2", "const takes value="),
    ("file:/nonexistent/delays.txt", "cannot read latency file"),
    ("W=exp:mean=1ms", "has no distribution"),
    ("W=lnkd-disk;ARS=const:1ms", "plain distribution"),
    ("", "empty latency spec"),
])
def test_bad_latency_specs(spec, match):
    one_line_value_error(parse_latency, spec, match=match)


def test_bad_files_and_legs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    one_line_value_error(parse_latency, f"file:{empty}", match="holds no numbers")
    bad = tmp_path / "bad.txt"
    bad.write_text("1\n2 x\n")
    one_line_value_error(parse_latency, f"file:{bad}", match="line 2: 'x' is not a number")
    neg = tmp_path / "neg.txt"
    neg.write_text("1 -2\n")
    one_line_value_error(parse_latency, f"file:{neg}", match="must be >= 0")
    one_line_value_error(fit("lnkd-ssd").sample, "Q", 3, np.random.default_rng(), match="unknown leg")
    one_line_value_error(fit, "nope", match="unknown fit")


# ----------------------------------------------------------------------------- the CLI entry

def test_run_pbs_writes_results_and_plot(tmp_path):
    out = run_pbs(r="1,2", w="1", latency="lnkd-ssd,exp:mean=1ms", trials="2e4",
                  output=str(tmp_path / "r.json"), plot=str(tmp_path / "p.png"))
    assert [p.name for p in out.written] == ["r.json", "p.png"]
    assert (tmp_path / "r.json").stat().st_size > 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert len(out.data) == 4 and "lnkd-ssd" in out.text and "97.4%" in out.text
    from tradeoff.harness.results import bench_info, read_suite

    infos = [bench_info(b) for b in read_suite(tmp_path / "r.json").get_benchmarks()]
    assert {i["params"]["latency"] for i in infos} == {"lnkd-ssd", "exp:mean=1ms"}
    assert infos[0]["headline"] == ["p_consistent_t0", "t_ms"] and infos[0]["config"]["trials"] == 20000


@pytest.mark.parametrize("kwargs,match", [
    ({"r": "4"}, "--r 4 is more than the 3 replicas"),
    ({"w": "1,x"}, "--w takes whole numbers"),
    ({"latency": "lnkd-ssd,nope"}, "unknown latency 'nope'"),
    ({"trials": "lots"}, "--trials"),
    ({"n": 0}, "--n (replicas)"),
    ({"t_max": "-5ms"}, "--t-max must be finite and >= 0"),
    ({"t_max": "0ms"}, "--t-max must be > 0"),
    ({"plot": "p.pdf"}, "plot file must end in .png or .svg"),
])
def test_run_pbs_bad_input_is_one_line(kwargs, match, tmp_path):
    with pytest.raises(UserError) as info:
        run_pbs(**{"trials": "1000", "output": str(tmp_path / "r.json"), **kwargs})
    assert match in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "r.json").exists()
