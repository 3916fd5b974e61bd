"""Probabilistically bounded staleness (PBS) for partial quorums: how often a
Dynamo-style store (N replicas, reads wait for R of them, writes for W) returns
the latest write, by versions in closed form and by time through the WARS Monte
Carlo.

The source is Peter Bailis, Shivaram Venkataraman, Michael J. Franklin, Joseph M.
Hellerstein and Ion Stoica, "Probabilistically Bounded Staleness for Practical
Partial Quorums", PVLDB 5(8), 2012 (VLDB 2012), with the same analysis in
"Quantifying Eventual Consistency with PBS", CACM 57(8), 2014.

* :func:`k_staleness`: the closed form for PBS k-staleness, the probability that a read returns one of
  the last k versions when quorums are chosen at random and do not grow.
* :func:`pbs`: t-visibility of the WARS model of Dynamo-style replication: the probability that a
  read that starts t ms after a write commits returns it, with the latency of
  reads and writes, from one pass of Monte Carlo trials.
* :func:`t_visibility_table`: the paper's figures for production latencies beside ours.

Times are in ms, the paper's unit.

>>> round(k_staleness(3, 1, 1, 1), 4), round(k_staleness(3, 1, 1, 2), 4)
(0.3333, 0.5556)
>>> res = pbs(3, 1, 1, "lnkd-ssd", t=[0, 1, 5], trials=200_000, seed=1)
>>> res.p_consistent.round(3)
array([0.973, 0.995, 1.   ])
>>> pbs(3, 2, 2, "ymmr", t=0, trials=10_000).p_consistent
array([1.])
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import NormalDist
from typing import Callable, NamedTuple, Sequence

import numpy as np

from .latency import FITS, LEGS, LatencyModel, WanModel, parse_latency, parse_duration, split_specs

__all__ = ["k_staleness", "pbs", "wars", "PBSResult", "WarsTrials", "t_visibility_table",
           "PAPER_T_VISIBILITY", "PAPER_CONSISTENT_AT_ZERO", "DEFAULT_T", "run_pbs",
           "plot_t_visibility"]

#: the t values (ms) :func:`pbs` reports when none are given: 0, then 0.01 ms to 10 s, 4 a decade
DEFAULT_T = np.concatenate([[0.0], np.geomspace(0.01, 10_000.0, 25)])

#: trials per independently seeded stream: results depend on the seed, not on the threads
CHUNK = 1 << 16

# The paper's published figures for N = 3: (fit, R, W) -> (read latency, write latency,
# t), the 99.9th percentile read and write latencies (ms, 1M reads and writes) and the
# t (ms) after which 99.9% of reads are consistent (estimated from 50,000 reads and
# writes). VLDB 2012, subsection "Latency vs. t-visibility": the table "t-visibility for
# p_s = .001 ... and 99.9% read (L_r) and write latency (L_w) across R and W, N=3". The
# LNKD-SSD, LNKD-DISK and YMMR columns are the same in CACM 2014 (Section 5.6, its one
# table), which is where they were checked. The WAN column was read from
# the paper's LaTeX source in the authors' repository (pbailis/pbs-vldb-historical-
# paper-material, writeup/ernst.tex), a pre-publication revision: not checked against
# the printed paper.
PAPER_T_VISIBILITY = {
    ("lnkd-ssd", 1, 1): (0.66, 0.66, 1.85), ("lnkd-ssd", 1, 2): (0.66, 1.63, 1.79),
    ("lnkd-ssd", 2, 1): (1.63, 0.65, 0.0), ("lnkd-ssd", 2, 2): (1.62, 1.64, 0.0),
    ("lnkd-ssd", 3, 1): (4.14, 0.65, 0.0), ("lnkd-ssd", 1, 3): (0.65, 4.09, 0.0),
    ("lnkd-disk", 1, 1): (0.66, 10.99, 45.5), ("lnkd-disk", 1, 2): (0.65, 20.97, 43.3),
    ("lnkd-disk", 2, 1): (1.63, 10.9, 13.6), ("lnkd-disk", 2, 2): (1.64, 20.96, 0.0),
    ("lnkd-disk", 3, 1): (4.12, 10.89, 0.0), ("lnkd-disk", 1, 3): (0.65, 112.65, 0.0),
    ("ymmr", 1, 1): (5.58, 10.83, 1364.0), ("ymmr", 1, 2): (5.61, 427.12, 1352.0),
    ("ymmr", 2, 1): (32.6, 10.73, 202.0), ("ymmr", 2, 2): (33.18, 428.11, 0.0),
    ("ymmr", 3, 1): (219.27, 10.79, 0.0), ("ymmr", 1, 3): (5.63, 1870.86, 0.0),
    ("wan", 1, 1): (3.4, 55.12, 113.0), ("wan", 1, 2): (3.4, 167.64, 0.0),
    ("wan", 2, 1): (151.3, 56.36, 30.2), ("wan", 2, 2): (151.31, 167.72, 0.0),
    ("wan", 3, 1): (153.86, 55.19, 0.0), ("wan", 1, 3): (3.44, 241.55, 0.0),
}

# The probability of a consistent read right after the write commits (t = 0), N = 3,
# R = W = 1: VLDB 2012 subsection "Observed t-visibility" and CACM 2014 Section 5.4
# (97.4%, 43.9%, 89.3%). WAN's 33.4% is the figure this project's design notes quote
# from the VLDB paper; the CACM source has it, commented out, as "33%".
PAPER_CONSISTENT_AT_ZERO = {"lnkd-ssd": 0.974, "lnkd-disk": 0.439, "ymmr": 0.893, "wan": 0.334}


# ----------------------------------------------------------------------------- k-staleness

def _whole(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) \
            or value != value or value != int(value) or value < low:
        raise ValueError(f"{what} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _check_nrw(n, r, w) -> tuple[int, int, int]:
    n = _whole(n, "n (replicas)")
    r = _whole(r, "r (read quorum)")
    w = _whole(w, "w (write quorum)")
    if r > n:
        raise ValueError(f"r (read quorum) must be in 1..{n} for n={n}, got {r}")
    if w > n:
        raise ValueError(f"w (write quorum) must be in 1..{n} for n={n}, got {w}")
    return n, r, w


def k_staleness(n: int, r: int, w: int, k: int = 1) -> float:
    """PBS k-staleness (VLDB 2012; CACM 2014, Section 4.1, Equation 2): the probability
    that a read returns a value within k versions of the latest committed one,

        1 - (C(N-W, R) / C(N, R)) ** k,

    when each write goes to a uniformly random set of W of the N replicas, each
    read to an independent random set of R, and write sets do not grow after the
    write (no anti-entropy). The read misses the last k versions only if its
    quorum misses each of the last k (independent) write quorums. For
    Dynamo-style quorums, whose writes keep spreading, this is a lower bound.
    It is 1 when R + W > N (every read quorum meets every write quorum).

    >>> k_staleness(3, 1, 1), round(k_staleness(3, 1, 2, 2), 4), k_staleness(3, 2, 2, 1)
    (0.3333333333333333, 0.8889, 1.0)
    """
    n, r, w = _check_nrw(n, r, w)
    k = _whole(k, "k (versions)")
    miss = Fraction(math.comb(n - w, r), math.comb(n, r))
    return float(1 - miss ** k)


# ----------------------------------------------------------------------------- WARS

class WarsTrials(NamedTuple):
    """Per trial: ``visible`` (ms): the read sees the write iff it starts at
    least this long after the commit (<= 0: at once); ``write_latency``, the
    W-th acknowledgement; ``read_latency``, the R-th response (ms)."""
    visible: np.ndarray
    write_latency: np.ndarray
    read_latency: np.ndarray


def wars(W, A, R, S, *, r: int, w: int) -> WarsTrials:
    """Evaluate WARS trials on given delays: ``W``, ``A``, ``R``, ``S`` of
    shape ``(trials, n)`` (ms; row = trial, column = replica), e.g. from
    :meth:`LatencyModel.sample_wars` or a trace. The model (CACM 2014, Sections
    4.2 and 5.1): the write commits at w_t, the W-th smallest W_i + A_i; replica i has the
    write for a read issued t after the commit iff W_i <= w_t + t + R_i; the read
    takes the R replicas with the smallest R_i + S_i (ties to the lower column)
    and is consistent iff one of them has the write.

    >>> d = np.array([[1.0, 5.0, 9.0]])
    >>> wars(d, d * 0, d * 0 + 1, np.array([[3.0, 1.0, 2.0]]), r=1, w=1).visible
    array([3.])
    """
    arrs = [np.ascontiguousarray(x, dtype=np.float64) for x in (W, A, R, S)]
    if arrs[0].ndim != 2 or any(a.shape != arrs[0].shape for a in arrs):
        raise ValueError("W, A, R and S must be 2-d arrays of one shape (trials, n)")
    n = arrs[0].shape[1]
    _check_nrw(n, r, w)
    from . import _pbs

    t = arrs[0].shape[0]
    out = WarsTrials(np.empty(t), np.empty(t), np.empty(t))
    _pbs.evaluate(int(r), int(w), *arrs, *out)
    return out


_PARETO_TABLES: dict = {}


def _pareto_table(alpha: float):
    from . import _pbs

    if alpha not in _PARETO_TABLES:
        _PARETO_TABLES[alpha] = _pbs.pareto_ziggurat(alpha)
    return _PARETO_TABLES[alpha]


def _describe(model: LatencyModel):
    """The flat description the Cython sampler draws from, or None when the
    model is not one it knows (then the model's own ``sample_wars`` is used)."""
    from . import _pbs

    if type(model) not in (LatencyModel, WanModel):
        return None
    kind, hi, a, b, doff, dlen, data = [], [], [], [], [], [], []
    start, ndata = [0], 0
    for leg in LEGS:
        parts = model.legs[leg].parts()
        acc = 0.0
        for j, (weight, dist) in enumerate(parts):
            try:
                k, pa, pb, vals = dist.kernel()
            except NotImplementedError:
                return None
            if k == _pbs.KINDS["pareto"]:
                vals = _pareto_table(pb)
                if vals is None:
                    k = _pbs.KINDS["pareto-inv"]
            kind.append(k)
            acc += weight
            hi.append(1.0 if j == len(parts) - 1 else acc)
            a.append(pa)
            b.append(pb)
            doff.append(ndata)
            dlen.append(0 if vals is None else len(vals))
            if vals is not None:
                data.append(vals)
                ndata += len(vals)
        start.append(len(kind))
    return (np.asarray(kind, np.int32), np.asarray(hi), np.asarray(a), np.asarray(b),
            np.asarray(doff, np.int64), np.asarray(dlen, np.int64),
            np.concatenate(data) if data else np.empty(0), np.asarray(start, np.int64),
            float(model.dc_delay))


def _jobs(jobs, chunks: int) -> int:
    if jobs is None:
        try:
            jobs = len(os.sched_getaffinity(0))
        except AttributeError:
            jobs = os.cpu_count() or 1
    return max(1, min(int(jobs), chunks))


def _simulate(model: LatencyModel, n: int, r: int, w: int, trials: int, seed: int, jobs=None,
              keep_draws: bool = False):
    """All trials: (WarsTrials, draws or None). Chunk c of CHUNK trials uses the
    c-th word of ``SeedSequence(seed)``, so results depend on the seed only."""
    from . import _pbs

    chunks = max(1, -(-trials // CHUNK))
    seeds = np.random.SeedSequence(seed).generate_state(chunks, dtype=np.uint64)
    out = WarsTrials(np.empty(trials), np.empty(trials), np.empty(trials))
    draws = np.empty((trials, 4 * n)) if keep_draws else None
    desc = _describe(model)

    def one(c: int) -> None:
        lo, hi = c * CHUNK, min(trials, (c + 1) * CHUNK)
        part = [x[lo:hi] for x in out]
        if desc is not None:
            _pbs.simulate(n, r, w, *desc[:-1], desc[-1], int(seeds[c]), *part,
                          draws[lo:hi] if keep_draws else None)
            return
        rng = np.random.default_rng(int(seeds[c]))
        legs = [np.ascontiguousarray(x, dtype=np.float64) for x in model.sample_wars(hi - lo, n, rng)]
        if any(x.shape != (hi - lo, n) for x in legs):
            raise ValueError(f"{model!r}: sample_wars must return four ({hi - lo}, {n}) arrays")
        if keep_draws:
            draws[lo:hi] = np.concatenate(legs, axis=1)
        _pbs.evaluate(r, w, *legs, *part)

    workers = _jobs(jobs, chunks)
    if workers == 1:
        for c in range(chunks):
            one(c)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(chunks)))
    return out, draws


def _as_t(t) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(DEFAULT_T if t is None else t, dtype=np.float64)).ravel()
    bad = arr[~(arr >= 0) | ~np.isfinite(arr)]
    if bad.size:
        raise ValueError(f"t must be finite and >= 0 ms, got {bad[0]:g}")
    return arr


