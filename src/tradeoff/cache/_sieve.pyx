"""SIEVE and CLOCK as replay engines: one FIFO queue each, with a hand.

Both keep their residents in one array-backed list (``tradeoff._core.dlist``)
in insertion order and never move an object on a hit: a hit only sets a bit
(SIEVE) or bumps a small counter (CLOCK), so the hit path is one hash lookup
and one byte store. They differ in what the hand does with the objects it
passes: CLOCK sends them back to the head of the queue (second chance), SIEVE
leaves them where they are and the hand stays where it stopped.

Driven by :func:`tradeoff.cache._engine.drive` (see ``_engine.pxd`` for the
contract of ``hit``/``insert``/``remove``); in sized mode the capacity counts
bytes and an insert evicts until the new object fits.
"""
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memset

from tradeoff._core.dlist cimport (DLink, DList, dl_free, dl_insert_after, dl_insert_before,
                                   dl_nbytes, dl_resize, dl_ring, dl_unlink)
from tradeoff._core.table cimport i64t_find, i64t_get, i64t_pop, i64t_put_at
from tradeoff.cache._engine cimport Engine, eng_evicted, eng_slot_free, eng_slot_new


cdef uint8_t* _bytes(Py_ssize_t n) except NULL:
    """n zeroed bytes (freed by the caller with PyMem_RawFree)."""
    cdef uint8_t* p = <uint8_t*>PyMem_RawMalloc(n if n > 0 else 1)
    if p == NULL:
        raise MemoryError(f"cannot allocate {n} bytes for a replay")
    memset(p, 0, n)
    return p


cdef class SieveEngine(Engine):
    """SIEVE: Zhang, Yang, Yue, Vigfusson and Rashmi, "SIEVE is Simpler than LRU:
    an Efficient Turn-Key Eviction Algorithm for Web Caches", NSDI 2024.

    One FIFO queue, a ``visited`` bit per object and a hand:

    - a hit sets the object's visited bit; nothing moves;
    - a miss inserts the object at the head of the queue (newest end) with its
      bit clear;
    - to evict, the hand starts where it last stopped (at the tail, the oldest
      object, the first time and after it has run past the head); it walks
      toward the head clearing visited bits and evicts the first object whose
      bit is clear. It then rests on the next newer object; when the evicted
      object was the head, the next eviction starts again from the tail;
    - with sizes, an insert evicts (one object at a time, as above) until the
      new object fits;
    - ``remove`` (expiry, a delete) unlinks the object; when the hand rested on
      it, the hand moves to the next newer object (as libCacheSim's Sieve does).

    No parameters and no ties: the queue order decides every choice. On every
    golden trace this reproduces libCacheSim 0.3.5's Sieve hit count exactly.

    Memory: per slot 8 (key) + 8 (size) + 8 (links) + 1 (bit) bytes, plus the
    index. Every operation is O(1) amortized (the hand clears each bit it passes,
    so an eviction costs O(1) plus the hits it consumes).

    >>> from tradeoff.cache import replay
    >>> import numpy as np
    >>> replay(np.array([1, 2, 1, 3, 4, 1], dtype=np.int64), "sieve", 2).hits
    1
    """
    # q: node 0 is the sentinel, nodes 1..nslots are slots. links[0].next is the
    # head (newest), links[0].prev the tail (oldest); "prev" points toward the head.
    cdef DList q
    cdef uint8_t* visited       # slot -> 0 or 1
    cdef int32_t hand           # the node the hand rests on; 0: start at the tail

    def __cinit__(self):
        self.q.links = NULL
        self.q.n = 0
        self.visited = NULL
        self.hand = 0

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized):
        self._base_init(capacity, slots, slots, sized)
        dl_resize(&self.q, slots + 1)
        dl_ring(&self.q, 0)
        self.visited = _bytes(slots + 1)

    def __dealloc__(self):
        dl_free(&self.q)
        PyMem_RawFree(self.visited)

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        if s < 0:
            return False
        self.visited[s] = 1
        return True

    cdef void _evict(self) noexcept nogil:
        cdef DLink* L = self.q.links
        cdef uint8_t* vis = self.visited
        cdef int32_t o = self.hand
        cdef int64_t key
        if o == 0:
            o = L[0].prev
        while vis[o]:
            vis[o] = 0
            o = L[o].prev
            if o == 0:
                o = L[0].prev
        self.hand = L[o].prev
        dl_unlink(&self.q, o)
        key = self.skey[o]
        i64t_pop(&self.index, key)
        eng_evicted(self, key)
        self.used -= self.ssize[o]
        self.resident -= 1
        eng_slot_free(self, o)

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int32_t s
        cdef uint64_t pos = 0
        while self.used + size > self.capacity or self.resident == self.nslots:
            self._evict()
        s = eng_slot_new(self, key, size)
        self.visited[s] = 0
        dl_insert_after(&self.q, 0, s)
        i64t_find(&self.index, key, &pos)
        i64t_put_at(&self.index, pos, key, s)
        self.used += size
        self.resident += 1

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_pop(&self.index, key)
        if s < 0:
            return False
        if self.hand == s:
            self.hand = self.q.links[s].prev
        dl_unlink(&self.q, <int32_t>s)
        self.used -= self.ssize[s]
        self.resident -= 1
        eng_slot_free(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.q) + (self.nslots + 1)

    def _slots(self):
        """Resident slots in queue order, the tail (oldest) first."""
        out = []
        cdef int32_t s = self.q.links[0].prev
        while s != 0:
            out.append(s)
            s = self.q.links[s].prev
        return out

    def _resident(self):
        """Resident keys in queue order, the tail (oldest) first. The next victim
        is the first key with a clear bit from the hand on (see ``_state``)."""
        return [self.skey[s] for s in self._slots()]

    def _state(self):
        """(keys oldest first, their visited bits, the key the hand rests on or None)."""
        slots = self._slots()
        hand = self.skey[self.hand] if self.hand != 0 else None
        return ([self.skey[s] for s in slots], [bool(self.visited[s]) for s in slots], hand)

    def _check(self):
        cdef DLink* L = self.q.links
        cdef int32_t s, prev = 0
        cdef Py_ssize_t n = 0
        cdef int64_t total = 0
        seen = set()
        s = L[0].prev
        while s != 0:
            assert 1 <= s <= self.nslots, f"node {s} is not a slot"
            assert s not in seen, "the queue has a cycle"
            seen.add(s)
            assert L[s].next == prev, "links are not mutual"
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the queue"
            assert self.visited[s] <= 1
            assert self.ssize[s] >= 1
            total += self.ssize[s]
            n += 1
            prev = s
            s = L[s].prev
        assert L[0].next == prev, "the head link is wrong"
        assert n == self.resident, f"{n} objects queued, resident says {self.resident}"
        assert total == self.used, f"sizes add up to {total}, used says {self.used}"
        assert self.used <= self.capacity, f"used {self.used} > capacity {self.capacity}"
        assert self.index.size == self.resident, "the index holds non-resident keys"
        assert self.hand == 0 or self.hand in seen, "the hand rests on a node not queued"
        if not self.sized:
            assert self.used == self.resident


