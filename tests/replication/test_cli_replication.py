"""``tradeoff simulate replication``: a row per scheme, the history, the plot, and bad
input as one line with exit status 2 and nothing written."""
import json

import pytest

from clitools import cli
from tradeoff import load


def test_schemes_side_by_side_with_a_crash(tmp_path):
    out, plot = tmp_path / "r.json", tmp_path / "lag.png"
    code, stdout, stderr = cli("simulate", "replication", "--ops", "1e5", "--keys", "10", "--crash", "2s",
                               "-o", out, "--plot", plot)
    assert code == 0, stderr
    rows = {l.split()[0]: l.split() for l in stdout.splitlines() if l.startswith("leader:")}
    assert set(rows) == {"leader:async", "leader:semisync", "leader:sync"}
    assert rows["leader:sync"][3] == "0" and int(rows["leader:async"][3]) > 0      # read-your-writes
    assert plot.read_bytes()[:4] == b"\x89PNG"
    df = load(out)
    assert set(df["scheme"]) == set(rows)
    assert (df["failovers"] == 1).all()


def test_history_is_jepsen_style_json_lines(tmp_path):
    hist = tmp_path / "h.jsonl"
    code, _, stderr = cli("simulate", "replication", "--scheme", "leader:async", "--ops", "2000",
                          "--history", hist, "-o", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    lines = [json.loads(l) for l in hist.read_text().splitlines()]
    assert len(lines) == 4000
    assert {l["type"] for l in lines} == {"invoke", "ok"}
    assert {"process", "f", "key", "value", "time"} <= set(lines[0])


@pytest.mark.parametrize("args, message", [
    (["--scheme", "multileader:lwx"], "unknown policy 'lwx'"),
    (["--scheme", "multileader:lww,clock=soon"], "clock"),
    (["--partition", "2s-5s:{0}|{1}"], "partitions"),
    (["--partition", "2s-5s:{0,1}|{1,2}"], "partitions"),
    (["--scheme", "paxos"], "unknown scheme 'paxos'"),
    (["--scheme", "leader:sometimes"], "mode"),
    (["--n", "0"], "n"),
    (["--crash", "soon"], "--crash"),
    (["--ops", "-5"], "--ops must be"),
    (["--latency", "warp:9"], "latency"),
    (["--scheme", "leader:async,leader:sync", "--history", "h.jsonl"], "one scheme"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", "replication", *args, "--ops", "1000", "-o", out) \
        if "--ops" not in args else cli("simulate", "replication", *args, "-o", out)
    assert code == 2, (stdout, stderr)
    assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()


def test_replication_on_a_pbs_latency_fit(tmp_path):
    code, stdout, stderr = cli("simulate", "replication", "--latency", "lnkd-disk", "--ops", "2e4", "--scheme",
                               "leader:async,leader:sync", "-o", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    rows = {l.split()[0]: l.split() for l in stdout.splitlines() if l.startswith("leader:")}
    # lnkd-disk's write leg has a heavy tail: sync's write p50 is milliseconds, not microseconds
    assert float(rows["leader:sync"][8]) > float(rows["leader:async"][8])


def test_simulate_pbs_table_plot_and_results(tmp_path):
    out, plot = tmp_path / "p.json", tmp_path / "p.svg"
    code, stdout, stderr = cli("simulate", "pbs", "--r", "1", "--w", "1", "--latency", "lnkd-ssd,wan",
                               "--trials", "2e5", "-o", out, "--plot", plot)
    assert code == 0, stderr
    ssd = next(l for l in stdout.splitlines() if l.startswith("lnkd-ssd"))
    assert abs(float(ssd.split()[3].rstrip("%")) - 97.4) < 0.3          # the paper's headline figure
    assert plot.read_text().lstrip().startswith("<?xml")
    assert len(load(out)) == 2


@pytest.mark.parametrize("args, message", [
    (["--r", "4"], "--r 4 is more than the 3 replicas"),
    (["--latency", "lnkd-hdd"], "lnkd-hdd"),
    (["--trials", "0"], "--trials must be"),
])
def test_simulate_pbs_bad_input(tmp_path, args, message):
    out = tmp_path / "p.json"
    code, stdout, stderr = cli("simulate", "pbs", *args, "-o", out)
    assert code == 2, (stdout, stderr)
    assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()


def test_multileader_schemes_one_row_each(tmp_path):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", "replication", "--scheme",
                               "multileader:lww,clock=5ms,multileader:vv,multileader:crdt", "--ops", "2e4",
                               "--keys", "20", "-o", out, "-q")
    assert code == 0, stderr
    rows = {l.split()[0]: l.split() for l in stdout.splitlines() if l.startswith("multileader:")}
    assert set(rows) == {"multileader:lww,clock=5ms", "multileader:vv", "multileader:crdt"}
    df = load(out).set_index("scheme")
    assert df.loc["multileader:lww,clock=5ms", "lost_updates"] > 0
    assert df.loc["multileader:vv", "lost_updates"] == 0 and df.loc["multileader:crdt", "lost_updates"] == 0
    assert df["final_siblings"].isna().tolist() == [True, False, True]      # only vv has siblings


def test_partition_cp_versus_ap(tmp_path):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", "replication", "--scheme",
                               "leader:semisync,leaderless:N=3,R=2,W=2,repair=blocking,leaderless:N=3,R=1,W=1,"
                               "multileader:lww", "--reads", "leader", "--detect", "0.2",
                               "--partition", "1s-3s:{0}|{1,2}", "--ops", "3e4", "--keys", "100", "-o", out, "-q")
    assert code == 0, stderr
    assert "partition 1s-3s:{0}|{1,2}" in stdout
    df = load(out).set_index("scheme")
    cp = ["leader:semisync", "leaderless:N=3,R=2,W=2,repair=blocking"]
    ap = ["leaderless:N=3,R=1,W=1", "multileader:lww"]
    assert (df.loc[cp, "availability_minority"] < 0.1).all() and (df.loc[cp, "stale"] == 0).all()
    # (AP: everyone is answered, but for a request already on its way to a coordinator the cut separates)
    assert (df.loc[ap, "availability"] > 0.999).all() and (df.loc[ap, "stale"] > 0).all()
    assert df.loc["leader:semisync", "lost_acked"] == 0
