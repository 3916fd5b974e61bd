"""Online mappings for every replay policy: the engine decides and indexes, slots hold items.

``LRUCache`` and the other classes of :mod:`tradeoff.cache._impl` are specialized
for speed. The classes here put any replay engine (CLOCK, SIEVE, S3-FIFO, ARC,
LIRS, W-TinyLFU) behind the same ``MutableMapping`` interface, so that an
application can use the policy its trace favoured.

How a key reaches the engine: the engine works on int64 keys, so a key goes in
as ``hash(key)``, and the engine's index (hash -> slot) is the mapping's only
table: each stored key and its value sit at the key's engine slot (see
``_policy_cache.pyx``), so a hit is a hash, one probe and one C call, with no
dict. Two keys with equal hashes (rare: ``hash(-1) == hash(-2)``) cannot both
be resident; storing one evicts the other, and a lookup compares the key found
at the slot (``is``, then ``==``), so one is never taken for the other. The
policy's history (ghost entries, frequency sketches) is kept by hash too, so
such keys share it.
"""
from __future__ import annotations

from collections.abc import ItemsView, MutableMapping, ValuesView
from typing import Any

from ._policy_cache import _PolicyCacheBase
from ._replay import POLICY_SPECS, make_engine, policy_params


class _Items(ItemsView):
    """Items in slot order, read without counting uses."""
    __slots__ = ()

    def __iter__(self):
        return iter(self._mapping._items())

    def __contains__(self, item):
        key, value = item
        missing = object()
        v = self._mapping.peek(key, missing)
        return v is not missing and (v is value or v == value)


class _Values(ValuesView):
    """Values in slot order, read without counting uses."""
    __slots__ = ()

    def __iter__(self):
        return (v for _, v in self._mapping._items())

    def __contains__(self, value):
        return any(v is value or v == value for v in self)


class _MappingMixin(MutableMapping):
    __slots__ = ()

    def items(self):
        return _Items(self)

    def values(self):
        return _Values(self)

    # MutableMapping's mixins would count uses through __getitem__
    __eq__ = MutableMapping.__eq__
    __hash__ = None


class PolicyCache(_PolicyCacheBase, _MappingMixin):
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
    __slots__ = ()

    def __init__(self, maxsize: int, policy: str, **params: Any):
        if policy not in POLICY_SPECS:
            raise ValueError(f"unknown policy {policy!r}")
        if POLICY_SPECS[policy].offline:
            raise ValueError(f"{policy} needs the whole trace in advance: use replay()")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}")
        self._setup(make_engine(policy, maxsize, **params), maxsize, policy,
                    {**policy_params(policy), **params})

    def __repr__(self):
        return f"{type(self).__name__}(maxsize={self.maxsize}, len={len(self)}, policy={self.policy!r})"


def _named(policy: str, doc: str):
    class Cache(PolicyCache):
        __doc__ = doc
        __slots__ = ()

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
