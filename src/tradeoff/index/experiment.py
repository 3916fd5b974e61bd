"""Which index for a query mix: point reads, range scans and writes, timed on each
kind of index over the same keys, weighted by the mix (what ``tradeoff simulate
index`` prints).

Kinds: ``btree`` (:class:`~tradeoff.index.Int64BTree`: ordered, O(log n) for
everything), ``hash`` (:class:`~tradeoff.index.HashIndex`: O(1) equality; a range
is a full scan of the column), ``sorted`` (a sorted numpy array: binary search
for reads and ranges, but a write moves O(n) elements) and ``scan`` (no index:
a heap of rows; a read or a range is a full scan, an insert appends, a delete
finds the row by a scan and swaps the last row into its place).

A read looks up a present key; a range returns the keys of ``range_size``
consecutive keys (materialized as a numpy array); a write inserts a new key and
then deletes it, so the size stays put. Keys, read and written, are drawn from one
distribution, uniform over [0, 2**40): a written key lands anywhere among the
present ones (in a B-tree, any leaf), not after all of them as an append would. Each
operation type is timed on a sample (all of them if cheap, fewer for the O(n)
ones) and the per-operation time is multiplied by its share of the mix.

>>> from tradeoff.index.experiment import compare, parse_mix
>>> df = compare(parse_mix("read:80,range:15,write:5"), keys=20_000, ops=2_000, kinds=["btree", "hash"])
>>> list(df["kind"])
['btree', 'hash']
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from ..harness.catalogue import Catalogue, Entry
from ..harness.errors import UserError

OPS = ("read", "range", "write")


def parse_mix(spec: str) -> dict[str, float]:
    """``"read:80,range:15,write:5"`` -> shares summing to 1. Weights are
    non-negative numbers (percentages or any proportions); at least one > 0."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, colon, val = item.partition(":")
        name = name.strip().lower()
        if name not in OPS:
            raise UserError(f"unknown operation {name!r} in --mix: choose from {', '.join(OPS)}")
        if not colon:
            raise UserError(f"bad --mix item {item!r}: write operation:weight, e.g. read:80")
        try:
            w = float(val)
        except ValueError:
            raise UserError(f"bad weight {val!r} for {name} in --mix: a number such as 80") from None
        if not w >= 0 or w == float("inf"):
            raise UserError(f"weight of {name} in --mix must be a finite number >= 0, got {val}")
        if name in out:
            raise UserError(f"{name} appears twice in --mix")
        out[name] = w
    total = sum(out.values())
    if total <= 0:
        raise UserError("--mix needs at least one operation with a weight above 0")
    return {op: out.get(op, 0.0) / total for op in OPS}


class _Btree:
    def __init__(self, keys):
        from ._btree import Int64BTree
        order = np.argsort(keys, kind="stable")
        t = Int64BTree.from_sorted(keys[order], order.tolist())
        self.t = t
        self.read = t.__getitem__            # bound directly: no wrapper call is timed
        self.range = t.keys_array
        self.insert = t.__setitem__
        self.delete = t.__delitem__

    def nbytes(self):
        return self.t.nbytes


class _Hash:
    """A hash index over a column of rows; a range has to scan the column."""

    def __init__(self, keys):
        from ._hashindex import HashIndex
        self.h = HashIndex(len(keys))
        self.h.insert_many(keys, np.arange(len(keys), dtype=np.int64))
        self.col = _Heap(keys)
        self.read = self.h.lookup
        self.range = self.col.range

    def insert(self, k, row):
        self.h.insert(k, self.col.n)
        self.col.insert(k, row)

    def delete(self, k):
        rows = self.h.lookup(k)
        self.h.delete(k)
        self.col.a[rows] = -1          # a tombstone (keys are >= 0): the index found the row

    def nbytes(self):
        return self.h.nbytes + self.col.nbytes()


class _Sorted:
    def __init__(self, keys):
        self.a = np.sort(keys)

    def read(self, k):
        i = np.searchsorted(self.a, k)
        return i if i < len(self.a) and self.a[i] == k else -1

    def range(self, lo, hi):
        return self.a[np.searchsorted(self.a, lo):np.searchsorted(self.a, hi, "right")].copy()

    def insert(self, k, row):
        self.a = np.insert(self.a, np.searchsorted(self.a, k), k)

    def delete(self, k):
        self.a = np.delete(self.a, np.searchsorted(self.a, k))

    def nbytes(self):
        return self.a.nbytes


