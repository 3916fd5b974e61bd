"""The stampede suite: its cases, and the scenarios' figures against the closed forms."""
import pytest

from clitools import cli
from tradeoff.suites import stampede as suite


def test_cases_listed():
    code, stdout, _ = cli("list", "stampede")
    assert code == 0
    for name in ("simulate_1m[fix=none]", "sweep", "recomputes[rate=1000,fix=xfetch:beta=1]", "sweep_timing",
                 "real_vs_sim[fix=lock]", "peers[impl=dogpile]", "peers[impl=diskcache]"):
        assert name in stdout, name


def test_sweep_is_ten_by_twenty():
    assert len(suite.SWEEP_FIXES) == 10 and len(suite.SWEEP_RATES) == 20
    assert suite.SWEEP_RATES[0] == 100 and suite.SWEEP_RATES[-1] == 100_000


@pytest.mark.parametrize("fix", ["lock", "swr", "lock:stale=1"])
def test_recomputes_single_flight(fix):
    assert suite.recomputes(rate=1000, fix=fix, seed=1)["recomputes_per_expiry"] == 1.0


def test_recomputes_none_near_closed_form():
    row = suite.recomputes(rate=1000, fix="none", seed=1)
    assert abs(row["recomputes_per_expiry"] - row["none_closed_form"]) < 0.05 * row["none_closed_form"]


def test_peer_rows_skip_or_run():
    pytest.importorskip("dogpile.cache")
    row = suite.peers(impl="dogpile", seed=1)
    assert row["recomputes_per_expiry"] == 1.0 and row["peak_db"] == 1
