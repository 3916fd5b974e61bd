"""Single-leader replication: follower lag, session guarantees and failover
(Kleppmann, *Designing Data-Intensive Applications*, O'Reilly 2017, ch. 5).

N replicas of a key-value store, replica 0 the first leader; clients read and
write; writes go to the leader, which appends them to its log and ships them to
the followers, and answers the client at once (``async``), after ``k``
followers acknowledged (``semisync=k``) or after all of them did (``sync``).
What it measures: the replication lag of each follower, the violations of the
session guarantees (read-your-writes, monotonic reads, consistent prefix),
client latencies and throughput and, when the leader crashes, the acknowledged
writes the failover loses and the time without a writable leader. The
simulation is a discrete-event one in Cython (:mod:`._leader`, on the package's
shared event core, without the GIL); its docstring gives the model and the
exact definitions. In short:

- a version is the *stamp* of the log entry that wrote it (appends are counted
  over the whole run, so stamps increase along every replica's log and across
  leaders); a replica's state is a prefix of the leader's log;
- read-your-writes: a read returns an older version of a key than the
  session's latest acknowledged write of it; monotonic reads: older than a
  version of the key the session read before; consistent prefix: the log holds
  a write of the key that comes before the newest version the session has read
  (of any key) and the read misses it (seeing an effect without a cause the
  log puts first: Kleppmann's answer before the question);
- lag: time from the leader's append to a follower's apply;
- failover: at a crash the leader's undelivered messages are lost; ``detect``
  seconds later the live replica with the highest applied position leads, the
  old leader's entries beyond its log are lost, and the new leader sends the
  others what they miss. Clients time out, retry against the new leader, then
  give up (a read fails, a write ends as *info*);
- partitions (CP, ``partitions="2s-5s:{0}|{1,2}"``): client c sits beside
  replica c mod n and is refused (*unavailable*) while the leader is on
  another side; entries and acknowledgements across a cut are held until it
  heals (as in :mod:`.multileader`); a leader whose side holds no majority
  steps down when its lease (``lease``, default ``detect``) runs out, and the
  most up-to-date replica of the majority side is promoted (the failover
  above); ``availability``, ``availability_cut``, ``availability_minority``,
  ``availability_majority``: the share of operations that succeeded (see
  :func:`.partitions.availability_by_side`), ``unavailable`` (refused
  attempts), ``held`` (deliveries held by a cut), ``stepdowns``.

>>> sync = simulate(n=3, mode="sync", reads="follower", clients=4, ops=3000, keys=5, seed=1)
>>> sync.counters["ryw"], sync.counters["failed"]
(0, 0)
>>> simulate(n=3, mode="async", reads="follower", clients=4, ops=3000, keys=5, seed=1).counters["ryw"] > 0
True

Cost: O(log(N + C)) per event (one sift of the event heap), about 2 events per
read and 2 + (N - 1) (async) or 2 + 2 (N - 1) (semisync, sync) per write.
"""
from __future__ import annotations

import math
import numbers
import re
import time
from dataclasses import dataclass, field

import numpy as np

from . import _leader

__all__ = ["simulate", "LeaderResult", "parse_delays", "parse_mode", "MODES", "READS"]

#: replication modes (``semisync`` takes ``=k``, default 1)
MODES = ("async", "semisync", "sync")
#: where reads go: the leader; a random live follower per read; a random live
#: replica per read; one follower per session (the same one for every read)
READS = tuple(_leader.READS)

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0}
_DURATION = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(ns|us|\u00b5s|ms|s)?\s*$")


