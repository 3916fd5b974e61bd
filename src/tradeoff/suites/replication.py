"""Replication: the single-leader simulator against SimPy running the same model, the
PBS Monte Carlo, and the tables of staleness, PBS t-visibility and quorum availability.

Timed (pyperf):
- ``single_leader``: :func:`tradeoff.replication.simulate` and a SimPy model of the same
  system, per client operation (100k a call): 5 replicas, asynchronous replication, 10
  closed-loop clients, 90% reads from a random follower, uniform keys, exponential
  one-way delays of mean 1 ms. Target: at least 50x SimPy.
- ``million_ops``: 1M operations on 5 replicas, semisynchronous (2 followers
  acknowledge), per operation. Target: under 10 s a call (10 us an operation).
- ``pbs_trials``: :func:`tradeoff.replication.pbs_visibility` of N=3, R=W=1 with 1M WARS
  trials a call, per trial, for the LNKD-SSD and WAN fits. Target: 10M trials/s.

Scenarios (deterministic, but for the wall-clock figures they report):
- ``simpy_agreement``: both models of ``single_leader`` on the same settings, their
  measures side by side (latency, lag, stale reads, session violations), and the speed of
  each in this process.
- ``staleness``: async, semisync=1 and sync on 3 replicas (100 clients, 1M operations,
  exponential 20 ms delays, the leader crashing at 5 s): stale reads, read-your-writes
  violations, write latency, acknowledged writes lost.
- ``pbs_table``: per fit, the share of reads consistent right after a write commits and
  the wait until 99.9% are (N=3, R=W=1, 1M trials), beside the PBS paper's figures.
- ``quorum_availability``: per consistency level, the share of the ways 0..3 of 3
  replicas can be down in which it can still be served.
- ``cap_partition``: CP against AP under one partition (3 nodes, node 0 cut off
  from 1 and 2 for 2 s): single leader with a lease (semisync, leader reads),
  majority quorums with blocking read repair, one-replica quorums, multi-leader
  last-writer-wins: availability overall and per side, stale reads,
  acknowledged writes lost, conflicts.
- ``multileader_conflicts``: LWW (with 5 ms of clock skew), version vectors and a
  PN-counter CRDT on the same writes: conflicts, lost updates, siblings,
  convergence time.

The SimPy peer is skipped with a notice where ``simpy`` is not installed.
"""
from __future__ import annotations

import random
import time
from bisect import bisect_right

import numpy as np

from tradeoff import benchmark, scenario
from tradeoff.replication.latency import FITS
from tradeoff.replication.quorum import LEVELS

#: the model of ``single_leader`` and ``simpy_agreement`` (both sides)
REPLICAS = 5
CLIENTS = 10
READ_FRACTION = 0.9
KEYS = 1000
DELAY = 1e-3                    # mean one-way delay, s (exponential)
PEER_OPS = 100_000              # single_leader: operations per call, both sides
MILLION = 1_000_000             # million_ops: operations per call
PBS_TRIALS = 1_000_000          # pbs_trials, pbs_table: trials per call
CRASH_AT = 5.0                  # staleness: the leader crashes here (s)
SINGLE_DC_LEVELS = [lv for lv in LEVELS if not lv.startswith(("LOCAL_", "EACH_"))]


def _simpy():
    from ._peers import require

    return require("simpy", "SimPy single-leader model")


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else float("nan")


def _measures(read_lat, write_lat, lags, reads: int, stale: int, ryw: int, mr: int, cp: int) -> dict:
    """The measures both sides report: latencies and lag in ms (mean, p50, p99, max),
    stale reads (count and % of the reads), session-guarantee violations."""
    out = {}
    for label, x in (("read", read_lat), ("write", write_lat), ("lag", lags)):
        x = np.asarray(x, dtype=np.float64) * 1e3
        out[f"{label}_mean_ms"] = float(x.mean()) if len(x) else float("nan")
        out[f"{label}_p50_ms"] = _pct(x, 50)
        out[f"{label}_p99_ms"] = _pct(x, 99)
        out[f"{label}_max_ms"] = float(x.max()) if len(x) else float("nan")
    out.update(reads=reads, writes=len(write_lat), stale=stale,
               stale_pct=100.0 * stale / reads if reads else float("nan"), ryw=ryw, mr=mr, cp=cp)
    return out


