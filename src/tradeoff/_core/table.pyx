"""Bodies of the int64 hash table declared in ``table.pxd``."""
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset

from tradeoff._core.mem cimport mem_resize


cdef int _alloc(I64Table* t, uint64_t nbuckets) except -1 nogil:
    cdef I64Entry* b = NULL
    mem_resize(<void**>&b, nbuckets * sizeof(I64Entry))
    # all bytes 0xff: every value is -1, so every bucket is empty
    memset(b, 0xff, nbuckets * sizeof(I64Entry))
    t.buckets = b
    t.mask = nbuckets - 1
    t.size = 0
    t.limit = <Py_ssize_t>(nbuckets // 2)
    return 0


cdef int i64t_init(I64Table* t, Py_ssize_t expected) except -1 nogil:
    """Allocate room for ``expected`` entries without growing."""
    cdef uint64_t n = 8
    while <Py_ssize_t>(n // 2) < expected:
        n <<= 1
    return _alloc(t, n)


cdef void i64t_free(I64Table* t) noexcept nogil:
    if t.buckets != NULL:
        PyMem_RawFree(t.buckets)
    t.buckets = NULL
    t.mask = 0
    t.size = 0
    t.limit = 0


cdef void i64t_clear(I64Table* t) noexcept nogil:
    if t.buckets != NULL:
        memset(t.buckets, 0xff, (t.mask + 1) * sizeof(I64Entry))
    t.size = 0


cdef int i64t_grow(I64Table* t) except -1 nogil:
    """Double the bucket count and reinsert every entry."""
    cdef I64Entry* old = t.buckets
    cdef uint64_t old_n = t.mask + 1
    cdef uint64_t k, i
    cdef Py_ssize_t size = t.size
    _alloc(t, old_n * 2)
    for k in range(old_n):
        if old[k].value >= 0:
            i = old[k].mkey & t.mask
            while t.buckets[i].value >= 0:
                i = (i + 1) & t.mask
            t.buckets[i] = old[k]
    t.size = size
    PyMem_RawFree(old)
    return 0


cdef Py_ssize_t i64t_nbytes(const I64Table* t) noexcept nogil:
    return <Py_ssize_t>((t.mask + 1) * sizeof(I64Entry)) if t.buckets != NULL else 0


cdef int i64t_check(const I64Table* t) except -1:
    """Every entry is reachable from its home bucket without crossing an empty one,
    the size counts the entries and stays within the limit (AssertionError if not)."""
    cdef uint64_t k, i
    cdef Py_ssize_t n = 0
    if t.buckets == NULL:
        assert t.size == 0, f"no buckets but size {t.size}"
        return 0
    for k in range(t.mask + 1):
        if t.buckets[k].value < 0:
            continue
        n += 1
        i = t.buckets[k].mkey & t.mask
        while i != k:
            assert t.buckets[i].value >= 0, f"hole in the probe run of key {i64t_key(&t.buckets[k])}"
            i = (i + 1) & t.mask
    assert n == t.size, f"size {t.size} but {n} entries"
    assert t.size <= t.limit, f"size {t.size} above the limit {t.limit}"
    return 0


cdef class Int64Table:
    """A thin Python wrapper over the C table, for tests and debugging only.

    >>> t = Int64Table()
    >>> t[5] = 7; t[-1] = 0
    >>> t[5], t.get(6), len(t)
    (7, -1, 2)
    """
    cdef I64Table t

    def __cinit__(self, Py_ssize_t expected=0):
        i64t_init(&self.t, expected)

    def __dealloc__(self):
        i64t_free(&self.t)

    def __setitem__(self, int64_t key, int64_t value):
        if value < 0:
            raise ValueError(f"values must be >= 0, got {value}")
        i64t_put(&self.t, key, value)

    def __getitem__(self, int64_t key):
        cdef int64_t v = i64t_get(&self.t, key)
        if v < 0:
            raise KeyError(key)
        return v

    def get(self, int64_t key):
        return i64t_get(&self.t, key)

    def pop(self, int64_t key):
        return i64t_pop(&self.t, key)

    def __len__(self):
        return self.t.size

    @property
    def nbuckets(self):
        return self.t.mask + 1

    def items(self):
        cdef uint64_t k
        return [(i64t_key(&self.t.buckets[k]), self.t.buckets[k].value)
                for k in range(self.t.mask + 1) if self.t.buckets[k].value >= 0]

    def _check(self):
        """Every entry is reachable from its home bucket without crossing an empty one."""
        i64t_check(&self.t)
