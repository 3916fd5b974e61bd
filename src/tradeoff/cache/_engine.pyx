"""The replay engine base class and the nogil driver loop around every policy.

The driver adds to any policy what the policy itself need not know about:

- object sizes: with ``sizes``, capacity counts bytes (units); an object larger
  than the whole cache is never admitted (its request is a miss);
- expiry: with ``times`` and ``ttl``, an object inserted at time t expires at
  t + ttl whatever its use: a request at or after that time is a miss, and
  expired objects are also purged (oldest first) as time passes, so that they
  stop taking room. Expiry keeps a queue of insertions in time order; with
  non-decreasing times (checked) that is also expiry order;
- prefetching: the index bucket of the key 16 requests ahead is loaded early.
"""
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport INT64_MIN, int32_t, int64_t, uint64_t

from tradeoff._core.debug cimport DEBUG_ASSERT, DEBUG_CHECKS
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.table cimport (PREFETCH_DISTANCE, I64Table, i64t_free, i64t_get,
                                   i64t_init, i64t_nbytes, i64t_pop, i64t_prefetch, i64t_put)


cdef class Engine:
    """Base of the replay policies: shared slot bookkeeping and the driver hooks.

    Not used directly: each policy module subclasses it (see ``_engine.pxd`` for
    the contract its three methods follow)."""

    def __cinit__(self):
        self.index.buckets = NULL
        self.skey = NULL
        self.ssize = NULL
        self.ev_buf = NULL
        self.ev_slot = NULL

    def __dealloc__(self):
        i64t_free(&self.index)
        PyMem_RawFree(self.skey)
        PyMem_RawFree(self.ssize)
        PyMem_RawFree(self.ev_buf)
        PyMem_RawFree(self.ev_slot)

    cdef int _base_init(self, int64_t capacity, Py_ssize_t nslots, Py_ssize_t index_entries,
                        bint sized) except -1:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if nslots < 1 or nslots >= (1 << 31) - 1:
            raise ValueError(f"a replay holds between 1 and 2**31 - 2 entries, got {nslots}")
        if self.skey != NULL:
            raise RuntimeError("an engine is initialized once")
        self.capacity = capacity
        self.used = 0
        self.resident = 0
        self.sized = sized
        self.nslots = <int32_t>nslots
        self.fresh = 1
        self.free_head = 0
        self.memo_valid = False
        self.pos_valid = False
        self.placed = 0
        mem_resize(<void**>&self.skey, (nslots + 1) * sizeof(int64_t))
        # zeroed: in the debug build a free slot's size is 0 (see eng_slot_new)
        mem_zeroed(<void**>&self.ssize, (nslots + 1) * sizeof(int64_t))
        # The index never holds more than index_entries keys, so it never grows. A
        # small one is sized for twice as many: its load stays <= 1/4 (the table's
        # own limit is 1/2), a miss probes 1.2 buckets and a delete shifts over 1.3
        # on average (1.5 and 1.9 at the 0.3 it would run at otherwise) and the probe
        # loops' exits are predictable: PolicyCache's set that evicts at 10k items
        # measured about 20% faster. Only while the doubled table stays within 2 MiB
        # (2**17 buckets): a larger one doubles its cache footprint, which costs more
        # than the shorter probes save (LIRS on the scarab trace at capacity 100k,
        # a 16 MiB index: 15 -> 29 ns per request when doubled).
        if 2 * index_entries <= (1 << 16):
            index_entries *= 2
        i64t_init(&self.index, index_entries)
        return 0

    cdef bint hit(self, int64_t key) noexcept nogil:
        return False

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        pass

    cdef bint remove(self, int64_t key) noexcept nogil:
        return False

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        self.hit(key)

    cdef int prepare(self, const int64_t[:] keys) except -1:
        return 0

    cdef Py_ssize_t nbytes(self) noexcept:
        return i64t_nbytes(&self.index) + 2 * (self.nslots + 1) * <Py_ssize_t>sizeof(int64_t)

    # -- Python-level access, for tests and the online mapping wrapper

    def _access(self, int64_t key, int64_t size=1):
        """One request through the policy, as the driver makes it: True on a hit."""
        if self.hit(key):
            return True
        if size <= self.capacity:
            self.insert(key, size)
        return False

    def _hit(self, int64_t key):
        """Only the lookup half of a request (a hit records a use)."""
        return self.hit(key)

    def _insert(self, int64_t key, int64_t size=1):
        """Admit a key that ``_hit`` just reported absent; return the keys evicted
        (a rejected key is reported as evicted itself)."""
        cdef Py_ssize_t i
        if size > self.capacity:
            return [key]
        if self.ev_buf == NULL:
            mem_resize(<void**>&self.ev_buf, 64 * sizeof(int64_t))
            mem_resize(<void**>&self.ev_slot, 64 * sizeof(int32_t))
        self.ev_n = 0
        self.ev_cap = 64
        try:
            self.insert(key, size)
            return [self.ev_buf[i] for i in range(self.ev_n)]
        finally:
            self.ev_cap = 0

    def _remove(self, int64_t key):
        return self.remove(key)

    def _forget_lookup(self):
        """Drop what the last lookup remembered (eng_recall's value, eng_admit's
        bucket), so that the next insert probes afresh: for tests that compare the
        remembered path with the probing one."""
        self.memo_valid = False
        self.pos_valid = False

    @property
    def memory_bytes(self):
        return self.nbytes()


