"""PackedBTree (tradeoff.index._packed) against a sorted set of tuples, and the
order-preserving packing of int64 and float64 values into uint64 words.

- packing: word order equals value order for random and extreme ints and
  floats (negatives, -0.0 as 0.0, infinities, subnormals), and lexicographic
  order of packed rows equals Python's tuple order;
- a state machine that inserts, deletes, rebuilds and scans with random prefix
  bounds, with tiny nodes (so that splits and node removals happen), comparing
  with the model and calling ``_check()`` after every step (with every
  non-root node at least half full while the tree was grown by inserts and
  deletes only: deletes borrow from or merge with a sibling);
- deletes of most keys shrink a tree to the nodes, bytes and height of one
  holding what is left;
- bad input: wrong widths, unsorted keys.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradeoff.index._packed import (KeyRanges, PackedBTree, encode_float64, encode_int64,
                                    word_of_float, word_of_int)

I64 = st.integers(-2**63, 2**63 - 1)
EXTREME_INTS = [-2**63, -2**63 + 1, -1, 0, 1, 2**63 - 2, 2**63 - 1, -2**31, 2**31]
EXTREME_FLOATS = [-np.inf, -1.7976931348623157e308, -1.0, -5e-324, -0.0, 0.0, 5e-324, 2.2250738585072014e-308,
                  1.0, 1.7976931348623157e308, np.inf]
F64 = st.one_of(st.floats(allow_nan=False), st.sampled_from(EXTREME_FLOATS))


def _same_order(values, words):
    v = np.asarray(values)[:, None]
    w = np.asarray(words)[:, None]
    vt = np.asarray(values)[None, :]
    wt = np.asarray(words)[None, :]
    assert np.array_equal(v < vt, w < wt)
    assert np.array_equal(v == vt, w == wt)


@given(st.lists(I64, max_size=60))
def test_int_words_keep_order(values):
    values = values + EXTREME_INTS
    words = encode_int64(np.array(values, dtype=np.int64))
    assert words.dtype == np.uint64
    _same_order(np.array(values, dtype=object), words.astype(object))
    assert [word_of_int(v) for v in values] == words.tolist()


@given(st.lists(F64, max_size=60))
def test_float_words_keep_order(values):
    values = values + EXTREME_FLOATS
    arr = np.array(values, dtype=np.float64)
    words = encode_float64(arr)
    _same_order(arr, words)                      # -0.0 == 0.0 on both sides
    assert words[values.index(-0.0)] == words[values.index(0.0)] == 2**63
    assert [word_of_float(v) for v in values] == words.tolist()


@given(st.lists(st.tuples(st.integers(-3, 3), st.sampled_from([-1.5, -0.0, 0.0, 2.0, -np.inf, np.inf])),
                max_size=40))
def test_packed_rows_sort_as_tuples(rows):
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.float64)
    words = [encode_int64(a), encode_float64(b), np.arange(len(rows), dtype=np.uint64)]
    by_words = sorted(range(len(rows)), key=lambda i: tuple(int(w[i]) for w in words))
    by_values = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1] + 0.0, i))
    assert by_words == by_values
    assert np.lexsort(tuple(reversed(words))).tolist() == by_values


# ---------------------------------------------------------------- the tree

WORD = st.integers(0, 4)


def _in(key, lo, lo_inc, hi, hi_inc):
    a, b = key[:len(lo)], key[:len(hi)]
    return (a > lo or (lo_inc and a == lo)) and (b < hi or (hi_inc and b == hi))


class PackedMachine(RuleBasedStateMachine):
    """Inserts, deletes, rebuilds and scans on a tree of width 3 with tiny nodes,
    against a Python set of tuples."""

    def __init__(self):
        super().__init__()
        self.width = 3
        self.node_size = 3
        self.t = PackedBTree(self.width, node_size=self.node_size)
        self.model = set()
        self.grown = True                 # by inserts and deletes from empty: half full

    @initialize(node_size=st.integers(3, 6))
    def start(self, node_size):
        # node_size >= 4 makes half >= 2: a node short of half is not yet empty
        self.node_size = node_size
        self.t = PackedBTree(self.width, node_size=node_size)

    @rule(key=st.tuples(WORD, WORD, st.integers(0, 30)))
    def insert(self, key):
        assert self.t.insert(key) == (key not in self.model)
        self.model.add(key)

    @rule(keys=st.lists(st.tuples(WORD, WORD, st.integers(0, 30)), max_size=30))
    def insert_many(self, keys):
        new = len(set(keys) - self.model)
        assert self.t.insert_many(np.array(keys, dtype=np.uint64).reshape(-1, 3)) == new
        self.model.update(keys)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_present(self, data):
        key = data.draw(st.sampled_from(sorted(self.model)))
        assert self.t.delete(key)
        self.model.discard(key)

    @rule(key=st.tuples(WORD, WORD, st.integers(0, 30)))
    def delete(self, key):
        assert self.t.delete(key) == (key in self.model)
        self.model.discard(key)

    @rule(data=st.data())
    def delete_many(self, data):
        keys = data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=20)) if self.model else []
        gone = len(set(keys))
        assert self.t.delete_many(np.array(keys, dtype=np.uint64).reshape(-1, 3)) == gone
        self.model.difference_update(keys)

    @rule(node_size=st.integers(3, 6), fill=st.sampled_from([1.0, 0.5, 0.34]))
    def rebuild(self, node_size, fill):
        keys = np.array(sorted(self.model), dtype=np.uint64).reshape(-1, 3)
        self.t = PackedBTree.from_sorted(keys, node_size=node_size, fill=fill)
        self.grown = False                # the last leaf (or all, fill < 1/2) may be short

    @rule(bounds=st.lists(st.tuples(st.lists(WORD, max_size=3), st.booleans(), st.lists(WORD, max_size=3),
                                    st.booleans()), max_size=6))
    def scan(self, bounds):
        ranges = [(tuple(lo), li, tuple(hi), hinc) for lo, li, hi, hinc in bounds]
        want = [k[-1] for r in ranges for k in sorted(self.model) if _in(k, *r)]
        assert self.t.scan(KeyRanges(ranges, 3)).tolist() == want

    @invariant()
    def consistent(self):
        self.t._check(min_fill=self.grown)
        assert len(self.t) == len(self.model)
        assert [tuple(k) for k in self.t.keys_array().tolist()] == sorted(self.model)


TestPackedMachine = PackedMachine.TestCase
TestPackedMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])


def test_bulk_fills_leaves_and_bytes():
    n = 10_000
    keys = np.stack([np.arange(n) // 7, np.arange(n)], axis=1).astype(np.uint64)
    t = PackedBTree.from_sorted(keys, node_size=128)
    t._check()
    leaves, leaf = -(-n // 128), 40 + 129 * 16          # full leaves: header + 129 key slots
    assert leaves * leaf < t.nbytes < 1.05 * leaves * leaf   # + the internal nodes: one here
    assert t.height == 2
    assert t.scan(KeyRanges([((5,), True, (5,), True)], 2)).tolist() == list(range(35, 42))
    half = PackedBTree.from_sorted(keys, node_size=128, fill=0.5)
    half._check()
    assert half.nbytes > 1.9 * t.nbytes


def test_deletes_free_nodes_down_to_an_empty_tree():
    keys = np.stack([np.arange(500), np.arange(500)], axis=1).astype(np.uint64)
    t = PackedBTree.from_sorted(keys, node_size=4)
    one_leaf = PackedBTree(2, node_size=4).nbytes
    for k in np.random.default_rng(2).permutation(500).tolist():
        assert t.delete((k, k))
    t._check()
    assert len(t) == 0 and t.height == 1 and t.nbytes == one_leaf
    assert t.scan(KeyRanges([((), True, (), True)], 2)).tolist() == []


def test_deletes_merge_nodes_and_shrink_the_tree():
    rng = np.random.default_rng(5)
    n = 20_000
    ks = rng.permutation(n)
    t = PackedBTree(2, node_size=8)
    assert t.insert_many(np.stack([ks, ks], axis=1).astype(np.uint64)) == n
    t._check(min_fill=True)
    full_bytes, full_height = t.nbytes, t.height
    gone = rng.permutation(n)[: n - n // 50]          # 98% of the keys, at random
    for i, k in enumerate(gone.tolist()):
        assert t.delete((k, k))
        if i % 2_000 == 0:
            t._check(min_fill=True)
    t._check(min_fill=True)
    left = np.sort(np.setdiff1d(np.arange(n), gone))
    assert t.keys_array()[:, 0].tolist() == left.tolist()
    # what is left takes at most what a tree grown to its size by inserts takes
    # (leaves at least half full), far below the full tree; the height drops too
    grown = PackedBTree(2, node_size=8)
    grown.insert_many(np.stack([left, left], axis=1).astype(np.uint64))
    assert t.nbytes <= 1.3 * grown.nbytes and t.nbytes < 0.05 * full_bytes
    assert t.height < full_height and t.height <= grown.height + 1
    assert t.scan(KeyRanges([((int(left[3]),), True, (int(left[5]),), True)], 2)).tolist() == left[3:6].tolist()


def test_min_fill_check_catches_a_short_leaf():
    # from_sorted leaves its last leaf short: the strict check must say so
    keys = np.stack([np.arange(130), np.arange(130)], axis=1).astype(np.uint64)
    t = PackedBTree.from_sorted(keys, node_size=128)
    t._check()
    with pytest.raises(AssertionError, match="a leaf below half: 2 of 128"):
        t._check(min_fill=True)
    # a delete from the short leaf makes it borrow from its left sibling up to half
    assert t.delete((129, 129))
    t._check(min_fill=True)
    assert t.height == 2 and len(t) == 129
    assert t.keys_array()[:, 0].tolist() == list(range(129))


def test_bad_input():
    with pytest.raises(ValueError, match="strictly ascending: row 1 >= row 2"):
        PackedBTree.from_sorted(np.array([[1, 1], [2, 2], [2, 2]], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"keys must be an \(n, width\) array"):
        PackedBTree.from_sorted(np.array([1, 2], dtype=np.uint64))
    with pytest.raises(ValueError, match="width must be in"):
        PackedBTree(0)
    with pytest.raises(ValueError, match="node_size must be an integer"):
        PackedBTree(2, node_size=2)
    t = PackedBTree(2)
    with pytest.raises(ValueError, match="a key needs 2 words, got 1"):
        t.insert((1,))
    with pytest.raises(ValueError, match="a key of 3 words for a tree of width 2"):
        t.delete((1, 2, 3))
    with pytest.raises(OverflowError):
        t.insert((-1, 0))
    with pytest.raises(ValueError, match=r"keys must be an \(n, 2\) array"):
        t.insert_many(np.zeros((2, 3), dtype=np.uint64))
    with pytest.raises(ValueError, match="ranges of width 3 for a tree of width 2"):
        t.scan(KeyRanges([], 3))
    assert len(t) == 0
    t._check()
