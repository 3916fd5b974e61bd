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
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint8_t

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.dlist cimport (DLink, DList, dl_free, dl_insert_before, dl_nbytes,
                                   dl_resize, dl_ring, dl_unlink)
from tradeoff._core.mem cimport mem_zeroed
from tradeoff._core.table cimport i64t_get, i64t_pop, i64t_prefetch
from tradeoff.cache._engine cimport Engine, eng_admit, eng_evict, eng_release


# ---------------------------------------------------------------- the ring with a hand
#
# SIEVE and CLOCK are one structure: the residents in a ring in insertion order,
# a small counter per object, and a hand that walks from older to newer objects,
# taking one from each nonzero counter it passes and evicting the first object
# whose counter is 0. SIEVE is the case of a one-bit counter whose new objects
# go in at the newest end; CLOCK puts them just behind the hand.

ctypedef struct HandRing:
    DList q                     # node 0 the sentinel, nodes 1..nslots the slots:
                                # links[0].next the oldest, "next" points toward newer
    uint8_t* count              # slot -> its counter (SIEVE: the visited bit)
    int32_t hand                # the node the hand looks at next; 0: the oldest


cdef int ring_init(HandRing* r, Py_ssize_t slots) except -1:
    dl_resize(&r.q, slots + 1)
    dl_ring(&r.q, 0)
    mem_zeroed(<void**>&r.count, slots + 1)
    r.hand = 0
    return 0


cdef void ring_free(HandRing* r) noexcept nogil:
    dl_free(&r.q)
    PyMem_RawFree(r.count)
    r.count = NULL


cdef inline void ring_evict(Engine e, HandRing* r) noexcept nogil:
    """Evict one object: from where the hand rests (the oldest when 0), walk toward
    newer objects (past the newest: back to the oldest), taking one from each
    nonzero counter; evict the first object whose counter is 0. The hand then
    rests on the next newer object (0 when it evicted the newest)."""
    cdef DLink* L = r.q.links
    cdef uint8_t* cnt = r.count
    cdef int32_t o = r.hand
    DEBUG_ASSERT(L[0].next != 0, "hand ring: not empty when evicting")
    while True:
        if o == 0:
            o = L[0].next
        if cnt[o] == 0:
            break
        cnt[o] -= 1
        o = L[o].next
    r.hand = L[o].next
    dl_unlink(&r.q, o)
    eng_evict(e, o)


cdef inline void ring_insert(Engine e, HandRing* r, int64_t key, int64_t size,
                             bint at_hand) noexcept nogil:
    """Evict until size fits, then admit key with counter 0: just behind the hand
    (at_hand, CLOCK) or at the newest end (SIEVE)."""
    cdef int32_t s
    while e.used + size > e.capacity or e.resident == e.nslots:
        ring_evict(e, r)
    s = eng_admit(e, key, size)
    r.count[s] = 0
    dl_insert_before(&r.q, r.hand if at_hand else 0, s)
    # the next eviction starts at the hand and most often takes the object there out
    # of the index: start loading its bucket now (a hint: no effect on any decision)
    s = r.hand if r.hand != 0 else r.q.links[0].next
    if s != 0:
        i64t_prefetch(&e.index, e.skey[s])


cdef inline bint ring_remove(Engine e, HandRing* r, int64_t key) noexcept nogil:
    """Drop key if resident; a hand resting on it moves to the next newer object."""
    cdef int64_t s = i64t_pop(&e.index, key)
    if s < 0:
        return False
    if r.hand == s:
        r.hand = r.q.links[s].next
    dl_unlink(&r.q, <int32_t>s)
    eng_release(e, <int32_t>s)
    return True


cdef list ring_slots(const HandRing* r, Py_ssize_t n, bint from_hand):
    """The n resident slots from the oldest (or from the hand, wrapping) on."""
    cdef DLink* L = r.q.links
    cdef int32_t s = r.hand if from_hand else 0
    cdef Py_ssize_t i
    out = []
    for i in range(n):
        if s == 0:
            s = L[0].next
        out.append(s)
        s = L[s].next
    return out


