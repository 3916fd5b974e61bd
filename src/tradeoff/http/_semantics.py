"""What an HTTP cache does with a request and a stored response: RFC 9111 (HTTP
Caching), with RFC 5861 (stale-while-revalidate, stale-if-error), RFC 8246
(immutable), RFC 9110 (validators, conditional requests, HTTP-date) and the Edge
Architecture Specification 1.0 (Surrogate-Control, for a CDN tier).

Choices where the RFC leaves one (each is stated where it is applied):

* a duplicated directive: the first occurrence is used (RFC 9111 §4.2.1);
* invalid freshness information (``max-age=-1``, ``max-age=1.5``, ``s-maxage=x``):
  the response is stale (lifetime 0), as RFC 9111 §4.2.1 encourages; an invalid
  ``Expires`` (``0``, a bad date) means "already expired" (RFC 9111 §5.3);
* heuristic freshness (RFC 9111 §4.2.2): 10% of ``Date - Last-Modified``, at most
  :data:`HEURISTIC_CAP` (7 days), only for a heuristically cacheable status (RFC 9110
  §15.1) or a ``public`` response, and never when an explicit lifetime is present;
* the qualified forms ``no-cache="field"`` and ``private="field"`` are treated as
  their unqualified forms (the most restrictive reading, RFC 9111 §4.2.1 last
  paragraph, §5.2.2.4, §5.2.2.7);
* an invalid argument of a request directive (``max-age=x``) is ignored;
* ``immutable`` (RFC 8246) is honoured by a private cache only: during the freshness
  lifetime a reload (request ``max-age=0``) is answered from the cache; a force
  reload (request ``no-cache``) still validates;
* Surrogate-Control, for a surrogate (``surrogate=True``): when the field is present
  it alone decides storing (``no-store``) and the lifetime (``max-age=N[+M]``, M
  seconds of stale service); the surrogate ignores Cache-Control then, and removes
  Surrogate-Control before forwarding (:func:`strip_surrogate`);
* ``Pragma: no-cache`` is not honoured (RFC 9111 §5.4 deprecates Pragma).
"""
from __future__ import annotations

from ._parse import (INVALID, etag_list, normalize_headers, parse_age, parse_cache_control,
                     parse_etag, parse_http_date, parse_surrogate_control, parse_vary,
                     strong_match, weak_match)

__all__ = ["FRESH", "STALE_OK", "MUST_VALIDATE", "MISS", "HEURISTIC_FRACTION", "HEURISTIC_CAP",
           "HEURISTICALLY_CACHEABLE", "Request", "StoredResponse", "Decision", "storable",
           "storability", "freshness_lifetime", "freshness", "current_age", "decide",
           "conditional_headers", "on_304", "vary_matches", "not_modified", "strip_surrogate"]

FRESH = "FRESH"                 # serve the stored response
STALE_OK = "STALE_OK"           # serve the stored response although it is stale
MUST_VALIDATE = "MUST_VALIDATE"  # forward a (conditional) request before anything is served
MISS = "MISS"                   # nothing stored can be used: forward the request

#: heuristic freshness: this fraction of Date - Last-Modified (RFC 9111 §4.2.2) ...
HEURISTIC_FRACTION = 0.1
#: ... capped at 7 days
HEURISTIC_CAP = 7 * 86400

#: status codes heuristically cacheable by default (RFC 9110 §15.1)
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
#: request methods whose responses this cache understands and stores (RFC 9111 §3)
_METHODS = frozenset({"GET", "HEAD"})
_EMPTY: dict = {}
#: hop-by-hop fields never updated from a 304 (RFC 9111 §3.1, §3.2) and Content-Length (§3.2)
_NOT_UPDATED = frozenset({"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
                          "upgrade", "proxy-authenticate", "proxy-authentication-info",
                          "proxy-authorization", "content-length"})


class Request:
    """A request as the cache sees it: a method and header fields.

    Args:
        method: the request method (upper-cased).
        headers: a mapping or (name, value) pairs; names are case-insensitive.

    >>> Request("get", {"Cache-Control": "max-age=0"}).cc["max-age"]
    '0'
    """

    __slots__ = ("method", "headers", "_cc")

    def __init__(self, method: str = "GET", headers=None) -> None:
        if not isinstance(method, str) or not method:
            raise ValueError(f"method must be a non-empty string, got {method!r}")
        self.method = method.upper()
        self.headers = normalize_headers(headers)
        self._cc = None

    @property
    def cc(self):
        """The parsed request Cache-Control (RFC 9111 §5.2.1)."""
        if self._cc is None:
            self._cc = parse_cache_control(self.headers.get("cache-control"))
        return self._cc

    def __repr__(self) -> str:
        return f"Request({self.method!r}, {self.headers!r})"


