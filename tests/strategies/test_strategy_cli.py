"""``tradeoff simulate strategy``: a small run end to end, and bad input as one line and
exit status 2 with nothing left behind."""
from __future__ import annotations

import json
import tempfile

import pytest

from tradeoff.harness.servers import missing_notice

from clitools import cli


@pytest.fixture
def tmpdir_only(tmp_path, monkeypatch):
    """Temporary folders go under tmp_path/t, so that leftovers can be seen."""
    t = tmp_path / "t"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    return t


def test_a_small_run(tmp_path, tmpdir_only):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", "strategy", "--strategy", "aside,write-through,write-behind,aside:lease",
                               "--clients", "2", "--duration", "0", "--ops", "300", "--key-count", "200",
                               "--race", "-o", out, "--plot", tmp_path / "p.png")
    assert code == 0, stderr
    for name in ("aside ", "write-through", "write-behind", "aside:lease", "DB q/req", "the cache-aside race"):
        assert name in stdout
    data = json.loads(out.read_text())
    assert "simulate-strategy" in json.dumps(data)
    assert (tmp_path / "p.png").stat().st_size > 0
    assert list(tmpdir_only.iterdir()) == []


def test_crash_at(tmp_path, tmpdir_only):
    code, stdout, stderr = cli("simulate", "strategy", "--strategy", "write-through,write-behind", "--clients", "2",
                               "--crash-at", "400ms", "--flush-interval", "100ms", "--key-count", "300",
                               "-o", tmp_path / "c.json", "-q")
    assert code == 0, stderr
    assert "acked writes" in stdout and "bound holds: yes" in stdout
    line = [x for x in stdout.splitlines() if x.startswith("write-through")][0]
    assert " 0 (0%)" in line
    assert list(tmpdir_only.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--strategy", "write-sideways"], "unknown strategy"),
    (["--mix", "read:90,write:20"], "sum to 100"),
    (["--mix", "read:90,delete:10"], "--mix"),
    (["--duration", "-5s"], "--duration"),
    (["--store", "mongodb"], "unknown store"),
    (["--store", "postgresql:host=/nonexistent/dir port=5999 user=x dbname=y"], "cannot reach PostgreSQL"),
    (["--cache", "local:belady"], "unknown local cache policy"),
    (["--cache", "redis:/nonexistent/redis.sock"], "cannot reach redis"),
    (["--cache", "memcached:/nonexistent/m.sock"], "cannot reach memcached"),
    (["--keys", "pareto"], "key distribution"),
    (["--crash-at", "0"], "--crash-at"),
    (["--clients", "0"], "--clients"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, tmpdir_only, args, message):
    code, stdout, stderr = cli("simulate", "strategy", "--duration", "1s", "-o", tmp_path / "x.json", *args)
    assert code == 2
    assert message in stderr and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert list(tmpdir_only.iterdir()) == []
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("cache, binary", [("redis", "redis-server"), ("memcached", "memcached")])
def test_missing_server_binary(tmp_path, tmpdir_only, monkeypatch, cache, binary):
    import tradeoff.harness.servers as servers

    monkeypatch.setattr(servers, "find_binary", lambda name: None)
    code, _, stderr = cli("simulate", "strategy", "--cache", cache, "--duration", "1s", "-o", tmp_path / "x.json")
    assert code == 2 and f"{binary} not installed" in stderr and len(stderr.strip().splitlines()) == 1
    assert list(tmpdir_only.iterdir()) == []


def test_missing_postgres_binary(tmp_path, tmpdir_only, monkeypatch):
    import tradeoff.harness.servers as servers

    monkeypatch.setattr(servers, "find_binary", lambda name: None)
    code, _, stderr = cli("simulate", "strategy", "--store", "postgresql", "--duration", "1s",
                          "-o", tmp_path / "x.json")
    assert code == 2 and "postgres not installed" in stderr
    assert list(tmpdir_only.iterdir()) == []


@pytest.mark.skipif(bool(missing_notice("postgres") or missing_notice("redis-server")),
                    reason=str(missing_notice("postgres") or missing_notice("redis-server")))
def test_postgres_and_redis_started_and_stopped(tmp_path, tmpdir_only):
    code, stdout, stderr = cli("simulate", "strategy", "--store", "postgresql", "--cache", "redis",
                               "--strategy", "aside,write-behind", "--clients", "2", "--duration", "0",
                               "--ops", "200", "--key-count", "100", "-o", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    assert "PostgreSQL" in stdout and "redis at" in stdout
    assert list(tmpdir_only.iterdir()) == []


def test_interrupt_stops_servers_and_removes_folders(tmp_path, tmpdir_only, monkeypatch):
    """Ctrl-C in the middle of a run: exit 130, nothing left behind."""
    import tradeoff.strategies.runner as runner

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_workload", interrupted)
    args = ["simulate", "strategy", "--duration", "1s", "-o", tmp_path / "x.json"]
    if not missing_notice("memcached"):
        args += ["--cache", "memcached"]
    code, _, stderr = cli(*args)
    assert code == 130 and "interrupted" in stderr
    assert list(tmpdir_only.iterdir()) == []
