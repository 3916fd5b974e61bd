"""A partitioned, append-only log with offsets: Kafka's storage model in memory.

The design follows Apache Kafka's log layer (Kreps, Narkhede and Rao, "Kafka: a
Distributed Messaging System for Log Processing", NetDB 2011; the broker's
``LogSegment``, ``OffsetIndex`` and ``TimeIndex`` and the ``LogCleaner`` as
documented for Kafka 3.x): a topic of P partitions, each a sequence of segments
named by their base offset; a sparse offset index per segment, one entry per
``index_interval_bytes`` of records; a time index of the largest timestamp seen;
retention that deletes whole closed segments by age or size; compaction that keeps
the last record of each key. Keyed records go to ``toPositive(murmur2(key)) % P``,
Kafka's default partitioner bit for bit; keyless ones to a sticky partition that
changes after ``batch_size`` bytes (KIP-480, and the uniform sticky partitioner of
KIP-794).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport INT64_MIN, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove, memset

from collections import namedtuple

import numpy as np
cimport numpy as cnp

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.hashing cimport kafka_partition, murmur2_kafka
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.rng cimport rng_below, rng_seed

from ._checks import integer as _count
from .errors import OffsetOutOfRange

cnp.import_array()

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec* ts)
    int CLOCK_REALTIME

__all__ = ["Batch", "Log", "Record", "murmur2", "partition_for"]

#: Kafka's defaults: segment.bytes (1 GiB), index.interval.bytes, batch.size,
#: delete.retention.ms (1 day), min.cleanable.dirty.ratio, max.poll.records and
#: max.partition.fetch.bytes
DEFAULT_SEGMENT_BYTES = 1 << 30
DEFAULT_INDEX_INTERVAL = 4096
DEFAULT_BATCH_SIZE = 16384
DEFAULT_DELETE_RETENTION_MS = 86_400_000
DEFAULT_DIRTY_RATIO = 0.5
DEFAULT_MAX_RECORDS = 500
DEFAULT_MAX_BYTES = 1 << 20

# a segment rolls before its record count or its byte positions leave 31 bits
cdef int64_t MAX_SEGMENT_RECORDS = 0x7fffffff
MAX_RECORD_BYTES = 0x7fffffff

Record = namedtuple("Record", "offset timestamp key value")
Record.__doc__ = "One record of a partition: offset, timestamp (ms), key and value (bytes or None)."


def murmur2(key) -> int:
    """Kafka's ``Utils.murmur2`` of ``key`` (bytes), as Java's signed int.

    >>> murmur2(b"21"), murmur2(b"foobar")
    (-973932308, -790332482)
    """
    cdef const unsigned char[::1] view = _bytes_view(key, "key")
    return murmur2_kafka(&view[0] if view.shape[0] else NULL, view.shape[0])


def partition_for(key, int partitions) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``.

    >>> partition_for(b"user-42", 12)
    4
    """
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    return kafka_partition(murmur2(key), partitions)


cdef const unsigned char[::1] _bytes_view(object b, str what):
    if not isinstance(b, bytes):
        raise TypeError(f"{what} must be bytes, got {type(b).__name__}")
    return b


class Batch:
    """What :meth:`Log.fetch` returns: consecutive records of one partition.

    ``offsets`` and ``timestamps`` are int64 arrays; the keys and values are slices of
    one bytes object copied once per batch (``data``, with ``key_pos``/``key_len`` and
    ``value_pos``/``value_len``, -1 for None), turned into bytes objects only when
    asked for (``keys``, ``values``, ``batch[i]``). ``next_offset`` is where the next
    fetch starts.
    """
    __slots__ = ("partition", "next_offset", "data", "table")

    # one (6, n) int64 array holds the columns: one allocation per fetch
    offsets = property(lambda self: self.table[0], doc="Offsets (int64 array).")
    timestamps = property(lambda self: self.table[1], doc="Timestamps in ms (int64 array).")
    key_pos = property(lambda self: self.table[2], doc="Where each key starts in data.")
    key_len = property(lambda self: self.table[3], doc="Key lengths, -1 for None.")
    value_pos = property(lambda self: self.table[4], doc="Where each value starts in data.")
    value_len = property(lambda self: self.table[5], doc="Value lengths, -1 for None.")

    def __len__(self):
        return self.table.shape[1]

    def _piece(self, pos, length):
        return None if length < 0 else self.data[pos:pos + length]

    @property
    def keys(self):
        return [self._piece(p, n) for p, n in zip(self.key_pos.tolist(), self.key_len.tolist())]

    @property
    def values(self):
        return [self._piece(p, n) for p, n in zip(self.value_pos.tolist(), self.value_len.tolist())]

    def __getitem__(self, i):
        return Record(int(self.offsets[i]), int(self.timestamps[i]),
                      self._piece(int(self.key_pos[i]), int(self.key_len[i])),
                      self._piece(int(self.value_pos[i]), int(self.value_len[i])))

    def __iter__(self):
        for i in range(len(self.offsets)):
            yield self[i]

    def __repr__(self):
        return (f"Batch(partition={self.partition}, offsets={self.offsets[:1].tolist()}.."
                f"{self.next_offset}, records={len(self)})")


# ---------------------------------------------------------------- segments

