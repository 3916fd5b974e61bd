"""Single-leader replication (tradeoff.replication.leader): the run equals, to the
bit, a small pure-Python model of the same system (heapq, plain lists, the same
random numbers); the session guarantees each mode promises (Kleppmann, DDIA ch.
5); lags and write latencies against their closed forms (a constant delay; the
mean of an exponential; the k-th order statistic of the followers' round trips);
failover losses; the invariants of the simulation checked between steps;
determinism; the recorded history (its session-guarantee violations recomputed
here from the history alone); one-line errors for bad input."""
import bisect
import heapq
import json
import math
from collections import defaultdict
from math import comb

import numpy as np
import pytest
from pymodels import Rng, mix64

from tradeoff.replication.leader import _build, parse_delays, parse_mode, simulate

D = 0.001
INF = math.inf


# -- the model ------------------------------------------------------------------------------------


def draw(dist, rng):
    kind, v = dist
    return v if kind == "const" else rng.exponential(v)


class Model:
    """The system of tradeoff.replication._leader written the obvious way: every
    message is an event in a heapq keyed (time, source, ...) with the simulation's
    source numbers (so ties break the same way), the log a list, a replica's
    state found by scanning it, messages invalidated by epochs rather than
    unscheduled. It draws the same random numbers in the same order, so every
    time it computes equals the simulation's to the bit."""

    def __init__(self, n, mode, k, reads, clients, ops, rf, keys, cdf, net, cli, think, rate, crash_at,
                 detect, timeout, retries, seed):
        self.n, self.mode, self.k, self.reads, self.C, self.ops = n, mode, k, reads, clients, ops
        self.rf, self.K, self.cdf, self.net, self.cli, self.think = rf, keys, cdf, net, cli, think
        self.rpc = rate / clients if rate else 0.0
        self.crashes, self.detect, self.timeout, self.retries = list(crash_at), detect, timeout, retries
        self.r_net = Rng(mix64(seed ^ 0x6E6574776F726B21))
        self.r_cli = Rng(mix64(seed ^ 0x636C69656E746E65))
        self.r_pick = Rng(mix64(seed ^ 0x7069636B72657064))
        self.log, self.entries, self.apply = [], {}, {}
        self.applied, self.alive, self.match = [0] * n, [True] * n, [0] * n
        self.last_arr, self.last_ack = [0.0] * n, [0.0] * n
        self.link, self.acklink = [0] * n, [0] * n          # epochs: bumping one drops the messages
        self.leader, self.leader_alive, self.term, self.failovers = 0, True, 0, 0
        self.heap, self.issued, self.values, self.attempt_seq, self.lost = [], 0, 0, 0, 0
        self.op = {}
        self.cl = []
        for c in range(clients):
            cl = dict(rng=Rng(mix64(seed ^ 0x73657373696F6E73 ^ mix64(c + 1))), gen=0, seen=0,
                      sticky=self.followers()[c % (n - 1)] if n > 1 else 0, state="idle",
                      ryw=defaultdict(int), mr=defaultdict(int), v=[0, 0, 0, 0], t_phase=0.0, deadline=INF)
            if self.rpc:
                cl["arrival"] = cl["rng"].exponential(1.0 / self.rpc)
                cl["next"] = cl["arrival"] + cl["rng"].exponential(1.0 / self.rpc)
            else:
                cl["arrival"] = 0.0
            cl["t_phase"] = cl["arrival"]
            self.cl.append(cl)
            self.sched(c)
        if self.crashes:
            self.push(self.crashes.pop(0), 0, "crash")

    def followers(self):
        return [r for r in range(self.n) if self.alive[r] and r != self.leader]

    def push(self, t, src, *rest):
        heapq.heappush(self.heap, (t, src) + rest)

    def sched(self, c):
        cl = self.cl[c]
        cl["gen"] += 1
        for sub, t in ((0, cl["t_phase"]), (1, cl["deadline"])):
            if t < INF:
                self.push(t, 1 + 2 * self.n + c, sub, cl["gen"])

    def version_at(self, key, upto):
        for p in range(min(upto, len(self.log)), 0, -1):
            if self.entries[self.log[p - 1]]["key"] == key:
                return p
        return 0

    def run(self):
        while self.heap:
            t, src, *rest = heapq.heappop(self.heap)
            if src == 0:
                self.crash(t) if rest[0] == "crash" else self.promote(t)
            elif src <= self.n:
                pos, epoch = rest
                if epoch == self.link[src - 1]:
                    self.on_apply(src - 1, pos, t)
            elif src <= 2 * self.n:
                pos, epoch = rest
                if epoch == self.acklink[src - 1 - self.n]:
                    self.on_ack(src - 1 - self.n, pos, t)
            else:
                c = src - 1 - 2 * self.n
                sub, gen = rest
                if gen != self.cl[c]["gen"]:
                    continue
                if sub == 1:
                    self.on_timeout(c, t)
                elif self.cl[c]["state"] == "idle":
                    self.start(c, t)
                elif self.cl[c]["state"] == "req":
                    self.at_replica(c, t)
                else:
                    self.complete(c, t, "ok")
        return self

    # replication
    def append(self, c, t):
        cl, fs = self.cl[c], self.followers()
        s = len(self.entries) + 1
        self.log.append(s)
        pos = len(self.log)
        need = {"async": 0, "sync": len(fs), "semisync": min(self.k, len(fs))}[self.mode]
        self.entries[s] = dict(key=cl["key"], value=cl["value"], t=t, term=self.term, acks=0, need=need,
                               waiter=c if need else -1, attempt=cl["attempt"], lost=0, acked=False)
        self.applied[self.leader] = pos
        self.apply[s, self.leader] = t
        for f in fs:
            a = max(t + draw(self.net, self.r_net), self.last_arr[f])
            self.last_arr[f] = self.apply[s, f] = a
            self.push(a, 1 + f, pos, self.link[f])
        return s

    def on_apply(self, f, pos, t):
        assert pos == self.applied[f] + 1
        self.applied[f] = pos
        if self.mode != "async" and self.leader_alive:
            a = max(t + draw(self.net, self.r_net), self.last_ack[f])
            self.last_ack[f] = a
            self.push(a, 1 + self.n + f, pos, self.acklink[f])

    def on_ack(self, f, pos, t):
        for q in range(self.match[f] + 1, pos + 1):
            s = self.log[q - 1]
            e = self.entries[s]
            if e["term"] == self.term:
                e["acks"] += 1
                if e["acks"] == e["need"] and e["waiter"] >= 0:
                    cl = self.cl[e["waiter"]]
                    if cl["state"] == "wait" and cl["attempt"] == e["attempt"]:
                        cl["result"], cl["state"] = s, "resp"
                        cl["t_phase"] = t + draw(self.cli, self.r_cli)
                        self.sched(e["waiter"])
                    e["waiter"] = -1
        self.match[f] = max(self.match[f], pos)

    def crash(self, t):
        old = self.leader
        self.alive[old] = self.leader_alive = False
        for f in self.followers():
            for p in range(self.applied[f] + 1, len(self.log) + 1):
                del self.apply[self.log[p - 1], f]
            self.link[f] += 1
            self.acklink[f] += 1
        for c, cl in enumerate(self.cl):
            if cl["state"] == "resp" and cl["target"] == old:
                cl["state"], cl["t_phase"] = "lost", INF
                self.sched(c)
        self.push(t + self.detect, 0, "promote")

    def promote(self, t):
        best = max((r for r in range(self.n) if self.alive[r]), key=lambda r: (self.applied[r], -r))
        L = self.applied[best]
        self.failovers += 1
        for s in self.log[L:]:
            self.entries[s]["lost"] = self.failovers
            self.entries[s]["waiter"] = -1
        self.lost += len(self.log) - L
        del self.log[L:]
        self.term += 1
        self.leader, self.leader_alive = best, True
        self.link[best] += 1
        self.acklink[best] += 1
        for f in self.followers():
            self.last_arr[f] = self.last_ack[f] = t
            self.match[f] = self.applied[f]
            for p in range(self.applied[f] + 1, L + 1):
                a = max(t + draw(self.net, self.r_net), self.last_arr[f])
                self.last_arr[f] = self.apply[self.log[p - 1], f] = a
                self.push(a, 1 + f, p, self.link[f])
        if self.crashes:
            self.push(self.crashes.pop(0), 0, "crash")

    # clients
    def ready(self, c, t):
        cl = self.cl[c]
        if self.issued >= self.ops:
            return self.finish(c)
        if self.rpc:
            a = cl["next"]
            cl["next"] = a + cl["rng"].exponential(1.0 / self.rpc)
        else:
            a = t + draw(self.think, cl["rng"])
        cl["arrival"] = a
        if a > t:
            cl["state"], cl["t_phase"], cl["deadline"] = "idle", a, INF
            self.sched(c)
        else:
            self.issue(c, t)

    def finish(self, c):
        cl = self.cl[c]
        cl["state"], cl["t_phase"], cl["deadline"] = "done", INF, INF
        self.sched(c)

    def start(self, c, t):
        self.finish(c) if self.issued >= self.ops else self.issue(c, t)

    def issue(self, c, t):
        cl = self.cl[c]
        cl["op"], self.issued = self.issued, self.issued + 1
        cl["kind"] = "read" if cl["rng"].uniform() < self.rf else "write"
        if self.cdf is None:
            cl["key"] = cl["rng"].below(self.K)
        else:
            cl["key"] = bisect.bisect_right(self.cdf, cl["rng"].uniform())
        if cl["kind"] == "write":
            self.values += 1
        cl["value"] = self.values if cl["kind"] == "write" else 0
        cl["attempts"], cl["result"] = 0, 0
        self.op[cl["op"]] = dict(client=c, key=cl["key"], value=cl["value"], invoke=t)
        self.send(c, t)

    def pick(self, c):
        cl, fs = self.cl[c], self.followers()
        if self.reads == "leader" or (not fs and self.reads != "any"):
            return self.leader
        if self.reads == "follower":
            return fs[self.r_pick.below(len(fs))]
        if self.reads == "any":
            live = [r for r in range(self.n) if self.alive[r]]
            return live[self.r_pick.below(len(live))]
        if not self.alive[cl["sticky"]]:
            cl["sticky"] = fs[self.r_pick.below(len(fs))]
        return cl["sticky"]

    def send(self, c, t):
        cl = self.cl[c]
        cl["attempts"] += 1
        self.attempt_seq += 1
        cl["attempt"] = self.attempt_seq
        cl["target"] = self.leader if cl["kind"] == "write" else self.pick(c)
        cl["state"], cl["t_phase"], cl["deadline"] = "req", t + draw(self.cli, self.r_cli), t + self.timeout
        self.sched(c)

    def at_replica(self, c, t):
        cl = self.cl[c]
        r = cl["target"]
        if not self.alive[r] or (cl["kind"] == "write" and r != self.leader):
            cl["state"], cl["t_phase"] = "lost", INF
        elif cl["kind"] == "read":
            p = self.version_at(cl["key"], self.applied[r])
            cl["result"] = self.log[p - 1] if p else 0
            cl["v"][3] += p < self.version_at(cl["key"], len(self.log))
            cl["state"], cl["t_phase"] = "resp", t + draw(self.cli, self.r_cli)
        else:
            s = self.append(c, t)
            if self.entries[s]["need"] == 0:
                cl["result"], cl["state"], cl["t_phase"] = s, "resp", t + draw(self.cli, self.r_cli)
            else:
                cl["state"], cl["t_phase"] = "wait", INF
        self.sched(c)

    def on_timeout(self, c, t):
        cl = self.cl[c]
        if cl["attempts"] <= self.retries:
            self.send(c, t)
        else:
            self.complete(c, t, "fail" if cl["kind"] == "read" else "info")

    def complete(self, c, t, status):
        cl = self.cl[c]
        k, v = cl["key"], cl["result"]
        self.op[cl["op"]].update(kind=cl["kind"], status=status, latency=t - cl["arrival"], done=t,
                                 version=v if status == "ok" else 0)
        if status == "ok" and cl["kind"] == "write":
            cl["ryw"][k] = max(cl["ryw"][k], v)
            self.entries[v]["acked"] = True
        elif status == "ok":
            cl["v"][0] += v < cl["ryw"][k]
            cl["v"][1] += v < cl["mr"][k]
            cl["mr"][k] = max(cl["mr"][k], v)
            if v < cl["seen"]:
                older = [s for s in self.log if s <= cl["seen"] and self.entries[s]["key"] == k]
                cl["v"][2] += bool(older) and older[-1] > v
            else:
                cl["seen"] = v
        self.ready(c, t)


