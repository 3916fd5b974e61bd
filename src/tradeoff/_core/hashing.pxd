# 64-bit integer hash functions shared by every area (tables, rings, sketches).
from libc.stdint cimport uint64_t, int64_t


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