def simpy_single_leader(n: int = REPLICAS, clients: int = CLIENTS, ops: int = PEER_OPS,
                        read_fraction: float = READ_FRACTION, keys: int = KEYS, delay: float = DELAY,
                        seed: int = 0) -> dict:
    """Single-leader asynchronous replication written for SimPy: the model of
    :mod:`tradeoff.replication.leader` without crashes, as one would write it with
    ``simpy.Environment``, returning the measures of :func:`_measures`.

    - Replica 0 leads; each replica holds a list of the latest version (stamp) of each
      key. A stamp counts the leader's appends, so versions are ordered by the log.
    - ``clients`` closed-loop processes, ``ops`` operations in all: each draws a read
      (with probability ``read_fraction``) or a write of a uniform key, sends it (an
      exponential one-way delay of mean ``delay``), is served, and waits for the answer
      (another delay). A read goes to a random follower and returns its version of the
      key (stale if older than the leader's); a write is appended by the leader, sent to
      every follower and answered at once (asynchronous replication).
    - One process per follower link: a ``simpy.Store`` of the leader's messages, taken
      in order (FIFO). An entry arrives at ``max(sent + delay, previous arrival)`` and is
      applied then; its lag is the time from the append to the apply.
    - At the end of each read: read-your-writes (older than the session's latest
      acknowledged write of the key), monotonic reads (older than a version of the key
      the session read before) and consistent prefix (the log holds a write of the key
      newer than what was read and not newer than the newest version the session has
      read of any key: a binary search in the key's list of stamps).
    """
    simpy = _simpy()
    env = simpy.Environment()
    timeout = env.timeout
    rng = random.Random(seed)
    uniform, below, expo = rng.random, rng.randrange, rng.expovariate
    rate = 1.0 / delay
    followers = n - 1
    leader = [0] * keys                                  # the leader's version of each key
    states = [[0] * keys for _ in range(followers)]      # each follower's
    writes_of = [[] for _ in range(keys)]                # per key: its stamps in log order
    links = [simpy.Store(env) for _ in range(followers)]
    last_arrival = [0.0] * followers
    read_lat: list = []
    write_lat: list = []
    lags: list = []
    left = [ops]
    log_len = [0]
    violations = [0, 0, 0, 0]                            # stale, ryw, mr, cp

    def link(f):
        get, state = links[f].get, states[f]
        while True:
            key, stamp, sent, arrival = yield get()
            wait = arrival - env.now
            if wait > 0:
                yield timeout(wait)
            state[key] = stamp
            lags.append(env.now - sent)

    def client():
        latest_write: dict = {}          # key -> stamp of the session's last acknowledged write
        latest_read: dict = {}           # key -> the newest version the session read
        seen = 0                         # the newest version read, of any key
        while left[0] > 0:
            left[0] -= 1
            start = env.now
            is_read = uniform() < read_fraction
            key = below(keys)
            yield timeout(expo(rate))
            if is_read:
                version = states[below(followers)][key]
                if version < leader[key]:
                    violations[0] += 1
                yield timeout(expo(rate))
                read_lat.append(env.now - start)
                if version < latest_write.get(key, 0):
                    violations[1] += 1
                if version < latest_read.get(key, 0):
                    violations[2] += 1
                else:
                    latest_read[key] = version
                if version < seen:
                    stamps = writes_of[key]
                    i = bisect_right(stamps, seen)
                    if i and stamps[i - 1] > version:
                        violations[3] += 1
                else:
                    seen = version
            else:
                log_len[0] += 1
                stamp = log_len[0]
                leader[key] = stamp
                writes_of[key].append(stamp)
                now = env.now
                for f in range(followers):
                    arrival = now + expo(rate)
                    if arrival < last_arrival[f]:
                        arrival = last_arrival[f]
                    last_arrival[f] = arrival
                    links[f].put((key, stamp, now, arrival))
                yield timeout(expo(rate))
                write_lat.append(env.now - start)
                if stamp > latest_write.get(key, 0):
                    latest_write[key] = stamp

    for f in range(followers):
        env.process(link(f))
    for _ in range(clients):
        env.process(client())
    env.run()
    return _measures(read_lat, write_lat, lags, len(read_lat), *violations)