def _duration(text: str, what: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{what}: cannot read {text!r} as a duration (e.g. 1ms, 250us, 0.002)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def parse_delays(spec, what: str = "delays"):
    """A delay distribution as ``(kind, mean, array)`` for the simulation, from
    an array of one-way delays in seconds (resampled uniformly), a number
    (a constant, seconds), or a spec: ``"exp:mean=1ms"`` (or ``"exp:1ms"``),
    ``"const:1ms"`` (or ``"1ms"``).

    >>> parse_delays("exp:mean=2ms")
    ('exp', 0.002, None)
    >>> parse_delays("const:250us")
    ('const', 0.00025, None)
    >>> parse_delays([0.001, 0.003])[0]
    'array'
    """
    if isinstance(spec, str):
        text = spec.strip()
        kind, sep, rest = text.partition(":")
        kind = kind.strip().lower()
        if not sep:
            kind, rest = "const", text
        rest = rest.strip()
        if rest.startswith("mean="):
            rest = rest[5:]
        if kind not in ("exp", "const"):
            raise ValueError(f"{what}: unknown distribution {kind!r} in {spec!r} (exp:mean=..., const:..., "
                             "or an array of delays in seconds)")
        value = _duration(rest, what)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{what} must be finite and >= 0, got {spec!r}")
        return (kind, value, None)
    if isinstance(spec, bool):
        raise ValueError(f"{what} must be a spec, a number or an array of delays, got {spec!r}")
    if isinstance(spec, numbers.Real):
        value = float(spec)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{what} must be finite and >= 0, got {spec!r}")
        return ("const", value, None)
    try:
        arr = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a spec, a number or an array of delays, got {spec!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what}: the array of delays must be 1-D and non-empty, got shape {arr.shape}")
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0)):
        raise ValueError(f"{what}: every delay must be finite and >= 0")
    return ("array", float(arr.mean()), np.ascontiguousarray(arr))


def parse_mode(mode: str, n: int) -> tuple[str, int]:
    """``"async"``, ``"sync"``, ``"semisync"`` (k = 1) or ``"semisync=k"`` ->
    (name, k).

    >>> parse_mode("semisync=2", 5)
    ('semisync', 2)
    """
    if not isinstance(mode, str):
        raise ValueError(f"unknown mode {mode!r} (async, semisync=k, sync)")
    name, sep, rest = mode.strip().lower().replace(":", "=").partition("=")
    name = name.strip()
    if name not in MODES or (sep and name != "semisync"):
        raise ValueError(f"unknown mode {mode!r} (async, semisync=k, sync)")
    k = 0
    if name == "semisync":
        try:
            k = int(rest) if sep else 1
        except ValueError:
            raise ValueError(f"semisync needs a whole number of followers, got {mode!r}") from None
        if not 1 <= k <= n - 1:
            raise ValueError(f"semisync k must be within 1..n-1 = 1..{n - 1}, got {k} (n={n})")
    return name, k