MODEL_CASES = [
    dict(n=3, mode="async", reads="follower", clients=3, ops=600, keys=4, seed=1),
    dict(n=4, mode="semisync=2", reads="sticky", clients=4, ops=600, keys=5, skew=1.2, seed=2),
    dict(n=3, mode="sync", reads="any", clients=2, ops=500, keys=3, think="exp:mean=1ms", seed=3),
    dict(n=3, mode="async", reads="leader", clients=3, ops=600, keys=4, rate=3000.0, seed=4),
    dict(n=3, mode="semisync=1", reads="follower", clients=6, ops=800, keys=4, read_fraction=0.3,
         delays="exp:mean=4ms", client_delays="const:0.2ms", crash_at=0.05, detect=0.01, timeout=0.024,
         retries=1, seed=5),
    dict(n=5, mode="async", reads="sticky", clients=5, ops=1500, keys=6, read_fraction=0.6,
         delays="exp:mean=3ms", client_delays="const:0.5ms", crash_at=[0.1, 0.2], detect=0.02,
         timeout=0.01, seed=6),
    dict(n=4, mode="sync", reads="any", clients=6, ops=800, keys=4, read_fraction=0.3,
         delays="exp:mean=4ms", client_delays="const:0.2ms", crash_at=0.05, detect=0.02, timeout=0.06,
         retries=0, seed=7),
]


