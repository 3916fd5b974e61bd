"""L7 and L4 routing in front of the balancers (pure Python).

A :class:`Router` holds an ordered list of routes; the first route whose
matchers all hold for a request selects its target, else the default target.
A target is a pool (any :class:`~tradeoff.balance._base.Balancer`), a pool
with sticky sessions (:class:`Sticky`) or a weighted A/B :class:`Split` over
such targets. Routing calls the pool's ``pick`` (which counts an open
connection); release it with ``Router.done(decision)``. The L4 mode,
:class:`L4Router`, sees only the client address and port and hashes them on an
:class:`~tradeoff.balance._impl.IPHash` pool, so a connection stays on its
server while that server is eligible.

Requests are :class:`Request` objects, mappings with the same keys (``path``,
``headers``, ``cookies``, ``client``, ``port``) or any object with those
attributes. Header names are case-insensitive; when ``cookies`` is missing they
are read from a ``Cookie`` header.

>>> from tradeoff.balance._impl import RoundRobin
>>> api, web = RoundRobin(["api1", "api2"]), RoundRobin(["web1", "web2"])
>>> canary = RoundRobin(["canary1"])
>>> router = Router([Route(PathPrefix("/api"), api),
...                  Route(Header("x-canary", "1"), canary)],
...                 default=Sticky(web, cookie="srv"))
>>> d = router.route({"path": "/api/users", "client": "10.0.0.1"})
>>> (d.name, d.rule)
('api1', 0)
>>> router.route({"path": "/", "headers": {"X-Canary": "1"}}).name
'canary1'
>>> first = router.route({"path": "/home"})          # no cookie: picked, cookie set
>>> first.name, first.set_cookie
('web1', {'srv': 'web1'})
>>> again = router.route({"path": "/cart", "cookies": {"srv": "web1"}})
>>> again.name, again.sticky, again.set_cookie
('web1', True, {})
>>> router.done(first); router.done(again)

Routing costs O(number of routes) matcher calls plus one ``pick``; a sticky
hit costs a name lookup (O(servers in the pool)) instead of the pick.
"""
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from tradeoff.balance._base import Balancer, NoServerAvailable
from tradeoff.balance._impl import IPHash, hash_key

__all__ = ["Request", "Decision", "NoRoute", "NoServerAvailable", "PathPrefix", "Header",
           "Cookie", "Route", "Sticky", "Split", "Router", "L4Router", "as_request"]

_TWO64 = float(1 << 64)


