"""Tail latency behind a balancer: a discrete-event simulation of servers with
queues, driven by a balancing policy, with failures, health checks and ejection.

Units. Latencies are in units of the mean service time: a request's work has
mean 1, and a server of speed ``v`` serves work ``w`` in ``w / v``. Wall-clock
quantities (failure times, health-check intervals and timeouts, ejection times,
on/off periods, trace times, detection and reinstatement times, the durations
the balancer sees in ``done``) are in seconds, and ``mean_service`` (seconds,
default 10 ms, or the mean of a service-time trace) ties the two together.

What it models, and the choices the issue leaves open:

- Arrivals: ``"poisson"`` at rate ``load * sum(speeds)`` per mean service time;
  ``"onoff:on=1s,off=1s"`` (exponential on and off periods; Poisson during on
  periods, nothing during off periods, at the on-rate that keeps the average
  load; it starts on); ``"batch:size=10"`` (batches of exactly 10 at the same
  instant, batches Poisson) or ``"batch:mean=10"`` (geometric batch sizes with
  mean 10); ``"trace:PATH"`` or a numpy array of arrival times in seconds (in
  order, not rescaled: ``load`` is then ignored, the offered load is reported,
  and at most ``len(trace)`` requests run).
- Service times (see :func:`parse_service`): ``exp``, ``const``,
  ``bimodal:p=0.1,ratio=10`` (or ``bimodal:p=0.1,short=1,long=10``),
  ``lognormal:sigma=1.5``, ``pareto:alpha=2.5``, ``file:PATH`` (resampled with
  replacement) or ``trace:PATH`` (in order, cycled), or an array (resampled;
  ``parse_service(arr, in_order=True)`` for in order). Every distribution is
  scaled to mean 1; the shape is what the parameters choose.
- Disciplines: ``"fcfs"`` (one FIFO queue per server) or ``"ps"`` (processor
  sharing, exact).
- Each request comes from a client, a number drawn uniformly from
  ``range(clients)`` (or the ``clients`` array in order), passed to the
  balancer as its client word (IP hash uses it).
- Failures (``fail=[(server, t_down, t_up)]`` or ``"3@10s-40s,5@20-30"``): a
  request sent to a down server is an *error*; it returns at once (connection
  refused) or, with ``error_timeout=T`` seconds, after T (a black hole), holding
  its connection on the balancer until then. Requests queued or in service on a
  server when it fails are *dropped*: they fail at that instant (or T later)
  and, like errors, count against the server in outlier detection. A recovered
  server starts empty. Errors, drops and rejections do not enter the latency
  figures. The balancer's ``done`` gets the latency in seconds for a success
  and ``-1`` (unknown) for a failure. With instant errors a dead server's
  connections close at once, so policies that count open connections (least
  connections, P2C, least response time) see it idle and send it more than its
  share: the black hole a health check or ejection has to close.
- Health checks (``health=HealthCheck(...)``) probe server ``i`` first at
  ``i * interval / n`` and then every ``interval``: a probe of a live server
  succeeds at once, a probe of a down server fails after ``timeout``, and no
  second probe of a server starts while one is pending. ``rise``/``fall`` turn
  results into ``mark_up``/``mark_down`` on the balancer. With ``fall`` F and
  timeout = interval the balancer stops sending between F and F+1 intervals
  after a failure; with ``rise`` R (and timeout <= interval) it sends again
  within R intervals of the recovery.
- Outlier detection (``outlier=OutlierDetector(...)``) sees every request
  result (success, error, drop) at the time the client sees it.
- If every server is out of rotation the balancer cannot pick: the request is
  *rejected* (counted, not an error of any server).
- Measurement: requests ``warmup..requests-1`` (by arrival order) give the
  latency figures; utilization and queue lengths (time averages and maxima of
  the number at a server, the one in service included) cover the time from the
  arrival of request ``warmup`` to that of request ``requests - 1``. The
  default warm-up is a tenth of the requests, cut to 90% of the requests
  expected before the first failure when there are failures. When the
  load is below 1, arrivals continue (unmeasured) until the last measured
  request finishes, so that the end of the run is not an emptying system.
  Errors, drops, rejections, per-server ``sent`` and the outage figures count
  every request up to ``requests``, warm-up included.
- Outages: for each failure, the time from failure to detection (the balancer
  first stops sending to the server: marked down or ejected; NaN if it never
  did during the outage) and from recovery to reinstatement (the balancer
  sends to it again; 0 if it never stopped, NaN if not within the run), errors
  sent to it during the outage and requests dropped when it failed.
- Randomness: one generator seeded by ``seed`` draws, per request, the
  service time, the client and the next arrival, in that order, whatever the
  policy: every policy sees the same requests (common random numbers). A policy
  named by a string is built with ``seed=seed`` for its own generator (a
  different stream: the simulator hashes its seed).
- The simulation starts from the balancer's current state (a fresh one: all
  servers up) and leaves it in its end state with no open connections. A
  health check or outlier detector passed in is rebound to the servers: the
  check starts with the servers the balancer has marked down as unhealthy
  (``rise`` good probes bring them back), the detector with nothing ejected
  (servers the balancer had ejected are put back).
- A policy given by name is built with the server speeds as its weights.

Cost: O(log n) per event (an indexed heap over 2n + 4 event sources) plus the
policy's pick; memory O(requests) for the per-request records plus O(n + jobs
in the system).

>>> r = simulate("random", servers=4, load=0.5, requests=20_000, seed=1)
>>> 1.8 < r.mean < 2.2           # n M/M/1 queues at rho 0.5: 1/(1 - rho) = 2
True
>>> parse_failures("3@10s-40s,5@20-30")
[Failure(server=3, down=10.0, up=40.0), Failure(server=5, down=20.0, up=30.0)]
"""
from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..harness.specs import parse_duration
from ._base import Balancer, HealthCheck, OutlierDetector
from . import _sim
from .experiment import POLICIES as _POLICY_REGISTRY

