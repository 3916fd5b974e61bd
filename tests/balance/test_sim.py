"""The event simulator of tradeoff.balance against a pure-Python model and against
queueing theory.

Model: ``ReferenceSim`` below replays a small scenario (explicit arrival times,
service works in order, clients, failures, health checks, outlier detection,
error timeouts) event by event in plain Python, driving a *fresh* balancer of
the same class through its Python API. Hypothesis draws the scenario; the
simulator must give every request the same server, outcome and latency, the
same outage figures, and pass its ``_check()`` between chunks.

Theory, where it is exact (tolerances are about 3 standard errors of the run):
n M/M/1 queues under random routing, M/D/1 and Pollaczek-Khinchine, processor
sharing's insensitivity, Erlang-k/M/1 under round robin, a batch-Poisson
queue, Mitzenmacher's supermarket limit for the power of two choices, Little's
law; and the failure-detection arithmetic of health checks and ejection.
"""
import math
from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck as HypothesisHealthCheck
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.balance import simulator as simmod
from tradeoff.balance._base import HealthCheck, NoServerAvailable, OutlierDetector
from tradeoff.balance._impl import (LeastConnections, LeastResponseTime, PowerOfTwoChoices,
                                    Random, RoundRobin, WeightedRoundRobin)
from tradeoff.balance.simulator import parse_service, simulate

INF = math.inf
OK, ERROR, DROPPED, REJECTED = 0, 1, 2, 3


@pytest.fixture(autouse=True)
def check_invariants(monkeypatch):
    """Every simulation in these tests runs the simulator's _check() between chunks."""
    monkeypatch.setattr(simmod, "_CHECK", True)


# ---------------------------------------------------------------- the model


