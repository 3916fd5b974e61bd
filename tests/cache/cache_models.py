"""Pure-Python reference models of the caches in ``tradeoff.cache``.

Each model favours being obviously correct over being fast: the eviction order
is computed from scratch (an ``OrderedDict`` for LRU/FIFO/TTL, a sort by
``(count, last use)`` for LFU) instead of being maintained incrementally. The
models have the same API surface as the implementation classes, including the
``hits`` / ``misses`` counters, ``peek``, ``popitem`` and the iteration order
(next victim first), so a test can apply one operation to both and compare.

``keys()``, ``values()`` and ``items()`` return plain lists here; the tests
compare them with ``list(impl.keys())`` and so on.
"""
from collections import OrderedDict, deque

__all__ = [
    "FakeTimer",
    "FIFOModel",
    "LFUModel",
    "LRUModel",
    "TTLModel",
    "MODELS",
    "model_replay",
]

_MISSING = object()


class FakeTimer:
    """A manual clock for TTL tests: ``timer()`` returns ``timer.now``."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, dt):
        assert dt >= 0, "the timer must not go backwards"
        self.now += dt


_ABSENT = object()  # a default no caller can store


class _Model:
    """The parts common to every policy, written once.

    A subclass supplies:
      _present(key) -> bool   the key is stored and visible (TTL: unexpired)
      _value(key)             its value (only called when present)
      _use(key)               the effect of a get that hits
      _overwrite(key, value)  set on a present key
      _insert(key, value)     set on an absent key (evicts first if full)
      _remove(key)            forget a present key entirely
      _order() -> list        the visible keys, next victim first
      _clear()
    """

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0

    # -- counted reads ------------------------------------------------------
    def __getitem__(self, key):
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        hash(key)
        if self._present(key):
            self.hits += 1
            self._use(key)
            return self._value(key)
        self.misses += 1
        return default

    # -- uncounted reads ----------------------------------------------------
    def peek(self, key, default=_MISSING):
        hash(key)
        if self._present(key):
            return self._value(key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def __contains__(self, key):
        hash(key)
        return self._present(key)

    def __len__(self):
        return len(self._order())

    def __iter__(self):
        return iter(self._order())

    def keys(self):
        return self._order()

    def values(self):
        return [self._value(k) for k in self._order()]

    def items(self):
        return [(k, self._value(k)) for k in self._order()]

    # -- writes -------------------------------------------------------------
    def __setitem__(self, key, value):
        hash(key)
        if self._present(key):
            self._overwrite(key, value)
        else:
            self._insert(key, value)

    def pop(self, key, default=_MISSING):
        hash(key)
        if self._present(key):
            value = self._value(key)
            self._remove(key)
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def __delitem__(self, key):
        hash(key)
        if not self._present(key):
            raise KeyError(key)
        self._remove(key)

    def popitem(self):
        order = self._order()
        if not order:
            raise KeyError("popitem(): cache is empty")
        key = order[0]
        value = self._value(key)
        self._remove(key)
        return key, value

    def clear(self):
        self._clear()


class LRUModel(_Model):
    """LRU: an OrderedDict from least to most recently used."""

    def __init__(self, maxsize):
        super().__init__(maxsize)
        self._data = OrderedDict()

    def _present(self, key):
        return key in self._data

    def _value(self, key):
        return self._data[key]

    def _use(self, key):
        self._data.move_to_end(key)

    def _overwrite(self, key, value):
        self._data[key] = value
        self._data.move_to_end(key)

    def _insert(self, key, value):
        if len(self._data) >= self.maxsize:
            self._data.popitem(last=False)
        self._data[key] = value

    def _remove(self, key):
        del self._data[key]

    def _order(self):
        return list(self._data)

    def _clear(self):
        self._data.clear()


class FIFOModel(LRUModel):
    """FIFO: the LRU model's OrderedDict, but nothing ever reorders it."""

    def _use(self, key):
        pass

    def _overwrite(self, key, value):
        self._data[key] = value  # an existing OrderedDict key keeps its place


