"""Model-based tests of the mapping caches: LRUCache, LFUCache, FIFOCache, TTLCache.

One hypothesis state machine per class applies every operation to the
implementation and to the pure-Python model in ``models.py`` and compares, after
every step, the full ordered contents, the counters and the result of the step,
and calls ``_check()``. Small key pools and ``maxsize`` 1..5 keep evictions
constant. Plain tests below cover argument validation and the edge cases that
a state machine does not reach on its own.
"""
import gc
import math
import multiprocessing
import numbers
import random
import sys
import weakref
from collections.abc import MutableMapping
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cache_models import FakeTimer, FIFOModel, LFUModel, LRUModel, TTLModel
from tradeoff.cache import FIFOCache, LFUCache, LRUCache, TTLCache

# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------

# Keys that collide in CPython's hash (0 and 2**61-1; -1 and -2), that are equal
# across types (1 and 1.0), None (a tempting sentinel), strings, a tuple and an
# int too big for 64 bits.
EXTRA_KEYS = [-1, -2, 2**61 - 1, 2**64 + 3, 1.0, 2.5, None, "a", "b", (0, 1)]
KEY_POOL = list(range(12)) + EXTRA_KEYS
# Half of the draws come from 0..5, so hits and overwrites are frequent too.
keys = st.one_of(st.integers(0, 5), st.sampled_from(KEY_POOL))

_DEFAULT = object()
values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["", "x", (), (1, None), 0.5, False]),
    st.builds(object),  # compares by identity: catches a value mix-up
)
defaults = st.sampled_from([None, _DEFAULT, 0, "d"])

# 400 runs of up to 50 steps: about 5 s per machine, so tests/cache stays well
# under a minute (CI runs it twice).
STATEFUL_SETTINGS = settings(
    max_examples=400,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(fn):
    """("ok", result) or ("KeyError", None): what an operation did."""
    try:
        return ("ok", fn())
    except KeyError:
        return ("KeyError", None)


# Each read as a function of (key, default) returning an operation on a cache.
READS = {
    "getitem": lambda key, default: lambda c: c[key],
    "get": lambda key, default: lambda c: c.get(key),
    "get_default": lambda key, default: lambda c: c.get(key, default),
    "peek": lambda key, default: lambda c: c.peek(key),
    "peek_default": lambda key, default: lambda c: c.peek(key, default),
    "contains": lambda key, default: lambda c: key in c,
    "len": lambda key, default: len,
    "iter": lambda key, default: list,
    "items": lambda key, default: lambda c: list(c.items()),
    "keys_values": lambda key, default: lambda c: (list(c.keys()), list(c.values())),
}


# ---------------------------------------------------------------------------
# state machines
# ---------------------------------------------------------------------------


class CacheMachine(RuleBasedStateMachine):
    """Rules shared by every policy; subclasses say how to build the pair."""

    impl_class = None
    model_class = None

    def __init__(self):
        super().__init__()
        self.impl = None
        self.model = None

    @initialize(maxsize=st.integers(1, 5))
    def make(self, maxsize):
        self.impl = self.impl_class(maxsize)
        self.model = self.model_class(maxsize)

    def same(self, op, identical=False):
        """Run ``op`` on both, assert the same outcome, return it.

        With ``identical`` the result must be the very object the model returns
        (a stored value or the default passed in), not just an equal one.
        """
        expected = outcome(lambda: op(self.model))
        got = outcome(lambda: op(self.impl))
        assert got == expected, f"impl {got!r} != model {expected!r}"
        if identical:
            assert got[1] is expected[1], f"impl {got!r} is not model {expected!r}"
        return expected

    def present_key(self, data):
        return data.draw(st.sampled_from(self.model.keys()), label="present key")

    # Hypothesis picks a rule uniformly, so the rules are grouped to keep the
    # cache busy: three ways to set against one way to remove and one popitem,
    # and clear is one choice out of several whole-cache reads.

    # -- writes -------------------------------------------------------------
    @rule(key=keys, value=values)
    def set(self, key, value):
        self.impl[key] = value
        self.model[key] = value

    @rule(key=st.integers(0, 5), value=values)
    def set_hot(self, key, value):
        self.impl[key] = value
        self.model[key] = value

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data(), value=values)
    def overwrite(self, data, value):
        key = self.present_key(data)
        self.impl[key] = value
        self.model[key] = value

    @rule(data=st.data(), key=keys, op=st.sampled_from(["del", "pop", "pop_default"]),
          default=defaults)
    def remove(self, data, key, op, default):
        if self.model.keys() and data.draw(st.booleans(), label="present"):
            key = self.present_key(data)
        if op == "del":
            def run(c):
                del c[key]
        elif op == "pop":
            def run(c):
                return c.pop(key)
        else:
            def run(c):
                return c.pop(key, default)
        self.same(run, identical=True)

    @rule()
    def popitem(self):
        self.same(lambda c: c.popitem())

    # -- counted reads ------------------------------------------------------
    @rule(key=keys, op=st.sampled_from(["getitem", "get", "get_default"]), default=defaults)
    def counted_read(self, key, op, default):
        self.same(READS[op](key, default), identical=True)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data(), op=st.sampled_from(["getitem", "get", "get_default"]),
          default=defaults)
    def hit(self, data, op, default):
        key = self.present_key(data)
        before = self.model.hits
        self.same(READS[op](key, default), identical=True)
        assert self.impl.hits == self.model.hits == before + 1

    # -- uncounted reads ----------------------------------------------------
    @rule(data=st.data(), key=keys, op=st.sampled_from(["peek", "peek_default", "contains"]),
          default=defaults)
    def uncounted_read(self, data, key, op, default):
        if self.model.keys() and data.draw(st.booleans(), label="present"):
            key = self.present_key(data)
        self.same(READS[op](key, default), identical=op != "contains")

    @rule(op=st.sampled_from(["len", "iter", "items", "keys_values", "clear"]))
    def whole(self, op):
        if op == "clear":
            self.impl.clear()
            self.model.clear()
            assert len(self.impl) == 0
            assert list(self.impl) == []
        else:
            self.same(READS[op](None, None))

    # -- after every step ---------------------------------------------------
    @invariant()
    def agrees_with_model(self):
        impl, model = self.impl, self.model
        impl._check()
        order = model.keys()
        assert list(impl) == order
        assert list(impl.keys()) == order
        assert list(impl.values()) == model.values()
        assert list(impl.items()) == model.items()
        assert len(impl) == len(model)
        # None of the reads above may count or reorder.
        assert (impl.hits, impl.misses) == (model.hits, model.misses)
        assert list(impl) == order
        assert impl.maxsize == model.maxsize
        assert len(impl) <= impl.maxsize
        impl._check()


