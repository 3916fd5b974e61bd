"""The replication area's command-line entry point, ``tradeoff simulate replication``:
one row per replication scheme on the same workload and the same delays.

Schemes: ``leader:async``, ``leader:semisync`` (one follower must acknowledge),
``leader:semisync=K``, ``leader:sync``; ``leaderless:N=3,R=2,W=2`` (Dynamo-style
quorums, :mod:`.leaderless`; more settings below). Multi-leader schemes and
network partitions are not built yet (issue 11); naming one is a clear error.

A leaderless scheme's settings follow it, comma-separated: ``N``, ``R``, ``W``
(default ``--n`` and majorities), ``repair=off|async|blocking``, ``sloppy``
(sloppy quorum with hinted handoff), ``nodes=M`` (nodes on the ring), ``ae=T``
(anti-entropy period), ``clock=T`` (clock skew bound), ``down=T`` (how long a
node crashed by ``--crash`` stays down; default: for good). ``--crash T1,T2``
crashes node 0 at T1, node 1 at T2, ...
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..harness.errors import UserError

Note = Callable[[str], None]

#: scheme families and whether they are built
FAMILIES = {"leader": True, "multileader": False, "leaderless": True}


def parse_schemes(spec: str) -> list[tuple[str, str]]:
    """``"leader:async,leader:semisync=2"`` -> [("leader:async", "async"), ...]
    (the label and the single-leader mode)."""
    items: list[str] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        # a leaderless scheme's settings (``R=2``, ``sloppy``) carry on after commas
        if items and items[-1].startswith("leaderless:") and ":" not in item \
                and item.partition("=")[0].strip() not in FAMILIES:
            items[-1] += "," + item
        else:
            items.append(item)
    out = []
    for item in items:
        family, _, mode = item.partition(":")
        if family not in FAMILIES:
            raise UserError(f"unknown scheme {item!r}: write leader:async, leader:semisync[=K], leader:sync "
                            f"or leaderless:N=3,R=2,W=2")
        if not FAMILIES[family]:
            raise UserError(f"scheme {item!r}: {family} replication is not built yet (issue 11); "
                            f"leader:async, leader:semisync[=K] and leader:sync are")
        out.append((item, mode or ("async" if family == "leader" else "")))
    if not out:
        raise UserError("no scheme given")
    return out


_LEADERLESS_KEYS = {"n": "n", "r": "r", "w": "w", "repair": "read_repair", "read_repair": "read_repair",
                    "sloppy": "sloppy", "nodes": "nodes", "ae": "anti_entropy", "anti_entropy": "anti_entropy",
                    "clock": "clock_skew", "clock_skew": "clock_skew", "down": "down"}


def parse_leaderless(spec: str, n: int) -> dict:
    """``"N=3,R=2,W=2,repair=blocking,sloppy"`` -> the keyword arguments of
    :func:`.leaderless.simulate` (and ``down``: seconds a crashed node stays
    down, None: for good). R and W default to a majority of N.

    >>> parse_leaderless("N=5,R=1,W=5,repair=async,ae=1s", 3)
    {'n': 5, 'r': 1, 'w': 5, 'read_repair': 'async', 'anti_entropy': 1.0, 'down': None}
    """
    from ..balance.simulator import parse_duration

    out: dict = {"n": n}
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        key = _LEADERLESS_KEYS.get(name.strip().lower())
        if key is None:
            raise UserError(f"leaderless: unknown setting {name.strip()!r} in {spec!r} "
                            f"(N, R, W, repair, sloppy, nodes, ae, clock, down)")
        value = value.strip()
        if key == "sloppy":
            if sep and value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise UserError(f"leaderless: sloppy takes no value or true/false, got {value!r}")
            out[key] = not sep or value.lower() in ("1", "true", "yes", "on")
        elif key == "read_repair":
            out[key] = value.lower()
        elif key in ("anti_entropy", "clock_skew", "down"):
            try:
                out[key] = parse_duration(value, f"leaderless {name.strip()}")
            except ValueError as exc:
                raise UserError(str(exc)) from None
        else:
            try:
                out[key] = int(value)
            except ValueError:
                raise UserError(f"leaderless: {name.strip()} must be a whole number, got {value!r}") from None
    n = out["n"]
    out.setdefault("r", n // 2 + 1 if isinstance(n, int) and n >= 1 else 1)
    out.setdefault("w", n // 2 + 1 if isinstance(n, int) and n >= 1 else 1)
    out.setdefault("down", None)
    return {k: out[k] for k in ("n", "r", "w", *[k for k in out if k not in ("n", "r", "w", "down")], "down")}


def _leaderless_kwargs(mode: str, *, n, clients, ops, read_fraction, keys, skew, latency, crash_at, seed,
                       history) -> dict:
    kw = parse_leaderless(mode, n)
    down = kw.pop("down")
    failures = None
    if crash_at:
        nodes = kw.get("nodes", kw["n"])
        if len(crash_at) > nodes:
            raise UserError(f"--crash: {len(crash_at)} crashes for {nodes} nodes (one crash per node)")
        failures = [(i, t, None if down is None else t + down) for i, t in enumerate(crash_at)]
    return dict(kw, clients=clients, ops=ops, read_fraction=read_fraction, keys=keys, skew=skew, latency=latency,
                failures=failures, seed=seed, history=history)


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
    from . import leaderless

    less = dict(n=n, clients=clients, ops=n_ops, read_fraction=read_fraction, keys=keys, skew=skew,
                latency=latency, crash_at=crash_at, seed=seed, history=history is not None)
    for label, mode in schemes:        # every setting checked before any run
        try:
            if label.startswith("leaderless:"):
                leaderless._build(**_leaderless_kwargs(mode, **less))
            else:
                _build(mode=mode, **settings)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    out = Outputs(output or default_output("simulate-replication"), plot)
    runs = []
    for label, mode in schemes:
        if progress:
            progress(f"replication: {label}, {n_ops:,} operations on {n} replicas")
        try:
            if label.startswith("leaderless:"):
                runs.append((label, leaderless.simulate(**_leaderless_kwargs(mode, **less))))
            else:
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
    if all(label.startswith("leaderless:") for label, _ in schemes):
        header = (f"{n_ops:,} operations, {clients} clients, {100 * read_fraction:g}% reads, {keys:,} keys"
                  f"{'' if skew == 0 else f' (Zipf {skew:g})'}, replica legs {latency}"
                  f"{'; node crashes at ' + ', '.join(f'{c:g} s' for c in crash_at) if crash_at else ''}")
    written = out.written + ([history] if history is not None else [])
    leader_rows = [label for label, _ in runs if not label.startswith("leaderless:")]
    less_rows = [label for label, _ in runs if label.startswith("leaderless:")]
    # one frame per family, so that each keeps its own columns and types
    by_family = {True: [], False: []}
    for row in rows:
        by_family[row["scheme"].startswith("leaderless:")].append(row)
    tables = ([table(pd.DataFrame(by_family[False]).set_index("scheme"), fmt)] if leader_rows else []) + \
             ([leaderless_table(pd.DataFrame(by_family[True]).set_index("scheme"), fmt)] if less_rows else [])
    return Outcome([header, *tables], written, df)


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


def leaderless_table(df, fmt: str = "table") -> str:
    """The leaderless schemes' columns: staleness, latency, availability, repairs."""
    from ..harness.report import format_table

    head = ["scheme", "stale reads", "k (99.9%)", "read p50", "read p99", "write p50", "write p99",
            "unavailable", "timeouts", "hints stored/delivered", "repairs", "ae keys", "ops/s (sim)"]
    rows = []
    for name, r in df.iterrows():
        rows.append([name, f"{int(r['stale']):,} ({r['stale_pct']:.3g}%)", f"{int(r['k_p999'])}",
                     f"{r['read_p50_ms']:.3g} ms", f"{r['read_p99_ms']:.3g} ms", f"{r['write_p50_ms']:.3g} ms",
                     f"{r['write_p99_ms']:.3g} ms", f"{int(r['unavailable']):,}", f"{int(r['timeouts']):,}",
                     f"{int(r['hints_stored']):,}/{int(r['hints_delivered']):,}",
                     f"{int(r['repairs_applied']):,}", f"{int(r['ae_keys']):,}", f"{r['ops_per_s'] / 1e6:.1f}M"])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def _plot_lag(runs, path) -> None:
    """Replication lag over time, per scheme (the p99 over each second's entries)."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    if all(label.startswith("leaderless:") for label, _ in runs):
        _plot_visibility(runs, fig, ax)
        save_figure(fig, path)
        return
    for i, (label, r) in enumerate(runs):
        if not hasattr(r, "lag_series"):
            continue
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


def _plot_visibility(runs, fig, ax) -> None:
    """Leaderless schemes: the share of consistent reads against the time since
    the newest committed write (t-visibility, as PBS draws it)."""
    for i, (label, r) in enumerate(runs):
        v = r.visibility()
        ax.plot(v["t_mean_ms"], v["p_consistent"], label=label, color=f"C{i}", lw=1.2, marker=".")
    ax.set_xscale("log")
    ax.set_xlabel("time since the newest committed write (ms)")
    ax.set_ylabel("consistent reads")
    ax.legend(fontsize=8)
