"""Cache tiers: one small interface over the package's own caches (in process), Redis
and Memcached.

An entry is an :class:`Entry`: a value with the database version it was read at and the
wall-clock time it expires, a *lease* (a placeholder a reader puts in a missing key
before it reads the database; Nishtala et al., "Scaling Memcache at Facebook", NSDI
2013, section 3.2.1), or a *tombstone* (a deleted key that remembers the version that
deleted it, so that a versioned set of an older version is refused).

Every tier has:

- ``get(key)`` -> Entry or None; ``set(key, entry, ttl)``; ``delete(key)``;
- ``add(key, entry, ttl)`` -> bool: set only if the key is absent (memcached ``add``,
  Redis ``SET NX``);
- ``gets(key)`` -> ``(entry, token)`` and ``cas(key, entry, ttl, token)`` -> bool:
  compare-and-set (memcached ``gets``/``cas``; Redis ``WATCH``/``MULTI``; in process,
  a lock): the set happens only if nothing changed the key since ``gets``, a delete
  included;
- ``clear()``, ``close()``; counters ``gets_count``, ``sets_count``, ``deletes_count``.

TTLs are seconds (floats; memcached rounds up to whole seconds, its granularity).

>>> t = LocalTier(100, "lru")
>>> t.set(7, Entry.value(b"v", 3, ttl=60), ttl=60)
>>> e = t.get(7); (e.kind, e.data, e.version)
('v', b'v', 3)
>>> e, token = t.gets(7)
>>> t.delete(7); t.cas(7, Entry.value(b"old", 2, ttl=60), 60, token)   # deleted since gets
False
"""
from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from ._localtier import LocalTierCore, value_entry

__all__ = ["Entry", "Tier", "LocalTier", "RedisTier", "MemcachedTier", "TIERS", "make_tier"]

#: tier kinds :func:`make_tier` knows
TIERS = ("local", "redis", "memcached")


_tuple_new = tuple.__new__


class Entry(NamedTuple):
    """A cache entry. ``kind``: ``"v"`` (a value), ``"l"`` (a lease; ``version`` holds its
    token) or ``"t"`` (a tombstone of ``version``). ``expires``: wall-clock seconds
    (``time.time()``) when the entry's TTL runs out (0: never); refresh-ahead reads it."""
    kind: str
    version: int
    expires: float
    data: bytes

    # built in Cython (tuple.__new__, the clock read in C): a NamedTuple's own __new__
    # costs about 300 ns more, which was most of what a miss added to a request
    value = staticmethod(value_entry)

    @classmethod
    def lease(cls, token: int) -> "Entry":
        return _tuple_new(cls, ("l", token, 0.0, b""))

    @classmethod
    def tombstone(cls, version: int) -> "Entry":
        return _tuple_new(cls, ("t", version, 0.0, b""))

    def encode(self) -> bytes:
        """``b"<kind><version>:<expires>:<data>"`` for the servers."""
        return b"%s%d:%.6f:" % (self.kind.encode(), self.version, self.expires) + self.data

    @classmethod
    def decode(cls, raw: bytes) -> "Entry":
        head, rest = raw[1:].split(b":", 1)
        exp, data = rest.split(b":", 1)
        return cls(chr(raw[0]), int(head), float(exp), data)


class Tier:
    """The interface; see the module's docstring."""

    kind = "tier"

    def __init__(self) -> None:
        self.gets_count = 0
        self.sets_count = 0
        self.deletes_count = 0

    def get(self, key: int) -> Entry | None:
        raise NotImplementedError

    def set(self, key: int, entry: Entry, ttl: float) -> None:
        raise NotImplementedError

    def delete(self, key: int) -> None:
        raise NotImplementedError

    def add(self, key: int, entry: Entry, ttl: float) -> bool:
        raise NotImplementedError

    def gets(self, key: int) -> tuple[Entry | None, Any]:
        raise NotImplementedError

    def cas(self, key: int, entry: Entry, ttl: float, token: Any) -> bool:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return self.kind

    def _check(self) -> None:
        """Invariants: counters are non-negative."""
        assert min(self.gets_count, self.sets_count, self.deletes_count) >= 0


