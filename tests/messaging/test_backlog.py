"""Backlog simulator (tradeoff.messaging.backlog): against closed forms of queueing
theory (M/M/c, M/M/1, M/D/1 and M/G/1), the fluid approximation of a spike, the
hot-partition trade-off, determinism, conservation and the simulator's own
invariant checks on small random configurations."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.messaging import _backlog, backlog
from tradeoff.messaging.assignors import range_assign
from tradeoff.messaging.backlog import (fluid_spike, parse_profile, parse_service, partition_weights,
                                        range_owners, simulate)


@pytest.fixture(autouse=True)
def _checked(monkeypatch):
    """Every simulate() call in these tests asserts the invariants at the end."""
    monkeypatch.setattr(backlog, "_CHECK", True)


# ---------------------------------------------------------------- closed forms

def erlang_c(c, a):
    """Probability of waiting in M/M/c with offered load a = lambda / mu (Erlang's C
    formula; Kleinrock, Queueing Systems vol. 1, 1975, sec. 3.5)."""
    rho = a / c
    term = 1.0
    head = 0.0
    for k in range(c):
        head += term
        term *= a / (k + 1)          # term is a^(k+1) / (k+1)!
    tail = term / (1.0 - rho)        # a^c / c! / (1 - rho)
    return tail / (head + tail)


def mmc_number(c, lam, mu):
    """Mean number in M/M/c: Lq + a with Lq = C(c, a) rho / (1 - rho) (Kleinrock 1975,
    sec. 3.5); the mean latency is this over lam (Little, Operations Research 9(3), 1961)."""
    a = lam / mu
    rho = a / c
    return erlang_c(c, a) * rho / (1.0 - rho) + a


def mg1_latency(lam, mean, scv):
    """Mean time in M/G/1: the Pollaczek-Khinchine mean wait lam E[S^2] / (2 (1 - rho))
    plus the mean service (Kleinrock 1975, ch. 5), E[S^2] = mean^2 (1 + scv)."""
    rho = lam * mean
    return lam * mean * mean * (1.0 + scv) / (2.0 * (1.0 - rho)) + mean


def close(x, y, rel):
    return abs(x - y) <= rel * abs(y)


def test_erlang_c_helper():
    # textbook values: C(1, a) = a; C(2, 1) = 1/3
    assert math.isclose(erlang_c(1, 0.7), 0.7)
    assert math.isclose(erlang_c(2, 1.0), 1.0 / 3.0)


@pytest.mark.parametrize("c,rho", [(1, 0.7), (4, 0.8), (8, 0.6)])
def test_queue_broker_is_mmc(c, rho):
    mu = 1.0
    lam = rho * c * mu
    r = simulate("queue", rate=lam, profile="constant", consumers=c, service="exp", service_mean=1.0,
                 duration=2_000_000 / (lam + 1), sample_every=10_000, seed=11)
    L = mmc_number(c, lam, mu)
    assert close(r.mean_backlog, L, 0.03), (r.mean_backlog, L)
    assert close(r.latency_mean, L / lam, 0.03), (r.latency_mean, L / lam)
    assert close(r.utilization, rho, 0.01)
    assert close(r.offered, lam, 0.01)
    assert r.idle_consumers == 0


def test_mm1_latency_percentiles():
    # M/M/1 time in system is exponential with rate mu - lambda
    lam, mu = 0.7, 1.0
    r = simulate("queue", rate=lam, profile="constant", consumers=1, service_mean=1.0,
                 duration=1_500_000, sample_every=10_000, seed=5)
    for q, want in [(50, math.log(2) / (mu - lam)), (99, math.log(100) / (mu - lam))]:
        got = r.percentile(q)
        assert close(got, want, 0.03), (q, got, want)
    assert r.latency_p50 == r.percentile(50) and r.latency_p99 == r.percentile(99)
    assert r.latency_p99 <= r.latency_max


def test_log_broker_uniform_keys_is_n_mm1_queues():
    # P = N partitions with uniform keys: each consumer is an M/M/1 queue fed by its
    # partition's share of the messages
    n, lam, mu = 4, 3.0, 1.0
    r = simulate("log", rate=lam, profile="constant", consumers=n, partitions=n, keys=100_000,
                 service_mean=1.0, duration=1_000_000, sample_every=10_000, seed=2)
    share = r.per_partition["share"].to_numpy()
    assert np.allclose(share, 0.25, atol=0.01)
    rho = lam * share / mu
    L = float(np.sum(rho / (1 - rho)))
    W = float(np.sum(share / (mu - lam * share)))
    assert close(r.mean_backlog, L, 0.03), (r.mean_backlog, L)
    assert close(r.latency_mean, W, 0.03), (r.latency_mean, W)
    assert np.allclose(r.per_consumer["utilization"], rho, rtol=0.02)
    # each partition's measured share of the arrivals is its keys' weight
    got = r.per_partition["arrived"].to_numpy() / r.arrived
    assert np.allclose(got, share, atol=0.002)


@pytest.mark.parametrize("broker", ["queue", "log"])
def test_const_service_is_md1(broker):
    lam, mean = 0.35, 2.0        # rho 0.7
    r = simulate(broker, rate=lam, profile="constant", consumers=1, partitions=1, service="const",
                 service_mean=mean, duration=4_000_000, sample_every=10_000, seed=8)
    W = mg1_latency(lam, mean, 0.0)       # 2 + 0.35 x 4 / (2 x 0.3) = 4.333
    assert close(r.latency_mean, W, 0.02), (r.latency_mean, W)
    assert r.percentile(0) == pytest.approx(mean, rel=1e-3)      # nobody is faster than the service


def test_lognormal_service_is_mg1():
    lam, sigma = 0.6, 0.5
    r = simulate("queue", rate=lam, profile="constant", consumers=1, service=f"lognormal:sigma={sigma}",
                 service_mean=1.0, duration=3_000_000, sample_every=10_000, seed=4)
    W = mg1_latency(lam, 1.0, math.expm1(sigma * sigma))
    assert close(r.latency_mean, W, 0.03), (r.latency_mean, W)
    assert close(r.utilization, lam, 0.01)


def test_littles_law():
    r = simulate("log", rate=90, consumers=3, partitions=7, skew=0.5, keys=500, service_mean=0.02,
                 profile="diurnal:amplitude=0.8,period=50", duration=5000, seed=9)
    # L = lambda W over a long run that ends nearly empty
    assert close(r.mean_backlog, r.offered * r.latency_mean, 0.02)


# ---------------------------------------------------------------- the arrival process

def test_spike_and_diurnal_arrival_rates():
    r = simulate("queue", rate=200, profile="spike:factor=4,start=100,duration=50", consumers=100,
                 service_mean=0.01, duration=300, sample_every=1, seed=1)
    s = r.series.set_index("t")
    during = s.loc[150, "arrived"] - s.loc[100, "arrived"]
    outside = s.loc[300, "arrived"] - during
    assert close(during, 200 * 4 * 50, 0.03)
    assert close(outside, 200 * 250, 0.02)
    # diurnal: rate x (1 + a sin): the rising half-period gets (1 + 2a/pi) / (1 - 2a/pi) times
    # the arrivals of the falling half
    a, period = 0.5, 100
    r = simulate("queue", rate=200, profile=f"diurnal:amplitude={a},period={period}", consumers=100,
                 service_mean=0.01, duration=20 * period, sample_every=period / 2, seed=3)
    arrived = np.diff(r.series["arrived"].to_numpy())
    high, low = arrived[0::2].sum(), arrived[1::2].sum()
    assert close(high / low, (1 + 2 * a / math.pi) / (1 - 2 * a / math.pi), 0.03)
    assert close(r.offered, 200, 0.01)


# ---------------------------------------------------------------- the fluid approximation

@pytest.mark.parametrize("seed", [1, 2])
def test_spike_matches_fluid_queue(seed):
    # 4 consumers at 30 ms: capacity 133.3/s; base 100/s, spike x5 for 60 s:
    # peak (500 - 133.3) x 60 = 22000, drain 22000 / 33.3 = 660 s
    r = simulate("queue", rate=100, consumers=4, service_mean=0.03,
                 profile="spike:factor=5,start=60,duration=60", duration=1200, seed=seed)
    assert r.fluid_peak == pytest.approx(22000)
    assert r.fluid_drain == pytest.approx(660)
    assert close(r.peak_backlog, r.fluid_peak, 0.10), (r.peak_backlog, r.fluid_peak)
    assert close(r.drain_time, r.fluid_drain, 0.15), (r.drain_time, r.fluid_drain)
    assert r.spike_end <= r.peak_time <= r.spike_end + 5
    # the drain is when the backlog first gets back to its level before the spike
    s = r.series
    after = s[(s.t >= r.spike_end) & (s.t < r.spike_end + r.drain_time - 1)]
    assert (after.backlog > r.drain_target).all()


def test_spike_matches_fluid_log():
    r = simulate("log", rate=100, consumers=4, partitions=4, keys=100_000, service_mean=0.03,
                 profile="spike:factor=4,start=30,duration=60", duration=1200, seed=7)
    # per consumer: its share of the rate against 33.3/s each
    assert close(r.peak_backlog, r.fluid_peak, 0.10), (r.peak_backlog, r.fluid_peak)
    assert close(r.drain_time, r.fluid_drain, 0.15), (r.drain_time, r.fluid_drain)


def test_drain_nan_when_not_within_run_and_zero_when_absorbed():
    r = simulate("queue", rate=100, consumers=4, service_mean=0.03,
                 profile="spike:factor=5,start=10,duration=20", duration=60, seed=1)
    assert math.isnan(r.drain_time) and r.backlog_end > 0
    # a spike the consumers absorb: 4 x 33.3 > 1.2 x 100
    r = simulate("queue", rate=100, consumers=4, service_mean=0.03, drain_threshold=50,
                 profile="spike:factor=1.2,start=10,duration=20", duration=60, seed=1)
    assert r.drain_time == 0.0 and r.drain_target == 50
    r = simulate("queue", rate=100, consumers=4, service_mean=0.03, profile="constant", duration=60)
    assert math.isnan(r.drain_time) and math.isnan(r.fluid_peak) and math.isnan(r.pre_spike_backlog)
    # the spike starts after the run ends
    r = simulate("queue", rate=10, profile="spike:start=100,duration=5", duration=50)
    assert math.isnan(r.drain_time) and math.isnan(r.pre_spike_backlog)


def test_fluid_helper():
    assert fluid_spike(100, 3, 30, [150], [1.0]) == (4500.0, 90.0)
    assert fluid_spike(100, 1.2, 30, [150], [1.0]) == (0.0, 0.0)
    assert fluid_spike(200, 3, 30, [150], [1.0]) == (math.inf, math.inf)
    # two groups: peaks add, the slower drain wins
    peak, drain = fluid_spike(100, 2, 10, [100, 100], [0.8, 0.2])
    assert peak == pytest.approx((160 - 100) * 10) and drain == pytest.approx(600 / 20)


# ---------------------------------------------------------------- the hot-partition trade-off

def test_skewed_keys_hurt_the_log_broker_not_the_queue():
    kw = dict(rate=80, consumers=4, partitions=8, keys=1000, skew=1.2, service_mean=0.03,
              profile="constant", duration=600, seed=3)
    log = simulate("log", **kw)
    queue = simulate("queue", **kw)
    # same messages at the same times (common random numbers)
    assert log.arrived == queue.arrived
    assert (log.series["arrived"] == queue.series["arrived"]).all()
    assert log.mean_backlog > 3 * queue.mean_backlog, (log.mean_backlog, queue.mean_backlog)
    assert log.latency_p99 > 3 * queue.latency_p99
    # the consumer of the hot partition is the busy one
    shares = log.per_partition.groupby("owner")["share"].sum()
    hot = int(shares.idxmax())
    util = log.per_consumer["utilization"]
    assert util[hot] == util.max() and util.min() < 0.5 * util[hot]
    hot_partition = int(log.per_partition["share"].idxmax())
    assert log.per_partition["peak_lag"].idxmax() == hot_partition
    # uniform keys: the two brokers are close
    kw["skew"] = 0.0
    kw["keys"] = 100_000
    log_u, queue_u = simulate("log", **kw), simulate("queue", **kw)
    assert log_u.mean_backlog < 3 * queue_u.mean_backlog


def test_idle_consumers_beyond_partitions():
    r = simulate("log", rate=20, consumers=5, partitions=2, service_mean=0.03, profile="constant",
                 duration=100, seed=1)
    assert r.idle_consumers == 3
    pc = r.per_consumer
    assert pc["partitions"].tolist() == [1, 1, 0, 0, 0]
    assert (pc.loc[2:, "utilization"] == 0).all() and (pc.loc[2:, "served"] == 0).all()
    assert r.capacity == pytest.approx(2 / 0.03)
    q = simulate("queue", rate=20, consumers=5, service_mean=0.03, profile="constant", duration=100, seed=1)
    assert q.idle_consumers == 0 and q.partitions is None and q.per_partition.empty


@pytest.mark.parametrize("P,N", [(7, 3), (3, 7), (12, 4), (1, 1), (10, 10), (5, 2)])
def test_range_owners_match_range_assignor(P, N):
    members = [f"consumer-{i:03d}" for i in range(N)]
    a = range_assign(members, P)
    want = [-1] * P
    for i, m in enumerate(members):
        for p in a[m]:
            want[p] = i
    assert range_owners(P, N).tolist() == want


def test_partition_weights():
    w = partition_weights(10, 3, 1.0)
    parts = _backlog.key_partitions(10, 3)
    pmf = 1.0 / np.arange(1, 11)
    pmf /= pmf.sum()
    assert np.allclose(w, [pmf[parts == p].sum() for p in range(3)])
    assert _backlog.key_partitions(5, 1).tolist() == [0] * 5
    assert (_backlog.key_partitions(1000, 7) == _backlog.key_partitions(1000, 7)).all()


# ---------------------------------------------------------------- determinism and conservation

def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    for k in ("elapsed", "events_per_s"):
        da.pop(k)
        db.pop(k)
    assert da.keys() == db.keys()
    for k in da:
        x, y = da[k], db[k]
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), k
    assert a.series.equals(b.series)
    assert a.per_consumer.equals(b.per_consumer)
    assert a.per_partition.equals(b.per_partition)
    assert (a.latency_hist[0] == b.latency_hist[0]).all()


@pytest.mark.parametrize("broker", ["log", "queue"])
def test_same_seed_same_run(broker):
    kw = dict(rate=150, consumers=3, partitions=5, skew=0.8, keys=300, service="lognormal:sigma=1",
              service_mean=0.02, profile="spike:factor=3,start=20,duration=20", duration=200)
    a, b = simulate(broker, seed=42, **kw), simulate(broker, seed=42, **kw)
    _same(a, b)
    c = simulate(broker, seed=43, **kw)
    assert c.arrived != a.arrived or not c.series.equals(a.series)


def test_messages_mode_serves_everything():
    r = simulate("log", rate=50, consumers=2, partitions=4, service_mean=0.03, duration=None,
                 messages=5000, profile="spike:factor=3,start=10,duration=20", seed=6)
    assert r.arrived == r.served == 5000 and r.backlog_end == 0
    assert int(r.latency_hist[0].sum()) == 5000
    assert r.horizon > r.series["t"].iloc[-1] - 1e-9
    # both limits: arrivals stop at 1000, the run at 200 s
    r = simulate("queue", rate=50, consumers=2, service_mean=0.03, duration=200, messages=1000,
                 profile="constant", seed=6)
    assert r.arrived == 1000 and r.horizon == 200 and r.backlog_end == 0


@pytest.mark.parametrize("duration,messages", [(100, None), (None, 4000)])
def test_small_chunks_progress_and_same_result(monkeypatch, duration, messages):
    """Run in stretches of 500 events (invariants checked after each): the same
    run as in one stretch, with progress reported in order up to 1."""
    kw = dict(rate=60, consumers=3, partitions=6, skew=1.0, keys=200, service_mean=0.04,
              profile="spike:factor=3,start=10,duration=20", duration=duration, messages=messages,
              seed=12)
    whole = simulate("log", **kw)
    monkeypatch.setattr(backlog, "_CHUNK", 500)
    seen = []
    parts = simulate("log", progress=seen.append, **kw)
    _same(whole, parts)
    assert len(seen) > 10 and seen[-1] == 1.0 and seen == sorted(seen)
    assert all(0 <= f <= 1 for f in seen)


def _conserved(r):
    assert r.arrived == r.served + r.backlog_end
    s = r.series
    assert (s["backlog"] == s["arrived"] - s["served"]).all()
    assert (s["in_service"] <= r.consumers).all() and (s["waiting"] >= 0).all()
    assert int(r.per_consumer["served"].sum()) == r.served
    assert int(r.latency_hist[0].sum()) == r.served
    assert r.peak_backlog >= s["backlog"].max()
    if r.broker == "log":
        pp = r.per_partition
        assert int(pp["arrived"].sum()) == r.arrived
        assert int(pp["lag_end"].sum()) == r.backlog_end
        assert (s["max_lag"] <= s["backlog"]).all()
        assert (pp["peak_lag"] >= pp["lag_end"]).all()
    assert 0 <= r.utilization <= 1 + 1e-12


configs = st.fixed_dictionaries({
    "broker": st.sampled_from(["log", "queue"]),
    "rate": st.floats(0.5, 200),
    "consumers": st.integers(1, 6),
    "partitions": st.integers(1, 10),
    "keys": st.integers(1, 50),
    "skew": st.sampled_from([0.0, 0.7, 1.5]),
    "service": st.sampled_from(["exp", "const", "lognormal:sigma=1.5"]),
    "service_mean": st.floats(0.001, 0.5),
    "profile": st.sampled_from(["constant", "spike:factor=4,start=2,duration=3",
                                "spike:factor=0,start=1,duration=2", "diurnal:amplitude=1,period=4"]),
    "duration": st.floats(0.5, 20),
    "sample_every": st.floats(0.1, 3),
    "seed": st.integers(0, 2**64 - 1),
})


@settings(max_examples=60, deadline=None)
@given(configs, st.one_of(st.none(), st.integers(1, 300)))
def test_random_configs_conserve(cfg, messages):
    r = simulate(messages=messages, **cfg)         # _CHECK is on: _check() at the end
    _conserved(r)
    if messages is not None:
        assert r.arrived <= messages


@settings(max_examples=40, deadline=None)
@given(configs, st.integers(1, 40))
def test_check_between_small_steps(cfg, step):
    """Drive the core directly, a few events at a time, checking the invariants
    after every stretch."""
    prof = parse_profile(cfg["profile"])
    svc = parse_service(cfg["service"])
    n = cfg["consumers"]
    if cfg["broker"] == "log":
        owner = range_owners(cfg["partitions"], n)
        weights = partition_weights(cfg["keys"], cfg["partitions"], cfg["skew"])
    else:
        owner, weights = None, None
    sim = _backlog.Backlog(_backlog.BROKERS[cfg["broker"]], n, owner, weights, cfg["seed"])
    sim.set_profile(_backlog.PROFILES[prof.kind], cfg["rate"], factor=prof.factor, start=prof.start,
                    duration=prof.duration, amplitude=prof.amplitude, period=prof.period)
    sim.set_service(_backlog.SERVICES[svc.kind], cfg["service_mean"], sigma=svc.sigma)
    sim.set_run(cfg["duration"], 0, cfg["sample_every"], 0)
    sim.start()
    sim._check()
    for _ in range(10_000):
        done = sim.run(step)
        sim._check()
        assert sim.arrived == sim.served + sim.backlog
        if done:
            break
    assert sim.done and sim.now == cfg["duration"]


def test_core_rejects_misuse():
    sim = _backlog.Backlog(_backlog.BROKERS["queue"], 2, None, None, 0)
    with pytest.raises(RuntimeError):
        sim.run(10)
    with pytest.raises(RuntimeError):
        sim.start()
    with pytest.raises(ValueError):
        _backlog.Backlog(_backlog.BROKERS["log"], 2, [0, 5], [1.0, 1.0], 0)
    with pytest.raises(ValueError):
        _backlog.Backlog(_backlog.BROKERS["log"], 2, [0, 1], [0.0, 0.0], 0)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs,match", [
    ({"profile": "spik"}, "unknown rate profile 'spik'"),
    ({"profile": "spike:factor=abc"}, "factor='abc' is not a number"),
    ({"profile": "spike:factor=-1"}, "factor must be >= 0"),
    ({"profile": "spike:duration=0"}, "duration must be > 0"),
    ({"profile": "spike:start=soon"}, "start"),
    ({"profile": "spike:factor"}, "bad parameter 'factor'"),
    ({"profile": "spike:factr=5"}, "unknown parameter 'factr'"),
    ({"profile": "spike:factor=2,factor=3"}, "given twice"),
    ({"profile": "diurnal:amplitude=2"}, "amplitude must be in"),
    ({"profile": "diurnal:period=-5"}, "period"),
    ({"profile": "constant:rate=5"}, "it takes no parameters"),
    ({"profile": 5}, "rate profile is a string"),
    ({"service": "weibull"}, "unknown service distribution 'weibull'"),
    ({"service": "lognormal:sigma=-1"}, "sigma must be in"),
    ({"service": "exp:mean=3"}, "unknown parameter 'mean'"),
    ({"broker": "kafka"}, "unknown broker 'kafka'"),
    ({"consumers": 0}, "consumers must be in"),
    ({"consumers": 2.5}, "consumers must be a whole number"),
    ({"partitions": 0}, "partitions must be in"),
    ({"rate": -1}, "rate must be finite and > 0"),
    ({"rate": "fast"}, "rate must be a number"),
    ({"keys": 0}, "keys must be in"),
    ({"skew": -1}, "skew must be finite and >= 0"),
    ({"service_mean": 0}, "service_mean must be > 0"),
    ({"sample_every": 0}, "sample_every must be > 0"),
    ({"sample_every": 1e-9}, "samples"),
    ({"duration": None}, "give a duration or a message count"),
    ({"duration": "forever"}, "duration"),
    ({"messages": 0}, "messages must be in"),
    ({"seed": -1}, "seed must be an int"),
    ({"drain_threshold": -1}, "drain_threshold must be in"),
])
def test_bad_arguments_raise_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as exc:
        simulate(**kwargs)
    assert "\n" not in str(exc.value)


def test_specs_parse():
    p = parse_profile("spike:factor=5,start=1m,duration=30s")
    assert (p.kind, p.factor, p.start, p.duration, p.end) == ("spike", 5.0, 60.0, 30.0, 90.0)
    assert parse_profile(p) is p
    assert parse_profile("constant").kind == "constant"
    d = parse_profile("diurnal:amplitude=0.25,period=2h")
    assert (d.amplitude, d.period) == (0.25, 7200.0)
    assert np.allclose(d.rate_at(10, [0, 1800, 5400]), [10, 12.5, 7.5])
    assert parse_service("const").scv() == 0 and parse_service("exp").scv() == 1
    assert parse_service("lognormal:sigma=1").scv() == pytest.approx(math.e - 1)


# ---------------------------------------------------------------- plot

def test_plot_writes_atomically(tmp_path):
    r = simulate("log", rate=100, consumers=4, partitions=8, service_mean=0.03,
                 profile="spike:factor=3,start=20,duration=20", duration=300, seed=1)
    path = tmp_path / "backlog.png"
    backlog.plot(r, path)
    assert path.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["backlog.png"]
    q = simulate("queue", rate=10, profile="constant", duration=20)
    backlog.plot(q, tmp_path / "q.svg")
    assert (tmp_path / "q.svg").read_text().startswith("<?xml")
