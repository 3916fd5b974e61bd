"""``replay``: a trace of integer keys through any eviction policy, with optional
object sizes and expiry; and the registry of the policies it knows."""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..harness.catalogue import Catalogue, Entry
from ._impl import MAX_SIZE, replay_fast
from ._engine import drive


class Policy(Entry):
    """A replay policy (an :class:`~tradeoff.harness.catalogue.Entry` of the cache
    catalogue): its engine class under ``tradeoff.cache``, the parameters it takes with
    their defaults, and libCacheSim's counterpart as its peer."""

    @property
    def offline(self) -> bool:
        """Needs the whole trace (Belady): replay only, no online cache."""
        return "offline" in self.tags

    def engine(self, capacity: int, slots: int, sized: bool, params: dict):
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            takes = ", ".join(f"{k}={v!r}" for k, v in self.params.items()) or "no parameters"
            raise ValueError(f"unknown parameter {unknown[0]!r} for policy {self.name!r}: "
                             f"it takes {takes}")
        return POLICY_SPECS.cls(self.name)(capacity, slots, sized, **self.fixed, **params)


#: every policy :func:`replay` knows, by name: the cache area's catalogue
POLICY_SPECS = Catalogue("policy", [
    Policy("lru", "_impl.OrderEngine", fixed={"kind": "lru"}, peer="lru",
           summary="least recently used"),
    Policy("fifo", "_impl.OrderEngine", fixed={"kind": "fifo"}, peer="fifo",
           summary="first in, first out"),
    Policy("lfu", "_impl.OrderEngine", fixed={"kind": "lfu"}, peer="lfu",
           summary="least frequently used; ties: least recently used"),
    Policy("clock", "_sieve.ClockEngine", {"bits": 1}, peer="clock",
           summary="second chance (CLOCK) with a use counter of `bits` bits"),
    Policy("sieve", "_sieve.SieveEngine", {}, peer="sieve",
           summary="SIEVE (Zhang et al., NSDI 2024)"),
    Policy("s3fifo", "_s3fifo.S3FIFOEngine",
           {"small_ratio": 0.1, "ghost_ratio": 0.9, "move_threshold": 2, "fill_main": True}, peer="s3fifo",
           summary="S3-FIFO (Yang et al., SOSP 2023) with its authors' warm-up rule (libCacheSim's S3FIFO); "
                   "fill_main=False: the paper's Algorithm 1 (libCacheSim's S3FIFOv0)"),
    Policy("arc", "_arc.ARCEngine", {}, peer="arc",
           summary="ARC (Megiddo and Modha, FAST 2003); self-tuning, no parameters"),
    Policy("lirs", "_lirs.LIRSEngine", {"hir_ratio": 0.01, "stack_ratio": 2.0}, peer="lirs",
           summary="LIRS (Jiang and Zhang, SIGMETRICS 2002); resident HIR share "
                   "`hir_ratio`, stack S bounded to `stack_ratio` x capacity"),
    Policy("wtinylfu", "_wtinylfu.WTinyLFUEngine",
           {"window_ratio": 0.01, "protected_ratio": 0.8, "sample_factor": 10,
            "doorkeeper": True}, peer="wtinylfu",
           summary="W-TinyLFU (Einziger, Friedman and Manes, ACM TOS 2017)"),
    Policy("belady", "_belady.BeladyEngine", {}, peer="belady", tags=frozenset({"offline"}),
           summary="Belady's MIN, offline optimal (replay only)"),
], package="tradeoff.cache")

POLICIES = tuple(POLICY_SPECS)


@dataclass(frozen=True)
class ReplayResult:
    """What :func:`replay` measured: counts of one trace through one policy."""
    policy: str
    capacity: int
    requests: int
    hits: int
    memory_bytes: int
    bytes: int = 0                  # sum of request sizes (= requests without sizes)
    hit_bytes: int = 0
    expired: int = 0                # objects dropped by expiry (with ttl)
    params: dict = field(default_factory=dict)

    @property
    def misses(self) -> int:
        return self.requests - self.hits

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.requests if self.requests else 0.0

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def byte_miss_ratio(self) -> float:
        return (self.bytes - self.hit_bytes) / self.bytes if self.bytes else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "capacity": self.capacity, "requests": self.requests,
                "hits": self.hits, "misses": self.misses, "miss_ratio": self.miss_ratio,
                "bytes": self.bytes, "hit_bytes": self.hit_bytes,
                "byte_miss_ratio": self.byte_miss_ratio, "expired": self.expired,
                "memory_bytes": self.memory_bytes, "params": dict(self.params)}

    def __repr__(self) -> str:
        return (f"ReplayResult(policy={self.policy!r}, capacity={self.capacity}, "
                f"requests={self.requests}, hits={self.hits}, misses={self.misses}, "
                f"miss_ratio={self.miss_ratio:.6f})")


