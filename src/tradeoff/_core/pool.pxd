# A pool of fixed-size records addressed by int32 index, with a free list threaded
# through the records themselves: each record type keeps an int32 link field (its
# "next"), which the pool uses while the record is free and the owner uses as it
# likes while it is taken. The simulators keep their messages and requests here.
#
# Contract: pool_init once (it may be called again: it starts over), pool_release
# once. pool_alloc may move the records (it grows by doubling): re-read p.base
# after it. Indexes stay valid across growth; pointers into the records do not.
from libc.stdint cimport int32_t
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.mem cimport mem_resize


ctypedef struct Pool:
    char* base                  # cap records of size bytes
    size_t size
    size_t link                 # byte offset of each record's int32 link
    int32_t cap
    int32_t free_head           # -1: none free
    const char* what            # what the records are, for the error past 2^30


cdef inline int32_t* pool_link(Pool* p, int32_t j) noexcept nogil:
    return <int32_t*>(p.base + <size_t>j * p.size + p.link)


cdef inline int pool_grow(Pool* p, int32_t want) except -1 nogil:
    """Room for ``want`` records; the new ones go on the free list, lowest index first."""
    cdef int32_t i, old = p.cap
    if want <= old:
        return 0
    if want > 0x3fffffff:
        with gil:
            raise MemoryError(f"more than 2^30 {p.what.decode()} in the system at once")
    mem_resize(<void**>&p.base, <size_t>want * p.size)
    for i in range(want - 1, old - 1, -1):
        pool_link(p, i)[0] = p.free_head
        p.free_head = i
    p.cap = want
    return 0


cdef inline int pool_init(Pool* p, size_t size, size_t link, int32_t cap, const char* what) except -1 nogil:
    """An empty pool of records of ``size`` bytes whose int32 link sits ``link``
    bytes in, with room for ``cap`` (at least 1)."""
    DEBUG_ASSERT(link + sizeof(int32_t) <= size, "pool_init: the link lies inside the record")
    PyMem_RawFree(p.base)
    p.base = NULL
    p.size = size
    p.link = link
    p.cap = 0
    p.free_head = -1
    p.what = what
    return pool_grow(p, cap if cap > 0 else 1)


cdef inline int32_t pool_alloc(Pool* p) except -1 nogil:
    """A free record's index (doubling the pool when none is free)."""
    cdef int32_t j
    if p.free_head < 0:
        pool_grow(p, 2 * p.cap)
    j = p.free_head
    p.free_head = pool_link(p, j)[0]
    return j


cdef inline void pool_free(Pool* p, int32_t j) noexcept nogil:
    DEBUG_ASSERT(0 <= j < p.cap, "pool_free: the index is in the pool")
    pool_link(p, j)[0] = p.free_head
    p.free_head = j


cdef inline int32_t pool_free_count(Pool* p) noexcept nogil:
    """Records on the free list (for invariant checks: O(free))."""
    cdef int32_t n = 0, j = p.free_head
    while j >= 0:
        n += 1
        j = pool_link(p, j)[0]
    return n


cdef inline void pool_release(Pool* p) noexcept nogil:
    PyMem_RawFree(p.base)
    p.base = NULL
    p.cap = 0
    p.free_head = -1
