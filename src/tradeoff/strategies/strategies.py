"""Caching strategies: who reads and writes the cache and the database, and when.

Every strategy wraps a :class:`~tradeoff.strategies.stores.Store` and a
:class:`~tradeoff.strategies.tiers.Tier` and offers ``read(key) -> (data, version, hit)``
and ``write(key, data)``; ``write`` returns once the write is acknowledged. ``close()``
stops background threads (write-behind flushes what it holds first).

- :class:`CacheAside` (lazy loading): the application reads the cache, on a miss reads
  the database and fills the cache; on a write it updates the database, then
  invalidates (deletes) or updates the cache entry. (AWS, "Database caching
  strategies using Redis", 2021, "Lazy loading"; Nishtala et al., NSDI 2013, which
  calls it a demand-filled look-aside cache.) Its race -- a reader misses and reads the
  old row, a writer updates the row and deletes the entry, the reader then sets the old
  row, stale until the TTL -- has three fixes here: ``fix="lease"`` (the reader puts a
  lease in the missing key and may only set through it; a delete voids it: NSDI 2013,
  3.2.1), ``fix="delay"`` (the writer deletes again ``delay`` seconds later: the
  "delayed double delete" of Chinese-language engineering blogs and the "delay delete"
  of memcache's mcrouter), ``fix="versioned"`` (entries carry the database version; a
  writer leaves a tombstone of the new version and a set of an older version is
  refused; cf. the version check of TAO, Bronson et al., USENIX ATC 2013).
- :class:`ReadThrough`: the cache loads a missing key itself through a loader, and
  concurrent misses of one key share one load (single flight, as Caffeine's
  ``LoadingCache`` and Guava's do); writes go to the database and invalidate.
- :class:`WriteThrough`: a write goes to the database and then, synchronously, to the
  cache (a versioned set); the ack waits for both (Hennessy and Patterson,
  "Computer Architecture", 5.2; Oracle Coherence, "Read-Through, Write-Through,
  Write-Behind, and Refresh-Ahead Caching").
- :class:`WriteBehind` (write-back): a write goes to the cache and a write buffer and
  is acknowledged at once; a flusher thread writes the buffer to the database in one
  transaction every ``flush_interval`` seconds, or sooner when ``batch_size`` keys wait,
  coalescing repeated writes of a key (Coherence, ibid., "write-behind delay" and
  "write-batch factor"). A crash loses what the buffer held.
- :class:`WriteAround`: writes go to the database only, bypassing the cache (no
  invalidation): cached copies stay stale until their TTL. Reads are lazy loading.
- :class:`RefreshAhead`: a read that hits an entry past ``refresh_factor`` of its TTL
  reloads it in the background, so hot keys rarely miss (Coherence's
  "refresh-ahead factor"; Caffeine's ``refreshAfterWrite``). Writes invalidate.

Versions: the database bumps a row's version on every write;
``read`` returns the version it served (:data:`DIRTY` for write-behind data not yet
flushed, which is newer than anything in the database).

>>> import tempfile, os
>>> from tradeoff.strategies.stores import SQLiteStore
>>> from tradeoff.strategies.tiers import LocalTier
>>> d = tempfile.mkdtemp()
>>> s = SQLiteStore(os.path.join(d, "db")); s.load(10, 4)
>>> c = CacheAside(s, LocalTier(100))
>>> c.read(3)[1:], c.read(3)[1:]                    # a miss, then a hit
((1, False), (1, True))
>>> c.write(3, b"abcd"); c.read(3)                    # invalidated: a miss
(b'abcd', 2, False)
>>> s.reads, s.writes
(2, 1)
>>> c.close(); s.close()
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable

from ._localtier import AsideCore
from .tiers import Entry

__all__ = ["Strategy", "CacheAside", "ReadThrough", "WriteThrough", "WriteBehind", "WriteAround",
           "RefreshAhead", "DIRTY", "STRATEGIES", "FIXES", "make_strategy"]

#: the version reported for write-behind data not yet in the database
DIRTY = 1 << 62

#: strategy names :func:`make_strategy` knows
STRATEGIES = ("aside", "read-through", "write-through", "write-behind", "write-around", "refresh-ahead")
#: cache-aside's race fixes
FIXES = ("lease", "delay", "versioned")

_tokens = itertools.count(1)
_value = Entry.value


class Strategy:
    """The common part: counters, the TTL, and the test hook.

    ``after_db_read``: None, or a callable ``(key)`` run after a miss read the database
    and before the cache is filled: tests and the race runs inject an interleaving there.
    """

    name = "strategy"

    def __init__(self, store, tier, ttl: float = 60.0) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        self.store = store
        self.tier = tier
        self.ttl = float(ttl)
        self.hits = 0
        self.misses = 0
        # fills that landed after a writer had invalidated (or updated) the entry for a
        # newer version: the race's harmful outcome, stale until the TTL or the next write
        self.stale_sets = 0
        self._cleared: dict[int, int] = {}  # key -> newest version whose cache step finished
        self.after_db_read: Callable[[int], None] | None = None

    def read(self, key: int):
        raise NotImplementedError

    def write(self, key: int, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _hit(self, e: Entry):
        self.hits += 1
        return e.data, e.version, True

    def _load(self, key: int):
        row = self.store.get(key)
        if self.after_db_read is not None:
            self.after_db_read(key)
        return row

    def _note_fill(self, key: int, version: int, cleared: int) -> None:
        """Count a fill of ``version`` as stale if, before the fill began, a writer had
        finished its cache step (delete, tombstone or set) for the newer ``cleared``."""
        if version < cleared:
            self.stale_sets += 1

    def _cleared_now(self, key: int, version: int) -> None:
        if version > self._cleared.get(key, 0):
            self._cleared[key] = version

    def _set_if_newer(self, key: int, entry: Entry, tries: int = 8) -> bool:
        """A versioned set: store ``entry`` unless the cache holds a value or tombstone of
        the same or a newer version, or a tombstone of a newer version (compare-and-set,
        retried if the key changes)."""
        for _ in range(tries):
            cur, token = self.tier.gets(key)
            if cur is None:
                if self.tier.add(key, entry, self.ttl):
                    return True
                continue
            if (cur.kind == "v" and cur.version >= entry.version) or \
                    (cur.kind == "t" and cur.version > entry.version):
                return False    # a tombstone of v yields to a value of v, not to an older one
            if self.tier.cas(key, entry, self.ttl, token):
                return True
        return False

    def _check(self) -> None:
        assert self.hits >= 0 and self.misses >= 0 and self.stale_sets >= 0


class _Delayer(threading.Thread):
    """Runs callables at given monotonic times, in one daemon thread (a heap)."""

    def __init__(self) -> None:
        super().__init__(name="tradeoff-delayed-delete", daemon=True)
        self._heap: list = []
        self._cv = threading.Condition()
        self._stopped = False
        self._seq = itertools.count()
        self.start()

    def call_at(self, when: float, fn, *args) -> None:
        with self._cv:
            heapq.heappush(self._heap, (when, next(self._seq), fn, args))
            self._cv.notify()

    def run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, fn, args = heapq.heappop(self._heap)
            try:
                fn(*args)
            except Exception:
                pass

    def stop(self, run_pending: bool = True) -> None:
        with self._cv:
            pending = [(fn, args) for _, _, fn, args in sorted(self._heap)] if run_pending else []
            self._heap.clear()
            self._stopped = True
            self._cv.notify()
        self.join()
        for fn, args in pending:
            fn(*args)


class CacheAside(AsideCore, Strategy):
    """Cache-aside (lazy loading), ``on_write="invalidate"`` or ``"update"``, with an
    optional race fix ``fix`` (``None``, ``"lease"``, ``"delay"``, ``"versioned"``).

    A hit costs one cache get; a miss one get, one SELECT and one set; a write one
    upsert and one delete (or set). ``delay``: seconds until the second delete of
    ``fix="delay"``. ``lease_ttl``: seconds a lease lives (a reader that died holding
    one blocks fills of that key no longer than this). A reader that finds another's
    lease retries ``lease_retries`` times ``lease_wait`` seconds apart, then reads the
    database without filling (NSDI 2013: "wait a short time and retry").
    """

    name = "aside"

    def __init__(self, store, tier, ttl: float = 60.0, on_write: str = "invalidate", fix: str | None = None,
                 delay: float = 0.05, lease_ttl: float = 10.0, lease_retries: int = 3,
                 lease_wait: float = 0.001) -> None:
        super().__init__(store, tier, ttl)
        if on_write not in ("invalidate", "update"):
            raise ValueError(f"on_write must be 'invalidate' or 'update', got {on_write!r}")
        if fix not in (None, *FIXES):
            raise ValueError(f"unknown fix {fix!r} (one of {', '.join(FIXES)})")
        if fix == "delay" and not delay > 0:
            raise ValueError(f"delay must be > 0 seconds, got {delay!r}")
        self.on_write = on_write
        self.fix = fix
        self.delay = float(delay)
        self.lease_ttl = float(lease_ttl)
        self.lease_retries = int(lease_retries)
        self.lease_wait = float(lease_wait)
        self.lease_refused = 0      # fills refused because a delete voided the lease
        self._delayer = _Delayer() if fix == "delay" else None
        self._plain_fill = fix in (None, "delay")
        self._bind()                # AsideCore.read: the hit and the plain fill in Cython

    def _read_slow(self, key, e):
        """A miss with a lease or versioned set (AsideCore.read does the rest)."""
        tier = self.tier
        self.misses += 1
        if self.fix == "lease":
            return self._lease_read(key, e)
        row = self.store.get(key)
        if self.after_db_read is not None:
            self.after_db_read(key)
        if row is None:
            return None
        data, version = row
        entry = _value(data, version, self.ttl)
        cleared = self._cleared.get(key, 0)
        if self.fix == "versioned":
            if not self._set_if_newer(key, entry):
                return data, version, False
        else:
            tier.set(key, entry, self.ttl)
        if version < cleared:
            self.stale_sets += 1
        return data, version, False

    def _lease_read(self, key, e):
        for attempt in range(self.lease_retries + 1):
            if e is None:
                token = next(_tokens)
                if self.tier.add(key, Entry.lease(token), self.lease_ttl):
                    held, cas_token = self.tier.gets(key)
                    row = self._load(key)
                    if row is None:
                        return None
                    cleared = self._cleared.get(key, 0)
                    if held is not None and held.kind == "l" and held.version == token and \
                            self.tier.cas(key, Entry.value(row[0], row[1], self.ttl), self.ttl, cas_token):
                        self._note_fill(key, row[1], cleared)
                    else:
                        self.lease_refused += 1
                    return row[0], row[1], False
            elif e.kind == "v":
                return e.data, e.version, False
            if attempt < self.lease_retries:
                time.sleep(self.lease_wait)
                e = self.tier.get(key)
                if e is not None and e.kind == "t":
                    e = None
        row = self._load(key)           # the lease holder is slow: read without filling
        return None if row is None else (row[0], row[1], False)

    def write(self, key, data):
        v = self.store.put(key, data)
        if self.on_write == "update":
            entry = Entry.value(data, v, self.ttl)
            if self.fix == "versioned":
                self._set_if_newer(key, entry)
            else:
                self.tier.set(key, entry, self.ttl)
        elif self.fix == "versioned":
            self._set_if_newer(key, Entry.tombstone(v))
        else:
            self.tier.delete(key)
        self._cleared_now(key, v)
        if self._delayer is not None:
            self._delayer.call_at(time.monotonic() + self.delay, self.tier.delete, key)

    def close(self):
        if self._delayer is not None:
            self._delayer.stop(run_pending=True)
            self._delayer = None


class ReadThrough(Strategy):
    """Read-through: the cache loads a missing key through its loader (a SELECT);
    concurrent misses of one key wait for the one load in flight (single flight).
    Fills use ``add`` (never overwrite what a writer put there meanwhile). Writes
    update the database and invalidate the entry."""

    name = "read-through"

    def __init__(self, store, tier, ttl: float = 60.0) -> None:
        super().__init__(store, tier, ttl)
        self._flights: dict[int, list] = {}
        self._lock = threading.Lock()
        self.shared_loads = 0       # misses served by another reader's load

    def read(self, key):
        e = self.tier.get(key)
        if e is not None and e.kind == "v":
            return self._hit(e)
        self.misses += 1
        return self._load_through(key)

    def _load_through(self, key):
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = [threading.Event(), None]
        if not leader:
            flight[0].wait()
            self.shared_loads += 1
            row = flight[1]
            return None if row is None else (row[0], row[1], False)
        try:
            row = self._load(key)
            flight[1] = row
            cleared = self._cleared.get(key, 0)
            if row is not None and self.tier.add(key, Entry.value(row[0], row[1], self.ttl), self.ttl):
                self._note_fill(key, row[1], cleared)
        finally:
            with self._lock:
                del self._flights[key]
            flight[0].set()
        return None if row is None else (row[0], row[1], False)

    def write(self, key, data):
        v = self.store.put(key, data)
        self.tier.delete(key)
        self._cleared_now(key, v)


class WriteThrough(ReadThrough):
    """Write-through: a write updates the database, then the cache (a versioned set, so
    that of two concurrent writers the newer version stays), and only then acknowledges.
    Reads are read-through. The database and the cache agree after every write."""

    name = "write-through"

    def write(self, key, data):
        v = self.store.put(key, data)
        self._set_if_newer(key, Entry.value(data, v, self.ttl))
        self._cleared_now(key, v)


class WriteAround(CacheAside):
    """Write-around: writes go to the database only; the cache is not touched, so a
    cached copy stays stale until its TTL. Reads are lazy loading (cache-aside)."""

    name = "write-around"

    def __init__(self, store, tier, ttl: float = 60.0) -> None:
        super().__init__(store, tier, ttl)

    def write(self, key, data):
        self.store.put(key, data)


class RefreshAhead(CacheAside):
    """Refresh-ahead: a hit on an entry older than ``refresh_factor`` of its TTL
    schedules a reload of the key by a background thread (one at a time per key) and
    returns the cached value at once. Writes invalidate. ``refreshes`` counts reloads."""

    name = "refresh-ahead"

    def __init__(self, store, tier, ttl: float = 60.0, refresh_factor: float = 0.75) -> None:
        super().__init__(store, tier, ttl)
        if not 0 < refresh_factor < 1:
            raise ValueError(f"refresh_factor must be within (0, 1), got {refresh_factor!r}")
        self.refresh_factor = float(refresh_factor)
        self.refreshes = 0
        self._queued: set[int] = set()
        self._cv = threading.Condition()
        self._stopped = False
        self._worker = threading.Thread(target=self._refresher, name="tradeoff-refresh-ahead", daemon=True)
        self._worker.start()

    def read(self, key):
        e = self.tier.get(key)
        if e is not None and e.kind == "v":
            if e.expires and e.expires - time.time() < (1 - self.refresh_factor) * self.ttl:
                with self._cv:
                    if key not in self._queued:
                        self._queued.add(key)
                        self._cv.notify()
            return self._hit(e)
        return super().read(key)

    def _refresher(self):
        while True:
            with self._cv:
                while not self._queued and not self._stopped:
                    self._cv.wait()
                if self._stopped:
                    return
                key = self._queued.pop()
            row = self.store.get(key)
            if row is not None and self._set_if_newer(key, Entry.value(row[0], row[1], self.ttl)):
                self.refreshes += 1

    def close(self):
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._worker.join()
        super().close()


class WriteBehind(Strategy):
    """Write-behind (write-back): writes are acknowledged once in the cache and the write
    buffer; a flusher thread writes the buffer in one transaction every
    ``flush_interval`` seconds, or as soon as ``batch_size`` keys wait, keeping only the
    last write of each key (coalescing). Reads see the buffer first (read your writes),
    then the cache, then the database.

    ``on_ack(key, write_id)`` and ``on_flush(taken_at, committed_at, n)`` are called
    (from the writer's thread and the flusher's) for the crash runs' durable logs;
    ``write_id`` counts the writes of this strategy from 1. A crash loses the writes
    acknowledged after the batch of the last committed flush was taken: at most one
    flush interval of writes plus those of the flush in progress.
    """

    name = "write-behind"

    def __init__(self, store, tier, ttl: float = 60.0, flush_interval: float = 0.1, batch_size: int = 1000,
                 on_ack: Callable[[int, int], None] | None = None,
                 on_flush: Callable[[float, float, int], None] | None = None) -> None:
        super().__init__(store, tier, ttl)
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be > 0 seconds, got {flush_interval!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.flush_interval = float(flush_interval)
        self.batch_size = batch_size
        self.on_ack = on_ack
        self.on_flush = on_flush
        self.flushes = 0
        self.coalesced = 0          # writes replaced in the buffer before they were flushed
        self.max_flush_seconds = 0.0
        self._pending: dict[int, bytes] = {}
        self._inflight: dict[int, bytes] = {}
        self._cv = threading.Condition()
        self._stopped = False
        self._error: BaseException | None = None
        self._ids = itertools.count(1)
        self._flusher = threading.Thread(target=self._run, name="tradeoff-write-behind", daemon=True)
        self._flusher.start()

    def write(self, key, data):
        if self._error is not None:
            raise RuntimeError(f"the write-behind flusher failed: {self._error}")
        with self._cv:
            if key in self._pending:
                self.coalesced += 1
            self._pending[key] = data
            wid = next(self._ids)
            self.tier.set(key, Entry.value(data, DIRTY, self.ttl), self.ttl)
            if len(self._pending) >= self.batch_size:
                self._cv.notify()
        if self.on_ack is not None:
            self.on_ack(key, wid)

    def read(self, key):
        with self._cv:
            data = self._pending.get(key)
            if data is None:
                data = self._inflight.get(key)
        if data is not None:
            self.hits += 1
            return data, DIRTY, True
        e = self.tier.get(key)
        if e is not None and e.kind == "v":
            return self._hit(e)
        self.misses += 1
        row = self._load(key)
        if row is None:
            return None
        self.tier.add(key, Entry.value(row[0], row[1], self.ttl), self.ttl)
        return row[0], row[1], False

    def _run(self):
        next_at = time.monotonic() + self.flush_interval
        while True:
            with self._cv:
                while not self._stopped and len(self._pending) < self.batch_size:
                    left = next_at - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                stopping = self._stopped
                batch, self._pending = self._pending, {}
                self._inflight = batch
            taken = time.monotonic()
            next_at = taken + self.flush_interval
            if batch:
                try:
                    self._flush(batch, taken)
                except BaseException as exc:   # keep the buffer; writes fail from now on
                    with self._cv:
                        self._error = exc
                        batch.update(self._pending)
                        self._pending = batch
                        self._inflight = {}
                    return
            if stopping:
                return

    def _flush(self, batch, taken):
        items = sorted(batch.items())
        versions = self.store.put_many(items)
        done = time.monotonic()
        with self._cv:
            for (key, data), v in zip(items, versions):
                if key not in self._pending:
                    self.tier.set(key, Entry.value(data, v, self.ttl), self.ttl)
            self._inflight = {}
            self.flushes += 1
            self.max_flush_seconds = max(self.max_flush_seconds, done - taken)
        if self.on_flush is not None:
            self.on_flush(taken, done, len(items))

    def flush(self) -> None:
        """Write the buffer now and wait until it is committed."""
        with self._cv:
            batch, self._pending = self._pending, {}
            self._inflight = dict(batch)
        if batch:
            self._flush(batch, time.monotonic())

    def close(self):
        """Flush what the buffer holds and stop the flusher."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._flusher.join()
        if self._error is None:
            self.flush()


