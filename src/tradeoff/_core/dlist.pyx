"""Bodies of the array-backed linked lists declared in ``dlist.pxd``."""
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.mem cimport mem_resize


cdef int dl_resize(DList* d, Py_ssize_t n) except -1 nogil:
    """Grow (or shrink) to n nodes, keeping the links of nodes below n."""
    if n > 2147483647:
        with gil:
            raise OverflowError(f"a linked list holds at most 2**31-1 nodes, asked for {n}")
    mem_resize(<void**>&d.links, <size_t>n * sizeof(DLink) if n > 0 else 0)
    d.n = n
    return 0


cdef void dl_free(DList* d) noexcept nogil:
    PyMem_RawFree(d.links)
    d.links = NULL
    d.n = 0


cdef Py_ssize_t dl_nbytes(const DList* d) noexcept nogil:
    return d.n * <Py_ssize_t>sizeof(DLink)
