"""Run caching strategies against a real store and cache tier: the seeded workload, the
crash runs and the cache-aside race.

:func:`run_workload`: closed-loop clients on threads, each issuing reads and writes
(``mix``) of keys drawn from :mod:`tradeoff.workloads` (Zipf or uniform, one seed per
client) for a duration or a number of operations. It reports read and write latency
(p50/p99/p999), database queries per request, the hit ratio, stale reads (a read that
returned a version older than one committed before the read began; the versions come
from the database's ``RETURNING``), stale fills (a cache fill of a version already
superseded) and entries left stale in the cache at the end (checked against the
database), and write amplification (rows the database wrote, and cache writes, per
client write).

:func:`crash_run`: the same workload in a child process that is killed with SIGKILL at
``crash_at`` seconds. The child writes every acknowledged write (key, write id, time) to
a pipe as soon as ``write`` returns (the kernel keeps what was written when the writer
dies); values carry their write id, so that afterwards the parent counts the
acknowledged writes whose key holds an older write in the database: data lost. In crash
runs each client writes only its own keys (key mod clients), so that a key's writes
are ordered and "older" is well defined.

:func:`reproduce_race`: the cache-aside race, with the interleaving forced by events
(deterministic), for each fix.
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .strategies import DIRTY, CacheAside, make_strategy

__all__ = ["Workload", "run_workload", "crash_run", "reproduce_race", "parse_mix", "make_value", "write_id"]

Progress = Callable[[str], None]


def make_value(wid: int, size: int) -> bytes:
    """The value of write ``wid``: ``b"<wid>|"`` padded with ``x`` to ``size`` bytes."""
    head = b"%d|" % wid
    return head + b"x" * max(0, size - len(head))


def write_id(value: bytes) -> int:
    """The write id a value carries (0: the initial load's)."""
    head, sep, _ = bytes(value).partition(b"|")
    return int(head) if sep else 0


def parse_mix(spec: str) -> float:
    """``"read:90,write:10"`` -> 0.9, the read fraction; ValueError unless the parts are
    read and write, whole percentages summing to 100."""
    parts = {}
    for item in str(spec).split(","):
        name, sep, pct = item.strip().partition(":")
        if not sep or name not in ("read", "write") or name in parts:
            raise ValueError(f"bad --mix {spec!r}: write read:P,write:Q with P + Q = 100")
        try:
            parts[name] = float(pct)
        except ValueError:
            raise ValueError(f"bad --mix {spec!r}: {pct!r} is not a number") from None
        if not 0 <= parts[name] <= 100:
            raise ValueError(f"bad --mix {spec!r}: percentages are within 0..100")
    if abs(sum(parts.values()) - 100) > 1e-9:
        raise ValueError(f"--mix must sum to 100, got {spec!r} ({sum(parts.values()):g})")
    return parts.get("read", 0.0) / 100


@dataclass
class Workload:
    """What the clients do. ``keys``: ``"zipf"`` (with ``alpha``) or ``"uniform"`` over
    ``n_keys`` keys; ``read_fraction`` of requests are reads; values of ``value_size``
    bytes; ``clients`` threads; for ``duration`` seconds or ``ops`` requests per client
    (whichever ends first; 0 = no limit, but one is needed)."""
    read_fraction: float = 0.9
    keys: str = "zipf"
    alpha: float = 1.0
    n_keys: int = 10_000
    value_size: int = 100
    clients: int = 8
    duration: float = 10.0
    ops: int = 0
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.read_fraction <= 1:
            raise ValueError(f"read_fraction must be within 0..1, got {self.read_fraction!r}")
        if self.keys not in ("zipf", "uniform"):
            raise ValueError(f"keys must be 'zipf' or 'uniform', got {self.keys!r}")
        if self.n_keys < 1 or self.clients < 1 or self.value_size < 0:
            raise ValueError("n_keys and clients must be >= 1 and value_size >= 0")
        if not self.duration >= 0 or self.ops < 0 or (not self.duration and not self.ops):
            raise ValueError("give a duration > 0 or ops > 0")

    def client_arrays(self, client: int, n: int = 1 << 16):
        """The client's keys and read flags (seed ``seed * 1000 + client``)."""
        from .. import workloads

        seed = self.seed * 1000 + client
        if self.keys == "zipf":
            keys = workloads.zipf(n, self.n_keys, self.alpha, seed=seed)
        else:
            keys = workloads.uniform(n, self.n_keys, seed=seed)
        reads = np.random.default_rng(seed + 7919).random(n) < self.read_fraction
        return keys.tolist(), reads.tolist()


def _pct(values, q):
    return float(np.percentile(values, q)) / 1e3 if len(values) else float("nan")


def run_workload(strategy_spec: str, store, tier, w: Workload, *, ttl: float = 60.0, flush_interval: float = 0.1,
                 batch_size: int = 1000, delay: float = 0.05, progress: Progress | None = None,
                 ack: Callable[[int, int], None] | None = None, on_flush=None, partition_writes: bool = False,
                 check_left: bool = True, on_start: Callable[[], None] | None = None,
                 keep_latencies: bool = False) -> dict:
    """Load the store, run ``w`` through the strategy named ``strategy_spec`` (see
    :func:`~tradeoff.strategies.strategies.make_strategy`), return the row of metrics.

    ``ack(key, write_id)`` is called after each acknowledged write (the crash child's log);
    ``on_start()`` just before the clients start. ``keep_latencies``: the row also holds
    the latencies in ns (``_read_ns``, ``_write_ns``: numpy arrays).
    """
    store.load(w.n_keys, w.value_size)
    tier.clear()
    kw = {"on_flush": on_flush} if on_flush is not None and strategy_spec == "write-behind" else {}
    strat = make_strategy(strategy_spec, store, tier, ttl=ttl, flush_interval=flush_interval,
                          batch_size=batch_size, delay=delay, **kw)
    c0 = (tier.gets_count, tier.sets_count, tier.deletes_count)
    stop = threading.Event()
    wids = itertools.count(1)
    results = [None] * w.clients
    errors: list[BaseException] = []
    latest = store.latest
    perf = time.perf_counter_ns

    arrays = [w.client_arrays(i) for i in range(w.clients)]

    def client(i: int) -> None:
        keys, reads = arrays[i]
        n = len(keys)
        rl, wl = [], []
        stale = 0
        done = 0
        limit = w.ops or (1 << 62)
        try:
            j = 0
            while done < limit and not stop.is_set():
                key = keys[j]
                if reads[j]:
                    floor = latest.get(key, 0)
                    t0 = perf()
                    got = strat.read(key)
                    rl.append(perf() - t0)
                    if got is not None and got[1] < floor:
                        stale += 1
                else:
                    if partition_writes:
                        key = key - key % w.clients + i
                        if key >= w.n_keys:
                            key = i % w.n_keys
                    wid = next(wids)
                    value = make_value(wid, w.value_size)
                    t0 = perf()
                    strat.write(key, value)
                    wl.append(perf() - t0)
                    if ack is not None:
                        ack(key, wid)
                done += 1
                j += 1
                if j == n:
                    j = 0
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        results[i] = (rl, wl, stale)

    threads = [threading.Thread(target=client, args=(i,), name=f"tradeoff-client-{i}", daemon=True)
               for i in range(w.clients)]
    if on_start is not None:
        on_start()
    start = time.perf_counter()
    try:
        for t in threads:
            t.start()
        last = start
        while any(t.is_alive() for t in threads):
            now = time.perf_counter()
            if w.duration and now - start >= w.duration:
                stop.set()
            if progress and now - last >= 5:
                last = now
                progress(f"  {strategy_spec}: {now - start:.0f} s of "
                         f"{w.duration:g} s" if w.duration else f"  {strategy_spec}: {now - start:.0f} s")
            threads[0].join(0.05) if threads[0].is_alive() else time.sleep(0.05)
        wall = time.perf_counter() - start
    finally:
        stop.set()
        for t in threads:
            t.join()
        strat.close()
    if errors:
        raise errors[0]
    rl = np.concatenate([np.asarray(r[0], dtype=np.int64) for r in results]) if results else np.empty(0)
    wl = np.concatenate([np.asarray(r[1], dtype=np.int64) for r in results]) if results else np.empty(0)
    stale = sum(r[2] for r in results)
    n_reads, n_writes = len(rl), len(wl)
    requests = n_reads + n_writes
    cache_ops = (tier.gets_count - c0[0], tier.sets_count - c0[1], tier.deletes_count - c0[2])
    row = {
        "strategy": strategy_spec, "requests": requests, "reads": n_reads, "writes": n_writes,
        "ops_per_s": requests / wall if wall > 0 else float("nan"),
        "read_p50_us": _pct(rl, 50), "read_p99_us": _pct(rl, 99), "read_p999_us": _pct(rl, 99.9),
        "write_p50_us": _pct(wl, 50), "write_p99_us": _pct(wl, 99), "write_p999_us": _pct(wl, 99.9),
        "db_reads": store.reads, "db_writes": store.writes, "db_transactions": store.transactions,
        "db_queries_per_request": (store.reads + store.writes) / requests if requests else float("nan"),
        "hit_ratio": strat.hits / (strat.hits + strat.misses) if strat.hits + strat.misses else float("nan"),
        "stale_reads": stale, "stale_read_pct": 100 * stale / n_reads if n_reads else 0.0,
        "stale_fills": strat.stale_sets,
        "db_writes_per_write": store.writes / n_writes if n_writes else float("nan"),
        "cache_writes_per_write": (cache_ops[1] + cache_ops[2]) / n_writes if n_writes else float("nan"),
        "cache_ops_per_request": sum(cache_ops) / requests if requests else float("nan"),
        "wall_seconds": wall,
    }
    if check_left:
        row["stale_left"] = stale_entries(store, tier)
    if keep_latencies:
        row["_read_ns"], row["_write_ns"] = rl, wl
    return row


def stale_entries(store, tier) -> int:
    """Cache entries (values) older than the database's row for their key, by reading
    every row back from the database and each key from the cache (not counted)."""
    c = (tier.gets_count, tier.sets_count, tier.deletes_count)
    n = 0
    for key, version, _ in store.rows():
        e = tier.get(key)
        if e is not None and e.kind == "v" and e.version != DIRTY and e.version < version:
            n += 1
    tier.gets_count, tier.sets_count, tier.deletes_count = c
    return n


# -- the crash run ---------------------------------------------------------------------------
def crash_run(strategy_spec: str, store_spec: dict, tier_spec: dict, w: Workload, crash_at: float, *,
              ttl: float = 60.0, flush_interval: float = 0.1, batch_size: int = 1000, store=None,
              progress: Progress | None = None) -> dict:
    """Run ``w`` in a child process (``python -m tradeoff.strategies.runner``) that is
    killed with SIGKILL ``crash_at`` seconds after it starts its clients; count the
    acknowledged writes missing from the database.

    ``store_spec``: ``{"kind": "sqlite", "path": ...}`` or ``{"kind": "postgresql",
    "dsn": ...}``; ``tier_spec``: ``{"kind": "local", "policy": ..., "maxsize": ...}`` or
    ``{"kind": "redis"|"memcached", "address": ...}``. ``store``: an open store on the
    same database for the count (else one is opened from ``store_spec``).
    """
    from .stores import PostgresStore, SQLiteStore

    if not crash_at > 0:
        raise ValueError(f"crash_at must be > 0 seconds, got {crash_at!r}")
    read_fd, write_fd = os.pipe()
    conf = {"strategy": strategy_spec, "store": store_spec, "tier": tier_spec, "ttl": ttl,
            "flush_interval": flush_interval, "batch_size": batch_size, "fd": write_fd,
            "workload": {**w.__dict__, "duration": crash_at * 10 + 60, "ops": 0}}
    child = subprocess.Popen([sys.executable, "-m", "tradeoff.strategies.runner", json.dumps(conf)],
                             pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: _drain(read_fd, chunks), daemon=True)
    reader.start()
    killed_at = None
    try:
        started = None
        deadline = time.monotonic() + 120
        while started is None and time.monotonic() < deadline:   # wait for "S" (clients started)
            if child.poll() is not None:
                break
            data = b"".join(chunks)
            if b"S " in data:
                started = float(data.split(b"S ", 1)[1].split(b"\n", 1)[0])
            else:
                time.sleep(0.01)
        if started is None:
            err = child.stderr.read().decode(errors="replace").strip().splitlines() if child.poll() is not None else []
            raise RuntimeError(f"the crash child did not start: {err[-1] if err else 'timeout'}")
        if progress:
            progress(f"  {strategy_spec}: running in process {child.pid}, SIGKILL at {crash_at:g} s")
        time.sleep(max(0.0, started + crash_at - time.monotonic()))
        killed_at = time.monotonic()
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        reader.join()
        os.close(read_fd)
        child.stderr.close()
    acks: dict[int, list[tuple[int, float]]] = {}
    flushes = []
    n_acks = 0
    for line in b"".join(chunks).split(b"\n"):
        parts = line.split()
        if len(parts) == 4 and parts[0] == b"A":
            acks.setdefault(int(parts[1]), []).append((int(parts[2]), float(parts[3])))
            n_acks += 1
        elif len(parts) == 4 and parts[0] == b"F":
            flushes.append((float(parts[1]), float(parts[2]), int(parts[3])))
    own = store is None
    if own:
        store = SQLiteStore(store_spec["path"]) if store_spec["kind"] == "sqlite" else PostgresStore(store_spec["dsn"])
    try:
        in_db = {k: write_id(v) for k, _, v in store.rows()}
    finally:
        if own:
            store.close()
    lost = [(wid, t) for key, items in acks.items() for wid, t in items if wid > in_db.get(key, 0)]
    last_taken = max((f[0] for f in flushes), default=None)
    oldest = min((t for _, t in lost), default=None)
    return {
        "strategy": strategy_spec, "crash_at_s": crash_at, "acked_writes": n_acks, "lost": len(lost),
        "lost_pct": 100 * len(lost) / n_acks if n_acks else 0.0,
        "lost_window_ms": 1e3 * (killed_at - oldest) if oldest is not None else 0.0,
        "flush_interval_ms": 1e3 * flush_interval if strategy_spec == "write-behind" else float("nan"),
        "flushes": len(flushes),
        "max_flush_ms": 1e3 * max((f[1] - f[0] for f in flushes), default=0.0),
        # every lost write was acknowledged after the last committed flush took its batch
        "bound_holds": "yes" if (not lost or (last_taken is not None and all(t > last_taken for _, t in lost))
                                 or (last_taken is None and strategy_spec == "write-behind")) else "NO",
    }


def _drain(fd: int, out: list) -> None:
    while True:
        data = os.read(fd, 65536)
        if not data:
            return
        out.append(data)


def _child(conf: dict) -> None:
    """The crash child: open the store and tier, run the workload, log acks to the pipe."""
    from .stores import PostgresStore, SQLiteStore
    from .tiers import make_tier

    fd = conf["fd"]
    s = conf["store"]
    store = SQLiteStore(s["path"]) if s["kind"] == "sqlite" else PostgresStore(s["dsn"])
    t = conf["tier"]
    tier = make_tier(t["kind"], address=t.get("address"), maxsize=t.get("maxsize", 100_000),
                     policy=t.get("policy", "lru"))
    w = Workload(**conf["workload"])
    mono = time.monotonic
    lock = threading.Lock()

    def log(line: bytes) -> None:
        with lock:
            os.write(fd, line)

    def ack(key, wid):
        log(b"A %d %d %.6f\n" % (key, wid, mono()))

    def on_flush(taken, done, n):
        log(b"F %.6f %.6f %d\n" % (taken, done, n))

    # the parent's table is loaded: do not reload it here (load() would reset versions)
    store.load = lambda n, size: None
    run_workload(conf["strategy"], store, tier, w, ttl=conf["ttl"], flush_interval=conf["flush_interval"],
                 batch_size=conf["batch_size"], ack=ack, on_flush=on_flush, partition_writes=True,
                 check_left=False, on_start=lambda: log(b"S %.6f\n" % mono()))


# -- the race ----------------------------------------------------------------------------------
def reproduce_race(store, tier, fix: str | None = None, *, key: int = 0, delay: float = 0.05,
                   ttl: float = 60.0) -> dict:
    """The cache-aside race, forced: a reader misses ``key`` and reads row version v; the
    test hook holds it there while a writer commits v+1 and invalidates; then the reader
    fills the cache. Returns the version the cache holds just after (``cached``; None if
    nothing), the database's (``db``), whether the cache is stale (``stale``), and, for
    ``fix="delay"``, whether it is still stale after the delayed delete
    (``stale_after_delay``).
    """
    store.load(max(key + 1, 1), 16)
    tier.clear()
    strat = CacheAside(store, tier, ttl=ttl, fix=fix, delay=delay)
    read_done, write_done = threading.Event(), threading.Event()
    reader_ident = []

    def hook(k):
        if threading.get_ident() in reader_ident:
            read_done.set()
            if not write_done.wait(10):
                raise RuntimeError("the writer did not finish")

    strat.after_db_read = hook
    got = []

    def reader():
        reader_ident.append(threading.get_ident())
        got.append(strat.read(key))

    t = threading.Thread(target=reader)
    t.start()
    try:
        if not read_done.wait(10):
            raise RuntimeError("the reader did not reach the database")
        strat.write(key, make_value(1, 16))
    finally:
        write_done.set()
        t.join()
    e = tier.get(key)
    cached = e.version if e is not None and e.kind == "v" else None
    db = store.versions()[key]
    out = {"fix": fix or "none", "reader_got": got[0][1] if got and got[0] else None, "cached": cached,
           "db": db, "stale": cached is not None and cached < db}
    if fix == "delay":
        strat.close()           # runs the pending delayed delete
        e = tier.get(key)
        out["stale_after_delay"] = e is not None and e.kind == "v" and e.version < db
    else:
        strat.close()
    return out


if __name__ == "__main__":       # the crash child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _child(json.loads(sys.argv[1]))
