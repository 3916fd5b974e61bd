"""Cache stampedes and their fixes, simulated and for real (issue 13, section 3).

A hot key expires while many clients read it: without a fix, every request that
misses recomputes the value (a slow database query) until the first recompute
lands, so a key read at rate lambda whose recompute takes d is recomputed
``1 + lambda * d`` times per expiry on average (the arrivals of a Poisson process
during d, plus the first). The fixes:

``none``
    every miss recomputes.
``lock`` (``stale=0|1``)
    single flight: the first miss recomputes, the others wait for it, or with
    ``stale=1`` get the expired value at once (dogpile.cache's behaviour). One
    recompute per expiry, exactly.
``jitter`` (``spread=0.1``)
    each TTL is ``ttl * (1 - spread * U)``: keys set together expire apart. Per key
    it changes nothing; over many keys set at once it spreads their stampedes.
``xfetch`` (``beta=1``)
    probabilistic early expiration (Vattani, Chierichetti and Lowenstein,
    "Optimal probabilistic cache stampede prevention", PVLDB 8(8):886-897, 2015):
    a reader recomputes early when ``now - delta * beta * ln(U) >= expiry``, delta
    being the last recompute's duration and U uniform in (0, 1].
``swr`` (``window=inf``)
    stale-while-revalidate (RFC 5861): for ``window`` seconds after the expiry,
    readers get the expired value and the first starts one background refresh.

XFetch's bound, derived here (and checked by the tests against the simulation):
a request ``tau`` seconds before the expiry recomputes with probability
``exp(-tau / (delta beta))``, so early recomputes are a Poisson process of
intensity ``lambda exp(-tau / (delta beta))``. Its cumulative intensity at the
first of them is exponential with mean 1 (when ``ttl >> delta beta`` and
``lambda delta >> 1``), and the others that start while that one runs (for
delta) number on average that cumulative intensity times ``exp(1/beta) - 1``.
So the recomputes per expiry tend to ``exp(1/beta)`` (e = 2.718 for beta = 1)
whatever the rate, where without a fix they grow as ``1 + lambda d``.

:func:`simulate` runs the discrete-event model (``_stampede.pyx``, on the shared
event core); :func:`run_real` runs the same requests (the same arrival times and
keys, :func:`schedule`) through threads against a SQLite file in WAL mode with a
slow query (a real ``SELECT`` plus a sleep for the rest of the recompute time),
with the fixes implemented for real, and the peers dogpile.cache and diskcache's
``memoize_stampede`` on the same workload (:data:`PEERS`).
"""
from __future__ import annotations

import math
import os
import random
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..harness.errors import UserError
from ..harness.specs import Choice, parse_choices, parse_duration
from ._stampede import FIX_KINDS, Stampede, arrival_schedule

__all__ = ["FIXES", "SWEEP_FIXES", "PEERS", "Result", "parse_fixes", "parse_recompute", "simulate", "sweep",
           "schedule", "run_real", "run_peer", "expected_none", "expected_xfetch", "p99"]

#: each fix and its parameters with their defaults
FIXES = {"none": {}, "lock": {"stale": False}, "jitter": {"spread": 0.1}, "xfetch": {"beta": 1.0},
         "swr": {"window": math.inf}}
#: the ten fixes of the sweep target (issue 13)
SWEEP_FIXES = ("none", "lock", "lock:stale=1", "jitter:spread=0.1", "jitter:spread=0.5", "xfetch:beta=0.5",
               "xfetch:beta=1", "xfetch:beta=2", "swr", "swr:window=0.1")
#: the peer libraries run by :func:`run_peer` (real mode only)
PEERS = ("dogpile", "diskcache")

Note = Callable[[str], None]


def parse_fixes(spec) -> list[Choice]:
    """``"none,lock:stale=1,xfetch:beta=1"`` -> choices; UserError on an unknown fix,
    parameter or a bad value."""
    out = parse_choices(spec, {k: tuple(v) for k, v in FIXES.items()}, "fix", everything=list(FIXES))
    for c in out:
        _fix_params(c)
    return out


