"""Model-based tests of the LIRS replay engine (``tradeoff.cache._lirs.LIRSEngine``).

``LIRSModel`` is LIRS written straight from Section 3 of Jiang and Zhang, "LIRS:
an efficient low inter-reference recency set replacement policy to improve
buffer cache performance" (SIGMETRICS 2002): stack S, queue Q of resident HIR
blocks, stack pruning, as ``OrderedDict``s with every size recomputed from
scratch; plus the engine's documented choices (the bound on S, sizes,
deletions). The engine and the model get the same requests; after every step the
hit/miss, S (order and statuses), Q, the non-resident queue and the engine's own
invariants (``_check``) must agree. The step-by-step comparison is the shared
machine of ``engine_machine``.
"""
import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from cache_models import drive_model
from engine_machine import EngineMachine
from tradeoff.cache._replay import make_engine, replay


class LIRSModel:
    """S: key -> None, bottom first. Q: resident HIR keys, front (victim) first.
    NR: non-resident keys, the first to go when S is over its bound first.
    status: 'L' (LIR), 'H' (resident HIR), 'N' (non-resident HIR, on S), or 'P'
    (a non-resident key being readmitted, while room is made)."""

    def __init__(self, capacity, hir_ratio=0.01, stack_ratio=2.0):
        self.c = capacity
        lhirs = max(1, math.floor(hir_ratio * capacity))
        self.llirs = max(0, capacity - lhirs)
        self.bound = math.floor(stack_ratio * capacity)
        self.S, self.Q, self.NR = OrderedDict(), OrderedDict(), OrderedDict()
        self.status, self.size = {}, {}

    # sizes, from scratch
    def lir_units(self):
        return sum(self.size[k] for k, s in self.status.items() if s == "L")

    def used(self):
        return self.lir_units() + sum(self.size[k] for k in self.Q)

    def s_units(self):
        return sum(self.size[k] for k in self.S)

    def bottom(self):
        return next(iter(self.S)) if self.S else None

    # the driver's two calls
    def hit(self, key):
        st = self.status.get(key)
        if st == "L":                          # a LIR block: top of S, prune
            was_bottom = self.bottom() == key
            self.S.move_to_end(key)
            if was_bottom:
                self.prune()
            return True
        if st == "H":
            if key in self.S:                  # resident HIR on S: becomes LIR
                self.S.move_to_end(key)
                if self.size[key] <= self.llirs:
                    del self.Q[key]
                    self.make_lir(key)
                else:
                    self.Q.move_to_end(key)
            else:                              # resident HIR not on S: stays HIR
                self.S[key] = None
                self.Q.move_to_end(key)
                self.trim()
            return True
        return False

    def insert(self, key, size):
        """Admit a missed key; return the resident keys it pushed out, in order."""
        if self.status.get(key) == "N":
            del self.NR[key]
            self.status[key] = "P"
        evicted = []
        while self.used() + size > self.c:
            evicted.append(self.evict())
        self.size[key] = size
        if self.status.get(key) == "P" and key in self.S:
            self.S.move_to_end(key)            # on S: LIR (if it fits in Llirs)
            if size <= self.llirs:
                self.make_lir(key)
            else:
                self.status[key] = "H"
                self.Q[key] = None
        else:                                  # not on S: LIR while there is room
            self.S[key] = None
            if self.lir_units() + size <= self.llirs:
                self.status[key] = "L"
                self.prune()
            else:
                self.status[key] = "H"
                self.Q[key] = None
        self.trim()
        return evicted

    def make_lir(self, key):
        self.status[key] = "L"
        while self.lir_units() > self.llirs:
            self.demote()
            self.prune()
        self.prune()

    def demote(self):
        key = self.bottom()
        assert self.status[key] == "L"
        del self.S[key]
        self.status[key] = "H"
        self.Q[key] = None

    def evict(self):
        if not self.Q:
            self.demote()
            self.prune()
        key, _ = self.Q.popitem(last=False)
        if key in self.S:
            self.status[key] = "N"
            self.NR[key] = None
        else:
            del self.status[key], self.size[key]
        return key

    def prune(self):
        while self.S:
            key = self.bottom()
            if self.status[key] == "L":
                break
            del self.S[key]
            if self.status[key] == "N":
                del self.NR[key], self.status[key], self.size[key]

    def trim(self):
        while self.s_units() > self.bound and self.NR:
            key, _ = self.NR.popitem(last=False)
            del self.S[key], self.status[key], self.size[key]

    def access(self, key, size=1):
        if self.hit(key):
            return True
        if size <= self.c:
            self.insert(key, size)
        return False

    def remove(self, key):
        st = self.status.get(key)
        if st == "L":
            was_bottom = self.bottom() == key
            del self.S[key], self.status[key], self.size[key]
            if was_bottom:
                self.prune()
            return True
        if st == "H":
            del self.Q[key], self.status[key], self.size[key]
            self.S.pop(key, None)
            return True
        return False

    def stack(self):
        return [(k, self.status[k]) for k in self.S]