def _as_request(request) -> Request:
    if isinstance(request, Request):
        return request
    if request is None:
        return Request()
    return Request("GET", request)


class StoredResponse:
    """A response as a cache holds it: status, header fields, the request that
    obtained it (for Vary, RFC 9111 §4.1) and the times the cache sent that request
    and received the response (``request_time`` and ``response_time`` of RFC 9111
    §4.2.3), in POSIX seconds.

    Everything derived from the headers alone (parsed directives, the lifetime for
    each kind of cache) is computed once and kept, so a decision costs O(1) and does
    not re-parse.

    >>> r = StoredResponse(200, {"Cache-Control": "max-age=60"}, response_time=100.0)
    >>> freshness(r)
    (60, 'max-age')
    """

    __slots__ = ("status", "headers", "request", "request_time", "response_time", "_cc", "_sc",
                 "_lifetime", "_initial_age", "_etag", "_cond")

    def __init__(self, status: int = 200, headers=None, request=None, request_time: float | None = None,
                 response_time: float = 0.0) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"status must be an integer from 100 to 999, got {status!r}")
        self.status = status
        self.headers = normalize_headers(headers)
        self.request = _as_request(request)
        self.response_time = float(response_time)
        self.request_time = self.response_time if request_time is None else float(request_time)
        if self.request_time > self.response_time:
            raise ValueError(f"request_time must be <= response_time, got {self.request_time!r} > "
                             f"{self.response_time!r}")
        self._cc = parse_cache_control(self.headers.get("cache-control"))
        sc = self.headers.get("surrogate-control")
        self._sc = parse_surrogate_control(sc) if sc is not None else None
        self._lifetime: dict = {}
        self._initial_age = None
        self._etag = False
        self._cond = None

    @property
    def cc(self):
        """The parsed response Cache-Control (RFC 9111 §5.2.2)."""
        return self._cc

    @property
    def etag(self):
        """(weak, opaque-tag) of the ETag field, or None."""
        if self._etag is False:
            self._etag = parse_etag(self.headers.get("etag"))
        return self._etag

    def corrected_initial_age(self) -> float:
        """RFC 9111 §4.2.3: max(apparent_age, corrected_age_value), where apparent_age
        = max(0, response_time - date_value) and corrected_age_value = age_value +
        response_delay (response_time - request_time). Without a valid Date the
        apparent age is 0 (the receipt time stands for the Date, RFC 9110 §6.6.1)."""
        if self._initial_age is None:
            date = parse_http_date(self.headers.get("date"))
            apparent = max(0.0, self.response_time - date) if date is not None else 0.0
            age = parse_age(self.headers.get("age")) or 0
            corrected = age + (self.response_time - self.request_time)
            self._initial_age = max(apparent, corrected)
        return self._initial_age

    def _check(self) -> None:
        assert self.request_time <= self.response_time
        assert self.corrected_initial_age() >= 0

    def __repr__(self) -> str:
        return f"StoredResponse({self.status}, {self.headers!r}, response_time={self.response_time})"


def _surrogate_directives(response: StoredResponse, surrogate: bool):
    return response._sc if surrogate else None