class _Heap:
    """Rows in arrival order in a growable array: no index at all (keys >= 0;
    -1 marks a deleted row)."""

    def __init__(self, keys):
        self.a = np.empty(max(16, int(len(keys) * 1.25)), dtype=np.int64)
        self.n = len(keys)
        self.a[:self.n] = keys

    def read(self, k):
        hit = np.flatnonzero(self.a[:self.n] == k)
        return int(hit[0]) if hit.size else -1

    def range(self, lo, hi):
        col = self.a[:self.n]
        return np.sort(col[(col >= lo) & (col <= hi)])

    def insert(self, k, row):
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty_like(self.a)])
        self.a[self.n] = k
        self.n += 1

    def delete(self, k):
        i = int(np.flatnonzero(self.a[:self.n] == k)[0])
        self.n -= 1
        self.a[i] = self.a[self.n]

    def nbytes(self):
        return self.a.nbytes


#: the index kinds a query mix is timed on: the index area's catalogue
KINDS = Catalogue("index kind", [
    Entry("btree", "experiment._Btree", summary="the B+tree (Int64BTree): ordered, O(log n) for everything",
          peer="BTrees"),
    Entry("hash", "experiment._Hash", summary="the hash index over a column: O(1) equality; a range scans"),
    Entry("sorted", "experiment._Sorted", summary="a sorted numpy array: binary search; a write copies it"),
    Entry("scan", "experiment._Heap", summary="no index: every read and range scans the rows"),
], package="tradeoff.index")
# operations that cost O(n) per call are timed on fewer samples
_SLOW = {("hash", "range"), ("sorted", "write"), ("scan", "read"), ("scan", "range"), ("scan", "write")}


KEY_SPACE = 2 ** 40      # keys are drawn uniformly from [0, KEY_SPACE)


