"""Redis against Memcached (tradeoff.strategies.kvservers), on the real servers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tradeoff.harness.servers import missing_notice
from tradeoff.strategies import kvservers as kv
from tradeoff.workloads import zipf

from clitools import cli


def _need(name):
    notice = missing_notice("redis-server" if name == "redis" else "memcached")
    if notice:
        pytest.skip(notice)


@pytest.mark.parametrize("spec, expected", [
    ("redis", [("redis", "lru", 5)]),
    ("redis:lfu", [("redis", "lfu", 5)]),
    ("redis:lru:10, memcached", [("redis", "lru", 10), ("memcached", "slru", 0)]),
])
def test_parse_eviction(spec, expected):
    assert kv.parse_eviction(spec) == expected


@pytest.mark.parametrize("spec", ["", "redis:lru:0", "redis:lru:65", "redis:random", "memcached:lru", "kafka",
                                  "redis:lru:x"])
def test_parse_eviction_rejects(spec):
    with pytest.raises(ValueError, match="eviction"):
        kv.parse_eviction(spec)


@pytest.mark.parametrize("name", kv.SERVERS)
@pytest.mark.parametrize("pipeline", [1, 7])
def test_throughput_every_get_hits(name, pipeline):
    _need(name)
    with kv.start(name) as s:
        r = kv.throughput(s, op="get", value_size=300, pipeline=pipeline, requests=200, keys=50)
        w = kv.throughput(s, op="set", value_size=300, pipeline=pipeline, requests=200, keys=50)
    n = -(-200 // pipeline) * pipeline
    assert r["requests"] == n and r["hits"] == n
    assert w["requests"] == n and w["hits"] is None
    for x in (r, w):
        assert x["ops_per_s"] > 0
        assert 0 < x["p50_us"] <= x["p99_us"] <= x["p999_us"]


@pytest.mark.parametrize("name", kv.SERVERS)
def test_throughput_clients_add_up(name):
    _need(name)
    with kv.start(name, threads=2) as s:
        r = kv.throughput(s, op="get", value_size=100, pipeline=4, requests=100, keys=10, clients=2)
    assert r["requests"] == 200 and r["hits"] == 200


def test_throughput_rejects_bad_input():
    with pytest.raises(ValueError, match="clients"):
        kv.throughput(None, clients=0)
    with pytest.raises(ValueError, match="op"):
        kv._throughput("redis", "/nonexistent", op="del", value_size=1, pipeline=1, requests=1, keys=1)


@pytest.mark.parametrize("name", kv.SERVERS)
def test_memory_per_key_is_at_least_the_payload(name):
    _need(name)
    with kv.start(name) as s:
        m = kv.memory_per_key(s, keys=2000, value_size=200)
    assert m["keys"] == 2000
    # each server keeps the key and the value, and headers besides
    assert m["payload_per_key"] == pytest.approx(200 + np.mean([len(b"k%d" % i) for i in range(2000)]))
    assert m["bytes_per_key"] > m["payload_per_key"]


def test_eviction_without_pressure_equals_every_exact_policy():
    """Every key fits: each server and each exact policy miss only on first sight."""
    _need("redis")
    _need("memcached")
    keys = zipf(3000, 300, 0.8, seed=3)
    df = kv.eviction(keys, configs="redis:lru:5,redis:lfu:5,memcached", memory_mb=16, value_size=100)
    expected = 1 - len(np.unique(keys)) / len(keys)
    assert len(df) == 3
    for r in df.to_dict("records"):
        assert r["capacity_keys"] == len(np.unique(keys))
        assert r["evictions"] == 0
        assert r["hit_ratio"] == pytest.approx(expected)
        for p in ("lru", "lfu", "belady"):
            assert r[f"{p}_hit_ratio"] == pytest.approx(expected)


def test_eviction_under_pressure_is_close_to_its_policy_and_below_belady():
    _need("redis")
    _need("memcached")
    keys = zipf(20_000, 8_000, 0.9, seed=5)
    df = kv.eviction(keys, configs="redis:lru:5,memcached", memory_mb=4, value_size=1000)
    for r in df.to_dict("records"):
        assert 0 < r["capacity_keys"] < len(np.unique(keys))
        assert r["evictions"] > 0
        # an online policy cannot beat the optimum at its capacity (a little slack:
        # the server's capacity in keys moves a little during the run)
        assert r["hit_ratio"] <= r["belady_hit_ratio"] + 0.01
        assert abs(r["gap_to_exact"]) < 0.05


def test_cli_servers_small_run(tmp_path):
    _need("redis")
    _need("memcached")
    out = tmp_path / "s.json"
    code, stdout, stderr = cli("simulate", "servers", "--values", "100", "--pipeline", "1,4", "--clients", "1",
                               "--requests", "100", "--workload", "zipf:objects=500,requests=2000",
                               "--memory", "4", "--plot", str(tmp_path / "s.png"), "-o", str(out), "-q")
    assert code == 0, stderr
    assert "redis allkeys-lru (samples 5)" in stdout and "memcached segmented LRU" in stdout
    assert stdout.count("GET") == 4 and stdout.count("SET") == 4
    data = json.loads(out.read_text())
    assert len(data["benchmarks"]) == 8 + 4
    assert (tmp_path / "s.png").stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["--servers", "mongodb"], "unknown server"),
    (["--values", "abc"], "--values"),
    (["--pipeline", "0"], "--pipeline"),
    (["--eviction", "redis:random"], "eviction"),
    (["--requests", "-5"], "--requests"),
])
def test_cli_servers_bad_input(tmp_path, args, message):
    out = tmp_path / "s.json"
    code, stdout, stderr = cli("simulate", "servers", *args, "-o", str(out))
    assert code == 2
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()
