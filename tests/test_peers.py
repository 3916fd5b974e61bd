"""Tests for tradeoff.suites._peers: oracleGeneral writing, libcachesim replay, peer LRU mappings.

Peers are optional; each test that needs one skips when it is not installed.
Sizes are small so the whole file runs in a few seconds.
"""

import heapq
import os
from collections import OrderedDict

import numpy as np
import pytest

from tradeoff.harness.errors import Skip, UserError
from tradeoff.suites import _peers


def zipf_keys(n_req, n_obj, alpha=1.0, seed=0):
    """Object ids whose popularity ranks follow P(rank) ~ 1/rank**alpha; ids are a permutation of ranks."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_obj + 1, dtype=np.float64) ** alpha
    ranks = rng.choice(n_obj, size=n_req, p=weights / weights.sum())
    return rng.permutation(n_obj).astype(np.int64)[ranks]


def lru_misses(keys, capacity):
    cache = OrderedDict()
    misses = 0
    for k in keys:
        if k in cache:
            cache.move_to_end(k)
        else:
            misses += 1
            if len(cache) >= capacity:
                cache.popitem(last=False)
            cache[k] = None
    return misses


def fifo_misses(keys, capacity):
    cache = {}  # insertion-ordered; hits do not reorder
    misses = 0
    for k in keys:
        if k not in cache:
            misses += 1
            if len(cache) >= capacity:
                del cache[next(iter(cache))]
            cache[k] = None
    return misses


def opt_misses(keys, capacity):
    """Belady's MIN: on a miss with a full cache, evict the object requested furthest in the future."""
    nxt = _peers.next_access_vtime(np.asarray(keys))
    never = len(keys) + 1
    nxt = np.where(nxt < 0, never, nxt).tolist()
    when = {}  # cached key -> its next access
    heap = []  # (-next access, key), stale entries skipped lazily
    misses = 0
    for i, k in enumerate(keys):
        if k not in when:
            misses += 1
            if len(when) >= capacity:
                while True:
                    neg, victim = heapq.heappop(heap)
                    if when.get(victim) == -neg:
                        del when[victim]
                        break
        when[k] = nxt[i]
        heapq.heappush(heap, (-nxt[i], k))
    return misses


@pytest.fixture(scope="module")
def zipf_trace(tmp_path_factory):
    keys = zipf_keys(200_000, 20_000, alpha=1.0, seed=7)
    path = tmp_path_factory.mktemp("peers") / "zipf.oracleGeneral.bin"
    _peers.write_oracle_general(keys, path)
    return keys, path


# The oracleGeneral writer itself is tested in tests/traces/test_write_oracle.py.


# ---------------------------------------------------------------------------
# require
# ---------------------------------------------------------------------------


def test_require_returns_module():
    assert _peers.require("numpy", "x") is np


