"""Crash runs: the strategy runs in a child killed by SIGKILL; acknowledged writes missing
from the database are counted. Write-behind loses only what it had not flushed (every
lost write was acknowledged after the last committed flush took its batch); the
strategies that write the database before acknowledging lose nothing."""
from __future__ import annotations

import pytest

from tradeoff.harness.servers import PostgresServer, missing_notice
from tradeoff.strategies.runner import Workload, crash_run, make_value, write_id
from tradeoff.strategies.stores import SQLiteStore

W = Workload(read_fraction=0.5, n_keys=500, clients=3, seed=1)


def _sqlite(tmp_path):
    path = str(tmp_path / "db.sqlite")
    store = SQLiteStore(path)
    store.load(W.n_keys, W.value_size)
    return store, {"kind": "sqlite", "path": path}


def test_write_id_round_trip():
    assert write_id(make_value(12345, 100)) == 12345 and len(make_value(12345, 100)) == 100
    assert write_id(b"0" * 100) == 0


@pytest.mark.parametrize("spec", ["aside", "write-through", "read-through"])
def test_synchronous_strategies_lose_nothing(tmp_path, spec):
    store, conf = _sqlite(tmp_path)
    r = crash_run(spec, conf, {"kind": "local"}, W, 0.4, store=store)
    store.close()
    assert r["acked_writes"] > 50
    assert r["lost"] == 0


def test_write_behind_loses_only_the_unflushed_writes(tmp_path):
    store, conf = _sqlite(tmp_path)
    r = crash_run("write-behind", conf, {"kind": "local"}, W, 0.6, flush_interval=0.1, batch_size=10**6,
                  store=store)
    store.close()
    assert r["acked_writes"] > 50 and r["flushes"] >= 1
    assert r["bound_holds"] == "yes"
    assert r["lost"] < r["acked_writes"]


def test_write_behind_that_never_flushed_loses_every_acknowledged_write(tmp_path):
    store, conf = _sqlite(tmp_path)
    r = crash_run("write-behind", conf, {"kind": "local"}, W, 0.3, flush_interval=3600, batch_size=10**6,
                  store=store)
    rows = store.rows()
    store.close()
    assert r["acked_writes"] > 50 and r["flushes"] == 0
    assert r["lost"] > 0 and all(write_id(v) == 0 for _, _, v in rows)
    # coalescing: a key written twice counts two lost writes
    assert r["lost"] == r["acked_writes"]


def test_crash_on_postgres():
    notice = missing_notice("postgres") or missing_notice("initdb")
    if notice:
        pytest.skip(notice)
    from tradeoff.strategies.stores import PostgresStore

    with PostgresServer(fsync=False) as pg:
        store = PostgresStore(pg.dsn)
        store.load(W.n_keys, W.value_size)
        conf = {"kind": "postgresql", "dsn": pg.dsn}
        sync = crash_run("write-through", conf, {"kind": "local"}, W, 0.5, store=store)
        store.load(W.n_keys, W.value_size)
        wb = crash_run("write-behind", conf, {"kind": "local"}, W, 0.6, flush_interval=0.1, store=store)
        store.close()
    assert sync["acked_writes"] > 20 and sync["lost"] == 0
    assert wb["acked_writes"] > 20 and wb["bound_holds"] == "yes"
