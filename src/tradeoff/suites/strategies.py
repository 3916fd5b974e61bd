"""Caching strategies against a real database (SQLite in WAL mode, in a temporary folder)
with this package's LRU cache in process as the tier.

Timed (pyperf, per request; 1000 requests over 1000 keys per call):
- ``tier_overhead``: what the in-process cache tier costs a request. ``store``: one
  SELECT through :class:`~tradeoff.strategies.stores.SQLiteStore` (the store's own cost);
  ``aside_miss``: a cache-aside read that misses (a cache of one entry: get, SELECT,
  set); ``aside_hit``: one that hits; ``dict``: a dict lookup, the floor. The tier's
  overhead is ``aside_miss`` minus ``store`` (target: under 1 µs); ``tier_ops``: the
  tier's own part of it (a get that misses and a set that evicts, no database).

Scenarios (deterministic counts, but for the latencies and seconds they report):
- ``overhead``: the same four, timed in process (best of 15 interleaved passes): the
  overhead in ns.
- ``strategy``: 2 client threads x 3000 requests (90% reads, Zipf 1.0 over 1000 keys)
  per strategy: database queries per request, hit ratio, stale reads and fills, rows
  written per client write, read and write p99.
- ``race``: the cache-aside race forced once (is the cache stale after it?), and the
  stale fills counted under 4 clients on 50 hot keys with a 0.5 ms database delay, for
  no fix, leases, delete-after-delay and versioned sets.
- ``crash``: write-behind (flush every 200 ms) and write-through in a child killed by
  SIGKILL at 0.5 s: acknowledged writes lost, and whether every lost write was
  acknowledged after the last committed flush took its batch.
- ``servers``: Redis against Memcached, both real (:mod:`tradeoff.strategies.kvservers`):
  GET/SET per second one at a time and pipelined 16 deep, 100-byte values; memory per
  key by their own statistics.
- ``server_eviction``: each server's eviction under memory pressure (Redis's sampled
  LRU and LFU, Memcached's segmented LRU) against the exact LRU, LFU and Belady of
  :mod:`tradeoff.cache` at the keys the server held, on 40k Zipf(0.9) requests.
Without redis-server or memcached installed, the server scenarios skip with a notice.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager

from tradeoff import benchmark, scenario

N = 1000
QUICK = ["tier_overhead[impl=store]", "tier_overhead[impl=aside_miss]", "overhead", "strategy[strategy=aside]", "strategy[strategy=write-behind]",
         "race["]


@contextmanager
def _sqlite(n_keys: int = N, value_size: int = 100, delay: float = 0.0):
    from tradeoff.strategies.stores import SQLiteStore

    d = tempfile.mkdtemp(prefix="tradeoff-suite-strategies-")
    store = SQLiteStore(os.path.join(d, "store.sqlite"), delay)
    try:
        store.load(n_keys, value_size)
        yield store, d
    finally:
        store.close()
        shutil.rmtree(d, ignore_errors=True)


_KEPT: list = []


def _kept_store():
    """A loaded store that lives until the process exits (the timed callables outlive
    their setup), then is closed and its folder removed."""
    if not _KEPT:
        import atexit

        ctx = _sqlite()
        _KEPT.append((ctx, ctx.__enter__()[0]))
        atexit.register(ctx.__exit__, None, None, None)
    return _KEPT[0][1]


def _reader(impl: str, store):
    from tradeoff.strategies.strategies import CacheAside
    from tradeoff.strategies.tiers import LocalTier

    keys = list(range(N))
    if impl == "dict":
        d = {k: (b"x", 1) for k in keys}
        get = d.get
    elif impl == "store":
        get = store.get
    elif impl == "aside_miss":
        get = CacheAside(store, LocalTier(1)).read
    elif impl == "tier_ops":            # the tier's part of a miss alone: a get that misses, a set
        from tradeoff.strategies.tiers import Entry

        t = LocalTier(1)
        tget, tset, value = t.get, t.set, Entry.value

        def get(k):
            tget(k)
            tset(k, value(b"x", 1, 60.0), 60.0)
    elif impl == "aside_hit":
        s = CacheAside(store, LocalTier(2 * N))
        for k in keys:
            s.read(k)
        get = s.read
    else:
        raise ValueError(impl)

    def run():
        for k in keys:
            get(k)
    return run


IMPLS = ["store", "aside_miss", "aside_hit", "tier_ops", "dict"]


@benchmark(params={"impl": IMPLS}, compare="impl", inner_loops=N)
def tier_overhead(impl):
    """One read per key of 1000, through the store, cache-aside (miss, hit) or a dict."""
    store = _kept_store()
    run = _reader(impl, store)
    run()
    return run


@scenario
def overhead():
    """ns per request of each reader (the best of 15 interleaved passes of 5000 requests,
    so that a noisy moment hits every reader alike), and the tier's overhead over the
    store's own SELECT."""
    best = {impl: float("inf") for impl in IMPLS}
    with _sqlite() as (store, _):
        runs = {impl: _reader(impl, store) for impl in IMPLS}
        for _ in range(15):
            for impl, run in runs.items():
                t0 = time.perf_counter_ns()
                for _ in range(5):
                    run()
                best[impl] = min(best[impl], (time.perf_counter_ns() - t0) / (5 * N))
    out = {f"{impl}_ns": v for impl, v in best.items()}
    out["tier_overhead_ns"] = out["aside_miss_ns"] - out["store_ns"]
    out["under_1us"] = "yes" if out["tier_overhead_ns"] < 1000 else "no"
    return out


