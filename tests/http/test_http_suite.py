"""The cdn suite's pieces that are not timings: the seeded header set and the registry."""
import pytest

from tradeoff.http._workload import header_set


def test_header_set_is_seeded_and_typical():
    a, b, c = header_set(200, 1), header_set(200, 1), header_set(200, 2)
    assert a == b and a != c and len(a) == 200
    for req, status, resp, age in a:
        assert "Date" in resp and resp["Cache-Control"] and age >= 0 and status in (200, 301, 404)
    with pytest.raises(ValueError, match="n must be > 0, got 0"):
        header_set(0)


def test_suite_registers_its_cases():
    from clitools import cli

    code, out, _ = cli("list")
    assert code == 0 and "cdn" in out


def test_hishel_agreement_counts_every_case():
    pytest.importorskip("hishel", reason="hishel not installed (pip install 'hishel>=2,<3')")
    from tradeoff.suites.cdn import hishel_agreement

    r = hishel_agreement(7)
    assert r["cases"] == 1000 and r["same"] + r["differ"] == 1000 and 0.5 < r["agreement"] < 1.0
