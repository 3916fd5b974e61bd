"""SIEVE and CLOCK replay engines against small models written from the papers.

Each model keeps its queue as a plain list (oldest first) and recomputes
everything the obvious way. A hypothesis state machine applies the same
requests (unit sizes, or random sizes in sized mode) and deletes to the engine
and the model, and compares the hit/miss of every request, the keys each
insert evicts, the queue with its bits/counters and the hand, and runs the
engine's ``_check()`` after every step (the shared machine of
``engine_machine``). ``replay`` through the public API must give the model's
counts, also with sizes and with expiry (``times``/``ttl``).
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


# ---------------------------------------------------------------- models


class SieveModel:
    """SIEVE as in Zhang et al., NSDI 2024 (Figure/Algorithm of Section 3).

    ``queue`` lists the cached keys oldest (tail) first, newest (head) last.
    A hit sets the key's visited bit. A miss evicts until the object fits:
    the hand starts where it rested (the tail if none), moves toward the head
    clearing visited bits, wrapping to the tail past the head, and evicts the
    first unvisited key; it then rests on the next newer key (none if the
    victim was the head). The new key goes to the head, unvisited. Deleting the
    key the hand rests on moves the hand to the next newer key.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.queue = []
        self.visited = {}
        self.size = {}
        self.hand = None

    @property
    def used(self):
        return sum(self.size.values())

    def hit(self, key):
        if key in self.visited:
            self.visited[key] = True
            return True
        return False

    def _newer(self, key):
        i = self.queue.index(key)
        return self.queue[i + 1] if i + 1 < len(self.queue) else None

    def insert(self, key, size=1):
        evicted = []
        while self.used + size > self.capacity:
            i = self.queue.index(self.hand) if self.hand is not None else 0
            while self.visited[self.queue[i]]:
                self.visited[self.queue[i]] = False
                i = (i + 1) % len(self.queue)
            victim = self.queue[i]
            self.hand = self._newer(victim)
            self.queue.remove(victim)
            del self.visited[victim], self.size[victim]
            evicted.append(victim)
        self.queue.append(key)
        self.visited[key] = False
        self.size[key] = size
        return evicted

    def remove(self, key):
        if key not in self.visited:
            return False
        if self.hand == key:
            self.hand = self._newer(key)
        self.queue.remove(key)
        del self.visited[key], self.size[key]
        return True

    def state(self):
        return (list(self.queue), [self.visited[k] for k in self.queue], self.hand)


class ClockModel:
    """CLOCK / second chance as a FIFO with reinsertion (libCacheSim's Clock).

    ``queue`` lists the keys in the order the hand reaches them (the FIFO tail
    first). A hit adds 1 to the key's counter, up to 2**bits - 1. To evict:
    while the tail's counter is nonzero, decrement it and move the key to the
    head; then evict the tail. New keys enter at the head with counter 0.
    """

    def __init__(self, capacity, bits=1):
        self.capacity = capacity
        self.top = (1 << bits) - 1
        self.queue = []
        self.count = {}
        self.size = {}

    @property
    def used(self):
        return sum(self.size.values())

    def hit(self, key):
        if key in self.count:
            self.count[key] = min(self.count[key] + 1, self.top)
            return True
        return False

    def insert(self, key, size=1):
        evicted = []
        while self.used + size > self.capacity:
            while self.count[self.queue[0]] > 0:
                k = self.queue.pop(0)
                self.count[k] -= 1
                self.queue.append(k)
            victim = self.queue.pop(0)
            del self.count[victim], self.size[victim]
            evicted.append(victim)
        self.queue.append(key)
        self.count[key] = 0
        self.size[key] = size
        return evicted

    def remove(self, key):
        if key not in self.count:
            return False
        self.queue.remove(key)
        del self.count[key], self.size[key]
        return True

    def state(self):
        return [(k, self.count[k]) for k in self.queue]


