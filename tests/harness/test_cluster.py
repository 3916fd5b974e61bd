"""Sweeps on a dask cluster (``--cluster``): the same numbers as the local pool, where each
row ran, clear errors, and no process left behind on any way out."""
import socket
import sys
from importlib.util import find_spec

import numpy as np
import pytest

from clitools import cli
from tradeoff import load
from tradeoff.harness.cluster import executor, parse_data, parse_spec
from tradeoff.harness.errors import UserError

HAVE_DASK = find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask[distributed] is not installed (the cluster extra)")

WORKLOAD = "zipf:alpha=0.9,objects=3000,requests=30000"
# what differs between two runs of the same sweep: the wall time, and where it ran
VARYING = {"seconds", "ran_on", "mean", "std", "median", "min", "max", "elapsed_s"}


def _same(x, y) -> bool:
    """Two columns equal cell by cell, NaN equal to NaN."""
    return [None if v != v else v for v in x.tolist()] == [None if v != v else v for v in y.tolist()]


def _varies(col: str) -> bool:
    """A column that two runs of the same seeds may differ in: wall times, speeds, where."""
    return col in VARYING or "wall" in col or col.endswith("_per_s")


def _children():
    """This process's descendants, but for multiprocessing's resource tracker (one per
    process, started with the first worker process and kept until the end)."""
    import psutil

    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if not any("resource_tracker" in part for part in p.cmdline()):
                out.append(p)
        except psutil.Error:          # gone meanwhile
            pass
    return out


def _all_gone(procs) -> list:
    """The processes of ``procs`` still alive after a grace period for their exit."""
    import psutil

    _, alive = psutil.wait_procs(procs, timeout=30)
    return alive


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the spec and the data option, without dask

@pytest.mark.parametrize("spec,expected", [(None, ("pool", None)), ("local:2", ("local", 2)),
                                           ("tcp://127.0.0.1:8786", ("address", "tcp://127.0.0.1:8786"))])
def test_specs(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["local:0", "local:x", "127.0.0.1:8786", "", "tcp://"])
def test_bad_specs_are_user_errors(spec):
    with pytest.raises(UserError, match="--cluster"):
        parse_spec(spec)


def test_data_modes(tmp_path):
    assert parse_data("scatter") == ("scatter", None)
    assert parse_data("path") == ("path", None)
    assert parse_data(f"path:{tmp_path}") == ("path", str(tmp_path))
    with pytest.raises(UserError, match="not a folder"):
        parse_data(f"path:{tmp_path / 'nope'}")
    with pytest.raises(UserError, match="scatter, path"):
        parse_data("broadcast")


def test_dask_missing_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)     # import distributed -> ImportError
    before = {p.pid for p in _children()}
    code, out, err = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru", "--size", "100",
                         "--cluster", "local:2", "-o", tmp_path / "r.json", "-q")
    assert code == 2, err
    assert err.count("\n") == 1 and "tradeoff[cluster]" in err and "dask" in err
    assert not (tmp_path / "r.json").exists()
    assert {p.pid for p in _children()} <= before               # nothing started


def test_jobs_and_cluster_together_is_an_error(tmp_path):
    code, _, err = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru", "--size", "100",
                       "--cluster", "local:2", "--jobs", "2", "-o", tmp_path / "r.json", "-q")
    assert code == 2 and err.count("\n") == 1 and "--jobs" in err, err


def test_the_local_pool_records_local(tmp_path):
    from tradeoff.cache.simulate import parse_workload, sweep

    df = sweep(parse_workload(WORKLOAD), ["lru", "fifo"], [50, 500], jobs=2)
    assert list(df["ran_on"]) == ["local"] * 4


# ---- on a LocalCluster of 2 processes

@needs_dask
@pytest.mark.parametrize("data", ["scatter", "path"])
def test_a_cluster_sweep_gives_the_local_numbers_cell_by_cell(tmp_path, data):
    from tradeoff.cache.simulate import parse_workload, sweep

    keys = parse_workload(WORKLOAD)
    obj_sizes = np.random.default_rng(3).integers(1, 1000, size=keys.size).astype(np.int64)
    policies, sizes = ["lru", "arc", "s3fifo", "belady"], [10_000, 100_000]
    here = sweep(keys, policies, sizes, sizes_arr=obj_sizes, jobs=1)
    data = data if data == "scatter" else f"path:{tmp_path}"
    there = sweep(keys, policies, sizes, sizes_arr=obj_sizes, cluster="local:2", cluster_data=data)
    assert list(here.columns) == list(there.columns)
    for col in here.columns:
        if not _varies(col):
            assert _same(here[col], there[col]), col
    assert set(here["ran_on"]) == {"local"}
    assert all(w.startswith("tcp://127.0.0.1:") for w in there["ran_on"])
    assert list(tmp_path.iterdir()) == []                    # the trace files written for the workers are gone


