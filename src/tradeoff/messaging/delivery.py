"""Delivery semantics under crashes: how many messages a guarantee loses or
processes twice when consumers crash, acknowledgements get lost, brokers restart
and groups rebalance (``tradeoff simulate delivery``).

The simulation is a discrete-event one in Cython (:mod:`._delivery`, on the
package's shared event core); this module sets it up, checks the options, turns
its per-message arrays into figures and runs the semantics side by side.

>>> df = compare(["at-most-once", "at-least-once", "exactly-once"], messages=20_000,
...              crash=0.01, ack_loss=0.01, request_loss=0.01, seed=1)
>>> int(df.loc["at-most-once", "duplicated"]), int(df.loc["at-least-once", "lost"])
(0, 0)
>>> int(df.loc["exactly-once", "lost"] + df.loc["exactly-once", "duplicated"])
0

Faults are decided by position, not by time (the producer's attempt ``a`` at
message ``k``, a crash after a consumer's ``s``-th message, a rebalance at its
``b``-th batch; see :func:`decide`), so the Python drivers of the real brokers in
:mod:`.drivers` see exactly the same faults and must count the same losses and
duplicates.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..harness.errors import UserError
from . import _delivery
from ._delivery import decide, partition_of

__all__ = ["SEMANTICS", "BROKERS", "Run", "simulate", "compare", "decide", "partition_of",
           "parse_fraction", "invariant_violations"]

SEMANTICS = tuple(_delivery.SEMANTICS)
BROKERS = tuple(_delivery.BROKERS)
STREAMS = dict(_delivery.STREAMS)
OUTCOMES = dict(_delivery.OUTCOMES)
MAX_ATTEMPTS = _delivery.MAX_ATTEMPTS
#: the event budget of a run, per message (a run that needs more never ends)
EVENTS_PER_MESSAGE = 1000

#: what each semantics promises: (may lose, may duplicate)
PROMISES = {"at-most-once": (True, False), "at-least-once": (False, True),
            "exactly-once": (False, False), "idempotent-consumer": (False, False)}


def parse_fraction(value, what: str) -> float:
    """``"1%"``, ``"0.01"`` or 0.01 -> 0.01 (within 0..1); else a UserError naming
    ``what``.

    >>> parse_fraction("1%", "--crash"), parse_fraction(0.5, "--ack-loss")
    (0.01, 0.5)
    """
    text = str(value).strip()
    try:
        x = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UserError(f"{what} must be a probability such as 0.01 or 1%, got {value!r}") from None
    if not 0.0 <= x <= 1.0:
        raise UserError(f"{what} must be within 0..1 (0%..100%), got {value!r}")
    return x


@dataclass
class Run:
    """One simulation's outcome: the settings, the counters and, per message, the
    arrival time, the first effect's time and the number of effects."""
    semantics: str
    broker: str
    settings: dict
    counters: dict
    arrays: dict = field(repr=False)
    wall: float = 0.0
    #: the batches fetched, (consumer, partition, records) per row, with ``record=True``
    schedule: np.ndarray | None = field(default=None, repr=False)
    #: the simulation itself (its ``_check()``)
    sim: object = field(default=None, repr=False)

    @property
    def count(self) -> np.ndarray:
        return self.arrays["count"]

    def row(self) -> dict:
        """The figures of this run: losses, duplicates, latency, throughput."""
        count, dead = self.arrays["count"], self.arrays["dead"]
        m = len(count)
        lost = int(np.count_nonzero((count == 0) & ~dead))
        dup = count >= 2
        lat = self.arrays["first_effect"] - self.arrays["arrive"]
        lat = lat[np.isfinite(lat)]
        end = self.counters["end_time"]
        # throughput while the producer runs: messages taken effect by the last arrival,
        # per second (the tail of redeliveries after it is not the consumers' pace)
        last = float(self.arrays["arrive"][-1]) if m else 0.0
        settled = int(np.count_nonzero(self.arrays["first_effect"] <= last)) if last > 0 else m
        c = self.counters
        return {
            "semantics": self.semantics, "broker": self.broker, "messages": m,
            "lost": lost, "lost_pct": 100.0 * lost / m if m else 0.0,
            "duplicated": int(np.count_nonzero(dup)),
            "duplicated_pct": 100.0 * np.count_nonzero(dup) / m if m else 0.0,
            "extra_processings": int(np.sum(count[dup] - 1)),
            "max_times": int(count.max()) if m else 0,
            "dead_lettered": int(np.count_nonzero(dead)),
            "retries": c["attempts"] - m if self.semantics != "at-most-once" else 0,
            "broker_records": c["records"], "dropped_duplicates": c["dropped_duplicates"],
            "crashes": c["crashes"], "rebalances": c["rebalances"], "restarts": c["restarts"],
            "redelivered": c["redelivered"], "suppressed": c["suppressed"], "aborted": c["aborted"],
            "p50_ms": 1e3 * float(np.percentile(lat, 50)) if len(lat) else math.nan,
            "p99_ms": 1e3 * float(np.percentile(lat, 99)) if len(lat) else math.nan,
            "throughput": settled / last if last > 0 else (m / end if end > 0 else math.nan),
            "producer_end": c["producer_end"], "last_arrival": last,
            "sim_seconds": end, "wall_seconds": self.wall,
            "invariant": "holds" if not invariant_violations(self) else "VIOLATED",
        }

    def times_histogram(self) -> dict[int, int]:
        """How many messages took effect 0, 1, 2, ... times."""
        values, counts = np.unique(self.arrays["count"], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts)}


