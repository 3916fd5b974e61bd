"""HTTP caching semantics (RFC 9111, with RFC 5861, RFC 8246, RFC 9110 validators and
Surrogate-Control), and nginx as a real reverse-proxy cache.

Give a request and a stored response with their headers; get what a browser (private
cache) or a shared cache does, and why:

>>> from tradeoff.http import Request, StoredResponse, decide, storable
>>> r = StoredResponse(200, {"Cache-Control": "max-age=60", "ETag": '"x"'}, response_time=0.0)
>>> storable(Request(), r), decide(Request(), r, now=30.0).action
(True, 'FRESH')
>>> decide(Request(), r, now=90.0).conditional
{'If-None-Match': '"x"'}

The nginx side lives in :mod:`tradeoff.http.nginx` (imported on demand).
"""
from ._parse import (DELTA_MAX, INVALID, Directives, etag_list, normalize_headers, parse_age,
                     parse_cache_control, parse_delta, parse_etag, parse_http_date,
                     parse_surrogate_control, parse_vary, strong_match, weak_match)
from ._semantics import (FRESH, HEURISTIC_CAP, HEURISTIC_FRACTION, HEURISTICALLY_CACHEABLE, MISS,
                         MUST_VALIDATE, STALE_OK, Decision, Request, StoredResponse,
                         conditional_headers, current_age, decide, freshness, freshness_lifetime,
                         not_modified, on_304, storability, storable, strip_surrogate, vary_matches)
from ._explain import explain

__all__ = ["FRESH", "STALE_OK", "MUST_VALIDATE", "MISS", "HEURISTIC_FRACTION", "HEURISTIC_CAP",
           "HEURISTICALLY_CACHEABLE", "DELTA_MAX", "INVALID", "Directives", "Request",
           "StoredResponse", "Decision", "storable", "storability", "freshness_lifetime", "freshness",
           "current_age", "decide", "conditional_headers", "on_304", "vary_matches", "not_modified",
           "strip_surrogate", "normalize_headers", "parse_cache_control", "parse_surrogate_control",
           "parse_http_date", "parse_delta", "parse_age", "parse_etag", "etag_list", "strong_match",
           "weak_match", "parse_vary", "explain"]
