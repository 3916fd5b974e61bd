"""HashIndex against a dict of lists (tests/index/table_models.py: HashIndexModel).

- a hypothesis state machine: single and batch inserts, deletes of a key or of
  one row, lookups one by one and in CSR batches; after every step the index
  equals the model (rows in insertion order) and ``_check()`` holds;
- growth: the table doubles at load factor 1/2, and ``resizes`` counts it;
- lookup_many on a large random build against numpy grouping;
- bad input: clear errors and nothing changed.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from table_models import HashIndexModel
from tradeoff.index._hashindex import MAX_ROW, HashIndex

# few distinct keys so that keys collect many rows, plus the extremes of int64
KEYS = st.one_of(st.integers(-3, 12), st.sampled_from([-(2**63), 2**63 - 1, 2**40, -1]))
ROWS = st.one_of(st.integers(0, 30), st.just(MAX_ROW))


class HashIndexMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.ix = HashIndex()
        self.model = HashIndexModel()

    @rule(k=KEYS, r=ROWS)
    def insert(self, k, r):
        self.ix.insert(k, r)
        self.model.insert(k, r)

    @rule(pairs=st.lists(st.tuples(KEYS, ROWS), max_size=30))
    def insert_many(self, pairs):
        keys = np.array([p[0] for p in pairs], dtype=np.int64)
        rows = np.array([p[1] for p in pairs], dtype=np.int64)
        self.ix.insert_many(keys, rows)
        for k, r in pairs:
            self.model.insert(k, r)

    @rule(k=KEYS)
    def delete_key(self, k):
        if k not in self.model.d:
            with pytest.raises(KeyError):
                self.ix.delete(k)
            return
        assert self.ix.delete(k) == self.model.delete(k)

    @rule(k=KEYS, data=st.data())
    def delete_row(self, k, data):
        rows = self.model.d.get(k, [])
        r = data.draw(st.sampled_from(rows) if rows and data.draw(st.booleans()) else ROWS)
        if r not in rows:
            with pytest.raises(KeyError):
                self.ix.delete(k, r)
            return
        assert self.ix.delete(k, r) == self.model.delete(k, r) == 1

    @rule(k=KEYS)
    def lookup(self, k):
        got = self.ix.lookup(k)
        assert got.dtype == np.int64
        assert got.tolist() == self.model.lookup(k)
        assert self.ix.count(k) == len(self.model.lookup(k))
        assert (k in self.ix) == (k in self.model.d)

    @rule(keys=st.lists(KEYS, max_size=12))
    def lookup_many(self, keys):
        offsets, rows = self.ix.lookup_many(np.array(keys, dtype=np.int64))
        assert offsets.tolist()[0] == 0 and len(offsets) == len(keys) + 1
        for i, k in enumerate(keys):
            assert rows[offsets[i]:offsets[i + 1]].tolist() == self.model.lookup(k)
        assert offsets[-1] == len(rows)

    @rule()
    def clear(self):
        self.ix.clear()
        self.model = HashIndexModel()

    @invariant()
    def same(self):
        self.ix._check()
        assert self.ix.to_dict() == self.model.d
        assert len(self.ix) == len(self.model)
        assert self.ix.n_keys == len(self.model.d)
        assert 0 <= self.ix.load_factor <= 0.5


TestHashIndexMachine = HashIndexMachine.TestCase
TestHashIndexMachine.settings = settings(max_examples=120, stateful_step_count=40, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])


def test_growth_is_counted_and_keeps_everything():
    ix = HashIndex()
    n0 = ix.nbuckets
    keys = np.arange(5000, dtype=np.int64) * 7919
    ix.insert_many(keys, np.arange(5000))
    assert ix.resizes >= 1 and ix.nbuckets == n0 * 2 ** ix.resizes
    assert ix.load_factor <= 0.5 and ix.n_keys == 5000
    for k in (0, 7919, 4999 * 7919):
        assert ix.lookup(k).tolist() == [k // 7919]
    # adding rows to existing keys never grows the table
    r = ix.resizes
    ix.insert_many(keys, np.arange(5000, 10000))
    assert ix.resizes == r and len(ix) == 10000
    ix._check()
    # room reserved up front: no growth at all
    big = HashIndex(expected=5000)
    big.insert_many(keys, np.arange(5000))
    assert big.resizes == 0


def test_lookup_many_equals_numpy_grouping():
    rng = np.random.default_rng(7)
    keys = rng.integers(-500, 500, 20_000)
    rows = rng.permutation(20_000)
    ix = HashIndex()
    ix.insert_many(keys, rows)
    ix._check()
    q = np.concatenate([np.arange(-510, 510), rng.integers(-600, 600, 300)])
    offsets, got = ix.lookup_many(q)
    for i, k in enumerate(q.tolist()):
        assert got[offsets[i]:offsets[i + 1]].tolist() == rows[keys == k].tolist()   # insertion order


def test_memory_figures():
    ix = HashIndex()
    base = ix.nbytes
    ix.insert_many(np.arange(1000), np.arange(1000))        # unique keys: rows inline
    unique = ix.nbytes
    assert unique == ix.nbuckets * 16                        # no list was allocated
    ix.insert_many(np.zeros(1000, dtype=np.int64), np.arange(1000))
    assert ix.nbytes > unique > base
    ix.delete(0)
    assert ix.nbytes < unique + 16 * 64                       # the big list is freed (headers stay)
    ix._check()


def test_canonical_after_deletes():
    ix = HashIndex()
    for r in (5, 6, 7):
        ix.insert(1, r)
    assert ix.delete(1, 6) == 1 and ix.lookup(1).tolist() == [5, 7]
    assert ix.delete(1, 5) == 1 and ix.lookup(1).tolist() == [7]      # back inline
    ix._check()
    ix.insert(1, 7)                                                     # a duplicate pair
    assert ix.lookup(1).tolist() == [7, 7] and ix.delete(1, 7) == 1
    assert ix.lookup(1).tolist() == [7]
    assert ix.delete(1) == 1 and len(ix) == 0 and 1 not in ix
    ix._check()


@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(0, MAX_ROW)), max_size=50))
@settings(max_examples=60, deadline=None)
def test_any_int64_key(pairs):
    ix = HashIndex()
    model = HashIndexModel()
    ix.insert_many([p[0] for p in pairs], [p[1] for p in pairs])
    for k, r in pairs:
        model.insert(k, r)
    assert ix.to_dict() == model.d
    ix._check()


def test_bad_input_changes_nothing():
    ix = HashIndex()
    ix.insert(1, 1)
    before = ix.to_dict()
    with pytest.raises(OverflowError, match="outside int64"):
        ix.insert(2**63, 0)
    with pytest.raises(TypeError, match="integer"):
        ix.insert("a", 0)
    with pytest.raises(TypeError, match="integer"):
        ix.insert(1.5, 0)
    with pytest.raises(ValueError, match=r"row must be in \[0, 2\*\*62\)"):
        ix.insert(1, -1)
    with pytest.raises(ValueError, match="row must be"):
        ix.insert(1, 2**62)
    with pytest.raises(ValueError, match="differ in length"):
        ix.insert_many([1, 2], [1])
    with pytest.raises(ValueError, match="rows must be in"):
        ix.insert_many([1, 2], [1, -5])
    with pytest.raises(TypeError, match="keys must hold integers"):
        ix.insert_many(np.array([1.0, 2.0]), [1, 2])
    with pytest.raises(OverflowError, match="keys hold 18446744073709551615"):
        ix.insert_many(np.array([1, 2**64 - 1], dtype=np.uint64), [1, 2])
    with pytest.raises(OverflowError, match="outside int64"):
        ix.insert_many([1, 2**70], [1, 2])
    with pytest.raises(ValueError, match="one-dimensional"):
        ix.insert_many(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(KeyError):
        ix.delete(3)
    with pytest.raises(KeyError):
        ix.delete(1, 2)
    with pytest.raises(ValueError, match="expected must be >= 0"):
        HashIndex(expected=-1)
    assert ix.to_dict() == before and len(ix) == 1
    assert 2**64 not in ix and "x" not in ix
    ix._check()
