"""The ``consistency`` suite: its cases, the pure-Python WGL peer against the checker,
the etcd notice when the histories are missing, and the scenarios on small inputs
(their verdicts and columns)."""
import pytest

import wgl_model
from tradeoff.consistency import check
from tradeoff.consistency.generate import break_history, kv_history, register_history
from tradeoff.harness.errors import Skip
from tradeoff.harness.registry import collect, expand
from tradeoff.suites import consistency as suite

HAVE_HISTORIES = suite.histories_dir() is not None and (suite.histories_dir() / "expected.json").exists()
needs_histories = pytest.mark.skipif(not HAVE_HISTORIES, reason="no reference histories (set TRADEOFF_HISTORIES)")


def test_the_suite_has_its_cases_in_order():
    names = [c.name for c in expand(collect("consistency"))]
    assert names[:7] == ["etcd[impl=tradeoff]", "etcd[impl=python]", "etcd_counterexample",
                         "register_1000[impl=tradeoff]", "register_1000[impl=python]",
                         "kv_10k[impl=tradeoff]", "kv_10k[impl=python]"]
    assert [n for n in names if n.startswith("etcd_verdicts")] == [
        f"etcd_verdicts[history=etcd_{i:03d}]" for i in range(20)]
    assert "check_vs_processes[processes=32]" in names
    assert "worst_case[shape=pending_unknowns,n=20,violation=True]" in names


# -- the peer ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_the_peer_agrees_with_the_checker_and_the_reference(seed):
    h = register_history(40, 1 + seed % 5, seed, unknown_fraction=0.2, cas=0.3)
    b = break_history(h, seed)
    for x in (h, b):
        assert suite.peer_check(x) == check(x, counterexample=False).verdict == wgl_model.check(x)
    k = kv_history(60, 3, 3, seed, unknown_fraction=0.2)
    assert suite.peer_check(k) == "ok"
    assert suite.peer_check(break_history(k, seed)) == "violation"


def test_the_peer_on_small_cases():
    from tradeoff.consistency import Operation as Op
    w = Op(0, "write", 1, result=1, call=0, ret=2)
    assert suite.peer_check([w, Op(1, "read", result=1, call=1, ret=3)]) == "ok"
    assert suite.peer_check([w, Op(1, "read", result=None, call=1, ret=3)]) == "ok"       # read first
    assert suite.peer_check([w, Op(1, "read", result=None, call=3, ret=4)]) == "violation"
    assert suite.peer_check([Op(0, "write", 1, status="unknown", call=0),
                             Op(1, "read", result=1, call=5, ret=6)]) == "ok"          # it took effect
    assert suite.peer_check([Op(0, "cas", (None, 2), status="fail", call=0, ret=1),
                             Op(1, "read", result=2, call=2, ret=3)]) == "violation"   # failed: left out
    assert suite.peer_check([]) == "ok"
    with pytest.raises(ValueError, match="'add'"):
        suite.peer_check([Op(0, "add", 1, call=0, ret=1)])


# -- etcd --------------------------------------------------------------------------------------
def test_missing_histories_are_a_skip_with_a_notice(monkeypatch, tmp_path):
    monkeypatch.setenv("TRADEOFF_HISTORIES", str(tmp_path / "nowhere"))
    suite.etcd_history.cache_clear()
    suite.etcd_expected.cache_clear()
    try:
        with pytest.raises(Skip, match=r"^the Jepsen etcd histories are not here: set TRADEOFF_HISTORIES"):
            suite.etcd_verdicts("etcd_000")
        with pytest.raises(Skip):
            suite.etcd("tradeoff")
        with pytest.raises(Skip):
            suite.etcd_counterexample()
    finally:
        suite.etcd_history.cache_clear()
        suite.etcd_expected.cache_clear()


@needs_histories
@pytest.mark.parametrize("name", ["etcd_000", "etcd_002", "etcd_018"])
def test_etcd_verdicts(name):
    row = suite.etcd_verdicts(name)
    assert row["match"] is True
    assert row["verdict"] == row["expected"] == row["python_verdict"]
    assert row["expected"] == ("ok" if name in ("etcd_002", "etcd_018") else "violation")
    assert 50 < row["n_ops"] < 200 and row["unknown"] > 0 and row["failed"] > 0
    for col in ("steps", "ms", "verdict_ms", "python_ms", "ratio"):
        assert row[col] > 0


@needs_histories
def test_the_etcd_benchmarks_check_every_history():
    out = suite.etcd("tradeoff")()
    want = suite.etcd_expected()
    assert [r.verdict for r in out] == [want[n] for n in suite.ETCD]
    assert [r.verdict for r in suite.etcd_counterexample()()] == [want[n] for n in suite.ETCD]


# -- generated ---------------------------------------------------------------------------------
def test_the_generated_benchmarks_are_linearizable():
    assert suite.register_1000("tradeoff", 1)().verdict == "ok"
    assert suite.register_1000("python", 1)() == "ok"
    assert len(suite.register_case(suite.REGISTER_OPS, 5, 1)) == 1000
    assert suite.kv_case(suite.KV_OPS, 1) is suite.kv_case(suite.KV_OPS, 1)   # built once


def test_check_vs_length():
    row = suite.check_vs_length(300, 2)
    assert row["verdict"] == row["expected"] == row["python_verdict"] == "ok"
    assert set(row) == {"verdict", "expected", "python_verdict", "steps", "ms", "ops_per_s", "python_ms", "ratio"}
    assert row["ops_per_s"] > 0 and row["ratio"] > 0


def test_check_vs_processes():
    row = suite.check_vs_processes(3, 2)
    assert row["verdict"] == row["expected"] == "ok"
    assert row["out_of_memory"] is False
    assert {"steps", "configurations", "ms", "ops_per_s", "python_ms", "ratio"} <= set(row)
    assert row["ratio"] > 0


def test_kv_vs_length(monkeypatch):
    monkeypatch.setattr(suite, "KV_KEYS", 5)
    suite.kv_case.cache_clear()
    try:
        row = suite.kv_vs_length(2000, 3)
    finally:
        suite.kv_case.cache_clear()
    assert row["verdict"] == row["expected"] == "ok"
    assert row["keys"] == 5 and row["ops_per_s"] > 0


@pytest.mark.parametrize("shape", ["concurrent_writes", "pending_unknowns"])
@pytest.mark.parametrize("violation", [False, True])
def test_worst_case(shape, violation):
    row = suite.worst_case(shape, 6, violation, 0)
    assert row["verdict"] == row["expected"] == ("violation" if violation else "ok")
    assert {"n_ops", "steps", "configurations", "out_of_memory", "ms"} <= set(row)


def test_worst_case_reports_unknown_on_budget(monkeypatch):
    monkeypatch.setattr(suite, "BUDGET_STEPS", 50)
    row = suite.worst_case("concurrent_writes", 12, True, 0)
    assert row["verdict"] == "unknown" and row["expected"] == "violation"
    assert row["steps"] <= 50 + 1024
    with pytest.raises(ValueError, match="shape"):
        suite.worst_history("square", 3, False, 0)
