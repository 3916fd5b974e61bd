"""The S3-FIFO replay engine against a small model written from the paper.

The model keeps S, M and G as plain lists (oldest first) and follows Algorithm 1
of Yang et al. (SOSP 2023) with the sizing rules the engine documents
(libCacheSim's: S and G in units of object size, truncated shares). A
hypothesis state machine drives engine and model with the same requests (unit
sizes, or random sizes in sized mode) and deletes, over small key spaces so
that ghost hits and promotions happen, and compares every hit/miss, the keys
each insert evicts and the three queues with their frequencies after every
step, running ``_check()`` each time (the shared machine of
``engine_machine``). ``replay`` must equal the model, also with sizes and
expiry.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from cache_models import drive_model
from engine_machine import EngineMachine
from tradeoff.cache import make_engine, policy_params, replay

SETTINGS = settings(max_examples=120, deadline=None)


class S3FIFOModel:
    """S3-FIFO: small FIFO S, main FIFO M, ghost FIFO G of keys; 2-bit frequency.

    - hit (key in S or M): freq = min(freq + 1, 3).
    - miss: a key found in G leaves G (at lookup time) and the object will be
      inserted into M; otherwise into S (with ``fill_main``: into M while
      nothing has been evicted yet and S holds at least its share).
      Before inserting, evict until the object fits.
    - evict: from M if M holds more than its share or S is empty, else from S.
    - evict from S: the tail with freq >= move_threshold moves to M's head with
      freq 0 (repeat); otherwise the tail is evicted and its key goes to G.
    - evict from M: the tail with freq > 0 goes back to M's head with freq - 1
      (repeat); otherwise it is evicted.
    - G: keys weigh their object's size; at most g_cap units and g_max keys,
      the oldest dropped first; a key heavier than g_cap is not kept.
    """

    def __init__(self, capacity, slots=None, small_ratio=0.1, ghost_ratio=0.9,
                 move_threshold=2, fill_main=True):
        slots = capacity if slots is None else slots
        self.capacity = capacity
        self.s_cap = int(capacity * small_ratio)
        self.m_cap = capacity - self.s_cap
        self.g_cap = int(capacity * ghost_ratio)
        self.g_max = min(self.g_cap, int(slots * ghost_ratio))
        self.threshold = move_threshold
        self.fill_main = fill_main
        self.S, self.M, self.G = [], [], []
        self.freq, self.size, self.gsize = {}, {}, {}
        self.from_ghost = None
        self.evicted_any = False

    def units(self, queue):
        sizes = self.gsize if queue is self.G else self.size
        return sum(sizes[k] for k in queue)

    @property
    def used(self):
        return self.units(self.S) + self.units(self.M)

    def hit(self, key):
        if key in self.freq:
            self.freq[key] = min(self.freq[key] + 1, 3)
            return True
        self.from_ghost = None
        if key in self.gsize:
            self.G.remove(key)
            del self.gsize[key]
            self.from_ghost = key
        return False

    def insert(self, key, size=1):
        to_main = self.from_ghost == key
        self.from_ghost = None
        evicted = []
        while self.used + size > self.capacity:
            self.evicted_any = True
            if self.units(self.M) > self.m_cap or not self.S:
                self._evict_main(evicted)
            else:
                self._evict_small(evicted)
        if self.fill_main and not self.evicted_any and self.units(self.S) >= self.s_cap:
            to_main = True
        (self.M if to_main else self.S).append(key)
        self.freq[key] = 0
        self.size[key] = size
        return evicted

    def _evict_small(self, evicted):
        while self.S:
            t = self.S.pop(0)
            if self.freq[t] >= self.threshold:
                self.M.append(t)
                self.freq[t] = 0
                continue
            evicted.append(t)
            size = self.size.pop(t)
            del self.freq[t]
            if size <= self.g_cap and self.g_max > 0:
                while self.units(self.G) + size > self.g_cap or len(self.G) == self.g_max:
                    del self.gsize[self.G.pop(0)]
                self.G.append(t)
                self.gsize[t] = size
            return

    def _evict_main(self, evicted):
        while self.M:
            t = self.M.pop(0)
            if self.freq[t] > 0:
                self.freq[t] -= 1
                self.M.append(t)
                continue
            evicted.append(t)
            del self.freq[t], self.size[t]
            return

    def remove(self, key):
        if key not in self.freq:
            return False
        (self.S if key in self.S else self.M).remove(key)
        del self.freq[key], self.size[key]
        return True

    def state(self):
        return {"small": [(k, self.freq[k]) for k in self.S],
                "main": [(k, self.freq[k]) for k in self.M],
                "ghost": list(self.G)}


def model_replay(capacity, keys, sizes=None, times=None, ttl=None, **params):
    """(hits, hit bytes, expired) by the replay definition, with the replay's
    slots = min(capacity, requests)."""
    m = S3FIFOModel(capacity, slots=max(1, min(capacity, len(keys))), **params)
    return drive_model(m, keys, capacity, sizes, times, ttl)


params_st = st.fixed_dictionaries({
    "small_ratio": st.sampled_from([0.1, 0.25, 0.5, 0.9]),
    "ghost_ratio": st.sampled_from([0.0, 0.5, 0.9, 2.0]),
    "move_threshold": st.integers(1, 3),
    "fill_main": st.booleans(),
})


class EngineVersusModel(EngineMachine):
    """Requests and deletes on a fresh engine and model; compare after each step."""

    KEYS = st.integers(0, 16)
    SIZES = st.integers(1, 10)

    @initialize(params=params_st, sized=st.booleans(), capacity=st.integers(1, 14))
    def setup(self, params, sized, capacity):
        if sized:
            capacity *= 3
        self.start(make_engine("s3fifo", capacity, slots=capacity, sized=sized, **params),
                   S3FIFOModel(capacity, **params), capacity, sized)

    def compare(self):
        m = self.model
        assert self.engine._state() == m.state()
        assert (self.engine.s_used, self.engine.m_used, self.engine.g_used) == (
            m.units(m.S), m.units(m.M), m.units(m.G))


EngineVersusModel.TestCase.settings = settings(
    max_examples=200, stateful_step_count=80, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestEngineVersusModel = EngineVersusModel.TestCase


@st.composite
def traces(draw):
    n_keys = draw(st.integers(1, 14))
    n = draw(st.integers(0, 160))
    keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return keys, sizes, [int(t) for t in np.cumsum(steps)] if n else []


@SETTINGS
@given(traces(), params_st, st.integers(1, 20))
def test_replay_equals_the_model(trace, params, capacity):
    keys, _, _ = trace
    r = replay(np.array(keys, dtype=np.int64), "s3fifo", capacity, **params)
    assert r.hits == model_replay(capacity, keys, **params)[0]


@SETTINGS
@given(traces(), params_st, st.integers(1, 40))
def test_replay_with_sizes_equals_the_model(trace, params, capacity):
    # short traces with capacity above the request count exercise the ghost's
    # key bound (slots = min(capacity, requests))
    keys, sizes, _ = trace
    r = replay(np.array(keys, dtype=np.int64), "s3fifo", capacity,
               sizes=np.array(sizes, dtype=np.int64), **params)
    assert (r.hits, r.hit_bytes) == model_replay(capacity, keys, sizes, **params)[:2]


@SETTINGS
@given(traces(), params_st, st.integers(1, 25), st.integers(1, 12), st.booleans())
def test_replay_with_expiry_equals_the_model(trace, params, capacity, ttl, with_sizes):
    keys, sizes, times = trace
    r = replay(np.array(keys, dtype=np.int64), "s3fifo", capacity,
               sizes=np.array(sizes, dtype=np.int64) if with_sizes else None,
               times=np.array(times, dtype=np.int64), ttl=ttl, **params)
    assert (r.hits, r.hit_bytes, r.expired) == model_replay(
        capacity, keys, sizes if with_sizes else None, times, ttl, **params)


# ---------------------------------------------------------------- examples


def test_defaults():
    assert policy_params("s3fifo") == {"small_ratio": 0.1, "ghost_ratio": 0.9,
                                       "move_threshold": 2, "fill_main": True}
    e = make_engine("s3fifo", 100)
    assert (e.s_cap, e.m_cap, e.g_cap, e.g_max) == (10, 90, 90, 90)
    assert (e.move_threshold, e.fill_main) == (2, True)


def test_one_hit_wonders_are_filtered_and_the_ghost_admits_to_main():
    e = make_engine("s3fifo", 10, fill_main=False)  # S 1 unit, M 9, G 9 keys
    for k in range(10):
        e._access(k)                                 # no eviction yet: all ten wait in S
    st_ = e._state()
    assert [k for k, _ in st_["small"]] == list(range(10)) and st_["main"] == []
    assert not e._hit(10)
    assert e._insert(10) == [0]                      # 0 was never hit: out, into G
    assert e._state()["ghost"] == [0]
    assert not e._hit(0)                             # a miss, remembered by G
    assert e._insert(0) == [1]
    assert [k for k, _ in e._state()["main"]] == [0]
    assert e._state()["ghost"] == [1]
    e._check()


def test_promotion_needs_the_threshold():
    for threshold, promoted in ((1, True), (2, False)):
        e = make_engine("s3fifo", 10, move_threshold=threshold, fill_main=False)
        for k in range(10):
            e._access(k)
        assert e._access(0)                          # freq 1
        e._access(10)                                # evicts from S: 0 then 1
        keys_main = [k for k, _ in e._state()["main"]]
        assert (0 in keys_main) == promoted
        e._check()


def test_main_gives_second_chances_with_a_two_bit_counter():
    e = make_engine("s3fifo", 10, ghost_ratio=0.0, move_threshold=1, fill_main=False)
    for k in range(10):
        e._access(k)
    for _ in range(5):
        e._access(0)                                 # freq capped at 3
    assert e._state()["small"][0] == (0, 3)
    for k in range(10, 30):
        e._access(k)
        e._check()
    # 0 moved to M with freq 0 at its first eviction from S; M stays within its
    # share, so the new keys are all evicted from S, through no ghost
    assert e._state()["main"] == [(0, 0)]
    assert e._state()["ghost"] == [] and e.g_cap == 0


def test_fill_main_sends_new_objects_to_main_before_the_first_eviction():
    e = make_engine("s3fifo", 20, fill_main=True)    # S holds 2 units
    for k in range(20):
        e._access(k)
    s = e._state()
    assert [k for k, _ in s["small"]] == [0, 1]
    assert [k for k, _ in s["main"]] == list(range(2, 20))
    e._access(20)                                    # the first eviction: from S
    assert [k for k, _ in e._state()["small"]] == [1, 20]


def test_remove_leaves_the_ghost_alone():
    e = make_engine("s3fifo", 10, fill_main=False)
    for k in range(11):
        e._access(k)                                 # 0 is now a ghost
    assert not e._remove(0)
    assert e._state()["ghost"] == [0]
    assert e._remove(5) and not e._remove(5)
    e._check()


def test_sized_ghost_weighs_keys_by_size():
    e = make_engine("s3fifo", 20, slots=20, sized=True, ghost_ratio=0.5, fill_main=False)  # G: 10 units
    for k, size in ((1, 6), (2, 6), (3, 6)):
        e._access(k, size)
    e._access(4, 6)                                  # evicts 1 (6 units) into G
    e._access(5, 6)                                  # evicts 2: G drops 1 to make room
    assert e._state()["ghost"] == [2] and e.g_used == 6
    e._access(6, 11)                                 # evicts 3 then 4, G keeps only 4
    assert e._state()["ghost"] == [4] and e._resident() == [5, 6]
    e._access(7, 11)                                 # evicts 5, then 6 (11 units > G's 10)
    assert e._state()["ghost"] == [5]
    e._check()


@pytest.mark.parametrize("kw", [
    {"small_ratio": 0}, {"small_ratio": 1}, {"small_ratio": -0.1}, {"small_ratio": "0.1"},
    {"small_ratio": True}, {"ghost_ratio": -1}, {"ghost_ratio": 9}, {"ghost_ratio": None},
    {"move_threshold": 0}, {"move_threshold": 4}, {"move_threshold": 1.5},
    {"move_threshold": True}, {"fill_main": 1}, {"fill_main": "yes"},
])
def test_parameters_are_checked(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        replay(np.arange(5, dtype=np.int64), "s3fifo", 10, **kw)


def test_small_ratio_is_settable_through_replay():
    keys = (np.random.default_rng(1).zipf(1.2, 5000) % 400).astype(np.int64)
    a = replay(keys, "s3fifo", 50, small_ratio=0.1)
    b = replay(keys, "s3fifo", 50, small_ratio=0.3)
    assert a.params == {"small_ratio": 0.1} and a.hits != b.hits
    assert a.hits == model_replay(50, keys.tolist(), small_ratio=0.1)[0]


def test_fill_main_matches_libcachesim():
    """With fill_main=True the engine is libCacheSim's S3FIFO, hit for hit, for
    several parameter settings (libcachesim 0.3.5)."""
    lcs = pytest.importorskip("libcachesim")
    peers = pytest.importorskip("tradeoff.suites._peers")
    import os
    import tempfile
    rng = np.random.default_rng(5)
    keys = (rng.zipf(1.05, 20_000) % 6000).astype(np.int64)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.oracleGeneral.bin")
        peers.write_oracle_general(keys, path)
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
        for cap, sr, gr, thr in [(200, 0.1, 0.9, 2), (200, 0.1, 0.9, 1), (900, 0.25, 0.5, 3),
                                 (900, 0.2, 0.0, 2)]:
            cache = lcs.S3FIFO(cache_size=cap, hashpower=16, small_size_ratio=sr,
                               ghost_size_ratio=gr, move_to_main_threshold=thr)
            theirs = len(keys) - round(cache.process_trace(reader)[0] * len(keys))
            del cache
            ours = replay(keys, "s3fifo", cap, small_ratio=sr, ghost_ratio=gr,
                          move_threshold=thr, fill_main=True).hits
            assert ours == theirs, (cap, sr, gr, thr)
        reader = None


def test_ghost_key_bound_in_sized_mode():
    # capacity 100 units but only 30 requests: slots = 30, so G keeps at most
    # floor(0.5 * 30) = 15 keys although its 50 units would hold more
    keys = list(range(30))
    sizes = [1] * 20 + [90] + [1] * 9
    e = make_engine("s3fifo", 100, slots=30, sized=True, ghost_ratio=0.5, fill_main=False)
    for k, s in zip(keys, sizes):
        e._access(k, s)
        e._check()
    assert (e.g_cap, e.g_max) == (50, 15)
    ghost = e._state()["ghost"]
    assert len(ghost) == 15 and e.g_used == 15
    assert ghost == list(range(4, 19))
    r = replay(np.array(keys, dtype=np.int64), "s3fifo", 100, sizes=np.array(sizes),
               ghost_ratio=0.5)
    assert r.hits == model_replay(100, keys, sizes, ghost_ratio=0.5)[0] == 0
    for k in (4, 3):                           # 4 is still in G, 3 has left it
        assert not e._hit(k)
        e._insert(k)
    assert [k for k, _ in e._state()["main"]] == [4]
    assert [k for k, _ in e._state()["small"]][-1] == 3
    e._check()
