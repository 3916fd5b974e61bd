"""The online mappings over replay engines (``PolicyCache`` and its named classes).

The engines' own policies are checked against models in test_policy_*.py; here
the wrapper: that it keeps the dict and the engine in step under any mix of
operations, and that over the LRU, FIFO and LFU engines it behaves exactly like
the specialized classes.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.cache import (ARCCache, ClockCache, FIFOCache, LFUCache, LIRSCache, LRUCache,
                            PolicyCache, S3FIFOCache, SieveCache, WTinyLFUCache)

ops = st.lists(st.tuples(st.sampled_from(["get", "set", "del", "peek"]), st.integers(0, 11)),
               max_size=150)
ONLINE = ["clock", "sieve", "s3fifo", "arc", "lirs", "wtinylfu"]


def apply(cache, op, key):
    if op == "get":
        return cache.get(key, "missing")
    if op == "set":
        cache[key] = key * 10
        return None
    if op == "del":
        try:
            del cache[key]
            return True
        except KeyError:
            return False
    return cache.peek(key, "missing")


@settings(max_examples=120, deadline=None)
@given(ops, st.sampled_from(["lru", "fifo", "lfu"]), st.integers(1, 6))
def test_over_lru_fifo_lfu_it_equals_the_specialized_classes(seq, policy, maxsize):
    ours = PolicyCache(maxsize, policy)
    ref = {"lru": LRUCache, "fifo": FIFOCache, "lfu": LFUCache}[policy](maxsize)
    for op, key in seq:
        assert apply(ours, op, key) == apply(ref, op, key)
        assert sorted(ours) == sorted(ref)
        ours._check()
    assert (ours.hits, ours.misses) == (ref.hits, ref.misses)


@settings(max_examples=60, deadline=None)
@given(ops, st.sampled_from(ONLINE), st.integers(1, 6))
def test_dict_and_engine_stay_in_step(seq, policy, maxsize):
    cache = PolicyCache(maxsize, policy)
    values = {}
    for op, key in seq:
        out = apply(cache, op, key)
        if op == "set":
            values[key] = key * 10
        if op in ("get", "peek") and out != "missing":
            assert out == values[key]
        cache._check()
        assert len(cache) <= maxsize
        for k in cache:
            assert cache.peek(k) == values[k]


def test_named_classes_and_parameters():
    for cls, policy in [(ClockCache, "clock"), (SieveCache, "sieve"), (S3FIFOCache, "s3fifo"),
                        (ARCCache, "arc"), (LIRSCache, "lirs"), (WTinyLFUCache, "wtinylfu")]:
        c = cls(100)
        assert c.policy == policy and cls.__name__.lower().startswith(policy[:3])
        for i in range(1000):
            c[i % 300] = i
            assert len(c) <= 100
        c._check()
    assert S3FIFOCache(10, small_ratio=0.2).params["small_ratio"] == 0.2
    with pytest.raises(ValueError, match="unknown parameter"):
        SieveCache(10, ratio=1)
    with pytest.raises(ValueError, match="whole trace"):
        PolicyCache(10, "belady")
    with pytest.raises(ValueError, match="maxsize"):
        SieveCache(0)


def test_keys_with_equal_hashes_cannot_both_stay():
    c = SieveCache(10)
    c[-1] = "a"                # hash(-1) == hash(-2) == -2
    c[-2] = "b"
    assert -2 in c and -1 not in c and len(c) == 1
    c._check()


def test_a_hot_key_survives_a_scan_under_s3fifo_but_not_fifo():
    s3, fifo = S3FIFOCache(100), FIFOCache(100)
    for c in (s3, fifo):
        for _ in range(3):
            c["hot"] = 1
            c.get("hot")
        for i in range(1000):
            c[i] = i
            c.get("hot")
    assert "hot" in s3 and "hot" not in fifo


@pytest.mark.parametrize("policy", ONLINE)
def test_a_value_whose_del_writes_to_the_cache(policy):
    """Evicted values are released after the dict and the engine agree again, so a
    value's __del__ may use the cache."""
    cache = PolicyCache(3, policy)

    class Noisy:
        def __init__(self, n):
            self.n = n

        def __del__(self):
            if self.n < 50:
                cache[("echo", self.n)] = Noisy(self.n + 100)

    for i in range(40):
        cache[i] = Noisy(i)
        cache._check()
    del cache[next(iter(cache))]
    cache._check()
    cache.clear()
    cache._check()


@pytest.mark.parametrize("policy", ONLINE)
def test_a_long_churn_with_ghost_hits_keeps_the_twin_engines_resident_set(policy):
    """Thousands of sets and gets over a key space 3x the cache, with a hot core so
    that ghost-keeping policies (S3-FIFO, ARC, LIRS) revive their ghosts: after
    every step the stored keys are exactly the resident set of a twin engine fed
    the same requests through ``hit``/``insert``. The mapping reads its victims
    back from the slots the engine recorded, and its hits go through ``touch``;
    the twin uses neither, so a disagreement shows here."""
    import random

    from tradeoff.cache._replay import make_engine

    maxsize = 40
    cache, twin = PolicyCache(maxsize, policy), make_engine(policy, maxsize)
    rng = random.Random(16)
    for step in range(4000):
        key = rng.randrange(30) if rng.random() < 0.5 else rng.randrange(3 * maxsize)
        if rng.random() < 0.3:
            hit = key in cache
            assert cache.get(key) == (key if hit else None)
            if hit:
                assert twin._hit(hash(key))
        else:
            if key not in cache:
                assert not twin._hit(hash(key))
                twin._insert(hash(key))
            else:
                assert twin._hit(hash(key))
            cache[key] = key
        assert sorted(hash(k) for k in cache) == sorted(twin._resident()), f"step {step}"
    cache._check()
