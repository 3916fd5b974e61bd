"""The ``replication`` suite: its cases, the SimPy peer model against the simulator
(the same system: means agree in distribution), the notice when SimPy is missing, and
the quick scenarios."""
import sys

import pytest

from tradeoff.harness.errors import Skip
from tradeoff.harness.registry import collect, expand
from tradeoff.replication import simulate
from tradeoff.suites import replication as suite


def test_the_suite_has_its_cases_in_order():
    names = [c.name for c in expand(collect("replication"))]
    assert names[:5] == ["single_leader[impl=tradeoff]", "single_leader[impl=simpy]", "million_ops",
                         "pbs_trials[latency=lnkd-ssd]", "pbs_trials[latency=wan]"]
    assert "staleness[scheme=semisync=1]" in names
    assert [n for n in names if n.startswith("pbs_table")] == [
        "pbs_table[latency=lnkd-ssd]", "pbs_table[latency=lnkd-disk]", "pbs_table[latency=ymmr]",
        "pbs_table[latency=wan]"]
    assert [n for n in names if n.startswith("quorum_availability")] == [
        f"quorum_availability[level={lv}]" for lv in ("ONE", "TWO", "THREE", "QUORUM", "ALL")]


def test_the_simpy_model_simulates_the_same_system():
    pytest.importorskip("simpy")
    ops, keys = 20_000, 10
    theirs = suite.simpy_single_leader(ops=ops, keys=keys, seed=3)
    ours = suite._tradeoff_measures(simulate(n=5, mode="async", reads="follower", clients=10, ops=ops,
                                             read_fraction=0.9, keys=keys, delays="exp:mean=1ms", seed=3))
    assert theirs["reads"] + theirs["writes"] == ops
    # two one-way delays of mean 1 ms per operation
    for name in ("read_mean_ms", "write_mean_ms"):
        assert theirs[name] == pytest.approx(2.0, rel=0.03)
        assert theirs[name] == pytest.approx(ours[name], rel=0.03)
    assert theirs["lag_mean_ms"] == pytest.approx(ours["lag_mean_ms"], rel=0.03)
    # about 1000 stale reads on each side: 3 standard errors of the difference
    assert theirs["stale_pct"] == pytest.approx(ours["stale_pct"], rel=0.15)
    assert theirs["ryw"] > 0 and ours["ryw"] > 0


def test_the_simpy_model_with_writes_only_and_one_follower():
    pytest.importorskip("simpy")
    m = suite.simpy_single_leader(n=2, clients=3, ops=500, read_fraction=0.0, keys=4, seed=1)
    assert (m["reads"], m["writes"], m["stale"], m["ryw"]) == (0, 500, 0, 0)
    assert m["lag_mean_ms"] >= 1.0 * 0.8          # FIFO: never below the mean of one delay, roughly


def test_a_missing_simpy_is_a_skip_with_a_notice(monkeypatch):
    monkeypatch.setitem(sys.modules, "simpy", None)        # import simpy raises ImportError
    with pytest.raises(Skip, match=r"^SimPy single-leader model: simpy not installed \(pip install '\.\[peers\]'\)$"):
        suite.single_leader("simpy", 0)
    with pytest.raises(Skip):
        suite.simpy_agreement(10, 0)
    assert callable(suite.single_leader("tradeoff", 0))


def test_the_quick_scenarios():
    assert suite.quorum_availability("QUORUM") == {"replicas": 2, "overlaps": True, "down_0": 1.0,
                                                   "down_1": 1.0, "down_2": 0.0, "down_3": 0.0}
    assert suite.quorum_availability("ONE")["overlaps"] is False
    row = suite.pbs_table("lnkd-ssd", 0)
    assert row["paper_p_consistent_t0"] == 0.974
    assert row["p_consistent_t0"] == pytest.approx(0.974, abs=0.003)


def test_the_cap_scenario_cp_against_ap():
    rows = {s: suite.cap_partition(s, 0) for s in suite.CAP_SCHEMES}
    for s in ("leader:semisync=1", "leaderless:R=2,W=2,blocking"):
        assert rows[s]["availability_minority"] < 0.1 and rows[s]["stale"] == 0, (s, rows[s])
    assert rows["leader:semisync=1"]["lost_acked"] == 0
    for s in ("leaderless:R=1,W=1", "multileader:lww"):
        assert rows[s]["availability"] > 0.999 and rows[s]["stale"] > 0, (s, rows[s])
    assert rows["multileader:lww"]["conflicts"] > 0


def test_the_multileader_conflicts_scenario():
    rows = {p: suite.multileader_conflicts(p, 0) for p in ("lww", "vv", "crdt")}
    assert rows["lww"]["lost_updates"] > 0 and rows["vv"]["lost_updates"] == 0 == rows["crdt"]["lost_updates"]
    assert rows["vv"]["final_siblings"] >= 0 and rows["lww"]["final_siblings"] != rows["lww"]["final_siblings"]
