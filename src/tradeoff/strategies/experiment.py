"""``tradeoff simulate strategy``: caching strategies against a real database and cache
tier. The entry point :func:`run` checks every option before any work (a UserError
names the bad one), starts what it needs (a PostgreSQL cluster, a Redis or Memcached
server, each in a temporary folder on a unix socket), runs, stops and removes all of it
on every exit path (Ctrl-C included), writes the results file (and plot) atomically
and returns an :class:`~tradeoff.harness.outputs.Outcome`."""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from typing import Callable

from ..harness.errors import UserError

Note = Callable[[str], None]

DEFAULT_STRATEGIES = "aside,read-through,write-through,write-behind"


def parse_strategies(spec: str) -> list[str]:
    """``"aside,write-behind"`` -> the names, checked; ``all``: every strategy and fix."""
    from .strategies import FIXES, STRATEGIES

    known = ["aside", "aside:update", *[f"aside:{f}" for f in FIXES], *STRATEGIES[1:]]
    names = [n.strip() for n in str(spec).split(",") if n.strip()]
    if names == ["all"]:
        return known
    if not names:
        raise UserError("no strategy given (--strategy aside,write-behind, ...)")
    for n in names:
        if n not in known and n != "aside:invalidate":
            raise UserError(f"unknown strategy {n!r} (one of {', '.join(known)})")
    return list(dict.fromkeys(names))


def parse_store(spec: str) -> tuple[str, str | None]:
    """``sqlite`` / ``sqlite:PATH`` / ``postgresql`` (a throwaway cluster) /
    ``postgresql:DSN`` -> (kind, path or DSN or None)."""
    kind, sep, arg = str(spec).partition(":")
    kind = {"postgres": "postgresql", "pg": "postgresql"}.get(kind, kind)
    if kind not in ("sqlite", "postgresql"):
        raise UserError(f"unknown store {spec!r} (sqlite[:PATH] or postgresql[:DSN])")
    if sep and not arg:
        raise UserError(f"--store {spec!r}: nothing after the colon")
    if kind == "postgresql" and arg.startswith("//"):
        arg = "postgresql:" + arg        # postgresql://user@host/db, a URI
    return kind, arg or None


def parse_cache(spec: str) -> dict:
    """``local`` / ``local:POLICY`` / ``local:POLICY:SIZE`` / ``redis`` / ``redis:ADDRESS``
    / ``memcached`` / ``memcached:ADDRESS`` -> a tier description."""
    from ..cache import POLICY_SPECS

    kind, _, arg = str(spec).partition(":")
    if kind == "local":
        policy, _, size = arg.partition(":")
        policy = policy or "lru"
        if policy not in POLICY_SPECS or POLICY_SPECS[policy].offline:
            online = [p for p, s in POLICY_SPECS.items() if not s.offline]
            raise UserError(f"unknown local cache policy {policy!r} (one of {', '.join(online)})")
        try:
            maxsize = int(float(size)) if size else 100_000
        except ValueError:
            raise UserError(f"--cache {spec!r}: the size must be a number of entries") from None
        if maxsize < 1:
            raise UserError(f"--cache {spec!r}: the size must be >= 1")
        return {"kind": "local", "policy": policy, "maxsize": maxsize}
    if kind in ("redis", "memcached"):
        return {"kind": kind, "address": arg or None}
    raise UserError(f"unknown cache {spec!r} (local[:POLICY[:SIZE]], redis[:ADDRESS], memcached[:ADDRESS])")


def _duration(value, what: str) -> float:
    from ..harness.specs import parse_duration

    try:
        return parse_duration(value, what)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _fmt_us(x: float) -> str:
    if x != x:
        return "-"
    if x >= 1000:
        return f"{x / 1e3:,.3g} ms" if x < 100_000 else f"{x / 1e3:,.0f} ms"
    return f"{x:.3g} µs"