def _fix_params(choice: Choice) -> dict:
    """The keyword arguments of the core for a choice, checked."""
    p = {**FIXES[choice.name], **choice.params}
    if "stale" in p:
        if p["stale"] not in (True, False, 0, 1):
            raise UserError(f"lock: stale must be 0 or 1, got {p['stale']!r}")
        p["stale"] = bool(p["stale"])
    if "spread" in p and not (isinstance(p["spread"], (int, float)) and 0 <= p["spread"] < 1):
        raise UserError(f"jitter: spread must be in [0, 1), got {p['spread']!r}")
    if "beta" in p and not (isinstance(p["beta"], (int, float)) and 0 < p["beta"] < math.inf):
        raise UserError(f"xfetch: beta must be > 0, got {p['beta']!r}")
    if "window" in p:
        try:
            p["window"] = math.inf if p["window"] in (math.inf, "inf") else parse_duration(p["window"], "swr window")
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return p


def parse_recompute(spec) -> tuple:
    """``"200ms"`` (constant) or ``"exp:200ms"`` (exponential with that mean) or
    ``"const:0.2"`` -> the core's distribution spec ``(kind, mean, None)``."""
    from .._core.dist import DISTS

    text = str(spec).strip()
    kind, sep, rest = text.partition(":")
    if not sep:
        kind, rest = "const", text
    if kind not in ("const", "exp"):
        raise UserError(f"bad recompute time {spec!r}: write 200ms, const:200ms or exp:200ms")
    try:
        mean = parse_duration(rest, "recompute time")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if mean <= 0:
        raise UserError(f"the recompute time must be > 0, got {spec!r}")
    return (DISTS[kind], mean, None)


def expected_none(rate: float, recompute: float, keys: int = 1) -> float:
    """Recomputes per expiry without a fix: ``1 + (rate / keys) * recompute`` (the
    first miss, plus the Poisson arrivals of the key while it runs)."""
    return 1.0 + rate / keys * recompute


def expected_xfetch(beta: float) -> float:
    """XFetch's recomputes per expiry as the rate grows (ttl >> delta): ``exp(1/beta)``
    (module docstring)."""
    return math.exp(1.0 / beta)


def p99(latencies: np.ndarray, total: int, q: float = 0.99) -> float:
    """The nearest-rank q-quantile of ``total`` latencies, ``latencies`` being the
    non-zero ones (the others are 0)."""
    if total <= 0:
        return math.nan
    rank = max(1, math.ceil(q * total))           # 1-based
    zeros = total - len(latencies)
    if rank <= zeros:
        return 0.0
    return float(np.partition(latencies, rank - zeros - 1)[rank - zeros - 1])


@dataclass
class Result:
    """One run, simulated or real: the figures of one fix at one rate."""
    fix: str
    mode: str                  # "sim", "real", or the peer's name
    rate: float
    keys: int
    ttl: float
    recompute: float           # mean seconds
    requests: int
    hits: int
    recomputes: int
    expiries: int              # refresh episodes: a key's first recompute while none in flight
    recomputes_per_expiry: float
    early: int                 # xfetch: recomputes before the expiry
    background: int            # swr: background refreshes
    waits: int                 # lock: readers that waited for the recompute
    stale_reads: int
    peak_db: int               # most recomputes (database queries) in flight at once
    p99_ms: float
    mean_ms: float
    max_ms: float
    simulated_s: float         # the time the requests span
    wall_s: float
    seed: int

    def row(self) -> dict:
        return asdict(self)


def _result(fix, mode, rate, keys, ttl, mean, seed, *, requests, hits, recomputes, episodes, early,
            background, waits, stale, peak, lat, span, wall) -> Result:
    total = float(lat.sum()) if len(lat) else 0.0
    return Result(fix=fix, mode=mode, rate=rate, keys=keys, ttl=ttl, recompute=mean, requests=requests,
                  hits=hits, recomputes=recomputes, expiries=episodes,
                  recomputes_per_expiry=recomputes / episodes if episodes else math.nan, early=early,
                  background=background, waits=waits, stale_reads=stale, peak_db=peak,
                  p99_ms=1e3 * p99(lat, requests), mean_ms=1e3 * total / requests if requests else math.nan,
                  max_ms=1e3 * float(lat.max()) if len(lat) else 0.0, simulated_s=span, wall_s=wall, seed=seed)


