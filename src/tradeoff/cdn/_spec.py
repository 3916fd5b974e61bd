"""Parsing of the topology, workload and deploy specifications, and the HTTP profile
of each content class at each kind of layer (computed by :mod:`tradeoff.http`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..harness.specs import parse_duration as _parse_duration
from ..harness.specs import parse_size
from ..http import Request, StoredResponse, storable, strip_surrogate
from ..http._semantics import _profile

__all__ = ["KINDS", "CLASSES", "Layer", "Topology", "parse_size", "parse_duration", "class_headers",
           "profiles", "response_profiles"]

#: the layers in the order a request meets them
KINDS = ("browser", "edge", "shield", "proxy", "app", "db", "origin")
#: content classes (index = class id)
CLASSES = ("asset", "image", "video", "page", "api", "personal")
ASSET, IMAGE, VIDEO, PAGE, API, PERSONAL = range(6)
#: origin-side layers: bytes leaving the first of them leave the origin
ORIGIN_SIDE = ("proxy", "app", "db", "origin")

_DEFAULTS = {
    "edge": {"pops": 5, "size": "10GB", "policy": "lru", "rtt": "20ms", "collapse": "on"},
    "shield": {"size": "50GB", "policy": "lru", "rtt": "30ms", "collapse": "on"},
    "proxy": {"size": "5GB", "policy": "lru", "rtt": "60ms", "collapse": "on"},
    "app": {"size": "1GB", "policy": "lru", "rtt": "1ms", "ttl": "30s", "collapse": "off"},
    "db": {"size": "256MB", "policy": "lru", "rtt": "1ms", "ttl": "60s", "collapse": "off"},
    "browser": {"size": "0", "policy": "lru"},
    "origin": {"rtt": "2ms"},
}


def parse_duration(text, what: str = "duration") -> float:
    """Seconds from ``20ms``, ``5s``, ``30m``, ``1h`` or a number of seconds (the shared
    :func:`tradeoff.harness.specs.parse_duration`), or days: ``2d``.

    >>> parse_duration("20ms"), parse_duration("1h"), parse_duration("2d"), parse_duration(3)
    (0.02, 3600.0, 172800.0, 3.0)
    """
    if isinstance(text, str):
        m = re.fullmatch(r"\s*(\S+?)\s*d\s*", text)
        if m:
            try:
                return 86400.0 * _parse_duration(m.group(1), what)
            except ValueError:
                raise ValueError(f"bad {what} {text!r}: write a number of days, e.g. 2d, or of seconds with "
                                 f"an optional unit (ns, us, ms, s, m, h)") from None
    return _parse_duration(text, what)


@dataclass
class Layer:
    """One layer of the topology: its kind and options (sizes in bytes, times in s)."""
    kind: str
    pops: int = 1
    size: int = 0
    policy: str = "lru"
    rtt: float = 0.0
    ttl: float = 0.0
    collapse: bool = False
    params: dict = field(default_factory=dict)


class Topology:
    """The layers a request crosses, browser to origin, parsed from a spec such as
    ``browser,edge:pops=5:size=10GB:policy=s3fifo,shield,proxy,app,origin``.

    Each layer is ``kind[:key=value...]``; kinds in their order: browser (private,
    one per client; unbounded by default, or ``size`` bytes each, evicting the
    least recently used: ``browser:size=50MB``), edge (``pops``, ``size``, ``policy``, ``rtt``,
    ``collapse``), shield, proxy, app (``ttl``), db (``ttl``), origin (``rtt``).
    ``rtt`` is the round trip of the hop into the layer; ``policy`` any online
    eviction policy of :mod:`tradeoff.cache`. The origin is required.

    Parsing is O(layers); each edge PoP gets its own cache when simulated.

    >>> t = Topology("edge:pops=2,proxy,origin"); t._check()
    >>> [l.kind for l in t.layers]
    ['edge', 'proxy', 'origin']
    >>> Topology("edge,proxy")
    Traceback (most recent call last):
    ...
    ValueError: the topology has no origin: end it with ',origin'
    """

    def __init__(self, spec: str) -> None:
        from ..cache import POLICY_SPECS

        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"layers must be a non-empty spec such as 'browser,edge,origin', got {spec!r}")
        layers = []
        for part in spec.split(","):
            bits = part.strip().split(":")
            kind = bits[0].strip().lower()
            if kind not in KINDS:
                raise ValueError(f"unknown layer {kind!r}: choose from {', '.join(KINDS)}")
            opts = dict(_DEFAULTS[kind])
            for b in bits[1:]:
                if "=" not in b:
                    raise ValueError(f"layer option must be key=value, got {b!r} in {part!r}")
                k, v = b.split("=", 1)
                k = k.strip().lower()
                if k not in opts:
                    raise ValueError(f"unknown option {k!r} for layer {kind}: it takes "
                                     f"{', '.join(opts) or 'no options'}")
                opts[k] = v.strip()
            layer = Layer(kind)
            if "pops" in opts:
                try:
                    layer.pops = int(opts["pops"])
                except ValueError:
                    raise ValueError(f"pops must be an integer, got {opts['pops']!r}") from None
                if layer.pops < 1:
                    raise ValueError(f"pops must be >= 1, got {layer.pops}")
            if "size" in opts:
                layer.size = parse_size(opts["size"], f"{kind} size")
                if layer.size < 1 and not (kind == "browser" and opts["size"] == "0"):
                    raise ValueError(f"{kind} size must be > 0, got {opts['size']!r}")
            if kind == "browser":
                if opts["policy"].lower() != "lru":
                    raise ValueError(f"unknown policy {opts['policy']!r} for layer browser: browser caches "
                                     f"evict the least recently used (policy=lru)")
                layers.append(layer)
                continue
            if "policy" in opts:
                pol = opts["policy"].lower()
                if pol not in POLICY_SPECS or POLICY_SPECS[pol].offline:
                    online = [p for p in POLICY_SPECS if not POLICY_SPECS[p].offline]
                    raise ValueError(f"unknown policy {opts['policy']!r} for layer {kind}: choose from "
                                     f"{', '.join(online)}")
                layer.policy = pol
            if "rtt" in opts:
                layer.rtt = parse_duration(opts["rtt"], f"{kind} rtt")
            if "ttl" in opts:
                layer.ttl = parse_duration(opts["ttl"], f"{kind} ttl")
            if "collapse" in opts:
                if opts["collapse"] not in ("on", "off"):
                    raise ValueError(f"collapse must be on or off, got {opts['collapse']!r}")
                layer.collapse = opts["collapse"] == "on"
            layers.append(layer)
        kinds = [l.kind for l in layers]
        if "origin" not in kinds:
            raise ValueError("the topology has no origin: end it with ',origin'")
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"each layer appears once, got {','.join(kinds)}")
        if kinds != sorted(kinds, key=KINDS.index):
            raise ValueError(f"layers must be in the order {','.join(KINDS)}, got {','.join(kinds)}")
        self.layers = layers
        self.browser = "browser" in kinds
        #: bytes per browser cache (0: unbounded)
        self.browser_size = layers[0].size if self.browser else 0
        self.shared = [l for l in layers if l.kind not in ("browser", "origin")]
        self.origin = layers[-1]

    def _check(self) -> None:
        """Assert the invariants: known kinds, in order, once each, ending at the origin."""
        kinds = self.kinds()
        assert kinds and kinds[-1] == "origin"
        assert kinds == sorted(set(kinds), key=KINDS.index)
        for l in self.shared:
            assert l.size >= 1 and l.pops >= 1 and l.rtt >= 0

    def kinds(self) -> list[str]:
        return [l.kind for l in self.layers]

    def __repr__(self) -> str:
        return f"Topology({','.join(self.kinds())})"


def class_headers(assets: str = "hashed") -> list[dict]:
    """The response header fields of each content class (index = class id).

    ``assets``: ``hashed`` (content-hashed names: ``max-age=31536000, immutable``,
    RFC 8246) or ``max-age=N`` (stable names, revalidated with the ETag after N s).
    Pages carry Surrogate-Control (the edge keeps them a day; deploys purge them) and
    a short browser lifetime with stale-while-revalidate (RFC 5861); API responses
    a short s-maxage; personalised responses are ``private, no-cache`` (RFC 9111
    §5.2.2.7, §5.2.2.4): only the browser stores them and it validates every use.
    """
    if assets == "hashed":
        asset = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": '"h"'}
    else:
        m = re.fullmatch(r"max-age=(\d+)", str(assets))
        if not m:
            raise ValueError(f"assets must be 'hashed' or 'max-age=N', got {assets!r}")
        asset = {"Cache-Control": f"public, max-age={m.group(1)}", "ETag": '"v"'}
    return [
        asset,
        {"Cache-Control": "public, max-age=86400", "ETag": '"i"'},
        {"Cache-Control": "public, max-age=604800", "ETag": '"c"'},
        {"Cache-Control": "public, max-age=60, stale-while-revalidate=30",
         "Surrogate-Control": "max-age=86400", "Surrogate-Key": "pages", "ETag": '"p"'},
        {"Cache-Control": "public, max-age=5, s-maxage=10", "Surrogate-Key": "api", "ETag": '"a"'},
        {"Cache-Control": "private, no-cache", "ETag": '"u"'},
    ]


def profiles(topology: Topology, headers: list[dict]):
    """Per class and level (0 browser, 1..m shared layers): (storable, lifetime, swr)
    of the class's default response (status 200, ``headers[class]``); see
    :func:`response_profiles`."""
    return response_profiles(topology, [(c, 200, h) for c, h in enumerate(headers)])


def response_profiles(topology: Topology, responses):
    """Per response ``(class, status, headers)`` and level (0 browser, 1..m shared
    layers): (storable, lifetime, swr) from :mod:`tradeoff.http`, each response
    given as it leaves the origin: the browser sees the headers with Surrogate-Control
    stripped (private cache); edge and shield are surrogates (shared, honouring
    Surrogate-Control); the proxy is a shared HTTP cache. The app and db caches are
    not HTTP caches: they hold pages and API responses for their ``ttl`` and are
    invalidated when the content changes; they keep successful (200) responses
    only, whatever the headers say. ``no-cache`` gives a lifetime of 0;
    ``must-revalidate``, ``proxy-revalidate`` and s-maxage forbid stale service.
    Storability follows the status as RFC 9111 §3 does (206 and 304 are never
    stored as such; without explicit freshness only the heuristically cacheable
    codes of RFC 9110 §15.1), malformed directives as :mod:`tradeoff.http` reads
    them (an invalid max-age: stale at once, RFC 9111 §4.2.1).

    >>> t = Topology("browser,edge,origin")
    >>> response_profiles(t, [(PAGE, 404, {}), (PAGE, 200, {"Cache-Control": "max-age=-5"}),
    ...                       (PAGE, 503, {})])
    [[(True, 0.0, 0.0), (True, 0.0, 0.0)], [(True, 0.0, 0.0), (True, 0.0, 0.0)], [(False, 0.0, 0.0), (False, 0.0, 0.0)]]
    """
    levels = [("browser", None)] + [(l.kind, l) for l in topology.shared]
    out = []
    for cls, status, h in responses:
        row = []
        for kind, layer in levels:
            if kind in ("app", "db"):
                row.append((CLASSES[cls] in ("page", "api") and status == 200, layer.ttl, 0.0))
                continue
            shared = kind != "browser"
            surrogate = kind in ("edge", "shield")
            hh = h if surrogate else strip_surrogate(h)
            resp = StoredResponse(int(status), hh)
            ok = storable(Request(), resp, shared=shared, surrogate=surrogate)
            lifetime, _src, no_cache, revalidate, swr, _imm, sc_ext, _sie = _profile(resp, shared, surrogate)
            life = 0.0 if no_cache else float(lifetime)
            stale = 0.0 if revalidate or no_cache else float(swr or sc_ext or 0)
            row.append((bool(ok), life, stale))
        out.append(row)
    return out