class ReferenceSim:
    """The simulation written the obvious way, in time units of 1 second.

    Sources and their tie order at one instant, as documented in _sim.pyx:
    failure schedule, ejection releases, timed-out errors, departures by server,
    probes by server, the arrival. FCFS: a job departs ``work / speed`` after it
    reaches the head of its queue. PS: every job at a server keeps its remaining
    work, reduced by ``dt * speed / k`` whenever time passes; the smallest
    remaining work (earliest arrival on ties) leaves next, at
    ``now + remaining * k / speed``. Ejection times are tracked here from
    Envoy's rule (base time x times ejected), the detector itself is the real one.
    """

    def __init__(self, bal, speeds, ps, arrivals, works, clients, failures, health, outlier,
                 err_timeout):
        self.bal, self.speeds, self.ps = bal, list(speeds), ps
        self.n = n = len(speeds)
        self.arrivals, self.works = [float(x) for x in arrivals], [float(x) for x in works]
        self.clients = [int(c) for c in clients]
        self.requests = len(arrivals)
        self.health, self.outlier, self.err_timeout = health, outlier, err_timeout
        self.q = [[] for _ in range(n)]          # FCFS: [idx, arrival, work]; PS: [idx, arrival, rem]
        self.dep = [INF] * n
        self.ps_last = [0.0] * n
        self.up = [True] * n
        self.errq = deque()
        self.status = [-1] * self.requests
        self.lat = [math.nan] * self.requests
        self.srv = [-1] * self.requests
        self.outstanding = 0
        self.arrived = 0
        self.next_arr = self.arrivals[0]
        ev = []
        for o, (s, down, up) in enumerate(failures):
            ev.append((down, 1, s, o))
            if up != INF:
                ev.append((up, 0, s, o))
        ev.sort(key=lambda e: (e[0], e[1], e[2]))
        self.fails = ev
        self.fpos = 0
        no = len(failures)
        self.detect, self.reinst = [math.nan] * no, [math.nan] * no
        self.out_err, self.out_drop = [0] * no, [0] * no
        self.cur_out, self.phase = [-1] * n, [0] * n
        if health is not None:
            health.bind(n)
            self.probe_t = [health.interval * s / n for s in range(n)]
        else:
            self.probe_t = [INF] * n
        self.pending = [False] * n
        self.sent_at = [0.0] * n
        if outlier is not None:
            outlier.bind(n)
        self.times_ejected = [0] * n
        self.until = {}

    # -- helpers
    def eligible(self, s):
        return self.bal.up[s]

    def elig(self, s, t):
        ph = self.phase[s]
        if ph == 1 and not self.eligible(s):
            self.detect[self.cur_out[s]] = t
            self.phase[s] = 2
        elif ph == 3 and self.eligible(s):
            self.reinst[self.cur_out[s]] = t
            self.phase[s] = 0

    def result(self, s, ok, t):
        if self.outlier is not None and self.outlier.record(s, ok, t):
            self.times_ejected[s] += 1
            self.until[s] = t + self.outlier.base_ejection_time * self.times_ejected[s]
            self.bal.eject(s)
            self.elig(s, t)

    def resolve(self, s, idx, t):
        self.bal.done(s)
        self.outstanding -= 1
        self.result(s, False, t)

    def ps_advance(self, s, t):
        k = len(self.q[s])
        if k:
            for job in self.q[s]:
                job[2] -= (t - self.ps_last[s]) * self.speeds[s] / k
        self.ps_last[s] = t

    def ps_plan(self, s, t):
        if not self.q[s]:
            self.dep[s] = INF
            return
        job = min(self.q[s], key=lambda j: (j[2], j[0]))
        self.dep[s] = t + max(job[2], 0.0) * len(self.q[s]) / self.speeds[s]

    # -- events
    def arrival(self, t):
        idx = self.arrived
        work, client = self.works[idx], self.clients[idx]
        try:
            s = self.bal.pick(client)
        except NoServerAvailable:
            s = -1
        self.arrived += 1
        self.outstanding += 1
        self.srv[idx] = s
        if s < 0:
            self.status[idx] = REJECTED
            self.outstanding -= 1
        elif not self.up[s]:
            self.status[idx] = ERROR
            if self.phase[s] in (1, 2):
                self.out_err[self.cur_out[s]] += 1
            if self.err_timeout <= 0:
                self.resolve(s, idx, t)
            else:
                self.errq.append((t + self.err_timeout, s, idx))
        elif self.ps:
            self.ps_advance(s, t)
            self.q[s].append([idx, t, work])
            self.ps_plan(s, t)
        else:
            if not self.q[s]:
                self.dep[s] = t + work / self.speeds[s]
            self.q[s].append([idx, t, work])
        self.next_arr = self.arrivals[self.arrived] if self.arrived < self.requests else INF

    def departure(self, s, t):
        if self.ps:
            self.ps_advance(s, t)
            job = min(self.q[s], key=lambda j: (j[2], j[0]))
            self.q[s].remove(job)
            self.ps_plan(s, t)
        else:
            job = self.q[s].pop(0)
            self.dep[s] = t + self.q[s][0][2] / self.speeds[s] if self.q[s] else INF
        idx, arrival = job[0], job[1]
        self.lat[idx] = t - arrival
        self.status[idx] = OK
        self.outstanding -= 1
        self.bal.done(s, t - arrival)
        self.result(s, True, t)

    def failure(self, t):
        _, kind, s, o = self.fails[self.fpos]
        self.fpos += 1
        if kind == 0:                      # recovery
            if not self.up[s]:
                self.up[s] = True
                if self.phase[s] in (1, 2):
                    self.phase[s] = 3
                    self.elig(s, t)
        elif self.up[s]:
            self.up[s] = False
            self.cur_out[s] = o
            self.phase[s] = 1
            self.elig(s, t)
            jobs, self.q[s] = self.q[s], []
            self.dep[s] = INF
            self.ps_last[s] = t
            for job in jobs:
                self.status[job[0]] = DROPPED
                self.out_drop[o] += 1
                if self.err_timeout <= 0:
                    self.resolve(s, job[0], t)
                else:
                    self.errq.append((t + self.err_timeout, s, job[0]))

    def release(self, t):
        now = max(min(self.until.values()), t)
        for s in self.outlier.release_due(now):
            del self.until[s]
            self.bal.uneject(s)
            self.elig(s, t)

    def probe(self, s, t):
        h = self.health
        if not self.pending[s]:
            if self.up[s]:
                self.health_change(s, h.observe(s, True), t)
                self.probe_t[s] = t + h.interval
            else:
                self.pending[s] = True
                self.sent_at[s] = t
                self.probe_t[s] = t + h.timeout
        else:
            self.pending[s] = False
            self.health_change(s, h.observe(s, False), t)
            self.probe_t[s] = max(self.sent_at[s] + h.interval, t)

    def health_change(self, s, r, t):
        if r > 0:
            self.bal.mark_up(s)
            self.elig(s, t)
        elif r < 0:
            self.bal.mark_down(s)
            self.elig(s, t)

    def run(self):
        n = self.n
        while True:
            cands = [(self.fails[self.fpos][0] if self.fpos < len(self.fails) else INF, 0),
                     (min(self.until.values()) if self.until else INF, 1),
                     (self.errq[0][0] if self.errq else INF, 2)]
            cands += [(self.dep[s], 3 + s) for s in range(n)]
            cands += [(self.probe_t[s], 3 + n + s) for s in range(n)]
            cands.append((self.next_arr, 3 + 2 * n))
            t, src = min(cands)
            if t == INF:
                break
            if src == 0:
                self.failure(t)
            elif src == 1:
                self.release(t)
            elif src == 2:
                _, s, idx = self.errq.popleft()
                self.resolve(s, idx, t)
            elif src < 3 + n:
                self.departure(src - 3, t)
            elif src < 3 + 2 * n:
                self.probe(src - 3 - n, t)
            else:
                self.arrival(t)
            if self.arrived >= self.requests and self.outstanding == 0:
                break
        return self