@pytest.mark.parametrize("kw", MODEL_CASES)
def test_the_simulation_is_the_model(kw):
    kw = dict(dict(delays="exp:mean=1ms", history=True, read_fraction=0.8), **kw)
    r = simulate(**kw)
    n = kw["n"]
    mode, k = parse_mode(kw["mode"], n)
    dist = {name: parse_delays(kw.get(name, kw["delays"]))[:2] for name in ("delays", "client_delays")}
    think = parse_delays(kw.get("think", 0.0))[:2]
    cdf = None
    if kw.get("skew"):
        cdf = np.cumsum(np.arange(1, kw["keys"] + 1, dtype=float) ** -kw["skew"])
        cdf /= cdf[-1]
        cdf[-1] = 1.0
    crash = kw.get("crash_at")
    m = Model(n, mode, k, kw["reads"], kw["clients"], kw["ops"], kw["read_fraction"], kw["keys"],
              None if cdf is None else cdf.tolist(), dist["delays"], dist["client_delays"], think,
              kw.get("rate"), [] if crash is None else np.atleast_1d(crash).tolist(), kw.get("detect", 0.5),
              kw.get("timeout", 1.0), kw.get("retries", 3), kw["seed"]).run()
    h = r.history
    ops = [m.op[i] for i in range(kw["ops"])]
    assert h["process"].tolist() == [o["client"] for o in ops]
    assert h["f"].tolist() == [o["kind"] for o in ops]
    assert h["key"].tolist() == [o["key"] for o in ops]
    assert h["type"].tolist() == [o["status"] for o in ops]
    assert h["version"].tolist() == [o["version"] for o in ops]
    assert h["invoke_time"].tolist() == [o["invoke"] for o in ops]
    assert h["complete_time"].tolist() == [o["done"] for o in ops]
    assert h["latency"].tolist() == [o["latency"] for o in ops]
    e = r.entries
    assert len(e["t"]) == len(m.entries)
    assert e["t"].tolist() == [m.entries[s]["t"] for s in range(1, len(m.entries) + 1)]
    assert e["lost"].tolist() == [m.entries[s]["lost"] for s in range(1, len(m.entries) + 1)]
    assert e["acked"].tolist() == [m.entries[s]["acked"] for s in range(1, len(m.entries) + 1)]
    want = np.full((len(m.entries), n), np.nan)
    for (s, rep), a in m.apply.items():
        want[s - 1, rep] = a
    assert np.array_equal(e["apply"], want, equal_nan=True)
    assert r.sim.log().tolist() == m.log
    s = r.sessions
    for c in range(kw["clients"]):
        assert s.loc[c, ["ryw", "mr", "cp", "stale"]].tolist() == m.cl[c]["v"], c
    assert r.counters["lost_entries"] == m.lost and r.counters["failovers"] == m.failovers
    if crash is not None:
        # the failover paths did run: requests timed out, entries were truncated
        assert r.counters["timeouts"] > 0 and m.lost > 0


