# Rendezvous (highest random weight) hashing: tradeoff.ring.Rendezvous.
from libc.stdint cimport uint64_t, int32_t

from tradeoff.ring._base cimport Partitioner


cdef class Rendezvous(Partitioner):
    cdef object _seed_arr     # uint64 numpy array: XXH64 of each node name (owns _seed)
    cdef object _w_arr        # float64 numpy array: weight of each node (owns _w)
    cdef const uint64_t* _seed
    cdef const double* _w
    cdef int32_t _n
    cdef bint _weighted       # False when every weight is equal: plain integer scores
