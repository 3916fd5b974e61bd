"""``tradeoff http explain``: for given response (and request) headers, what a browser
(private cache) and a shared cache do with the response, and why."""
from __future__ import annotations

import json

from ._parse import normalize_headers, parse_http_date
from ._semantics import (FRESH, MISS, Request, StoredResponse, conditional_headers, decide,
                         freshness, storability, strip_surrogate)

__all__ = ["explain", "parse_header_lines", "render"]

CACHES = {"browser": dict(shared=False, surrogate=False), "shared": dict(shared=True, surrogate=True)}


def parse_header_lines(lines) -> list:
    """``["Name: value", ...]`` -> [(name, value)]; ValueError naming the bad line."""
    out = []
    for line in lines or ():
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise ValueError(f"malformed header {line!r}: expected 'Name: value'")
        out.append((name.strip(), value.strip()))
    return out


def _problems(headers: dict) -> list:
    out = []
    stored = StoredResponse(200, headers)
    for p in stored.cc.problems:
        out.append(f"Cache-Control: {p}")
    if stored._sc is not None:
        out.extend(f"Surrogate-Control: {p}" for p in stored._sc.problems)
    for name, what in (("expires", "treated as already expired (RFC 9111 §5.3)"),
                       ("date", "ignored; the receipt time stands for it (RFC 9110 §6.6.1)"),
                       ("last-modified", "ignored (RFC 9110 §8.8.2)")):
        if name in headers and parse_http_date(headers[name]) is None:
            out.append(f"{name.title()}: {headers[name]!r} is not an HTTP-date: {what}")
    return out


def explain(response_headers, request_headers=None, *, age: float = 0.0, status: int = 200,
            method: str = "GET", caches=("browser", "shared")) -> dict:
    """What each cache in ``caches`` ("browser": private; "shared": a proxy/CDN that
    honours Surrogate-Control) does with the response after ``age`` seconds in it.

    >>> out = explain({"Cache-Control": "max-age=60, s-maxage=600"}, age=120)
    >>> out["browser"]["action"], out["shared"]["action"]
    ('MUST_VALIDATE', 'FRESH')
    """
    if age < 0:
        raise ValueError(f"age must be >= 0, got {age!r}")
    headers = normalize_headers(response_headers)
    request = Request(method, request_headers)
    received = parse_http_date(headers.get("date")) or 0.0
    out: dict = {"problems": _problems(headers)}
    for name in caches:
        opts = CACHES[name]
        seen = headers if name == "shared" else strip_surrogate(headers) \
            if "surrogate-control" in headers else headers
        stored = StoredResponse(status, seen, request, response_time=received)
        ok, why = storability(request, stored, opts["shared"], opts["surrogate"])
        lifetime, source = freshness(stored, opts["shared"], opts["surrogate"])
        row = {"storable": ok, "storable_reason": why, "lifetime": lifetime, "lifetime_source": source}
        if ok:
            d = decide(request, stored, received + age, opts["shared"], surrogate=opts["surrogate"])
            row.update(age=d.age, fresh=d.fresh, action=d.action, reason=d.reason,
                       background_revalidation=d.background,
                       validation_request=(d.conditional or conditional_headers(stored))
                       if d.action not in (FRESH, MISS) else {})
        else:
            row.update(age=None, fresh=None, action=MISS, reason="not stored: every request goes to "
                       "the origin", background_revalidation=False, validation_request={})
        if name == "browser" and "surrogate-control" in headers:
            row["note"] = "Surrogate-Control is removed by the CDN before the browser sees the response"
        out[name] = row
    return out


def render(result: dict, fmt: str = "table") -> str:
    """The explanation as an aligned text table or as JSON."""
    if fmt == "json":
        return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False)
    caches = [c for c in CACHES if c in result]
    rows = [("storable", lambda r: ("yes" if r["storable"] else "no") + f" ({r['storable_reason']})"),
            ("lifetime", lambda r: f"{r['lifetime']:g} s from {r['lifetime_source']}"),
            ("age", lambda r: "-" if r["age"] is None else f"{r['age']:g} s"),
            ("fresh", lambda r: "-" if r["fresh"] is None else ("fresh" if r["fresh"] else "stale")),
            ("action", lambda r: r["action"] + (" + background revalidation"
                                                 if r["background_revalidation"] else "")),
            ("why", lambda r: r["reason"]),
            ("validation", lambda r: ", ".join(f"{k}: {v}" for k, v in r["validation_request"].items())
             or "-")]
    lines = []
    for cache in caches:
        label = "browser (private cache)" if cache == "browser" else "shared cache (proxy / CDN)"
        lines.append(label)
        for key, fn in rows:
            lines.append(f"  {key:<11} {fn(result[cache])}")
        if "note" in result[cache]:
            lines.append(f"  {'note':<11} {result[cache]['note']}")
    for p in result["problems"]:
        lines.append(f"warning: {p}")
    return "\n".join(lines)