__all__ = ["simulate", "SimResult", "ServiceSpec", "ArrivalSpec", "Failure", "parse_service",
           "parse_arrivals", "parse_failures", "parse_duration", "parse_speeds", "make_balancer", "POLICIES",
           "DEFAULT_MEAN_SERVICE"]

DEFAULT_MEAN_SERVICE = 0.01   # seconds

# tests set this to run the simulator's _check() between chunks of the run
_CHECK = False

# policy names -> class names in tradeoff.balance._impl (the registry is experiment.POLICIES)
POLICIES = {name: entry.target.rpartition(".")[2] for name, entry in _POLICY_REGISTRY.items()}

def _number(text: str, where: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{where}: {text!r} is not finite")
    return x


def _pairs(rest: str, item: str, allowed: Sequence[str]) -> dict:
    out = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"bad parameter {pair!r} in {item!r}: write name=value")
        if key not in allowed:
            takes = ", ".join(allowed) or "no parameters"
            raise ValueError(f"unknown parameter {key!r} in {item!r} (it takes {takes})")
        if key in out:
            raise ValueError(f"parameter {key!r} given twice in {item!r}")
        out[key] = val.strip()
    return out


def _load_numbers(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} file {path!r} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # numpy warns of an empty file: said below, once
            if p.suffix == ".npy":
                arr = np.load(p, allow_pickle=False)
            else:
                arr = np.loadtxt(p, dtype=np.float64, ndmin=1, comments="#", delimiter=None)
    except Exception as exc:     # a malformed file: one line, not a traceback
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"cannot read {what} file {path!r}: {msg}") from None
    arr = np.asarray(arr, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} file {path!r} holds no numbers")
    return arr


# ------------------------------------------------------------------ service times

@dataclass(frozen=True)
class ServiceSpec:
    """A service-time distribution with mean 1 (see :func:`parse_service`).

    ``kind`` is exp, const, bimodal, lognormal, pareto, resample or order;
    ``params`` the normalized parameters; ``values`` the normalized samples of
    an empirical distribution; ``mean_seconds`` the mean of those samples before
    normalization (taken as seconds), else None.
    """
    kind: str
    label: str
    params: dict = field(default_factory=dict)
    values: np.ndarray | None = field(default=None, repr=False, compare=False)
    mean_seconds: float | None = None


def _empirical(values, in_order: bool, label: str) -> ServiceSpec:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("service times: the sample is empty")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("service times must be finite and >= 0")
    mean = float(arr.mean())
    if mean <= 0:
        raise ValueError("service times: the mean must be > 0")
    return ServiceSpec("order" if in_order else "resample", label, {},
                       np.ascontiguousarray(arr / mean), mean)


