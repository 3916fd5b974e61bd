"""Caches: LRU/LFU/FIFO/TTL mappings and trace replay, side by side with peers.

Timed (pyperf, per operation), each mapping case in two key orders (``order``):
``sequential`` ints read in the order they were set, where CPython's dict reads
its entries in memory order (the kindest case for a dict-based cache), and
``random`` ints read in a shuffled order (no locality, as a real key space):
- ``lru_get_hit`` / ``lru_set_evict``: an LRU mapping of 10k items against
  lru-dict (C), cachebox (Rust) and cachetools (Python); a plain dict's get
  is shown as the floor.
- ``get_hit`` / ``set_evict``: the LFU, FIFO and TTL mappings against
  cachebox's and cachetools' classes of the same policy (sequential keys).
- ``online_get_hit`` / ``online_set_evict``: the online caches over the replay
  engines (``PolicyCache``: CLOCK, SIEVE, S3-FIFO, ARC, LIRS, W-TinyLFU), which
  neither peer has, side by side with ``LRUCache`` in the same run: the ratio
  to ``lru`` is the one the target (1.5x) is about.
- ``wtinylfu_get_hit`` / ``wtinylfu_set_evict``: the W-TinyLFU cache against
  theine's ``Cache`` (W-TinyLFU, its policy core in Rust), the one peer with
  that policy; both through a method (``get(k)``, ``set``/``__setitem__``),
  theine without its locks (``nolock=True``: ours has none).
- ``replay``: every policy on a 10M-request Zipf(1.0) trace over 1M objects,
  capacity 100k, against libCacheSim's same policy (``libcachesim``,
  hashpower 20) replaying the same keys from an oracleGeneral file. The time
  is per request. ``replay_scarab``: the same on the scarab trace (1.2M
  requests, capacity 100k) when $TRADEOFF_TRACES holds it.

Scenarios (deterministic, seeded):
- ``replay_agreement``: the miss ratio of both replays on both traces (LRU,
  FIFO and Belady must agree to the request).
- ``hit_ratio``: every policy side by side on Zipf, uniform, scan and
  hotspot workloads at two cache sizes.
- ``lru_mrc``: the exact LRU miss-ratio curve of the 10M-request trace, and
  SHARDS estimates at 1% and 0.1% with their error against it.
- ``replay_memory``: the peak memory a replay allocates, against its capacity.

Peers are optional (``pip install '.[peers]'``): a missing one is skipped with
a one-line notice.
"""
from __future__ import annotations

import random
import tracemalloc
from functools import lru_cache

import numpy as np

from tradeoff import benchmark, scenario
from tradeoff.harness.errors import Skip
from tradeoff.cache import (POLICY_SPECS, FIFOCache, LFUCache, LRUCache, PolicyCache, TTLCache,
                            replay as _replay)
from tradeoff.workloads import hotspot, scan, uniform, zipf
from tradeoff.workloads._store import cached_file, cached_trace

from . import _peers

MAPPING_SIZE = 10_000
REPLAY = dict(n_requests=10_000_000, n_objects=1_000_000, alpha=1.0)
REPLAY_CAPACITY = 100_000
TTL_SECONDS = 3600.0
#: the mappings over replay engines (PolicyCache); no peer has these policies
ONLINE_POLICIES = ["clock", "sieve", "s3fifo", "arc", "lirs", "wtinylfu"]
#: set_evict of an online policy cycles over this many disjoint key ranges, so that
#: every set is of a key neither resident nor remembered (S3-FIFO keeps 0.9x, ARC
#: up to 1x, LIRS up to 2x maxsize of history; a remembered key may skip the queue)
ONLINE_RANGES = 4


# ----------------------------------------------------------------- mappings

