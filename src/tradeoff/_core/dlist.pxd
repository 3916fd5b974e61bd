# Doubly linked lists over int32 indexes. A node is an index; a list is a ring
# through a sentinel node (its own index), so an empty list is a sentinel
# pointing at itself and no operation needs a NULL test. Several lists may share
# one DList (one sentinel each); a node is in at most one list at a time. A
# node's two links sit side by side, so moving it touches one cache line.
#
# Contract: dl_resize before using indexes < n; dl_free once. The inline
# operations never fail and do no bounds checks (the debug build checks indexes
# and, at unlink, that both neighbours link back: see debug.pxd).
from libc.stdint cimport int32_t

from tradeoff._core.debug cimport DEBUG_ASSERT


ctypedef struct DLink:
    int32_t prev
    int32_t next


ctypedef struct DList:
    DLink* links
    Py_ssize_t n                # nodes allocated: valid indexes are 0..n-1


cdef int dl_resize(DList* d, Py_ssize_t n) except -1 nogil
cdef void dl_free(DList* d) noexcept nogil
cdef Py_ssize_t dl_nbytes(const DList* d) noexcept nogil


cdef inline void dl_ring(DList* d, int32_t s) noexcept nogil:
    """Make s an empty list's sentinel."""
    d.links[s].prev = s
    d.links[s].next = s


cdef inline void dl_unlink(DList* d, int32_t x) noexcept nogil:
    cdef DLink* L = d.links
    DEBUG_ASSERT(0 <= x < d.n, "dl_unlink: the node is in the list's range")
    DEBUG_ASSERT(0 <= L[x].prev < d.n, "dl_unlink: the node's prev link is in range")
    DEBUG_ASSERT(0 <= L[x].next < d.n, "dl_unlink: the node's next link is in range")
    DEBUG_ASSERT(L[L[x].prev].next == x, "dl_unlink: prev.next == node (node is linked)")
    DEBUG_ASSERT(L[L[x].next].prev == x, "dl_unlink: next.prev == node (node is linked)")
    L[L[x].prev].next = L[x].next
    L[L[x].next].prev = L[x].prev


cdef inline void dl_insert_after(DList* d, int32_t at, int32_t x) noexcept nogil:
    cdef DLink* L = d.links
    cdef int32_t nx = L[at].next
    DEBUG_ASSERT(0 <= x < d.n, "dl_insert: the node is in the list's range")
    DEBUG_ASSERT(0 <= at < d.n, "dl_insert: the position is in the list's range")
    DEBUG_ASSERT(at != x, "dl_insert: a node is not inserted next to itself")
    DEBUG_ASSERT(L[nx].prev == at, "dl_insert: at.next.prev == at (at is linked)")
    L[x].prev = at
    L[x].next = nx
    L[nx].prev = x
    L[at].next = x


cdef inline void dl_insert_before(DList* d, int32_t at, int32_t x) noexcept nogil:
    dl_insert_after(d, d.links[at].prev, x)


cdef inline void dl_move_before(DList* d, int32_t at, int32_t x) noexcept nogil:
    """Unlink x and insert it before at (before a sentinel: at the list's tail)."""
    if d.links[at].prev == x:
        return
    dl_unlink(d, x)
    dl_insert_after(d, d.links[at].prev, x)
