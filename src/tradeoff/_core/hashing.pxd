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
