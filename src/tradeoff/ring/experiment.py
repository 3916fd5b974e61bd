"""Which partitioner: spread, movement, speed and memory of several partitioners
on the same keys, as a DataFrame (what ``tradeoff simulate ring`` prints).

>>> from tradeoff.ring.experiment import compare, parse_partitioners
>>> df = compare(parse_partitioners("modn,jump"), nodes=10, keys=20_000, add=1)
>>> list(df["partitioner"]), bool(df.loc[1, "moved"] < 0.2 < df.loc[0, "moved"])
(['modn', 'jump'], True)
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from ..harness.errors import UserError
from ..harness.catalogue import Catalogue, Choice, Entry

#: every partitioner the experiments know: the ring area's catalogue (defaults None: the class's own)
PARTITIONERS = Catalogue("partitioner", [
    Entry("modn", "_simple.ModN", summary="hash mod N: even, but almost every key moves on a change",
          aliases=("mod", "mod-n")),
    Entry("range", "_simple.RangePartitioner", summary="equal ranges of the 64-bit hash space"),
    Entry("ring", "_hashring.HashRing", {"vnodes": 160, "hash": None, "load_factor": None},
          summary="consistent-hash ring with virtual nodes (Karger et al., STOC 1997); bounded loads",
          peer="uhashring", aliases=("hashring", "consistent")),
    Entry("ketama", "_hashring.HashRing", fixed={"compat": "ketama"}, peer="uhashring-ketama",
          summary="the ring as libketama builds it (MD5, 160 points per node)"),
    Entry("jump", "_jump.JumpHash", summary="jump consistent hash (Lamping and Veach, 2014)",
          peer="jump-consistent-hash", aliases=("jumphash",)),
    Entry("rendezvous", "_rendezvous.Rendezvous", summary="highest random weight (Thaler and Ravishankar, 1998)",
          aliases=("hrw",)),
    Entry("maglev", "_maglev.Maglev", {"table_size": 65537},
          summary="Maglev lookup table (Eisenbud et al., NSDI 2016)"),
    Entry("multiprobe", "_multiprobe.MultiProbe", {"probes": 21},
          summary="multi-probe consistent hashing (Appleton and O'Reilly, 2015)", aliases=("multi-probe",)),
], package="tradeoff.ring")


def node_names(n: int, start: int = 0) -> list[str]:
    """The node names experiments use: ``node0000``, ``node0001``, ..."""
    return [f"node{i:04d}" for i in range(start, start + n)]


def even_boundaries(n: int) -> list[int]:
    """n - 1 boundaries that split the signed 64-bit range into n equal ranges
    (what a range partitioner over hashed keys would use)."""
    edges = np.linspace(-(2.0 ** 63), 2.0 ** 63, n + 1)[1:-1]
    return [int(e) for e in edges]


def parse_partitioners(spec: str | Sequence[str]) -> list[Choice]:
    """``"jump,ring:vnodes=100,maglev"`` -> choices; bad names, parameters or
    values raise UserError (values are checked by building a small instance)."""
    return PARTITIONERS.parse_checked(spec, lambda choice: make(choice, 3))


def make(choice: Choice | str, nodes: int | Sequence[str]):
    """Build the partitioner ``choice`` over ``nodes`` (a count or names)."""
    choice = PARTITIONERS.choice(choice)
    names = node_names(nodes) if isinstance(nodes, int) else list(nodes)
    if choice.name == "range":
        return PARTITIONERS.build(choice, names, even_boundaries(len(names)))
    return PARTITIONERS.build(choice, names)


def make_keys(n: int, key_type: str = "int", seed: int = 0):
    """``n`` distinct keys: random 64-bit integers (an int64 array) or strings
    ``"key:<i>"`` (a list)."""
    if key_type == "int":
        rng = np.random.default_rng(seed)
        return rng.integers(-(2 ** 63), 2 ** 63 - 1, size=n, dtype=np.int64, endpoint=True)
    if key_type == "str":
        return [f"key:{i}" for i in range(n)]
    raise UserError(f"key type is int or str, not {key_type!r}")


def _timed(fn: Callable):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def compare(choices: Sequence[Choice], *, nodes: int = 100, keys=1_000_000, add: int = 0,
            remove: int = 0, key_type: str = "int", seed: int = 0,
            progress: Callable[[str], None] | None = None):
    """Measure each partitioner on the same keys: spread over ``nodes`` nodes
    (coefficient of variation, peak-to-average, min-to-average of keys per
    node), build time, lookup time per key (``lookup_many``), memory, and with
    ``add``/``remove`` the fraction of keys that move when that many nodes are
    added (new names) or removed (the last ones), beside the share a perfectly
    balanced partitioner moves, ``expected``: add/(nodes+add), or remove/nodes. It
    is an expectation, not a lower bound: a ring whose new node happens to get a
    small arc moves fewer keys than that (and is unbalanced by as much)."""
    import pandas as pd

    from .metrics import movement, spread

    if nodes < 1:
        raise UserError(f"--nodes must be at least 1, got {nodes}")
    if add and remove:
        raise UserError("give --add or --remove, not both")
    if remove >= nodes:
        raise UserError(f"cannot remove {remove} of {nodes} nodes: it would leave no node")
    key_arr = make_keys(keys, key_type, seed) if isinstance(keys, int) else keys
    n_keys = len(key_arr)
    rows = []
    for i, choice in enumerate(choices):
        if progress:
            progress(f"[{i + 1}/{len(choices)}] {choice.label}: {nodes} nodes, {n_keys:,} keys")
        part, build_s = _timed(lambda: make(choice, nodes))
        idx, lookup_s = _timed(lambda: part.lookup_many(key_arr))
        s = spread(part, key_arr)
        row = {"partitioner": choice.label, "nodes": nodes, "keys": n_keys,
               "cv": s.cv, "peak_to_avg": s.peak_to_average, "min_to_avg": s.min_to_average,
               "build_s": build_s, "lookup_ns": lookup_s / max(n_keys, 1) * 1e9,
               "memory_bytes": getattr(part, "nbytes", float("nan"))}
        if add or remove:
            after = make(choice, nodes)
            if add:
                new = node_names(add, start=nodes)
                _, update_s = _timed(lambda: [after.add(n) for n in new])
                expected = add / (nodes + add)
            else:
                gone = node_names(nodes)[nodes - remove:]
                _, update_s = _timed(lambda: [after.remove(n) for n in gone])
                expected = remove / nodes
            m = movement(part, after, key_arr)
            row.update({"change": f"+{add}" if add else f"-{remove}", "moved": m.fraction,
                        "expected": expected, "moved_over_expected": m.fraction / expected,
                        "update_s": update_s})
        rows.append(row)
        del idx
    return pd.DataFrame(rows)


def write_results(df, path, *, key_type: str = "int", seed: int = 0) -> None:
    """The comparison as a results file that ``tradeoff report``/``compare`` read: one
    scenario per partitioner; headline metrics the spread (stdev/mean) and, after a
    change of nodes, the share of keys moved."""
    from ..harness import results

    rows = [{**r, "key_type": key_type, "seconds": r["build_s"]} for r in df.to_dict("records")]
    first = rows[0] if rows else {}
    config = {"seed": seed, **({"change": first["change"]} if "change" in first else {})}
    results.write_rows(rows, path, suite="simulate-ring", func="partition",
                       params=("nodes", "keys", "key_type", "partitioner"), compare="partitioner",
                       headline=("cv", "moved") if "moved" in first else ("cv",), config=config)


COLUMNS = [("partitioner", "partitioner", None), ("cv", "stdev/mean", "pct"),
           ("peak_to_avg", "peak/avg", "x"), ("min_to_avg", "min/avg", "x"),
           ("moved", "moved", "pct"), ("expected", "expected", "pct"),
           ("build_s", "build", "time"), ("lookup_ns", "ns/key", "ns"),
           ("memory_bytes", "memory", "bytes")]


def table(df, fmt: str = "table") -> str:
    """The comparison as text: one row per partitioner."""
    from ..harness.report import format_table

    cols = [c for c in COLUMNS if c[0] in df.columns]
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for key, _, kind in cols:
            v = rec[key]
            if kind == "pct":
                cells.append(f"{100 * v:.2f}%")
            elif kind == "x":
                cells.append(f"{v:.3f}")
            elif kind == "time":
                cells.append(f"{v * 1e3:.2f} ms")
            elif kind == "ns":
                cells.append(f"{v:.1f}")
            elif kind == "bytes":
                cells.append("-" if v != v else _bytes(v))
            else:
                cells.append(str(v))
        rows.append(cells)
    return format_table([c[1] for c in cols], rows, fmt, align=["l"] + ["r"] * (len(cols) - 1))


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def run(*, partitioner: str = "all", nodes: int = 100, keys="1e6", add: int | None = None,
        remove: int | None = None, key_type: str = "int", seed: int = 0, output: str | None = None,
        fmt: str = "table", progress: Callable[[str], None] | None = None):
    """``tradeoff simulate ring``: the options as typed -> an
    :class:`~tradeoff.harness.outputs.Outcome` (a header line and the table, the results
    file, the DataFrame). The output is checked before any work; bad input is a UserError."""
    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..harness.specs import parse_count

    n_keys = parse_count(keys, "--keys")
    choices = parse_partitioners(partitioner)
    out = Outputs(output or default_output("simulate-ring"))
    df = compare(choices, nodes=nodes, keys=n_keys, add=add or 0, remove=remove or 0,
                 key_type=key_type, seed=seed, progress=progress)
    with out.writing() as tmp:
        write_results(df, tmp.results, key_type=key_type, seed=seed)
    change = (f", then {'+' + str(add) if add else '-' + str(remove)} node(s); expected = the share of "
              f"keys a perfectly balanced partitioner moves (an average, not a lower bound)"
              if (add or remove) else "")
    return Outcome([f"{n_keys:,} {key_type} keys over {nodes} nodes{change}", table(df, fmt)], out.written, df)