def _tradeoff_run(ops: int, keys: int, seed: int):
    from tradeoff.replication import simulate

    return simulate(n=REPLICAS, mode="async", reads="follower", clients=CLIENTS, ops=ops,
                    read_fraction=READ_FRACTION, keys=keys, delays=f"exp:mean={DELAY}", seed=seed)


def _tradeoff_measures(r) -> dict:
    """The measures of :func:`_measures` from a :class:`~tradeoff.replication.LeaderResult`."""
    o = r.sim.ops_arrays()
    ok = o["status"] == 1
    c = r.counters
    return _measures(o["latency"][ok & (o["kind"] == 0)], o["latency"][ok & (o["kind"] == 1)], r.lags,
                     int(np.count_nonzero(ok & (o["kind"] == 0))), c["stale"], c["ryw"], c["mr"], c["cp"])


@benchmark(params={"impl": ["tradeoff", "simpy"]}, compare="impl", inner_loops=PEER_OPS, processes=6)
def single_leader(impl, seed):
    """The same single-leader model on both sides, 100k client operations a call:
    ``simulate(n=5, mode="async", ops=100_000)`` at its defaults (10 closed-loop
    clients, 90% reads from a random follower, 1000 uniform keys, exponential 1 ms
    one-way delays) with its one-row summary (``to_dict``), and
    :func:`simpy_single_leader` (processes for the clients and one per follower link, a
    ``simpy.Store`` each), which computes the same measures (latency and lag
    percentiles, stale reads, read-your-writes, monotonic-reads and consistent-prefix
    violations). Both draw every delay, apply every write at every follower and check
    every read's version; ``simpy_agreement`` shows they simulate the same system.

    Why 100k operations on both sides: ``inner_loops`` is one number per benchmark, so
    both sides run the same count. SimPy takes about 1 s for 100k (1M would be 10 s a
    call); the simulator about 35 ms, of which about 40% is building the result tables,
    so its per-operation figure is within about 10% of that of a 1M-operation run of
    the same model. ``processes=6``: 6 x 4 SimPy calls, about 30 s in the default
    mode, 10 s with ``--fast``."""
    if impl == "simpy":
        _simpy()
        return lambda: simpy_single_leader(seed=seed)
    return lambda: _tradeoff_run(PEER_OPS, KEYS, seed).to_dict()


@benchmark(inner_loops=MILLION, processes=6)
def million_ops(seed):
    """1M client operations on 5 replicas, semisynchronous replication (2 of the 4
    followers acknowledge each write), otherwise the defaults of ``simulate`` (10
    clients, 90% reads from a random follower, exponential 1 ms delays): about 2.8M
    events, and the result tables. The target is a call under 10 s."""
    from tradeoff.replication import simulate

    return lambda: simulate(n=5, mode="semisync=2", ops=MILLION, seed=seed)


@benchmark(params={"latency": ["lnkd-ssd", "wan"]}, compare="latency", inner_loops=PBS_TRIALS)
def pbs_trials(latency, seed):
    """PBS t-visibility of N=3, R=W=1 by 1M WARS trials a call, per trial: 4N delays
    drawn from the fit and the trial evaluated, then the consistent share at t=0 and the
    read and write latency percentiles (p50, p99, p99.9). ``pbs`` runs its chunks of
    trials on a thread per core (its default), as a user's call does."""
    from tradeoff.replication import pbs_visibility

    return lambda: pbs_visibility(3, 1, 1, latency, t=[0.0], trials=PBS_TRIALS, seed=seed)