@contextlib.contextmanager
def _resources(store_spec, cache_spec, delay: float, note: Note | None):
    """Start the store and the tier (and their servers); stop and remove all on exit."""
    from ..harness.servers import MemcachedServer, PostgresServer, RedisServer, ServerError, missing_notice
    from .stores import PostgresStore, SQLiteStore, StoreError
    from .tiers import make_tier

    kind, arg = store_spec
    stack = contextlib.ExitStack()
    with stack:
        tmp = tempfile.mkdtemp(prefix="tradeoff-strategy-")
        stack.callback(shutil.rmtree, tmp, True)
        try:
            if kind == "sqlite":
                path = arg or os.path.join(tmp, "store.sqlite")
                store = SQLiteStore(path, delay)
                store_conf = {"kind": "sqlite", "path": path}
            else:
                dsn = arg
                if dsn is None:
                    notice = missing_notice("postgres") or missing_notice("initdb")
                    if notice:
                        raise UserError(notice)
                    server = stack.enter_context(PostgresServer(fsync=True))
                    dsn = server.dsn
                store = PostgresStore(dsn, delay)
                store_conf = {"kind": "postgresql", "dsn": dsn}
            stack.callback(store.close)
            tier_conf = dict(cache_spec)
            if tier_conf["kind"] != "local" and tier_conf["address"] is None:
                binary = "redis-server" if tier_conf["kind"] == "redis" else "memcached"
                notice = missing_notice(binary)
                if notice:
                    raise UserError(notice)
                srv = RedisServer(appendonly=False) if tier_conf["kind"] == "redis" else MemcachedServer()
                stack.enter_context(srv)
                tier_conf["address"] = str(srv.socket_path)
            try:
                tier = make_tier(tier_conf["kind"], address=tier_conf.get("address"),
                                 maxsize=tier_conf.get("maxsize", 100_000), policy=tier_conf.get("policy", "lru"))
            except ImportError as exc:
                raise UserError(f"the {tier_conf['kind']} tier needs its client: {exc}") from None
            except Exception as exc:
                raise UserError(f"cannot reach {tier_conf['kind']} at {tier_conf.get('address')}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            stack.callback(tier.close)
        except (StoreError, ServerError) as exc:
            raise UserError(str(exc)) from None
        yield store, tier, store_conf, tier_conf


def run(*, strategy: str = DEFAULT_STRATEGIES, store: str = "sqlite", cache: str = "local:lru",
        mix: str = "read:90,write:10", keys: str = "zipf:1.0", n_keys: int = 10_000, value_size: int = 100,
        clients: int = 8, duration="30s", ops: int = 0, ttl="60s", db_delay="0", flush_interval="500ms",
        batch_size: int = 1000, crash_at=None, race: bool = False, seed: int = 0, plot: str | None = None,
        output: str | None = None, fmt: str = "table", progress: Note | None = None, note: Note | None = None):
    """``tradeoff simulate strategy``: one row per strategy."""
    import pandas as pd

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from .runner import Workload, crash_run, parse_mix, reproduce_race, run_workload

    names = parse_strategies(strategy)
    store_spec = parse_store(store)
    cache_spec = parse_cache(cache)
    try:
        read_fraction = parse_mix(mix)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    dist, _, alpha = str(keys).partition(":")
    if dist not in ("zipf", "uniform"):
        raise UserError(f"unknown key distribution {keys!r} (zipf[:ALPHA] or uniform)")
    try:
        alpha_f = float(alpha) if alpha else 1.0
    except ValueError:
        raise UserError(f"--keys {keys!r}: the Zipf exponent must be a number") from None
    if dist == "uniform" and alpha:
        raise UserError(f"--keys {keys!r}: uniform takes no parameter")
    if not (alpha_f >= 0 and math.isfinite(alpha_f)):
        raise UserError(f"--keys {keys!r}: the Zipf exponent must be >= 0")
    for name, v in (("--key-count", n_keys), ("--clients", clients), ("--batch-size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"{name} must be a whole number >= 1, got {v!r}")
    if isinstance(value_size, bool) or not isinstance(value_size, int) or value_size < 0:
        raise UserError(f"--value-size must be a whole number >= 0, got {value_size!r}")
    dur = _duration(duration, "--duration")
    ttl_s = _duration(ttl, "--ttl")
    delay_s = _duration(db_delay, "--db-delay")
    flush_s = _duration(flush_interval, "--flush-interval")
    if ttl_s <= 0 or flush_s <= 0:
        raise UserError("--ttl and --flush-interval must be > 0")
    if ops < 0 or (dur == 0 and ops == 0):
        raise UserError("give a --duration > 0 or --ops > 0")
    crash_s = None if crash_at is None else _duration(crash_at, "--crash-at")
    if crash_s is not None and crash_s <= 0:
        raise UserError("--crash-at must be > 0")
    w = Workload(read_fraction=read_fraction, keys=dist, alpha=alpha_f, n_keys=n_keys, value_size=value_size,
                 clients=clients, duration=dur, ops=ops, seed=seed)
    out = Outputs(output or default_output("simulate-strategy"), plot)
    rows, latencies, race_rows = [], {}, []
    with _resources(store_spec, cache_spec, delay_s, note) as (st, tier, store_conf, tier_conf):
        where = f"{st.describe()}, cache: {tier.describe()}"
        for name in names:
            if crash_s is not None:
                if progress:
                    progress(f"strategy: {name}, crash at {crash_s:g} s")
                st.load(w.n_keys, w.value_size)
                rows.append(crash_run(name, store_conf, tier_conf, w, crash_s, ttl=ttl_s, flush_interval=flush_s,
                                      batch_size=batch_size, store=st, progress=progress))
                continue
            if progress:
                limit = f"{dur:g} s" if dur else f"{ops:,} requests per client"
                progress(f"strategy: {name}, {clients} clients, {limit}")
            row = run_workload(name, st, tier, w, ttl=ttl_s, flush_interval=flush_s, batch_size=batch_size,
                               progress=progress, keep_latencies=plot is not None)
            latencies[name] = (row.pop("_read_ns", None), row.pop("_write_ns", None))
            rows.append(row)
        if race:
            if progress:
                progress("strategy: the cache-aside race, forced, with each fix")
            for fix in (None, "lease", "delay", "versioned"):
                race_rows.append(reproduce_race(st, tier, fix, delay=0.05))
    df = pd.DataFrame(rows).set_index("strategy")
    with out.writing() as tmp:
        from ..harness import results

        headline = ("lost", "lost_window_ms") if crash_s is not None else \
            ("db_queries_per_request", "read_p99_us", "write_p99_us", "stale_reads")
        results.write_rows(df.reset_index().to_dict("records"), tmp.results, suite="simulate-strategy",
                           func="crash" if crash_s is not None else "strategy", params=("strategy",),
                           compare="strategy", headline=headline, seconds="wall_seconds" if crash_s is None else "crash_at_s",
                           config={"store": store_spec[0], "cache": tier_conf["kind"], "mix": mix, "keys": keys,
                                   "key_count": n_keys, "value_size": value_size, "clients": clients,
                                   "duration": dur, "ops": ops, "ttl": ttl_s, "db_delay": delay_s,
                                   "flush_interval": flush_s, "batch_size": batch_size, "seed": seed})
        if tmp.plot:
            _plot(latencies, tmp.plot)
    header = (f"{where}; {100 * read_fraction:g}% reads over {n_keys:,} keys ({keys}), {value_size} B values, "
              f"{clients} clients, "
              f"{'killed at %g s' % crash_s if crash_s is not None else '%g s' % dur if dur else '%s requests each' % format(ops, ',')}; "
              f"TTL {ttl_s:g} s, write-behind every {1e3 * flush_s:g} ms or {batch_size} keys; seed {seed}")
    lines = [header]
    if crash_s is not None:
        lines.append(crash_table(df, fmt))
        wb = df[df.index == "write-behind"]
        if len(wb):
            r = wb.iloc[0]
            lines.append(f"write-behind lost {int(r['lost']):,} acknowledged writes, all acknowledged in the last "
                         f"{r['lost_window_ms']:.0f} ms (flush interval {1e3 * flush_s:g} ms, slowest flush "
                         f"{r['max_flush_ms']:.0f} ms); bound holds: {r['bound_holds']}")
    else:
        lines.append(strategy_table(df, fmt))
    if race_rows:
        lines.append(race_table(race_rows, fmt))
    return Outcome(lines, out.written, df)


def strategy_table(df, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["strategy", "read p50", "read p99", "read p999", "write p50", "write p99", "write p999",
            "DB q/req", "hit ratio", "stale reads", "stale fills", "stale left", "DB w/write", "ops/s"]
    rows = []
    for name, r in df.iterrows():
        rows.append([name, _fmt_us(r["read_p50_us"]), _fmt_us(r["read_p99_us"]), _fmt_us(r["read_p999_us"]),
                     _fmt_us(r["write_p50_us"]), _fmt_us(r["write_p99_us"]), _fmt_us(r["write_p999_us"]),
                     f"{r['db_queries_per_request']:.3f}", f"{r['hit_ratio']:.3f}",
                     f"{int(r['stale_reads']):,} ({r['stale_read_pct']:.2g}%)", f"{int(r['stale_fills']):,}",
                     f"{int(r.get('stale_left', 0)):,}", f"{r['db_writes_per_write']:.3f}", f"{r['ops_per_s']:,.0f}"])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def crash_table(df, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["strategy", "acked writes", "lost", "lost in last", "flush interval", "flushes", "bound holds"]
    rows = []
    for name, r in df.iterrows():
        fi = r["flush_interval_ms"]
        rows.append([name, f"{int(r['acked_writes']):,}", f"{int(r['lost']):,} ({r['lost_pct']:.2g}%)",
                     f"{r['lost_window_ms']:.0f} ms" if r["lost"] else "-",
                     "-" if fi != fi else f"{fi:g} ms", f"{int(r['flushes']):,}", r["bound_holds"]])
    return format_table(head, rows, fmt, align=["l"] + ["r"] * (len(head) - 1))


def race_table(race_rows, fmt: str = "table") -> str:
    from ..harness.report import format_table

    head = ["race fix", "reader read", "DB after write", "cache after fill", "stale", "after the delayed delete"]
    rows = [[r["fix"], f"v{r['reader_got']}", f"v{r['db']}", "-" if r["cached"] is None else f"v{r['cached']}",
             "yes" if r["stale"] else "no", {True: "stale", False: "clean"}.get(r.get("stale_after_delay"), "-")]
            for r in race_rows]
    return "the cache-aside race, forced:\n" + format_table(head, rows, fmt, align=["l"] + ["r"] * 5)


def _plot(latencies, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, idx, what in ((axes[0], 0, "read"), (axes[1], 1, "write")):
        for name, pair in latencies.items():
            ns = pair[idx] if pair else None
            if ns is None or not len(ns):
                continue
            qs = np.linspace(0, 1, min(len(ns), 2000))      # the CDF at 2000 quantiles
            ax.plot(np.quantile(ns, qs) / 1e3, qs, label=name)
        ax.set_xscale("log")
        ax.set_xlabel(f"{what} latency (µs)")
        ax.set_ylabel("fraction of requests")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
