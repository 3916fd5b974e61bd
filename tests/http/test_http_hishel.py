"""tradeoff.http against hishel (an RFC 9111 implementation in Python) on generated
headers: the same store / serve / validate decisions.

Method: on the space of header combinations where neither side has a documented choice
to make, every decision must be the same (``test_same_decisions``); each documented
difference is a row of ``DIFFERENCES`` with its reason and an example that is asserted
to still differ (``test_documented_difference_still_differs``), so that the table
cannot go stale. hishel's clock is pinned (its ``time.time``) to make it deterministic.
"""
import types
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from http_gen import DATE0, imf
from tradeoff.http import FRESH, MISS, MUST_VALIDATE, STALE_OK, Request, StoredResponse, decide, storable

hishel = pytest.importorskip("hishel", reason="hishel not installed (pip install 'hishel>=2,<3')")
from hishel._core import _spec  # noqa: E402


def hishel_decision(req, status, resp, now, shared):
    """(stored, action) by hishel: CacheMiss.next for storing, IdleClient.next for reuse."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_spec, "time", types.SimpleNamespace(time=lambda: now))
        return _hishel_decision(req, status, resp, shared)


def _hishel_decision(req, status, resp, shared):
    opts = hishel.CacheOptions(shared=shared)
    hreq = hishel.Request("GET", "http://x/a", hishel.Headers(dict(req)))
    hresp = hishel.Response(status, hishel.Headers(dict(resp)))
    state = _spec.CacheMiss(request=hreq, options=opts).next(hresp)
    if not isinstance(state, hishel.StoreAndUse):
        return False, MISS
    entry = hishel.Entry(uuid.uuid4(), hreq, state.response)
    nxt = hishel.IdleClient(options=opts).next(hreq, [entry])
    if isinstance(nxt, hishel.FromCache):
        return True, FRESH
    if isinstance(nxt, hishel.NeedRevalidation):
        return True, MUST_VALIDATE
    return True, MISS


def ours(req, status, resp, now, shared):
    request = Request("GET", req)
    stored = StoredResponse(status, resp, request, DATE0, DATE0)
    if not storable(request, stored, shared):
        return False, MISS
    return True, decide(request, stored, now, shared).action


SAME_SPACE_DIRECTIVES = ["max-age=0", "max-age=10", "max-age=100", 's-maxage=50', "no-cache", "no-store",
                         "private", "public", "must-revalidate", "proxy-revalidate", "immutable"]


@st.composite
def same_space(draw):
    """Headers where no documented difference applies: Date always present (hishel's
    age is Date-based), no Age, valid directives without duplicates, Last-Modified only
    beside a lifetime that applies to the cache (s-maxage: shared ones only), request
    Cache-Control no-cache or nothing."""
    cc = draw(st.lists(st.sampled_from(SAME_SPACE_DIRECTIVES), unique_by=lambda d: d.split("=")[0],
                       max_size=4))
    resp = {"Date": imf(DATE0)}
    if cc:
        resp["Cache-Control"] = ", ".join(cc)
    exp = draw(st.sampled_from([None, None, 40, -40, "0"]))
    if exp is not None:
        resp["Expires"] = exp if isinstance(exp, str) else imf(DATE0 + exp)
    shared = draw(st.booleans())
    # s-maxage is a lifetime for a shared cache only: a private one falls back on the
    # heuristic, whose base is a documented difference ("heuristic-base")
    explicit = exp is not None or any(c.startswith(("max-age", "s-maxage") if shared else "max-age") for c in cc)
    if explicit and draw(st.booleans()):
        resp["Last-Modified"] = imf(DATE0 - 1000)
    if draw(st.booleans()):
        resp["ETag"] = '"v"'
    req = {}
    if draw(st.integers(0, 3)) == 0:
        req["Cache-Control"] = "no-cache"
    if draw(st.integers(0, 4)) == 0:
        req["Authorization"] = "Basic eDp5"
    status = draw(st.sampled_from([200, 203, 204, 206, 301, 302, 304, 404, 500]))
    resident = draw(st.sampled_from([0, 5, 9, 10, 11, 39, 41, 50, 99, 100, 101]))
    return req, status, resp, DATE0 + resident, shared


@settings(max_examples=600, deadline=None)
@given(same_space())
def test_same_decisions(ex):
    req, status, resp, now, shared = ex
    assert ours(req, status, resp, now, shared) == hishel_decision(req, status, resp, now, shared), ex


#: (name, request headers, status, response headers, seconds since Date, shared, ours, hishel's, reason)
DIFFERENCES = [
    ("request-no-store", {"Cache-Control": "no-store"}, 200, {"Cache-Control": "max-age=60"}, 0, True,
     (False, MISS), (True, FRESH),
     "RFC 9111 §5.2.1.5: a cache MUST NOT store a response to a request with no-store; hishel reads only "
     "the response to decide on storing"),
    ("invalid-max-age", {}, 200, {"Cache-Control": "max-age=-1", "Expires": imf(DATE0 + 100)}, 10, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §4.2.1 encourages treating invalid freshness information as stale; hishel drops the "
     "invalid max-age and falls back to Expires"),
    ("duplicate-max-age", {}, 200, {"Cache-Control": "max-age=100, max-age=5"}, 10, True,
     (True, FRESH), (True, MUST_VALIDATE),
     "RFC 9111 §4.2.1: use the first occurrence (our choice) or treat as stale; hishel uses the last"),
    ("heuristic-base", {}, 200, {"Last-Modified": imf(DATE0 - 1000)}, 105, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §4.2.2 heuristic: we take 10% of Date - Last-Modified (100 s, fixed at receipt); hishel "
     "takes 10% of now - Last-Modified, which grows while the response sits in the cache"),
    ("age-header", {}, 200, {"Cache-Control": "max-age=60", "Age": "50"}, 20, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §4.2.3: the Age header adds to the current age (corrected_age_value); hishel's age is "
     "now - Date only"),
    ("no-date", {}, 200, {"Cache-Control": "max-age=60", "Date": None}, 100, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §4.2.3 with RFC 9110 §6.6.1: without Date the receipt time stands for it and resident time "
     "still adds; hishel's age is 0 without Date, so the response never goes stale"),
    ("request-max-age", {"Cache-Control": "max-age=5"}, 200, {"Cache-Control": "max-age=60"}, 10, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §5.2.1.1: the request's max-age bounds the age it accepts; hishel ignores it"),
    ("request-min-fresh", {"Cache-Control": "min-fresh=30"}, 200, {"Cache-Control": "max-age=60"}, 40, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §5.2.1.3: min-fresh; hishel ignores it"),
    ("request-max-stale", {"Cache-Control": "max-stale=30"}, 200, {"Cache-Control": "max-age=60"}, 70, True,
     (True, STALE_OK), (True, MUST_VALIDATE),
     "RFC 9111 §5.2.1.2: max-stale allows a stale response; hishel serves stale only with its allow_stale "
     "option, and then regardless of max-stale"),
    ("stale-while-revalidate", {}, 200, {"Cache-Control": "max-age=60, stale-while-revalidate=30"}, 70, True,
     (True, STALE_OK), (True, MUST_VALIDATE),
     "RFC 5861 §3: served stale while revalidating in the background; hishel does not implement it"),
    ("qualified-no-cache", {}, 200, {"Cache-Control": 'max-age=60, no-cache="Set-Cookie"'}, 10, True,
     (True, MUST_VALIDATE), (True, FRESH),
     "RFC 9111 §5.2.2.4 qualified no-cache: we take the most restrictive reading (validate, §4.2.1); "
     "hishel reuses it without validation"),
    ("qualified-private", {}, 200, {"Cache-Control": 'max-age=60, private="X-User"'}, 10, True,
     (False, MISS), (True, FRESH),
     "RFC 9111 §5.2.2.7 qualified private: a shared cache MAY store the response without the named "
     "fields; we do not store it at all (most restrictive), hishel stores it whole"),
]


@pytest.mark.parametrize("row", DIFFERENCES, ids=[d[0] for d in DIFFERENCES])
def test_documented_difference_still_differs(row):
    name, req, status, resp, resident, shared, want_ours, want_hishel, reason = row
    resp = {"Date": imf(DATE0), **resp}
    resp = {k: v for k, v in resp.items() if v is not None}
    now = DATE0 + resident
    got_ours = ours(req, status, resp, now, shared)
    got_hishel = hishel_decision(req, status, resp, now, shared)
    assert got_ours == want_ours, (name, reason)
    assert got_hishel == want_hishel, f"{name}: hishel changed ({got_hishel}); revisit the table"
    assert got_ours != got_hishel and reason


def _cause(req, resp, ours_action, stored):
    """The documented difference (a DIFFERENCES name) that explains a disagreement, or None."""
    from tradeoff.http import freshness, parse_cache_control

    rcc = parse_cache_control(req.get("Cache-Control"))
    cc = parse_cache_control(resp.get("Cache-Control"))
    if "max-stale" in rcc and ours_action == STALE_OK:
        return "request-max-stale"
    if "max-age" in rcc or "min-fresh" in rcc:
        return "request-max-age" if "max-age" in rcc else "request-min-fresh"
    if "stale-while-revalidate" in cc and ours_action == STALE_OK:
        return "stale-while-revalidate"
    if set(cc.duplicates) & {"max-age", "s-maxage"}:
        return "duplicate-max-age"
    if freshness(stored)[1].startswith("heuristic"):
        return "heuristic-base"
    return None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_difference_on_the_suite_set_is_documented(seed):
    """On the cdn suite's generated header set (1000 per seed), each disagreement with
    hishel has a documented cause from DIFFERENCES."""
    from tradeoff.http._workload import DATE0 as D0, header_set

    names = {d[0] for d in DIFFERENCES}
    seen = set()
    for req, status, resp, age in header_set(1000, seed):
        now = D0 + age
        request = Request("GET", req)
        stored = StoredResponse(status, resp, request, D0, D0)
        mine = (True, decide(request, stored, now).action) if storable(request, stored) else (False, MISS)
        theirs = hishel_decision(req, status, resp, now, True)
        if mine != theirs:
            cause = _cause(req, resp, mine[1], stored)
            assert cause in names, (req, status, resp, age, mine, theirs)
            seen.add(cause)
    assert seen, "no difference at all: the generated set no longer exercises them"
