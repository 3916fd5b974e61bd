"""``tradeoff simulate cdn``: the strategies asked for, each through the same workload
and topology; per-layer tables, a strategy summary, a results file and a plot."""
from __future__ import annotations

import itertools
import math

from ..harness.errors import UserError
from ..harness.outputs import Outcome, Outputs
from ._spec import CLASSES

__all__ = ["run", "layer_table", "plot", "parse_trace_options"]

_COLS = [("layer", "layer", "{}"), ("requests", "requests", "{:,}"), ("hit_ratio", "hit%", "{:.1%}"),
         ("byte_hit_ratio", "byte hit%", "{:.1%}"), ("validated_304", "304", "{:,}"),
         ("misses", "miss", "{:,}"), ("passed", "pass", "{:,}"), ("collapsed", "collapsed", "{:,}"),
         ("purged", "purged", "{:,}"), ("forwarded", "forwarded", "{:,}"), ("bytes_out", "GB out", "{:.3f}")]


def _fmt_rows(rows, cols, fmt):
    head = [c[1] for c in cols]
    body = []
    for r in rows:
        line = []
        for key, _h, f in cols:
            v = r.get(key)
            if key == "bytes_out":
                v = (v or 0) / 1e9
            line.append("" if v is None else f.format(v))
        body.append(line)
    if fmt == "markdown":
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(out)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    fmt_line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                       for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt_line(head)] + [fmt_line(b) for b in body])


def layer_table(result, fmt: str = "table") -> str:
    """The per-layer table of one :class:`tradeoff.cdn.Result`."""
    return _fmt_rows(result.rows, _COLS, fmt)


_SUMMARY = [("strategy", "strategy", "{}"), ("origin_requests", "origin req", "{:,}"),
            ("origin_gb", "origin GB", "{:.3f}"), ("egress_cost", "egress $", "{:.2f}"),
            ("p50_ms", "p50 ms", "{:.1f}"), ("p99_ms", "p99 ms", "{:.1f}"),
            ("stale_served", "stale served", "{:,}"), ("max_stale_window_s", "max stale s", "{:.0f}"),
            ("requests_per_s", "req/s", "{:,.0f}")]


def run(*, layers: str, workload: str | None, trace: str | None, requests: float, deploy: str,
        assets: str, purge: str, origin: str, push_above: str, purge_delay: str, seed: int,
        output: str | None, plot_path: str | None, fmt: str = "table", progress=None) -> Outcome:
    """Parse everything first (a bad option: UserError, nothing written), check the
    outputs, simulate each combination of ``assets`` x ``purge`` x ``origin``."""
    from ..harness.results import write_rows
    from ..harness.run import default_output
    from . import Topology, generate, load_trace, parse_deploys, parse_workload, simulate
    from ._spec import class_headers, parse_duration, parse_size

    try:
        topo = Topology(layers)
        a_list = [a.strip() for a in _split_assets(assets)]
        for a in a_list:
            class_headers(a)
        p_list = [p.strip() for p in purge.split(",")]
        for p in p_list:
            if p not in ("url", "tag", "none"):
                raise ValueError(f"--purge must be url, tag or none, got {p!r}")
        o_list = [o.strip() for o in origin.split(",")]
        for o in o_list:
            if o not in ("pull", "push"):
                raise ValueError(f"--origin must be pull or push, got {o!r}")
        parse_size(push_above, "--push-above")
        parse_duration(purge_delay, "--purge-delay")
        n = float(requests)
        if not math.isfinite(n) or n < 0 or n != int(n):
            raise ValueError(f"--requests must be a whole number >= 0, got {requests!r}")
        if trace is None:
            opts = parse_workload(workload or "site")
            parse_deploys(deploy, opts["duration"])
        else:
            topts = parse_trace_options(workload)
            parse_deploys(deploy, 1.0)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = Outputs(output or default_output("simulate-cdn"), plot_path)
    try:
        if trace is not None:
            w = load_trace(trace, **topts)
        else:
            if progress:
                progress(f"cdn: generating {int(n):,} requests ({workload or 'site'}, seed {seed})")
            w = generate(int(n), seed=seed, **opts)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    results = []
    for a, p, o in itertools.product(a_list, p_list, o_list):
        label = f"assets={a} purge={p} origin={o}"
        if progress:
            progress(f"cdn: {label}: {len(w):,} requests through {topo}")
        r = simulate(topo, w, assets=a, deploy=deploy, purge=p, origin=o, push_above=push_above,
                     purge_delay=purge_delay, seed=seed)
        results.append((label, a, p, o, r))
    rows, lines = [], []
    summary = []
    for label, a, p, o, r in results:
        lines.append(f"{label}  ({len(w):,} requests, {r.summary['deploys']} deploys, {r.summary['urls']:,} URLs)")
        lines.append(layer_table(r, fmt))
        lat = "  ".join(f"r{reg} {v[50]:.0f}/{v[95]:.0f}/{v[99]:.0f}" for reg, v in r.latency_by_region.items())
        lines.append(f"latency p50/p95/p99 ms by region: {lat}")
        s = r.summary
        if s["deploys"]:
            lines.append(f"after {s['deploys']} deploys: {s['stale_served']:,} responses stale; the last stale "
                         f"response {s['max_stale_window_s']:.0f} s after its deploy at worst "
                         f"({s['mean_stale_window_s']:.0f} s on average)")
        lines.append("")
        s = r.summary
        summary.append({"strategy": label, **s, "origin_gb": (s["origin_bytes_out"] + s["push_bytes"]) / 1e9})
        for row in r.rows:
            rows.append({"assets": a, "purge": p, "origin": o, **row,
                         "seconds": s["loop_seconds"]})
        rows.append({"assets": a, "purge": p, "origin": o, "layer": "total",
                     **{k: v for k, v in s.items() if not isinstance(v, (list, dict))},
                     **{f"p{q}_ms_region{reg}": v[q] for reg, v in r.latency_by_region.items() for q in v},
                     "seconds": s["loop_seconds"]})
    lines.append(_fmt_rows(summary, _SUMMARY, fmt))
    with out.writing() as tmp:
        write_rows(rows, tmp.results, suite="simulate-cdn", func="cdn",
                   params=("assets", "purge", "origin", "layer"), compare="assets",
                   headline=("hit_ratio", "origin_requests", "stale_served"),
                   config={"layers": layers, "workload": workload or ("csv" if trace else "site"),
                           "trace": trace, "requests": len(w), "deploy": deploy, "seed": seed},
                   seconds="seconds")
        if tmp.plot:
            plot(results, tmp.plot)
    return Outcome(lines, out.written, results)


