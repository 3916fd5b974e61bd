"""W-TinyLFU as a replay engine: an LRU admission window in front of a segmented
LRU, with a TinyLFU frequency sketch deciding who may enter the main space.

Driven by :func:`tradeoff.cache._engine.drive` (see ``_engine.pxd`` for the
contract of ``hit``/``insert``/``remove``). The window and the two main
segments share one array-backed list structure (``tradeoff._core.dlist``, one
sentinel each) and the base class's index (key -> slot). The sketch (a count-min
sketch of 4-bit counters) and its doorkeeper (a Bloom filter) are plain bit
arrays allocated once in ``__init__``.
"""
import numbers

import numpy as np

cimport cython
from cpython.mem cimport PyMem_RawFree
from libc.math cimport ceil
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memset

from tradeoff._core.dlist cimport (DList, dl_free, dl_insert_before, dl_nbytes, dl_resize,
                                   dl_ring, dl_unlink)
from tradeoff._core.mem cimport mem_zeroed
from tradeoff._core.table cimport i64t_get, i64t_pop, i64t_prefetch
from tradeoff.cache._engine cimport Engine, eng_admit, eng_evict, eng_lookup, eng_release


# a slot's segment
cdef enum:
    SEG_WINDOW = 0
    SEG_PROBATION = 1
    SEG_PROTECTED = 2

# per-row seeds of the sketch's hash: row r hashes mix64(key ^ SEED_r) (the C
# code uses them through PRE0..PRE3 below, checked against SEEDS at import)
cdef uint64_t HALF_MASK = 0x7777777777777777ULL    # each nibble's low three bits

#: the row seeds, for the test model (row r hashes ``mix64(key ^ SEEDS[r])``)
SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)

ctypedef struct Hashes:
    uint64_t h[4]

# SEED_r ^ (SEED_r >> 30): the seeds through mix64's first (linear) step
cdef extern from *:
    """
    #define TRADEOFF_WTLFU_PRE(s) ((uint64_t)(s) ^ ((uint64_t)(s) >> 30))
    #define TRADEOFF_WTLFU_PRE0 TRADEOFF_WTLFU_PRE(0x9E3779B97F4A7C15ULL)
    #define TRADEOFF_WTLFU_PRE1 TRADEOFF_WTLFU_PRE(0xC2B2AE3D27D4EB4FULL)
    #define TRADEOFF_WTLFU_PRE2 TRADEOFF_WTLFU_PRE(0x165667B19E3779F9ULL)
    #define TRADEOFF_WTLFU_PRE3 TRADEOFF_WTLFU_PRE(0xD6E8FEB86659FD93ULL)
    """
    const uint64_t PRE0 "TRADEOFF_WTLFU_PRE0"
    const uint64_t PRE1 "TRADEOFF_WTLFU_PRE1"
    const uint64_t PRE2 "TRADEOFF_WTLFU_PRE2"
    const uint64_t PRE3 "TRADEOFF_WTLFU_PRE3"


cdef inline uint64_t _mix64_rest(uint64_t x) noexcept nogil:
    """mix64 after its first step (x ^= x >> 30): see WTinyLFUEngine._hashes."""
    x *= <uint64_t>0xbf58476d1ce4e5b9
    x ^= x >> 27
    x *= <uint64_t>0x94d049bb133111eb
    x ^= x >> 31
    return x


if (PRE0, PRE1, PRE2, PRE3) != tuple([s ^ (s >> 30) for s in SEEDS]):
    raise ImportError("_wtinylfu: the compiled row seeds differ from SEEDS")