def _check_common(rate, ttl, keys, requests):
    if not (isinstance(rate, (int, float)) and 0 < rate < math.inf):
        raise UserError(f"the rate must be a number > 0, got {rate!r}")
    if not 0 < ttl < math.inf:
        raise UserError(f"the ttl must be > 0, got {ttl!r}")
    if not (isinstance(keys, int) and keys >= 1):
        raise UserError(f"keys must be >= 1, got {keys!r}")
    if not (isinstance(requests, int) and requests >= 1):
        raise UserError(f"requests must be >= 1, got {requests!r}")


def simulate(fix="none", *, rate: float = 1000.0, recompute="200ms", ttl="60s", keys: int = 1,
             requests: int = 1_000_000, seed: int = 0, check: bool = False) -> Result:
    """Simulate ``requests`` reads of ``keys`` hot keys at ``rate`` per second (in all)
    under one fix (a spec such as ``"xfetch:beta=1"`` or a :class:`Choice`).

    >>> r = simulate("lock", rate=1000, recompute="100ms", ttl="10s", requests=100_000)
    >>> r.recomputes_per_expiry, r.peak_db
    (1.0, 1)
    """
    choice = fix if isinstance(fix, Choice) else parse_fixes(fix)[0]
    dist = parse_recompute(recompute) if not isinstance(recompute, tuple) else recompute
    ttl_s = _duration(ttl, "ttl")
    _check_common(rate, ttl_s, keys, requests)
    t0 = time.perf_counter()
    s = Stampede(FIX_KINDS[choice.name], keys, float(rate), ttl_s, dist, seed & (2**64 - 1),
                 **_fix_params(choice))
    s.run(requests)
    wall = time.perf_counter() - t0
    if check:
        s._check()
    return _result(choice.label, "sim", float(rate), keys, ttl_s, dist[1], seed, requests=s.requests,
                   hits=s.hits, recomputes=s.recomputes, episodes=s.episodes, early=s.early,
                   background=s.background, waits=s.waits, stale=s.stale_reads, peak=s.peak_in_flight,
                   lat=s.latencies(), span=s.now, wall=wall)


def _duration(x, what) -> float:
    try:
        return parse_duration(x, what)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _sweep_task(task, shared):
    choice, rate = task
    return simulate(choice, rate=rate, **shared["kw"])


def sweep_on_cluster(choices, rates, cluster: str, *, progress: Note | None = None,
                     **kw) -> tuple[list[Result], list[str]]:
    """:func:`sweep` with one dask task per fix and rate (``cluster``: ``tcp://host:port``
    or ``local:N``, :mod:`tradeoff.harness.cluster`): the results in the same order,
    and where each ran."""
    from ..harness.cluster import executor

    tasks = [(c, float(r)) for c in choices for r in rates]
    out: list = [None] * len(tasks)
    where: list = [None] * len(tasks)
    with executor(cluster) as ex:
        for done, (i, res, ran_on) in enumerate(ex.map(_sweep_task, tasks, {"kw": kw}), 1):
            out[i], where[i] = res, ran_on
            if progress:
                progress(f"stampede: [{done}/{len(tasks)}] {tasks[i][0].label} at {tasks[i][1]:g}/s "
                         f"done on {ran_on}")
    return out, where


def sweep(fixes=SWEEP_FIXES, rates=(1000.0,), *, progress: Note | None = None, **kw) -> list[Result]:
    """:func:`simulate` for every fix at every rate (fixes outer); ``kw`` as for it."""
    choices = parse_fixes(",".join(fixes) if not isinstance(fixes, str) else fixes)
    out = []
    for c in choices:
        if progress:
            progress(f"stampede: {c.label} at {len(rates)} rate(s)")
        for r in rates:
            out.append(simulate(c, rate=r, **kw))
    return out