def _whole(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"within {low}..{high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _real(value, name: str, low: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < low or (strict and x == low):
        raise ValueError(f"{name} must be finite and {'>' if strict else '>='} {low:g}, got {value!r}")
    return x


def _shown(spec, parsed):
    """A delay setting as the summary shows it (an array by its length)."""
    return spec if spec is None or isinstance(spec, (str, numbers.Real)) else f"array[{len(parsed[2])}]"


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else math.nan


@dataclass
class LeaderResult:
    """One run: its settings, the counters (:meth:`to_dict` is the one-row
    summary), and tables: ``latency`` (read and write, ms), ``lag`` (per replica,
    ms, over the entries it applied as a follower), ``sessions`` (per client),
    ``failovers`` (per crash) and, with ``history=True``, ``history`` (one row per
    operation; :meth:`write_history` writes it as Jepsen-style JSON lines).

    ``counters``: ``ops_done``, ``ok``, ``failed`` (reads that gave up), ``info``
    (writes that gave up: they may have taken effect), ``reads``, ``writes``,
    ``timeouts`` (attempts), the violations ``ryw``, ``mr``, ``cp`` and the
    ``stale`` reads (``stale_pct`` of the reads that succeeded), ``log_length``,
    ``entries`` (appends, retries included), ``lost_entries`` (truncated by
    failovers), ``lost_acked`` (writes acknowledged to their client whose value
    is not in the final log), ``failovers``, ``unavailable_s`` (crash to
    promotion, summed), ``throughput`` (successful operations per simulated
    second), ``sim_seconds``, ``events``, ``wall_seconds``, ``events_per_s``,
    ``ops_per_s`` (simulated operations per wall-clock second).

    >>> r = simulate(n=3, mode="semisync=1", clients=2, ops=500, crash_at=0.2, detect=0.05, seed=3)
    >>> row = r.to_dict()
    >>> row["mode"], row["ops_done"], row["failovers"], row["lost_acked"]
    ('semisync=1', 500, 1, 0)
    >>> list(r.failovers.columns[:3])
    ['crash_time', 'old_leader', 'new_leader']
    """
    settings: dict
    counters: dict
    latency: object
    lag: object
    sessions: object
    failovers: object
    history: object = None
    wall: float = 0.0
    #: the simulation itself (its ``_check()``, its arrays)
    sim: object = field(default=None, repr=False)
    #: per log entry ever appended (see ``_leader.Simulation.entry_arrays``)
    entries: dict = field(default=None, repr=False)
    #: every follower's lag (s) over every entry it applied as a follower
    lags: np.ndarray = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """Settings and figures in one flat dict (one row of a table)."""
        row = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
               for k, v in self.settings.items()}
        row.update(self.counters)
        for op in ("read", "write"):
            for col in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
                row[f"{op}_{col}"] = float(self.latency.loc[op, col])
        followers = self.lags
        row["lag_p50_ms"] = 1e3 * _pct(followers, 50)
        row["lag_p99_ms"] = 1e3 * _pct(followers, 99)
        row["lag_max_ms"] = 1e3 * float(followers.max()) if len(followers) else math.nan
        return row

    def lag_series(self):
        """The lag time series: one row per (entry, follower that applied it):
        append time (s), replica, lag (ms), log position, stamp."""
        import pandas as pd

        e = self.entries
        apply, N = e["apply"], self.settings["n"]
        stamp = np.repeat(np.arange(1, len(e["t"]) + 1), N)
        rep = np.tile(np.arange(N), len(e["t"]))
        a = apply.ravel()
        keep = np.isfinite(a) & (np.repeat(e["leader"], N) != rep)
        s = stamp[keep]
        df = pd.DataFrame({"time": e["t"][s - 1], "replica": rep[keep],
                           "lag_ms": 1e3 * (a[keep] - e["t"][s - 1]), "position": e["pos"][s - 1],
                           "stamp": s})
        return df.sort_values(["time", "replica"], kind="stable").reset_index(drop=True)

    def write_history(self, path) -> int:
        """Write the history as JSON lines, one event per line in time order:
        ``{"process": c, "type": "invoke"|"ok"|"fail"|"info", "f": "read"|"write",
        "key": k, "value": v, "time": ns}`` (a read's invocation, a failed read and
        a read of a key never written have value null). Written to a temporary
        file, then renamed. Returns the lines written."""
        h = self.history
        if h is None:
            raise ValueError("no history was recorded: run simulate(..., history=True)")
        m = len(h)
        op = np.arange(m)
        proc = h["process"].to_numpy()
        key = h["key"].to_numpy()
        f = h["f"].to_numpy(object)
        status = h["type"].to_numpy(object)
        is_write = f == "write"
        inv_value = np.where(is_write, h["value"].to_numpy(), -1)
        value = h["value"].to_numpy()
        # a failed read has no value; a read of a key never written returns null (Jepsen's nil)
        done_value = np.where((status == "fail") | (~is_write & (value == 0)), -1, value)
        ns = np.rint(1e9 * np.concatenate([h["invoke_time"].to_numpy(), h["complete_time"].to_numpy()]))
        # time order; one process's invocation before its completion, and its
        # completion before its next invocation at the same instant
        rank = np.concatenate([2 * op, 2 * op + 1])
        order = np.lexsort((rank, ns))
        cols = (np.concatenate([proc, proc])[order].tolist(),
                np.concatenate([np.full(m, "invoke", dtype=object), status])[order].tolist(),
                np.concatenate([f, f])[order].tolist(),
                np.concatenate([key, key])[order].tolist(),
                np.concatenate([inv_value, done_value])[order].tolist(),
                ns.astype(np.int64)[order].tolist())
        from .._atomic import atomic_path

        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
            out.writelines([
                f'{{"process":{c},"type":"{t}","f":"{fn}","key":{k},'
                f'"value":{"null" if v < 0 else v},"time":{tm}}}\n'
                for c, t, fn, k, v, tm in zip(*cols)])
        return 2 * m

    def _check(self):
        return self.sim._check()


