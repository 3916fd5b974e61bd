# Doubly linked lists over int32 index arrays. A node is an index; a list is a
# ring through a sentinel node (its own index), so an empty list is a sentinel
# pointing at itself and no operation needs a NULL test. Several lists may share
# one DList (one sentinel each); a node is in at most one list at a time.
#
# Contract: dl_resize before using indexes < n; dl_free once. The inline
# operations never fail and do no bounds checks.
from libc.stdint cimport int32_t


ctypedef struct DList:
    int32_t* prev
    int32_t* next
    Py_ssize_t n                # nodes allocated: valid indexes are 0..n-1


cdef int dl_resize(DList* d, Py_ssize_t n) except -1 nogil
cdef void dl_free(DList* d) noexcept nogil
cdef Py_ssize_t dl_nbytes(const DList* d) noexcept nogil


cdef inline void dl_ring(DList* d, int32_t s) noexcept nogil:
    """Make s an empty list's sentinel."""
    d.prev[s] = s
    d.next[s] = s


cdef inline void dl_unlink(DList* d, int32_t x) noexcept nogil:
    d.next[d.prev[x]] = d.next[x]
    d.prev[d.next[x]] = d.prev[x]


cdef inline void dl_insert_after(DList* d, int32_t at, int32_t x) noexcept nogil:
    cdef int32_t nx = d.next[at]
    d.prev[x] = at
    d.next[x] = nx
    d.prev[nx] = x
    d.next[at] = x


cdef inline void dl_insert_before(DList* d, int32_t at, int32_t x) noexcept nogil:
    dl_insert_after(d, d.prev[at], x)


cdef inline void dl_move_before(DList* d, int32_t at, int32_t x) noexcept nogil:
    """Unlink x and insert it before at (before a sentinel: at the list's tail)."""
    if d.prev[at] == x:
        return
    dl_unlink(d, x)
    dl_insert_after(d, d.prev[at], x)
