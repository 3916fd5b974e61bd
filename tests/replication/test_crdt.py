"""State-based CRDTs and version vectors (tradeoff.replication.crdt): merge is
commutative, associative and idempotent on states reached by random updates and
merges; and a hypothesis state machine of several replicas, random updates and
random one-way merges (in any order, repeated) checks every replica's value
against a plain model computed from the causal history it has received (Shapiro
et al., INRIA RR 7506: a replica's state is a function of the updates it knows),
and that replicas knowing the same updates hold equal states."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradeoff.replication.crdt import (AFTER, BEFORE, CONCURRENT, EQUAL, GCounter, LWWRegister, MVRegister,
                                       ORSet, PNCounter, VersionVector)

R = 3          # replicas
ELEMENTS = 3   # OR-set universe


# -- the types under test, driven alike -------------------------------------------------------
# update(state, replica, op_id, arg, info) applies one update in place and fills `info` (what
# the model needs to know about the op); model(known, ops) is the value a replica knowing the
# op ids `known` should show; value(state) what it shows.
class Kind:
    def __init__(self, name, new, update, model, value, arg):
        self.name, self.new, self.update, self.model, self.value, self.arg = name, new, update, model, value, arg


def _g_update(s, r, op, arg, info, known):
    s.increment(r, arg)
    info["amount"] = arg


def _pn_update(s, r, op, arg, info, known):
    s.add(r, arg)
    info["amount"] = arg


def _lww_update(s, r, op, arg, info, known):
    ts = arg + op * 1e-6               # unique timestamps: the order is (ts, replica)
    s.set(op, ts, r)
    info["ts"] = ts


def _or_update(s, r, op, arg, info, known):
    element, remove = arg
    info["element"], info["remove"] = element, remove
    if remove:
        s.remove(element)
        info["observed"] = {a for a in known if OPS_INFO[a].get("element") == element and not OPS_INFO[a]["remove"]}
    else:
        s.add(element, r)


def _mv_update(s, r, op, arg, info, known):
    s.set(op, r)
    info["past"] = set(known)


def _vv_update(s, r, op, arg, info, known):
    s.increment(r)
    info["replica"] = r


OPS_INFO: dict = {}


def _or_model(known):
    out = set()
    for a in known:
        i = OPS_INFO[a]
        if i["remove"]:
            continue
        if not any(OPS_INFO[x]["remove"] and a in OPS_INFO[x]["observed"] for x in known):
            out.add(i["element"])
    return frozenset(out)


def _mv_model(known):
    return sorted(a for a in known if not any(a in OPS_INFO[b]["past"] for b in known if b != a))


def _vv_model(known):
    counts = {}
    for a in known:
        r = OPS_INFO[a]["replica"]
        counts[r] = counts.get(r, 0) + 1
    return VersionVector(counts)


KINDS = {
    "gcounter": Kind("gcounter", GCounter, _g_update, lambda k: sum(OPS_INFO[a]["amount"] for a in k),
                     lambda s: s.value, st.integers(0, 5)),
    "pncounter": Kind("pncounter", PNCounter, _pn_update, lambda k: sum(OPS_INFO[a]["amount"] for a in k),
                      lambda s: s.value, st.integers(-5, 5)),
    "lww": Kind("lww", LWWRegister, _lww_update,
                lambda k: max(k, key=lambda a: (OPS_INFO[a]["ts"], OPS_INFO[a]["replica"])) if k else None,
                lambda s: s.value, st.integers(0, 3)),
    "orset": Kind("orset", ORSet, _or_update, _or_model, lambda s: s.value,
                  st.tuples(st.integers(0, ELEMENTS - 1), st.booleans())),
    "mvregister": Kind("mvregister", MVRegister, _mv_update, _mv_model, lambda s: sorted(s.value),
                       st.just(None)),
    "vv": Kind("vv", VersionVector, _vv_update, _vv_model, lambda s: s, st.just(None)),
}


def run(kind, script):
    """Apply a script of ("u", replica, arg) updates and ("m", src, dst) merges to R
    fresh replicas; returns (states, knowledge)."""
    states = [kind.new() for _ in range(R)]
    known = [set() for _ in range(R)]
    for step in script:
        if step[0] == "u":
            _, r, arg = step
            op = len(OPS_INFO) + 1
            info = {"replica": r}
            kind.update(states[r], r, op, arg, info, known[r])
            OPS_INFO[op] = info
            known[r].add(op)
        else:
            _, a, b = step
            states[b] = states[b].merge(states[a])
            known[b] |= known[a]
    return states, known


def scripts(kind):
    step = st.one_of(st.tuples(st.just("u"), st.integers(0, R - 1), kind.arg),
                     st.tuples(st.just("m"), st.integers(0, R - 1), st.integers(0, R - 1)))
    return st.lists(step, max_size=25)


@pytest.mark.parametrize("name", list(KINDS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_merge_is_commutative_associative_idempotent(name, data):
    kind = KINDS[name]
    (a, b, c), _ = run(kind, data.draw(scripts(kind)))
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(b).merge(b) == a.merge(b)
    for s in (a, b, c, a.merge(b).merge(c)):
        s._check()
    before = (a.copy() if hasattr(a, "copy") else a)
    a.merge(b)
    assert a == before, "merge leaves its inputs alone"


@pytest.mark.parametrize("name", list(KINDS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_each_replica_shows_the_value_of_the_updates_it_knows(name, data):
    kind = KINDS[name]
    states, known = run(kind, data.draw(scripts(kind)))
    for s, k in zip(states, known):
        assert kind.value(s) == kind.model(k)
    # full exchange in a random order: every replica converges on the model of all updates
    order = data.draw(st.permutations([(a, b) for a in range(R) for b in range(R) if a != b]))
    for a, b in list(order) * 2:
        states[b] = states[b].merge(states[a])
        known[b] |= known[a]
    assert all(s == states[0] for s in states)
    assert kind.value(states[0]) == kind.model(set().union(*known))


class Replicas(RuleBasedStateMachine):
    """R replicas of one type (drawn first), random updates and random merges,
    in any order and repeated; after every step each replica's value is the
    model's for the updates it knows, replicas knowing the same updates are
    equal, and every state passes its _check()."""

    @initialize(name=st.sampled_from(sorted(KINDS)))
    def setup(self, name):
        self.kind = KINDS[name]
        self.states = [self.kind.new() for _ in range(R)]
        self.known = [set() for _ in range(R)]

    @rule(r=st.integers(0, R - 1), data=st.data())
    def update(self, r, data):
        arg = data.draw(self.kind.arg)
        op = len(OPS_INFO) + 1
        info = {"replica": r}
        self.kind.update(self.states[r], r, op, arg, info, self.known[r])
        OPS_INFO[op] = info
        self.known[r].add(op)

    @rule(a=st.integers(0, R - 1), b=st.integers(0, R - 1))
    def merge(self, a, b):
        self.states[b] = self.states[b].merge(self.states[a])
        self.known[b] |= self.known[a]

    @precondition(lambda self: hasattr(self, "kind"))
    @invariant()
    def agrees_with_the_model(self):
        for s, k in zip(self.states, self.known):
            s._check()
            assert self.kind.value(s) == self.kind.model(k)
        for i in range(R):
            for j in range(i + 1, R):
                if self.known[i] == self.known[j]:
                    assert self.states[i] == self.states[j]


Replicas.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestReplicas = Replicas.TestCase


def test_version_vector_compare():
    a = VersionVector({"x": 1})
    b = a.copy().increment("y")
    assert a.compare(b) == BEFORE and b.compare(a) == AFTER and a.compare(a.copy()) == EQUAL
    c = a.copy().increment("z")
    assert b.compare(c) == CONCURRENT and b.concurrent(c)
    assert b.merge(c) == VersionVector({"x": 1, "y": 1, "z": 1})
    assert VersionVector({"x": 0}) == VersionVector()
    with pytest.raises(ValueError, match="counts"):
        VersionVector({"x": -1})
    with pytest.raises(ValueError, match="amount"):
        a.increment("x", 0)


def test_lww_register_ties_and_skew():
    r = LWWRegister().set("a", 1.0, 1)
    assert r.merge(LWWRegister().set("b", 1.0, 2)).value == "b"    # replica id breaks the tie
    assert r.merge(LWWRegister().set("c", 0.5, 9)).value == "a"    # an earlier clock loses
    with pytest.raises(ValueError, match="timestamp"):
        LWWRegister().set("x", float("nan"), 1)


def test_or_set_add_wins_and_mv_register_siblings():
    a = ORSet().add("x", "a")
    b = a.copy().remove("x")
    a.add("x", "a")                      # concurrent with b's remove
    assert a.merge(b).value == {"x"} and b.value == frozenset()
    a2 = a.merge(b).remove("x")
    assert a2.value == frozenset() and a2.merge(a).value == frozenset()
    m = MVRegister().set(1, "a")
    n = m.copy().set(2, "b")
    o = m.copy().set(3, "c")
    assert sorted(n.merge(o).value) == [2, 3]
    assert n.merge(o).set(4, "a").value == [4]
    assert m.merge(n).value == [2]       # the later write dominates
    with pytest.raises(ValueError, match="amount"):
        GCounter().increment("a", -1)