# -- (1) session guarantees ----------------------------------------------------------------
@pytest.mark.parametrize("reads", ["follower", "any", "sticky"])
def test_sync_replication_reads_your_writes_from_any_replica(reads):
    # few keys: a session often reads a key it has just written
    r = simulate(n=3, mode="sync", reads=reads, clients=8, ops=20_000, read_fraction=0.5, keys=4, seed=3)
    assert r.counters["ryw"] == 0
    assert r.counters["stale"] > 0          # the followers do lag; they just have the session's writes
    r._check()


@pytest.mark.parametrize("reads", ["follower", "any", "sticky"])
def test_async_replication_with_follower_reads_breaks_read_your_writes(reads):
    r = simulate(n=3, mode="async", reads=reads, clients=8, ops=20_000, read_fraction=0.5, keys=4, seed=3)
    assert r.counters["ryw"] > 0
    # semisync=1 narrows the window (the write is on one follower), sync closes it
    s = simulate(n=3, mode="semisync=1", reads=reads, clients=8, ops=20_000, read_fraction=0.5, keys=4,
                 seed=3)
    assert 0 < s.counters["ryw"] < r.counters["ryw"]


@pytest.mark.parametrize("mode", ["async", "semisync=1", "sync"])
def test_reads_from_the_leader_keep_every_session_guarantee(mode):
    r = simulate(n=3, mode=mode, reads="leader", clients=8, ops=20_000, read_fraction=0.5, keys=4, seed=4)
    c = r.counters
    assert (c["ryw"], c["mr"], c["cp"], c["stale"]) == (0, 0, 0, 0)


def test_random_follower_reads_go_back_in_time_sticky_ones_do_not():
    kw = dict(n=5, mode="async", clients=8, ops=40_000, read_fraction=0.8, keys=4, seed=5,
              delays="exp:mean=2ms", client_delays="const:0.1ms")
    rnd = simulate(reads="follower", **kw).counters
    sticky = simulate(reads="sticky", **kw).counters
    assert rnd["mr"] > 0 and rnd["cp"] >= rnd["mr"]
    # one follower per session: its prefix only grows (Kleppmann's fix for monotonic reads)
    assert sticky["mr"] == 0 and sticky["cp"] == 0 and sticky["ryw"] > 0


def test_semisync_with_all_followers_is_sync():
    a = simulate(n=4, mode="semisync=3", clients=4, ops=5000, seed=6)
    b = simulate(n=4, mode="sync", clients=4, ops=5000, seed=6)
    skip = {"wall_seconds", "events_per_s", "ops_per_s"}
    assert {k: v for k, v in a.counters.items() if k not in skip} == \
        {k: v for k, v in b.counters.items() if k not in skip}