class LRUMachine(CacheMachine):
    impl_class = LRUCache
    model_class = LRUModel


class FIFOMachine(CacheMachine):
    impl_class = FIFOCache
    model_class = FIFOModel


class LFUMachine(CacheMachine):
    impl_class = LFUCache
    model_class = LFUModel


class TTLMachine(CacheMachine):
    """TTL on a fake timer that only moves when a rule moves it."""

    @initialize(
        maxsize=st.integers(1, 5),
        ttl=st.sampled_from([0.1, 0.25, 1, 1.0, 2.5, 3]),
        start=st.sampled_from([0.0, 0.2, 7.3, 1e9 + 0.1]),
    )
    def make(self, maxsize, ttl, start):
        self.timer = FakeTimer(start)
        self.impl = TTLCache(maxsize, ttl, timer=self.timer)
        self.model = TTLModel(maxsize, ttl, self.timer)
        assert self.impl.ttl == ttl

    @rule(fraction=st.one_of(st.sampled_from([0, 0.1, 0.25, 0.5, 1, 2]),
                             st.floats(0.0, 1.5, allow_nan=False)))
    def advance(self, fraction):
        """Move the clock by a fraction of the ttl (0 included)."""
        self.timer.advance(fraction * self.model.ttl)

    def _expiries(self):
        now = self.timer.now
        return sorted({exp for _, exp in self.model._data.values() if exp >= now})

    @precondition(lambda self: bool(self._expiries()))
    @rule(data=st.data(), just_before=st.booleans())
    def advance_to_expiry(self, data, just_before):
        """Move the clock exactly onto (or one ulp before) an item's expiry."""
        expiry = data.draw(st.sampled_from(self._expiries()), label="expiry")
        target = math.nextafter(expiry, -math.inf) if just_before else expiry
        self.timer.now = max(self.timer.now, target)

    @invariant()
    def ttl_unchanged(self):
        assert self.impl.ttl == self.model.ttl