def storability(request, response: StoredResponse, shared: bool = True, surrogate: bool = False):
    """(storable, reason): may this cache store ``response`` to ``request``? (RFC 9111 §3)

    ``shared``: a shared cache (proxy, CDN) rather than a private (browser) cache.
    ``surrogate``: a CDN surrogate that honours Surrogate-Control.
    """
    request = _as_request(request)
    if request.method not in _METHODS:
        return False, f"the request method {request.method} is not one this cache stores (RFC 9111 §3)"
    if response.status < 200:
        return False, f"{response.status} is not a final response (RFC 9111 §3)"
    if response.status in (206, 304):
        return False, (f"{response.status} is not stored as such: partial content and 304 only update "
                       f"stored responses (RFC 9111 §3.3, §4.3.4)")
    if "no-store" in request.cc:
        return False, "the request has no-store (RFC 9111 §5.2.1.5)"
    sc = _surrogate_directives(response, surrogate)
    if sc is not None:
        if "no-store" in sc:
            return False, "Surrogate-Control: no-store (Edge Architecture 1.0 §3)"
        if sc.delta("max-age") is not None:
            return True, "Surrogate-Control max-age gives the surrogate an explicit lifetime"
    cc = response._cc
    if "no-store" in cc:
        return False, "the response has no-store (RFC 9111 §5.2.2.5)"
    if shared and "private" in cc:
        return False, "private: a shared cache must not store it (RFC 9111 §5.2.2.7)"
    if shared and "authorization" in request.headers and not (
            "public" in cc or "s-maxage" in cc or "must-revalidate" in cc):
        return False, ("the request has Authorization and the response neither public, s-maxage nor "
                       "must-revalidate (RFC 9111 §3.5)")
    if "public" in cc:
        return True, "public (RFC 9111 §5.2.2.9)"
    if not shared and "private" in cc:
        return True, "private, in a private cache (RFC 9111 §5.2.2.7)"
    if "expires" in response.headers:
        return True, "Expires present (RFC 9111 §5.3)"
    if "max-age" in cc:
        return True, "max-age present (RFC 9111 §5.2.2.1)"
    if shared and "s-maxage" in cc:
        return True, "s-maxage present (RFC 9111 §5.2.2.10)"
    if response.status in HEURISTICALLY_CACHEABLE:
        return True, f"status {response.status} is heuristically cacheable (RFC 9110 §15.1)"
    return False, (f"no explicit freshness, no public/private and status {response.status} is not "
                   f"heuristically cacheable (RFC 9111 §3)")


def storable(request, response: StoredResponse, shared: bool = True, surrogate: bool = False) -> bool:
    """True if the cache may store ``response`` to ``request`` (RFC 9111 §3, §3.5).

    >>> storable(Request("GET"), StoredResponse(200, {"Cache-Control": "private"}))
    False
    >>> storable(Request("GET"), StoredResponse(200, {"Cache-Control": "private"}), shared=False)
    True
    """
    return storability(request, response, shared, surrogate)[0]


def freshness(response: StoredResponse, shared: bool = True, surrogate: bool = False):
    """(lifetime in seconds, where it came from): RFC 9111 §4.2.1, in its order:
    s-maxage (shared caches), max-age, Expires - Date, heuristic (§4.2.2), else 0.

    An invalid s-maxage or max-age gives 0 (stale at once; §4.2.1), an invalid Expires
    gives 0 ("already expired", §5.3). Expires without a valid Date is measured from
    the time the response was received (§4.2.1, RFC 9110 §6.6.1).
    """
    key = (shared, surrogate)
    found = response._lifetime.get(key)
    if found is None:
        found = response._lifetime[key] = _profile(response, shared, surrogate)
    return found[0], found[1]


def _freshness(response: StoredResponse, shared: bool, surrogate: bool):
    sc = _surrogate_directives(response, surrogate)
    if sc is not None:
        v = sc.delta("max-age")
        if v is not None:
            return (0, "Surrogate-Control max-age (invalid: stale)") if v is INVALID else \
                (v, "Surrogate-Control max-age")
    cc = response._cc
    if shared:
        v = cc.delta("s-maxage")
        if v is not None:
            return (0, "s-maxage (invalid: stale, RFC 9111 §4.2.1)") if v is INVALID else (v, "s-maxage")
    v = cc.delta("max-age")
    if v is not None:
        return (0, "max-age (invalid: stale, RFC 9111 §4.2.1)") if v is INVALID else (v, "max-age")
    h = response.headers
    if "expires" in h:
        expires = parse_http_date(h["expires"])
        if expires is None:
            return 0, "Expires (invalid: already expired, RFC 9111 §5.3)"
        date = parse_http_date(h.get("date"))
        if date is None:
            date = response.response_time
        return expires - date, "Expires - Date"
    if response.status in HEURISTICALLY_CACHEABLE or "public" in cc:
        lm = parse_http_date(h.get("last-modified"))
        if lm is not None:
            date = parse_http_date(h.get("date"))
            if date is None:
                date = response.response_time
            return (min(HEURISTIC_CAP, max(0.0, HEURISTIC_FRACTION * (date - lm))),
                    "heuristic: 10% of Date - Last-Modified, at most 7 days (RFC 9111 §4.2.2)")
    return 0, "none: no explicit lifetime and no Last-Modified"


