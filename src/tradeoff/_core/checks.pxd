# Argument checks shared by every area's Python API (one wording everywhere).
from libc.math cimport isfinite


cdef inline double check_weight(object weight, str who) except -1:
    """A weight as a finite double >= 0, or a TypeError/ValueError naming `who`
    (e.g. "node 'a'", "server 's1'")."""
    cdef double w
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise TypeError(f"weight of {who} must be a number, not {type(weight).__name__}") from None
    if not isfinite(w) or w < 0:
        raise ValueError(f"weight of {who} must be finite and >= 0, got {weight!r}")
    return w