class LFUModel(_Model):
    """LFU: explicit use counts and a logical clock of the last use.

    The eviction order is ``sorted(keys, key=(count, last use))``: lowest count
    first, and among equal counts the one used least recently.
    """

    def __init__(self, maxsize):
        super().__init__(maxsize)
        self._data = {}
        self._count = {}
        self._last = {}
        self._clock = 0

    def _tick(self):
        self._clock += 1
        return self._clock

    def _present(self, key):
        return key in self._data

    def _value(self, key):
        return self._data[key]

    def _use(self, key):
        self._count[key] += 1
        self._last[key] = self._tick()

    def _overwrite(self, key, value):
        self._data[key] = value
        self._count[key] += 1
        self._last[key] = self._tick()

    def _insert(self, key, value):
        if len(self._data) >= self.maxsize:
            victim = min(self._data, key=lambda k: (self._count[k], self._last[k]))
            self._remove(victim)  # the same key as self._order()[0], found in O(n)
        self._data[key] = value
        self._count[key] = 1
        self._last[key] = self._tick()

    def _remove(self, key):
        del self._data[key]
        del self._count[key]
        del self._last[key]

    def _order(self):
        return sorted(self._data, key=lambda k: (self._count[k], self._last[k]))

    def _clear(self):
        self._data.clear()
        self._count.clear()
        self._last.clear()

    def count(self, key):
        """The use count of a present key (for tests that want to look)."""
        return self._count[key]


class TTLModel(_Model):
    """TTL + LRU: an OrderedDict (least recent first) of key -> [value, expiry].

    An item is visible while ``timer() < expiry``, with ``expiry = time_set + ttl``
    computed once in float arithmetic at the insert or overwrite. Expired items
    may linger in ``_data`` but nothing can see them.
    """

    def __init__(self, maxsize, ttl, timer):
        super().__init__(maxsize)
        self.ttl = ttl
        self.timer = timer
        self._data = OrderedDict()

    def _expired(self, key, now):
        return now >= self._data[key][1]

    def _present(self, key):
        return key in self._data and not self._expired(key, self.timer())

    def _value(self, key):
        return self._data[key][0]

    def _use(self, key):
        self._data.move_to_end(key)  # recency only; the expiry stays

    def _overwrite(self, key, value):
        self._data[key] = [value, self.timer() + self.ttl]
        self._data.move_to_end(key)

    def _insert(self, key, value):
        now = self.timer()
        self._data.pop(key, None)  # an expired leftover of the same key
        if len(self._data) >= self.maxsize:
            for k in [k for k in self._data if self._expired(k, now)]:
                del self._data[k]
        if len(self._data) >= self.maxsize:
            self._data.popitem(last=False)
        self._data[key] = [value, now + self.ttl]

    def _remove(self, key):
        del self._data[key]

    def _order(self):
        now = self.timer()
        return [k for k in self._data if not self._expired(k, now)]

    def _clear(self):
        self._data.clear()


MODELS = {"lru": LRUModel, "lfu": LFUModel, "fifo": FIFOModel}


def model_replay(keys, policy, capacity):
    """Hits of ``policy`` at ``capacity`` on ``keys``: a miss inserts the key."""
    cache = MODELS[policy](capacity)
    for key in keys:
        key = int(key)
        if cache.get(key, _MISSING) is _MISSING:
            cache[key] = key
    assert cache.hits + cache.misses == len(keys)
    return cache.hits


def drive_model(model, keys, capacity, sizes=None, times=None, ttl=None):
    """What ``tradeoff.cache._engine.drive`` does around a policy, on a model with
    ``hit(key)``, ``insert(key, size)`` and ``remove(key)``: (hits, hit bytes,
    expired). A size below 1 counts as 1; an object larger than the cache is not
    admitted; with ``ttl``, what has expired by a request's time is purged first,
    oldest insertion first, and an insertion (not a hit) sets the expiry."""
    hits = hit_bytes = expired = 0
    exp, ring = {}, deque()
    for i, key in enumerate(keys):
        size = max(1, int(sizes[i])) if sizes is not None else 1
        if ttl is not None:
            now = int(times[i])
            while ring and ring[0][0] <= now:
                when, old = ring.popleft()
                if exp.get(old) == when:
                    del exp[old]
                    expired += bool(model.remove(old))
        if model.hit(key):
            hits += 1
            hit_bytes += size
        elif size <= capacity:
            model.insert(key, size)
            if ttl is not None:
                ring.append((now + ttl, key))
                exp[key] = now + ttl
    return hits, hit_bytes, expired
