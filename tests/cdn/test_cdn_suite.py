"""The cdn suite's simulation scenarios: the strategies differ the way they must."""
from tradeoff.suites import cdn


def test_scenarios_order_the_strategies():
    hashed = cdn.cdn_assets("hashed", 0)
    stable = cdn.cdn_assets("max-age=300", 0)
    assert hashed["stale_served"] < stable["stale_served"]
    assert stable["max_stale_window_s"] <= 300 + 5      # max-age, plus the purge's propagation
    assert hashed["origin_requests"] < stable["origin_requests"]   # no revalidations of immutable assets
    pull, push = cdn.cdn_origin("pull", 0), cdn.cdn_origin("push", 0)
    assert push["origin_requests"] < pull["origin_requests"]
    url, tag = cdn.cdn_purge("url", 0), cdn.cdn_purge("tag", 0)
    assert tag["stale_served"] <= url["stale_served"]


def test_throughput_scenario_reports_rates():
    r = cdn.simulation_throughput(0)
    assert r["requests"] == cdn.CDN_REQUESTS
    assert r["loop_requests_per_s"] >= r["end_to_end_requests_per_s"] > 0


def test_smaller_browser_caches_absorb_less():
    rows = [cdn.cdn_browser_size(b, 0) for b in ("unbounded", "1MB", "200KB")]
    ratios = [r["browser_hit_ratio"] for r in rows]
    assert ratios[0] > ratios[1] > ratios[2] > 0
    assert rows[0]["origin_requests"] <= rows[2]["origin_requests"]