def schedule(requests: int, rate: float, keys: int = 1, seed: int = 0):
    """The request times (seconds from the start) and keys that :func:`simulate`
    serves with these settings: what a real run replays."""
    return arrival_schedule(requests, float(rate), keys, seed & (2**64 - 1))


# ----------------------------------------------------------------------------- real mode
class _Database:
    """A SQLite file in WAL mode in a temporary folder, one row per key; a recompute
    is a real ``SELECT`` of the key's row followed by a sleep for the rest of its
    time. One connection per thread."""

    def __init__(self, keys: int):
        self.dir = tempfile.TemporaryDirectory(prefix="tradeoff-stampede-")
        self.path = os.path.join(self.dir.name, "store.sqlite")
        self._local = threading.local()
        self._conns = []
        self._lock = threading.Lock()
        con = self._conn()
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE kv (key INTEGER PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL)")
        con.executemany("INSERT INTO kv VALUES (?, ?, 1)", [(k, b"v%d" % k) for k in range(keys)])
        con.commit()

    def _conn(self):
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def query(self, key: int, seconds: float):
        start = time.monotonic()
        row = self._conn().execute("SELECT value, version FROM kv WHERE key = ?", (key,)).fetchone()
        rest = seconds - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)
        return row

    def close(self):
        for con in self._conns:
            con.close()
        self._conns.clear()
        self.dir.cleanup()


class _Counters:
    def __init__(self, keys):
        self.lock = threading.Lock()
        self.inflight = [0] * keys
        self.in_flight = self.peak = self.recomputes = self.episodes = 0
        self.early = self.background = self.waits = self.stale = self.hits = 0

    def begin(self, k):
        with self.lock:
            if self.inflight[k] == 0:
                self.episodes += 1
            self.inflight[k] += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.recomputes += 1

    def end(self, k):
        with self.lock:
            self.inflight[k] -= 1
            self.in_flight -= 1

    def add(self, name):
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class _RedisLock:
    """A distributed lock per key: ``SET lock:K token NX PX ms``; released by a
    compare-and-delete script (the single-instance pattern of the Redis docs,
    https://redis.io/docs/latest/develop/use/patterns/distributed-locks/)."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, server, ttl_ms: int):
        self.client = server.client()
        self.ttl_ms = max(1, int(ttl_ms))
        self.release_script = self.client.register_script(self._RELEASE)

    def acquire(self, k, token) -> bool:
        return bool(self.client.set(f"lock:{k}", token, nx=True, px=self.ttl_ms))

    def release(self, k, token) -> None:
        self.release_script(keys=[f"lock:{k}"], args=[token])

    def held(self, k) -> bool:
        return self.client.exists(f"lock:{k}") == 1


def _replay(times, keys_arr, handle, workers: int) -> tuple[np.ndarray, float]:
    """Call ``handle(i, k)`` for request i at its time (seconds after the start) on a
    pool of threads; return each request's latency and the wall time."""
    lat = np.zeros(len(times))
    pool = ThreadPoolExecutor(max_workers=workers)
    start = time.monotonic()

    def one(i, k):
        t = time.monotonic()
        handle(k)
        lat[i] = time.monotonic() - t

    futures = []
    try:
        for i in range(len(times)):
            wait = start + times[i] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            futures.append(pool.submit(one, i, int(keys_arr[i])))
        for f in futures:
            f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lat, time.monotonic() - start


def _workers(rate, mean, keys):
    return int(min(512, max(16, 4 * rate * mean + 16)))


