"""``tradeoff http explain``."""
import json

import pytest

from clitools import cli


def test_table_for_both_caches():
    code, out, err = cli("http", "explain", "-H", "Cache-Control: max-age=60, s-maxage=600",
                         "-H", 'ETag: "x"', "--age", "120")
    assert code == 0 and err == ""
    browser, shared = out.split("shared cache (proxy / CDN)")
    assert "browser (private cache)" in browser
    assert "60 s from max-age" in browser and "MUST_VALIDATE" in browser and 'If-None-Match: "x"' in browser
    assert "600 s from s-maxage" in shared and "FRESH" in shared


def test_json_private_only_with_request_headers():
    code, out, _ = cli("http", "explain", "-H", "Cache-Control: max-age=60", "--private", "--age", "10",
                       "--request-header", "Cache-Control: no-cache", "--format", "json")
    data = json.loads(out)
    assert code == 0 and "shared" not in data
    assert data["browser"]["action"] == "MUST_VALIDATE" and "§5.2.1.4" in data["browser"]["reason"]


def test_reports_malformed_values():
    code, out, _ = cli("http", "explain", "-H", "Cache-Control: max-age=-1", "-H", "Expires: 0", "--shared")
    assert code == 0
    assert "warning: Cache-Control: max-age=-1 is not valid delta-seconds" in out
    assert "warning: Expires: '0' is not an HTTP-date: treated as already expired" in out
    assert "0 s from max-age (invalid" in out


def test_surrogate_control_for_the_cdn_only():
    code, out, _ = cli("http", "explain", "-H", "Surrogate-Control: max-age=600", "-H", "Cache-Control: no-store",
                       "--age", "30", "--format", "json")
    data = json.loads(out)
    assert data["shared"]["action"] == "FRESH" and data["shared"]["lifetime"] == 600
    assert data["browser"]["storable"] is False and "removed by the CDN" in data["browser"]["note"]


@pytest.mark.parametrize("args, msg", [
    (["-H", "no colon here"], "malformed header 'no colon here'"),
    (["-H", "Cache-Control: max-age=1", "--age", "-5"], "--age must be >= 0, got -5"),
    (["-R", ": x"], "malformed header"),
    (["--status", "42"], "--status must be from 100 to 999"),
])
def test_bad_input_is_one_line_exit_2(args, msg):
    code, out, err = cli("http", "explain", *args)
    assert code == 2 and out == ""
    assert msg in err and err.count("\n") == 1
