"""S3-FIFO as a replay engine: a small FIFO, a main FIFO and a ghost FIFO of keys.

Driven by :func:`tradeoff.cache._engine.drive` (see ``_engine.pxd`` for the
contract of ``hit``/``insert``/``remove``). The three queues share one
array-backed list structure (``tradeoff._core.dlist``, one sentinel each) and
one index: a ghost entry is a slot like a resident one, tagged as a ghost, so
that a miss needs a single lookup to learn whether the key was seen recently.
"""
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint8_t

from tradeoff._core.dlist cimport (DLink, DList, dl_free, dl_insert_after, dl_nbytes,
                                   dl_resize, dl_ring, dl_unlink)
from tradeoff._core.mem cimport mem_zeroed
from tradeoff._core.table cimport i64t_get, i64t_prefetch
from tradeoff.cache._engine cimport (Engine, eng_admit, eng_drop, eng_evict,
                                     eng_evict_to_ghost, eng_forget)


# a slot's meta byte: the queue it is in (high bits) | its frequency (low two bits)
cdef enum:
    Q_SMALL = 0
    Q_MAIN = 4
    Q_GHOST = 8
    FREQ_MASK = 3
    FREQ_MAX = 3


cdef class S3FIFOEngine(Engine):
    """S3-FIFO: Yang, Zhang, Qiu, Yue and Rashmi, "FIFO queues are all you need for
    cache eviction", SOSP 2023 (Algorithm 1), with libCacheSim's sizing.

    Three FIFO queues: a small queue S, a main queue M and a ghost queue G that
    holds keys only. Each resident object has a frequency of two bits (0..3).

    - **hit** (the key is in S or M): frequency + 1, capped at 3; nothing moves.
    - **miss**: if the key is in G, it leaves G and the object is inserted at
      the head of M; otherwise at the head of S. Frequency 0. Evictions happen
      first, until the object fits (``used + size <= capacity``).
    - **evict** (one object): from M when M holds more than its share
      (``m_used > capacity - s_cap``) or S is empty; otherwise from S. (In a
      full unit-size cache that is the paper's "evict from S when S holds at
      least its share".)
    - **evict from S**: take S's tail. Frequency >= ``move_threshold``: it moves
      to the head of M with frequency 0, and the next tail is examined. Else it
      is evicted and its key enters the head of G. One object leaves the cache
      per call. (The paper's Algorithm 1 also calls evictM when M is full
      during a promotion; like libCacheSim this does not: M over its share is
      evicted from on the next call instead.)
    - **evict from M**: take M's tail. Frequency > 0: reinsert it at M's head
      with frequency - 1 and look at the next tail. Else evict it.
    - **ghost**: a FIFO of keys whose sizes add up to at most
      ``g_cap = floor(ghost_ratio * capacity)`` units (libCacheSim's sizing:
      each key weighs its object's size; unit sizes: ``g_cap`` keys, as many as
      M holds by default). A key whose size exceeds ``g_cap`` is not kept; to
      admit a key, G's oldest keys are dropped until it fits. G also holds at
      most ``floor(ghost_ratio * slots)`` keys (``slots``: the most objects
      resident at once, ``min(capacity, requests)`` in a replay), which bounds
      memory in sized mode and never binds with unit sizes.
    - **remove** (expiry, a delete): a resident object leaves S or M; its key
      does not enter G. A key in G is left there (``remove`` returns False).

    Parameters:

    - ``small_ratio`` (0 < r < 1, default 0.1): S's share,
      ``s_cap = floor(small_ratio * capacity)`` units; M's share is the rest.
    - ``ghost_ratio`` (0 <= r <= 8, default 0.9): G's size as above; 0: no ghost.
    - ``move_threshold`` (1..3, default 2): an object leaving S moves to M when
      its frequency (hits while in S, capped at 3) is >= this. 2 is Algorithm 1's
      ``t.freq > 1`` and libCacheSim's ``move-to-main-threshold=2``; 1 is the
      blog's "accessed at least once".
    - ``fill_main`` (default True): the authors' warm-up rule, in libCacheSim's
      ``S3FIFO`` since Dec 2024 (the one in libcachesim 0.3.5), which its
      authors describe as generally better: until the first eviction, a new
      object whose key is not in G goes to M once S holds its share. With it
      (and the default threshold) the hit counts equal libcachesim 0.3.5's
      ``S3FIFO`` on every golden trace. ``fill_main=False`` is the paper's
      Algorithm 1 (libCacheSim keeps it as ``S3FIFOv0``): a new object always
      enters S. On looping traces the two differ by up to 45 points of hit
      ratio (the golden loop trace at 512: 0% against 45.5%).

    Ties: none; the queue order decides every choice. A new object larger than
    S's share still enters S (libCacheSim refuses it; an eviction policy here
    never refuses an object that fits the cache).

    Memory: per slot (resident or ghost) 8 (key) + 8 (size) + 8 (links) + 1
    (queue and frequency) bytes, plus the index, sized for ``slots`` residents
    and the ghost bound. Hits are O(1); evictions O(1) amortized.

    >>> from tradeoff.cache import replay
    >>> import numpy as np
    >>> replay(np.array([1, 2, 3, 1, 1, 4, 5, 1], dtype=np.int64), "s3fifo", 3).hits
    3
    """
    cdef DList q                # nodes 1..nslots are slots; sS, sM, sG the sentinels
    cdef uint8_t* meta          # slot -> queue tag | frequency
    cdef int32_t sS, sM, sG
    cdef readonly int64_t s_used, m_used, g_used    # units in S, M, G
    cdef readonly int64_t s_cap, m_cap, g_cap
    cdef readonly Py_ssize_t g_n, g_max             # keys in G, the most G holds
    cdef Py_ssize_t max_res                         # the most residents (slots)
    cdef readonly int move_threshold
    cdef readonly bint fill_main
    cdef readonly double small_ratio, ghost_ratio
    cdef bint has_evicted       # fill_main: has any eviction happened yet
    cdef bint ghost_hit         # the last hit() found ghost_key in G (and took it out)
    cdef int64_t ghost_key

    def __cinit__(self):
        self.q.links = NULL
        self.q.n = 0
        self.meta = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *, small_ratio=0.1,
                 ghost_ratio=0.9, move_threshold=2, fill_main=True):
        cdef Py_ssize_t nslots
        if isinstance(small_ratio, bool) or not isinstance(small_ratio, (int, float)) \
                or not 0 < small_ratio < 1:
            raise ValueError(f"small_ratio must be a number in (0, 1), got {small_ratio!r}")
        if isinstance(ghost_ratio, bool) or not isinstance(ghost_ratio, (int, float)) \
                or not 0 <= ghost_ratio <= 8:
            raise ValueError(f"ghost_ratio must be a number in [0, 8], got {ghost_ratio!r}")
        if isinstance(move_threshold, bool) or not isinstance(move_threshold, int) \
                or not 1 <= move_threshold <= FREQ_MAX:
            raise ValueError(f"move_threshold must be an int in 1..3, got {move_threshold!r}")
        if not isinstance(fill_main, bool):
            raise ValueError(f"fill_main must be True or False, got {fill_main!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.small_ratio = small_ratio
        self.ghost_ratio = ghost_ratio
        self.move_threshold = move_threshold
        self.fill_main = fill_main
        # libCacheSim's arithmetic: int64 * double, truncated
        self.s_cap = <int64_t>(capacity * self.small_ratio)
        self.m_cap = capacity - self.s_cap
        self.g_cap = <int64_t>(capacity * self.ghost_ratio)
        self.g_max = <Py_ssize_t>min(self.g_cap, <int64_t>(slots * self.ghost_ratio))
        self.max_res = slots
        nslots = slots + self.g_max
        if nslots > (1 << 31) - 5:      # three sentinels follow the slots, int32 nodes
            raise ValueError(f"a replay holds at most 2**31 - 5 resident and ghost entries, "
                             f"got {slots} + {self.g_max}")
        self._base_init(capacity, nslots, nslots, sized)
        dl_resize(&self.q, nslots + 4)
        self.sS = <int32_t>(nslots + 1)
        self.sM = <int32_t>(nslots + 2)
        self.sG = <int32_t>(nslots + 3)
        dl_ring(&self.q, self.sS)
        dl_ring(&self.q, self.sM)
        dl_ring(&self.q, self.sG)
        mem_zeroed(<void**>&self.meta, nslots + 1)

    def __dealloc__(self):
        dl_free(&self.q)
        PyMem_RawFree(self.meta)

    # -- the policy

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        cdef uint8_t b
        if s < 0:
            self.ghost_hit = False
            return False
        b = self.meta[s]
        if b >= Q_GHOST:
            # a miss that G remembers: take the key out of G now (libCacheSim
            # does too), so that evictions before the insert cannot drop it
            self._ghost_drop(<int32_t>s)
            self.ghost_hit = True
            self.ghost_key = key
            return False
        if (b & FREQ_MASK) != FREQ_MAX:
            self.meta[s] = b + 1
        return True

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        cdef uint8_t b = self.meta[s]
        if (b & FREQ_MASK) != FREQ_MAX:
            self.meta[s] = b + 1

    cdef void _ghost_drop(self, int32_t g) noexcept nogil:
        """Forget ghost slot g (its index entry too)."""
        dl_unlink(&self.q, g)
        self.g_used -= self.ssize[g]
        self.g_n -= 1
        eng_forget(self, g)

    cdef void _to_ghost(self, int32_t t, int64_t size) noexcept nogil:
        """Slot t, just evicted from S, becomes a ghost (or is freed if G has no room)."""
        if size > self.g_cap or self.g_max == 0:
            eng_forget(self, t)
            return
        while self.g_used + size > self.g_cap or self.g_n == self.g_max:
            self._ghost_drop(self.q.links[self.sG].prev)
        self.meta[t] = Q_GHOST
        dl_insert_after(&self.q, self.sG, t)
        self.g_used += size
        self.g_n += 1

    cdef void _evict_small(self) noexcept nogil:
        cdef DLink* L = self.q.links
        cdef int32_t sS = self.sS, t
        cdef int64_t size
        while L[sS].prev != sS:
            t = L[sS].prev
            size = self.ssize[t]
            dl_unlink(&self.q, t)
            self.s_used -= size
            if (self.meta[t] & FREQ_MASK) >= self.move_threshold:
                self.meta[t] = Q_MAIN
                dl_insert_after(&self.q, self.sM, t)
                self.m_used += size
            else:
                eng_evict_to_ghost(self, t)
                self._to_ghost(t, size)
                return

    cdef void _evict_main(self) noexcept nogil:
        cdef DLink* L = self.q.links
        cdef int32_t sM = self.sM, t
        cdef uint8_t b
        while L[sM].prev != sM:
            t = L[sM].prev
            b = self.meta[t]
            if b & FREQ_MASK:
                self.meta[t] = b - 1
                dl_unlink(&self.q, t)
                dl_insert_after(&self.q, sM, t)
            else:
                dl_unlink(&self.q, t)
                self.m_used -= self.ssize[t]
                eng_evict(self, t)
                return

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef bint to_main = self.ghost_hit and self.ghost_key == key
        cdef int32_t s
        self.ghost_hit = False
        while self.used + size > self.capacity or self.resident == self.max_res:
            self.has_evicted = True
            if self.m_used > self.m_cap or self.s_used == 0:
                self._evict_main()
            else:
                self._evict_small()
        if (not to_main and self.fill_main and not self.has_evicted
                and self.s_used >= self.s_cap):
            to_main = True
        s = eng_admit(self, key, size)
        if to_main:
            self.meta[s] = Q_MAIN
            dl_insert_after(&self.q, self.sM, s)
            self.m_used += size
        else:
            self.meta[s] = Q_SMALL
            dl_insert_after(&self.q, self.sS, s)
            self.s_used += size
        # the next eviction will drop G's oldest key from the index: start loading its
        # bucket now (a hint: no effect on any decision)
        if self.g_n > 0:
            i64t_prefetch(&self.index, self.skey[self.q.links[self.sG].prev])

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        if s < 0 or self.meta[s] >= Q_GHOST:
            return False
        dl_unlink(&self.q, <int32_t>s)
        if self.meta[s] >= Q_MAIN:
            self.m_used -= self.ssize[s]
        else:
            self.s_used -= self.ssize[s]
        eng_drop(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.q) + (self.nslots + 1)

    # -- Python-level views, for tests

    def _queue(self, int which):
        """Slots of queue 0 (S), 1 (M) or 2 (G), the tail (oldest) first."""
        cdef int32_t sent = (self.sS, self.sM, self.sG)[which]
        cdef int32_t s = self.q.links[sent].prev
        out = []
        while s != sent:
            out.append(s)
            s = self.q.links[s].prev
        return out

    def _resident(self):
        """Resident keys: S oldest first, then M oldest first."""
        return [self.skey[s] for s in self._queue(0) + self._queue(1)]

    def _state(self):
        """dict(small=[(key, freq)], main=[(key, freq)], ghost=[key]), oldest first."""
        return {"small": [(self.skey[s], self.meta[s] & FREQ_MASK) for s in self._queue(0)],
                "main": [(self.skey[s], self.meta[s] & FREQ_MASK) for s in self._queue(1)],
                "ghost": [self.skey[s] for s in self._queue(2)]}

    def _check(self):
        cdef DLink* L = self.q.links
        cdef int32_t sent, s, prev
        cdef int which
        seen = set()
        units = [0, 0, 0]
        counts = [0, 0, 0]
        for which in range(3):
            sent = (self.sS, self.sM, self.sG)[which]
            prev = sent
            s = L[sent].prev
            while s != sent:
                assert 1 <= s <= self.nslots, f"node {s} is not a slot"
                assert s not in seen, "a slot is queued twice"
                seen.add(s)
                assert L[s].next == prev, "links are not mutual"
                assert self.meta[s] >> 2 == which, f"slot {s} in queue {which} is tagged {self.meta[s]}"
                if which == 2:
                    assert self.meta[s] & FREQ_MASK == 0, "a ghost has a frequency"
                assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with a queue"
                assert self.ssize[s] >= 1
                units[which] += self.ssize[s]
                counts[which] += 1
                prev = s
                s = L[s].prev
            assert L[sent].next == prev, "a head link is wrong"
        assert units[0] == self.s_used, f"S holds {units[0]} units, s_used says {self.s_used}"
        assert units[1] == self.m_used, f"M holds {units[1]} units, m_used says {self.m_used}"
        assert units[2] == self.g_used, f"G holds {units[2]} units, g_used says {self.g_used}"
        assert counts[2] == self.g_n
        assert counts[0] + counts[1] == self.resident, "resident count is wrong"
        assert self.s_used + self.m_used == self.used
        assert self.used <= self.capacity, f"used {self.used} > capacity {self.capacity}"
        assert self.resident <= self.max_res
        assert self.g_used <= self.g_cap and self.g_n <= self.g_max, "the ghost is over its bound"
        assert self.index.size == self.resident + self.g_n, "the index holds stray keys"
        if not self.sized:
            assert self.used == self.resident
