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
from ..harness.catalogue import Catalogue, Choice, Entry

#: every balancing policy: the balance area's catalogue (classes in tradeoff.balance._impl)
POLICIES = Catalogue("policy", [
    Entry("rr", "_impl.RoundRobin", summary="round robin", aliases=("roundrobin", "round-robin")),
    Entry("wrr", "_impl.WeightedRoundRobin", summary="smooth weighted round robin (nginx)",
          aliases=("weighted",)),
    Entry("lc", "_impl.LeastConnections", summary="least open connections; ties in turn",
          aliases=("leastconn", "least-connections", "least_conn")),
    Entry("iphash", "_impl.IPHash", {"vnodes": 160}, summary="a client always to the same server (a ring)",
          aliases=("ip_hash", "ip-hash")),
    Entry("random", "_impl.Random", summary="uniformly at random"),
    Entry("p2c", "_impl.PowerOfTwoChoices", {"choices": 2},
          summary="the less loaded of d random servers (Mitzenmacher, 2001)", aliases=("power-of-two", "pow2")),
    Entry("lrt", "_impl.LeastResponseTime", {"alpha": 0.3},
          summary="least (EWMA response time x open connections)", aliases=("least-time", "least_time")),
], package="tradeoff.balance")


def parse_policies(spec: str | Sequence[str]) -> list[Choice]:
    """``"rr,lc,p2c:choices=3"`` -> choices; unknown names or parameters and bad
    values raise UserError (values are checked by building a small balancer)."""
    return POLICIES.parse_checked(spec, lambda choice: make(choice, 2))


def make(choice: Choice | str, servers, weights=None, seed: int = 0):
    """Build the balancer ``choice`` over ``servers`` (a count or names)."""
    return POLICIES.build(choice, servers, weights, seed=seed)


def _simulate_one(choice: Choice, first: bool, kw: dict, step=None):
    """One policy's simulation (``kw``: :func:`compare`'s settings); the SimResult."""
    import warnings

    from ._base import HealthCheck, OutlierDetector
    from .simulator import simulate

    kw = dict(kw)
    servers, seed, speeds = kw["servers"], kw["seed"], kw["speeds"]
    health, outlier = kw.pop("health"), kw.pop("outlier")
    weights = None if speeds is None else list(speeds)
    bal = make(choice, servers, weights, seed)
    hc = None if health is None else HealthCheck(*health)
    od = None if outlier is None else OutlierDetector(*outlier)
    kw.pop("servers")
    try:
        with warnings.catch_warnings():
            if not first:     # warn about an overload once, not once per policy
                warnings.simplefilter("ignore", RuntimeWarning)
            r = simulate(bal, health=hc, outlier=od, progress=step, **kw)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    r.policy = choice.label
    return r


def _quarters(progress, label):
    """A simulation's progress callback that says 25, 50, 75 and 100%."""
    last = [-1]

    def step(done, total):
        quarter = 4 * done // max(total, 1)        # 0..4: shown at 25, 50, 75 and 100%
        if quarter > last[0] and quarter > 0:
            last[0] = quarter
            progress(f"    {label}: {25 * quarter}%")
    return step


def _on_worker(task, shared):
    i, choice = task
    return _simulate_one(choice, i == 0, shared["kw"])


def compare(choices: Sequence[Choice], *, servers: int = 10, load: float = 0.9, service="exp",
            requests: int = 1_000_000, seed: int = 0, discipline: str = "fcfs", speeds=None,
            arrivals="poisson", fail=None, health=None, outlier=None,
            progress: Callable[[str], None] | None = None, cluster: str | None = None, **options) -> list:
    """Simulate every policy on the same requests; returns one
    :class:`~tradeoff.balance.simulator.SimResult` per choice (its ``policy`` is
    the choice's label, its ``ran_on`` where it ran). Health checks and outlier
    detectors are copied per run (they carry state). ``cluster`` (``tcp://host:port``
    or ``local:N``): one dask task per policy (:mod:`tradeoff.harness.cluster`), the
    same figures. Bad specs raise UserError."""
    # the checks and detectors as their settings (a new one per run; and plain values pickle)
    health = None if health is None else (health.interval, health.rise, health.fall, health.timeout)
    outlier = None if outlier is None else (outlier.consecutive_errors, outlier.base_ejection_time,
                                            outlier.max_ejection_percent)
    kw = dict(servers=servers, load=load, service=service, requests=requests, seed=seed,
              discipline=discipline, speeds=speeds, arrivals=arrivals, fail=fail, health=health,
              outlier=outlier, **options)
    results: list = [None] * len(choices)
    if cluster is not None:
        from ..harness.cluster import executor

        with executor(cluster) as ex:
            tasks = list(enumerate(choices))
            for done, (i, r, ran_on) in enumerate(ex.map(_on_worker, tasks, {"kw": kw}), 1):
                r.ran_on = ran_on
                results[i] = r
                if progress:
                    progress(f"[{done}/{len(choices)}] {r.policy}: done on {ran_on}")
        return results
    for i, choice in enumerate(choices):
        if progress:
            progress(f"[{i + 1}/{len(choices)}] {choice.label}: {requests:,} requests, {servers} servers, "
                     f"load {load:g}")
        results[i] = _simulate_one(choice, i == 0, kw, _quarters(progress, choice.label) if progress else None)
        results[i].ran_on = "local"
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
             "seconds": r.elapsed, "ran_on": getattr(r, "ran_on", "local")} for r in results]
    first = rows[0] if rows else {}
    # the same for every policy: said once in the report's header, not as metrics
    config = {k: first[k] for k in ("arrivals", "requests", "warmup", "seed", "mean_service_s") if k in first}
    if results and results[0].outages:
        config["failures"] = failure_text(results[0].outages)
    res.write_rows(rows, path, suite="simulate-balance", func="balance",
                   params=("servers", "load", "service", "discipline", "policy"), compare="policy",
                   extra=extra, headline=("p99", "mean"), config=config)


