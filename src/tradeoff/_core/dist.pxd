# Delay and think-time distributions of the simulators: a constant, an exponential,
# or an array of values resampled uniformly. The Python side names the kinds in
# ``tradeoff._core.dist.DISTS``; dist_set fills a Dist from a (kind, mean, values)
# spec, checking it; dist_draw is the hot path.
from libc.stdint cimport int64_t, uint64_t

from tradeoff._core.rng cimport Rng, rng_exponential, rng_below


cdef enum:
    DIST_CONST = 0
    DIST_EXP = 1
    DIST_ARRAY = 2


cdef struct Dist:
    int kind
    double mean          # const: the value; exp: the mean
    double* arr          # array: the values, resampled uniformly (owned: dist_free)
    int64_t n


cdef inline double dist_draw(const Dist* d, Rng* r) noexcept nogil:
    if d.kind == DIST_CONST:
        return d.mean
    if d.kind == DIST_EXP:
        return rng_exponential(r, d.mean)
    return d.arr[rng_below(r, <uint64_t>d.n)]


cdef int dist_set(Dist* d, spec, str what) except -1
cdef void dist_free(Dist* d) noexcept nogil
