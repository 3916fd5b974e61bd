"""The replication area's command-line entry point, ``tradeoff simulate replication``:
one row per replication scheme on the same workload and the same delays.

Schemes: ``leader:async``, ``leader:semisync`` (one follower must acknowledge),
``leader:semisync=K``, ``leader:sync``. Multi-leader and leaderless schemes and
network partitions are not built yet (issue 11); naming one is a clear error.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..harness.errors import UserError

Note = Callable[[str], None]

#: scheme families and whether they are built
FAMILIES = {"leader": True, "multileader": False, "leaderless": False}


def parse_schemes(spec: str) -> list[tuple[str, str]]:
    """``"leader:async,leader:semisync=2"`` -> [("leader:async", "async"), ...]
    (the label and the single-leader mode)."""
    out = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        family, _, mode = item.partition(":")
        if family not in FAMILIES:
            raise UserError(f"unknown scheme {item!r}: write leader:async, leader:semisync[=K] or leader:sync")
        if not FAMILIES[family]:
            raise UserError(f"scheme {item!r}: {family} replication is not built yet (issue 11); "
                            f"leader:async, leader:semisync[=K] and leader:sync are")
        out.append((item, mode or "async"))
    if not out:
        raise UserError("no scheme given")
    return out


def delays_for(spec: str, seed: int = 0) -> object:
    """One-way delays: the single-leader simulator's own specs ("exp:mean=1ms",
    "const:1ms", "1ms") or a named latency of :mod:`.latency` (the PBS paper's
    fits, "lognormal:...", ...), sampled once into an array the simulator
    resamples from."""
    from .leader import parse_delays

    try:
        parse_delays(spec)
        return spec
    except ValueError as first:
        try:
            from .latency import parse_latency
        except ImportError:
            raise UserError(str(first)) from None
        try:
            dist = parse_latency(spec)
        except ValueError as exc:
            raise UserError(f"bad --latency {spec!r}: {exc}") from None
        rng = np.random.default_rng(seed ^ 0x6C6174)
        sample = np.asarray(dist.sample("W", 1 << 18, rng), dtype=float)
        unit = getattr(dist, "unit", "s")
        return sample / 1e3 if unit == "ms" else sample


def run_replication(*, scheme: str = "leader:async,leader:semisync,leader:sync", n: int = 3,
                    reads: str = "follower", clients: int = 10, ops="1e6", read_fraction: float = 0.9,
                    keys: int = 1000, skew: float = 0.0, latency: str = "exp:mean=1ms", crash=None,
                    detect: float = 0.5, seed: int = 0, history: str | None = None, plot: str | None = None,
                    output: str | None = None, fmt: str = "table", progress: Note | None = None):
    """``tradeoff simulate replication``: the options as typed -> an Outcome."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs, check_writable
    from ..harness.run import default_output
    from ..harness.specs import parse_count, parse_duration
    from .leader import simulate

    schemes = parse_schemes(scheme)
    n_ops = parse_count(ops, "--ops")
    crash_at = None
    if crash:
        try:
            crash_at = [parse_duration(c.strip(), "--crash") for c in str(crash).split(",") if c.strip()]
        except ValueError as exc:
            raise UserError(str(exc)) from None
    delays = delays_for(latency, seed)
    if history is not None:
        check_writable(history, "the history")
        if len(schemes) != 1:
            raise UserError("--history records one scheme's run: give one --scheme")
    from .leader import _build

    settings = dict(n=n, reads=reads, clients=clients, ops=n_ops, read_fraction=read_fraction, keys=keys,
                    skew=skew, delays=delays, crash_at=crash_at, detect=detect, seed=seed)
    for _, mode in schemes:            # every setting checked before any run
        try:
            _build(mode=mode, **settings)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    out = Outputs(output or default_output("simulate-replication"), plot)
    runs = []
    for label, mode in schemes:
        if progress:
            progress(f"replication: {label}, {n_ops:,} operations on {n} replicas")
        try:
            runs.append((label, simulate(mode=mode, history=history is not None, **settings)))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    rows = []
    for label, r in runs:
        d = r.to_dict()
        d["scheme"] = label
        rows.append({k: v for k, v in d.items() if not isinstance(v, (list, tuple, np.ndarray))})
    df = pd.DataFrame(rows).set_index("scheme")
    with out.writing() as tmp:
        from ..harness import results

        results.write_rows([{**{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in row.items()}, "seconds": row["wall_seconds"]} for row in rows],
                           tmp.results, suite="simulate-replication", func="replicate", params=("scheme",),
                           compare="scheme", headline=("stale_pct", "lost_acked", "write_p99_ms"),
                           config={"n": n, "reads": reads, "latency": str(latency), "seed": seed})
        if tmp.plot:
            _plot_lag(runs, tmp.plot)
    if history is not None:
        runs[0][1].write_history(history)
    header = (f"{n_ops:,} operations, {n} replicas, {clients} clients, {100 * read_fraction:g}% reads from "
              f"the {reads}, {keys:,} keys{'' if skew == 0 else f' (Zipf {skew:g})'}, delays {latency}"
              f"{'; leader crash at ' + ', '.join(f'{c:g} s' for c in crash_at) if crash_at else ''}")
    written = out.written + ([history] if history is not None else [])
    return Outcome([header, table(df, fmt)], written, df)


def table(df, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["scheme", "stale reads", "ryw", "mono", "prefix", "lag p99", "read p99", "write p50", "write p99",
            "lost acked", "unavailable", "ops/s (sim)"]
    rows = []
    for name, r in df.iterrows():
        rows.append([name, f"{r['stale']:,} ({r['stale_pct']:.3g}%)", f"{r['ryw']:,}", f"{r['mr']:,}",
                     f"{r['cp']:,}", f"{r['lag_p99_ms']:.3g} ms", f"{r['read_p99_ms']:.3g} ms",
                     f"{r['write_p50_ms']:.3g} ms", f"{r['write_p99_ms']:.3g} ms", f"{r['lost_acked']:,}",
                     f"{r['unavailable_s']:g} s" if r["failovers"] else "-", f"{r['ops_per_s'] / 1e6:.1f}M"])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def _plot_lag(runs, path) -> None:
    """Replication lag over time, per scheme (the p99 over each second's entries)."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    for i, (label, r) in enumerate(runs):
        s = r.lag_series()
        if not len(s):
            continue
        sec = np.floor(s["time"].to_numpy())
        lag = s["lag_ms"].to_numpy()
        order = np.argsort(sec, kind="stable")
        sec, lag = sec[order], lag[order]
        edges = np.flatnonzero(np.diff(sec)) + 1
        starts = np.concatenate(([0], edges))
        ends = np.concatenate((edges, [len(sec)]))
        xs = sec[starts]
        ys = [np.percentile(lag[a:b], 99) for a, b in zip(starts, ends)]
        ax.plot(xs, ys, label=label, color=f"C{i}", lw=1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("replication lag, p99 per second (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    save_figure(fig, path)