def freshness_lifetime(response: StoredResponse, shared: bool = True, surrogate: bool = False) -> float:
    """The freshness lifetime in seconds (RFC 9111 §4.2.1); see :func:`freshness`.

    >>> freshness_lifetime(StoredResponse(200, {"Cache-Control": "max-age=60, s-maxage=600"}))
    600
    >>> freshness_lifetime(StoredResponse(200, {"Cache-Control": "max-age=60, s-maxage=600"}), shared=False)
    60
    """
    return freshness(response, shared, surrogate)[0]


def current_age(response: StoredResponse, now: float) -> float:
    """RFC 9111 §4.2.3: corrected_initial_age + resident_time (now - response_time).

    >>> r = StoredResponse(200, {"Age": "10", "Date": "Sun, 06 Nov 1994 08:49:37 GMT"},
    ...                    request_time=784111777.0, response_time=784111779.0)
    >>> current_age(r, 784111789.0)   # max(2, 10 + 2) + 10
    22.0
    """
    return response.corrected_initial_age() + (now - response.response_time)


def vary_matches(request, response: StoredResponse) -> bool:
    """RFC 9111 §4.1: every field named by the stored Vary has the same value in the
    presented request as in the request that obtained the response (whitespace
    around commas normalised; a field absent from both matches); ``Vary: *`` never
    matches."""
    names = parse_vary(response.headers.get("vary"))
    if not names:
        return True
    if names == ("*",):
        return False
    req = _as_request(request).headers
    old = response.request.headers
    for name in names:
        a, b = req.get(name), old.get(name)
        if a != b and (a is None or b is None or _norm(a) != _norm(b)):
            return False
    return True


def _norm(value: str) -> str:
    return ",".join(p.strip() for p in value.split(","))


def conditional_headers(response: StoredResponse) -> dict:
    """The validators to send (RFC 9111 §4.3.1): If-None-Match with the stored ETag
    and If-Modified-Since with the stored Last-Modified (when it is a valid date)."""
    out = {}
    if response.etag is not None:
        out["If-None-Match"] = response.headers["etag"]
    lm = response.headers.get("last-modified")
    if lm is not None and parse_http_date(lm) is not None:
        out["If-Modified-Since"] = lm
    return out


class Decision:
    """What a cache does with a request and a stored response.

    Attributes:
        action: FRESH, STALE_OK, MUST_VALIDATE or MISS.
        reason: why, with the RFC section (formatted when read).
        age: the current age (RFC 9111 §4.2.3), None for MISS.
        lifetime, source: the freshness lifetime and where it came from.
        conditional: the validators to send when the request goes on (MUST_VALIDATE,
            or STALE_OK with a background revalidation); empty when there are none.
            Shared with the stored response: read it, do not modify it.
        background: a revalidation runs in the background (stale-while-revalidate).
    """

    __slots__ = ("action", "_why", "_args", "age", "lifetime", "source", "conditional", "background")

    def __init__(self, action, why, age=None, lifetime=None, source=None, conditional=_EMPTY,
                 background=False, args=()):
        self.action = action
        self._why = why
        self._args = args
        self.age = age
        self.lifetime = lifetime
        self.source = source
        self.conditional = conditional
        self.background = background

    @property
    def reason(self) -> str:
        return self._why.format(*self._args) if self._args else self._why

    @property
    def fresh(self) -> bool:
        return self.age is not None and self.lifetime > self.age

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "age": self.age, "lifetime": self.lifetime,
                "source": self.source, "conditional": dict(self.conditional), "background": self.background}

    def __repr__(self) -> str:
        return f"Decision({self.action}, {self.reason!r})"