def make_strategy(spec: str, store, tier, *, ttl: float = 60.0, flush_interval: float = 0.1,
                  batch_size: int = 1000, delay: float = 0.05, **kw) -> Strategy:
    """A strategy by its CLI name: ``aside`` (invalidate), ``aside:update``,
    ``aside:lease``, ``aside:delay``, ``aside:versioned``, or one of :data:`STRATEGIES`."""
    name, _, opt = spec.partition(":")
    if name == "aside":
        if opt in ("", "invalidate"):
            return CacheAside(store, tier, ttl)
        if opt == "update":
            return CacheAside(store, tier, ttl, on_write="update")
        if opt in FIXES:
            return CacheAside(store, tier, ttl, fix=opt, delay=delay)
        raise ValueError(f"unknown cache-aside option {opt!r} (update, invalidate, {', '.join(FIXES)})")
    if opt:
        raise ValueError(f"{name} takes no option, got {spec!r}")
    if name == "read-through":
        return ReadThrough(store, tier, ttl)
    if name == "write-through":
        return WriteThrough(store, tier, ttl)
    if name == "write-around":
        return WriteAround(store, tier, ttl)
    if name == "refresh-ahead":
        return RefreshAhead(store, tier, ttl)
    if name == "write-behind":
        return WriteBehind(store, tier, ttl, flush_interval=flush_interval, batch_size=batch_size, **kw)
    raise ValueError(f"unknown strategy {spec!r} (one of {', '.join(STRATEGIES)}; aside:update, "
                     f"aside:lease, aside:delay, aside:versioned)")
