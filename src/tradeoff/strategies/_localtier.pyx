"""The in-process cache tier's hot path in Cython: :class:`tradeoff.strategies.tiers.LocalTier`
derives from :class:`LocalTierCore`.

An item of the underlying cache (any :mod:`tradeoff.cache` mapping) is the tuple
``(entry, expires)``; ``expires`` is a reading of the timer (0: never). The default
timer, ``time.monotonic``, is read in C (``clock_gettime(CLOCK_MONOTONIC)``, the clock
``time.monotonic`` reads on Linux), which saves a Python call per set. The item tuple
is the CAS token (see ``LocalTier``).
"""
from libc.time cimport timespec
import threading
import time


cdef extern from "<time.h>" nogil:
    int clock_gettime(int clk_id, timespec *tp)
    int CLOCK_MONOTONIC


cdef extern from "<time.h>" nogil:
    int CLOCK_REALTIME


cdef inline double _wall() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef object _tuple_new = tuple.__new__
cdef object _Entry = None


def value_entry(data, version, double ttl=0.0):
    """``Entry.value``: a value entry expiring ``ttl`` seconds from now (wall clock, as
    ``time.time``; 0: never). Built without a Python call but ``tuple.__new__``."""
    global _Entry
    if _Entry is None:
        from .tiers import Entry
        _Entry = Entry
    return _tuple_new(_Entry, ("v", version, _wall() + ttl if ttl else 0.0, data))


cdef inline double _mono() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef class LocalTierCore:
    """get, set, delete, add, gets, cas over a cache mapping, with a TTL per item."""

    cdef object _cache
    cdef object _cget
    cdef object _timer
    cdef bint _native            # the timer is time.monotonic: read it in C
    cdef object _lock
    cdef public unsigned long long gets_count
    cdef public unsigned long long sets_count
    cdef public unsigned long long deletes_count

    def _setup(self, cache, timer):
        self._cache = cache
        self._cget = cache.get
        self._timer = timer
        self._native = timer is time.monotonic
        self._lock = threading.Lock()

    cdef inline double _now(self) except? -1:
        if self._native:
            return _mono()
        return float(self._timer())

    cdef object _live(self, key):
        item = self._cget(key)
        if item is None:
            return None
        cdef double exp = (<tuple>item)[1]
        if exp != 0 and exp <= self._now():
            self._cache.pop(key, None)
            return None
        return item

    def get(self, key):
        self.gets_count += 1
        item = self._live(key)
        return None if item is None else (<tuple>item)[0]

    def set(self, key, entry, double ttl):
        self.sets_count += 1
        self._cache[key] = (entry, self._now() + ttl if ttl else 0.0)

    def delete(self, key):
        self.deletes_count += 1
        self._cache.pop(key, None)

    def add(self, key, entry, double ttl):
        with self._lock:
            if self._live(key) is not None:
                return False
            self.sets_count += 1
            self._cache[key] = (entry, self._now() + ttl if ttl else 0.0)
            return True

    def gets(self, key):
        self.gets_count += 1
        item = self._live(key)
        return (None, None) if item is None else ((<tuple>item)[0], item)

    def cas(self, key, entry, double ttl, token):
        with self._lock:
            item = self._live(key)
            if item is None or item is not token:
                return False
            self.sets_count += 1
            self._cache[key] = (entry, self._now() + ttl if ttl else 0.0)
            return True


cdef class AsideCore:
    """Cache-aside's read in Cython (the common case: a hit, or a miss filled by a plain
    set); :class:`tradeoff.strategies.strategies.CacheAside` derives from it and handles
    the fixes that need more (leases, versioned sets) in ``_read_slow``. Call
    ``_bind()`` once the tier and the store are set."""

    cdef public object tier
    cdef public object store
    cdef public double ttl
    cdef public unsigned long long hits
    cdef public unsigned long long misses
    cdef public unsigned long long stale_sets
    cdef public object after_db_read
    cdef public dict _cleared
    cdef public bint _plain_fill     # fills are a plain set (no fix, or delete-after-delay)
    cdef object _tget, _tset, _sget

    def _bind(self):
        self._tget = self.tier.get
        self._tset = self.tier.set
        self._sget = self.store.get

    def read(self, key):
        e = self._tget(key)
        if e is not None and (<tuple>e)[0] == "v":
            self.hits += 1
            return ((<tuple>e)[3], (<tuple>e)[1], True)
        if not self._plain_fill:
            return self._read_slow(key, e)
        self.misses += 1
        row = self._sget(key)
        if self.after_db_read is not None:
            self.after_db_read(key)
        if row is None:
            return None
        data = (<tuple>row)[0]
        version = (<tuple>row)[1]
        cleared = self._cleared.get(key, 0)
        self._tset(key, value_entry(data, version, self.ttl), self.ttl)
        if version < cleared:
            self.stale_sets += 1
        return (data, version, False)