def test_require_missing_peer_skips_with_install_hint(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake_import(name, *a, **kw):
        if name == "lru":
            raise ModuleNotFoundError("No module named 'lru'", name="lru")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(Skip) as info:
        _peers.require("lru", "lru-dict LRU")
    assert str(info.value) == "lru-dict LRU: lru-dict not installed (pip install '.[peers]')"


def test_peers_not_imported_at_module_import():
    import subprocess
    import sys

    code = (
        "import sys; import tradeoff.suites._peers; "
        "print(sorted(m for m in ('libcachesim', 'lru', 'cachebox', 'cachetools') if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# libcachesim
# ---------------------------------------------------------------------------


def test_writer_matches_libcachesim_converter(tmp_path):
    lcs = pytest.importorskip("libcachesim")
    keys = zipf_keys(5_000, 300, seed=3)
    ours = tmp_path / "ours.oracleGeneral.bin"
    theirs = tmp_path / "theirs.oracleGeneral.bin"
    _peers.write_oracle_general(keys, ours)
    reader = lcs.TraceReader(str(ours), lcs.TraceType.ORACLE_GENERAL_TRACE)
    # libcachesim re-derives next_access_vtime itself while converting
    lcs.Util.convert_to_oracleGeneral(reader._reader, str(theirs))
    assert theirs.read_bytes() == ours.read_bytes()


def test_libcachesim_reader_sees_our_records(tmp_path):
    lcs = pytest.importorskip("libcachesim")
    keys = np.array([5, 7, 5, 5, 9, 7], dtype=np.int64)
    path = tmp_path / "t.bin"
    _peers.write_oracle_general(keys, path)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    assert reader.get_num_of_req() == 6
    reqs = [(r.obj_id, r.obj_size, r.next_access_vtime) for r in reader]
    assert [r[:2] for r in reqs] == [(int(k), 1) for k in keys]
    assert [r[2] for r in reqs[:3]] == [3, 6, 4]
    assert len({r[2] for r in reqs[3:]}) == 1 and reqs[3][2] > len(keys)  # "never" sentinel


@pytest.mark.parametrize("capacity", [1, 2, 2_000])
def test_libcachesim_lru_equals_ordereddict(zipf_trace, capacity):
    pytest.importorskip("libcachesim")
    keys, path = zipf_trace
    got = _peers.libcachesim_replay(path, capacity, "lru")
    expected = lru_misses(keys.tolist(), capacity)
    assert got["misses"] == expected
    assert got["requests"] == len(keys)
    assert got["hits"] + got["misses"] == len(keys)
    assert got["miss_ratio"] == expected / len(keys)


@pytest.mark.parametrize("capacity", [1, 2_000])
def test_libcachesim_fifo_equals_exact_fifo(zipf_trace, capacity):
    pytest.importorskip("libcachesim")
    keys, path = zipf_trace
    assert _peers.libcachesim_replay(path, capacity, "fifo")["misses"] == fifo_misses(keys.tolist(), capacity)


def test_libcachesim_belady_equals_exact_opt(zipf_trace):
    pytest.importorskip("libcachesim")
    keys, path = zipf_trace
    keys = keys[:50_000]
    got = _peers.libcachesim_replay(keys, 500, "belady")["misses"]
    assert got == opt_misses(keys.tolist(), 500)
    assert got < lru_misses(keys.tolist(), 500)


def test_libcachesim_lfu_runs(zipf_trace):
    pytest.importorskip("libcachesim")
    keys, path = zipf_trace
    got = _peers.libcachesim_replay(path, 2_000, "LFU")
    assert 0 < got["misses"] < len(keys) and got["hits"] + got["misses"] == len(keys)


def test_no_warmup_cold_misses_counted():
    pytest.importorskip("libcachesim")
    keys = np.array([1, 2, 3, 1, 2, 3, 4, 1], dtype=np.int64)
    # capacity >= distinct objects: only the 4 cold misses
    expected = {"hits": 4, "misses": 4, "requests": 8, "miss_ratio": 0.5}
    assert _peers.libcachesim_replay(keys, 10, "lru") == expected
    # capacity 3: 1,2,3 cold; 1,2,3 hit; 4 evicts 1; 1 misses
    assert _peers.libcachesim_replay(keys, 3, "lru")["misses"] == 5


def test_replay_from_keys_equals_replay_from_file(tmp_path):
    pytest.importorskip("libcachesim")
    keys = zipf_keys(20_000, 2_000, seed=5)
    path = tmp_path / "t.bin"
    _peers.write_oracle_general(keys, path)
    from_keys = _peers.libcachesim_replay(keys, 300, "lru")
    assert from_keys == _peers.libcachesim_replay(path, 300, "lru")
    assert from_keys == _peers.libcachesim_replay(str(path), 300, "lru")
    assert from_keys["misses"] == lru_misses(keys.tolist(), 300)
    empty = _peers.libcachesim_replay(np.array([], dtype=np.int64), 10)
    assert empty == {"hits": 0, "misses": 0, "requests": 0, "miss_ratio": 0.0}


def test_replayer_uses_a_fresh_cache_every_call(zipf_trace):
    pytest.importorskip("libcachesim")
    keys, path = zipf_trace
    with _peers.libcachesim_replayer(path, 2_000, "lru", hashpower=20) as replay:
        assert replay.requests == len(keys)
        first = replay()
        assert replay() == first == replay()
        assert first == lru_misses(keys.tolist(), 2_000)
        assert replay.last_miss_ratio == pytest.approx(first / len(keys))


def test_size_zero_records_are_not_requests(tmp_path):
    pytest.importorskip("libcachesim")
    keys = np.array([1, 2, 1, 3, 1], dtype=np.int64)
    path = tmp_path / "t.bin"
    _peers.write_oracle_general(keys, path)
    rec = np.fromfile(path, dtype=_peers.ORACLE_GENERAL_DTYPE)
    rec["obj_size"][1] = 0  # libcachesim's reader skips it
    rec.tofile(path)
    got = _peers.libcachesim_replay(path, 10)
    assert got["requests"] == 4 and got["misses"] == 2


@pytest.mark.parametrize(
    "content, message",
    [(None, "cannot read trace"), (b"", "has no requests"), (b"x" * 25, "not a multiple of 24")],
)
def test_bad_files_raise_instead_of_aborting(tmp_path, content, message):
    pytest.importorskip("libcachesim")
    path = tmp_path / "t.bin"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        _peers.libcachesim_replayer(path, 10)


@pytest.mark.parametrize(
    "capacity, policy, hashpower",
    [(0, "lru", 20), (10.0, "lru", 20), (10, "nope", 20), (10, "lru", 40)],
)
def test_bad_arguments(capacity, policy, hashpower):
    pytest.importorskip("libcachesim")
    with pytest.raises(UserError):
        _peers.libcachesim_replay(np.arange(5), capacity, policy, hashpower)


# ---------------------------------------------------------------------------
# LRU mappings
# ---------------------------------------------------------------------------

_MODULES = {"lru_dict": "lru", "cachebox": "cachebox", "cachetools": "cachetools"}


@pytest.mark.parametrize("impl", _peers.LRU_MAPPING_IMPLS)
def test_mapping_is_a_real_lru(impl):
    pytest.importorskip(_MODULES[impl])
    c = _peers.make_lru_mapping(impl, 3)
    for k in (1, 2, 3):
        c[k] = k * 10
    assert c[1] == 10  # hit refreshes 1: recency order is now 2, 3, 1
    c[4] = 40  # full: evicts the least recent, 2
    assert len(c) == 3
    assert c.get(2) is None
    assert c.get(3) == 30  # refreshes 3: order 1, 4, 3
    c[5] = 50  # evicts 1
    assert c.get(1) is None
    c[4] = 41  # overwriting an existing key refreshes it: order 3, 5, 4
    c[6] = 60  # evicts 3
    assert c.get(3) is None
    assert sorted((k, c[k]) for k in (4, 5, 6)) == [(4, 41), (5, 50), (6, 60)]
    with pytest.raises(KeyError):
        c[99]


@pytest.mark.parametrize("impl", _peers.LRU_MAPPING_IMPLS)
def test_mapping_miss_count_equals_ordereddict(impl):
    pytest.importorskip(_MODULES[impl])
    keys = zipf_keys(30_000, 3_000, seed=11).tolist()
    c = _peers.make_lru_mapping(impl, 300)
    misses = 0
    for k in keys:
        try:
            c[k]
        except KeyError:
            misses += 1
            c[k] = None
    assert misses == lru_misses(keys, 300)


def test_cachebox_contains_refreshes_recency():
    """A quirk the benchmarks must avoid tripping over: ``in`` counts as a use in cachebox only."""
    pytest.importorskip("cachebox")
    c = _peers.make_lru_mapping("cachebox", 2)
    c[1] = c[2] = None
    assert 1 in c
    c[3] = None
    assert c.get(1, "gone") is None and c.get(2, "gone") == "gone"


@pytest.mark.parametrize("maxsize", [0, -1, 2.5])
def test_mapping_rejects_bad_maxsize(maxsize):
    with pytest.raises(UserError):
        _peers.make_lru_mapping("lru_dict", maxsize)


def test_mapping_unknown_impl():
    with pytest.raises(UserError, match="unknown LRU mapping"):
        _peers.make_lru_mapping("functools", 10)


# ---------------------------------------------------------------------------
# W-TinyLFU: theine
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["tradeoff", "theine"])
def test_wtinylfu_peer_keeps_frequent_keys_through_a_scan(impl):
    """The suite's W-TinyLFU caches are the same kind of cache: full, each keeps the
    keys read three times more through a scan of 2000 one-time keys (an LRU of the
    same size keeps none of them), and holds no more than its size. Ours keeps all
    50. theine's decisions vary from one cache to the next (the cause, in its Rust
    core, was not traced: a seeded hash or a random admission): it kept 44 to 50 in
    120 trials, so 35 is the bound."""
    if impl == "theine":
        pytest.importorskip("theine")
    from tradeoff.suites.cache import _got, _wtinylfu
    c, get, put = _wtinylfu(impl, 100)
    for k in range(100):
        put(k, k)
    for _ in range(3):
        for k in range(50):
            assert get(k) in (k, (k, True))
    for k in range(1000, 3000):
        put(k, k)
    kept = sum(_got(get(k)) for k in range(50))
    assert kept == 50 if impl == "tradeoff" else kept >= 35
    assert sum(_got(get(k)) for k in range(3000)) <= 100
    # the control: the same scan flushes an LRU
    from tradeoff.cache import LRUCache
    lru = LRUCache(100)
    for k in range(100):
        lru[k] = k
    for k in range(1000, 3000):
        lru[k] = k
    assert not any(k in lru for k in range(50))


def test_wtinylfu_peer_unknown_impl():
    from tradeoff.suites.cache import _wtinylfu
    with pytest.raises(ValueError, match="no W-TinyLFU cache in cachebox"):
        _wtinylfu("cachebox", 10)
