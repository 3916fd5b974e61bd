"""The readers, one per format, and :func:`read`, which picks one."""
from __future__ import annotations

import csv
import io
import math
import re
import warnings
from types import MappingProxyType

import numpy as np

from . import _hash
from ._common import (
    ORACLE_GENERAL_DTYPE,
    Trace,
    TraceError,
    as_int64_keys,
    column_spec,
    make_trace,
    stable_hash,  # noqa: F401  (used by the doctest of read)
)
from ._source import Source, base_name

__all__ = ["FORMATS", "read", "guess_format", "read_wikimedia", "WIKIMEDIA_COLUMNS"]

#: Every format :func:`read` knows, with the options it takes.
FORMATS = MappingProxyType(
    {
        "oracle": (),
        "csv": ("key", "time", "size", "delimiter", "header"),
        "text": (),
        "binary": ("dtype",),
        "npy": (),
        "wikimedia": (),
    }
)
_ALIASES = {"oraclegeneral": "oracle"}
_FORMAT_LIST = ", ".join(FORMATS)

_NPY_MAGIC = b"\x93NUMPY"
_HEAD_BYTES = 1 << 16  # how much decompressed data guessing and CSV sniffing look at
_SAMPLE_ROWS = 64
_NUMERIC = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------
# guessing
# ---------------------------------------------------------------------------


def _head_lines(head: bytes, limit: int) -> list[bytes]:
    """Up to ``limit`` non-blank lines from the start of the data, stripped.

    The last line is dropped when the data was cut (it may be partial).
    """
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    lines = head.split(b"\n")
    if len(head) >= _HEAD_BYTES and len(lines) > 1:
        lines.pop()
    out = []
    for line in lines:
        line = line.strip(b" \t\r\v\f")
        if line:
            out.append(line)
            if len(out) == limit:
                break
    return out


