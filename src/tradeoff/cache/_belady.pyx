"""Belady's MIN: the offline optimal eviction policy, for replay only.

L. A. Belady, "A study of replacement algorithms for a virtual-storage
computer", IBM Systems Journal 5(2), 1966. On a miss with the cache full, evict
the resident object whose next request lies furthest in the future. For unit
sizes this maximizes hits among all demand-paging policies (Mattson, Gecsei,
Slutz and Traiger, 1970, proved MIN optimal).
"""
cimport cython
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t

from tradeoff._core.debug cimport DEBUG_ASSERT, DEBUG_CHECKS
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport I64Table, i64t_free, i64t_get, i64t_init, i64t_pop, i64t_put
from tradeoff.cache._engine cimport Engine, eng_admit, eng_evict, eng_release


@cython.final
cdef class BeladyEngine(Engine):
    """Belady's MIN over a max-heap of resident objects keyed by next use.

    Rules, all deterministic:

    - every miss is admitted (demand paging, as libCacheSim's Belady and the
      textbook MIN do); when the cache is full the victim is the resident object
      whose next request comes last. The new object never competes with the
      residents (it is needed now). With unit sizes that is optimal.
    - objects never requested again have next use ``n + i`` (``n`` the trace
      length, ``i`` their last request): they go before any object that returns,
      and among themselves the most recently requested goes first. Next uses
      are otherwise distinct, so there are no other ties.
    - with sizes, the rule is the same, evicting until the new object fits.
      MIN is then a heuristic, not the optimum (optimal caching of
      variable-size objects is NP-hard); it is still an upper-bound-like
      reference commonly reported.
    - no parameters. The future is computed once from the trace in
      :meth:`prepare` (O(n) time with one hash table, 8 bytes per request).
    """
    cdef int64_t* nxt          # request i -> index of the next request for its key
    cdef Py_ssize_t n          # requests in the trace
    cdef Py_ssize_t pos        # index of the request being served
    cdef int32_t* heap         # heap[1..hn]: slots, max next-use on top
    cdef int32_t* hpos         # slot -> its place in heap
    cdef int64_t* due          # slot -> its next use
    cdef Py_ssize_t hn

    def __cinit__(self):
        self.nxt = NULL
        self.heap = NULL
        self.hpos = NULL
        self.due = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized):
        self._base_init(capacity, slots, slots, sized)
        mem_resize(<void**>&self.heap, (slots + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.hpos, (slots + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.due, (slots + 1) * sizeof(int64_t))
        self.hn = 0
        self.n = -1

    def __dealloc__(self):
        PyMem_RawFree(self.nxt)
        PyMem_RawFree(self.heap)
        PyMem_RawFree(self.hpos)
        PyMem_RawFree(self.due)

    cdef int prepare(self, const int64_t[:] keys) except -1:
        """The next use of every request: one backward pass with a key -> last
        index table."""
        cdef Py_ssize_t i, n = keys.shape[0]
        cdef int64_t j
        cdef I64Table last
        if self.n >= 0:
            raise RuntimeError("a Belady engine replays one trace")
        mem_resize(<void**>&self.nxt, n * sizeof(int64_t))
        last.buckets = NULL
        try:
            i64t_init(&last, 1024)
            with nogil:
                for i in range(n - 1, -1, -1):
                    j = i64t_get(&last, keys[i])
                    self.nxt[i] = j if j >= 0 else n + i
                    DEBUG_ASSERT(self.nxt[i] > i, "Belady: a next use comes after its request")
                    i64t_put(&last, keys[i], i)
        finally:
            i64t_free(&last)
        self.n = n
        self.pos = 0
        return 0

    cdef inline void _swap_up(self, Py_ssize_t k) noexcept nogil:
        cdef int32_t s = self.heap[k]
        cdef int64_t d = self.due[s]
        cdef Py_ssize_t p
        while k > 1:
            p = k >> 1
            if self.due[self.heap[p]] >= d:
                break
            self.heap[k] = self.heap[p]
            self.hpos[self.heap[k]] = <int32_t>k
            k = p
        self.heap[k] = s
        self.hpos[s] = <int32_t>k
        if DEBUG_CHECKS and k > 1:
            DEBUG_ASSERT(self.due[self.heap[k >> 1]] >= d, "Belady heap order: parent >= child (up)")

    cdef inline void _swap_down(self, Py_ssize_t k) noexcept nogil:
        cdef int32_t s = self.heap[k]
        cdef int64_t d = self.due[s]
        cdef Py_ssize_t c
        while True:
            c = k << 1
            if c > self.hn:
                break
            if c < self.hn and self.due[self.heap[c + 1]] > self.due[self.heap[c]]:
                c += 1
            if self.due[self.heap[c]] <= d:
                break
            self.heap[k] = self.heap[c]
            self.hpos[self.heap[k]] = <int32_t>k
            k = c
        self.heap[k] = s
        self.hpos[s] = <int32_t>k
        if DEBUG_CHECKS and 2 * k <= self.hn:
            DEBUG_ASSERT(self.due[self.heap[2 * k]] <= d, "Belady heap order: parent >= child (down)")
        if DEBUG_CHECKS and 2 * k + 1 <= self.hn:
            DEBUG_ASSERT(self.due[self.heap[2 * k + 1]] <= d, "Belady heap order: parent >= child (down)")

    cdef inline void _heap_remove(self, int32_t s) noexcept nogil:
        cdef Py_ssize_t k = self.hpos[s]
        cdef int32_t last = self.heap[self.hn]
        DEBUG_ASSERT(1 <= k, "Belady heap: the slot removed has a place (>= 1)")
        DEBUG_ASSERT(k <= self.hn, "Belady heap: the slot removed has a place (<= hn)")
        DEBUG_ASSERT(self.heap[k] == s, "Belady heap: heap[hpos[s]] == s")
        self.hn -= 1
        if k > self.hn:
            return
        self.heap[k] = last
        self.hpos[last] = <int32_t>k
        self._swap_up(k)
        self._swap_down(self.hpos[last])

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        cdef Py_ssize_t i = self.pos
        self.pos = i + 1
        DEBUG_ASSERT(i < self.n, "Belady: the request is within the prepared trace")
        if s < 0:
            return False
        # its next use moves later: it rises in the max-heap
        DEBUG_ASSERT(self.due[s] == i, "Belady: a resident's next use is this request")
        self.due[s] = self.nxt[i]
        self._swap_up(self.hpos[s])
        return True

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int32_t v
        while self.used + size > self.capacity or self.resident == self.nslots:
            v = self.heap[1]
            self._heap_remove(v)
            eng_evict(self, v)
        v = eng_admit(self, key, size)
        # insert follows the hit() call of the same request
        self.due[v] = self.nxt[self.pos - 1]
        self.hn += 1
        self.heap[self.hn] = v
        self._swap_up(self.hn)

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_pop(&self.index, key)
        if s < 0:
            return False
        self._heap_remove(<int32_t>s)
        eng_release(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        cdef Py_ssize_t slots = self.nslots + 1
        return (Engine.nbytes(self) + slots * (2 * sizeof(int32_t) + sizeof(int64_t))
                + (self.n if self.n > 0 else 0) * <Py_ssize_t>sizeof(int64_t))

    def _access(self, int64_t key, int64_t size=1):
        if self.n < 0:
            raise RuntimeError("Belady needs the whole trace: use replay(), not a request at a time")
        return Engine._access(self, key, size)

    def _resident(self):
        """Resident keys, furthest next use first (the eviction order)."""
        cdef Py_ssize_t k
        slots = sorted((self.heap[k] for k in range(1, self.hn + 1)),
                       key=lambda s: -self.due[s])
        return [self.skey[s] for s in slots]

    def _check(self):
        cdef Py_ssize_t k
        cdef int32_t s
        cdef int64_t total = 0
        assert self.hn == self.resident, f"heap holds {self.hn}, resident {self.resident}"
        for k in range(1, self.hn + 1):
            s = self.heap[k]
            assert self.hpos[s] == k, f"slot {s} thinks it is at {self.hpos[s]}, not {k}"
            if k > 1:
                assert self.due[self.heap[k >> 1]] >= self.due[s], "heap order broken"
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the heap"
            total += self.ssize[s]
        assert total == self.used, f"sizes add up to {total}, used says {self.used}"
        assert self.used <= self.capacity
        assert self.index.size == self.resident
