"""How evenly a partitioner spreads keys, and how many keys move when it changes.

Both functions take any :class:`~tradeoff.ring._base.Partitioner` (mod-N, ranges,
rings, jump, rendezvous, Maglev, multi-probe) and a set of keys: a numpy integer
array (looked up without the GIL) or a list of str/bytes/int keys.

A bounded-load ring (``HashRing(..., load_factor=c)``) is measured on what its
assignment does: the keys are placed with ``assign_many`` on a fresh copy of the
ring (``copy()``: same nodes and parameters, no assignments), in the given order,
so the partitioner passed in is never changed.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Spread", "Movement", "spread", "movement", "node_indexes"]


def node_indexes(partitioner, keys):
    """The node index of every key: ``lookup_many``, or, on a bounded-load ring,
    the assignment of the keys (in order) on a fresh copy."""
    if getattr(partitioner, "load_factor", None) is not None and hasattr(partitioner, "assign_many"):
        return np.asarray(partitioner.copy().assign_many(keys))
    return np.asarray(partitioner.lookup_many(keys))


@dataclass(frozen=True)
class Spread:
    """Per-node key counts and how far they are from each node's fair share.

    ``expected`` is each node's fair count: ``keys * w / sum(w)`` when the
    partitioner uses weights, ``keys / n`` otherwise. The ratios compare
    ``counts / expected`` over the nodes whose expected count is above zero:

    - ``cv``: their standard deviation (population, ddof=0); with equal shares
      this is the coefficient of variation, stdev / mean, of the counts;
    - ``peak_to_average``: the largest ratio (1.0 is perfect balance);
    - ``min_to_average``: the smallest ratio.

    With k keys on n nodes even a perfect hash shows a ``cv`` of about
    sqrt(n / k) from sampling alone (1% for 100 nodes and a million keys).
    """
    nodes: list
    counts: np.ndarray
    expected: np.ndarray
    weighted: bool
    cv: float
    peak_to_average: float
    min_to_average: float

    @property
    def keys(self) -> int:
        return int(self.counts.sum())

    def as_dict(self) -> dict:
        """The figures as a plain dict (counts keyed by node name)."""
        return {"nodes": len(self.nodes), "keys": self.keys, "weighted": self.weighted,
                "cv": self.cv, "peak_to_average": self.peak_to_average,
                "min_to_average": self.min_to_average,
                "counts": dict(zip(self.nodes, self.counts.tolist()))}


def _uses_weights(partitioner, weighted):
    if weighted is not None:
        return bool(weighted)
    if getattr(partitioner, "uses_weights", True) is False:
        return False
    ws = list(partitioner.weights)
    return bool(ws) and min(ws) != max(ws)


def spread(partitioner, keys, weighted=None) -> Spread:
    """Count the keys per node and compare each node to its fair share.

    ``weighted``: None (default) compares to weight-proportional shares when the
    partitioner uses weights (its ``uses_weights`` attribute is not False) and
    the weights are not all equal, and to equal shares otherwise; True or False
    forces one or the other.

    O(len(keys)) lookups plus O(n).

    >>> from tradeoff.ring._simple import ModN
    >>> import numpy as np
    >>> s = spread(ModN(["a", "b", "c", "d"]), np.arange(1000))
    >>> s.counts.tolist(), round(s.cv, 4), s.peak_to_average
    ([250, 250, 250, 250], 0.0, 1.0)
    """
    nodes = list(partitioner.nodes)
    n = len(nodes)
    if n == 0:
        raise ValueError("spread needs a partitioner with at least one node")
    idx = node_indexes(partitioner, keys)
    counts = np.bincount(idx, minlength=n).astype(np.int64)
    total = int(counts.sum())
    w = _uses_weights(partitioner, weighted)
    if w:
        ws = np.asarray(partitioner.weights, dtype=np.float64)
        if ws.sum() <= 0:
            raise ValueError("spread(weighted=True) needs a positive total weight")
        expected = total * ws / ws.sum()
    else:
        expected = np.full(n, total / n, dtype=np.float64)
    live = expected > 0
    if total == 0 or not live.any():
        cv = peak = low = float("nan")
    else:
        ratio = counts[live] / expected[live]
        cv = float(ratio.std())
        peak = float(ratio.max())
        low = float(ratio.min())
    return Spread(nodes, counts, expected, w, cv, peak, low)


@dataclass(frozen=True)
class Movement:
    """Keys that map to a different node after a change.

    ``moved`` keys out of ``total`` changed node (compared by node *name*, since
    indexes shift when a node is removed); ``fraction`` = moved / total.
    ``flows`` counts the moved keys by ``(from_node, to_node)``, largest first.
    A key whose node was removed always counts as moved.
    """
    total: int
    moved: int
    fraction: float
    flows: dict = field(default_factory=dict)

    def table(self):
        """The flows as a pandas DataFrame (columns: from, to, keys, share)."""
        import pandas as pd
        rows = [(a, b, c, c / self.total if self.total else 0.0) for (a, b), c in self.flows.items()]
        return pd.DataFrame(rows, columns=["from", "to", "keys", "share"])


def movement(before, after, keys) -> Movement:
    """The fraction of keys whose node changes from ``before`` to ``after``, and
    where they go.

    ``before`` and ``after`` are two partitioners (typically one, and a copy with
    a node added or removed); nodes are matched by name.

    O(len(keys)) lookups on each.

    >>> from tradeoff.ring._simple import ModN
    >>> import numpy as np
    >>> m = movement(ModN(["a", "b"]), ModN(["a", "b", "c"]), np.arange(6))
    >>> m.moved, m.total, m.flows
    (4, 6, {('a', 'b'): 1, ('a', 'c'): 1, ('b', 'a'): 1, ('b', 'c'): 1})
    """
    a = node_indexes(before, keys)
    b = node_indexes(after, keys)
    if a.shape != b.shape:
        raise ValueError("before and after looked up a different number of keys")
    names_a = list(before.nodes)
    names_b = list(after.nodes)
    pos_b = {name: i for i, name in enumerate(names_b)}
    # before's index -> after's index of the same name (-1: gone)
    same = np.array([pos_b.get(name, -1) for name in names_a], dtype=np.int64)
    total = int(a.shape[0])
    if total == 0:
        return Movement(0, 0, 0.0, {})
    moved_mask = same[a] != b
    moved = int(moved_mask.sum())
    flows = {}
    if moved:
        nb = max(len(names_b), 1)
        code = a[moved_mask].astype(np.int64) * nb + b[moved_mask]
        values, counts = np.unique(code, return_counts=True)
        pairs = Counter()
        for v, c in zip(values.tolist(), counts.tolist()):
            pairs[(names_a[v // nb], names_b[v % nb])] = c
        flows = dict(sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])))
    return Movement(total, moved, moved / total, flows)
