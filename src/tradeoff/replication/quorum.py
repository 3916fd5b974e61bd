"""Tunable consistency as Cassandra names it: how many replicas a read or a write
waits for at each consistency level, whether a read and a write level together
guarantee that the read sees the write (their replica sets must overlap: R + W > N,
Gifford's weighted voting, SOSP 1979), and how available each level is when some
replicas are down, exact by counting.

Levels (Apache Cassandra's documentation, "Tunable consistency"): ``ONE``, ``TWO``,
``THREE``, ``QUORUM`` (a majority of all replicas, over every datacenter),
``ALL``, ``LOCAL_ONE`` and ``LOCAL_QUORUM`` (a majority of the replicas in the
coordinator's datacenter), ``EACH_QUORUM`` (a majority in every datacenter).

>>> required("QUORUM", 3), required("LOCAL_QUORUM", 3, dcs=2), required("ALL", 3, dcs=2)
(2, 2, 6)
>>> availability("QUORUM", 3, down=1), availability("ALL", 3, down=1)
(1.0, 0.0)
>>> overlaps("QUORUM", "QUORUM", 3), overlaps("ONE", "ONE", 3), overlaps("ONE", "ALL", 3)
(True, False, True)
"""
from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Sequence

__all__ = ["LEVELS", "required", "availability", "availability_independent", "overlaps", "table",
           "availability_by_enumeration"]

LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_ONE", "LOCAL_QUORUM", "EACH_QUORUM")
_LOCAL = ("LOCAL_ONE", "LOCAL_QUORUM")


def _check(level: str, n: int, dcs: int) -> str:
    name = str(level).upper()
    if name not in LEVELS:
        raise ValueError(f"unknown consistency level {level!r} (one of {', '.join(LEVELS)})")
    for what, v in (("replicas per datacenter", n), ("datacenters", dcs)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
    return name


def required(level: str, n: int, dcs: int = 1) -> int:
    """Replicas the level waits for, with ``n`` replicas in each of ``dcs``
    datacenters (for LOCAL_* the count in the coordinator's datacenter, for
    EACH_QUORUM the total over all); more than there are means never available."""
    name = _check(level, n, dcs)
    total = n * dcs
    return {"ONE": 1, "TWO": 2, "THREE": 3, "QUORUM": total // 2 + 1, "ALL": total,
            "LOCAL_ONE": 1, "LOCAL_QUORUM": n // 2 + 1, "EACH_QUORUM": dcs * (n // 2 + 1)}[name]


def _ok(name: str, n: int, dcs: int, up: Sequence[int]) -> bool:
    """Whether the level can be served with ``up[d]`` replicas up in datacenter d
    (the coordinator in datacenter 0)."""
    if name in _LOCAL:
        return up[0] >= (1 if name == "LOCAL_ONE" else n // 2 + 1)
    if name == "EACH_QUORUM":
        return all(u >= n // 2 + 1 for u in up)
    return sum(up) >= required(name, n, dcs)


def availability(level: str, n: int, dcs: int = 1, down: int = 0) -> float:
    """The share of the ways ``down`` of the ``n * dcs`` replicas can be down (all
    equally likely) in which the level can still be served: exact, by counting the
    down replicas per datacenter (a product of binomial coefficients)."""
    name = _check(level, n, dcs)
    total = n * dcs
    if isinstance(down, bool) or not isinstance(down, int) or not 0 <= down <= total:
        raise ValueError(f"down must be within 0..{total}, got {down!r}")
    good = 0

    def spread(d: int, left: int, ways: int, up: list[int]) -> None:
        nonlocal good
        if d == dcs:
            if left == 0 and _ok(name, n, dcs, up):
                good += ways
            return
        for k in range(min(n, left) + 1):
            spread(d + 1, left - k, ways * comb(n, k), up + [n - k])

    spread(0, down, 1, [])
    return good / comb(total, down)


def availability_independent(level: str, n: int, dcs: int = 1, p_down: float = 0.01) -> float:
    """The level's availability when each replica is down independently with
    probability ``p_down``: the sum over ``k`` of P(k down) times :func:`availability`."""
    _check(level, n, dcs)
    if not 0.0 <= p_down <= 1.0:
        raise ValueError(f"p_down must be within 0..1, got {p_down!r}")
    total = n * dcs
    return sum(comb(total, k) * p_down ** k * (1 - p_down) ** (total - k) * availability(level, n, dcs, k)
               for k in range(total + 1))


def availability_by_enumeration(level: str, n: int, dcs: int = 1, down: int = 0) -> float:
    """:func:`availability` by listing every set of down replicas (for checking; slow)."""
    name = _check(level, n, dcs)
    total = n * dcs
    good = count = 0
    for dead in combinations(range(total), down):
        up = [n] * dcs
        for r in dead:
            up[r // n] -= 1
        count += 1
        good += _ok(name, n, dcs, up)
    return good / count


def overlaps(read: str, write: str, n: int, dcs: int = 1) -> bool:
    """Whether every read at level ``read`` shares a replica with every write at
    level ``write`` (so a read issued after the write was acknowledged sees it:
    R + W > N over the replicas both count), both coordinated from the same
    datacenter. Decided exactly: a write can avoid a read only if some count of
    written replicas per datacenter ``w_d`` meets the write level while the
    replicas left, ``n - w_d``, meet the read level."""
    r, w = _check(read, n, dcs), _check(write, n, dcs)

    def vectors(d: int, prefix: tuple):
        if d == dcs:
            yield prefix
            return
        for k in range(n + 1):
            yield from vectors(d + 1, prefix + (k,))

    for wv in vectors(0, ()):
        if _ok(w, n, dcs, wv) and _ok(r, n, dcs, [n - k for k in wv]):
            return False
    return True


def table(n: int = 3, dcs: int = 1, levels: Sequence[str] | None = None):
    """Availability of each level with 0..N replicas down: a DataFrame, one row per
    level, one column per number down."""
    import pandas as pd

    levels = [lv for lv in (levels or LEVELS) if dcs > 1 or lv not in ("LOCAL_ONE", "LOCAL_QUORUM", "EACH_QUORUM")]
    rows = {lv: {k: availability(lv, n, dcs, k) for k in range(n * dcs + 1)} for lv in levels}
    df = pd.DataFrame(rows).T
    df.columns.name = "down"
    return df