def _mapping(policy: str, impl: str, maxsize: int):
    """An empty cache of one policy from one library."""
    if impl == "tradeoff":
        if policy == "ttl":
            return TTLCache(maxsize, TTL_SECONDS)
        if policy in ONLINE_POLICIES:
            return PolicyCache(maxsize, policy)
        return {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache}[policy](maxsize)
    if impl == "dict":
        return {}
    if policy == "lru" and impl in ("lru_dict", "cachebox", "cachetools"):
        return _peers.make_lru_mapping(impl, maxsize)
    if impl == "cachebox":
        cb = _peers.require("cachebox", f"cachebox {policy.upper()}Cache")
        if policy == "ttl":
            return cb.TTLCache(maxsize, TTL_SECONDS, capacity=maxsize)
        return {"lfu": cb.LFUCache, "fifo": cb.FIFOCache}[policy](maxsize, capacity=maxsize)
    if impl == "cachetools":
        ct = _peers.require("cachetools", f"cachetools {policy.upper()}Cache")
        if policy == "ttl":
            return ct.TTLCache(maxsize, TTL_SECONDS)
        return {"lfu": ct.LFUCache, "fifo": ct.FIFOCache}[policy](maxsize)
    raise ValueError(f"no {policy} cache in {impl}")


def _get_loop(c, keys):
    def run():
        for k in keys:
            c[k]
    return run


def _set_loop(c, key_sets):
    """Each call sets the next of the key sets, in turn."""
    turn = [0]
    n = len(key_sets)

    def run():
        i = turn[0]
        turn[0] = (i + 1) % n
        for k in key_sets[i]:
            c[k] = k
    return run


#: the key orders of the mapping cases: ``sequential`` (ints 0..n-1, read in the order
#: they were set: CPython's dict then reads its entries in memory order, the kindest
#: case for a dict-based cache) and ``random`` (ints drawn from [0, 2**62), read in a
#: shuffled order: no locality, as a real key space)
ORDERS = ["sequential", "random"]


@lru_cache(maxsize=None)
def _key_sets(order: str, maxsize: int, n: int) -> tuple:
    """n disjoint lists of maxsize keys; the first is the one a case fills with."""
    if order == "sequential":
        return tuple(list(range(i * maxsize, (i + 1) * maxsize)) for i in range(n))
    if order != "random":
        raise ValueError(f"unknown key order {order!r}")
    rng = random.Random(20261204)
    keys = rng.sample(range(2**62), n * maxsize)
    return tuple(keys[i * maxsize:(i + 1) * maxsize] for i in range(n))


def _read_order(keys: list, order: str) -> list:
    """The order in which a get case reads the keys it filled with."""
    if order == "random":
        keys = keys[:]
        random.Random(7).shuffle(keys)
    return keys


def _full(policy, impl, maxsize, order="sequential"):
    """A full cache and the order in which a get case reads its keys."""
    c = _mapping(policy, impl, maxsize)
    keys = _key_sets(order, maxsize, 1)[0]
    for k in keys:
        c[k] = k
    return c, _read_order(keys, order)


def _evict_sets(order, maxsize, n):
    """Key sets for a set that evicts: each set of a key not in the cache, n sets in turn."""
    sets = _key_sets(order, maxsize, n + 1)
    return sets[1:] if n > 1 else (sets[1], sets[0])


