# An int64 -> int64 hash map with open addressing (linear probing) and
# backward-shift deletion (no tombstones), for keys that are any int64 and values
# that are >= 0 (slots, row ids, offsets, counts). A bucket whose value is < 0 is
# empty. The bucket count is a power of two and the load factor stays <= 1/2.
#
# A bucket holds its key mixed (mkey = hash_i64(key), a bijection, so equal mkeys
# are equal keys): the home bucket of a stored entry is mkey & mask, without hashing
# again, which deletion's backward shift and growing ask for every entry they pass.
# i64t_key gives the key back.
#
# Contract: i64t_init before use, i64t_free once; i64t_get / i64t_pop never fail;
# i64t_put fails only when growing runs out of memory (then -1, MemoryError set).
from libc.stdint cimport int64_t, uint64_t
from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.hashing cimport hash_i64, unmix64


ctypedef struct I64Entry:
    uint64_t mkey               # hash_i64(key): the key, mixed (i64t_key unmixes it)
    int64_t value               # < 0: the bucket is empty


ctypedef struct I64Table:
    I64Entry* buckets
    uint64_t mask               # number of buckets - 1
    Py_ssize_t size             # entries stored
    Py_ssize_t limit            # grow when size reaches this (half the buckets)


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define TRADEOFF_PREFETCH(p) __builtin_prefetch((const void*)(p))
    #else
    #define TRADEOFF_PREFETCH(p) ((void)0)
    #endif
    """
    void TRADEOFF_PREFETCH(const void* p) noexcept nogil


# how many requests ahead a replay loop prefetches the bucket of a future key
# (i64t_prefetch): far enough to hide a cache miss, near enough to stay in cache
cdef enum:
    PREFETCH_DISTANCE = 16


cdef int i64t_init(I64Table* t, Py_ssize_t expected) except -1 nogil
cdef void i64t_free(I64Table* t) noexcept nogil
cdef void i64t_clear(I64Table* t) noexcept nogil
cdef int i64t_grow(I64Table* t) except -1 nogil
cdef Py_ssize_t i64t_nbytes(const I64Table* t) noexcept nogil
# assert the probe invariant (every entry reachable from its home bucket without
# crossing an empty one, the size equals the entries, size <= limit): AssertionError
cdef int i64t_check(const I64Table* t) except -1


cdef inline int64_t i64t_key(const I64Entry* e) noexcept nogil:
    """The key a full bucket holds."""
    return <int64_t>unmix64(e.mkey)


cdef inline int64_t i64t_find(const I64Table* t, int64_t key, uint64_t* pos) noexcept nogil:
    """The value stored for key; or -1, with *pos set to the empty bucket where key
    would go (for i64t_put_at: a miss then costs one probe sequence, not two)."""
    cdef uint64_t m = hash_i64(key)
    cdef uint64_t i = m & t.mask
    cdef I64Entry* b = t.buckets
    while b[i].value >= 0:
        if b[i].mkey == m:
            return b[i].value
        i = (i + 1) & t.mask
    pos[0] = i
    return -1


cdef inline I64Entry* i64t_ref(const I64Table* t, int64_t key, uint64_t* pos) noexcept nogil:
    """The bucket holding key, or NULL with *pos set to the empty bucket where key
    would go (as i64t_find). Through the pointer the caller may rewrite the value in
    place, to any value >= 0, with one probe sequence instead of a get and a put;
    the pointer is valid until the table next changes size or loses an entry."""
    cdef uint64_t m = hash_i64(key)
    cdef uint64_t i = m & t.mask
    cdef I64Entry* b = t.buckets
    while b[i].value >= 0:
        if b[i].mkey == m:
            return &b[i]
        i = (i + 1) & t.mask
    pos[0] = i
    return NULL


cdef inline int64_t i64t_get(const I64Table* t, int64_t key) noexcept nogil:
    """The value stored for key, or -1."""
    cdef uint64_t pos
    return i64t_find(t, key, &pos)


cdef inline void i64t_put_at(I64Table* t, uint64_t pos, int64_t key, int64_t value) noexcept nogil:
    """Store a new key in the bucket i64t_find gave for it. Only valid while the table
    is unchanged since that call and has room (size < limit): the caller sizes it."""
    DEBUG_ASSERT(t.size < t.limit, "i64t_put_at: the table has room (size < limit)")
    DEBUG_ASSERT(pos <= t.mask, "i64t_put_at: the bucket is in the table")
    DEBUG_ASSERT(t.buckets[pos].value < 0, "i64t_put_at: the bucket is empty")
    DEBUG_ASSERT(value >= 0, "i64t_put_at: values are >= 0")
    t.buckets[pos].mkey = hash_i64(key)
    t.buckets[pos].value = value
    t.size += 1


cdef inline void i64t_prefetch(const I64Table* t, int64_t key) noexcept nogil:
    """Ask the CPU to start loading key's home bucket (a hint; no effect on results).
    Replay loops know their future keys and call this a few requests ahead."""
    TRADEOFF_PREFETCH(&t.buckets[hash_i64(key) & t.mask])


cdef inline int i64t_put(I64Table* t, int64_t key, int64_t value) except -1 nogil:
    """Insert or overwrite key -> value (value must be >= 0)."""
    cdef uint64_t i, m
    cdef I64Entry* b
    DEBUG_ASSERT(value >= 0, "i64t_put: values are >= 0")
    if t.size >= t.limit:
        i64t_grow(t)
    DEBUG_ASSERT(t.size < t.limit, "i64t_put: the table has room after growing")
    b = t.buckets
    m = hash_i64(key)
    i = m & t.mask
    while b[i].value >= 0:
        if b[i].mkey == m:
            b[i].value = value
            return 0
        i = (i + 1) & t.mask
    b[i].mkey = m
    b[i].value = value
    t.size += 1
    return 0


cdef inline int64_t i64t_pop(I64Table* t, int64_t key) noexcept nogil:
    """Remove key; return its value, or -1 if it was absent.

    Backward-shift deletion (Knuth, TAOCP vol. 3, 6.4 Algorithm R): each entry
    after the hole that may legally sit in it moves back, so probe runs stay
    unbroken and no tombstones accumulate under churn."""
    cdef uint64_t mask = t.mask
    cdef I64Entry* b = t.buckets
    cdef uint64_t m = hash_i64(key)
    cdef uint64_t i = m & mask
    cdef uint64_t j, home
    cdef int64_t value
    while True:
        if b[i].value < 0:
            return -1
        if b[i].mkey == m:
            break
        i = (i + 1) & mask
    value = b[i].value
    j = i
    while True:
        j = (j + 1) & mask
        if b[j].value < 0:
            break
        home = b[j].mkey & mask
        # the entry at j may move to the hole i when i lies on its probe path,
        # i.e. when i is no further from j than its home bucket is
        if ((j - home) & mask) >= ((j - i) & mask):
            b[i] = b[j]
            i = j
    b[i].value = -1
    DEBUG_ASSERT(t.size > 0, "i64t_pop: a table holding key has size > 0")
    t.size -= 1
    return value
