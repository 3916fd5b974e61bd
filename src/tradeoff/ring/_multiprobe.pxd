# Multi-probe consistent hashing (Appleton and O'Reilly 2015): tradeoff.ring.MultiProbe.
from libc.stdint cimport uint64_t, int32_t

from tradeoff.ring._base cimport Partitioner


cdef class MultiProbe(Partitioner):
    cdef int _k                   # probes per key
    cdef object _probe_seed_arr   # uint64 numpy array: the k probe seeds (owns _probe_seed)
    cdef const uint64_t* _probe_seed
    cdef object _pts_arr          # uint64 numpy array: node points, ascending (owns _pts)
    cdef object _own_arr          # int32 numpy array: node index of each point (owns _own)
    cdef object _first_arr        # int32 numpy array, 2**bits + 1 entries (owns _first)
    cdef const uint64_t* _pts
    cdef const int32_t* _own
    cdef const int32_t* _first    # _first[t]: first point position with point >> shift >= t
    cdef int _shift               # 64 - bits
    cdef int32_t _n
