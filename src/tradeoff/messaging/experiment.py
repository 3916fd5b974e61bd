"""The messaging area's command-line entry points: ``tradeoff simulate delivery``,
``tradeoff simulate queue`` and ``tradeoff simulate groups``. Each takes the options
as typed, checks them all before any work (a UserError names the bad one), runs,
writes its results file (and plot) atomically and returns an
:class:`~tradeoff.harness.outputs.Outcome`."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..harness.errors import UserError

Note = Callable[[str], None]


def _names(spec: str, known, what: str) -> list[str]:
    names = [n.strip() for n in str(spec).split(",") if n.strip()]
    if names == ["all"]:
        return list(known)
    if not names:
        raise UserError(f"no {what} given")
    for n in names:
        if n not in known:
            raise UserError(f"unknown {what} {n!r} (one of {', '.join(known)})")
    return list(dict.fromkeys(names))


def _fmt_ms(x: float) -> str:
    if x != x:
        return "-"
    if x >= 10_000:
        return f"{x / 1e3:,.1f} s"
    return f"{x:.3g} ms" if x < 100 else f"{x:,.0f} ms"


def _write(rows, path, *, suite: str, params, compare, headline, config, seconds: str) -> None:
    from ..harness import results

    results.write_rows(rows, path, suite=suite, func=suite.split("-", 1)[1], params=params,
                       compare=compare, seconds=seconds, headline=headline, config=config)


# -- simulate delivery ---------------------------------------------------------------------
def run_delivery(*, semantics: str = "at-most-once,at-least-once,exactly-once", broker: str = "log",
                 messages="1e6", partitions: int = 12, consumers: int = 3, batch: int = 10,
                 rate: float = 2000.0, crash="0.01%", ack_loss="0.1%", request_loss="0.1%",
                 broker_restart="0.01%", rebalance="0.1%", visibility: float = 30.0,
                 max_deliveries: int = 0, seed: int = 0, output: str | None = None, fmt: str = "table",
                 progress: Note | None = None, note: Note | None = None):
    """``tradeoff simulate delivery``; ``broker="redis"`` runs the log scenario through
    a real ``redis-server`` (started in a temporary folder, on a unix socket) besides
    the simulation, and reports whether every message's effect count agrees."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..harness.specs import parse_count
    from .delivery import SEMANTICS, _settings, simulate

    names = _names(semantics, SEMANTICS, "semantics")
    if broker not in ("log", "queue", "redis"):
        raise UserError(f"unknown broker {broker!r} (one of log, queue, redis)")
    n = parse_count(messages, "--messages")
    settings = dict(messages=n, partitions=partitions, consumers=consumers, batch=batch, rate=rate,
                    crash=crash, ack_loss=ack_loss, request_loss=request_loss,
                    broker_restart=broker_restart, rebalance=rebalance, visibility=visibility,
                    max_deliveries=max_deliveries, seed=seed)
    sim_broker = "log" if broker == "redis" else broker
    s = _settings(sim_broker, **settings)
    server = None
    if broker == "redis":
        from ..harness.servers import RedisServer, missing_notice

        notice = missing_notice("redis-server")
        if notice:
            raise UserError(notice)
        import importlib.util

        if importlib.util.find_spec("redis") is None:
            raise UserError("the redis client is not installed (pip install redis)")
        if n > 20_000 and note:
            note(f"note: Redis runs the scenario one command at a time, a few thousand messages a second: "
                 f"{n:,} messages take a while (--messages 1e4 takes seconds)")
    out = Outputs(output or default_output("simulate-delivery"))
    rows = []
    try:
        if broker == "redis":
            server = RedisServer().start()
        for name in names:
            if progress:
                progress(f"delivery: {name}, {n:,} messages on the {sim_broker}")
            run = simulate(name, sim_broker, record=broker == "redis", **s)
            row = run.row()
            if broker == "redis":
                from .drivers import RedisAdapter, replay

                if progress:
                    progress(f"delivery: {name} through redis-server {server.version}")
                counts, dead = replay(RedisAdapter(server, s["partitions"], s["consumers"]), name,
                                      run.schedule, **s)
                same = bool(np.array_equal(counts, run.count) and np.array_equal(dead, run.arrays["dead"]))
                row["redis_lost"] = int(np.count_nonzero((counts == 0) & ~dead))
                row["redis_duplicated"] = int(np.count_nonzero(counts >= 2))
                row["redis_agrees"] = "yes" if same else f"NO ({int(np.count_nonzero(counts != run.count))} differ)"
            rows.append(row)
    finally:
        if server is not None:
            server.stop()
    df = pd.DataFrame(rows).set_index("semantics")
    with out.writing() as tmp:
        _write(df.reset_index().to_dict("records"), tmp.results, suite="simulate-delivery",
               params=("semantics",), compare="semantics", headline=("lost", "duplicated", "p99_ms"),
               config={"broker": broker, **{k: v for k, v in s.items()}}, seconds="wall_seconds")
    header = (f"{n:,} messages, {s['rate']:g}/s, on the {'log (Redis Streams beside)' if broker == 'redis' else sim_broker}"
              f"{' with ' + str(s['partitions']) + ' partitions' if sim_broker == 'log' else ''}, "
              f"{s['consumers']} consumers, batches of {s['batch']}; faults: crash {100 * s['crash']:g}% of "
              f"messages processed, lost requests {100 * s['request_loss']:g}% and acks {100 * s['ack_loss']:g}% "
              f"of sends, broker restarts {100 * s['broker_restart']:g}%"
              f"{', rebalances ' + format(100 * s['rebalance'], 'g') + '% of batches' if sim_broker == 'log' else ''}; "
              f"seed {seed}")
    lines = [header, delivery_table(df, fmt)]
    if s["rate"] > 0:
        behind = df[df["producer_end"] > 1.05 * df["last_arrival"] + 1.0]
        if len(behind):
            lines.append(
                f"the producer fell behind the messages' arrivals ({s['rate']:g}/s) under "
                f"{', '.join(behind.index)}: one request in flight, and each retry waits the "
                f"{1e3 * s['timeout']:g} ms timeout ({behind['retries'].max():,} retries), so latency "
                f"is mostly the wait to be sent; lower --ack-loss and --request-loss")
        slow = df[(df["throughput"] < 0.95 * s["rate"]) & ~df.index.isin(behind.index)]
        if len(slow):
            lines.append(
                f"the consumers fell behind the producer ({s['rate']:g}/s) under "
                f"{', '.join(slow.index)}: {slow['crashes'].max():,} crashes, each a consumer down for "
                f"{s['restart_time']:g} s, so latency is mostly the backlog; lower --crash, or add "
                f"--consumers (and --partitions)")
    bad = df.index[df["invariant"] != "holds"].tolist()
    if bad:
        lines.append(f"PROMISE BROKEN: {', '.join(bad)} (a bug: please report it with the command above)")
    return Outcome(lines, out.written, df)


