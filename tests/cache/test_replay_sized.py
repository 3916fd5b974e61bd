"""``replay`` with object sizes and expiry, and Belady's MIN, against models.

The driver adds sizes (capacity in bytes) and expiry (``times`` + ``ttl``) around
any policy; these tests check it through the LRU, FIFO and LFU engines and
Belady, each against a plain Python model written from the definitions. The
LRU, FIFO and LFU engines also meet their models step by step, in the shared
machine of ``engine_machine``.
"""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from cache_models import drive_model
from engine_machine import EngineMachine
from tradeoff.cache import POLICIES, make_engine, policy_params, replay

SETTINGS = settings(max_examples=150, deadline=None)


class LRUSized:
    """LRU over byte sizes: evict the least recently used until the new object fits."""

    def __init__(self, capacity, move_on_hit=True):
        self.capacity, self.used, self.items, self.move = capacity, 0, OrderedDict(), move_on_hit
        self.i = -1                 # the index of the request being served

    def hit(self, key):
        self.i += 1
        if key not in self.items:
            return False
        if self.move:
            self.items.move_to_end(key)
        return True

    def insert(self, key, size):
        evicted = []
        while self.used + size > self.capacity:
            k, s = self.items.popitem(last=False)
            self.used -= s
            evicted.append(k)
        self.items[key] = size
        self.used += size
        return evicted

    def remove(self, key):
        if key in self.items:
            self.used -= self.items.pop(key)
            return True
        return False

    def order(self):
        """The cached keys, the next victim first."""
        return list(self.items)


class LFUSized(LRUSized):
    """LFU: evict the smallest (use count, time of the last use); a new object has count 1."""

    def __init__(self, capacity):
        super().__init__(capacity)
        self.meta = {}

    def hit(self, key):
        self.i += 1
        if key not in self.items:
            return False
        count, _ = self.meta[key]
        self.meta[key] = (count + 1, self.i)
        return True

    def insert(self, key, size):
        evicted = []
        while self.used + size > self.capacity:
            victim = min(self.items, key=lambda k: self.meta[k])
            self.used -= self.items.pop(victim)
            del self.meta[victim]
            evicted.append(victim)
        self.items[key] = size
        self.meta[key] = (1, self.i)
        self.used += size
        return evicted

    def remove(self, key):
        self.meta.pop(key, None)
        return super().remove(key)

    def order(self):
        return sorted(self.items, key=lambda k: self.meta[k])


class BeladySized(LRUSized):
    """MIN: evict the object whose next request comes last; never again: n + last index."""

    def __init__(self, capacity, keys):
        super().__init__(capacity)
        n = len(keys)
        self.due = {}
        self.next_use = [next((j for j in range(i + 1, n) if keys[j] == keys[i]), n + i)
                         for i in range(n)]

    def hit(self, key):
        self.i += 1
        if key not in self.items:
            return False
        self.due[key] = self.next_use[self.i]
        return True

    def insert(self, key, size):
        while self.used + size > self.capacity:
            victim = max(self.items, key=lambda k: self.due[k])
            self.used -= self.items.pop(victim)
            del self.due[victim]
        self.items[key] = size
        self.due[key] = self.next_use[self.i]
        self.used += size

    def remove(self, key):
        self.due.pop(key, None)
        return super().remove(key)


def model(policy, capacity, keys):
    if policy == "lru":
        return LRUSized(capacity)
    if policy == "fifo":
        return LRUSized(capacity, move_on_hit=False)
    if policy == "lfu":
        return LFUSized(capacity)
    return BeladySized(capacity, keys)


def model_replay(policy, capacity, keys, sizes=None, times=None, ttl=None):
    """(hits, hit bytes, expired) of the definition, through the shared model driver."""
    return drive_model(model(policy, capacity, keys), keys, capacity, sizes, times, ttl)


MODELLED = ["lru", "fifo", "lfu", "belady"]


@st.composite
def sized_traces(draw):
    n_keys = draw(st.integers(1, 10))
    n = draw(st.integers(0, 120))
    keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return keys, sizes, list(np.cumsum(steps)) if n else []


@SETTINGS
@given(sized_traces(), st.sampled_from(MODELLED), st.integers(1, 25))
def test_sizes_match_the_model(trace, policy, capacity):
    keys, sizes, _ = trace
    r = replay(np.array(keys, dtype=np.int64), policy, capacity, sizes=np.array(sizes, dtype=np.int64))
    hits, hit_bytes, _ = model_replay(policy, capacity, keys, sizes)
    assert (r.hits, r.hit_bytes) == (hits, hit_bytes)
    assert r.bytes == sum(max(1, s) for s in sizes)
    assert r.requests == len(keys) and r.misses == len(keys) - hits


@SETTINGS
@given(sized_traces(), st.sampled_from(MODELLED), st.integers(1, 25), st.integers(1, 12),
       st.booleans())
def test_expiry_matches_the_model(trace, policy, capacity, ttl, with_sizes):
    keys, sizes, times = trace
    sz = np.array(sizes, dtype=np.int64) if with_sizes else None
    r = replay(np.array(keys, dtype=np.int64), policy, capacity, sizes=sz,
               times=np.array(times, dtype=np.int64), ttl=ttl)
    assert (r.hits, r.hit_bytes, r.expired) == model_replay(
        policy, capacity, keys, sizes if with_sizes else None, times, ttl)


@SETTINGS
@given(st.lists(st.integers(0, 9), max_size=150), st.integers(1, 8))
def test_belady_is_optimal_among_the_policies(keys, capacity):
    trace = np.array(keys, dtype=np.int64)
    best = replay(trace, "belady", capacity).hits
    assert best == model_replay("belady", capacity, keys)[0]
    for policy in ("lru", "fifo", "lfu"):
        assert replay(trace, policy, capacity).hits <= best


