"""libCacheSim's oracleGeneral binary format: the next-access computation and the writer.

Format (libCacheSim, ``traceReader/customizedReader/oracle/oracleGeneralBin.h``
and the "oracleGeneral" entry of its trace-format documentation): no header,
then one packed little-endian 24-byte record per request::

    uint32 clock_time | uint64 obj_id | uint32 obj_size | int64 next_access_vtime

``next_access_vtime`` is the 1-based position in the trace of the next request
for the same object ("reference count starts with 1" in libCacheSim's
converter), or ``-1`` when the object is not requested again. Only offline
policies (Belady) read it. libCacheSim's reader skips records whose
``obj_size`` is 0.
"""
from __future__ import annotations

import operator
from pathlib import Path

import numpy as np

from tradeoff._atomic import atomic_path

from ._common import ORACLE_GENERAL_DTYPE, TraceError, as_int64_keys

__all__ = ["next_access_vtime", "write_oracle_general"]

_CHUNK = 1 << 20  # requests per step: bounds every temporary buffer
_U32_MAX = (1 << 32) - 1


def as_keys(keys) -> np.ndarray:
    """Object ids as a 1-D int64 array (any integer dtype or byte order); TraceError for
    an empty, non-integer or multi-dimensional input."""
    arr = np.asarray(keys)
    if arr.ndim != 1:
        raise TraceError(f"keys must be a 1-D array of object ids, got shape {arr.shape}")
    if arr.size == 0:
        raise TraceError("keys is empty: a trace needs at least one request")
    if arr.dtype.kind not in "iu":
        raise TraceError(f"keys must be integers, got dtype {arr.dtype}")
    return as_int64_keys(arr)


def next_access_vtime(keys) -> np.ndarray:
    """libCacheSim's ``next_access_vtime`` of every request of ``keys``.

    Entry ``i`` is ``j + 1``, where ``j > i`` is the index of the next request
    for ``keys[i]`` (a 1-based position), or ``-1`` when there is none. One
    stable argsort puts each key's requests together in trace order; a
    request's successor in that order is its next access. Memory: the sort
    order and the result (8 bytes each per request) plus one chunk.

    >>> next_access_vtime([7, 8, 7, 7, 9]).tolist()
    [3, -1, 4, -1, -1]
    """
    keys = as_keys(keys)
    n = keys.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    order = np.argsort(keys, kind="stable")
    for start in range(0, n - 1, _CHUNK):
        o = order[start : min(start + _CHUNK + 1, n)]  # one extra: the pair across chunks
        k = keys[o]
        same = k[1:] == k[:-1]
        out[o[:-1][same]] = o[1:][same] + 1
    return out


def _u32_arg(name: str, value, n: int, default: int):
    """A uint32 column: a scalar (every request) or a length-n integer array."""
    if value is None:
        return default
    if np.ndim(value) == 0:
        if isinstance(value, (bool, np.bool_)):
            raise TraceError(f"{name} must be integers, got {value!r}")
        try:
            v = operator.index(value)
        except TypeError:
            raise TraceError(f"{name} must be integers, got {value!r}") from None
        if not 0 <= v <= _U32_MAX:
            raise TraceError(f"{name} must fit uint32 (0..{_U32_MAX}), got {v}")
        return v
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise TraceError(f"{name} must be a 1-D array of {n} values (one per key), got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TraceError(f"{name} must be integers, got dtype {arr.dtype}")
    for start in range(0, n, _CHUNK):
        part = arr[start : start + _CHUNK]
        bad = np.flatnonzero((part < 0) | (part > _U32_MAX))
        if bad.size:
            i = start + int(bad[0])
            raise TraceError(f"{name} must fit uint32 (0..{_U32_MAX}), got {arr[i]} at index {i}")
    return arr


def write_oracle_general(path, keys, sizes=None, times=None, *, fsync: bool = False) -> Path:
    """Write requests as a libCacheSim oracleGeneral trace; return the path.

    ``keys`` are the object ids (any integer array; stored as uint64 with the
    int64 bit pattern, so a negative id reads back as the same int64).
    ``sizes`` (default 1) and ``times`` (default 0) are a scalar or one
    integer per request, each in ``0..2**32-1``; note that libCacheSim skips
    requests of size 0. ``next_access_vtime`` is computed
    (:func:`next_access_vtime`), so the file also drives Belady. The format is
    libCacheSim's "oracleGeneral" (see this module's docstring).

    The file appears atomically (:func:`tradeoff._atomic.atomic_path`): a
    failure leaves ``path`` as it was. Records are written a chunk at a time,
    so beyond the inputs only the next-access computation is O(n). With
    ``fsync=True`` the data reaches the disk before the rename.

    >>> import tempfile, pathlib
    >>> from tradeoff.traces import read
    >>> p = write_oracle_general(pathlib.Path(tempfile.mkdtemp()) / "t.oracleGeneral", [5, 6, 5], sizes=[10, 20, 10])
    >>> t = read(p)
    >>> t.keys.tolist(), t.sizes.tolist(), t.times.tolist()
    ([5, 6, 5], [10, 20, 10], [0, 0, 0])
    """
    path = Path(path)
    try:
        keys = as_keys(keys)
        n = keys.shape[0]
        sizes = _u32_arg("sizes", sizes, n, 1)
        times = _u32_arg("times", times, n, 0)
    except TraceError as exc:
        raise TraceError(f"{path}: not written: {exc}") from None
    nxt = next_access_vtime(keys)
    ids = keys.view(np.uint64)
    try:
        with atomic_path(path, fsync=fsync) as tmp, open(tmp, "wb") as fh:
            buf = np.empty(min(n, _CHUNK), dtype=ORACLE_GENERAL_DTYPE)
            for start in range(0, n, _CHUNK):
                stop = min(start + _CHUNK, n)
                rec = buf[: stop - start]
                rec["clock_time"] = times if np.ndim(times) == 0 else times[start:stop]
                rec["obj_id"] = ids[start:stop]
                rec["obj_size"] = sizes if np.ndim(sizes) == 0 else sizes[start:stop]
                rec["next_access_vtime"] = nxt[start:stop]
                fh.write(rec.data)
    except OSError as exc:
        raise TraceError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path
