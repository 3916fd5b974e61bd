"""LIRS, the Low Inter-reference Recency Set policy, as a replay engine.

S. Jiang and X. Zhang, "LIRS: an efficient low inter-reference recency set
replacement policy to improve buffer cache performance", ACM SIGMETRICS 2002.
Blocks whose last two uses were close together (low inter-reference recency,
LIR) keep most of the cache; the rest (HIR) share a small part of it and are
evicted first. A stack S orders blocks by recency and remembers some evicted
(non-resident) HIR blocks, so that a block coming back soon is recognised and
promoted to LIR.
"""
cimport cython
from cpython.mem cimport PyMem_RawFree
from libc.math cimport floor, isfinite
from libc.stdint cimport int32_t, int64_t, uint8_t

from tradeoff._core.dlist cimport (DList, dl_free, dl_insert_before, dl_move_before,
                                   dl_nbytes, dl_resize, dl_ring, dl_unlink)
from tradeoff._core.mem cimport mem_zeroed
from tradeoff._core.table cimport i64t_get, i64t_prefetch
from tradeoff.cache._engine cimport (Engine, eng_admit, eng_drop, eng_evict_to_ghost,
                                     eng_forget, eng_lookup, eng_recall, eng_revive)


# a slot's state: the status in the low two bits, plus a flag for "on stack S"
cdef enum:
    PENDING = 0                 # a non-resident entry being readmitted (insert only)
    LIR = 1
    HIR = 2                     # resident HIR: on Q, maybe on S
    NONRES = 3                  # non-resident HIR: on S and on the NR queue
    STATUS = 3
    IN_S = 4

# sentinels: stack S in the DList ``stack`` is node 0; Q and the non-resident
# queue NR share the DList ``queues`` (an entry is on at most one of them)
cdef enum:
    S_HEAD = 0