def _count_consistent(late: np.ndarray, trials: int, t: np.ndarray) -> np.ndarray:
    """For each t: trials minus the late trials (visible > 0) with visible > t."""
    order = np.argsort(t, kind="stable")
    ts = t[order]
    # a late trial becomes consistent from the first t >= visible on
    first = np.searchsorted(ts, late, side="left")
    became = np.cumsum(np.bincount(first, minlength=ts.size + 1))[:ts.size]
    counts = np.empty(ts.size, dtype=np.int64)
    counts[order] = trials - late.size + became
    return counts


def _percentiles(x: np.ndarray, pcts: Sequence[float]) -> dict:
    """``{p: value}`` exactly as ``np.percentile`` computes them (linear
    interpolation between order statistics), with the order statistics from
    two passes over ``x`` instead of a selection."""
    from . import _pbs

    n = x.size
    if not pcts:
        return {}
    pos = [(p / 100.0) * (n - 1) for p in pcts]
    ranks = sorted({r for h in pos for r in (math.floor(h), min(n - 1, math.floor(h) + 1))})
    value = dict(zip(ranks, _pbs.order_stats(np.ascontiguousarray(x, dtype=np.float64), ranks)))
    out = {}
    for p, h in zip(pcts, pos):
        lo = math.floor(h)
        a, b = value[lo], value[min(n - 1, lo + 1)]
        g = h - lo                     # interpolated from the nearer end, as numpy does
        out[p] = a if a == b else (a + (b - a) * g if g < 0.5 else b - (b - a) * (1 - g))
    return out