POLICY_CLASSES = {"rr": RoundRobin, "wrr": WeightedRoundRobin, "lc": LeastConnections,
                  "random": Random, "p2c": PowerOfTwoChoices, "lrt": LeastResponseTime}


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 4))
    requests = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # continuous draws: exact ties only where the rules define them
    gaps = rng.exponential(draw(st.sampled_from([0.2, 0.5, 1.0])), requests)
    if draw(st.booleans()):
        gaps[rng.random(requests) < 0.3] = 0.0        # simultaneous arrivals
    arrivals = np.cumsum(gaps)
    works = rng.exponential(1.0, requests) if draw(st.booleans()) else rng.random(requests) + 0.2
    speeds = [draw(st.sampled_from([0.5, 1.0, 1.0, 2.0])) for _ in range(n)]
    horizon = float(arrivals[-1]) + 1.0
    failures = []
    for s in range(n):
        t = 0.0
        for _ in range(draw(st.integers(0, 2))):
            down = t + draw(st.floats(0.0, horizon / 2))
            up = down + draw(st.one_of(st.floats(0.1, horizon / 2), st.just(INF)))
            failures.append((s, down, up))
            if up == INF:
                break
            t = up
    health = None
    if draw(st.booleans()):
        interval = draw(st.sampled_from([0.3, 0.7, 1.0, 2.5]))
        health = dict(interval=interval, rise=draw(st.integers(1, 3)), fall=draw(st.integers(1, 3)),
                      timeout=draw(st.sampled_from([None, interval / 3, interval * 2])))
    outlier = None
    if draw(st.booleans()):
        outlier = dict(consecutive_errors=draw(st.integers(1, 3)),
                       base_ejection_time=draw(st.sampled_from([0.5, 2.0, 5.0])),
                       max_ejection_percent=draw(st.sampled_from([0.0, 30.0, 50.0, 100.0])))
    return dict(
        policy=draw(st.sampled_from(sorted(POLICY_CLASSES))), seed=draw(st.integers(0, 99)),
        ps=draw(st.booleans()), arrivals=arrivals, works=works, speeds=speeds,
        clients=rng.integers(0, 5, requests), failures=failures, health=health, outlier=outlier,
        err_timeout=draw(st.sampled_from([0.0, 0.0, 0.4, 1.5])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HypothesisHealthCheck.too_slow])
