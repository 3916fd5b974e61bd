"""tradeoff.http against the RFC text: a reference model (http_reference.py) on generated
header combinations, and the rules one by one with their RFC sections."""
import pytest
from hypothesis import given, settings

import http_reference as ref
from http_gen import DATE0, exchange, imf
from tradeoff.http import (FRESH, INVALID, MISS, MUST_VALIDATE, STALE_OK, Request, StoredResponse,
                           current_age, decide, freshness, freshness_lifetime, not_modified, on_304,
                           parse_cache_control, parse_etag, parse_http_date, storable,
                           strip_surrogate, strong_match, vary_matches, weak_match)


def _lower(h):
    return {k.lower(): v for k, v in h.items()}


@settings(max_examples=1500, deadline=None)
@given(exchange())
def test_against_reference_model(ex):
    method, req, status, resp, request_time, received, now, shared = ex
    request = Request(method, req)
    stored = StoredResponse(status, resp, request, request_time, received)
    stored._check()
    want_store = ref.storable(method, _lower(req), status, _lower(resp), shared)
    assert storable(request, stored, shared) == want_store
    assert freshness_lifetime(stored, shared) == pytest.approx(
        ref.lifetime(status, _lower(resp), received, shared))
    assert current_age(stored, now) == pytest.approx(ref.age(_lower(resp), request_time, received, now))
    if want_store and method == "GET":
        want = ref.action(_lower(req), status, _lower(resp), request_time, received, now, shared)
        got = decide(request, stored, now, shared)
        assert got.action == want, (got.reason, ex)
        if got.action == MUST_VALIDATE:
            assert ("If-None-Match" in got.conditional) == ("ETag" in resp)
            assert ("If-Modified-Since" in got.conditional) == ("Last-Modified" in resp)


# ---- parsing ---------------------------------------------------------------------------

def test_cache_control_quoted_strings_and_duplicates():
    d = parse_cache_control('No-Cache="Set-Cookie, X-Y", max-age="20", max-age=5, foo="a\\"b"')
    assert d["no-cache"] == "Set-Cookie, X-Y" and d["foo"] == 'a"b'
    assert d.delta("max-age") == 20                  # quoted form accepted (§5.2), first wins (§4.2.1)
    assert d.duplicates == ("max-age",) and d.problems


@pytest.mark.parametrize("value", ["max-age=-1", "max-age=1.5", "max-age=", "max-age", "max-age=x"])
def test_invalid_max_age_is_stale(value):
    assert parse_cache_control(value).delta("max-age") is INVALID
    r = StoredResponse(200, {"Cache-Control": value, "Expires": imf(DATE0 + 100), "Date": imf(DATE0)})
    assert freshness(r) == (0, "max-age (invalid: stale, RFC 9111 §4.2.1)")


def test_delta_seconds_overflow_is_2_31():
    assert parse_cache_control("max-age=99999999999999999999").delta("max-age") == 2 ** 31


def test_http_date_formats():
    t = 784111777.0
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == t
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == t
    for bad in ("0", "-1", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "tomorrow"):
        assert parse_http_date(bad) is None
    # a two-digit year more than 50 years ahead is in the past century (RFC 9110 §5.6.7)
    now = parse_http_date("Mon, 01 Jan 2024 00:00:00 GMT")
    assert parse_http_date("Tuesday, 01-Jan-80 00:00:00 GMT", now) == 315532800.0
    assert parse_http_date("Friday, 01-Jan-60 00:00:00 GMT", now) > now


def test_invalid_expires_is_already_expired():
    r = StoredResponse(200, {"Expires": "0", "Date": imf(DATE0)}, response_time=DATE0)
    assert freshness(r)[0] == 0
    assert decide(Request(), r, DATE0).action == MUST_VALIDATE
    # max-age beats Expires (RFC 9111 §5.3)
    r = StoredResponse(200, {"Expires": "0", "Cache-Control": "max-age=60"}, response_time=DATE0)
    assert decide(Request(), r, DATE0 + 30).action == FRESH


def test_etag_comparison():
    s, w, w2 = parse_etag('"1"'), parse_etag('W/"1"'), parse_etag('W/"2"')
    assert strong_match(s, s) and not strong_match(w, w) and not strong_match(s, w)
    assert weak_match(s, w) and weak_match(w, w) and not weak_match(w, w2)
    assert parse_etag("1") is None