@dataclass
class PBSResult:
    """What :func:`pbs` measured. Times in ms.

    ``t`` and ``p_consistent``: the probability of a consistent read at each t
    asked for. ``read_latency`` and ``write_latency``: percentile -> ms.
    :meth:`consistency` gives the probability at any other t and
    :meth:`t_visibility` the t at which a target probability is reached, both
    from the trials kept (only the trials not consistent at t = 0, ``late``:
    O(that many) memory; ``consistency`` at m values of t takes O(late log m),
    ``t_visibility`` O(late)).

    >>> res = pbs(3, 1, 1, "wan", t=[0, 80, 100], trials=50_000, seed=1)
    >>> res.p_consistent.round(2), res.consistency(1e6)
    (array([0.33, 0.9 , 1.  ]), 1.0)
    >>> 75 < res.t_visibility(0.99) < 110
    True
    >>> res._check()
    """
    n: int
    r: int
    w: int
    latency: str
    trials: int
    seed: int
    t: np.ndarray
    p_consistent: np.ndarray
    read_latency: dict
    write_latency: dict
    seconds: float
    late: np.ndarray = field(repr=False)

    def _check(self) -> None:
        """Assert the invariants: the kept trials are the late ones, the
        probabilities are those counts, in [0, 1] and not decreasing in t."""
        assert self.late.size <= self.trials and np.all(self.late > 0)
        assert self.t.shape == self.p_consistent.shape
        assert np.all((0 <= self.p_consistent) & (self.p_consistent <= 1))
        order = np.argsort(self.t, kind="stable")
        assert np.all(np.diff(self.p_consistent[order]) >= 0)
        assert np.array_equal(self.consistency(self.t), self.p_consistent)
        assert 1 <= self.r <= self.n and 1 <= self.w <= self.n

    def consistency(self, t) -> np.ndarray | float:
        """P(consistent read) for a read issued ``t`` ms after the commit (a
        number or an array of them)."""
        arr = _as_t(t)
        p = _count_consistent(self.late, self.trials, arr) / self.trials
        return float(p[0]) if np.ndim(t) == 0 else p

    @property
    def p_consistent_t0(self) -> float:
        """P(consistent read) immediately after the commit."""
        return 1.0 - self.late.size / self.trials

    def _order_stat(self, allowed: int) -> float:
        """The smallest t >= 0 that leaves at most ``allowed`` trials stale."""
        m = self.late.size
        if m <= allowed:
            return 0.0
        k = m - allowed - 1
        return float(np.partition(self.late, k)[k])

    def t_visibility(self, p: float = 0.999) -> float:
        """The smallest t (ms) after which a read is consistent with probability
        at least ``p``, over these trials (0 if it already is at t = 0)."""
        if not 0 < p <= 1:
            raise ValueError(f"p must be in (0, 1], got {p}")
        return self._order_stat(math.floor((1 - p) * self.trials + 1e-9))

    def t_visibility_interval(self, p: float = 0.999, level: float = 0.95) -> tuple[float, float]:
        """A distribution-free confidence interval for :meth:`t_visibility`
        from the binomial spread of the number of stale trials (order
        statistics): how far Monte Carlo noise may move it."""
        if not 0 < p < 1 or not 0 < level < 1:
            raise ValueError(f"p and level must be in (0, 1), got {p}, {level}")
        z = NormalDist().inv_cdf((1 + level) / 2)
        mid = (1 - p) * self.trials
        spread = z * math.sqrt(self.trials * p * (1 - p))
        hi = self._order_stat(max(0, math.floor(mid - spread)))
        lo = self._order_stat(math.ceil(mid + spread))
        return lo, hi

    def frame(self):
        """``t_ms``, ``p_consistent`` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame({"t_ms": self.t, "p_consistent": self.p_consistent})


def pbs(n: int = 3, r: int = 1, w: int = 1, latency="lnkd-ssd", t=None, trials: int = 1_000_000, *,
        seed: int = 0, percentiles: Sequence[float] = (50, 99, 99.9), jobs: int | None = None) -> PBSResult:
    """t-visibility of an N-replica Dynamo-style store with read quorum R and
    write quorum W, by the WARS Monte Carlo of Bailis et al. (VLDB 2012; CACM 2014,
    Section 5.1): the probability that a read issued ``t`` ms after a write commits
    returns that write (or a newer one), and the percentiles of read and write
    latency, from ``trials`` independent trials.

    ``latency``: a spec for :func:`~tradeoff.replication.latency.parse_latency`
    (``"lnkd-ssd"``, ``"lnkd-disk"``, ``"ymmr"``, ``"wan"``,
    ``"exp:mean=2ms"``, ...) or a model. ``t``: ms, a number or an array
    (default :data:`DEFAULT_T`). ``jobs``: threads (default: the cores); the
    result depends only on ``seed``. One trial draws 4N delays and evaluates
    them in O(N^2); all t values come from the same trials. Memory: 24 bytes a
    trial while it runs; the result keeps 8 bytes per trial not consistent at
    t = 0. ``percentiles`` of latency are exact (as ``np.percentile``).

    Bad input (R or W outside 1..N, an unknown latency, a negative t) raises a
    one-line ValueError.

    >>> res = pbs(3, 1, 1, "lnkd-disk", t=[0, 10], trials=100_000, seed=2)
    >>> res.p_consistent.round(2), round(res.write_latency[99.9])
    (array([0.44, 0.93]), 11)
    >>> pbs(3, 4, 1)
    Traceback (most recent call last):
    ...
    ValueError: r (read quorum) must be in 1..3 for n=3, got 4
    """
    n, r, w = _check_nrw(n, r, w)
    trials = _whole(trials, "trials")
    seed = _whole(seed, "seed", low=0)
    t_arr = _as_t(t)
    pct = [float(p) for p in percentiles]
    if any(not 0 <= p <= 100 for p in pct):
        raise ValueError(f"percentiles must be in 0..100, got {list(percentiles)}")
    model = parse_latency(latency)
    start = time.perf_counter()
    trial, _ = _simulate(model, n, r, w, trials, seed, jobs)
    late = trial.visible[trial.visible > 0]
    p = _count_consistent(late, trials, t_arr) / trials
    rl = _percentiles(trial.read_latency, pct)
    wl = _percentiles(trial.write_latency, pct)
    seconds = time.perf_counter() - start
    return PBSResult(n, r, w, model.name, trials, seed, t_arr, p, rl, wl, seconds, late)


# ----------------------------------------------------------------------------- the paper's table

def _fits(fits) -> list[str]:
    if fits is None or fits == "all" or fits == ("all",):
        return list(FITS)
    names = split_specs(fits) if isinstance(fits, str) else list(fits)
    for name in names:
        if isinstance(name, str) and name.strip().lower() not in FITS:
            parse_latency(name)            # a bad spec raises here; a good one is allowed
    return names


#: a wide grid on which curves are kept for plots (ms)
_CURVE_T = np.geomspace(1e-3, 1e5, 481)


def _sweep(n, rs, ws, fits, target, trials, seed, jobs, progress, curves=None):
    import pandas as pd

    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target}")
    rs = [_whole(x, "r (read quorum)") for x in rs]
    ws = [_whole(x, "w (write quorum)") for x in ws]
    for r in rs:
        for w in ws:
            _check_nrw(n, r, w)
    names = _fits(fits)
    rows = []
    total = len(names) * len(rs) * len(ws)
    for spec in names:
        label = spec if isinstance(spec, str) else parse_latency(spec).name
        key = label.strip().lower()
        for r in rs:
            for w in ws:
                res = pbs(n, r, w, spec, t=[0.0], trials=trials, seed=seed, percentiles=(99.9,), jobs=jobs)
                lo, hi = res.t_visibility_interval(target)
                paper = PAPER_T_VISIBILITY.get((key, r, w)) if n == 3 else None
                p0 = PAPER_CONSISTENT_AT_ZERO.get(key) if (n, r, w) == (3, 1, 1) else None
                rows.append({
                    "latency": label, "n": n, "r": r, "w": w,
                    "p_consistent_t0": res.p_consistent_t0,
                    "paper_p_consistent_t0": np.nan if p0 is None else p0,
                    "t_ms": res.t_visibility(target), "t_lo_ms": lo, "t_hi_ms": hi,
                    "paper_t_ms": paper[2] if paper and abs(target - 0.999) < 1e-12 else np.nan,
                    "read_p999_ms": res.read_latency[99.9],
                    "paper_read_p999_ms": paper[0] if paper else np.nan,
                    "write_p999_ms": res.write_latency[99.9],
                    "paper_write_p999_ms": paper[1] if paper else np.nan,
                    "trials": trials, "seconds": res.seconds,
                })
                if curves is not None:
                    curves[(label, r, w)] = (res.p_consistent_t0, res.consistency(_CURVE_T),
                                             res.t_visibility(0.9999))
                if progress:
                    progress(f"[{len(rows)}/{total}] {label} N={n} R={r} W={w}: "
                             f"{100 * res.p_consistent_t0:.2f}% consistent at t=0, "
                             f"{100 * target:g}% at t={rows[-1]['t_ms']:.3g} ms ({res.seconds:.2f} s)")
    df = pd.DataFrame(rows)
    df.attrs["target"] = target
    return df


def t_visibility_table(n: int = 3, rs: Sequence[int] = (1, 2), ws: Sequence[int] = (1, 2), fits="all",
                       target: float = 0.999, *, trials: int = 1_000_000, seed: int = 0,
                       jobs: int | None = None):
    """The paper's headline numbers, recomputed: one row per fit and (R, W).

    Columns: ``p_consistent_t0`` (a read right after the commit), ``t_ms``
    (the t at which ``target`` of reads are consistent, with ``t_lo_ms`` and
    ``t_hi_ms`` a 95% Monte Carlo interval), ``read_p999_ms`` and
    ``write_p999_ms`` (99.9th percentile latencies), each beside the paper's
    published figure (``paper_...``, NaN where the paper gives none; see
    :data:`PAPER_T_VISIBILITY`). ``fits``: ``"all"`` (the four fits) or a list
    of names or specs. The paper estimated t from 50,000 trials, so its t
    figures carry noise of their own.

    >>> df = t_visibility_table(rs=(1,), ws=(1,), fits=["lnkd-ssd"], trials=100_000)
    >>> df[["latency", "paper_p_consistent_t0", "paper_t_ms"]].values.tolist()
    [['lnkd-ssd', 0.974, 1.85]]
    """
    n = _whole(n, "n (replicas)")
    return _sweep(n, rs, ws, fits, target, _whole(trials, "trials"), _whole(seed, "seed", low=0),
                  jobs, None)


# ----------------------------------------------------------------------------- CLI entry

_STYLES = ["-", "--", ":", "-."]


def plot_t_visibility(curves: dict, path, *, t_max: float | None = None, title: str = "") -> None:
    """Probability of a consistent read against t (log x), one line per
    (latency, R, W): ``curves`` maps ``(label, r, w)`` to ``(p at t=0,
    p on the grid, t at 99.99%)`` as :func:`run_pbs` collects them. PNG or SVG by
    the file's extension, written atomically."""
    from ..harness.plots import figure, save_figure

    if t_max is None:
        t_max = max([1.0] + [2 * c[2] for c in curves.values()])
    t_min = min(0.01, t_max / 1000)
    fig, ax = figure(8.0, 5.0)
    labels = list(dict.fromkeys(k[0] for k in curves))
    combos = list(dict.fromkeys(k[1:] for k in curves))
    keep = (_CURVE_T >= t_min) & (_CURVE_T <= t_max)
    for (label, r, w), (p0, p, _) in curves.items():
        color = f"C{labels.index(label) % 10}"
        style = _STYLES[combos.index((r, w)) % len(_STYLES)]
        ax.plot(_CURVE_T[keep], p[keep], color=color, linestyle=style,
                label=f"{label} R={r} W={w} (t=0: {100 * p0:.2f}%)")
    ax.set_xscale("log")
    ax.set_xlim(t_min, t_max)
    ax.set_xlabel("t: time since the write committed (ms)")
    ax.set_ylabel("P(read returns the write)")
    ax.set_ylim(top=1.005)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "PBS t-visibility (WARS model, Bailis et al., VLDB 2012)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    save_figure(fig, path)