def parse_health(spec: str | None):
    """``--health``: ``on`` for HAProxy-like defaults, or ``interval=2s,rise=2,fall=3,timeout=1s``
    -> a :class:`~tradeoff.balance.HealthCheck` (None for no spec); UserError when bad."""
    from ..harness.specs import parse_settings
    from ._base import HealthCheck
    from .simulator import parse_duration

    if not spec:
        return None
    if spec.strip().lower() in ("on", "yes", "default"):
        return HealthCheck()
    p = parse_settings(spec, {"interval": "interval", "inter": "interval", "rise": "rise", "fall": "fall",
                              "timeout": "timeout"}, "--health")
    try:
        kw = {k: parse_duration(p[k], f"health check {k}") for k in ("interval", "timeout") if k in p}
        kw.update({k: _whole(p[k], f"--health {k}") for k in ("rise", "fall") if k in p})
        return HealthCheck(**kw)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def parse_eject(spec: str | None):
    """``--eject``: ``on`` for Envoy-like defaults, or ``errors=5,time=30s,max=10`` ->
    an :class:`~tradeoff.balance.OutlierDetector` (None for no spec); UserError when bad."""
    from ..harness.specs import parse_settings
    from ._base import OutlierDetector
    from .simulator import parse_duration

    if not spec:
        return None
    if spec.strip().lower() in ("on", "yes", "default"):
        return OutlierDetector()
    p = parse_settings(spec, {"errors": "consecutive_errors", "time": "base_ejection_time",
                              "max": "max_ejection_percent"}, "--eject")
    try:
        kw = {}
        if "consecutive_errors" in p:
            kw["consecutive_errors"] = _whole(p["consecutive_errors"], "--eject errors")
        if "base_ejection_time" in p:
            kw["base_ejection_time"] = parse_duration(p["base_ejection_time"], "ejection time")
        if "max_ejection_percent" in p:
            try:
                kw["max_ejection_percent"] = float(p["max_ejection_percent"].rstrip("%"))
            except ValueError:
                raise UserError(f"--eject max must be a percentage, got {p['max_ejection_percent']!r}") from None
        return OutlierDetector(**kw)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{what} must be a whole number, got {text!r}") from None


def run(*, policy: str = "rr,lc,p2c,random", servers: int = 10, load: float = 0.9, service: str = "exp",
        arrivals: str = "poisson", requests="1e6", discipline: str = "fcfs", speeds: str | None = None,
        mean_service: str = "10ms", fail: str | None = None, health: str | None = None,
        eject: str | None = None, seed: int = 0, plot: str | None = None, output: str | None = None,
        fmt: str = "table", cluster: str | None = None, progress: Callable[[str], None] | None = None,
        note: Callable[[str], None] | None = None):
    """``tradeoff simulate balance``: the options as typed -> an
    :class:`~tradeoff.harness.outputs.Outcome` (a header line and the latency table, the
    files written, the SimResults). Every spec is checked and the outputs are tried before
    any simulation; the results file and the plot are written both or neither."""
    import warnings

    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..harness.specs import parse_count
    from .simulator import parse_arrivals, parse_duration, parse_failures, parse_service, parse_speeds

    note = note or (lambda line: None)
    n_requests = parse_count(requests, "--requests")
    choices = parse_policies(policy)
    if cluster is not None:
        from ..harness.cluster import parse_spec
        parse_spec(cluster)                                   # before any work
    out = Outputs(output or default_output("simulate-balance"), plot)
    if not load == load or load <= 0 or load == float("inf"):
        raise UserError(f"--load must be a number > 0, got {load}")
    try:
        parse_service(service)
        parse_arrivals(arrivals)
        failures = parse_failures(fail) if fail else None
        unit = parse_duration(mean_service, "--mean-service")
        speed_list = parse_speeds(speeds, servers).tolist() if speeds else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    hc, od = parse_health(health), parse_eject(eject)
    for f in failures or ():
        if f.server >= servers:
            raise UserError(f"--fail names server {f.server}, but servers are numbered 0..{servers - 1}")
    if load >= 1:
        note(f"warning: load {load:g} >= 1: the servers cannot keep up, queues grow without bound "
             f"and latencies depend on the run length")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # the overload warning was given once above
        runs = compare(choices, servers=servers, load=load, service=service, requests=n_requests, seed=seed,
                       discipline=discipline, speeds=speed_list, arrivals=arrivals, fail=failures,
                       health=hc, outlier=od, progress=progress, mean_service=unit, cluster=cluster)
    title = f"{servers} servers, load {load:g}, service {service}"
    if failures:
        title += "; " + failure_text(failures)
    with out.writing() as tmp:
        write_results(runs, tmp.results)
        if tmp.plot:
            plot_cdf(runs, tmp.plot, title=title)
    header = (f"latency in units of the mean service time ({unit * 1e3:g} ms); {n_requests:,} requests, "
              f"{servers} servers, load {load:g}, service {service}, {discipline}; * = lowest p99")
    return Outcome([header, table(runs, fmt)], out.written, runs)
