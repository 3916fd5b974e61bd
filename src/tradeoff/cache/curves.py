"""Miss-ratio curves of LRU caches: exact, or estimated from a SHARDS sample.

One pass over a trace gives the LRU hit count of every cache size at once: a
request hits an LRU cache of c objects exactly when its stack distance d
satisfies 1 <= d <= c (Mattson et al. 1970), so the hit counts are a cumulative
sum of the distance histogram (see :mod:`tradeoff.cache._mrc` for the kernel).

>>> import numpy as np
>>> df = mrc(np.array([1, 2, 1, 3, 2, 2], dtype=np.int64))
>>> df.to_dict("list")
{'size': [1, 2, 3], 'miss_ratio': [0.8333333333333334, 0.6666666666666666, 0.5], 'hits': [1, 2, 3], 'misses': [5, 4, 3]}
>>> df.attrs["distinct"], df.attrs["exact"]
(3, True)
"""
import math
import numbers

import numpy as np

from ._mrc import MAX_DISTINCT, SAMPLE_MODULUS, _histogram, _keys, _mix64, stack_distances

__all__ = ["mrc", "stack_distances", "SAMPLE_MODULUS", "ERROR_SALTS", "MAX_DISTINCT", "MIN_SAMPLED_KEYS"]

#: the fewest distinct sampled keys a SHARDS estimate is given for: below it the
#: curve has a handful of steps and its distinct-key estimate is off by a factor
MIN_SAMPLED_KEYS = 100

#: how many salted samples besides the returned one the error estimate compares
ERROR_SALTS = 3

# the table salt of the kernel (SD_TABLE_SALT in _mrc.pxd): a sampling salt equal
# to it would align the sampled keys with the table's buckets
_TABLE_SALT = 0x9E3779B97F4A7C15
_GOLDEN = 0x9E3779B97F4A7C15
_U64 = (1 << 64) - 1