cdef int seg_init(Segment* s, int64_t base) except -1 nogil:
    memset(s, 0, sizeof(Segment))
    s.base = base
    s.max_ts = INT64_MIN
    s.max_ts_rec = -1
    return 0


cdef void seg_free(Segment* s) noexcept nogil:
    PyMem_RawFree(s.delta)
    PyMem_RawFree(s.pos)
    PyMem_RawFree(s.klen)
    PyMem_RawFree(s.vlen)
    PyMem_RawFree(s.ts)
    PyMem_RawFree(s.data)
    PyMem_RawFree(s.ix_delta)
    PyMem_RawFree(s.ix_rec)
    PyMem_RawFree(s.tx_ts)
    PyMem_RawFree(s.tx_rec)
    memset(s, 0, sizeof(Segment))


cdef inline int64_t _grown(int64_t cap, int64_t need) noexcept nogil:
    """Doubling while small, then by a quarter (large blocks are remapped by
    realloc, not copied, so slow growth costs little and wastes at most 25%)."""
    cdef int64_t c = cap if cap > 0 else 16
    while c < need:
        c += c >> 2 if c > 65536 else c
    return c


cdef int seg_records_cap(Segment* s, int64_t c) except -1 nogil:
    """Resize the per-record arrays of s to room for ``c`` records (c >= s.n)."""
    mem_resize(<void**>&s.delta, c * sizeof(uint32_t))
    mem_resize(<void**>&s.pos, c * sizeof(uint32_t))
    mem_resize(<void**>&s.klen, c * sizeof(int32_t))
    mem_resize(<void**>&s.vlen, c * sizeof(int32_t))
    mem_resize(<void**>&s.ts, c * sizeof(int64_t))
    s.cap = c
    return 0


cdef int seg_reserve(Segment* s, int64_t records, int64_t data_bytes, int64_t limit) except -1 nogil:
    """Room for ``records`` more records and ``data_bytes`` more bytes (the arena
    at most ``limit`` bytes where they fit in it)."""
    cdef int64_t c
    if s.n + records > s.cap:
        c = _grown(s.cap, s.n + records)
        seg_records_cap(s, c)
    if s.used + data_bytes > s.data_cap:
        c = _grown(s.data_cap, s.used + data_bytes)
        if c > limit >= s.used + data_bytes:
            c = limit           # a segment never holds more than segment_bytes
        mem_resize(<void**>&s.data, c)
        s.data_cap = c
    return 0


cdef int seg_reserve_exact(Segment* s, int64_t records, int64_t data_bytes) except -1 nogil:
    """Room for exactly ``records`` more records and ``data_bytes`` more bytes, for
    a batch whose size is known (what it does not use goes back when it rolls)."""
    if s.n + records > s.cap:
        seg_records_cap(s, s.n + records)
    if s.used + data_bytes > s.data_cap:
        mem_resize(<void**>&s.data, s.used + data_bytes)
        s.data_cap = s.used + data_bytes
    return 0


cdef int seg_shrink(Segment* s) except -1 nogil:
    """A closed segment gives back the room it will never use."""
    if s.cap > s.n and s.n > 0:
        seg_records_cap(s, s.n)
    if s.data_cap > s.used and s.used > 0:
        mem_resize(<void**>&s.data, s.used)
        s.data_cap = s.used
    return 0


cdef int seg_index(Segment* s, int64_t rec) except -1 nogil:
    """Index entries for record ``rec`` (about to be appended): the offset index
    once ``index_interval`` bytes have passed, and the time index when the largest
    timestamp grew since its last entry."""
    cdef int64_t c
    if s.ix_n == s.ix_cap:
        c = _grown(s.ix_cap, s.ix_n + 1)
        mem_resize(<void**>&s.ix_delta, c * sizeof(uint32_t))
        mem_resize(<void**>&s.ix_rec, c * sizeof(uint32_t))
        s.ix_cap = c
    s.ix_delta[s.ix_n] = s.delta[rec]
    s.ix_rec[s.ix_n] = <uint32_t>rec
    s.ix_n += 1
    s.since_index = 0
    if s.max_ts_rec >= 0 and (s.tx_n == 0 or s.tx_ts[s.tx_n - 1] < s.max_ts):
        if s.tx_n == s.tx_cap:
            c = _grown(s.tx_cap, s.tx_n + 1)
            mem_resize(<void**>&s.tx_ts, c * sizeof(int64_t))
            mem_resize(<void**>&s.tx_rec, c * sizeof(uint32_t))
            s.tx_cap = c
        s.tx_ts[s.tx_n] = s.max_ts
        s.tx_rec[s.tx_n] = <uint32_t>s.max_ts_rec
        s.tx_n += 1
    return 0


cdef inline int64_t seg_first_at_or_after(const Segment* s, int64_t offset) noexcept nogil:
    """The first record of s with an offset >= ``offset`` (s.n: none): a binary
    search of the sparse index, then a short scan, as Kafka's OffsetIndex lookup."""
    cdef int64_t d = offset - s.base
    cdef int64_t lo = 0, hi = s.ix_n, mid, rec = 0
    if d <= 0:
        return 0
    while lo < hi:                      # the last entry with delta <= d
        mid = (lo + hi) >> 1
        if s.ix_delta[mid] <= d:
            lo = mid + 1
        else:
            hi = mid
    if lo > 0:
        rec = s.ix_rec[lo - 1]
    while rec < s.n and s.delta[rec] < d:
        rec += 1
    return rec