def _keys(trace) -> np.ndarray:
    keys = getattr(trace, "keys", trace)      # a tradeoff.traces.Trace: its keys
    if not isinstance(keys, np.ndarray):
        raise TypeError(f"trace must be a numpy array of int64 or uint64, got {type(trace).__name__}")
    if keys.dtype != np.int64 and keys.dtype != np.uint64:
        raise TypeError(f"trace must have dtype int64 or uint64, got {keys.dtype}")
    if keys.ndim != 1:
        raise ValueError(f"trace must be 1-D, got {keys.ndim} dimensions")
    return keys.view(np.int64) if keys.dtype == np.uint64 else keys


def _column(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{what} must be a 1-D array of one value per request ({n}), "
                         f"got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{what} hold a value above 2**63 - 1")
    return arr.astype(np.int64, copy=False)


def replay(trace, policy: str, capacity: int, *, sizes=None, times=None, ttl=None,
           **params) -> ReplayResult:
    """Replay a trace of integer keys through an eviction policy; count hits.

    ``trace`` is a 1-D numpy array of int64 or uint64 keys (any stride, so a field
    of a memory-mapped trace file works without a copy) or a
    :class:`tradeoff.traces.Trace` (its keys; pass ``sizes=t.sizes`` to use its
    sizes). ``policy`` is one of :data:`POLICIES`; ``params`` are the policy's
    parameters (``replay(keys, "s3fifo", 1000, small_ratio=0.1)``; see
    :func:`policy_params`). ``capacity`` counts objects, or bytes with ``sizes``.

    - ``sizes``: one size per request (integers >= 0; a size of 0 counts as 1).
      An object larger than the capacity is never admitted. The result then
      carries the byte miss ratio too. A hit keeps the object's first size.
    - ``times`` and ``ttl``: non-decreasing integer timestamps per request; an
      object expires ``ttl`` time units after it was inserted, whatever its use:
      a request at or after that time misses, and expired objects are purged as
      time passes. Works with every policy.

    A request that misses inserts its key (an admission policy such as W-TinyLFU
    may refuse it), evicting the policy's victims until it fits. The loop runs
    without the GIL and allocates nothing per request (with ``ttl``, the expiry
    queue grows amortized).

    >>> import numpy as np
    >>> r = replay(np.array([1, 2, 1, 3, 1, 2], dtype=np.int64), "lru", 2)
    >>> r.hits, r.misses, round(r.miss_ratio, 3)
    (2, 4, 0.667)
    """
    keys = _keys(trace)
    if not isinstance(policy, str) or policy not in POLICY_SPECS:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    spec = POLICY_SPECS[policy]
    if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral):
        raise TypeError(f"capacity must be an int, got {capacity!r}")
    capacity = int(capacity)
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    n = keys.shape[0]
    size_arr = time_arr = None
    if sizes is not None:
        size_arr = _column(sizes, n, "sizes")
        if size_arr.size and size_arr.min() < 0:
            raise ValueError(f"sizes must be >= 0, got {size_arr.min()} at request "
                             f"{int(np.argmin(size_arr))}")
        size_arr = np.maximum(size_arr, 1)
    if (times is None) != (ttl is None):
        raise ValueError("expiry needs both times and ttl")
    if ttl is not None:
        time_arr = _column(times, n, "times")
        if isinstance(ttl, bool) or not isinstance(ttl, numbers.Integral) or ttl < 1:
            raise ValueError(f"ttl must be an int >= 1 (in the unit of times), got {ttl!r}")
        back = np.flatnonzero(np.diff(time_arr) < 0)
        if back.size:
            raise ValueError(f"times must not decrease: request {int(back[0]) + 1} goes back "
                             f"from {time_arr[back[0]]} to {time_arr[back[0] + 1]}")
    # a cache never holds more objects than the trace has requests (sizes are >= 1)
    slots = max(1, min(capacity, n))
    if slots > MAX_SIZE:
        raise ValueError(f"replay holds at most {MAX_SIZE} objects, got capacity {capacity} "
                         f"with {n} requests")
    if (spec.target.startswith("_impl.") and size_arr is None and ttl is None and not params
            and keys.flags.c_contiguous):
        hits, nbytes = replay_fast(keys, {"lru": 0, "fifo": 1, "lfu": 2}[policy], slots)
        return ReplayResult(policy, capacity, n, hits, nbytes, n, hits)
    engine = spec.engine(capacity, slots, size_arr is not None, params)
    out = drive(engine, keys, size_arr, time_arr, ttl)
    return ReplayResult(policy, capacity, n, out["hits"], engine.memory_bytes, out["bytes"],
                        out["hit_bytes"], out["expired"], dict(params))


def policy_params(policy: str) -> dict:
    """The parameters ``policy`` takes, with their defaults."""
    if policy not in POLICY_SPECS:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    return dict(POLICY_SPECS[policy].params)


def make_engine(policy: str, capacity: int, *, slots: int | None = None, sized: bool = False,
                **params):
    """A fresh engine for ``policy`` (for tests and the online mapping wrapper)."""
    if policy not in POLICY_SPECS:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    return POLICY_SPECS[policy].engine(capacity, slots or capacity, sized, params)
