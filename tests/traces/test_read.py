"""tradeoff.traces.read: every format, compression, format guessing, and every error."""
import dataclasses
import gzip
import lzma
import mmap
import os
from pathlib import Path

import numpy as np
import pytest

from tradeoff.harness.errors import UserError
from tradeoff.traces import FORMATS, ORACLE_GENERAL_DTYPE, Trace, TraceError, read, stable_hash, write_oracle_general

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

COMPRESSIONS = [None, "gzip", "xz", "zstd"]
SUFFIX = {None: "", "gzip": ".gz", "xz": ".xz", "zstd": ".zst"}


def compress(data: bytes, kind) -> bytes:
    if kind is None:
        return data
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


def put(path: Path, data: bytes, kind=None) -> Path:
    path.write_bytes(compress(data, kind))
    return path


def is_mapped(arr) -> bool:
    """Whether ``arr`` is a view of a memory-mapped file (walks the base chain)."""
    while arr is not None:
        if isinstance(arr, (np.memmap, mmap.mmap)):
            return True
        arr = getattr(arr, "base", None)
    return False


def oracle_bytes(keys, sizes=None, times=None, nxt=None) -> bytes:
    rec = np.zeros(len(keys), dtype=ORACLE_GENERAL_DTYPE)
    rec["obj_id"] = np.asarray(keys, dtype=np.int64).view(np.uint64)
    rec["obj_size"] = 1 if sizes is None else sizes
    rec["clock_time"] = 0 if times is None else times
    rec["next_access_vtime"] = -1 if nxt is None else nxt
    return rec.tobytes()


def npy_bytes(arr, tmp_path) -> bytes:
    p = tmp_path / "scratch.npy"
    np.save(p, arr)
    data = p.read_bytes()
    p.unlink()
    return data


