"""Multi-leader replication: write conflicts between data centres and what each way
of resolving them costs (Kleppmann, *Designing Data-Intensive Applications*,
O'Reilly 2017, ch. 5 "Multi-Leader Replication", "Handling Write Conflicts" and
"Detecting Concurrent Writes"; Shapiro, Preguiça, Baquero and Zawirski,
"Conflict-free replicated data types", SSS 2011 / INRIA RR 7506).

M leaders, one per data centre; clients write to their local leader, which
answers at once and replicates asynchronously to the others over FIFO links with
delays from a distribution or a :mod:`.latency` model. Leaders' clocks are
skewed (a fixed offset each), leaders may crash and recover (no data is lost:
they are unavailable meanwhile), and partitions cut the links between groups of
leaders for a while: messages across a cut are **held** (on the sender while
the link is cut, on the receiver if the cut starts while they fly) and delivered
after it heals; nothing is dropped. The simulation is a discrete-event one in
Cython (:mod:`._multileader`, on the package's shared event core, without the
GIL); its docstring gives the model. Conflict resolution, per key:

- ``lww``: last writer wins on (the writer's skewed clock, leader id). Every
  write is acknowledged; ``lost_updates`` counts those silently lost: beaten by
  a write of the key with a larger timestamp that did not have it in its causal
  past (version vectors per key: Parker et al. 1983, Fidge 1988, Mattern 1988).
  ``lost_causal``: beaten by a write it knew (a later write losing to an
  earlier one: the skew); ``lost_concurrent``: the rest, beaten only by
  concurrent writes; ``lost_skew``: beaten by a write issued earlier in real
  time (none on exact clocks);
- ``vv``: version vectors keep concurrent versions as siblings (Dynamo, Riak):
  ``conflicts`` siblings created, ``max_siblings``, ``final_siblings``; nothing
  is lost (``lost_updates`` counts acknowledged writes under no final sibling);
- ``crdt``: every write adds +1 or -1 to a PN-counter per key; the replicas
  converge to the sum of all of them (``lost_updates`` is the difference).

``conflicts`` (all policies): deliveries of a write concurrent with what the
receiving leader had seen of the key. ``stale`` reads: the leader lacked a write
of the key some leader had executed before the read. Convergence: the time from
the last write until all leaders hold the same state (the last delivery that
changed one).

>>> r = simulate(m=3, policy="lww", clients=6, ops=4000, keys=5, skew=0.01, seed=1)
>>> r.counters["lost_updates"] > 0, r.counters["converged"]
(True, True)
>>> simulate(m=3, policy="vv", clients=6, ops=4000, keys=5, seed=1).counters["lost_updates"]
0

Cost: O(log(M^2 + C) + M) per event; 2 events per operation and M - 1 per write.
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from . import _multileader
from .leader import _pct, _real, _shown, _whole, parse_delays
from .partitions import availability_by_side, parse_partitions, timeline

__all__ = ["simulate", "MultiLeaderResult", "POLICIES", "parse_partitions", "parse_failures", "lww_losses"]

#: conflict-resolution policies
POLICIES = tuple(_multileader.POLICIES)
#: samples drawn from a latency model (resampled uniformly by the simulation)
DELAY_SAMPLES = 1 << 16

def parse_failures(failures, m: int):
    """``[(leader, down_at, up_at)]`` (``up_at`` None or inf: never back) -> per
    leader a sorted list of disjoint (down, up) intervals.

    >>> parse_failures([(1, 2.0, 3.5)], 2)
    [[], [(2.0, 3.5)]]
    """
    out = [[] for _ in range(m)]
    if failures is None:
        return out
    if isinstance(failures, (str, bytes)) or not hasattr(failures, "__iter__"):
        raise ValueError(f"failures must be a list of (leader, down_at, up_at), got {failures!r}")
    for i, item in enumerate(failures):
        try:
            node, down, up = item
        except (TypeError, ValueError):
            raise ValueError(f"failures[{i}] must be (leader, down_at, up_at), got {item!r}") from None
        node = _whole(node, f"failures[{i}] leader", 0, m - 1)
        down = _real(down, f"failures[{i}] down_at")
        if up is None or (isinstance(up, numbers.Real) and math.isinf(up) and up > 0):
            up = math.inf
        else:
            up = _real(up, f"failures[{i}] up_at")
            if up <= down:
                raise ValueError(f"failures[{i}]: up_at must be after down_at, got {up!r} <= {down!r}")
        for a, b in out[node]:
            if down < b and a < up:
                raise ValueError(f"failures[{i}]: leader {node} is already down then")
        out[node].append((down, up))
    return [sorted(x) for x in out]


def _union(intervals):
    """Sorted, disjoint union of half-open intervals."""
    out = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _cuts(m: int, partitions, downs):
    """Per link a -> b (index a*m + b), when it is cut: either end down, or a
    partition between them."""
    cuts = []
    for a in range(m):
        for b in range(m):
            if a == b:
                cuts.append([])
                continue
            iv = list(downs[a]) + list(downs[b])
            for s, e, groups in partitions:
                if not any(a in g and b in g for g in groups):
                    iv.append((s, e))
            cuts.append(_union(iv))
    return cuts


def _delays(spec, seed: int, what: str):
    """A delay setting (kind, mean, array) in seconds: a spec of
    :func:`.leader.parse_delays` (``exp:mean=1ms``, ``const:1ms``, seconds, an
    array of seconds), or a :mod:`.latency` model or its name (``lnkd-ssd``,
    ``wan``, ``pareto:xm=1ms,alpha=2``, ...; in ms), whose W leg is sampled
    (every message between leaders crosses data centres, so a WAN model's extra
    delay is always added)."""
    from .latency import LatencyModel, parse_latency

    if not isinstance(spec, LatencyModel):
        try:
            return parse_delays(spec, what), spec if isinstance(spec, (str, numbers.Real)) else None
        except ValueError as first:
            if not isinstance(spec, str):
                raise
            try:
                spec = parse_latency(spec)
            except ValueError as exc:
                raise ValueError(f"{what}: {exc} ({first})") from None
    rng = np.random.default_rng([seed & (2**63 - 1), 0x6D6C64])
    x = LatencyModel.sample(spec, "W", DELAY_SAMPLES, rng) + spec.dc_delay
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64) * 1e-3)
    return ("array", float(arr.mean()), arr), spec.name


def _suffix_min(vals, grp, big):
    """Per position i, the minimum of ``vals`` over the later positions of i's
    group (``big`` if none); ``grp`` nondecreasing, 0 <= vals < big."""
    x = vals + grp * big
    incl = np.minimum.accumulate(x[::-1])[::-1]
    out = np.full(len(x), big, np.int64)
    same = grp[1:] == grp[:-1]
    out[:-1][same] = incl[1:][same] - grp[:-1][same] * big
    return out


def lww_losses(w: dict, keys: int, m: int) -> dict:
    """The writes last-writer-wins discards silently, from the write arrays
    (``Simulation.write_arrays()``), as boolean arrays by write:

    - ``lost``: some write of the same key with a larger (ts, node) did not have
      it in its causal past: the write was overwritten by one that did not know
      it (Kleppmann ch. 5, "Last write wins (discarding concurrent writes)");
    - ``causal``: lost, and beaten by a write in its own causal past (a later
      write losing to an earlier one it knew: only clock skew does that);
      ``lost & ~causal`` were beaten only by concurrent writes;
    - ``skew``: lost, and beaten by a write issued earlier in real time (never
      with exact clocks).

    ``winner``: per key the index of the final value (-1: never written). A
    write's vector counts, per leader, that leader's writes of the key in its
    causal past (a prefix of them), so u happened before w iff
    ``vv(w)[node(u)] >= own(u)`` with ``own(u) = vv(u)[node(u)]``. Sorting each
    key's writes by (ts, node), each test is a minimum over the writes ranked
    above: O(writes x M log writes)."""
    key, node, vv = w["key"].astype(np.int64), w["node"].astype(np.int64), w["vv"].astype(np.int64)
    n = len(key)
    winner = np.full(keys, -1, np.int64)
    if n == 0:
        z = np.zeros(0, bool)
        return {"lost": z, "causal": z, "skew": z, "winner": winner}
    own = vv[np.arange(n), node]
    order = np.lexsort((node, w["ts"], key))
    winner[key[order]] = order          # the last of each key's run wins
    skey, snode, sown, svv = key[order], node[order], own[order], vv[order]
    grp = np.concatenate([[0], np.cumsum(skey[1:] != skey[:-1])])
    trank = np.unique(w["t"], return_inverse=True)[1].reshape(-1)[order].astype(np.int64)
    big = int(max(vv.max(), trank.max())) + 2
    lost = np.zeros(n, bool)
    causal = np.zeros(n, bool)
    for j in range(m):
        mine = snode == j
        # a write ranked above that counts fewer of leader j's writes than w's own number
        lost[mine] |= _suffix_min(svv[:, j], grp, big)[mine] < sown[mine]
        # a write of leader j ranked above that w's vector counts
        causal |= _suffix_min(np.where(mine, sown, big - 1), grp, big) <= svv[:, j]
    skew = lost & (_suffix_min(trank, grp, big) < trank)
    out = {"lost": np.empty(n, bool), "causal": np.empty(n, bool), "skew": np.empty(n, bool), "winner": winner}
    out["lost"][order] = lost
    out["causal"][order] = causal & lost
    out["skew"][order] = skew
    return out


@dataclass
class MultiLeaderResult:
    """One run: its settings, the counters (:meth:`to_dict` is the one-row
    summary), the per-leader table ``leaders`` and, with ``history=True``, the
    operations (:meth:`write_history` writes them as Jepsen-style JSON lines).

    ``counters``: ``ops_done``, ``ok``, ``failed`` (operations that reached a
    leader while it was down), ``reads``, ``writes``, ``conflicts``,
    ``lost_updates`` and (lww) ``lost_concurrent``, ``lost_causal``,
    ``lost_skew``; (vv) ``sibling_writes`` (writes kept beside another version
    somewhere), ``max_siblings``, ``final_siblings`` (siblings over the keys
    holding more than one at the end); (crdt) ``final_total``, ``expected_total``;
    ``stale`` reads, ``stale_pct``, ``behind_mean`` (writes missed per stale
    read), ``converged``, ``convergence_s`` (from the last write until every
    leader holds the same state), ``held`` (messages delayed by a cut),
    ``availability`` (share of the operations that succeeded) and, under
    partitions, ``availability_cut``, ``availability_minority``,
    ``availability_majority`` (:func:`.partitions.availability_by_side`),
    ``read_p50_ms``, ``read_p99_ms``, ``write_p50_ms``, ``write_p99_ms``,
    ``sim_seconds``, ``events``, ``wall_seconds``, ``ops_per_s`` (operations per
    wall-clock second).

    >>> r = simulate(m=2, policy="crdt", clients=4, ops=2000, keys=3, seed=2)
    >>> r.counters["final_total"] == r.counters["expected_total"], r.counters["lost_updates"]
    (True, 0)
    """
    settings: dict
    counters: dict
    leaders: object
    history: object = None
    wall: float = 0.0
    sim: object = field(default=None, repr=False)
    #: per write (see ``_multileader.Simulation.write_arrays``)
    writes: dict = field(default=None, repr=False)
    #: per operation (see ``_multileader.Simulation.ops_arrays``)
    ops: dict = field(default=None, repr=False)
    #: lww: :func:`lww_losses`
    losses: dict = field(default=None, repr=False)

    def to_dict(self) -> dict:
        row = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
               for k, v in self.settings.items()}
        row.update(self.counters)
        return row

    def write_history(self, path) -> int:
        """Write the operations as JSON lines in time order: ``{"process": c,
        "type": "invoke"|"ok"|"fail", "f": ..., "key": k, "value": v, "time":
        ns}``. lww: ``write`` of a unique value, ``read`` of the value (null:
        never written); vv: ``read`` returns the sorted list of sibling values;
        crdt: ``add`` of +1 or -1 and ``read`` of the counter. An operation's
        invocation is when its client sends it (after the client's previous
        one ends). Written to a temporary file, then renamed; returns the lines."""
        h = self.history
        if h is None:
            raise ValueError("no history was recorded: run simulate(..., history=True)")
        policy = self.settings["policy"]
        o = self.ops
        n = len(o["kind"])
        lines = []
        for op in range(n):
            c, k, kind, st = int(o["client"][op]), int(o["key"][op]), int(o["kind"][op]), int(o["status"][op])
            if policy == "crdt":
                f = "add" if kind == 1 else "read"
                inv = int(o["sign"][op]) if kind == 1 else None
            else:
                f = "write" if kind == 1 else "read"
                inv = int(o["result"][op]) if kind == 1 and st == 1 else None
            if kind == 1 and policy != "crdt" and st != 1:
                inv = -(op + 1)            # a write that failed: a value no one can read
            if st != 1:
                out = inv
            elif kind == 1:
                out = inv
            elif policy == "lww":
                out = int(o["result"][op]) or None
            elif policy == "vv":
                out = sorted(int(x) for x in o["sibs"][op][: int(o["result"][op])])
            else:
                out = int(o["result"][op])
            status = "ok" if st == 1 else "fail"
            lines.append((h["start"][op], 2 * op, c, "invoke", f, k, inv))
            lines.append((o["done"][op], 2 * op + 1, c, status, f, k, out))
        lines.sort(key=lambda x: (round(1e9 * x[0]), x[1]))
        import json

        from .._atomic import atomic_path

        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(
                f'{{"process":{c},"type":"{typ}","f":"{f}","key":{k},"value":{json.dumps(v)},'
                f'"time":{int(round(1e9 * t))}}}\n' for t, _, c, typ, f, k, v in lines)
        return len(lines)

    def _check(self):
        return self.sim._check()


def simulate(m: int = 3, policy: str = "lww", clients=None, ops: int = 100_000, read_fraction: float = 0.5,
             keys: int = 100, key_skew: float = 0.0, delays="exp:mean=50ms", interval="exp:mean=1ms",
             skew=0.0, partitions=None, failures=None, seed: int = 0, history: bool = False, *,
             client_delays=0.0) -> MultiLeaderResult:
    """Simulate multi-leader replication and measure conflicts, lost updates,
    siblings, staleness and convergence.

    - ``m`` leaders (data centres); ``policy``: ``"lww"``, ``"vv"`` or ``"crdt"``;
    - ``clients`` (default 2 m), client c at leader c % m; ``ops`` operations in
      all, arriving one after another with gaps ``interval`` (a delay spec:
      ``"exp:mean=1ms"`` is Poisson at 1000/s; ``"const:100ms"`` spaces them),
      each to a random client; a ``read_fraction`` of reads, over ``keys``
      keys, Zipf with exponent ``key_skew`` (0: uniform); crdt writes add +1 or
      -1 at random;
    - ``delays``: one-way delay between leaders (seconds: a number, an array,
      ``"exp:mean=50ms"``, ``"const:50ms"``; or a :mod:`.latency` model or
      name, in ms: ``"lnkd-disk"``, ``"wan"``, ``"pareto:xm=20ms,alpha=2"``);
      ``client_delays``: client <-> local leader (default 0);
    - ``skew``: clock offsets of the leaders: a number s (each drawn uniformly
      in [-s, s] from the seed) or m numbers (seconds);
    - ``partitions``: ``"2s-5s:{0}|{1,2}"`` (``;`` between several) or
      ``[(start, end, [{0}, {1, 2}])]``; ``failures``: ``[(leader, down_at,
      up_at)]``; see the module's docstring for what is held;
    - ``history``: record the operations for :meth:`MultiLeaderResult.write_history`.
    """
    import pandas as pd

    sim, settings = _build(m, policy, clients, ops, read_fraction, keys, key_skew, delays, interval, skew,
                           partitions, failures, seed, history, client_delays)
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    return _result(sim, settings, wall, pd)


def _build(m=3, policy="lww", clients=None, ops=100_000, read_fraction=0.5, keys=100, key_skew=0.0,
           delays="exp:mean=50ms", interval="exp:mean=1ms", skew=0.0, partitions=None, failures=None, seed=0,
           history=False, client_delays=0.0):
    """Check the arguments of :func:`simulate` and set up the simulation (not run:
    the tests step it and call ``_check()`` between steps)."""
    m = _whole(m, "m", 1, 4096)
    if not isinstance(policy, str) or policy.strip().lower() not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    policy = policy.strip().lower()
    clients = 2 * m if clients is None else _whole(clients, "clients", 1, 2**31 - 2 - m * m)
    ops = _whole(ops, "ops", 1, 2**40)
    read_fraction = _real(read_fraction, "read_fraction")
    if read_fraction > 1:
        raise ValueError(f"read_fraction must be within 0..1, got {read_fraction!r}")
    keys = _whole(keys, "keys", 1, 2**31 - 1)
    if m * m * keys > 2**31:
        raise ValueError(f"m * m * keys must be <= 2^31, got {m} * {m} * {keys}")
    key_skew = _real(key_skew, "key_skew")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    seed = int(seed) & (2**64 - 1)
    net, net_name = _delays(delays, seed, "delays")
    cli = parse_delays(client_delays, "client_delays")
    gap = parse_delays(interval, "interval")
    if isinstance(skew, (str, bytes)) or isinstance(skew, bool):
        raise ValueError(f"skew must be a number or {m} numbers (seconds), got {skew!r}")
    if isinstance(skew, numbers.Real):
        s = _real(skew, "skew")
        offsets = np.random.default_rng([seed & (2**63 - 1), 0x736B6577]).uniform(-1.0, 1.0, m) * s
    else:
        try:
            offsets = np.asarray(skew, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"skew must be a number or {m} numbers (seconds), got {skew!r}") from None
        if offsets.shape != (m,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"skew must be a number or {m} finite numbers (seconds), got {skew!r}")
    parts = parse_partitions(partitions, m)
    downs = parse_failures(failures, m)
    cdf = None
    if key_skew > 0:
        wts = np.arange(1, keys + 1, dtype=np.float64) ** -key_skew
        cdf = np.cumsum(wts)
        cdf /= cdf[-1]
    settings = dict(m=m, policy=policy, clients=clients, ops=ops, read_fraction=read_fraction, keys=keys,
                    key_skew=key_skew, delays=net_name if net_name is not None else _shown(delays, net),
                    interval=_shown(interval, gap), client_delays=_shown(client_delays, cli),
                    skew=skew if isinstance(skew, numbers.Real) else offsets.tolist(),
                    offsets=offsets.tolist(), partitions=[(a, b, [sorted(g) for g in gs]) for a, b, gs in parts],
                    failures=None if failures is None else [list(x) for x in failures], seed=seed, history=history)
    kinds = _multileader.DISTS
    sim = _multileader.Simulation(
        m, _multileader.POLICIES[policy], clients, ops, read_fraction, keys, cdf,
        (kinds[net[0]], net[1], net[2]), (kinds[cli[0]], cli[1], cli[2]), (kinds[gap[0]], gap[1], gap[2]),
        offsets.tolist(), _cuts(m, parts, downs), downs, bool(history), seed)
    return sim, settings


def _result(sim, settings: dict, wall: float, pd) -> MultiLeaderResult:
    m, K, policy = settings["m"], settings["keys"], settings["policy"]
    o = sim.ops_arrays()
    w = sim.write_arrays()
    ok = o["status"] == 1
    reads = ok & (o["kind"] == 0)
    n_reads = int(np.count_nonzero(reads))
    lat = o["done"] - o["invoke"]
    states = [sim.state(i) for i in range(m)]
    converged = bool(sim.in_flight() == 0 and all(s == states[0] for s in states[1:]))
    last_write = float(sim.last_write)
    if converged and math.isfinite(last_write):
        end = last_write if not math.isfinite(sim.last_change) else max(last_write, float(sim.last_change))
        convergence = end - last_write
    else:
        convergence = 0.0 if converged else math.inf
    c = {
        "ops_done": int(sim.completed), "ok": int(np.count_nonzero(ok)), "failed": int(sim.failed),
        "reads": int(sim.n_reads), "writes": int(sim.n_writes), "conflicts": int(sim.conflicts),
        "lost_updates": 0,
    }
    losses = None
    if policy == "lww":
        losses = lww_losses(w, K, m)
        c.update(lost_updates=int(losses["lost"].sum()),
                 lost_concurrent=int((losses["lost"] & ~losses["causal"]).sum()),
                 lost_causal=int(losses["causal"].sum()), lost_skew=int(losses["skew"].sum()))
    elif policy == "vv":
        final = states[0]
        cover = np.zeros((K, m), np.int64)
        for k, sibs in enumerate(final):
            for s in sibs:
                np.maximum(cover[k], w["vv"][s - 1], out=cover[k])
        own = w["vv"][np.arange(len(w["key"])), w["node"]] if len(w["key"]) else np.zeros(0, np.int64)
        lost = own > cover[w["key"], w["node"]] if len(w["key"]) else np.zeros(0, bool)
        c.update(lost_updates=int(lost.sum()), sibling_writes=int(w["sibling"].sum()),
                 max_siblings=int(sim.max_siblings),
                 final_siblings=int(sum(len(s) for s in final if len(s) > 1)))
    else:
        expected = np.zeros(K, np.int64)
        np.add.at(expected, w["key"], w["delta"].astype(np.int64))
        final = np.array([s[0] for s in states[0]], np.int64)
        c.update(lost_updates=int(np.abs(final - expected).sum()), final_total=int(final.sum()),
                 expected_total=int(expected.sum()))
    c.update({
        "stale": int(sim.stale), "stale_pct": 100.0 * sim.stale / n_reads if n_reads else math.nan,
        "behind_mean": sim.behind / sim.stale if sim.stale else 0.0,
        "converged": converged, "convergence_s": convergence, "held": int(sim.held),
        **availability_by_side(ok, o["client"] % m, o["invoke"],
                               timeline(settings["partitions"], m) if settings["partitions"] else None, m),
        "read_p50_ms": 1e3 * _pct(lat[reads], 50), "read_p99_ms": 1e3 * _pct(lat[reads], 99),
        "write_p50_ms": 1e3 * _pct(lat[ok & (o["kind"] == 1)], 50),
        "write_p99_ms": 1e3 * _pct(lat[ok & (o["kind"] == 1)], 99),
        "sim_seconds": float(sim.now), "events": int(sim.events), "wall_seconds": wall,
        "ops_per_s": sim.completed / wall if wall > 0 else math.nan,
    })
    node = o["client"] % m
    leaders = pd.DataFrame({
        "writes": np.bincount(w["node"], minlength=m)[:m],
        "reads": np.bincount(node[reads], minlength=m)[:m],
        "failed": np.bincount(node[~ok], minlength=m)[:m],
        "stale": np.bincount(node[reads & (o["behind"] > 0)], minlength=m)[:m],
        "offset_ms": 1e3 * np.asarray(settings["offsets"]),
    })
    leaders.index.name = "leader"
    hist = None
    if settings["history"]:
        start = o["invoke"].copy()
        prev_done = {}
        for op in range(len(start)):
            cl = int(o["client"][op])
            if cl in prev_done and prev_done[cl] > start[op]:
                start[op] = prev_done[cl]
            prev_done[cl] = o["done"][op]
        hist = {"start": start}
    return MultiLeaderResult(settings, c, leaders, hist, wall, sim, w, o, losses)
