"""Leaderless (Dynamo-style) replication: N replicas per key, read and write
quorums R and W, last-writer-wins, read repair, hinted handoff, anti-entropy
(DeCandia et al., "Dynamo: Amazon's highly available key-value store", SOSP
2007; the Apache Cassandra documentation on consistency levels, hinted handoff
and read repair).

A discrete-event simulation in Cython (:mod:`._leaderless`, on the package's
shared event core, without the GIL); its docstring gives the model exactly. In
short: ``nodes`` nodes on a ring (one token each; default ``nodes = n``, so
every key lives on every node); a key's preference list is the ring walk from
its home node, the first ``n`` own it. A client sends a request to a random
target node, the coordinator; it sends the request to all N targets (their
message legs W, A, R, S as in PBS's WARS model: Bailis et al., VLDB 2012) and
answers after W acknowledgements or R replies (the newest version: versions
are the coordinator's clock at the request, with an optional per-node clock
offset, then the unique value). Read repair ``"off"``, ``"async"`` (Dynamo's:
after answering, the stale repliers get the newest) or ``"blocking"`` (ABD's
write-back phase, Attiya, Bar-Noy and Dolev, JACM 1995: the newest is on W
targets before the answer, which with R + W > N makes reads linearizable).
Nodes crash and recover (``failures``); with ``sloppy=True`` the first N live
nodes of the preference list take the write and fallbacks keep hints that go to
the owner when it is back.

What it measures, from the operations' records:

- latency of reads and writes (from the client's invocation to its answer);
- stale reads: a read that returned a version older than the newest (in
  version order) of the writes of its key that *committed* (their coordinator
  had W acknowledgements) before the read was invoked; ``behind``: how many
  committed versions it missed (PBS's k-staleness is ``behind + 1``: a read is
  k-stale-consistent iff behind < k);
- t-visibility: the share of consistent reads (behind = 0) as a function of the
  time since the newest committed write's commit (:meth:`LeaderlessResult.visibility`);
- unavailable requests (fewer than R or W targets reachable: a definite
  failure), timeouts, hints stored and delivered, read repairs sent and
  applied, anti-entropy rounds and copies exchanged, and what a Merkle-tree
  exchange of them would cost (Dynamo 4.7; ``ae_merkle_hashes``,
  ``ae_merkle_keys``, ``ae_merkle_bytes``) against a full exchange
  (``ae_full_keys``, ``ae_full_bytes``);
- under ``partitions`` (CAP, Gilbert and Lynch, "Brewer's conjecture and the
  feasibility of consistent, available, partition-tolerant web services",
  SIGACT News 2002): a coordinator reaches only the replicas on its side, so
  strict quorums that cannot gather R or W there fail (CP when R + W > N) and
  sloppy ones take fallbacks on the side with hinted handoff (AP); messages
  across a cut are held until it heals (as in :mod:`.multileader`); client c
  sits beside node c mod ``nodes``. ``availability`` is the share of the
  operations answered successfully, ``availability_cut`` that of the
  operations invoked while some partition was on, ``availability_minority``
  and ``availability_majority`` those of the clients on a side holding at most
  half / more than half of the nodes then (only with a partition); ``held``:
  deliveries held by a cut.

>>> r = simulate(n=3, r=1, w=1, clients=8, ops=4000, keys=5, latency="exp:mean=1ms", seed=1)
>>> r.counters["stale"] > 0, r.counters["unavailable"]
(True, 0)
>>> q = simulate(n=3, r=2, w=2, read_repair="blocking", clients=8, ops=4000, keys=5, seed=1)
>>> q.counters["stale"]
0

Cost: O(log(C + messages in flight)) per event; about 2 + 2N events per
operation (3 + 2N more with read repair at work); the staleness figures are
computed once at the end in O(ops log ops).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from . import _leaderless
from .leader import _pct, _real, _shown, _whole, parse_delays
from .partitions import availability_by_side, parse_partitions, timeline

__all__ = ["simulate", "LeaderlessResult", "REPAIRS", "parse_failures"]

#: read repair modes
REPAIRS = ("off", "async", "blocking")
#: bytes of one Merkle hash comparison (an 8-byte hash each way) and of one key
#: sent by anti-entropy (key, timestamp, value: 8 bytes each)
MERKLE_HASH_BYTES = 16
KEY_BYTES = 24
#: samples drawn per leg from a latency model (resampled uniformly by the simulation)
LEG_SAMPLES = 1 << 18
#: default edges (ms) of the t-visibility bins
VISIBILITY_EDGES_MS = np.concatenate([[0.0], np.geomspace(0.01, 10_000.0, 31)])


def _legs(latency, seed: int, what: str = "latency"):
    """Four delay settings (W, A, R, S) for the simulation, in seconds: one
    delay spec of the single-leader simulator for every leg (``exp:mean=1ms``,
    ``const:1ms``, a number of seconds, an array of seconds), or a latency model
    of :mod:`.latency` (a :class:`~.latency.LatencyModel` or a spec such as
    ``lnkd-ssd``), sampled (``LEG_SAMPLES`` per leg, ms -> s) for each leg."""
    from .latency import LatencyModel, parse_latency

    if not isinstance(latency, LatencyModel):
        try:
            one = parse_delays(latency, what)
            return [one] * 4, latency if isinstance(latency, (str, numbers.Real)) else _shown(latency, one)
        except ValueError as first:
            if not isinstance(latency, str):
                raise
            try:
                latency = parse_latency(latency)
            except ValueError as exc:
                raise ValueError(f"{what}: {exc} ({first})") from None
    rng = np.random.default_rng([seed & (2**63 - 1), 0x6C6567])
    scale = 1e-3 if getattr(latency, "unit", "ms") == "ms" else 1.0
    out = []
    for leg in ("W", "A", "R", "S"):
        arr = np.asarray(latency.sample(leg, LEG_SAMPLES, rng), dtype=np.float64) * scale
        out.append(("array", float(arr.mean()), np.ascontiguousarray(arr)))
    return out, latency.name


def parse_failures(failures, nodes: int):
    """``[(node, down_at, up_at), ...]`` (``up_at`` None or inf: never) ->
    (times, nodes, up) sorted by time (a recovery before a crash at the same
    instant), for the simulation.

    >>> t, n, up = parse_failures([(1, 2.0, 3.5), (0, 2.0, None)], 3)
    >>> t.tolist(), n.tolist(), up.tolist()
    ([2.0, 2.0, 3.5], [1, 0, 1], [0, 0, 1])
    """
    rows = []
    if failures is None:
        failures = []
    if isinstance(failures, (str, bytes)) or not hasattr(failures, "__iter__"):
        raise ValueError(f"failures must be a list of (node, down_at, up_at), got {failures!r}")
    per_node: dict = {}
    for i, item in enumerate(failures):
        try:
            node, down, up = item
        except (TypeError, ValueError):
            raise ValueError(f"failures[{i}] must be (node, down_at, up_at), got {item!r}") from None
        node = _whole(node, f"failures[{i}] node", 0, nodes - 1)
        down = _real(down, f"failures[{i}] down_at")
        if up is not None and not (isinstance(up, numbers.Real) and math.isinf(up) and up > 0):
            up = _real(up, f"failures[{i}] up_at")
            if up <= down:
                raise ValueError(f"failures[{i}]: up_at must be after down_at, got {up!r} <= {down!r}")
        else:
            up = math.inf
        for a, b in per_node.get(node, []):
            if down < b and a < up:
                raise ValueError(f"failures[{i}]: node {node} is already down then")
        per_node.setdefault(node, []).append((down, up))
        rows.append((down, 1, i, node, 0))
        if math.isfinite(up):
            rows.append((up, 0, i, node, 1))
    rows.sort()
    return (np.array([r[0] for r in rows], np.float64), np.array([r[3] for r in rows], np.int32),
            np.array([r[4] for r in rows], np.int8))


@dataclass
class LeaderlessResult:
    """One run: its settings, the counters (:meth:`to_dict` is the one-row
    summary), ``latency`` (read and write, ms, over the operations that
    succeeded), ``staleness`` (reads by how many committed versions they
    missed), ``sessions`` (per client) and, with ``history=True``, ``history``
    (one row per operation; :meth:`write_history` writes Jepsen-style JSON lines).

    ``counters``: ``ops_done``, ``ok``, ``failed``, ``info`` (writes that timed
    out: they may have taken effect), ``reads``, ``writes``, ``timeouts``,
    ``unavailable`` (``unavailable_reads`` + ``unavailable_writes``), ``stale``
    (reads behind a committed write; ``stale_pct`` of the reads that
    succeeded), ``behind_max``, ``k_p999`` (the k of PBS's k-staleness that
    covers 99.9% of the reads), ``hints_stored``, ``hints_delivered``,
    ``repairs_sent``, ``repairs_applied``, ``ae_rounds``, ``ae_keys``,
    ``messages``, ``dropped`` (messages that reached a dead node), ``orphaned``
    (records whose coordinator crashed), ``throughput`` (successful operations
    per simulated second), ``sim_seconds``, ``events``, ``wall_seconds``,
    ``events_per_s``, ``ops_per_s``.

    >>> r = simulate(n=3, r=1, w=3, nodes=4, sloppy=True, clients=4, ops=3000, keys=20,
    ...              failures=[(0, 0.2, 0.6)], seed=2)
    >>> r.counters["hints_stored"] > 0, r.counters["hints_delivered"] == r.counters["hints_stored"]
    (True, True)
    >>> r._check()
    True
    """
    settings: dict
    counters: dict
    latency: object
    staleness: object
    sessions: object
    history: object = None
    wall: float = 0.0
    #: the simulation itself (its ``_check()``, its arrays)
    sim: object = field(default=None, repr=False)
    #: per operation (see ``_leaderless.Simulation.ops_arrays``)
    ops: dict = field(default=None, repr=False)
    #: per successful read, in operation order: versions missed, and seconds
    #: since the newest committed write's commit (NaN: none)
    behind: np.ndarray = field(default=None, repr=False)
    since: np.ndarray = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """Settings and figures in one flat dict (one row of a table)."""
        row = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
               for k, v in self.settings.items()}
        row.update(self.counters)
        for op in ("read", "write"):
            for col in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
                row[f"{op}_{col}"] = float(self.latency.loc[op, col])
        return row

    def visibility(self, edges_ms=None):
        """t-visibility: reads grouped by the time (ms) from the commit of the
        newest committed write of their key to their invocation, and the share
        of each group that was consistent (returned that write or a newer one):
        ``t_lo_ms``, ``t_hi_ms``, ``reads``, ``p_consistent``, ``t_mean_ms``.
        Empty groups are left out."""
        import pandas as pd

        edges = np.asarray(VISIBILITY_EDGES_MS if edges_ms is None else edges_ms, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("edges_ms must be an increasing array of at least two times (ms)")
        t = 1e3 * self.since
        keep = np.isfinite(t)
        t, fresh = t[keep], self.behind[keep] == 0
        idx = np.searchsorted(edges, t, side="right") - 1
        inside = (idx >= 0) & (idx < len(edges) - 1)
        idx, t, fresh = idx[inside], t[inside], fresh[inside]
        n = np.bincount(idx, minlength=len(edges) - 1)
        good = np.bincount(idx, weights=fresh, minlength=len(edges) - 1)
        tsum = np.bincount(idx, weights=t, minlength=len(edges) - 1)
        nz = n > 0
        return pd.DataFrame({"t_lo_ms": edges[:-1][nz], "t_hi_ms": edges[1:][nz], "reads": n[nz],
                             "p_consistent": good[nz] / n[nz], "t_mean_ms": tsum[nz] / n[nz]})

    def write_history(self, path) -> int:
        """Write the history as JSON lines, one event per line in time order:
        ``{"process": c, "type": "invoke"|"ok"|"fail"|"info", "f": "read"|"write",
        "key": k, "value": v, "time": ns}`` (the format of
        :meth:`~tradeoff.replication.leader.LeaderResult.write_history`: a read's
        invocation, a failed read and a read of the initial value have value
        null). Written to a temporary file, then renamed. Returns the lines."""
        h = self.history
        if h is None:
            raise ValueError("no history was recorded: run simulate(..., history=True)")
        from .._atomic import atomic_path

        m = len(h)
        writes = (h["f"] == "write").to_numpy()
        status = h["type"].to_numpy(object)
        value = h["value"].to_numpy()
        # null: every read invocation, failed reads, reads of the initial value
        invoke_value = np.where(writes, value, -1)
        end_value = np.where(writes, value, np.where((status == "ok") & (value > 0), value, -1))
        times = np.concatenate([h["invoke_time"].to_numpy(), h["complete_time"].to_numpy()])
        ns = np.rint(times * 1e9).astype(np.int64)
        # by time; at one instant an operation's invocation before its end, and
        # one operation's end before the same process's next invocation
        seq = np.concatenate([np.arange(m) * 2, np.arange(m) * 2 + 1])
        order = np.lexsort((seq, ns))
        proc = np.tile(h["process"].to_numpy(), 2)[order]
        kind = np.concatenate([np.full(m, "invoke", dtype=object), status])[order]
        fn = np.tile(np.where(writes, "write", "read").astype(object), 2)[order]
        key = np.tile(h["key"].to_numpy(), 2)[order]
        val = np.concatenate([invoke_value, end_value])[order]
        tm = ns[order]
        lines = []
        for i in range(2 * m):
            v = "null" if val[i] < 0 else str(int(val[i]))
            lines.append(f'{{"process":{int(proc[i])},"type":"{kind[i]}","f":"{fn[i]}",'
                         f'"key":{int(key[i])},"value":{v},"time":{int(tm[i])}}}\n')
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
            out.writelines(lines)
        return 2 * m

    def _check(self):
        """The simulation's invariants, and the staleness figures against the
        operations: fresh reads returned a version no older than any write
        committed before them."""
        self.sim._check()
        o = self.ops
        reads = (o["kind"] == 0) & (o["status"] == 1)
        assert len(self.behind) == int(np.count_nonzero(reads))
        assert np.all(self.behind >= 0)
        assert int(np.count_nonzero(self.behind)) == self.counters["stale"]
        return True


def simulate(n: int = 3, r: int = 2, w: int = 2, *, nodes=None, read_repair: str = "off",
             sloppy: bool = False, clients: int = 10, ops: int = 100_000, read_fraction: float = 0.9,
             keys: int = 1000, skew: float = 0.0, latency="exp:mean=1ms", client_latency=0.0,
             think=0.0, failures=None, anti_entropy=None, clock_skew=0.0, timeout: float = 1.0,
             seed: int = 0, history: bool = False, partitions=None, merkle_leaves: int = 16) -> LeaderlessResult:
    """Simulate a leaderless store and measure staleness, latency and availability.

    - ``n`` replicas per key, read quorum ``r`` and write quorum ``w`` (1..n);
      ``nodes`` on the ring (default ``n``: every node holds every key);
    - ``read_repair``: ``"off"``, ``"async"`` or ``"blocking"``; ``sloppy``: a
      sloppy quorum with hinted handoff (else strict: only the live owners);
    - ``clients`` closed-loop clients (one operation at a time, ``think``
      seconds between them: a number or a spec such as ``"exp:mean=10ms"``),
      ``ops`` operations in all, a ``read_fraction`` of reads, over ``keys`` keys,
      Zipf with exponent ``skew`` (0: uniform);
    - ``latency``: the replica legs: a delay spec (``"exp:mean=1ms"``,
      ``"const:1ms"``, seconds, an array of seconds) for all four legs, or a
      latency model or its name (``"lnkd-ssd"``, ``"lnkd-disk"``, ``"ymmr"``,
      ``"W=exp:mean=10ms;ARS=const:1ms"``, ... in ms: see :mod:`.latency`)
      sampled per leg; ``client_latency``: the client <-> coordinator legs
      (default 0, so latency is the coordinator's, as in PBS);
    - ``failures``: ``[(node, down_at, up_at), ...]`` (``up_at`` None: never
      recovers); ``timeout``: seconds a client waits for an answer;
    - ``anti_entropy``: the period (s) of the replicas' synchronisation (None: off);
    - ``clock_skew``: each node's clock is off by a uniform draw in
      [-clock_skew, clock_skew] seconds (or give the offsets, one per node);
    - ``history``: keep one row per operation for :meth:`LeaderlessResult.write_history`;
    - ``partitions``: ``"2s-5s:{0,1}|{2}"`` (``;`` between several; nodes
      0..nodes-1) or ``[(start, end, [{0, 1}, {2}])]``: see the module's docstring;
    - ``merkle_leaves``: leaves of the Merkle tree per key range (a power of
      two) whose exchange anti-entropy measures (``ae_merkle_*`` counters).

    Bad arguments raise ValueError naming the argument.
    """
    import pandas as pd

    sim, settings = _build(n, r, w, nodes, read_repair, sloppy, clients, ops, read_fraction, keys, skew,
                           latency, client_latency, think, failures, anti_entropy, clock_skew, timeout,
                           seed, history, partitions, merkle_leaves)
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    return _result(sim, settings, wall, pd)


def _build(n=3, r=2, w=2, nodes=None, read_repair="off", sloppy=False, clients=10, ops=100_000,
           read_fraction=0.9, keys=1000, skew=0.0, latency="exp:mean=1ms", client_latency=0.0, think=0.0,
           failures=None, anti_entropy=None, clock_skew=0.0, timeout=1.0, seed=0, history=False,
           partitions=None, merkle_leaves=16):
    """Check the arguments of :func:`simulate` and set up the simulation (not run
    yet: the tests step it and call its ``_check()`` between steps)."""
    n = _whole(n, "n", 1, 1 << 16)
    r = _whole(r, "r", 1, n)
    w = _whole(w, "w", 1, n)
    nodes = n if nodes is None else _whole(nodes, "nodes", n, 1 << 16)
    if read_repair not in REPAIRS:
        raise ValueError(f"unknown read_repair {read_repair!r} (one of {', '.join(REPAIRS)})")
    if not isinstance(sloppy, (bool, np.bool_)):
        raise ValueError(f"sloppy must be True or False, got {sloppy!r}")
    clients = _whole(clients, "clients", 1, 2**31 - 1 - 2 - (1 << 20))
    ops = _whole(ops, "ops", 1, 2**40)
    read_fraction = _real(read_fraction, "read_fraction")
    if read_fraction > 1:
        raise ValueError(f"read_fraction must be within 0..1, got {read_fraction!r}")
    keys = _whole(keys, "keys", 1, 2**31 - 1)
    if nodes * keys > 1 << 32:
        raise ValueError(f"keys: nodes * keys must be at most 2**32, got {nodes} * {keys}")
    skew = _real(skew, "skew")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    seed = int(seed) & (2**64 - 1)
    legs, latency_name = _legs(latency, seed, "latency")
    cli = parse_delays(client_latency, "client_latency")
    th = parse_delays(think, "think")
    timeout = _real(timeout, "timeout", 0.0, strict=True)
    ae = 0.0 if anti_entropy is None else _real(anti_entropy, "anti_entropy", 0.0, strict=True)
    if isinstance(clock_skew, numbers.Real) and not isinstance(clock_skew, bool):
        cs = _real(clock_skew, "clock_skew")
        offsets = (np.random.default_rng([seed & (2**63 - 1), 0x736B6577]).uniform(-cs, cs, nodes)
                   if cs > 0 else np.zeros(nodes))
        shown_skew = cs
    else:
        try:
            offsets = np.asarray(clock_skew, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"clock_skew must be seconds or one offset per node, got {clock_skew!r}") from None
        if offsets.shape != (nodes,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"clock_skew: give {nodes} finite offsets (one per node), got shape {offsets.shape}")
        shown_skew = f"array[{nodes}]"
    fail = parse_failures(failures, nodes)
    merkle_leaves = _whole(merkle_leaves, "merkle_leaves", 1, 1 << 20)
    if merkle_leaves & (merkle_leaves - 1):
        raise ValueError(f"merkle_leaves must be a power of two, got {merkle_leaves}")
    parts = parse_partitions(partitions, nodes, "node")
    cut = None
    if parts:
        seg_t, sides = timeline(parts, nodes)
        cut = (seg_t, sides)
        # the segment changes join the failure schedule (up = 2), after the
        # crashes and recoveries of the same instant
        rows = sorted([(float(t), 0, i, int(nd), int(u)) for i, (t, nd, u) in enumerate(zip(*fail))]
                      + [(float(seg_t[g]), 1, g, g, 2) for g in range(1, len(seg_t))])
        fail = (np.array([r[0] for r in rows], np.float64), np.array([r[3] for r in rows], np.int32),
                np.array([r[4] for r in rows], np.int8))
    if not isinstance(history, (bool, np.bool_)):
        raise ValueError(f"history must be True or False, got {history!r}")
    cdf = None
    if skew > 0:
        wts = np.arange(1, keys + 1, dtype=np.float64) ** -skew
        cdf = np.cumsum(wts)
        cdf /= cdf[-1]
    settings = dict(n=n, r=r, w=w, nodes=nodes, read_repair=read_repair, sloppy=bool(sloppy), clients=clients,
                    ops=ops, read_fraction=read_fraction, keys=keys, skew=skew, latency=latency_name,
                    client_latency=_shown(client_latency, cli), think=_shown(think, th),
                    failures=None if failures is None else [tuple(f) for f in failures],
                    anti_entropy=anti_entropy if anti_entropy is None else ae, clock_skew=shown_skew,
                    timeout=timeout, seed=seed, history=bool(history),
                    partitions=[(a, b, [sorted(g) for g in gs]) for a, b, gs in parts] or None)
    kinds = _leaderless.DISTS
    sim = _leaderless.Simulation(
        n, nodes, r, w, _leaderless.REPAIRS[read_repair], bool(sloppy), clients, ops, read_fraction, keys, cdf,
        [(kinds[k], m, a) for k, m, a in legs], (kinds[cli[0]], cli[1], cli[2]), (kinds[th[0]], th[1], th[2]),
        timeout, offsets, fail, ae, bool(history), seed, cut, merkle_leaves)
    settings["_cut"] = cut
    return sim, settings


def staleness_of(o: dict, keys: int):
    """Per successful read (operation order): committed versions missed, and
    seconds since the newest committed write's commit (NaN: none), from the
    operation arrays of a run (or of a model of it)."""
    kind, status, value, ts = o["kind"], o["status"], o["value"], o["ts"]
    key = o["key"].astype(np.int32)
    wmask = (kind == 1) & np.isfinite(ts)
    wv, wk, wts = value[wmask], key[wmask], ts[wmask]
    order = np.lexsort((wv, wts, wk))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    sorted_keys = wk[order]
    rank_of = np.full(int(value.max(initial=0)) + 1, -1, np.int64)
    rank_of[wv] = rank
    rmask = (kind == 0) & (status == 1)
    rk, rv = key[rmask], value[rmask]
    lo = np.searchsorted(sorted_keys, rk, "left").astype(np.int64)
    hi = np.searchsorted(sorted_keys, rk, "right").astype(np.int64)
    pos = np.where(rv > 0, rank_of[rv], lo - 1).astype(np.int64)
    if np.any((rv > 0) & (pos < lo)):
        raise AssertionError("a read returned a value no write of its key wrote")
    commit = o["commit"][wmask]
    cm = np.isfinite(commit)
    c_order = np.argsort(commit[cm], kind="stable")
    start = o["invoke"][rmask]
    r_order = np.argsort(start, kind="stable")
    b, s = _leaderless.staleness(
        np.ascontiguousarray(wk[cm][c_order]), np.ascontiguousarray(commit[cm][c_order]),
        np.ascontiguousarray(rank[cm][c_order]), np.ascontiguousarray(lo[r_order]),
        np.ascontiguousarray(hi[r_order]), np.ascontiguousarray(pos[r_order]),
        np.ascontiguousarray(start[r_order]), np.ascontiguousarray(rk[r_order]), int(keys))
    behind = np.empty_like(b)
    since = np.empty_like(s)
    behind[r_order] = b
    since[r_order] = s
    return behind, since


def _result(sim, settings: dict, wall: float, pd) -> LeaderlessResult:
    o = sim.ops_arrays()
    sess = sim.session_arrays()
    ok = o["status"] == 1
    lat = o["done"] - o["invoke"]
    span = float(o["done"].max()) if len(o["done"]) else 0.0
    rows = {}
    for name, kind in (("read", 0), ("write", 1)):
        x = 1e3 * lat[ok & (o["kind"] == kind)]
        rows[name] = {"count": len(x), "mean_ms": float(x.mean()) if len(x) else math.nan,
                      "p50_ms": _pct(x, 50), "p90_ms": _pct(x, 90), "p99_ms": _pct(x, 99),
                      "p999_ms": _pct(x, 99.9), "max_ms": float(x.max()) if len(x) else math.nan}
    latency = pd.DataFrame.from_dict(rows, orient="index")
    behind, since = staleness_of(o, settings["keys"])
    counts = np.bincount(behind) if len(behind) else np.zeros(1, np.int64)
    stale_df = pd.DataFrame({"behind": np.arange(len(counts)), "reads": counts,
                             "share": counts / max(1, len(behind))}).set_index("behind")
    reads_ok = len(behind)
    stale = int(np.count_nonzero(behind))
    k999 = int(np.percentile(behind, 99.9, method="higher")) + 1 if reads_ok else 0
    sessions = pd.DataFrame(sess)
    sessions.index.name = "client"
    cut = settings.pop("_cut", None)
    avail = availability_by_side(o["status"] == 1, o["client"] % settings["nodes"], o["invoke"], cut,
                                 settings["nodes"])
    counters = {
        "ops_done": int(sim.completed), "ok": int(np.count_nonzero(ok)),
        "failed": int(np.count_nonzero(o["status"] == 2)), "info": int(np.count_nonzero(o["status"] == 3)),
        "reads": int(sess["reads"].sum()), "writes": int(sess["writes"].sum()),
        "timeouts": int(sess["timeouts"].sum()),
        "unavailable": int(sim.unavailable_reads + sim.unavailable_writes),
        "unavailable_reads": int(sim.unavailable_reads), "unavailable_writes": int(sim.unavailable_writes),
        "stale": stale, "stale_pct": 100.0 * stale / reads_ok if reads_ok else math.nan,
        "behind_max": int(behind.max()) if reads_ok else 0, "k_p999": k999,
        "hints_stored": int(sim.hints_stored), "hints_delivered": int(sim.hints_delivered),
        "repairs_sent": int(sim.repairs_sent), "repairs_applied": int(sim.repairs_applied),
        "ae_rounds": int(sim.ae_rounds), "ae_keys": int(sim.ae_keys),
        "ae_merkle_hashes": int(sim.ae_merkle_hashes), "ae_merkle_keys": int(sim.ae_merkle_keys),
        "ae_full_keys": int(sim.ae_full_keys),
        "ae_merkle_bytes": MERKLE_HASH_BYTES * int(sim.ae_merkle_hashes) + KEY_BYTES * int(sim.ae_merkle_keys),
        "ae_full_bytes": KEY_BYTES * int(sim.ae_full_keys),
        "messages": int(sim.messages), "dropped": int(sim.dropped), "orphaned": int(sim.orphaned),
        "held": int(sim.held), **avail,
        "throughput": float(np.count_nonzero(ok)) / span if span > 0 else math.nan,
        "sim_seconds": float(sim.now), "events": int(sim.events), "wall_seconds": wall,
        "events_per_s": sim.events / wall if wall > 0 else math.nan,
        "ops_per_s": sim.completed / wall if wall > 0 else math.nan,
    }
    hist = None
    if settings["history"]:
        status = np.array(["pending", "ok", "fail", "info"], dtype=object)[o["status"]]
        hist = pd.DataFrame({
            "process": o["client"], "f": np.where(o["kind"] == 1, "write", "read").astype(object),
            "key": o["key"], "value": o["value"], "ts": o["ts"], "coordinator": o["coord"],
            "invoke_time": o["invoke"], "complete_time": o["done"], "commit_time": o["commit"],
            "type": status, "why": np.array(["", "unavailable", "timeout"], dtype=object)[o["why"]],
            "latency": lat})
        hist.index.name = "op"
    return LeaderlessResult(settings, counters, latency, stale_df, sessions, hist, wall, sim, o, behind, since)