# -- (2) replication lag -----------------------------------------------------------------------
def test_constant_delay_lag_is_the_delay_exactly():
    d = 2.0 ** -10        # dyadic: every time is exact in binary, so lag == d to the bit
    r = simulate(n=4, mode="async", clients=3, ops=3000, read_fraction=0.3, delays=d,
                 think=2.0 ** -6, seed=7)
    e = r.entries
    for f in (1, 2, 3):
        lag = e["apply"][:, f] - e["t"]
        assert len(lag) == r.counters["writes"] and np.all(lag == d)
    assert np.all(r.lag.loc[[1, 2, 3], ["p50_ms", "p99_ms", "max_ms"]].to_numpy() == 1e3 * d)
    # with a delay that is not dyadic, equal up to rounding; and the FIFO links keep it
    # even with several writes in flight at once (no think time)
    r = simulate(n=3, mode="async", clients=10, ops=5000, read_fraction=0.0, delays="const:1ms", seed=7)
    lag = r.lag_series()["lag_ms"].to_numpy()
    assert len(lag) == 2 * 5000 and np.allclose(lag, 1.0, rtol=1e-9, atol=0)


def test_exponential_delay_mean_lag_with_one_write_at_a_time():
    # one client writing, long think times: the links are empty at every write, so a
    # follower's lag is one draw of the delay
    m = 6000
    r = simulate(n=3, mode="async", clients=1, ops=m, read_fraction=0.0, delays="exp:mean=1ms",
                 think="const:20ms", seed=8)
    for f in (1, 2):
        lag = r.entries["apply"][:, f] - r.entries["t"]
        assert len(lag) == m
        assert abs(lag.mean() - D) < 4 * D / math.sqrt(m)
        assert abs(np.median(lag) - D * math.log(2)) < 0.08 * D
    assert r.lag.loc[1, "entries"] == m and r.lag.loc[0, "role"] == "leader"


def test_fifo_links_never_reorder_entries():
    r = simulate(n=3, mode="async", clients=20, ops=20_000, read_fraction=0.0, delays="exp:mean=5ms",
                 client_delays="const:0.1ms", seed=9)
    e = r.entries
    order = np.argsort(e["pos"], kind="stable")
    for f in (1, 2):
        assert np.all(np.diff(e["apply"][order, f]) >= 0)
        # and queueing behind a slow entry only adds lag: the mean exceeds the delay's
        assert r.lag.loc[f, "mean_ms"] > 5.0