def raises(match_parts, fn, *args, **kwargs) -> str:
    """Call fn, expect a one-line TraceError containing every part; return the message."""
    with pytest.raises(TraceError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    for part in match_parts:
        assert str(part) in msg, (part, msg)
    return msg


KEYS = [5, -7, 5, 2**40, 0, -7, 5]


# ---------------------------------------------------------------------------
# every format under every compression
# ---------------------------------------------------------------------------


def _sample_file(tmp_path, fmt, kind):
    """(path, read options, expected keys, expected sizes, expected times)."""
    keys = np.array(KEYS, dtype=np.int64)
    sfx = SUFFIX[kind]
    if fmt == "oracle":
        sizes = np.arange(1, len(keys) + 1)
        times = np.arange(100, 100 + len(keys))
        path = put(tmp_path / f"t.oracleGeneral.bin{sfx}", oracle_bytes(keys, sizes, times), kind)
        return path, {}, keys, sizes, times
    if fmt == "csv":
        sizes = np.arange(10, 10 + len(keys))
        times = np.arange(len(keys)) * 0.5
        text = "time,obj,size\n" + "".join(f"{t},{k},{s}\n" for t, k, s in zip(times, keys, sizes))
        path = put(tmp_path / f"t.csv{sfx}", text.encode(), kind)
        return path, {"key": "obj", "time": "time", "size": "size"}, keys, sizes, times
    if fmt == "text":
        text = "*\n" + "\n".join(str(k) for k in keys) + "\n*\n"
        path = put(tmp_path / f"t.trace{sfx}", text.encode(), kind)
        return path, {}, keys, None, None
    if fmt == "binary":
        path = put(tmp_path / f"t.bin{sfx}", keys.astype(">i8").tobytes(), kind)
        return path, {"dtype": ">i8"}, keys, None, None
    if fmt == "wikimedia":
        sizes = np.arange(500, 500 + len(keys))
        times = np.arange(len(keys)) * 3
        text = "".join(f"{t}\t{k}\tjpeg\t{s}\t0.01\n" for t, k, s in zip(times, keys, sizes))
        path = put(tmp_path / f"t.tsv{sfx}", text.encode(), kind)
        return path, {}, keys, sizes, times
    path = put(tmp_path / f"t.npy{sfx}", npy_bytes(keys, tmp_path), kind)
    return path, {}, keys, None, None


@pytest.mark.parametrize("kind", COMPRESSIONS, ids=lambda k: k or "plain")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_and_compression(tmp_path, fmt, kind):
    path, opts, keys, sizes, times = _sample_file(tmp_path, fmt, kind)
    for format_arg in ([fmt, None] if fmt not in ("binary", "wikimedia") else [fmt]):
        trace = read(path, format=format_arg, **opts)
        assert isinstance(trace, Trace)
        assert trace.format == fmt and trace.path == path and len(trace) == len(keys)
        assert trace.keys.dtype == np.int64
        np.testing.assert_array_equal(trace.keys, keys)
        if sizes is None:
            assert trace.sizes is None
        else:
            np.testing.assert_array_equal(trace.sizes, sizes)
        if times is None:
            assert trace.times is None
        else:
            np.testing.assert_array_equal(trace.times, times)
        for arr in (trace.keys, trace.sizes, trace.times):
            assert arr is None or not arr.flags.writeable


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_compression_is_detected_by_magic_not_name(tmp_path, kind):
    path = put(tmp_path / "plain-name.trace", b"1\n2\n1\n", kind)
    assert read(path).keys.tolist() == [1, 2, 1]
    # and a compression suffix on an uncompressed file is harmless
    plain = put(tmp_path / f"t.trace{SUFFIX[kind]}", b"4\n5\n")
    assert read(plain).keys.tolist() == [4, 5]


def test_zstd_multiple_frames(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    c = zstandard.ZstdCompressor()
    path = tmp_path / "t.trace.zst"
    path.write_bytes(c.compress(b"1\n2\n") + c.compress(b"3\n"))
    assert read(path).keys.tolist() == [1, 2, 3]


# ---------------------------------------------------------------------------
# oracle
# ---------------------------------------------------------------------------


def test_oracle_uncompressed_is_memory_mapped(tmp_path):
    path = write_oracle_general(tmp_path / "t.oracleGeneral.bin", KEYS, sizes=[3] * len(KEYS))
    trace = read(path)
    assert is_mapped(trace.keys) and is_mapped(trace.sizes) and is_mapped(trace.times)
    assert trace.keys.strides == (ORACLE_GENERAL_DTYPE.itemsize,)  # a strided view, not a copy
    records = np.memmap(path, dtype=ORACLE_GENERAL_DTYPE, mode="r")
    assert np.shares_memory(trace.keys, trace.sizes) is False
    np.testing.assert_array_equal(trace.keys, records["obj_id"].view(np.int64))
    # compressed: decompressed into memory, not mapped
    gz = put(tmp_path / "t.oracleGeneral.bin.gz", path.read_bytes(), "gzip")
    assert not is_mapped(read(gz).keys)


def test_oracle_uint64_ids_keep_their_bits(tmp_path):
    rec = np.zeros(2, dtype=ORACLE_GENERAL_DTYPE)
    rec["obj_id"] = [2**64 - 1, 2**63]
    path = tmp_path / "t.og"
    rec.tofile(path)
    assert read(path).keys.tolist() == [-1, -(2**63)]


@pytest.mark.parametrize("kind", [None, "xz"], ids=["plain", "xz"])
def test_oracle_truncated_record_names_offset(tmp_path, kind):
    path = put(tmp_path / "t.oracleGeneral", oracle_bytes([1, 2, 3]) + b"\x01" * 5, kind)
    msg = raises([path, "byte offset 72", "24-byte"], read, path)
    if kind:
        assert "decompressed" in msg


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------


def test_text_skips_stars_blanks_and_strips(tmp_path):
    data = b"\xef\xbb\xbf 10 \r\n*\r\n\r\n\t-3\n  *  \n+4\n10"
    assert read(put(tmp_path / "t.lirs", data)).keys.tolist() == [10, -3, 4, 10]


def test_text_integer_range(tmp_path):
    data = b"9223372036854775807\n-9223372036854775808\n18446744073709551615\n007\n"
    keys = read(put(tmp_path / "t.txt", data)).keys.tolist()
    assert keys == [2**63 - 1, -(2**63), -1, 7]


def test_text_string_keys_are_hashed_all_or_nothing(tmp_path):
    keys = read(put(tmp_path / "t.trace", "1\nfoo\n1\nπ\n".encode())).keys.tolist()
    # one non-integer key: every key, "1" included, is hashed as a string
    assert keys == stable_hash(["1", "foo", "1", "π"]).tolist()
    big = read(put(tmp_path / "u.trace", b"18446744073709551616\n1\n")).keys.tolist()
    assert big == stable_hash(["18446744073709551616", "1"]).tolist()  # beyond 2**64: a string


def test_text_two_fields_on_a_line_is_an_error(tmp_path):
    path = put(tmp_path / "t.trace", b"1\n2\n*\n3 4\n")
    raises([path, "line 4", "'3 4'", "one key per line"], read, path, format="text")


def test_text_only_stars_has_no_requests(tmp_path):
    path = put(tmp_path / "t.trace", b"*\n\n*\n")
    raises([path, "no requests"], read, path)


def test_text_many_lines(tmp_path):
    # parsed straight from a memory map of the file
    path = put(tmp_path / "t.trace", b"".join(b"%d\n" % i for i in range(1000)))
    trace = read(path)
    assert trace.keys.tolist() == list(range(1000))


# ---------------------------------------------------------------------------
# binary and npy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [">i8", "<i8", "<u4", ">i2", "u1", "<u8"])
def test_binary_dtypes(tmp_path, dtype):
    dt = np.dtype(dtype)
    values = np.array([0, 1, 2, np.iinfo(dt).max, np.iinfo(dt).min], dtype=dt)
    trace = read(put(tmp_path / "t.bin", values.tobytes()), format="binary", dtype=dtype)
    expected = values.view(np.int64) if dt.kind == "u" and dt.itemsize == 8 else values.astype(np.int64)
    np.testing.assert_array_equal(trace.keys, expected)
    assert trace.keys.dtype == np.int64


def test_binary_native_int64_is_memory_mapped(tmp_path):
    path = put(tmp_path / "t.bin", np.array([3, 1, 2], dtype="<i8").tobytes())
    assert is_mapped(read(path, format="binary", dtype="<i8").keys)


def test_binary_errors(tmp_path):
    path = put(tmp_path / "t.bin", b"\x00" * 20)
    raises([path, "needs dtype="], read, path, format="binary")
    raises([path, "byte offset 16", "8-byte"], read, path, format="binary", dtype=">i8")
    raises([path, "not an integer type"], read, path, format="binary", dtype="f8")
    raises([path, "not a numpy dtype"], read, path, format="binary", dtype="nonsense")
    gz = put(tmp_path / "t.bin.gz", b"\x00" * 20, "gzip")
    raises([gz, "byte offset 16", "decompressed gzip"], read, gz, format="binary", dtype=">i8")


def test_binary_is_never_guessed(tmp_path):
    path = put(tmp_path / "keys.bin", np.arange(4, dtype=">i8").tobytes())
    raises([path, "cannot guess", "oracle, csv, text, binary, npy"], read, path)


def test_npy_uncompressed_int64_is_memory_mapped(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.array([9, 8, 9], dtype=np.int64))
    trace = read(path)
    assert is_mapped(trace.keys) and trace.keys.tolist() == [9, 8, 9]


def test_npy_guessed_from_magic(tmp_path):
    path = put(tmp_path / "keys.data", npy_bytes(np.array([1, 2], dtype=np.uint16), tmp_path), "xz")
    assert read(path).format == "npy"


@pytest.mark.parametrize("kind", [None, "gzip"], ids=["plain", "gzip"])
@pytest.mark.parametrize("arr", [np.zeros((2, 2), dtype=np.int64), np.zeros(3), np.zeros(0, dtype=np.int64)],
                         ids=["2d", "float", "empty"])
def test_npy_rejects_non_keys(tmp_path, arr, kind):
    path = put(tmp_path / "k.npy", npy_bytes(arr, tmp_path), kind)
    raises([path], read, path)


def test_npy_corrupt(tmp_path):
    path = put(tmp_path / "k.npy", b"not numpy at all")
    raises([path, "not a .npy file"], read, path)
    data = npy_bytes(np.arange(100, dtype=np.int64), tmp_path)
    cut = put(tmp_path / "cut.npy.gz", data[:-8], "gzip")
    raises([cut, "truncated"], read, cut)


# ---------------------------------------------------------------------------
# csv
# ---------------------------------------------------------------------------


def test_csv_header_detected_and_columns_by_index(tmp_path):
    path = put(tmp_path / "t.csv", b"id,bytes\n7,100\n8,200\n7,100\n")
    trace = read(path, key=0, size=1)
    assert trace.keys.tolist() == [7, 8, 7] and trace.sizes.tolist() == [100, 200, 100]
    assert trace.times is None


def test_csv_no_header_when_first_row_is_data(tmp_path):
    path = put(tmp_path / "t.csv", b"7,100\n8,200\n")
    assert read(path, size=1).keys.tolist() == [7, 8]


def test_csv_header_forced_and_refused(tmp_path):
    path = put(tmp_path / "t.csv", b"1,2\n3,4\n5,6\n")
    assert read(path, header=True).keys.tolist() == [3, 5]
    text = put(tmp_path / "s.csv", b"key\nfoo\nbar\n")
    # all-text columns: no header unless asked
    assert read(text).keys.tolist() == stable_hash(["key", "foo", "bar"]).tolist()
    assert read(text, header=True).keys.tolist() == stable_hash(["foo", "bar"]).tolist()
    assert read(text, key="key").keys.tolist() == stable_hash(["foo", "bar"]).tolist()
    raises([text, "header=False"], read, text, key="key", header=False)


def test_csv_header_detected_from_key_column_alone(tmp_path):
    path = put(tmp_path / "t.csv", b"\n\nobj\n10\n11\n\n10\n")
    assert read(path).keys.tolist() == [10, 11, 10]


def test_csv_tsv_and_delimiters(tmp_path):
    tsv = put(tmp_path / "t.tsv.gz", b"a\tb\n1\t2\n3\t4\n", "gzip")
    assert read(tsv, key="b").keys.tolist() == [2, 4]
    semi = put(tmp_path / "t.csv", b"a;b\n1;2\n3;4\n")
    assert read(semi, key=1, delimiter=";").keys.tolist() == [2, 4]
    space = put(tmp_path / "w.csv", b"10 1 500\n11 2 600\n")
    trace = read(space, delimiter=" ", time=0, key=1, size=2)
    assert trace.keys.tolist() == [1, 2] and trace.times.tolist() == [10, 11]
    raises([semi, "delimiter="], read, semi, delimiter=";;")


def test_csv_string_keys_hashed_exactly_as_written(tmp_path):
    # "NA" is a key, not a missing value; quotes are CSV syntax; " x" keeps its blank
    data = 'k,t\nNA,1\n"a,b",2\n x,3\nπ,4\n1,5\n'.encode()
    trace = read(put(tmp_path / "t.csv.xz", data, "xz"), time="t")
    assert trace.keys.tolist() == stable_hash(["NA", "a,b", " x", "π", "1"]).tolist()
    assert trace.times.tolist() == [1, 2, 3, 4, 5]


def test_csv_integer_column_with_one_string_is_all_hashed(tmp_path):
    rows = b"".join(b"%d\n" % i for i in range(100)) + b"x\n"
    trace = read(put(tmp_path / "t.csv", rows))
    assert trace.keys.tolist() == stable_hash([str(i) for i in range(100)] + ["x"]).tolist()


def test_csv_uint64_keys_keep_their_bits(tmp_path):
    trace = read(put(tmp_path / "t.csv", b"18446744073709551615\n1\n"))
    assert trace.keys.tolist() == [-1, 1]


def test_csv_bad_time_cell_names_the_line(tmp_path):
    path = put(tmp_path / "t.csv", b"key,time\n1,10\n\n2,11\n3,soon\n4,12\n")
    raises([path, "line 5", "time column 'time'", "'soon'", "not a number"], read, path, time="time")


@pytest.mark.parametrize("cell, kind", [(b"-1", None), (b"2.5", "gzip"), (b"", None), (b"NA", "zstd")])
def test_csv_bad_size_cell_names_the_line(tmp_path, cell, kind):
    path = put(tmp_path / "t.csv", b"1,10\n2,20\n3," + cell + b"\n", kind)
    raises([path, "line 3", "size column 1", "not a size"], read, path, size=1)


def test_csv_empty_key_cell_names_the_line(tmp_path):
    path = put(tmp_path / "t.csv", b"k,t\na,1\n,2\n")
    raises([path, "line 3", "key column 'k'"], read, path, time=1)


def test_csv_column_errors(tmp_path):
    path = put(tmp_path / "t.csv", b"a,b\n1,2\n")
    raises([path, "'nope'", "no such column", "'a', 'b'"], read, path, key="nope")
    raises([path, "size=5", "2 field"], read, path, size=5)
    raises([path, "key="], read, path, key=-1)
    raises([path, "key="], read, path, key=1.5)
    raises([path, "header="], read, path, header="yes")


def test_csv_malformed_quoting(tmp_path):
    path = put(tmp_path / "t.csv", b'1,2\n3,4\n5,"6\n7,8\n')
    raises([path, "malformed CSV", "EOF inside string"], read, path, size=1)


def test_csv_extra_fields_beyond_the_columns_read_are_ignored(tmp_path):
    path = put(tmp_path / "t.csv", b"1,2\n3,4\n5,6,7,8\n")
    assert read(path, size=1).sizes.tolist() == [2, 4, 6]


def test_csv_only_a_header_has_no_requests(tmp_path):
    path = put(tmp_path / "t.csv", b"key,size\n")
    raises([path, "no requests"], read, path, key="key")


# ---------------------------------------------------------------------------
# guessing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, fmt",
    [
        ("w01.oracleGeneral.bin", oracle_bytes([1]), "oracle"),
        ("w01.oraclegeneral.zst", oracle_bytes([1]), "oracle"),
        ("w01.og", oracle_bytes([1]), "oracle"),
        ("w01.ORACLE.gz", oracle_bytes([1]), "oracle"),
        ("t.csv", b"1,2\n", "csv"),
        ("t.TSV", b"1\t2\n", "csv"),
        ("t.trace", b"1\n", "text"),
        ("t.txt.xz", b"a\nb\n", "text"),
        ("t.lirs.zstd", b"*\n1\n", "text"),
    ],
)
def test_guessing(tmp_path, name, data, fmt):
    kind = {".gz": "gzip", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}.get(Path(name).suffix.lower())
    assert read(put(tmp_path / name, data, kind)).format == fmt


def test_cannot_guess(tmp_path):
    unknown = put(tmp_path / "trace.dat", b"1\n2\n")
    raises([unknown, "cannot guess", "format=", "oracle, csv, text, binary, npy"], read, unknown)
    columns = put(tmp_path / "t.txt", b"1 2\n3 4\n")
    raises([columns, "cannot guess", "format='csv'"], read, columns)
    binary = put(tmp_path / "t.trace", np.arange(50, dtype=">i8").tobytes())
    raises([binary, "cannot guess", "binary data"], read, binary)
    # what the guess would have been is still readable when named
    assert read(columns, format="csv", delimiter=" ").keys.tolist() == [1, 3]


# ---------------------------------------------------------------------------
# errors shared by every format; the Trace type
# ---------------------------------------------------------------------------


def test_missing_directory_empty_unknown(tmp_path):
    missing = tmp_path / "nope.trace"
    raises([missing, "no such file"], read, missing)
    raises([tmp_path, "directory"], read, tmp_path)
    empty = put(tmp_path / "e.trace", b"")
    raises([empty, "empty"], read, empty)
    gz_empty = put(tmp_path / "e.oracleGeneral.gz", b"", "gzip")
    raises([gz_empty, "no requests"], read, gz_empty)
    ok = put(tmp_path / "t.trace", b"1\n")
    raises([ok, "unknown trace format 'parquet'", "oracle, csv, text, binary, npy"], read, ok, format="parquet")
    raises([ok, "unknown option", "dtype", "'text'"], read, ok, dtype=">i8")
    raises([ok, "unknown option", "bogus", "key, time, size"], read, ok, format="csv", bogus=1)


def test_corrupt_compressed_data(tmp_path):
    data = gzip.compress(b"1\n" * 10000)
    path = put(tmp_path / "t.trace", data[: len(data) // 2])
    raises([path, "gzip"], read, path, format="text")
    xz = lzma.compress(b"1\n" * 10000)
    bad = put(tmp_path / "u.trace", xz[:20] + b"\x00" * 40 + xz[60:])
    raises([bad, "xz"], read, bad, format="text")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path):
    path = put(tmp_path / "t.trace", b"1\n")
    path.chmod(0)
    raises([path, "cannot read"], read, path)


def test_errors_are_user_errors_and_value_errors(tmp_path):
    with pytest.raises(UserError):
        read(tmp_path / "missing")
    with pytest.raises(ValueError):
        read(tmp_path / "missing")


def test_trace_is_frozen_and_sized(tmp_path):
    trace = read(put(tmp_path / "t.trace", b"1\n2\n"))
    assert len(trace) == 2
    assert "format='text'" in repr(trace) and "requests=2" in repr(trace)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trace.keys = None
    with pytest.raises(ValueError):
        trace.keys[0] = 5  # read-only


# ---------------------------------------------------------------------------
# the shared reference traces
# ---------------------------------------------------------------------------

from reference import trace_file  # noqa: E402  ($TRADEOFF_TRACES, else shared/traces, else skip)

# From shared/traces/README.md: requests and distinct keys.
REFERENCE = {
    "multi1.trace.gz": (15_858, 2_606),
    "gli.trace.gz": (6_015, 2_529),
    "cs.trace.gz": (6_781, 1_409),
    "ps.trace.gz": (10_448, 3_083),
    "sprite.trace.gz": (133_996, 7_075),
    "loop.trace.gz": (505_500, 1_011),
    "scarab-recs.trace.xz": (1_245_184, 258_368),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_traces(name):
    path = trace_file(name)
    if name.startswith("scarab"):
        trace = read(path, format="binary", dtype=">i8")
    else:
        trace = read(path)
        assert trace.format == "text"
    requests, distinct = REFERENCE[name]
    assert len(trace) == requests
    assert np.unique(trace.keys).size == distinct