cdef inline Py_ssize_t _pow2_at_least(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t p = 1
    while p < n:
        p <<= 1
    return p


@cython.final
cdef class WTinyLFUEngine(Engine):
    """W-TinyLFU: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache
    Admission Policy", ACM Transactions on Storage 13(4), 2017 (section 4, W-TinyLFU),
    laid out as in Caffeine's simulator (``WindowTinyLfuPolicy``).

    Structure. A *window* LRU of ``win_max`` units and a *main* segmented LRU of
    the rest, split into *probation* and *protected* (at most ``prot_max``
    units). Every list keeps its least recently used object at the head.

    - ``main_max = floor(capacity * (1 - window_ratio))``, ``win_max = capacity -
      main_max``, and at least 1 (then ``main_max = capacity - 1``); so 500 objects
      give a window of 5, 250 give 3 (Caffeine's rounding; libCacheSim truncates
      ``capacity * window_ratio`` instead: 2).
    - ``prot_max = floor(protected_ratio * main_max)``. Probation has no bound of
      its own: it takes whatever main space protected does not use.

    Requests. Every request, hit or miss, first records the key in the sketch.

    - window hit: the object moves to the window's MRU end;
    - probation hit: the object moves to protected's MRU end; while protected
      holds more than ``prot_max`` units its LRU object is demoted to probation's
      MRU end (with unit sizes: at most one);
    - protected hit: the object moves to protected's MRU end;
    - miss: the object enters the window's MRU end. While the window holds more
      than ``win_max`` units, its LRU object (a *candidate*) moves to probation's
      MRU end. Then, while the cache holds more than ``capacity`` units:

      - with a candidate pending (the oldest first): it duels probation's LRU
        object (the *victim*; never another candidate). The candidate stays if
        its estimated frequency is **strictly greater** than the victim's, and
        the victim is evicted; otherwise (ties included) the candidate is
        evicted. A candidate that won keeps dueling the next victim while space
        is still short (with unit sizes one duel always suffices). With no
        victim left in probation, the candidate is evicted (Caffeine's simulator
        then compares the candidate with itself and rejects it).
      - with no candidate (sized mode only: the main had grown past its share
        while the window was under-full): evict probation's LRU, else
        protected's, else the window's.

      Candidates not dueled (the cache was not full) simply stay in probation.
      The same loop also runs while more than ``slots`` objects are resident
      (the bound the caller sized the engine for; a replay's ``slots`` never
      binds).
      No randomness anywhere: Caffeine's production cache admits a losing
      candidate whose estimate is at least 6 at random (1 in 128), against
      hash-flooding attacks; its simulator does not, nor do we: admission is a
      pure function of the request sequence.

    Sketch (TinyLFU). A count-min sketch of depth 4 with 4-bit counters
    (saturating at 15): row ``r`` maps a key to counter ``mix64(key ^ SEED_r) &
    (width - 1)``; ``width = max(16, 4 * P)`` counters per row with ``P`` the
    power of two at least ``slots`` (the most objects resident at once:
    ``min(capacity, requests)`` in a replay), i.e. 8 bytes per cached object as
    in Caffeine. A record increments the key's four counters (all four, not the
    conservative "minimal increment"); the estimate is the minimum of the four,
    plus 1 when the doorkeeper holds the key (so 0..16, not capped at 15).

    Doorkeeper (``doorkeeper=True``). A Bloom filter of ``max(64, Q)`` bits, Q
    the power of two at least ``32 * slots`` (at most 2**32), with 4 hash
    functions ``(mix64(key ^ SEED_r) >> 32) & (bits - 1)`` (about 1% false
    positives with 3 * slots keys in it, Caffeine's membership default). A
    record of a key the doorkeeper does not hold only sets its bits; a key it
    holds increments the sketch.

    Aging (the paper's reset). Every record counts one *addition* (those the
    doorkeeper absorbs and saturated ones too). When the additions reach the
    sample size ``W = sample_factor * capacity``, every counter is halved
    (floor), the doorkeeper is cleared and the additions are halved too (so the
    next reset comes W/2 records later, as in the paper: "we divide it and all
    other counters by 2"; Caffeine also subtracts a quarter of the odd counters).

    Sized mode (capacity counts bytes). ``win_max``, ``main_max`` and
    ``prot_max`` are the same formulas in bytes, and every "holds more than"
    above compares byte sums; an object larger than the window passes straight
    through it as a candidate, one larger than ``prot_max`` is demoted back at
    once. The sketch counts objects, so its width uses ``slots`` and its sample
    size uses the object count a full cache would hold at the current mean
    resident size: a reset happens when ``additions * used >= sample_factor *
    capacity * resident`` (with unit sizes that is ``additions >= W``; an empty
    cache uses W).

    ``remove`` (expiry, a delete) drops a resident object from its segment; the
    sketch keeps its counts.

    Parameters:

    - ``window_ratio`` (0 <= r <= 1, default 0.01): the window's share, as above.
    - ``protected_ratio`` (0 <= r <= 1, default 0.8): protected's share of main.
    - ``sample_factor`` (> 0, default 10): the sample size in units of capacity.
    - ``doorkeeper`` (default True): put the Bloom filter in front of the sketch.

    Differences from libCacheSim's ``WTinyLFU`` (0.3.5; default main ``SLRU``,
    window 0.01), which explain its different hit ratios on the reference
    traces: its window is ``floor(0.01 * capacity)``; until the first eviction
    the whole cache is the window, and its SLRU (``seg-size=1:4``) puts new main
    objects into protected while probation (20%) is full; its frequencies are a
    counting Bloom filter of 32-bit counters sized for the main's object count
    at 0.1% error (10 hashes), which overestimates once more distinct keys pass
    through; it counts misses, main hits and each window candidate again, not
    window hits; it halves the counters only after ``32 * main`` main hits, and
    it has no doorkeeper.

    Memory: per slot 8 (key) + 8 (size) + 8 (links) + 1 (segment) bytes, the
    index, and the sketch (8 bytes per slot, rounded up to a power of two) and
    doorkeeper (4 bytes per slot, likewise). Hits and misses are O(1); a reset
    is O(slots) every W/2 requests, so O(1) amortized.

    A key seen twice outlives a scan of one-time keys that flushes LRU:

    >>> from tradeoff.cache import replay
    >>> import numpy as np
    >>> keys = np.array([1, 1, 2, 3, 4, 5, 1], dtype=np.int64)
    >>> replay(keys, "wtinylfu", 2).hits, replay(keys, "lru", 2).hits
    (2, 1)
    """
    cdef DList lists            # nodes 1..nslots are slots; s_win, s_prob, s_prot the sentinels
    cdef uint8_t* seg           # slot -> SEG_*
    cdef int32_t s_win, s_prob, s_prot
    cdef readonly int64_t win_max, main_max, prot_max
    cdef readonly int64_t win_used, prob_used, prot_used    # units per segment
    cdef readonly Py_ssize_t n_win, n_prob, n_prot         # objects per segment
    cdef readonly double window_ratio, protected_ratio, sample_factor
    cdef readonly bint doorkeeper
    # the sketch: 4 rows of `width` 4-bit counters, 16 to a word, row after row
    cdef uint64_t* sketch
    cdef readonly Py_ssize_t width
    cdef uint64_t width_mask
    cdef Py_ssize_t row_words
    # the doorkeeper: door_bits bits
    cdef uint64_t* door
    cdef readonly Py_ssize_t door_bits
    cdef uint64_t door_mask
    cdef Py_ssize_t max_res            # the most objects resident at once (slots)
    cdef readonly int64_t additions    # records since the last reset (halved at a reset)
    cdef readonly int64_t resets
    cdef double sample_limit           # sample_factor * capacity
    cdef int64_t add_limit             # additions >= add_limit: maybe a reset (see __init__)
    # the row hashes of the last duel's victim (a pure function of its key): a
    # victim that beat the candidate is probation's LRU again at the next duel
    cdef Hashes vic_hs
    cdef int64_t vic_key
    cdef bint vic_valid

    def __cinit__(self):
        self.lists.links = NULL
        self.lists.n = 0
        self.seg = NULL
        self.sketch = NULL
        self.door = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *, window_ratio=0.01,
                 protected_ratio=0.8, sample_factor=10, doorkeeper=True):
        cdef Py_ssize_t nslots, objects, p
        if not _is_real(window_ratio) or not 0 <= window_ratio <= 1:
            raise ValueError(f"window_ratio must be a number in [0, 1], got {window_ratio!r}")
        if not _is_real(protected_ratio) or not 0 <= protected_ratio <= 1:
            raise ValueError(f"protected_ratio must be a number in [0, 1], got {protected_ratio!r}")
        if not _is_real(sample_factor) or not 0 < sample_factor < float("inf"):
            raise ValueError(f"sample_factor must be a finite number > 0, got {sample_factor!r}")
        if not isinstance(doorkeeper, bool):
            raise ValueError(f"doorkeeper must be True or False, got {doorkeeper!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.window_ratio = window_ratio
        self.protected_ratio = protected_ratio
        self.sample_factor = sample_factor
        self.doorkeeper = doorkeeper
        self.main_max = <int64_t>(<double>capacity * (1.0 - self.window_ratio))
        self.win_max = capacity - self.main_max
        if self.win_max < 1:
            self.win_max = 1
            self.main_max = capacity - 1
        self.prot_max = <int64_t>(self.protected_ratio * <double>self.main_max)
        self.sample_limit = self.sample_factor * <double>capacity
        # with additions < 2**53 (exact as a double), additions >= sample_limit is
        # additions >= ceil(sample_limit); _record tests the double past that
        if self.sample_limit <= 9007199254740992.0:
            self.add_limit = <int64_t>ceil(self.sample_limit)
        else:
            self.add_limit = <int64_t>9007199254740992
        self.vic_valid = False
        # an insert adds before it evicts: one slot more than can stay resident
        self.max_res = slots
        nslots = slots + 1
        self._base_init(capacity, nslots, nslots, sized)
        dl_resize(&self.lists, nslots + 4)
        self.s_win = <int32_t>(nslots + 1)
        self.s_prob = <int32_t>(nslots + 2)
        self.s_prot = <int32_t>(nslots + 3)
        dl_ring(&self.lists, self.s_win)
        dl_ring(&self.lists, self.s_prob)
        dl_ring(&self.lists, self.s_prot)
        mem_zeroed(<void**>&self.seg, nslots + 1)
        objects = slots
        p = _pow2_at_least(objects)
        self.width = max(16, 4 * p)
        self.width_mask = <uint64_t>(self.width - 1)
        self.row_words = self.width // 16
        mem_zeroed(<void**>&self.sketch, 4 * self.row_words * sizeof(uint64_t))
        self.door_bits = min(<Py_ssize_t>1 << 32, max(64, _pow2_at_least(32 * objects)))
        self.door_mask = <uint64_t>(self.door_bits - 1)
        if self.doorkeeper:
            mem_zeroed(<void**>&self.door, (self.door_bits // 64) * sizeof(uint64_t))
        self.additions = 0
        self.resets = 0

    def __dealloc__(self):
        dl_free(&self.lists)
        PyMem_RawFree(self.seg)
        PyMem_RawFree(self.sketch)
        PyMem_RawFree(self.door)

    # -- the sketch

    cdef inline void _hashes(self, int64_t key, Hashes* hs) noexcept nogil:
        """hs.h[r] = mix64(key ^ SEED_r). The first step of mix64 (x ^= x >> 30) is
        linear, so it is taken once for the key and once (at compile time) for
        each seed: (k ^ S) ^ ((k ^ S) >> 30) == (k ^ (k >> 30)) ^ (S ^ (S >> 30))."""
        cdef uint64_t t = <uint64_t>key
        t ^= t >> 30
        hs.h[0] = _mix64_rest(t ^ PRE0)
        hs.h[1] = _mix64_rest(t ^ PRE1)
        hs.h[2] = _mix64_rest(t ^ PRE2)
        hs.h[3] = _mix64_rest(t ^ PRE3)

    cdef inline bint _door_has(self, const Hashes* hs) noexcept nogil:
        cdef uint64_t b
        cdef int r
        for r in range(4):
            b = (hs.h[r] >> 32) & self.door_mask
            if not (self.door[b >> 6] >> (b & 63)) & 1:
                return False
        return True

    cdef inline int _estimate(self, int64_t key) noexcept nogil:
        """The key's estimated frequency: the smallest of its four counters, +1
        when the doorkeeper holds it."""
        cdef Hashes hs
        self._hashes(key, &hs)
        return self._estimate_h(&hs)

    cdef inline int _estimate_h(self, const Hashes* hs) noexcept nogil:
        """_estimate, for a key whose row hashes are hs."""
        cdef uint64_t i
        cdef int r, c, est = 15
        for r in range(4):
            i = hs.h[r] & self.width_mask
            c = <int>((self.sketch[r * self.row_words + <Py_ssize_t>(i >> 4)] >> ((i & 15) << 2)) & 15)
            if c < est:
                est = c
        if self.doorkeeper and self._door_has(hs):
            est += 1
        return est

    cdef inline void _record(self, int64_t key) noexcept nogil:
        """Count one occurrence of key; age the sketch when the sample is full."""
        cdef Hashes hs
        cdef uint64_t i, b, sh
        cdef uint64_t* w
        cdef int r
        cdef bint absorbed = False
        self._hashes(key, &hs)
        if self.doorkeeper and not self._door_has(&hs):
            for r in range(4):
                b = (hs.h[r] >> 32) & self.door_mask
                self.door[b >> 6] |= (<uint64_t>1) << (b & 63)
            absorbed = True
        if not absorbed:
            for r in range(4):
                i = hs.h[r] & self.width_mask
                w = &self.sketch[r * self.row_words + <Py_ssize_t>(i >> 4)]
                sh = (i & 15) << 2
                if ((w[0] >> sh) & 15) != 15:
                    w[0] += (<uint64_t>1) << sh
        self.additions += 1
        if self.sized and self.used > 0:
            if (<double>self.additions * <double>self.used
                    >= self.sample_factor * <double>self.capacity * <double>self.resident):
                self._reset()
        elif self.additions >= self.add_limit and <double>self.additions >= self.sample_limit:
            self._reset()

    cdef void _reset(self) noexcept nogil:
        cdef Py_ssize_t i
        for i in range(4 * self.row_words):
            self.sketch[i] = (self.sketch[i] >> 1) & HALF_MASK
        if self.doorkeeper:
            memset(self.door, 0, (self.door_bits // 64) * sizeof(uint64_t))
        self.additions >>= 1
        self.resets += 1

    # -- the lists

    cdef inline void _move(self, int32_t s, int32_t sentinel, uint8_t to) noexcept nogil:
        """Move slot s from its segment to the MRU end of another one."""
        cdef int64_t size = self.ssize[s]
        cdef uint8_t frm = self.seg[s]
        dl_unlink(&self.lists, s)
        dl_insert_before(&self.lists, sentinel, s)
        self.seg[s] = to
        self._account(frm, -size, -1)
        self._account(to, size, 1)

    cdef inline void _account(self, uint8_t which, int64_t size, Py_ssize_t n) noexcept nogil:
        if which == SEG_WINDOW:
            self.win_used += size
            self.n_win += n
        elif which == SEG_PROBATION:
            self.prob_used += size
            self.n_prob += n
        else:
            self.prot_used += size
            self.n_prot += n

    cdef inline void _unlist(self, int32_t s) noexcept nogil:
        """Take slot s off its segment."""
        dl_unlink(&self.lists, s)
        self._account(self.seg[s], -self.ssize[s], -1)

    cdef inline void _evict(self, int32_t s) noexcept nogil:
        self._unlist(s)
        eng_evict(self, s)

    # -- the policy

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s
        cdef int32_t d
        self._record(key)
        s = eng_lookup(self, key)     # a miss leaves the bucket for insert()'s eng_admit
        if s < 0:
            return False
        # the moves of _use, written out: the replay's hot path makes no call here
        if self.seg[s] == SEG_WINDOW:
            dl_unlink(&self.lists, <int32_t>s)
            dl_insert_before(&self.lists, self.s_win, <int32_t>s)
        elif self.seg[s] == SEG_PROTECTED:
            dl_unlink(&self.lists, <int32_t>s)
            dl_insert_before(&self.lists, self.s_prot, <int32_t>s)
        else:
            self._move(<int32_t>s, self.s_prot, SEG_PROTECTED)
            while self.prot_used > self.prot_max:
                d = self.lists.links[self.s_prot].next
                self._move(d, self.s_prob, SEG_PROBATION)
        return True

    cdef void touch(self, int64_t key, int32_t s) noexcept nogil:
        self._record(key)
        self._use(s)

    cdef inline void _use(self, int32_t s) noexcept nogil:
        """A hit on resident slot s (its key already recorded): the LRU moves."""
        cdef int32_t d
        if self.seg[s] == SEG_WINDOW:
            dl_unlink(&self.lists, <int32_t>s)
            dl_insert_before(&self.lists, self.s_win, <int32_t>s)
        elif self.seg[s] == SEG_PROTECTED:
            dl_unlink(&self.lists, <int32_t>s)
            dl_insert_before(&self.lists, self.s_prot, <int32_t>s)
        else:
            self._move(<int32_t>s, self.s_prot, SEG_PROTECTED)
            while self.prot_used > self.prot_max:
                d = self.lists.links[self.s_prot].next
                self._move(d, self.s_prob, SEG_PROBATION)

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int32_t s, cand = 0, victim, nxt
        cdef Py_ssize_t ncand = 0
        cdef int cand_est = -1
        s = eng_admit(self, key, size)
        self.seg[s] = SEG_WINDOW
        dl_insert_before(&self.lists, self.s_win, s)
        self.win_used += size
        self.n_win += 1
        # the window's overflow moves to probation as candidates, oldest first
        while self.win_used > self.win_max:
            s = self.lists.links[self.s_win].next
            self._move(s, self.s_prob, SEG_PROBATION)
            if ncand == 0:
                cand = s
            ncand += 1
        while self.used > self.capacity or self.resident > self.max_res:
            if ncand > 0:
                if self.n_prob > ncand:
                    # probation's LRU end holds a non-candidate: duel it
                    victim = self.lists.links[self.s_prob].next
                    if cand_est < 0:
                        cand_est = self._estimate(self.skey[cand])
                    if not self.vic_valid or self.vic_key != self.skey[victim]:
                        self.vic_key = self.skey[victim]
                        self._hashes(self.vic_key, &self.vic_hs)
                        self.vic_valid = True
                    if cand_est > self._estimate_h(&self.vic_hs):
                        self._evict(victim)
                        continue
                nxt = self.lists.links[cand].next
                self._evict(cand)
                cand = nxt
                cand_est = -1
                ncand -= 1
            elif self.n_prob > 0:
                self._evict(self.lists.links[self.s_prob].next)
            elif self.n_prot > 0:
                self._evict(self.lists.links[self.s_prot].next)
            else:
                self._evict(self.lists.links[self.s_win].next)
        # the next insert's duel evicts the window's next candidate or probation's LRU
        # object, deleting it from the index: start loading both buckets now (a hint:
        # no effect on any decision)
        if self.n_win > 0:
            i64t_prefetch(&self.index, self.skey[self.lists.links[self.s_win].next])
        if self.n_prob > 0:
            i64t_prefetch(&self.index, self.skey[self.lists.links[self.s_prob].next])

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_pop(&self.index, key)
        if s < 0:
            return False
        self._unlist(<int32_t>s)
        eng_release(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        cdef Py_ssize_t n = Engine.nbytes(self) + dl_nbytes(&self.lists) + (self.nslots + 1)
        n += 4 * self.row_words * <Py_ssize_t>sizeof(uint64_t)
        if self.doorkeeper:
            n += (self.door_bits // 64) * <Py_ssize_t>sizeof(uint64_t)
        return n

    # -- Python-level views, for tests

    def _estimate_of(self, int64_t key):
        """The sketch's estimate for key (0..16), as a duel reads it."""
        return self._estimate(key)

    def _sketch(self):
        """The counters as a (4, width) uint8 array (a copy)."""
        words = np.frombuffer((<char*>self.sketch)[:4 * self.row_words * 8], dtype="<u8")
        nib = np.empty((words.size, 16), dtype=np.uint8)
        for j in range(16):
            nib[:, j] = (words >> np.uint64(4 * j)) & np.uint64(15)
        return nib.reshape(4, self.width)

    def _door(self):
        """The set bit positions of the doorkeeper (empty without one)."""
        if not self.doorkeeper:
            return set()
        words = np.frombuffer((<char*>self.door)[:(self.door_bits // 64) * 8], dtype="<u8")
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        return set(np.flatnonzero(bits).tolist())

    def _list(self, int32_t sentinel):
        out = []
        cdef int32_t s = self.lists.links[sentinel].next
        while s != sentinel:
            out.append(self.skey[s])
            s = self.lists.links[s].next
        return out

    def _segments(self):
        """{"window": [...], "probation": [...], "protected": [...]}, each LRU first."""
        return {"window": self._list(self.s_win), "probation": self._list(self.s_prob),
                "protected": self._list(self.s_prot)}

    def _resident(self):
        """Resident keys: probation, then protected, then the window, each LRU
        first (so the first key is the next duel's victim in a full cache)."""
        seg = self._segments()
        return seg["probation"] + seg["protected"] + seg["window"]

    def _check(self):
        cdef int32_t sentinel, s, prev
        cdef int64_t units
        cdef Py_ssize_t count, total = 0
        cdef int64_t all_units = 0
        seen = set()
        for sentinel, which, want_units, want_n in (
                (self.s_win, SEG_WINDOW, self.win_used, self.n_win),
                (self.s_prob, SEG_PROBATION, self.prob_used, self.n_prob),
                (self.s_prot, SEG_PROTECTED, self.prot_used, self.n_prot)):
            prev = sentinel
            s = self.lists.links[sentinel].next
            units = 0
            count = 0
            while s != sentinel:
                assert 1 <= s <= self.nslots, f"slot {s} out of range"
                assert self.lists.links[s].prev == prev, "list links are not mutual"
                assert self.seg[s] == which, f"slot {s} tagged {self.seg[s]}, listed in {which}"
                assert s not in seen, f"slot {s} in two lists"
                seen.add(s)
                assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the lists"
                assert self.ssize[s] >= 1
                units += self.ssize[s]
                count += 1
                prev = s
                s = self.lists.links[s].next
            assert self.lists.links[sentinel].prev == prev, "list tail is wrong"
            assert units == want_units, f"segment {which}: sizes add up to {units}, not {want_units}"
            assert count == want_n, f"segment {which}: {count} objects, not {want_n}"
            total += count
            all_units += units
        assert total == self.resident == self.index.size, \
            f"{total} listed, resident {self.resident}, index {self.index.size}"
        assert all_units == self.used
        assert self.used <= self.capacity, f"used {self.used} > capacity {self.capacity}"
        assert self.win_used <= self.win_max, f"window {self.win_used} > {self.win_max}"
        assert self.prot_used <= self.prot_max, f"protected {self.prot_used} > {self.prot_max}"
        assert self.resident <= self.max_res, f"{self.resident} resident, slots {self.max_res}"
        assert 0 <= self.additions
        if not self.sized:
            assert self.additions < self.sample_limit


def _is_real(x):
    return (isinstance(x, numbers.Real) and not isinstance(x, bool)
            and x == x)        # not NaN
