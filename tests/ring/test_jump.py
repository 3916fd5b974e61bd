"""jump_hash and JumpHash against the paper's algorithm and a model.

- ``jump_hash`` equals a transcription of Lamping and Veach's Figure 1 over the
  whole 64-bit key range (hypothesis) and jump-consistent-hash's C function
  (when the peers extra is installed), including negative keys;
- ``lookup_many`` (eight keys in lock step) equals ``jump_hash`` per key for
  every length and dtype;
- a hypothesis state machine: add, remove (last or middle), lookup,
  lookup_many against ``JumpModel``, with ``_check()`` after every step;
- the known results: adding a node moves exactly the keys of the new node
  (about 1/(n+1), none between old nodes); removing the last-bucket node
  moves 1/n, a middle one about 2/n;
- bad input.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from partitioner_machine import I64, NAMES, U64, PartitionerMachine
from models_other import JumpModel, jump_reference, key_word
from tradeoff.ring._jump import JumpHash, jump_hash

try:
    import jump as jump_peer
except ImportError:      # a peer extra
    jump_peer = None

SETTINGS = settings(max_examples=300, deadline=None)
BUCKETS = st.one_of(st.integers(1, 1000), st.integers(1, 2**31 - 1))
N_KEYS = 100_000


def int_keys(n=N_KEYS, seed=7):
    return np.random.default_rng(seed).integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64, endpoint=True)


# ---------------------------------------------------------------- jump_hash


@SETTINGS
@given(st.one_of(U64, I64), BUCKETS)
def test_jump_hash_is_the_papers_function(key, n):
    assert jump_hash(key, n) == jump_reference(key, n)


@pytest.mark.skipif(jump_peer is None, reason="jump-consistent-hash (peers extra) is not installed")
@SETTINGS
@given(st.one_of(U64, I64), BUCKETS)
def test_jump_hash_equals_jump_consistent_hash(key, n):
    # the peer's C function takes the key modulo 2**64 (PyLong_AsUnsignedLongLongMask),
    # so a negative key is its two's complement there too
    assert jump_hash(key, n) == jump_peer.hash(key, n)


def test_jump_hash_examples():
    assert [jump_hash(k, 1) for k in range(50)] == [0] * 50
    assert jump_hash(-1, 2**31 - 1) == jump_reference(2**64 - 1, 2**31 - 1)
    assert jump_hash(np.int64(-5), 10) == jump_hash(2**64 - 5, 10)
    assert jump_hash(np.uint64(2**64 - 1), 7) == jump_reference(2**64 - 1, 7)
    # monotone: growing n moves a key only to the new bucket
    for k in range(2000):
        prev = jump_hash(k, 1)
        for n in range(2, 40):
            b = jump_hash(k, n)
            assert b == prev or b == n - 1
            prev = b


@pytest.mark.parametrize("key, n, exc", [
    (0, 0, ValueError), (0, -3, ValueError), (0, 2**31, ValueError),
    (2**64, 10, OverflowError), (-(2**63) - 1, 10, OverflowError),
    (1.0, 10, TypeError), ("1", 10, TypeError), (1, 2.0, TypeError), (None, 1, TypeError),
])
def test_jump_hash_bad_input(key, n, exc):
    with pytest.raises(exc):
        jump_hash(key, n)


# ---------------------------------------------------------------- lookup_many


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(I64), max_size=40), st.integers(1, 300))
def test_lookup_many_equals_jump_hash_per_key(keys, n):
    part = JumpHash([f"n{i}" for i in range(n)])
    arr = np.array(keys, dtype=np.int64)
    got = part.lookup_many(arr)
    assert got.dtype == np.int32 and got.shape == (len(keys),)
    assert got.tolist() == [jump_hash(k, n) for k in keys]


def test_lookup_many_dtypes_and_big_arrays():
    part = JumpHash([f"n{i}" for i in range(37)])
    keys = int_keys(10_003)
    want = np.array([jump_hash(int(k), 37) for k in keys[:2000]])
    assert (part.lookup_many(keys)[:2000] == want).all()
    assert (part.lookup_many(keys.view(np.uint64))[:2000] == want).all()
    small = np.arange(-50, 50, dtype=np.int8)
    assert part.lookup_many(small).tolist() == [jump_hash(int(k), 37) for k in small]
    u16 = np.arange(0, 60000, 997, dtype=np.uint16)
    assert part.lookup_many(u16).tolist() == [jump_hash(int(k), 37) for k in u16]
    big_endian = keys[:500].astype(">i8")
    assert (part.lookup_many(big_endian) == part.lookup_many(keys[:500])).all()
    strided = keys[::3]
    assert (part.lookup_many(strided) == part.lookup_many(strided.copy())).all()
    assert part.lookup_many(["a", b"b", 5]).tolist() == [part.lookup_index(k) for k in ["a", b"b", 5]]
    assert part.lookup_many(np.zeros(0, dtype=np.int64)).shape == (0,)
    with pytest.raises(TypeError):
        part.lookup_many(np.zeros(3, dtype=np.float64))
    with pytest.raises(ValueError):
        part.lookup_many(np.zeros((2, 2), dtype=np.int64))


def test_str_keys_use_their_xxh64_word():
    part = JumpHash(NAMES)
    for key in ["", "user:42", "ключ", "x" * 100]:
        assert part.lookup(key) == NAMES[jump_reference(key_word(key), len(NAMES))]
        assert part.lookup(key.encode()) == part.lookup(key)


# ---------------------------------------------------------------- state machine


class JumpMachine(PartitionerMachine):
    @initialize(n=st.integers(1, 5))
    def setup(self, n):
        self.part = JumpHash(NAMES[:n])
        self.model = JumpModel(NAMES[:n])

    @rule(name=st.sampled_from(NAMES))
    def add(self, name):
        if name in self.model.names:
            with pytest.raises(ValueError, match="already"):
                self.part.add(name)
        else:
            self.part.add(name)
            self.model.add(name)

    @precondition(lambda self: len(self.model.names) > 1)
    @rule(data=st.data())
    def unequal_weight_is_refused(self, data):
        name = data.draw(st.sampled_from(self.model.names))
        with pytest.raises(ValueError, match="equal"):
            self.part.set_weight(name, 2)
        with pytest.raises(ValueError, match="equal"):
            self.part.add("new", weight=3)

    def compare(self):
        assert self.part.buckets == self.model.buckets()


JumpMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestJumpMachine = JumpMachine.TestCase


# ---------------------------------------------------------------- known results


@pytest.mark.parametrize("n", [10, 100])
def test_adding_a_node_moves_exactly_its_keys(n):
    keys = int_keys()
    before = JumpHash([f"node{i:04d}" for i in range(n)])
    after = JumpHash([f"node{i:04d}" for i in range(n)])
    after.add(f"node{n:04d}")
    a, b = before.lookup_many(keys), after.lookup_many(keys)
    moved = a != b
    assert (b[moved] == n).all()                  # every moved key went to the new node
    assert moved.sum() == (b == n).sum()          # and the new node has nothing else
    frac = moved.mean()
    sd = np.sqrt(frac * (1 - frac) / len(keys))
    assert abs(frac - 1 / (n + 1)) < 5 * sd


def test_removing_the_last_node_moves_its_keys_only():
    keys = int_keys()
    names = [f"node{i:04d}" for i in range(11)]
    before, after = JumpHash(names), JumpHash(names)
    after.remove(names[-1])
    a, b = before.lookup_many(keys), after.lookup_many(keys)
    moved = a != b
    assert (a[moved] == 10).all() and not (b == 10).any()
    assert abs(moved.mean() - 1 / 11) < 0.005
    assert after.buckets == names[:-1]


def test_removing_a_middle_node_moves_about_two_shares():
    keys = int_keys()
    names = [f"node{i:04d}" for i in range(10)]
    before, after = JumpHash(names), JumpHash(names)
    after.remove("node0003")
    assert after.buckets == ["node0000", "node0001", "node0002", "node0009", "node0004",
                             "node0005", "node0006", "node0007", "node0008"]
    a = np.array(names)[before.lookup_many(keys)]
    b = np.array(after.nodes)[after.lookup_many(keys)]
    moved = a != b
    # node0003's keys all go to node0009; node0009's old keys spread out, the
    # 1/9 of them that land on bucket 3 stay; nothing else moves
    assert (b[a == "node0003"] == "node0009").all()
    assert set(a[moved]) == {"node0003", "node0009"}
    assert abs(moved.mean() - (1 / 10 + (1 / 10) * 8 / 9)) < 0.006


def test_spread_is_even():
    keys = int_keys()
    counts = np.bincount(JumpHash([f"node{i:04d}" for i in range(100)]).lookup_many(keys), minlength=100)
    assert counts.std() / counts.mean() < 0.045        # binomial noise alone: ~0.031


# ---------------------------------------------------------------- bad input


def test_bad_input():
    with pytest.raises(ValueError, match="at least one node"):
        JumpHash([])
    with pytest.raises(ValueError, match="already"):
        JumpHash(["a", "a"])
    with pytest.raises(TypeError):
        JumpHash("abc")
    with pytest.raises(ValueError, match="equal"):
        JumpHash({"a": 1, "b": 2})
    with pytest.raises(ValueError, match="> 0"):
        JumpHash({"a": 0, "b": 0})
    part = JumpHash({"a": 2, "b": 2})
    part.add("c", weight=2)
    with pytest.raises(ValueError, match="equal"):
        part.add("d")                            # default weight 1 differs from 2
    assert "d" not in part
    with pytest.raises(KeyError):
        part.remove("zz")
    with pytest.raises(KeyError):
        part.set_weight("zz", 2)
    with pytest.raises(TypeError):
        part.lookup(1.5)
    with pytest.raises(OverflowError):
        part.lookup(2**64)
    part.set_weight("a", 2)
    part._check()
    solo = JumpHash(["x"])
    solo.set_weight("x", 5)                      # one node: any positive weight
    solo.remove("x")
    with pytest.raises(LookupError):
        solo.lookup(1)
    with pytest.raises(LookupError):
        solo.lookup_many(np.arange(3))
    assert solo.lookup_many(np.arange(0)).shape == (0,)
    solo.add("y", weight=7)
    assert solo.lookup(1) == "y"
    solo._check()
