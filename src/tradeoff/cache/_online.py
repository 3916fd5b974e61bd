"""Online mappings for every replay policy: the engine decides, a dict holds values.

``LRUCache`` and the other classes of :mod:`tradeoff.cache._impl` are specialized
for speed. The classes here put any replay engine (CLOCK, SIEVE, S3-FIFO, ARC,
LIRS, W-TinyLFU) behind the same ``MutableMapping`` interface, so that an
application can use the policy its trace favoured.

How a key reaches the engine: the engine works on int64 keys, so a key goes in
as ``hash(key)``. Two keys with equal hashes (rare: ``hash(-1) == hash(-2)``)
cannot both be resident; storing one evicts the other. The policy's history
(ghost entries, frequency sketches) is kept by hash too, so such keys share it.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ._replay import POLICY_SPECS, make_engine, policy_params

_MISSING = object()


class PolicyCache(MutableMapping):
    """A bounded mapping evicting by ``policy`` (any online policy of :func:`replay`).

    - ``c[key]`` / ``get``: a hit records a use; a miss counts in ``misses`` and
      changes nothing (the policy hears of a key when it is stored).
    - ``c[key] = value``: an existing key is a use and its value is replaced; a
      new key is a miss-and-insert, which may evict other keys, or, with an
      admission policy (W-TinyLFU), be refused: then the key is not stored.
    - ``del c[key]``, ``pop``, ``clear``; ``peek(key)`` reads without a use;
      ``in``, ``len`` and iteration do not count as uses either.
    - ``hits``/``misses`` count reads (``[]``, ``get``).

    >>> c = PolicyCache(2, "sieve")
    >>> c["a"] = 1; c["b"] = 2; _ = c["a"]; c["c"] = 3
    >>> sorted(c)
    ['a', 'c']
    """

    def __init__(self, maxsize: int, policy: str, **params: Any):
        if policy not in POLICY_SPECS:
            raise ValueError(f"unknown policy {policy!r}")
        if POLICY_SPECS[policy].offline:
            raise ValueError(f"{policy} needs the whole trace in advance: use replay()")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}")
        self._engine = make_engine(policy, maxsize, **params)
        self._data: dict[int, list] = {}     # hash -> [key, value]
        self.maxsize = maxsize
        self.policy = policy
        self.params = {**policy_params(policy), **params}
        self.hits = 0
        self.misses = 0

    def _entry(self, key):
        e = self._data.get(hash(key))
        if e is not None and (e[0] is key or e[0] == key):
            return e
        return None

    def __getitem__(self, key):
        e = self._entry(key)
        if e is None:
            self.misses += 1
            raise KeyError(key)
        self.hits += 1
        self._engine._hit(hash(key))
        return e[1]

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def peek(self, key, default=_MISSING):
        e = self._entry(key)
        if e is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return e[1]

    def __setitem__(self, key, value):
        h = hash(key)
        e = self._data.get(h)
        if e is not None:
            if e[0] is key or e[0] == key:
                self._engine._hit(h)
                e[1] = value
                return
            # another key with the same hash: it makes way
            self._engine._remove(h)
            del self._data[h]
        if self._engine._hit(h):      # cannot happen: the engine and the dict agree
            raise AssertionError(f"engine holds hash {h} the mapping does not")
        gone = self._engine._insert(h)
        self._data[h] = [key, value]
        for g in gone:
            self._data.pop(g, None)

    def __delitem__(self, key):
        if self._entry(key) is None:
            raise KeyError(key)
        h = hash(key)
        self._engine._remove(h)
        del self._data[h]

    def __contains__(self, key):
        return self._entry(key) is not None

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter([e[0] for e in self._data.values()])

    def clear(self):
        for h in list(self._data):
            self._engine._remove(h)
        self._data.clear()

    def _check(self):
        """The engine's resident set is exactly the stored keys' hashes."""
        self._engine._check()
        assert sorted(self._engine._resident()) == sorted(self._data), "engine and mapping disagree"
        assert len(self._data) <= self.maxsize

    def __repr__(self):
        return f"{type(self).__name__}(maxsize={self.maxsize}, len={len(self)}, policy={self.policy!r})"


def _named(policy: str, doc: str):
    class Cache(PolicyCache):
        __doc__ = doc

        def __init__(self, maxsize: int, **params: Any):
            super().__init__(maxsize, policy, **params)

    return Cache


ClockCache = _named("clock", "A mapping evicting by CLOCK (second chance); see PolicyCache.")
SieveCache = _named("sieve", "A mapping evicting by SIEVE (Zhang et al., NSDI 2024); see PolicyCache.")
S3FIFOCache = _named("s3fifo", "A mapping evicting by S3-FIFO (Yang et al., SOSP 2023); see PolicyCache.")
ARCCache = _named("arc", "A mapping evicting by ARC (Megiddo and Modha, FAST 2003); see PolicyCache.")
LIRSCache = _named("lirs", "A mapping evicting by LIRS (Jiang and Zhang, SIGMETRICS 2002); see PolicyCache.")
WTinyLFUCache = _named("wtinylfu", "A mapping with W-TinyLFU admission and eviction (Einziger, "
                                   "Friedman and Manes, 2017); a new key may be refused; see PolicyCache.")
for _cls, _name in [(ClockCache, "ClockCache"), (SieveCache, "SieveCache"), (S3FIFOCache, "S3FIFOCache"),
                    (ARCCache, "ARCCache"), (LIRSCache, "LIRSCache"), (WTinyLFUCache, "WTinyLFUCache")]:
    _cls.__name__ = _cls.__qualname__ = _name