TestLRUMachine = LRUMachine.TestCase
TestFIFOMachine = FIFOMachine.TestCase
TestLFUMachine = LFUMachine.TestCase
TestTTLMachine = TTLMachine.TestCase
for _case in (TestLRUMachine, TestFIFOMachine, TestLFUMachine, TestTTLMachine):
    _case.settings = STATEFUL_SETTINGS
del _case  # or pytest would collect the last machine a second time


# ---------------------------------------------------------------------------
# plain tests
# ---------------------------------------------------------------------------

FACTORIES = {
    "lru": LRUCache,
    "lfu": LFUCache,
    "fifo": FIFOCache,
    "ttl": lambda maxsize: TTLCache(maxsize, 10.0, timer=FakeTimer(0.0)),
}
CLASSES = {"lru": LRUCache, "lfu": LFUCache, "fifo": FIFOCache, "ttl": TTLCache}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request):
    return FACTORIES[request.param]


def construct(cls, maxsize):
    if cls is TTLCache:
        return cls(maxsize, 1.0)
    return cls(maxsize)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_is_a_mutable_mapping(name):
    cache = construct(CLASSES[name], 3)
    assert isinstance(cache, MutableMapping)
    assert len(cache) == 0
    assert list(cache) == []
    assert (cache.hits, cache.misses, cache.maxsize) == (0, 0, 3)
    assert type(cache.hits) is int and type(cache.misses) is int
    assert type(cache.maxsize) is int
    cache._check()


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("bad", [1.5, "3", None, True, False, 3.0, [3]])
def test_maxsize_not_an_int_is_a_type_error(name, bad):
    with pytest.raises(TypeError) as excinfo:
        construct(CLASSES[name], bad)
    message = str(excinfo.value)
    assert "maxsize" in message
    assert str(bad) in message


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("bad", [0, -1, -3, -(2**70)])
def test_maxsize_below_one_is_a_value_error(name, bad):
    with pytest.raises(ValueError) as excinfo:
        construct(CLASSES[name], bad)
    message = str(excinfo.value)
    assert "maxsize" in message
    assert str(bad) in message


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, float("nan"), -math.inf])
def test_ttl_not_positive_is_a_value_error(bad):
    with pytest.raises(ValueError) as excinfo:
        TTLCache(3, bad)
    message = str(excinfo.value)
    assert "ttl" in message
    assert str(bad) in message


@pytest.mark.parametrize("bad", ["1", None, [1], 1j])
def test_ttl_not_a_real_number_is_a_type_error(bad):
    with pytest.raises(TypeError) as excinfo:
        TTLCache(3, bad)
    message = str(excinfo.value)
    assert "ttl" in message
    assert str(bad) in message


@pytest.mark.parametrize("bad", [None, 0.0, "time.monotonic"])
def test_timer_not_callable_is_a_type_error(bad):
    with pytest.raises(TypeError) as excinfo:
        TTLCache(3, 1.0, timer=bad)
    assert "timer" in str(excinfo.value)


@pytest.mark.parametrize("ttl", [1, 2.5, 1e-9, 10**6])
def test_ttl_accepts_any_positive_real(ttl):
    timer = FakeTimer(0.0)
    cache = TTLCache(2, ttl, timer=timer)
    assert cache.ttl == ttl
    cache["k"] = "v"
    timer.advance(ttl * 0.999)
    assert cache["k"] == "v"
    timer.advance(ttl)
    assert "k" not in cache
    cache._check()


def test_ttl_default_timer_is_monotonic():
    cache = TTLCache(2, 3600)
    cache["a"] = 1
    assert cache["a"] == 1
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)
    cache._check()


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("attr", ["hits", "misses", "maxsize", "ttl"])
def test_counters_and_parameters_are_read_only(name, attr):
    cache = construct(CLASSES[name], 3)
    if not hasattr(cache, attr):
        assert attr == "ttl" and name != "ttl"
        return
    before = getattr(cache, attr)
    with pytest.raises(AttributeError):
        setattr(cache, attr, 99)
    assert getattr(cache, attr) == before


