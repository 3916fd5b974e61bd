"""Real stampedes (threads, an in-process cache, SQLite in WAL mode behind it) against
the simulation on the same requests: counts are compared, never times."""
import importlib.util

import pytest

from tradeoff.harness.servers import RedisServer, missing_notice
from tradeoff.strategies import stampede as S

# 2 s of requests at 200/s, recompute 50 ms (about 10 readers arrive during one), ttl 250 ms
KW = dict(rate=200, recompute="50ms", ttl="0.25s", requests=400, seed=11)


@pytest.fixture(scope="module")
def sims():
    return {f: S.simulate(f, **KW) for f in ("none", "lock", "lock:stale=1", "swr", "xfetch:beta=1")}


def test_none_agrees_with_the_simulation(sims):
    sim, real = sims["none"], S.run_real("none", **KW)
    assert real.requests == sim.requests == 400
    assert abs(real.expiries - sim.expiries) <= 2
    # the same arrival times: the stampedes differ only by the threads' scheduling delays
    assert abs(real.recomputes - sim.recomputes) <= 0.35 * sim.recomputes + 3, (real.recomputes, sim.recomputes)
    assert real.recomputes_per_expiry > 4 and real.peak_db > 4


@pytest.mark.parametrize("fix", ["lock", "lock:stale=1", "swr"])
def test_single_flight_for_real(sims, fix):
    sim, real = sims[fix], S.run_real(fix, **KW)
    assert real.recomputes == real.expiries > 0          # one recompute per expiry, exactly
    assert real.peak_db == 1
    assert abs(real.expiries - sim.expiries) <= 2
    if fix == "lock":
        assert real.waits > 0 and real.stale_reads == 0
    else:
        assert real.stale_reads > 0 and real.waits == 0
        assert abs(real.stale_reads - sim.stale_reads) <= 0.35 * sim.stale_reads + 3


def test_xfetch_for_real(sims):
    real = S.run_real("xfetch:beta=1", **KW)
    assert real.early > 0
    assert real.recomputes_per_expiry < 0.6 * sims["none"].recomputes_per_expiry


def test_real_rejects_random_recompute_times():
    with pytest.raises(S.UserError):
        S.run_real("none", rate=10, recompute="exp:10ms", requests=5)


@pytest.fixture
def redis_server():
    notice = missing_notice("redis-server")
    if notice or importlib.util.find_spec("redis") is None:
        pytest.skip(notice or "the redis client is not installed")
    with RedisServer(appendonly=False) as server:
        yield server


def test_redis_lock(redis_server):
    real = S.run_real("lock", lock="redis", server=redis_server, **KW)
    assert real.fix == "lock (redis lock)"
    assert real.recomputes == real.expiries > 0 and real.peak_db == 1
    assert real.waits > 0


def test_dogpile_is_single_flight():
    pytest.importorskip("dogpile.cache")
    r = S.run_peer("dogpile", **KW)
    assert r.recomputes == r.expiries > 0 and r.peak_db == 1
    assert r.stale_reads > 0                 # the others get the expired value meanwhile


def test_diskcache_recomputes_early(sims):
    pytest.importorskip("diskcache")
    r = S.run_peer("diskcache", **KW)
    assert r.recomputes > 0
    assert r.recomputes_per_expiry < 0.5 * sims["none"].recomputes_per_expiry
