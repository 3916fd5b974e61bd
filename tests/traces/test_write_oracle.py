"""write_oracle_general: the bytes, the next-access field, validation, atomicity, libCacheSim."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.traces import ORACLE_GENERAL_DTYPE, TraceError, next_access_vtime, read, write_oracle_general
from tradeoff.traces import _oracle


def naive_next_access(keys):
    """1-based position of the next request for the same key, -1 if none (O(n^2))."""
    out = []
    for i, k in enumerate(keys):
        nxt = -1
        for j in range(i + 1, len(keys)):
            if keys[j] == k:
                nxt = j + 1
                break
        out.append(nxt)
    return out


def records(path):
    return np.fromfile(path, dtype=ORACLE_GENERAL_DTYPE)


keys_st = st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(0, 5), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(keys_st, st.data())
def test_round_trip(tmp_path_factory, keys, data):
    n = len(keys)
    sizes = data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n))
    times = data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n))
    path = write_oracle_general(tmp_path_factory.mktemp("o") / "t.oracleGeneral.bin", keys, sizes, times)
    trace = read(path)
    assert trace.format == "oracle" and len(trace) == n
    assert trace.keys.tolist() == keys
    assert trace.sizes.tolist() == sizes
    assert trace.times.tolist() == times
    rec = records(path)
    assert rec["next_access_vtime"].tolist() == naive_next_access(keys)
    assert path.stat().st_size == 24 * n


def test_defaults_and_scalars(tmp_path):
    path = write_oracle_general(tmp_path / "a.og", np.array([3, 3, 4], dtype=np.int32))
    rec = records(path)
    assert rec["obj_size"].tolist() == [1, 1, 1] and rec["clock_time"].tolist() == [0, 0, 0]
    assert rec["next_access_vtime"].tolist() == [2, -1, -1]
    path = write_oracle_general(tmp_path / "b.og", [3, 4], sizes=4096, times=7)
    rec = records(path)
    assert rec["obj_size"].tolist() == [4096, 4096] and rec["clock_time"].tolist() == [7, 7]


def test_uint64_and_negative_ids_keep_their_bits(tmp_path):
    ids = np.array([2**64 - 1, 2**63, 5], dtype=np.uint64)
    path = write_oracle_general(tmp_path / "u.og", ids)
    assert records(path)["obj_id"].tolist() == [2**64 - 1, 2**63, 5]
    assert read(path).keys.tolist() == [-1, -(2**63), 5]


def test_chunk_boundaries(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 20, size=203)
    sizes = rng.integers(0, 100, size=203)
    whole = write_oracle_general(tmp_path / "whole.og", keys, sizes=sizes).read_bytes()
    monkeypatch.setattr(_oracle, "_CHUNK", 7)
    chunked = write_oracle_general(tmp_path / "chunked.og", keys, sizes=sizes).read_bytes()
    assert chunked == whole
    assert records(tmp_path / "chunked.og")["next_access_vtime"].tolist() == naive_next_access(keys.tolist())


def test_next_access_vtime_accepts_strided_keys(tmp_path):
    path = write_oracle_general(tmp_path / "t.og", [1, 2, 1, 2, 3])
    keys = read(path).keys  # a strided view of a memory map
    assert next_access_vtime(keys).tolist() == [3, 4, -1, -1, -1]


def test_same_bytes_as_the_peers_writer(tmp_path):
    """The convention of tradeoff.suites._peers (validated against libCacheSim's Belady) is kept."""
    peers = pytest.importorskip("tradeoff.suites._peers")
    keys = np.random.default_rng(1).integers(-50, 50, size=500)
    peers.write_oracle_general(keys, tmp_path / "peers.og")
    mine = write_oracle_general(tmp_path / "mine.og", keys)
    assert mine.read_bytes() == (tmp_path / "peers.og").read_bytes()


@pytest.mark.parametrize(
    "kwargs, part",
    [
        (dict(keys=[]), "empty"),
        (dict(keys=[[1, 2]]), "1-D"),
        (dict(keys=[1.5, 2.0]), "integers"),
        (dict(keys=[1, 2], sizes=[1]), "sizes must be a 1-D array of 2"),
        (dict(keys=[1, 2], sizes=[1, -1]), "sizes must fit uint32"),
        (dict(keys=[1, 2], sizes=[1, 2**32]), "at index 1"),
        (dict(keys=[1, 2], sizes=[1.0, 2.0]), "sizes must be integers"),
        (dict(keys=[1, 2], times=-1), "times must fit uint32"),
        (dict(keys=[1, 2], times=True), "times must be integers"),
        (dict(keys=[1, 2], times=[0, 2**33]), "times must fit uint32"),
    ],
)
def test_validation(tmp_path, kwargs, part):
    path = tmp_path / "bad.og"
    path.write_bytes(b"old")
    with pytest.raises(TraceError) as info:
        write_oracle_general(path, **kwargs)
    assert part in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == b"old"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.og"]  # no temporary left behind


def test_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    import tradeoff._atomic

    path = tmp_path / "t.og"
    path.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    # the records are written, then flushing them fails: the rename must not happen
    monkeypatch.setattr(tradeoff._atomic.os, "fsync", failing_fsync)
    with pytest.raises(TraceError, match="No space left"):
        write_oracle_general(path, [1, 2, 3], fsync=True)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.og"]


def test_unwritable_destination(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TraceError, match="cannot write"):
        write_oracle_general(blocker / "sub" / "t.og", [1])


def test_libcachesim_reads_what_we_write(tmp_path):
    lcs = pytest.importorskip("libcachesim")
    rng = np.random.default_rng(3)
    n = 2000
    keys = rng.integers(-(2**40), 2**40, size=n // 4)[rng.integers(0, n // 4, size=n)]
    sizes = rng.integers(1, 1000, size=n)
    times = np.sort(rng.integers(0, 10_000, size=n))
    path = write_oracle_general(tmp_path / "t.oracleGeneral.bin", keys, sizes, times)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    assert reader.get_num_of_req() == n
    expected_next = naive_next_access(keys.tolist())[:200]
    for i in range(200):  # request by request, as libCacheSim decodes them
        req = reader.read_one_req()
        assert req.obj_id == int(keys[i]) % 2**64
        assert req.obj_size == sizes[i] and req.clock_time == times[i]
        # libCacheSim maps "never again" (-1) to INT64_MAX
        assert req.next_access_vtime == (expected_next[i] if expected_next[i] != -1 else 2**63 - 1)
    # dropped, never closed: close() then destruction is a double free in libcachesim 0.3.5
    del reader
