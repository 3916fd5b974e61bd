"""Int64BTree and ObjectBTree against SortedMapModel (tests/index/btree_models.py).

- hypothesis state machines for both key types with node_size 3 and 4: set,
  overwrite, delete, pop, pop_min/pop_max, get/in, irange (random bounds,
  inclusive flags, reverse; keys, values and items), floor, ceiling, count, min,
  max, from_sorted, update, iteration, and bad keys, comparing with the model and
  calling ``_check()`` after every step; the int64 machine also runs the batch
  queries (lookup_many, contains_many, range_many, keys_array);
- every rebalancing case (leaf and internal splits, borrows from either side,
  merges) happens with small nodes;
- bad input leaves the tree unchanged; iterators notice changes; a comparison
  that changes the tree is refused; references are released;
- complexity by counting comparisons (no clock): a lookup and count() cost
  O(log n) comparisons, and count() does not depend on the size of the range.
"""
import doctest
import pickle
import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from btree_models import SortedMapModel
from tradeoff.index import _btree
from tradeoff.index._btree import BTree, Int64BTree, ObjectBTree

MACHINE = settings(max_examples=300, stateful_step_count=60, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

I64_MIN, I64_MAX = -2**63, 2**63 - 1
INT_KEY = st.one_of(st.integers(-30, 30), st.sampled_from([I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX]))
BAD_INT_KEYS = [(2**63, OverflowError), (I64_MIN - 1, OverflowError), (2**100, OverflowError),
                (1.5, TypeError), ("3", TypeError), (None, TypeError), (b"1", TypeError)]
INCLUSIVE = st.tuples(st.booleans(), st.booleans())


def _keyspace(kind):
    """80 distinct keys of one type (the machine draws indexes into it)."""
    rnd = random.Random(kind)
    if kind == "str":
        out = set()
        while len(out) < 80:
            out.add("".join(rnd.choice("abé") for _ in range(rnd.randrange(0, 4))) + rnd.choice(["", "z"]))
        return sorted(out, key=lambda s: (len(s), s))
    if kind == "tuple":
        return [(i // 9, i % 9) for i in range(80)]
    if kind == "float":
        return [i * 0.25 - 10.0 for i in range(80)]
    if kind == "bytes":
        return [bytes([i % 7, i]) for i in range(80)]
    raise ValueError(kind)


KINDS = {kind: _keyspace(kind) for kind in ("str", "tuple", "float", "bytes")}
UNORDERABLE = {"str": 1, "tuple": ("x",), "float": "x", "bytes": "x"}


def same(tree, model):
    assert len(tree) == len(model)
    assert tree.items() == model.items()


class _Machine(RuleBasedStateMachine):
    """The rules shared by both key types; subclasses set up self.key(i) and bounds."""

    def compare_raises(self, f_tree, f_model):
        try:
            want = f_model()
        except (KeyError, ValueError) as e:
            with pytest.raises(type(e)):
                f_tree()
            return
        assert f_tree() == want

    @invariant()
    def consistent(self):
        if hasattr(self, "tree"):
            self.tree._check()
            same(self.tree, self.model)

    @rule(i=st.integers(0, 79), v=st.integers(0, 5))
    def set(self, i, v):
        k = self.key(i)
        self.tree[k] = v
        self.model[k] = v

    @rule(i=st.integers(0, 79))
    def delete(self, i):
        k = self.key(i)
        if k in self.model.d:
            del self.tree[k]
            self.model.pop(k)
        else:
            with pytest.raises(KeyError):
                del self.tree[k]

    @rule(i=st.integers(0, 79), with_default=st.booleans())
    def pop(self, i, with_default):
        k = self.key(i)
        if with_default:
            assert self.tree.pop(k, "d") == self.model.pop(k, "d")
        else:
            self.compare_raises(lambda: self.tree.pop(k), lambda: self.model.pop(k))

    @rule(last=st.booleans())
    def pop_end(self, last):
        if last:
            self.compare_raises(self.tree.pop_max, self.model.pop_max)
        else:
            self.compare_raises(self.tree.pop_min, self.model.pop_min)

    @rule(i=st.integers(0, 79))
    def lookups(self, i):
        k = self.key(i)
        assert (k in self.tree) == (k in self.model)
        assert self.tree.get(k, "none") == self.model.get(k, "none")
        self.compare_raises(lambda: self.tree[k], lambda: self.model[k])

    @rule(lo=st.none() | st.integers(0, 79), hi=st.none() | st.integers(0, 79),
          inclusive=INCLUSIVE, reverse=st.booleans(), mode=st.sampled_from(["keys", "values", "items"]))
    def irange(self, lo, hi, inclusive, reverse, mode):
        lo, hi = self.bound(lo), self.bound(hi)
        keys = self.model.irange(lo, hi, inclusive, reverse)
        if mode == "keys":
            assert list(self.tree.irange(lo, hi, inclusive, reverse)) == keys
        elif mode == "values":
            assert list(self.tree.irange_values(lo, hi, inclusive, reverse)) == [self.model.d[k] for k in keys]
        else:
            assert list(self.tree.irange_items(lo, hi, inclusive, reverse)) == [(k, self.model.d[k]) for k in keys]
        assert self.tree.count(lo, hi, inclusive) == len(keys)

    @rule(i=st.integers(0, 79))
    def floor_ceiling(self, i):
        k = self.bound(i)
        assert self.tree.floor(k) == self.model.floor(k)
        assert self.tree.ceiling(k) == self.model.ceiling(k)

    @rule()
    def ends(self):
        self.compare_raises(self.tree.min, self.model.min)
        self.compare_raises(self.tree.max, self.model.max)
        assert list(reversed(self.tree)) == self.model.keys[::-1]
        assert list(self.tree) == self.model.keys
        assert self.tree.keys() == self.model.keys
        assert self.tree.values() == self.model.values()

    @rule(fill=st.sampled_from([0.5, 0.7, 0.9, 1.0]))
    def rebuild(self, fill):
        items = self.model.items()
        self.tree = type(self.tree).from_sorted([k for k, _ in items], [v for _, v in items],
                                                node_size=self.node_size, fill=fill)

    @rule(pairs=st.lists(st.tuples(st.integers(0, 79), st.integers(0, 5)), max_size=30),
          as_dict=st.booleans())
    def update(self, pairs, as_dict):
        pairs = [(self.key(i), v) for i, v in pairs]
        self.tree.update(dict(pairs) if as_dict else pairs)
        for k, v in pairs:
            self.model[k] = v

    @rule()
    def clear_sometimes(self):
        if len(self.model) > 60:
            self.tree.clear()
            self.model = SortedMapModel()


class Int64Machine(_Machine):
    @initialize(node_size=st.sampled_from([3, 4]), start=st.lists(st.tuples(INT_KEY, st.integers(0, 5)), max_size=40))
    def start(self, node_size, start):
        self.node_size = node_size
        self.tree = Int64BTree(node_size=node_size)
        self.model = SortedMapModel()
        self.ints = sorted({k for k, _ in start} | set(range(-30, 31)) | {I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX})
        for k, v in start:
            self.tree[k] = v
            self.model[k] = v

    def key(self, i):
        return self.ints[i % len(self.ints)]

    def bound(self, i):
        return None if i is None else self.key(i) + (i % 3 - 1) * (I64_MIN < self.key(i) < I64_MAX)

    @rule(keys=st.lists(INT_KEY, max_size=20))
    def batch_lookups(self, keys):
        arr = np.array(keys, dtype=np.int64)
        got = self.tree.lookup_many(arr, default="no")
        assert got.dtype == object and got.tolist() == [self.model.get(k, "no") for k in keys]
        assert self.tree.contains_many(keys).tolist() == [k in self.model for k in keys]

    @rule(ranges=st.lists(st.tuples(INT_KEY, INT_KEY), max_size=10), inclusive=INCLUSIVE)
    def batch_ranges(self, ranges, inclusive):
        los = np.array([a for a, _ in ranges], dtype=np.int64)
        his = np.array([b for _, b in ranges], dtype=np.int64)
        assert self.tree.range_many(los, his, inclusive).tolist() == \
            [self.model.count(a, b, inclusive) for a, b in ranges]
        for a, b in ranges[:3]:
            got = self.tree.keys_array(a, b, inclusive)
            assert got.dtype == np.int64 and got.tolist() == self.model.irange(a, b, inclusive)
        assert self.tree.keys_array().tolist() == self.model.keys

    @rule(bad=st.sampled_from(BAD_INT_KEYS))
    def bad_key(self, bad):
        key, exc = bad
        with pytest.raises(exc):
            self.tree[key] = 1
        checks = [lambda: self.tree[key], lambda: self.tree.pop(key), lambda: self.tree.floor(key),
                  lambda: key in self.tree]
        if key is not None:                      # None is an open bound
            checks.append(lambda: list(self.tree.irange(key)))
        for f in checks:
            with pytest.raises(exc):
                f()


class ObjectMachine(_Machine):
    @initialize(node_size=st.sampled_from([3, 4]), kind=st.sampled_from(sorted(KINDS)))
    def start(self, node_size, kind):
        self.node_size = node_size
        self.kind = kind
        self.space = KINDS[kind]
        self.tree = ObjectBTree(node_size=node_size)
        self.model = SortedMapModel()

    def key(self, i):
        return self.space[i]

    def bound(self, i):
        if i is None:
            return None
        if self.kind == "tuple" and i % 2:
            return (i // 9,)                 # a prefix bound, as a composite index scans
        return self.space[i]

    @precondition(lambda self: len(self.model) > 0)
    @rule(op=st.sampled_from(["set", "get", "in", "pop", "del", "floor", "irange", "count"]))
    def unorderable(self, op):
        bad = UNORDERABLE[self.kind]
        f = {"set": lambda: self.tree.__setitem__(bad, 1), "get": lambda: self.tree.get(bad),
             "in": lambda: bad in self.tree, "pop": lambda: self.tree.pop(bad, None),
             "del": lambda: self.tree.__delitem__(bad), "floor": lambda: self.tree.floor(bad),
             "irange": lambda: self.tree.irange(None, bad), "count": lambda: self.tree.count(bad)}[op]
        with pytest.raises(TypeError, match="mutually ordered"):
            f()


TestInt64Machine = Int64Machine.TestCase
TestInt64Machine.settings = MACHINE
TestObjectMachine = ObjectMachine.TestCase
TestObjectMachine.settings = MACHINE


# ---------------------------------------------------------------- longer random runs

@pytest.mark.parametrize("cls", [Int64BTree, ObjectBTree])
@pytest.mark.parametrize("node_size", [3, 4, 5])
def test_every_rebalancing_case_happens(cls, node_size):
    rnd = random.Random(node_size)
    tree, model = cls(node_size=node_size), SortedMapModel()
    for step in range(3000):
        k = rnd.randrange(400)
        if rnd.random() < (0.6 if step < 1500 else 0.35):
            tree[k] = step
            model[k] = step
        else:
            assert tree.pop(k, None) == model.pop(k, None)
        if step % 100 == 0:
            tree._check()
    tree._check()
    same(tree, model)
    stats = tree._stats()
    assert all(v > 0 for v in stats.values()), stats


@pytest.mark.parametrize("cls", [Int64BTree, ObjectBTree])
def test_default_node_size_against_model(cls):
    rnd = random.Random(7)
    tree, model = cls(), SortedMapModel()
    for step in range(20000):
        k = rnd.randrange(5000)
        r = rnd.random()
        if r < 0.55:
            tree[k] = step
            model[k] = step
        elif r < 0.95:
            assert tree.pop(k, None) == model.pop(k, None)
        elif model.keys:
            assert tree.pop_min() == model.pop_min()
    tree._check()
    same(tree, model)
    for _ in range(200):
        lo, hi = sorted(rnd.sample(range(-10, 5010), 2))
        assert list(tree.irange(lo, hi, (False, True))) == model.irange(lo, hi, (False, True))
        assert tree.count(lo, hi) == model.count(lo, hi)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 100, 1000])
@pytest.mark.parametrize("node_size", [3, 4, 7, 128])
@pytest.mark.parametrize("fill", [0.5, 0.75, 1.0])
def test_from_sorted_shapes(n, node_size, fill):
    keys = list(range(0, 3 * n, 3))
    t = Int64BTree.from_sorted(np.array(keys, dtype=np.int64), [k * 2 for k in keys], node_size=node_size, fill=fill)
    t._check()
    assert t.items() == [(k, k * 2) for k in keys]
    o = ObjectBTree.from_sorted([str(k).zfill(6) for k in keys], node_size=node_size, fill=fill)
    o._check()
    assert o.values() == [None] * n
    # the bulk-built tree keeps working under changes
    for k in range(0, 3 * n, 2):
        t[k + 1] = 0
        t.pop(k, None)
    t._check()


def test_from_sorted_fill_sets_the_leaf_size():
    keys = np.arange(100_000, dtype=np.int64)
    full = Int64BTree.from_sorted(keys, node_size=100, fill=1.0)
    most = Int64BTree.from_sorted(keys, node_size=100, fill=0.9)
    assert full.height == most.height == 3
    assert full.nbytes < most.nbytes < full.nbytes * 1.15
    assert 16 <= full.nbytes / len(full) < 17          # 8-byte key + 8-byte value pointer


def test_from_sorted_input_types():
    want = [(1, None), (5, None), (9, None)]
    for keys in ([1, 5, 9], (1, 5, 9), np.array([1, 5, 9], dtype=np.int32), np.array([1, 5, 9], dtype=np.uint64),
                 np.array([1, 5, 9], dtype=object), range(1, 10, 4)):
        assert Int64BTree.from_sorted(keys).items() == want
    assert Int64BTree.from_sorted([1, 2], np.array([7, 8])).items() == [(1, 7), (2, 8)]
    assert Int64BTree.from_sorted([], []).items() == []
    assert ObjectBTree.from_sorted(iter(["a", "b"]), ("x", "y")).items() == [("a", "x"), ("b", "y")]


# ---------------------------------------------------------------- bad input

def snapshot(t):
    return t.items(), len(t), t.nbytes, t.height


@pytest.mark.parametrize("keys, exc, match", [
    ([1, 3, 2], ValueError, "not strictly increasing at position 2: 3 then 2"),
    ([1, 1], ValueError, "not strictly increasing"),
    ([1, 2**63], OverflowError, "outside the int64 range"),
    ([1, 2.5], TypeError, "must be integers"),
    (np.array([1.0, 2.0]), TypeError, "dtype float64"),
    (np.array([1, 2**64 - 1], dtype=np.uint64), OverflowError, "outside the int64 range"),
    (np.zeros((2, 2), dtype=np.int64), ValueError, "one-dimensional"),
])
def test_int64_from_sorted_refuses(keys, exc, match):
    with pytest.raises(exc, match=match):
        Int64BTree.from_sorted(keys)


def test_from_sorted_refuses_more():
    with pytest.raises(ValueError, match="3 keys but 2 values"):
        Int64BTree.from_sorted([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError, match="fill"):
        Int64BTree.from_sorted([1, 2], fill=0.3)
    with pytest.raises(ValueError, match="not strictly increasing at position 1"):
        ObjectBTree.from_sorted(["b", "a"])
    with pytest.raises(TypeError, match="mutually ordered.*int.*str"):
        ObjectBTree.from_sorted([1, "a"])


@pytest.mark.parametrize("key, exc", BAD_INT_KEYS)
def test_int64_bad_keys_leave_the_tree_unchanged(key, exc):
    t = Int64BTree.from_sorted(range(50), node_size=3)
    before = snapshot(t)
    with pytest.raises(exc):
        t[key] = "x"
    with pytest.raises(exc):
        t.update([(5, "five"), (key, "x")])      # the pairs before the bad one are in
    assert t[5] == "five"
    t[5] = None
    with pytest.raises(exc):
        del t[key]
    if key is not None:                          # None is an open bound
        with pytest.raises(exc):
            t.count(0, key)
    with pytest.raises(exc):
        t.lookup_many([1, key])
    assert snapshot(t) == before
    t._check()


def test_object_unorderable_keys_leave_the_tree_unchanged():
    t = ObjectBTree.from_sorted([str(i).zfill(3) for i in range(200)], node_size=4)
    before = snapshot(t)
    for bad in (1, None, (1,), b"001"):
        with pytest.raises(TypeError, match=r"ObjectBTree keys must be mutually ordered: cannot compare"):
            t[bad] = 1
        with pytest.raises(TypeError):
            t.pop(bad)
    assert snapshot(t) == before
    t._check()
    # a comparison that fails deep in the tree, after others succeeded
    t2 = ObjectBTree(node_size=3)
    for i in range(50):
        t2[(i, "a")] = i
    before = snapshot(t2)
    with pytest.raises(TypeError):
        t2[(25, 0)] = "x"                      # (25, 0) vs (25, "a"): only the leaf comparison fails
    assert snapshot(t2) == before
    t2._check()


def test_argument_checks():
    for bad in (2, 0, -3, 2**20, 3.0, "64", True):
        with pytest.raises(ValueError, match="node_size must be an integer in"):
            Int64BTree(node_size=bad)
    with pytest.raises(ValueError, match="key_type"):
        BTree("str")
    assert isinstance(BTree("int64", node_size=5), Int64BTree) and BTree("int64", 5).node_size == 5
    assert isinstance(BTree("object"), ObjectBTree)
    with pytest.raises(TypeError, match="abstract"):
        _btree.BTreeBase()
    t = Int64BTree()
    with pytest.raises(TypeError, match="inclusive"):
        t.irange(1, 2, inclusive=True)
    with pytest.raises(ValueError, match="differ in length"):
        t.range_many([1, 2], [3])
    with pytest.raises(TypeError, match="mapping or"):
        t.update([1, 2])
    with pytest.raises(ValueError, match="empty"):
        t.min()
    with pytest.raises(ValueError, match="empty"):
        ObjectBTree().max()
    with pytest.raises(KeyError):
        t.pop_min()
    assert t.floor(3) is None and t.ceiling(3) is None and list(t.irange()) == [] and t.count() == 0


# ---------------------------------------------------------------- safety

def test_iterators_notice_changes():
    t = Int64BTree.from_sorted(range(100), node_size=4)
    it = iter(t)
    next(it)
    t[3] = "overwrite"                           # no change of structure: fine
    assert next(it) == 1
    t[1000] = 1
    with pytest.raises(RuntimeError, match="changed during iteration"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)
    it = t.irange_items(10, 20, reverse=True)
    assert next(it) == (20, None)
    del t[50]
    with pytest.raises(RuntimeError):
        next(it)
    it = iter(t)
    t.clear()
    with pytest.raises(RuntimeError):
        next(it)
    assert it.__length_hint__() == 0


def test_a_comparison_that_changes_the_tree_is_refused():
    t = ObjectBTree(node_size=3)

    class Evil:
        armed = False

        def __init__(self, x):
            self.x = x

        def __lt__(self, other):
            if Evil.armed:
                Evil.armed = False
                for i in range(100):
                    t.pop(Evil(i), None)          # frees nodes the caller is reading
            return self.x < other.x

        def __eq__(self, other):
            return self.x == other.x

    for i in range(100):
        t[Evil(i)] = i
    Evil.armed = True
    with pytest.raises(RuntimeError, match="changed during a key comparison"):
        t[Evil(50.5)] = 0
    t._check()


def test_references_are_released():
    marker = object()
    base = sys.getrefcount(marker)
    for cls, keys in ((Int64BTree, list(range(500))), (ObjectBTree, [str(i).zfill(3) for i in range(500)])):
        t = cls(node_size=3)
        for k in keys:
            t[k] = marker
        assert sys.getrefcount(marker) == base + 500
        for k in keys[::2]:
            del t[k]
        t.pop_min()
        t[keys[1]] = "other"
        assert sys.getrefcount(marker) == base + 249
        t2 = cls.from_sorted(t.keys(), t.values())
        t.clear()
        assert sys.getrefcount(marker) == base + 249
        del t2
        assert sys.getrefcount(marker) == base
        t = cls.from_sorted(keys, [marker] * 500)
        got = t.lookup_many(keys) if cls is Int64BTree else None
        del t, got
        assert sys.getrefcount(marker) == base
    # an ObjectBTree releases its keys, separators included
    key = "k" * 50
    keys = [key + str(i).zfill(4) for i in range(300)]
    kbase = [sys.getrefcount(k) for k in keys]
    t = ObjectBTree(node_size=3)
    for k in keys:
        t[k] = 1
    for k in keys:
        del t[k]
    t[keys[0]] = 1
    del t, k
    assert [sys.getrefcount(k) for k in keys] == kbase


def test_pickle_and_repr():
    t = Int64BTree.from_sorted(range(30), [str(i) for i in range(30)], node_size=5)
    u = pickle.loads(pickle.dumps(t))
    assert type(u) is Int64BTree and u.items() == t.items() and u.node_size == 5
    u._check()
    assert repr(Int64BTree.from_sorted([1, 2], ["a", "b"])) == "Int64BTree({1: 'a', 2: 'b'}, node_size=128)"
    assert repr(t).endswith("... (30 keys)}, node_size=5)")
    o = ObjectBTree.from_sorted([("a", 1)], [0])
    assert pickle.loads(pickle.dumps(o)).items() == [(("a", 1), 0)]


def test_composite_prefix_scans():
    rows = sorted((a, b, rid) for rid, (a, b) in enumerate((random.Random(3).randrange(5),
                                                             random.Random(rid).randrange(10))
                                                            for rid in range(200)))
    t = ObjectBTree.from_sorted(rows, node_size=8)
    for a in range(6):
        want = [r for r in rows if r[0] == a]
        assert list(t.irange((a,), (a + 1,), inclusive=(True, False))) == want
        assert t.count((a,), (a + 1,), inclusive=(True, False)) == len(want)
        want = [r for r in rows if r[0] == a and 2 <= r[1] <= 4]
        assert list(t.irange((a, 2), (a, 4, float("inf")))) == want


def test_docstring_examples():
    result = doctest.testmod(_btree, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------- complexity, by counting

class Counted:
    compares = 0
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __lt__(self, other):
        Counted.compares += 1
        return self.x < other.x


def _compares(f):
    Counted.compares = 0
    f()
    return Counted.compares


def test_lookups_and_counts_take_logarithmic_comparisons():
    per_lookup, per_count = [], []
    for n in (1000, 16000):
        t = ObjectBTree.from_sorted([Counted(i) for i in range(n)], node_size=16)
        probes = [Counted(i * 7 % n) for i in range(200)]
        per_lookup.append(_compares(lambda: [t.get(p) for p in probes]) / 200)
        small = _compares(lambda: t.count(Counted(10), Counted(20)))
        large = _compares(lambda: t.count(Counted(10), Counted(n - 10)))
        assert abs(small - large) <= 8            # independent of the range's size
        per_count.append(large)
    # 16x the keys: log2 grows by 4/10ths; linear would be 16x
    assert per_lookup[1] < per_lookup[0] * 1.8
    assert per_count[1] < per_count[0] * 1.8


def test_btree_entry_point_builds_from_sorted():
    from tradeoff.index import BTree
    t = BTree.from_sorted(np.array([2, 5, 9]), ["a", "b", "c"], node_size=3)
    assert type(t) is Int64BTree and isinstance(t, BTree) and t.node_size == 3
    assert list(t.items()) == [(2, "a"), (5, "b"), (9, "c")]
    t._check()
    o = BTree.from_sorted([(1, "x"), (1, "y")], key_type="object", fill=1.0)
    assert type(o) is ObjectBTree and list(o.keys()) == [(1, "x"), (1, "y")] and o[(1, "y")] is None
    assert isinstance(BTree("object"), BTree) and not isinstance({}, BTree)
    with pytest.raises(ValueError, match="key_type must be 'int64' or 'object', got 'str'"):
        BTree.from_sorted([1], key_type="str")
    with pytest.raises(ValueError):
        BTree.from_sorted([3, 1])                      # not sorted: the class's own check
