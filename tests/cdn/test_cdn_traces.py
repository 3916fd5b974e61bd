"""``tradeoff simulate cdn --trace``: published CDN traces through tradeoff.traces
(oracleGeneral, CSV with key/time/size, Wikimedia's TSV), the CDN CSV with status
and header columns, bounded browsers on the command line, and bad input (one line,
exit 2, nothing written)."""
import gzip

import numpy as np
import pytest

from clitools import cli
from tradeoff.cdn import load_trace, read_trace, simulate
from tradeoff.traces import TraceError, write_oracle_general

WIKIMEDIA = ("relative_unix\thashed_path_query\timage_type\tresponse_size\ttime_firstbyte\n"
             "100\t-77\tjpeg\t5000\t0.01\n101\t12\tpng\t300\t0.02\n105\t-77\tjpeg\t5000\t0.001\n"
             "107\t12\tpng\t300\t0.003\n")


@pytest.fixture
def oracle(tmp_path):
    rng = np.random.default_rng(1)
    keys = rng.zipf(1.3, 3000) % 200 + 10**15            # large ids: remapped to dense objects
    sizes = (keys % 97 + 1) * 1000
    times = 1_600_000_000 + np.arange(3000) // 3
    return write_oracle_general(tmp_path / "cdn.oracleGeneral.bin", keys, sizes=sizes, times=times)


def run(tmp_path, *args):
    out_file = tmp_path / "r.json"
    code, out, err = cli("simulate", "cdn", "-o", str(out_file), "-q", *args)
    return code, out, err, out_file


def test_oracle_general_trace(oracle, tmp_path):
    w = load_trace(oracle)
    assert w.info["kind"] == "oracle" and w.info["class"] == "image" and len(w) == 3000
    assert w.time[0] == 0 and w.duration == 999 and set(np.unique(w.region)) <= set(range(5))
    assert w.obj.max() < 200 and len(np.unique(w.client)) == 3000
    # one object, one region: the same edge sees every request for it
    for o in np.unique(w.obj)[:20]:
        assert len(np.unique(w.region[w.obj == o])) == 1
    code, out, err, f = run(tmp_path, "--trace", oracle, "--layers", "edge:pops=2:size=1MB,origin",
                            "--deploy", "none")
    assert code == 0, err
    assert "3,000 requests" in out and f.exists()
    r = simulate("edge:pops=2:size=1MB,origin", w, deploy="none")
    assert r.layer("edge")["hits"] > 0


def test_trace_class_and_regions_from_workload_option(oracle, tmp_path):
    w = load_trace(oracle, cls="page", regions=2)
    assert set(w.cls.tolist()) == {3} and w.regions == 2
    code, out, err, _ = run(tmp_path, "--trace", oracle, "--workload", "trace:class=video,regions=3",
                            "--layers", "edge:pops=3,origin", "--deploy", "none")
    assert code == 0, err


def test_csv_trace_with_key_time_size_columns(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("key,time,size\nA,0,100\nB,1,200\nA,2,100\nA,3,100\n")
    w = load_trace(p)
    assert w.obj.tolist()[0] == w.obj.tolist()[2] and w.size.tolist() == [100, 200, 100, 100]
    q = tmp_path / "named.tsv"
    q.write_text("ts\tobj\tbytes\n0\t1\t10\n5\t1\t10\n")
    w2 = load_trace(q, time="ts", key="obj", size="bytes")
    assert w2.duration == 5
    code, out, err, _ = run(tmp_path, "--trace", p, "--layers", "edge:pops=1,origin")
    assert code == 0, err
    assert "4 requests" in out


def test_wikimedia_trace(tmp_path):
    p = tmp_path / "cache-u.tsv.gz"
    p.write_bytes(gzip.compress(WIKIMEDIA.encode()))
    w = read_trace(p, format="wikimedia")
    assert w.info["kind"] == "wikimedia" and w.time.tolist() == [0, 1, 5, 7]
    assert w.size.tolist() == [5000, 300, 5000, 300] and w.obj[0] == w.obj[2] != w.obj[1]
    code, out, err, _ = run(tmp_path, "--trace", p, "--workload", "trace:format=wikimedia",
                            "--layers", "edge:pops=1,origin", "--deploy", "none")
    assert code == 0, err
    bad = tmp_path / "four.tsv"
    bad.write_text("1\t2\t3\t4\n")
    with pytest.raises(TraceError, match="5 tab-separated columns"):
        read_trace(bad, format="wikimedia")


def test_cdn_csv_with_headers_on_the_command_line(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time,client,url,size,status,cache-control\n0,a,/p,1000,200,max-age=60\n"
                 "1,a,/p,1000,200,max-age=60\n2,a,/e,10,500,\n3,a,/e,10,500,\n")
    code, out, err, _ = run(tmp_path, "--trace", p, "--layers", "browser:size=10KB,edge:pops=1,origin",
                            "--deploy", "none")
    assert code == 0, err
    browser = next(line for line in out.splitlines() if line.startswith("browser "))
    assert browser.split()[1:3] == ["4", "25.0%"]         # /p hit once; /e (500) never stored


@pytest.mark.parametrize("content, args, message", [
    ("when,url\n0,/a\n", [], "missing columns time, size, client or region"),
    ("key,time\nA,0\n", [], "has no sizes"),
    ("key\nA\nB\n", [], "has no times and no sizes"),
    ("time,client,url,size,status\n0,a,/p,1,abc\n", [], "status must be an HTTP status code"),
    ("time,client,url,size\n0,a,/p,1\n", ["--workload", "trace:class=image"], "takes regions= only"),
    ("key,time,size\nA,0,1\n", ["--workload", "trace:class=nope"], "trace class must be one of"),
    ("key,time,size\nA,0,1\n", ["--workload", "trace:regions=0"], "regions must be an integer >= 1"),
    ("key,time,size\nA,0,1\n", ["--workload", "site:pages=4"], "with --trace, --workload takes trace"),
    ("key,time,size\nA,x,1\n", [], "not a number"),
])
def test_bad_traces_one_line_exit_2_nothing_written(tmp_path, content, args, message):
    p = tmp_path / "in" / "t.csv"
    p.parent.mkdir()
    p.write_text(content)
    code, out, err, f = run(tmp_path, "--trace", p, *args)
    assert code == 2, (out, err)
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not f.exists() and sorted(x.name for x in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("name, data, message", [
    ("garbled.oracleGeneral.bin", b"\x01\x02\x03" * 9, "incomplete record"),
    ("random.bin", bytes(range(256)) * 4, "cannot guess the format"),
    ("missing.oracleGeneral.bin", None, "missing.oracleGeneral.bin"),
])
def test_garbled_binary_traces(tmp_path, name, data, message):
    p = tmp_path / "in" / name
    p.parent.mkdir()
    if data is not None:
        p.write_bytes(data)
    code, out, err, f = run(tmp_path, "--trace", p)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not f.exists()
