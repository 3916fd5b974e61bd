"""Bodies of the distributions declared in ``dist.pxd``."""
from cpython.mem cimport PyMem_RawFree
from libc.math cimport isfinite

import numpy as np

from tradeoff._core.mem cimport mem_resize

#: the kinds by name, as the Python side of a simulator builds its specs
DISTS = {"const": DIST_CONST, "exp": DIST_EXP, "array": DIST_ARRAY}


cdef int dist_set(Dist* d, spec, str what) except -1:
    """Fill d from ``(kind, mean, values)``: a constant (mean), an exponential (mean)
    or an array of values; ValueError naming ``what`` for a bad spec."""
    cdef const double[::1] a
    cdef int64_t i
    kind, mean, arr = spec
    d.kind = kind
    d.mean = mean
    d.n = 0
    if kind == DIST_ARRAY:
        a = np.ascontiguousarray(arr, dtype=np.float64)
        if a.shape[0] < 1:
            raise ValueError(f"{what}: the delay array is empty")
        mem_resize(<void**>&d.arr, a.shape[0] * sizeof(double))
        for i in range(a.shape[0]):
            if not (a[i] >= 0 and isfinite(a[i])):
                raise ValueError(f"{what}: delays must be finite and >= 0, got {a[i]!r}")
            d.arr[i] = a[i]
        d.n = a.shape[0]
    elif kind != DIST_CONST and kind != DIST_EXP:
        raise ValueError(f"{what}: unknown distribution kind {kind}")
    elif not (mean >= 0 and isfinite(mean)):
        raise ValueError(f"{what}: the mean must be finite and >= 0, got {mean!r}")
    return 0


cdef void dist_free(Dist* d) noexcept nogil:
    PyMem_RawFree(d.arr)
    d.arr = NULL
    d.n = 0
