"""The database behind the caches: SQLite (the default) and PostgreSQL.

Both hold one table ``(key, value, version, updated_at)``. A read is a real ``SELECT``;
a write is a real ``INSERT ... ON CONFLICT DO UPDATE`` (an upsert: an UPDATE of an
existing row, an INSERT of a new one) in a transaction, which bumps the row's version
by one and returns it. Every query is counted (:attr:`Store.reads`,
:attr:`Store.writes`: rows written, :attr:`Store.transactions`), so that a strategy's
"database queries per request" is measured, not estimated. An optional per-query
``delay`` (seconds, slept before the query) models a slower database.

:attr:`Store.latest` holds, per key, the highest version this process has seen
committed; the runner reads it when a read starts, to tell a stale read (one that
returns a version older than a version committed before the read began) from a fresh
one. :meth:`Store.versions` reads the versions back from the database itself.

Each thread gets its own connection (SQLite connections, like psycopg's, are not to
be shared by threads at once). SQLite runs in WAL mode (readers do not block the
writer; https://www.sqlite.org/wal.html) with ``synchronous=NORMAL``, which in WAL
mode keeps every committed transaction across a crash of the *process* (not of the
machine): what the crash runs need.

>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     s = SQLiteStore(os.path.join(d, "db.sqlite"))
...     s.load(3, value_size=4)
...     s.get(1), s.put(1, b"new!"), s.get(1), (s.reads, s.writes)
...     s.close()
((b'0000', 1), 2, (b'new!', 2), (2, 1))
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Iterable, Sequence

__all__ = ["Store", "SQLiteStore", "PostgresStore", "StoreError", "initial_value"]

TABLE = "tradeoff_kv"


class StoreError(RuntimeError):
    """The database cannot be opened or reached (one line)."""


def initial_value(key: int, size: int) -> bytes:
    """The value :meth:`Store.load` gives ``key``: write id 0, padded to ``size`` bytes."""
    return b"0" * size if size > 0 else b""


class Store:
    """What the strategies need of a database; :class:`SQLiteStore` and
    :class:`PostgresStore` implement it.

    Counters (read them between runs; :meth:`reset_counts` zeroes them): ``reads``
    (SELECTs), ``writes`` (rows written), ``transactions`` (write transactions).
    """

    kind = "store"

    def __init__(self, delay: float = 0.0) -> None:
        if not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        self.delay = float(delay)
        self.reads = 0
        self.writes = 0
        self.transactions = 0
        self.latest: dict[int, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._conns: list = []

    # -- per-thread connections ------------------------------------------------------------
    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _connect(self):
        raise NotImplementedError

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.close()
            except Exception:
                pass
        self._local = threading.local()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset_counts(self) -> None:
        with self._lock:
            self.reads = self.writes = self.transactions = 0

    def _commit_seen(self, versions: Iterable[tuple[int, int]]) -> None:
        latest = self.latest
        with self._lock:
            for key, v in versions:
                if v > latest.get(key, 0):
                    latest[key] = v

    # -- what a store does -------------------------------------------------------------------
    def get(self, key: int) -> tuple[bytes, int] | None:
        """``(value, version)`` of ``key`` by one SELECT, or None if there is no row."""
        if self.delay:
            time.sleep(self.delay)
        row = self._select(key)
        with self._lock:
            self.reads += 1
        return row

    def put(self, key: int, value: bytes) -> int:
        """Write ``value`` in one transaction (an upsert); return the row's new version."""
        return self.put_many([(key, value)])[0]

    def put_many(self, items: Sequence[tuple[int, bytes]]) -> list[int]:
        """Write every ``(key, value)`` in one transaction, in order; the new versions."""
        if not items:
            return []
        if self.delay:
            time.sleep(self.delay)
        versions = self._upsert(items)
        with self._lock:
            self.writes += len(items)
            self.transactions += 1
        self._commit_seen(zip((k for k, _ in items), versions))
        return versions

    def load(self, n_keys: int, value_size: int = 100) -> None:
        """Recreate the table with keys ``0..n_keys-1`` at version 1 (not counted)."""
        self._recreate([(k, initial_value(k, value_size)) for k in range(n_keys)])
        with self._lock:
            self.latest = {k: 1 for k in range(n_keys)}
        self.reset_counts()

    def versions(self) -> dict[int, int]:
        """Every key's version, read from the database (not counted)."""
        return {k: v for k, v, _ in self.rows()}

    def rows(self) -> list[tuple[int, int, bytes]]:
        """Every ``(key, version, value)`` in the database (not counted)."""
        raise NotImplementedError

    def _select(self, key: int):
        raise NotImplementedError

    def _upsert(self, items) -> list[int]:
        raise NotImplementedError

    def _recreate(self, rows) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


_CHUNK = 500   # rows per multi-row upsert (SQLite allows 32766 parameters a statement)