def run_real(fix="none", *, rate: float = 200.0, recompute="50ms", ttl="1s", keys: int = 1,
             requests: int = 1000, seed: int = 0, lock: str = "local", server=None) -> Result:
    """Serve :func:`schedule`'s requests for real: threads, an in-process cache (a dict
    of ``key -> (value, expiry, delta)``) in front of a SQLite file, the fix implemented
    for real. ``lock="redis"`` makes ``lock`` take a distributed lock in ``server`` (a
    started :class:`tradeoff.harness.servers.RedisServer`) with ``SET NX PX``, the
    waiters polling every millisecond. The recompute time must be a constant."""
    choice = fix if isinstance(fix, Choice) else parse_fixes(fix)[0]
    dist = parse_recompute(recompute) if not isinstance(recompute, tuple) else recompute
    if dist[0] != 0:
        raise UserError("the real mode takes a constant recompute time (e.g. 50ms)")
    d = dist[1]
    ttl_s = _duration(ttl, "ttl")
    _check_common(rate, ttl_s, keys, requests)
    p = _fix_params(choice)
    rng = random.Random(seed)
    rng_lock = threading.Lock()
    db = _Database(keys)
    c = _Counters(keys)
    cache_lock = threading.Lock()
    flights: dict[int, threading.Event] = {}
    dlock = _RedisLock(server, 10 * d * 1e3 + 1000) if (choice.name == "lock" and lock == "redis") else None
    if choice.name == "lock" and lock == "redis" and server is None:
        raise UserError("lock=redis needs a running Redis server")
    t0 = time.monotonic()

    def ttl_of():
        if choice.name == "jitter":
            with rng_lock:
                return ttl_s * (1 - p["spread"] * rng.random())
        return ttl_s

    cache = {k: (b"v", ttl_s if choice.name != "jitter" else ttl_of(), d) for k in range(keys)}

    def recompute_now(k):
        c.begin(k)
        start = time.monotonic()
        try:
            value = db.query(k, d)
        finally:
            took = time.monotonic() - start
            now = time.monotonic() - t0
            with cache_lock:
                cache[k] = (value, now + ttl_of(), took)
            c.end(k)
        return value

    def background(k):
        try:
            recompute_now(k)
        finally:
            with cache_lock:
                flights.pop(k, None)

    bg = ThreadPoolExecutor(max_workers=max(2, keys))

    def handle(k):
        now = time.monotonic() - t0
        with cache_lock:
            value, expiry, delta = cache[k]
        if now < expiry:
            if choice.name == "xfetch":
                with rng_lock:
                    u = 1.0 - rng.random()                # (0, 1]
                if now - delta * p["beta"] * math.log(u) >= expiry:
                    c.add("early")
                    return recompute_now(k)
            c.add("hits")
            return value
        if choice.name == "lock":
            if dlock is not None:
                return _redis_lock_read(k)
            with cache_lock:
                ev = flights.get(k)
                leader = ev is None and cache[k][1] <= now
                if leader:
                    ev = flights[k] = threading.Event()
                elif ev is None:                           # refreshed meanwhile
                    c.add("hits")
                    return cache[k][0]
            if leader:
                try:
                    return recompute_now(k)
                finally:
                    with cache_lock:
                        flights.pop(k, None)
                    ev.set()
            if p["stale"]:
                c.add("stale")
                return value
            c.add("waits")
            ev.wait()
            with cache_lock:
                return cache[k][0]
        if choice.name == "swr" and now < expiry + p["window"]:
            c.add("stale")
            with cache_lock:
                start = k not in flights
                if start:
                    flights[k] = threading.Event()
            if start:
                c.add("background")
                bg.submit(background, k)
            return value
        return recompute_now(k)

    def _redis_lock_read(k):
        token = f"{threading.get_ident()}-{time.monotonic_ns()}"
        waited = False
        while True:
            if dlock.acquire(k, token):
                try:
                    with cache_lock:
                        fresh = cache[k][1] > time.monotonic() - t0
                    if fresh:                              # someone refreshed it meanwhile
                        break
                    return recompute_now(k)
                finally:
                    dlock.release(k, token)
            if p["stale"]:
                c.add("stale")
                with cache_lock:
                    return cache[k][0]
            waited = True
            time.sleep(0.001)
            with cache_lock:
                if cache[k][1] > time.monotonic() - t0:
                    break
        c.add("waits" if waited else "hits")
        with cache_lock:
            return cache[k][0]

    times, ks = schedule(requests, rate, keys, seed)
    try:
        lat, wall = _replay(times, ks, handle, _workers(rate, d, keys))
    finally:
        bg.shutdown(wait=True)
        db.close()
    return _result(choice.label + (" (redis lock)" if dlock is not None else ""), "real", float(rate), keys,
                   ttl_s, d, seed, requests=requests, hits=c.hits, recomputes=c.recomputes,
                   episodes=c.episodes, early=c.early, background=c.background, waits=c.waits,
                   stale=c.stale, peak=c.peak, lat=lat, span=float(times[-1]), wall=wall)