def _ints(text, what: str) -> list[int]:
    from ..harness.errors import UserError

    items = [text] if isinstance(text, int) else (list(text) if not isinstance(text, str)
                                                    else [p for p in text.split(",") if p.strip()])
    out = []
    for item in items:
        try:
            value = int(str(item).strip())
        except ValueError:
            raise UserError(f"{what} takes whole numbers separated by commas, got {text!r}") from None
        if value < 1:
            raise UserError(f"{what} must be >= 1, got {value}")
        out.append(value)
    if not out:
        raise UserError(f"{what}: give at least one number")
    return list(dict.fromkeys(out))


def _cell(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v)


def _ms(v) -> str:
    """A time in ms for the table: 3 significant digits, never in e-notation."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if v == 0 or abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def table(df, fmt: str = "table") -> str:
    """The sweep as text: ours beside the paper's (``-``: the paper gives none)."""
    from ..harness.report import format_table

    headers = ["latency", "R", "W", "t=0 consistent", "paper", "t@99.9% (ms)", "95% CI", "paper",
               "read p99.9", "paper", "write p99.9", "paper"]
    rows = []
    for rec in df.to_dict("records"):
        rows.append([str(rec["latency"]), str(rec["r"]), str(rec["w"]),
                     _cell(100 * rec["p_consistent_t0"], "{:.2f}%"),
                     _cell(100 * rec["paper_p_consistent_t0"], "{:.1f}%"),
                     _ms(rec["t_ms"]), f"{_ms(rec['t_lo_ms'])}-{_ms(rec['t_hi_ms'])}",
                     _ms(rec["paper_t_ms"]),
                     _ms(rec["read_p999_ms"]), _ms(rec["paper_read_p999_ms"]),
                     _ms(rec["write_p999_ms"]), _ms(rec["paper_write_p999_ms"])])
    return format_table(headers, rows, fmt, align=["l"] + ["r"] * (len(headers) - 1))


