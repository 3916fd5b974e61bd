"""How far the consumers of a message broker fall behind a traffic spike: a
discrete-event simulation of a producer, a broker and its consumers (the model
behind ``tradeoff simulate queue``).

The model, and the choices left open:

- Producer: a non-homogeneous Poisson process of rate lambda(t) (messages per
  second) drawn by thinning (Lewis and Shedler, Naval Research Logistics
  Quarterly 26(3), 1979). The profile (:func:`parse_profile`) is ``constant``
  (lambda = rate), ``spike:factor=5,start=60,duration=30`` (rate x factor on
  [start, start + duration), else rate) or ``diurnal:amplitude=0.5,period=3600``
  (rate x (1 + amplitude sin(2 pi t / period))).
- Keys: each message has one of ``keys`` keys, uniform (``skew=0``) or Zipf with
  exponent ``skew`` (key of rank r with probability proportional to r^-skew),
  and goes to partition ``mix64(key + 0x9e3779b97f4a7c15) % partitions``
  (:func:`tradeoff.messaging._backlog.key_partitions`). The run draws the
  partition from the keys' total weight per partition, which is the same in
  distribution.
- ``broker="log"`` (Kafka): each partition is owned by one consumer, by Kafka's
  range assignment (consumer i gets a block of ``P // N`` consecutive
  partitions, one more for the first ``P % N``); with more consumers than
  partitions the extra consumers own nothing and sit idle (``idle_consumers``).
  Each consumer serves the messages of its partitions one at a time, in arrival
  order (one FIFO per consumer). A hot key makes a hot partition, and its
  consumer falls behind while the others idle.
- ``broker="queue"`` (SQS, a work queue): one shared FIFO; an idle consumer
  (the one idle longest) takes the next message: the M/G/c queue.
- Service times (:func:`parse_service`): ``exp``, ``const`` or
  ``lognormal:sigma=S``, all with mean ``service_mean`` seconds, drawn per
  message when it is sent.
- The run: simulated time [0, ``duration``] (arrivals and service stop there;
  what is left is ``backlog_end``), or, with only ``messages``, until the
  ``messages`` messages sent have all been served; with both, arrivals stop
  after ``messages`` and the run at ``duration``.
- Backlog: messages sent and not yet fully processed (waiting + in service), in
  total and per partition (the partition's consumer lag in Kafka's sense: end
  offset minus committed offset, a message committed when processed).
- Time to drain (spike profile): from the end of the spike until the backlog
  first falls to at most max(its level at the start of the spike,
  ``drain_threshold``); 0 if it is already there when the spike ends, NaN if it
  does not get there within the run (or the spike does not end within it).
- Latency: end to end, from send to the end of processing, of the messages
  processed within the run, on a log-linear histogram (relative resolution
  2^-10; mean and max exact).
- Randomness: three streams seeded by ``seed`` draw the arrival times, the
  partitions and the service times, so runs that differ only in the broker, the
  consumers or the partitions see the same messages (common random numbers).

Cost: O(log N) per event for N consumers (about 2 events per message, plus one
per sample), O(P) per sample for the log broker's max lag; memory O(messages in
the backlog + samples + keys), never O(messages sent).

>>> r = simulate("queue", rate=40, consumers=2, service_mean=0.02, profile="constant",
...              duration=200, seed=1)
>>> r.arrived == r.served + r.backlog_end
True
>>> 0.3 < r.utilization < 0.5          # offered load 40 x 0.02 / 2 = 0.4
True
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..harness.specs import parse_duration
from . import _backlog

__all__ = ["simulate", "BacklogResult", "Profile", "ServiceTime", "parse_profile", "parse_service",
           "range_owners", "partition_weights", "fluid_spike", "plot", "BROKERS"]

BROKERS = ("log", "queue")

# tests set this to run the simulator's _check() between chunks of the run
_CHECK = False
_CHUNK = 1 << 20              # events per GIL-free stretch
_MAX_SAMPLES = 10_000_000
_MAX_KEYS = 100_000_000
_MAX_NODES = 1_000_000        # consumers, partitions


# ------------------------------------------------------------------ spec parsing

def _number(text: str, item: str, name: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{item}: {name}={text!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{item}: {name}={text!r} is not finite")
    return x


def _params(rest: str, item: str, allowed: Sequence[str]) -> dict:
    """``"a=1,b=2"`` -> {"a": "1", "b": "2"}, every name in ``allowed``, none twice."""
    out = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = pair.partition("=")
        key = key.strip().lower()
        if not eq or not key or not val.strip():
            raise ValueError(f"bad parameter {pair!r} in {item!r}: write name=value")
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise ValueError(f"unknown parameter {key!r} in {item!r} (it takes {takes})")
        if key in out:
            raise ValueError(f"parameter {key!r} given twice in {item!r}")
        out[key] = val.strip()
    return out


@dataclass(frozen=True)
class Profile:
    """A producer rate profile (see :func:`parse_profile`): kind ``constant``,
    ``spike`` or ``diurnal``, times in seconds."""
    kind: str
    label: str
    factor: float = 1.0
    start: float = 0.0
    duration: float = 0.0
    amplitude: float = 0.0
    period: float = 3600.0

    @property
    def end(self) -> float:
        """The end of the spike (NaN for other profiles)."""
        return self.start + self.duration if self.kind == "spike" else math.nan

    def rate_at(self, rate: float, t) -> np.ndarray:
        """lambda(t) for base rate ``rate`` at times ``t`` (seconds), vectorized."""
        t = np.asarray(t, dtype=np.float64)
        if self.kind == "spike":
            inside = (t >= self.start) & (t < self.start + self.duration)
            return np.where(inside, rate * self.factor, rate)
        if self.kind == "diurnal":
            return rate * (1.0 + self.amplitude * np.sin(2.0 * np.pi * t / self.period))
        return np.full(t.shape, float(rate))


def parse_profile(spec) -> Profile:
    """Parse a rate profile; times take an optional unit (``30s``, ``2m``, ``1h``).

    - ``constant``: the base rate throughout.
    - ``spike:factor=5,start=60,duration=30``: factor x rate on [start,
      start + duration), the base rate elsewhere (defaults factor=3, start=60,
      duration=30; factor >= 0, duration > 0).
    - ``diurnal:amplitude=0.5,period=3600``: rate x (1 + amplitude x
      sin(2 pi t / period)) (defaults amplitude=0.5, period=1h; 0 <= amplitude <= 1).

    A :class:`Profile` is returned unchanged; bad specs raise a one-line ValueError.

    >>> parse_profile("spike:factor=5,start=1m,duration=30s")
    Profile(kind='spike', label='spike:factor=5,start=1m,duration=30s', factor=5.0, start=60.0, duration=30.0, amplitude=0.0, period=3600.0)
    >>> parse_profile("diurnal:period=1h").amplitude
    0.5
    >>> parse_profile("spike:factr=5")
    Traceback (most recent call last):
    ...
    ValueError: unknown parameter 'factr' in 'spike:factr=5' (it takes factor, start, duration)
    """
    if isinstance(spec, Profile):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"a rate profile is a string such as 'spike:factor=5', not {type(spec).__name__}")
    item = spec.strip()
    name, _, rest = item.partition(":")
    name = name.strip().lower()
    if name in ("constant", "const"):
        _params(rest, item, ())
        return Profile("constant", "constant")
    if name == "spike":
        kv = _params(rest, item, ("factor", "start", "duration"))
        factor = _number(kv.get("factor", "3"), item, "factor")
        if factor < 0:
            raise ValueError(f"{item}: factor must be >= 0, got {kv['factor']}")
        start = parse_duration(kv.get("start", "60"), f"{item}: start")
        duration = parse_duration(kv.get("duration", "30"), f"{item}: duration")
        if duration <= 0:
            raise ValueError(f"{item}: duration must be > 0, got {kv['duration']}")
        return Profile("spike", item, factor=factor, start=start, duration=duration)
    if name == "diurnal":
        kv = _params(rest, item, ("amplitude", "period"))
        amp = _number(kv.get("amplitude", "0.5"), item, "amplitude")
        if not 0 <= amp <= 1:
            raise ValueError(f"{item}: amplitude must be in [0, 1] (the rate would go negative), "
                             f"got {kv['amplitude']}")
        period = parse_duration(kv.get("period", "3600"), f"{item}: period")
        if period <= 0:
            raise ValueError(f"{item}: period must be > 0, got {kv['period']}")
        return Profile("diurnal", item, amplitude=amp, period=period)
    raise ValueError(f"unknown rate profile {name!r} in {item!r}: choose from constant, spike, diurnal")


@dataclass(frozen=True)
class ServiceTime:
    """A service-time distribution (see :func:`parse_service`); the mean is
    given separately (``service_mean``)."""
    kind: str
    label: str
    sigma: float = 0.0

    def scv(self) -> float:
        """Squared coefficient of variation Var/mean^2: 1 (exp), 0 (const),
        exp(sigma^2) - 1 (lognormal)."""
        if self.kind == "exp":
            return 1.0
        if self.kind == "const":
            return 0.0
        return math.expm1(self.sigma * self.sigma)


def parse_service(spec) -> ServiceTime:
    """``exp`` (exponential), ``const`` (every message takes the mean) or
    ``lognormal:sigma=S`` (sigma of the log, default 1; mu set for the mean).

    >>> parse_service("lognormal:sigma=0.5")
    ServiceTime(kind='lognormal', label='lognormal:sigma=0.5', sigma=0.5)
    >>> parse_service("gamma")
    Traceback (most recent call last):
    ...
    ValueError: unknown service distribution 'gamma' in 'gamma': choose from exp, const, lognormal:sigma=S
    """
    if isinstance(spec, ServiceTime):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"a service distribution is a string such as 'exp', not {type(spec).__name__}")
    item = spec.strip()
    name, _, rest = item.partition(":")
    name = name.strip().lower()
    if name in ("exp", "exponential"):
        _params(rest, item, ())
        return ServiceTime("exp", "exp")
    if name in ("const", "constant", "deterministic"):
        _params(rest, item, ())
        return ServiceTime("const", "const")
    if name == "lognormal":
        kv = _params(rest, item, ("sigma",))
        sigma = _number(kv.get("sigma", "1"), item, "sigma")
        if not 0 <= sigma <= 10:
            raise ValueError(f"{item}: sigma must be in [0, 10], got {kv['sigma']}")
        return ServiceTime("lognormal", item, sigma=sigma)
    raise ValueError(f"unknown service distribution {name!r} in {item!r}: choose from exp, const, "
                     f"lognormal:sigma=S")


# ------------------------------------------------------------------ partitions

def range_owners(partitions: int, consumers: int) -> np.ndarray:
    """The consumer of each partition under Kafka's range assignment
    (``RangeAssignor``, as :func:`tradeoff.messaging.assignors.range_assign`):
    consumer i owns ``P // N`` consecutive partitions, one more for i < P % N.

    >>> range_owners(7, 3).tolist()
    [0, 0, 0, 1, 1, 2, 2]
    >>> range_owners(2, 4).tolist()     # consumers 2 and 3 own nothing
    [0, 1]
    """
    each, extra = divmod(partitions, consumers)
    sizes = [each + (1 if i < extra else 0) for i in range(consumers)]
    return np.repeat(np.arange(consumers, dtype=np.int32), sizes)


def partition_weights(keys: int, partitions: int, skew: float = 0.0) -> np.ndarray:
    """Each partition's share of the messages: the total probability of the keys
    that hash to it, keys uniform (``skew=0``) or Zipf (rank r with probability
    proportional to r^-skew). Sums to 1.

    >>> w = partition_weights(1000, 4)
    >>> round(float(w.sum()), 12), len(w)
    (1.0, 4)
    """
    parts = _backlog.key_partitions(keys, partitions)
    if skew == 0:
        pmf = None
    else:
        pmf = np.arange(1, keys + 1, dtype=np.float64) ** -float(skew)
        pmf /= pmf.sum()
    w = np.bincount(parts, weights=pmf, minlength=partitions).astype(np.float64)
    return w / w.sum()


def fluid_spike(rate: float, factor: float, duration: float, capacities, shares) -> tuple:
    """The fluid (deterministic) approximation of a spike (Newell, *Applications
    of Queueing Theory*, 2nd ed., 1982, ch. 2: queues as continuous flows, the
    rush-hour model): a group of consumers with service capacity mu (messages/s)
    receiving lambda = rate x share gains (factor x lambda - mu) x duration
    messages during the spike when that is positive, then loses them at
    mu - lambda. Returns (peak backlog, time to drain after the spike): the peaks
    of the groups add up, the drain is the slowest group's; inf if a group
    cannot keep up with the base rate.

    >>> fluid_spike(100, 3, 30, [150], [1.0])      # (300 - 150) x 30 = 4500; / (150 - 100)
    (4500.0, 90.0)
    """
    peak, drain = 0.0, 0.0
    for mu, share in zip(capacities, shares):
        lam = rate * share
        if lam >= mu and lam > 0:
            return math.inf, math.inf
        gain = max(0.0, (factor * lam - mu) * duration)
        peak += gain
        if gain > 0:
            drain = max(drain, gain / (mu - lam))
    return peak, drain


# ------------------------------------------------------------------ result

@dataclass
class BacklogResult:
    """The figures of one run (times in seconds, rates in messages per second).

    ``series`` is the time series, one row per ``sample_every`` seconds: t,
    rate (the profile's lambda(t)), backlog (waiting + in service), in_service,
    waiting, arrival_rate and throughput (over the interval ending at t), the
    cumulative arrived and served, and for the log broker max_lag and
    max_lag_partition (the partition with the most messages in the system).
    ``per_consumer``: consumer, partitions owned, served, utilization.
    ``per_partition`` (log broker): partition, owner, share (of the keys'
    weight), arrived, peak_lag, lag_end. ``percentile(q)`` reads any latency
    percentile off the histogram; ``to_dict()`` gives the scalar figures (one
    report row), ``to_frame()`` the same as a one-row DataFrame.
    """
    broker: str
    profile: str
    rate: float                 # base rate
    consumers: int
    partitions: int | None      # None for the queue broker
    keys: int
    skew: float
    service: str
    service_mean: float
    seed: int
    sample_every: float
    horizon: float              # simulated seconds
    arrived: int
    served: int
    backlog_end: int            # messages still in the system at the end
    mean_backlog: float         # time average over the run
    peak_backlog: int
    peak_time: float
    spike_start: float          # NaN unless spike
    spike_end: float
    pre_spike_backlog: float    # at the start of the spike (NaN unless spike)
    drain_target: float         # max(pre_spike_backlog, drain_threshold)
    drain_time: float           # after the spike's end; NaN: not within the run
    fluid_peak: float           # fluid approximation (NaN unless spike)
    fluid_drain: float
    latency_mean: float
    latency_p50: float
    latency_p99: float
    latency_max: float
    throughput: float           # served / horizon
    offered: float              # arrived / horizon
    capacity: float             # active consumers / service_mean
    utilization: float          # mean busy fraction over all consumers
    idle_consumers: int         # log: consumers that own no partition
    events: int
    elapsed: float              # wall-clock seconds of the event loop
    series: object = field(repr=False)          # pandas DataFrame
    per_consumer: object = field(repr=False)    # pandas DataFrame
    per_partition: object = field(repr=False)   # pandas DataFrame (empty for the queue broker)
    latency_hist: tuple = field(repr=False)     # (counts, lower edges) of the histogram's buckets

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else math.nan

    def percentile(self, q: float) -> float:
        """Latency percentile q (0-100) of the messages served (NaN if none),
        the midpoint of its histogram bucket (relative error <= 2^-11)."""
        counts, lower = self.latency_hist
        return _hist_quantile(counts, lower, q, self.latency_max)

    def to_dict(self) -> dict:
        """The scalar figures, one report row."""
        out = {}
        for name in self.__dataclass_fields__:
            if name in ("series", "per_consumer", "per_partition", "latency_hist"):
                continue
            out[name] = getattr(self, name)
        out["events_per_s"] = self.events_per_s
        return out

    def to_frame(self):
        """``to_dict()`` as a one-row pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame([self.to_dict()])


def _hist_edges() -> np.ndarray:
    """Lower edges of the latency histogram's buckets, and the upper edge of the
    last (HIST['buckets'] + 1 values): bucket i starts at the double whose bits
    are (i + base) << (52 - sub)."""
    h = _backlog.HIST
    idx = np.arange(h["buckets"] + 1, dtype=np.uint64) + np.uint64(h["base"])
    return (idx << np.uint64(52 - h["sub"])).view(np.float64)


def _hist_quantile(counts: np.ndarray, edges: np.ndarray, q: float, vmax: float) -> float:
    n = int(counts.sum())
    if n == 0:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    rank = max(1, math.ceil(q / 100.0 * n))          # nearest rank
    i = int(np.searchsorted(np.cumsum(counts), rank))
    mid = 0.5 * (edges[i] + edges[i + 1])
    return float(min(mid, vmax))


# ------------------------------------------------------------------ simulate

def _int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
        if not f.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(f)
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _positive(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return x


def simulate(broker: str = "log", *, rate: float = 100.0, profile="spike", consumers: int = 4,
             partitions: int = 12, keys: int = 10_000, skew: float = 0.0, service="exp",
             service_mean=0.03, duration=600.0, messages: int | None = None, sample_every=1.0,
             seed: int = 0, drain_threshold: int = 0,
             progress: Callable[[float], None] | None = None) -> BacklogResult:
    """Simulate a producer at ``rate`` messages/s shaped by ``profile`` into a
    ``broker`` ("log" or "queue") read by ``consumers`` consumers.

    ``partitions`` (log broker) are spread over the consumers by range
    assignment; ``keys`` and ``skew`` set the key distribution (0: uniform,
    else Zipf). ``service`` (:func:`parse_service`) with mean ``service_mean``
    seconds is the processing time of a message. The run lasts ``duration``
    seconds (None: until the ``messages`` messages are served); ``messages``
    caps the messages sent. ``sample_every`` seconds between rows of the time
    series; ``drain_threshold`` a floor on the backlog that counts as drained.
    Durations take units ("10m", "250ms"). ``progress(fraction)`` is called
    between stretches of the run. See the module docstring for the model.

    Returns a :class:`BacklogResult`. Bad arguments raise a one-line ValueError.

    Cost: O(events log consumers); memory O(backlog + samples + keys).
    """
    if not isinstance(broker, str) or broker.strip().lower() not in BROKERS:
        raise ValueError(f"unknown broker {broker!r}: choose from log, queue")
    broker = broker.strip().lower()
    prof = parse_profile(profile)
    svc = parse_service(service)
    rate = _positive(rate, "rate")
    consumers = _int(consumers, "consumers", 1, _MAX_NODES)
    keys = _int(keys, "keys", 1, _MAX_KEYS)
    try:
        skew = float(skew)
    except (TypeError, ValueError):
        raise ValueError(f"skew must be a number, got {skew!r}") from None
    if not math.isfinite(skew) or skew < 0:
        raise ValueError(f"skew must be finite and >= 0, got {skew!r}")
    mean = parse_duration(service_mean, "service_mean")
    if mean <= 0:
        raise ValueError(f"service_mean must be > 0, got {service_mean!r}")
    if duration is None:
        horizon = math.inf
    else:
        horizon = parse_duration(duration, "duration")
        if horizon <= 0:
            raise ValueError(f"duration must be > 0, got {duration!r}")
    if messages is None:
        n_msgs = 0
        if horizon == math.inf:
            raise ValueError("give a duration or a message count (messages)")
    else:
        n_msgs = _int(messages, "messages", 1, 2**62)
    every = parse_duration(sample_every, "sample_every")
    if every <= 0:
        raise ValueError(f"sample_every must be > 0, got {sample_every!r}")
    if horizon < math.inf and horizon / every > _MAX_SAMPLES:
        raise ValueError(f"sample_every={sample_every!r} gives {horizon / every:.3g} samples over "
                         f"{horizon:g} s: at most {_MAX_SAMPLES:,}")
    drain_threshold = _int(drain_threshold, "drain_threshold", 0, 2**62)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    seed = int(seed)

    if broker == "log":
        P = _int(partitions, "partitions", 1, _MAX_NODES)
        owner = range_owners(P, consumers)
        weights = partition_weights(keys, P, skew)
        active = min(P, consumers)
    else:
        P = None
        owner = np.zeros(1, dtype=np.int32)
        weights = np.ones(1)
        active = consumers

    sim = _backlog.Backlog(_backlog.BROKERS[broker], consumers, owner, weights, seed)
    sim.set_profile(_backlog.PROFILES[prof.kind], rate, factor=prof.factor, start=prof.start,
                    duration=prof.duration, amplitude=prof.amplitude, period=prof.period)
    sim.set_service(_backlog.SERVICES[svc.kind], mean, sigma=svc.sigma)
    sim.set_run(horizon, n_msgs, every, drain_threshold)
    sim.start()
    t0 = time.perf_counter()
    while not sim.run(_CHUNK):
        if _CHECK:
            sim._check()
        if progress is not None:
            progress(min(sim.now / horizon, 1.0) if horizon < math.inf else sim.arrived / n_msgs)
    elapsed = time.perf_counter() - t0
    if _CHECK:
        sim._check()
    if progress is not None:
        progress(1.0)
    st = sim.stats()
    return _result(broker, prof, svc, rate, consumers, P, keys, skew, mean, seed, every, owner,
                   weights, active, st, elapsed)


def _result(broker, prof, svc, rate, consumers, P, keys, skew, mean, seed, every, owner, weights,
            active, st, elapsed) -> BacklogResult:
    import pandas as pd

    T = float(st["horizon"])
    t = st["t"]
    backlog = st["backlog"]
    cols = {"t": t, "rate": prof.rate_at(rate, t), "backlog": backlog,
            "in_service": st["in_service"], "waiting": backlog - st["in_service"]}
    dt = np.diff(t, prepend=np.nan)
    with np.errstate(invalid="ignore"):
        cols["arrival_rate"] = np.diff(st["arrived"], prepend=0) / dt
        cols["throughput"] = np.diff(st["served"], prepend=0) / dt
    cols["arrived"] = st["arrived"]
    cols["served"] = st["served"]
    if broker == "log":
        cols["max_lag"] = st["max_lag"]
        cols["max_lag_partition"] = st["max_lag_partition"]
    series = pd.DataFrame(cols)

    owned = np.bincount(owner, minlength=consumers) if broker == "log" else np.zeros(consumers, int)
    util = st["busy"] / T if T > 0 else np.full(consumers, np.nan)
    per_consumer = pd.DataFrame({"consumer": np.arange(consumers), "partitions": owned,
                                 "served": st["served_by"], "utilization": util})
    if broker == "log":
        per_partition = pd.DataFrame({"partition": np.arange(P), "owner": owner, "share": weights,
                                      "arrived": st["part_arrived"], "peak_lag": st["peak_lag"],
                                      "lag_end": st["lag"]})
        idle = consumers - active
    else:
        per_partition = pd.DataFrame({"partition": [], "owner": [], "share": [], "arrived": [],
                                      "peak_lag": [], "lag_end": []})
        idle = 0

    counts = st["hist"]
    edges = _hist_edges()
    served = int(st["n_served"])
    lat_max = float(st["lat_max"]) if served else math.nan
    if prof.kind == "spike":
        if broker == "log":
            caps = [1.0 / mean] * consumers
            shares = np.bincount(owner, weights=weights, minlength=consumers)
        else:
            caps, shares = [consumers / mean], [1.0]
        fpeak, fdrain = (float(x) for x in fluid_spike(rate, prof.factor, prof.duration, caps, shares))
        s_start, s_end = prof.start, prof.end
    else:
        fpeak = fdrain = s_start = s_end = math.nan
    return BacklogResult(
        broker=broker, profile=prof.label, rate=rate, consumers=consumers, partitions=P, keys=keys,
        skew=skew, service=svc.label, service_mean=mean, seed=seed, sample_every=every,
        horizon=T, arrived=int(st["n_arrived"]), served=served, backlog_end=int(st["n_backlog"]),
        mean_backlog=float(st["area"]) / T if T > 0 else math.nan,
        peak_backlog=int(st["peak"]), peak_time=float(st["peak_t"]),
        spike_start=s_start, spike_end=s_end, pre_spike_backlog=float(st["pre_level"]),
        drain_target=float(st["drain_target"]), drain_time=float(st["drain_t"]),
        fluid_peak=fpeak, fluid_drain=fdrain,
        latency_mean=float(st["lat_sum"]) / served if served else math.nan,
        latency_p50=_hist_quantile(counts, edges, 50, lat_max),
        latency_p99=_hist_quantile(counts, edges, 99, lat_max),
        latency_max=lat_max,
        throughput=served / T if T > 0 else math.nan,
        offered=int(st["n_arrived"]) / T if T > 0 else math.nan,
        capacity=active / mean,
        utilization=float(np.mean(util)),
        idle_consumers=idle, events=int(st["events"]), elapsed=elapsed,
        series=series, per_consumer=per_consumer, per_partition=per_partition,
        latency_hist=(counts, edges))


# ------------------------------------------------------------------ plot

def plot(results, path) -> None:
    """Draw the backlog over time of one result or several (one line each: the
    brokers side by side), with the largest partition lag of a lone log-broker
    result, the spike window shaded and each drain marked, to ``path`` (.png or
    .svg), written to a temporary file and renamed."""
    from ..harness.plots import figure, save_figure

    if isinstance(results, BacklogResult):
        results = [results]
    fig, ax = figure()
    first = results[0]
    for i, result in enumerate(results):
        s = result.series
        color = f"C{i}"
        label = "backlog" if len(results) == 1 else f"{result.broker} broker"
        ax.plot(s["t"], s["backlog"], label=label, lw=1.2, color=color)
        if len(results) == 1 and "max_lag" in s:
            ax.plot(s["t"], s["max_lag"], label="largest partition lag", lw=1.0, color="C1")
        if not math.isnan(result.spike_start) and not math.isnan(result.drain_time):
            ax.axvline(result.spike_end + result.drain_time, color=color, ls="--", lw=1,
                       label=f"{'' if len(results) == 1 else result.broker + ': '}"
                             f"drained {result.drain_time:.4g} s after the spike")
    if not math.isnan(first.spike_start):
        ax.axvspan(first.spike_start, min(first.spike_end, first.horizon), color="tab:red",
                   alpha=0.12, label="spike")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("messages in the system")
    brokers = " vs ".join(r.broker for r in results)
    ax.set_title(f"{brokers}: {first.consumers} consumers, {first.profile}", fontsize=10)
    ax.set_xlim(0, max(r.horizon for r in results))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    save_figure(fig, path)