def test_unhashable_key_is_a_type_error(factory):
    cache = factory(2)
    cache[1] = "one"
    cache[2] = "two"
    before = list(cache.items())
    bad = [1]
    with pytest.raises(TypeError):
        cache[bad] = "x"
    with pytest.raises(TypeError):
        cache[bad]
    with pytest.raises(TypeError):
        cache.get(bad)
    with pytest.raises(TypeError):
        cache.get(bad, "default")
    with pytest.raises(TypeError):
        cache.peek(bad)
    with pytest.raises(TypeError):
        cache.peek(bad, "default")
    with pytest.raises(TypeError):
        bad in cache
    with pytest.raises(TypeError):
        cache.pop(bad)
    with pytest.raises(TypeError):
        cache.pop(bad, "default")
    with pytest.raises(TypeError):
        del cache[bad]
    # A rejected set must not have evicted anything from the full cache.
    assert list(cache.items()) == before
    cache._check()


def test_key_error_on_a_miss(factory):
    cache = factory(2)
    cache["here"] = 1
    with pytest.raises(KeyError):
        cache["absent"]
    with pytest.raises(KeyError):
        del cache["absent"]
    with pytest.raises(KeyError):
        cache.pop("absent")
    with pytest.raises(KeyError):
        cache.peek("absent")
    assert (cache.hits, cache.misses) == (0, 1)  # only cache["absent"] counts
    assert list(cache.items()) == [("here", 1)]
    cache.clear()
    with pytest.raises(KeyError):
        cache.popitem()
    cache._check()


def test_none_is_a_value_not_a_miss(factory):
    cache = factory(3)
    cache["n"] = None
    assert "n" in cache
    assert len(cache) == 1
    assert cache.get("n", "default") is None
    assert cache["n"] is None
    assert cache.get("n") is None
    assert (cache.hits, cache.misses) == (3, 0)
    assert cache.get("other", "default") == "default"
    assert cache.get("other") is None
    assert (cache.hits, cache.misses) == (3, 2)
    assert cache.peek("n", "default") is None
    assert cache.peek("other", "default") == "default"
    assert list(cache.items()) == [("n", None)]
    assert cache.pop("n", "default") is None
    assert "n" not in cache
    assert cache.pop("n", "default") == "default"
    cache["n"] = None
    assert cache.popitem() == ("n", None)
    cache._check()


def test_values_of_any_type_are_kept_as_is(factory):
    cache = factory(5)
    stored = [object(), [1, 2], {"a": 1}, float("nan"), factory]
    for i, value in enumerate(stored):
        cache[i] = value
    for i, value in enumerate(stored):
        assert cache[i] is value
        assert cache.peek(i) is value
    got = list(cache.values())
    assert len(got) == len(stored)
    assert all(a is b for a, b in zip(got, stored))
    cache._check()


def test_keys_of_any_hashable_type(factory):
    cache = factory(8)
    pool = [None, "s", b"b", (1, "t"), 2.5, frozenset({1}), -(2**80), 2**64]
    for key in pool:
        cache[key] = repr(key)
    assert len(cache) == len(pool)
    for key in pool:
        assert key in cache
        assert cache.peek(key) == repr(key)
    assert set(cache) == set(pool)
    cache._check()


def test_equal_keys_are_one_key(factory):
    cache = factory(3)
    cache[1] = "int"
    cache[1.0] = "float"
    cache[True] = "bool"
    assert len(cache) == 1
    assert cache.peek(1) == "bool"
    cache._check()


@pytest.mark.parametrize("maxsize", [10**6, 2**30, 2**40, sys.maxsize])
def test_big_maxsize_with_few_items(factory, maxsize):
    cache = factory(maxsize)
    assert cache.maxsize == maxsize
    for i in range(100):
        cache[i] = -i
    assert len(cache) == 100
    assert all(cache[i] == -i for i in range(100))
    assert cache.hits == 100
    cache._check()


def test_one_item_cache(factory):
    cache = factory(1)
    cache["a"] = 1
    cache["b"] = 2
    assert list(cache.items()) == [("b", 2)]
    assert cache.get("a") is None
    assert cache["b"] == 2
    cache["b"] = 3
    assert list(cache.items()) == [("b", 3)]
    cache["c"] = 4
    assert list(cache.items()) == [("c", 4)]
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.popitem() == ("c", 4)
    assert len(cache) == 0
    cache._check()


def test_clear_keeps_counters_and_the_cache_stays_usable(factory):
    cache = factory(2)
    cache["a"] = 1
    cache["a"]
    cache.get("zz")
    cache.clear()
    assert len(cache) == 0 and list(cache) == []
    assert (cache.hits, cache.misses) == (1, 1)
    cache._check()
    for i in range(5):
        cache[i] = i
    assert len(cache) == 2
    assert cache[4] == 4
    assert (cache.hits, cache.misses) == (2, 1)
    cache._check()