def parse_trace_options(spec) -> dict:
    """With ``--trace``, ``--workload`` may carry the options of the trace's reading:
    ``trace:class=image,regions=5,format=oracle,key=obj,time=ts,size=bytes`` ->
    keyword arguments of :func:`tradeoff.cdn.load_trace` (``class``: the content
    class of a trace that names none; ``regions``; the rest go to
    :func:`tradeoff.traces.read`). The default ``site`` means no options.

    >>> parse_trace_options("trace:class=page,regions=3,format=csv,time=ts,header=true")
    {'regions': 3, 'format': 'csv', 'time': 'ts', 'header': True, 'cls': 'page'}
    >>> parse_trace_options("site")
    {}
    """
    from ..traces import parse_read_options

    text = (spec or "site").strip()
    if text == "site":
        return {}
    name, _, rest = text.partition(":")
    if name.strip() != "trace":
        raise ValueError(f"with --trace, --workload takes trace[:class=image,regions=5,format=...,key=...,"
                         f"time=...,size=...], got {spec!r}")
    opts = parse_read_options([p.strip() for p in rest.split(",") if p.strip()])
    if "class" in opts:
        opts["cls"] = str(opts.pop("class"))
        if opts["cls"] not in CLASSES:
            raise ValueError(f"trace class must be one of {', '.join(CLASSES)}, got {opts['cls']!r}")
    if "regions" in opts and (not isinstance(opts["regions"], int) or isinstance(opts["regions"], bool)
                              or opts["regions"] < 1):
        raise ValueError(f"trace option regions must be an integer >= 1, got {opts['regions']!r}")
    return opts


def _split_assets(spec: str) -> list[str]:
    """``hashed,max-age=300`` -> both (commas separate choices; max-age keeps its =)."""
    return [s for s in (x.strip() for x in spec.split(",")) if s]


def plot(results, path) -> None:
    """Origin requests and stale serves per time bucket, one line per strategy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    for label, _a, _p, _o, r in results:
        t = r.timeline["t"] / 3600
        ax1.plot(t, r.timeline["origin"], label=label)
        ax2.plot(t, r.timeline["stale"], label=label)
    ax1.set_ylabel("origin requests / bucket")
    ax2.set_ylabel("stale responses / bucket")
    ax2.set_xlabel("hours")
    ax1.legend(fontsize=7)
    ax1.set_title("origin load and staleness over time (deploys change content)")
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)
