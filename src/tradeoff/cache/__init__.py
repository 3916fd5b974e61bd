"""Caches: eviction policies as Python mappings, and a fast trace replay.

``LRUCache``, ``LFUCache``, ``FIFOCache`` and ``TTLCache`` are
``collections.abc.MutableMapping`` objects for any hashable key and any value,
with ``hits``/``misses`` counters and ``peek``. ``replay`` runs a numpy trace of
integer keys through a policy without the GIL and counts hits.

Every operation is O(1) (amortized O(1) for TTL expiry); iteration is O(n) over
a snapshot of the keys in eviction order (the next victim first).
"""
from ._impl import MAX_SIZE, _FIFO, _LFU, _LRU, _TTL
from ._replay import POLICIES, POLICY_SPECS, ReplayResult, make_engine, policy_params, replay
from .curves import mrc, stack_distances
from ._online import (ARCCache, ClockCache, LIRSCache, PolicyCache, S3FIFOCache, SieveCache,
                      WTinyLFUCache, _MappingMixin)

__all__ = ["LRUCache", "LFUCache", "FIFOCache", "TTLCache", "replay", "ReplayResult", "POLICIES",
           "policy_params", "mrc", "stack_distances", "PolicyCache", "ClockCache", "SieveCache",
           "S3FIFOCache", "ARCCache", "LIRSCache", "WTinyLFUCache"]


class LRUCache(_LRU, _MappingMixin):
    """A least-recently-used cache of at most ``maxsize`` items.

    A get that hits and an overwrite both make the key the most recent; inserting
    into a full cache evicts the least recent key. ``c[k]`` and ``get`` count
    ``hits``/``misses``; ``peek``, ``in``, ``len`` and iteration change nothing.
    Get, set, delete: O(1). Iteration: O(n), least recent first.

    >>> c = LRUCache(2)
    >>> c["a"] = 1; c["b"] = 2
    >>> c["a"]
    1
    >>> c["c"] = 3          # evicts "b", the least recent
    >>> list(c), c.hits, c.misses
    (['a', 'c'], 1, 0)
    >>> c.get("b", "gone"), c.misses
    ('gone', 1)
    """
    __slots__ = ()


class FIFOCache(_FIFO, _MappingMixin):
    """A first-in-first-out cache of at most ``maxsize`` items.

    Only insertion order counts: hits and overwrites do not reorder. O(1) per
    operation; iteration oldest first.

    >>> c = FIFOCache(2)
    >>> c[1] = "x"; c[2] = "y"
    >>> c[1]
    'x'
    >>> c[3] = "z"          # evicts 1, the oldest insert, although it was just read
    >>> list(c)
    [2, 3]
    """
    __slots__ = ()


class LFUCache(_LFU, _MappingMixin):
    """A least-frequently-used cache of at most ``maxsize`` items.

    A key's count is 1 on insert and grows by one on each get that hits and each
    overwrite. A full cache evicts the lowest count, and among equal counts the
    key used least recently. O(1) per operation (frequency buckets over one
    linked list; Shah, Mitra and Matani 2010), not a heap.

    >>> c = LFUCache(2)
    >>> c["a"] = 1; c["b"] = 2
    >>> _ = c["a"]; _ = c["a"]   # a: count 3, b: count 1
    >>> c["c"] = 3               # evicts b
    >>> sorted(c)
    ['a', 'c']
    """
    __slots__ = ()


class TTLCache(_TTL, _MappingMixin):
    """An LRU cache whose items expire ``ttl`` seconds after their last set.

    An item expires when ``timer() >= time_set + ttl``; expired items are
    invisible to get, ``in``, ``len``, ``peek`` and iteration. An overwrite
    restarts the TTL; a get refreshes LRU recency but not the TTL. A full cache
    first drops expired items, then evicts the least recently used. Every
    operation reads ``timer`` once; expiry is amortized O(1) (items sit in a second
    list ordered by set time, so the expired ones are a prefix of it).

    >>> now = [0.0]
    >>> c = TTLCache(10, ttl=5, timer=lambda: now[0])
    >>> c["k"] = "v"
    >>> now[0] = 4.9; "k" in c
    True
    >>> now[0] = 5.0; "k" in c, len(c)
    (False, 0)
    """
    __slots__ = ()
