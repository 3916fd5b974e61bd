"""State-based replicated data types (CvRDTs) and version vectors, in plain Python.

Each type's states form a join semilattice and ``merge`` is the join: it is
commutative, associative and idempotent, so replicas that have received the same
updates, in any order and any number of times, hold equal states (strong eventual
consistency). The designs follow Shapiro, Preguiça, Baquero and Zawirski,
"Conflict-free replicated data types", SSS 2011, and the longer "A comprehensive
study of convergent and commutative replicated data types", INRIA research
report 7506, 2011 (the specifications of the G-Counter, PN-Counter, LWW-Register,
Multi-Value Register and the add-wins Observed-Remove Set). Version vectors are
those of Parker et al., "Detection of mutual inconsistency in distributed
systems", IEEE TSE 1983, ordered as Fidge's and Mattern's vector clocks (both
1988); Kleppmann's *Designing Data-Intensive Applications* (O'Reilly 2017, ch. 5,
"Detecting Concurrent Writes") explains siblings.

Conventions: updates change the object in place and return it; ``merge(other)``
returns a new object and leaves both inputs alone; ``==`` compares states;
``value`` is what a client reads. Replica ids are any hashable, orderable values
(ints or strings).

>>> a, b = PNCounter(), PNCounter()
>>> _ = a.increment("a", 5); _ = b.decrement("b", 2)
>>> a.merge(b).value, b.merge(a) == a.merge(b)
(3, True)
>>> s, t = ORSet(), ORSet()
>>> _ = s.add("x", "s"); t = t.merge(s); _ = t.remove("x"); _ = s.add("x", "s")
>>> sorted(s.merge(t).value)        # the concurrent add wins over the remove
['x']
"""
from __future__ import annotations

from typing import Hashable, Iterable

__all__ = ["VersionVector", "GCounter", "PNCounter", "LWWRegister", "ORSet", "MVRegister",
           "BEFORE", "AFTER", "EQUAL", "CONCURRENT"]

#: results of :meth:`VersionVector.compare`
BEFORE, AFTER, EQUAL, CONCURRENT = "before", "after", "equal", "concurrent"