def mrc(trace, *, sample=None, max_size=None, seed=0, min_sampled=MIN_SAMPLED_KEYS):
    """The LRU miss-ratio curve of ``trace``: a DataFrame with one row per cache size.

    ``trace`` is a 1-D numpy array of int64 or uint64 keys (every object has size
    1); it may be strided, e.g. a field of a memory-mapped structured array: it is
    read in place. The columns are ``size`` (objects), ``miss_ratio``, ``hits``
    and ``misses`` (ints, summing to the number of requests).

    **Exact** (``sample=None``, or ``sample=1``): one row for every size
    1..M, M the number of distinct keys (the curve can change at each; above M it
    stays at the cold-miss ratio M/N), or 1..min(M, ``max_size``). ``hits`` at
    size c equals ``replay(trace, "lru", c).hits`` exactly. Time O(N log M), memory
    O(M) (a Fenwick tree over a compacted window of positions; Bennett and Kruskal
    1975), and the DataFrame is built with one cumulative sum.

    **SHARDS** (``sample=R``, 0 < R < 1): Waldspurger, Park, Garthwaite and
    Ahmad, "Efficient MRC Construction with SHARDS", FAST 2015. A request is kept
    iff ``mix64(key) mod P < T`` with P = 2**24 and T = round(R * P), so a key is
    kept with all of its requests or not at all, and the rate actually used is
    T/P (``attrs["sample_rate"]``). Stack distances are computed over the sampled
    sub-trace, where a distance d means d - 1 distinct sampled keys in between,
    which stand for (d - 1)/R keys of the whole trace: the paper's scaling of the
    reuse distance by 1/R, so the estimated distance is 1 + (d - 1)/R. SHARDS-adj
    (from the paper's evaluation): the difference between the expected number of
    sampled requests, N*R, and the actual number Ns is added to the first bucket
    (distance 1: a hit at every size), and miss ratios are taken over N*R; they
    are clipped to [0, 1] (a negative first bucket would push them above 1).
    Rows: one per sampled distance d = 1..Ms (Ms: sampled distinct keys), at size
    ``1 + ceil((d - 1) / R)``: the sizes where the estimate can change. Between
    two rows the miss ratio is that of the upper row (a step function, as the
    exact curve), so the first row is size 1 and the sizes step by about 1/R.
    ``hits`` and ``misses`` are estimates: ``round(N * (1 - miss_ratio))`` and
    the rest. Work is O(N) hashing plus O(N*R log(M*R)); memory O(M*R).

    Error estimate (SHARDS only): the sample is drawn again with ``ERROR_SALTS``
    other salts (``mix64(key ^ salt)``; salts derived from ``seed``), and
    ``attrs["error_estimate"]`` is the mean, over all pairs among the salt-0
    curve and those, of the mean absolute difference between the two curves,
    taken over every integer size 1..S (S: the largest row size of any of them,
    capped at ``max_size``), in miss-ratio units (0.01 = one percentage point).
    If the curves' errors were independent and alike, this is about sqrt(2)
    times the expected mean absolute error of one curve against the exact one
    (E|X - Y| = sqrt(2) E|X| for centred normal X, Y); a bias that every salt
    shares is invisible to it. NaN if fewer than two salts sampled anything. It
    costs ERROR_SALTS more sampled passes; the returned curve is always salt 0's.

    ``df.attrs``: ``requests`` (N), ``distinct`` (M; for SHARDS the estimate
    Ms/R), ``sample_rate`` (T/P, 1.0 when exact), ``sampled_requests``,
    ``sampled_distinct``, ``exact``, ``error_estimate`` (None when exact),
    ``salts`` (the salts of the error estimate), ``seed``, and ``memory_bytes``
    (the kernel's state at the end of the salt-0 pass).

    Raises TypeError for a trace that is not a numpy int64/uint64 array or a
    non-numeric ``sample``/``max_size``/``seed``, ValueError for a trace that is
    not 1-D or is empty, ``sample`` outside (0, 1] or below 1/P, ``max_size`` < 1,
    or a sample that keeps fewer than ``min_sampled`` distinct keys (the message
    names the rate that would keep enough).
    """
    keys = _keys(trace)
    n = int(keys.shape[0])
    if n == 0:
        raise ValueError("trace is empty: a miss-ratio curve needs at least one request")
    threshold = _check_sample(sample)
    max_size = _check_max_size(max_size)
    seed = _check_seed(seed)
    if threshold >= SAMPLE_MODULUS:
        return _exact(keys, n, max_size, seed)
    return _shards(keys, n, threshold, max_size, seed, min_sampled)


# ---------------------------------------------------------------- validation

def _check_sample(sample):
    """T for the sample rate (SAMPLE_MODULUS: exact)."""
    if sample is None:
        return SAMPLE_MODULUS
    if isinstance(sample, (bool, np.bool_)) or not isinstance(sample, numbers.Real):
        raise TypeError(f"sample must be a number in (0, 1] or None, got {sample!r}")
    rate = float(sample)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"sample must be in (0, 1], got {sample!r}")
    threshold = int(math.floor(rate * SAMPLE_MODULUS + 0.5))
    if threshold < 1:
        raise ValueError(f"sample must be at least 1/{SAMPLE_MODULUS} (the hash resolution), got {sample!r}")
    return threshold


def _check_max_size(max_size):
    if max_size is None:
        return None
    if isinstance(max_size, (bool, np.bool_)) or not isinstance(max_size, (int, np.integer)):
        raise TypeError(f"max_size must be an int or None, got {max_size!r}")
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    return int(max_size)


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------- curves

def _frame(sizes, miss_ratio, hits, n):
    hits = np.asarray(hits, dtype=np.int64)
    import pandas as pd

    return pd.DataFrame({
        "size": np.asarray(sizes, dtype=np.int64),
        "miss_ratio": np.asarray(miss_ratio, dtype=np.float64),
        "hits": hits,
        "misses": n - hits,
    })


