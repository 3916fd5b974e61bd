"""``tradeoff simulate delivery|queue|groups``: tables, results files, plots, the
Redis run, and bad input as one line with exit status 2 and nothing written."""
import sys

import pytest

from clitools import cli
from tradeoff import load
from tradeoff.harness.servers import missing_notice


def test_delivery_table_and_results(tmp_path):
    out = tmp_path / "d.json"
    code, stdout, stderr = cli("simulate", "delivery", "--semantics", "all", "--messages", "2e4", "--crash", "1%",
                               "--ack-loss", "1%", "-o", out)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert "20,000 messages" in lines[0] and "crash 1%" in lines[0]
    rows = {l.split()[0]: l for l in lines if l.split() and l.split()[0] in
            ("at-most-once", "at-least-once", "exactly-once", "idempotent-consumer")}
    assert set(rows) == {"at-most-once", "at-least-once", "exactly-once", "idempotent-consumer"}
    assert rows["exactly-once"].split()[1:5] == ["0", "(0%)", "0", "(0%)"]
    assert "PROMISE BROKEN" not in stdout
    df = load(out)
    assert set(df["semantics"]) == set(rows)
    assert int(df.loc[df["semantics"] == "at-least-once", "lost"].iloc[0]) == 0
    assert f"wrote {out}" in stderr


def test_delivery_says_when_consumers_fall_behind(tmp_path):
    code, stdout, _ = cli("simulate", "delivery", "--messages", "2e4", "--crash", "5%", "-o", tmp_path / "d.json",
                          "-q")
    assert code == 0
    assert "the consumers fell behind the producer" in stdout


@pytest.mark.skipif(missing_notice("redis-server") is not None, reason=str(missing_notice("redis-server")))
def test_delivery_through_redis_agrees(tmp_path):
    pytest.importorskip("redis", reason="the redis client is not installed")
    code, stdout, stderr = cli("simulate", "delivery", "--broker", "redis", "--messages", "1500", "--crash", "2%",
                               "--ack-loss", "3%", "--broker-restart", "0.3%", "--semantics", "all",
                               "-o", tmp_path / "d.json")
    assert code == 0, stderr
    rows = [l for l in stdout.splitlines() if l.startswith(("at-", "exactly", "idempotent"))]
    assert len(rows) == 4 and all(r.split()[-1] == "yes" for r in rows), stdout


def test_queue_table_plot_and_results(tmp_path):
    out, plot = tmp_path / "q.json", tmp_path / "q.png"
    code, stdout, stderr = cli("simulate", "queue", "--duration", "200s", "--profile",
                               "spike:factor=3,start=20,duration=20", "--plot", plot, "-o", out)
    assert code == 0, stderr
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    lines = stdout.splitlines()
    log = next(l for l in lines if l.startswith("log "))
    queue = next(l for l in lines if l.startswith("queue "))
    assert "s" in log.split()[3] and "s" in queue.split()[3]       # drained after ... s
    df = load(out)
    assert set(df["broker"]) == {"log", "queue"}
    assert (df["peak_backlog"] > 0).all()


def test_groups_table(tmp_path):
    code, stdout, stderr = cli("simulate", "groups", "--partitions", "12", "--members", "1..4", "-o",
                               tmp_path / "g.json")
    assert code == 0, stderr
    lines = stdout.splitlines()
    join2 = next(l for l in lines if l.split()[:2] == ["join", "2"])
    # range, roundrobin and sticky move half the partitions and pause all (eager);
    # cooperative-sticky pauses only the 6 that move
    assert join2.split()[2:] == ["6/12", "6/12", "6/12", "6/6"]
    total = next(l for l in lines if l.startswith("total")).split()
    assert int(total[3].split("/")[0]) <= int(total[1].split("/")[0])     # sticky <= range


@pytest.mark.parametrize("args, message", [
    (["delivery", "--semantics", "twice"], "unknown semantics 'twice'"),
    (["delivery", "--broker", "kafka"], "unknown broker 'kafka'"),
    (["delivery", "--crash", "2"], "--crash must be within 0..1"),
    (["delivery", "--messages", "0"], "--messages must be a whole number >= 1"),
    (["delivery", "--broker", "queue", "--batch", "20"], "--batch must be within 1..10"),
    (["queue", "--broker", "kinesis"], "unknown broker 'kinesis'"),
    (["queue", "--profile", "spiky"], "spiky"),
    (["queue", "--plot", "x.gif"], ".png or .svg"),
    (["groups", "--assignor", "fair"], "unknown assignor 'fair'"),
    (["groups", "--members", "4..2"], "--members must be increasing"),
    (["groups", "--members", "a..b"], "--members must be a range"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", *args, "-o", out)
    assert code == 2, (stdout, stderr)
    assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()


@pytest.mark.skipif(missing_notice("redis-server") is not None, reason=str(missing_notice("redis-server")))
@pytest.mark.parametrize("sig, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_redis_run_stops_the_server_and_writes_nothing(tmp_path, sig, status):
    import glob
    import signal
    import subprocess
    import time

    pytest.importorskip("redis", reason="the redis client is not installed")
    env = {**__import__("os").environ, "TMPDIR": str(tmp_path)}
    out = tmp_path / "d.json"
    p = subprocess.Popen([sys.executable, "-m", "tradeoff", "simulate", "delivery", "--broker", "redis",
                          "--messages", "1e6", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    try:
        deadline = time.monotonic() + 30
        while not glob.glob(str(tmp_path / "tradeoff-redis-*" / "redis.sock")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert glob.glob(str(tmp_path / "tradeoff-redis-*")), "the server did not start"
        time.sleep(0.5)
        p.send_signal(getattr(signal, sig))
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:            # the test failed: stop the run and its server anyway
            p.terminate()
            p.communicate(timeout=30)
    assert p.returncode == status, err.decode()
    assert not glob.glob(str(tmp_path / "tradeoff-redis-*"))        # stopped, folder removed
    assert not out.exists()