cdef class ClockEngine(Engine):
    """CLOCK (second chance): Corbató, "A paging experiment with the Multics
    system", 1968, as the standard texts give it and as libCacheSim's ``Clock``
    implements it (there also called FIFO-Reinsertion).

    The residents form a ring in insertion order with a hand; each object holds
    a use counter of ``bits`` bits (1 <= bits <= 8; 1 is the classic reference
    bit):

    - a hit increments the counter, saturating at 2**bits - 1; nothing moves;
    - a miss inserts the object just behind the hand, so it is the last the
      hand reaches (the head of the equivalent FIFO queue), counter 0;
    - to evict, the hand looks at the object it points to: counter 0, evict it
      and advance; otherwise decrement the counter and advance. It repeats until
      it evicts. (Equivalently: a FIFO whose tail object, if its counter is
      nonzero, is decremented and reinserted at the head.)
    - with sizes, an insert evicts one object at a time until the new one fits;
    - ``remove`` unlinks the object; a hand pointing at it moves on to the next.

    New objects start with counter 0: libCacheSim's default (``init-freq=0``),
    which this matches hit for hit. (Hardware-oriented texts set the reference
    bit on the faulting access itself, i.e. start at 1; that variant is not
    offered.) No ties: the ring order decides every choice.

    Memory: per slot 8 (key) + 8 (size) + 8 (links) + 1 (counter) bytes, plus
    the index. A hit is O(1); an eviction is O(1) amortized per counter unit
    consumed.

    >>> from tradeoff.cache import replay
    >>> import numpy as np
    >>> replay(np.array([1, 2, 1, 3, 1, 2], dtype=np.int64), "clock", 2).hits
    2
    """
    # q: node 0 is the sentinel, nodes 1..nslots are slots, in ring order: the
    # hand walks "next", skipping the sentinel; new nodes go just before the hand
    cdef DList q
    cdef uint8_t* count         # slot -> use counter, 0..cmax
    cdef uint8_t cmax
    cdef int32_t hand           # the next node the hand examines (0: the sentinel)
    cdef readonly int bits

    def __cinit__(self):
        self.q.links = NULL
        self.q.n = 0
        self.count = NULL
        self.hand = 0

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *, bits=1):
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
            raise ValueError(f"bits must be an int in 1..8, got {bits!r}")
        self._base_init(capacity, slots, slots, sized)
        self.bits = bits
        self.cmax = <uint8_t>((1 << bits) - 1)
        dl_resize(&self.q, slots + 1)
        dl_ring(&self.q, 0)
        self.count = _bytes(slots + 1)

    def __dealloc__(self):
        dl_free(&self.q)
        PyMem_RawFree(self.count)

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        cdef uint8_t c
        if s < 0:
            return False
        c = self.count[s]
        if c < self.cmax:
            self.count[s] = c + 1
        return True

    cdef void _evict(self) noexcept nogil:
        cdef DLink* L = self.q.links
        cdef uint8_t* cnt = self.count
        cdef int32_t o = self.hand
        cdef int64_t key
        while True:
            if o == 0:
                o = L[0].next
            if cnt[o] == 0:
                break
            cnt[o] -= 1
            o = L[o].next
        self.hand = L[o].next
        dl_unlink(&self.q, o)
        key = self.skey[o]
        i64t_pop(&self.index, key)
        eng_evicted(self, key)
        self.used -= self.ssize[o]
        self.resident -= 1
        eng_slot_free(self, o)

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int32_t s
        cdef uint64_t pos = 0
        while self.used + size > self.capacity or self.resident == self.nslots:
            self._evict()
        s = eng_slot_new(self, key, size)
        self.count[s] = 0
        dl_insert_before(&self.q, self.hand, s)
        i64t_find(&self.index, key, &pos)
        i64t_put_at(&self.index, pos, key, s)
        self.used += size
        self.resident += 1

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_pop(&self.index, key)
        if s < 0:
            return False
        if self.hand == s:
            self.hand = self.q.links[s].next
        dl_unlink(&self.q, <int32_t>s)
        self.used -= self.ssize[s]
        self.resident -= 1
        eng_slot_free(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.q) + (self.nslots + 1)

    def _slots(self):
        """Resident slots in the order the hand reaches them (the FIFO tail first)."""
        out = []
        cdef DLink* L = self.q.links
        cdef int32_t s = self.hand
        cdef Py_ssize_t i
        for i in range(self.resident):
            if s == 0:
                s = L[0].next
            out.append(s)
            s = L[s].next
        return out

    def _resident(self):
        """Resident keys in the order the hand reaches them: the next candidate
        first (the tail of the equivalent FIFO queue)."""
        return [self.skey[s] for s in self._slots()]

    def _state(self):
        """[(key, counter)] in the order the hand reaches them."""
        return [(self.skey[s], self.count[s]) for s in self._slots()]

    def _check(self):
        cdef DLink* L = self.q.links
        cdef int32_t s = L[0].next, prev = 0
        cdef Py_ssize_t n = 0
        cdef int64_t total = 0
        seen = set()
        while s != 0:
            assert 1 <= s <= self.nslots, f"node {s} is not a slot"
            assert s not in seen, "the ring has a cycle"
            seen.add(s)
            assert L[s].prev == prev, "links are not mutual"
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the ring"
            assert self.count[s] <= self.cmax
            assert self.ssize[s] >= 1
            total += self.ssize[s]
            n += 1
            prev = s
            s = L[s].next
        assert L[0].prev == prev, "the last link is wrong"
        assert n == self.resident, f"{n} objects in the ring, resident says {self.resident}"
        assert total == self.used, f"sizes add up to {total}, used says {self.used}"
        assert self.used <= self.capacity, f"used {self.used} > capacity {self.capacity}"
        assert self.index.size == self.resident, "the index holds non-resident keys"
        assert self.hand == 0 or self.hand in seen, "the hand points at a node not in the ring"
        if not self.sized:
            assert self.used == self.resident
