"""Adapters for the peer libraries that ``tradeoff`` benchmarks against.

Two kinds of peer live here:

* **libCacheSim**, through its Python package ``libcachesim`` (PyPI; bindings
  for the C library). libCacheSim is Juncheng Yang et al.'s high-performance
  cache simulator, https://github.com/1a1a11a/libCacheSim (Yang et al.,
  "libCacheSim: a high-performance library for building cache simulators";
  used e.g. in Yang et al., "FIFO queues are all you need for cache
  eviction", SOSP 2023). We drive it the way its own tools do: write the
  trace as an ``oracleGeneral`` binary file and let the C code replay it.
* **In-process LRU mappings**: ``lru-dict`` (``lru.LRU``), ``cachebox``
  (``cachebox.LRUCache``) and ``cachetools`` (``cachetools.LRUCache``), for
  side-by-side micro-benchmarks of the per-request cost.

Peers are optional (``pip install '.[peers]'``). Nothing here imports a peer
at module import time; each function imports what it needs through
:func:`require`, which turns a missing peer into
:class:`tradeoff.harness.errors.Skip`.

The oracleGeneral format
------------------------
One packed little-endian 24-byte record per request, no header (layout from
libCacheSim's ``traceReader/customizedReader/oracle/oracleGeneralBin.h``)::

    uint32 clock_time | uint64 obj_id | uint32 obj_size | int64 next_access_vtime

``next_access_vtime`` is the *1-based* position in the trace of the next
request for the same object (libCacheSim's converter documents it as "the
reference count of the next access ... (reference count starts with 1)"), or
``-1`` when the object is never requested again; the reader also accepts
``INT64_MAX`` and maps both to its internal "never" value. Only Belady-style
policies read it; LRU/FIFO/LFU ignore it. :func:`write_oracle_general` writes
files byte-identical to ``libcachesim.Util.convert_to_oracleGeneral`` for the
same requests (checked in ``tests/test_peers.py``).

Conventions that matter when comparing miss counts with an exact cache
----------------------------------------------------------------------
* ``cache_size`` is in bytes; with ``obj_size == 1`` and
  ``consider_obj_metadata=False`` (the default; ``True`` adds a 16-byte
  per-object charge) it is exactly the number of objects the cache holds.
* A *float* ``cache_size`` is read by libcachesim as a fraction of the
  working set, so capacities are always passed as ``int`` here.
* Records with ``obj_size == 0`` are silently skipped by the reader (its
  ``ignore_size_zero_req`` default), so the written size is always 1.
* No warm-up: every request is counted, cold misses included.
* libcachesim's simulate call (``CacheBase.process_trace``) resets the reader,
  calls ``cache->get`` once per record and returns only the *miss ratio*
  ``1 - n_hit/n_req`` (a double); counts are recovered exactly as
  ``round((1 - ratio) * n_req)`` (exact while ``n_req`` is far below 2**50).
* A cache must be fresh for every replay: running ``process_trace`` twice on
  the same cache continues from the warm state.
* With TTL support compiled in, libCacheSim expires an object
  ``default_ttl`` (300 days) of ``clock_time`` after insertion. The 0.3.5
  wheel showed no expiry even with ``clock_time`` advancing 10,000 s per
  request, but we write ``clock_time = 0`` for every record regardless, so
  nothing can expire under any build.
* libCacheSim *aborts the process* (SIGABRT, not a Python exception) on a
  missing, empty or unrecognised trace file, so files are checked here first,
  and the trace type is always given (auto-detection by file name aborts on
  names it does not know). ``TraceReader.close()`` followed by the reader's
  destruction is a double free (abort), so readers are only ever dropped.
"""

from __future__ import annotations

import importlib
import operator
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tradeoff.harness.errors import Skip, UserError

__all__ = [
    "ORACLE_GENERAL_DTYPE",
    "LIBCACHESIM_POLICIES",
    "LRU_MAPPING_IMPLS",
    "require",
    "next_access_vtime",
    "write_oracle_general",
    "libcachesim_replay",
    "libcachesim_replayer",
    "LibCacheSimReplayer",
    "make_lru_mapping",
]

# The oracleGeneral format lives in tradeoff.traces (one reader, one writer).
from tradeoff.traces import ORACLE_GENERAL_DTYPE, next_access_vtime  # noqa: E402
from tradeoff.traces import write_oracle_general as _write_oracle_general  # noqa: E402
from tradeoff.traces import as_keys  # noqa: E402