class LocalTier(LocalTierCore, Tier):
    """The package's own caches in this process: any online policy of
    :class:`tradeoff.cache.PolicyCache` (``lru`` is :class:`tradeoff.cache.LRUCache`),
    with a TTL per entry; the operations are in Cython (:mod:`._localtier`).

    The stored item is ``(entry, expires)`` (``expires``: ``timer()`` time, 0 for never);
    an expired item is a miss (and is dropped when read). The item tuple itself is the
    CAS token: every change stores a new tuple, and a held token keeps its tuple alive,
    so that its identity cannot be reused. A plain ``get``/``set``/``delete`` is one call
    into the Cython cache, atomic under the GIL; ``add`` and ``cas`` take a lock. O(1)
    per operation (the policy's cost); about 0.1 µs for a get or a set.

    Args:
        maxsize: the most entries held.
        policy: an online policy name of :mod:`tradeoff.cache` (lru, fifo, lfu, clock,
            sieve, s3fifo, arc, lirs, wtinylfu).
        timer: the clock of the TTLs (seconds).
    """

    kind = "local"

    def __init__(self, maxsize: int = 100_000, policy: str = "lru", *, timer=time.monotonic) -> None:
        Tier.__init__(self)
        from .. import cache

        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}")
        classes = {"lru": cache.LRUCache, "fifo": cache.FIFOCache, "lfu": cache.LFUCache}
        if policy in classes:
            store = classes[policy](maxsize)
        else:
            try:
                store = cache.PolicyCache(maxsize, policy)
            except ValueError as exc:
                raise ValueError(f"unknown local cache policy {policy!r} ({exc})") from None
        self._setup(store, timer)
        self._items = store
        self.policy = policy
        self.maxsize = maxsize

    def clear(self):
        self._items.clear()

    def __len__(self):
        return len(self._items)

    def describe(self):
        return f"local {self.policy} ({self.maxsize:,} entries)"


class RedisTier(Tier):
    """A Redis server through redis-py: a unix socket path, or ``host:port``.

    ``set`` is ``SET key value PX ttl``; ``add`` adds ``NX``; ``cas`` is ``WATCH`` /
    ``GET`` / ``MULTI`` / ``SET`` / ``EXEC`` (optimistic locking; Redis documentation,
    "Transactions"), refused if the value changed or the key was deleted after
    ``gets``. One connection per thread (redis-py's pool hands them out).

    Args:
        address: a unix socket path (``/tmp/x/redis.sock``) or ``host:port``.
        prefix: prepended to every key, so that runs can share a server.
    """

    kind = "redis"

    def __init__(self, address: str, prefix: str = "to:") -> None:
        super().__init__()
        import redis

        self.address = str(address)
        if "/" in self.address or self.address.endswith(".sock"):
            self._r = redis.Redis(unix_socket_path=self.address)
        else:
            host, _, port = self.address.rpartition(":")
            self._r = redis.Redis(host=host or "127.0.0.1", port=int(port or 6379))
        self._prefix = prefix.encode()
        self._watch_error = redis.WatchError
        self._r.ping()

    def _k(self, key):
        return self._prefix + b"%d" % key

    def get(self, key):
        self.gets_count += 1
        raw = self._r.get(self._k(key))
        return None if raw is None else Entry.decode(raw)

    def set(self, key, entry, ttl):
        self.sets_count += 1
        self._r.set(self._k(key), entry.encode(), px=max(1, int(ttl * 1000)) if ttl else None)

    def delete(self, key):
        self.deletes_count += 1
        self._r.delete(self._k(key))

    def add(self, key, entry, ttl):
        ok = self._r.set(self._k(key), entry.encode(), px=max(1, int(ttl * 1000)) if ttl else None, nx=True)
        if ok:
            self.sets_count += 1
        return bool(ok)

    def gets(self, key):
        self.gets_count += 1
        raw = self._r.get(self._k(key))
        return (None, None) if raw is None else (Entry.decode(raw), raw)

    def cas(self, key, entry, ttl, token):
        k = self._k(key)
        with self._r.pipeline() as pipe:
            try:
                pipe.watch(k)
                if pipe.get(k) != token or token is None:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.set(k, entry.encode(), px=max(1, int(ttl * 1000)) if ttl else None)
                pipe.execute()
            except self._watch_error:
                return False
        self.sets_count += 1
        return True

    def clear(self):
        keys = list(self._r.scan_iter(match=self._prefix + b"*", count=1000))
        for i in range(0, len(keys), 1000):
            self._r.delete(*keys[i:i + 1000])

    def close(self):
        self._r.close()

    def describe(self):
        return f"redis at {self.address}"