@scenario(params={"keys": [KEYS, 10]})
def simpy_agreement(keys, seed):
    """Both models of ``single_leader`` (100k operations, 5 replicas, async, 10
    clients, 90% reads from a random follower) side by side: mean read and write latency,
    mean and p99 follower lag, the stale share of reads and read-your-writes violations
    per 1000 reads (``tradeoff_...``, ``simpy_...``, and ``..._diff_pct``: SimPy's
    relative to ours). Their random draws differ, so they agree in distribution, not
    draw by draw: latency and lag within about 2%. Over 1000 keys a read is stale about
    once in 2000 (some 50 in a run, and read-your-writes violations a handful), so
    those two differ by tens of % from noise alone; over 10 keys a read is stale about
    once in 20, which pins both to a few %. The wall-clock figures (one run each, in this
    process): the operations per second of SimPy, of ``simulate`` and of its event
    loop alone (``core``), and the events per second of the loop."""
    _simpy()
    simpy_single_leader(ops=100, seed=seed)          # warm-ups: imports and first calls untimed
    _tradeoff_run(100, keys, seed)
    t0 = time.perf_counter()
    theirs = simpy_single_leader(ops=PEER_OPS, keys=keys, seed=seed)
    simpy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = _tradeoff_run(PEER_OPS, keys, seed)
    ours_s = time.perf_counter() - t0
    ours = _tradeoff_measures(r)
    out: dict = {}
    for name in ("read_mean_ms", "write_mean_ms", "lag_mean_ms", "lag_p99_ms", "stale_pct", "ryw_per_1000"):
        if name == "ryw_per_1000":
            a, b = 1e3 * ours["ryw"] / ours["reads"], 1e3 * theirs["ryw"] / theirs["reads"]
        else:
            a, b = ours[name], theirs[name]
        out[f"tradeoff_{name}"] = a
        out[f"simpy_{name}"] = b
        out[f"{name}_diff_pct"] = 100.0 * (b - a) / a if a else float("nan")
    core_s = r.counters["wall_seconds"]
    out.update({
        "simpy_ops_per_s": PEER_OPS / simpy_s,
        "tradeoff_ops_per_s": PEER_OPS / ours_s,
        "core_ops_per_s": PEER_OPS / core_s,
        "speedup": simpy_s / ours_s,
        "core_speedup": simpy_s / core_s,
        "events_per_op": r.counters["events"] / PEER_OPS,
        "core_events_per_s": r.counters["events_per_s"],
    })
    return out


@scenario(params={"scheme": ["async", "semisync=1", "sync"]}, compare="scheme")
def staleness(scheme, seed):
    """What each replication scheme costs and buys: 3 replicas, 100 closed-loop
    clients, 1M operations (90% reads from a random follower), exponential one-way
    delays of mean 20 ms, the leader crashing at 5 s (promotion 0.5 s later): the share
    of stale reads, the read-your-writes, monotonic-reads and consistent-prefix
    violations, write latency, follower lag, and the acknowledged writes the failover
    lost (``lost_acked``; ``lost_entries``: all the log entries it truncated)."""
    from tradeoff.replication import simulate

    row = simulate(n=3, mode=scheme, reads="follower", clients=100, ops=MILLION,
                   delays="exp:mean=20ms", crash_at=CRASH_AT, seed=seed).to_dict()
    keep = ("stale_pct", "ryw", "mr", "cp", "write_p50_ms", "write_p99_ms", "read_p99_ms", "lag_p99_ms",
            "lost_acked", "lost_entries", "unavailable_s", "failed", "info", "throughput")
    return {k: row[k] for k in keep}


@scenario(params={"latency": list(FITS)}, compare="latency")
def pbs_table(latency, seed):
    """PBS t-visibility of N=3, R=W=1 by 1M trials of the fit, beside the paper's
    figures (Bailis et al., VLDB 2012; ``paper_...``): the share of reads consistent at
    t=0, the t (ms) after which 99.9% are (with a 95% Monte Carlo interval), and the
    99.9th percentile read and write latencies."""
    from tradeoff.replication import t_visibility_table

    row = t_visibility_table(n=3, rs=(1,), ws=(1,), fits=[latency], trials=PBS_TRIALS, seed=seed).iloc[0]
    keep = ("p_consistent_t0", "paper_p_consistent_t0", "t_ms", "t_lo_ms", "t_hi_ms", "paper_t_ms",
            "read_p999_ms", "paper_read_p999_ms", "write_p999_ms", "paper_write_p999_ms")
    return {k: float(row[k]) for k in keep}