# -- (3) write latency: the k-th fastest follower round trip -------------------------------------
def kth_round_trip_mean(k, m, d):
    """E[X_(k:m)] for m i.i.d. round trips X = Exp(d) + Exp(d) ~ Gamma(2, d):
    the integral of P(X_(k) > x) = sum_{j<k} C(m, j) F^j (1 - F)^(m - j)."""
    x = np.linspace(0, 60 * d, 600_001)
    F = 1 - np.exp(-x / d) * (1 + x / d)
    tail = sum(comb(m, j) * F ** j * (1 - F) ** (m - j) for j in range(k))
    return float(np.sum((tail[1:] + tail[:-1]) / 2 * np.diff(x)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_semisync_write_latency_is_the_kth_order_statistic_of_round_trips(k):
    # clients next to the leader (no client delay); 4 followers; one write at a time
    m = 4000
    mode = "sync" if k == 4 else f"semisync={k}"
    r = simulate(n=5, mode=mode, clients=1, ops=m, read_fraction=0.0, delays="exp:mean=1ms",
                 client_delays=0.0, think="const:20ms", seed=10 + k)
    lat = r.history if r.history is not None else None
    assert lat is None
    w = r.sim.ops_arrays()["latency"]
    assert len(w) == m
    expected = kth_round_trip_mean(k, 4, D)
    assert abs(w.mean() - expected) < 4 * w.std() / math.sqrt(m), (w.mean(), expected)
    # the same by Monte Carlo (the closed form's integral checked once more)
    rng = np.random.default_rng(k)
    rt = np.sort(rng.exponential(D, (200_000, 4)) + rng.exponential(D, (200_000, 4)), axis=1)[:, k - 1]
    assert abs(rt.mean() - expected) < 0.01 * expected


def test_async_write_latency_is_the_client_round_trip_only():
    r = simulate(n=5, mode="async", clients=2, ops=2000, read_fraction=0.0, delays="exp:mean=1ms",
                 client_delays="const:0.25ms", seed=12)
    assert r.latency.loc["write", "max_ms"] == pytest.approx(0.5, rel=1e-9)
    assert r.latency.loc["write", "p50_ms"] == pytest.approx(0.5, rel=1e-9)


# -- (4) failover --------------------------------------------------------------------------------
FAIL = dict(n=3, clients=20, ops=30_000, read_fraction=0.2, keys=50, delays="exp:mean=5ms",
            client_delays="const:0.2ms", crash_at=0.4, detect=0.1, timeout=0.15, seed=13)


def lost_acked_from_history(r):
    """Acknowledged writes whose value is not in the final log, from the history."""
    h = r.history
    log_values = set(r.entries["value"][r.sim.log() - 1].tolist())
    ok_writes = h[(h["f"] == "write") & (h["type"] == "ok")]
    return int((~ok_writes["value"].isin(log_values)).sum())


def test_async_failover_loses_acknowledged_writes():
    r = simulate(mode="async", history=True, **FAIL)
    c = r.counters
    assert c["failovers"] == 1 and c["lost_acked"] > 0 and c["lost_entries"] >= c["lost_acked"]
    assert lost_acked_from_history(r) == c["lost_acked"]
    fo = r.failovers.iloc[0]
    assert fo["old_leader"] == 0 and fo["new_leader"] in (1, 2)
    assert fo["log_at_crash"] - fo["log_kept"] == fo["lost_entries"] == c["lost_entries"]
    # the new leader was the most up-to-date follower: what each follower had applied
    # by the crash (nothing arrives after it) survives, and the new leader had the most
    e = r.entries
    had = [int(np.count_nonzero((e["term"] == 0) & (e["apply"][:, f] <= fo["crash_time"]))) for f in (1, 2)]
    assert max(had) == fo["log_kept"] == had[int(fo["new_leader"]) - 1]
    r._check()


@pytest.mark.parametrize("mode", ["sync", "semisync=1"])
def test_sync_and_semisync_lose_no_acknowledged_write(mode):
    r = simulate(mode=mode, history=True, **FAIL)
    c = r.counters
    assert c["failovers"] == 1 and c["lost_acked"] == 0 and lost_acked_from_history(r) == 0
    # entries do get truncated, but none whose client heard "ok"
    assert c["lost_entries"] > 0
    assert not np.any(r.entries["acked"] & (r.entries["lost"] > 0))
    if mode == "sync":
        assert c["ryw"] == 0
    r._check()


def test_no_writable_leader_for_at_least_the_detection_timeout():
    r = simulate(mode="async", history=True, **FAIL)
    fo = r.failovers.iloc[0]
    assert fo["unavailable_s"] >= FAIL["detect"] - 1e-12       # 0.4 + 0.1 - 0.4 in doubles
    assert fo["write_gap_s"] >= fo["unavailable_s"]
    h = r.history
    writes_ok = h[(h["f"] == "write") & (h["type"] == "ok")]
    between = writes_ok[(writes_ok["complete_time"] > fo["crash_time"])
                        & (writes_ok["complete_time"] < fo["promote_time"])]
    assert len(between) == 0
    # requests to the dead leader timed out and were retried against the new one
    assert r.counters["timeouts"] > 0 and r.counters["failed"] == r.counters["info"] == 0


def test_without_retries_requests_to_a_dead_leader_fail():
    r = simulate(mode="semisync=1", history=True, retries=0, reads="leader",
                 **{**FAIL, "read_fraction": 0.8})
    c = r.counters
    assert c["failed"] > 0 and c["info"] > 0
    h = r.history
    assert set(h.loc[h["type"] == "fail", "f"]) == {"read"}
    assert set(h.loc[h["type"] == "info", "f"]) == {"write"}


def test_two_crashes_and_invariants_between_steps():
    sim, _ = _build(n=5, mode="semisync=2", reads="any", clients=6, ops=20_000, read_fraction=0.5, keys=20,
                    delays="exp:mean=2ms", client_delays="const:0.1ms", crash_at=[0.2, 0.5], detect=0.05,
                    timeout=0.08, seed=14)
    steps = 0
    while not sim.run(sim.events + 997):
        sim._check()
        steps += 1
    sim._check()
    assert steps > 50
    fo = sim.failovers()
    assert len(fo) == 2 and fo[0]["new_leader"] == fo[1]["old_leader"]
    assert sim.replica_arrays()["alive"].sum() == 3


@pytest.mark.parametrize("mode", ["async", "semisync=1", "sync"])
@pytest.mark.parametrize("reads", ["leader", "follower", "sticky"])
def test_invariants_hold_at_every_step_of_a_small_run(mode, reads):
    sim, _ = _build(n=3, mode=mode, reads=reads, clients=3, ops=400, read_fraction=0.5, keys=3,
                    delays="exp:mean=2ms", crash_at=0.1, detect=0.02, timeout=0.03, seed=15)
    while not sim.run(sim.events + 1):
        sim._check()
    sim._check()


# -- (5) determinism ------------------------------------------------------------------------------
def test_same_seed_same_run_other_seed_other_run():
    kw = dict(n=3, mode="semisync=1", clients=5, ops=5000, keys=10, skew=1.1, crash_at=0.3, detect=0.05,
              timeout=0.1, history=True)
    a, b, c = simulate(seed=1, **kw), simulate(seed=1, **kw), simulate(seed=2, **kw)
    assert a.history.equals(b.history)
    assert a.counters["events"] == b.counters["events"] and a.counters["ryw"] == b.counters["ryw"]
    assert not a.history.equals(c.history)


def test_the_read_policy_changes_what_reads_see_not_when():
    # common random numbers: the timing draws do not depend on the replica a read picks
    kw = dict(n=3, clients=5, ops=5000, keys=10, seed=2)
    lat = [simulate(reads=p, **kw).sim.ops_arrays()["latency"] for p in ("leader", "follower", "sticky")]
    assert np.array_equal(lat[0], lat[1]) and np.array_equal(lat[0], lat[2])


# -- (6) the history -------------------------------------------------------------------------------
def recompute_violations(r):
    """Read-your-writes, monotonic-reads and consistent-prefix violations per
    session, from the history and the entries alone (the definitions of
    tradeoff.replication._leader), in plain Python."""
    h, e = r.history, r.entries
    promote = {i + 1: t for i, t in enumerate(r.failovers["promote_time"])}
    by_key = defaultdict(list)                  # key -> stamps that wrote it
    for s, k in enumerate(e["key"].tolist(), start=1):
        by_key[k].append(s)

    def in_log(s, t):
        lost = int(e["lost"][s - 1])
        return e["t"][s - 1] <= t and not (lost and promote[lost] <= t)

    out = defaultdict(lambda: [0, 0, 0])
    for c, ops in h.groupby("process"):
        ryw, mr, seen = defaultdict(int), defaultdict(int), 0
        for op in ops.itertuples():
            if op.type != "ok":
                continue
            v, k = op.version, op.key
            if op.f == "write":
                ryw[k] = max(ryw[k], v)
                continue
            if v < ryw[k]:
                out[c][0] += 1
            if v < mr[k]:
                out[c][1] += 1
            mr[k] = max(mr[k], v)
            if v < seen:
                if any(v < s <= seen and in_log(s, op.complete_time) for s in by_key[k]):
                    out[c][2] += 1
            else:
                seen = v
    return out


@pytest.mark.parametrize("crash_at", [None, 0.3])
def test_history_values_and_violations(crash_at):
    r = simulate(n=4, mode="async", reads="follower", clients=6, ops=6000, read_fraction=0.7, keys=6,
                 delays="exp:mean=3ms", client_delays="const:0.2ms", crash_at=crash_at, detect=0.05,
                 timeout=0.1, history=True, seed=16)
    h, e = r.history, r.entries
    assert len(h) == 6000 and set(h["type"]) <= {"ok", "fail", "info"}
    writes = h[h["f"] == "write"]
    # every write writes a value of its own (so every ok write's value is unique per key)
    assert writes["value"].is_unique and (writes["value"] > 0).all()
    ok_writes = writes[writes["type"] == "ok"]
    assert not ok_writes.duplicated(["key", "value"]).any()
    # every read returns the initial value (0) or a value written to that key by a
    # write invoked before the read completed; its version is that write's entry
    invoked = dict(zip(writes["value"], writes["invoke_time"]))
    key_of = dict(zip(writes["value"], writes["key"]))
    reads = h[(h["f"] == "read") & (h["type"] == "ok")]
    for op in reads.itertuples():
        if op.value == 0:
            assert op.version == 0
            continue
        assert key_of[op.value] == op.key and invoked[op.value] <= op.complete_time
        assert e["value"][op.version - 1] == op.value and e["key"][op.version - 1] == op.key
        assert e["t"][op.version - 1] <= op.complete_time
    # the simulator's violation counts, recomputed from the history
    got = recompute_violations(r)
    s = r.sessions
    for c in range(6):
        assert got[c] == [s.loc[c, "ryw"], s.loc[c, "mr"], s.loc[c, "cp"]], c
    assert s["ryw"].sum() > 0 and s["cp"].sum() > 0


def test_history_as_json_lines(tmp_path):
    r = simulate(n=3, clients=3, ops=500, keys=5, crash_at=0.05, detect=0.01, timeout=0.02, retries=0,
                 reads="leader", history=True, seed=17)
    path = tmp_path / "h.jsonl"
    assert r.write_history(path) == 1000
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 1000
    assert all(set(x) == {"process", "type", "f", "key", "value", "time"} for x in lines)
    times = [x["time"] for x in lines]
    assert times == sorted(times) and all(isinstance(t, int) for t in times)
    pending = {}
    for x in lines:
        p = x["process"]
        if x["type"] == "invoke":
            assert p not in pending                # one operation at a time per process
            assert (x["value"] is None) == (x["f"] == "read")
            pending[p] = x
        else:
            inv = pending.pop(p)
            assert (inv["f"], inv["key"]) == (x["f"], x["key"])
            if x["f"] == "write":
                assert x["value"] == inv["value"]
            # null: a failed read, or a read of a key never written (Jepsen's nil)
            assert (x["value"] is None) == (x["type"] == "fail" or (x["f"] == "read" and
                                                                     x["value"] is None))
            assert x["value"] != 0
    assert not pending
    assert {x["type"] for x in lines} >= {"invoke", "ok", "fail"}
    with pytest.raises(ValueError, match="history"):
        simulate(n=3, clients=1, ops=10).write_history(tmp_path / "x.jsonl")


# -- workload ---------------------------------------------------------------------------------------
def test_open_loop_rate_and_closed_loop_think_time():
    r = simulate(n=3, clients=4, ops=20_000, rate=2000.0, delays="exp:mean=0.5ms", seed=18)
    assert r.counters["throughput"] == pytest.approx(2000, rel=0.03)
    # closed loop, 2 clients, think 10 ms, reads from the leader at a client round trip of 1 ms
    r = simulate(n=3, clients=2, ops=2000, read_fraction=1.0, reads="leader", think="const:10ms",
                 client_delays="const:0.5ms", delays="const:0.5ms", seed=18)
    assert r.counters["throughput"] == pytest.approx(2 / 0.011, rel=1e-3)


def test_zipf_keys():
    r = simulate(n=2, clients=4, ops=40_000, keys=100, skew=1.0, history=True, seed=19)
    share = (r.history["key"] == 0).mean()
    expected = 1 / sum(1 / i for i in range(1, 101))
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / 40_000)
    assert (r.history["key"] == 1).mean() == pytest.approx(expected / 2, rel=0.1)


def test_delay_arrays_are_resampled():
    arr = np.array([0.001, 0.004])
    # one client (two in lockstep would append at the same instants, and a FIFO link
    # delivers an entry sent with 1 ms right behind one sent with 4 ms at once)
    r = simulate(n=3, mode="async", clients=1, ops=4000, read_fraction=0.0, delays=arr, think="const:10ms",
                 seed=20)
    lag = r.lag_series()["lag_ms"].to_numpy()
    assert np.all(np.isclose(lag, 1.0) | np.isclose(lag, 4.0))
    assert abs(np.isclose(lag, 1.0).mean() - 0.5) < 0.03
    assert r.to_dict()["delays"] == "array[2]"


def test_summary_row():
    row = simulate(n=3, clients=2, ops=1000, seed=21).to_dict()
    for col in ("n", "mode", "reads", "ops", "ryw", "mr", "cp", "stale", "lost_acked", "read_p99_ms",
                "write_p50_ms", "lag_p99_ms", "throughput", "events_per_s", "ops_per_s"):
        assert col in row
    assert row["ops_done"] == 1000 and all(not isinstance(v, (list, dict)) for v in row.values())


def test_single_replica():
    r = simulate(n=1, mode="sync", reads="follower", clients=2, ops=1000, seed=22)
    c = r.counters
    assert c["ok"] == 1000 and (c["ryw"], c["mr"], c["cp"], c["stale"]) == (0, 0, 0, 0)


# -- (7) bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(n=0), "n must be >= 1, got 0"),
    (dict(n=3, mode="semisync=3"), r"semisync k must be within 1..n-1 = 1..2, got 3"),
    (dict(n=1, mode="semisync"), "semisync k"),
    (dict(rate=-5.0), "rate must be finite and > 0"),
    (dict(rate=0), "rate must be"),
    (dict(mode="eventual"), "unknown mode 'eventual'"),
    (dict(mode="sync=2"), "unknown mode"),
    (dict(reads="nearest"), "unknown reads 'nearest'"),
    (dict(read_fraction=1.5), "read_fraction must be within 0..1"),
    (dict(clients=0), "clients must be"),
    (dict(keys=0), "keys must be"),
    (dict(skew=-1.0), "skew must be"),
    (dict(delays="gamma:1ms"), "unknown distribution 'gamma'"),
    (dict(delays="exp:mean=fast"), "cannot read 'fast'"),
    (dict(delays=[]), "non-empty"),
    (dict(delays=[0.001, -1.0]), "finite and >= 0"),
    (dict(think=-1.0), "think must be"),
    (dict(crash_at=[0.5, 0.7], detect=0.5), "more than detect"),
    (dict(n=2, crash_at=[1.0, 3.0]), "need n >= 3"),
    (dict(timeout=0), "timeout must be"),
])
def test_bad_input_is_a_one_line_value_error(kw, match):
    with pytest.raises(ValueError, match=match) as info:
        simulate(ops=10, **kw)
    assert "\n" not in str(info.value)


def test_parsers():
    assert parse_delays("exp:1ms") == ("exp", 0.001, None)
    assert parse_delays("2.5ms") == ("const", 0.0025, None)
    assert parse_delays("const:100us") == ("const", pytest.approx(1e-4), None)
    assert parse_delays(0) == ("const", 0.0, None)
    assert parse_mode("semisync", 3) == ("semisync", 1)
    assert parse_mode("sync", 1) == ("sync", 0)
