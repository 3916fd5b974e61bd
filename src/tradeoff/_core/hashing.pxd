# 64-bit integer hash functions shared by every area (tables, rings, sketches).
from libc.stdint cimport int32_t, uint32_t, uint64_t, int64_t


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    """The splitmix64 finalizer (Steele, Lea and Flood, "Fast splittable
    pseudorandom number generators", OOPSLA 2014; constants of Stafford's Mix13).
    A bijection on 64-bit words: every input bit affects every output bit."""
    x ^= x >> 30
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


cdef inline uint64_t unmix64(uint64_t x) noexcept nogil:
    """The inverse of mix64: unmix64(mix64(x)) == x. mix64's steps are undone in
    reverse order: a xor-shift by s (31, 27, 30: each more than a third of 64) by
    xor-shifts of s and 2s, a multiplication by the multiplier's inverse modulo 2**64."""
    x ^= x >> 31
    x ^= x >> 62
    x *= <uint64_t>0x319642b2d24d8ec3
    x ^= x >> 27
    x ^= x >> 54
    x *= <uint64_t>0x96de1b173f119089
    x ^= x >> 30
    x ^= x >> 60
    return x


cdef inline uint64_t hash_i64(int64_t key) noexcept nogil:
    return mix64(<uint64_t>key)


cdef inline uint64_t fnv1a64(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """64-bit FNV-1a (Fowler, Noll and Vo; offset basis 0xcbf29ce484222325, prime
    0x100000001b3) over n bytes: the byte-string half of the stable key hash."""
    cdef uint64_t h = <uint64_t>0xcbf29ce484222325ULL
    cdef Py_ssize_t i
    for i in range(n):
        h ^= p[i]
        h *= <uint64_t>0x100000001b3ULL
    return h


cdef inline int64_t stable_hash_bytes(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """The stable hash of a byte string as an int64 key: mix64(fnv1a64(bytes)),
    reinterpreted as two's complement. Part of the on-disk meaning of a trace
    (a string key always becomes the same int64), so it never changes."""
    return <int64_t>mix64(fnv1a64(p, n))


# ------------------------------------------------------------------ XXH64
# XXH64 (Yann Collet, xxHash specification "XXH64 algorithm", revision 0.1.1):
# the byte-string hash that partitioners and rings place keys and nodes with.
# Written from the spec; checked against the `xxhash` package in tests/test_core.py.
# Words are read little-endian (memcpy then byte order of the host: every
# platform this builds on is little-endian; a big-endian host would need a swap).
from libc.string cimport memcpy

cdef enum:
    _XX_P1 = 0x9E3779B185EBCA87
    _XX_P2 = 0xC2B2AE3D27D4EB4F
    _XX_P3 = 0x165667B19E3779F9
    _XX_P4 = 0x85EBCA77C2B2AE63
    _XX_P5 = 0x27D4EB2F165667C5


cdef inline uint64_t _rotl64(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _xx_read64(const unsigned char* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint64_t _xx_round(uint64_t acc, uint64_t lane) noexcept nogil:
    acc += lane * <uint64_t>_XX_P2
    acc = _rotl64(acc, 31)
    return acc * <uint64_t>_XX_P1


cdef inline uint64_t _xx_merge(uint64_t acc, uint64_t v) noexcept nogil:
    acc ^= _xx_round(0, v)
    return acc * <uint64_t>_XX_P1 + <uint64_t>_XX_P4


cdef inline uint64_t xxh64(const unsigned char* p, Py_ssize_t n, uint64_t seed) noexcept nogil:
    """XXH64 of n bytes with a seed; equals ``xxhash.xxh64_intdigest(data, seed)``."""
    cdef const unsigned char* end = p + n
    cdef uint64_t h, v1, v2, v3, v4
    cdef unsigned int w32
    if n >= 32:
        v1 = seed + <uint64_t>_XX_P1 + <uint64_t>_XX_P2
        v2 = seed + <uint64_t>_XX_P2
        v3 = seed
        v4 = seed - <uint64_t>_XX_P1
        while p + 32 <= end:
            v1 = _xx_round(v1, _xx_read64(p))
            v2 = _xx_round(v2, _xx_read64(p + 8))
            v3 = _xx_round(v3, _xx_read64(p + 16))
            v4 = _xx_round(v4, _xx_read64(p + 24))
            p += 32
        h = _rotl64(v1, 1) + _rotl64(v2, 7) + _rotl64(v3, 12) + _rotl64(v4, 18)
        h = _xx_merge(h, v1)
        h = _xx_merge(h, v2)
        h = _xx_merge(h, v3)
        h = _xx_merge(h, v4)
    else:
        h = seed + <uint64_t>_XX_P5
    h += <uint64_t>n
    while p + 8 <= end:
        h ^= _xx_round(0, _xx_read64(p))
        h = _rotl64(h, 27) * <uint64_t>_XX_P1 + <uint64_t>_XX_P4
        p += 8
    if p + 4 <= end:
        memcpy(&w32, p, 4)
        h ^= <uint64_t>w32 * <uint64_t>_XX_P1
        h = _rotl64(h, 23) * <uint64_t>_XX_P2 + <uint64_t>_XX_P3
        p += 4
    while p < end:
        h ^= <uint64_t>p[0] * <uint64_t>_XX_P5
        h = _rotl64(h, 11) * <uint64_t>_XX_P1
        p += 1
    h ^= h >> 33
    h *= <uint64_t>_XX_P2
    h ^= h >> 29
    h *= <uint64_t>_XX_P3
    h ^= h >> 32
    return h


cdef inline uint64_t xxh64_u64(uint64_t key, uint64_t seed) noexcept nogil:
    """XXH64 of the 8 little-endian bytes of a 64-bit integer."""
    return xxh64(<const unsigned char*>&key, 8, seed)


# ------------------------------------------------------------------ murmur2 (Kafka)

cdef inline int32_t murmur2_kafka(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """MurmurHash2 (Austin Appleby, 32-bit, m = 0x5bd1e995, r = 24) with the seed
    0x9747b28c and the byte order of Apache Kafka's ``Utils.murmur2``: what the Java
    client's default partitioner hashes a record key with. Returned as Java's int
    (two's complement); ``kafka_partition`` takes it to a partition."""
    cdef uint32_t m = 0x5bd1e995u
    cdef uint32_t h = 0x9747b28cu ^ <uint32_t>n
    cdef uint32_t k
    cdef Py_ssize_t i = 0, tail = n & ~(<Py_ssize_t>3)
    while i < tail:
        k = (<uint32_t>p[i] | (<uint32_t>p[i + 1] << 8) | (<uint32_t>p[i + 2] << 16)
             | (<uint32_t>p[i + 3] << 24))
        k *= m
        k ^= k >> 24
        k *= m
        h *= m
        h ^= k
        i += 4
    cdef Py_ssize_t rest = n - tail
    if rest == 3:
        h ^= <uint32_t>p[tail + 2] << 16
    if rest >= 2:
        h ^= <uint32_t>p[tail + 1] << 8
    if rest >= 1:
        h ^= <uint32_t>p[tail]
        h *= m
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return <int32_t>h


cdef inline int32_t kafka_partition(int32_t hash, int32_t partitions) noexcept nogil:
    """Kafka's ``toPositive(hash) % partitions`` (toPositive clears the sign bit)."""
    return (hash & 0x7fffffff) % partitions