class NoRoute(LookupError):
    """No route matched the request and the router has no default."""


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One request as the router sees it.

    >>> Request("/a", headers={"Cookie": "x=1; y=2"}).cookies
    {'x': '1', 'y': '2'}
    """
    path: str = "/"
    headers: Mapping = field(default_factory=dict)
    cookies: Optional[Mapping] = None
    client: Optional[str] = None
    port: Optional[int] = None

    def __post_init__(self):
        if not isinstance(self.path, str):
            raise TypeError(f"a request path is a str, not {type(self.path).__name__}")
        if not isinstance(self.headers, Mapping):
            raise TypeError(f"request headers are a mapping, not {type(self.headers).__name__}")
        headers = {str(k).lower(): str(v) for k, v in self.headers.items()}
        object.__setattr__(self, "headers", headers)
        cookies = self.cookies
        if cookies is None:
            cookies = _parse_cookies(headers.get("cookie", ""))
        elif not isinstance(cookies, Mapping):
            raise TypeError(f"request cookies are a mapping, not {type(cookies).__name__}")
        object.__setattr__(self, "cookies", {str(k): str(v) for k, v in cookies.items()})
        if self.client is not None and not isinstance(self.client, str):
            raise TypeError("a request client is an address string, "
                            f"not {type(self.client).__name__}")
        if self.port is not None and (not isinstance(self.port, int) or isinstance(self.port, bool)
                                      or not 0 <= self.port <= 65535):
            raise ValueError(f"a request port is an int in 0..65535, got {self.port!r}")


def _parse_cookies(text):
    out = {}
    for part in text.split(";"):
        name, eq, value = part.strip().partition("=")
        if name and eq:
            out[name.strip()] = value.strip()
    return out


_FIELDS = ("path", "headers", "cookies", "client", "port")


def as_request(obj):
    """A :class:`Request` from a Request, a mapping or an object with the fields."""
    if isinstance(obj, Request):
        return obj
    if isinstance(obj, Mapping):
        unknown = set(obj) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown request fields {sorted(unknown)}; known: {list(_FIELDS)}")
        return Request(**obj)
    kwargs = {k: getattr(obj, k) for k in _FIELDS if getattr(obj, k, None) is not None}
    return Request(**kwargs)


# ---------------------------------------------------------------- matchers


class Match:
    """A condition on a request."""

    def matches(self, request):
        raise NotImplementedError


def _name(name, what):
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} name is a non-empty str, got {name!r}")
    return name


def _value(value, what):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"a {what} value is a str or None (present), got {value!r}")
    return value


class PathPrefix(Match):
    """The path starts with ``prefix`` (a plain string prefix, as nginx's
    prefix locations and Envoy's ``prefix`` match: "/api" also matches
    "/apiv2"; write "/api/" to match whole segments only).

    >>> PathPrefix("/api").matches(Request("/api/v1"))
    True
    """

    def __init__(self, prefix):
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError(f"a path prefix is a str starting with '/', got {prefix!r}")
        self.prefix = prefix

    def matches(self, request):
        return request.path.startswith(self.prefix)

    def __repr__(self):
        return f"PathPrefix({self.prefix!r})"


class Header(Match):
    """The header ``name`` (case-insensitive) is present (``value=None``) or
    equals ``value`` exactly.

    >>> Header("X-Canary", "1").matches(Request(headers={"x-canary": "1"}))
    True
    """

    def __init__(self, name, value=None):
        self.name = _name(name, "header").lower()
        self.value = _value(value, "header")

    def matches(self, request):
        got = request.headers.get(self.name)
        return got is not None and (self.value is None or got == self.value)

    def __repr__(self):
        return f"Header({self.name!r}, {self.value!r})"


class Cookie(Match):
    """The cookie ``name`` (case-sensitive) is present (``value=None``) or
    equals ``value``.

    >>> Cookie("beta").matches(Request(cookies={"beta": "yes"}))
    True
    """

    def __init__(self, name, value=None):
        self.name = _name(name, "cookie")
        self.value = _value(value, "cookie")

    def matches(self, request):
        got = request.cookies.get(self.name)
        return got is not None and (self.value is None or got == self.value)

    def __repr__(self):
        return f"Cookie({self.name!r}, {self.value!r})"


# ---------------------------------------------------------------- targets


_COOKIE_BAD = set(' \t\r\n;,="\\')


class Sticky:
    """Sticky sessions on ``pool`` by the cookie ``cookie``.

    A request whose cookie names a server of the pool that is eligible goes
    to that server (``acquire``: the policy is not consulted and does not
    move). Otherwise (no cookie, an unknown name, a server down or ejected)
    the pool picks, and the decision asks the response to set the cookie to
    the chosen server's name.

    >>> from tradeoff.balance._impl import RoundRobin
    >>> s = Sticky(RoundRobin(["a", "b"]), cookie="srv")
    >>> s.cookie
    'srv'
    """

    def __init__(self, pool, cookie="lb"):
        if not isinstance(pool, Balancer):
            raise TypeError(f"Sticky needs a Balancer pool, not {type(pool).__name__}")
        if not isinstance(cookie, str) or not cookie or set(cookie) & _COOKIE_BAD:
            raise ValueError(f"a sticky cookie name is a non-empty token, got {cookie!r}")
        self.pool = pool
        self.cookie = cookie

    def __repr__(self):
        return f"Sticky({self.pool!r}, cookie={self.cookie!r})"


class Split:
    """A weighted A/B split that keeps each client on its variant.

    ``variants`` maps a variant name to a target (a Balancer or a
    :class:`Sticky`); ``weights`` maps the same names to finite weights >= 0
    with a positive sum (default: equal). A client's key, chosen by ``by``
    (``"client"``: the address; ``"cookie:NAME"`` or ``"header:NAME"``: that
    cookie or header, else the address), is hashed with XXH64 (seed ``salt``)
    to a point u in [0, 1); the variants own consecutive slices of [0, 1) in
    proportion to their weights, in the order given, and u's slice wins. So a
    client always lands on the same variant and different salts split
    independently. Changing weights moves only the clients near the slice
    boundaries that shift: raising variant j's weight moves every boundary
    toward j, so a client that moves, moves one way, toward j (with two
    variants: only into j, about the added share of the clients). A request
    with no key at all is hashed as the empty string (every such request gets
    the same variant).

    >>> from tradeoff.balance._impl import RoundRobin
    >>> sp = Split({"old": RoundRobin(2), "new": RoundRobin(1)}, {"old": 90, "new": 10})
    >>> sp.variant(Request(client="10.1.2.3")) == sp.variant(Request(client="10.1.2.3"))
    True
    """

    def __init__(self, variants, weights=None, *, by="client", salt=0):
        if not isinstance(variants, Mapping) or not variants:
            raise ValueError("a Split needs a non-empty mapping of variant name -> pool")
        for k, t in variants.items():
            if not isinstance(k, str) or not k:
                raise ValueError(f"variant names are non-empty strings, got {k!r}")
            if t is None:
                raise ValueError(f"variant {k!r} has no pool")
            if not isinstance(t, (Balancer, Sticky)):
                raise TypeError(f"variant {k!r}: a pool is a Balancer or a Sticky, "
                                f"not {type(t).__name__}")
        self.variants = dict(variants)
        self._names = list(self.variants)
        if not isinstance(by, str) or not (by == "client" or by.startswith(("cookie:", "header:"))
                                          and by.partition(":")[2]):
            raise ValueError(f'by is "client", "cookie:NAME" or "header:NAME", got {by!r}')
        self.by = by
        if not isinstance(salt, int) or not 0 <= salt < (1 << 64):
            raise ValueError(f"salt is an int in [0, 2**64), got {salt!r}")
        self.salt = salt
        self.set_weights(weights)

    def set_weights(self, weights=None):
        """Change the weights (a mapping over every variant, or None for equal)."""
        if weights is None:
            weights = {k: 1.0 for k in self._names}
        if not isinstance(weights, Mapping):
            raise TypeError("Split weights are a mapping of variant name -> weight")
        if set(weights) != set(self._names):
            raise ValueError(f"Split weights name {sorted(weights)} but the variants are "
                             f"{sorted(self._names)}")
        ws = []
        for k in self._names:
            w = weights[k]
            try:
                x = float(w)
            except (TypeError, ValueError):
                raise TypeError(f"weight of variant {k!r} must be a number, not {w!r}") from None
            if not math.isfinite(x) or x < 0:
                raise ValueError(f"weight of variant {k!r} must be finite and >= 0, got {w!r}")
            ws.append(x)
        if sum(ws) <= 0:
            raise ValueError("Split weights must not all be 0")
        self.weights = dict(zip(self._names, ws))
        self._cum = []
        c = 0.0
        for x in ws:
            c += x
            self._cum.append(c)

    def key(self, request):
        """The string a request's client is hashed by."""
        if self.by != "client":
            kind, _, name = self.by.partition(":")
            got = (request.cookies if kind == "cookie" else request.headers).get(
                name if kind == "cookie" else name.lower())
            if got is not None:
                return got
        return request.client or ""

    def variant(self, request):
        """The variant name for a request (always the same for the same key)."""
        u = hash_key(self.key(as_request(request)), self.salt) / _TWO64 * self._cum[-1]
        for name, c in zip(self._names, self._cum):
            if u < c:
                return name
        return self._names[-1]

    def __repr__(self):
        return f"Split({self.weights!r}, by={self.by!r})"


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class Decision:
    """Where a request went: the pool and the server (index and name), the
    route that matched (its index; None for the default), the A/B variant
    (None outside a split), the cookies the response should set, and whether
    a sticky cookie decided."""
    pool: Balancer
    server: int
    name: str
    rule: Optional[int] = None
    variant: Optional[str] = None
    set_cookie: dict = field(default_factory=dict)
    sticky: bool = False