def assert_same(engine, model):
    engine._check()
    assert engine._stack() == model.stack()
    assert engine._queue() == list(model.Q)
    assert engine._nonresident() == list(model.NR)
    assert engine.used == model.used()
    assert engine.resident == len(model.Q) + sum(s == "L" for s in model.status.values())


# -- the paper's cases, by hand --------------------------------------------------

def test_warmup_then_hir():
    e = make_engine("lirs", 3, hir_ratio=0.34)     # Lhirs = 1, Llirs = 2
    for k in [1, 2, 3]:
        assert e._access(k) is False
    assert e._stack() == [(1, "L"), (2, "L"), (3, "H")]
    assert e._queue() == [3]


def test_nonresident_in_s_comes_back_as_lir():
    e = make_engine("lirs", 3, hir_ratio=0.34)     # Lhirs = 1, Llirs = 2
    for k in [1, 2, 3, 4]:                         # 4 evicts 3: non-resident on S
        e._access(k)
    assert e._stack() == [(1, "L"), (2, "L"), (3, "N"), (4, "H")]
    assert e._access(3) is False                   # a miss: 4 goes, 3 becomes LIR,
    # the bottom LIR (1) is demoted to Q, and pruning pops 1's... nothing: 2 is LIR
    assert e._stack() == [(2, "L"), (4, "N"), (3, "L")]
    assert e._queue() == [1]
    e._check()


def test_resident_hir_hit_on_s_promotes_and_prunes():
    e = make_engine("lirs", 3, hir_ratio=0.34)
    for k in [1, 2, 3]:
        e._access(k)
    assert e._access(3) is True                    # 3 on S: LIR; 1 demoted
    assert e._stack() == [(2, "L"), (3, "L")]
    assert e._queue() == [1]
    assert e._access(1) is True                    # 1 not on S: stays HIR, to S's top
    assert e._stack() == [(2, "L"), (3, "L"), (1, "H")]
    e._check()


def test_lir_hit_at_bottom_prunes():
    e = make_engine("lirs", 3, hir_ratio=0.34)
    for k in [1, 2, 3, 4]:
        e._access(k)
    assert e._stack() == [(1, "L"), (2, "L"), (3, "N"), (4, "H")]
    e._access(1)                                   # 1 leaves the bottom: 2 is LIR, no prune
    e._access(2)                                   # 2 leaves the bottom: 3 (N) and 4 (H) go
    assert e._stack() == [(1, "L"), (2, "L")]
    assert e._nonresident() == [] and e._queue() == [4]
    e._check()