def write_keys(present: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` distinct keys drawn like the present ones (uniform over [0, KEY_SPACE)) but
    not among them: what a write inserts, at a random place in the key order."""
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        cand = rng.integers(0, KEY_SPACE, size=2 * (n - out.size) + 16, dtype=np.int64)
        cand = cand[~np.isin(cand, present)]
        out = np.unique(np.concatenate([out, cand]))
    return rng.permutation(out)[:n]


def _time_ops(fn: Callable, args: Sequence) -> float:
    t0 = time.perf_counter()
    for a in args:
        fn(*a)
    return (time.perf_counter() - t0) / max(len(args), 1)


def compare(mix: dict[str, float], *, keys: int = 1_000_000, ops: int = 100_000, range_size: int = 100,
            kinds: Sequence[str] = ("btree", "hash", "sorted", "scan"), seed: int = 0,
            progress: Callable[[str], None] | None = None):
    """Time each kind of index on the same keys and weight the times by ``mix``;
    one row per kind: build seconds, ns per read / range / write, ns per
    operation of the mix, memory, and ``best`` for the lowest mix cost."""
    import pandas as pd

    kinds = [c.name for c in KINDS.parse(list(kinds))]
    if keys < 2:
        raise UserError(f"--keys must be at least 2, got {keys}")
    if not 1 <= range_size <= keys:
        raise UserError(f"--range-size must be between 1 and the number of keys ({keys}), got {range_size}")
    rng = np.random.default_rng(seed)
    data = rng.choice(KEY_SPACE, size=keys, replace=False).astype(np.int64)
    ordered = np.sort(data)
    n_ops = {op: int(round(ops * mix[op])) for op in OPS}
    rows = []
    for i, kind in enumerate(kinds):
        if progress:
            progress(f"[{i + 1}/{len(kinds)}] {kind}: build over {keys:,} keys, then "
                     + ", ".join(f"{n:,} {op}s" for op, n in n_ops.items() if n))
        t0 = time.perf_counter()
        ix = KINDS.cls(kind)(data)
        build = time.perf_counter() - t0
        row = {"kind": kind, "keys": keys, "build_s": build, "memory_bytes": ix.nbytes()}
        cost = 0.0
        for op in OPS:
            want = n_ops[op]
            sample = min(want, 200 if (kind, op) in _SLOW else 20_000) if want else 0
            if not sample:
                row[f"{op}_ns"] = float("nan")
                continue
            if op == "read":
                args = [(int(k),) for k in data[rng.integers(0, keys, size=sample)]]
                per = _time_ops(ix.read, args)
            elif op == "range":
                starts = rng.integers(0, keys - range_size + 1, size=sample)
                args = [(int(ordered[s]), int(ordered[s + range_size - 1])) for s in starts]
                per = _time_ops(ix.range, args)
            else:
                fresh = write_keys(data, sample, rng).tolist()
                t0 = time.perf_counter()
                for j, k in enumerate(fresh):      # insert a new key, then delete it: the size stays put
                    ix.insert(k, keys + j)
                    ix.delete(k)
                per = (time.perf_counter() - t0) / (2 * sample)
            row[f"{op}_ns"] = per * 1e9
            cost += mix[op] * per * 1e9
        row["mix_ns"] = cost
        rows.append(row)
    df = pd.DataFrame(rows)
    df["best"] = df["mix_ns"] == df["mix_ns"].min()
    return df


def advice(df, mix: dict[str, float], range_size: int) -> str:
    """Which kind to choose for the mix, and why, in a few sentences."""
    order = df.sort_values("mix_ns").to_dict("records")
    best = order[0]
    lines = [f"choose {best['kind']}: {_ns(best['mix_ns'])} per operation of this mix"]
    for other in order[1:]:
        ratio = other["mix_ns"] / best["mix_ns"]
        # the operation that costs the other kind the most, weighted by the mix
        worst = max((op for op in OPS if mix[op] > 0),
                    key=lambda op: mix[op] * (other[f"{op}_ns"] - best[f"{op}_ns"]))
        faster = [op for op in OPS if mix[op] > 0 and other[f"{op}_ns"] < best[f"{op}_ns"]]
        why = (f"{worst}s cost {_ns(other[f'{worst}_ns'])} each against {_ns(best[f'{worst}_ns'])}"
               f" ({100 * mix[worst]:.0f}% of the mix)")
        if worst == "range" and other["kind"] == "hash":
            why += ": a hash index cannot serve a range, it scans every key"
        if worst == "write" and other["kind"] == "sorted":
            why += ": every write copies the whole array (np.insert and np.delete build a new one)"
        extra = f"; it is faster at {' and '.join(op + 's' for op in faster)}" if faster else ""
        lines.append(f"  {other['kind']} is {ratio:.1f}x slower: {why}{extra}")
    return "\n".join(lines)


def _ns(x: float) -> str:
    if x != x:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} ms"
    if x >= 1e3:
        return f"{x / 1e3:.2f} us"
    return f"{x:.0f} ns"


def write_results(df, path, *, mix: dict[str, float], range_size: int, ops: int, seed: int = 0) -> None:
    """The comparison as a results file that ``tradeoff report``/``compare`` read: one
    scenario per index kind, headline metric the cost of one operation of the mix."""
    from ..harness import results

    label = mix_label(mix)
    # "kind" names a case's kind in results files: the index kind is stored as "index"
    rows = [{**{k: v for k, v in r.items() if k != "kind"}, "index": r["kind"], "mix": label,
             "seconds": r["build_s"]} for r in df.to_dict("records")]
    results.write_rows(rows, path, suite="simulate-index", func="index", params=("mix", "keys", "index"),
                       compare="index", headline=("mix_ns",),
                       config={"range_size": range_size, "ops": ops, "seed": seed})


def mix_label(mix: dict[str, float]) -> str:
    """``{"read": 0.8, "range": 0.15, ...}`` -> ``read:80,range:15``."""
    return ",".join(f"{op}:{100 * w:g}" for op, w in mix.items() if w)


def table(df, fmt: str = "table") -> str:
    """One row per kind: build time, ns per operation type, the mix's cost, memory."""
    from ..harness.report import format_table

    headers = ["kind", "build", "read", "range", "write", "mix", "memory"]
    rows = []
    for r in df.to_dict("records"):
        rows.append([r["kind"] + (" *" if r["best"] else ""), f"{r['build_s'] * 1e3:.1f} ms", _ns(r["read_ns"]),
                     _ns(r["range_ns"]), _ns(r["write_ns"]), _ns(r["mix_ns"]),
                     f"{r['memory_bytes'] / 2 ** 20:.1f} MiB"])
    return format_table(headers, rows, fmt, align=["l"] + ["r"] * (len(headers) - 1))


def run(*, mix: str = "read:80,range:15,write:5", keys="1e6", ops="1e5", range_size: int = 100,
        kinds: str = "btree,hash,sorted,scan", seed: int = 0, output: str | None = None,
        fmt: str = "table", progress: Callable[[str], None] | None = None):
    """``tradeoff simulate index``: the options as typed -> an
    :class:`~tradeoff.harness.outputs.Outcome` (header, table, the choice and why; the
    results file; the DataFrame). The output is checked first; bad input is a UserError."""
    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..harness.specs import parse_count

    shares = parse_mix(mix)
    n_keys = parse_count(keys, "--keys")
    n_ops = parse_count(ops, "--ops")
    kind_list = [c.name for c in KINDS.parse(kinds)]
    out = Outputs(output or default_output("simulate-index"))
    df = compare(shares, keys=n_keys, ops=n_ops, range_size=range_size, kinds=kind_list, seed=seed,
                 progress=progress)
    with out.writing() as tmp:
        write_results(df, tmp.results, mix=shares, range_size=range_size, ops=n_ops, seed=seed)
    header = (f"{n_keys:,} int64 keys; mix {mix_label(shares)}; a range returns {range_size:,} keys; "
              f"writes insert a random new key, then delete it; time per operation, * = lowest for the mix")
    return Outcome([header, table(df, fmt), "", advice(df, shares, range_size)], out.written, df)