def parse_service(spec, *, in_order: bool = False) -> ServiceSpec:
    """Parse a service-time distribution; every one is scaled to mean 1.

    - ``exp`` (also ``exponential``): exponential.
    - ``const`` (also ``constant``, ``deterministic``): always 1.
    - ``bimodal:p=0.1,ratio=10``: the long value with probability p, else the
      short one, long = ratio x short (defaults p=0.1, ratio=10); or explicit
      ``bimodal:p=0.1,short=2,long=50`` (only their ratio matters).
    - ``lognormal:sigma=1.5``: sigma of the log (default 1), mu set for mean 1.
    - ``pareto:alpha=2.5``: Pareto with shape alpha > 1 (default 2.5), scale
      (alpha - 1) / alpha for mean 1.
    - ``file:PATH``: samples from a file (``.npy`` or text, one number per
      line), resampled with replacement; ``trace:PATH``: the same, in order,
      cycled. A numpy array or list is a sample too (resampled, or in order
      with ``in_order=True``). Samples are in seconds: their mean becomes the
      unit of time unless ``mean_service`` is given.

    A :class:`ServiceSpec` is returned unchanged. Bad specs raise ValueError.

    >>> parse_service("lognormal:sigma=1.5").params["sigma"]
    1.5
    >>> parse_service("bimodal:p=0.5,ratio=3").params     # 0.5 x 0.5 + 0.5 x 1.5 = 1
    {'p': 0.5, 'short': 0.5, 'long': 1.5}
    """
    if isinstance(spec, ServiceSpec):
        return spec
    if not isinstance(spec, str):
        return _empirical(spec, in_order, "trace" if in_order else "sample")
    item = spec.strip()
    name, _, rest = item.partition(":")
    name = name.strip().lower()
    if name in ("file", "trace"):
        if not rest.strip():
            raise ValueError(f"{item!r}: give a path, e.g. {name}:times.npy")
        values = _load_numbers(rest.strip(), "service time")
        s = _empirical(values, name == "trace", item)
        return s
    if name in ("exp", "exponential", "m"):
        _pairs(rest, item, ())
        return ServiceSpec("exp", "exp")
    if name in ("const", "constant", "deterministic", "d"):
        _pairs(rest, item, ())
        return ServiceSpec("const", "const")
    if name == "bimodal":
        kv = _pairs(rest, item, ("p", "ratio", "short", "long"))
        p = _number(kv.get("p", "0.1"), item)
        if not 0 < p < 1:
            raise ValueError(f"{item}: p must be in (0, 1), got {p}")
        if "short" in kv or "long" in kv:
            if "ratio" in kv:
                raise ValueError(f"{item}: give ratio or short and long, not both")
            if "short" not in kv or "long" not in kv:
                raise ValueError(f"{item}: give both short and long")
            short, long = _number(kv["short"], item), _number(kv["long"], item)
            if short <= 0 or long <= 0:
                raise ValueError(f"{item}: short and long must be > 0")
        else:
            ratio = _number(kv.get("ratio", "10"), item)
            if ratio <= 0:
                raise ValueError(f"{item}: ratio must be > 0, got {ratio}")
            short, long = 1.0, ratio
        mean = (1 - p) * short + p * long
        return ServiceSpec("bimodal", item, {"p": p, "short": short / mean, "long": long / mean})
    if name == "lognormal":
        kv = _pairs(rest, item, ("sigma",))
        sigma = _number(kv.get("sigma", "1"), item)
        if sigma < 0:
            raise ValueError(f"{item}: sigma must be >= 0, got {sigma}")
        if sigma > 10:
            raise ValueError(f"{item}: sigma {sigma} is too large to simulate (at most 10)")
        return ServiceSpec("lognormal", item, {"sigma": sigma, "mu": -sigma * sigma / 2})
    if name == "pareto":
        kv = _pairs(rest, item, ("alpha",))
        alpha = _number(kv.get("alpha", "2.5"), item)
        if alpha <= 1:
            raise ValueError(f"{item}: alpha must be > 1 (the mean is infinite otherwise), got {alpha}")
        return ServiceSpec("pareto", item, {"alpha": alpha, "scale": (alpha - 1) / alpha})
    raise ValueError(f"unknown service distribution {name!r}: choose from exp, const, bimodal, "
                     f"lognormal, pareto, file:PATH, trace:PATH")


# ------------------------------------------------------------------ arrivals

@dataclass(frozen=True)
class ArrivalSpec:
    """An arrival process (see :func:`parse_arrivals`): kind poisson, onoff,
    batch or trace; ``params`` in seconds (on, off) or requests (batch size);
    ``times`` the trace in seconds."""
    kind: str
    label: str
    params: dict = field(default_factory=dict)
    times: np.ndarray | None = field(default=None, repr=False, compare=False)