# -- the policies, each on a small story that tells it apart -----------------


def test_lru_story():
    cache = LRUCache(3)
    for k in "abc":
        cache[k] = k
    cache["a"]  # a becomes most recent
    cache["b"] = "B"  # an overwrite makes b most recent
    assert list(cache) == ["c", "a", "b"]
    cache.peek("c")
    assert "c" in cache
    assert list(cache) == ["c", "a", "b"]  # peek and in do not reorder
    cache["d"] = "d"
    assert list(cache) == ["a", "b", "d"]
    assert cache.popitem() == ("a", "a")


def test_fifo_story():
    cache = FIFOCache(3)
    for k in "abc":
        cache[k] = k
    cache["a"]
    cache["a"] = "A"  # neither a hit nor an overwrite moves a
    assert list(cache.items()) == [("a", "A"), ("b", "b"), ("c", "c")]
    cache["d"] = "d"
    assert list(cache) == ["b", "c", "d"]
    assert cache.popitem() == ("b", "b")


def test_lfu_story():
    cache = LFUCache(3)
    cache["a"] = 1  # a:1
    cache["b"] = 2  # b:1
    cache["c"] = 3  # c:1
    cache["a"]  # a:2
    cache["b"] = 20  # b:2, used after a
    assert list(cache) == ["c", "a", "b"]
    cache["d"] = 4  # evicts c (count 1)
    assert list(cache) == ["d", "a", "b"]
    cache["e"] = 5  # evicts d (count 1, the only one)
    assert list(cache) == ["e", "a", "b"]
    cache["e"]
    cache["e"]  # e:3
    assert list(cache) == ["a", "b", "e"]
    del cache["e"]
    cache["e"] = 6  # starts again at 1
    assert list(cache) == ["e", "a", "b"]
    cache.peek("e")
    assert "e" in cache
    assert list(cache) == ["e", "a", "b"]  # peek and in count nothing
    assert cache.popitem() == ("e", 6)


def test_ttl_expiry_is_at_time_set_plus_ttl():
    timer = FakeTimer(0.2)
    cache = TTLCache(4, 0.1, timer=timer)
    cache["k"] = "v"
    timer.now = 0.3  # 0.2 + 0.1 == 0.30000000000000004 > 0.3: not yet
    assert "k" in cache
    timer.now = 0.2 + 0.1
    assert "k" not in cache
    assert len(cache) == 0 and list(cache) == []
    assert cache.get("k", "gone") == "gone"
    assert (cache.hits, cache.misses) == (0, 1)
    assert cache.peek("k", "gone") == "gone"
    assert cache.pop("k", "gone") == "gone"
    with pytest.raises(KeyError):
        cache.pop("k")
    with pytest.raises(KeyError):
        cache.popitem()
    cache._check()


def test_ttl_get_refreshes_recency_not_expiry_and_overwrite_restarts():
    timer = FakeTimer(0.0)
    cache = TTLCache(3, 10, timer=timer)
    cache["a"] = 1
    cache["b"] = 2
    timer.now = 5.0
    assert cache["a"] == 1  # recency only
    assert list(cache) == ["b", "a"]
    cache["b"] = 22  # expires at 15 now
    timer.now = 10.0
    assert list(cache.items()) == [("b", 22)]
    timer.now = 15.0
    assert list(cache.items()) == []
    cache._check()


def test_ttl_full_cache_drops_expired_before_evicting_lru():
    timer = FakeTimer(0.0)
    cache = TTLCache(2, 1.0, timer=timer)
    cache["a"] = 1
    timer.now = 0.5
    cache["b"] = 2
    timer.now = 0.9
    cache["a"]  # a most recent, b least recent, but a expires first
    timer.now = 1.0
    cache["c"] = 3  # drops expired a; no LRU eviction needed
    assert list(cache.items()) == [("b", 2), ("c", 3)]
    cache["d"] = 4  # nothing expired: evicts b, the least recent
    assert list(cache.items()) == [("c", 3), ("d", 4)]
    cache._check()


# -- long runs: the internal arrays grow well past their first allocation ------