class MemcachedTier(Tier):
    """A Memcached server through pymemcache: a unix socket path, or ``host:port``.

    ``add``, ``gets`` and ``cas`` are memcached's own commands. TTLs round up to whole
    seconds (memcached's granularity). One client per thread (a pymemcache client holds
    one socket and is not thread-safe).
    """

    kind = "memcached"

    def __init__(self, address: str, prefix: str = "to:") -> None:
        super().__init__()
        import importlib.util

        if importlib.util.find_spec("pymemcache") is None:
            raise ImportError("the memcached tier needs pymemcache: pip install pymemcache")
        self.address = str(address)
        self._prefix = prefix
        self._local = threading.local()
        self._clients: list = []
        self._lock = threading.Lock()
        self._c().version()

    def _c(self):
        c = getattr(self._local, "c", None)
        if c is None:
            from pymemcache.client.base import Client

            if "/" in self.address or self.address.endswith(".sock"):
                c = Client(self.address, no_delay=True)
            else:
                host, _, port = self.address.rpartition(":")
                c = Client((host or "127.0.0.1", int(port or 11211)), no_delay=True)
            self._local.c = c
            with self._lock:
                self._clients.append(c)
        return c

    def _k(self, key):
        return f"{self._prefix}{key}"

    @staticmethod
    def _exp(ttl):
        return int(-(-ttl // 1)) if ttl else 0

    def get(self, key):
        self.gets_count += 1
        raw = self._c().get(self._k(key))
        return None if raw is None else Entry.decode(raw)

    def set(self, key, entry, ttl):
        self.sets_count += 1
        self._c().set(self._k(key), entry.encode(), expire=self._exp(ttl), noreply=False)

    def delete(self, key):
        self.deletes_count += 1
        self._c().delete(self._k(key), noreply=False)

    def add(self, key, entry, ttl):
        ok = self._c().add(self._k(key), entry.encode(), expire=self._exp(ttl), noreply=False)
        if ok:
            self.sets_count += 1
        return bool(ok)

    def gets(self, key):
        self.gets_count += 1
        raw, token = self._c().gets(self._k(key))
        return (None, None) if raw is None else (Entry.decode(raw), token)

    def cas(self, key, entry, ttl, token):
        if token is None:
            return False
        ok = self._c().cas(self._k(key), entry.encode(), token, expire=self._exp(ttl), noreply=False)
        if ok:
            self.sets_count += 1
        return bool(ok)

    def clear(self):
        self._c().flush_all(noreply=False)

    def close(self):
        with self._lock:
            clients, self._clients = self._clients, []
        for c in clients:
            c.close()
        self._local = threading.local()

    def describe(self):
        return f"memcached at {self.address}"


def make_tier(kind: str, *, address: str | None = None, maxsize: int = 100_000, policy: str = "lru") -> Tier:
    """A tier by name: ``local`` (``policy``, ``maxsize``), ``redis`` or ``memcached`` at
    ``address`` (a unix socket path or host:port)."""
    if kind == "local":
        return LocalTier(maxsize, policy)
    if address is None:
        raise ValueError(f"the {kind} tier needs an address")
    if kind == "redis":
        return RedisTier(address)
    if kind == "memcached":
        return MemcachedTier(address)
    raise ValueError(f"unknown cache tier {kind!r} (one of {', '.join(TIERS)})")