def new_model(policy, capacity, **params):
    return SieveModel(capacity) if policy == "sieve" else ClockModel(capacity, **params)


def model_replay(policy, capacity, keys, sizes=None, times=None, ttl=None, **params):
    """(hits, hit bytes, expired) by the replay definition: purge what has
    expired (oldest first), then a request hits or inserts (an object larger
    than the cache is not admitted)."""
    m = new_model(policy, capacity, **params)
    return drive_model(m, keys, capacity, sizes, times, ttl)


# ---------------------------------------------------------------- state machine


class EngineVersusModel(EngineMachine):
    """Requests and deletes on a fresh engine and model; compare after each step."""

    KEYS = st.integers(0, 14)
    SIZES = st.integers(1, 10)

    @initialize(policy=st.sampled_from(["sieve", "clock"]), sized=st.booleans(),
                capacity=st.integers(1, 12), bits=st.integers(1, 3))
    def setup(self, policy, sized, capacity, bits):
        params = {"bits": bits} if policy == "clock" else {}
        if sized:
            capacity *= 3
        self.start(make_engine(policy, capacity, slots=capacity, sized=sized, **params),
                   new_model(policy, capacity, **params), capacity, sized)

    def compare(self):
        assert self.engine._state() == self.model.state()
        assert self.engine.used == self.model.used
        assert self.engine.resident == len(self.model.size)


EngineVersusModel.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestEngineVersusModel = EngineVersusModel.TestCase


# ---------------------------------------------------------------- replay


@st.composite
def traces(draw):
    n_keys = draw(st.integers(1, 12))
    n = draw(st.integers(0, 150))
    keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return keys, sizes, [int(t) for t in np.cumsum(steps)] if n else []


policy_and_params = st.one_of(
    st.just(("sieve", {})),
    st.integers(1, 3).map(lambda b: ("clock", {"bits": b})),
    st.just(("clock", {})),
)


@SETTINGS
@given(traces(), policy_and_params, st.integers(1, 20))
def test_replay_equals_the_model(trace, pp, capacity):
    keys, _, _ = trace
    policy, params = pp
    r = replay(np.array(keys, dtype=np.int64), policy, capacity, **params)
    assert r.hits == model_replay(policy, capacity, keys, **params)[0]
    assert r.requests == len(keys) and r.params == params


@SETTINGS
@given(traces(), policy_and_params, st.integers(1, 30))
def test_replay_with_sizes_equals_the_model(trace, pp, capacity):
    keys, sizes, _ = trace
    policy, params = pp
    r = replay(np.array(keys, dtype=np.int64), policy, capacity,
               sizes=np.array(sizes, dtype=np.int64), **params)
    hits, hit_bytes, _ = model_replay(policy, capacity, keys, sizes, **params)
    assert (r.hits, r.hit_bytes) == (hits, hit_bytes)


@SETTINGS
@given(traces(), policy_and_params, st.integers(1, 25), st.integers(1, 12), st.booleans())
def test_replay_with_expiry_equals_the_model(trace, pp, capacity, ttl, with_sizes):
    keys, sizes, times = trace
    policy, params = pp
    r = replay(np.array(keys, dtype=np.int64), policy, capacity,
               sizes=np.array(sizes, dtype=np.int64) if with_sizes else None,
               times=np.array(times, dtype=np.int64), ttl=ttl, **params)
    assert (r.hits, r.hit_bytes, r.expired) == model_replay(
        policy, capacity, keys, sizes if with_sizes else None, times, ttl, **params)


# ---------------------------------------------------------------- examples


def test_sieve_example_from_the_definition():
    # cache 3: a b c; a hit; d evicts b (a is visited: its bit is cleared and the
    # hand moves on); the hand rests on c; e evicts c; a stays throughout
    e = make_engine("sieve", 3)
    for k in (1, 2, 3):
        assert not e._access(k)
    assert e._access(1)
    assert not e._hit(4)
    assert e._insert(4) == [2]
    assert e._state() == ([1, 3, 4], [False, False, False], 3)
    assert not e._hit(5) and e._insert(5) == [3]
    assert e._state() == ([1, 4, 5], [False, False, False], 4)
    e._check()


