"""Where to cache: layered HTTP caches from the browser to the database, and a CDN.

A :class:`Topology` (browser caches per client, unbounded or of a byte size, CDN
edges per region with a shared :mod:`tradeoff.cache` eviction policy each, an
optional shield, a reverse proxy, an application cache, the database's query cache,
the origin) and a workload of requests (generated; from a CDN CSV, with each
response's status and headers; or a published trace through :mod:`tradeoff.traces`,
see :func:`load_trace`) go into :func:`simulate`; out come per-layer hit
ratios by requests and bytes, origin load, latency by region, egress cost and the
staleness each deploy leaves, for the strategies of the issue: content-hashed
assets against stable names with a short max-age, origin pull against push, purges
by URL against surrogate keys.

The per-response decisions follow RFC 9111 through :mod:`tradeoff.http`
(Surrogate-Control for the edge, stripped before the browser; stale-while-revalidate,
RFC 5861; immutable, RFC 8246; validation with ETags answered 304, RFC 9110 §13).

>>> from tradeoff.cdn import generate, simulate
>>> w = generate(2000, seed=1, duration="2h", pages=200, assets=100, images=100)
>>> r = simulate("browser,edge:pops=2:size=1GB,proxy,origin", w, deploy="every=1h")
>>> r.layer("edge")["requests"] == r.layer("browser")["forwarded"]
True
"""
from ._run import RENDER, Result, parse_deploys, simulate
from ._sim import COUNTERS
from ._spec import (CLASSES, KINDS, Layer, Topology, class_headers, parse_duration, parse_size, profiles,
                    response_profiles)
from ._workload import (HEADER_COLUMNS, TRACE_CLASS, Workload, classify, generate, load_trace, parse_header_cell,
                        parse_workload, read_csv, read_trace)

__all__ = ["Topology", "Layer", "Workload", "Result", "simulate", "generate", "read_csv", "read_trace",
           "load_trace", "parse_header_cell", "HEADER_COLUMNS", "TRACE_CLASS",
           "parse_workload", "parse_deploys", "class_headers", "profiles", "response_profiles", "classify",
           "KINDS", "CLASSES", "COUNTERS", "RENDER", "parse_size", "parse_duration"]
