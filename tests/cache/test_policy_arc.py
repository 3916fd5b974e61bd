"""Model-based tests of the ARC replay engine (``tradeoff.cache._arc.ARCEngine``).

``ARCModel`` is ARC written straight from Figure 4 of Megiddo and Modha, "ARC: A
Self-Tuning, Low Overhead Replacement Cache" (FAST 2003), with four
``OrderedDict`` lists (LRU first) and every size recomputed from scratch, plus
the engine's documented generalizations for object sizes and deletions. The
engine and the model get the same requests; after every step the hit/miss, the
four lists in order, ``p`` and the engine's own invariants (``_check``) must
agree. The step-by-step comparison is the shared machine of ``engine_machine``.
"""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from cache_models import drive_model
from engine_machine import EngineMachine
from tradeoff.cache._replay import make_engine, replay


class ARCModel:
    """ARC over lists T1, T2 (resident) and B1, B2 (ghosts): key -> size, LRU first."""

    def __init__(self, capacity):
        self.c = capacity
        self.p = 0.0
        self.T1, self.T2 = OrderedDict(), OrderedDict()
        self.B1, self.B2 = OrderedDict(), OrderedDict()

    @staticmethod
    def units(lst):
        return sum(lst.values())

    def used(self):
        return self.units(self.T1) + self.units(self.T2)

    def directory(self):
        return sum(self.units(x) for x in (self.T1, self.T2, self.B1, self.B2))

    # the driver's two calls
    def hit(self, key):
        if key in self.T1:                         # Case I: to T2's MRU end
            self.T2[key] = self.T1.pop(key)
            return True
        if key in self.T2:
            self.T2.move_to_end(key)
            return True
        return False

    def insert(self, key, size):
        """Admit a missed key; return the resident keys it pushed out, in order."""
        c = self.c
        self.evicted = []
        if key in self.B1:                         # Case II
            delta = max(1.0, self.units(self.B2) / self.units(self.B1))
            self.p = min(self.p + delta * size, c)
            del self.B1[key]
            self._fit(size, in_b2=False)
            self.T2[key] = size
        elif key in self.B2:                       # Case III
            delta = max(1.0, self.units(self.B1) / self.units(self.B2))
            self.p = max(self.p - delta * size, 0.0)
            del self.B2[key]
            self._fit(size, in_b2=True)
            self.T2[key] = size
        else:                                      # Case IV
            while self.units(self.T1) + self.units(self.B1) + size > c:   # Case A
                if self.B1:
                    self.B1.popitem(last=False)
                else:                              # T1 holds c: evicted, no ghost
                    self.evicted.append(self.T1.popitem(last=False)[0])
            self._fit(size, in_b2=False)           # Case B, then REPLACE
            self.T1[key] = size
        return self.evicted

    def _fit(self, size, in_b2):
        while self.directory() + size > 2 * self.c:
            (self.B2 if self.B2 else self.B1).popitem(last=False)
        while self.used() + size > self.c:
            self._replace(in_b2)

    def _replace(self, in_b2):
        t1 = self.units(self.T1)
        if self.T1 and (t1 > self.p or (in_b2 and t1 == self.p) or not self.T2):
            key, size = self.T1.popitem(last=False)
            self.B1[key] = size
        else:
            key, size = self.T2.popitem(last=False)
            self.B2[key] = size
        self.evicted.append(key)

    def access(self, key, size=1):
        if self.hit(key):
            return True
        if size <= self.c:
            self.insert(key, size)
        return False

    def remove(self, key):
        for lst in (self.T1, self.T2):
            if key in lst:
                del lst[key]
                return True
        return False

    def lists(self):
        return {"T1": list(self.T1), "T2": list(self.T2), "B1": list(self.B1),
                "B2": list(self.B2), "p": self.p}


def assert_same(engine, model):
    engine._check()
    assert engine._lists() == model.lists()
    assert engine._resident() == list(model.T1) + list(model.T2)
    assert engine.used == model.used()
    assert engine.resident == len(model.T1) + len(model.T2)


# -- the paper's own example moves, by hand ------------------------------------

def test_basic_moves():
    e, m = make_engine("arc", 2), ARCModel(2)
    for k in [1, 2, 1, 3, 2, 4, 3, 1]:
        assert e._access(k) == m.access(k)
        assert_same(e, m)
    # 1 went T1 -> T2 on its second use; later misses pushed keys to the ghosts
    assert e._lists()["B1"] or e._lists()["B2"]


def test_t1_full_case_a_evicts_without_a_ghost():
    e = make_engine("arc", 2)
    for k in [1, 2, 3]:                 # |T1| = c: Case A drops T1's LRU, no ghost
        e._access(k)
    assert e._lists() == {"T1": [2, 3], "T2": [], "B1": [], "B2": [], "p": 0.0}


def test_ghost_hit_adapts_p_and_goes_to_t2():
    e = make_engine("arc", 2)
    for k in [1, 1, 2, 3]:              # 1 in T2; 3's miss demotes 2 (|T1| > p = 0)
        e._access(k)
    assert e._lists()["B1"] == [2]
    assert e._access(2) is False        # a ghost hit is a miss
    # p = 0 + max(1, |B2|/|B1|) = 1; REPLACE: |T1| = 1 is not > p, so T2's LRU goes
    assert e._lists() == {"T1": [3], "T2": [2], "B1": [], "B2": [1], "p": 1.0}
    e._check()


