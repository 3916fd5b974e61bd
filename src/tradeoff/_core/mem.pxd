# Raw memory for the typed cores: every area allocates through these two
# (resize-or-raise, zeroed-or-raise) and frees with PyMem_RawFree.
from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawRealloc


cdef inline int mem_resize(void** p, size_t n) except -1 nogil:
    """Resize the raw block *p (NULL: allocate) to n bytes (at least 1); on failure
    leave *p as it was and raise MemoryError."""
    cdef void* q = PyMem_RawRealloc(p[0], n if n > 0 else 1)
    if q == NULL:
        with gil:
            raise MemoryError(f"cannot allocate {n} bytes")
    p[0] = q
    return 0


cdef inline int mem_zeroed(void** p, size_t n) except -1 nogil:
    """Replace the raw block *p (NULL: none) by a new one of n zeroed bytes (at
    least 1), freeing the old one; on failure leave *p as it was and raise
    MemoryError."""
    cdef void* q = PyMem_RawCalloc(n if n > 0 else 1, 1)
    if q == NULL:
        with gil:
            raise MemoryError(f"cannot allocate {n} bytes")
    PyMem_RawFree(p[0])
    p[0] = q
    return 0