cdef int ring_check(Engine e, const HandRing* r, int cmax) except -1:
    """Links mutual, every object indexed under its slot, counters <= cmax, the
    counts and units add up, the hand on a queued node (or 0)."""
    cdef DLink* L = r.q.links
    cdef int32_t s = L[0].next, prev = 0
    cdef Py_ssize_t n = 0
    cdef int64_t total = 0
    seen = set()
    while s != 0:
        assert 1 <= s <= e.nslots, f"node {s} is not a slot"
        assert s not in seen, "the ring has a cycle"
        seen.add(s)
        assert L[s].prev == prev, "links are not mutual"
        assert i64t_get(&e.index, e.skey[s]) == s, "index out of step with the ring"
        assert r.count[s] <= cmax, f"slot {s} counter {r.count[s]} > {cmax}"
        assert e.ssize[s] >= 1
        total += e.ssize[s]
        n += 1
        prev = s
        s = L[s].next
    assert L[0].prev == prev, "the newest link is wrong"
    assert n == e.resident, f"{n} objects in the ring, resident says {e.resident}"
    assert total == e.used, f"sizes add up to {total}, used says {e.used}"
    assert e.used <= e.capacity, f"used {e.used} > capacity {e.capacity}"
    assert e.index.size == e.resident, "the index holds non-resident keys"
    assert r.hand == 0 or r.hand in seen, "the hand rests on a node not in the ring"
    if not e.sized:
        assert e.used == e.resident
    return 0


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
    cdef HandRing r             # count: the visited bits (0 or 1)

    def __cinit__(self):
        self.r.q.links = NULL
        self.r.q.n = 0
        self.r.count = NULL
        self.r.hand = 0

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized):
        self._base_init(capacity, slots, slots, sized)
        ring_init(&self.r, slots)

    def __dealloc__(self):
        ring_free(&self.r)

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        if s < 0:
            return False
        self.r.count[s] = 1
        return True

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        self.r.count[s] = 1

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        ring_insert(self, &self.r, key, size, False)

    cdef bint remove(self, int64_t key) noexcept nogil:
        return ring_remove(self, &self.r, key)

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.r.q) + (self.nslots + 1)

    def _slots(self):
        """Resident slots in queue order, the tail (oldest) first."""
        return ring_slots(&self.r, self.resident, False)

    def _resident(self):
        """Resident keys in queue order, the tail (oldest) first. The next victim
        is the first key with a clear bit from the hand on (see ``_state``)."""
        return [self.skey[s] for s in self._slots()]

    def _state(self):
        """(keys oldest first, their visited bits, the key the hand rests on or None)."""
        slots = self._slots()
        hand = self.skey[self.r.hand] if self.r.hand != 0 else None
        return ([self.skey[s] for s in slots], [bool(self.r.count[s]) for s in slots], hand)

    def _check(self):
        ring_check(self, &self.r, 1)


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
    cdef HandRing r             # count: the use counters, 0..cmax
    cdef uint8_t cmax
    cdef readonly int bits

    def __cinit__(self):
        self.r.q.links = NULL
        self.r.q.n = 0
        self.r.count = NULL
        self.r.hand = 0

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *, bits=1):
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
            raise ValueError(f"bits must be an int in 1..8, got {bits!r}")
        self._base_init(capacity, slots, slots, sized)
        self.bits = bits
        self.cmax = <uint8_t>((1 << bits) - 1)
        ring_init(&self.r, slots)

    def __dealloc__(self):
        ring_free(&self.r)

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        cdef uint8_t c
        if s < 0:
            return False
        c = self.r.count[s]
        if c < self.cmax:
            self.r.count[s] = c + 1
        return True

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        cdef uint8_t c = self.r.count[s]
        if c < self.cmax:
            self.r.count[s] = c + 1

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        ring_insert(self, &self.r, key, size, True)

    cdef bint remove(self, int64_t key) noexcept nogil:
        return ring_remove(self, &self.r, key)

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.r.q) + (self.nslots + 1)

    def _slots(self):
        """Resident slots in the order the hand reaches them (the FIFO tail first)."""
        return ring_slots(&self.r, self.resident, True)

    def _resident(self):
        """Resident keys in the order the hand reaches them: the next candidate
        first (the tail of the equivalent FIFO queue)."""
        return [self.skey[s] for s in self._slots()]

    def _state(self):
        """[(key, counter)] in the order the hand reaches them."""
        return [(self.skey[s], self.r.count[s]) for s in self._slots()]

    def _check(self):
        ring_check(self, &self.r, self.cmax)
