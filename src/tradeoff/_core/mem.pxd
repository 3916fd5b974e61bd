# Raw memory for the typed cores: one resize-or-raise used by every area.
from cpython.mem cimport PyMem_RawRealloc


cdef inline int mem_resize(void** p, size_t n) except -1 nogil:
    """Resize the raw block *p (NULL: allocate) to n bytes (at least 1); on failure
    leave *p as it was and raise MemoryError."""
    cdef void* q = PyMem_RawRealloc(p[0], n if n > 0 else 1)
    if q == NULL:
        with gil:
            raise MemoryError(f"cannot allocate {n} bytes")
    p[0] = q
    return 0