def _looks_like_keys(head: bytes) -> bool:
    """Whether the first lines are one key each: printable UTF-8, no inner blanks."""
    lines = _head_lines(head, 32)
    if not lines:
        return False
    for line in lines:
        if any(c < 0x20 or c == 0x7F for c in line) or b" " in line:
            return False
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _is_binary(head: bytes) -> bool:
    """Whether the data holds NUL bytes or is not UTF-8 (a cut last character allowed)."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3
    return False


def guess_format(src: Source) -> str:
    """The format of ``src`` from its name (compression suffix removed) and its first bytes.

    Rules, in order: a name containing ``oracleGeneral`` or ending ``.oracle``
    or ``.og`` is ``oracle``; a name ending ``.npy`` or data starting with
    ``\\x93NUMPY`` is ``npy``; ``.csv`` and ``.tsv`` are ``csv``; ``.trace``,
    ``.txt`` and ``.lirs`` are ``text`` when the first lines hold one key each.
    Raw ``binary`` is never guessed: it needs a ``dtype``.
    """
    name = base_name(src.path)
    if "oraclegeneral" in name or name.endswith((".oracle", ".og")):
        return "oracle"
    head = src.head(_HEAD_BYTES)
    if name.endswith(".npy") or head.startswith(_NPY_MAGIC):
        return "npy"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".trace", ".txt", ".lirs")):
        if _looks_like_keys(head):
            return "text"
        if _is_binary(head):
            seen, hint = "binary data", "format='binary' with dtype=, or format='oracle'"
        else:
            seen, hint = "not one key per line", "format='csv' for columns"
        raise TraceError(
            f"{src.path}: cannot guess the format: the name says text, but the first lines are "
            f"{seen}; pass format= (one of {_FORMAT_LIST}), e.g. {hint}"
        )
    raise TraceError(
        f"{src.path}: cannot guess the format from the name or the first bytes; "
        f"pass format= (one of {_FORMAT_LIST}; raw binary also needs dtype=)"
    )


# ---------------------------------------------------------------------------
# binary formats: oracle, binary, npy
# ---------------------------------------------------------------------------


def _check_records(src: Source, nbytes: int, itemsize: int, what: str) -> None:
    if nbytes == 0:
        raise TraceError(f"{src.path}: no requests (the {src.compression} data is empty)")
    if nbytes % itemsize:
        offset = nbytes - nbytes % itemsize
        of = f" of decompressed {src.compression} data" if src.compression else ""
        raise TraceError(
            f"{src.path}: incomplete record at byte offset {offset}{of}: "
            f"{nbytes} bytes is not a multiple of the {itemsize}-byte {what}"
        )


def _records(src: Source, dtype: np.dtype, what: str) -> np.ndarray:
    """The file as an array of ``dtype``: memory-mapped when uncompressed."""
    if src.compression is None:
        _check_records(src, src.size, dtype.itemsize, what)
        try:
            return np.memmap(src.path, dtype=dtype, mode="r")
        except (OSError, ValueError) as exc:
            raise TraceError(f"{src.path}: cannot map the file: {_one_line(exc)}") from None
    buf = src.read_all()
    _check_records(src, len(buf), dtype.itemsize, what)
    return np.frombuffer(buf, dtype=dtype)


def _read_oracle(src: Source) -> Trace:
    rec = _records(src, ORACLE_GENERAL_DTYPE, "oracleGeneral record")
    return make_trace(
        rec["obj_id"].view(np.int64),  # strided (24-byte stride) view, no copy
        rec["obj_size"],
        rec["clock_time"],
        "oracle",
        src.path,
    )


def _key_dtype(src: Source, dtype) -> np.dtype:
    if dtype is None:
        raise TraceError(
            f"{src.path}: format 'binary' needs dtype=, the type of one key "
            f"(e.g. dtype='>i8' for big-endian int64, dtype='<u4' for little-endian uint32)"
        )
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TraceError(f"{src.path}: dtype={dtype!r} is not a numpy dtype") from None
    if dt.kind not in "iu":
        raise TraceError(f"{src.path}: dtype={dtype!r} is not an integer type (keys are integers)")
    return dt


def _read_binary(src: Source, dtype=None) -> Trace:
    dt = _key_dtype(src, dtype)
    raw = _records(src, dt, f"{dt.str} key")
    return make_trace(as_int64_keys(raw), None, None, "binary", src.path)


def _check_npy(src: Source, shape: tuple, dtype: np.dtype) -> None:
    if len(shape) != 1 or dtype.kind not in "iu":
        raise TraceError(
            f"{src.path}: a .npy trace must hold a 1-D integer array of keys, "
            f"got shape {shape} dtype {dtype}"
        )
    if shape[0] == 0:
        raise TraceError(f"{src.path}: no requests (the array is empty)")


def _read_npy(src: Source) -> Trace:
    from numpy.lib import format as npformat

    if not src.head(len(_NPY_MAGIC)) == _NPY_MAGIC:
        raise TraceError(f"{src.path}: not a .npy file (it does not start with \\x93NUMPY)")
    if src.compression is None:
        try:
            arr = np.load(src.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise TraceError(f"{src.path}: corrupt .npy file: {_one_line(exc)}") from None
        _check_npy(src, arr.shape, arr.dtype)
        return make_trace(as_int64_keys(arr), None, None, "npy", src.path)
    buf = src.read_all()
    fp = io.BytesIO(bytes(memoryview(buf)[: 1 << 20]))
    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dtype = npformat.read_array_header_1_0(fp)
        else:
            shape, _fortran, dtype = npformat.read_array_header_2_0(fp)
    except (OSError, ValueError, EOFError) as exc:
        raise TraceError(f"{src.path}: corrupt .npy header: {_one_line(exc)}") from None
    offset = fp.tell()
    _check_npy(src, shape, dtype)
    need = offset + shape[0] * dtype.itemsize
    if len(buf) < need:
        raise TraceError(
            f"{src.path}: truncated .npy data: the header promises {need} bytes of decompressed "
            f"{src.compression} data, it ends at byte offset {len(buf)}"
        )
    arr = np.frombuffer(buf, dtype=dtype, count=shape[0], offset=offset)
    return make_trace(as_int64_keys(arr), None, None, "npy", src.path)


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------


def _read_text(src: Source) -> Trace:
    with src.buffer() as buf:
        keys, status, line, start, end = _hash.scan_text(buf, True)
        if status == 1:  # a key that is not an integer: every key is hashed
            keys, status, line, start, end = _hash.scan_text(buf, False)
        token = bytes(buf[start:end]) if status else b""
    if status == 2:
        shown = token.decode("utf-8", "backslashreplace")
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise TraceError(
            f"{src.path}: line {line}: more than one field ({shown!r}); the text format holds "
            f"one key per line (pass format='csv', delimiter=... for columns)"
        )
    if keys.shape[0] == 0:
        raise TraceError(f"{src.path}: no requests (only blank lines and '*' lines)")
    return make_trace(keys, None, None, "text", src.path)


# ---------------------------------------------------------------------------
# csv
# ---------------------------------------------------------------------------


def _is_number(cell: str | None) -> bool:
    return cell is not None and _NUMERIC.match(cell) is not None


def _is_blank_row(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _bad_key(cell):
    return cell is None or not cell.strip()


def _bad_time(cell):
    return not _is_number(cell)


def _bad_size(cell):
    if not _is_number(cell):
        return True
    value = float(cell)
    return not (math.isfinite(value) and value >= 0 and value == int(value) and value < 2.0**63)


class _CsvReader:
    """One CSV read: sniffing, column resolution, the pandas parse, error location."""

    def __init__(self, src: Source, key=0, time=None, size=None, delimiter=None, header=None):
        self.src = src
        path = src.path
        try:
            specs = {"key": column_spec("key", key)}
            if time is not None:
                specs["time"] = column_spec("time", time)
            if size is not None:
                specs["size"] = column_spec("size", size)
        except ValueError as exc:
            raise TraceError(f"{path}: {exc}") from None
        if delimiter is None:
            delimiter = "\t" if base_name(path).endswith(".tsv") else ","
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
            raise TraceError(f"{path}: delimiter= must be one character (not a quote or newline), got {delimiter!r}")
        self.delimiter = delimiter
        if header not in (None, True, False):
            raise TraceError(f"{path}: header= must be None (detect), True or False, got {header!r}")
        named = [opt for opt, spec in specs.items() if isinstance(spec, str)]
        if named and header is False:
            raise TraceError(f"{path}: {named[0]}={specs[named[0]]!r} names a column, but header=False")

        rows = self._sample()
        if not rows:
            raise TraceError(f"{path}: no requests (no rows)")
        first_line, first = rows[0]
        if header is None:
            header = bool(named) or self._detect_header(first, [r for _, r in rows[1:]], specs)
        self.header = header
        self.skiprows = first_line if header else 0
        self.columns = {opt: self._resolve(opt, spec, first, first_line) for opt, spec in specs.items()}
        self.labels = {
            opt: (repr(first[pos]) if header else str(pos)) for opt, pos in self.columns.items()
        }
        later = [r for _, r in (rows[1:] if header else rows)]
        kpos = self.columns["key"]
        self.key_looks_int = all(
            re.fullmatch(r"\s*[+-]?\d+\s*", r[kpos]) is not None for r in later if kpos < len(r)
        )

    def _sample(self) -> list[tuple[int, list[str]]]:
        head = self.src.head(_HEAD_BYTES)
        text = head.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        rows = []
        try:
            for row in reader:
                if not _is_blank_row(row):
                    rows.append((reader.line_num, row))
                    if len(rows) > _SAMPLE_ROWS:
                        break
        except csv.Error as exc:
            raise TraceError(f"{self.src.path}: line {reader.line_num}: malformed CSV: {_one_line(exc)}") from None
        if len(head) >= _HEAD_BYTES and len(rows) > 1:
            rows.pop()  # may be cut short
        return rows

    @staticmethod
    def _detect_header(first: list[str], later: list[list[str]], specs: dict) -> bool:
        """A header: a cell of the first row that is not a number, where a number belongs.

        That is, in the time or size column, or in any column whose cells in
        the rows below (a sample) are all numbers.
        """
        numeric_opts = {spec for opt, spec in specs.items() if opt != "key"}
        for pos, cell in enumerate(first):
            if not cell.strip() or _is_number(cell):
                continue
            if pos in numeric_opts:
                return True
            below = [r[pos] for r in later if pos < len(r) and r[pos].strip()]
            if below and all(_is_number(c) for c in below):
                return True
        return False

    def _resolve(self, opt: str, spec, first: list[str], line: int) -> int:
        path = self.src.path
        if isinstance(spec, str):
            for match in (lambda c: c == spec, lambda c: c.strip() == spec.strip()):
                found = [i for i, c in enumerate(first) if match(c)]
                if found:
                    return found[0]
            names = ", ".join(repr(c) for c in first[:20]) + (", ..." if len(first) > 20 else "")
            raise TraceError(f"{path}: {opt}={spec!r}: no such column in the header on line {line} ({names})")
        if spec >= len(first):
            raise TraceError(f"{path}: line {line}: {opt}={spec} but the line has {len(first)} field(s)")
        return spec

    def _frame(self, key_as_text: bool):
        import pandas as pd

        usecols = sorted(set(self.columns.values()))
        kwargs = dict(
            sep=self.delimiter,
            header=None,
            skiprows=self.skiprows,
            usecols=usecols,
            compression=None,
            encoding="utf-8-sig",
            encoding_errors="surrogateescape",
            skip_blank_lines=True,
            engine="c",
        )
        if key_as_text:
            # keys are text: keep every cell as written ("NA" and "" are keys, not NaN)
            kwargs.update(dtype={self.columns["key"]: object}, keep_default_na=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                with self.src.open() as fh:
                    return pd.read_csv(fh, **kwargs)
        except pd.errors.EmptyDataError:
            raise TraceError(f"{self.src.path}: no requests (no data rows)") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise TraceError(f"{self.src.path}: malformed CSV: {_one_line(exc)}") from None

    def _locate(self, opt: str, bad, what: str):
        """Raise a TraceError at the first cell of column ``opt`` for which ``bad(cell)`` holds."""
        pos = self.columns[opt]
        line = cell = None
        with self.src.open() as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            skip_header = self.header
            try:
                for row in reader:
                    if _is_blank_row(row):
                        continue
                    if skip_header:
                        skip_header = False
                        continue
                    cell = row[pos] if pos < len(row) else None
                    if bad(cell):
                        line = reader.line_num
                        break
            except csv.Error as exc:
                raise TraceError(f"{self.src.path}: line {reader.line_num}: malformed CSV: {_one_line(exc)}") from None
        label = f"{opt} column {self.labels[opt]}"
        if line is None:  # pandas and the csv module disagree on the cell; say what we know
            raise TraceError(f"{self.src.path}: {label} holds {what}")
        shown = "no cell" if cell is None else repr(cell if len(cell) <= 40 else cell[:37] + "...")
        raise TraceError(f"{self.src.path}: line {line}: {label} holds {shown}, {what}")

    def _keys(self, df, key_as_text: bool):
        col = df[self.columns["key"]]
        if col.dtype.kind in "iu":
            return as_int64_keys(col.to_numpy())
        if not key_as_text:
            return None  # read again with the key column as text
        items = col.to_numpy(dtype=object).tolist()
        keys, _bad = _hash.parse_int_list(items)
        if keys is None:  # not every key is an integer: hash them all
            keys, _bad = _hash.hash_list(items, True)
        if keys is None:
            self._locate("key", _bad_key, "not a key (an empty cell)")
        return keys

    def _numbers(self, df, opt: str):
        if opt not in self.columns:
            return None
        arr = df[self.columns[opt]].to_numpy()
        kind = arr.dtype.kind
        ok = kind in "iuf"
        if ok and kind == "f":
            ok = bool(np.isfinite(arr).all())
        if ok and opt == "size":
            if kind == "u":
                ok = arr.dtype.itemsize < 8 or not (arr > np.iinfo(np.int64).max).any()
            else:
                ok = not (arr < 0).any() and (kind != "f" or bool((arr == np.floor(arr)).all()))
        if not ok:
            if opt == "size":
                self._locate("size", _bad_size, "not a size (an integer >= 0)")
            self._locate(opt, _bad_time, "not a number")
        if opt == "size" or kind == "i":
            return arr.astype(np.int64, copy=False)
        return arr

    def read(self) -> Trace:
        key_as_text = not self.key_looks_int
        df = self._frame(key_as_text)
        keys = self._keys(df, key_as_text)
        if keys is None:
            key_as_text = True
            df = self._frame(True)
            keys = self._keys(df, True)
        if keys.shape[0] == 0:
            raise TraceError(f"{self.src.path}: no requests (no data rows)")
        sizes = self._numbers(df, "size")
        times = self._numbers(df, "time")
        return make_trace(keys, sizes, times, "csv", self.src.path)


def _read_csv(src: Source, **options) -> Trace:
    return _CsvReader(src, **options).read()


#: the columns of Wikimedia's CDN request trace (the November 2019 release of one
#: upload.wikimedia.org cache: gzip-compressed TSV files of 24 hours each), as its
#: documentation (wikitech, Analytics/Data Lake/Traffic/Caching) lists them
WIKIMEDIA_COLUMNS = ("relative_unix", "hashed_path_query", "image_type", "response_size", "time_firstbyte")


def read_wikimedia(path) -> Trace:
    """Read Wikimedia's CDN request trace into a :class:`Trace` of format ``"wikimedia"``.

    Tab-separated rows of :data:`WIKIMEDIA_COLUMNS` (gzip, xz or zstd compressed
    or not, detected as :func:`read` does): times from ``relative_unix`` (seconds
    since the release's start), keys from ``hashed_path_query`` (a salted hash of
    the request's path and query), sizes from ``response_size`` (bytes). A header
    row, when present, is detected and skipped. The same as
    ``read(path, format="wikimedia")``; never guessed (its files are ``.tsv``,
    which :func:`read` takes as plain CSV). Problems raise :class:`TraceError` as
    :func:`read` does.
    """
    return _read_wikimedia(Source(path))


def _read_wikimedia(src: Source) -> Trace:
    head = src.head(_HEAD_BYTES).decode("utf-8", "surrogateescape")
    first = next((line for line in head.splitlines() if line.strip()), "")
    fields = first.split("\t")
    if len(fields) != len(WIKIMEDIA_COLUMNS):
        raise TraceError(
            f"{src.path}: line 1: a Wikimedia trace has {len(WIKIMEDIA_COLUMNS)} tab-separated columns "
            f"({', '.join(WIKIMEDIA_COLUMNS)}), got {len(fields)}"
        )
    got = _CsvReader(src, key=1, time=0, size=3, delimiter="\t").read()
    return make_trace(got.keys, got.sizes, got.times, "wikimedia", src.path)


# ---------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------

_READERS = {
    "oracle": _read_oracle,
    "csv": _read_csv,
    "text": _read_text,
    "binary": _read_binary,
    "npy": _read_npy,
    "wikimedia": _read_wikimedia,
}


def read(path, format: str | None = None, **options) -> Trace:
    """Read a trace file into a :class:`Trace` (int64 keys, and sizes and times when the format has them).

    ``format`` is one of :data:`FORMATS`, or None to guess it from the file's
    name (a compression suffix removed) and first bytes:

    ``"oracle"``
        libCacheSim's oracleGeneral binary (24-byte records: uint32 time,
        uint64 id, uint32 size, int64 next access; see libCacheSim's trace
        format documentation). Guessed for names containing ``oracleGeneral``
        or ending ``.oracle``/``.og``. Memory-mapped when uncompressed: ``keys``
        is then a strided int64 view of the id field, ``sizes`` and ``times``
        views of theirs. No options.
    ``"csv"``
        delimited text, parsed by pandas. Options: ``key=`` (a column name or
        0-based index, default 0), ``time=`` and ``size=`` (same, default none),
        ``delimiter=`` (one character; default ``","``, or a tab for ``.tsv``),
        ``header=`` (True, False, or None to detect one: a first row with a
        non-number where the time or size column is, or where the rows below
        hold numbers; a file whose columns are all text is read without a
        header unless ``header=True``; naming a column implies a header).
        Time and size cells must be numbers (sizes whole and >= 0).
    ``"text"``
        one key per line, as in the LIRS and ARC trace sets; blank lines and
        lines holding only ``*`` are skipped. Guessed for ``.trace``, ``.txt``
        and ``.lirs`` files whose first lines are single keys. No options.
    ``"binary"``
        raw fixed-width integer keys, no header. Option ``dtype=`` is
        required, e.g. ``">i8"`` (big-endian int64). Never guessed.
    ``"npy"``
        a NumPy ``.npy`` file holding a 1-D integer array (memory-mapped when
        uncompressed). Guessed for ``.npy`` names and the ``\\x93NUMPY`` magic.
    ``"wikimedia"``
        Wikimedia's CDN request trace (tab-separated :data:`WIKIMEDIA_COLUMNS`;
        see :func:`read_wikimedia`). Never guessed. No options.

    Keys: integer keys are used as they are (text: when every key of the file
    is an integer, decimal, values up to ``2**64-1`` taken modulo ``2**64``;
    CSV: when every key cell is). Otherwise every key of the file is hashed as
    a string with :func:`stable_hash`, the same int64 on every machine.

    Compression is detected from the first bytes, whatever the name: gzip, xz,
    zstd (the ``zstandard`` package). A compressed file is decompressed as a
    stream into memory (CSV: straight into the parser); it cannot be mapped.

    Every problem (missing file, unknown format or option, malformed content,
    no requests) raises :class:`TraceError`, one line naming the file and the
    line number or byte offset at fault.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "keys.trace"
    >>> _ = p.write_text("3\\n*\\n4\\n3\\n")
    >>> read(p).keys.tolist()
    [3, 4, 3]
    >>> _ = p.write_text("a\\nb\\na\\n")
    >>> read(p).keys.tolist() == stable_hash(["a", "b", "a"]).tolist()
    True
    >>> read(p, format="oracle")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tradeoff.traces._common.TraceError: ...keys.trace: incomplete record at byte offset 0: 6 bytes is not a multiple of the 24-byte oracleGeneral record
    """
    if format is not None:
        name = format.lower() if isinstance(format, str) else format
        name = _ALIASES.get(name, name)
        if name not in FORMATS:
            raise TraceError(f"{path}: unknown trace format {format!r} (formats: {_FORMAT_LIST})")
    src = Source(path)
    fmt = name if format is not None else guess_format(src)
    unknown = sorted(set(options) - set(FORMATS[fmt]))
    if unknown:
        how = "" if format is not None else " (guessed)"
        takes = ", ".join(FORMATS[fmt]) or "none"
        hint = " (dtype= is an option of format='binary')" if "dtype" in unknown else ""
        raise TraceError(
            f"{src.path}: unknown option {', '.join(unknown)} for format {fmt!r}{how}; "
            f"its options: {takes}{hint}"
        )
    return _READERS[fmt](src, **options)