@given(scenarios())
def test_matches_reference_model(sc):
    cls = POLICY_CLASSES[sc["policy"]]
    weights = sc["speeds"] if sc["policy"] == "wrr" else None
    spec = parse_service(sc["works"], in_order=True)
    mk_h = (lambda: HealthCheck(**sc["health"])) if sc["health"] else (lambda: None)
    mk_o = (lambda: OutlierDetector(**sc["outlier"])) if sc["outlier"] else (lambda: None)

    bal = cls(len(sc["speeds"]), weights, seed=sc["seed"])
    r = simulate(bal, load=0.5, service=spec, requests=len(sc["arrivals"]), seed=1,
                 discipline="ps" if sc["ps"] else "fcfs", speeds=sc["speeds"],
                 arrivals=sc["arrivals"], fail=sc["failures"], health=mk_h(), outlier=mk_o(),
                 warmup=0, mean_service=1.0, clients=sc["clients"], error_timeout=sc["err_timeout"])
    model = ReferenceSim(cls(len(sc["speeds"]), weights, seed=sc["seed"]), sc["speeds"], sc["ps"],
                         sc["arrivals"], spec.values, sc["clients"], sc["failures"], mk_h(), mk_o(),
                         sc["err_timeout"]).run()

    assert r.server_of.tolist() == model.srv
    assert r.status.tolist() == model.status
    lat_model = np.array(model.lat)
    ok = np.array(model.status) == OK
    np.testing.assert_allclose(r.latencies, lat_model[ok], rtol=1e-9, atol=1e-9)
    assert r.errors == model.status.count(ERROR)
    assert r.dropped == model.status.count(DROPPED)
    assert r.rejected == model.status.count(REJECTED)
    for o, out in enumerate(r.outages):
        s, down, up = sc["failures"][o]
        want_d = model.detect[o] - down
        want_r = model.reinst[o] - up if up != INF else math.nan
        assert out["errors"] == model.out_err[o]
        assert out["dropped"] == model.out_drop[o]
        np.testing.assert_allclose([out["detect_s"], out["reinstate_s"]], [want_d, want_r],
                                   rtol=1e-9, atol=1e-9, equal_nan=True)
    assert bal.active == [0] * len(sc["speeds"])        # every connection closed
    bal._check()


# ---------------------------------------------------------------- queueing theory


def mm1_p99(rho):
    return math.log(100) / (1 - rho)


def test_random_routing_is_n_mm1_queues_at_half_load():
    r = simulate("random", servers=10, load=0.5, requests=200_000, seed=11)
    assert r.mean == pytest.approx(2.0, rel=0.03)
    assert r.p99 == pytest.approx(mm1_p99(0.5), rel=0.05)
    assert r.p50 == pytest.approx(math.log(2) / 0.5, rel=0.04)
    assert np.mean(r.utilization) == pytest.approx(0.5, rel=0.02)


def test_random_routing_is_n_mm1_queues_at_high_load():
    # at rho 0.9 an M/M/1 mean converges slowly: 2M requests give ~1.7% standard error
    r = simulate("random", servers=10, load=0.9, requests=2_000_000, seed=5)
    assert r.mean == pytest.approx(10.0, rel=0.06)
    assert r.p99 == pytest.approx(mm1_p99(0.9), rel=0.09)


def test_processor_sharing_single_server_and_insensitivity():
    # M/G/1-PS: mean response 1/(1 - rho) whatever the service distribution
    for service in ("exp", "const", "lognormal:sigma=1.5"):
        r = simulate(Random(1), load=0.5, service=service, discipline="ps", requests=150_000,
                     seed=3)
        assert r.mean == pytest.approx(2.0, rel=0.04), service


