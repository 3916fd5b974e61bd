"""Multi-leader replication (tradeoff.replication.multileader).

The model: a plain-Python replay of the simulator's recorded event log (the order
in which operations executed and writes reached each leader, by event number),
with each leader's state held in the CRDT types of tradeoff.replication.crdt
(LWWRegister, MVRegister, PNCounter, VersionVector) and causality kept as sets of
write ids; it recomputes every read's result and staleness, the conflicts, the
siblings, the final states, the convergence time and (pairwise, by definition)
the writes last-writer-wins loses, and must agree exactly. The schedule itself
is checked apart: FIFO links, nothing crosses a cut, constant delays exact.
Then the claims: no skew and no concurrency lose nothing; lost updates grow
with skew; the counter converges to the sum; version vectors lose nothing;
convergence is finite after writes stop and after a partition heals."""
import json
import math

import numpy as np
import pytest

from tradeoff.replication.crdt import CONCURRENT, LWWRegister, MVRegister, PNCounter, VersionVector
from tradeoff.replication.multileader import _build, parse_partitions, simulate


def replay(r):
    """The model run on r's event log: returns a dict of what it computed."""
    m, K, policy = r.settings["m"], r.settings["keys"], r.settings["policy"]
    o, w = r.ops, r.writes
    events = []
    for op in range(len(o["kind"])):
        events.append((int(o["seq"][op]), 0, op))
    nw = len(w["key"])
    for i in range(nw):
        for j in range(m):
            if j != w["node"][i] and np.isfinite(w["arrive"][i, j]):
                events.append((int(w["seq"][i, j]), 1, i, j))
    events.sort()
    new = {"lww": LWWRegister, "vv": MVRegister, "crdt": PNCounter}[policy]
    state = [[new() for _ in range(K)] for _ in range(m)]
    known = [[set() for _ in range(K)] for _ in range(m)]        # write ids in each leader's causal past
    ctx = [[VersionVector() for _ in range(K)] for _ in range(m)]
    issued = [set() for _ in range(K)]
    past, vv, carried = {}, {}, {}
    out = {"results": {}, "behind": {}, "conflicts": 0, "max_siblings": 0, "sibling": set(), "last_change": None}
    next_write = 0
    for ev in events:
        if ev[1] == 0:
            op = ev[2]
            if o["status"][op] != 1:
                continue
            k, i = int(o["key"][op]), int(o["client"][op]) % m
            if o["kind"][op] == 0:
                out["behind"][op] = len(issued[k] - known[i][k])
                s = state[i][k]
                out["results"][op] = ((s.value or 0) if policy == "lww" else len(s.siblings) if policy == "vv"
                                      else s.value)
                continue
            wid = next_write               # writes are numbered in execution order
            next_write += 1
            assert int(w["node"][wid]) == i and int(w["key"][wid]) == k
            past[wid] = set(known[i][k])
            known[i][k].add(wid)
            issued[k].add(wid)
            ctx[i][k] = ctx[i][k].copy().increment(i)
            vv[wid] = ctx[i][k].copy()
            if policy == "lww":
                state[i][k].set(wid + 1, float(w["ts"][wid]), i)
            elif policy == "vv":
                state[i][k].set(wid + 1, i)
                assert state[i][k].siblings[0][1] == vv[wid]
                out["max_siblings"] = max(out["max_siblings"], 1)
            else:
                state[i][k].add(i, int(w["delta"][wid]))
                # the write carries its leader's own counts (a delta of the state)
                own = state[i][k]
                carried[wid] = PNCounter().increment(i, own.p._c.get(i, 0)).decrement(i, own.n._c.get(i, 0))
            continue
        _, _, wid, j = ev
        k, i = int(w["key"][wid]), int(w["node"][wid])
        if vv[wid].compare(ctx[j][k]) == CONCURRENT:
            out["conflicts"] += 1
        known[j][k] |= past[wid] | {wid}
        ctx[j][k] = ctx[j][k].merge(vv[wid])
        before = state[j][k].copy()
        if policy == "lww":
            incoming = LWWRegister(wid + 1, float(w["ts"][wid]), i)
        elif policy == "vv":
            incoming = MVRegister()
            incoming._s = [(wid + 1, vv[wid])]
        else:
            incoming = carried[wid]
        state[j][k] = state[j][k].merge(incoming)
        if policy == "vv":
            sibs = state[j][k].siblings
            if len(sibs) > 1 and any(v == wid + 1 for v, _ in sibs):
                out["sibling"] |= {v - 1 for v, _ in sibs}
            out["max_siblings"] = max(out["max_siblings"], len(sibs))
        if state[j][k] != before:
            out["last_change"] = float(w["arrive"][wid, j])
    out.update(state=state, vv=vv, past=past, known=known)
    if policy == "lww":
        stamp = {x: (float(w["ts"][x]), int(w["node"][x])) for x in range(nw)}
        lost, causal, skew = set(), set(), set()
        for x in range(nw):
            for u in range(nw):
                if u == x or w["key"][u] != w["key"][x] or stamp[u] <= stamp[x]:
                    continue
                if x not in past[u]:
                    lost.add(x)
                    if w["t"][u] < w["t"][x]:
                        skew.add(x)
                if u in past[x]:
                    causal.add(x)
        out.update(lost=lost, causal=causal & lost, skew=skew)
    return out