# import name -> pip name, for the Skip message.
_PIP_NAMES = {
    "dogpile": "dogpile.cache",
    "dogpile.cache": "dogpile.cache",
    "libcachesim": "libcachesim",
    "lru": "lru-dict",
    "cachebox": "cachebox",
    "cachetools": "cachetools",
    "theine": "theine",
    "uhashring": "uhashring",
    "jump": "jump-consistent-hash",
    "BTrees": "BTrees",
    "sortedcontainers": "sortedcontainers",
    "pyroaring": "pyroaring",
    "tantivy": "tantivy",
}

# Our policy name -> class name in the libcachesim package.
LIBCACHESIM_POLICIES = {
    "lru": "LRU",
    "fifo": "FIFO",
    "lfu": "LFU",
    "belady": "Belady",
    "clock": "Clock",
    "sieve": "Sieve",
    "s3fifo": "S3FIFO",
    "arc": "ARC",
    "twoq": "TwoQ",
    "slru": "SLRU",
    "lirs": "LIRS",
    "wtinylfu": "WTinyLFU",
}

LRU_MAPPING_IMPLS = ("lru_dict", "cachebox", "cachetools")



def require(module_name: str, what: str):
    """Import peer ``module_name`` and return it, or raise :class:`Skip`.

    ``what`` names the benchmark or scenario that needs the peer; it starts the
    message, e.g. ``"libcachesim LRU replay: libcachesim not installed
    (pip install '.[peers]')"``.
    """
    pip_name = _PIP_NAMES.get(module_name, _PIP_NAMES.get(module_name.partition(".")[0], module_name))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name not in (module_name, top):
            # The peer is installed but one of its own dependencies is not.
            raise Skip(f"{what}: {pip_name} failed to import ({exc})") from exc
        raise Skip(f"{what}: {pip_name} not installed (pip install '.[peers]')") from exc
    except ImportError as exc:  # installed but broken (e.g. a bad shared library)
        raise Skip(f"{what}: {pip_name} failed to import ({exc})") from exc


# ---------------------------------------------------------------------------
# oracleGeneral traces
# ---------------------------------------------------------------------------


def write_oracle_general(keys: np.ndarray, path, *, fsync: bool = False) -> None:
    """Write ``keys`` as an oracleGeneral trace (sizes 1, times 0, next access
    filled in): :func:`tradeoff.traces.write_oracle_general` with the keys first,
    as the suites call it. Atomic; bad keys raise UserError."""
    _write_oracle_general(path, keys, fsync=fsync)


def _trace_requests(path: Path) -> int:
    """Check an oracleGeneral file and return the number of requests libcachesim replays.

    libcachesim aborts the whole process on a missing or empty file, so this
    must run before the file is handed to it. Records of size 0 are skipped
    by libcachesim's reader and are not counted.
    """
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise UserError(f"cannot read trace {str(path)!r}: {exc.strerror}") from None
    rec_size = ORACLE_GENERAL_DTYPE.itemsize
    if size % rec_size:
        raise UserError(
            f"{str(path)!r} is not an oracleGeneral trace: {size} bytes is not a multiple of {rec_size}"
        )
    if size == 0:
        return 0
    records = np.memmap(path, dtype=ORACLE_GENERAL_DTYPE, mode="r")
    try:
        return int(np.count_nonzero(records["obj_size"]))
    finally:
        del records


def _capacity(capacity) -> int:
    try:
        cap = operator.index(capacity)  # a float would mean "fraction of working set" to libcachesim
    except TypeError:
        raise UserError(f"capacity must be an integer number of objects, got {capacity!r}") from None
    if cap < 1:
        raise UserError(f"capacity must be at least 1, got {cap}")
    return cap


def _cache_factory(capacity, policy: str, hashpower: int, what: str) -> Callable[[], Any]:
    """A zero-argument constructor of a fresh libcachesim cache."""
    lcs = require("libcachesim", what)
    cap = _capacity(capacity)
    try:
        cls = getattr(lcs, LIBCACHESIM_POLICIES[policy.lower()])
    except (KeyError, AttributeError):
        known = ", ".join(sorted(LIBCACHESIM_POLICIES))
        raise UserError(f"unknown libcachesim policy {policy!r} (known: {known})") from None
    hp = operator.index(hashpower)
    if not 0 < hp < 40:  # libCacheSim silently uses its default outside this range
        raise UserError(f"hashpower must be in 1..39, got {hp}")

    def new_cache():
        return cls(cache_size=cap, hashpower=hp)

    return new_cache


