"""Parsing of the header fields HTTP caching reads: Cache-Control (RFC 9111 §5.2),
Surrogate-Control (Edge Architecture Specification 1.0), HTTP-date (RFC 9110 §5.6.7),
delta-seconds (RFC 9111 §1.2.2), Age (RFC 9111 §5.1), entity tags (RFC 9110 §8.8.3)
and Vary (RFC 9110 §12.5.5).

Parsed values are cached by the field value (``functools.lru_cache``): real traffic
repeats a few header values many times, so a decision re-parses nothing.
"""
from __future__ import annotations

import calendar
import re
import time
from functools import lru_cache
from typing import Iterable, Mapping

__all__ = ["DELTA_MAX", "INVALID", "Directives", "normalize_headers", "parse_cache_control",
           "parse_surrogate_control", "parse_http_date", "parse_delta", "parse_age",
           "parse_etag", "etag_list", "strong_match", "weak_match", "parse_vary"]

#: RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2**31
DELTA_MAX = 2 ** 31


class _Invalid:
    """The value of a directive argument that is not valid delta-seconds."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


#: marks an argument that was present but not valid delta-seconds (e.g. ``max-age=-1``)
INVALID = _Invalid()


def normalize_headers(headers) -> dict:
    """A dict of lower-case field name -> field value from a mapping or (name, value) pairs.

    Several lines of one field are combined with ", " (RFC 9110 §5.3); for a singleton
    field such as Expires or Date the combined value is then invalid, which is what RFC
    9111 §4.2.1 allows ("the response should be considered stale"), and Age keeps its
    first member (RFC 9111 §5.1).
    """
    if headers is None:
        return {}
    if type(headers) is dict:        # the common case: str -> str, names distinct
        out = {}
        for name, value in headers.items():
            if type(name) is not str or type(value) is not str:
                break
            key = name.lower()
            if key in out:
                break
            out[key] = value.strip()
        else:
            if not any(k != k.strip() for k in out):
                return out
    items: Iterable = headers.items() if isinstance(headers, Mapping) else headers
    out = {}
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        key = name.strip().lower()
        value = str(value).strip()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


# cache-directive = token [ "=" ( token / quoted-string ) ]      (RFC 9111 §5.2)
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_DIRECTIVE = re.compile(
    r'\s*(' + _TOKEN + r')\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*)))?\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
_DELTA = re.compile(r"[0-9]+\Z")


def parse_delta(text):
    """delta-seconds (RFC 9111 §1.2.2): a non-negative integer, capped at 2**31;
    :data:`INVALID` for anything else (a sign, a fraction, nothing); None stays None."""
    if text is None:
        return None
    if _DELTA.match(text):
        n = int(text)
        return DELTA_MAX if n > DELTA_MAX else n
    return INVALID


class Directives(dict):
    """Cache directives: lower-case name -> argument (str) or None when it has none.

    Only the first occurrence of a directive is kept (RFC 9111 §4.2.1: "either the
    first occurrence should be used or the response should be considered stale";
    we use the first). ``duplicates`` names the directives seen more than once and
    ``problems`` lists what was malformed, for ``tradeoff http explain``.
    Arguments in the quoted-string form are unquoted (RFC 9111 §5.2: "recipients
    ought to accept both forms").
    """

    __slots__ = ("duplicates", "problems", "_deltas")

    def __init__(self) -> None:
        super().__init__()
        self.duplicates: tuple = ()
        self.problems: tuple = ()
        self._deltas: dict = {}

    def delta(self, name: str):
        """The argument of ``name`` as delta-seconds: int, :data:`INVALID`, or None when absent."""
        try:
            return self._deltas[name]
        except KeyError:
            pass
        if name not in self:
            value = None
        else:
            value = parse_delta(self[name])
            if self[name] is None:      # e.g. "max-age" with no argument
                value = INVALID
        self._deltas[name] = value
        return value


def _parse_directives(value: str, what: str) -> Directives:
    d = Directives()
    dups: list = []
    problems: list = []
    pos, n = 0, len(value)
    while pos < n:
        if value[pos] in ", \t":
            pos += 1
            continue
        m = _DIRECTIVE.match(value, pos)
        if m is None:   # skip a malformed member up to the next comma (RFC 9110 §5.6.1)
            end = value.find(",", pos)
            end = n if end < 0 else end
            problems.append(f"malformed {what} member {value[pos:end].strip()!r} ignored")
            pos = end + 1
            continue
        name = m.group(1).lower()
        arg = m.group(2)
        if arg is not None:
            arg = _ESCAPE.sub(r"\1", arg)
        else:
            arg = m.group(3)
            if arg == "":
                arg = None
        if name in d:
            dups.append(name)
        else:
            d[name] = arg
        pos = m.end()
    for name in ("max-age", "s-maxage", "max-stale", "min-fresh", "stale-while-revalidate",
                 "stale-if-error"):
        if name in d:
            v = d.delta(name)
            if v is INVALID and not (name == "max-stale" and d[name] is None):
                problems.append(f"{name}={d[name] if d[name] is not None else ''} is not valid "
                                f"delta-seconds (RFC 9111 §1.2.2)")
    d.duplicates = tuple(dups)
    for name in dups:
        problems.append(f"{name} appears more than once: the first is used (RFC 9111 §4.2.1)")
    d.problems = tuple(problems)
    return d


@lru_cache(maxsize=4096)
def parse_cache_control(value: str | None) -> Directives:
    """Parse a Cache-Control field value (RFC 9111 §5.2) into :class:`Directives`.

    >>> d = parse_cache_control('max-age=60, no-cache="Set-Cookie, X-A", Private')
    >>> d["max-age"], d["no-cache"], "private" in d
    ('60', 'Set-Cookie, X-A', True)
    >>> parse_cache_control("max-age=-1").delta("max-age")
    INVALID
    """
    return _parse_directives(value or "", "Cache-Control")


@lru_cache(maxsize=1024)
def parse_surrogate_control(value: str | None) -> Directives:
    """Parse Surrogate-Control (Edge Architecture Specification 1.0, §3): the same
    syntax as Cache-Control; directives targeted at a device (``max-age=60;edge``) keep
    only their value (we act as every surrogate). ``max-age=N+M`` is a freshness
    lifetime of N with an extension of M seconds during which the stale response may
    still be served; it is stored as ``max-age`` = N and ``stale-extension`` = M.
    """
    d = _parse_directives(value or "", "Surrogate-Control")
    for name in list(d):
        arg = d[name]
        if arg is not None and ";" in arg:
            dict.__setitem__(d, name, arg.split(";", 1)[0].strip())
    ma = d.get("max-age")
    if ma is not None and "+" in ma:
        base, ext = ma.split("+", 1)
        dict.__setitem__(d, "max-age", base.strip())
        dict.__setitem__(d, "stale-extension", ext.strip())
    d._deltas.clear()
    return d


# HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete rfc850-date and asctime-date
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DAYL = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MON = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"(\d\d):(\d\d):(\d\d)"
_IMF = re.compile(_DAY + r", (\d\d) " + _MON + r" (\d{4}) " + _TIME + r" GMT\Z", re.I)
_RFC850 = re.compile(_DAYL + r", (\d\d)-" + _MON + r"-(\d\d) " + _TIME + r" GMT\Z", re.I)
_ASCTIME = re.compile(_DAY + r" " + _MON + r" ([ \d]\d) " + _TIME + r" (\d{4})\Z", re.I)


def _timestamp(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> float | None:
    if not (1 <= day <= 31 and hh <= 23 and mm <= 59 and ss <= 60):
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hh, mm, min(ss, 59), 0, 0, 0)))


@lru_cache(maxsize=4096)
def parse_http_date(value: str | None, now: float | None = None) -> float | None:
    """An HTTP-date (RFC 9110 §5.6.7) as a POSIX timestamp, or None if it is not one.

    All three formats are accepted, as recipients MUST. A two-digit rfc850 year that
    would be more than 50 years in the future is the most recent past year with those
    digits (RFC 9110 §5.6.7); "the future" is judged against ``now`` (default: the year
    2000 + the digits, i.e. 00-49 -> 20xx, 50-99 -> 19xx, when ``now`` is None).

    >>> parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    784111777.0
    >>> parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), parse_http_date("Sun Nov  6 08:49:37 1994")
    (784111777.0, 784111777.0)
    >>> parse_http_date("0") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    m = _IMF.match(value)
    if m:
        d, mon, y, hh, mm, ss = m.groups()
        return _timestamp(int(y), _MONTHS[mon.lower()], int(d), int(hh), int(mm), int(ss))
    m = _RFC850.match(value)
    if m:
        d, mon, yy, hh, mm, ss = m.groups()
        if now is None:
            year = 2000 + int(yy) if int(yy) < 50 else 1900 + int(yy)
        else:
            current = time.gmtime(now).tm_year
            year = current - current % 100 + int(yy)
            if year > current + 50:
                year -= 100
        return _timestamp(year, _MONTHS[mon.lower()], int(d), int(hh), int(mm), int(ss))
    m = _ASCTIME.match(value)
    if m:
        mon, d, hh, mm, ss, y = m.groups()
        return _timestamp(int(y), _MONTHS[mon.lower()], int(d.strip()), int(hh), int(mm), int(ss))
    return None


