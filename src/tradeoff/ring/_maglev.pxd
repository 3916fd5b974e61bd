# Maglev hashing (Eisenbud et al., NSDI 2016): tradeoff.ring.Maglev.
from libc.stdint cimport uint64_t, int32_t

from tradeoff.ring._base cimport Partitioner


# Fill table[0..m) with node indexes by the populate loop of section 3.4: node
# i's preference list is offset[i], offset[i] + skip[i], ... (mod m); nodes
# take turns in index order, node i in a round only when its credit, raised
# by share[i] (its weight over the largest weight, in [0, 1]) each round,
# reaches 1. credit and pos are scratch arrays of n entries. Needs m prime,
# 1 <= skip[i] < m, offset[i] < m and some share[i] == 1 (else it would not end).
cdef void maglev_populate(int32_t* table, uint64_t m, Py_ssize_t n,
                          const uint64_t* offset, const uint64_t* skip,
                          const double* share, double* credit, uint64_t* pos) noexcept nogil


cdef class Maglev(Partitioner):
    cdef uint64_t _m              # table size M (prime, > number of nodes)
    cdef object _table_arr        # int32 numpy array of M node indexes (owns _table)
    cdef const int32_t* _table
    cdef int32_t _n