@benchmark(params={"impl": ["tradeoff", "lru_dict", "cachebox", "cachetools", "dict"],
                   "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def lru_get_hit(impl, order, maxsize):
    """``c[k]`` on a key that is present, cycling over all 10k keys (sequential: each
    get moves the least recent key to the front). ``dict`` is a plain dict: the floor."""
    c, keys = _full("lru", impl, maxsize, order)
    return _get_loop(c, keys)


@benchmark(params={"impl": ["tradeoff", "lru_dict", "cachebox", "cachetools"],
                   "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def lru_set_evict(impl, order, maxsize):
    """``c[k] = v`` of a new key into a full cache: every set evicts one key."""
    c, _ = _full("lru", impl, maxsize, order)
    return _set_loop(c, _evict_sets(order, maxsize, 1))


@benchmark(params={"policy": ["lfu", "fifo", "ttl"],
                   "impl": ["tradeoff", "cachebox", "cachetools"], "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def get_hit(policy, impl, maxsize):
    """``c[k]`` on a present key for the other policies (LFU: each get bumps a count)."""
    c, keys = _full(policy, impl, maxsize)
    return _get_loop(c, keys)


@benchmark(params={"policy": ["lfu", "fifo", "ttl"],
                   "impl": ["tradeoff", "cachebox", "cachetools"], "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def set_evict(policy, impl, maxsize):
    """``c[k] = v`` of a new key into a full cache, for the other policies."""
    c, _ = _full(policy, impl, maxsize)
    return _set_loop(c, _evict_sets("sequential", maxsize, 1))


@benchmark(params={"policy": ["lru", *ONLINE_POLICIES], "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="policy", inner_loops=MAPPING_SIZE, processes=8)
def online_get_hit(policy, order, maxsize):
    """``c[k]`` on a present key of each online cache (``PolicyCache``), beside
    ``LRUCache`` (``lru``): the ratios are to it."""
    c, keys = _full(policy, "tradeoff", maxsize, order)
    if len(c) != maxsize:
        raise RuntimeError(f"{policy}: {len(c)} of {maxsize} keys kept by the fill")
    return _get_loop(c, keys)


def _wtinylfu(impl: str, maxsize: int):
    """An empty W-TinyLFU cache and its (get, set) methods: ours, or theine's (see
    :func:`_got` for what their gets answer)."""
    if impl == "tradeoff":
        c = PolicyCache(maxsize, "wtinylfu")
        return c, c.get, c.__setitem__
    if impl != "theine":
        raise ValueError(f"no W-TinyLFU cache in {impl}")
    theine = _peers.require("theine", "theine W-TinyLFU Cache")
    c = theine.Cache(maxsize, nolock=True)
    return c, c.get, c.set


def _got(answer) -> bool:
    """Whether a get of :func:`_wtinylfu`'s answered a hit: ours returns the value
    (None when missing; the suite never stores None), theine ``(value, found)``."""
    return answer is not None and answer != (None, False)


@benchmark(params={"impl": ["tradeoff", "theine"], "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def wtinylfu_get_hit(impl, order, maxsize):
    """``get(k)`` on a present key of a full W-TinyLFU cache: ours against theine's."""
    c, get, put = _wtinylfu(impl, maxsize)
    keys = _key_sets(order, maxsize, 1)[0]
    for k in keys:
        put(k, k)
    keys = _read_order(keys, order)
    missing = [k for k in keys if not _got(get(k))]
    if missing:
        raise RuntimeError(f"{impl}: {len(missing)} of {maxsize} keys not kept by the fill")

    def run():
        for k in keys:
            get(k)
    return run


@benchmark(params={"impl": ["tradeoff", "theine"], "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="impl", inner_loops=MAPPING_SIZE, processes=8)
def wtinylfu_set_evict(impl, order, maxsize):
    """A set of a new key into a full W-TinyLFU cache (each one a duel, as in
    ``online_set_evict``): ours against theine's."""
    c, _, put = _wtinylfu(impl, maxsize)
    for k in _key_sets(order, maxsize, 1)[0]:
        put(k, k)
    sets = _evict_sets(order, maxsize, ONLINE_RANGES)
    turn = [0]

    def run():
        i = turn[0]
        turn[0] = (i + 1) % ONLINE_RANGES
        for k in sets[i]:
            put(k, k)
    return run


@benchmark(params={"policy": ["lru", *ONLINE_POLICIES], "order": ORDERS, "maxsize": [MAPPING_SIZE]},
           compare="policy", inner_loops=MAPPING_SIZE, processes=8)
def online_set_evict(policy, order, maxsize):
    """``c[k] = v`` of a new key into each full online cache, beside ``LRUCache``. The
    keys come from disjoint sets in turn, so that none is resident or remembered."""
    c, _ = _full(policy, "tradeoff", maxsize, order)
    return _set_loop(c, _evict_sets(order, maxsize, ONLINE_RANGES))


# ------------------------------------------------------------------- replay

#: ``tradeoff run cache --quick``: the first look (the README's first command): the LRU
#: mapping against its peers, three replays against libCacheSim, and the hit ratios of
#: every policy on the Zipf workload
QUICK = ["lru_get_hit", "lru_set_evict", "replay[policy=lru,", "replay[policy=s3fifo,", "replay[policy=arc,",
         "hit_ratio[workload=zipf"]

ALL_POLICIES = POLICY_SPECS.names          # the cache catalogue: a new policy joins every case here
# the scarab recommendation trace, as expected.json gives its reference figures
SCARAB = "scarab-recs.trace.xz"
SCARAB_CAPACITY = 100_000
SCARAB_REQUESTS = 1_245_184


def _replay_trace(seed: int) -> np.ndarray:
    return cached_trace(zipf, seed=seed, **REPLAY)


def _oracle_file(seed: int):
    keys = _replay_trace(seed)
    return cached_file("zipf-oracleGeneral", dict(seed=seed, **REPLAY), ".bin",
                       lambda tmp: _peers.write_oracle_general(keys, tmp))


def _traces_dir():
    """The folder of reference traces: $TRADEOFF_TRACES, else ../shared/traces
    beside a source checkout; None when neither exists."""
    import os
    from pathlib import Path

    env = os.environ.get("TRADEOFF_TRACES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up.parent / "shared" / "traces"
        if (up / "pyproject.toml").exists() and cand.is_dir():
            return cand
    return None


@lru_cache(maxsize=1)
def _scarab_keys() -> np.ndarray:
    from tradeoff import Skip
    from tradeoff.traces import read

    folder = _traces_dir()
    if folder is None or not (folder / SCARAB).exists():
        raise Skip(f"the scarab trace ({SCARAB}) is not here: set TRADEOFF_TRACES to its folder")
    return np.ascontiguousarray(read(folder / SCARAB, format="binary", dtype=">i8").keys)


def _scarab_oracle_file():
    keys = _scarab_keys()
    return cached_file("scarab-oracleGeneral", {"n": int(keys.size)}, ".bin",
                       lambda tmp: _peers.write_oracle_general(keys, tmp))


def _trace_and_capacity(trace: str, seed: int):
    if trace == "zipf":
        return _replay_trace(seed), REPLAY_CAPACITY
    return _scarab_keys(), SCARAB_CAPACITY


def _peer_replayer(trace: str, policy: str, seed: int):
    if not POLICY_SPECS[policy].peer:        # a policy libCacheSim lacks: a notice, not a failure
        raise Skip(f"{policy} has no libCacheSim counterpart")
    _peers.require("libcachesim", "libCacheSim replay")
    peer = POLICY_SPECS[policy].peer
    if trace == "zipf":
        return _peers.libcachesim_replayer(_oracle_file(seed), REPLAY_CAPACITY, peer, hashpower=20)
    return _peers.libcachesim_replayer(_scarab_oracle_file(), SCARAB_CAPACITY, peer, hashpower=20)


def _replay_callable(trace: str, policy: str, impl: str, seed: int):
    keys, capacity = _trace_and_capacity(trace, seed)
    if trace == "scarab" and len(keys) != SCARAB_REQUESTS:
        raise ValueError(f"{SCARAB} holds {len(keys)} requests, not {SCARAB_REQUESTS}")
    if impl == "tradeoff":
        return lambda: _replay(keys, policy, capacity)
    return _peer_replayer(trace, policy, seed)


@benchmark(params={"policy": ALL_POLICIES, "impl": ["tradeoff", "libcachesim"]},
           compare="impl", inner_loops=REPLAY["n_requests"], processes=4)
def replay(policy, impl, seed):
    """One whole replay of the 10M-request Zipf(1.0) trace over 1M objects at
    capacity 100k (time per request).

    tradeoff replays the numpy array; libCacheSim replays the same keys from an
    oracleGeneral file (its reader and a fresh cache per call, hashpower 20).
    Belady's time includes computing each request's next use (libCacheSim reads
    it from the file)."""
    return _replay_callable("zipf", policy, impl, seed)


@benchmark(params={"policy": ALL_POLICIES, "impl": ["tradeoff", "libcachesim"]},
           compare="impl", inner_loops=SCARAB_REQUESTS, processes=4)
def replay_scarab(policy, impl, seed):
    """One whole replay of the scarab recommendation trace (1.2M requests, 258k
    keys) at capacity 100k, time per request; skipped without the trace
    ($TRADEOFF_TRACES)."""
    return _replay_callable("scarab", policy, impl, seed)


@scenario(params={"trace": ["zipf", "scarab"], "policy": ALL_POLICIES,
                  "impl": ["tradeoff", "libcachesim"]}, compare="impl")
def replay_agreement(trace, policy, impl, seed):
    """Miss ratio of each replay of the same keys (LRU, FIFO and Belady must be
    equal to the request; the others within a point, see the golden tests)."""
    if impl == "tradeoff":
        keys, capacity = _trace_and_capacity(trace, seed)
        r = _replay(keys, policy, capacity)
        return {"miss_ratio": r.miss_ratio, "misses": r.misses, "requests": r.requests}
    rep = _peer_replayer(trace, policy, seed)
    misses = rep()
    return {"miss_ratio": misses / rep.requests, "misses": misses, "requests": rep.requests}


# ------------------------------------------------------------- hit ratios

WORKLOAD = dict(n_requests=1_000_000, n_objects=100_000)


@lru_cache(maxsize=8)
def _workload(name: str, seed: int) -> np.ndarray:
    if name == "zipf":
        return zipf(alpha=1.0, seed=seed, **WORKLOAD)
    if name == "uniform":
        return uniform(seed=seed, **WORKLOAD)
    if name == "scan":
        return scan(seed=seed, **WORKLOAD)
    if name == "hotspot":
        return hotspot(alpha=1.0, seed=seed, **WORKLOAD)
    raise ValueError(name)


@scenario(params={"workload": ["zipf", "hotspot", "uniform", "scan"], "capacity": [1_000, 10_000],
                  "policy": ALL_POLICIES}, compare="policy")
def hit_ratio(workload, capacity, policy, seed):
    """Hit ratio of each policy on 1M requests over 100k objects."""
    r = _replay(_workload(workload, seed), policy, capacity)
    return {"hit_ratio": r.hit_ratio, "hits": r.hits}


@lru_cache(maxsize=1)
def _exact_curve(seed: int):
    from tradeoff.cache import mrc

    return mrc(_replay_trace(seed))


@scenario(params={"sample": [1.0, 0.01, 0.001]})
def lru_mrc(sample, seed):
    """The LRU miss-ratio curve of the 10M-request Zipf trace at every size: exact
    (stack distances), or SHARDS at a rate. Its miss ratio at 100k must equal the
    replay's; a sampled curve's mean absolute error against the exact one is
    measured, beside the error the sampling itself estimates."""
    import time

    from tradeoff.cache import mrc

    trace = _replay_trace(seed)
    t0 = time.perf_counter()
    curve = mrc(trace, sample=None if sample == 1.0 else sample)
    seconds = time.perf_counter() - t0
    exact = _exact_curve(seed)
    at = REPLAY_CAPACITY
    mr = float(np.interp(at, curve["size"], curve["miss_ratio"]))
    out = {"seconds": seconds, "miss_ratio_at_100k": mr,
           "replay_miss_ratio_at_100k": _replay(trace, "lru", at).miss_ratio}
    if sample != 1.0:
        sizes = exact["size"].to_numpy()
        # the sampled curve is a step function: the value at a size is that of the last step
        idx = np.searchsorted(curve["size"].to_numpy(), sizes, side="right") - 1
        est = curve["miss_ratio"].to_numpy()[np.maximum(idx, 0)]
        out["mae_vs_exact"] = float(np.mean(np.abs(est - exact["miss_ratio"].to_numpy())))
        out["error_estimate"] = float(curve.attrs["error_estimate"])
        out["sampled_requests"] = int(curve.attrs["sampled_requests"])
    return out


@scenario(params={"capacity": [10_000, 100_000, 1_000_000]})
def replay_memory(capacity, seed):
    """Peak memory a replay allocates (tracemalloc), beyond the trace itself."""
    trace = _replay_trace(seed)
    tracemalloc.start()
    try:
        r = _replay(trace, "lru", capacity)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak_bytes": peak, "bytes_per_slot": peak / capacity, "kernel_bytes": r.memory_bytes,
            "trace_bytes": trace.nbytes}
