# The hash index (tradeoff.index.HashIndex): int64 keys -> int64 row ids, equality only,
# non-unique keys, on the shared open-addressing table of tradeoff._core.table.
from libc.stdint cimport int64_t

from tradeoff._core.table cimport I64Table


# The row ids of one key that has two or more of them, in insertion order.
ctypedef struct RowList:
    int64_t* rows               # NULL while the slot is free
    Py_ssize_t n                # rows stored (>= 2 when in use); a free slot: the next free slot, or -1
    Py_ssize_t cap              # rows allocated


cdef class HashIndex:
    # key -> code: (row << 1) when the key has exactly one row (stored inline, no
    # allocation), or (slot << 1) | 1 when it has two or more (they are in lists[slot])
    cdef I64Table t
    cdef RowList* lists
    cdef Py_ssize_t lists_cap       # slots allocated
    cdef Py_ssize_t lists_top       # slots ever handed out (the rest are unused)
    cdef Py_ssize_t free_slot       # head of the free-slot chain, or -1
    cdef Py_ssize_t n_entries       # (key, row) pairs stored
    cdef Py_ssize_t n_resizes       # times the key table doubled
    cdef Py_ssize_t row_bytes       # bytes allocated for row lists (sum of cap * 8)

    # add one (key, row) pair, 0 <= row <= MAX_ROW; fails only on MemoryError, and
    # then the pair is not stored and every pair stored before is intact
    cdef int _add(self, int64_t key, int64_t row) except -1 nogil
    # make sure _take_slot has a slot to give without allocating (MemoryError)
    cdef int _slot_room(self) except -1 nogil
    # a free slot of lists[] (after _slot_room), with rows NULL, n 0, cap 0
    cdef Py_ssize_t _take_slot(self) noexcept nogil
    # free the rows of slot s and put it on the free chain
    cdef void _free_slot(self, Py_ssize_t s) noexcept nogil