def run_against_model(impl, model, rng, n_ops, timer=None, key_range=100):
    """Random operations on both, compared one by one; full compare every 50."""
    for step in range(n_ops):
        key = rng.randrange(key_range)
        roll = rng.random()
        if roll < 0.45:
            value = rng.randrange(1000)
            impl[key] = value
            model[key] = value
        elif roll < 0.75:
            assert impl.get(key, "miss") == model.get(key, "miss")
        elif roll < 0.80:
            assert impl.peek(key, "miss") == model.peek(key, "miss")
            assert (key in impl) == (key in model)
        elif roll < 0.88:
            assert impl.pop(key, "miss") == model.pop(key, "miss")
        elif roll < 0.90:
            assert outcome(impl.popitem) == outcome(model.popitem)
        elif roll < 0.9005:
            impl.clear()
            model.clear()
        elif timer is not None:
            timer.advance(rng.choice([0.0, 0.01, 0.1, 1.0]) * model.ttl)
        if step % 50 == 0 or step == n_ops - 1:
            impl._check()
            assert list(impl.items()) == model.items()
            assert (impl.hits, impl.misses) == (model.hits, model.misses)


@pytest.mark.parametrize("maxsize", [9, 33, 300])
@pytest.mark.parametrize("name", ["lru", "lfu", "fifo", "ttl"])
def test_long_random_run_against_the_model(name, maxsize):
    rng = random.Random(f"{name}-{maxsize}")
    key_range = 2 * maxsize
    if name == "ttl":
        timer = FakeTimer(100.0)
        impl = TTLCache(maxsize, 2.5, timer=timer)
        model = TTLModel(maxsize, 2.5, timer)
    else:
        timer = None
        impl = CLASSES[name](maxsize)
        model = {"lru": LRUModel, "lfu": LFUModel, "fifo": FIFOModel}[name](maxsize)
    # Fill first so that every structure reaches full size, then churn.
    for key in range(key_range):
        impl[key] = model[key] = -key
    run_against_model(impl, model, rng, 4000, timer, key_range)


# -- values whose destructor uses the cache ------------------------------------


def destructor_scenario(name, how):
    """Dropping a value runs its __del__, which may use the cache again.

    Whatever that nested write does, the cache must stay consistent: the
    removal in progress must not be half done when the value is released.
    """
    cache = FACTORIES[name](3)
    errors = []

    class Reentrant:
        def __del__(self):
            try:
                cache["from-del"] = "x"
            except Exception as exc:  # an exception in __del__ would only be printed
                errors.append(exc)

    cache["r"] = Reentrant()
    cache[None] = "none"  # a key equal to what a vacated slot may hold
    cache["b"] = 1
    if how == "evict":
        cache["c"] = 2  # "r" is the next victim under every policy here
    elif how == "overwrite":
        cache["r"] = 0
    elif how == "del":
        del cache["r"]
    else:
        cache.clear()
    assert errors == []
    cache._check()
    assert len(cache) <= cache.maxsize
    # The operation itself still did what it says.
    if how == "evict":
        assert "c" in cache and "r" not in cache
    elif how == "overwrite":
        assert "r" not in cache or cache.peek("r") == 0
    elif how == "del":
        assert "r" not in cache
    else:
        assert set(cache) <= {"from-del"}
    for i in range(10):
        cache[i] = i
        cache._check()
    assert len(cache) == 3 and 9 in cache


def run_in_child(target, *args):
    """Run target(*args) in a forked child: a crash fails the test, not the session."""
    if "fork" not in multiprocessing.get_all_start_methods():
        target(*args)
        return
    child = multiprocessing.get_context("fork").Process(target=target, args=args)
    child.start()
    child.join(60)
    assert child.exitcode == 0, (
        f"{target.__name__}{args} failed in the child (exit code {child.exitcode}; "
        "negative is a signal, -11 a segfault); see its stderr")


@pytest.mark.parametrize("how", ["evict", "overwrite", "del", "clear"])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_value_destructor_that_writes_to_the_cache(name, how):
    run_in_child(destructor_scenario, name, how)


def reinit_scenario(name):
    """Calling __init__ again either resets the cache or refuses; never corrupts it."""
    cache = FACTORIES[name](3)
    for k in range(3):
        cache[k] = k
    try:
        if name == "ttl":
            cache.__init__(2, 10.0, timer=FakeTimer(0.0))
        else:
            cache.__init__(2)
    except (TypeError, RuntimeError):
        pass
    cache._check()
    assert len(cache) == len(list(cache)) <= cache.maxsize
    for k in range(10, 20):
        cache[k] = k
        cache._check()
    assert len(cache) == len(list(cache)) == cache.maxsize
    assert 19 in cache


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_calling_init_again_does_not_corrupt(name):
    run_in_child(reinit_scenario, name)


