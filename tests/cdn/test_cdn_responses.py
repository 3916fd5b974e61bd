"""Per-object responses (status and header fields from a trace) and bounded browser
caches: the Cython loop against the pure-Python model (tests/cdn/cdn_model.py), and
what the headers must do."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cdn_model import Model, as_rows
from tradeoff.cdn import Topology, Workload, generate, parse_header_cell, read_csv, response_profiles, simulate
from tradeoff.cdn._spec import API, IMAGE, PAGE

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
#: responses as a trace gives them: valid, invalid and missing lifetimes, statuses
#: stored by default or never, Surrogate-Control, dates (None: the class's headers)
RESPONSES = [
    (200, {"Cache-Control": "max-age=30"}),
    (200, {"Cache-Control": "max-age=-5"}),                  # invalid: stale at once
    (200, {"Cache-Control": "max-age=ten, public"}),
    (200, {"Cache-Control": "no-store"}),
    (200, {"Cache-Control": "public, max-age=10, stale-while-revalidate=40"}),
    (200, {"Cache-Control": "max-age=5", "Surrogate-Control": "max-age=120"}),
    (200, {"Cache-Control": "max-age=5", "Surrogate-Control": "no-store"}),
    (200, {"Cache-Control": "s-maxage=50, max-age=10"}),
    (200, {"Cache-Control": "max-age=20, must-revalidate, stale-while-revalidate=100"}),
    (200, {"Cache-Control": "private, max-age=100"}),
    (200, {"Cache-Control": "no-cache"}),
    (200, {"Expires": "Sun, 06 Nov 1994 08:50:37 GMT", "Date": DATE}),   # 60 s
    (200, {"Expires": "soon", "Date": DATE}),                           # invalid: expired
    (301, {"Last-Modified": "Sun, 30 Oct 1994 08:49:37 GMT", "Date": DATE}),  # heuristic: 10% of 7 days
    (404, {}),                                                 # storable, no lifetime
    (404, {"Cache-Control": "max-age=60"}),
    (500, {}),                                                 # never stored
    (503, {"Cache-Control": "max-age=60"}),                    # explicit lifetime: stored
    (206, {"Cache-Control": "max-age=60"}),                    # partial content: never stored as such
    (200, None),
    (404, None),
]

COMPARED = ("requests", "hits", "stale_served", "validated_304", "validated_200", "misses", "passed",
            "collapsed", "purged", "forwarded", "bytes_out")

LAYERS = [
    "browser,edge:pops=2:size=2MB,shield:size=5MB,proxy:size=3MB,app:size=1MB,origin",
    "browser:size=150KB,edge:pops=2:size=500KB:collapse=off,proxy:size=1MB,origin",
    "browser:size=40KB,edge:pops=1:size=1MB,db:size=200KB:ttl=5s,origin",
    "browser:size=1MB,origin",
]


def with_responses(w: Workload, seed: int, pool=RESPONSES) -> Workload:
    """``w`` with a response drawn from ``pool`` for each request (seeded)."""
    rng = np.random.default_rng(seed)
    resp = rng.integers(0, len(pool), len(w)).astype(np.int32)
    return Workload(w.time, w.client, w.region, w.cls, w.obj, w.size, w.duration, w.regions, dict(w.info),
                    resp=resp, responses=pool)


def small(seed, n=1500, **kw):
    opts = dict(assets=60, images=80, videos=5, pages=120, api=20, personal=2, clients=40, regions=3,
                duration="3h", churn=0.05)
    opts.update(kw)
    return generate(n, seed=seed, **opts)


def compare(layers, w, **kw):
    r = simulate(layers, w, sigma=0.0, **kw)
    m = Model(layers, w, **{k: v for k, v in kw.items() if k != "push_above"},
              push_above=kw.get("push_above", 10**8))
    m.run()
    want = as_rows(m)
    for row in r.rows:
        got = {k: row[k] for k in COMPARED}
        exp = {k: want[row["layer"]][k] for k in COMPARED}
        assert got == exp, row["layer"]
    return r


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), layers=st.sampled_from(LAYERS),
       assets=st.sampled_from(["hashed", "max-age=300"]), purge=st.sampled_from(["url", "tag", "none"]),
       origin=st.sampled_from(["pull", "push"]), deploy=st.sampled_from(["every=30m", "none"]),
       share=st.sampled_from([0.0, 0.5, 1.0]))
def test_loop_matches_model_with_trace_responses_and_bounded_browsers(seed, layers, assets, purge, origin,
                                                                      deploy, share):
    w = small(seed)
    if share:
        w = with_responses(w, seed)
        if share < 1:                       # some requests keep their class's defaults
            w.resp[np.random.default_rng(seed + 1).random(len(w)) >= share] = -1
    compare(layers, w, assets=assets, purge=purge, origin=origin, deploy=deploy, seed=seed,
            push_above=300_000)


def test_tiny_browser_caches_evict_and_still_match():
    layers = "browser:size=30KB,edge:pops=2:size=200KB,origin"
    w = small(4, n=4000, clients=5)
    r = compare(layers, w, deploy="every=1h")
    big = simulate("browser,edge:pops=2:size=200KB,origin", w, sigma=0.0, deploy="every=1h")
    assert 0 < r.layer("browser")["hits"] < big.layer("browser")["hits"]
    assert r.layer("origin")["requests"] >= big.layer("origin")["requests"]


def test_a_browser_larger_than_every_working_set_is_unbounded():
    w = small(6, n=3000)
    a = simulate("browser:size=1TB,edge,origin", w)
    b = simulate("browser,edge,origin", w)
    assert [r["hits"] for r in a.rows] == [r["hits"] for r in b.rows]


def test_statuses_and_headers_decide_storing():
    topo = Topology("browser,edge,proxy,app,origin")
    prof = response_profiles(topo, [(PAGE, 500, {}), (PAGE, 206, {"Cache-Control": "max-age=60"}),
                                    (PAGE, 404, {}), (PAGE, 200, {"Cache-Control": "max-age=-1"}),
                                    (API, 200, {"Cache-Control": "max-age=5", "Surrogate-Control": "max-age=99"}),
                                    (IMAGE, 200, {"Cache-Control": "private, max-age=9"})])
    e500, e206, e404, bad, surr, priv = prof
    assert not any(p[0] for p in e500)                   # 500 without freshness: nobody stores it
    assert not any(p[0] for p in e206[:3])               # 206 is never stored as such
    assert all(p[0] for p in e404[:3]) and e404[1][1] == 0   # heuristically cacheable, no lifetime given
    assert bad[0] == (True, 0.0, 0.0)                    # invalid max-age: stored, stale at once
    assert surr[1][1] == 99 and surr[2][1] == 5 and surr[0][1] == 5
    assert priv[0][0] and not priv[1][0] and not priv[2][0]
    assert e404[3][0] is False and surr[3] == (True, 30.0, 0.0)   # app: 200 pages and API only


def test_csv_status_and_header_columns(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text(
        "time,client,url,size,status,cache-control,headers\n"
        "0,a,/p,1000,200,max-age=60,Surrogate-Control: max-age=600\n"
        "1,b,/p,1000,200,max-age=60,\n"
        "2,a,/no,500,,no-store,\n"
        "3,a,/no,500,,no-store,\n"
        "4,c,/err,10,500,,\n"
        "5,c,/err,10,500,,\n"
        "6,a,/bad,10,200,max-age=-1,oops\n"
        "7,a,/bad,10,304,,\n"
        '9,a,/exp,10,200,,"Expires: Thu, 01 Jan 1970 00:01:00 GMT"\n'
        "30,a,/exp,10,200,,\n")
    w = read_csv(trace)
    assert w.info["responses"] == 7 and w.info["garbled_header_fields"] == 1
    # /exp's Expires is one minute after its Date, which the row's time (9 s) gives: 51 s
    assert ("date", "Thu, 01 Jan 1970 00:00:09 GMT") in w.responses[w.resp[8]][1].items()
    r = compare("browser,edge:pops=1,origin", w, deploy="none")
    edge = r.layer("edge")
    assert r.layer("browser")["hits"] == 1               # /exp at 30 s: fresh (51 s)
    assert edge["hits"] == 1                             # /p from b: Surrogate-Control at the edge
    assert edge["passed"] == 4                           # /no twice, /err twice: never stored
    assert r.layer("browser")["validated_304"] == 1      # /bad: invalid max-age, stale at once
    no_headers = tmp_path / "plain.csv"
    no_headers.write_text("time,client,url,size,status\n0,a,/p,1,404\n1,a,/p,1,\n")
    w2 = read_csv(no_headers)
    assert w2.responses == [(404, None), (200, None)]    # the URL's class headers, the row's status
    assert w2.resp.tolist() == [0, 1]


def test_header_cell_format():
    assert parse_header_cell("") == ({}, 0)
    assert parse_header_cell("Expires: Sun, 06 Nov 1994 08:49:37 GMT; ETag: \"a;b\"") == (
        {"expires": "Sun, 06 Nov 1994 08:49:37 GMT", "etag": '"a;b"'}, 0)
    assert parse_header_cell("no colon here") == ({}, 1)


@pytest.mark.parametrize("status", ["abc", "99", "1000", "2.5"])
def test_bad_status_is_one_error_naming_the_line(tmp_path, status):
    trace = tmp_path / "t.csv"
    trace.write_text(f"time,client,url,size,status\n0,a,/p,1,200\n1,a,/p,1,{status}\n")
    with pytest.raises(ValueError, match=r"line 3: status must be an HTTP status code"):
        read_csv(trace)


def test_bounded_browser_spec():
    t = Topology("browser:size=50MB:policy=lru,edge,origin")
    assert t.browser_size == 50 * 10**6
    assert Topology("browser,origin").browser_size == 0
    with pytest.raises(ValueError, match="browser caches evict the least recently used"):
        Topology("browser:policy=s3fifo,origin")
    with pytest.raises(ValueError, match="unknown option 'pops' for layer browser"):
        Topology("browser:pops=2,origin")
    with pytest.raises(ValueError, match="browser size must be"):
        Topology("browser:size=-1MB,origin")


def test_empty_bodies_take_one_byte_in_a_cache_and_still_match():
    # published traces hold 0-byte objects (redirects, 204s): they are stored, and counted
    w = small(9, n=2000, clients=4)
    size = w.size.copy()
    size[w.obj % 3 == 0] = 0
    w = Workload(w.time, w.client, w.region, w.cls, w.obj, size, w.duration, w.regions)
    r = compare("browser:size=20KB,edge:pops=2:size=100KB,proxy:size=50KB,origin", w, deploy="every=1h")
    assert r.layer("edge")["hits"] > 0