def test_promotion_without_demotion_still_prunes():
    # sizes: capacity 6 units, hir_ratio 0.9 -> Llirs = 1; A is LIR, B and C HIR
    e = make_engine("lirs", 6, sized=True, hir_ratio=0.9)
    A, B, C = 10, 20, 30
    e._access(A, 1)
    e._access(B, 2)
    e._access(C, 1)
    assert e._stack() == [(A, "L"), (B, "H"), (C, "H")]
    assert e._remove(A)                            # the bottom LIR goes: prune empties S
    assert e._stack() == [] and e._queue() == [B, C]
    e._access(B, 2)
    e._access(C, 1)                                # both back on S, still HIR
    assert e._stack() == [(B, "H"), (C, "H")]
    e._access(C, 1)                                # C fits in Llirs: LIR, no demotion;
    assert e._stack() == [(C, "L")]                # B, below it, is pruned
    assert e._queue() == [B]
    e._check()


def test_libcachesim_phantom_trace():
    """On this trace (capacity 2, Lhirs 1) libCacheSim 0.3.5's LIRS, at the hit
    of step 13 (on 3, a resident HIR block not on S), first demotes a LIR block
    into the one-place Q, which evicts 3 itself: its object count falls from 2
    to 1 on a hit, yet 3 stays marked resident on S. At step 16 it then reports
    a hit on 3 while counting two other objects resident. The paper (and this
    engine) moves 3 to the top of S and the end of Q, evicts nothing, keeps two
    objects cached throughout, and misses at step 16 (3 was evicted at 14)."""
    trace = [4, 11, 3, 2, 3, 3, 2, 5, 4, 8, 2, 10, 8, 3, 2, 11, 3]
    e, m = make_engine("lirs", 2), LIRSModel(2)
    outcomes = []
    for k in trace:
        outcomes.append(e._access(k))
        assert outcomes[-1] == m.access(k)
        assert_same(e, m)
        assert e.resident == min(2, len(set(trace[:len(outcomes)])))
    assert outcomes[13] is True and outcomes[16] is False


# -- random request sequences, step by step --------------------------------------

class LIRSMachine(EngineMachine):
    """Engine against model: unit sizes or random sizes, deletes, and parameter
    values small enough that every case happens (Q empty, S over its bound)."""

    KEYS = st.integers(0, 15)
    SIZES = st.one_of(st.integers(1, 3), st.integers(1, 12))

    @initialize(capacity=st.integers(1, 12), sized=st.booleans(),
                hir_ratio=st.sampled_from([0.01, 0.2, 0.5, 0.9]),
                stack_ratio=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]), data=st.data())
    def setup(self, capacity, sized, hir_ratio, stack_ratio, data):
        if sized:
            capacity = data.draw(st.integers(1, 24), label="bytes")
        self.start(make_engine("lirs", capacity, sized=sized, hir_ratio=hir_ratio,
                               stack_ratio=stack_ratio),
                   LIRSModel(capacity, hir_ratio, stack_ratio), capacity, sized)

    def compare(self):
        assert_same(self.engine, self.model)


LIRSMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=60,
                                         deadline=None)
TestLIRSMachine = LIRSMachine.TestCase


@st.composite
def traces(draw, max_keys=20, max_len=300):
    n_keys = draw(st.integers(1, max_keys))
    return draw(st.lists(st.integers(0, n_keys - 1), max_size=max_len))


@settings(max_examples=60, deadline=None)
@given(trace=traces(), capacity=st.integers(1, 10),
       hir_ratio=st.sampled_from([0.01, 0.25, 0.5]))
def test_every_request_matches_the_model(trace, capacity, hir_ratio):
    e, m = make_engine("lirs", capacity, hir_ratio=hir_ratio), LIRSModel(capacity, hir_ratio)
    for k in trace:
        assert e._access(k) == m.access(k)
        assert_same(e, m)