def test_md1_and_pollaczek_khinchine():
    rho = 0.5
    r = simulate(Random(1), load=rho, service="const", requests=200_000, seed=4)
    assert r.mean == pytest.approx(1 + rho / (2 * (1 - rho)), rel=0.02)
    # M/G/1 FCFS: E[T] = 1 + rho E[S^2] / (2 (1 - rho)), E[S] = 1
    second = {"lognormal:sigma=1": math.e,
              "bimodal:p=0.1,ratio=10": 0.9 * (1 / 1.9) ** 2 + 0.1 * (10 / 1.9) ** 2,
              "pareto:alpha=4": 4 * 0.75 ** 2 / 2}
    for service, es2 in second.items():
        r = simulate(Random(1), load=rho, service=service, requests=200_000, seed=4)
        assert r.mean == pytest.approx(1 + rho * es2 / (2 * (1 - rho)), rel=0.05), service


def erlang_k_m1_sigma(k, rho):
    # GI/M/1 with Erlang-k interarrivals (mean 1/rho), unit service rate:
    # sigma = A*(1 - sigma), A*(s) = (k rho / (k rho + s))^k
    s = 0.5
    for _ in range(500):
        s = (k * rho / (k * rho + 1 - s)) ** k
    return s


def test_round_robin_is_erlang_k_per_server_and_beats_random():
    sigma = erlang_k_m1_sigma(10, 0.9)
    rr = simulate("rr", servers=10, load=0.9, requests=1_000_000, seed=2)
    assert rr.mean == pytest.approx(1 / (1 - sigma), rel=0.05)
    assert rr.p99 == pytest.approx(math.log(100) / (1 - sigma), rel=0.08)
    rnd = simulate("random", servers=10, load=0.9, requests=1_000_000, seed=2)
    assert rr.mean < 0.7 * rnd.mean and rr.p99 < 0.7 * rnd.p99


def supermarket_limit(rho, d=2, terms=60):
    """Mitzenmacher's mean sojourn time of the supermarket model as n -> infinity."""
    return sum(rho ** ((d ** i - d) / (d - 1)) for i in range(1, terms))


def test_power_of_two_choices_approaches_the_supermarket_model():
    limit = supermarket_limit(0.9)
    assert limit == pytest.approx(2.6141, abs=1e-4)
    r = simulate("p2c", servers=100, load=0.9, requests=600_000, seed=9)
    # finite n sits a little above the limit (about +2.4% at n = 100, +0.7% at 1000)
    assert limit < r.mean < limit * 1.045
    lc = simulate("lc", servers=100, load=0.9, requests=300_000, seed=9)
    assert lc.mean < r.mean          # join the shortest queue beats two choices


def test_batch_poisson_queue():
    # M^X/M/1 with fixed batches of K: L = rho (K + 1) / (2 (1 - rho)), T = L / lambda
    rho, K = 0.5, 4
    r = simulate(Random(1), load=rho, arrivals=f"batch:size={K}", requests=200_000, seed=8)
    assert r.mean == pytest.approx(rho * (K + 1) / (2 * (1 - rho)) / rho, rel=0.04)


def test_littles_law_and_utilization():
    r = simulate("p2c", servers=8, load=0.8, service="lognormal:sigma=1", requests=200_000,
                 seed=6, speeds=[1, 1, 1, 1, 2, 2, 2, 2])
    lam = 0.8 * 12                                  # arrivals per unit of time
    assert r.queue_mean.sum() == pytest.approx(lam * r.mean, rel=0.03)
    # total work served per unit time = load x capacity
    assert (r.utilization * np.array([1, 1, 1, 1, 2, 2, 2, 2])).sum() == pytest.approx(lam, rel=0.02)
    assert (r.queue_max >= 1).all()


def test_weighted_round_robin_follows_speeds():
    r = simulate("wrr", servers=3, speeds=[4, 1, 1], load=0.7, requests=100_000, seed=1)
    assert r.sent[0] / r.sent.sum() == pytest.approx(4 / 6, rel=0.01)
    assert np.allclose(r.utilization, 0.7, rtol=0.05)


