# The partitioned log (Kafka's model) as C structs: each partition a list of
# segments, each segment an arena of record bytes plus one small entry per record
# in parallel arrays (24 bytes a record: no Python object per stored record), a
# sparse offset index and a time index.
#
# Contract: offsets within a partition strictly increase from segment to segment
# and within one; delta[i] = offset - base fits 32 bits (a segment holds fewer
# than 2**31 records); record i's key bytes start at pos[i] and its value bytes
# follow them, so a segment's records tile data[0:used] in order.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

from tradeoff._core.rng cimport Rng


cdef struct Segment:
    int64_t base            # the segment's base offset (its name in Kafka)
    int64_t n               # records held
    int64_t cap             # room in the per-record arrays
    uint32_t* delta         # offset - base, strictly increasing
    uint32_t* pos           # where the record's key bytes start in data
    int32_t* klen           # key bytes; -1: no key
    int32_t* vlen           # value bytes; -1: no value (a tombstone)
    int64_t* ts             # timestamp, ms
    uint8_t* data           # the record bytes, key then value, record after record
    int64_t used            # bytes of data in use
    int64_t data_cap
    int64_t max_ts          # largest timestamp (retention by time); INT64_MIN while empty
    int64_t max_ts_rec      # the first record holding max_ts
    uint32_t* ix_delta      # sparse offset index: one entry per index_interval_bytes,
    uint32_t* ix_rec        #   (offset - base, record number), both increasing
    int64_t ix_n
    int64_t ix_cap
    int64_t* tx_ts          # time index: (largest timestamp so far, the first record
    uint32_t* tx_rec        #   holding it), appended when the largest grows
    int64_t tx_n
    int64_t tx_cap
    int64_t since_index     # bytes appended since the last index entry


cdef struct Part:
    Segment* segs           # oldest first; the last one is the active segment
    int64_t nsegs
    int64_t segs_cap
    int64_t start           # log start offset: fetching below it is out of range
    int64_t end             # log end offset: the offset the next record gets
    int64_t used            # data bytes over all segments
    int64_t records
    int64_t clean_to        # compaction: the records below this offset are clean


cdef class Log:
    cdef Part* parts
    cdef int32_t P
    cdef int64_t segment_bytes
    cdef int64_t index_interval
    cdef int64_t retention_ms       # -1: keep forever
    cdef int64_t retention_bytes    # -1: no size limit
    cdef bint delete_policy
    cdef bint compact_policy
    cdef int64_t delete_retention_ms
    cdef double min_dirty_ratio
    cdef int64_t batch_size
    cdef int32_t sticky             # the keyless records' current partition
    cdef int64_t sticky_bytes       # bytes sent to it since it was chosen
    cdef Rng rng
    cdef object clock               # None: the system clock in C
    cdef readonly object cleanup_policy
    cdef public int64_t rolls       # segments rolled, retention deletions, compactions run
    cdef public int64_t deleted_segments
    cdef public int64_t compactions

    cdef int64_t _now(self) except? -1
    cdef int32_t _choose(self, const uint8_t* key, int32_t klen) noexcept nogil
    cdef int _roll(self, Part* p) except -1 nogil
    cdef int64_t _append(self, int32_t part, const uint8_t* key, int32_t klen,
                         const uint8_t* value, int32_t vlen, int64_t ts) except -1 nogil
    cdef Part* _part(self, object partition) except NULL
    cdef int64_t _locate(self, Part* p, int64_t offset, int64_t* rec) noexcept nogil
    cdef int _retain(self, Part* p, int64_t now) except -1 nogil
    cdef object _compact(self, Part* p, int64_t now)
