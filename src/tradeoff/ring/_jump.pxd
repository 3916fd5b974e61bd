# Jump consistent hash (tradeoff.ring.JumpHash) and its bucket function.
from libc.stdint cimport uint64_t, int64_t, int32_t

from tradeoff.ring._base cimport Partitioner


cdef inline int32_t jump_bucket(uint64_t key, int32_t n) noexcept nogil:
    """The bucket in [0, n) of a 64-bit key: Lamping and Veach, "A Fast, Minimal
    Memory, Consistent Hash Algorithm" (2014), Figure 1, step for step.

    A linear congruential step (multiplier 2862933555777941757, increment 1)
    draws the next candidate jump; the double-precision arithmetic is the
    paper's, so the result equals its reference code for every key.
    Expected O(ln n) steps. n <= 0 gives -1 (no bucket); never fails."""
    cdef int64_t b = -1
    cdef int64_t j = 0
    while j < n:
        b = j
        key = key * <uint64_t>2862933555777941757 + 1
        j = <int64_t>(<double>(b + 1) * (2147483648.0 / <double>((key >> 33) + 1)))
    return <int32_t>b


# jump_bucket of keys[0..m) into out[0..m), mapped through remap[bucket] unless
# remap is NULL; n >= 1. Eight keys at a time in lock step, without branches
# inside a step, so the divisions of different keys overlap.
cdef void jump_buckets(const uint64_t* keys, Py_ssize_t m, int32_t n,
                       const int32_t* remap, int32_t* out) noexcept nogil


# raise ValueError unless `weight` equals every weight in `weights` and is > 0
# (partitioners that give every node the same share: JumpHash, MultiProbe);
# a weight that is not a number passes (the base class refuses it)
cdef int require_equal_weight(str cls, list weights, object node, object weight) except -1

# set_weight of such a partitioner: KeyError for an unknown node, then the check
# above against the other nodes' weights (the caller then calls the base class's)
cdef int require_equal_reweight(Partitioner p, str cls, object node, object weight) except -1


cdef class JumpHash(Partitioner):
    cdef list _order          # bucket -> node index (a permutation of range(n))
    cdef object _order_arr    # the same as an int32 numpy array (owns the memory below)
    cdef const int32_t* _bucket_node
    cdef int32_t _n           # number of buckets (= nodes)
