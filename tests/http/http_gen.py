"""Generated header combinations for the HTTP caching tests (hypothesis strategies and
a seeded generator shared with the cdn suite's shape)."""
import email.utils

from hypothesis import strategies as st

DATE0 = 1_700_000_000.0   # the origin's clock when it made the response


def imf(t):
    return email.utils.formatdate(t, usegmt=True)


RESPONSE_DIRECTIVES = ["max-age=0", "max-age=10", "max-age=100", "max-age=-1", "max-age=abc", 'max-age="30"',
                       "s-maxage=50", "s-maxage=x", "no-cache", "no-store", "private", "public",
                       "must-revalidate", "proxy-revalidate", "stale-while-revalidate=20", "immutable",
                       "stale-if-error=60"]
REQUEST_DIRECTIVES = ["no-cache", "max-age=0", "max-age=30", "max-stale", "max-stale=15", "min-fresh=20",
                      "no-store", "max-age=zz"]


@st.composite
def exchange(draw):
    """(method, request headers, status, response headers, request_time, response_time, now, shared)."""
    resp = {}
    cc = draw(st.lists(st.sampled_from(RESPONSE_DIRECTIVES), max_size=4))
    if cc:
        resp["Cache-Control"] = ", ".join(cc)
    delay = draw(st.sampled_from([0, 0, 2]))
    skew = draw(st.sampled_from([0, 0, 5, -5]))      # origin clock minus cache clock
    if draw(st.booleans()):
        resp["Date"] = imf(DATE0)
    which = draw(st.sampled_from(["none", "none", "future", "past", "zero"]))
    if which != "none":
        resp["Expires"] = {"future": imf(DATE0 + 40), "past": imf(DATE0 - 40), "zero": "0"}[which]
    if draw(st.booleans()):
        resp["Last-Modified"] = imf(DATE0 - draw(st.sampled_from([100, 1000, 10 ** 7])))
    if draw(st.booleans()):
        resp["ETag"] = draw(st.sampled_from(['"v1"', 'W/"v1"']))
    if draw(st.booleans()):
        resp["Age"] = draw(st.sampled_from(["3", "30", "x", "4, 9"]))
    req = {}
    rcc = draw(st.lists(st.sampled_from(REQUEST_DIRECTIVES), max_size=2))
    if rcc:
        req["Cache-Control"] = ", ".join(rcc)
    if draw(st.integers(0, 5)) == 0:
        req["Authorization"] = "Basic eDp5"
    status = draw(st.sampled_from([200, 200, 203, 204, 206, 301, 302, 304, 307, 404, 500, 501]))
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]))
    received = DATE0 - skew + delay
    request_time = received - delay
    now = received + draw(st.sampled_from([0, 5, 9, 10, 11, 25, 39, 60, 99, 100, 130, 500]))
    shared = draw(st.booleans())
    return method, req, status, resp, request_time, received, now, shared