def delivery_table(df, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["semantics", "lost", "duplicated", "extra", "max x", "dead", "retries", "p50", "p99",
            "throughput", "wall"]
    rows = []
    for name, r in df.iterrows():
        rows.append([name, f"{r['lost']:,} ({r['lost_pct']:.3g}%)",
                     f"{r['duplicated']:,} ({r['duplicated_pct']:.3g}%)", f"{r['extra_processings']:,}",
                     str(r["max_times"]), f"{r['dead_lettered']:,}", f"{r['retries']:,}",
                     _fmt_ms(r["p50_ms"]), _fmt_ms(r["p99_ms"]), f"{r['throughput']:,.0f}/s",
                     f"{r['wall_seconds']:.2f} s"])
    if "redis_agrees" in df.columns:
        head += ["redis lost", "redis dup", "agrees"]
        for row, (_, r) in zip(rows, df.iterrows()):
            row += [f"{r['redis_lost']:,}", f"{r['redis_duplicated']:,}", r["redis_agrees"]]
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


# -- simulate queue ------------------------------------------------------------------------
def run_queue(*, broker: str = "log,queue", profile: str = "spike", rate: float = 100.0,
              consumers: int = 4, partitions: int = 12, keys: int = 10_000, skew: float = 0.0,
              service: str = "exp", service_mean="30ms", duration="10m", seed: int = 0,
              sample_every="1s", plot: str | None = None, output: str | None = None, fmt: str = "table",
              progress: Note | None = None, note: Note | None = None):
    """``tradeoff simulate queue``: backlog and lag under a rate profile, per broker."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from .backlog import BROKERS, parse_profile, parse_service, plot as draw, simulate

    brokers = _names(broker, BROKERS, "broker")
    try:
        prof = parse_profile(profile)
        parse_service(service)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = Outputs(output or default_output("simulate-queue"), plot)
    results = []
    for b in brokers:
        if progress:
            progress(f"queue: the {b} broker, {prof.kind} profile")
        try:
            results.append(simulate(b, rate=rate, profile=profile, consumers=consumers, partitions=partitions,
                                    keys=keys, skew=skew, service=service, service_mean=service_mean,
                                    duration=duration, seed=seed, sample_every=sample_every))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    r0 = results[0]
    if r0.utilization > 0.98 and note:
        note(f"warning: the consumers are {100 * r0.utilization:.0f}% busy: the backlog grows for the whole run")
    rows = []
    for r in results:
        d = r.to_dict()
        rows.append({k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in d.items()})
    df = pd.DataFrame(rows).set_index("broker")
    with out.writing() as tmp:
        _write(df.reset_index().to_dict("records"), tmp.results, suite="simulate-queue", params=("broker",),
               compare="broker", headline=("peak_backlog", "drain_time", "latency_p99"),
               config={"profile": profile, "rate": rate, "consumers": consumers, "seed": seed},
               seconds="elapsed")
        if tmp.plot:
            draw(results, tmp.plot)
    header = (f"{r0.profile} at {rate:g} messages/s base, {consumers} consumers "
              f"(service {service}, mean {1e3 * r0.service_mean:g} ms; capacity "
              f"{r0.capacity:,.0f}/s), {keys:,} keys{'' if skew == 0 else f' (Zipf {skew:g})'}; "
              f"{r0.horizon:g} s simulated")
    lines = [header, queue_table(results, fmt)]
    if len(results) > 1 and "log" in brokers:
        log = results[brokers.index("log")]
        if log.idle_consumers:
            lines.append(f"the log broker leaves {log.idle_consumers} consumer(s) idle: "
                         f"more consumers than partitions")
    return Outcome(lines, out.written, results)


def queue_table(results, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["broker", "peak backlog", "at", "drained after", "p50", "p99", "max", "utilization",
            "idle consumers", "events/s"]
    rows = []
    for r in results:
        drain = "-" if math.isnan(r.spike_start) else (
            "not within the run" if math.isnan(r.drain_time) else f"{r.drain_time:,.1f} s")
        rows.append([r.broker, f"{r.peak_backlog:,}", f"{r.peak_time:,.1f} s", drain,
                     _fmt_ms(1e3 * r.latency_p50), _fmt_ms(1e3 * r.latency_p99),
                     _fmt_ms(1e3 * r.latency_max), f"{100 * r.utilization:.0f}%", str(r.idle_consumers),
                     f"{r.events_per_s / 1e6:.1f}M"])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


# -- simulate groups -----------------------------------------------------------------------
def parse_members(spec) -> list[int]:
    """``"1..8"`` -> [1, ..., 8]; ``"1,2,4"`` -> [1, 2, 4]; counts >= 1, increasing."""
    text = str(spec).strip()
    try:
        if ".." in text:
            lo, hi = (int(x) for x in text.split("..", 1))
            out = list(range(lo, hi + 1))
        else:
            out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--members must be a range such as 1..8 or a list such as 1,2,4, got {spec!r}") from None
    if not out or out[0] < 1 or any(b <= a for a, b in zip(out, out[1:])) or out[-1] > 10_000:
        raise UserError(f"--members must be increasing counts within 1..10000, got {spec!r}")
    return out


def run_groups(*, assignor: str = "range,roundrobin,sticky,cooperative-sticky", partitions: int = 12,
               members: str = "1..8", output: str | None = None, fmt: str = "table",
               progress: Note | None = None):
    """``tradeoff simulate groups``: partitions moved and paused as members join one by
    one up to the largest count, then leave again (last in, first out)."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ._log import Log
    from .assignors import ASSIGNORS
    from .groups import Group

    names = _names(assignor, ASSIGNORS, "assignor")
    if isinstance(partitions, bool) or not isinstance(partitions, int) or not 1 <= partitions <= 100_000:
        raise UserError(f"--partitions must be a whole number within 1..100000, got {partitions!r}")
    counts = parse_members(members)
    out = Outputs(output or default_output("simulate-groups"))
    log = Log(partitions)
    rows = []
    for name in names:
        if progress:
            progress(f"groups: {name}")
        g = Group(log, "g", assignor=name)
        joined = []
        for target in range(1, counts[-1] + 1):
            m = f"member-{target:05d}"
            r = g.join(m)
            joined.append(m)
            if target in counts:
                rows.append({"assignor": name, "event": "join", "members": target, "moved": r.moved,
                             "paused": len(r.paused), "rounds": r.rounds})
        for target in range(counts[-1], 1, -1):
            r = g.leave(joined.pop())
            if target - 1 in counts:
                rows.append({"assignor": name, "event": "leave", "members": target - 1, "moved": r.moved,
                             "paused": len(r.paused), "rounds": r.rounds})
    df = pd.DataFrame(rows)
    with out.writing() as tmp:
        from ..harness import results

        results.write_rows([{**r, "seconds": 0.0} for r in rows], tmp.results, suite="simulate-groups",
                           func="rebalance", params=("assignor", "event", "members"), compare="assignor",
                           headline=("moved", "paused"), config={"partitions": partitions})
    header = (f"{partitions} partitions; members join one at a time up to {counts[-1]}, then leave "
              f"(last in, first out); moved = partitions that change owner, paused = partitions "
              f"nobody consumes during the rebalance")
    return Outcome([header, groups_table(df, names, fmt)], out.written, df)


def groups_table(df, names, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["event", "members"] + [f"{n} moved/paused" for n in names]
    rows = []
    for (event, members), part in df.groupby(["event", "members"], sort=False):
        cells = [event, str(members)]
        for n in names:
            r = part[part["assignor"] == n].iloc[0]
            cells.append(f"{r['moved']}/{r['paused']}")
        rows.append(cells)
    totals = ["total", ""]
    for n in names:
        part = df[df["assignor"] == n]
        totals.append(f"{part['moved'].sum()}/{part['paused'].sum()}")
    rows.append(totals)
    return format_table(head, rows, fmt, align=["l", "r"] + ["r"] * len(names))