class VersionVector:
    """A map from replica id to a count of that replica's events (a missing id
    counts 0). ``a <= b`` when every count of ``a`` is at most ``b``'s: a's
    events all happened before (or are) b's (Parker et al. 1983; Fidge 1988,
    Mattern 1988). Two vectors neither of which is ``<=`` the other are
    *concurrent*. ``merge`` is the pointwise maximum.

    Cost: compare and merge O(replicas), increment O(1).

    >>> a = VersionVector({"x": 2}); b = VersionVector({"x": 1, "y": 1})
    >>> a.compare(b), a.merge(b)
    ('concurrent', VersionVector({'x': 2, 'y': 1}))
    >>> b.increment("x").compare(a)
    'after'
    """

    __slots__ = ("_c",)

    def __init__(self, counts=None):
        self._c: dict = {}
        for node, n in dict(counts or {}).items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"counts must be whole numbers >= 0, got {n!r} for {node!r}")
            if n:
                self._c[node] = n

    def copy(self) -> "VersionVector":
        v = VersionVector()
        v._c = dict(self._c)
        return v

    def get(self, node) -> int:
        return self._c.get(node, 0)

    def __getitem__(self, node) -> int:
        return self._c.get(node, 0)

    def increment(self, node, amount: int = 1) -> "VersionVector":
        """Count ``amount`` (>= 1) more events of ``node``; in place."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise ValueError(f"amount must be a whole number >= 1, got {amount!r}")
        self._c[node] = self._c.get(node, 0) + amount
        return self

    def merge(self, other: "VersionVector") -> "VersionVector":
        out = self.copy()
        for node, n in other._c.items():
            if n > out._c.get(node, 0):
                out._c[node] = n
        return out

    def __le__(self, other: "VersionVector") -> bool:
        return all(n <= other._c.get(node, 0) for node, n in self._c.items())

    def __lt__(self, other: "VersionVector") -> bool:
        return self <= other and self != other

    def __ge__(self, other: "VersionVector") -> bool:
        return other <= self

    def __gt__(self, other: "VersionVector") -> bool:
        return other < self

    def compare(self, other: "VersionVector") -> str:
        """``"before"`` (self < other), ``"after"``, ``"equal"`` or ``"concurrent"``."""
        le, ge = self <= other, other <= self
        if le and ge:
            return EQUAL
        if le:
            return BEFORE
        if ge:
            return AFTER
        return CONCURRENT

    def concurrent(self, other: "VersionVector") -> bool:
        return self.compare(other) == CONCURRENT

    def __eq__(self, other) -> bool:
        return isinstance(other, VersionVector) and self._c == other._c

    def __hash__(self):
        return hash(frozenset(self._c.items()))

    def items(self):
        return self._c.items()

    def total(self) -> int:
        return sum(self._c.values())

    def __repr__(self) -> str:
        return f"VersionVector({dict(sorted(self._c.items(), key=lambda kv: repr(kv[0])))})"

    def _check(self) -> bool:
        assert all(isinstance(n, int) and n > 0 for n in self._c.values()), self._c
        return True


class GCounter:
    """Grow-only counter (Shapiro et al., INRIA RR 7506, Specification 6): one
    non-decreasing count per replica; value the sum, merge the pointwise maximum.
    A replica increments only its own entry.

    Cost: increment O(1), value and merge O(replicas).

    >>> g = GCounter().increment("a").increment("a", 2)
    >>> g.merge(GCounter().increment("b")).value
    4
    """

    __slots__ = ("_c",)

    def __init__(self):
        self._c: dict = {}

    def increment(self, replica, amount: int = 1) -> "GCounter":
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"amount must be a whole number >= 0, got {amount!r}")
        if amount:
            self._c[replica] = self._c.get(replica, 0) + amount
        return self

    @property
    def value(self) -> int:
        return sum(self._c.values())

    def merge(self, other: "GCounter") -> "GCounter":
        out = GCounter()
        out._c = dict(self._c)
        for r, n in other._c.items():
            if n > out._c.get(r, 0):
                out._c[r] = n
        return out

    def copy(self) -> "GCounter":
        return self.merge(GCounter())

    def __eq__(self, other) -> bool:
        return isinstance(other, GCounter) and self._c == other._c

    __hash__ = None

    def __repr__(self) -> str:
        return f"GCounter({self._c})"

    def _check(self) -> bool:
        assert all(isinstance(n, int) and n > 0 for n in self._c.values()), self._c
        return True


class PNCounter:
    """Counter with increments and decrements (Shapiro et al., RR 7506,
    Specification 7): two G-Counters, P for increments and N for decrements;
    value = P - N, merge each.

    >>> c = PNCounter().increment("a", 3).decrement("a")
    >>> c.value
    2
    """

    __slots__ = ("p", "n")

    def __init__(self):
        self.p = GCounter()
        self.n = GCounter()

    def increment(self, replica, amount: int = 1) -> "PNCounter":
        self.p.increment(replica, amount)
        return self

    def decrement(self, replica, amount: int = 1) -> "PNCounter":
        self.n.increment(replica, amount)
        return self

    def add(self, replica, delta: int) -> "PNCounter":
        """Add ``delta`` (of either sign)."""
        return self.increment(replica, delta) if delta >= 0 else self.decrement(replica, -delta)

    @property
    def value(self) -> int:
        return self.p.value - self.n.value

    def merge(self, other: "PNCounter") -> "PNCounter":
        out = PNCounter()
        out.p = self.p.merge(other.p)
        out.n = self.n.merge(other.n)
        return out

    def copy(self) -> "PNCounter":
        return self.merge(PNCounter())

    def __eq__(self, other) -> bool:
        return isinstance(other, PNCounter) and self.p == other.p and self.n == other.n

    __hash__ = None

    def __repr__(self) -> str:
        return f"PNCounter(p={self.p._c}, n={self.n._c})"

    def _check(self) -> bool:
        return self.p._check() and self.n._check()


def _order(value):
    """A total order on values for the last tiebreak (values of any type)."""
    return (type(value).__name__, repr(value))


class LWWRegister:
    """Last-writer-wins register (Shapiro et al., RR 7506, Specification 8): the
    value with the largest (timestamp, replica) wins (replica ids must be
    comparable with each other); a tie on both (which should name one write)
    falls to the value's repr, so merge stays commutative. Nothing
    in the order knows causality: with skewed clocks a write that happened after
    another may lose to it (Kleppmann ch. 8, "Timestamps for ordering events").

    >>> r = LWWRegister().set("old", 5.0, "a")
    >>> r.merge(LWWRegister().set("new", 4.0, "b")).value    # b's clock is behind
    'old'
    """

    __slots__ = ("value", "timestamp", "replica")

    def __init__(self, value=None, timestamp: float = float("-inf"), replica=None):
        self.value = value
        self.timestamp = timestamp
        self.replica = replica

    def _key(self):
        # the initial register (timestamp -inf, replica None) never ties with a write
        return (self.timestamp, self.replica is not None, 0 if self.replica is None else self.replica,
                _order(self.value))

    def set(self, value, timestamp, replica) -> "LWWRegister":
        """Write ``value`` stamped (timestamp, replica); it takes effect here only
        if it is newer than what the register holds (as a merge would decide)."""
        if timestamp != timestamp:
            raise ValueError("timestamp must not be NaN")
        new = LWWRegister(value, timestamp, replica)
        if new._key() > self._key():
            self.value, self.timestamp, self.replica = value, timestamp, replica
        return self

    def merge(self, other: "LWWRegister") -> "LWWRegister":
        win = self if self._key() >= other._key() else other
        return LWWRegister(win.value, win.timestamp, win.replica)

    def copy(self) -> "LWWRegister":
        return LWWRegister(self.value, self.timestamp, self.replica)

    def __eq__(self, other) -> bool:
        return isinstance(other, LWWRegister) and self._key() == other._key()

    __hash__ = None

    def __repr__(self) -> str:
        return f"LWWRegister({self.value!r}, {self.timestamp!r}, {self.replica!r})"

    def _check(self) -> bool:
        assert self.timestamp == self.timestamp
        return True


class ORSet:
    """Add-wins observed-remove set (Shapiro et al., RR 7506, Specification 15):
    every add makes a unique tag (replica, n); a remove deletes the tags of the
    element it has observed (kept as tombstones). An element is in the set while
    it has a tag not removed, so an add concurrent with a remove survives it.
    Merge unions both the tags and the tombstones.

    Cost: add O(1) amortized, remove O(tags of the element), merge O(state).
    Tombstones are never collected (the RR's specification does not either).

    >>> s = ORSet().add(1, "a").add(2, "a").remove(1)
    >>> sorted(s.value), 1 in s
    ([2], False)
    """

    __slots__ = ("_adds", "_removed", "_next")

    def __init__(self):
        self._adds: dict = {}         # element -> set of tags
        self._removed: set = set()    # tags removed
        self._next: dict = {}         # replica -> highest tag number seen

    def add(self, element: Hashable, replica) -> "ORSet":
        n = self._next.get(replica, 0) + 1
        self._next[replica] = n
        self._adds.setdefault(element, set()).add((replica, n))
        return self

    def remove(self, element: Hashable) -> "ORSet":
        """Remove the element's tags observed here (no effect if absent)."""
        self._removed |= self._adds.get(element, set())
        return self

    def tags(self, element) -> set:
        return self._adds.get(element, set()) - self._removed

    @property
    def value(self) -> frozenset:
        return frozenset(e for e, tags in self._adds.items() if tags - self._removed)

    def __contains__(self, element) -> bool:
        return bool(self.tags(element))

    def merge(self, other: "ORSet") -> "ORSet":
        out = ORSet()
        for src in (self, other):
            for e, tags in src._adds.items():
                out._adds.setdefault(e, set()).update(tags)
            for r, n in src._next.items():
                if n > out._next.get(r, 0):
                    out._next[r] = n
        out._removed = self._removed | other._removed
        return out

    def copy(self) -> "ORSet":
        return self.merge(ORSet())

    def __eq__(self, other) -> bool:
        return (isinstance(other, ORSet) and self._adds == other._adds and self._removed == other._removed)

    __hash__ = None

    def __repr__(self) -> str:
        return f"ORSet({sorted(self.value, key=_order)})"

    def _check(self) -> bool:
        tags = [t for ts in self._adds.values() for t in ts]
        assert len(tags) == len(set(tags)), "a tag names one add"
        assert self._removed <= set(tags), "only observed tags are removed"
        for r, n in tags:
            assert n <= self._next.get(r, 0)
        return True


class MVRegister:
    """Multi-value register (Shapiro et al., RR 7506, Specification 10; Dynamo's
    and Riak's siblings): a set of (value, version vector) pairs none of which
    dominates another. A write by a replica gets the merge of the vectors it has
    seen, with its own count incremented, and replaces them all; concurrent
    writes stay side by side as *siblings* until a later write resolves them.

    Cost: set O(siblings x replicas), merge O(siblings^2 x replicas).

    >>> a = MVRegister().set("x", "a"); b = MVRegister().set("y", "b")
    >>> m = a.merge(b); sorted(m.value)
    ['x', 'y']
    >>> m.set("z", "a").value
    ['z']
    """

    __slots__ = ("_s",)

    def __init__(self):
        self._s: list = []            # [(value, VersionVector)]

    def context(self) -> VersionVector:
        """The merge of the siblings' vectors: everything this replica has seen."""
        out = VersionVector()
        for _, vv in self._s:
            out = out.merge(vv)
        return out

    def set(self, value, replica) -> "MVRegister":
        vv = self.context().increment(replica)
        self._s = [(value, vv)]
        return self

    @property
    def siblings(self) -> list:
        return list(self._s)

    @property
    def value(self) -> list:
        """The siblings' values (sorted by their vectors' repr, so every replica
        lists them alike)."""
        return [v for v, _ in sorted(self._s, key=lambda s: (repr(sorted(s[1].items(), key=repr)), _order(s[0])))]

    def merge(self, other: "MVRegister") -> "MVRegister":
        pool = []
        for item in self._s + other._s:
            if item not in pool:
                pool.append(item)
        out = MVRegister()
        out._s = [(v, vv) for v, vv in pool if not any(vv < w for _, w in pool)]
        return out

    def copy(self) -> "MVRegister":
        return self.merge(MVRegister())

    def __eq__(self, other) -> bool:
        if not isinstance(other, MVRegister) or len(self._s) != len(other._s):
            return False
        return all(item in other._s for item in self._s)

    __hash__ = None

    def __repr__(self) -> str:
        return f"MVRegister({self._s})"

    def _check(self) -> bool:
        for i, (_, a) in enumerate(self._s):
            for j, (_, b) in enumerate(self._s):
                if i != j:
                    assert a.compare(b) == CONCURRENT, ("siblings are concurrent", a, b)
        return True


def merge_all(states: Iterable):
    """The merge of a non-empty sequence of states."""
    it = iter(states)
    out = next(it)
    for s in it:
        out = out.merge(s)
    return out
