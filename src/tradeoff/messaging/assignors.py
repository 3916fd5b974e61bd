"""Partition assignors for a consumer group over one topic: Kafka's four, in Python.

An assignor maps the group's members (member id strings) to the partitions
``0..P-1`` of one topic, each partition to exactly one member; every member appears
in the result, perhaps with no partitions, and each member's partitions are sorted.
All of them have the signature ``assignor(members, partitions, previous=None)``;
``previous`` (member -> partitions, the assignment before this rebalance) is what the
sticky assignors try to keep and what the eager ones ignore.

* :func:`range_assign` is Kafka's ``RangeAssignor`` for one topic: the members in
  member id order, each a consecutive range of ``P // n`` partitions, the first
  ``P % n`` of them one more.
* :func:`roundrobin_assign` is Kafka's ``RoundRobinAssignor``: the partitions dealt
  to the members in member id order, one at a time.
* :func:`sticky_assign` has the goal of Kafka's ``StickyAssignor`` (KIP-54): first a
  balanced assignment (sizes within one of each other), then as many partitions as
  balance allows left with the member that owned them.
* :func:`cooperative_sticky` computes the same target as ``sticky`` for Kafka's
  ``CooperativeStickyAssignor``, which applies it by the incremental cooperative
  protocol of KIP-429: :func:`cooperative_rounds` splits it into a first round that
  only revokes the partitions changing hands (every other partition stays where it
  is, consumable) and a second that hands them to their new owners.

Members are ordered as Kafka orders member ids, by Java's ``String.compareTo`` (UTF-16
code units; the same as Python's order except beside characters outside the BMP).

>>> range_assign(["C1", "C0"], 3)
{'C0': [0, 1], 'C1': [2]}
>>> roundrobin_assign(["C0", "C1", "C2"], 7)
{'C0': [0, 3, 6], 'C1': [1, 4], 'C2': [2, 5]}
>>> before = sticky_assign(["a", "b"], 6)
>>> before
{'a': [0, 1, 2], 'b': [3, 4, 5]}
>>> after = sticky_assign(["a", "b", "c"], 6, before)
>>> after, moves(before, after)
({'a': [0, 1], 'b': [3, 4], 'c': [2, 5]}, 2)
>>> cooperative_rounds(before, after)
({'a': [0, 1], 'b': [3, 4], 'c': []}, {'a': [0, 1], 'b': [3, 4], 'c': [2, 5]})
"""
import operator
from collections.abc import Mapping

from ._checks import integer

__all__ = ["ASSIGNORS", "PROTOCOLS", "cooperative_rounds", "cooperative_sticky", "get_assignor",
           "moves", "range_assign", "roundrobin_assign", "sticky_assign"]


# ---------------------------------------------------------------- checking input

def _kafka_order(member):
    """Java's String.compareTo order: by UTF-16 code units, which big-endian UTF-16
    bytes compare in."""
    return member.encode("utf-16-be", "surrogatepass")


def _members(members):
    """The member ids, checked (strings, no repeats), in Kafka's order."""
    if isinstance(members, (str, bytes)) or not hasattr(members, "__iter__"):
        raise TypeError(f"members must be a list of member id strings, got {members!r}")
    out = list(members)
    seen = set()
    for m in out:
        if not isinstance(m, str):
            raise TypeError(f"a member id must be a string, got {m!r}")
        if m in seen:
            raise ValueError(f"member {m!r} appears twice in members")
        seen.add(m)
    out.sort(key=_kafka_order)
    return out


def _assignment(assignment, what):
    """An assignment (member -> partitions), checked: member id strings, partitions
    non-negative integers, none owned twice. A new dict of sorted lists."""
    if assignment is None:
        return {}
    if not isinstance(assignment, Mapping):
        raise TypeError(f"{what} must be a dict of member -> partitions, got {type(assignment).__name__}")
    out = {}
    owner = {}
    for m, parts in assignment.items():
        if not isinstance(m, str):
            raise TypeError(f"{what}: a member id must be a string, got {m!r}")
        if isinstance(parts, (str, bytes)) or not hasattr(parts, "__iter__"):
            raise TypeError(f"{what}[{m!r}] must be a list of partitions, got {parts!r}")
        mine = []
        for p in parts:
            if isinstance(p, bool) or not hasattr(p, "__index__"):
                raise TypeError(f"{what}[{m!r}]: a partition must be an integer, got {p!r}")
            p = operator.index(p)
            if p < 0:
                raise ValueError(f"{what}[{m!r}]: a partition must be >= 0, got {p}")
            if p in owner:
                raise ValueError(f"{what}: partition {p} is owned by both {owner[p]!r} and {m!r}")
            owner[p] = m
            mine.append(p)
        out[m] = sorted(mine)
    return out


def _owners(assignment):
    return {p: m for m, parts in assignment.items() for p in parts}


# ---------------------------------------------------------------- the assignors

def range_assign(members, partitions, previous=None):
    """Kafka's ``RangeAssignor`` for one topic of ``partitions`` partitions.

    With n members in member id order, member i gets the ``P // n`` (plus one for the
    first ``P % n`` members) consecutive partitions from ``i * (P // n) + min(i, P % n)``.
    Eager and stateless: ``previous`` is ignored.

    >>> range_assign(["C0", "C1", "C2"], 7)
    {'C0': [0, 1, 2], 'C1': [3, 4], 'C2': [5, 6]}
    """
    order = _members(members)
    P = integer(partitions, "partitions", 0)
    if not order:
        return {}
    n = len(order)
    each, extra = divmod(P, n)
    out = {}
    for i, m in enumerate(order):
        start = i * each + min(i, extra)
        out[m] = list(range(start, start + each + (1 if i < extra else 0)))
    return out