def simulate(n: int = 3, mode: str = "async", reads: str = "follower", clients: int = 10,
             ops: int = 100_000, read_fraction: float = 0.9, keys: int = 1000, skew: float = 0.0,
             delays="exp:mean=1ms", rate=None, think=0.0, crash_at=None, detect: float = 0.5,
             seed: int = 0, history: bool = False, *, client_delays=None, timeout: float = 1.0,
             retries: int = 3, partitions=None, lease=None) -> LeaderResult:
    """Simulate single-leader replication and measure lag, session guarantees,
    latency and failover losses.

    - ``n`` replicas (replica 0 leads first), ``mode``: ``"async"``,
      ``"semisync=k"`` (1 <= k <= n - 1) or ``"sync"``;
    - ``reads``: ``"leader"``, ``"follower"`` (a random live follower per read),
      ``"any"`` (a random live replica per read) or ``"sticky"`` (one follower per
      session, Kleppmann's fix for monotonic reads); with no live follower a
      read goes to the leader;
    - ``clients`` sessions, ``ops`` operations in all, a ``read_fraction`` of
      reads, over ``keys`` keys, Zipf with exponent ``skew`` (key 0 the most
      popular; 0: uniform);
    - ``delays``: the one-way delay of every message between replicas, in
      seconds: an array (resampled uniformly), a number (constant) or a spec
      ``"exp:mean=1ms"``, ``"const:1ms"``; ``client_delays``: the same between
      clients and replicas (default: ``delays``);
    - ``rate``: None for a closed loop (each client issues its next operation
      when the last one ends, after ``think`` seconds: a number, or a spec such
      as ``"exp:mean=10ms"``), or the total operations per second of an open
      loop (Poisson per client; operations wait their session's turn, latency
      counts from the arrival);
    - ``crash_at``: a time, or increasing times, at which the leader of the
      moment crashes (at most n - 1, each more than ``detect`` after the last);
      ``detect``: seconds until the followers notice and promote the most
      up-to-date one; a client's request times out after ``timeout`` seconds and
      is retried against the leader of the moment ``retries`` times, then
      fails (a read) or ends as *info* (a write: it may have taken effect);
    - ``history``: record every operation (costs about 40 bytes each);
    - ``partitions``: ``"2s-5s:{0}|{1,2}"`` (``;`` between several) or
      ``[(start, end, [{0}, {1, 2}])]``; ``lease``: the leader's lease in
      seconds (default ``detect``; a lease longer than ``detect`` delays the
      election until it runs out); see the module's docstring. Not with ``crash_at``.
    """
    import pandas as pd

    sim, settings = _build(n, mode, reads, clients, ops, read_fraction, keys, skew, delays, rate, think,
                           crash_at, detect, seed, history, client_delays, timeout, retries, partitions,
                           lease)
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    return _result(sim, settings, wall, pd)