def test_sieve_hand_wraps_and_keeps_its_place():
    e = make_engine("sieve", 3)
    for k in (1, 2, 3):
        e._access(k)
    for k in (1, 2, 3):
        assert e._access(k)
    # every bit set: the hand clears all three, wraps, and evicts the tail
    assert not e._hit(4) and e._insert(4) == [1]
    assert e._state() == ([2, 3, 4], [False, False, False], 2)


def test_sieve_is_not_lru_on_a_scan():
    # a hot key survives a scan under SIEVE (it is visited) but not under LRU
    keys = np.array([0, 0] + list(range(1, 20)) + [0], dtype=np.int64)
    assert replay(keys, "sieve", 4).hits == 2
    assert replay(keys, "lru", 4).hits == 1


def test_clock_gives_a_second_chance():
    e = make_engine("clock", 2)
    e._access(1)
    e._access(2)
    assert e._access(1)                      # 1's bit is set
    assert not e._hit(3) and e._insert(3) == [2]
    assert e._state() == [(1, 0), (3, 0)]


def test_clock_counter_saturates():
    e = make_engine("clock", 2, bits=2)
    e._access(1)
    for _ in range(10):
        e._access(1)
    e._access(2)
    assert e._state() == [(1, 3), (2, 0)]


def test_delete_of_the_key_under_the_hand():
    e = make_engine("sieve", 3)
    for k in (1, 2, 3):
        e._access(k)
    e._access(1)
    e._insert(4)                              # evicts 2; the hand rests on 3
    assert e._state()[2] == 3
    assert e._remove(3) and not e._remove(3)
    assert e._state() == ([1, 4], [False, False], 4)
    e._check()
    c = make_engine("clock", 3)
    for k in (1, 2, 3):
        c._access(k)
    assert c._remove(1)
    assert c._state() == [(2, 0), (3, 0)]
    c._check()


def test_sized_insert_evicts_until_it_fits():
    for policy in ("sieve", "clock"):
        e = make_engine(policy, 10, slots=10, sized=True)
        for k, s in ((1, 4), (2, 4), (3, 2)):
            e._access(k, s)
        assert e.used == 10
        assert e._insert(4, 7) == [1, 2]
        assert e.used == 9 and e._resident() == [3, 4]
        e._check()


def test_memory_and_params():
    keys = np.arange(100, dtype=np.int64) % 30
    r = replay(keys, "sieve", 10)
    assert r.memory_bytes > 0
    assert policy_params("sieve") == {}
    assert policy_params("clock") == {"bits": 1}


@pytest.mark.parametrize("bits", [0, 9, -1, 1.0, True, "1", None])
def test_clock_bits_are_checked(bits):
    with pytest.raises(ValueError, match="bits"):
        replay(np.arange(5, dtype=np.int64), "clock", 2, bits=bits)


def test_unknown_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown parameter"):
        replay(np.arange(5, dtype=np.int64), "sieve", 2, bits=1)


def test_engines_match_libcachesim_on_a_zipf_trace():
    """The hit counts equal libCacheSim's Sieve and Clock (its default: 1-bit
    counter, new objects at 0) on a skewed trace with evictions."""
    peers = pytest.importorskip("tradeoff.suites._peers")
    pytest.importorskip("libcachesim")
    rng = np.random.default_rng(11)
    keys = (rng.zipf(1.1, 30_000) % 5000).astype(np.int64)
    for cap in (50, 700):
        for policy in ("sieve", "clock"):
            ours = replay(keys, policy, cap).hits
            assert ours == peers.libcachesim_replay(keys, cap, policy)["hits"], (policy, cap)
