"""Cache stampedes: a hot key expires while clients read it; recomputes per expiry, peak
database queries, p99 latency and stale reads under each fix (none, lock, TTL jitter,
XFetch, stale-while-revalidate), in the discrete-event simulation and for real.

Timed (pyperf):
- ``simulate_1m``: one simulation of 1M requests to one key at 1000/s (ttl 10 s,
  recompute 100 ms), per request, for none, lock, xfetch:beta=1 and swr.
- ``sweep``: the issue's target, 10 fixes x 20 rates (100 to 100k/s) x 1M requests
  (ttl 1 s, recompute 20 ms), per request (target: the whole sweep under a minute).

Scenarios (seeded; deterministic but for the real runs and the wall seconds):
- ``recomputes``: recomputes per expiry at 100, 1000 and 10k requests/s for each of the
  ten fixes, beside the closed form of ``none`` (1 + rate x recompute).
- ``xfetch_theory``: XFetch at 100k requests/s against exp(1/beta), its limit in rate.
- ``sweep_timing``: the whole sweep once: seconds and simulated requests per second.
- ``real_vs_sim``: threads against SQLite (WAL) on the same requests as the simulation
  (200/s, recompute 50 ms, ttl 250 ms, 10 s): recomputes per expiry, peak queries,
  p99 and stale reads of both.
- ``peers``: the same real workload through dogpile.cache (its dogpile lock) and
  diskcache's ``memoize_stampede`` (XFetch in a background thread), beside our lock
  with stale reads and our XFetch; a missing peer skips its row.
"""
from __future__ import annotations

import math
import time

from tradeoff import benchmark, scenario
from tradeoff.strategies.stampede import SWEEP_FIXES

REQUESTS = 1_000_000
SWEEP_RATES = [float(round(100 * 1000 ** (i / 19))) for i in range(20)]     # 100 .. 100k, log-spaced
SWEEP = dict(recompute="20ms", ttl="1s", requests=REQUESTS)
REAL = dict(rate=200, recompute="50ms", ttl="0.25s", requests=2000)


@benchmark(params={"fix": ["none", "lock", "xfetch:beta=1", "swr"]}, compare="fix", inner_loops=REQUESTS)
def simulate_1m(fix, seed):
    """One simulation of 1M requests (one key, 1000/s, ttl 10 s, recompute 100 ms)."""
    from tradeoff.strategies.stampede import simulate

    return lambda: simulate(fix, rate=1000, recompute="100ms", ttl="10s", requests=REQUESTS, seed=seed)


@benchmark(inner_loops=len(SWEEP_FIXES) * len(SWEEP_RATES) * REQUESTS, processes=2, values=1)
def sweep(seed):
    """10 fixes x 20 rates x 1M requests (ttl 1 s, recompute 20 ms)."""
    from tradeoff.strategies.stampede import sweep as run

    return lambda: run(SWEEP_FIXES, SWEEP_RATES, seed=seed, **SWEEP)


def _row(r) -> dict:
    return {"recomputes_per_expiry": r.recomputes_per_expiry, "expiries": r.expiries, "peak_db": r.peak_db,
            "p99_ms": r.p99_ms, "stale_reads": r.stale_reads, "waits": r.waits, "early": r.early}


@scenario(params={"rate": [100, 1000, 10_000], "fix": list(SWEEP_FIXES)}, compare="fix")
def recomputes(rate, fix, seed):
    """Recomputes per expiry at a rate (1M requests, one key, ttl 1 s, recompute
    20 ms); ``none_closed_form`` is 1 + rate x recompute."""
    from tradeoff.strategies.stampede import expected_none, simulate

    r = simulate(fix, rate=rate, seed=seed, **SWEEP)
    return {**_row(r), "none_closed_form": expected_none(rate, 0.02)}


@scenario(params={"beta": [0.5, 1.0, 2.0]})
def xfetch_theory(beta, seed):
    """XFetch at 100k requests/s (60M requests, ttl 2 s, recompute 20 ms) against
    exp(1/beta): ``error`` is (simulated - limit) / limit."""
    from tradeoff.strategies.stampede import expected_xfetch, simulate

    r = simulate(f"xfetch:beta={beta}", rate=100_000, recompute="20ms", ttl="2s", requests=60_000_000, seed=seed)
    limit = expected_xfetch(beta)
    return {"simulated": r.recomputes_per_expiry, "theory": limit,
            "error": (r.recomputes_per_expiry - limit) / limit, "expiries": r.expiries}


@scenario
def sweep_timing(seed):
    """The issue's target once: 10 fixes x 20 rates x 1M requests."""
    from tradeoff.strategies.stampede import sweep as run

    t0 = time.perf_counter()
    rs = run(SWEEP_FIXES, SWEEP_RATES, seed=seed, **SWEEP)
    dt = time.perf_counter() - t0
    n = sum(r.requests for r in rs)
    return {"seconds": dt, "runs": len(rs), "requests": n, "requests_per_s": n / dt}


@scenario(params={"fix": ["none", "lock", "lock:stale=1", "xfetch:beta=1", "swr"]}, compare="fix")
def real_vs_sim(fix, seed):
    """The same 2000 requests (200/s, recompute 50 ms, ttl 250 ms) simulated and
    served for real by threads against SQLite."""
    from tradeoff.strategies.stampede import run_real, simulate

    s = simulate(fix, seed=seed, **REAL)
    q = run_real(fix, seed=seed, **REAL)
    out = {f"sim_{k}": v for k, v in _row(s).items()}
    out.update({f"real_{k}": v for k, v in _row(q).items()})
    return out


PEER_IMPLS = ["lock:stale=1", "xfetch:beta=1", "dogpile", "diskcache"]


@scenario(params={"impl": PEER_IMPLS}, compare="impl")
def peers(impl, seed):
    """Our lock (stale reads while one recomputes) and XFetch beside dogpile.cache and
    diskcache's memoize_stampede, on the same real workload as ``real_vs_sim``."""
    from tradeoff.strategies.stampede import run_peer, run_real
    from tradeoff.suites._peers import require

    if impl in ("dogpile", "diskcache"):
        require("dogpile.cache" if impl == "dogpile" else "diskcache", f"stampede peer {impl}")
        r = run_peer(impl, seed=seed, **REAL)
    else:
        r = run_real(impl, seed=seed, **REAL)
    row = _row(r)
    row["p99_ms"] = r.p99_ms if math.isfinite(r.p99_ms) else None
    return row


#: ``tradeoff run stampede --quick``: the first look
QUICK = ["simulate_1m[fix=none]", "recomputes[rate=1000,", "xfetch_theory[beta=1.0]", "real_vs_sim[fix=lock]",
         "peers["]
