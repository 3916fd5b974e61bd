"""Bodies of the array-backed linked lists declared in ``dlist.pxd``."""
from cpython.mem cimport PyMem_RawRealloc, PyMem_RawFree
from libc.stdint cimport int32_t


cdef int dl_resize(DList* d, Py_ssize_t n) except -1 nogil:
    """Grow (or shrink) to n nodes, keeping the links of nodes below n."""
    cdef int32_t* p
    cdef int32_t* q
    if n > 2147483647:
        with gil:
            raise OverflowError(f"a linked list holds at most 2**31-1 nodes, asked for {n}")
    p = <int32_t*>PyMem_RawRealloc(d.prev, <size_t>n * sizeof(int32_t) if n > 0 else 1)
    if p == NULL:
        with gil:
            raise MemoryError(f"cannot allocate a linked list of {n} nodes")
    d.prev = p
    q = <int32_t*>PyMem_RawRealloc(d.next, <size_t>n * sizeof(int32_t) if n > 0 else 1)
    if q == NULL:
        with gil:
            raise MemoryError(f"cannot allocate a linked list of {n} nodes")
    d.next = q
    d.n = n
    return 0


cdef void dl_free(DList* d) noexcept nogil:
    PyMem_RawFree(d.prev)
    PyMem_RawFree(d.next)
    d.prev = NULL
    d.next = NULL
    d.n = 0


cdef Py_ssize_t dl_nbytes(const DList* d) noexcept nogil:
    return 2 * d.n * <Py_ssize_t>sizeof(int32_t)