cdef inline int64_t seg_first_at_time(const Segment* s, int64_t ts) noexcept nogil:
    """The first record of s with a timestamp >= ts (s.n: none): the time index's
    last entry whose largest-so-far is < ts bounds where the scan starts."""
    cdef int64_t lo = 0, hi = s.tx_n, mid, rec = 0
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.tx_ts[mid] < ts:
            lo = mid + 1
        else:
            hi = mid
    if lo > 0:
        rec = s.tx_rec[lo - 1]
    while rec < s.n and s.ts[rec] < ts:
        rec += 1
    return rec


cdef inline int64_t _now_ms() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000 + t.tv_nsec // 1000000


# ---------------------------------------------------------------- the log

cdef class Log:
    """A topic of ``partitions`` append-only logs addressed by 64-bit offsets.

    Records (key and value bytes, either None; a timestamp in ms) are stored in
    per-segment arenas, 24 bytes of bookkeeping each beside their bytes. A
    partition's offsets start at 0 and grow by one per record; a segment rolls at
    ``segment_bytes`` of record bytes.

    ``cleanup_policy`` is ``"delete"`` (retention: ``retention_ms`` by age of a closed
    segment's newest record, ``retention_bytes`` by partition size, checked when a
    segment rolls and by :meth:`enforce_retention`), ``"compact"`` (:meth:`compact`:
    the last record of each key in the closed segments) or ``"compact,delete"``.
    ``clock`` returns the time in ms (default: the system's real-time clock, read in C).

    Costs: ``append`` O(1) amortized; ``fetch`` and offset lookups O(log segments +
    log index entries) plus a scan of less than ``index_interval_bytes``; memory
    24 bytes + key + value per record, plus 8 bytes per index entry.

    >>> log = Log(3)
    >>> log.append(b"user-42", b"hello", timestamp=1000)
    (1, 0)
    >>> log.append(None, b"no key", partition=2, timestamp=1001)
    (2, 0)
    >>> batch = log.fetch(1, 0)
    >>> batch.values, batch.offsets.tolist(), batch.next_offset
    ([b'hello'], [0], 1)
    >>> log.log_end_offset(1), log.offset_for_time(1, 1000)
    (1, 0)
    """

    def __cinit__(self, *args, **kwargs):
        self.parts = NULL
        self.P = 0

    def __init__(self, partitions, *, segment_bytes=DEFAULT_SEGMENT_BYTES,
                 index_interval_bytes=DEFAULT_INDEX_INTERVAL, retention_ms=None,
                 retention_bytes=None, cleanup_policy="delete",
                 delete_retention_ms=DEFAULT_DELETE_RETENTION_MS,
                 min_cleanable_dirty_ratio=DEFAULT_DIRTY_RATIO,
                 batch_size=DEFAULT_BATCH_SIZE, clock=None, seed=0):
        if self.parts != NULL:
            raise RuntimeError("Log.__init__ called twice")
        cdef int64_t n = _count(partitions, "partitions", 1)
        if n > 1_000_000:
            raise ValueError(f"partitions must be <= 1000000, got {n}")
        seg = _count(segment_bytes, "segment_bytes", 1)
        if seg > MAX_RECORD_BYTES:
            raise ValueError(f"segment_bytes must be < 2**31, got {seg}")
        interval = _count(index_interval_bytes, "index_interval_bytes", 0)
        policies = tuple(p.strip() for p in str(cleanup_policy).split(","))
        if not policies or any(p not in ("delete", "compact") for p in policies) \
                or len(set(policies)) != len(policies):
            raise ValueError(f"cleanup_policy must be 'delete', 'compact' or 'compact,delete', "
                             f"got {cleanup_policy!r}")
        ratio = float(min_cleanable_dirty_ratio)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"min_cleanable_dirty_ratio must be in [0, 1], got {ratio}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable (returning ms) or None, got {clock!r}")
        self.segment_bytes = seg
        self.index_interval = interval
        self.retention_ms = _count(retention_ms, "retention_ms", 0, -1)
        self.retention_bytes = _count(retention_bytes, "retention_bytes", 0, -1)
        self.delete_retention_ms = _count(delete_retention_ms, "delete_retention_ms", 0)
        self.batch_size = _count(batch_size, "batch_size", 1)
        self.min_dirty_ratio = ratio
        self.delete_policy = "delete" in policies
        self.compact_policy = "compact" in policies
        self.cleanup_policy = ",".join(sorted(policies))
        self.clock = clock
        rng_seed(&self.rng, <uint64_t>(_count(seed, "seed", 0) & 0xFFFFFFFFFFFFFFFF))
        mem_zeroed(<void**>&self.parts, n * sizeof(Part))
        self.P = <int32_t>n
        cdef int64_t i
        for i in range(n):
            self._roll(&self.parts[i])
        self.sticky = <int32_t>rng_below(&self.rng, <uint64_t>n)
        self.sticky_bytes = 0

    def __dealloc__(self):
        cdef int64_t i, j
        if self.parts == NULL:
            return
        for i in range(self.P):
            for j in range(self.parts[i].nsegs):
                seg_free(&self.parts[i].segs[j])
            PyMem_RawFree(self.parts[i].segs)
        PyMem_RawFree(self.parts)
        self.parts = NULL

    # ------------------------------------------------------------ internals

    cdef int64_t _now(self) except? -1:
        if self.clock is None:
            return _now_ms()
        return int(self.clock())

    cdef int32_t _choose(self, const uint8_t* key, int32_t klen) noexcept nogil:
        cdef int32_t p
        if klen >= 0:
            return kafka_partition(murmur2_kafka(key, klen), self.P)
        if self.sticky_bytes >= self.batch_size:
            if self.P > 1:          # another partition, uniformly among the others
                p = <int32_t>rng_below(&self.rng, <uint64_t>(self.P - 1))
                self.sticky = p + 1 if p >= self.sticky else p
            self.sticky_bytes = 0
        return self.sticky

    cdef int _roll(self, Part* p) except -1 nogil:
        """A new active segment whose base offset is the log end offset."""
        if p.nsegs:
            seg_shrink(&p.segs[p.nsegs - 1])
        if p.nsegs == p.segs_cap:
            mem_resize(<void**>&p.segs, _grown(p.segs_cap, p.nsegs + 1) * sizeof(Segment))
            p.segs_cap = _grown(p.segs_cap, p.nsegs + 1)
        seg_init(&p.segs[p.nsegs], p.end)
        p.nsegs += 1
        if p.nsegs > 1:
            self.rolls += 1
        return 0

    cdef int64_t _append(self, int32_t part, const uint8_t* key, int32_t klen,
                         const uint8_t* value, int32_t vlen, int64_t ts) except -1 nogil:
        """Append one record to partition ``part``; its offset."""
        cdef Part* p = &self.parts[part]
        cdef int64_t need = (klen if klen > 0 else 0) + (vlen if vlen > 0 else 0)
        cdef Segment* s = &p.segs[p.nsegs - 1]
        cdef int64_t r
        if s.n > 0 and (s.used + need > self.segment_bytes or s.n >= MAX_SEGMENT_RECORDS
                        or p.end - s.base >= <int64_t>0xffffffffLL):
            self._roll(p)
            s = &p.segs[p.nsegs - 1]
            if self.delete_policy and (self.retention_ms >= 0 or self.retention_bytes >= 0):
                self._retain(p, ts)     # "now" is the time of the record that rolled
                s = &p.segs[p.nsegs - 1]
        seg_reserve(s, 1, need, self.segment_bytes)
        r = s.n
        s.delta[r] = <uint32_t>(p.end - s.base)
        if r > 0 and s.since_index >= self.index_interval:
            seg_index(s, r)
        s.pos[r] = <uint32_t>s.used
        s.klen[r] = klen
        s.vlen[r] = vlen
        s.ts[r] = ts
        if klen > 0:
            memcpy(s.data + s.used, key, klen)
            s.used += klen
        if vlen > 0:
            memcpy(s.data + s.used, value, vlen)
            s.used += vlen
        if ts > s.max_ts:
            s.max_ts = ts
            s.max_ts_rec = r
        s.n += 1
        s.since_index += need
        p.used += need
        p.records += 1
        p.end += 1
        if klen < 0:
            self.sticky_bytes += need
        return p.end - 1

    cdef Part* _part(self, object partition) except NULL:
        i = _count(partition, "partition")
        if not 0 <= i < self.P:
            raise ValueError(f"unknown partition {i}: the log has partitions 0..{self.P - 1}")
        return &self.parts[i]

    cdef int64_t _locate(self, Part* p, int64_t offset, int64_t* rec) noexcept nogil:
        """The segment and record of the first record at or after ``offset`` (which
        is in [start, end)); -1 if no record is (compaction left only gaps)."""
        cdef int64_t lo = 0, hi = p.nsegs, mid, si, r
        while lo < hi:                  # the last segment with base <= offset
            mid = (lo + hi) >> 1
            if p.segs[mid].base <= offset:
                lo = mid + 1
            else:
                hi = mid
        si = lo - 1 if lo > 0 else 0
        while si < p.nsegs:
            r = seg_first_at_or_after(&p.segs[si], offset)
            if r < p.segs[si].n:
                rec[0] = r
                return si
            si += 1
        return -1

    cdef int _retain(self, Part* p, int64_t now) except -1 nogil:
        """Delete closed segments past ``retention_ms`` (their newest record) or while
        the partition without them still holds ``retention_bytes``; the log start
        offset moves to the next segment's base. The active segment always stays."""
        cdef int64_t k = 0
        cdef int64_t size = p.used
        cdef Segment* s
        while k < p.nsegs - 1:
            s = &p.segs[k]
            if self.retention_ms >= 0 and s.max_ts != INT64_MIN and s.max_ts < now - self.retention_ms:
                pass
            elif self.retention_bytes >= 0 and size - s.used >= self.retention_bytes:
                pass
            else:
                break
            size -= s.used
            k += 1
        if k == 0:
            return 0
        cdef int64_t j
        for j in range(k):
            p.used -= p.segs[j].used
            p.records -= p.segs[j].n
            seg_free(&p.segs[j])
        memmove(p.segs, p.segs + k, (p.nsegs - k) * sizeof(Segment))
        p.nsegs -= k
        if p.segs[0].base > p.start:
            p.start = p.segs[0].base
        if p.clean_to < p.start:
            p.clean_to = p.start
        self.deleted_segments += k
        return 0

    # ------------------------------------------------------------ writing

    def append(self, key, value, partition=None, timestamp=None):
        """Append one record; returns ``(partition, offset)``.

        ``key`` and ``value`` are bytes or None. Without ``partition``, a keyed record
        goes where Kafka's default partitioner sends it, a keyless one to the sticky
        partition. ``timestamp`` (ms, >= 0) defaults to the clock.
        """
        cdef const uint8_t* kp = NULL
        cdef const uint8_t* vp = NULL
        cdef Py_ssize_t kl = -1, vl = -1
        cdef int32_t part
        cdef int64_t ts
        if key is not None:
            if type(key) is not bytes:
                raise TypeError(f"key must be bytes or None, got {type(key).__name__}")
            kp = <const uint8_t*>PyBytes_AS_STRING(key)
            kl = PyBytes_GET_SIZE(key)
        elif self.compact_policy:
            raise ValueError("a compacted log needs a key on every record (got key=None)")
        if value is not None:
            if type(value) is not bytes:
                raise TypeError(f"value must be bytes or None, got {type(value).__name__}")
            vp = <const uint8_t*>PyBytes_AS_STRING(value)
            vl = PyBytes_GET_SIZE(value)
        if (kl if kl > 0 else 0) + (vl if vl > 0 else 0) > MAX_RECORD_BYTES:
            raise ValueError(f"a record must be smaller than 2 GiB, got {kl + vl} bytes")
        if partition is None:
            part = self._choose(kp, <int32_t>kl)
        elif type(partition) is int and 0 <= <object>partition < self.P:
            part = <int32_t>partition
        else:
            part = <int32_t>(self._part(partition) - self.parts)
        if timestamp is None:
            ts = self._now()
        elif type(timestamp) is int and timestamp >= 0:
            ts = timestamp
        else:
            ts = _count(timestamp, "timestamp", 0)
        return part, self._append(part, kp, <int32_t>kl, vp, <int32_t>vl, ts)

    def append_many(self, keys, values, partition=None, timestamps=None):
        """Append a batch in one loop without the GIL; returns ``(partitions,
        offsets)`` as int32 and int64 arrays.

        ``values``: a list of bytes (or None), a numpy ``S`` array (each item as numpy
        gives it: trailing NUL bytes dropped) or a 2-D uint8 array (one value per
        row). ``keys``: None (every record keyless), or the same forms, one per value.
        ``timestamps``: None (the clock, once for the batch) or one per record. The
        whole batch is checked before anything is appended.
        """
        cdef Py_ssize_t n, i
        vptr, vlen, vkeep = _gather(values, "values", -1)
        n = len(vlen)
        if keys is None:
            if self.compact_policy:
                raise ValueError("a compacted log needs a key on every record (got keys=None)")
            kptr, klen, kkeep = np.zeros(n, np.uintp), np.full(n, -1, np.int64), None
        else:
            kptr, klen, kkeep = _gather(keys, "keys", n)
            if self.compact_policy and (klen < 0).any():
                raise ValueError(f"a compacted log needs a key on every record "
                                 f"(keys[{int(np.argmax(klen < 0))}] is None)")
        if n and (np.maximum(klen, 0) + np.maximum(vlen, 0)).max() > MAX_RECORD_BYTES:
            raise ValueError("a record must be smaller than 2 GiB")
        cdef int64_t fixed_part = -1
        if partition is not None:
            fixed_part = self._part(partition) - self.parts
        if timestamps is None:
            ts_arr = np.full(n, self._now(), dtype=np.int64)
        else:
            ts_arr = np.ascontiguousarray(timestamps, dtype=np.int64)
            if ts_arr.shape != (n,):
                raise ValueError(f"timestamps must have one value per record ({n}), "
                                 f"got shape {ts_arr.shape}")
            if n and ts_arr.min() < 0:
                raise ValueError(f"timestamps must be >= 0, got {int(ts_arr.min())}")
        parts = np.empty(n, dtype=np.int32)
        offsets = np.empty(n, dtype=np.int64)
        cdef const size_t[::1] kp = kptr
        cdef const int64_t[::1] kl = klen
        cdef const size_t[::1] vp = vptr
        cdef const int64_t[::1] vl = vlen
        cdef const int64_t[::1] ts = ts_arr
        cdef int32_t[::1] po = parts
        cdef int64_t[::1] oo = offsets
        cdef int32_t part
        cdef Segment* act
        cdef int64_t room
        if fixed_part >= 0 and n:       # one partition: reserve the batch exactly
            act = &self.parts[fixed_part].segs[self.parts[fixed_part].nsegs - 1]
            room = min(int((np.maximum(klen, 0) + np.maximum(vlen, 0)).sum()),
                       max(self.segment_bytes - act.used, 0))
            seg_reserve_exact(act, n, room)
        with nogil:
            for i in range(n):
                if fixed_part >= 0:
                    part = <int32_t>fixed_part
                else:
                    part = self._choose(<const uint8_t*>kp[i], <int32_t>kl[i])
                po[i] = part
                oo[i] = self._append(part, <const uint8_t*>kp[i], <int32_t>kl[i],
                                     <const uint8_t*>vp[i], <int32_t>vl[i], ts[i])
        del vkeep, kkeep
        return parts, offsets

    # ------------------------------------------------------------ reading

    def log_start_offset(self, partition) -> int:
        """The first offset a fetch may ask for (retention moves it forward)."""
        return self._part(partition).start

    def log_end_offset(self, partition) -> int:
        """The offset the next record appended to ``partition`` gets."""
        return self._part(partition).end

    def fetch(self, partition, offset, max_records=DEFAULT_MAX_RECORDS, max_bytes=DEFAULT_MAX_BYTES):
        """Records of ``partition`` from ``offset`` on, within one segment: at most
        ``max_records``, and at most ``max_bytes`` of keys and values unless the first
        record alone is larger (it is returned whole, as Kafka does). A
        :class:`Batch`; empty at the log end offset. Below the log start offset or
        past the end: :class:`~tradeoff.messaging.OffsetOutOfRange`."""
        cdef Part* p = self._part(partition)
        cdef int64_t off = _count(offset, "offset", 0)
        cdef int64_t m = _count(max_records, "max_records", 1)
        cdef int64_t mb = _count(max_bytes, "max_bytes", 1)
        if off < p.start or off > p.end:
            raise OffsetOutOfRange(f"offset {off} is out of range for partition {partition}: "
                                   f"the log holds offsets {p.start} to {p.end} (end)")
        cdef int64_t rec = 0, si = -1, k = 0, first = 0, stop, size
        cdef Segment* s = NULL
        if off < p.end:
            si = self._locate(p, off, &rec)
        if si >= 0:
            s = &p.segs[si]
            first = s.pos[rec]
            stop = rec
            while stop < s.n and stop - rec < m:
                size = (s.pos[stop] + (s.klen[stop] if s.klen[stop] > 0 else 0)
                        + (s.vlen[stop] if s.vlen[stop] > 0 else 0)) - first
                if size > mb and stop > rec:
                    break
                stop += 1
            k = stop - rec
        b = Batch()
        b.partition = <int32_t>(p - self.parts)
        cdef cnp.npy_intp dims[2]
        dims[0] = 6
        dims[1] = k
        table = cnp.PyArray_EMPTY(2, dims, cnp.NPY_INT64, 0)
        cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(table)
        cdef int64_t i, j, end_byte = first
        if k:
            with nogil:
                for i in range(k):
                    j = rec + i
                    o[i] = s.base + s.delta[j]
                    o[k + i] = s.ts[j]
                    o[2 * k + i] = s.pos[j] - first
                    o[3 * k + i] = s.klen[j]
                    o[4 * k + i] = s.pos[j] - first + (s.klen[j] if s.klen[j] > 0 else 0)
                    o[5 * k + i] = s.vlen[j]
                j = rec + k - 1
                end_byte = s.pos[j] + (s.klen[j] if s.klen[j] > 0 else 0) + (s.vlen[j] if s.vlen[j] > 0 else 0)
            b.data = PyBytes_FromStringAndSize(<char*>s.data + first, end_byte - first)
            b.next_offset = o[k - 1] + 1
        else:
            b.data = b""
            b.next_offset = p.end
        b.table = table
        return b

    def read(self, partition, offset=None):
        """Every record of ``partition`` from ``offset`` (default: the log start) to
        the end, as a list of :class:`Record` (for tests and small logs)."""
        cdef Part* p = self._part(partition)
        pos = p.start if offset is None else offset
        out = []
        while True:
            batch = self.fetch(partition, pos, max_records=1 << 20, max_bytes=1 << 30)
            if not len(batch):
                return out
            out.extend(batch)
            pos = batch.next_offset

    def offset_for_time(self, partition, timestamp):
        """The first offset of ``partition`` whose timestamp is >= ``timestamp``, or
        None: Kafka's offsetsForTimes, through the segments' time indexes."""
        cdef Part* p = self._part(partition)
        cdef int64_t ts = _count(timestamp, "timestamp", 0)
        cdef int64_t si, r
        for si in range(p.nsegs):
            if p.segs[si].max_ts >= ts:
                r = seg_first_at_time(&p.segs[si], ts)
                if r < p.segs[si].n:
                    return p.segs[si].base + p.segs[si].delta[r]
        return None

    # ------------------------------------------------------------ cleanup

    def enforce_retention(self, now=None):
        """Apply ``retention_ms``/``retention_bytes`` to every partition now (``now`` in
        ms, default the clock); returns the segments deleted. A compact-only log keeps
        everything."""
        cdef int64_t t = self._now() if now is None else _count(now, "now", 0)
        cdef int64_t before = self.deleted_segments
        cdef int32_t i
        if self.delete_policy:
            for i in range(self.P):
                self._retain(&self.parts[i], t)
        return self.deleted_segments - before

    def dirty_ratio(self, partition) -> float:
        """Bytes of the closed segments not yet compacted over all closed bytes."""
        cdef Part* p = self._part(partition)
        cdef int64_t closed = 0, dirty = 0, si, r
        cdef Segment* s
        for si in range(p.nsegs - 1):
            s = &p.segs[si]
            closed += s.used
            if s.base + (s.delta[s.n - 1] if s.n else 0) >= p.clean_to:
                for r in range(s.n):
                    if s.base + s.delta[r] >= p.clean_to:
                        dirty += s.used - s.pos[r]
                        break
        return dirty / closed if closed else 0.0

    def compact(self, now=None, *, force=False):
        """Compact every partition whose dirty ratio is at least
        ``min_cleanable_dirty_ratio`` (every one with ``force``): in the closed
        segments keep only the last record of each key (offsets stay; gaps appear),
        and drop tombstones (value None) older than ``delete_retention_ms``. Returns
        the records removed."""
        if not self.compact_policy:
            raise ValueError(f"compact() needs cleanup_policy 'compact', this log has {self.cleanup_policy!r}")
        cdef int64_t t = self._now() if now is None else _count(now, "now", 0)
        removed = 0
        for i in range(self.P):
            if self.parts[i].nsegs > 1 and (force or self.dirty_ratio(i) >= self.min_dirty_ratio):
                removed += self._compact(&self.parts[i], t)
        return removed

    cdef object _compact(self, Part* p, int64_t now):
        cdef int64_t si, r, n_closed = p.nsegs - 1, kept, used, removed = 0, cut
        cdef Segment* s
        last = {}          # key -> offset of its last record in the closed segments
        for si in range(n_closed):
            s = &p.segs[si]
            for r in range(s.n):
                last[(<char*>s.data)[s.pos[r]:s.pos[r] + s.klen[r]]] = s.base + s.delta[r]
        cut = now - self.delete_retention_ms
        for si in range(n_closed):
            s = &p.segs[si]
            kept = used = 0
            for r in range(s.n):
                key = (<char*>s.data)[s.pos[r]:s.pos[r] + s.klen[r]]
                if last[key] != s.base + s.delta[r] or (s.vlen[r] < 0 and s.ts[r] < cut):
                    continue
                _move_record(s, r, kept, used)
                used += s.klen[kept] + (s.vlen[kept] if s.vlen[kept] > 0 else 0)
                kept += 1
            removed += s.n - kept
            p.used -= s.used - used
            p.records -= s.n - kept
            s.n = kept
            s.used = used
            _reindex(s, self.index_interval)
        # closed segments left empty go (the log start offset does not move)
        si = 0
        while si < p.nsegs - 1:
            if p.segs[si].n == 0:
                seg_free(&p.segs[si])
                memmove(p.segs + si, p.segs + si + 1, (p.nsegs - si - 1) * sizeof(Segment))
                p.nsegs -= 1
            else:
                si += 1
        p.clean_to = p.segs[p.nsegs - 1].base
        self.compactions += 1
        return removed

    # ------------------------------------------------------------ inspection

    @property
    def partitions(self) -> int:
        return self.P

    def __len__(self):
        cdef int64_t total = 0
        for i in range(self.P):
            total += self.parts[i].records
        return total

    def size(self, partition) -> int:
        """Bytes of keys and values held by ``partition``."""
        return self._part(partition).used

    def segments(self, partition) -> list:
        """``(base offset, records, bytes)`` of each segment of ``partition``, oldest first."""
        cdef Part* p = self._part(partition)
        return [(p.segs[i].base, p.segs[i].n, p.segs[i].used) for i in range(p.nsegs)]

    @property
    def nbytes(self) -> int:
        """Bytes of memory held (arenas and arrays at their capacity)."""
        cdef int64_t total = self.P * sizeof(Part)
        cdef Segment* s
        for i in range(self.P):
            total += self.parts[i].segs_cap * sizeof(Segment)
            for j in range(self.parts[i].nsegs):
                s = &self.parts[i].segs[j]
                total += s.cap * (3 * sizeof(uint32_t) + sizeof(int32_t) + sizeof(int64_t))
                total += s.data_cap + s.ix_cap * 8 + s.tx_cap * 12
        return total

    def _check(self):
        """Assert the invariants: offsets strictly increasing from the log start to
        below the log end, segment bases in order, records tiling their arena, the
        index entries pointing at their records, the time index's largest-so-far,
        byte and record counts."""
        cdef Part* p
        cdef Segment* s
        cdef int64_t prev, off, mx, pos, total, recs
        for i in range(self.P):
            p = &self.parts[i]
            assert p.nsegs >= 1, f"partition {i}: no active segment"
            assert 0 <= p.start <= p.end, f"partition {i}: start {p.start} end {p.end}"
            prev = p.start - 1
            total = recs = 0
            for j in range(p.nsegs):
                s = &p.segs[j]
                assert j == 0 or s.base > p.segs[j - 1].base, f"partition {i}: segment bases out of order"
                assert s.base <= p.end, f"partition {i}: segment base {s.base} past the end"
                pos = 0
                mx = INT64_MIN
                for r in range(s.n):
                    off = s.base + s.delta[r]
                    assert off > prev, f"partition {i}: offset {off} after {prev}"
                    assert off < p.end, f"partition {i}: offset {off} >= end {p.end}"
                    assert s.pos[r] == pos, f"partition {i}: record {off} at {s.pos[r]}, expected {pos}"
                    pos += (s.klen[r] if s.klen[r] > 0 else 0) + (s.vlen[r] if s.vlen[r] > 0 else 0)
                    mx = max(mx, s.ts[r])
                    prev = off
                assert pos == s.used, f"partition {i}: segment {s.base} uses {s.used}, records {pos}"
                assert mx == s.max_ts, f"partition {i}: segment {s.base} max timestamp"
                for x in range(s.ix_n):
                    assert s.ix_rec[x] < s.n and s.delta[s.ix_rec[x]] == s.ix_delta[x], \
                        f"partition {i}: offset index entry {x} of segment {s.base}"
                    assert x == 0 or s.ix_rec[x] > s.ix_rec[x - 1]
                for x in range(s.tx_n):
                    r = s.tx_rec[x]
                    assert r < s.n and s.ts[r] == s.tx_ts[x], f"partition {i}: time index entry {x}"
                    for q in range(r):
                        assert s.ts[q] < s.tx_ts[x], f"partition {i}: time index {x} is not the first largest"
                    assert x == 0 or s.tx_ts[x] > s.tx_ts[x - 1]
                total += s.used
                recs += s.n
            assert total == p.used and recs == p.records, f"partition {i}: byte or record count"
        return True


