"""The stores: SQLite (WAL) and PostgreSQL (a throwaway cluster), their queries and counts."""
from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from tradeoff.harness.servers import PostgresServer, missing_notice
from tradeoff.strategies.stores import PostgresStore, SQLiteStore, StoreError


@pytest.fixture(scope="module")
def pg():
    notice = missing_notice("postgres") or missing_notice("initdb")
    if notice:
        pytest.skip(notice)
    with PostgresServer(fsync=False) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "db.sqlite")
    else:
        s = PostgresStore(request.getfixturevalue("pg").dsn)
    yield s
    s.close()


def test_load_get_put_versions(store):
    store.load(5, value_size=8)
    assert (store.reads, store.writes, store.transactions) == (0, 0, 0)
    assert store.get(3) == (b"0" * 8, 1)
    assert store.get(99) is None
    assert store.put(3, b"a") == 2
    assert store.put(3, b"b") == 3
    assert store.put(42, b"new") == 1            # an INSERT
    assert store.get(3) == (b"b", 3)
    assert store.versions() == {0: 1, 1: 1, 2: 1, 3: 3, 4: 1, 42: 1}
    assert (store.reads, store.writes, store.transactions) == (3, 3, 3)
    assert store.latest[3] == 3 and store.latest[42] == 1


def test_put_many_is_one_transaction(store):
    store.load(3, value_size=1)
    assert store.put_many([(0, b"x"), (1, b"y"), (0, b"z")]) == [2, 2, 3]
    assert (store.writes, store.transactions) == (3, 1)
    assert store.get(0) == (b"z", 3)


def test_threads_get_their_own_connections(store):
    store.load(100, value_size=4)
    errors = []

    def work(i):
        try:
            for k in range(i, 100, 4):
                store.put(k, b"%d" % i)
                assert store.get(k)[0] == b"%d" % i
        except BaseException as exc:   # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.writes == 100 and set(store.versions().values()) == {2}


def test_sqlite_is_in_wal_mode(tmp_path):
    SQLiteStore(tmp_path / "w.sqlite").close()
    conn = sqlite3.connect(tmp_path / "w.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_sqlite_keeps_committed_writes_across_reopen(tmp_path):
    s = SQLiteStore(tmp_path / "d.sqlite")
    s.load(2, 1)
    s.put(1, b"kept")
    s.close()
    s2 = SQLiteStore(tmp_path / "d.sqlite")
    assert s2.get(1) == (b"kept", 2)
    s2.close()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="delay"):
        SQLiteStore(tmp_path / "x", delay=-1)
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x", synchronous="sometimes")
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(tmp_path / "no" / "such" / "dir" / "db")


def test_unreachable_dsn_is_one_line(tmp_path):
    with pytest.raises(StoreError) as info:
        PostgresStore(f"host={tmp_path} port=5999 user=nobody dbname=none", connect_timeout=1)
    assert "cannot reach PostgreSQL" in str(info.value) and "\n" not in str(info.value)


def test_postgres_rows_really_are_in_the_database(pg):
    s = PostgresStore(pg.dsn)
    s.load(3, 2)
    s.put(2, b"pg")
    s.close()
    with pg.connect() as conn:
        rows = conn.execute("select key, version, value from tradeoff_kv order by key").fetchall()
    assert [(k, v, bytes(x)) for k, v, x in rows] == [(0, 1, b"00"), (1, 1, b"00"), (2, 2, b"pg")]


def test_delay_is_slept_before_every_query(tmp_path, monkeypatch):
    import tradeoff.strategies.stores as stores

    slept = []
    monkeypatch.setattr(stores.time, "sleep", slept.append)
    s = SQLiteStore(os.fspath(tmp_path / "s"), delay=0.002)
    s.load(2, 1)
    s.get(0)
    s.put(1, b"x")
    s.put_many([(0, b"a"), (1, b"b")])
    assert slept == [0.002] * 3
    s.close()


def test_put_many_in_chunks_keeps_the_order_of_versions(store):
    store.load(1000, 1)
    items = [(k, b"a") for k in range(1199, -1, -1)]     # 1200 distinct keys, 200 of them new
    versions = store.put_many(items)
    assert versions == [1 if k >= 1000 else 2 for k, _ in items]
    assert (store.writes, store.transactions) == (1200, 1)
    assert store.get(1100) == (b"a", 1) and store.get(5) == (b"a", 2)
