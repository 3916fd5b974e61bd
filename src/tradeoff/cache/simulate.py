"""Which eviction policy, and at what size: replays of one trace on a grid of
policies and sizes, in parallel across processes, as a DataFrame and a plot.

>>> from tradeoff.workloads import zipf
>>> from tradeoff.cache.simulate import sweep
>>> df = sweep(zipf(20_000, 2_000, 0.9, seed=1), ["lru", "s3fifo"], [100, 400], jobs=1)
>>> list(df.columns[:4])
['policy', 'size', 'requests', 'hits']
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from ..harness.errors import UserError
from ..harness.specs import Choice
from ._replay import POLICY_SPECS, replay


# a policy with parameters (kept under its old name: results and tests use it)
PolicyChoice = Choice


def parse_policies(spec: str | Sequence[str]) -> list[PolicyChoice]:
    """``"lru,arc,s3fifo:small_ratio=0.2"`` -> policy choices; ``all`` means every
    policy. Parameters follow the name, each after a colon. Bad names and values raise
    UserError (values are checked by building a small engine, before any replay)."""
    return POLICY_SPECS.parse_checked(spec, lambda choice: POLICY_SPECS.build(choice, 10, 10, False))


def parse_sizes(spec: str | Sequence, distinct: int, grid_ok: bool = False) -> list[int]:
    """``"100,1000"`` (objects, or bytes with sizes) or ``"0.1%,1%,10%"`` (of the
    distinct keys); sorted, duplicates dropped. Bad sizes raise UserError
    (``grid_ok``: percentages below one object are dropped instead)."""
    return list(parse_sizes_labeled(spec, distinct, grid_ok))


def parse_sizes_labeled(spec: str | Sequence, distinct: int, grid_ok: bool = False) -> dict[int, str | None]:
    """:func:`parse_sizes` as ``{size: the percentage asked for, or None}``, sorted by size,
    so that a table can show both (``1%`` and the 26 objects it is)."""
    items = spec.split(",") if isinstance(spec, str) else [str(s) for s in spec]
    out: dict[int, str | None] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        pct_label = None
        if item.endswith("%"):
            try:
                pct = float(item[:-1])
            except ValueError:
                raise UserError(f"bad size {item!r}: a whole number or a percentage such as 1%") from None
            if not (0 < pct <= 100) or math.isnan(pct):
                raise UserError(f"size {item} is outside (0%, 100%]")
            size = round(pct / 100 * distinct)
            if size < 1:
                if grid_ok:
                    continue
                raise UserError(f"size {item} of {distinct} distinct keys is below one object")
            pct_label = f"{pct:.3g}%"
        else:
            try:
                size = int(float(item)) if "e" in item.lower() else int(item)
            except ValueError:
                raise UserError(f"bad size {item!r}: a whole number or a percentage such as 1%") from None
            if size < 1:
                raise UserError(f"size {item} is below 1")
        if out.get(size) is None:
            out[size] = pct_label
    if not out:
        raise UserError("no size given")
    return dict(sorted(out.items()))


def grid_spec(points: int) -> list[str]:
    """``points`` percentages spaced evenly on a log scale from 0.1% to 100% (``--grid``)."""
    return [f"{p:.6g}%" for p in np.geomspace(0.1, 100, points)]


@dataclass
class SizePlan:
    """The cache sizes of a sweep, resolved against the trace (:func:`plan_sizes`)."""
    labels: dict          # size -> the percentage asked for, or None
    unit: str             # "objects" or "bytes"
    distinct: int         # distinct keys in the trace
    total: int            # what 100% is: distinct keys, or bytes of the distinct objects
    note: str | None      # said once when the largest size holds everything

    @property
    def sizes(self) -> list[int]:
        return list(self.labels)


def plan_sizes(keys, size_spec: str | Sequence, *, grid: int | None = None, object_sizes=None) -> SizePlan:
    """Resolve ``--size`` (or ``--grid N``) against a trace: percentages are of the
    distinct keys, or with ``object_sizes`` of the bytes of the distinct objects (each
    at its first size)."""
    if grid:
        size_spec = grid_spec(grid)
    uniq, first = np.unique(keys, return_index=True)
    distinct = int(uniq.size)
    if object_sizes is not None:
        total = int(np.maximum(np.asarray(object_sizes)[first].astype(np.int64), 1).sum())
        unit, what = "bytes", f"every object ({total:,} bytes)"
    else:
        total, unit, what = distinct, "objects", f"all {distinct:,} distinct keys"
    labels = parse_sizes_labeled(size_spec, total, grid_ok=bool(grid))
    largest = max(labels)
    note = (f"size {largest:,} holds {what}: only cold misses remain" if largest >= total else None)
    return SizePlan(labels, unit, distinct, total, note)


WORKLOADS = ("zipf", "uniform", "scan", "hotspot")


def parse_workload(spec: str, seed: int = 0) -> np.ndarray:
    """``"zipf:alpha=0.9,objects=1e6,requests=1e7"`` -> the generated keys."""
    from .. import workloads

    name, _, rest = spec.partition(":")
    if name not in WORKLOADS:
        raise UserError(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")
    args: dict = {"requests": 1_000_000, "objects": 100_000}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = pair.partition("=")
        if not eq:
            raise UserError(f"bad workload parameter {pair!r}: write name=value")
        try:
            args[key] = float(val)
        except ValueError:
            raise UserError(f"workload parameter {key}={val!r} is not a number") from None
    kwargs = {"n_requests": int(args.pop("requests")), "n_objects": int(args.pop("objects")),
              "seed": int(args.pop("seed", seed))}
    if name in ("zipf", "hotspot") and "alpha" in args:
        kwargs["alpha"] = args.pop("alpha")
    if args:
        raise UserError(f"unknown parameter {sorted(args)[0]!r} for workload {name!r} "
                        f"(it takes requests, objects, seed{', alpha' if name in ('zipf', 'hotspot') else ''})")
    try:
        return getattr(workloads, name)(**kwargs)
    except (ValueError, TypeError) as exc:
        raise UserError(f"workload {spec!r}: {exc}") from None


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``rows`` holds the replays that had finished (a DataFrame)."""

    def __init__(self, rows):
        super().__init__()
        self.rows = rows