# ---- storing ---------------------------------------------------------------------------

def test_authorization_in_a_shared_cache():
    req = Request("GET", {"Authorization": "Bearer t"})
    assert not storable(req, StoredResponse(200, {"Cache-Control": "max-age=60"}, req))
    assert storable(req, StoredResponse(200, {"Cache-Control": "max-age=60"}, req), shared=False)
    for cc in ("public", "s-maxage=10", "must-revalidate"):
        assert storable(req, StoredResponse(200, {"Cache-Control": cc}, req))


def test_status_codes_and_methods():
    assert storable(Request(), StoredResponse(404))               # heuristically cacheable
    assert not storable(Request(), StoredResponse(302))           # not, and nothing explicit
    assert storable(Request(), StoredResponse(302, {"Cache-Control": "max-age=5"}))
    assert not storable(Request("POST"), StoredResponse(200, {"Cache-Control": "max-age=5"}))
    assert not storable(Request("GET", {"Cache-Control": "no-store"}), StoredResponse(200))


# ---- freshness and age -------------------------------------------------------------------

def test_lifetime_order():
    h = {"Cache-Control": "max-age=60, s-maxage=600", "Expires": imf(DATE0 + 5), "Date": imf(DATE0)}
    assert freshness(StoredResponse(200, h)) == (600, "s-maxage")
    assert freshness(StoredResponse(200, h), shared=False) == (60, "max-age")
    h = {"Expires": imf(DATE0 + 5), "Date": imf(DATE0)}
    assert freshness(StoredResponse(200, h)) == (5, "Expires - Date")
    h = {"Date": imf(DATE0), "Last-Modified": imf(DATE0 - 1000)}
    assert freshness_lifetime(StoredResponse(200, h)) == 100
    assert freshness_lifetime(StoredResponse(200, {"Date": imf(DATE0), "Last-Modified": imf(0)})) == 7 * 86400
    assert freshness_lifetime(StoredResponse(302, h)) == 0         # no heuristic for 302 ...
    assert freshness_lifetime(StoredResponse(302, {**h, "Cache-Control": "public"})) == 100   # ... unless public


def test_age_uses_the_response_delay():
    r = StoredResponse(200, {"Age": "10", "Date": imf(DATE0)}, request_time=DATE0, response_time=DATE0 + 2)
    assert current_age(r, DATE0 + 12) == 22             # max(2, 10 + 2) + 10
    r = StoredResponse(200, {"Date": imf(DATE0 - 50)}, response_time=DATE0)
    assert current_age(r, DATE0) == 50                  # apparent age


# ---- reuse -------------------------------------------------------------------------------

def _r(cc, **kw):
    return StoredResponse(200, {"Cache-Control": cc, "ETag": '"e"', "Last-Modified": imf(DATE0 - 10)},
                          response_time=DATE0, **kw)


def test_decide_each_rule():
    R = Request
    assert decide(R(), None, DATE0).action == MISS
    assert decide(R(), _r("max-age=60"), DATE0 + 59).action == FRESH
    d = decide(R(), _r("max-age=60"), DATE0 + 60)
    assert d.action == MUST_VALIDATE and d.conditional == {"If-None-Match": '"e"',
                                                          "If-Modified-Since": imf(DATE0 - 10)}
    assert decide(R(), _r("max-age=60, no-cache"), DATE0).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "no-cache"}), _r("max-age=60"), DATE0).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "max-age=5"}), _r("max-age=60"), DATE0 + 6).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "min-fresh=20"}), _r("max-age=60"), DATE0 + 50).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "max-stale=10"}), _r("max-age=60"), DATE0 + 70).action == STALE_OK
    assert decide(R("GET", {"Cache-Control": "max-stale=10"}), _r("max-age=60"), DATE0 + 71).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "max-stale"}), _r("max-age=60"), DATE0 + 10 ** 6).action == STALE_OK
    assert decide(R("GET", {"Cache-Control": "max-stale"}), _r("max-age=60, must-revalidate"),
                  DATE0 + 61).action == MUST_VALIDATE
    assert decide(R("GET", {"Cache-Control": "max-stale"}), _r("max-age=60, proxy-revalidate"),
                  DATE0 + 61, shared=False).action == STALE_OK
    swr = decide(R(), _r("max-age=60, stale-while-revalidate=30"), DATE0 + 80)
    assert swr.action == STALE_OK and swr.background and swr.conditional
    assert decide(R(), _r("max-age=60, stale-if-error=30"), DATE0 + 80).action == MUST_VALIDATE
    assert decide(R(), _r("max-age=60, stale-if-error=30"), DATE0 + 80, error=True).action == STALE_OK
    assert decide(R("GET", {"Cache-Control": "stale-if-error=30"}), _r("max-age=60"), DATE0 + 80,
                  error=True).action == STALE_OK
    assert decide(R("POST"), _r("max-age=60"), DATE0).action == MISS


