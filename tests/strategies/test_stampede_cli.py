"""``tradeoff simulate stampede``: the table, the results file, the plot, the real run
beside the simulation, and bad input as one line with exit status 2."""
import pytest

from clitools import cli
from tradeoff import load


def test_table_results_and_plot(tmp_path):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    code, stdout, stderr = cli("simulate", "stampede", "--fix", "none,lock,jitter,xfetch:beta=1,swr",
                               "--rate", "1000,2000", "--recompute", "100ms", "--ttl", "5s", "--requests", "2e5",
                               "-o", out, "--plot", png)
    assert code == 0, stderr
    rows = [l.split() for l in stdout.splitlines() if l.split() and l.split()[0] in
            ("none", "lock", "jitter", "xfetch:beta=1", "swr")]
    assert [(r[0], r[1]) for r in rows] == [(f, x) for f in ("none", "lock", "jitter", "xfetch:beta=1", "swr")
                                            for x in ("1,000", "2,000")]
    per = {(r[0], r[1]): float(r[3]) for r in rows}
    assert per[("lock", "1,000")] == per[("swr", "2,000")] == 1.0
    assert 80 < per[("none", "1,000")] < 125 and 160 < per[("none", "2,000")] < 245
    df = load(out)
    assert len(df) == 10 and set(df["mode"]) == {"sim"}
    assert png.stat().st_size > 1000
    assert f"wrote {out}" in stderr


def test_markdown_and_real(tmp_path):
    code, stdout, stderr = cli("simulate", "stampede", "--fix", "none,lock", "--rate", "100", "--recompute",
                               "40ms", "--ttl", "0.3s", "--requests", "150", "--real", "--format", "markdown",
                               "-o", tmp_path / "r.json")
    assert code == 0, stderr
    assert "| fix" in stdout and "real recomputes/expiry" in stdout
    lock = [l for l in stdout.splitlines() if l.startswith("| lock")][0].split("|")
    assert lock[4].strip() == "1" and lock[11].strip() == "1"      # sim and real: one per expiry
    assert "for real" in stderr                                      # progress
    df = load(tmp_path / "r.json")
    assert (df.loc[df["fix"] == "lock", "real_recomputes"] == df.loc[df["fix"] == "lock", "real_expiries"]).all()


def test_peers_rows(tmp_path):
    pytest.importorskip("dogpile.cache")
    code, stdout, stderr = cli("simulate", "stampede", "--fix", "lock:stale=1", "--rate", "100", "--recompute",
                               "40ms", "--ttl", "0.3s", "--requests", "120", "--peers", "-q", "-o", tmp_path / "p.json")
    assert code == 0, stderr
    assert "peers on the same real workload" in stdout and "dogpile" in stdout
    assert set(load(tmp_path / "p.json")["mode"]) >= {"sim", "dogpile"}


@pytest.mark.parametrize("args, msg", [
    (["--fix", "bogus"], "unknown fix 'bogus'"),
    (["--fix", "xfetch:gamma=2"], "unknown parameter 'gamma'"),
    (["--rate", "-5"], "--rate must be > 0"),
    (["--rate", "fast"], "--rate must be numbers"),
    (["--ttl", "-1s"], "ttl must be finite and >= 0"),
    (["--recompute", "-3ms"], "recompute time must be finite and >= 0"),
    (["--requests", "0"], "--requests must be a whole number"),
    (["--real", "--recompute", "exp:10ms"], "constant --recompute"),
    (["--keys", "0"], "--keys must be >= 1"),
])
def test_bad_input(tmp_path, args, msg):
    out = tmp_path / "x.json"
    code, stdout, stderr = cli("simulate", "stampede", *args, "-o", out)
    assert code == 2
    assert msg in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()


def test_warns_when_nothing_expires(tmp_path):
    code, stdout, stderr = cli("simulate", "stampede", "--fix", "none", "--rate", "1000", "--ttl", "60s",
                               "--requests", "1e4", "-o", tmp_path / "w.json")
    assert code == 0
    assert "no key expires" in stderr
    row = [l.split() for l in stdout.splitlines() if l.startswith("none")][0]
    assert row[2] == "0" and row[3] == "nan"