def _one(task, shared):
    label, name, params, size = task
    t0 = time.perf_counter()
    r = replay(shared["keys"], name, size, sizes=shared["sizes"], times=shared["times"],
               ttl=shared["ttl"], **params)
    elapsed = time.perf_counter() - t0
    return {"policy": label, "size": size, "requests": r.requests, "hits": r.hits,
            "hit_ratio": r.hit_ratio, "miss_ratio": r.miss_ratio,
            "byte_miss_ratio": r.byte_miss_ratio, "expired": r.expired,
            "memory_bytes": r.memory_bytes, "seconds": elapsed}


def sweep(keys, policies: Iterable, sizes: Iterable[int], *, sizes_arr=None, times=None,
          ttl=None, jobs: int | None = None, cluster: str | None = None, cluster_data: str = "scatter",
          progress: Callable[[int, int, dict], None] | None = None):
    """Replay ``keys`` through every policy at every size; return a DataFrame with
    one row per (policy, size): requests, hits, hit_ratio, miss_ratio,
    byte_miss_ratio, expired, memory_bytes, the seconds the replay took and
    ``ran_on`` (``"local"``, or the dask worker's address).

    ``policies`` are names or :class:`PolicyChoice`; ``sizes_arr``/``times``/``ttl``
    go to :func:`replay`. ``jobs`` processes run the replays (default: the number
    of cores; 1 runs them here); workers are forked, so the trace is shared, not
    copied. ``cluster`` (``tcp://host:port`` or ``local:N``) runs them on dask instead,
    the trace sent once as ``cluster_data`` says (:mod:`tradeoff.harness.cluster`).
    ``progress(done, total, row)`` is called as each replay finishes. Ctrl-C raises
    :class:`SweepInterrupted` holding the finished rows.
    """
    import pandas as pd

    from ..harness.cluster import executor

    choices = [p if isinstance(p, PolicyChoice) else PolicyChoice(p) for p in policies]
    sizes = list(sizes)
    tasks = [(c.label, c.name, c.params, int(size)) for c in choices for size in sizes]
    # the largest replays first, so that the pool's tail is short
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i][3])
    shared = {"keys": keys, "sizes": sizes_arr, "times": times, "ttl": ttl}
    rows: list = [None] * len(tasks)
    with executor(cluster, jobs=jobs, data=cluster_data) as ex:
        try:
            for done, (k, row, ran_on) in enumerate(ex.map(_one, [tasks[i] for i in order], shared), 1):
                rows[order[k]] = {**row, "ran_on": ran_on}
                if progress:
                    progress(done, len(tasks), rows[order[k]])
        except KeyboardInterrupt:
            raise SweepInterrupted(pd.DataFrame([r for r in rows if r is not None])) from None
    return pd.DataFrame(rows)


