"""The W-TinyLFU replay engine against a small model written from the paper.

The model (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache
Admission Policy", ACM TOS 2017, with Caffeine's simulator layout) keeps its
three LRU lists as ``OrderedDict``s (least recent first), its count-min sketch
as four Python lists of counters and its doorkeeper as a set of bit positions,
and recomputes everything the obvious way. The hash is the engine's (splitmix64
with per-row seeds), written again here, so that both see the same collisions.

A hypothesis state machine applies the same requests (unit sizes, or random
sizes in sized mode) and deletes to engine and model and compares, after every
step, the hit/miss, the keys each insert evicts, the three lists in order, the
whole sketch and doorkeeper, and runs the engine's ``_check()`` (the shared
machine of ``engine_machine``). ``replay`` through the public API must give the
model's counts, also with sizes and with expiry (``times``/``ttl``).
"""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from cache_models import drive_model
from engine_machine import EngineMachine
from tradeoff.cache import make_engine, policy_params, replay
from tradeoff.cache._wtinylfu import SEEDS, WTinyLFUEngine
from pymodels import mix64

SETTINGS = settings(max_examples=80, deadline=None)
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------- model




def pow2_at_least(n):
    p = 1
    while p < n:
        p *= 2
    return p


class WTinyLFUModel:
    """W-TinyLFU, section 4 of the paper, laid out as Caffeine's simulator does.

    - A window LRU of ``win_max`` units and a main SLRU: probation (unbounded)
      and protected (at most ``prot_max``). ``main = floor(capacity * (1 -
      window_ratio))``, ``win_max = capacity - main`` (at least 1),
      ``prot_max = floor(protected_ratio * main)``.
    - Every request is recorded in the TinyLFU sketch first.
    - Hits: window and protected move to their MRU end; probation moves to
      protected's MRU end, demoting protected's LRU objects to probation's MRU
      end while protected is over its share.
    - Misses: the object enters the window; the window's overflow moves to
      probation as candidates (oldest first). While the cache is over capacity,
      the oldest candidate duels probation's LRU non-candidate: the candidate
      stays only if its estimate is strictly greater (then the victim goes and
      the same candidate duels on); otherwise, or with no victim, it is
      evicted. Without candidates: evict probation's LRU, else protected's, else
      the window's.
    - Sketch: 4 rows of ``width`` 4-bit counters (saturating at 15); row r uses
      ``mix64(key ^ SEEDS[r]) & (width - 1)``. Doorkeeper: a Bloom filter whose
      4 bits are ``(mix64(key ^ SEEDS[r]) >> 32) & (bits - 1)``; a key it does
      not hold only enters it; otherwise its counters increase. Estimate: the
      row minimum, +1 when the doorkeeper holds the key.
    - Reset: each record is one addition; when the additions reach
      ``sample_factor * capacity`` (sized: ``additions * used >= sample_factor
      * capacity * resident`` once something is cached), halve every counter
      and the additions, and clear the doorkeeper.
    """

    def __init__(self, capacity, slots=None, sized=False, *, window_ratio=0.01,
                 protected_ratio=0.8, sample_factor=10, doorkeeper=True):
        self.capacity = capacity
        self.sized = sized
        objects = slots if slots is not None else capacity
        main = int(capacity * (1.0 - window_ratio))
        self.win_max = capacity - main
        if self.win_max < 1:
            self.win_max, main = 1, capacity - 1
        self.prot_max = int(protected_ratio * main)
        self.sample_factor = float(sample_factor)
        self.width = max(16, 4 * pow2_at_least(objects))
        self.rows = [[0] * self.width for _ in range(4)]
        self.door_bits = min(1 << 32, max(64, pow2_at_least(32 * objects)))
        self.door = set() if doorkeeper else None
        self.additions = 0
        self.resets = 0
        self.window, self.probation, self.protected = OrderedDict(), OrderedDict(), OrderedDict()

    # -- the sketch

    def _hashes(self, key):
        return [mix64((key & MASK64) ^ seed) for seed in SEEDS]

    def _door_bits_of(self, key):
        return [(h >> 32) & (self.door_bits - 1) for h in self._hashes(key)]

    def estimate(self, key):
        est = min(self.rows[r][h & (self.width - 1)] for r, h in enumerate(self._hashes(key)))
        if self.door is not None and all(b in self.door for b in self._door_bits_of(key)):
            est += 1
        return est

    def _record(self, key):
        bits = self._door_bits_of(key)
        if self.door is not None and not all(b in self.door for b in bits):
            self.door.update(bits)
        else:
            for r, h in enumerate(self._hashes(key)):
                i = h & (self.width - 1)
                self.rows[r][i] = min(15, self.rows[r][i] + 1)
        self.additions += 1
        if self.sized and self.used > 0:
            full = (float(self.additions) * float(self.used)
                    >= self.sample_factor * float(self.capacity) * float(self.resident))
        else:
            full = self.additions >= self.sample_factor * self.capacity
        if full:
            self.resets += 1
            self.rows = [[c // 2 for c in row] for row in self.rows]
            self.additions //= 2
            if self.door is not None:
                self.door.clear()

    # -- the cache

    @property
    def used(self):
        return sum(self.window.values()) + sum(self.probation.values()) + sum(self.protected.values())

    @property
    def resident(self):
        return len(self.window) + len(self.probation) + len(self.protected)

    def hit(self, key):
        self._record(key)
        if key in self.window:
            self.window.move_to_end(key)
        elif key in self.protected:
            self.protected.move_to_end(key)
        elif key in self.probation:
            self.protected[key] = self.probation.pop(key)
            while sum(self.protected.values()) > self.prot_max:
                k, s = self.protected.popitem(last=False)
                self.probation[k] = s
        else:
            return False
        return True

    def insert(self, key, size=1):
        self.window[key] = size
        candidates = []
        while sum(self.window.values()) > self.win_max:
            k, s = self.window.popitem(last=False)
            self.probation[k] = s
            candidates.append(k)
        evicted = []
        while self.used > self.capacity:
            if candidates:
                cand = candidates[0]
                victim = next(iter(self.probation))
                if victim not in candidates and self.estimate(cand) > self.estimate(victim):
                    del self.probation[victim]
                    evicted.append(victim)
                else:
                    del self.probation[cand]
                    candidates.pop(0)
                    evicted.append(cand)
            else:
                seg = next(s for s in (self.probation, self.protected, self.window) if s)
                evicted.append(seg.popitem(last=False)[0])
        return evicted

    def remove(self, key):
        for seg in (self.window, self.probation, self.protected):
            if key in seg:
                del seg[key]
                return True
        return False

    def segments(self):
        return {"window": list(self.window), "probation": list(self.probation),
                "protected": list(self.protected)}


def model_replay(capacity, keys, sizes=None, times=None, ttl=None, **params):
    """(hits, hit bytes, expired) by the replay definition: purge what has
    expired (oldest first), then a request hits or inserts (an object larger
    than the cache is not admitted). ``slots`` as the replay sizes it."""
    m = WTinyLFUModel(capacity, max(1, min(capacity, len(keys))), sizes is not None, **params)
    return drive_model(m, keys, capacity, sizes, times, ttl)


# ---------------------------------------------------------------- state machine

params_st = st.fixed_dictionaries({
    "window_ratio": st.sampled_from([0.0, 0.01, 0.2, 0.34, 0.5, 1.0]),
    "protected_ratio": st.sampled_from([0.0, 0.5, 0.8, 1.0]),
    "sample_factor": st.sampled_from([0.3, 1, 2.5, 10]),
    "doorkeeper": st.booleans(),
})


class EngineVersusModel(EngineMachine):
    """Requests and deletes on a fresh engine and model; compare after each step."""

    KEYS = st.integers(0, 20)
    SIZES = st.integers(1, 12)

    @initialize(sized=st.booleans(), capacity=st.integers(1, 14), params=params_st)
    def setup(self, sized, capacity, params):
        if sized:
            capacity *= 3
        self.start(make_engine("wtinylfu", capacity, slots=capacity, sized=sized, **params),
                   WTinyLFUModel(capacity, capacity, sized, **params), capacity, sized)

    def compare(self):
        e, m = self.engine, self.model
        assert e._segments() == m.segments()
        assert (e.used, e.resident) == (m.used, m.resident)
        assert (e.additions, e.resets) == (m.additions, m.resets)
        assert e._sketch().tolist() == m.rows
        assert e._door() == (m.door or set())
        for k in (0, 7, 20):
            assert e._estimate_of(k) == m.estimate(k)


EngineVersusModel.TestCase.settings = settings(
    max_examples=120, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestEngineVersusModel = EngineVersusModel.TestCase


# ---------------------------------------------------------------- replay


@st.composite
def traces(draw):
    n_keys = draw(st.integers(1, 25))
    n = draw(st.integers(0, 200))
    keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return keys, sizes, [int(t) for t in np.cumsum(steps)] if n else []


@SETTINGS
@given(traces(), params_st, st.integers(1, 20))
def test_replay_equals_the_model(trace, params, capacity):
    keys, _, _ = trace
    r = replay(np.array(keys, dtype=np.int64), "wtinylfu", capacity, **params)
    assert r.hits == model_replay(capacity, keys, **params)[0]
    assert r.requests == len(keys) and r.params == params


@SETTINGS
@given(traces(), params_st, st.integers(1, 40))
def test_replay_with_sizes_equals_the_model(trace, params, capacity):
    keys, sizes, _ = trace
    r = replay(np.array(keys, dtype=np.int64), "wtinylfu", capacity,
               sizes=np.array(sizes, dtype=np.int64), **params)
    hits, hit_bytes, _ = model_replay(capacity, keys, sizes, **params)
    assert (r.hits, r.hit_bytes) == (hits, hit_bytes)


@SETTINGS
@given(traces(), params_st, st.integers(1, 30), st.integers(1, 12), st.booleans())
def test_replay_with_expiry_equals_the_model(trace, params, capacity, ttl, with_sizes):
    keys, sizes, times = trace
    r = replay(np.array(keys, dtype=np.int64), "wtinylfu", capacity,
               sizes=np.array(sizes, dtype=np.int64) if with_sizes else None,
               times=np.array(times, dtype=np.int64), ttl=ttl, **params)
    assert (r.hits, r.hit_bytes, r.expired) == model_replay(
        capacity, keys, sizes if with_sizes else None, times, ttl, **params)


def test_engine_equals_the_model_on_a_skewed_trace():
    # long enough for many resets, duels, saturated counters and sketch collisions
    rng = np.random.default_rng(5)
    keys = (rng.zipf(1.2, 5000) % 400).tolist()
    for cap, params in ((50, {}), (120, {"doorkeeper": False, "sample_factor": 3})):
        e = make_engine("wtinylfu", cap, **params)
        m = WTinyLFUModel(cap, cap, **params)
        peak = 0
        for i, k in enumerate(keys):
            assert e._hit(k) == m.hit(k)
            if k not in m.window and k not in m.probation and k not in m.protected:
                assert e._insert(k) == m.insert(k)
            if i % 97 == 0:
                sketch = e._sketch()
                assert sketch.tolist() == m.rows
                peak = max(peak, sketch.max())
        assert peak == 15
        assert e._segments() == m.segments() and e.resets == m.resets > 10
        assert replay(np.array(keys, dtype=np.int64), "wtinylfu", cap, **params).hits == \
            model_replay(cap, keys, **params)[0]


# ---------------------------------------------------------------- examples


def test_shares_follow_caffeines_rounding():
    def shares(capacity, **kw):
        e = WTinyLFUEngine(capacity, capacity, False, **kw)
        return e.win_max, e.main_max, e.prot_max
    assert shares(500) == (5, 495, 396)
    assert shares(250) == (3, 247, 197)        # floor(247.5); libCacheSim's window: 2
    assert shares(100) == (1, 99, 79)
    assert shares(1) == (1, 0, 0)
    assert shares(10, window_ratio=0) == (1, 9, 7)
    assert shares(10, window_ratio=1, protected_ratio=0.5) == (10, 0, 0)


def test_a_candidate_needs_a_strictly_higher_estimate():
    # capacity 10: window 1, main 9. Keys 1..10 fill it (1..9 spilled to probation).
    e = make_engine("wtinylfu", 10)
    for k in range(1, 11):
        assert not e._access(k)
    assert e._segments() == {"window": [10], "probation": list(range(1, 10)), "protected": []}
    # 11 pushes candidate 10 out of the window; 10 and victim 1 were both seen
    # once (the doorkeeper holds them: estimate 1): a tie rejects the candidate
    assert e._estimate_of(10) == e._estimate_of(1) == 1
    assert not e._hit(11)
    assert e._insert(11) == [10]
    # seen three times, 11 beats victim 1 when 12 pushes it out of the window
    assert e._access(11) and e._access(11)
    assert e._estimate_of(11) == 3
    assert not e._hit(12)
    assert e._insert(12) == [1]
    assert e._segments() == {"window": [12], "probation": list(range(2, 10)) + [11],
                             "protected": []}
    # a probation hit promotes to protected
    assert e._access(5)
    assert e._segments()["protected"] == [5]
    e._check()


def test_scan_resistance():
    keys = np.array([1, 1] + list(range(2, 40)) + [1], dtype=np.int64)
    assert replay(keys, "wtinylfu", 4).hits == 2
    assert replay(keys, "lru", 4).hits == 1


def test_doorkeeper_absorbs_first_occurrences():
    e = make_engine("wtinylfu", 8)
    e._hit(42)
    assert e._estimate_of(42) == 1 and not e._sketch().any() and len(e._door()) > 0
    e._hit(42)
    assert e._estimate_of(42) == 2 and e._sketch().sum() == 4
    d = make_engine("wtinylfu", 8, doorkeeper=False)
    d._hit(42)
    assert d._estimate_of(42) == 1 and d._sketch().sum() == 4 and d._door() == set()


def test_counters_saturate_and_reset_halves_them():
    e = make_engine("wtinylfu", 4, sample_factor=5, doorkeeper=False)   # W = 20
    for _ in range(19):
        e._hit(3)
    assert e._estimate_of(3) == 15 and e.additions == 19 and e.resets == 0
    e._hit(3)                   # the 20th record: halve counters (15 -> 7) and additions
    assert e._estimate_of(3) == 7 and e.additions == 10 and e.resets == 1
    for _ in range(10):         # the sample is full again after W/2 more records
        e._hit(3)
    assert e.resets == 2 and e.additions == 10 and e._estimate_of(3) == 7
    e._check()


def test_sized_window_and_candidates_count_bytes():
    # 100 bytes: window 1 byte, main 99, protected 79; every object passes the
    # window as a candidate
    e = make_engine("wtinylfu", 100, sized=True)
    for k, s in ((1, 40), (2, 40), (3, 15)):
        e._access(k, s)
    assert e._segments() == {"window": [], "probation": [1, 2, 3], "protected": []}
    e._access(1, 40)
    e._access(1, 40)                         # 1 is in protected, seen three times
    assert e._segments()["protected"] == [1]
    # 4 (50 bytes) is new: it duels victim 2 (tie: 4 is rejected) ...
    assert not e._hit(4) and e._insert(4, 50) == [4]
    # ... unless it is more frequent than the victims it displaces
    for _ in range(3):
        e._hit(4)
    assert e._insert(4, 50) == [2, 3]
    assert e.used == 90
    e._check()


def test_sized_main_over_its_share_is_trimmed_without_a_duel():
    # window 50 bytes, main 50: spilled candidates may fill main past its share
    # while the cache is not full; once the window has room again, an insert
    # that overflows the cache with no candidate evicts probation's LRU
    e = make_engine("wtinylfu", 100, sized=True, window_ratio=0.5)
    for k, s in ((1, 40), (2, 30), (3, 30)):
        e._access(k, s)
    assert e._segments() == {"window": [3], "probation": [1, 2], "protected": []}
    assert e._remove(3)
    e._access(4, 10)
    assert not e._hit(5) and e._insert(5, 25) == [1]
    assert e._segments() == {"window": [4, 5], "probation": [2], "protected": []}
    e._check()


def test_never_more_residents_than_slots():
    e = make_engine("wtinylfu", 100, slots=3)
    for k in range(10):
        e._access(k)
        e._check()
    assert e.resident == 3


def test_remove_keeps_the_history():
    e = make_engine("wtinylfu", 5)
    e._access(1)
    e._access(1)
    assert e._remove(1) and not e._remove(1)
    assert e._estimate_of(1) == 2 and e.resident == 0
    e._check()


def test_memory_counts_the_sketch_and_the_doorkeeper():
    keys = np.arange(1000, dtype=np.int64) % 300
    with_door = replay(keys, "wtinylfu", 100).memory_bytes
    without = replay(keys, "wtinylfu", 100, doorkeeper=False).memory_bytes
    e = WTinyLFUEngine(100, 100, False)
    assert e.width == 512 and e.door_bits == 4096
    assert with_door - without == 4096 // 8
    assert without > 4 * 512 // 2            # the sketch: 4 rows of 512 nibbles


def test_params():
    assert policy_params("wtinylfu") == {"window_ratio": 0.01, "protected_ratio": 0.8,
                                          "sample_factor": 10, "doorkeeper": True}


@pytest.mark.parametrize("name, value", [
    ("window_ratio", -0.1), ("window_ratio", 1.5), ("window_ratio", float("nan")),
    ("window_ratio", "0.1"), ("window_ratio", True),
    ("protected_ratio", -1), ("protected_ratio", 1.01), ("protected_ratio", None),
    ("sample_factor", 0), ("sample_factor", -3), ("sample_factor", float("inf")),
    ("sample_factor", False),
    ("doorkeeper", 1), ("doorkeeper", "yes"), ("doorkeeper", None),
])
def test_parameters_are_checked(name, value):
    with pytest.raises(ValueError, match=name):
        replay(np.arange(5, dtype=np.int64), "wtinylfu", 2, **{name: value})


def test_unknown_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown parameter"):
        replay(np.arange(5, dtype=np.int64), "wtinylfu", 2, window=0.1)


# ---------------------------------------------------------------- libCacheSim


class LibCacheSimWTinyLFU:
    """What libCacheSim 0.3.5's ``WTinyLFU`` (main ``SLRU``, window 0.01) does,
    restated from its source (``WTinyLFU.c``, ``SLRU.c``, ``minimalIncrementCBF.c``)
    to show where its hit ratios differ from ours. Unit sizes only.

    - window = ``floor(0.01 * C)``, main = the rest, its SLRU segments
      ``floor(main / 5)`` (probation) and ``floor(4 * main / 5)`` (protected);
    - a miss first evicts while the cache is full, then enters the window (so
      until the first eviction the window holds everything). Evicting: while
      the main has room, the window's LRU moves into the main (its lowest
      segment with room); once the main is full, the window's LRU duels the
      main's victim (the LRU of its lowest non-empty segment) and enters only
      with a strictly greater estimate, else it is evicted;
    - SLRU hit: promote to the next segment (protected: move to MRU); a full
      segment demotes its LRU to the MRU of the one below, a full probation
      evicts its LRU;
    - frequencies: a counting Bloom filter of ``ceil(14.38 * main)`` 32-bit
      counters and 10 positions ``(a + i * b) % n`` from two XXH64 of the key;
      +1 on a main hit, on a miss (after the insert) and on every window
      candidate (after it moved or dueled); window hits are not counted;
      every counter is halved after ``32 * main`` main hits.
    """

    def __init__(self, capacity, xxh64):
        self.capacity = capacity
        self.window_cap = int(capacity * 0.01)
        self.main_cap = capacity - self.window_cap
        self.seg_max = [int(1 / 5 * self.main_cap), int(4 / 5 * self.main_cap)]
        self.window = OrderedDict()
        self.seg = [OrderedDict(), OrderedDict()]
        bpe = -np.log(0.001) / 0.480453013918201
        self.n_hashes = int(np.ceil(0.693147180559945 * bpe))
        self.n_counters = int(np.ceil(bpe * self.main_cap))
        self.counters = [0] * self.n_counters
        self.xxh64 = xxh64
        self.main_hits = 0

    def _positions(self, key):
        raw = int(key & MASK64).to_bytes(8, "little")
        a = self.xxh64(raw, seed=0x12345678) & 0xFFFFFFFF
        b = self.xxh64(raw, seed=0x12344321) & 0xFFFFFFFF
        return [((a + i * b) & 0xFFFFFFFF) % self.n_counters for i in range(self.n_hashes)]

    def _estimate(self, key):
        return min(self.counters[x] for x in self._positions(key))

    def _add(self, key):
        for x in self._positions(key):
            self.counters[x] += 1

    def _main_size(self):
        return len(self.seg[0]) + len(self.seg[1])

    def _main_evict(self):
        next(s for s in self.seg if s).popitem(last=False)

    def _main_insert(self, key):
        for i in (0, 1):
            if len(self.seg[i]) < self.seg_max[i]:
                self.seg[i][key] = 1
                return
        while self._main_size() >= self.main_cap:
            self._main_evict()
        self.seg[0][key] = 1

    def _cool(self, i):
        if i == 0:
            self._main_evict()
            return
        k, _ = self.seg[i].popitem(last=False)
        self.seg[i - 1][k] = 1
        while len(self.seg[i - 1]) > self.seg_max[i - 1]:
            self._cool(i - 1)

    def access(self, key):
        if key in self.window:
            self.window.move_to_end(key)
            return True
        if key in self.seg[1]:
            self.seg[1].move_to_end(key)
        elif key in self.seg[0]:
            del self.seg[0][key]
            self.seg[1][key] = 1
            while len(self.seg[1]) > self.seg_max[1]:
                self._cool(1)
        else:
            while len(self.window) + self._main_size() >= self.capacity:
                self._evict()
            self.window[key] = 1
            self._add(key)
            return False
        self._add(key)
        self.main_hits += 1
        if self.main_hits >= 32 * self.main_cap:
            self.main_hits = 0
            self.counters = [c >> 1 for c in self.counters]
        return True

    def _evict(self):
        while self.window:
            cand = next(iter(self.window))
            del self.window[cand]
            if self._main_size() < self.main_cap:
                self._main_insert(cand)
                self._add(cand)
                continue
            victim = next(iter(next(s for s in self.seg if s)))
            if self._estimate(cand) > self._estimate(victim):
                self._main_evict()
                self._main_insert(cand)
            self._add(cand)
            return
        self._main_evict()


@pytest.mark.parametrize("name, capacity", [("multi1", 500), ("gli", 500), ("cs", 100),
                                            ("ps", 200)])
def test_the_libcachesim_restatement_matches_libcachesim(name, capacity):
    """The restatement above gives libcachesim's hit counts exactly, also with
    the keys relabelled (the reference figures were measured with ids + 1:
    libCacheSim's hashed Bloom filter makes its figures depend on the labels)."""
    xxhash = pytest.importorskip("xxhash")
    peers = pytest.importorskip("tradeoff.suites._peers")
    pytest.importorskip("libcachesim")
    import gzip

    from reference import trace_file
    path = trace_file(name)          # $TRADEOFF_TRACES, else shared/traces, else skip
    keys = np.array([int(x) for x in gzip.open(path, "rt").read().split() if x != "*"],
                    dtype=np.int64)
    for labels in (keys, keys + 1):
        ours = LibCacheSimWTinyLFU(capacity, xxhash.xxh64_intdigest)
        hits = sum(ours.access(k) for k in labels.tolist())
        assert hits == peers.libcachesim_replay(labels, capacity, "wtinylfu")["hits"]