def _upsert_rows(conn, items, mark: str, extra: tuple, now_sql: str) -> list[int]:
    """Upsert ``items`` inside the caller's transaction; their new versions, in order.

    Distinct keys go in multi-row statements of up to 500 rows (``INSERT ... VALUES
    (...), (...) ON CONFLICT (key) DO UPDATE ... RETURNING key, version``: one statement
    per chunk instead of one per row, which is what makes a write-behind flush cheap);
    a batch with a repeated key goes row by row (PostgreSQL refuses to update a row twice
    in one statement). Every row counts as one write either way.
    """
    now_col = mark if extra else now_sql
    upsert = (f" ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = {TABLE}.version + 1, "
              "updated_at = excluded.updated_at RETURNING key, version")
    row_sql = f"({mark}, {mark}, 1, {now_col})"
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        return [conn.execute(f"INSERT INTO {TABLE} (key, value, version, updated_at) VALUES {row_sql}" + upsert,
                             (k, v, *extra)).fetchone()[1] for k, v in items]
    got: dict[int, int] = {}
    for i in range(0, len(items), _CHUNK):
        chunk = items[i:i + _CHUNK]
        params = [p for k, v in chunk for p in (k, v, *extra)]
        sql = f"INSERT INTO {TABLE} (key, value, version, updated_at) VALUES " + \
            ", ".join([row_sql] * len(chunk)) + upsert
        got.update((k, v) for k, v in conn.execute(sql, params).fetchall())
    return [got[k] for k in keys]


class SQLiteStore(Store):
    """SQLite through :mod:`sqlite3`: a file in WAL mode, one connection per thread.

    Args:
        path: the database file (created if missing).
        delay: seconds slept before every query (a slower database).
        synchronous: SQLite's ``synchronous`` pragma (``NORMAL``: durable across a crash
            of the process in WAL mode; ``FULL``: also across a power cut).
        busy_timeout: milliseconds a writer waits for the write lock.
    """

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike, delay: float = 0.0, *, synchronous: str = "NORMAL",
                 busy_timeout: int = 30_000) -> None:
        super().__init__(delay)
        if str(synchronous).upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}")
        self.path = os.fspath(path)
        self.synchronous = str(synchronous).upper()
        self.busy_timeout = int(busy_timeout)
        try:
            conn = self._conn()
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (key INTEGER PRIMARY KEY, value BLOB NOT NULL, "
                         "version INTEGER NOT NULL, updated_at REAL NOT NULL)")
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open the SQLite database {self.path}: {exc}") from None

    def _connect(self):
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self.busy_timeout / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout}")
        return conn

    def _select(self, key):
        row = self._conn().execute(f"SELECT value, version FROM {TABLE} WHERE key = ?", (key,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def _upsert(self, items):
        conn = self._conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = _upsert_rows(conn, items, "?", (now,), "?")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return out

    def _recreate(self, rows):
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM {TABLE}")
        now = time.time()
        conn.executemany(f"INSERT INTO {TABLE} (key, value, version, updated_at) VALUES (?, ?, 1, ?)",
                         [(k, v, now) for k, v in rows])
        conn.execute("COMMIT")

    def rows(self):
        return [(k, v, bytes(val)) for k, v, val in
                self._conn().execute(f"SELECT key, version, value FROM {TABLE} ORDER BY key")]

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous={self.synchronous})"


class PostgresStore(Store):
    """PostgreSQL through psycopg 3, at a libpq DSN; one connection per thread.

    Reads run in autocommit (one SELECT, no transaction around it); a write is a
    transaction of upserts. An unreachable DSN is a :class:`StoreError` at once.

    Args:
        dsn: a libpq connection string or URI (e.g. :attr:`PostgresServer.dsn
            <tradeoff.harness.servers.PostgresServer.dsn>`).
        delay: seconds slept before every query.
        connect_timeout: seconds to wait for a connection.
    """

    kind = "postgresql"

    def __init__(self, dsn: str, delay: float = 0.0, *, connect_timeout: float = 5.0) -> None:
        super().__init__(delay)
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise StoreError("the PostgreSQL store needs psycopg: pip install 'psycopg[binary]'") from None
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        try:
            conn = self._conn()
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (key BIGINT PRIMARY KEY, value BYTEA NOT NULL, "
                         "version BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)")
            self._server_version = conn.info.server_version
        except Exception as exc:
            self.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot reach PostgreSQL at {dsn!r}: {first}") from None

    def _connect(self):
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)))

    def _select(self, key):
        row = self._conn().execute(f"SELECT value, version FROM {TABLE} WHERE key = %s", (key,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def _upsert(self, items):
        conn = self._conn()
        with conn.transaction():
            return _upsert_rows(conn, items, "%s", (), "now()")

    def _recreate(self, rows):
        conn = self._conn()
        with conn.transaction():
            conn.execute(f"TRUNCATE {TABLE}")
            with conn.cursor() as cur:
                with cur.copy(f"COPY {TABLE} (key, value, version, updated_at) FROM STDIN") as copy:
                    for k, v in rows:
                        copy.write_row((k, v, 1, "now"))

    def rows(self):
        return [(k, v, bytes(val)) for k, v, val in
                self._conn().execute(f"SELECT key, version, value FROM {TABLE} ORDER BY key")]

    def describe(self) -> str:
        v = getattr(self, "_server_version", 0)
        return f"PostgreSQL {v // 10000}.{v % 10000}" if v else "PostgreSQL"