# -- the garbage collector ----------------------------------------------------


class _Holder:
    """A value or key that refers back to the cache: a reference cycle."""

    def __init__(self, cache):
        self.cache = cache

    def __hash__(self):
        return 7

    def __eq__(self, other):
        return self is other


@pytest.mark.parametrize("through", ["value", "key"])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_cycle_through_the_cache_is_collected(name, through):
    """A cache that a value or key refers back to is freed by the collector. (The LRU
    nodes are untracked, 48 bytes as lru-dict's: the cache reports what they hold.)"""
    gc.collect()
    cache = FACTORIES[name](4)
    holder = _Holder(cache)
    for k in range(3):
        cache[k] = [k]
    if through == "value":
        cache["h"] = holder
    else:
        cache[holder] = "v"
    ref = weakref.ref(holder)         # the caches take no weak references
    del cache, holder
    assert ref() is not None, "the cycle keeps itself alive until collected"
    gc.collect()
    assert ref() is None, "the cycle was not collected"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_what_a_reachable_cache_holds_survives_a_collection(name):
    cache = FACTORIES[name](4)
    holder = _Holder(cache)
    cache["h"] = holder
    cache[holder] = "v"
    cache["x"] = [1]
    ref = weakref.ref(holder)
    del holder
    gc.collect()
    assert ref() is not None and cache.peek("h") is ref() and cache.peek(ref()) == "v"
    assert cache.peek("x") == [1]
    cache._check()


class _Meddler:
    """A key whose __eq__ (run on a hash collision) changes the cache it is in."""

    def __init__(self, name, cache, action):
        self.name, self.cache, self.action = name, cache, action

    def __hash__(self):
        return 42

    def __eq__(self, other):
        cache, self.action, action = self.cache, None, self.action   # once
        if action == "drop-victim":
            next(iter(cache), None) is not None and cache.pop(next(iter(cache)), None)
        elif action == "drop-all":
            cache.clear()
        elif action == "fill":
            for k in range(100, 104):
                cache[k] = k
        elif action == "drop-self":
            cache.pop(self, None)
        return self is other


def meddling_scenario(name, action, full):
    cache = FACTORIES[name](3)
    for k in range(2 if not full else 2):
        cache[k] = k
    first = _Meddler("first", cache, None)
    cache[first] = "first"                   # the cache is full (3 items) from here
    if not full:
        del cache[0]
    second = _Meddler("second", cache, None)
    first.action = action                    # runs when second's probe meets first
    cache[second] = "second"
    cache._check()
    assert len(cache) <= 3 and len(list(cache)) == len(cache)
    for k in range(10, 20):                  # and the cache goes on working
        cache[k] = k
        cache._check()
    assert len(cache) == 3 and 19 in cache


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("action", ["drop-victim", "drop-all", "fill", "drop-self"])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_key_whose_eq_changes_the_cache_during_a_set(name, action, full):
    """A set's probe compares keys of equal hash; an __eq__ that changes the cache
    meanwhile (evicts, clears, fills, removes itself) leaves it consistent."""
    run_in_child(meddling_scenario, name, action, full)


def test_an_lru_cache_not_initialized_refuses_a_set_and_stays_empty():
    cache = LRUCache.__new__(LRUCache)
    with pytest.raises(RuntimeError, match="not initialized"):
        cache["k"] = 1
    assert len(cache) == 0 and list(cache) == [] and cache.get("k") is None
    cache.__init__(2)
    cache["k"] = 1
    assert cache["k"] == 1


@pytest.mark.parametrize("ttl", [np.int64(2), np.float32(0.5), Fraction(1, 2)])
def test_ttl_accepts_other_real_number_types(ttl):
    assert isinstance(ttl, numbers.Real)
    timer = FakeTimer(0.0)
    cache = TTLCache(2, ttl, timer=timer)
    cache["k"] = 1
    timer.now = float(ttl) * 0.5
    assert "k" in cache
    timer.now = 0.0 + float(ttl)
    assert "k" not in cache


def test_ttl_timer_may_return_ints():
    ticks = [1000]
    cache = TTLCache(2, 5, timer=lambda: ticks[0])
    cache["k"] = 1
    ticks[0] = 1004
    assert cache["k"] == 1
    ticks[0] = 1005
    assert cache.get("k") is None
    assert (cache.hits, cache.misses) == (1, 1)
