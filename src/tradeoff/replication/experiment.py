"""The replication area's command-line entry point, ``tradeoff simulate replication``:
one row per replication scheme on the same workload and the same delays.

Schemes: ``leader:async``, ``leader:semisync`` (one follower must acknowledge),
``leader:semisync=K``, ``leader:sync``; ``leaderless:N=3,R=2,W=2`` (Dynamo-style
quorums, :mod:`.leaderless`; more settings below); ``multileader:lww``,
``multileader:vv``, ``multileader:crdt`` (:mod:`.multileader`: one leader per
replica, client c at leader c mod n, conflicts resolved by last-writer-wins,
version vectors or a PN-counter CRDT; ``multileader:lww,clock=10ms`` skews the
leaders' clocks by up to 10 ms). Columns that do not apply to a family are left
out of its table (NaN in the results file).

``--partition "2s-5s:{0,1}|{2}"`` (``;`` between several; nodes 0..n-1, or
0..nodes-1 for a leaderless ``nodes=M``) applies one schedule of
:mod:`.partitions` to every scheme, and adds a CAP table: availability (the
share of operations answered successfully) overall, during the cut, and for
the clients on its minority and majority sides (client c sits beside node c
mod n), stale reads, acknowledged writes lost. Messages across a cut are held
until it heals in every simulator. Single leader: the lease is ``--detect``
(CP with ``--reads leader`` and ``leader:semisync`` on 3 replicas); leaderless
clients then reach their coordinator over the ``--latency`` delays too.

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
FAMILIES = {"leader": True, "multileader": True, "leaderless": True}


def parse_schemes(spec: str) -> list[tuple[str, str]]:
    """``"leader:async,leader:semisync=2"`` -> [("leader:async", "async"), ...]
    (the label and the single-leader mode)."""
    items: list[str] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        # a leaderless scheme's settings (``R=2``, ``sloppy``) carry on after commas
        if items and items[-1].startswith(("leaderless:", "multileader:")) and ":" not in item \
                and item.partition("=")[0].strip() not in FAMILIES:
            items[-1] += "," + item
        else:
            items.append(item)
    out = []
    for item in items:
        family, _, mode = item.partition(":")
        if family not in FAMILIES:
            raise UserError(f"unknown scheme {item!r}: write leader:async, leader:semisync[=K], leader:sync, "
                            f"leaderless:N=3,R=2,W=2 or multileader:lww|vv|crdt")
        if not FAMILIES[family]:
            raise UserError(f"scheme {item!r}: {family} replication is not built yet (issue 11); "
                            f"leader:async, leader:semisync[=K] and leader:sync are")
        if family == "multileader":
            parse_multileader(mode)
        out.append((item, mode or ("async" if family == "leader" else "")))
    if not out:
        raise UserError("no scheme given")
    return out


def parse_multileader(spec: str) -> dict:
    """``"lww,clock=10ms"`` -> keyword arguments of :func:`.multileader.simulate`
    (``policy``, and ``skew``: the bound of the leaders' clock offsets).

    >>> parse_multileader("vv")
    {'policy': 'vv'}
    >>> parse_multileader("lww,clock=5ms")
    {'policy': 'lww', 'skew': 0.005}
    """
    from ..balance.simulator import parse_duration
    from .multileader import POLICIES

    policy, *rest = [p.strip() for p in str(spec).split(",")]
    policy = policy.lower()
    if policy not in POLICIES:
        raise UserError(f"multileader: unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    out: dict = {"policy": policy}
    for part in filter(None, rest):
        name, _, value = part.partition("=")
        if name.strip().lower() not in ("clock", "clock_skew", "skew"):
            raise UserError(f"multileader: unknown setting {name.strip()!r} in {spec!r} (clock)")
        try:
            out["skew"] = parse_duration(value.strip(), "multileader clock")
        except ValueError as exc:
            raise UserError(str(exc)) from None
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


def _family(label: str) -> str:
    return label.partition(":")[0]


def _multileader_kwargs(mode: str, *, n, clients, ops, read_fraction, keys, skew, latency, crash_at, seed,
                        history, partitions) -> dict:
    kw = parse_multileader(mode)
    failures = None
    if crash_at:
        if len(crash_at) > n:
            raise UserError(f"--crash: {len(crash_at)} crashes for {n} leaders (one crash per leader)")
        failures = [(i, t, None) for i, t in enumerate(crash_at)]
    return dict(kw, m=n, clients=clients, ops=ops, read_fraction=read_fraction, keys=keys, key_skew=skew,
                delays=latency, failures=failures, partitions=partitions, seed=seed, history=history)


def _replicate_task(task, shared):
    """One scheme's simulation on a dask worker (``--cluster``)."""
    import importlib

    label, module_name, kw = task
    try:
        r = importlib.import_module(module_name).simulate(**kw)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if getattr(r, "sim", None) is not None:
        r.sim = None        # the engine (a C object, not picklable) stays on the worker; the figures travel
    return r


def _on_cluster(calls, cluster: str, progress: Note | None):
    """The schemes' runs, one dask task each, in the order of ``calls``; and where each ran."""
    from ..harness.cluster import executor

    tasks = [(label, module.__name__, kw) for label, module, kw in calls]
    runs: list = [None] * len(tasks)
    where: list = [None] * len(tasks)
    with executor(cluster) as ex:
        for done, (i, r, ran_on) in enumerate(ex.map(_replicate_task, tasks), 1):
            runs[i], where[i] = (tasks[i][0], r), ran_on
            if progress:
                progress(f"replication: [{done}/{len(tasks)}] {tasks[i][0]} done on {ran_on}")
    return runs, where


def run_replication(*, scheme: str = "leader:async,leader:semisync,leader:sync", n: int = 3,
                    reads: str = "follower", clients: int = 10, ops="1e6", read_fraction: float = 0.9,
                    keys: int = 1000, skew: float = 0.0, latency: str = "exp:mean=1ms", crash=None,
                    detect: float = 0.5, partition: str | None = None, seed: int = 0, history: str | None = None,
                    plot: str | None = None, output: str | None = None, fmt: str = "table",
                    cluster: str | None = None, progress: Note | None = None):
    """``tradeoff simulate replication``: the options as typed -> an Outcome.
    ``partition``: a schedule of :func:`.partitions.parse_partitions`
    (``"2s-5s:{0,1}|{2}"``, ``;`` between several) applied to every scheme."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs, check_writable
    from ..harness.run import default_output
    from ..harness.specs import parse_count, parse_duration
    from . import leader, leaderless, multileader

    schemes = parse_schemes(scheme)
    n_ops = parse_count(ops, "--ops")
    crash_at = None
    if crash:
        try:
            crash_at = [parse_duration(c.strip(), "--crash") for c in str(crash).split(",") if c.strip()]
        except ValueError as exc:
            raise UserError(str(exc)) from None
    parts = partition if partition else None
    delays = delays_for(latency, seed)
    if history is not None:
        check_writable(history, "the history")
        if len(schemes) != 1:
            raise UserError("--history records one scheme's run: give one --scheme")

    settings = dict(n=n, reads=reads, clients=clients, ops=n_ops, read_fraction=read_fraction, keys=keys,
                    skew=skew, delays=delays, crash_at=crash_at, detect=detect, seed=seed,
                    history=history is not None)
    common = dict(n=n, clients=clients, ops=n_ops, read_fraction=read_fraction, keys=keys, skew=skew,
                  latency=latency, crash_at=crash_at, seed=seed, history=history is not None)

    def prepared(label, mode):
        family = _family(label)
        if family == "leaderless":
            kw = _leaderless_kwargs(mode, **common)
            if parts:
                # a refused request costs its client a round trip, as in the single-leader runs
                # (with no client leg, closed-loop clients on a minority side would spend every
                # remaining operation on refusals at one instant)
                kw.update(partitions=parts, client_latency=delays)
            return leaderless, kw
        if family == "multileader":
            return multileader, _multileader_kwargs(mode, partitions=parts, **common)
        kw = dict(mode=mode, **settings)
        if parts:
            kw["partitions"] = parts
        return leader, kw

    calls = []
    for label, mode in schemes:        # every setting checked before any run
        module, kw = prepared(label, mode)
        try:
            module._build(**kw)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        calls.append((label, module, kw))
    if cluster is not None:
        from ..harness.cluster import parse_spec
        parse_spec(cluster)                                   # before any work
    out = Outputs(output or default_output("simulate-replication"), plot)
    runs = []
    where = ["local"] * len(calls)
    if cluster is not None:
        runs, where = _on_cluster(calls, cluster, progress)
    for label, module, kw in (calls if cluster is None else []):
        if progress:
            progress(f"replication: {label}, {n_ops:,} operations on {n} replicas")
        try:
            runs.append((label, module.simulate(**kw)))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    rows = []
    for label, r in runs:
        d = r.to_dict()
        d["scheme"] = label
        if _family(label) == "multileader":
            # every multi-leader write is acknowledged at once: the lost updates are acknowledged writes
            d["lost_acked"] = d["lost_updates"]
        rows.append({k: v for k, v in d.items() if not isinstance(v, (list, tuple, np.ndarray))})
    df = pd.DataFrame(rows).set_index("scheme")
    with out.writing() as tmp:
        from ..harness import results

        results.write_rows([{**{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in row.items()}, "seconds": row["wall_seconds"], "ran_on": ran_on}
                            for row, ran_on in zip(rows, where)],
                           tmp.results, suite="simulate-replication", func="replicate", params=("scheme",),
                           compare="scheme", headline=("stale_pct", "lost_acked", "write_p99_ms"),
                           config={"n": n, "reads": reads, "latency": str(latency), "seed": seed,
                                   "partition": partition or None})
        if tmp.plot:
            _plot_lag(runs, tmp.plot)
    if history is not None:
        runs[0][1].write_history(history)
    families = {_family(label) for label, _ in schemes}
    header = (f"{n_ops:,} operations, {n} replicas, {clients} clients, {100 * read_fraction:g}% reads from "
              f"the {reads}, {keys:,} keys{'' if skew == 0 else f' (Zipf {skew:g})'}, delays {latency}"
              f"{'; leader crash at ' + ', '.join(f'{c:g} s' for c in crash_at) if crash_at else ''}")
    if families != {"leader"}:
        header = (f"{n_ops:,} operations, {clients} clients, {100 * read_fraction:g}% reads, {keys:,} keys"
                  f"{'' if skew == 0 else f' (Zipf {skew:g})'}, delays {latency}"
                  f"{'; node crashes at ' + ', '.join(f'{c:g} s' for c in crash_at) if crash_at else ''}")
    if parts:
        header += f"; partition {partition}"
    written = out.written + ([history] if history is not None else [])
    # one frame per family, so that each keeps its own columns and types
    by_family: dict = {"leader": [], "leaderless": [], "multileader": []}
    for row in rows:
        by_family[_family(row["scheme"])].append(row)
    render = {"leader": table, "leaderless": leaderless_table, "multileader": multileader_table}
    tables = [render[f](pd.DataFrame(by_family[f]).set_index("scheme"), fmt)
              for f in ("leader", "leaderless", "multileader") if by_family[f]]
    if parts:
        tables.append(partition_table(df, fmt))
    return Outcome([header, *tables], written, df)


def _num(x, spec: str = ",", suffix: str = "") -> str:
    """A figure, or ``-`` where it does not apply (NaN / missing)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if spec == "," and isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:{spec}}{suffix}"