cdef inline void _move_record(Segment* s, int64_t src, int64_t dst, int64_t at) noexcept nogil:
    """Compaction: record ``src`` becomes record ``dst`` with its bytes at ``at``
    (dst <= src, at <= pos[src]: records only move towards the front)."""
    cdef int64_t nb = (s.klen[src] if s.klen[src] > 0 else 0) + (s.vlen[src] if s.vlen[src] > 0 else 0)
    if at != s.pos[src]:
        memmove(s.data + at, s.data + s.pos[src], nb)
    s.delta[dst] = s.delta[src]
    s.pos[dst] = <uint32_t>at
    s.klen[dst] = s.klen[src]
    s.vlen[dst] = s.vlen[src]
    s.ts[dst] = s.ts[src]


cdef int _reindex(Segment* s, int64_t interval) except -1 nogil:
    """Rebuild the offset and time indexes and the largest timestamp of s."""
    cdef int64_t r, n = s.n
    s.ix_n = s.tx_n = 0
    s.since_index = 0
    s.max_ts = INT64_MIN
    s.max_ts_rec = -1
    for r in range(n):
        if r > 0 and s.since_index >= interval:
            seg_index(s, r)
        s.since_index += (s.klen[r] if s.klen[r] > 0 else 0) + (s.vlen[r] if s.vlen[r] > 0 else 0)
        if s.ts[r] > s.max_ts:
            s.max_ts = s.ts[r]
            s.max_ts_rec = r
    return 0


