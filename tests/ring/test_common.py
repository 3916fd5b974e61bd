"""What every partitioner shares: the key conversions, batch = one by one, and
the same clear errors for bad nodes and keys."""
import numpy as np
import pytest

from tradeoff.ring import (HashRing, JumpHash, Maglev, ModN, MultiProbe, RangePartitioner, Rendezvous)
from tradeoff.ring.experiment import even_boundaries

NODES = ["n0", "n1", "n2", "n3", "n4"]


def build(name, nodes=NODES):
    if name == "range":
        return RangePartitioner(nodes, even_boundaries(len(nodes)))
    return {"modn": ModN, "ring": HashRing, "ketama": lambda n: HashRing(n, compat="ketama"),
            "jump": JumpHash, "rendezvous": Rendezvous, "maglev": lambda n: Maglev(n, table_size=101),
            "multiprobe": MultiProbe}[name](nodes)


ALL = ["modn", "range", "ring", "ketama", "jump", "rendezvous", "maglev", "multiprobe"]


@pytest.mark.parametrize("name", ALL)
def test_batch_equals_one_by_one_for_every_integer_dtype(name):
    p = build(name)
    keys = np.random.default_rng(1).integers(-(2**63), 2**63 - 1, size=2000, dtype=np.int64)
    one = [p.lookup_index(int(k)) for k in keys]
    assert p.lookup_many(keys).tolist() == one
    assert p.lookup_many(keys.astype(">i8")).tolist() == one          # big-endian input
    assert p.lookup_many(keys[::2]).tolist() == one[::2]              # strided input
    small = keys.astype(np.int32)
    assert p.lookup_many(small).tolist() == [p.lookup_index(int(k)) for k in small]
    big = keys.view(np.uint64)
    if name == "ketama":     # ints are looked up as their decimal strings, as memcached clients do
        assert p.lookup_many(big).tolist() == [p.lookup_index(int(k)) for k in big]
    else:
        assert p.lookup_many(big).tolist() == one                     # same bits, same node
    strs = [f"user:{i}" for i in range(300)]
    assert p.lookup_many(strs).tolist() == [p.lookup_index(s) for s in strs]
    assert [p.nodes[i] for i in p.lookup_many(strs)] == [p.lookup(s) for s in strs]
    p._check()


@pytest.mark.parametrize("name", ALL)
def test_bad_nodes_and_keys_are_clear_errors_that_change_nothing(name):
    p = build(name)
    before = p.lookup_many(np.arange(500))
    with pytest.raises(ValueError, match="already"):
        p.add("n1")
    with pytest.raises(KeyError, match="not in"):
        p.remove("nope")
    with pytest.raises(TypeError, match="keys are str, bytes or int"):
        p.lookup(1.5)
    if name != "ketama":     # ketama hashes an int's decimal string: any int is a key
        with pytest.raises(OverflowError, match="64 bits"):
            p.lookup(2**64)
    with pytest.raises(TypeError, match="integer array"):
        p.lookup_many(np.zeros(3))
    with pytest.raises(ValueError, match="one-dimensional"):
        p.lookup_many(np.zeros((2, 2), dtype=np.int64))
    assert p.nodes == NODES
    assert (p.lookup_many(np.arange(500)) == before).all()
    p._check()


@pytest.mark.parametrize("name", ALL)
def test_empty_node_list_and_negative_weight(name):
    with pytest.raises(ValueError, match="at least one node"):
        build(name, [])
    cls = type(build(name))
    with pytest.raises(ValueError, match=">= 0"):
        if name == "range":
            cls({"a": 1, "b": -1}, [0])
        else:
            cls({"a": 1, "b": -1})
