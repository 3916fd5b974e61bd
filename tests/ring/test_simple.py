"""ModN and RangePartitioner against their pure-Python models (ring_models.py):
fixed cases, hypothesis state machines over add/remove/set_weight/lookup with
``_check()`` after every step, the mod-N movement on adding a node, bad input."""
import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ring_models import ModNModel, RangeModel, key_word
from tradeoff.ring._simple import ModN, RangePartitioner

NAMES = [f"n{i}" for i in range(8)]
I64 = st.integers(-(2**63), 2**63 - 1)
ANY_KEY = st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=6), st.binary(max_size=6))


# ---------------------------------------------------------------- ModN

def test_modn_lookups():
    p = ModN(["a", "b", "c"])
    assert [p.lookup(k) for k in range(6)] == ["a", "b", "c", "a", "b", "c"]
    assert p.lookup(-1) == ["a", "b", "c"][(2**64 - 1) % 3]
    assert p.lookup("x") == ["a", "b", "c"][key_word("x") % 3]
    assert p.lookup_many(np.arange(7, dtype=np.int32)).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert p.lookup_many(np.array([2**64 - 1], dtype=np.uint64)).tolist() == [(2**64 - 1) % 3]
    assert p.lookup_many(["x", b"y", 4]).tolist() == [key_word("x") % 3, key_word(b"y") % 3, 1]
    assert ModN({"a": 5, "b": 1}).uses_weights is False
    assert ModN({"a": 5, "b": 1}).lookup_many(np.arange(4)).tolist() == [0, 1, 0, 1]   # weights ignored


def test_modn_moves_n_over_n_plus_one():
    keys = np.random.default_rng(7).integers(-(2**63), 2**63 - 1, 200_000)
    for n in (10, 100):
        before = ModN([f"n{i}" for i in range(n)]).lookup_many(keys)
        after = ModN([f"n{i}" for i in range(n + 1)]).lookup_many(keys)
        assert abs((before != after).mean() - n / (n + 1)) < 0.005


class ModNMachine(RuleBasedStateMachine):
    @initialize(n=st.integers(1, 4))
    def start(self, n):
        self.p = ModN(NAMES[:n])
        self.names = NAMES[:n]

    @rule(name=st.sampled_from(NAMES))
    def add(self, name):
        if name in self.names:
            with pytest.raises(ValueError, match="already"):
                self.p.add(name)
        else:
            self.p.add(name, 2)
            self.names.append(name)

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name):
        if name not in self.names:
            with pytest.raises(KeyError):
                self.p.remove(name)
        else:
            self.p.remove(name)
            self.names.remove(name)

    @precondition(lambda self: self.names)
    @rule(data=st.data(), w=st.sampled_from([0, 1, 7]))
    def set_weight(self, data, w):
        self.p.set_weight(data.draw(st.sampled_from(self.names)), w)

    @rule(keys=st.lists(ANY_KEY, max_size=10))
    def lookup(self, keys):
        if not self.names:
            for k in keys:
                with pytest.raises(LookupError):
                    self.p.lookup(k)
            return
        model = ModNModel(self.names)
        for k in keys:
            assert self.p.lookup(k) == model.lookup(k)

    @invariant()
    def consistent(self):
        self.p._check()
        assert self.p.nodes == self.names


TestModNMachine = ModNMachine.TestCase
TestModNMachine.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)


# ---------------------------------------------------------------- ranges

def test_range_lookups():
    p = RangePartitioner(["low", "mid", "high"], [0, 1000])
    assert [p.lookup(k) for k in (-(2**63), -1, 0, 999, 1000, 2**63 - 1)] == \
        ["low", "low", "mid", "mid", "high", "high"]
    assert p.lookup(2**63) == "low"              # an unsigned key >= 2**63 reads as negative
    assert p.lookup_many(np.array([-5, 5, 5000])).tolist() == [0, 1, 2]
    assert RangePartitioner(["only"], []).lookup("anything") == "only"
    assert p.uses_weights is False


