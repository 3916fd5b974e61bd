"""Every strategy against a small pure-Python model of what it promises, one operation
at a time (hypothesis state machines), on a real SQLite store and the in-process tier.

- every strategy but write-around reads the last write (read your writes);
- write-through: the cache and the database agree after every operation;
- cache-aside: a write leaves no entry (invalidate) or the new one (update), and a hit
  costs no database query;
- write-behind: the database does not change until a flush, and after one it equals the
  model; repeated writes of a key are coalesced into one row write;
- write-around: a read returns what the cache holds (possibly stale) or the database row.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tradeoff.strategies.runner import make_value
from tradeoff.strategies.stores import SQLiteStore
from tradeoff.strategies.strategies import (DIRTY, CacheAside, RefreshAhead, WriteBehind, make_strategy)
from tradeoff.strategies.tiers import Entry, LocalTier

KEYS = 6


class StrategyMachine(RuleBasedStateMachine):
    spec = "aside"
    cache_size = 100

    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="tradeoff-test-model-"))
        self.store = SQLiteStore(self.dir / "db.sqlite")
        self.store.load(KEYS, 8)
        self.tier = LocalTier(self.cache_size)
        kw = {"flush_interval": 3600.0, "batch_size": 10_000} if self.spec == "write-behind" else {}
        self.s = make_strategy(self.spec, self.store, self.tier, ttl=60, **kw)
        self.latest = {k: (b"0" * 8, 1) for k in range(KEYS)}   # the last acknowledged write
        self.db = dict(self.latest)                               # what the database holds
        self.cached = {}                                          # write-around: key -> (data, version)
        self.wid = 0
        self.unflushed_writes = 0

    def teardown(self):
        self.s.close()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(k=st.integers(0, KEYS - 1))
    def read(self, k):
        had = self.tier.get(k)
        reads = self.store.reads
        data, version, hit = self.s.read(k)
        if self.spec == "write-around":
            expect = self.cached.get(k, self.db[k])
            assert (data, version) == expect
            self.cached[k] = expect
        elif self.spec == "write-behind":
            assert data == self.latest[k][0]
            assert version == (DIRTY if self.latest[k] != self.db[k] else self.db[k][1])
        else:
            assert (data, version) == self.latest[k]
        if had is not None and had.kind == "v" and self.spec != "write-behind":
            assert hit and self.store.reads == reads, "a hit went to the database"

    @rule(k=st.integers(0, KEYS - 1))
    def write(self, k):
        self.wid += 1
        value = make_value(self.wid, 8)
        before = self.store.writes
        self.s.write(k, value)
        if self.spec == "write-behind":
            assert self.store.writes == before, "write-behind wrote the database before a flush"
            self.latest[k] = (value, None)
            self.unflushed_writes += 1
            return
        version = self.db[k][1] + 1
        self.db[k] = self.latest[k] = (value, version)
        e = self.tier.get(k)
        if self.spec in ("aside", "read-through", "refresh-ahead"):
            assert e is None, "the write did not invalidate the entry"
        elif self.spec in ("aside:update", "write-through"):
            assert e is not None and (e.data, e.version) == (value, version)

    @precondition(lambda self: self.spec == "write-behind")
    @rule()
    def flush(self):
        before = self.store.writes
        pending = {k for k, (_, v) in self.latest.items() if v is None}
        self.s.flush()
        assert self.store.writes - before == len(pending)        # coalesced: one row per key
        for k in pending:
            self.db[k] = self.latest[k] = (self.latest[k][0], self.db[k][1] + 1)
        assert {k: (v, ver) for k, ver, v in self.store.rows()} == self.db

    @invariant()
    def database_matches(self):
        assert {k: (v, ver) for k, ver, v in self.store.rows()} == self.db

    @invariant()
    def write_through_cache_agrees(self):
        if self.spec == "write-through":
            for k in range(KEYS):
                e = self.tier.get(k)
                assert e is None or (e.data, e.version) == self.db[k]

    @invariant()
    def checks(self):
        self.s._check()
        self.tier._check()


_SETTINGS = settings(max_examples=25, stateful_step_count=30, deadline=None)


def _machine(spec, size):
    cls = type(f"Machine_{spec}_{size}", (StrategyMachine,), {"spec": spec, "cache_size": size})
    case = cls.TestCase
    case.settings = _SETTINGS
    return case


SPECS = ["aside", "aside:update", "aside:lease", "aside:delay", "aside:versioned", "read-through",
         "write-through", "write-behind", "write-around"]


# size 2: entries are evicted all the time (not for write-around, whose staleness
# depends on which entries were evicted)
@pytest.mark.parametrize("spec, size", [(s, n) for s in SPECS for n in (100, 2) if (s, n) != ("write-around", 2)])
def test_strategy_against_model(spec, size):
    case = _machine(spec, size)("runTest")
    case.runTest()


def test_write_behind_flushes_on_batch_size(tmp_path):
    store = SQLiteStore(tmp_path / "db")
    store.load(10, 4)
    s = WriteBehind(store, LocalTier(100), flush_interval=3600, batch_size=3)
    for k in range(3):
        s.write(k, b"new")
    deadline = time.monotonic() + 30
    while store.writes < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.writes == 3 and store.transactions == 1
    s.close()
    store.close()


def test_write_behind_close_flushes(tmp_path):
    store = SQLiteStore(tmp_path / "db")
    store.load(4, 4)
    s = WriteBehind(store, LocalTier(100), flush_interval=3600)
    for i in range(10):
        s.write(i % 2, b"v%d" % i)
    assert store.writes == 0 and s.coalesced == 8
    s.close()
    assert store.get(0)[0] == b"v8" and store.get(1)[0] == b"v9" and store.writes == 2


def test_refresh_ahead_reloads_an_entry_near_its_expiry(tmp_path):
    store = SQLiteStore(tmp_path / "db")
    store.load(2, 4)
    tier = LocalTier(10)
    s = RefreshAhead(store, tier, ttl=60, refresh_factor=0.75)
    tier.set(1, Entry("v", 1, time.time() + 5, b"0000"), 60)   # 5 s left of 60: past 75%
    store.put(1, b"next")                                       # the database moved on
    assert s.read(1) == (b"0000", 1, True)                      # served at once from the cache
    deadline = time.monotonic() + 30
    while s.refreshes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    e = tier.get(1)
    assert s.refreshes == 1 and (e.data, e.version) == (b"next", 2) and e.expires > time.time() + 50
    assert s.read(1) == (b"next", 2, True)
    s.close()
    store.close()


def test_bad_arguments(tmp_path):
    store = SQLiteStore(tmp_path / "db")
    tier = LocalTier(4)
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("write-sideways", store, tier)
    with pytest.raises(ValueError, match="cache-aside option"):
        make_strategy("aside:magic", store, tier)
    with pytest.raises(ValueError, match="ttl"):
        CacheAside(store, tier, ttl=0)
    with pytest.raises(ValueError, match="flush_interval"):
        WriteBehind(store, tier, flush_interval=0)
    with pytest.raises(ValueError, match="batch_size"):
        WriteBehind(store, tier, batch_size=0)
    store.close()
