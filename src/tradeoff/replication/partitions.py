"""Network partitions as schedules, shared by the three replication simulators
(:mod:`.leader`, :mod:`.leaderless`, :mod:`.multileader`).

A schedule is ``"2s-5s:{0}|{1,2}"``: during [2 s, 5 s) node 0 cannot talk to
nodes 1 and 2 (the groups must hold every node exactly once); several are
joined by ``;``. Where partitions overlap in time two nodes can talk only if
every partition active then puts them in one group. :func:`timeline` turns a
schedule into segments of constant connectivity for the simulations: a group id
per node and segment (0 for every node when nothing is cut).

What happens to a message across a cut is the simulator's business; all three
**hold** it (deliver it when its two ends can talk again), as TCP retransmission
would over a link that comes back (Kleppmann, *Designing Data-Intensive
Applications*, ch. 8, "Unreliable Networks").
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["parse_partitions", "timeline", "side_at", "availability_by_side"]

_GROUPS = re.compile(r"\{([^{}]*)\}")


def parse_partitions(spec, m: int, what: str = "leader"):
    """Partitions as ``[(start, end, groups)]`` (seconds; groups a list of sets
    covering 0..m-1), from ``"2s-5s:{0}|{1,2}"`` (several joined by ``;``), or
    from such tuples already. ``what`` names the nodes in the errors.

    >>> parse_partitions("2s-5s:{0}|{1,2}", 3)
    [(2.0, 5.0, [{0}, {1, 2}])]
    """
    from .leader import _duration, _real

    if spec is None or spec == "" or spec == []:
        return []
    if isinstance(spec, str):
        items = []
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            span, sep, groups = part.partition(":")
            a, dash, b = span.partition("-")
            if not sep or not dash:
                raise ValueError(f"partitions: cannot read {part!r} (e.g. 2s-5s:{{0}}|{{1,2}})")
            found = _GROUPS.findall(groups)
            if len(found) < 2 or _GROUPS.sub("", groups).replace("|", "").strip():
                raise ValueError(f"partitions: {part!r} needs groups like {{0}}|{{1,2}}")
            sets = []
            for g in found:
                try:
                    sets.append({int(x) for x in g.replace(" ", "").split(",") if x})
                except ValueError:
                    raise ValueError(f"partitions: {what}s must be numbers in {part!r}") from None
            items.append((_duration(a, "partitions"), _duration(b, "partitions"), sets))
        spec = items
    out = []
    for i, item in enumerate(spec):
        try:
            start, end, groups = item
        except (TypeError, ValueError):
            raise ValueError(f"partitions[{i}] must be (start, end, groups), got {item!r}") from None
        start = _real(start, f"partitions[{i}] start")
        end = _real(end, f"partitions[{i}] end")
        if end <= start:
            raise ValueError(f"partitions[{i}]: end must be after start, got {start:g}-{end:g}")
        sets = [set(g) for g in groups]
        members = sorted(x for g in sets for x in g)
        if members != list(range(m)) or any(not g for g in sets):
            raise ValueError(f"partitions[{i}]: the groups must hold each {what} 0..{m - 1} once, got {groups!r}")
        out.append((start, end, sets))
    return out


def timeline(parts, m: int):
    """Parsed partitions -> (times, sides): segment s starts at ``times[s]``
    (``times[0] = 0``) and node i is in group ``sides[s, i]`` then (two nodes
    can talk iff their groups are equal; every node in group 0 when nothing is
    cut, and in the last segment).

    >>> t, s = timeline([(1.0, 2.0, [{0}, {1, 2}])], 3)
    >>> t.tolist(), s.tolist()
    ([0.0, 1.0, 2.0], [[0, 0, 0], [0, 1, 1], [0, 0, 0]])
    """
    times = sorted({0.0, *(a for a, _, _ in parts), *(b for _, b, _ in parts)})
    sides = np.zeros((len(times), m), np.int32)
    for s, t in enumerate(times):
        key = [tuple(next(j for j, g in enumerate(gs) if i in g) for a, b, gs in parts if a <= t < b)
               for i in range(m)]
        ids: dict = {}
        for i in range(m):
            sides[s, i] = ids.setdefault(key[i], len(ids))
    return np.asarray(times, np.float64), sides


def side_at(times, sides, node, t):
    """The group of ``node`` (array) at times ``t`` (array), vectorised."""
    seg = np.searchsorted(times, t, side="right") - 1
    return sides[np.clip(seg, 0, len(times) - 1), node]


def availability_by_side(ok, node, invoke, cut, m: int) -> dict:
    """The share of operations answered successfully (``ok``: per operation),
    overall (``availability``) and, under a partition (``cut``: the
    :func:`timeline` or None), among those invoked while one was on
    (``availability_cut``) by clients whose side then held at most half of the
    ``m`` nodes (``availability_minority``) or more than half
    (``availability_majority``); ``node``: the node each operation's client
    sits beside. NaN where no operation counts; without a partition only
    ``availability``.

    >>> cut = timeline([(1.0, 2.0, [{0}, {1, 2}])], 3)
    >>> a = availability_by_side([1, 0, 1, 1], [0, 0, 1, 0], [0.5, 1.5, 1.5, 2.5], cut, 3)
    >>> a["availability"], a["availability_cut"], a["availability_minority"], a["availability_majority"]
    (0.75, 0.5, 0.0, 1.0)
    """
    ok = np.asarray(ok, bool)
    node = np.asarray(node, np.int64)

    def share(mask):
        k = int(np.count_nonzero(mask))
        return float(np.count_nonzero(ok & mask)) / k if k else float("nan")

    out = {"availability": share(np.ones(len(ok), bool))}
    if cut is None:
        return out
    if len(ok) == 0:
        return dict(out, availability_cut=float("nan"), availability_minority=float("nan"),
                    availability_majority=float("nan"))
    times, sides = cut
    seg = np.clip(np.searchsorted(times, invoke, side="right") - 1, 0, len(times) - 1)
    cutting = sides.max(axis=1) > 0                 # segments where some partition is on
    during = cutting[seg]
    mine = sides[seg, node]
    size = (sides[seg] == mine[:, None]).sum(axis=1)
    out["availability_cut"] = share(during)
    out["availability_minority"] = share(during & (2 * size <= m))
    out["availability_majority"] = share(during & (2 * size > m))
    return out
