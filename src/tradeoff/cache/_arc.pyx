"""ARC, the Adaptive Replacement Cache, as a replay engine.

N. Megiddo and D. S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement
Cache", USENIX FAST 2003 (the algorithm of its Figure 4). Two resident LRU lists,
T1 (seen once recently) and T2 (seen at least twice), and two ghost LRU lists of
keys only, B1 and B2 (recently evicted from T1 and T2). A target ``p`` for the
size of T1 moves up on a hit in B1 and down on a hit in B2.
"""
cimport cython
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint8_t

from tradeoff._core.dlist cimport (DList, dl_free, dl_insert_before, dl_move_before,
                                   dl_nbytes, dl_resize, dl_ring, dl_unlink)
from tradeoff._core.mem cimport mem_zeroed
from tradeoff._core.table cimport i64t_get
from tradeoff.cache._engine cimport (Engine, eng_admit, eng_drop, eng_evict,
                                     eng_evict_to_ghost, eng_forget, eng_lookup,
                                     eng_recall, eng_revive)


# the four lists; a slot's tag is the list it is on, list L's sentinel is head0 + L
cdef enum:
    T1 = 0
    T2 = 1
    B1 = 2
    B2 = 3


@cython.final
cdef class ARCEngine(Engine):
    """ARC (Megiddo and Modha, FAST 2003), Figure 4 of the paper, over the shared
    index: residents and ghosts are entries of the same table (key -> slot), and a
    per-slot tag says which of T1, T2, B1, B2 the slot is on.

    No parameters (ARC tunes itself; ``p`` starts at 0). O(1) per request
    (the size-aware loops below run once per request with unit sizes).

    The rules, with ``c`` the capacity:

    - hit in T1 or T2: the key moves to the MRU end of T2.
    - miss in B1 (a ghost): ``p = min(p + delta, c)`` with
      ``delta = max(1, |B2| / |B1|)``; miss in B2: ``p = max(p - delta, 0)`` with
      ``delta = max(1, |B1| / |B2|)``. The division is real, as in the paper, and
      ``p`` is a double (libCacheSim 0.3.5 does the same; flooring the ratio
      changes some results). Then REPLACE and the key goes to the MRU end of T2.
    - miss elsewhere (Case IV): if ``|T1| + |B1| = c`` (Case A), drop the LRU of
      B1 and REPLACE, or, when B1 is empty (T1 holds c), evict the LRU of T1
      without a ghost; otherwise (Case B), when the directory holds ``2c``,
      drop the LRU of B2, then REPLACE. The key goes to the MRU end of T1.
    - REPLACE: demote the LRU of T1 to the MRU end of B1 when T1 is not empty
      and ``|T1| > p``, or ``|T1| == p`` and the request is a hit in B2 (the
      paper's tie rule); otherwise demote the LRU of T2 to the MRU end of B2.
      If T2 is empty, T1 gives (a case the paper cannot reach; sizes and
      deletions can).
    - directory bounds, as in the paper: ``|T1| + |B1| <= c`` and
      ``|T1| + |T2| + |B1| + |B2| <= 2c``, checked by :meth:`_check`.

    Generalizations (they change nothing for unit sizes without deletions, where
    the engine makes exactly the paper's moves; tested against a model written
    from the paper, and it matches libCacheSim 0.3.5 request by request):

    - sizes: every ``|X|`` above counts units (bytes), and so do ``c`` and ``p``,
      as in libCacheSim. A ghost keeps the size its object had. A ghost hit
      moves ``p`` by ``delta * size`` (``size`` of the requested object): the
      paper's step of one page becomes the room that object would have needed.
      libCacheSim moves ``p`` by ``delta`` units whatever the size, which for
      large objects freezes ``p``; we do not copy that. The loops: Case A drops
      B1's LRU (or, B1 empty, evicts T1's LRU) while ``|T1| + |B1| + size > c``;
      then ghosts go, B2's LRU first (B1's when B2 is empty), while the
      directory plus ``size`` exceeds ``2c``; then REPLACE runs while the
      resident units plus ``size`` exceed ``c``.
    - REPLACE runs only when the new object lacks room. Without deletions the
      cache is always full when the paper calls REPLACE, so this is the same;
      after :meth:`remove` (TTL expiry) it keeps a short-of-full cache from
      demoting anything.
    - ``remove`` (a delete or an expiry) drops a resident key entirely, with no
      ghost, and leaves ``p`` alone; a key on B1 or B2 is not resident and is
      left where it is.
    - ``p`` adapts when the ghost hit is admitted (in ``insert``); a request the
      driver does not admit (larger than the cache) leaves ARC untouched.

    Memory: residents plus ghosts never exceed ``2 * slots`` entries (the
    directory bound ``2c`` with every object at least one unit, and the
    trace's distinct keys when ``slots`` is the trace length), so the index and
    the slot arrays are sized to ``2 * slots`` up front; a count cap on the
    directory makes that hold even for a hand-made engine with fewer slots.

    >>> from tradeoff.cache._replay import make_engine
    >>> e = make_engine("arc", 2)
    >>> [e._access(k) for k in [1, 1, 2, 3, 2]]    # 2 comes back from B1
    [False, True, False, False, False]
    >>> e._lists()
    {'T1': [3], 'T2': [2], 'B1': [], 'B2': [1], 'p': 1.0}
    """
    cdef DList lists            # nodes 1..nslots, then the four sentinels
    cdef uint8_t* tag           # slot -> T1, T2, B1 or B2
    cdef int32_t head0          # sentinel of T1 (nslots + 1); list L's is head0 + L
    cdef int64_t units[4]       # units (objects, or bytes) on each list
    cdef Py_ssize_t count[4]    # entries on each list
    cdef double p               # target units for T1, 0 <= p <= capacity
    cdef Py_ssize_t rslots      # most resident objects (the slots argument)
    # hit() remembers its lookup (eng_lookup) for the insert() that follows a miss
    # (eng_recall): a ghost hit then costs one probe, not two

    def __cinit__(self):
        self.lists.links = NULL
        self.lists.n = 0
        self.tag = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized):
        cdef int L
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if slots > ((1 << 30) - 8):
            raise ValueError(f"ARC holds at most {(1 << 30) - 8} objects, got slots={slots}")
        self._base_init(capacity, 2 * slots, 2 * slots, sized)
        self.rslots = slots
        self.head0 = self.nslots + 1
        dl_resize(&self.lists, self.nslots + 5)
        for L in range(4):
            dl_ring(&self.lists, self.head0 + L)
            self.units[L] = 0
            self.count[L] = 0
        mem_zeroed(<void**>&self.tag, self.nslots + 1)
        self.p = 0.0

    def __dealloc__(self):
        dl_free(&self.lists)
        PyMem_RawFree(self.tag)

    # -- list moves (inline helpers; none fails)

    cdef inline void _link(self, int32_t s, int L) noexcept nogil:
        """Put slot s at the MRU end of list L."""
        dl_insert_before(&self.lists, self.head0 + L, s)
        self.tag[s] = <uint8_t>L
        self.units[L] += self.ssize[s]
        self.count[L] += 1

    cdef inline void _unlink(self, int32_t s) noexcept nogil:
        cdef int L = self.tag[s]
        dl_unlink(&self.lists, s)
        self.units[L] -= self.ssize[s]
        self.count[L] -= 1

    cdef inline int32_t _lru(self, int L) noexcept nogil:
        return self.lists.links[self.head0 + L].next

    cdef inline void _drop_ghost(self, int L) noexcept nogil:
        """Forget the LRU entry of ghost list L (not resident: no eviction)."""
        cdef int32_t g = self._lru(L)
        self._unlink(g)
        eng_forget(self, g)

    cdef inline void _evict_t1_no_ghost(self) noexcept nogil:
        """Case A with B1 empty: the LRU of T1 leaves the cache and the directory."""
        cdef int32_t v = self._lru(T1)
        self._unlink(v)
        eng_evict(self, v)

    cdef inline void _replace(self, bint in_b2) noexcept nogil:
        """The paper's REPLACE: demote the LRU of T1 or of T2 to its ghost list."""
        cdef int64_t t1 = self.units[T1]
        cdef int32_t v
        if self.count[T1] > 0 and (t1 > self.p or (in_b2 and t1 == self.p)
                                   or self.count[T2] == 0):
            v = self._lru(T1)
            self._unlink(v)
            self._link(v, B1)
        else:
            v = self._lru(T2)
            self._unlink(v)
            self._link(v, B2)
        eng_evict_to_ghost(self, v)

    cdef inline void _fit(self, int64_t size, bint in_b2) noexcept nogil:
        """Trim the directory to 2c (B2's LRU first), then REPLACE until size fits."""
        cdef int64_t c = self.capacity
        while (self.units[T1] + self.units[T2] + self.units[B1] + self.units[B2] + size > 2 * c
               or self.resident + self.count[B1] + self.count[B2] >= 2 * self.rslots):
            self._drop_ghost(B2 if self.count[B2] > 0 else B1)
        while self.used + size > c or self.resident >= self.rslots:
            self._replace(in_b2)

    # -- the policy

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = eng_lookup(self, key)
        cdef int L
        if s < 0:
            return False
        L = self.tag[s]
        if L == T2:
            dl_move_before(&self.lists, self.head0 + T2, <int32_t>s)
            return True
        if L == T1:
            self._unlink(<int32_t>s)
            self._link(<int32_t>s, T2)
            return True
        return False                # a ghost: a miss; insert() adapts p

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        if self.tag[s] == T2:
            dl_move_before(&self.lists, self.head0 + T2, s)
        elif self.tag[s] == T1:
            self._unlink(s)
            self._link(s, T2)

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int64_t s
        cdef int L
        cdef double delta
        cdef int64_t c = self.capacity
        s = eng_recall(self, key)
        if s >= 0:
            L = self.tag[s]
            if L < B1:
                return              # already resident: nothing to admit
            # Cases II and III: a ghost hit adapts p, then REPLACE, then T2
            if L == B1:
                delta = <double>self.units[B2] / <double>self.units[B1]
                if delta < 1.0:
                    delta = 1.0
                self.p += delta * <double>size
                if self.p > <double>c:
                    self.p = <double>c
            else:
                delta = <double>self.units[B1] / <double>self.units[B2]
                if delta < 1.0:
                    delta = 1.0
                self.p -= delta * <double>size
                if self.p < 0.0:
                    self.p = 0.0
            self._unlink(<int32_t>s)
            self.ssize[s] = size
            self._fit(size, L == B2)
            self._link(<int32_t>s, T2)
            eng_revive(self, <int32_t>s)
        else:
            # Case IV: the directory's L1 side first (Case A), then Case B
            while self.units[T1] + self.units[B1] + size > c:
                if self.count[B1] > 0:
                    self._drop_ghost(B1)
                else:
                    self._evict_t1_no_ghost()
            self._fit(size, False)
            self._link(eng_admit(self, key, size), T1)

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        self.memo_valid = False
        if s < 0 or self.tag[s] >= B1:
            return False
        self._unlink(<int32_t>s)
        eng_drop(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + dl_nbytes(&self.lists) + (self.nslots + 1)

    # -- introspection, for tests

    def _list(self, int L):
        """Keys on list L (0 T1, 1 T2, 2 B1, 3 B2), LRU first."""
        out = []
        cdef int32_t h = self.head0 + L
        cdef int32_t s = self.lists.links[h].next
        while s != h:
            out.append(self.skey[s])
            s = self.lists.links[s].next
        return out

    def _lists(self):
        """The four lists (LRU first) and the target p, as a dict."""
        return {"T1": self._list(T1), "T2": self._list(T2), "B1": self._list(B1),
                "B2": self._list(B2), "p": self.p}

    def _resident(self):
        """Resident keys: T1 from its LRU end to its MRU end, then T2 likewise."""
        return self._list(T1) + self._list(T2)

    def _check(self):
        """Assert every invariant: lists well linked and tagged, counts and units
        add up, the index holds exactly the directory, the paper's bounds."""
        cdef int L
        cdef int32_t h, s, prev
        cdef Py_ssize_t n
        cdef int64_t u
        cdef int64_t c = self.capacity
        for L in range(4):
            h = self.head0 + L
            n = 0
            u = 0
            prev = h
            s = self.lists.links[h].next
            while s != h:
                assert 1 <= s <= self.nslots, f"list {L} holds a bad slot {s}"
                assert self.lists.links[s].prev == prev, f"list {L} is badly linked at {s}"
                assert self.tag[s] == L, f"slot {s} on list {L} is tagged {self.tag[s]}"
                assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the lists"
                assert self.ssize[s] >= 1
                n += 1
                u += self.ssize[s]
                assert n <= self.nslots, f"list {L} loops"
                prev = s
                s = self.lists.links[s].next
            assert self.lists.links[h].prev == prev, f"list {L} tail is wrong"
            assert n == self.count[L], f"list {L} holds {n}, count says {self.count[L]}"
            assert u == self.units[L], f"list {L} holds {u} units, says {self.units[L]}"
        assert self.resident == self.count[T1] + self.count[T2]
        assert self.used == self.units[T1] + self.units[T2]
        assert self.index.size == self.resident + self.count[B1] + self.count[B2]
        assert self.used <= c, f"used {self.used} > capacity {c}"
        assert self.resident <= self.rslots
        assert self.units[T1] + self.units[B1] <= c, "|T1| + |B1| > c"
        assert (self.units[T1] + self.units[T2] + self.units[B1] + self.units[B2]
                <= 2 * c), "directory > 2c"
        assert 0.0 <= self.p <= <double>c, f"p = {self.p} out of [0, {c}]"
