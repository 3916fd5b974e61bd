"""Trace files: read them into numpy arrays, and write libCacheSim's oracleGeneral format.

:func:`read` turns a file into a :class:`Trace` (int64 ``keys``, plus
``sizes`` and ``times`` when the format holds them), guessing the format from
the name and the first bytes and the compression (gzip, xz, zstd) from the
magic bytes. The formats (:data:`FORMATS`):

* ``oracle``: libCacheSim's oracleGeneral binary (memory-mapped);
* ``csv``: delimited columns (key, time, size), header detected;
* ``text``: one key per line (the LIRS and ARC trace sets);
* ``binary``: raw fixed-width keys of a given ``dtype``;
* ``npy``: a 1-D integer NumPy array (memory-mapped);
* ``wikimedia``: Wikimedia's 2019 CDN request trace (tab-separated; never guessed).

String keys become int64 through :func:`stable_hash` (FNV-1a 64 then the
splitmix64 finalizer), the same value on every machine and Python version.
:func:`write_oracle_general` writes keys (and sizes and times) as an
oracleGeneral file for libCacheSim, next-access field included.

The oracleGeneral format is libCacheSim's (Juncheng Yang et al.,
https://github.com/1a1a11a/libCacheSim, ``doc/quickstart_cachesim.md`` and
``traceReader/customizedReader/oracle/oracleGeneralBin.h``): a packed array
of little-endian 24-byte records ``uint32 clock_time, uint64 obj_id, uint32
obj_size, int64 next_access_vtime``, no header.

Every problem a user can cause raises :class:`TraceError`, a one-line
message naming the file (and the line or byte offset at fault).

>>> import tempfile, pathlib
>>> p = write_oracle_general(pathlib.Path(tempfile.mkdtemp()) / "t.oracleGeneral.bin", [1, 2, 1])
>>> t = read(p)
>>> t.format, len(t), t.keys.tolist(), t.sizes.tolist()
('oracle', 3, [1, 2, 1], [1, 1, 1])
"""
from ._common import ORACLE_GENERAL_DTYPE, Trace, TraceError, stable_hash
from ._oracle import as_keys, next_access_vtime, write_oracle_general
from ._readers import FORMATS, read

__all__ = [
    "read",
    "Trace",
    "TraceError",
    "write_oracle_general",
    "FORMATS",
    "stable_hash",
    "next_access_vtime",
    "ORACLE_GENERAL_DTYPE",
    "as_keys",
    "parse_read_options",
]


def parse_read_options(pairs) -> dict:
    """``["key=1", "delimiter=;", "header=true"]`` (``-r`` on the command line) -> keyword
    arguments for :func:`read`: whole numbers become int, true/false bool, the rest stays
    text. A pair without ``=`` raises TraceError naming it.

    >>> parse_read_options(["key=1", "header=false", "dtype=>i8"])
    {'key': 1, 'header': False, 'dtype': '>i8'}
    """
    out = {}
    for pair in pairs:
        key, eq, val = pair.partition("=")
        if not eq or not key:
            raise TraceError(f"bad read option {pair!r}: write name=value")
        if val.lstrip("-").isdigit():
            out[key] = int(val)
        elif val.lower() in ("true", "false"):
            out[key] = val.lower() == "true"
        else:
            out[key] = val
    return out