class Route:
    """``match`` (a matcher, or a list of matchers that must all hold) selects
    ``target`` (a Balancer, a :class:`Sticky` or a :class:`Split`)."""

    def __init__(self, match, target):
        ms = list(match) if isinstance(match, (list, tuple)) else [match]
        if not ms:
            raise ValueError("a route needs at least one matcher")
        for m in ms:
            if not isinstance(m, Match):
                raise TypeError(f"a route matches with PathPrefix, Header or Cookie, not {m!r}")
        self.match = ms
        self.target = target

    def matches(self, request):
        return all(m.matches(request) for m in self.match)

    def __repr__(self):
        m = self.match[0] if len(self.match) == 1 else self.match
        return f"Route({m!r}, {self.target!r})"


def _check_target(target, where):
    if target is None:
        raise ValueError(f"{where} has no pool")
    if not isinstance(target, (Balancer, Sticky, Split)):
        raise TypeError(f"{where}: a target is a Balancer, Sticky or Split, "
                        f"not {type(target).__name__}")


def _send(target, request, rule, variant=None):
    if isinstance(target, Split):
        v = target.variant(request)
        return _send(target.variants[v], request, rule, v)
    if isinstance(target, Sticky):
        pool = target.pool
        want = request.cookies.get(target.cookie)
        if want is not None and want in pool.names and pool.eligible(want):
            s = pool.acquire(want)
            return Decision(pool, s, want, rule, variant, {}, True)
        s = pool.pick(request.client)
        name = pool.names[s]
        return Decision(pool, s, name, rule, variant, {target.cookie: name}, False)
    s = target.pick(request.client)
    return Decision(target, s, target.names[s], rule, variant, {}, False)


