"""CAP under partitions (issue 11, section 4): the shared schedule parser and
timeline against a brute-force model; no partition changes nothing; a CP
configuration (single leader with a lease and a majority of acknowledgements,
or majority quorums with blocking read repair) refuses the minority side and
stays linearizable; an AP one (one-replica quorums, sloppy quorums, multiple
leaders) answers everyone and shows stale reads and conflicts; Cassandra's
consistency levels: the simulated availability matches the count."""
import itertools
import math

import numpy as np
import pytest

from tradeoff.replication import leader, leaderless, multileader
from tradeoff.replication.partitions import availability_by_side, parse_partitions, timeline
from tradeoff.replication.quorum import availability_independent, required


# ----------------------------------------------------------------------------- the schedule

def _can_talk_model(parts, a, b, t):
    """Two nodes can talk at t iff every partition active then groups them together."""
    return all(any(a in g and b in g for g in gs) for s, e, gs in parts if s <= t < e)


@pytest.mark.parametrize("spec, m", [
    ("1s-3s:{0}|{1,2}", 3),
    ("1s-3s:{0,1}|{2,3}; 2s-4s:{0,2}|{1,3}", 4),
    ("0.5-1:{0}|{1}|{2,3,4}; 0.7-2:{0,1,2}|{3,4}; 3-4:{4}|{0,1,2,3}", 5),
])
def test_timeline_matches_a_brute_force_model(spec, m):
    parts = parse_partitions(spec, m, "node")
    times, sides = timeline(parts, m)
    assert times[0] == 0 and np.all(np.diff(times) > 0)
    assert not sides[-1].any()                          # everyone talks after the last heal
    probes = sorted({*times.tolist(), *(times + 1e-3).tolist(), *(times - 1e-3).tolist()} - {-1e-3})
    for t in probes:
        seg = np.searchsorted(times, t, side="right") - 1
        for a, b in itertools.combinations(range(m), 2):
            assert (sides[seg, a] == sides[seg, b]) == _can_talk_model(parts, a, b, t), (t, a, b)