class OrderEngineVersusModel(EngineMachine):
    """The LRU, FIFO and LFU engines (sizes, deletes) against the models above:
    every hit/miss, the keys each insert evicts, and the eviction order."""

    KEYS = st.integers(0, 12)
    SIZES = st.integers(1, 10)

    @initialize(policy=st.sampled_from(["lru", "fifo", "lfu"]), sized=st.booleans(),
                capacity=st.integers(1, 10))
    def setup(self, policy, sized, capacity):
        if sized:
            capacity *= 3
        self.start(make_engine(policy, capacity, slots=capacity, sized=sized),
                   model(policy, capacity, []), capacity, sized)

    def compare(self):
        assert self.engine._resident() == self.model.order()
        assert (self.engine.used, self.engine.resident) == (self.model.used, len(self.model.items))


OrderEngineVersusModel.TestCase.settings = settings(max_examples=100, stateful_step_count=60,
                                                    deadline=None)
TestOrderEngineVersusModel = OrderEngineVersusModel.TestCase


@pytest.mark.parametrize("policy", ["lru", "fifo", "lfu"])
def test_the_engine_path_equals_the_specialized_loop(policy):
    rng = np.random.default_rng(7)
    keys = rng.zipf(1.2, 50_000).astype(np.int64) % 3000
    strided = np.repeat(keys, 2)[::2]          # not contiguous: the engine runs it
    assert not strided.flags.c_contiguous
    for cap in (1, 10, 500, 4000):
        assert replay(strided, policy, cap).hits == replay(keys, policy, cap).hits


@pytest.mark.parametrize("policy", ["lru", "fifo", "lfu"])
def test_engine_invariants_hold_under_sizes_and_removal(policy):
    rng = np.random.default_rng(3)
    eng = make_engine(policy, 50, slots=50, sized=True)
    resident = set()
    for _ in range(3000):
        key = int(rng.integers(0, 40))
        if rng.random() < 0.1:
            assert eng._remove(key) == (key in resident)
            resident.discard(key)
        elif not eng._hit(key):
            gone = eng._insert(key, int(rng.integers(1, 12)))
            resident -= set(gone)
            resident.add(key)
        eng._check()
        assert set(eng._resident()) == resident


def test_an_object_larger_than_the_cache_is_never_admitted():
    keys = np.array([1, 1, 1, 2, 2], dtype=np.int64)
    r = replay(keys, "lru", 10, sizes=np.array([11, 11, 11, 5, 5]))
    assert r.hits == 1 and r.hit_bytes == 5 and r.bytes == 43
    assert r.byte_miss_ratio == pytest.approx(38 / 43)


def test_expiry_regardless_of_use():
    keys = np.array([7, 7, 7, 7], dtype=np.int64)
    r = replay(keys, "lru", 5, times=np.array([0, 4, 9, 10]), ttl=10)
    # inserted at 0, expires at 10 whatever the hits at 4 and 9: the request at 10 misses
    assert r.hits == 2 and r.expired == 1


def test_belady_on_a_small_example():
    # cache 2: a b c a b: MIN evicts b or c... c never returns, so a and b stay
    keys = np.array([1, 2, 3, 1, 2], dtype=np.int64)
    assert replay(keys, "belady", 2).hits == 1 + 0 or replay(keys, "belady", 2).hits == 2
    assert replay(keys, "belady", 2).hits == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"sizes": [1, 2]}, "one value per request"),
    ({"sizes": np.array([1, -1, 1])}, "sizes must be >= 0"),
    ({"sizes": np.array([1.0, 2.0, 3.0])}, "integers"),
    ({"times": np.array([0, 1, 2])}, "both times and ttl"),
    ({"ttl": 3}, "both times and ttl"),
    ({"times": np.array([0, 2, 1]), "ttl": 3}, "must not decrease"),
    ({"times": np.array([0, 1, 2]), "ttl": 0}, "ttl must be"),
])
def test_bad_sizes_and_times(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        replay(np.arange(3, dtype=np.int64), "lru", 2, **kwargs)


def test_unknown_parameter_names_the_policy_and_what_it_takes():
    with pytest.raises(ValueError, match=r"unknown parameter 'ratio' for policy 'lru'"):
        replay(np.arange(3, dtype=np.int64), "lru", 2, ratio=0.1)
    assert policy_params("lru") == {}
    assert set(POLICIES) >= {"lru", "fifo", "lfu", "clock", "arc", "s3fifo", "sieve",
                             "wtinylfu", "lirs", "belady"}


def test_belady_refuses_online_use():
    eng = make_engine("belady", 3)
    with pytest.raises(RuntimeError, match="whole trace"):
        eng._access(1)


@pytest.mark.parametrize("policy", ["lru", "fifo", "arc", "s3fifo", "belady"])
def test_a_memory_mapped_oracle_trace_replays_in_place(tmp_path, policy):
    """The keys of an uncompressed oracleGeneral file are a strided view of the
    mapped file (8-byte ids in 24-byte records); replay reads them in place."""
    from tradeoff.traces import read, write_oracle_general

    rng = np.random.default_rng(11)
    keys = rng.zipf(1.1, 20_000).astype(np.int64) % 2_000
    sizes = rng.integers(1, 50, keys.size)
    t = read(write_oracle_general(tmp_path / "t.oracleGeneral.bin", keys, sizes=sizes))
    assert not t.keys.flags.c_contiguous
    assert replay(t, policy, 300).hits == replay(keys, policy, 300).hits
    assert (replay(t.keys, policy, 5_000, sizes=t.sizes).hit_bytes
            == replay(keys, policy, 5_000, sizes=sizes).hit_bytes)
