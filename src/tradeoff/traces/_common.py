"""What every reader shares: the error, the result type, the stable hash, the record layout."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tradeoff.harness.errors import UserError

from . import _hash

__all__ = ["TraceError", "Trace", "stable_hash", "ORACLE_GENERAL_DTYPE", "as_int64_keys"]


class TraceError(UserError, ValueError):
    """A trace that cannot be read or written: missing, malformed, or a bad option.

    The message is one line. It names the file and, for malformed content, where
    the problem is: the line number (text and CSV, 1-based) or the byte offset
    (binary formats, 0-based, counted in the decompressed data when the file is
    compressed). Being a :class:`~tradeoff.harness.errors.UserError`, the CLI
    prints it as one line and exits with status 2; being a :class:`ValueError`,
    plain Python code can catch it as one.
    """


# One oracleGeneral record: packed, little-endian, 24 bytes, no header. Layout
# from libCacheSim's traceReader/customizedReader/oracle/oracleGeneralBin.h.
ORACLE_GENERAL_DTYPE = np.dtype(
    [
        ("clock_time", "<u4"),
        ("obj_id", "<u8"),
        ("obj_size", "<u4"),
        ("next_access_vtime", "<i8"),
    ]
)
assert ORACLE_GENERAL_DTYPE.itemsize == 24


@dataclass(frozen=True, eq=False, repr=False)
class Trace:
    """The requests of a trace file, as numpy arrays (one entry per request).

    ``keys``
        int64 object ids, in request order. A strided view into the file for
        an uncompressed oracleGeneral trace; may be a memory map.
    ``sizes``
        object sizes (an integer array), or None when the format has none.
    ``times``
        request times (a numeric array, as the file holds them), or None.
    ``format``
        the format the file was read as (one of :data:`FORMATS`).
    ``path``
        the file.

    The arrays are read-only: a memory-mapped file cannot be written through,
    and every format behaves the same. ``len(trace)`` is the number of requests.
    """

    keys: np.ndarray
    sizes: np.ndarray | None
    times: np.ndarray | None
    format: str
    path: Path

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={arr.dtype}" for name, arr in (("sizes", self.sizes), ("times", self.times))
            if arr is not None
        )
        return f"Trace({str(self.path)!r}, format={self.format!r}, requests={len(self)}{extra})"


def _readonly(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is not None and arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr


def make_trace(keys, sizes, times, fmt: str, path: Path) -> Trace:
    return Trace(_readonly(keys), _readonly(sizes), _readonly(times), fmt, path)


def as_int64_keys(arr: np.ndarray) -> np.ndarray:
    """An integer array as int64 keys, without a copy when it already is int64.

    uint64 values keep their bit pattern (ids at or above 2**63 become negative
    int64), as libCacheSim's uint64 ``obj_id`` does when viewed as int64.
    Other integer types are widened (a copy).
    """
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr.view(np.int64)
    if arr.dtype == np.int64 and arr.dtype.isnative:
        return arr
    return arr.astype(np.int64)


def stable_hash(value: Any):
    """Hash a string key to int64, the same way on every run, process, platform and version.

    ``value`` is one ``str`` or bytes-like object (returns a Python ``int``), or
    a list, tuple or array of them (returns an int64 ndarray). The algorithm,
    which is fixed for good because traces depend on it:

    1. the key's bytes: a ``str`` is encoded as UTF-8 (with
       ``surrogateescape``, so text decoded with that handler hashes as the
       bytes it was decoded from); ``bytes`` are taken as they are;
    2. ``h`` = 64-bit FNV-1a of those bytes (offset basis
       ``0xcbf29ce484222325``, prime ``0x100000001b3``; Fowler, Noll and Vo);
    3. ``h`` goes through the splitmix64 finalizer (``h ^= h >> 30;
       h *= 0xbf58476d1ce4e5b9; h ^= h >> 27; h *= 0x94d049bb133111eb;
       h ^= h >> 31``, all mod 2**64), which spreads FNV's weak low bits;
    4. the 64-bit result is read as a two's-complement signed int64.

    It is not Python's ``hash()`` (randomized per process for str) and not
    cryptographic. About 25 ns per short key (a Cython loop).

    >>> stable_hash("a")
    198367012849983736
    >>> stable_hash(b"a") == stable_hash("a")
    True
    >>> stable_hash(["a", "b"]).tolist()
    [198367012849983736, 4482684837372322821]
    """
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return _hash.hash_one(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"stable_hash takes a 1-D array, got shape {value.shape}")
        items = value.tolist()
    elif isinstance(value, list):
        items = value
    else:
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"stable_hash takes str, bytes or a sequence of them, "
                            f"got {type(value).__name__}") from None
    out, bad = _hash.hash_list(items)
    if out is None:
        raise TypeError(f"stable_hash: item {bad} is {type(items[bad]).__name__}, not str or bytes")
    return out


def column_spec(name: str, value) -> int | str:
    """Validate a CSV column option: a 0-based index or a header name."""
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{name}= must be a column name or a 0-based index, got ''")
        return value
    if isinstance(value, bool):
        raise ValueError(f"{name}= must be a column name or a 0-based index, got {value!r}")
    try:
        index = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}= must be a column name or a 0-based index, got {value!r}") from None
    if index < 0:
        raise ValueError(f"{name}= must be a 0-based column index >= 0, got {index}")
    return index