@pytest.mark.parametrize("spec, message", [
    ("2s-5s:{0}|{1}", "each node 0..2 once"), ("2s-5s:{0,1}|{1,2}", "once"), ("5s-2s:{0}|{1,2}", "after"),
    ("2s-5s:{0}", "groups like"), ("soon:{0}|{1,2}", "cannot read"), ("2s-5s:{a}|{1,2}", "numbers"),
])
def test_bad_schedules_are_one_clear_error(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_partitions(spec, 3, "node")


def test_multileader_uses_the_shared_parser():
    assert multileader.parse_partitions is parse_partitions


def test_availability_by_side_against_a_loop():
    rng = np.random.default_rng(3)
    cut = timeline(parse_partitions("1-2:{0}|{1,2,3,4}; 1.5-3:{0,1,2}|{3,4}", 5, "node"), 5)
    ok, node, t = rng.random(400) < 0.7, rng.integers(0, 5, 400), rng.uniform(0, 4, 400)
    got = availability_by_side(ok, node, t, cut, 5)
    buckets = {"cut": [], "minority": [], "majority": []}
    for o, n, x in zip(ok, node, t):
        parts = [(s, e, gs) for s, e, gs in parse_partitions("1-2:{0}|{1,2,3,4}; 1.5-3:{0,1,2}|{3,4}", 5)
                 if s <= x < e]
        if not parts:
            continue
        size = sum(all(any(n in g and q in g for g in gs) for _, _, gs in parts) for q in range(5))
        buckets["cut"].append(o)
        buckets["minority" if 2 * size <= 5 else "majority"].append(o)
    assert got["availability"] == pytest.approx(ok.mean())
    for name, xs in buckets.items():
        assert got[f"availability_{name}"] == pytest.approx(np.mean(xs)), name


# ----------------------------------------------------------------------------- no partition: no change

def _same_ops(a, b):
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("kw", [dict(r=1, w=1), dict(r=2, w=2, read_repair="blocking"),
                                dict(r=2, w=3, nodes=5, sloppy=True, failures=[(1, 0.05, 0.2)], anti_entropy=0.05)])
def test_leaderless_without_a_partition_is_unchanged(kw):
    base = dict(n=3, clients=6, ops=3000, keys=7, seed=4, **kw)
    m = kw.get("nodes", 3)
    a = leaderless.simulate(**base)
    b = leaderless.simulate(partitions="", **base)
    late = leaderless.simulate(partitions=f"500s-600s:{{0}}|{{{','.join(map(str, range(1, m)))}}}", **base)
    _same_ops(a.ops, b.ops)
    _same_ops(a.ops, late.ops)                          # a cut after the last operation changes none
    assert a.counters["stale"] == late.counters["stale"] and late.counters["held"] == 0


@pytest.mark.parametrize("mode, reads", [("async", "follower"), ("semisync=1", "leader"), ("sync", "sticky")])
def test_leader_without_a_partition_is_unchanged(mode, reads):
    base = dict(n=3, mode=mode, reads=reads, clients=6, ops=3000, keys=7, seed=4, history=True)
    a = leader.simulate(**base)
    late = leader.simulate(partitions="500s-600s:{0}|{1,2}", **base)
    _same_ops(a.sim.ops_arrays(), late.sim.ops_arrays())
    for k in ("stale", "ryw", "mr", "cp", "lost_acked"):   # (the late cut still elects a leader at 500 s)
        assert a.counters[k] == late.counters[k], k


# ----------------------------------------------------------------------------- CP and AP

def _history_verdict(res, tmp_path, name="h.jsonl"):
    from tradeoff.consistency import check
    from tradeoff.consistency.history import read_history

    path = tmp_path / name
    res.write_history(path)
    return check(read_history(path), "kv", timeout=60).verdict


# a client blocked on an operation in flight at the cut waits out its timeout: keep it short
CUTS = ["0.3s-1.2s:{0}|{1,2}", "0.3s-1.2s:{0,1}|{2}"]


@pytest.mark.parametrize("cut", CUTS)
def test_single_leader_with_a_lease_is_cp(cut, tmp_path):
    res = leader.simulate(n=3, mode="semisync=1", reads="leader", clients=6, ops=3000, read_fraction=0.6, keys=3,
                          think="exp:mean=1ms", detect=0.1, timeout=0.05, partitions=cut, seed=2, history=True)
    c = res.counters
    res._check()
    assert c["availability_minority"] < 0.5 and c["availability_majority"] > 0.5
    assert c["stale"] == 0 and c["lost_acked"] == 0 and c["unavailable"] > 0
    assert c["stepdowns"] == (1 if cut.endswith("{0}|{1,2}") else 0)
    assert _history_verdict(res, tmp_path) == "ok"


def test_an_async_leader_cut_off_loses_acknowledged_writes():
    res = leader.simulate(n=3, mode="async", reads="leader", clients=6, ops=3000, read_fraction=0.6, keys=3,
                          think="exp:mean=1ms", detect=0.1, partitions=CUTS[0], seed=2)
    assert res.counters["lost_acked"] > 0 and res.counters["failovers"] == 1


@pytest.mark.parametrize("cut", CUTS)
def test_majority_quorums_are_cp(cut, tmp_path):
    res = leaderless.simulate(n=3, r=2, w=2, read_repair="blocking", clients=6, ops=3000, read_fraction=0.6,
                              keys=3, think="exp:mean=1ms", timeout=0.05, partitions=cut, seed=2, history=True)
    c = res.counters
    res._check()
    assert c["availability_minority"] < 0.5 and c["availability_majority"] == 1.0 and c["stale"] == 0
    assert _history_verdict(res, tmp_path) == "ok"


def test_one_replica_quorums_are_ap(tmp_path):
    res = leaderless.simulate(n=3, r=1, w=1, clients=6, ops=3000, read_fraction=0.6, keys=3,
                              think="exp:mean=1ms", partitions=CUTS[0], anti_entropy=0.05, seed=2, history=True)
    c = res.counters
    assert c["availability"] == 1.0 and c["availability_minority"] == 1.0 and c["stale"] > 0
    assert _history_verdict(res, tmp_path) == "violation"


def test_sloppy_quorums_keep_answering_and_hand_hints_over_after_the_heal():
    kw = dict(n=3, r=2, w=2, nodes=5, clients=10, ops=4000, keys=20, think="exp:mean=1ms",
              partitions="0.2s-0.8s:{0,1}|{2,3,4}", seed=1)
    strict = leaderless.simulate(**kw).counters
    sloppy = leaderless.simulate(sloppy=True, **kw)
    c = sloppy.counters
    sloppy._check()
    assert strict["availability_cut"] < 1.0 and c["availability"] == 1.0
    # (a hint stored after the heal, by a held write, waits for the next recovery: a known gap)
    assert c["hints_stored"] > 0 and c["hints_delivered"] > 0.9 * c["hints_stored"] and c["stale"] > 0


def test_multileader_is_ap_and_conflicts_at_the_heal():
    res = multileader.simulate(m=3, policy="lww", clients=6, ops=3000, keys=3, read_fraction=0.5,
                               partitions="0.5s-2s:{0}|{1,2}", seed=3)
    c = res.counters
    assert c["availability"] == 1.0 and c["availability_minority"] == 1.0
    assert c["conflicts"] > 0 and c["lost_updates"] > 0 and c["held"] > 0 and c["converged"]


def test_messages_across_a_cut_are_held_not_lost():
    res = leaderless.simulate(n=3, r=1, w=3, clients=6, ops=2000, keys=3, timeout=5.0,
                              partitions="0.1s-0.3s:{0}|{1,2}", seed=5)
    c = res.counters
    res._check()
    assert c["held"] > 0 and c["dropped"] == 0


# ----------------------------------------------------------------------------- Cassandra levels

@pytest.mark.parametrize("level", ["ONE", "TWO", "QUORUM", "ALL"])
def test_level_availability_matches_the_simulation(level):
    """Each of 6 nodes is down from the start with probability p (per run); a
    key's 3 owners are 3 distinct nodes, so the share of operations served is
    :func:`availability_independent` of the level, within Monte Carlo error."""
    n, nodes, p, runs = 3, 6, 0.3, 80
    k = required(level, n)
    rng = np.random.default_rng(11)
    shares = []
    for run in range(runs):
        down = [(i, 0.0, None) for i in range(nodes) if rng.random() < p]
        res = leaderless.simulate(n=n, r=k, w=k, nodes=nodes, clients=4, ops=200, keys=60, failures=down,
                                  seed=run)
        shares.append(res.counters["availability"])
    shares = np.asarray(shares)
    expect = availability_independent(level, n, p_down=p)
    se = shares.std(ddof=1) / math.sqrt(runs) + 1e-3
    assert abs(shares.mean() - expect) < 4 * se, (level, shares.mean(), expect, se)


# ----------------------------------------------------------------------------- the leaderless model, cut

from pymodels import MASK64, mix64  # noqa: E402
from test_leaderless import INITIAL, Model, draw, newer  # noqa: E402  (the plain model of _leaderless)


class CutModel(Model):
    """:class:`test_leaderless.Model` with partitions, written plainly: a group
    per node and segment; client c beside node c mod M; targets on the side of
    whoever asks; a message between two nodes the cut separates is held until
    they can talk; hints go out when holder and owner can talk and are up;
    anti-entropy within each side."""

    def __init__(self, cut, **kw):
        super().__init__(**kw)
        self.seg_t, self.sides = cut
        self.seg = 0
        self.frm = None
        self.finishing = -1
        self.count["held"] = 0
        self.leaves = 16
        for name in ("ae_merkle_hashes", "ae_merkle_keys", "ae_full_keys"):
            self.count[name] = 0

    def side(self, node):
        return int(self.sides[self.seg][node])

    def send(self, msg, t):
        kind = msg["kind"]
        if kind in ("write", "read", "wb"):
            msg["src"] = self.recs[msg["rec"]]["coord"]
        elif kind == "repair":
            msg["src"] = self.finishing
        else:
            msg["src"] = self.hints[msg["hint"]]["holder"]
        return super().send(msg, t)

    def finish(self, ri):
        self.finishing = self.recs[ri]["coord"]
        super().finish(ri)

    def targets(self, key):
        me = self.side(self.frm)
        out, dead = [], []
        for i in range(self.M):
            node = (self.home[key] + i) % self.M
            ok = self.alive[node] and self.side(node) == me
            if i < self.N:
                if ok:
                    out.append((node, -1))
                else:
                    dead.append(node)
            elif not self.sloppy or len(out) >= self.N:
                break
            elif ok:
                out.append((node, dead[len(out) - (self.N - len(dead))]))
        return out

    def issue(self, c, t):
        self.frm = c % self.M
        super().issue(c, t)

    def at_coord(self, c, t):
        cl = self.cl[c]
        co = cl["coord"]
        if self.alive[co] and self.side(co) != self.side(c % self.M):
            cl.update(state="lost", t=math.inf)
            self.sched_client(c)
            return
        self.frm = co
        super().at_coord(c, t)

    def reconnect(self, a, b):
        for g in range(self.seg + 1, len(self.seg_t)):
            if self.sides[g][a] == self.sides[g][b]:
                return float(self.seg_t[g])
        return math.inf

    def message(self, s, t):
        m = self.msgs[s]
        if self.side(m["src"]) != self.side(m["dst"]):
            self.count["held"] += 1
            self.pending[self.src_msg + s] = self.reconnect(m["src"], m["dst"])
            return
        super().message(s, t)

    def send_hints(self, node, t):
        for i, h in enumerate(self.hints):
            if (h["state"] == "pending" and (node is None or node in (h["owner"], h["holder"]))
                    and self.alive[h["holder"]] and self.alive[h["owner"]]
                    and self.side(h["holder"]) == self.side(h["owner"])):
                h["state"] = "flight"
                self.send(dict(kind="hint", dst=h["owner"], key=h["key"], v=h["v"], hint=i),
                          t + draw(self.legs[0], self.r_net))

    def failure(self, t):
        when, node, up = self.fail[self.next_fail]
        if up == 2:
            self.next_fail += 1
            self.seg = node
            self.send_hints(None, t)
        elif up and not self.alive[node]:
            self.next_fail += 1
            self.alive[node] = True
            self.send_hints(node, t)
        else:
            super().failure(t)
            return
        self.pending[0] = self.fail[self.next_fail][0] if self.next_fail < len(self.fail) else math.inf

    def merkle(self):
        """Dynamo 4.7: per key range (the keys whose home is g) and pair of live
        owners on one side, compare Merkle trees top-down; count hashes and keys."""
        L = self.leaves
        for g in range(self.M):
            ks = [k for k in range(self.K) if self.home[k] == g]
            if not ks:
                continue
            owners = [(g + i) % self.M for i in range(self.N)]
            leaf_of = [o * L // len(ks) for o in range(len(ks))]
            hashes = []
            for a in owners:
                h = [0] * L
                for o, k in enumerate(ks):
                    h[leaf_of[o]] = (h[leaf_of[o]] + mix64(self.store.get((a, k), INITIAL)[1] ^ mix64(k + 1))) & MASK64
                hashes.append(h)
            for i, j in itertools.combinations(range(self.N), 2):
                a, b = owners[i], owners[j]
                if not (self.alive[a] and self.alive[b] and self.side(a) == self.side(b)):
                    continue
                diff = [hashes[i][x] != hashes[j][x] for x in range(L)]
                self.count["ae_full_keys"] += 2 * len(ks)
                self.count["ae_merkle_hashes"] += 1
                span = L
                while span > 1:
                    self.count["ae_merkle_hashes"] += 2 * sum(any(diff[x:x + span]) for x in range(0, L, span))
                    span //= 2
                self.count["ae_merkle_keys"] += 2 * sum(1 for o in range(len(ks)) if diff[leaf_of[o]])

    def anti_entropy(self, t):
        self.count["ae_rounds"] += 1
        self.merkle()
        for k in range(self.K):
            owners = [(self.home[k] + i) % self.M for i in range(self.N)]
            for node in owners:
                if not self.alive[node]:
                    continue
                best = INITIAL
                for other in owners:
                    if (self.alive[other] and self.side(other) == self.side(node)
                            and newer(self.store.get((other, k), INITIAL), best)):
                        best = self.store[(other, k)]
                if self.apply(node, k, best):
                    self.count["ae_keys"] += 1
        self.pending[1] = t + self.ae if self.completed < self.ops else math.inf


def _cut_model(**kw):
    from test_leaderless import model_of

    base, sim = model_of(**{k: v for k, v in kw.items() if k != "partitions"})
    _, s = leaderless._build(**kw)
    cut = s["_cut"]
    fail = leaderless.parse_failures(kw.get("failures"), s["nodes"])
    rows = sorted([(float(t), 0, i, int(nd), int(u)) for i, (t, nd, u) in enumerate(zip(*fail))]
                  + [(float(cut[0][g]), 1, g, g, 2) for g in range(1, len(cut[0]))])
    merged = (np.array([r[0] for r in rows]), np.array([r[3] for r in rows]), np.array([r[4] for r in rows]))
    model = CutModel(cut, n=base.N, nodes=base.M, r=base.R, w=base.W, repair=base.repair, sloppy=base.sloppy,
                     clients=base.C, ops=base.ops, read_fraction=base.read_fraction, keys=base.K, cdf=base.cdf,
                     legs=base.legs, cli=base.cli, think=base.think, timeout=base.timeout, offsets=base.offsets,
                     failures=merged, anti_entropy=base.ae, seed=kw.get("seed", 0))
    sim, _ = leaderless._build(**kw)
    return model, sim


CUT_CASES = [        # (runs last about 0.15 s)
    dict(n=3, r=2, w=2, read_repair="blocking", partitions="0.02-0.08:{0}|{1,2}", client_latency="exp:mean=0.2ms",
         timeout=0.01),
    dict(n=3, r=1, w=1, read_repair="async", partitions="0.01-0.04:{0,1}|{2}; 0.03-0.09:{0,2}|{1}",
         anti_entropy=0.002, client_latency="exp:mean=0.2ms"),
    dict(n=3, r=2, w=2, nodes=5, sloppy=True, partitions="0.02-0.07:{0,1}|{2,3,4}; 0.08-0.1:{0,1,2}|{3,4}",
         failures=[(3, 0.01, 0.05)], timeout=0.004, client_latency="exp:mean=0.2ms"),
    dict(n=2, r=1, w=2, nodes=4, sloppy=True, partitions="0-0.03:{0}|{1}|{2,3}; 0.04-0.06:{0,3}|{1,2}",
         anti_entropy=0.001, think="exp:mean=0.3ms", timeout=0.003),
]


@pytest.mark.parametrize("kw", CUT_CASES)
def test_the_cut_simulation_matches_the_model(kw):
    model, sim = _cut_model(**dict(kw, clients=6, ops=500, keys=4, seed=7))
    model.run()
    sim.run()
    sim._check()
    o = sim.ops_arrays()
    for name, col in model.res.items():
        np.testing.assert_array_equal(o[name], np.array(col, dtype=o[name].dtype), err_msg=name)
    got = {k: int(getattr(sim, k)) for k in model.count if k != "unavailable"}
    got["unavailable"] = int(sim.unavailable_reads + sim.unavailable_writes)
    assert got == model.count
    assert model.count["held"] > 0          # the cut was crossed (and the runs also refuse or hint)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3), extra=st.integers(0, 2), r=st.integers(1, 3), w=st.integers(1, 3),
       repair=st.sampled_from(leaderless.REPAIRS), sloppy=st.booleans(), seed=st.integers(0, 2**32),
       labels=st.lists(st.integers(0, 2), min_size=5, max_size=5), start=st.integers(0, 40),
       length=st.integers(1, 60), ae=st.booleans())
def test_random_cuts_match_the_model(n, extra, r, w, repair, sloppy, seed, labels, start, length, ae):
    nodes = n + extra
    groups = [set(i for i in range(nodes) if labels[i] == g) for g in range(3)]
    groups = [g for g in groups if g]
    if len(groups) < 2:
        groups = [{0}, set(range(1, nodes))] if nodes > 1 else None
    parts = None if groups is None or not all(groups) else [(start * 1e-3, (start + length) * 1e-3, groups)]
    kw = dict(n=n, r=min(r, n), w=min(w, n), nodes=nodes, read_repair=repair, sloppy=sloppy, clients=4, ops=150,
              keys=3, seed=seed, timeout=0.004, latency="exp:mean=0.5ms", client_latency="exp:mean=0.1ms",
              anti_entropy=0.003 if ae else None, partitions=parts)
    model, sim = _cut_model(**kw) if parts else (None, None)
    if model is None:
        return
    model.run()
    sim.run()
    sim._check()
    o = sim.ops_arrays()
    for name, col in model.res.items():
        np.testing.assert_array_equal(o[name], np.array(col, dtype=o[name].dtype), err_msg=name)
    assert int(sim.held) == model.count["held"]


def test_merkle_exchange_sends_between_the_copies_needed_and_everything():
    kw = dict(n=3, r=1, w=1, clients=8, ops=20_000, keys=2000, anti_entropy=0.05, seed=3,
              failures=[(2, 0.5, 1.5)])
    c = leaderless.simulate(**kw).counters
    assert c["ae_rounds"] > 10 and c["ae_keys"] > 0
    # every copy updated lies in a leaf that differs; a full exchange sends every key
    assert c["ae_keys"] <= c["ae_merkle_keys"] < c["ae_full_keys"] / 4
    assert c["ae_merkle_bytes"] < c["ae_full_bytes"] / 4
    finer = leaderless.simulate(merkle_leaves=256, **kw).counters
    assert finer["ae_keys"] <= finer["ae_merkle_keys"] < c["ae_merkle_keys"]     # finer leaves: fewer keys
    assert finer["ae_merkle_hashes"] > c["ae_merkle_hashes"]                     # ... more hashes
    with pytest.raises(ValueError, match="power of two"):
        leaderless.simulate(merkle_leaves=12, **kw)