def check_against_model(r):
    mod = replay(r)
    o, w, c, m = r.ops, r.writes, r.counters, r.settings["m"]
    policy = r.settings["policy"]
    nw = len(w["key"])
    for x in range(nw):
        assert list(w["vv"][x]) == [mod["vv"][x][j] for j in range(m)], f"vector of write {x + 1}"
    for op, res in mod["results"].items():
        assert o["result"][op] == res, (op, o["result"][op], res)
        assert o["behind"][op] == mod["behind"][op]
    assert c["conflicts"] == mod["conflicts"]
    assert c["stale"] == sum(1 for b in mod["behind"].values() if b > 0)
    for i in range(m):
        sim_state = r.sim.state(i)
        for k, s in enumerate(mod["state"][i]):
            if policy == "lww":
                assert sim_state[k] == (s.value or 0)
            elif policy == "vv":
                assert sim_state[k] == tuple(sorted(s.value))
            else:
                assert sim_state[k][0] == s.value
    if policy == "lww":
        L = r.losses
        assert set(np.flatnonzero(L["lost"])) == mod["lost"]
        assert set(np.flatnonzero(L["causal"])) == mod["causal"]
        assert set(np.flatnonzero(L["skew"])) == mod["skew"]
        assert c["lost_updates"] == len(mod["lost"])
    if policy == "vv":
        assert c["max_siblings"] == mod["max_siblings"]
        assert set(np.flatnonzero(w["sibling"])) == mod["sibling"]
    if c["converged"] and nw:
        end = max(float(r.sim.last_write), mod["last_change"] if mod["last_change"] is not None else -math.inf)
        assert c["convergence_s"] == pytest.approx(end - float(r.sim.last_write), abs=1e-12)
    return mod


def check_schedule(r):
    """FIFO links; nothing arrives while its link is cut; arrivals after sends."""
    w, m = r.writes, r.settings["m"]
    cuts = r.sim_cuts if hasattr(r, "sim_cuts") else None
    for a in range(m):
        for b in range(m):
            if a == b:
                continue
            sel = np.flatnonzero(w["node"] == a)
            arr = w["arrive"][sel, b]
            assert np.all(arr >= w["t"][sel])
            assert np.all(np.diff(arr) >= 0), "the link is FIFO"
    return cuts


CASES = [
    dict(m=3, policy="lww", ops=300, keys=3, skew=0.02, interval="exp:mean=5ms", delays="exp:mean=10ms"),
    dict(m=3, policy="lww", ops=300, keys=2, skew=[0.0, 0.05, -0.03], interval="exp:mean=5ms",
         delays="const:8ms", client_delays="exp:mean=1ms"),
    dict(m=4, policy="vv", ops=300, keys=3, interval="exp:mean=3ms", delays="exp:mean=10ms"),
    dict(m=3, policy="vv", ops=300, keys=2, interval="exp:mean=4ms", delays="exp:mean=10ms",
         partitions="0.2s-0.6s:{0}|{1,2}", failures=[(2, 0.1, 0.3)]),
    dict(m=3, policy="crdt", ops=300, keys=3, interval="exp:mean=3ms", delays="exp:mean=10ms",
         partitions="0.1s-0.4s:{0,1}|{2}"),
    dict(m=2, policy="lww", ops=250, keys=1, skew=0.01, interval="exp:mean=4ms", delays="lnkd-disk",
         failures=[(0, 0.2, 0.5)], client_delays="const:1ms"),
]