def roundrobin_assign(members, partitions, previous=None):
    """Kafka's ``RoundRobinAssignor`` for one topic: partition p goes to the member at
    ``p % n`` in member id order. Eager and stateless: ``previous`` is ignored.

    >>> roundrobin_assign(["b", "a"], 5)
    {'a': [0, 2, 4], 'b': [1, 3]}
    """
    order = _members(members)
    P = integer(partitions, "partitions", 0)
    if not order:
        return {}
    n = len(order)
    return {m: list(range(i, P, n)) for i, m in enumerate(order)}


def sticky_assign(members, partitions, previous=None):
    """The goal of Kafka's ``StickyAssignor`` (KIP-54) for one topic: a balanced
    assignment (any two members' counts differ by at most one) that leaves as many
    partitions as balance allows with their previous owner.

    A balanced assignment of P partitions over n members gives ``P % n`` members
    ``P // n + 1`` partitions and the rest ``P // n``; the larger shares go to the
    members that kept the most (ties in member id order), which maximises the
    partitions kept. A member over its share keeps its lowest-numbered partitions;
    the rest, with the partitions nobody owns (those of members that left, and new
    ones), go in ascending order to the members under their share, in member id
    order. Partitions ``>= P`` in ``previous`` are dropped. Deterministic: the same
    members (in any order) and previous assignment give the same result.

    O(P log P + n log n).

    >>> sticky_assign(["a", "b", "c"], 7, {"a": [0, 1, 2, 3], "b": [4, 5, 6], "gone": []})
    {'a': [0, 1, 2], 'b': [4, 5], 'c': [3, 6]}
    """
    order = _members(members)
    P = integer(partitions, "partitions", 0)
    prev = _assignment(previous, "previous")
    if not order:
        return {}
    n = len(order)
    kept = {m: [p for p in prev.get(m, ()) if p < P] for m in order}
    rank = {m: i for i, m in enumerate(order)}
    each, extra = divmod(P, n)
    by_kept = sorted(order, key=lambda m: (-len(kept[m]), rank[m]))
    quota = {m: each + (1 if i < extra else 0) for i, m in enumerate(by_kept)}
    out = {}
    owned = [False] * P
    for m in order:
        mine = kept[m][:quota[m]]       # sorted already: the lowest ones stay
        for p in mine:
            owned[p] = True
        out[m] = mine
    pool = [p for p in range(P) if not owned[p]]
    at = 0
    for m in order:
        need = quota[m] - len(out[m])
        if need > 0:
            out[m] = sorted(out[m] + pool[at:at + need])
            at += need
    return out


def cooperative_sticky(members, partitions, previous=None):
    """Kafka's ``CooperativeStickyAssignor``: the target assignment of
    :func:`sticky_assign`, to be reached by the incremental cooperative protocol of
    KIP-429 in (at most) two rounds; see :func:`cooperative_rounds`."""
    return sticky_assign(members, partitions, previous)


def cooperative_rounds(previous, target):
    """The two rounds of a cooperative rebalance (KIP-429) from ``previous`` to
    ``target``: ``(round1, round2)``.

    Round 1 only revokes: each member of ``target`` keeps the partitions it owned in
    ``previous`` that stay with it, and nothing changes hands (so those partitions
    can be consumed throughout). Round 2 is ``target``: the revoked partitions, the
    ones of members that left and the ones nobody owned go to their new owners.
    (Kafka hands out partitions nobody owned in the first round already; this split
    keeps round 1 a pure revocation.)

    >>> cooperative_rounds({"a": [0, 1, 2, 3]}, {"a": [0, 1], "b": [2, 3]})
    ({'a': [0, 1], 'b': []}, {'a': [0, 1], 'b': [2, 3]})
    """
    prev = _assignment(previous, "previous")
    new = _assignment(target, "target")
    owner = _owners(new)
    round1 = {m: [p for p in prev.get(m, ()) if owner.get(p) == m] for m in new}
    return round1, new


def moves(previous, new):
    """The partitions whose owner changed from ``previous`` to ``new``: owned before
    and owned by someone else (or nobody) now. A partition that nobody owned before
    does not count; one whose owner left the group does.

    >>> moves({"a": [0, 1], "b": [2, 3]}, {"a": [0, 1, 2], "c": [3, 4]})
    2
    """
    before = _owners(_assignment(previous, "previous"))
    after = _owners(_assignment(new, "new"))
    return sum(1 for p, m in before.items() if after.get(p) != m)


# ---------------------------------------------------------------- the catalogue

#: Kafka's assignor names (``partition.assignment.strategy``) -> the assignor
ASSIGNORS = {
    "range": range_assign,
    "roundrobin": roundrobin_assign,
    "sticky": sticky_assign,
    "cooperative-sticky": cooperative_sticky,
}

#: the rebalance protocol each assignor runs under: "eager" revokes every partition
#: before reassigning; "cooperative" (KIP-429) revokes only those that move
PROTOCOLS = {"range": "eager", "roundrobin": "eager", "sticky": "eager",
             "cooperative-sticky": "cooperative"}


def get_assignor(name):
    """The assignor called ``name`` in :data:`ASSIGNORS`.

    >>> get_assignor("sticky") is sticky_assign
    True
    >>> get_assignor("fair")
    Traceback (most recent call last):
    ...
    ValueError: unknown assignor 'fair': choose from range, roundrobin, sticky, cooperative-sticky
    """
    if not isinstance(name, str):
        raise TypeError(f"an assignor name must be a string, got {name!r}")
    try:
        return ASSIGNORS[name]
    except KeyError:
        raise ValueError(f"unknown assignor {name!r}: choose from {', '.join(ASSIGNORS)}") from None