def plot_curves(df, path, *, title: str = "", x: str = "size", y: str = "miss_ratio",
                sampled: float | None = None) -> None:
    """Miss ratio against cache size, one line per policy; PNG or SVG by the
    file's extension; written atomically. ``sampled``: the SHARDS rate the curve
    was estimated at, said in the title and the legend."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    for label, part in df.groupby("policy", sort=False):
        part = part.sort_values(x)
        style = {"color": "black", "linestyle": "--"} if str(label).startswith("belady") else {}
        ax.plot(part[x], part[y], marker="o" if len(part) < 30 else None, label=str(label), **style)
    if df[x].max() / max(df[x].min(), 1) >= 20:
        ax.set_xscale("log")
    ax.set_xlabel("cache size (bytes)" if "byte" in y else "cache size (objects)")
    ax.set_ylabel(y.replace("_", " "))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if sampled is not None:
        title = f"{title} (SHARDS estimate, sampling rate {format_rate(sampled)})".lstrip()
    if title:
        ax.set_title(title)
    if df["policy"].nunique() > 1:
        ax.legend()
    save_figure(fig, path)


def format_rate(rate: float) -> str:
    """A sampling rate as people write it: ``0.01`` -> ``1%``, ``0.001`` -> ``0.1%``."""
    return f"{100 * rate:.4g}%"


def write_results(df, path, *, trace: str, suite: str = "simulate-cache",
                  extra: dict | None = None, config: dict | None = None,
                  byte_sizes: bool = False) -> None:
    """Write a sweep as a results file (pyperf JSON with one scenario per policy
    and size), so that ``tradeoff report`` and ``tradeoff compare`` read it.
    The timing of each entry is the replay's wall time. The headline metric is
    the miss ratio (the byte miss ratio with ``byte_sizes``); ``requests``, the
    same in every row, is configuration, with ``config``."""
    from ..harness import results

    rows = [{"trace": trace, **row, "size": int(row["size"])} for row in df.to_dict("records")]
    conf = {"requests": int(df["requests"].iloc[0]) if len(df) else 0,
            "size_unit": "bytes" if byte_sizes else "objects", **(config or {})}
    results.write_rows(rows, path, suite=suite, func="replay", params=("trace", "size", "policy"),
                       compare="policy", extra=extra, config=conf,
                       headline=("byte_miss_ratio",) if byte_sizes else ("miss_ratio",))


def hit_ratio_table(df, fmt: str = "table", value: str = "hit_ratio",
                    labels: dict | None = None, unit: str = "objects") -> str:
    """Policies down, sizes across, hit ratios in percent (the best per size marked *,
    Belady excluded since no online policy can reach it). A size asked for as a
    percentage shows both: ``1% (26 objects)``; ``labels`` maps size -> percentage."""
    from ..harness.report import format_table

    sizes = sorted(df["size"].unique())
    pivot = df.pivot_table(index="policy", columns="size", values=value, sort=False)
    online = [p for p in pivot.index if not p.startswith("belady")]
    best = {s: pivot.loc[online, s].max() for s in sizes} if online else {}
    rows = []
    for policy in pivot.index:
        cells = [policy]
        for s in sizes:
            v = pivot.loc[policy, s]
            mark = "*" if policy in online and v == best.get(s) else ""
            cells.append(f"{100 * v:.2f}{mark}")
        rows.append(cells)
    short = {"objects": "obj", "bytes": "B"}.get(unit, unit)
    labels = labels or {}
    headers = ["policy"] + [f"{labels[s]} ({s:,} {short})" if labels.get(s) else f"{s:,} {short}"
                            for s in sizes]
    return format_table(headers, rows, fmt, ["l"] + ["r"] * len(sizes))


def run(*, trace: str | None = None, trace_format: str | None = None, read_options: Sequence[str] = (),
        workload: str | None = None, policy: str = "all", size: str = "0.1%,1%,10%",
        grid: int | None = None, use_bytes: bool = False, ttl: int | None = None, jobs: int | None = None,
        cluster: str | None = None, cluster_data: str = "scatter",
        seed: int = 0, plot: str | None = None, output: str | None = None, fmt: str = "table",
        progress: Callable[[str], None] | None = None, note: Callable[[str], None] | None = None):
    """``tradeoff simulate cache``: the options as the user typed them -> an
    :class:`~tradeoff.harness.outputs.Outcome` (the hit-ratio table's lines, the files
    written, the sweep's DataFrame). Outputs are checked before any replay; the results
    file and the plot are written both or neither. Bad input raises UserError."""
    from pathlib import Path

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..traces import parse_read_options, read

    note = note or (lambda line: None)
    if (trace is None) == (workload is None):
        raise UserError("give either --trace FILE or --workload SPEC")
    policies = parse_policies(policy)
    if cluster is not None:
        from ..harness.cluster import parse_data, parse_spec
        parse_spec(cluster), parse_data(cluster_data)                   # before any work
    out = Outputs(output or default_output("simulate-cache"), plot)    # before any work
    sizes_arr = times = None
    if trace:
        tr = read(trace, format=trace_format, **parse_read_options(read_options))
        keys, name = tr.keys, Path(trace).name
        if use_bytes:
            if tr.sizes is None:
                raise UserError(f"{trace}: the trace has no object sizes (--bytes needs them)")
            sizes_arr = tr.sizes
        if ttl is not None:
            if tr.times is None:
                raise UserError(f"{trace}: the trace has no timestamps (--ttl needs them)")
            times = tr.times
    else:
        if use_bytes or ttl is not None:
            raise UserError("--bytes and --ttl need a trace with sizes and times (--trace)")
        keys, name = parse_workload(workload, seed), workload
    if len(keys) == 0:
        raise UserError(f"{name}: the trace is empty")
    sp = plan_sizes(keys, size, grid=grid, object_sizes=sizes_arr)
    if sp.note:
        note(f"note: {sp.note}")
    if progress:
        progress(f"{name}: {len(keys):,} requests, {sp.distinct:,} distinct keys; "
                 f"{len(policies)} policies x {len(sp.sizes)} sizes"
                 + (f"; on dask ({cluster})" if cluster else ""))

    def shown(done, total, row):
        where = "" if row["ran_on"] == "local" else f" on {row['ran_on']}"
        progress(f"[{done}/{total}] {row['policy']} @ {row['size']:,}: hit ratio "
                 f"{100 * row['hit_ratio']:.2f}% ({row['seconds']:.2f} s{where})")
    config = {"distinct": sp.distinct, **({"ttl": ttl} if ttl is not None else {}),
              **({"workload_seed": seed} if workload else {})}

    def write(df, interrupted=False):
        extra = {"tradeoff_distinct": sp.distinct, **({"tradeoff_interrupted": 1} if interrupted else {})}
        with out.writing() as tmp:
            write_results(df, tmp.results, trace=name, extra=extra, config=config, byte_sizes=use_bytes)
            if tmp.plot:
                plot_curves(df, tmp.plot, title=name, y="byte_miss_ratio" if use_bytes else "miss_ratio")
    try:
        df = sweep(keys, policies, sp.sizes, sizes_arr=sizes_arr, times=times, ttl=ttl, jobs=jobs,
                   cluster=cluster, cluster_data=cluster_data, progress=shown if progress else None)
    except SweepInterrupted as stop:
        if len(stop.rows):                 # keep the finished rows, then stop as interrupted
            write(stop.rows, interrupted=True)
            note(f"interrupted: kept the {len(stop.rows)} finished replays of "
                 f"{len(policies) * len(sp.sizes)} in {', '.join(map(str, out.written))}")
        raise
    write(df)
    what = "byte hit ratio" if use_bytes else "hit ratio"
    pct_of = "of the bytes of the distinct objects" if use_bytes else f"of the {sp.distinct:,} distinct keys"
    header = (f"{what} (%) by cache size in {sp.unit}"
              + (f" (a percentage is {pct_of})" if any(sp.labels.values()) else "")
              + "; * = best online policy at that size")
    table = hit_ratio_table(df.assign(hit_ratio=1 - df.byte_miss_ratio) if use_bytes else df, fmt,
                            labels=sp.labels, unit=sp.unit)
    return Outcome([header, table], out.written, df)


def run_mrc(*, trace: str, trace_format: str | None = None, read_options: Sequence[str] = (),
            sample: float | None = None, plot: str | None = None, output: str | None = None,
            note: Callable[[str], None] | None = None):
    """``tradeoff mrc``: the exact LRU miss-ratio curve of a trace (or its SHARDS
    estimate) -> an Outcome: a summary line and a table of a dozen sizes; the whole
    curve as CSV in ``output``, drawn in ``plot`` (both or neither)."""
    from pathlib import Path

    from ..harness.outputs import Outcome, Outputs
    from ..harness.report import format_table
    from ..traces import parse_read_options, read
    from .curves import MIN_SAMPLED_KEYS, mrc

    note = note or (lambda line: None)
    out = Outputs(output, plot)            # before the work: a bad path fails at once
    tr = read(trace, format=trace_format, **parse_read_options(read_options))
    name = Path(trace).name
    try:
        curve = mrc(tr.keys, sample=sample)
    except ValueError as exc:
        raise UserError(f"{name}: {exc}") from None
    a = curve.attrs
    approx = "" if sample is None else "about "
    line = f"{name}: {a.get('requests', len(tr.keys)):,} requests, {approx}{a.get('distinct', 0):,} distinct keys"
    if sample is not None:
        err = a.get("error_estimate")
        line += (f"; SHARDS sample at rate {format_rate(sample)}: {a.get('sampled_distinct', 0):,} keys, "
                 f"{a.get('sampled_requests', 0):,} requests"
                 + (f", estimated error {100 * err:.2f} points" if err is not None and err == err else ""))
        if a.get("sampled_distinct", 0) < 10 * MIN_SAMPLED_KEYS:
            note(f"note: only {a.get('sampled_distinct', 0):,} keys were sampled: expect an error of "
                 f"several points; a rate that samples {10 * MIN_SAMPLED_KEYS:,} or more is steadier")
    with out.writing() as tmp:
        if tmp.results:
            tmp.results.write_text(curve.to_csv(index=False), encoding="utf-8")
        if tmp.plot:
            plot_curves(curve.assign(policy="lru"), tmp.plot, title=f"{name}: LRU miss-ratio curve",
                        sampled=sample)
    sizes = curve["size"].to_numpy()
    picks = np.unique(np.geomspace(sizes[0], sizes[-1], num=min(12, len(sizes))).round().astype(np.int64))
    rows = curve.set_index("size").reindex(picks, method="nearest")
    table = format_table(["size (objects)", "miss ratio"],
                         [[f"{s:,}", f"{100 * m:.2f}%"] for s, m in zip(rows.index, rows["miss_ratio"])],
                         "table", ["r", "r"])
    return Outcome([line, table], out.written, curve)