@pytest.mark.parametrize("kw", CASES)
def test_the_simulation_is_the_model(kw):
    for seed in (1, 2):
        r = simulate(seed=seed, history=True, **kw)
        r._check()
        check_against_model(r)
        check_schedule(r)
        assert r.counters["converged"]


def test_lww_loses_nothing_without_skew_or_concurrency():
    # writes 30 ms apart, every delay at most 20 ms: each write knows every earlier one
    for seed in range(3):
        r = simulate(m=3, policy="lww", ops=300, keys=2, read_fraction=0.3, interval="const:30ms",
                     delays=np.linspace(0.001, 0.02, 7), seed=seed)
        c = r.counters
        assert c["lost_updates"] == c["conflicts"] == c["lost_skew"] == 0
        assert c["stale"] == 0 and c["converged"]
        # with skew the same schedule loses writes to earlier ones (a later write's clock is behind)
        s = simulate(m=3, policy="lww", ops=300, keys=2, read_fraction=0.3, interval="const:30ms",
                     delays=np.linspace(0.001, 0.02, 7), skew=0.2, seed=seed).counters
        assert s["conflicts"] == 0 and s["lost_updates"] == s["lost_causal"] > 0


def test_lost_updates_grow_with_skew():
    means = []
    for skew in (0.0, 0.005, 0.02, 0.1):
        lost = [simulate(m=3, policy="lww", ops=400, keys=2, read_fraction=0.2, interval="exp:mean=20ms",
                         delays="exp:mean=5ms", skew=skew, seed=seed).counters for seed in range(8)]
        means.append(np.mean([c["lost_updates"] for c in lost]))
        if skew == 0:
            assert all(c["lost_causal"] == c["lost_skew"] == 0 for c in lost)
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_crdt_counter_converges_to_the_sum():
    r = simulate(m=4, policy="crdt", ops=3000, keys=4, interval="exp:mean=1ms", delays="exp:mean=30ms",
                 partitions="0.5s-1.5s:{0,1}|{2,3}", failures=[(3, 0.2, 0.8)], seed=5)
    expected = np.zeros(4, int)
    np.add.at(expected, r.writes["key"], r.writes["delta"].astype(int))
    for i in range(4):
        assert [s[0] for s in r.sim.state(i)] == expected.tolist()
    assert r.counters["lost_updates"] == 0 and r.counters["conflicts"] > 0 and r.counters["converged"]


def test_version_vectors_never_lose_a_write():
    r = simulate(m=3, policy="vv", ops=2000, keys=3, interval="exp:mean=1ms", delays="exp:mean=20ms",
                 skew=0.05, seed=3)
    w = r.writes
    vecs = [VersionVector({j: int(n) for j, n in enumerate(row)}) for row in w["vv"]]
    final = r.sim.state(0)
    for x in range(len(w["key"])):
        sibs = final[w["key"][x]]
        assert any(vecs[x] <= vecs[s - 1] for s in sibs), f"write {x + 1} is under no final sibling"
    assert r.counters["lost_updates"] == 0 and r.counters["max_siblings"] >= 2
    # the same schedule under lww loses writes
    assert simulate(m=3, policy="lww", ops=2000, keys=3, interval="exp:mean=1ms", delays="exp:mean=20ms",
                    skew=0.05, seed=3).counters["lost_updates"] > 0