def decide(request, stored: StoredResponse | None, now: float, shared: bool = True, *,
           error: bool = False, surrogate: bool = False) -> Decision:
    """What a cache does with ``request`` given ``stored`` at time ``now`` (RFC 9111 §4).

    Args:
        request: a :class:`Request` or a header mapping (method GET).
        stored: the stored response for the request's cache key, or None.
        now: the current time, POSIX seconds.
        shared: a shared cache (True) or a private one.
        error: the origin cannot be reached or answered 5xx (for stale-if-error,
            RFC 5861 §4).
        surrogate: a CDN surrogate honouring Surrogate-Control.

    O(1) per call: the stored response's directives, lifetime and validators are
    computed once per stored response and kind of cache.

    >>> r = StoredResponse(200, {"Cache-Control": "max-age=60, stale-while-revalidate=30",
    ...                          "ETag": '"v1"'}, response_time=0.0)
    >>> decide(Request(), r, 30.0).action, decide(Request(), r, 70.0).action
    ('FRESH', 'STALE_OK')
    >>> d = decide(Request(), r, 100.0); d.action, d.conditional
    ('MUST_VALIDATE', {'If-None-Match': '"v1"'})
    """
    if request.__class__ is not Request:
        request = _as_request(request)
    if stored is None:
        return Decision(MISS, "nothing stored for this key")
    method = request.method
    if method != "GET" and method != "HEAD" or (method == "GET" and stored.request.method == "HEAD"):
        return Decision(MISS, "a stored response cannot answer {} (RFC 9111 §4)", args=(method,))
    if "vary" in stored.headers and not vary_matches(request, stored):
        return Decision(MISS, "Vary: the request's selecting header fields differ (RFC 9111 §4.1)")
    prof = stored._lifetime.get((shared, surrogate))
    if prof is None:
        freshness(stored, shared, surrogate)
        prof = stored._lifetime[(shared, surrogate)]
    lifetime, source, no_cache, revalidate, swr, immutable, sc_ext, sie = prof
    age = stored._initial_age
    if age is None:
        age = stored.corrected_initial_age()
    age += now - stored.response_time
    fresh = lifetime > age
    cond = stored._cond
    if cond is None:
        cond = stored._cond = conditional_headers(stored)
    if no_cache:
        return Decision(MUST_VALIDATE, _R_NO_CACHE, age, lifetime, source, cond)
    rcc = request._cc
    if rcc is None:
        rcc = request.cc
    if rcc:
        if "no-cache" in rcc:
            return Decision(MUST_VALIDATE, _R_REQ_NO_CACHE, age, lifetime, source, cond)
        v = rcc.delta("max-age")
        if v is not None and v is not INVALID and age > v and not (fresh and immutable and not shared):
            return Decision(MUST_VALIDATE, _R_REQ_MAX_AGE, age, lifetime, source, cond, args=(v, age))
        v = rcc.delta("min-fresh")
        if v is not None and v is not INVALID and lifetime - age < v:
            return Decision(MUST_VALIDATE, _R_MIN_FRESH, age, lifetime, source, cond, args=(v, lifetime - age))
    if fresh:
        if immutable and not shared and rcc and "max-age" in rcc:
            return Decision(FRESH, _R_IMMUTABLE, age, lifetime, source)
        return Decision(FRESH, _R_FRESH, age, lifetime, source)
    staleness = age - lifetime
    if revalidate:
        return Decision(MUST_VALIDATE, revalidate, age, lifetime, source, cond)
    if rcc and "max-stale" in rcc:
        v = rcc.delta("max-stale")
        if rcc["max-stale"] is None or (v is not INVALID and staleness <= v):
            return Decision(STALE_OK, _R_MAX_STALE, age, lifetime, source, args=(staleness,))
    if sc_ext is not None and staleness <= sc_ext:
        return Decision(STALE_OK, _R_SC_EXT, age, lifetime, source)
    if swr is not None and staleness <= swr:
        return Decision(STALE_OK, _R_SWR, age, lifetime, source, cond, True, args=(staleness, swr))
    if error:
        if sie is not None and staleness <= sie:
            return Decision(STALE_OK, _R_SIE, age, lifetime, source, args=("response", sie, staleness))
        v = rcc.delta("stale-if-error") if rcc else None
        if v is not None and v is not INVALID and staleness <= v:
            return Decision(STALE_OK, _R_SIE, age, lifetime, source, args=("request", v, staleness))
    return Decision(MUST_VALIDATE, _R_STALE, age, lifetime, source, cond, args=(staleness,))


_R_NO_CACHE = "the response has no-cache: validate before every use (RFC 9111 §5.2.2.4)"
_R_REQ_NO_CACHE = "the request has no-cache (RFC 9111 §5.2.1.4)"
_R_REQ_MAX_AGE = "the request's max-age={} is below the age {:g} (RFC 9111 §5.2.1.1)"
_R_MIN_FRESH = "the request's min-fresh={} is more than the {:g} s of freshness left (RFC 9111 §5.2.1.3)"
_R_FRESH = "fresh: age below the lifetime (RFC 9111 §4.2)"
_R_IMMUTABLE = "fresh and immutable: a reload is answered from the cache (RFC 8246 §2)"
_R_MUST_REVALIDATE = ("stale and must-revalidate: no stale service, 504 if the origin cannot be "
                      "reached (RFC 9111 §5.2.2.2)")