def test_immutable_reload_in_a_browser_only():
    reload, force = Request("GET", {"Cache-Control": "max-age=0"}), Request("GET", {"Cache-Control": "no-cache"})
    r = _r("max-age=600, immutable")
    assert decide(reload, r, DATE0 + 5, shared=False).action == FRESH
    assert decide(force, r, DATE0 + 5, shared=False).action == MUST_VALIDATE
    assert decide(reload, r, DATE0 + 5, shared=True).action == MUST_VALIDATE


def test_vary():
    req = Request("GET", {"Accept-Encoding": "gzip, br"})
    r = StoredResponse(200, {"Cache-Control": "max-age=60", "Vary": "accept-encoding"}, req)
    assert vary_matches(Request("GET", {"accept-encoding": "gzip,br"}), r)
    assert not vary_matches(Request("GET", {"Accept-Encoding": "gzip"}), r)
    assert not vary_matches(Request(), r)
    assert decide(Request("GET", {"Accept-Encoding": "gzip"}), r, 1.0).action == MISS
    star = StoredResponse(200, {"Cache-Control": "max-age=60", "Vary": "*"}, req)
    assert not vary_matches(req, star)


def test_on_304_freshens():
    r = _r("max-age=60")
    new = on_304(r, {"ETag": '"e"', "Cache-Control": "max-age=120", "Content-Length": "0"}, DATE0 + 100, DATE0 + 101)
    assert new is not None and new.headers["cache-control"] == "max-age=120"
    assert "content-length" not in new.headers
    assert decide(Request(), new, DATE0 + 200).action == FRESH
    assert on_304(r, {"ETag": '"other"'}, DATE0, DATE0) is None
    assert on_304(r, {"ETag": 'W/"e"'}, DATE0, DATE0) is not None           # weak match
    assert on_304(r, {"Last-Modified": imf(DATE0 - 10)}, DATE0, DATE0) is not None
    assert on_304(r, {}, DATE0, DATE0) is None                              # it has validators


def test_not_modified_at_the_origin():
    assert not_modified({"If-None-Match": 'W/"a", "b"'}, '"b"', None)
    assert not not_modified({"If-None-Match": '"a"', "If-Modified-Since": imf(DATE0)}, '"b"', imf(DATE0 - 5))
    assert not_modified({"If-Modified-Since": imf(DATE0)}, None, imf(DATE0 - 5))
    assert not not_modified({"If-Modified-Since": imf(DATE0)}, None, imf(DATE0 + 5))


def test_surrogate_control():
    h = {"Surrogate-Control": "max-age=600", "Cache-Control": "max-age=0, no-cache"}
    r = StoredResponse(200, h, response_time=DATE0)
    assert decide(Request(), r, DATE0 + 300, surrogate=True).action == FRESH
    assert decide(Request(), r, DATE0 + 300).action == MUST_VALIDATE            # not a surrogate
    assert "surrogate-control" not in strip_surrogate(h)
    assert not storable(Request(), StoredResponse(200, {"Surrogate-Control": "no-store",
                                                        "Cache-Control": "max-age=60"}), surrogate=True)
    ext = StoredResponse(200, {"Surrogate-Control": "max-age=10+30"}, response_time=DATE0)
    assert decide(Request(), ext, DATE0 + 20, surrogate=True).action == STALE_OK
    assert decide(Request(), ext, DATE0 + 41, surrogate=True).action == MUST_VALIDATE


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="status must be"):
        StoredResponse(42)
    with pytest.raises(ValueError, match="request_time must be"):
        StoredResponse(200, request_time=5.0, response_time=1.0)