def run_pbs(*, n=3, r="1,2", w="1,2", latency="lnkd-ssd,lnkd-disk,ymmr,wan", trials="1e6", t_max=None,
            seed: int = 0, plot=None, output=None, fmt: str = "table",
            progress: Callable[[str], None] | None = None):
    """``tradeoff simulate pbs``: the options as typed -> an
    :class:`~tradeoff.harness.outputs.Outcome` (a header line and the table of
    t-visibility and latency beside the paper's figures, the files written, the
    DataFrame). ``t_max``: the plot's right edge (a duration such as ``200ms``;
    default: twice the largest t at 99.99%). The outputs are checked before any
    work and written both or neither; bad input is a one-line UserError.
    """
    from ..harness import results
    from ..harness.errors import UserError
    from ..harness.outputs import Outcome, Outputs
    from ..harness.run import default_output
    from ..harness.specs import parse_count

    n_trials = parse_count(trials, "--trials")
    try:
        n_rep = _whole(int(n) if isinstance(n, str) and n.strip().isdigit() else n, "--n (replicas)")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rs, ws = _ints(r, "--r"), _ints(w, "--w")
    for q, what in ((max(rs), "--r"), (max(ws), "--w")):
        if q > n_rep:
            raise UserError(f"{what} {q} is more than the {n_rep} replicas (--n)")
    specs = split_specs(latency) if isinstance(latency, str) else list(latency)
    specs = [x for spec in specs for x in (FITS if spec == "all" else (spec,))]
    if not specs:
        raise UserError("--latency: give at least one fit or distribution")
    try:
        for spec in specs:
            parse_latency(spec)
        t_edge = None if t_max is None else parse_duration(t_max, "--t-max")
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    if t_edge is not None and not t_edge > 0:
        raise UserError(f"--t-max must be > 0, got {t_max}")
    out = Outputs(output or default_output("simulate-pbs"), plot)      # before any work
    curves: dict = {} if plot else None
    try:
        df = _sweep(n_rep, rs, ws, specs, 0.999, n_trials, int(seed), None, progress, curves)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    with out.writing() as tmp:
        results.write_rows(df.to_dict("records"), tmp.results, suite="simulate-pbs", func="pbs",
                           params=("latency", "n", "r", "w"), compare="latency",
                           headline=("p_consistent_t0", "t_ms"),
                           config={"trials": n_trials, "seed": int(seed), "target": 0.999})
        if tmp.plot:
            plot_t_visibility(curves, tmp.plot, t_max=t_edge,
                              title=f"PBS t-visibility, N={n_rep}, {n_trials:,} trials per line")
    header = (f"PBS t-visibility (WARS model; Bailis et al., VLDB 2012), N={n_rep}, {n_trials:,} trials "
              f"per row: the share of reads consistent right after a write commits, the wait t (ms) "
              f"until 99.9% are, and 99.9th percentile latencies (ms); 'paper' = its published figure")
    return Outcome([header, table(df, fmt)], out.written, df)
