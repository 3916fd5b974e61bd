"""PolicyCache against a model: a dict of the stored items plus a twin replay
engine of the same policy, driven by the keys' hashes exactly as the mapping's
contract says (a get of a stored key is a use; a set of a new key is a missed
request and an insert, after a stored key of equal hash makes way; a delete is a
remove). The twin's decisions (which keys an insert pushed out, or refused) must
be the mapping's, for every online policy, and the keys include objects with
equal hashes (to each other and to ints), equal keys that are not the same
object, and keys whose ``==`` runs Python code.
"""
import gc
import weakref

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tradeoff.cache import POLICY_SPECS, PolicyCache
from tradeoff.cache._replay import make_engine

ONLINE_ALL = [p for p in POLICY_SPECS if not POLICY_SPECS[p].offline]


class K:
    """A key with a chosen hash; equal to the K of the same name."""
    __slots__ = ("name", "h")

    def __init__(self, name, h):
        self.name, self.h = name, h

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        return isinstance(other, K) and other.name == self.name

    def __repr__(self):
        return f"K({self.name!r}, {self.h})"


def _pool():
    # -1 and -2 share hash -2; K("a", 3) and K("b", 3) share hash 3 with the int 3;
    # a fresh K (or big int) each time is equal to the stored one but not the same
    # object, so the lookup must compare with ==
    return st.sampled_from([
        lambda: 0, lambda: 1, lambda: 2, lambda: 3, lambda: 4, lambda: 5, lambda: -1, lambda: -2,
        lambda: K("a", 3), lambda: K("b", 3), lambda: K("c", -2), lambda: K("d", 77),
        lambda: "x", lambda: "".join(["y", "z"]), lambda: 10 ** 20 + 1, lambda: (1, 2),
    ]).map(lambda make: make())


class PolicyCacheMachine(RuleBasedStateMachine):
    @initialize(policy=st.sampled_from(ONLINE_ALL), maxsize=st.integers(1, 5))
    def start(self, policy, maxsize):
        self.cache = PolicyCache(maxsize, policy)
        self.twin = make_engine(policy, maxsize)
        self.items = {}             # the model: key -> value
        self.hits = self.misses = 0
        self.serial = 0

    def _stored(self, h):
        """The model's stored key with hash h, if any (at most one)."""
        found = [k for k in self.items if hash(k) == h]
        assert len(found) <= 1
        return found[0] if found else None

    @rule(key=_pool())
    def get(self, key):
        out = self.cache.get(key, "missing")
        if key in self.items:
            assert self.twin._hit(hash(key))
            self.hits += 1
            assert out == self.items[key]
        else:
            self.misses += 1
            assert out == "missing"

    @rule(key=_pool())
    def peek(self, key):
        assert self.cache.peek(key, "missing") == self.items.get(key, "missing")
        assert (key in self.cache) == (key in self.items)

    @rule(key=_pool())
    def set(self, key):
        self.serial += 1
        value = ("v", self.serial)
        self.cache[key] = value
        h = hash(key)
        if key in self.items:
            assert self.twin._hit(h)
            self.items[key] = value
            return
        other = self._stored(h)
        if other is not None:
            assert self.twin._remove(h)
            del self.items[other]
        assert not self.twin._hit(h)
        gone = self.twin._insert(h)
        for g in gone:
            if g != h:
                del self.items[self._stored(g)]
        if h not in gone:
            self.items[key] = value

    @rule(key=_pool())
    def delete(self, key):
        if key in self.items:
            del self.cache[key]
            assert self.twin._remove(hash(key))
            del self.items[key]
        else:
            with pytest.raises(KeyError):
                del self.cache[key]

    @rule()
    def clear(self):
        order = list(self.cache)
        self.cache.clear()
        for k in order:
            assert self.twin._remove(hash(k))
        self.items.clear()

    @invariant()
    def agree(self):
        if not hasattr(self, "cache"):
            return
        self.cache._check()
        self.twin._check()
        got = self.cache._items()
        assert len(got) == len(self.cache) == len(self.items)
        for k, v in got:
            assert self.items[k] == v
            assert any(k is m for m in self.items), "the stored key object is the first one set"
        assert (self.cache.hits, self.cache.misses) == (self.hits, self.misses)
        assert sorted(self.twin._resident()) == sorted(hash(k) for k in self.items)


PolicyCacheMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60,
                                                deadline=None)
TestPolicyCacheMachine = PolicyCacheMachine.TestCase


@pytest.mark.parametrize("policy", ONLINE_ALL)
def test_colliding_keys_are_never_confused(policy):
    """Keys with equal hashes: the newer one evicts the older, and a lookup of the
    evicted one misses instead of finding the other's value."""
    c = PolicyCache(4, policy)
    a, b = K("a", 5), K("b", 5)
    c[a] = "A"
    c[5] = "five"               # hash(5) == 5: a makes way
    assert c.get(a) is None and c.peek(5) == "five" and a not in c
    c[b] = "B"
    assert 5 not in c and c.get(5, "none") == "none" and c[b] == "B"
    with pytest.raises(KeyError):
        c[a]
    with pytest.raises(KeyError):
        del c[a]
    assert list(c) == [b] and len(c) == 1
    c[K("b", 5)] = "B2"         # equal to b, another object: an overwrite
    assert c[b] == "B2" and len(c) == 1 and next(iter(c)) is b
    c._check()


def test_an_eq_that_raises_leaves_the_cache_unchanged():
    class Bad(K):
        __slots__ = ()

        __hash__ = K.__hash__

        def __eq__(self, other):
            raise RuntimeError("no comparing")

    c = PolicyCache(3, "arc")
    c[Bad("p", 9)] = 1
    with pytest.raises(RuntimeError):
        c[Bad("q", 9)] = 2
    with pytest.raises(RuntimeError):
        c.get(Bad("q", 9))
    assert len(c) == 1 and (c.hits, c.misses) == (0, 0)
    c._check()


def test_an_eq_that_changes_the_cache_is_looked_up_again():
    c = PolicyCache(3, "s3fifo")

    class Meddler(K):
        __slots__ = ()

        __hash__ = K.__hash__

        def __eq__(self, other):
            if isinstance(other, K) and 8 in c:
                del c[8]
            return K.__eq__(self, other)

    first = Meddler("m", 4)
    c[first] = "old"
    c[8] = "eight"
    c[Meddler("m", 4)] = "new"      # the compare deletes 8; the key is still found
    assert c[first] == "new" and 8 not in c and len(c) == 1
    c._check()


@pytest.mark.parametrize("policy", ["arc", "lirs", "wtinylfu"])
def test_evicted_and_cleared_objects_are_released(policy):
    class Obj:
        pass

    c = PolicyCache(2, policy)
    refs = []
    for i in range(50):
        k, v = Obj(), Obj()
        refs += [weakref.ref(k), weakref.ref(v)]
        c[k] = v
        del k, v
    alive = sum(r() is not None for r in refs)
    assert alive == 2 * len(c)
    c.clear()
    assert all(r() is None for r in refs)


def test_a_cycle_through_the_cache_is_collected():
    class Holder:
        pass

    c = PolicyCache(4, "sieve")
    h = Holder()
    h.cache = c
    c["me"] = h
    r = weakref.ref(h)
    del c, h
    gc.collect()
    assert r() is None


def test_a_cache_whose_init_did_not_run_raises():
    c = PolicyCache.__new__(PolicyCache)
    for use in (lambda: c[1], lambda: c.get(1), lambda: c.__setitem__(1, 2), lambda: 1 in c, lambda: list(c)):
        with pytest.raises(RuntimeError, match="not initialized"):
            use()
