"""The shared int64 hash table against a dict, step by step (hypothesis state machine)."""
import hypothesis.strategies as st
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tradeoff._core.table import Int64Table

# a few keys that collide a lot in a small table, plus the extremes of int64
KEYS = st.one_of(st.integers(0, 40), st.sampled_from([-1, -(2**63), 2**63 - 1, 2**40, -(2**40)]))
VALUES = st.integers(0, 2**62)


class TableMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.t = Int64Table(0)
        self.model = {}

    @rule(k=KEYS, v=VALUES)
    def put(self, k, v):
        self.t[k] = v
        self.model[k] = v

    @rule(k=KEYS)
    def get(self, k):
        assert self.t.get(k) == self.model.get(k, -1)

    @rule(k=KEYS)
    def pop(self, k):
        assert self.t.pop(k) == self.model.pop(k, -1)

    @invariant()
    def same(self):
        assert len(self.t) == len(self.model)
        assert dict(self.t.items()) == self.model
        self.t._check()


TestTable = TableMachine.TestCase
TestTable.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)


def test_grows_and_keeps_everything():
    t = Int64Table(0)
    n0 = t.nbuckets
    for k in range(10_000):
        t[k * 7919] = k
    assert t.nbuckets > n0
    assert all(t.get(k * 7919) == k for k in range(10_000))
    t._check()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60))
def test_items_give_back_any_int64_key(keys):
    """Buckets hold their keys mixed; items() unmixes them (any int64 round-trips)."""
    t = Int64Table(0)
    model = {}
    for i, k in enumerate(keys):
        t[k] = i
        model[k] = i
    assert dict(t.items()) == model
    assert all(t.get(k) == v for k, v in model.items())
    t._check()


def test_negative_values_rejected():
    t = Int64Table()
    try:
        t[1] = -1
    except ValueError as exc:
        assert "-1" in str(exc)
    else:
        raise AssertionError("a negative value was accepted")


# ------------------------------------------------------------------ XXH64

from tradeoff.ring._base import _xxh64  # noqa: E402


@given(st.binary(max_size=200), st.integers(0, 2**64 - 1))
def test_xxh64_equals_the_reference_implementation(data, seed):
    xxhash = __import__("pytest").importorskip("xxhash")
    assert _xxh64(data, seed) == xxhash.xxh64_intdigest(data, seed)


def test_xxh64_known_values():
    # published XXH64 values of the empty string and "a" with seed 0
    assert _xxh64(b"") == 0xEF46DB3751D8E999
    assert _xxh64(b"a") == 0xD24EC4F1A98C6E5B