def _exact(keys, n, max_size, seed):
    hist, _, stats = _histogram(keys)
    m = len(hist) - 1
    rows = m if max_size is None else min(m, max_size)
    hits = np.cumsum(hist[1:rows + 1])
    df = _frame(np.arange(1, rows + 1), (n - hits) / n, hits, n)
    df.attrs.update(requests=n, distinct=m, sample_rate=1.0, sampled_requests=n,
                    sampled_distinct=m, exact=True, error_estimate=None, salts=[],
                    seed=seed, memory_bytes=stats["nbytes"])
    return df


def _sampled_curve(keys, n, threshold, salt):
    """(sizes, miss ratios, sampled requests, sampled distinct, stats) of one
    SHARDS-adj sample; sizes is empty when the sample kept nothing."""
    hist, sampled, stats = _histogram(keys, salt, threshold)
    ms = len(hist) - 1
    # sampled distance d (d - 1 sampled keys between) -> 1 + ceil((d - 1) * P / T)
    gaps = np.arange(ms, dtype=np.int64)
    sizes = 1 + (gaps * SAMPLE_MODULUS + threshold - 1) // threshold
    expected = n * threshold / SAMPLE_MODULUS
    cum = np.cumsum(hist[1:], dtype=np.float64)
    cum += expected - sampled          # SHARDS-adj: the difference joins the first bucket
    miss_ratio = np.clip(1.0 - cum / expected, 0.0, 1.0)
    return sizes, miss_ratio, sampled, ms, stats


def _salts(seed):
    out = []
    k = 1
    while len(out) < ERROR_SALTS:
        salt = _mix64((seed * _GOLDEN + k) & _U64)
        k += 1
        if salt not in (0, _TABLE_SALT) and salt not in out:
            out.append(salt)
    return out


def _step_mad(sa, va, sb, vb, upto):
    """Mean of |a(c) - b(c)| over c = 1..upto, for step curves given as (sizes,
    values): a(c) is the value of the last row with size <= c (sizes start at 1)."""
    cuts = np.union1d(sa, sb)
    cuts = cuts[cuts <= upto]
    widths = np.diff(np.append(cuts, upto + 1))
    ia = np.searchsorted(sa, cuts, side="right") - 1
    ib = np.searchsorted(sb, cuts, side="right") - 1
    return float(np.sum(np.abs(va[ia] - vb[ib]) * widths) / upto)


def _shards(keys, n, threshold, max_size, seed, min_sampled=MIN_SAMPLED_KEYS):
    sizes, miss_ratio, sampled, ms, stats = _sampled_curve(keys, n, threshold, 0)
    rate = threshold / SAMPLE_MODULUS
    if ms < max(min_sampled, 1):
        distinct = int(np.unique(keys).size)
        need = min_sampled / distinct
        fix = (f"sample at a rate of at least {need:.2g}" if need < 1 else
               f"the trace has only {distinct:,} distinct keys: use the exact curve")
        raise ValueError(f"SHARDS at rate {rate:.4g} sampled {ms:,} of the {distinct:,} distinct keys; "
                         f"an estimate needs at least {min_sampled:,}: {fix}")
    salts = _salts(seed)
    curves = [(sizes, miss_ratio)]
    for salt in salts:
        s, mr, k, _, _ = _sampled_curve(keys, n, threshold, salt)
        if k > 0:
            curves.append((s, mr))
    upto = max(int(s[-1]) for s, _ in curves)
    if max_size is not None:
        upto = min(upto, max_size)
    if len(curves) >= 2:
        diffs = [_step_mad(*curves[i], *curves[j], upto)
                 for i in range(len(curves)) for j in range(i + 1, len(curves))]
        error = float(np.mean(diffs))
    else:
        error = float("nan")
    if max_size is not None:
        keep = sizes <= max_size
        sizes, miss_ratio = sizes[keep], miss_ratio[keep]
    hits = np.rint(n * (1.0 - miss_ratio)).astype(np.int64)
    df = _frame(sizes, miss_ratio, hits, n)
    df.attrs.update(requests=n, distinct=int(round(ms / rate)), sample_rate=rate,
                    sampled_requests=int(sampled), sampled_distinct=int(ms), exact=False,
                    error_estimate=error, salts=salts, seed=seed,
                    memory_bytes=stats["nbytes"])
    return df
