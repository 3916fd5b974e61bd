"""``tradeoff simulate cdn``: the table, the results file, and bad input (one line, exit 2,
nothing written)."""
import json

import pytest

from clitools import cli

SMALL = "site:assets=50,pages=100,images=50,videos=5,api=10,personal=1,clients=30,regions=2,duration=2h"


def test_table_results_and_plot(tmp_path):
    out_file = tmp_path / "cdn.json"
    plot = tmp_path / "cdn.png"
    code, out, err = cli("simulate", "cdn", "--layers", "browser,edge:pops=2:size=1MB:policy=s3fifo,shield,proxy,origin",
                         "--workload", SMALL, "--requests", "3000", "--assets", "hashed,max-age=300",
                         "--purge", "tag", "-o", str(out_file), "--plot", str(plot))
    assert code == 0, err
    for layer in ("browser", "edge", "shield", "proxy", "origin"):
        assert f"\n{layer} " in out
    assert "assets=hashed purge=tag origin=pull" in out and "assets=max-age=300" in out
    assert "origin req" in out and "stale served" in out
    assert out_file.exists() and plot.exists() and plot.stat().st_size > 0
    data = json.loads(out_file.read_text())
    assert data


def test_markdown(tmp_path):
    code, out, err = cli("simulate", "cdn", "--layers", "edge:pops=1,origin", "--workload", SMALL,
                         "--requests", "500", "--format", "markdown", "-o", str(tmp_path / "r.json"), "-q")
    assert code == 0, err
    assert "| layer | requests |" in out and err.strip().startswith("wrote")


def test_csv_trace(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("time,client,url,size\n0,a,/index.html,1000\n1,b,/index.html,1000\n"
                     "2,a,/static/app.js,500\n3,c,/api/x,10\n")
    code, out, err = cli("simulate", "cdn", "--layers", "browser,edge:pops=2,origin", "--trace", str(trace),
                         "--deploy", "none", "-o", str(tmp_path / "r.json"), "-q")
    assert code == 0, err
    assert "4 requests" in out.replace(",", "")


@pytest.mark.parametrize("args, message", [
    (["--layers", "browser,cdn,origin"], "unknown layer 'cdn'"),
    (["--layers", "edge:policy=nope,origin"], "unknown policy 'nope'"),
    (["--layers", "browser,edge"], "no origin"),
    (["--layers", "edge:size=-5GB,origin"], "must be >= 0"),
    (["--layers", "origin,edge"], "must be in the order"),
    (["--workload", "site:pages=-3"], "must be >= 0"),
    (["--assets", "max-age=soon"], "assets must be"),
    (["--purge", "everything"], "--purge must be"),
    (["--deploy", "every=-1h"], "deploy interval must be finite and >= 0"),
    (["--deploy", "every=-1d"], "bad deploy interval '-1d'"),
    (["--layers", "edge:rtt=soon,origin"], "bad edge rtt 'soon'"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, message):
    out_file = tmp_path / "r.json"
    code, out, err = cli("simulate", "cdn", "--requests", "100", "-o", str(out_file), *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out_file.exists() and list(tmp_path.iterdir()) == []


def test_csv_missing_columns(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("when,url\n0,/a\n")
    out_file = tmp_path / "r.json"
    code, out, err = cli("simulate", "cdn", "--trace", str(trace), "-o", str(out_file))
    assert code == 2
    assert "missing columns time, size, client or region" in err and len(err.strip().splitlines()) == 1
    assert not out_file.exists()


def test_topology_parses_and_checks():
    from tradeoff.cdn import Topology

    t = Topology("browser,edge:pops=3:size=1GB:policy=sieve:rtt=15ms,shield,db:ttl=5s,origin")
    t._check()
    edge = t.layers[1]
    assert (edge.pops, edge.size, edge.policy, edge.rtt) == (3, 10**9, "sieve", 0.015)
    assert t.layers[3].ttl == 5.0 and t.browser
    with pytest.raises(ValueError, match="offline|unknown policy 'belady'"):
        Topology("edge:policy=belady,origin")