class Router:
    """Ordered L7 routes with a default target.

    ``routes`` is a list of :class:`Route` (or ``(match, target)`` pairs);
    the first that matches wins. ``default`` takes the rest; without one an
    unmatched request raises :class:`NoRoute`. ``route`` raises
    ``NoServerAvailable`` when the selected pool has no eligible server (it
    does not fall through to the next route).
    """

    def __init__(self, routes=(), default=None):
        rs = []
        for i, r in enumerate(routes):
            if isinstance(r, tuple) and len(r) == 2:
                r = Route(*r)
            if not isinstance(r, Route):
                raise TypeError(f"route {i} is a Route or a (match, pool) pair, not {r!r}")
            _check_target(r.target, f"route {i} ({r.match[0] if len(r.match) == 1 else r.match!r})")
            rs.append(r)
        if default is not None:
            _check_target(default, "the default")
        if not rs and default is None:
            raise ValueError("a router needs at least one route or a default pool")
        self.routes = rs
        self.default = default

    def target_for(self, request):
        """(route index or None, target) for a request."""
        request = as_request(request)
        for i, r in enumerate(self.routes):
            if r.matches(request):
                return i, r.target
        if self.default is None:
            raise NoRoute(f"no route matches {request.path!r} and there is no default pool")
        return None, self.default

    def route(self, request):
        """Route one request: a :class:`Decision` (one open connection counted)."""
        request = as_request(request)
        i, target = self.target_for(request)
        return _send(target, request, i)

    def done(self, decision, duration=None):
        """The request of ``decision`` finished: release its connection."""
        decision.pool.done(decision.server, duration)

    def __repr__(self):
        return f"Router({self.routes!r}, default={self.default!r})"


class L4Router:
    """L4 routing: only the client address and port count, hashed on an
    :class:`~tradeoff.balance._impl.IPHash` pool as the string
    ``"address:port"`` (``"address"`` with ``port=False``, or when the
    request has no port), so every packet of a connection reaches the same
    server while it is eligible, and only a down server's connections move.

    >>> from tradeoff.balance._impl import IPHash
    >>> l4 = L4Router(IPHash(["a", "b", "c"], vnodes=50))
    >>> d = l4.route(("192.0.2.1", 40000)); l4.done(d)
    >>> l4.route(("192.0.2.1", 40000)).server == d.server
    True
    """

    def __init__(self, pool, *, port=True):
        if not isinstance(pool, IPHash):
            raise TypeError("L4 routing hashes the connection: give it an IPHash pool, "
                            f"not {type(pool).__name__}")
        self.pool = pool
        self.use_port = bool(port)

    def key(self, request):
        if isinstance(request, tuple):
            if len(request) != 2:
                raise ValueError(f"an L4 request is (address, port), got {request!r}")
            request = Request(client=request[0], port=request[1])
        request = as_request(request)
        if request.client is None:
            raise ValueError("L4 routing needs the client address")
        if self.use_port and request.port is not None:
            return f"{request.client}:{request.port}"
        return request.client

    def route(self, request):
        """Route one connection: a :class:`Decision`."""
        s = self.pool.pick(self.key(request))
        return Decision(self.pool, s, self.pool.names[s])

    def done(self, decision, duration=None):
        decision.pool.done(decision.server, duration)

    def __repr__(self):
        return f"L4Router({self.pool!r}, port={self.use_port})"

