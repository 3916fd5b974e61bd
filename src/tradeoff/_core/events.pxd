# The discrete-event core shared by every simulator of the package (balancing,
# messaging, ...): a fixed set of event *sources*, each with at most one pending
# event, in an indexed binary heap. ``key[s]`` is the time of source s's pending
# event (+inf: none), ``heap`` the sources in heap order and ``hpos[s]`` where s
# sits in it. The next event is ``heap[0]``; rescheduling a source is one sift,
# O(log n). Ties in time go to the lower source number, so a simulator orders
# simultaneous events by numbering its sources (failures before departures
# before arrivals, say) and a run is the same on every machine.
#
# A simulator that needs many pending events of one kind (timers, messages in
# flight) keeps them in its own FIFO or heap and exposes the earliest through
# one source.
from libc.stdint cimport int32_t
from libc.math cimport INFINITY
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.mem cimport mem_resize


cdef struct Events:
    int32_t n          # sources
    double* key
    int32_t* heap
    int32_t* hpos


cdef inline int ev_init(Events* q, int32_t n) except -1 nogil:
    """Size the queue for sources 0..n-1, none of them pending."""
    cdef int32_t i
    mem_resize(<void**>&q.key, n * sizeof(double))
    mem_resize(<void**>&q.heap, n * sizeof(int32_t))
    mem_resize(<void**>&q.hpos, n * sizeof(int32_t))
    q.n = n
    for i in range(n):
        q.key[i] = INFINITY
        q.heap[i] = i
        q.hpos[i] = i
    return 0


cdef inline void ev_free(Events* q) noexcept nogil:
    PyMem_RawFree(q.key)
    PyMem_RawFree(q.heap)
    PyMem_RawFree(q.hpos)
    q.key = NULL
    q.heap = NULL
    q.hpos = NULL
    q.n = 0


cdef inline bint ev_before(const Events* q, int32_t a, int32_t b) noexcept nogil:
    cdef double ka = q.key[a], kb = q.key[b]
    return ka < kb or (ka == kb and a < b)


cdef inline void ev_sift_up(Events* q, int32_t i) noexcept nogil:
    cdef int32_t src = q.heap[i], p
    while i > 0:
        p = (i - 1) >> 1
        if not ev_before(q, src, q.heap[p]):
            break
        q.heap[i] = q.heap[p]
        q.hpos[q.heap[i]] = i
        i = p
    q.heap[i] = src
    q.hpos[src] = i


cdef inline void ev_sift_down(Events* q, int32_t i) noexcept nogil:
    cdef int32_t src = q.heap[i], c, m = q.n
    while True:
        c = 2 * i + 1
        if c >= m:
            break
        if c + 1 < m and ev_before(q, q.heap[c + 1], q.heap[c]):
            c += 1
        if not ev_before(q, q.heap[c], src):
            break
        q.heap[i] = q.heap[c]
        q.hpos[q.heap[i]] = i
        i = c
    q.heap[i] = src
    q.hpos[src] = i


cdef inline void ev_schedule(Events* q, int32_t src, double t) noexcept nogil:
    """Set the time of source src's pending event (+inf: none)."""
    cdef double old = q.key[src]
    q.key[src] = t
    if t < old:
        ev_sift_up(q, q.hpos[src])
    elif t > old:
        ev_sift_down(q, q.hpos[src])


cdef inline int32_t ev_next(const Events* q) noexcept nogil:
    """The source of the earliest pending event (its time: ``ev_time``, +inf when
    nothing is pending)."""
    return q.heap[0]


cdef inline double ev_time(const Events* q, int32_t src) noexcept nogil:
    return q.key[src]


cdef inline int ev_check(const Events* q) except -1:
    """Assert heap order and positions (the simulators' ``_check``)."""
    cdef int32_t i
    for i in range(q.n):
        assert q.hpos[q.heap[i]] == i, f"event heap: source {q.heap[i]} at {i}, hpos {q.hpos[q.heap[i]]}"
        if i > 0:
            assert not ev_before(q, q.heap[i], q.heap[(i - 1) >> 1]), f"event heap out of order at {i}"
    return 0