def _build(n=3, mode="async", reads="follower", clients=10, ops=100_000, read_fraction=0.9, keys=1000,
           skew=0.0, delays="exp:mean=1ms", rate=None, think=0.0, crash_at=None, detect=0.5, seed=0,
           history=False, client_delays=None, timeout=1.0, retries=3, partitions=None, lease=None):
    """Check the arguments of :func:`simulate` and set up the simulation (not run
    yet: the tests step it and call its ``_check()`` between steps)."""
    n = _whole(n, "n", 1)
    mode_name, k = parse_mode(mode, n)
    if reads not in READS:
        raise ValueError(f"unknown reads {reads!r} (one of {', '.join(READS)})")
    clients = _whole(clients, "clients", 1, 2**31 - 1 - 2 * n)
    ops = _whole(ops, "ops", 1, 2**62)
    read_fraction = _real(read_fraction, "read_fraction")
    if read_fraction > 1:
        raise ValueError(f"read_fraction must be within 0..1, got {read_fraction!r}")
    keys = _whole(keys, "keys", 1, 2**31 - 1)
    skew = _real(skew, "skew")
    net = parse_delays(delays, "delays")
    cli = parse_delays(delays if client_delays is None else client_delays, "client_delays")
    th = parse_delays(think, "think")
    if rate is not None:
        rate = _real(rate, "rate", 0.0, strict=True)
    detect = _real(detect, "detect")
    timeout = _real(timeout, "timeout", 0.0, strict=True)
    retries = _whole(retries, "retries", 0, 2**30)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    seed = int(seed) & (2**64 - 1)
    if crash_at is None:
        crashes = np.zeros(0)
    else:
        crashes = np.atleast_1d(np.asarray(crash_at, dtype=np.float64))
        if crashes.ndim != 1 or not np.all(np.isfinite(crashes)) or np.any(crashes < 0):
            raise ValueError(f"crash_at must be a time >= 0 or increasing times, got {crash_at!r}")
        if len(crashes) > n - 1:
            raise ValueError(f"{len(crashes)} leader crash(es) need n >= {len(crashes) + 1}, got n={n}")
        if np.any(np.diff(crashes) <= detect):
            raise ValueError(f"crash times must be more than detect={detect:g} s apart, got {crash_at!r}")
    from .partitions import parse_partitions, timeline

    parts = parse_partitions(partitions, n, "replica")
    cut = timeline(parts, n) if parts else None
    lease = detect if lease is None else _real(lease, "lease")
    if cut is not None and len(crashes):
        raise ValueError("crash_at and partitions cannot be combined (yet)")
    cdf = None
    if skew > 0:
        w = np.arange(1, keys + 1, dtype=np.float64) ** -skew
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
    settings = dict(n=n, mode=mode if mode_name != "semisync" else f"semisync={k}", reads=reads,
                    clients=clients, ops=ops, read_fraction=read_fraction, keys=keys, skew=skew,
                    delays=_shown(delays, net), client_delays=_shown(client_delays, cli),
                    rate=rate, think=_shown(think, th), crash_at=None if crash_at is None else crashes.tolist(),
                    detect=detect, timeout=timeout, retries=retries, seed=seed, history=history,
                    partitions=[(a, b, [sorted(g) for g in gs]) for a, b, gs in parts] or None,
                    lease=lease if parts else None)
    kinds = _leader.DISTS
    sim = _leader.Simulation(
        n, _leader.MODES[mode_name], k, _leader.READS[reads], clients, ops, read_fraction, keys, cdf,
        (kinds[net[0]], net[1], net[2]), (kinds[cli[0]], cli[1], cli[2]), (kinds[th[0]], th[1], th[2]),
        rate if rate is not None else 0.0, crashes, detect, timeout, retries, bool(history) or cut is not None,
        seed, cut, lease)
    settings["_cut"] = cut
    return sim, settings


