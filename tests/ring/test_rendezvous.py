"""Rendezvous (highest random weight) hashing against RendezvousModel.

- a hypothesis state machine adds, removes and reweights nodes and compares
  lookup and lookup_many with the model (integer scores with equal weights,
  -w / ln(u) otherwise) after every step, with ``_check()``;
- the bound that lets the weighted lookup skip most logarithms never changes
  the answer: the lookup equals the argmax of ``scores()`` on many keys;
- the known results: adding a node moves exactly the keys it wins (about
  1/(n+1), none between old nodes), removing moves only its keys, shares
  follow the weights, and changing one weight moves keys only to or from
  that node;
- bad input.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from partitioner_machine import NAMES, PartitionerMachine
from models_other import RendezvousModel
from tradeoff.ring._rendezvous import Rendezvous

WEIGHTS = st.sampled_from([0, 0.5, 1, 1, 2, 3.7, 100])
N_KEYS = 100_000


def int_keys(n=N_KEYS, seed=11):
    return np.random.default_rng(seed).integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64, endpoint=True)


class RendezvousMachine(PartitionerMachine):
    @initialize(ws=st.lists(WEIGHTS, min_size=1, max_size=5))
    def setup(self, ws):
        nodes = dict(zip(NAMES, ws))
        self.part = Rendezvous(nodes)
        self.model = RendezvousModel(nodes)

    @rule(name=st.sampled_from(NAMES), w=WEIGHTS)
    def add(self, name, w):
        if name in self.model.names:
            with pytest.raises(ValueError, match="already"):
                self.part.add(name, w)
        else:
            self.part.add(name, w)
            self.model.add(name, w)

    @precondition(lambda self: self.model.names)
    @rule(data=st.data(), w=WEIGHTS)
    def set_weight(self, data, w):
        name = data.draw(st.sampled_from(self.model.names))
        self.part.set_weight(name, w)
        self.model.weights[self.model.names.index(name)] = float(w)

    def compare(self):
        assert self.part.weights == self.model.weights


RendezvousMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                               suppress_health_check=[HealthCheck.too_slow])
TestRendezvousMachine = RendezvousMachine.TestCase


@settings(max_examples=40, deadline=None)
@given(st.lists(WEIGHTS, min_size=2, max_size=8))
def test_the_log_skipping_bound_never_changes_the_answer(ws):
    part = Rendezvous({f"n{i}": w for i, w in enumerate(ws)})
    keys = int_keys(300, seed=len(ws)).tolist()
    for k in keys:
        sc = part.scores(k)
        if len(set(ws)) > 1:
            sc = [s if w > 0 else -1.0 for s, w in zip(sc, ws)]
        assert part.lookup_index(k) == sc.index(max(sc))


def test_weighted_lookup_many_equals_the_model():
    ws = [1, 2, 0.5, 3, 0, 1.25, 7, 1]
    nodes = {f"n{i}": w for i, w in enumerate(ws)}
    part, model = Rendezvous(nodes), RendezvousModel(nodes)
    keys = int_keys(3000, seed=3)
    got = part.lookup_many(keys)
    assert [part.nodes[i] for i in got] == [model.lookup(int(k)) for k in keys]


# ---------------------------------------------------------------- known results


@pytest.mark.parametrize("n", [10, 100])
def test_adding_a_node_moves_exactly_its_keys(n):
    keys = int_keys()
    names = [f"node{i:04d}" for i in range(n)]
    before, after = Rendezvous(names), Rendezvous(names)
    after.add(f"node{n:04d}")
    a, b = before.lookup_many(keys), after.lookup_many(keys)
    moved = a != b
    assert (b[moved] == n).all() and moved.sum() == (b == n).sum()
    frac = moved.mean()
    assert abs(frac - 1 / (n + 1)) < 5 * np.sqrt(frac * (1 - frac) / len(keys))


def test_removing_any_node_moves_only_its_keys():
    keys = int_keys()
    names = [f"node{i:04d}" for i in range(10)]
    before, after = Rendezvous(names), Rendezvous(names)
    after.remove("node0004")
    a = np.array(before.nodes)[before.lookup_many(keys)]
    b = np.array(after.nodes)[after.lookup_many(keys)]
    moved = a != b
    assert (a[moved] == "node0004").all() and not (b == "node0004").any()
    assert moved.sum() == (a == "node0004").sum()


def test_spread_is_even_also_on_sequential_keys():
    part = Rendezvous([f"node{i:04d}" for i in range(100)])
    for keys in (int_keys(), np.arange(N_KEYS, dtype=np.int64)):
        counts = np.bincount(part.lookup_many(keys), minlength=100)
        assert counts.std() / counts.mean() < 0.045      # binomial noise alone: ~0.031


def test_shares_follow_the_weights():
    keys = int_keys()
    ws = [1, 2, 3, 4, 0]
    part = Rendezvous({f"n{i}": w for i, w in enumerate(ws)})
    counts = np.bincount(part.lookup_many(keys), minlength=5)
    assert counts[4] == 0
    want = np.array(ws) / sum(ws) * len(keys)
    sd = np.sqrt(want * (1 - np.array(ws) / sum(ws)))
    assert (np.abs(counts - want) <= 5 * sd + 1e-9).all()


def test_changing_one_weight_moves_keys_only_to_or_from_that_node():
    keys = int_keys()
    nodes = {f"n{i}": 1 + i % 3 for i in range(8)}
    part = Rendezvous(nodes)
    a = part.lookup_many(keys)
    part.set_weight("n2", 6)
    b = part.lookup_many(keys)
    moved = a != b
    assert moved.any() and (b[moved] == 2).all()
    part.set_weight("n2", 0.5)
    c = part.lookup_many(keys)
    moved = b != c
    assert moved.any() and (b[moved] == 2).all()


def test_all_zero_weights_count_as_equal():
    eq = Rendezvous(["a", "b", "c"])
    zero = Rendezvous({"a": 0, "b": 0, "c": 0})
    keys = int_keys(2000)
    assert (eq.lookup_many(keys) == zero.lookup_many(keys)).all()
    scaled = Rendezvous({"a": 3, "b": 3, "c": 3})
    assert (eq.lookup_many(keys) == scaled.lookup_many(keys)).all()


def test_bad_input():
    with pytest.raises(ValueError, match="at least one node"):
        Rendezvous([])
    with pytest.raises(ValueError, match=">= 0"):
        Rendezvous({"a": -1})
    with pytest.raises(ValueError, match=">= 0"):
        Rendezvous({"a": float("nan")})
    with pytest.raises(TypeError):
        Rendezvous({"a": "heavy"})
    with pytest.raises(TypeError):
        Rendezvous([1, 2])
    part = Rendezvous(["a"])
    with pytest.raises(ValueError, match="already"):
        part.add("a")
    with pytest.raises(KeyError):
        part.remove("b")
    with pytest.raises(TypeError):
        part.lookup(None)
    part.remove("a")
    with pytest.raises(LookupError):
        part.lookup("k")
    part._check()