# -- through the public replay() ---------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(trace=traces(max_keys=30, max_len=400), capacity=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1))
def test_replay_matches_the_model(trace, capacity, seed):
    keys = np.array(trace, dtype=np.int64)
    rng = np.random.default_rng(seed)
    params = {"hir_ratio": float(rng.choice([0.01, 0.3])),
              "stack_ratio": float(rng.choice([1.0, 2.0, 3.0]))}
    r = replay(keys, "lirs", capacity, **params)
    assert r.hits == drive_model(LIRSModel(capacity, **params), trace, capacity)[0]

    sizes = rng.integers(0, 9, size=len(trace))          # 0 counts as 1
    cap = capacity * 3
    r = replay(keys, "lirs", cap, sizes=sizes, **params)
    hits, hit_bytes, _ = drive_model(LIRSModel(cap, **params), trace, cap, np.maximum(sizes, 1))
    assert (r.hits, r.hit_bytes) == (hits, hit_bytes)

    times = np.cumsum(rng.integers(0, 3, size=len(trace)))
    ttl = int(rng.integers(1, 40))
    r = replay(keys, "lirs", capacity, times=times, ttl=ttl, **params)
    hits, _, expired = drive_model(LIRSModel(capacity, **params), trace, capacity, None,
                                   times, ttl)
    assert (r.hits, r.expired) == (hits, expired)

    r = replay(keys, "lirs", cap, sizes=sizes, times=times, ttl=ttl, **params)
    hits, hit_bytes, expired = drive_model(LIRSModel(cap, **params), trace, cap,
                                           np.maximum(sizes, 1), times, ttl)
    assert (r.hits, r.hit_bytes, r.expired) == (hits, hit_bytes, expired)


def test_awkward_keys():
    extremes = [0, -1, 2**63 - 1, -(2**63), 1 << 40, -(1 << 40), 7]
    keys = np.array(extremes * 5 + extremes[::-1] * 3, dtype=np.int64)
    m = LIRSModel(3)
    assert replay(keys, "lirs", 3).hits == sum(m.access(int(k)) for k in keys)


def test_stack_bound_holds_on_a_long_trace():
    rng = np.random.default_rng(7)
    keys = rng.zipf(1.3, size=20_000).astype(np.int64)
    e = make_engine("lirs", 50)
    for k in keys[:5000]:
        e._access(int(k))
    e._check()
    assert len(e._stack()) <= e.stack_limit
    # a short trace with a huge byte capacity sizes the index by the trace
    r = replay(keys, "lirs", 10**12, sizes=np.full(len(keys), 10**6))
    assert r.memory_bytes < 64 * len(keys) + (1 << 20) * 8


def test_fewer_slots_than_objects_keeps_the_bounds():
    e = make_engine("lirs", 50, slots=4)
    rng = np.random.default_rng(1)
    for k in rng.integers(0, 40, size=2000):
        e._access(int(k))
        assert e.resident <= 4
    e._check()


@pytest.mark.parametrize("params, message", [
    ({"hir_ratio": 0.0}, "hir_ratio must be > 0 and < 1, got 0.0"),
    ({"hir_ratio": 1.0}, "hir_ratio must be > 0 and < 1, got 1.0"),
    ({"hir_ratio": -0.5}, "hir_ratio"),
    ({"hir_ratio": float("nan")}, "hir_ratio"),
    ({"stack_ratio": -1.0}, "stack_ratio must be a finite number >= 0, got -1.0"),
    ({"stack_ratio": float("inf")}, "stack_ratio"),
    ({"stack_ratio": float("nan")}, "stack_ratio"),
    ({"percent_hot": 0.99}, "unknown parameter 'percent_hot'"),
])
def test_parameter_validation(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        replay(np.arange(10, dtype=np.int64), "lirs", 4, **params)


def test_parameters_shape_the_split():
    e = make_engine("lirs", 500)
    assert (e.lir_limit, e.stack_limit) == (495, 1000)           # the paper's 1%
    e = make_engine("lirs", 50)
    assert e.lir_limit == 49                                      # Lhirs at least 1
    e = make_engine("lirs", 1)
    assert e.lir_limit == 0                                       # all HIR: LRU of one
    assert replay(np.array([1, 1, 2, 1], dtype=np.int64), "lirs", 1).hits == 1
