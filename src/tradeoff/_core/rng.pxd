# A small, fast, seedable generator shared by every area that draws random
# numbers in C (balancers, the event simulator, samplers).
#
# xoshiro256** 1.0 (Blackman and Vigna, "Scrambled linear pseudorandom number
# generators", ACM TOMS 2021), seeded through splitmix64 as the authors advise.
# Written from the paper's description. Period 2^256 - 1; not cryptographic.
from libc.stdint cimport uint64_t, int64_t
from libc.math cimport log
from .hashing cimport mix64

cdef extern from *:
    ctypedef unsigned long long u128 "unsigned __int128"


cdef struct Rng:
    uint64_t s0
    uint64_t s1
    uint64_t s2
    uint64_t s3


cdef inline void rng_seed(Rng* r, uint64_t seed) noexcept nogil:
    """Fill the state from splitmix64 steps of the seed (never all zero)."""
    cdef uint64_t x = seed
    x += <uint64_t>0x9e3779b97f4a7c15
    r.s0 = mix64(x)
    x += <uint64_t>0x9e3779b97f4a7c15
    r.s1 = mix64(x)
    x += <uint64_t>0x9e3779b97f4a7c15
    r.s2 = mix64(x)
    x += <uint64_t>0x9e3779b97f4a7c15
    r.s3 = mix64(x)
    if (r.s0 | r.s1 | r.s2 | r.s3) == 0:
        r.s0 = 1


cdef inline uint64_t rng_next(Rng* r) noexcept nogil:
    """The next 64 random bits."""
    cdef uint64_t result = r.s1 * 5
    result = ((result << 7) | (result >> 57)) * 9
    cdef uint64_t t = r.s1 << 17
    r.s2 ^= r.s0
    r.s3 ^= r.s1
    r.s1 ^= r.s2
    r.s0 ^= r.s3
    r.s2 ^= t
    r.s3 = (r.s3 << 45) | (r.s3 >> 19)
    return result


cdef inline double rng_uniform(Rng* r) noexcept nogil:
    """A double uniform in [0, 1), from the top 53 bits."""
    return <double>(rng_next(r) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double rng_uniform_pos(Rng* r) noexcept nogil:
    """A double uniform in (0, 1]: safe to take the log of."""
    return (<double>(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0)


cdef inline uint64_t rng_below(Rng* r, uint64_t n) noexcept nogil:
    """A uniform integer in [0, n) for n >= 1, without modulo bias (Lemire,
    "Fast random integer generation in an interval", ACM TOMACS 2019)."""
    cdef u128 m
    cdef uint64_t lo, threshold
    m = <u128>rng_next(r) * n
    lo = <uint64_t>m
    if lo < n:
        threshold = (-n) % n
        while lo < threshold:
            m = <u128>rng_next(r) * n
            lo = <uint64_t>m
    return <uint64_t>(m >> 64)


cdef inline double rng_exponential(Rng* r, double mean) noexcept nogil:
    """An exponential variate with the given mean (inversion)."""
    return -mean * log(rng_uniform_pos(r))