@scenario(params={"level": SINGLE_DC_LEVELS})
def quorum_availability(level):
    """A consistency level with 3 replicas in one datacenter: the replicas it waits for,
    whether two operations at this level always overlap (a read sees every
    acknowledged write: R + W > N), and its availability with 0 to 3 replicas down (the
    share of the ways that many can be down in which it can still be served)."""
    from tradeoff.replication import quorum

    row = quorum.table(3, levels=[level]).loc[level]
    out = {"replicas": quorum.required(level, 3), "overlaps": quorum.overlaps(level, level, 3)}
    out.update({f"down_{k}": float(row[k]) for k in row.index})
    return out


#: cap_partition: the schedule and the workload (small: a second or so for all four)
CAP_CUT = "1s-3s:{0}|{1,2}"
CAP_OPS = 30_000
CAP_SCHEMES = ["leader:semisync=1", "leaderless:R=2,W=2,blocking", "leaderless:R=1,W=1", "multileader:lww"]


@scenario(params={"scheme": CAP_SCHEMES}, compare="scheme")
def cap_partition(scheme, seed):
    """What a partition does (Gilbert and Lynch, SIGACT News 2002): 3 nodes, node 0
    cut off from nodes 1 and 2 during [1 s, 3 s); 10 closed-loop clients (client c
    beside node c mod 3), 30k operations (90% reads) over 100 keys, exponential
    one-way delays of mean 1 ms, client timeouts of 0.1 s. CP: a single leader with
    a 0.2 s lease that steps down in the minority (semisync=1, reads at the leader),
    or R = W = 2 quorums with blocking read repair; AP: R = W = 1 quorums, or three
    leaders with last-writer-wins. Availability is the share of the operations
    answered successfully: overall, during the cut, and on its minority and
    majority sides."""
    from tradeoff.replication import leader, leaderless, multileader

    common = dict(clients=10, ops=CAP_OPS, read_fraction=0.9, keys=100, partitions=CAP_CUT, seed=seed)
    if scheme.startswith("leader:"):
        r = leader.simulate(n=3, mode=scheme.partition(":")[2], reads="leader", delays="exp:mean=1ms",
                            detect=0.2, timeout=0.1, **common).to_dict()
    elif scheme.startswith("leaderless:"):
        q = 2 if "R=2" in scheme else 1
        r = leaderless.simulate(n=3, r=q, w=q, read_repair="blocking" if q == 2 else "off",
                                latency="exp:mean=1ms", client_latency="exp:mean=1ms", timeout=0.1,
                                **common).to_dict()
    else:
        r = multileader.simulate(m=3, policy="lww", delays="exp:mean=1ms", **common).to_dict()
        r["lost_acked"] = r["lost_updates"]
    keep = ("availability", "availability_cut", "availability_minority", "availability_majority", "stale",
            "lost_acked", "conflicts", "held", "write_p99_ms", "read_p99_ms")
    return {k: float(r.get(k, float("nan"))) for k in keep}


@scenario(params={"policy": ["lww", "vv", "crdt"]}, compare="policy")
def multileader_conflicts(policy, seed):
    """Three leaders, 6 clients, 20k operations (half writes) over 10 keys, 50 ms
    one-way delays between leaders, clocks skewed by up to 5 ms: conflicts, lost
    updates (LWW: acknowledged writes silently dropped), final siblings (vv) and
    the time to converge after the last write."""
    from tradeoff.replication import multileader

    r = multileader.simulate(m=3, policy=policy, clients=6, ops=20_000, read_fraction=0.5, keys=10,
                             delays="exp:mean=50ms", skew=0.005, seed=seed).counters
    return {"conflicts": float(r["conflicts"]), "lost_updates": float(r["lost_updates"]),
            "final_siblings": float(r.get("final_siblings", float("nan"))), "stale_pct": float(r["stale_pct"]),
            "convergence_ms": 1e3 * float(r["convergence_s"])}