cdef tuple _gather(object items, str what, Py_ssize_t n):
    """(pointers, lengths, keep-alive) of a batch of byte strings: a list/tuple of
    bytes or None, a numpy S array, or a 2-D uint8 array; checked whole first."""
    cdef Py_ssize_t i, m, w, L
    cdef bint kind_s
    cdef const char* base
    cdef size_t[::1] pp
    cdef int64_t[::1] ll
    if isinstance(items, np.ndarray):
        arr = np.ascontiguousarray(items)
        if arr.dtype.kind == "S" and arr.ndim == 1:
            m, w = arr.shape[0], arr.dtype.itemsize
        elif arr.dtype == np.uint8 and arr.ndim == 2:
            m, w = arr.shape[0], arr.shape[1]
        else:
            raise TypeError(f"{what} must be a list of bytes, a numpy S array or a 2-D uint8 "
                            f"array, got an array of {arr.dtype} with {arr.ndim} dimension(s)")
        if n >= 0 and m != n:
            raise ValueError(f"{what} must have one item per value ({n}), got {m}")
        ptrs = np.empty(m, dtype=np.uintp)
        lens = np.full(m, w, dtype=np.int64)
        pp, ll = ptrs, lens
        base = <const char*>cnp.PyArray_DATA(arr)
        kind_s = arr.dtype.kind == "S"
        with nogil:
            for i in range(m):
                pp[i] = <size_t>(base + i * w)
                if kind_s:              # numpy's own reading: trailing NULs are padding
                    L = w
                    while L > 0 and base[i * w + L - 1] == 0:
                        L -= 1
                    ll[i] = L
        return ptrs, lens, arr
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{what} must be a list of bytes, a numpy S array or a 2-D uint8 "
                        f"array, got {type(items).__name__}")
    m = len(items)
    if n >= 0 and m != n:
        raise ValueError(f"{what} must have one item per value ({n}), got {m}")
    ptrs = np.zeros(m, dtype=np.uintp)
    lens = np.full(m, -1, dtype=np.int64)
    pp, ll = ptrs, lens
    for i in range(m):
        x = items[i]
        if type(x) is bytes:
            pp[i] = <size_t>PyBytes_AS_STRING(x)
            ll[i] = PyBytes_GET_SIZE(x)
        elif x is not None:
            raise TypeError(f"{what}[{i}] must be bytes or None, got {type(x).__name__}")
    return ptrs, lens, items