@needs_dask
def test_cli_results_files_are_identical_and_record_where_each_row_ran(tmp_path):
    a, b = tmp_path / "pool.json", tmp_path / "cluster.json"
    common = ["simulate", "cache", "--workload", WORKLOAD, "--policy", "lru,sieve,wtinylfu", "--size", "1%,10%"]
    code, table_a, err = cli(*common, "--jobs", "2", "-o", a)
    assert code == 0, err
    code, table_b, err = cli(*common, "--cluster", "local:2", "-o", b)
    assert code == 0, err
    assert table_a == table_b
    assert "[6/6]" in err and " on tcp://127.0.0.1:" in err      # progress as tasks finish, and where
    da, db = load(a), load(b)
    assert len(da) == len(db) == 6
    for col in da.columns:
        if not _varies(col):
            assert _same(da[col], db[col]), col
    assert set(da["ran_on"]) == {"local"}
    assert all(str(w).startswith("tcp://127.0.0.1:") for w in db["ran_on"])


@needs_dask
def test_an_unreachable_scheduler_is_one_line_and_starts_nothing(tmp_path):
    before = {p.pid for p in _children()}
    port = _free_port()
    code, out, err = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru", "--size", "100",
                         "--cluster", f"tcp://127.0.0.1:{port}", "-o", tmp_path / "r.json", "-q")
    assert code == 2, err
    assert err.count("\n") == 1 and f"no dask scheduler answers at tcp://127.0.0.1:{port}" in err
    assert out == "" and not (tmp_path / "r.json").exists()
    assert {p.pid for p in _children()} <= before


def _fails_on_the_third(task, shared):
    if task == 3:
        raise RuntimeError("task 3 broke")
    return task * int(shared["k"][0])


@needs_dask
def test_an_exception_closes_the_local_cluster():
    seen = []
    with pytest.raises(RuntimeError, match="task 3 broke"):
        with executor("local:2") as ex:
            seen = _children()
            assert len(seen) >= 2                               # the worker processes (and nannies)
            for _ in ex.map(_fails_on_the_third, range(8), {"k": np.array([2])}):
                pass
    assert seen and _all_gone(seen) == []


@needs_dask
def test_ctrl_c_keeps_the_finished_rows_and_closes_the_local_cluster(tmp_path):
    from tradeoff.cache.simulate import SweepInterrupted, parse_workload, sweep

    seen = []

    def stop_after_two(done, total, row):
        if done == 1:
            seen.extend(_children())
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as info:
        sweep(parse_workload(WORKLOAD), ["lru", "fifo", "arc"], [10, 100, 1000], cluster="local:2",
              progress=stop_after_two)
    rows = info.value.rows
    assert len(rows) == 2 and rows["hits"].notna().all()
    assert len(seen) >= 2 and _all_gone(seen) == []


@needs_dask
def test_ctrl_c_in_the_cli_writes_the_finished_rows(tmp_path, monkeypatch):
    from tradeoff.cache import simulate

    real = simulate.sweep

    def interrupted(*args, progress=None, **kw):
        def stop(done, total, row):
            progress(done, total, row)
            if done == 3:
                raise KeyboardInterrupt
        return real(*args, progress=stop, **kw)

    monkeypatch.setattr(simulate, "sweep", interrupted)
    out = tmp_path / "r.json"
    code, _, err = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru,fifo", "--size", "10,100,1000",
                       "--cluster", "local:2", "-o", out)
    assert code == 130, err
    assert "kept the 3 finished replays of 6" in err
    kept = load(out)
    assert len(kept) == 3 and kept.attrs["interrupted"]


def _dies_once(task, shared):
    """Kills its worker process the first time it runs task 0 (a marker file says so)."""
    import os
    from pathlib import Path

    marker = Path(shared["marker"])
    if task == 0 and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return task + 100