_R_PROXY_REVALIDATE = ("stale, and proxy-revalidate or s-maxage forbid stale service in a shared "
                       "cache (RFC 9111 §5.2.2.8, §5.2.2.10)")
_R_MAX_STALE = "stale by {:g} s, within the request's max-stale (RFC 9111 §5.2.1.2)"
_R_SC_EXT = "within the Surrogate-Control max-age extension"
_R_SWR = "stale by {:g} s, within stale-while-revalidate={}: served, revalidated in the background (RFC 5861 §3)"
_R_SIE = "the origin failed and the {}'s stale-if-error={} covers {:g} s of staleness (RFC 5861 §4)"
_R_STALE = "stale by {:g} s: validate with the origin (RFC 9111 §4.3)"


def _valid(v):
    return None if v is None or v is INVALID else v


def _profile(response: StoredResponse, shared: bool, surrogate: bool) -> tuple:
    """(lifetime, source, no_cache, revalidate reason or None, swr, immutable,
    Surrogate-Control extension, stale-if-error): what decide() needs of the response."""
    lifetime, source = _freshness(response, shared, surrogate)
    sc = _surrogate_directives(response, surrogate)
    cc = response._cc
    if sc is not None and sc.delta("max-age") is not None:
        # the surrogate follows Surrogate-Control alone (Edge Architecture 1.0)
        return (lifetime, source, False, None, None, False, _valid(sc.delta("stale-extension")), None)
    if "must-revalidate" in cc:
        revalidate = _R_MUST_REVALIDATE
    elif shared and ("proxy-revalidate" in cc or "s-maxage" in cc):
        revalidate = _R_PROXY_REVALIDATE
    else:
        revalidate = None
    return (lifetime, source, "no-cache" in cc, revalidate, _valid(cc.delta("stale-while-revalidate")),
            "immutable" in cc, None, _valid(cc.delta("stale-if-error")))


def not_modified(request, etag: str | None, last_modified: str | None) -> bool:
    """An origin's evaluation of a conditional GET (RFC 9110 §13.2.2): True means 304.

    If-None-Match, when present, decides with the weak comparison (§13.1.2) and
    If-Modified-Since is then ignored; otherwise If-Modified-Since (§13.1.3) against
    ``last_modified``.
    """
    h = _as_request(request).headers
    inm = h.get("if-none-match")
    if inm is not None:
        tags = etag_list(inm)
        if tags == ["*"]:
            return etag is not None
        mine = parse_etag(etag)
        return any(weak_match(t, mine) for t in tags)
    ims = parse_http_date(h.get("if-modified-since"))
    lm = parse_http_date(last_modified)
    return ims is not None and lm is not None and lm <= ims


def on_304(stored: StoredResponse, headers, request_time: float, response_time: float):
    """Freshen ``stored`` with a 304 (RFC 9111 §4.3.4): the updated stored response,
    or None when the 304 does not select it (then the request is sent again without
    conditions).

    Selection: a strong ETag in the 304 selects a stored response with the same strong
    validator; else a weak ETag selects a weak match; else a Last-Modified selects a
    stored response with the same Last-Modified; a 304 without validators selects the
    stored response only if it has none either. The 304's fields replace the stored
    ones (§3.2), except hop-by-hop fields and Content-Length; the times restart.
    """
    new = normalize_headers(headers)
    tag = parse_etag(new.get("etag"))
    if tag is not None:
        ok = strong_match(tag, stored.etag) if not tag[0] else weak_match(tag, stored.etag)
    elif "last-modified" in new:
        ok = new["last-modified"] == stored.headers.get("last-modified")
    else:
        ok = stored.etag is None and "last-modified" not in stored.headers
    if not ok:
        return None
    merged = dict(stored.headers)
    for k, v in new.items():
        if k not in _NOT_UPDATED:
            merged[k] = v
    return StoredResponse(stored.status, merged, stored.request, request_time, response_time)


def strip_surrogate(headers) -> dict:
    """The headers a surrogate forwards to the client: Surrogate-Control removed
    (Edge Architecture 1.0 §3: it is for surrogates only)."""
    return {k: v for k, v in normalize_headers(headers).items() if k != "surrogate-control"}
