"""The cache-aside race (a reader fills the cache with the row it read before a writer's
update and invalidation), forced with events, on every tier; and the fixes: leases and
versioned sets refuse the stale fill, delete-after-delay removes it after the delay.
Under concurrent clients the fixes that refuse stale fills count none."""
from __future__ import annotations

import pytest

from tradeoff.harness.servers import MemcachedServer, RedisServer, missing_notice
from tradeoff.strategies.runner import Workload, reproduce_race, run_workload
from tradeoff.strategies.stores import SQLiteStore
from tradeoff.strategies.tiers import LocalTier, MemcachedTier, RedisTier


@pytest.fixture(scope="module")
def servers():
    started = {}
    for name, cls, kw in (("redis", RedisServer, {"appendonly": False}), ("memcached", MemcachedServer, {})):
        if not missing_notice(cls.binary):
            started[name] = cls(**kw).start()
    yield started
    for s in started.values():
        s.stop()


@pytest.fixture(params=["local", "redis", "memcached"])
def tier(request, servers):
    if request.param == "local":
        yield LocalTier(100)
        return
    server = servers.get(request.param)
    if server is None:
        pytest.skip(missing_notice("redis-server" if request.param == "redis" else "memcached"))
    t = RedisTier(str(server.socket_path)) if request.param == "redis" else MemcachedTier(str(server.socket_path))
    yield t
    t.clear()
    t.close()


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "db.sqlite")
    yield s
    s.close()


def test_the_race_leaves_a_stale_entry_without_a_fix(store, tier):
    r = reproduce_race(store, tier, None)
    assert (r["reader_got"], r["db"], r["cached"], r["stale"]) == (1, 2, 1, True)


@pytest.mark.parametrize("fix", ["lease", "versioned"])
def test_leases_and_versioned_sets_refuse_the_stale_fill(store, tier, fix):
    r = reproduce_race(store, tier, fix)
    assert r["reader_got"] == 1 and r["db"] == 2
    assert r["cached"] is None and not r["stale"]


def test_delete_after_delay_cleans_up_after_the_delay(store, tier):
    r = reproduce_race(store, tier, "delay", delay=0.05)
    assert r["stale"] and r["stale_after_delay"] is False


@pytest.mark.parametrize("spec", ["aside:lease", "aside:versioned"])
def test_no_stale_fill_under_concurrent_clients(tmp_path, spec):
    """8 clients, 70% reads on 20 hot keys, a slow database: fills race writes all the
    time, and none of them may land after an invalidation of a newer version."""
    store = SQLiteStore(tmp_path / "db.sqlite", delay=0.0002)
    w = Workload(read_fraction=0.7, alpha=1.2, n_keys=20, clients=8, duration=0, ops=300, seed=3)
    r = run_workload(spec, store, LocalTier(1000), w)
    store.close()
    assert r["reads"] > 1000 and r["writes"] > 300
    assert r["stale_fills"] == 0 and r["stale_left"] == 0


def test_reproduce_race_stale_fill_is_counted(store):
    """The forced race, run through the strategy's counter: one stale fill."""
    from tradeoff.strategies.strategies import CacheAside
    import threading

    store.load(1, 4)
    s = CacheAside(store, LocalTier(10))
    reader_in, writer_done = threading.Event(), threading.Event()

    def hook(k):
        if threading.current_thread().name == "reader":
            reader_in.set()
            writer_done.wait(10)

    s.after_db_read = hook
    t = threading.Thread(target=s.read, args=(0,), name="reader")
    t.start()
    reader_in.wait(10)
    s.write(0, b"new!")
    writer_done.set()
    t.join()
    assert s.stale_sets == 1