def test_tie_rule_b2_hit_with_t1_equal_p_evicts_from_t1():
    e = make_engine("arc", 3)
    for k in [1, 0, 1, 3, 4, 0, 3]:
        e._access(k)
    assert e._lists() == {"T1": [4], "T2": [0, 3], "B1": [], "B2": [1], "p": 2.0}
    # 1 is a B2 hit: p = 2 - 1 = 1 = |T1|, so the paper's tie rule takes T1's LRU
    assert e._access(1) is False
    assert e._lists() == {"T1": [], "T2": [0, 3, 1], "B1": [4], "B2": [], "p": 1.0}


def test_scan_does_not_flush_t2():
    e = make_engine("arc", 4)
    for _ in range(3):
        for k in (1, 2):
            e._access(k)
    for k in range(100, 140):           # a one-time scan
        e._access(k)
        e._check()
    assert set(e._lists()["T2"]) == {1, 2}


# -- random request sequences, step by step ------------------------------------

class ARCMachine(EngineMachine):
    """Engine against model: unit sizes or random sizes, plus deletes."""

    KEYS = st.integers(0, 15)
    SIZES = st.integers(1, 12)

    @initialize(capacity=st.integers(1, 12), sized=st.booleans(), data=st.data())
    def setup(self, capacity, sized, data):
        if sized:
            capacity = data.draw(st.integers(1, 30), label="bytes")
        self.start(make_engine("arc", capacity, sized=sized), ARCModel(capacity), capacity, sized)

    def compare(self):
        assert_same(self.engine, self.model)


ARCMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60,
                                        deadline=None)
TestARCMachine = ARCMachine.TestCase


@st.composite
def traces(draw, max_keys=20, max_len=300):
    n_keys = draw(st.integers(1, max_keys))
    return draw(st.lists(st.integers(0, n_keys - 1), max_size=max_len))


@settings(max_examples=60, deadline=None)
@given(trace=traces(), capacity=st.integers(1, 10))
def test_every_request_matches_the_model(trace, capacity):
    e, m = make_engine("arc", capacity), ARCModel(capacity)
    for k in trace:
        assert e._access(k) == m.access(k)
        assert_same(e, m)


# -- through the public replay() ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(trace=traces(max_keys=30, max_len=400), capacity=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1))
def test_replay_matches_the_model(trace, capacity, seed):
    keys = np.array(trace, dtype=np.int64)
    rng = np.random.default_rng(seed)
    r = replay(keys, "arc", capacity)
    assert r.hits == drive_model(ARCModel(capacity), trace, capacity)[0]

    sizes = rng.integers(0, 9, size=len(trace))          # 0 counts as 1
    cap = capacity * 3
    r = replay(keys, "arc", cap, sizes=sizes)
    hits, hit_bytes, _ = drive_model(ARCModel(cap), trace, cap, np.maximum(sizes, 1))
    assert (r.hits, r.hit_bytes) == (hits, hit_bytes)

    times = np.cumsum(rng.integers(0, 3, size=len(trace)))
    ttl = int(rng.integers(1, 40))
    r = replay(keys, "arc", capacity, times=times, ttl=ttl)
    hits, _, expired = drive_model(ARCModel(capacity), trace, capacity, None, times, ttl)
    assert (r.hits, r.expired) == (hits, expired)

    r = replay(keys, "arc", cap, sizes=sizes, times=times, ttl=ttl)
    hits, hit_bytes, expired = drive_model(ARCModel(cap), trace, cap, np.maximum(sizes, 1),
                                           times, ttl)
    assert (r.hits, r.hit_bytes, r.expired) == (hits, hit_bytes, expired)


def test_awkward_keys():
    extremes = [0, -1, 2**63 - 1, -(2**63), 1 << 40, -(1 << 40), 7]
    keys = np.array(extremes * 5 + extremes[::-1] * 3, dtype=np.int64)
    m = ARCModel(3)
    assert replay(keys, "arc", 3).hits == sum(m.access(int(k)) for k in keys)


def test_fewer_slots_than_objects_keeps_the_bounds():
    # a hand-made engine with fewer slots than the capacity: the count caps hold
    e = make_engine("arc", 50, slots=4)
    rng = np.random.default_rng(1)
    for k in rng.integers(0, 40, size=2000):
        e._access(int(k))
        assert e.resident <= 4
    e._check()


def test_parameters():
    with pytest.raises(ValueError, match="unknown parameter 'p'"):
        replay(np.arange(5, dtype=np.int64), "arc", 2, p=0.5)
    with pytest.raises(ValueError, match="capacity"):
        make_engine("arc", 0)
    assert replay(np.zeros(0, dtype=np.int64), "arc", 4).hits == 0
    assert make_engine("arc", 100).memory_bytes > 0


# -- libCacheSim, request by request (unit sizes) -------------------------------

@settings(max_examples=30, deadline=None)
@given(trace=traces(max_keys=40, max_len=400), capacity=st.integers(1, 12))
def test_same_as_libcachesim_arc(trace, capacity):
    """libCacheSim 0.3.5's ARC follows Figure 4 with a real-valued p, as we do:
    every request has the same outcome (it diverges with sizes, where it moves
    p by one byte per ghost hit and reruns Case IV per eviction)."""
    lcs = pytest.importorskip("libcachesim")
    ref = lcs.ARC(cache_size=capacity, hashpower=8)
    e = make_engine("arc", capacity)
    for k in trace:
        assert e._access(k) == ref.get(lcs.Request(obj_id=k, obj_size=1))
