"""Tests of ``tradeoff.cache.replay``, the trace-replay kernel.

The definition of a replay: for each key, a get; on a miss, insert the key.
So its hit count must equal the model's (``models.model_replay``) and that of
the mapping classes fed the same keys, for every policy and capacity.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache_models import model_replay
from tradeoff.cache import FIFOCache, LFUCache, LRUCache, replay

POLICIES = ["lru", "lfu", "fifo"]
CLASSES = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache}
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1

SETTINGS = settings(max_examples=200, deadline=None)

policies = st.sampled_from(POLICIES)
capacities = st.integers(1, 8)

# Keys a hand-written int64 table is likely to get wrong: 0 / -1 / extremes as
# empty-slot sentinels, and multiples of large powers of two for a weak hash.
AWKWARD_I64 = [0, 1, -1, 2, -2, I64_MIN, I64_MIN + 1, I64_MAX, I64_MAX - 1,
               2**32, -(2**32), 2**32 + 1, 1 << 40, 1 << 62, -(1 << 62)]
AWKWARD_U64 = [0, 1, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, U64_MAX,
               2**32, 2**32 + 2**63, 1 << 62, 3 << 62]


@st.composite
def small_traces(draw):
    """Traces over a small key range, so that hits and evictions both happen."""
    n_keys = draw(st.integers(1, 12))
    return draw(st.lists(st.integers(0, n_keys - 1), max_size=200))


def shifted(shift):
    return st.integers(-20, 20).map(lambda i: i << shift)


i64_keys = st.one_of(
    st.sampled_from(AWKWARD_I64),
    st.integers(0, 7),
    st.sampled_from([0, 16, 32, 48, 56]).flatmap(shifted),
    st.integers(I64_MIN, I64_MAX),
)
u64_keys = st.one_of(
    st.sampled_from(AWKWARD_U64),
    st.integers(2**64 - 8, U64_MAX),
    st.integers(2**63 - 4, 2**63 + 4),
    st.integers(0, U64_MAX),
)


def check_result(result, keys, hits):
    n = len(keys)
    assert isinstance(result.hits, int) and isinstance(result.misses, int)
    assert isinstance(result.requests, int)
    assert isinstance(result.miss_ratio, float)
    assert result.requests == n
    assert result.hits == hits
    assert result.misses == n - hits
    assert result.miss_ratio == (result.misses / n if n else 0.0)


# -- against the model -------------------------------------------------------


@SETTINGS
@given(keys=small_traces(), policy=policies, capacity=capacities)
def test_replay_matches_model(keys, policy, capacity):
    trace = np.array(keys, dtype=np.int64)
    check_result(replay(trace, policy, capacity), keys, model_replay(keys, policy, capacity))


@SETTINGS
@given(keys=st.lists(i64_keys, max_size=120), policy=policies, capacity=capacities)
def test_replay_matches_model_on_awkward_int64_keys(keys, policy, capacity):
    trace = np.array(keys, dtype=np.int64)
    check_result(replay(trace, policy, capacity), keys, model_replay(keys, policy, capacity))


@SETTINGS
@given(keys=st.lists(u64_keys, max_size=120), policy=policies, capacity=capacities)
def test_replay_matches_model_on_uint64_keys(keys, policy, capacity):
    trace = np.array(keys, dtype=np.uint64)
    check_result(replay(trace, policy, capacity), keys, model_replay(keys, policy, capacity))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("capacity", [1, 13, 200, 599, 600, 601, 5000])
def test_replay_matches_model_on_a_longer_trace(policy, capacity):
    # Enough distinct keys for any internal table to grow several times.
    rng = np.random.default_rng(20240601)
    hot = rng.integers(0, 50, 2000)
    cold = rng.integers(-(2**40), 2**40, 600)
    keys = np.concatenate([hot, cold, hot, cold[::-1], hot])
    rng.shuffle(keys[:3000])
    expected = model_replay(keys.tolist(), policy, capacity)
    check_result(replay(keys, policy, capacity), keys, expected)


# -- against the mapping classes ----------------------------------------------


def mapping_hits(cls, keys, capacity):
    cache = cls(capacity)
    for key in keys:
        before = cache.misses
        cache.get(key)
        if cache.misses != before:
            cache[key] = key
    cache._check()
    return cache.hits


@SETTINGS
@given(keys=small_traces(), policy=policies, capacity=capacities)
def test_replay_matches_the_mapping_classes(keys, policy, capacity):
    trace = np.array(keys, dtype=np.int64)
    expected = mapping_hits(CLASSES[policy], keys, capacity)
    assert replay(trace, policy, capacity).hits == expected


@SETTINGS
@given(keys=st.lists(u64_keys, max_size=60), policy=policies, capacity=capacities)
def test_replay_matches_the_mapping_classes_on_uint64_keys(keys, policy, capacity):
    trace = np.array(keys, dtype=np.uint64)
    expected = mapping_hits(CLASSES[policy], keys, capacity)
    assert replay(trace, policy, capacity).hits == expected


# -- specific traces ---------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_uint64_keys_above_2_63_are_distinct(policy):
    big = [U64_MAX, 2**63, U64_MAX, 2**63, 2**63 + 1, 0, 2**63]
    trace = np.array(big, dtype=np.uint64)
    assert replay(trace, policy, 1).hits == 0
    # Capacity 2: LRU and FIFO hit on the 3rd and 4th requests only; LFU keeps
    # 2**63 (count 2) over 2**63 + 1 (count 1) and hits on the last one too.
    assert replay(trace, policy, 2).hits == model_replay(big, policy, 2)
    assert model_replay(big, policy, 2) == {"lru": 2, "fifo": 2, "lfu": 3}[policy]
    assert replay(trace, policy, 4).hits == 3
    # 2**63 and 0 (and 2**64 - 1 and -1) share their low bits with int64 keys.
    trace = np.array([2**63, 0, 2**63, 0], dtype=np.uint64)
    assert replay(trace, policy, 1).hits == 0
    assert replay(trace, policy, 2).hits == 2


@pytest.mark.parametrize("policy", POLICIES)
def test_negative_and_extreme_int64_keys(policy):
    keys = [-1, I64_MIN, I64_MAX, 0, -1, I64_MIN, I64_MAX, 0]
    trace = np.array(keys, dtype=np.int64)
    assert replay(trace, policy, 4).hits == 4
    assert replay(trace, policy, 3).hits == model_replay(keys, policy, 3) == 0
    assert replay(np.array([-5] * 10, dtype=np.int64), policy, 1).hits == 9


@pytest.mark.parametrize("policy", POLICIES)
def test_a_loop_one_larger_than_the_cache_never_hits(policy):
    trace = np.tile(np.arange(100, dtype=np.int64), 5)
    assert replay(trace, policy, 99).hits == 0
    assert replay(trace, policy, 100).hits == 400


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("capacity", [2**30, 2**40, 2**62])
def test_huge_capacity_with_a_short_trace(policy, capacity):
    # "Unbounded" capacity: only compulsory misses, and no capacity-sized allocation.
    trace = np.array([3, 1, 3, 2, 1, 3], dtype=np.int64)
    result = replay(trace, policy, capacity)
    assert (result.hits, result.misses) == (3, 3)


@pytest.mark.parametrize("policy", POLICIES)
def test_policies_differ_where_they_should(policy):
    # a b a c a d a e ...: LRU and LFU keep the hot key a, FIFO evicts it.
    keys = []
    for i in range(1, 50):
        keys += [0, i]
    trace = np.array(keys, dtype=np.int64)
    hits = replay(trace, policy, 2).hits
    assert hits == model_replay(keys, policy, 2)
    assert hits == {"lru": 48, "lfu": 48, "fifo": 24}[policy]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_empty_trace(policy, dtype):
    result = replay(np.array([], dtype=dtype), policy, 3)
    assert (result.hits, result.misses, result.requests) == (0, 0, 0)
    assert result.miss_ratio == 0.0
    assert isinstance(result.miss_ratio, float)


@pytest.mark.parametrize("policy", POLICIES)
def test_single_request(policy):
    result = replay(np.array([42], dtype=np.int64), policy, 1)
    assert (result.hits, result.misses, result.requests) == (0, 1, 1)
    assert result.miss_ratio == 1.0


@pytest.mark.parametrize("policy", POLICIES)
def test_input_is_not_modified(policy):
    rng = np.random.default_rng(7)
    for trace in (rng.integers(-50, 50, 3000), rng.integers(0, 50, 3000).astype(np.uint64)):
        copy = trace.copy()
        replay(trace, policy, 10)
        assert trace.dtype == copy.dtype
        np.testing.assert_array_equal(trace, copy)


@pytest.mark.parametrize("policy", POLICIES)
def test_read_only_and_strided_arrays_are_accepted(policy):
    keys = np.arange(40, dtype=np.int64) % 7
    expected = model_replay(keys.tolist(), policy, 3)
    read_only = keys.copy()
    read_only.flags.writeable = False
    assert replay(read_only, policy, 3).hits == expected
    from_bytes = np.frombuffer(keys.tobytes(), dtype=np.int64)  # read-only too
    assert replay(from_bytes, policy, 3).hits == expected
    strided = np.repeat(keys, 2)[::2]
    assert not strided.flags.c_contiguous
    assert replay(strided, policy, 3).hits == expected
    reversed_ = keys[::-1]
    assert replay(reversed_, policy, 3).hits == model_replay(keys[::-1].tolist(), policy, 3)


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [[1, 2, 3], (1, 2), 5, None, "1 2 3"])
def test_trace_must_be_an_ndarray(bad):
    with pytest.raises(TypeError) as excinfo:
        replay(bad, "lru", 2)
    message = str(excinfo.value)
    assert type(bad).__name__ in message or repr(bad) in message


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.int32, np.uint32, np.int16, np.int8, np.bool_, object]
)
def test_trace_dtype_must_be_int64_or_uint64(dtype):
    trace = np.zeros(4, dtype=dtype)
    with pytest.raises(TypeError) as excinfo:
        replay(trace, "lru", 2)
    assert str(trace.dtype) in str(excinfo.value)


@pytest.mark.parametrize("shape", [(), (2, 3), (1, 1), (2, 2, 2)])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_trace_must_be_one_dimensional(shape, dtype):
    trace = np.zeros(shape, dtype=dtype)
    with pytest.raises(ValueError) as excinfo:
        replay(trace, "lru", 2)
    assert str(trace.ndim) in str(excinfo.value)


@pytest.mark.parametrize("bad", ["ARC", "LRU", "lru ", "", "opt", "random"])
def test_unknown_policy(bad):
    with pytest.raises(ValueError) as excinfo:
        replay(np.arange(3, dtype=np.int64), bad, 2)
    assert repr(bad) in str(excinfo.value) or f'"{bad}"' in str(excinfo.value)


@pytest.mark.parametrize("bad", [None, 1, b"lru"])
def test_policy_that_is_not_a_string(bad):
    with pytest.raises((TypeError, ValueError)):
        replay(np.arange(3, dtype=np.int64), bad, 2)


@pytest.mark.parametrize("bad", [0, -1, -(2**70)])
def test_capacity_below_one(bad):
    with pytest.raises(ValueError) as excinfo:
        replay(np.arange(3, dtype=np.int64), "lru", bad)
    assert "capacity" in str(excinfo.value)
    assert str(bad) in str(excinfo.value)


@pytest.mark.parametrize("bad", [1.5, 2.0, "3", None])
def test_capacity_not_an_int(bad):
    with pytest.raises(TypeError) as excinfo:
        replay(np.arange(3, dtype=np.int64), "lru", bad)
    assert "capacity" in str(excinfo.value)
    assert str(bad) in str(excinfo.value)