def _trace(times, label: str) -> ArrivalSpec:
    arr = np.asarray(times, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("the arrival trace is empty")
    if not np.all(np.isfinite(arr)) or arr[0] < 0:
        raise ValueError("arrival times must be finite and >= 0")
    if np.any(np.diff(arr) < 0):
        raise ValueError("arrival times must be in non-decreasing order")
    return ArrivalSpec("trace", label, {}, np.ascontiguousarray(arr))


def parse_arrivals(spec) -> ArrivalSpec:
    """Parse an arrival process.

    - ``poisson``: Poisson arrivals at the rate the load asks for.
    - ``onoff:on=1s,off=1s``: bursts. On and off periods are exponential with
      these means (defaults 1 s each); arrivals are Poisson during on periods
      at ``(on + off) / on`` times the average rate and absent during off
      periods, so the average load is unchanged and the peak is higher.
    - ``batch:size=10``: batches of exactly 10 requests at one instant, the
      batches Poisson at 1/10 of the rate; ``batch:mean=10``: geometric batch
      sizes with mean 10.
    - ``trace:PATH`` (``.npy`` or text) or a numpy array: arrival times in
      seconds, non-decreasing.

    >>> parse_arrivals("onoff:on=200ms,off=800ms").params
    {'on': 0.2, 'off': 0.8}
    >>> parse_arrivals("batch:mean=4").params
    {'mean': 4.0}
    """
    if isinstance(spec, ArrivalSpec):
        return spec
    if not isinstance(spec, str):
        return _trace(spec, "trace")
    item = spec.strip()
    name, _, rest = item.partition(":")
    name = name.strip().lower()
    if name == "poisson":
        _pairs(rest, item, ())
        return ArrivalSpec("poisson", "poisson")
    if name == "onoff":
        kv = _pairs(rest, item, ("on", "off"))
        on = parse_duration(kv.get("on", "1s"), f"{item}: on")
        off = parse_duration(kv.get("off", "1s"), f"{item}: off")
        if on <= 0:
            raise ValueError(f"{item}: the on period must be > 0")
        return ArrivalSpec("onoff", item, {"on": on, "off": off})
    if name == "batch":
        kv = _pairs(rest, item, ("size", "mean"))
        if len(kv) != 1:
            raise ValueError(f"{item}: give size=K (fixed) or mean=M (geometric)")
        if "size" in kv:
            size = _number(kv["size"], item)
            if size < 1 or size != int(size):
                raise ValueError(f"{item}: size must be a whole number >= 1, got {kv['size']}")
            return ArrivalSpec("batch", item, {"size": int(size)})
        mean = _number(kv["mean"], item)
        if mean < 1:
            raise ValueError(f"{item}: mean must be >= 1, got {mean}")
        return ArrivalSpec("batch", item, {"mean": mean})
    if name == "trace":
        if not rest.strip():
            raise ValueError(f"{item!r}: give a path, e.g. trace:arrivals.npy")
        return _trace(_load_numbers(rest.strip(), "arrival"), item)
    raise ValueError(f"unknown arrival process {name!r}: choose from poisson, onoff, batch, trace:PATH")


# ------------------------------------------------------------------ failures

class Failure(NamedTuple):
    """Server ``server`` is down from ``down`` to ``up`` seconds (inf: for good)."""
    server: int
    down: float
    up: float


_TIME = r"[0-9.]+(?:[eE][-+]?[0-9]+)?\s*[a-zA-Z]*"
_FAIL = re.compile(rf"^\s*(\d+)\s*@\s*({_TIME})\s*(?:-\s*({_TIME})?\s*)?$")


def parse_failures(spec) -> list[Failure]:
    """``"3@10s-40s,5@20-30"``: server 3 is down from 10 s to 40 s, server 5
    from 20 s to 30 s (``SERVER@START-END``, times with an optional unit, bare
    numbers are seconds; ``3@10s`` stays down). Also a list of ``(server,
    t_down, t_up)`` tuples (``t_up`` None: stays down). Outages of one server
    must not overlap. Bad specs raise ValueError.

    >>> parse_failures("0@1m-90s")
    [Failure(server=0, down=60.0, up=90.0)]
    """
    if spec is None:
        return []
    out: list[Failure] = []
    if isinstance(spec, str):
        for item in filter(None, (p.strip() for p in spec.split(","))):
            m = _FAIL.match(item)
            if not m:
                raise ValueError(f"bad failure {item!r}: write SERVER@START-END, e.g. 3@10s-40s")
            server = int(m.group(1))
            down = parse_duration(m.group(2), f"start of failure {item!r}")
            up = math.inf if m.group(3) is None else parse_duration(m.group(3), f"end of failure {item!r}")
            out.append(Failure(server, down, up))
    else:
        for item in spec:
            if isinstance(item, Failure):
                item = tuple(item)
            try:
                server, down, up = item
            except (TypeError, ValueError):
                raise ValueError(f"bad failure {item!r}: give (server, t_down, t_up)") from None
            if isinstance(server, bool) or not isinstance(server, (int, np.integer)) or server < 0:
                raise ValueError(f"bad failure {item!r}: the server is an index >= 0")
            d = parse_duration(down, f"start of failure {item!r}")
            u = math.inf if up is None or up == math.inf else parse_duration(up, f"end of failure {item!r}")
            out.append(Failure(int(server), d, u))
    by_server: dict = {}
    for f in out:
        if not f.up > f.down:
            raise ValueError(f"failure of server {f.server} ends ({f.up:g} s) before it starts ({f.down:g} s)")
        by_server.setdefault(f.server, []).append(f)
    for server, fs in by_server.items():
        fs.sort(key=lambda f: f.down)
        for a, b in zip(fs, fs[1:]):
            if b.down < a.up:
                raise ValueError(f"outages of server {server} overlap: {a.down:g}-{a.up:g} s "
                                 f"and {b.down:g}-{b.up:g} s")
    return out


# ------------------------------------------------------------------ policies

def make_balancer(spec: str, servers, weights=None, seed: int = 0) -> Balancer:
    """A balancer from a name in :data:`POLICIES`, with parameters after colons
    (``"p2c:choices=3"``); ``servers`` and ``weights`` go to its constructor."""
    from ..harness.errors import UserError
    from .experiment import make

    try:
        return make(spec, servers, weights, seed)
    except UserError as exc:
        raise ValueError(str(exc)) from None


# ------------------------------------------------------------------ result

@dataclass
class SimResult:
    """The figures of one simulation (latencies in units of the mean service
    time, other times in seconds). ``to_dict()`` gives the scalar figures (one
    report row), ``to_frame()`` the same as a one-row DataFrame; ``cdf()`` and
    ``histogram()`` the latency distribution for plots (O(m log m) for m
    latencies); ``latencies``, ``status`` and ``server_of`` the raw records.

    >>> r = simulate("rr", servers=2, load=0.5, requests=2_000, seed=3)
    >>> r.completed, r.errors, len(r.utilization)
    (1800, 0, 2)
    >>> sorted(r.to_dict())[:4]
    ['arrivals', 'completed', 'detect_s', 'discipline']
    """
    policy: str
    servers: int
    load: float                 # offered load (measured for a trace)
    service: str
    arrivals: str
    discipline: str
    requests: int
    warmup: int
    seed: int
    mean_service: float         # seconds per unit of latency
    completed: int              # measured requests that succeeded
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    utilization: np.ndarray     # per server, busy fraction of the window
    queue_mean: np.ndarray      # per server, time-average number at the server
    queue_max: np.ndarray
    sent: np.ndarray            # per server, requests routed to it (all requests)
    errors: int                 # sent to a down server
    dropped: int                # on a server when it failed
    rejected: int               # no server in rotation
    outages: list               # one dict per failure, see simulate()
    sim_seconds: float          # simulated time
    events: int
    elapsed: float              # wall-clock seconds the simulation took
    latencies: np.ndarray = field(repr=False)        # measured successes, arrival order
    status: np.ndarray = field(repr=False)           # per request: see STATUS
    server_of: np.ndarray = field(repr=False)        # per request: server index or -1

    STATUS = {"ok": 0, "error": 1, "dropped": 2, "rejected": 3}

    @property
    def detection(self) -> float:
        """Mean time (s) from failure to the balancer stopping sending, over the
        outages that were detected (NaN if none)."""
        xs = [o["detect_s"] for o in self.outages if not math.isnan(o["detect_s"])]
        return float(np.mean(xs)) if xs else math.nan

    @property
    def reinstatement(self) -> float:
        """Mean time (s) from recovery to the balancer sending again (NaN if none)."""
        xs = [o["reinstate_s"] for o in self.outages if not math.isnan(o["reinstate_s"])]
        return float(np.mean(xs)) if xs else math.nan

    def percentile(self, q) -> float:
        """Any latency percentile (0-100) of the measured successes."""
        if self.latencies.size == 0:
            return math.nan
        return float(np.percentile(self.latencies, q))

    def cdf(self, points: int = 512):
        """(latency, fraction <= latency) at ``points`` quantiles, for a CDF plot."""
        if self.latencies.size == 0:
            return np.empty(0), np.empty(0)
        q = np.linspace(0, 1, points)
        return np.quantile(self.latencies, q), q

    def histogram(self, bins: int = 200, log: bool = True):
        """(counts, edges) of the latencies, on log-spaced bins by default."""
        lat = self.latencies
        if lat.size == 0:
            return np.zeros(bins, dtype=np.int64), np.zeros(bins + 1)
        lo = max(float(lat.min()), 1e-6)
        hi = max(float(lat.max()), lo * (1 + 1e-9))
        edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lat.min(), hi, bins + 1)
        counts, edges = np.histogram(lat, bins=edges)
        return counts, edges

    def to_dict(self) -> dict:
        """The scalar figures, one report row (per-server arrays summarized)."""
        util = self.utilization
        return {
            "policy": self.policy, "servers": self.servers, "load": self.load,
            "service": self.service, "arrivals": self.arrivals, "discipline": self.discipline,
            "requests": self.requests, "warmup": self.warmup, "seed": self.seed,
            "mean_service_s": self.mean_service, "completed": self.completed,
            "mean": self.mean, "p50": self.p50, "p90": self.p90, "p99": self.p99,
            "p999": self.p999, "max": self.max,
            "util_mean": float(np.mean(util)) if util.size else math.nan,
            "util_max": float(np.max(util)) if util.size else math.nan,
            "queue_mean": float(np.mean(self.queue_mean)) if self.queue_mean.size else math.nan,
            "queue_max": int(np.max(self.queue_max)) if self.queue_max.size else 0,
            "errors": self.errors, "dropped": self.dropped, "rejected": self.rejected,
            "outages": len(self.outages), "detect_s": self.detection,
            "reinstate_s": self.reinstatement, "sim_seconds": self.sim_seconds,
            "events": self.events, "elapsed_s": self.elapsed,
        }

    def to_frame(self):
        """``to_dict()`` as a one-row pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame([self.to_dict()])


# ------------------------------------------------------------------ simulate

def parse_speeds(speeds, n: int) -> np.ndarray:
    """Server speeds: ``"1,2,2"`` or a sequence, one finite number > 0 per server
    (None: all 1); ValueError naming what is wrong."""
    if speeds is None:
        return np.ones(n)
    if isinstance(speeds, str):
        try:
            speeds = [float(x) for x in speeds.split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"bad speeds {speeds!r}: write numbers separated by commas") from None
    arr = np.asarray(speeds, dtype=np.float64).ravel()
    if arr.size != n:
        raise ValueError(f"{arr.size} speeds for {n} servers")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("server speeds must be finite and > 0")
    return np.ascontiguousarray(arr)


def _policy_label(balancer) -> str:
    return balancer if isinstance(balancer, str) else type(balancer).__name__


def simulate(balancer, servers: int | None = None, load: float = 0.9, service="exp",
             requests: int = 1_000_000, seed: int = 0, discipline: str = "fcfs", speeds=None,
             arrivals="poisson", fail=None, health: HealthCheck | None = None,
             outlier: OutlierDetector | None = None, warmup=None,
             progress: Callable[[int, int], None] | None = None, *,
             mean_service: float | None = None, clients=10_000,
             error_timeout=0.0) -> SimResult:
    """Simulate ``requests`` requests through ``balancer`` to ``servers`` servers.

    ``balancer`` is a :class:`Balancer` (its server count is the number of
    servers) or a policy name from :data:`POLICIES` with optional parameters
    (``"p2c:choices=3"``), built for ``servers`` servers (default 10) weighted
    by ``speeds``. ``load`` is the offered load (arrival rate over total
    service capacity; at or above 1 it runs but warns). ``service``,
    ``arrivals`` and ``fail`` take the specs of :func:`parse_service`,
    :func:`parse_arrivals` and :func:`parse_failures`. ``discipline`` is
    "fcfs" or "ps". ``warmup`` (default a tenth of ``requests``, ending before
    the first failure; a float below 1 is a fraction) requests are not measured. ``progress(done, total)`` is
    called about every 1% of the arrivals. ``mean_service`` is the mean service
    time in seconds; ``clients`` a count or an array of client numbers;
    ``error_timeout`` the seconds after which a request to a down server
    fails (0: at once). See the module docstring for every modelling choice.

    Returns a :class:`SimResult`. Its ``outages`` list holds per failure:
    server, down_s, up_s, detect_s (seconds from failure until the balancer
    stopped sending), reinstate_s (from recovery until it sent again), errors
    (sent to the server while down) and dropped.

    Cost: O((requests + probes) log n) time plus the policy; the GIL is released
    in chunks of about 1% of the arrivals.
    """
    t_start = time.perf_counter()
    if isinstance(requests, bool) or not isinstance(requests, (int, np.integer)):
        raise TypeError(f"requests must be an int, got {type(requests).__name__}")
    requests = int(requests)
    if requests < 1:
        raise ValueError(f"requests must be >= 1, got {requests}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    seed = int(seed)
    disc = str(discipline).lower()
    if disc not in ("fcfs", "ps"):
        raise ValueError(f"unknown discipline {discipline!r}: choose fcfs or ps")
    svc = parse_service(service)
    arr = parse_arrivals(arrivals)
    failures = parse_failures(fail)
    if health is not None and not isinstance(health, HealthCheck):
        raise TypeError(f"health must be a HealthCheck, not {type(health).__name__}")
    if outlier is not None and not isinstance(outlier, OutlierDetector):
        raise TypeError(f"outlier must be an OutlierDetector, not {type(outlier).__name__}")

    if mean_service is None:
        mean_service = svc.mean_seconds if svc.mean_seconds is not None else DEFAULT_MEAN_SERVICE
    unit = float(mean_service)
    if not math.isfinite(unit) or unit <= 0:
        raise ValueError(f"mean_service must be > 0 seconds, got {mean_service!r}")
    error_timeout = parse_duration(error_timeout, "error_timeout")

    # the balancer and the servers
    if isinstance(balancer, Balancer):
        n = len(balancer)
        if servers is not None and servers != n:
            raise ValueError(f"the balancer has {n} servers but servers={servers}")
        sp = parse_speeds(speeds, n)
        bal = balancer
    elif isinstance(balancer, str):
        n = 10 if servers is None else servers
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"servers must be an int >= 1, got {servers!r}")
        n = int(n)
        sp = parse_speeds(speeds, n)
        bal = make_balancer(balancer, n, None if speeds is None else list(sp), seed=seed)
    else:
        raise TypeError(f"balancer must be a Balancer or a policy name, not {type(balancer).__name__}")
    for f in failures:
        if f.server >= n:
            raise ValueError(f"failure of server {f.server}: there are only {n} servers (0..{n - 1})")

    # arrivals
    continuing = False
    if arr.kind == "trace":
        requests = min(requests, arr.times.size)
        times_u = arr.times[:requests] / unit
        span = times_u[-1] - times_u[0]
        offered = (requests - 1) / span / sp.sum() if span > 0 and requests > 1 else math.inf
    else:
        load = float(load)
        if not math.isfinite(load) or load <= 0:
            raise ValueError(f"load must be finite and > 0, got {load!r}")
        offered = load
        if load >= 1:
            warnings.warn(f"load {load:g} >= 1: the servers cannot keep up and queues grow "
                          f"without bound; latencies depend on the run length", RuntimeWarning,
                          stacklevel=2)
        else:
            continuing = True

    if warmup is None:
        warm = requests // 10
        if failures:
            # never past the first failure: its effect is what the run is about
            first = min(f.down for f in failures) / unit
            if arr.kind == "trace":
                before = int(np.searchsorted(times_u, first))
            else:
                before = int(first * offered * sp.sum())
            warm = min(warm, int(0.9 * before))
    elif isinstance(warmup, float) and 0 <= warmup < 1:
        warm = int(warmup * requests)
    elif isinstance(warmup, (int, np.integer)) and not isinstance(warmup, bool):
        warm = int(warmup)
    else:
        raise ValueError(f"warmup must be a request count or a fraction in [0, 1), got {warmup!r}")
    if not 0 <= warm < requests:
        raise ValueError(f"warmup must be in [0, requests), got {warm} for {requests} requests")

    if isinstance(clients, (int, np.integer)) and not isinstance(clients, bool):
        if clients < 1:
            raise ValueError(f"clients must be >= 1, got {clients}")
        client_arg = int(clients)
    else:
        client_arg = np.asarray(clients)
        if client_arg.ndim != 1 or client_arg.size == 0 or client_arg.dtype.kind not in "iu":
            raise ValueError("clients is a count or a non-empty 1-d array of integers")
        client_arg = client_arg.astype(np.int64).view(np.uint64)

    lat = np.full(requests, np.nan)
    srv = np.full(requests, -1, dtype=np.int32)
    status = np.full(requests, -1, dtype=np.int8)
    limit = 2 * requests if continuing else requests
    sim = _sim.Simulator(bal, sp, disc == "ps", unit, requests, warm, limit, seed,
                         lat, srv, status, health, outlier, error_timeout)
    K = _sim.ARRIVAL_KINDS
    if arr.kind == "poisson":
        sim.set_arrivals(K["poisson"], lam=offered * sp.sum())
    elif arr.kind == "onoff":
        sim.set_arrivals(K["onoff"], lam=offered * sp.sum(), on_mean=arr.params["on"] / unit,
                         off_mean=arr.params["off"] / unit)
    elif arr.kind == "batch":
        fixed = "size" in arr.params
        sim.set_arrivals(K["batch"], lam=offered * sp.sum(),
                         batch_mean=float(arr.params["size"] if fixed else arr.params["mean"]),
                         batch_fixed=fixed)
    else:
        sim.set_arrivals(K["trace"], trace=times_u)
    S = _sim.SERVICE_KINDS
    p = svc.params
    if svc.kind == "bimodal":
        sim.set_service(S["bimodal"], p["p"], p["short"], p["long"])
    elif svc.kind == "lognormal":
        sim.set_service(S["lognormal"], p["mu"], p["sigma"])
    elif svc.kind == "pareto":
        sim.set_service(S["pareto"], p["scale"], p["alpha"])
    elif svc.kind in ("resample", "order"):
        sim.set_service(S[svc.kind], values=svc.values)
    else:
        sim.set_service(S[svc.kind])
    sim.set_clients(client_arg)

    # the failure schedule: recoveries before failures at one instant, then by server
    evs = []
    for o, f in enumerate(failures):
        evs.append((f.down / unit, 1, f.server, o))
        if f.up != math.inf:
            evs.append((f.up / unit, 0, f.server, o))
    evs.sort(key=lambda e: (e[0], e[1], e[2]))
    sim.set_failures([e[0] for e in evs], [e[2] for e in evs], [1 - e[1] for e in evs],
                     [e[3] for e in evs], len(failures))

    sim.start()
    step = max(requests // 100, 1)
    target = step
    while True:
        until = target if target < requests else limit + 1
        finished = sim.run(until)
        if _CHECK:
            sim._check()
        if finished:
            break
        if progress is not None and until <= requests:
            progress(min(sim.arrived, requests), requests)
        target += step
    sim.finish()
    if _CHECK:
        sim._check()
    if progress is not None:
        progress(requests, requests)
    st = sim.stats()

    ok = status[warm:] == 0
    measured = lat[warm:][ok]
    if measured.size:
        q = np.percentile(measured, [50, 90, 99, 99.9])
        mean, mx = float(measured.mean()), float(measured.max())
    else:
        q = [math.nan] * 4
        mean = mx = math.nan
    outages = []
    for o, f in enumerate(failures):
        d = st["detect_t"][o]
        r = st["reinstate_t"][o]
        outages.append({
            "server": f.server, "down_s": f.down, "up_s": f.up,
            "detect_s": float(d * unit - f.down) if not math.isnan(d) else math.nan,
            "reinstate_s": float(r * unit - f.up) if not math.isnan(r) else math.nan,
            "errors": int(st["outage_errors"][o]), "dropped": int(st["outage_dropped"][o]),
        })
    sent = np.bincount(srv[srv >= 0], minlength=n).astype(np.int64)
    return SimResult(
        policy=_policy_label(balancer), servers=n, load=float(offered), service=svc.label,
        arrivals=arr.label, discipline=disc, requests=requests, warmup=warm, seed=seed,
        mean_service=unit, completed=int(measured.size), mean=mean,
        p50=float(q[0]), p90=float(q[1]), p99=float(q[2]), p999=float(q[3]), max=mx,
        utilization=st["utilization"], queue_mean=st["queue_mean"], queue_max=st["queue_max"],
        sent=sent, errors=int(st["errors"]), dropped=int(st["dropped"]),
        rejected=int(st["rejected"]), outages=outages, sim_seconds=float(st["t_end"]) * unit,
        events=int(st["events"]), elapsed=time.perf_counter() - t_start,
        latencies=measured, status=status, server_of=srv)