STRATEGY_NAMES = ["aside", "aside:lease", "read-through", "write-through", "write-behind", "write-around",
                  "refresh-ahead"]


@scenario(params={"strategy": STRATEGY_NAMES}, compare="strategy")
def strategy(strategy, seed):
    """A short closed-loop run of one strategy (see the module's docstring)."""
    from tradeoff.strategies.runner import Workload, run_workload
    from tradeoff.strategies.tiers import LocalTier

    w = Workload(read_fraction=0.9, n_keys=N, clients=2, duration=0, ops=3000, seed=seed)
    with _sqlite() as (store, _):
        r = run_workload(strategy, store, LocalTier(10 * N), w, flush_interval=0.05)
    return {k: r[k] for k in ("db_queries_per_request", "hit_ratio", "stale_reads", "stale_fills", "stale_left",
                              "db_writes_per_write", "cache_ops_per_request", "read_p99_us", "write_p99_us")}


@scenario(params={"fix": ["none", "lease", "delay", "versioned"]}, compare="fix")
def race(fix, seed):
    """The cache-aside race: forced once, then counted under concurrent clients."""
    from tradeoff.strategies.runner import Workload, reproduce_race, run_workload
    from tradeoff.strategies.tiers import LocalTier

    f = None if fix == "none" else fix
    with _sqlite() as (store, _):
        forced = reproduce_race(store, LocalTier(100), f, delay=0.02)
    w = Workload(read_fraction=0.7, alpha=1.2, n_keys=50, clients=4, duration=0, ops=400, seed=seed)
    with _sqlite(50, 100, delay=0.0005) as (store, _):
        r = run_workload("aside" if f is None else f"aside:{f}", store, LocalTier(1000), w, delay=0.02)
    return {"forced_stale": int(forced["stale"]), "stale_fills": r["stale_fills"], "stale_reads": r["stale_reads"],
            "stale_left": r["stale_left"], "db_queries_per_request": r["db_queries_per_request"]}


@scenario(params={"strategy": ["write-behind", "write-through"]}, compare="strategy")
def crash(strategy, seed):
    """SIGKILL at 0.5 s: acknowledged writes lost (write-behind flushes every 200 ms)."""
    from tradeoff.strategies.runner import Workload, crash_run

    w = Workload(read_fraction=0.5, n_keys=N, clients=2, seed=seed)
    with _sqlite() as (store, d):
        r = crash_run(strategy, {"kind": "sqlite", "path": os.path.join(d, "store.sqlite")}, {"kind": "local"},
                      w, 0.5, flush_interval=0.2, store=store)
    return {k: r[k] for k in ("acked_writes", "lost", "lost_window_ms", "max_flush_ms", "flushes", "bound_holds")}


def _need_server(name: str) -> None:
    from tradeoff import Skip
    from tradeoff.harness.servers import missing_notice

    notice = missing_notice("redis-server" if name == "redis" else "memcached")
    if notice:
        raise Skip(notice)


@scenario(params={"server": ["redis", "memcached"], "pipeline": [1, 16]}, compare="server")
def servers(server, pipeline):
    from tradeoff.strategies import kvservers

    _need_server(server)
    out = {}
    with kvservers.start(server) as srv:
        for op in ("get", "set"):
            r = kvservers.throughput(srv, op=op, value_size=100, pipeline=pipeline, requests=5000)
            out[f"{op}_per_s"] = r["ops_per_s"]
            out[f"{op}_p99_us"] = r["p99_us"]
    with kvservers.start(server) as srv:
        m = kvservers.memory_per_key(srv, keys=10_000, value_size=100)
    out["bytes_per_key"] = m["bytes_per_key"]
    return out


@scenario(params={"config": ["redis:lru:5", "redis:lru:10", "redis:lfu:5", "memcached"]}, compare="config")
def server_eviction(config, seed):
    from tradeoff.strategies import kvservers
    from tradeoff.workloads import zipf

    _need_server(config.split(":")[0])
    keys = zipf(40_000, 30_000, 0.9, seed=seed)
    r = kvservers.eviction(keys, configs=config, memory_mb=8, value_size=1000).iloc[0]
    return {"hit_ratio": float(r["hit_ratio"]), "keys_held": int(r["capacity_keys"]),
            "exact_lru": float(r["lru_hit_ratio"]), "exact_lfu": float(r["lfu_hit_ratio"]),
            "belady": float(r["belady_hit_ratio"]), "gap_to_policy": float(r["gap_to_exact"])}