class LibCacheSimReplayer:
    """A zero-argument callable that replays one oracleGeneral trace through libcachesim.

    Built by :func:`libcachesim_replayer`. Construction (outside any timing)
    imports libcachesim, checks the file and counts its requests, opens the
    reader once (``libcachesim.TraceReader(path, TraceType.ORACLE_GENERAL_TRACE)``,
    which maps the file), and resolves the policy class.

    **What one call includes** (i.e. what a timer around the call measures):

    1. constructing a fresh, empty cache, ``cls(cache_size=capacity,
       hashpower=hashpower)``. libcachesim has no way to empty a cache, and a
       replay on a warm cache gives different counts, so this cannot move out
       of the call; it allocates the 2**hashpower-bucket hash table (8 MB of
       zeroed memory at hashpower 20);
    2. ``cache.process_trace(reader)``, which runs entirely in C: reset the
       reader to the start of the file, then for every record decode it from
       the memory-mapped file and call the policy's ``get`` (lookup, and on a
       miss evict + insert);
    3. converting the returned miss ratio to a miss count (a few float ops);
    4. freeing the cache (its objects and hash table) before returning.

    Every call does the same work. Measured on the 2-CPU development VM
    (hashpower 20, capacity 100k): step 1 ~0.2 ms, step 4 ~11 ms (freeing
    100k objects), against 0.35-1.2 s (noisy host) for replaying 10M
    requests, so cache setup and teardown are about 1-3% of a call.

    Not included: importing, validating or counting the file, opening the
    reader, resolving the policy. The first call also pays the page faults
    that bring the file into memory (it is mapped, not read); later calls
    find it resident if memory allows.

    Returns the number of misses. ``requests`` holds the number of requests
    replayed per call; ``last_miss_ratio`` the ratio from the last call.
    """

    def __init__(self, path, capacity, policy: str = "lru", hashpower: int = 20):
        what = f"libcachesim {policy} replay"
        self._new_cache = _cache_factory(capacity, policy, hashpower, what)
        lcs = require("libcachesim", what)
        self.path = Path(path)
        self.capacity = _capacity(capacity)
        self.policy = policy.lower()
        self.hashpower = hashpower
        self.requests = _trace_requests(self.path)
        if self.requests == 0:
            raise UserError(f"trace {str(self.path)!r} has no requests")
        self._reader = lcs.TraceReader(str(self.path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        self.last_miss_ratio: float | None = None

    def __call__(self) -> int:
        n = self.requests
        cache = self._new_cache()
        miss_ratio = cache.process_trace(self._reader)[0]
        del cache  # free it inside the call, so every call does the same work
        self.last_miss_ratio = miss_ratio
        return n - round((1.0 - miss_ratio) * n)

    def close(self) -> None:
        """Release the reader (unmaps the file); the replayer is unusable afterwards.

        The reader is dropped, not ``.close()``d: in libcachesim 0.3.5
        ``TraceReader.close()`` frees the C reader and the binding's destructor
        frees it again, which aborts the process ("double free").
        """
        self._reader = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def libcachesim_replayer(path, capacity, policy: str = "lru", hashpower: int = 20) -> LibCacheSimReplayer:
    """Return a zero-argument callable doing one full libcachesim replay of ``path``.

    Each call builds a fresh ``policy`` cache of ``capacity`` objects (size-1
    objects: bytes == objects), replays every request of the oracleGeneral
    file in libcachesim's C loop, and returns the miss count. See
    :class:`LibCacheSimReplayer` for exactly what a call includes and what is
    done once, up front.
    """
    return LibCacheSimReplayer(path, capacity, policy=policy, hashpower=hashpower)


def libcachesim_replay(path_or_keys, capacity, policy: str = "lru", hashpower: int = 20) -> dict:
    """Replay a trace through a fresh libcachesim cache and return its counts.

    ``path_or_keys`` is either an oracleGeneral file or an array of object ids
    (written to a temporary oracleGeneral file first). Returns
    ``dict(hits=, misses=, requests=, miss_ratio=)`` with exact integer counts;
    every request counts (no warm-up).
    """
    if isinstance(path_or_keys, (str, os.PathLike)):
        return _replay_file(Path(path_or_keys), capacity, policy, hashpower)
    _cache_factory(capacity, policy, hashpower, f"libcachesim {policy} replay")  # fail before writing
    if np.asarray(path_or_keys).size == 0:
        return {"hits": 0, "misses": 0, "requests": 0, "miss_ratio": 0.0}
    keys = as_keys(path_or_keys)
    with tempfile.TemporaryDirectory(prefix="tradeoff-lcs-") as tmpdir:
        path = Path(tmpdir) / "trace.oracleGeneral.bin"
        write_oracle_general(keys, path)
        return _replay_file(path, capacity, policy, hashpower)


def _replay_file(path: Path, capacity, policy: str, hashpower: int) -> dict:
    n = _trace_requests(path)
    if n == 0:
        _cache_factory(capacity, policy, hashpower, f"libcachesim {policy} replay")
        return {"hits": 0, "misses": 0, "requests": 0, "miss_ratio": 0.0}
    replayer = LibCacheSimReplayer(path, capacity, policy=policy, hashpower=hashpower)
    try:
        misses = replayer()
    finally:
        replayer.close()
    return {"hits": n - misses, "misses": misses, "requests": n, "miss_ratio": misses / n}


# ---------------------------------------------------------------------------
# In-process LRU mappings
# ---------------------------------------------------------------------------


def make_lru_mapping(impl: str, maxsize: int):
    """Return an empty LRU mapping holding at most ``maxsize`` items.

    ``impl`` is one of:

    * ``"lru_dict"`` -> ``lru.LRU(maxsize)`` (C extension, pip ``lru-dict``);
    * ``"cachebox"`` -> ``cachebox.LRUCache(maxsize, capacity=maxsize)``
      (Rust; ``capacity`` pre-sizes its table);
    * ``"cachetools"`` -> ``cachetools.LRUCache(maxsize)`` (pure Python).

    All three are true LRUs with the same semantics for ``c[k]`` (hit
    refreshes recency; miss raises KeyError), ``c.get(k)`` (refreshes on a
    hit) and ``c[k] = v`` (refreshes an existing key; on a new key at
    ``maxsize`` it evicts the least recently used). Differences worth knowing
    when benchmarking them:

    * ``k in c`` refreshes recency in cachebox but not in lru-dict or
      cachetools (nor in OrderedDict), so a replay loop must not test
      membership with ``in`` and then read: use ``c[k]`` / ``c.get(k)``.
    * ``maxsize=0`` means *unbounded* in cachebox, raises at construction in
      lru-dict and makes every insert raise ValueError in cachetools; hence
      ``maxsize >= 1`` is enforced here.
    * cachebox takes an internal lock on every operation (it is thread-safe);
      its ``peek(k)`` reads without refreshing, ``insert(k, v)`` returns the
      old value. lru-dict has ``peek_first_item``/``get_stats``.
    * Hit path: ``c[k]`` is the fastest read in all three (``c.get`` costs a
      method call: ~2x in lru-dict, ~1.6x in cachetools, ~1.2x in cachebox).
      Miss path: raising KeyError is expensive (cachetools' ``__missing__``
      machinery especially), so for miss-heavy loops ``c.get(k, sentinel)``
      is the faster way to probe.
    """
    try:
        size = operator.index(maxsize)
    except TypeError:
        raise UserError(f"maxsize must be an integer, got {maxsize!r}") from None
    if size < 1:
        raise UserError(f"maxsize must be at least 1, got {size}")
    if impl == "lru_dict":
        return require("lru", "lru-dict LRU").LRU(size)
    if impl == "cachebox":
        return require("cachebox", "cachebox LRUCache").LRUCache(size, capacity=size)
    if impl == "cachetools":
        return require("cachetools", "cachetools LRUCache").LRUCache(size)
    raise UserError(f"unknown LRU mapping {impl!r} (known: {', '.join(LRU_MAPPING_IMPLS)})")


# ---------------------------------------------------------------------------
# partitioning peers: uhashring (consistent-hash ring) and jump-consistent-hash
# ---------------------------------------------------------------------------

def uhashring_ring(nodes, mode: str = "default", vnodes: int = 160):
    """A ``uhashring.HashRing`` over ``nodes`` (names): its default mode (MD5
    points, ``vnodes`` per node) or ``"ketama"`` (libketama's layout)."""
    uh = require("uhashring", f"uhashring {mode} ring")
    if mode == "ketama":
        return uh.HashRing(nodes=list(nodes), hash_fn="ketama")
    if mode != "default":
        raise ValueError(f"uhashring mode is default or ketama, not {mode!r}")
    return uh.HashRing(nodes=list(nodes), vnodes=vnodes)


def jump_hash_function():
    """jump-consistent-hash's C function ``hash(key, num_buckets)``."""
    jump = require("jump", "jump-consistent-hash")
    return jump.hash


# ---------------------------------------------------------------------------
# index peers: BTrees, sortedcontainers, pyroaring, tantivy
# ---------------------------------------------------------------------------

def btrees_class(name: str = "LLBTree"):
    """A class of the BTrees package: ``LLBTree`` (int64 keys and values),
    ``LOBTree`` (int64 keys, object values) or ``OOBTree`` (object keys)."""
    module = require(f"BTrees.{name}", f"BTrees {name}")
    return getattr(module, name)


def sorted_dict():
    """sortedcontainers' ``SortedDict`` class."""
    return require("sortedcontainers", "sortedcontainers SortedDict").SortedDict
