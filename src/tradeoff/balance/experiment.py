"""Which balancing policy: several policies simulated on the same requests (common
random numbers), as a DataFrame and a latency CDF plot (what ``tradeoff simulate
balance`` prints).

>>> from tradeoff.balance.experiment import compare, parse_policies
>>> runs = compare(parse_policies("random,lc"), servers=4, load=0.8, requests=20_000)
>>> [r.policy for r in runs], runs[1].p99 < runs[0].p99
(['random', 'lc'], True)
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from ..harness.errors import UserError
from ..harness.specs import Choice, parse_choices

# name -> (class in tradeoff.balance._impl, the parameters the command line may set)
POLICIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rr": ("RoundRobin", ()),
    "wrr": ("WeightedRoundRobin", ()),
    "lc": ("LeastConnections", ()),
    "iphash": ("IPHash", ("vnodes",)),
    "random": ("Random", ()),
    "p2c": ("PowerOfTwoChoices", ("choices",)),
    "lrt": ("LeastResponseTime", ("alpha",)),
}
ALIASES = {"roundrobin": "rr", "round-robin": "rr", "weighted": "wrr", "leastconn": "lc",
           "least-connections": "lc", "least_conn": "lc", "ip_hash": "iphash", "ip-hash": "iphash",
           "power-of-two": "p2c", "pow2": "p2c", "least-time": "lrt", "least_time": "lrt"}


def parse_policies(spec: str | Sequence[str]) -> list[Choice]:
    """``"rr,lc,p2c:choices=3"`` -> choices; unknown names or parameters and bad
    values raise UserError (values are checked by building a small balancer)."""
    known = {name: entry[1] for name, entry in POLICIES.items()}
    out = parse_choices(spec, known, "policy", aliases=ALIASES, everything=list(POLICIES))
    for choice in out:
        make(choice, 2)
    return out


def make(choice: Choice | str, servers, weights=None, seed: int = 0):
    """Build the balancer ``choice`` over ``servers`` (a count or names)."""
    from . import _impl

    if isinstance(choice, str):
        choice = parse_choices(choice, {k: v[1] for k, v in POLICIES.items()}, "policy",
                               aliases=ALIASES)[0]
    cls = getattr(_impl, POLICIES[choice.name][0])
    try:
        return cls(servers, weights, seed=seed, **choice.params)
    except (ValueError, TypeError, OverflowError) as exc:
        raise UserError(f"policy {choice.label}: {exc}") from None


def compare(choices: Sequence[Choice], *, servers: int = 10, load: float = 0.9, service="exp",
            requests: int = 1_000_000, seed: int = 0, discipline: str = "fcfs", speeds=None,
            arrivals="poisson", fail=None, health=None, outlier=None,
            progress: Callable[[str], None] | None = None, **options) -> list:
    """Simulate every policy on the same requests; returns one
    :class:`~tradeoff.balance.simulator.SimResult` per choice (its ``policy`` is
    the choice's label). Health checks and outlier detectors are copied per run
    (they carry state). Bad specs raise UserError."""
    import warnings

    from ._base import HealthCheck, OutlierDetector
    from .simulator import simulate

    results = []
    for i, choice in enumerate(choices):
        weights = None if speeds is None else list(speeds)
        bal = make(choice, servers, weights, seed)
        hc = None if health is None else HealthCheck(health.interval, health.rise, health.fall, health.timeout)
        od = None if outlier is None else OutlierDetector(outlier.consecutive_errors,
                                                          outlier.base_ejection_time,
                                                          outlier.max_ejection_percent)
        step = None
        if progress:
            progress(f"[{i + 1}/{len(choices)}] {choice.label}: {requests:,} requests, {servers} servers, "
                     f"load {load:g}")
            last = [-1]

            def step(done, total, label=choice.label, last=last):
                quarter = 4 * done // max(total, 1)        # 0..4: shown at 25, 50, 75 and 100%
                if quarter > last[0] and quarter > 0:
                    last[0] = quarter
                    progress(f"    {label}: {25 * quarter}%")
        try:
            with warnings.catch_warnings():
                if i:     # warn about an overload once, not once per policy
                    warnings.simplefilter("ignore", RuntimeWarning)
                r = simulate(bal, load=load, service=service, requests=requests, seed=seed,
                             discipline=discipline, speeds=speeds, arrivals=arrivals, fail=fail,
                             health=hc, outlier=od, progress=step, **options)
        except (ValueError, TypeError) as exc:
            raise UserError(str(exc)) from None
        r.policy = choice.label
        results.append(r)
    return results


def frame(results):
    """One row of scalar figures per run (``SimResult.to_dict``)."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in results])


def table(results, fmt: str = "table") -> str:
    """Latency percentiles (units of the mean service time) and, when servers
    failed, errors and detection times; the lowest p99 is marked *."""
    from ..harness.report import format_table

    best = min((r.p99 for r in results if not math.isnan(r.p99)), default=math.nan)
    failures = any(r.outages for r in results)
    headers = ["policy", "mean", "p50", "p90", "p99", "p999", "max", "util max", "queue max"]
    if failures:
        headers += ["errors", "detect", "reinstate"]
    rows = []
    for r in results:
        d = r.to_dict()
        star = " *" if r.p99 == best and len(results) > 1 else ""
        cells = [r.policy, f"{r.mean:.2f}", f"{r.p50:.2f}", f"{r.p90:.2f}", f"{r.p99:.2f}{star}",
                 f"{r.p999:.2f}", f"{r.max:.1f}", f"{100 * d['util_max']:.1f}%", str(d["queue_max"])]
        if failures:
            cells += [f"{r.errors:,}", _secs(r.detection), _secs(_reinstatement(r))]
        rows.append(cells)
    return format_table(headers, rows, fmt, align=["l"] + ["r"] * (len(headers) - 1))


def _reinstatement(r) -> float:
    """The mean reinstatement time, NaN (shown "-") when no failed server was ever taken
    out of rotation: the simulator counts that as 0 s, which reads as instant detection."""
    never_out = all(math.isnan(o["detect_s"]) and not o["reinstate_s"] for o in r.outages)
    return math.nan if never_out else r.reinstatement


def failure_text(fail) -> str:
    """``server 3 down 10-40 s, server 5 down from 20 s`` (for titles and headers), from
    :class:`~tradeoff.balance.simulator.Failure` items or a result's ``outages``."""
    parts = []
    for f in fail or ():
        server, down, up = ((f["server"], f["down_s"], f["up_s"]) if isinstance(f, dict)
                            else (f.server, f.down, f.up))
        when = f"from {down:g} s" if math.isinf(up) else f"{down:g}-{up:g} s"
        parts.append(f"server {server} down {when}")
    return ", ".join(parts)


def _secs(x: float) -> str:
    return "-" if x != x else f"{x:.2f} s"


def plot_cdf(results, path, *, title: str = "") -> None:
    """The latency CDF of every run on a log x axis, with p99 marked; PNG or SVG
    by the file's extension; written atomically."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    lows = []
    for r in results:
        x, q = r.cdf(1024)
        if x.size:
            lows.append(max(float(x[len(x) // 1000]), 1e-3))
            line, = ax.plot(x, q, label=f"{r.policy} (p99 {r.p99:.1f})")
            ax.axvline(r.p99, color=line.get_color(), alpha=0.3, linestyle=":")
    ax.set_xscale("log")
    if lows:
        ax.set_xlim(left=min(lows))     # from the 0.1th percentile: the tail is what matters
    ax.set_xlabel("latency (units of the mean service time)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.005)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend()
    save_figure(fig, path)


def write_results(results, path, *, extra: dict | None = None) -> None:
    """The runs as a results file that ``tradeoff report``/``compare`` read."""
    from ..harness import results as res

    rows = [{**r.to_dict(), "reinstate_s": _reinstatement(r) if r.outages else math.nan,
             "seconds": r.elapsed} for r in results]
    first = rows[0] if rows else {}
    # the same for every policy: said once in the report's header, not as metrics
    config = {k: first[k] for k in ("arrivals", "requests", "warmup", "seed", "mean_service_s") if k in first}
    if results and results[0].outages:
        config["failures"] = failure_text(results[0].outages)
    res.write_rows(rows, path, suite="simulate-balance", func="balance",
                   params=("servers", "load", "service", "discipline", "policy"), compare="policy",
                   extra=extra, headline=("p99", "mean"), config=config)