def multileader_table(df, fmt: str = "table") -> str:
    """The multi-leader schemes' columns: conflicts, lost updates, siblings, convergence."""
    from ..harness.report import format_table

    head = ["scheme", "stale reads", "conflicts", "lost updates", "siblings (final)", "converged after",
            "read p99", "write p99", "failed", "held msgs", "ops/s (sim)"]
    rows = []
    for name, r in df.iterrows():
        sib = r.get("final_siblings", math.nan)
        conv = r["convergence_s"]
        rows.append([name, f"{int(r['stale']):,} ({r['stale_pct']:.3g}%)", f"{int(r['conflicts']):,}",
                     f"{int(r['lost_updates']):,}", "-" if sib is None or sib != sib else f"{int(sib):,}",
                     "never" if not r["converged"] else f"{1e3 * conv:.3g} ms",
                     f"{r['read_p99_ms']:.3g} ms", f"{r['write_p99_ms']:.3g} ms", f"{int(r['failed']):,}",
                     f"{int(r['held']):,}", f"{r['ops_per_s'] / 1e6:.1f}M"])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def partition_table(df, fmt: str = "table") -> str:
    """CAP under the partition, every scheme: availability (answered / requests)
    overall, during the cut and on its minority side; stale reads; acknowledged
    writes lost at healing."""
    from ..harness.report import format_table

    head = ["scheme", "availability", "during cut", "minority side", "majority side", "stale reads",
            "lost acked", "write p99"]
    rows = []
    for name, r in df.iterrows():
        g = r.get
        rows.append([name, _num(g("availability", math.nan), ".4f"), _num(g("availability_cut", math.nan), ".4f"),
                     _num(g("availability_minority", math.nan), ".4f"),
                     _num(g("availability_majority", math.nan), ".4f"),
                     f"{int(r['stale']):,}", _num(g("lost_acked", math.nan), ","),
                     _num(g("write_p99_ms", math.nan), ".3g", " ms")])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


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
            "unavailable", "timeouts", "hints stored/delivered", "repairs", "ae keys (merkle/full)", "ops/s (sim)"]
    rows = []
    for name, r in df.iterrows():
        rows.append([name, f"{int(r['stale']):,} ({r['stale_pct']:.3g}%)", f"{int(r['k_p999'])}",
                     f"{r['read_p50_ms']:.3g} ms", f"{r['read_p99_ms']:.3g} ms", f"{r['write_p50_ms']:.3g} ms",
                     f"{r['write_p99_ms']:.3g} ms", f"{int(r['unavailable']):,}", f"{int(r['timeouts']):,}",
                     f"{int(r['hints_stored']):,}/{int(r['hints_delivered']):,}",
                     f"{int(r['repairs_applied']):,}",
                     f"{int(r['ae_keys']):,} ({int(r['ae_merkle_keys']):,}/{int(r['ae_full_keys']):,})",
                     f"{r['ops_per_s'] / 1e6:.1f}M"])
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