def parse_age(value: str | None) -> int | None:
    """The Age field (RFC 9111 §5.1): a list-based value keeps its first member; an
    invalid value (not a non-negative integer) is ignored (None)."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    v = parse_delta(first)
    return None if v is INVALID else v


# entity-tag = [ weak ] opaque-tag ; weak = %s"W/" ; opaque-tag = DQUOTE *etagc DQUOTE
_ETAG = re.compile(r'\s*(W/)?("[^"]*")\s*')


def parse_etag(value: str | None):
    """(weak, opaque-tag) for an ETag value (RFC 9110 §8.8.3), or None if invalid.

    >>> parse_etag('W/"x"'), parse_etag('"x"'), parse_etag('x')
    ((True, '"x"'), (False, '"x"'), None)
    """
    if not value:
        return None
    m = _ETAG.fullmatch(value)
    if m is None:
        return None
    return (m.group(1) is not None, m.group(2))


def etag_list(value: str | None) -> list:
    """The members of an If-None-Match / If-Match value: '*' or parsed entity-tags."""
    if value is None:
        return []
    if value.strip() == "*":
        return ["*"]
    return [(m.group(1) is not None, m.group(2)) for m in _ETAG.finditer(value)
            if m.group(2)]


def strong_match(a, b) -> bool:
    """Strong comparison (RFC 9110 §8.8.3.2): both strong and the opaque-tags equal.

    >>> strong_match(parse_etag('"1"'), parse_etag('"1"')), strong_match(parse_etag('W/"1"'), parse_etag('"1"'))
    (True, False)
    """
    return a is not None and b is not None and not a[0] and not b[0] and a[1] == b[1]


def weak_match(a, b) -> bool:
    """Weak comparison (RFC 9110 §8.8.3.2): the opaque-tags equal, weak or not.

    >>> weak_match(parse_etag('W/"1"'), parse_etag('"1"')), weak_match(parse_etag('W/"1"'), parse_etag('W/"2"'))
    (True, False)
    """
    return a is not None and b is not None and a[1] == b[1]


@lru_cache(maxsize=1024)
def parse_vary(value: str | None) -> tuple:
    """The lower-case field names of a Vary value (RFC 9110 §12.5.5); ('*',) for ``*``."""
    if not value:
        return ()
    names = tuple(sorted({v.strip().lower() for v in value.split(",") if v.strip()}))
    return ("*",) if "*" in names else names
