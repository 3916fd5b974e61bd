"""spread() and movement() against direct counts, and the known results they
reproduce: ring spread at 1, 10, 100 and 1000 vnodes for 100 nodes (about 100%,
31%, 9.9% and 3.1% stdev/mean), mod-N moving n/(n+1) of the keys when a node
is added, a ring about 1/(n+1)."""
import importlib
from collections import Counter

import numpy as np
import pytest

from tradeoff.ring._hashring import HashRing
from tradeoff.ring._simple import ModN, RangePartitioner
from tradeoff.ring.metrics import movement, spread

KEYS = np.random.default_rng(42).integers(-(2**63), 2**63 - 1, 1_000_000)


def other_partitioners():
    """The other engineers' partitioners, when they are built (metrics must work for any)."""
    out = []
    for module, cls in [("_jump", "JumpHash"), ("_rendezvous", "Rendezvous"),
                        ("_maglev", "Maglev"), ("_multiprobe", "MultiProbe")]:
        try:
            out.append(getattr(importlib.import_module(f"tradeoff.ring.{module}"), cls))
        except (ImportError, AttributeError):
            pass
    return out


# ---------------------------------------------------------------- spread

def test_spread_counts_and_ratios():
    s = spread(ModN(["a", "b", "c", "d"]), np.arange(1000))
    assert s.counts.tolist() == [250] * 4 and s.cv == 0 and s.peak_to_average == 1 == s.min_to_average
    assert not s.weighted and s.keys == 1000
    s = spread(ModN(["a", "b"]), np.array([0, 0, 0, 1]))
    assert s.counts.tolist() == [3, 1]
    assert s.peak_to_average == 1.5 and s.min_to_average == 0.5 and s.cv == 0.5
    assert s.as_dict()["counts"] == {"a": 3, "b": 1}


def test_spread_of_string_keys_matches_lookups():
    ring = HashRing(["a", "b", "c"], vnodes=50)
    keys = [f"user:{i}" for i in range(3000)]
    s = spread(ring, keys)
    c = Counter(ring.lookup(k) for k in keys)
    assert s.counts.tolist() == [c[n] for n in ring.nodes]


def test_spread_weighted_compares_to_weight_shares():
    ring = HashRing({"a": 1, "b": 3}, vnodes=400)
    s = spread(ring, KEYS[:200_000])
    assert s.weighted
    assert s.expected.tolist() == [50_000, 150_000]
    assert s.peak_to_average < 1.1 and s.min_to_average > 0.9
    plain = spread(ring, KEYS[:200_000], weighted=False)
    assert plain.peak_to_average > 1.4                   # b holds ~3/4 against an equal share of 1/2
    # ModN ignores weights: compared with equal shares even when weights differ
    assert not spread(ModN({"a": 1, "b": 3}), np.arange(100)).weighted
    # a node of weight zero is left out of the ratios
    z = spread(HashRing({"a": 1, "b": 1, "z": 0}), KEYS[:10_000])
    assert z.counts[2] == 0 and z.expected[2] == 0 and z.min_to_average > 0.5


def test_spread_of_a_bounded_ring_uses_its_assignment():
    nodes = [f"n{i}" for i in range(10)]
    ring = HashRing(nodes, vnodes=3, load_factor=1.1)
    s = spread(ring, KEYS[:50_000])
    assert s.peak_to_average <= np.ceil(1.1 * 50_000 / 10) / 5_000
    assert ring.assigned == 0                            # measured on a copy
    assert spread(HashRing(nodes, vnodes=3), KEYS[:50_000]).peak_to_average > 1.3


@pytest.mark.parametrize("vnodes,want", [(1, 0.99), (10, 0.3145), (100, 0.0995), (1000, 0.0315)])
def test_ring_spread_matches_one_over_sqrt_vnodes(vnodes, want):
    """The arc a node owns is a sum of `vnodes` spacings: stdev/mean of the shares
    is sqrt((n - 1) / (n * vnodes + 1)), about 1/sqrt(vnodes). Measured exactly on the
    arcs (five sets of 100 node names); the sample stdev of 100 nodes is itself
    uncertain by ~7% (more at one vnode), hence the tolerance."""
    cvs = []
    for s in range(5):
        sh = HashRing([f"s{s}-node{i}" for i in range(100)], vnodes=vnodes).shares()
        cvs.append(sh.std() / sh.mean())
    assert abs(np.mean(cvs) / want - 1) < 0.12, cvs
    # on a million keys the sampling noise (about 1%) adds in quadrature
    sp = spread(HashRing([f"node{i}" for i in range(100)], vnodes=vnodes), KEYS)
    assert abs(sp.cv / np.hypot(want, 0.01) - 1) < 0.25


# ---------------------------------------------------------------- movement

def test_movement_counts_by_name():
    before = ModN(["a", "b"])
    after = ModN(["a", "b", "c"])
    m = movement(before, after, np.arange(6))
    assert (m.moved, m.total) == (4, 6)
    assert m.flows == {("a", "b"): 1, ("a", "c"): 1, ("b", "a"): 1, ("b", "c"): 1}
    assert sum(m.flows.values()) == m.moved
    df = m.table()
    assert list(df.columns) == ["from", "to", "keys", "share"] and df["keys"].sum() == 4


def test_movement_after_a_removal_compares_names():
    ring = HashRing([f"n{i}" for i in range(10)])
    after = ring.copy()
    after.remove("n0")                                   # every index shifts down by one
    m = movement(ring, after, KEYS[:100_000])
    lost = int((ring.lookup_many(KEYS[:100_000]) == 0).sum())
    assert m.moved == lost                               # only n0's keys move
    assert {a for a, _ in m.flows} == {"n0"}
    assert movement(ring, ring, KEYS[:1000]).moved == 0
    assert movement(ring, after, np.zeros(0, dtype=np.int64)).fraction == 0


@pytest.mark.parametrize("n", [10, 100])
def test_adding_a_node_modn_moves_almost_all_a_ring_one_share(n):
    base = [f"node{i}" for i in range(n)]
    m = movement(ModN(base), ModN(base + [f"node{n}"]), KEYS)
    assert abs(m.fraction - n / (n + 1)) < 0.003
    ring = HashRing(base)
    grown = ring.copy()
    grown.add(f"node{n}")
    h = movement(ring, grown, KEYS)
    # the new node's share: 160 arcs, so within ~3 stdev (8% each) of 1/(n+1)
    assert abs(h.fraction * (n + 1) - 1) < 0.25
    assert {b for _, b in h.flows} == {f"node{n}"}       # keys move only to the new node


def test_range_movement_is_one_range():
    p = RangePartitioner(["a", "b", "c"], [-(2**62), 2**62])
    q = RangePartitioner(["a", "b", "c"], [-(2**62), 2**62])
    q.add("d", boundary=0)
    m = movement(p, q, KEYS[:100_000])
    assert set(m.flows) == {("b", "d")} and abs(m.fraction - 0.25) < 0.01


@pytest.mark.parametrize("cls", other_partitioners(), ids=lambda c: c.__name__)
def test_metrics_work_for_every_partitioner(cls):
    base = [f"node{i}" for i in range(10)]
    p = cls(base)
    s = spread(p, KEYS[:20_000])
    assert s.keys == 20_000 and len(s.counts) == 10
    q = cls(base)
    q.add("node10")
    m = movement(p, q, KEYS[:20_000])
    assert 0 < m.fraction < 0.5 and sum(m.flows.values()) == m.moved