# ---------------------------------------------------------------- failures


def test_health_checks_detect_and_reinstate():
    interval, rise, fall = 2.0, 2, 3
    r = simulate("rr", servers=10, load=0.5, requests=600_000, seed=1, fail="3@100s-200s",
                 health=HealthCheck(interval=interval, rise=rise, fall=fall))
    (o,) = r.outages
    # probes of server 3 at 0.6 + 2k s: fail at 100.6, 102.6, 104.6, each noticed
    # after the 2 s timeout: detected at 106.6 (within [fall, fall + 1) intervals)
    assert o["detect_s"] == pytest.approx(6.6)
    assert fall * interval <= o["detect_s"] < (fall + 1) * interval
    # the probe sent at 198.6 fails at 200.6; those at 200.6 and 202.6 succeed
    assert o["reinstate_s"] == pytest.approx(2.6)
    assert (rise - 1) * interval <= o["reinstate_s"] <= (rise + 1) * interval
    # errors: its 1/10 share of 500 requests/s for the 6.6 s before detection
    assert o["errors"] == pytest.approx(50 * 6.6, rel=0.2)
    assert r.errors == o["errors"]
    # the default warm-up ends before the failure: 90% of the 500/s x 100 s before it
    assert r.warmup == 45_000


def test_no_detection_without_checks():
    r = simulate("rr", servers=10, load=0.5, requests=600_000, seed=1, fail=[(3, 100.0, 140.0)])
    (o,) = r.outages
    assert math.isnan(o["detect_s"]) and o["reinstate_s"] == 0.0
    assert o["errors"] == pytest.approx(50 * 40, rel=0.01)   # RR: exactly every 10th request
    assert math.isnan(r.detection)


def test_outlier_ejection_after_consecutive_errors():
    r = simulate("rr", servers=10, load=0.5, requests=300_000, seed=1, fail="3@100s-400s",
                 outlier=OutlierDetector(consecutive_errors=5, base_ejection_time=30.0))
    (o,) = r.outages
    # RR sends server 3 every 10th request: 5 errors take about 0.1 s at 50/s
    assert 0 < o["detect_s"] < 0.3
    # ejected 30 s, then 60 s, then 90 s, ... each time after 5 more errors
    assert o["errors"] % 5 == 0 and o["errors"] >= 15


def test_dropped_requests_and_error_timeout_holds_connections():
    # one server at load 0.95 has a queue; its failure drops it, and with a 1 s
    # error timeout the balancer keeps those connections open for 1 s
    base = dict(servers=2, load=0.95, requests=200_000, seed=3, fail="1@300s-310s")
    r0 = simulate("rr", **base)
    r1 = simulate("rr", error_timeout="1s", **base)
    assert r0.dropped >= 1 and r0.dropped == r1.dropped
    assert r0.outages[0]["dropped"] == r0.dropped
    assert r0.errors == r1.errors                     # RR does not look at connections
    # least connections: with instant errors the dead server always looks idle and
    # draws traffic (a black hole); with the timeout its connections pile up
    lc0 = simulate("lc", **base)
    lc1 = simulate("lc", error_timeout="1s", **base)
    assert lc0.errors > 1.3 * r0.errors
    assert lc1.errors < 0.7 * lc0.errors
    # with ten servers the black hole takes almost everything from least response time
    many = dict(servers=10, load=0.7, requests=300_000, seed=3, fail="1@100s-110s")
    assert simulate("lrt", **many).errors > 0.9 * 7000      # 700 requests/s for 10 s
    assert simulate("lrt", error_timeout="1s", **many).errors < 100


def test_all_servers_down_rejects():
    r = simulate("p2c", servers=2, load=0.5, requests=50_000, seed=2, fail="0@50s-60s,1@50s-60s",
                 health=HealthCheck(interval=0.5, rise=1, fall=1, timeout=0.1))
    assert r.rejected > 0
    assert r.status.tolist().count(REJECTED) == r.rejected
    assert all(o["detect_s"] <= 0.6 for o in r.outages)