def invariant_violations(run: Run) -> list[str]:
    """What the run's semantics promised and did not keep (empty: all kept)."""
    may_lose, may_dup = PROMISES[run.semantics]
    count, dead = run.arrays["count"], run.arrays["dead"]
    out = []
    lost = int(np.count_nonzero((count == 0) & ~dead))
    dup = int(np.count_nonzero(count >= 2))
    if not may_lose and lost:
        out.append(f"{run.semantics} lost {lost} messages")
    if not may_dup and dup:
        out.append(f"{run.semantics} processed {dup} messages more than once")
    return out


_DEFAULTS = dict(messages=100_000, partitions=12, consumers=3, batch=10, rate=2000.0, rtt=0.0002,
                 timeout=0.03, service=0.0005, commit_time=0.002, restart_time=1.0,
                 rebalance_time=0.5, visibility=30.0, request_loss=0.001, ack_loss=0.001,
                 broker_restart=0.0001, crash=0.0001, rebalance=0.001, max_deliveries=0, seed=0)


def _settings(broker: str, **kw) -> dict:
    s = dict(_DEFAULTS)
    unknown = set(kw) - set(s)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    s.update({k: v for k, v in kw.items() if v is not None})
    if broker not in BROKERS:
        raise UserError(f"unknown broker {broker!r} (one of {', '.join(BROKERS)}, or redis)")
    for name in ("messages", "partitions", "consumers", "batch"):
        v = s[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise UserError(f"--{name} must be a whole number >= 1, got {v!r}")
        s[name] = int(v)
    if s["messages"] >= 2**31:
        raise UserError(f"--messages must be below 2**31, got {s['messages']}")
    if broker == "queue" and s["batch"] > 10:
        raise UserError(f"--batch must be within 1..10 for the queue (SQS's max_messages), got {s['batch']}")
    if s["batch"] > 1_000_000:
        raise UserError(f"--batch must be at most 1000000, got {s['batch']}")
    for name in ("rate", "rtt", "timeout", "service", "commit_time", "restart_time", "rebalance_time",
                 "visibility"):
        v = float(s[name])
        if not math.isfinite(v) or v < 0:
            raise UserError(f"--{name.replace('_', '-')} must be finite and >= 0, got {s[name]!r}")
        s[name] = v
    for name in ("request_loss", "ack_loss", "broker_restart", "crash", "rebalance"):
        s[name] = parse_fraction(s[name], f"--{name.replace('_', '-')}")
    if s["request_loss"] + s["ack_loss"] + s["broker_restart"] > 1:
        raise UserError("--request-loss, --ack-loss and --broker-restart add up to more than 1")
    md = s["max_deliveries"]
    if isinstance(md, bool) or not isinstance(md, (int, np.integer)) or not 0 <= md <= 254:
        raise UserError(f"--max-deliveries must be a whole number within 0..254 (0: no dead letters), got {md!r}")
    s["max_deliveries"] = int(md)
    s["seed"] = int(s["seed"]) & (2**64 - 1)
    return s


def simulate(semantics: str = "at-least-once", broker: str = "log", *, record: bool = False,
             **settings) -> Run:
    """One simulation: ``semantics`` (one of :data:`SEMANTICS`) on ``broker``
    (``"log"`` or ``"queue"``); the settings (all optional, times in seconds):

    ``messages`` (100000), ``partitions`` (12; the log only), ``consumers`` (3),
    ``batch`` (10 records per fetch or receive; at most 10 for the queue),
    ``rate`` (2000 messages/s, Poisson; 0: all at once), ``rtt`` (0.2 ms, a produce
    round trip; one request in flight), ``timeout`` (30 ms before a producer retries), ``service`` (0.5 ms
    mean, exponential, per message), ``commit_time`` (2 ms), ``restart_time`` (1 s
    for a crashed consumer or a restarted broker), ``rebalance_time`` (0.5 s),
    ``visibility`` (30 s, the queue's visibility timeout), ``request_loss`` and
    ``ack_loss`` (0.1% of produce attempts each), ``broker_restart`` (0.01% of
    attempts: the record is stored, the acknowledgement lost, the producer waits
    ``restart_time``), ``crash`` (0.01% of processed messages: the consumer dies
    right after processing one), ``rebalance`` (0.1% of batches: the log's group
    rebalances before the batch's commit, which fails), ``max_deliveries`` (0: off;
    N: a message delivered more than N times goes to the dead-letter queue),
    ``seed``. With ``record``, ``run.schedule`` holds the batches in the order they
    were fetched, for :func:`.drivers.replay`.
    """
    if semantics not in SEMANTICS:
        raise UserError(f"unknown semantics {semantics!r} (one of {', '.join(SEMANTICS)})")
    s = _settings(broker, **settings)
    sim = _delivery.Simulation(
        _delivery.SEMANTICS[semantics], _delivery.BROKERS[broker], s["messages"], s["partitions"],
        s["consumers"], s["batch"], s["rate"], s["rtt"], s["timeout"], s["service"], s["commit_time"],
        s["restart_time"], s["rebalance_time"], s["visibility"], s["request_loss"], s["ack_loss"],
        s["broker_restart"], s["crash"], s["rebalance"], s["max_deliveries"], s["seed"])
    sim.record = record
    t0 = time.perf_counter()
    budget = EVENTS_PER_MESSAGE * s["messages"] + 1_000_000
    if not sim.run(budget):
        raise UserError(
            f"{semantics} on the {broker} did not finish within {budget:,} events: messages keep "
            f"coming back (a visibility timeout of {s['visibility']:g} s shorter than a batch takes "
            f"makes every delete fail); give a longer --visibility or --max-deliveries")
    wall = time.perf_counter() - t0
    counters = {name: getattr(sim, name) for name in (
        "attempts", "requests_lost", "acks_lost", "restarts", "dropped_duplicates", "records", "crashes",
        "rebalances", "redelivered", "suppressed", "aborted", "dead_lettered", "commits_failed", "events")}
    counters["end_time"] = sim.now
    counters["producer_end"] = sim.producer_end
    return Run(semantics, broker, s, counters, sim.arrays(), wall, sim.schedule(), sim)


def compare(semantics: Sequence[str] = ("at-most-once", "at-least-once", "exactly-once"),
            broker: str = "log", progress: Callable[[str], None] | None = None, **settings):
    """Each semantics on the same faults (same seed): a DataFrame indexed by
    semantics (the columns of :meth:`Run.row`)."""
    import pandas as pd

    rows = []
    for name in semantics:
        if progress:
            progress(f"delivery: {name} on the {broker}")
        rows.append(simulate(name, broker, **settings).row())
    return pd.DataFrame(rows).set_index("semantics")
