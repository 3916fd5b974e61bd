"""A pure-Python reference for tradeoff.index._btree: a sorted mapping kept as a dict
plus a sorted list of its keys (bisect), written the obvious way so that it is easy
to believe. Same method names and semantics as Int64BTree / ObjectBTree.
"""
from bisect import bisect_left, bisect_right, insort

__all__ = ["SortedMapModel", "MISSING"]

MISSING = object()


class SortedMapModel:
    def __init__(self, pairs=()):
        self.d = {}
        self.keys = []
        for k, v in pairs:
            self[k] = v

    def __len__(self):
        return len(self.keys)

    def __contains__(self, k):
        return k in self.d

    def __getitem__(self, k):
        return self.d[k]

    def get(self, k, default=None):
        return self.d.get(k, default)

    def __setitem__(self, k, v):
        if k not in self.d:
            insort(self.keys, k)
        self.d[k] = v

    def pop(self, k, default=MISSING):
        if k not in self.d:
            if default is MISSING:
                raise KeyError(k)
            return default
        del self.keys[bisect_left(self.keys, k)]
        return self.d.pop(k)

    def pop_min(self):
        if not self.keys:
            raise KeyError("empty")
        k = self.keys.pop(0)
        return k, self.d.pop(k)

    def pop_max(self):
        if not self.keys:
            raise KeyError("empty")
        k = self.keys.pop()
        return k, self.d.pop(k)

    def items(self):
        return [(k, self.d[k]) for k in self.keys]

    def values(self):
        return [self.d[k] for k in self.keys]

    def _span(self, lo, hi, inclusive):
        inc_lo, inc_hi = inclusive
        a = 0 if lo is None else (bisect_left if inc_lo else bisect_right)(self.keys, lo)
        b = len(self.keys) if hi is None else (bisect_right if inc_hi else bisect_left)(self.keys, hi)
        return a, max(a, b)

    def irange(self, lo=None, hi=None, inclusive=(True, True), reverse=False):
        a, b = self._span(lo, hi, inclusive)
        out = self.keys[a:b]
        return out[::-1] if reverse else out

    def count(self, lo=None, hi=None, inclusive=(True, True)):
        a, b = self._span(lo, hi, inclusive)
        return b - a

    def floor(self, k):
        i = bisect_right(self.keys, k)
        return self.keys[i - 1] if i else None

    def ceiling(self, k):
        i = bisect_left(self.keys, k)
        return self.keys[i] if i < len(self.keys) else None

    def min(self):
        if not self.keys:
            raise ValueError("empty")
        return self.keys[0]

    def max(self):
        if not self.keys:
            raise ValueError("empty")
        return self.keys[-1]