def _result(sim, settings: dict, wall: float, pd) -> LeaderResult:
    n = settings["n"]
    o = sim.ops_arrays()
    e = sim.entry_arrays()
    sess = sim.session_arrays()
    reps = sim.replica_arrays()
    log = sim.log()
    ok = o["status"] == 1
    span = float(o["done"].max()) if len(o["done"]) else 0.0

    # latency (ms) of the operations that succeeded
    rows = {}
    for name, kind in (("read", 0), ("write", 1)):
        lat = 1e3 * o["latency"][ok & (o["kind"] == kind)]
        rows[name] = {"count": len(lat), "mean_ms": float(lat.mean()) if len(lat) else math.nan,
                      "p50_ms": _pct(lat, 50), "p90_ms": _pct(lat, 90), "p99_ms": _pct(lat, 99),
                      "p999_ms": _pct(lat, 99.9), "max_ms": float(lat.max()) if len(lat) else math.nan}
    latency = pd.DataFrame.from_dict(rows, orient="index")

    # replication lag per replica, over the entries it applied as a follower
    lag_rows, lags_all = [], []
    for r in range(n):
        a = e["apply"][:, r] if len(e["t"]) else np.zeros(0)
        mine = np.isfinite(a) & (e["leader"] != r)
        lag = a[mine] - e["t"][mine]
        lags_all.append(lag)
        role = ("leader" if r == sim.leader and sim.leader_alive else
                "follower" if reps["alive"][r] else "crashed")
        lag_rows.append({"replica": r, "role": role, "applied": int(reps["applied"][r]),
                         "entries": len(lag), "mean_ms": 1e3 * float(lag.mean()) if len(lag) else math.nan,
                         "p50_ms": 1e3 * _pct(lag, 50), "p99_ms": 1e3 * _pct(lag, 99),
                         "max_ms": 1e3 * float(lag.max()) if len(lag) else math.nan})
    lag_df = pd.DataFrame(lag_rows).set_index("replica")

    # failovers: acknowledged writes lost = acknowledged entries whose value is not
    # in the final log (a retried write may have survived through another attempt)
    final_values = e["value"][log - 1] if len(log) else np.zeros(0, np.int64)
    gone = e["acked"] & (e["lost"] > 0) & ~np.isin(e["value"], final_values)
    fo = sim.failovers()
    for i, f in enumerate(fo):
        f["unavailable_s"] = f["promote_time"] - f["crash_time"]
        f["write_gap_s"] = f["first_ok_write_time"] - f["crash_time"]
        f["lost_acked"] = int(np.count_nonzero(gone & (e["lost"] == i + 1)))
    fo_df = pd.DataFrame(fo, columns=["crash_time", "old_leader", "new_leader", "promote_time",
                                      "log_at_crash", "log_kept", "lost_entries", "lost_acked",
                                      "unavailable_s", "first_ok_write_time", "write_gap_s"])

    sessions = pd.DataFrame(sess)
    sessions.index.name = "client"

    reads_ok = int(np.count_nonzero(ok & (o["kind"] == 0)))
    from .partitions import availability_by_side

    cut = settings.pop("_cut", None)
    avail = availability_by_side(ok, o["client"] % n if "client" in o else np.zeros(len(ok), np.int64),
                                 o["invoke"] if "invoke" in o else o["done"] - o["latency"], cut, n)
    counters = {
        "ops_done": int(sim.completed), "ok": int(np.count_nonzero(ok)),
        "failed": int(np.count_nonzero(o["status"] == 2)), "info": int(np.count_nonzero(o["status"] == 3)),
        "reads": int(sess["reads"].sum()), "writes": int(sess["writes"].sum()),
        "timeouts": int(sess["timeouts"].sum()),
        "ryw": int(sess["ryw"].sum()), "mr": int(sess["mr"].sum()), "cp": int(sess["cp"].sum()),
        "stale": int(sess["stale"].sum()),
        "stale_pct": 100.0 * int(sess["stale"].sum()) / reads_ok if reads_ok else math.nan,
        "log_length": int(sim.log_len), "entries": len(e["t"]), "lost_entries": int(sim.lost_entries),
        "lost_acked": int(np.count_nonzero(gone)),
        "failovers": len(fo),
        "unavailable_s": float(sum(f["unavailable_s"] for f in fo if math.isfinite(f["unavailable_s"]))),
        "throughput": float(np.count_nonzero(ok)) / span if span > 0 else math.nan,
        "sim_seconds": float(sim.now), "events": int(sim.events), "wall_seconds": wall,
        "events_per_s": sim.events / wall if wall > 0 else math.nan,
        "ops_per_s": sim.completed / wall if wall > 0 else math.nan,
        **avail, "unavailable": int(sim.unavailable), "held": int(sim.held), "stepdowns": int(sim.stepdowns),
    }

    hist = None
    if settings["history"]:
        status = np.array(["pending", "ok", "fail", "info"], dtype=object)[o["status"]]
        hist = pd.DataFrame({
            "process": o["client"], "f": np.where(o["kind"] == 1, "write", "read").astype(object),
            "key": o["key"], "value": o["value"], "version": o["version"],
            "invoke_time": o["invoke"], "complete_time": o["done"], "type": status,
            "attempts": o["attempts"], "latency": o["latency"]})
        hist.index.name = "op"
    return LeaderResult(settings, counters, latency, lag_df, sessions, fo_df, hist, wall, sim, e,
                        np.concatenate(lags_all))