@cython.final
cdef class LIRSEngine(Engine):
    """LIRS (Jiang and Zhang, SIGMETRICS 2002), Section 3 of the paper, over the
    shared index: LIR, resident HIR and non-resident HIR entries are all entries
    of the same table (key -> slot), with a per-slot state byte.

    Parameters:

    - ``hir_ratio`` (default 0.01, 0 < hir_ratio < 1): the resident HIR share.
      ``Lhirs = max(1, floor(hir_ratio * capacity))`` and
      ``Llirs = capacity - Lhirs`` (the paper's 1%; libCacheSim's rounding).
    - ``stack_ratio`` (default 2.0, finite, >= 0): stack S holds at most
      ``floor(stack_ratio * capacity)`` entries (units with sizes). The paper
      leaves S unbounded; when S outgrows the bound, the non-resident HIR entry
      that became non-resident longest ago leaves S (and the index), until S
      fits or no non-resident entry is left. This is libCacheSim's bound (S at
      most twice the cache, oldest non-resident first). Caffeine's simulator
      bounds the non-resident entries alone (``nonResidentMultiplier`` 2.0:
      at most 2c of them), which keeps more history.

    O(1) amortized per request (stack pruning removes each entry once).

    The rules (the paper's cases; the top of S is the most recent end):

    - hit on a LIR block: move it to the top of S; if it was at the bottom,
      prune (pop HIR entries off the bottom until a LIR block is there; a
      pruned non-resident entry is forgotten, a pruned resident one stays on Q).
    - hit on a resident HIR block on S: it becomes LIR and leaves Q; it moves
      to the top of S; the LIR block at the bottom of S becomes HIR at the end
      of Q; prune.
    - hit on a resident HIR block not on S: it goes to the top of S (still HIR)
      and to the end of Q.
    - miss: the resident HIR block at the front of Q is evicted; it stays on S
      as non-resident if it was on S, else it is forgotten. The requested block
      goes to the top of S: if it was on S (non-resident), it becomes LIR and
      the bottom LIR block of S moves to the end of Q as HIR, then prune;
      otherwise it is HIR, at the end of Q.
    - warm-up: while the LIR set is not full, every missed block becomes LIR
      (nothing is evicted while the cache has room).
    - every LIR block is on S, and S's bottom is always LIR (checked).

    Generalizations (none changes unit sizes without deletions):

    - sizes: ``Llirs``, ``Lhirs``, the LIR set and the S bound count units.
      A miss evicts Q's front while the new object does not fit; if Q is
      empty then (an object larger than Lhirs), S's bottom LIR block is first
      demoted to Q (and S pruned). A block becomes LIR only if it fits in
      Llirs; promoting one demotes bottom LIR blocks while the LIR set is over
      Llirs (exactly one with unit sizes, none while it is not full). A block
      larger than Llirs stays HIR. A non-resident entry keeps its last size
      until readmitted.
    - ``remove`` (a delete or an expiry) forgets a resident block entirely (off
      S and Q); if it was LIR at the bottom of S, S is pruned. The LIR set is
      then short, and misses become LIR (warm-up) until it is full again.
      A non-resident entry is not resident and is left alone.

    Compared with libCacheSim 0.3.5's LIRS (same split, same S bound), the hit
    ratios on the reference traces agree within 0.05 points. Request by request
    they part where libCacheSim's hit on a resident HIR block that is not on S
    demotes a LIR block first (with ``Lhirs = 1`` that evicts the hit block
    itself while still counting it resident): see
    ``test_libcachesim_phantom_trace`` in tests/cache/test_policy_lirs.py.

    Memory: the index holds the residents plus the non-resident entries, which
    are all on S, so at most ``slots + floor(stack_ratio * capacity) + 2``
    entries (fewer when ``slots`` < capacity, i.e. when the trace is shorter
    than the cache: then the trace's distinct keys bound everything); it is
    sized for that up front. A count cap on the non-resident queue keeps the
    bound even for a hand-made engine with fewer slots than distinct keys.

    >>> from tradeoff.cache._replay import make_engine
    >>> e = make_engine("lirs", 3, hir_ratio=0.34)     # Llirs 2, Lhirs 1
    >>> [e._access(k) for k in [1, 2, 3, 4, 3]]        # 3 returns while on S
    [False, False, False, False, False]
    >>> e._stack(), e._queue()                         # 3 is LIR, 1 demoted
    ([(2, 'L'), (4, 'N'), (3, 'L')], [1])
    """
    cdef DList stack            # stack S: nodes 1..nslots, sentinel 0 (head = bottom)
    cdef DList queues           # Q (sentinel q_head) and NR (sentinel nr_head)
    cdef uint8_t* state         # slot -> status | IN_S
    cdef int32_t q_head
    cdef int32_t nr_head
    cdef int64_t llirs          # units for the LIR set
    cdef int64_t lhirs          # units for resident HIR blocks (capacity - llirs)
    cdef int64_t s_bound        # units stack S may hold before trimming
    cdef int64_t lir_units      # units held by LIR blocks
    cdef int64_t s_units        # units of the entries on S
    cdef Py_ssize_t nr_count    # non-resident entries
    cdef Py_ssize_t nr_room     # most non-resident entries the index holds
    cdef Py_ssize_t rslots      # most resident objects (the slots argument)
    cdef readonly double hir_ratio
    cdef readonly double stack_ratio

    def __cinit__(self):
        self.stack.links = NULL
        self.stack.n = 0
        self.queues.links = NULL
        self.queues.n = 0
        self.state = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *,
                 double hir_ratio=0.01, double stack_ratio=2.0):
        cdef double b
        if not (0.0 < hir_ratio < 1.0):
            raise ValueError(f"hir_ratio must be > 0 and < 1, got {hir_ratio}")
        if not (isfinite(stack_ratio) and stack_ratio >= 0.0):
            raise ValueError(f"stack_ratio must be a finite number >= 0, got {stack_ratio}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.hir_ratio = hir_ratio
        self.stack_ratio = stack_ratio
        self.lhirs = <int64_t>floor(hir_ratio * <double>capacity)
        if self.lhirs < 1:
            self.lhirs = 1
        self.llirs = capacity - self.lhirs
        if self.llirs < 0:
            self.llirs = 0
        b = floor(stack_ratio * <double>capacity)
        if b > <double>(1 << 62):
            raise ValueError(f"stack_ratio * capacity is too large: {stack_ratio} * {capacity}")
        self.s_bound = <int64_t>b
        self.nr_room = <Py_ssize_t>min(self.s_bound, slots if slots < capacity else self.s_bound) + 2
        if slots + self.nr_room > (1 << 30):
            raise ValueError(f"LIRS holds at most {1 << 30} entries, got {slots} resident "
                             f"plus {self.nr_room} non-resident")
        self._base_init(capacity, slots + self.nr_room, slots + self.nr_room, sized)
        self.rslots = slots
        dl_resize(&self.stack, self.nslots + 1)
        dl_ring(&self.stack, S_HEAD)
        self.q_head = self.nslots + 1
        self.nr_head = self.nslots + 2
        dl_resize(&self.queues, self.nslots + 3)
        dl_ring(&self.queues, self.q_head)
        dl_ring(&self.queues, self.nr_head)
        mem_zeroed(<void**>&self.state, self.nslots + 1)
        self.lir_units = 0
        self.s_units = 0
        self.nr_count = 0

    def __dealloc__(self):
        dl_free(&self.stack)
        dl_free(&self.queues)
        PyMem_RawFree(self.state)

    # -- pieces (inline; none fails)

    cdef inline void _s_push(self, int32_t s) noexcept nogil:
        """Put s (not on S) on top of S."""
        dl_insert_before(&self.stack, S_HEAD, s)
        self.state[s] |= IN_S
        self.s_units += self.ssize[s]

    cdef inline void _s_drop(self, int32_t s) noexcept nogil:
        """Take s (on S) off S."""
        dl_unlink(&self.stack, s)
        self.state[s] &= ~IN_S
        self.s_units -= self.ssize[s]

    cdef inline void _forget(self, int32_t s) noexcept nogil:
        """Drop s (not counted resident) from the index and free its slot (it is on
        no list any more)."""
        self.state[s] = PENDING
        eng_forget(self, s)

    cdef inline void _drop_nonres(self, int32_t s) noexcept nogil:
        """Forget a non-resident entry: off NR, off S, out of the index."""
        dl_unlink(&self.queues, s)
        self.nr_count -= 1
        self._s_drop(s)
        self._forget(s)

    cdef inline void _prune(self) noexcept nogil:
        """Stack pruning: pop HIR entries off S's bottom until a LIR one is there."""
        cdef int32_t b
        cdef uint8_t st
        while True:
            b = self.stack.links[S_HEAD].next
            if b == S_HEAD:
                return
            st = self.state[b] & STATUS
            if st == LIR:
                return
            if st == NONRES:
                self._drop_nonres(b)
            else:
                self._s_drop(b)     # resident HIR (stays on Q) or the pending entry

    cdef inline void _demote(self) noexcept nogil:
        """S's bottom LIR block becomes HIR, at the end of Q (the caller prunes)."""
        cdef int32_t b = self.stack.links[S_HEAD].next
        self._s_drop(b)
        self.state[b] = HIR
        self.lir_units -= self.ssize[b]
        dl_insert_before(&self.queues, self.q_head, b)

    cdef inline void _make_lir(self, int32_t s) noexcept nogil:
        """s, on top of S and on no queue, becomes LIR; while the LIR set is over
        Llirs, S's bottom LIR block is demoted and S pruned; S is pruned."""
        self.state[s] = LIR | IN_S
        self.lir_units += self.ssize[s]
        while self.lir_units > self.llirs:
            self._demote()
            self._prune()           # S's bottom is LIR again before the next demotion
        self._prune()               # (when S held no LIR block, HIR ones may lie below s)

    cdef inline void _evict(self) noexcept nogil:
        """Evict the resident HIR block at Q's front (demoting a LIR block into Q
        first if Q is empty)."""
        cdef int32_t v
        if self.queues.links[self.q_head].next == self.q_head:
            self._demote()
            self._prune()
        v = self.queues.links[self.q_head].next
        dl_unlink(&self.queues, v)
        eng_evict_to_ghost(self, v)
        if self.state[v] & IN_S:
            if self.nr_count >= self.nr_room - 1:       # never with replay()'s slots
                self._drop_nonres(self.queues.links[self.nr_head].next)
            self.state[v] = NONRES | IN_S
            dl_insert_before(&self.queues, self.nr_head, v)
            self.nr_count += 1
        else:
            self._forget(v)

    cdef inline void _trim(self) noexcept nogil:
        """Bound S: drop the oldest non-resident entries while S is over s_bound."""
        while self.s_units > self.s_bound and self.nr_count > 0:
            self._drop_nonres(self.queues.links[self.nr_head].next)

    # -- the policy

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = eng_lookup(self, key)
        if s < 0:
            return False
        return self._use(<int32_t>s)

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        # the caller found key resident at slot s: hit() without its lookup (and
        # no memo: a hit's memo is never recalled, an insert follows a miss)
        self.memo_valid = False
        self._use(s)

    cdef inline bint _use(self, int32_t s) noexcept nogil:
        """A request for the key at slot s (in the index): True if resident."""
        cdef uint8_t st
        cdef bint bottom
        st = self.state[s]
        if st == (LIR | IN_S):
            bottom = self.stack.links[S_HEAD].next == s
            dl_move_before(&self.stack, S_HEAD, <int32_t>s)
            if bottom:
                self._prune()
            return True
        if st == (HIR | IN_S):
            dl_move_before(&self.stack, S_HEAD, <int32_t>s)
            if self.ssize[s] <= self.llirs:
                dl_unlink(&self.queues, <int32_t>s)
                self._make_lir(<int32_t>s)
            else:
                dl_move_before(&self.queues, self.q_head, <int32_t>s)
            return True
        if st == HIR:
            self._s_push(<int32_t>s)
            dl_move_before(&self.queues, self.q_head, <int32_t>s)
            self._trim()
            return True
        return False                # non-resident: a miss

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int64_t s
        cdef int32_t v
        s = eng_recall(self, key)
        if s >= 0:
            if self.state[s] & STATUS != NONRES:
                return              # already resident: nothing to admit
            # a non-resident entry: off the NR queue; it keeps its place on S
            # while room is made (pruning may take it off S: then it is new)
            dl_unlink(&self.queues, <int32_t>s)
            self.nr_count -= 1
            self.state[s] = PENDING | IN_S
            while self.used + size > self.capacity or self.resident >= self.rslots:
                self._evict()
            v = <int32_t>s
            if self.state[v] & IN_S:
                self.s_units += size - self.ssize[v]
                self.ssize[v] = size
                eng_revive(self, v)
                dl_move_before(&self.stack, S_HEAD, v)
                if size <= self.llirs:
                    self._make_lir(v)
                else:
                    self.state[v] = HIR | IN_S
                    dl_insert_before(&self.queues, self.q_head, v)
                self._trim()
                return
            self.ssize[v] = size
            eng_revive(self, v)
        else:
            while self.used + size > self.capacity or self.resident >= self.rslots:
                self._evict()
            v = eng_admit(self, key, size)
        # a block not on S: top of S; LIR while the LIR set has room, else HIR
        self.state[v] = PENDING
        self._s_push(v)
        if self.lir_units + size <= self.llirs:
            self.state[v] = LIR | IN_S
            self.lir_units += size
            self._prune()
        else:
            self.state[v] = HIR | IN_S
            dl_insert_before(&self.queues, self.q_head, v)
        self._trim()
        # the next insert's _trim most often drops the oldest non-resident entry from
        # the index: start loading its bucket now (a hint: no effect on any decision)
        if self.nr_count > 0:
            i64t_prefetch(&self.index, self.skey[self.queues.links[self.nr_head].next])

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        cdef uint8_t st
        cdef bint bottom
        self.memo_valid = False
        if s < 0:
            return False
        st = self.state[s]
        if st & STATUS == LIR:
            bottom = self.stack.links[S_HEAD].next == s
            self.lir_units -= self.ssize[s]
            self._s_drop(<int32_t>s)
            if bottom:
                self._prune()
        elif st & STATUS == HIR:
            dl_unlink(&self.queues, <int32_t>s)
            if st & IN_S:
                self._s_drop(<int32_t>s)
        else:
            return False
        self.state[s] = PENDING
        eng_drop(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return (Engine.nbytes(self) + dl_nbytes(&self.stack) + dl_nbytes(&self.queues)
                + (self.nslots + 1))

    # -- introspection, for tests

    @property
    def lir_limit(self):
        """Llirs: units for the LIR set."""
        return self.llirs

    @property
    def stack_limit(self):
        """Units stack S may hold (floor(stack_ratio * capacity))."""
        return self.s_bound

    def _stack(self):
        """Stack S from its bottom to its top, as (key, status) pairs with status
        'L' (LIR), 'H' (resident HIR) or 'N' (non-resident HIR)."""
        out = []
        cdef int32_t s = self.stack.links[S_HEAD].next
        while s != S_HEAD:
            out.append((self.skey[s], "?LHN"[self.state[s] & STATUS]))
            s = self.stack.links[s].next
        return out

    def _chain(self, int32_t h):
        out = []
        cdef int32_t s = self.queues.links[h].next
        while s != h:
            out.append(self.skey[s])
            s = self.queues.links[s].next
        return out

    def _queue(self):
        """Q, the resident HIR blocks, from its front (the next victim) to its end."""
        return self._chain(self.q_head)

    def _nonresident(self):
        """Non-resident HIR keys, the first to be dropped by the S bound first."""
        return self._chain(self.nr_head)

    def _resident(self):
        """Resident keys: the LIR blocks in S order (bottom first), then Q from
        its front (the next victim) to its end."""
        return [k for k, st in self._stack() if st == "L"] + self._queue()

    def _check(self):
        """Assert every invariant: S, Q and NR well linked and consistent with
        the states, units and counts add up, the index holds exactly the
        residents and the non-resident entries, the bounds hold."""
        cdef int32_t s, prev
        cdef Py_ssize_t n = 0, n_lir = 0, n_hir_s = 0, n_nr_s = 0, n_q = 0, n_nr = 0
        cdef int64_t u = 0, u_lir = 0, u_q = 0
        cdef uint8_t st
        # stack S
        prev = S_HEAD
        s = self.stack.links[S_HEAD].next
        bottom = s
        while s != S_HEAD:
            assert 1 <= s <= self.nslots, f"S holds a bad slot {s}"
            assert self.stack.links[s].prev == prev, f"S is badly linked at {s}"
            st = self.state[s]
            assert st & IN_S, f"slot {s} on S lacks the IN_S flag"
            assert st & STATUS != PENDING, f"slot {s} on S is pending"
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with S"
            n += 1
            u += self.ssize[s]
            if st & STATUS == LIR:
                n_lir += 1
                u_lir += self.ssize[s]
            elif st & STATUS == HIR:
                n_hir_s += 1
            else:
                n_nr_s += 1
            assert n <= self.nslots, "S loops"
            prev = s
            s = self.stack.links[s].next
        assert self.stack.links[S_HEAD].prev == prev, "S's top is wrong"
        assert u == self.s_units, f"S holds {u} units, s_units says {self.s_units}"
        assert u_lir == self.lir_units, f"LIR units {u_lir}, lir_units says {self.lir_units}"
        if n_lir > 0:
            assert self.state[bottom] & STATUS == LIR, "S's bottom is not LIR"
        # Q
        prev = self.q_head
        s = self.queues.links[self.q_head].next
        while s != self.q_head:
            assert 1 <= s <= self.nslots, f"Q holds a bad slot {s}"
            assert self.queues.links[s].prev == prev, f"Q is badly linked at {s}"
            assert self.state[s] & STATUS == HIR, f"slot {s} on Q is not resident HIR"
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with Q"
            n_q += 1
            u_q += self.ssize[s]
            assert n_q <= self.nslots, "Q loops"
            prev = s
            s = self.queues.links[s].next
        assert self.queues.links[self.q_head].prev == prev, "Q's end is wrong"
        # NR
        prev = self.nr_head
        s = self.queues.links[self.nr_head].next
        while s != self.nr_head:
            assert 1 <= s <= self.nslots, f"NR holds a bad slot {s}"
            assert self.queues.links[s].prev == prev, f"NR is badly linked at {s}"
            assert self.state[s] == NONRES | IN_S, f"slot {s} on NR is not non-resident on S"
            n_nr += 1
            assert n_nr <= self.nslots, "NR loops"
            prev = s
            s = self.queues.links[s].next
        assert self.queues.links[self.nr_head].prev == prev, "NR's end is wrong"
        assert n_nr == n_nr_s == self.nr_count, (
            f"non-resident: {n_nr} queued, {n_nr_s} on S, nr_count {self.nr_count}")
        assert self.resident == n_lir + n_q, f"resident {self.resident} != {n_lir} + {n_q}"
        assert self.used == u_lir + u_q, f"used {self.used} != {u_lir} + {u_q}"
        assert self.index.size == self.resident + self.nr_count, "index holds strays"
        assert self.used <= self.capacity, f"used {self.used} > capacity {self.capacity}"
        assert self.resident <= self.rslots
        assert self.lir_units <= self.llirs, f"LIR set {self.lir_units} > Llirs {self.llirs}"
        assert self.s_units <= self.s_bound or self.nr_count == 0, "S over its bound"
        assert self.nr_count < self.nr_room