def test_convergence_after_writes_stop_and_after_a_partition_heals():
    r = simulate(m=3, policy="lww", ops=500, keys=3, interval="exp:mean=1ms", delays="const:10ms", seed=4)
    c = r.counters
    assert c["converged"] and 0 <= c["convergence_s"] <= 0.010 + 1e-12
    # writes end around 0.5 s, inside the partition [0.2, 2): convergence waits for the heal
    p = simulate(m=3, policy="vv", ops=500, keys=3, interval="exp:mean=1ms", delays="const:10ms",
                 partitions="0.2s-2s:{0}|{1,2}", seed=4)
    pc = p.counters
    assert pc["converged"] and pc["held"] > 0
    heal_wait = 2.0 - float(p.sim.last_write)
    assert heal_wait <= pc["convergence_s"] <= heal_wait + 0.010 + 1e-9
    w = p.writes
    cross = (w["node"] == 0)[:, None] ^ (np.arange(3) == 0)[None, :]
    arr = w["arrive"][cross]
    assert not np.any((arr >= 0.2) & (arr < 2.0)), "nothing crosses the cut"
    # a leader down for good never converges
    d = simulate(m=2, policy="lww", ops=200, keys=2, interval="exp:mean=1ms", failures=[(1, 0.05, None)], seed=1)
    assert not d.counters["converged"] and d.counters["convergence_s"] == math.inf and d.counters["failed"] > 0


def test_constant_delay_is_exact_without_cuts():
    r = simulate(m=3, policy="crdt", ops=200, keys=2, interval="const:5ms", delays="const:7ms", seed=1)
    w = r.writes
    for j in range(3):
        sel = w["node"] != j
        assert np.allclose(w["arrive"][sel, j] - w["t"][sel], 0.007, atol=1e-12)


def test_invariants_between_steps_and_determinism():
    sim, _ = _build(m=3, policy="vv", ops=400, keys=3, interval="exp:mean=2ms", delays="exp:mean=10ms",
                    partitions="0.1s-0.3s:{0}|{1,2}", failures=[(1, 0.2, 0.4)], seed=9)
    cap = 0
    while not sim.run(max_events=cap):     # run up to `cap` events in all, then check
        sim._check()
        cap += 97
    sim._check()
    kw = dict(m=3, policy="lww", ops=3000, keys=5, skew=0.01, seed=11)
    a, b = simulate(**kw), simulate(**kw)
    for k in a.writes:
        assert np.array_equal(a.writes[k], b.writes[k], equal_nan=True)
    drop = ("wall_seconds", "ops_per_s")
    assert {k: v for k, v in a.counters.items() if k not in drop} == \
        {k: v for k, v in b.counters.items() if k not in drop}


@pytest.mark.parametrize("policy", ["lww", "vv", "crdt"])
def test_history_is_read_back(tmp_path, policy):
    from tradeoff.consistency import read_history

    r = simulate(m=3, policy=policy, ops=200, keys=2, client_delays="exp:mean=1ms", seed=2, history=True,
                 failures=[(0, 0.05, 0.08)])
    path = tmp_path / "h.jsonl"
    assert r.write_history(path) == 400
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert {x["type"] for x in lines} <= {"invoke", "ok", "fail"}
    h = read_history(path)
    assert len(h.ops) == 200
    if policy == "lww":
        values = {x["value"] for x in lines if x["f"] == "write"}
        assert all(x["value"] is None or x["value"] in values for x in lines if x["f"] == "read")


@pytest.mark.parametrize("kw, word", [
    (dict(m=0), "m"), (dict(policy="paxos"), "policy"), (dict(ops=0), "ops"), (dict(keys=0), "keys"),
    (dict(read_fraction=1.5), "read_fraction"), (dict(skew=-1), "skew"), (dict(skew=[0.1]), "skew"),
    (dict(delays="nonsense:3"), "delays"), (dict(interval=-1), "interval"), (dict(seed=1.5), "seed"),
    (dict(partitions="2s-5s:{0}|{1}"), "partitions"), (dict(partitions="5s-2s:{0}|{1,2}"), "partitions"),
    (dict(failures=[(7, 1, 2)]), "failures"), (dict(failures=[(0, 2, 1)]), "failures"),
    (dict(clients=0), "clients"),
])
def test_bad_arguments_name_themselves(kw, word):
    with pytest.raises(ValueError, match=word):
        _build(**kw)


def test_parse_partitions():
    assert parse_partitions("2s-5s:{0}|{1,2}; 6-7:{0,2}|{1}", 3) == [(2.0, 5.0, [{0}, {1, 2}]),
                                                                      (6.0, 7.0, [{0, 2}, {1}])]
