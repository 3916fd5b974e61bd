"""Load balancing: the cost of a pick, and the tail latency, outage errors and
detection times each policy gives in the discrete-event simulator.

Timed (pyperf):
- ``pick_done``: ``pick`` + ``done`` through the Python API, per request, 10
  servers, for every policy; ``pick_done_c``: the same through the C methods
  the simulator calls (8 requests open at a time).
- ``simulate_1m``: one whole simulation of 1M requests (10 servers, load 0.9).

Scenarios (deterministic, seeded; latencies in units of the mean service time):
- ``latency``: every policy at 10 servers, load 0.9, 1M requests, for
  exponential, lognormal (sigma 1.5) and bimodal service.
- ``theory``: the simulator against closed forms where queueing theory is
  exact: M/M/1 (random routing), M/D/1, processor sharing, and Mitzenmacher's
  supermarket model for power of two choices (mean 2.614 at load 0.9).
- ``outage``: server 3 of 10 down from 300 s to 600 s at load 0.7, with no
  detection, health checks (2 s, rise 2, fall 3), ejection (5 errors), or
  both: errors, time to detect and to reinstate, p99.
"""
from __future__ import annotations

import math

from tradeoff import benchmark, scenario


def _all() -> list[str]:
    from tradeoff.balance.experiment import POLICIES as catalogue     # the balance catalogue
    return catalogue.names


POLICIES = _all()
SERVERS = 10
REQUESTS = 1_000_000
LOOPS = 10_000


def _make(policy: str, seed: int = 0):
    from tradeoff.balance.experiment import make
    return make(policy, SERVERS, seed=seed)


@benchmark(params={"policy": POLICIES}, inner_loops=LOOPS)
def pick_done(policy):
    """``s = b.pick(client); b.done(s, 0.01)`` from Python, 10 servers."""
    b = _make(policy)
    clients = list(range(LOOPS))

    def run():
        pick, done = b.pick, b.done
        for c in clients:
            done(pick(c), 0.01)
    return run


@benchmark(params={"policy": POLICIES}, inner_loops=100_000)
def pick_done_c(policy):
    """The C ``_pick`` + ``_done`` the simulator calls, 100k requests with 8 open."""
    from tradeoff.balance._impl import _bench_pick_done

    b = _make(policy)
    return lambda: _bench_pick_done(b, 100_000)


@benchmark(params={"policy": ["rr", "p2c", "lc"]}, processes=4, values=2)
def simulate_1m(policy, seed):
    """A whole simulation: 1M requests, 10 servers FCFS, load 0.9, exponential service."""
    from tradeoff.balance import simulate

    return lambda: simulate(policy, servers=SERVERS, load=0.9, requests=REQUESTS, seed=seed)


# ----------------------------------------------------------------- scenarios

SERVICES = {"exp": "exp", "lognormal": "lognormal:sigma=1.5", "bimodal": "bimodal:p=0.1,ratio=10"}


def _latency_row(r) -> dict:
    return {"mean_latency": r.mean, "p50": r.p50, "p90": r.p90, "p99": r.p99, "p999": r.p999,
            "max_latency": r.max,
            "util_max": float(r.utilization.max()), "queue_max": int(r.queue_max.max())}


@scenario(params={"service": list(SERVICES), "policy": POLICIES}, compare="policy")
def latency(service, policy, seed):
    """Latency percentiles behind each policy: 10 servers, load 0.9, 1M requests
    (every policy sees the same arrivals and service times)."""
    from tradeoff.balance import simulate

    r = simulate(_make(policy, seed), load=0.9, service=SERVICES[service], requests=REQUESTS, seed=seed)
    return _latency_row(r)


def _supermarket(rho: float, d: int = 2) -> float:
    """Mean sojourn time of the supermarket model's limit (Mitzenmacher 2001):
    sum over i >= 1 of rho ** ((d**i - d) / (d - 1))."""
    total, i = 0.0, 1
    while True:
        term = rho ** ((d ** i - d) / (d - 1))
        total += term
        if term < 1e-15:
            return total
        i += 1


THEORY = {
    # case: (policy, servers, load, service, discipline, what, closed form)
    "mm1_rho0.5": ("random", 10, 0.5, "exp", "fcfs", "mean", 1 / (1 - 0.5)),
    "mm1_rho0.9": ("random", 10, 0.9, "exp", "fcfs", "mean", 1 / (1 - 0.9)),
    "mm1_p99_rho0.9": ("random", 10, 0.9, "exp", "fcfs", "p99", math.log(100) / (1 - 0.9)),
    "md1_rho0.9": ("random", 1, 0.9, "const", "fcfs", "mean", 1 + 0.9 / (2 * (1 - 0.9))),
    "ps_lognormal_rho0.9": ("random", 1, 0.9, "lognormal:sigma=1.5", "ps", "mean", 1 / (1 - 0.9)),
    "supermarket_n100": ("p2c", 100, 0.9, "exp", "fcfs", "mean", _supermarket(0.9)),
    "supermarket_n1000": ("p2c", 1000, 0.9, "exp", "fcfs", "mean", _supermarket(0.9)),
}


@scenario(params={"case": list(THEORY)})
def theory(case, seed):
    """The simulator (2M requests) against an exact result of queueing theory.
    ``error`` is (simulated - theory) / theory; the supermarket model is a
    limit as the servers grow, so finite n sits a little above it."""
    from tradeoff.balance import simulate

    policy, n, load, service, disc, what, exact = THEORY[case]
    r = simulate(policy, servers=n, load=load, service=service, discipline=disc,
                 requests=2_000_000, seed=seed)
    got = getattr(r, what)
    return {"simulated": got, "theory": exact, "error": (got - exact) / exact}


@scenario(params={"detection": ["none", "health", "eject", "both"], "policy": ["rr", "lc", "p2c"]},
          compare="policy")
def outage(detection, policy, seed):
    """Server 3 of 10 is down from 300 s to 600 s (load 0.7, 10 ms mean service,
    1M requests, about 1430 s): requests sent to it fail at once. Health checks
    poll every 2 s (fall 3, rise 2); ejection follows 5 consecutive errors."""
    from tradeoff.balance import HealthCheck, OutlierDetector, simulate

    hc = HealthCheck(interval=2.0, rise=2, fall=3) if detection in ("health", "both") else None
    od = OutlierDetector() if detection in ("eject", "both") else None
    r = simulate(_make(policy, seed), load=0.7, requests=REQUESTS, seed=seed, fail="3@300s-600s",
                 health=hc, outlier=od)
    return {"errors": r.errors, "error_share": r.errors / REQUESTS,
            "detect_s": r.detection, "reinstate_s": r.reinstatement, "p99": r.p99}