def test_range_add_and_remove():
    p = RangePartitioner(["a", "b"], [0])
    p.add("c")                                    # widest: a = [-2**63, 0) vs b = [0, 2**63): a on the tie
    assert p.ranges == [("a", -(2**63), -(2**62)), ("c", -(2**62), 0), ("b", 0, 2**63)]
    p.add("d", boundary=10)
    assert p.ranges[-2:] == [("b", 0, 10), ("d", 10, 2**63)]
    assert p.boundaries == [-(2**62), 0, 10]
    p.remove("a")                                 # the first range merges upward
    assert p.ranges[0] == ("c", -(2**63), 0)
    p.remove("b")                                 # merges into its lower neighbour
    assert p.ranges == [("c", -(2**63), 10), ("d", 10, 2**63)]
    assert p.nodes == ["c", "d"]
    p._check()


class RangeMachine(RuleBasedStateMachine):
    @initialize(bounds=st.lists(I64, min_size=0, max_size=4, unique=True))
    def start(self, bounds):
        bounds = sorted(bounds)
        names = NAMES[:len(bounds) + 1]
        self.p = RangePartitioner(names, bounds)
        self.model = RangeModel(names, bounds)

    @rule(name=st.sampled_from(NAMES), boundary=st.one_of(st.none(), I64, st.integers(-3, 3)))
    def add(self, name, boundary):
        names = [n for n, _ in self.model.ranges]
        if name in names:
            with pytest.raises(ValueError, match="already"):
                self.p.add(name, boundary=boundary)
            return
        if not names:
            if boundary is not None:
                with pytest.raises(ValueError):
                    self.p.add(name, boundary=boundary)
                return
            self.p.add(name)
            self.model.ranges = [[name, RangeModel.LO]]
            return
        los = [lo for _, lo in self.model.ranges]
        if boundary is not None and boundary in los:
            with pytest.raises(ValueError):
                self.p.add(name, boundary=boundary)
            return
        self.p.add(name, boundary=boundary)
        self.model.add(name, boundary)

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name):
        if name not in [n for n, _ in self.model.ranges]:
            with pytest.raises(KeyError):
                self.p.remove(name)
            return
        self.p.remove(name)
        self.model.remove(name)

    @rule(keys=st.lists(ANY_KEY, max_size=10))
    def lookup(self, keys):
        if not self.model.ranges:
            return
        for k in keys:
            assert self.p.lookup(k) == self.model.lookup(k)
        ints = [k for k in keys if isinstance(k, int) and -(2**63) <= k < 2**63]
        got = self.p.lookup_many(np.array(ints, dtype=np.int64))
        assert [self.p.nodes[j] for j in got] == [self.model.lookup(k) for k in ints]

    @invariant()
    def consistent(self):
        self.p._check()
        assert self.p.ranges == self.model.as_tuples()


TestRangeMachine = RangeMachine.TestCase
TestRangeMachine.settings = settings(max_examples=50, stateful_step_count=20, deadline=None)


def test_bad_input():
    with pytest.raises(ValueError, match="at least one node"):
        ModN([])
    with pytest.raises(ValueError, match="already"):
        ModN(["a", "a"])
    with pytest.raises(KeyError, match="'z'"):
        ModN(["a"]).remove("z")
    with pytest.raises(ValueError, match=">= 0"):
        ModN({"a": -1})
    with pytest.raises(ValueError, match="2 boundaries"):
        RangePartitioner(["a", "b", "c"], [1])
    with pytest.raises(ValueError, match="strictly increase"):
        RangePartitioner(["a", "b", "c"], [5, 1])
    with pytest.raises(ValueError, match="strictly increase"):
        RangePartitioner(["a", "b", "c"], [1, 1])
    with pytest.raises(ValueError, match="int64 range"):
        RangePartitioner(["a", "b"], [2**63])
    with pytest.raises(TypeError, match="integer"):
        RangePartitioner(["a", "b"], [1.5])
    with pytest.raises(ValueError, match="at least one node"):
        RangePartitioner([], [])
    p = RangePartitioner(["a", "b"], [0])
    with pytest.raises(ValueError, match="already exists"):
        p.add("c", boundary=0)
    with pytest.raises(ValueError, match="empty"):
        p.add("c", boundary=-(2**63))
    with pytest.raises(ValueError, match="already"):
        p.add("a")
    with pytest.raises(KeyError):
        p.remove("zz")
    p._check()
    assert p.ranges == [("a", -(2**63), 0), ("b", 0, 2**63)]
