"""The cache tiers: one contract for the in-process tier, Redis and Memcached, and a
hypothesis state machine of the in-process tier against a dict with expiry."""
from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tradeoff.harness.servers import MemcachedServer, RedisServer, missing_notice
from tradeoff.strategies.tiers import Entry, LocalTier, MemcachedTier, RedisTier, make_tier


@pytest.fixture(scope="module")
def redis_server():
    notice = missing_notice("redis-server")
    if notice:
        pytest.skip(notice)
    with RedisServer(appendonly=False) as s:
        yield s


@pytest.fixture(scope="module")
def memcached_server():
    notice = missing_notice("memcached")
    if notice:
        pytest.skip(notice)
    with MemcachedServer() as s:
        yield s


@pytest.fixture(params=["local", "redis", "memcached"])
def tier(request):
    if request.param == "local":
        t = LocalTier(100)
    elif request.param == "redis":
        t = RedisTier(str(request.getfixturevalue("redis_server").socket_path))
    else:
        t = MemcachedTier(str(request.getfixturevalue("memcached_server").socket_path))
    t.clear()
    yield t
    t.clear()
    t.close()


def test_entry_round_trip():
    for e in (Entry.value(b"a:b:c", 7, ttl=5), Entry.lease(12), Entry.tombstone(3), Entry.value(b"", 1)):
        assert Entry.decode(e.encode()) == (e.kind, e.version, pytest.approx(e.expires, abs=1e-5), e.data)


def test_get_set_delete(tier):
    assert tier.get(1) is None
    tier.set(1, Entry.value(b"v1", 1, 60), 60)
    e = tier.get(1)
    assert (e.kind, e.version, e.data) == ("v", 1, b"v1")
    tier.delete(1)
    assert tier.get(1) is None
    tier.delete(1)                     # deleting a missing key is fine
    assert tier.gets_count == 3 and tier.sets_count == 1 and tier.deletes_count == 2


def test_add_only_when_absent(tier):
    assert tier.add(2, Entry.lease(5), 10)
    assert not tier.add(2, Entry.lease(6), 10)
    assert tier.get(2).version == 5


def test_cas_fails_after_a_change_or_a_delete(tier):
    tier.set(3, Entry.value(b"a", 1, 60), 60)
    e, token = tier.gets(3)
    assert tier.cas(3, Entry.value(b"b", 2, 60), 60, token)
    assert not tier.cas(3, Entry.value(b"c", 3, 60), 60, token)      # changed since gets
    e, token = tier.gets(3)
    tier.delete(3)
    assert not tier.cas(3, Entry.value(b"d", 4, 60), 60, token)      # deleted since gets
    assert tier.get(3) is None
    assert tier.gets(99) == (None, None)


def test_clear(tier):
    for k in range(5):
        tier.set(k, Entry.value(b"x", 1, 60), 60)
    tier.clear()
    assert all(tier.get(k) is None for k in range(5))


def test_local_tier_any_policy_and_bad_arguments():
    for policy in ("lru", "fifo", "lfu", "sieve", "s3fifo", "arc", "clock"):
        t = LocalTier(2, policy)
        for k in range(3):
            t.set(k, Entry.value(b"x", 1), 0)
        assert len(t) <= 2
    with pytest.raises(ValueError, match="maxsize"):
        LocalTier(0)
    with pytest.raises(ValueError, match="policy"):
        LocalTier(10, "belady")
    with pytest.raises(ValueError, match="unknown cache tier"):
        make_tier("dynamo", address="x")


def test_local_ttl_expiry_with_a_fake_clock():
    now = [0.0]
    t = LocalTier(10, timer=lambda: now[0])
    t.set(1, Entry.value(b"x", 1), 5)
    now[0] = 4.99
    assert t.get(1) is not None
    now[0] = 5.0
    assert t.get(1) is None and len(t) == 0
    assert t.add(1, Entry.lease(1), 5)


class LocalTierMachine(RuleBasedStateMachine):
    """LocalTier (no eviction: room for every key) against a dict of key -> (entry, expires)."""

    def __init__(self):
        super().__init__()
        self.now = 0.0
        self.tier = LocalTier(64, timer=lambda: self.now)
        self.model: dict[int, tuple] = {}
        self.tokens: dict[int, object] = {}

    def _live(self, k):
        item = self.model.get(k)
        if item is not None and item[1] and item[1] <= self.now:
            del self.model[k]
            return None
        return item

    keys = st.integers(0, 5)
    ttls = st.sampled_from([0, 1, 3])

    @rule(k=keys, v=st.integers(1, 9), ttl=ttls)
    def set(self, k, v, ttl):
        e = Entry.value(b"%d" % v, v)
        self.tier.set(k, e, ttl)
        self.model[k] = (e, self.now + ttl if ttl else 0.0)
        self.tokens.pop(k, None)

    @rule(k=keys)
    def get(self, k):
        item = self._live(k)
        assert self.tier.get(k) == (None if item is None else item[0])

    @rule(k=keys)
    def delete(self, k):
        self.tier.delete(k)
        self.model.pop(k, None)
        self.tokens.pop(k, None)

    @rule(k=keys, v=st.integers(1, 9), ttl=ttls)
    def add(self, k, v, ttl):
        e = Entry.lease(v)
        expected = self._live(k) is None
        assert self.tier.add(k, e, ttl) == expected
        if expected:
            self.model[k] = (e, self.now + ttl if ttl else 0.0)
            self.tokens.pop(k, None)

    @rule(k=keys)
    def gets(self, k):
        entry, token = self.tier.gets(k)
        item = self._live(k)
        assert entry == (None if item is None else item[0])
        if token is not None:
            self.tokens[k] = token

    @rule(k=keys, v=st.integers(1, 9))
    def cas(self, k, v):
        token = self.tokens.get(k)
        e = Entry.value(b"c", v)
        expected = token is not None and self._live(k) is not None
        assert self.tier.cas(k, e, 0, token) == expected
        if expected:
            self.model[k] = (e, 0.0)
            self.tokens.pop(k, None)

    @rule(dt=st.sampled_from([0.5, 1.0, 2.0]))
    def tick(self, dt):
        self.now += dt

    @invariant()
    def counters(self):
        self.tier._check()


TestLocalTierMachine = LocalTierMachine.TestCase
TestLocalTierMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