def run_peer(peer: str, *, rate: float = 200.0, recompute="50ms", ttl="1s", keys: int = 1,
             requests: int = 1000, seed: int = 0) -> Result:
    """The same real workload through a peer library: ``dogpile`` (a dogpile.cache
    memory region, ``get_or_create``: one creator per key, the others get the expired
    value meanwhile) or ``diskcache`` (``memoize_stampede`` over a ``diskcache.Cache``
    in a temporary folder: XFetch with beta = 1 in a background thread). A read
    that returns a value made more than ``ttl`` ago counts as stale; waits and early
    recomputes are not visible from outside the peer (0). Raises ModuleNotFoundError
    when the peer is not installed."""
    if peer not in PEERS:
        raise UserError(f"unknown peer {peer!r} (one of {', '.join(PEERS)})")
    dist = parse_recompute(recompute) if not isinstance(recompute, tuple) else recompute
    d = dist[1]
    ttl_s = _duration(ttl, "ttl")
    _check_common(rate, ttl_s, keys, requests)
    db = _Database(keys)
    c = _Counters(keys)

    def creator(k):
        c.begin(k)
        try:
            return db.query(k, d), time.monotonic()      # the value, and when it was made
        finally:
            c.end(k)

    def served(value):
        """Count a value older than the ttl as a stale read."""
        if time.monotonic() - value[1] > ttl_s:
            c.add("stale")
        return value

    tmp = None
    try:
        if peer == "dogpile":
            from dogpile.cache import make_region

            region = make_region().configure("dogpile.cache.memory", expiration_time=ttl_s)
            for k in range(keys):                          # warm, as the other runs start
                region.set(str(k), (b"v", time.monotonic()))

            def handle(k):
                return served(region.get_or_create(str(k), creator, creator_args=((k,), {})))
        else:
            import diskcache

            tmp = tempfile.TemporaryDirectory(prefix="tradeoff-stampede-diskcache-")
            dc = diskcache.Cache(tmp.name)
            fn = diskcache.memoize_stampede(dc, expire=ttl_s, beta=1)(creator)
            for k in range(keys):
                dc.set(fn.__cache_key__(k), ((b"v", time.monotonic()), d), expire=ttl_s)

            def handle(k):
                return served(fn(k))

        times, ks = schedule(requests, rate, keys, seed)
        lat, wall = _replay(times, ks, handle, _workers(rate, d, keys))
        if peer == "diskcache":
            time.sleep(2 * d)                              # let a background recompute finish
            dc.close()
    finally:
        db.close()
        if tmp is not None:
            tmp.cleanup()
    return _result(peer, peer, float(rate), keys, ttl_s, d, seed, requests=requests,
                   hits=int(np.count_nonzero(lat < 0.5 * d)), recomputes=c.recomputes, episodes=c.episodes, early=0,
                   background=0, waits=0, stale=c.stale, peak=c.peak, lat=lat, span=float(times[-1]), wall=wall)


# ----------------------------------------------------------------------------- the command
def parse_rates(spec) -> list[float]:
    """``"1000,2000"`` -> [1000.0, 2000.0]; each finite and > 0 (UserError otherwise)."""
    out = []
    for part in str(spec).split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        try:
            x = float(part)
        except ValueError:
            raise UserError(f"--rate must be numbers of requests per second such as 1000,2000, got {spec!r}") from None
        if not (0 < x < math.inf):
            raise UserError(f"--rate must be > 0, got {part}")
        out.append(x)
    if not out:
        raise UserError("no --rate given")
    return out


def _fmt_ms(x: float) -> str:
    if x != x:
        return "-"
    return f"{x:.3g} ms" if x < 1000 else f"{x / 1e3:,.2f} s"