# ---------------------------------------------------------------- API behaviour


def test_deterministic_and_seeded():
    kw = dict(servers=10, load=0.8, requests=50_000, service="lognormal:sigma=1.5",
              fail="2@10s-20s", health=None)
    a = simulate("p2c", seed=4, **kw)
    b = simulate("p2c", seed=4, **kw)
    c = simulate("p2c", seed=5, **kw)
    assert np.array_equal(a.latencies, b.latencies) and a.to_dict().keys() == b.to_dict().keys()
    assert np.array_equal(a.server_of, b.server_of) and a.p99 == b.p99
    assert not np.array_equal(a.latencies, c.latencies)


def test_common_random_numbers_across_policies():
    # every policy sees the same arrivals and works: with one server they agree exactly
    a = simulate("rr", servers=1, load=0.7, requests=20_000, seed=1)
    b = simulate("lc", servers=1, load=0.7, requests=20_000, seed=1)
    assert np.array_equal(a.latencies, b.latencies)


def test_progress_and_balancer_left_clean():
    calls = []
    bal = LeastConnections(5)
    r = simulate(bal, load=0.9, requests=100_000, seed=1, progress=lambda d, t: calls.append((d, t)))
    assert 95 <= len(calls) <= 102
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (100_000, 100_000) and all(t == 100_000 for _, t in calls)
    assert bal.active == [0] * 5 and r.servers == 5
    bal._check()


def test_overload_warns_and_runs():
    with pytest.warns(RuntimeWarning, match="grow without bound"):
        r = simulate("p2c", servers=4, load=1.2, requests=50_000, seed=1, discipline="ps")
    assert r.completed == 45_000 and r.mean > 10


def test_balancer_instance_must_match_servers():
    with pytest.raises(ValueError, match="4 servers but servers=5"):
        simulate(RoundRobin(4), servers=5)
    with pytest.raises(ValueError, match="only 4 servers"):
        simulate(RoundRobin(4), fail="4@1-2", requests=10)
    with pytest.raises(ValueError, match="unknown policy"):
        simulate("fastest", requests=10)


def test_trace_arrivals_and_result_views():
    times = np.cumsum(np.full(5000, 0.02))        # every 20 ms, service 10 ms: load 0.5 on 1
    r = simulate("rr", servers=1, arrivals=times, service="const", requests=10**6, seed=0)
    assert r.requests == 5000 and r.load == pytest.approx(0.5)
    assert r.mean == pytest.approx(1.0) and r.max == pytest.approx(1.0)   # never queues
    x, f = r.cdf(64)
    assert len(x) == 64 and f[-1] == 1.0
    counts, edges = r.histogram(20)
    assert counts.sum() == r.completed
    row = r.to_frame()
    assert list(row["policy"]) == ["rr"] and row.shape[0] == 1
    assert r.percentile(50) == pytest.approx(r.p50)


def test_reusing_a_balancer_syncs_health_and_ejection():
    bal = PowerOfTwoChoices(4, seed=1)
    simulate(bal, load=0.5, requests=20_000, seed=1, fail="3@10s",
             health=HealthCheck(interval=1.0, rise=2, fall=1))
    assert bal.up == [True, True, True, False] and bal.active == [0] * 4
    # the next run has server 3 alive: the fresh check starts it unhealthy and
    # brings it back after two good probes
    r = simulate(bal, load=0.5, requests=20_000, seed=2, health=HealthCheck(interval=1.0, rise=2))
    assert bal.up == [True] * 4 and r.sent[3] > 0.2 * r.sent.mean()
    bal.eject(1)
    r = simulate(bal, load=0.5, requests=20_000, seed=3, outlier=OutlierDetector())
    assert bal.up == [True] * 4 and r.sent[1] > 0