@needs_dask
def test_a_worker_lost_mid_sweep_has_its_task_rerun(tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import this test file
    try:
        marker = tmp_path / "marker"
        with executor("local:2") as ex:
            got = sorted(ex.map(_dies_once, list(range(6)), {"marker": str(marker)}))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.read_text() == "died"                          # a worker did die
    assert [(i, r) for i, r, _ in got] == [(i, i + 100) for i in range(6)]


# ---- tradeoff run: scenarios may go to the cluster, timed benchmarks never

TINY = __import__("pathlib").Path(__file__).parent / "suites" / "tiny.py"


def test_run_with_timed_cases_on_a_cluster_is_one_line(tmp_path):
    before = {p.pid for p in _children()}
    code, out, err = cli("run", TINY, "--cluster", "local:2", "-o", tmp_path / "r.json")
    assert code == 2, err
    assert err.count("\n") == 1 and "timings from different hosts are not comparable" in err
    assert not (tmp_path / "r.json").exists()
    assert {p.pid for p in _children()} <= before


@needs_dask
def test_run_scenarios_on_a_cluster_give_the_local_metrics(tmp_path):
    from tradeoff.harness.results import bench_info, read_suite

    a, b = tmp_path / "here.json", tmp_path / "there.json"
    code, _, err = cli("run", TINY, "-k", "metrics", "--seed", "7", "-o", a, "--format", "none")
    assert code == 0, err
    code, _, err = cli("run", TINY, "-k", "metrics", "--seed", "7", "--cluster", "local:2", "-o", b,
                       "--format", "none")
    assert code == 0, err
    here = {x.get_name(): x for x in read_suite(a).get_benchmarks()}
    there = {x.get_name(): x for x in read_suite(b).get_benchmarks()}
    assert sorted(here) == sorted(there) and len(here) == 2
    for name in here:
        assert bench_info(here[name])["metrics"] == bench_info(there[name])["metrics"]
        assert bench_info(there[name])["metrics"]["seed_seen"] == 7
        assert there[name].get_metadata()["tradeoff_ran_on"].startswith("tcp://127.0.0.1:")


# ---- simulate balance: one task per policy

@needs_dask
def test_balance_on_a_cluster_gives_the_local_figures(tmp_path):
    a, b = tmp_path / "here.json", tmp_path / "there.json"
    common = ["simulate", "balance", "--policy", "rr,p2c,lc", "--servers", "4", "--requests", "20000",
              "--fail", "1@0.5s-1s", "--health", "on", "--eject", "on", "--seed", "3"]
    code, table_a, err = cli(*common, "-o", a)
    assert code == 0, err
    code, table_b, err = cli(*common, "--cluster", "local:2", "-o", b)
    assert code == 0, err
    assert "[3/3]" in err and "done on tcp://127.0.0.1:" in err
    assert table_a == table_b
    da, db = load(a), load(b)
    assert len(da) == len(db) == 3
    for col in da.columns:
        if not _varies(col):
            assert _same(da[col], db[col]), col
    assert set(da["ran_on"]) == {"local"}
    assert all(str(w).startswith("tcp://127.0.0.1:") for w in db["ran_on"])


# ---- simulate stampede: one task per fix and rate

@needs_dask
def test_stampede_on_a_cluster_gives_the_local_figures(tmp_path):
    a, b = tmp_path / "here.json", tmp_path / "there.json"
    common = ["simulate", "stampede", "--fix", "none,lock,xfetch:beta=1", "--rate", "100,1000",
              "--requests", "20000", "--ttl", "1s", "--recompute", "50ms", "--seed", "5"]
    code, table_a, err = cli(*common, "-o", a)
    assert code == 0, err
    code, table_b, err = cli(*common, "--cluster", "local:2", "-o", b)
    assert code == 0, err
    assert "[6/6]" in err and "done on tcp://127.0.0.1:" in err
    da, db = load(a), load(b)             # (the tables show the simulator's speed: not compared)
    assert len(da) == len(db) == 6
    for col in da.columns:
        if not _varies(col):
            assert _same(da[col], db[col]), col
    assert set(da["ran_on"]) == {"local"}
    assert all(str(w).startswith("tcp://127.0.0.1:") for w in db["ran_on"])


# ---- simulate replication: one task per scheme

@needs_dask
def test_replication_on_a_cluster_gives_the_local_figures(tmp_path):
    a, b = tmp_path / "here.json", tmp_path / "there.json"
    common = ["simulate", "replication", "--scheme", "leader:async,leaderless:N=3,R=1,W=1,multileader:lww",
              "--ops", "5000", "--crash", "1s", "--seed", "2"]
    code, table_a, err = cli(*common, "-o", a)
    assert code == 0, err
    code, table_b, err = cli(*common, "--cluster", "local:2", "-o", b)
    assert code == 0, err
    assert "[3/3]" in err and "done on tcp://127.0.0.1:" in err
    da, db = load(a), load(b)
    assert len(da) == len(db) == 3
    for col in da.columns:
        if not _varies(col):
            assert _same(da[col], db[col]), col
    assert set(da["ran_on"]) == {"local"}
    assert all(str(w).startswith("tcp://127.0.0.1:") for w in db["ran_on"])