def table(results: list[Result], fmt: str = "table", real: list[Result] | None = None) -> str:
    """The rows of :func:`run` as text: one per fix and rate (with the real run's
    figures beside when ``real`` holds one result per row)."""
    from ..harness.report import format_table

    head = ["fix", "rate/s", "expiries", "recomputes/expiry", "peak DB", "p99", "stale reads", "waits",
            "early", "background"]
    rows = []
    for i, r in enumerate(results):
        row = [r.fix, f"{r.rate:,.0f}", f"{r.expiries:,}", f"{r.recomputes_per_expiry:.3g}", f"{r.peak_db:,}",
               _fmt_ms(r.p99_ms), f"{r.stale_reads:,}", f"{r.waits:,}", f"{r.early:,}", f"{r.background:,}"]
        if real:
            q = real[i]
            row += [f"{q.recomputes_per_expiry:.3g}", f"{q.peak_db:,}", _fmt_ms(q.p99_ms)]
        rows.append(row)
    if real:
        head += ["real recomputes/expiry", "real peak DB", "real p99"]
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def plot(results: list[Result], path, real: list[Result] | None = None) -> None:
    """Recomputes per expiry against rate, one line per fix (log-log), with the
    closed form ``1 + lambda d`` of ``none`` dashed and real runs as crosses."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    by_fix: dict[str, list[Result]] = {}
    for r in results:
        by_fix.setdefault(r.fix, []).append(r)
    styles = ("-", "--", ":", "-.")
    for i, (fix, rs) in enumerate(by_fix.items()):       # single-flight fixes overlap at 1: vary the dashes
        ax.plot([r.rate for r in rs], [r.recomputes_per_expiry for r in rs], marker="os^v"[i % 4], ms=3, lw=1.2,
                ls=styles[i % 4], color=f"C{i % 10}", label=fix)
    rates = sorted({r.rate for r in results})
    r0 = results[0]
    ax.plot(rates, [expected_none(x, r0.recompute, r0.keys) for x in rates], ls="--", color="grey", lw=1,
            label="1 + rate x recompute / keys")
    if real:
        ax.plot([q.rate for q in real], [q.recomputes_per_expiry for q in real], ls="none", marker="x",
                color="black", label="real runs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("request rate (per second)")
    ax.set_ylabel("recomputes per expiry")
    ax.set_title(f"{r0.keys} key(s), recompute {1e3 * r0.recompute:g} ms, ttl {r0.ttl:g} s", fontsize=10)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def run(*, fix: str = "none,lock,jitter,xfetch:beta=1,swr", rate="1000", recompute="200ms", ttl="60s",
        keys: int = 1, requests="1e6", seed: int = 0, real: bool = False, lock: str = "local",
        peers: bool = False, plot_path: str | None = None, output: str | None = None, fmt: str = "table",
        cluster: str | None = None, progress: Note | None = None, note: Note | None = None):
    """``tradeoff simulate stampede``: a row per fix and rate; ``real`` also serves the
    same requests for real (threads, SQLite), ``peers`` adds dogpile.cache and diskcache
    (real mode)."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs
    from ..harness.results import write_rows
    from ..harness.run import default_output
    from ..harness.specs import parse_count

    choices = parse_fixes(fix)
    rates = parse_rates(rate)
    dist = parse_recompute(recompute)
    ttl_s = _duration(ttl, "--ttl")
    if ttl_s <= 0:
        raise UserError(f"--ttl must be > 0, got {ttl!r}")
    if keys < 1:
        raise UserError(f"--keys must be >= 1, got {keys}")
    n = parse_count(requests, "--requests")
    if lock not in ("local", "redis"):
        raise UserError(f"unknown lock {lock!r} (local or redis)")
    if (real or peers) and dist[0] != 0:
        raise UserError("--real takes a constant --recompute (e.g. 200ms)")
    server = None
    if real and lock == "redis":
        from ..harness.servers import missing_notice

        notice = missing_notice("redis-server")
        if notice:
            raise UserError(notice)
        import importlib.util

        if importlib.util.find_spec("redis") is None:
            raise UserError("the redis client is not installed (pip install redis)")
    if cluster is not None:
        from ..harness.cluster import parse_spec
        parse_spec(cluster)                                   # before any work
    out = Outputs(output or default_output("simulate-stampede"), plot_path)
    if real and note and n / min(rates) > 60:
        note(f"note: a real run lasts requests / rate: {n / min(rates):,.0f} s at {min(rates):g}/s "
             f"(lower --requests)")
    for x in rates:
        if note and n / x < ttl_s:
            note(f"warning: {n:,} requests at {x:g}/s last {n / x:g} s, less than the ttl ({ttl_s:g} s): "
                 f"no key expires; raise --requests or lower --ttl")
    sims, reals, peer_rows = [], [], []
    where: list = []
    try:
        if cluster is not None:     # the simulations only: real runs are served here
            sims, where = sweep_on_cluster(choices, rates, cluster, progress=progress, recompute=dist,
                                           ttl=ttl_s, keys=keys, requests=n, seed=seed)
        if real and lock == "redis":
            from ..harness.servers import RedisServer

            server = RedisServer(appendonly=False).start()
        for c in choices:
            if progress and (n * len(rates) >= 5_000_000 or real):
                progress(f"stampede: {c.label}, {len(rates)} rate(s), {n:,} requests each")
            for x in rates:
                if cluster is None:
                    sims.append(simulate(c, rate=x, recompute=dist, ttl=ttl_s, keys=keys, requests=n, seed=seed))
                    where.append("local")
                if real:
                    if progress:
                        progress(f"stampede: {c.label} at {x:g}/s for real ({n / x:,.1f} s)")
                    reals.append(run_real(c, rate=x, recompute=dist, ttl=ttl_s, keys=keys, requests=n, seed=seed,
                                          lock=lock, server=server))
        if peers:
            for peer in PEERS:
                for x in rates:
                    if progress:
                        progress(f"stampede: {peer} at {x:g}/s for real ({n / x:,.1f} s)")
                    try:
                        peer_rows.append(run_peer(peer, rate=x, recompute=dist, ttl=ttl_s, keys=keys, requests=n,
                                                  seed=seed))
                    except ModuleNotFoundError as exc:
                        if note:
                            note(f"note: peer {peer} skipped: {exc.name} is not installed (pip install '.[peers]')")
                        break
    finally:
        if server is not None:
            server.stop()
    rows = []
    for i, r in enumerate(sims):
        row = {**r.row(), "ran_on": where[i]}
        if real:
            q = reals[i]
            row.update({f"real_{k}": v for k, v in q.row().items() if k not in ("fix", "rate", "keys", "ttl",
                                                                                   "recompute", "seed", "mode")})
        rows.append(row)
    rows += [q.row() for q in peer_rows]
    for row in rows:
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                row[k] = None
    df = pd.DataFrame(rows)
    with out.writing() as tmp:
        write_rows(rows, tmp.results, suite="simulate-stampede", func="stampede", params=("fix", "rate", "mode"),
                   compare="fix", headline=("recomputes_per_expiry", "peak_db", "p99_ms"),
                   config={"recompute": dist[1], "ttl": ttl_s, "keys": keys, "requests": n, "seed": seed},
                   seconds="wall_s")
        if tmp.plot:
            plot(sims, tmp.plot, real=(reals + peer_rows) or None)
    kind = {0: "constant", 1: "exponential"}.get(dist[0], "")
    lines = [f"{keys} hot key(s), {n:,} Poisson requests per run, ttl {ttl_s:g} s, recompute {kind} "
             f"{1e3 * dist[1]:g} ms; seed {seed}; none's closed form: 1 + rate x recompute / keys "
             f"recomputes per expiry; xfetch's as the rate grows: exp(1/beta)",
             table(sims, fmt, real=reals or None)]
    if peer_rows:
        lines.append("peers on the same real workload:")
        lines.append(table(peer_rows, fmt))
    total = sum(r.wall_s for r in sims)
    lines.append(f"simulated {len(sims) * n:,} requests in {total:.2f} s "
                 f"({len(sims) * n / total / 1e6:.1f}M requests/s)" if total > 0 else "")
    return Outcome([ln for ln in lines if ln], out.written, df)