ctypedef struct Totals:
    Py_ssize_t hits
    int64_t hit_bytes
    int64_t bytes
    Py_ssize_t expired          # objects dropped because their time ran out


cdef int _drive(Engine e, const int64_t[:] keys, const int64_t[:] sizes, bint has_sizes,
                Totals* out) except -1 nogil:
    cdef Py_ssize_t i, n = keys.shape[0], ahead = n - PREFETCH_DISTANCE
    cdef Py_ssize_t hits = 0
    cdef int64_t key, size = 1, hit_bytes = 0, total = 0
    cdef int64_t cap = e.capacity
    for i in range(n):
        if i < ahead:
            i64t_prefetch(&e.index, keys[i + PREFETCH_DISTANCE])
        key = keys[i]
        if has_sizes:
            size = sizes[i]
        total += size
        if e.hit(key):
            hits += 1
            hit_bytes += size
        elif size <= cap:
            e.insert(key, size)
    out.hits = hits
    out.hit_bytes = hit_bytes
    out.bytes = total
    return 0


cdef int _drive_ttl(Engine e, const int64_t[:] keys, const int64_t[:] sizes, bint has_sizes,
                    const int64_t[:] times, int64_t ttl, Totals* out) except -1 nogil:
    # expiry: key -> the time its current copy expires (stale for keys the policy
    # evicted meanwhile: remove() then finds nothing), and a ring of (expiry, key)
    # in insertion order, which is expiry order since times do not decrease
    cdef I64Table exp
    cdef int64_t* ring = NULL          # pairs: expiry time, key
    cdef Py_ssize_t rcap = 1024, rhead = 0, rlen = 0, j, k
    cdef Py_ssize_t i, n = keys.shape[0], hits = 0, expired = 0
    cdef int64_t key, size = 1, hit_bytes = 0, total = 0, now, when, then = INT64_MIN
    cdef int64_t cap = e.capacity
    exp.buckets = NULL
    try:
        i64t_init(&exp, 1024)
        mem_resize(<void**>&ring, 2 * rcap * sizeof(int64_t))
        for i in range(n):
            key = keys[i]
            now = times[i]
            DEBUG_ASSERT(now >= then, "_drive_ttl: times do not decrease")
            then = now
            if has_sizes:
                size = sizes[i]
            total += size
            # purge what has expired by now, oldest first
            while rlen > 0 and ring[2 * rhead] <= now:
                when = ring[2 * rhead]
                k = ring[2 * rhead + 1]
                if i64t_get(&exp, k) == when:
                    i64t_pop(&exp, k)
                    if e.remove(k):
                        expired += 1
                rhead += 1
                if rhead == rcap:
                    rhead = 0
                rlen -= 1
            if e.hit(key):
                hits += 1
                hit_bytes += size
                continue
            if size > cap:
                continue
            e.insert(key, size)
            if rlen == rcap:
                # double the ring, unrolling it so that it starts at 0
                mem_resize(<void**>&ring, 4 * rcap * sizeof(int64_t))
                for j in range(rhead):
                    ring[2 * (rcap + j)] = ring[2 * j]
                    ring[2 * (rcap + j) + 1] = ring[2 * j + 1]
                for j in range(rlen):
                    ring[2 * j] = ring[2 * (rhead + j)]
                    ring[2 * j + 1] = ring[2 * (rhead + j) + 1]
                rhead = 0
                rcap *= 2
            j = rhead + rlen
            if j >= rcap:
                j -= rcap
            if DEBUG_CHECKS and rlen > 0:
                k = j - 1 if j > 0 else rcap - 1
                DEBUG_ASSERT(ring[2 * k] <= now + ttl, "_drive_ttl: the expiry ring is in time order")
            ring[2 * j] = now + ttl
            ring[2 * j + 1] = key
            rlen += 1
            i64t_put(&exp, key, now + ttl)
    finally:
        i64t_free(&exp)
        PyMem_RawFree(ring)
    out.hits = hits
    out.hit_bytes = hit_bytes
    out.bytes = total
    out.expired = expired
    return 0


def drive(Engine engine, keys, sizes=None, times=None, ttl=None):
    """Replay ``keys`` (int64, any stride) through ``engine``; return a dict of
    hits, hit_bytes, bytes and expired. ``sizes`` and ``times`` are int64 arrays
    of the same length or None; ``ttl`` needs ``times``. Arguments are checked
    by the caller (:func:`tradeoff.cache.replay`)."""
    cdef const int64_t[:] k = keys
    cdef const int64_t[:] s = sizes if sizes is not None else keys
    cdef const int64_t[:] t
    cdef Totals out
    cdef bint has_sizes = sizes is not None
    cdef int64_t life = ttl if ttl is not None else 0
    out.expired = 0
    engine.prepare(k)
    if ttl is None:
        with nogil:
            _drive(engine, k, s, has_sizes, &out)
    else:
        t = times
        with nogil:
            _drive_ttl(engine, k, s, has_sizes, t, life, &out)
    return {"hits": out.hits, "hit_bytes": out.hit_bytes, "bytes": out.bytes,
            "expired": out.expired}
