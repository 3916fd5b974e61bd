"""A small reference model of RFC 9111, written straight from the RFC text and on purpose
simpler than tradeoff.http: a naive comma split (the generators never put commas inside
quotes), ``email.utils`` for dates (the generators write IMF-fixdate or garbage), and one
flat function per question. The tests compare it with tradeoff.http on generated headers.
"""
import email.utils

HEURISTIC = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}   # RFC 9110 §15.1


def directives(value):
    out = {}
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, arg = part.partition("=")
        name = name.strip().lower()
        if name not in out:                                  # first occurrence (§4.2.1)
            out[name] = arg.strip().strip('"') if eq else None
    return out


def seconds(arg):
    """delta-seconds (§1.2.2) or None when invalid."""
    if arg is None or not arg.isdigit():
        return None
    return min(int(arg), 2 ** 31)


def date(value):
    if value is None:
        return None
    try:
        t = email.utils.parsedate_tz(value)
    except Exception:
        return None
    if t is None or not value.endswith("GMT"):
        return None
    return float(email.utils.mktime_tz(t))


def storable(method, req, status, resp, shared):
    """RFC 9111 §3 and §3.5, condition by condition."""
    rcc, cc = directives(req.get("cache-control")), directives(resp.get("cache-control"))
    if method not in ("GET", "HEAD") or status < 200 or status in (206, 304):
        return False
    if "no-store" in cc or "no-store" in rcc:
        return False
    if shared and "private" in cc:
        return False
    if shared and "authorization" in req and not any(d in cc for d in ("public", "s-maxage", "must-revalidate")):
        return False
    return ("public" in cc or (not shared and "private" in cc) or "expires" in resp or "max-age" in cc
            or (shared and "s-maxage" in cc) or status in HEURISTIC)


def lifetime(status, resp, received, shared):
    """RFC 9111 §4.2.1, §4.2.2 (10% of Date - Last-Modified, at most 7 days)."""
    cc = directives(resp.get("cache-control"))
    if shared and "s-maxage" in cc:
        return seconds(cc["s-maxage"]) or 0
    if "max-age" in cc:
        return seconds(cc["max-age"]) or 0
    d = date(resp.get("date"))
    if "expires" in resp:
        e = date(resp["expires"])
        return 0 if e is None else e - (received if d is None else d)
    lm = date(resp.get("last-modified"))
    if lm is not None and (status in HEURISTIC or "public" in cc):
        return min(7 * 86400, max(0.0, 0.1 * ((received if d is None else d) - lm)))
    return 0


def age(resp, request_time, received, now):
    """RFC 9111 §4.2.3."""
    d = date(resp.get("date"))
    apparent = 0 if d is None else max(0, received - d)
    a = resp.get("age")
    a = seconds(a.split(",")[0].strip()) if a is not None else None
    corrected = (a or 0) + (received - request_time)
    return max(apparent, corrected) + (now - received)


def action(req, status, resp, request_time, received, now, shared):
    """RFC 9111 §4, §4.2.4, §5.2; RFC 5861 §3; RFC 8246 (private caches)."""
    rcc, cc = directives(req.get("cache-control")), directives(resp.get("cache-control"))
    life = lifetime(status, resp, received, shared)
    a = age(resp, request_time, received, now)
    fresh = life > a
    if "no-cache" in cc or "no-cache" in rcc:
        return "MUST_VALIDATE"
    if "max-age" in rcc and seconds(rcc["max-age"]) is not None and a > seconds(rcc["max-age"]):
        if not (fresh and not shared and "immutable" in cc):
            return "MUST_VALIDATE"
    if "min-fresh" in rcc and seconds(rcc["min-fresh"]) is not None and life - a < seconds(rcc["min-fresh"]):
        return "MUST_VALIDATE"
    if fresh:
        return "FRESH"
    if "must-revalidate" in cc or (shared and ("proxy-revalidate" in cc or "s-maxage" in cc)):
        return "MUST_VALIDATE"
    if "max-stale" in rcc:
        if rcc["max-stale"] is None or (seconds(rcc["max-stale"]) is not None
                                        and a - life <= seconds(rcc["max-stale"])):
            return "STALE_OK"
    swr = seconds(cc.get("stale-while-revalidate"))
    if swr is not None and a - life <= swr:
        return "STALE_OK"
    return "MUST_VALIDATE"
