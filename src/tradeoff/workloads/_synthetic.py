"""Synthetic traces of object ids for cache and index workloads."""
from __future__ import annotations

import numpy as np


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha must be a number, got {alpha!r}")
    if not (alpha >= 0) or not np.isfinite(alpha):
        raise ValueError(f"alpha must be >= 0 and finite, got {alpha}")
    return float(alpha)


def _zipf_ranks(rng: np.random.Generator, n_requests: int, n_objects: int, alpha: float) -> np.ndarray:
    """Ranks 0..n_objects-1 drawn with P(rank r) proportional to 1 / (r+1)**alpha."""
    weights = np.arange(1, n_objects + 1, dtype=np.float64) ** -alpha
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    u = rng.random(n_requests)
    ranks = np.searchsorted(cdf, u, side="right")
    np.minimum(ranks, n_objects - 1, out=ranks)
    return ranks


def zipf(n_requests: int, n_objects: int, alpha: float = 1.0, seed: int = 0) -> np.ndarray:
    """Independent requests with Zipf popularity: P(k-th most popular) ~ 1/k**alpha.

    The popularity ranks are mapped to object ids by a seeded permutation, so the
    popular objects are not simply the small ids. (Zipf's law for web requests:
    Breslau et al., "Web caching and Zipf-like distributions", INFOCOM 1999.)

    >>> t = zipf(1000, 100, 1.0, seed=1)
    >>> t.dtype, t.shape, bool((t >= 0).all() and (t < 100).all())
    (dtype('int64'), (1000,), True)
    """
    n_requests = _check_int("n_requests", n_requests, 0)
    n_objects = _check_int("n_objects", n_objects, 1)
    alpha = _check_alpha(alpha)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_objects).astype(np.int64)
    return perm[_zipf_ranks(rng, n_requests, n_objects, alpha)]


def uniform(n_requests: int, n_objects: int, seed: int = 0) -> np.ndarray:
    """Independent requests, every object equally likely."""
    n_requests = _check_int("n_requests", n_requests, 0)
    n_objects = _check_int("n_objects", n_objects, 1)
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_objects, size=n_requests, dtype=np.int64)


def scan(n_requests: int, n_objects: int, seed: int = 0) -> np.ndarray:
    """A loop over the working set 0..n_objects-1, in order, again and again.

    With a cache smaller than ``n_objects`` this is LRU's and FIFO's worst case:
    every request misses. ``seed`` is accepted for a uniform signature; the trace
    does not depend on it.

    >>> scan(7, 3).tolist()
    [0, 1, 2, 0, 1, 2, 0]
    """
    n_requests = _check_int("n_requests", n_requests, 0)
    n_objects = _check_int("n_objects", n_objects, 1)
    return np.arange(n_requests, dtype=np.int64) % n_objects


def hotspot(n_requests: int, n_objects: int, alpha: float = 1.0, seed: int = 0,
            shift_at: float = 0.5) -> np.ndarray:
    """Zipf requests whose popular set moves to other objects at ``shift_at`` of the trace.

    Before the shift, ranks map to ids by one seeded permutation; after it, by
    another, so yesterday's hot objects go cold at once (a test of how fast a
    policy forgets: frequency-based policies hold on to stale counts).
    """
    n_requests = _check_int("n_requests", n_requests, 0)
    n_objects = _check_int("n_objects", n_objects, 1)
    alpha = _check_alpha(alpha)
    if isinstance(shift_at, bool) or not isinstance(shift_at, (int, float)) or not (0.0 <= shift_at <= 1.0):
        raise ValueError(f"shift_at must be a fraction in [0, 1], got {shift_at!r}")
    rng = np.random.default_rng(seed)
    before = rng.permutation(n_objects).astype(np.int64)
    after = rng.permutation(n_objects).astype(np.int64)
    if n_objects > 1:
        # make sure the most popular object really moves
        while after[0] == before[0]:
            after = np.roll(after, 1)
    ranks = _zipf_ranks(rng, n_requests, n_objects, alpha)
    cut = int(round(n_requests * shift_at))
    out = np.empty(n_requests, dtype=np.int64)
    out[:cut] = before[ranks[:cut]]
    out[cut:] = after[ranks[cut:]]
    return out
