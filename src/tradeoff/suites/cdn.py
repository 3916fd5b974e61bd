"""HTTP caching and the CDN tier: the cost of an RFC 9111 decision against hishel in the
same run, and nginx's proxy cache against our model of it.

Timed (pyperf), on the same 1000 generated header combinations (seeded):
- ``decide``: one reuse decision per stored response. ``impl``:
  ``tradeoff`` (``decide`` on a stored response whose headers were parsed when it was
  stored, as a cache holds it), ``tradeoff_raw`` (the headers parsed again for every
  decision: ``StoredResponse`` + ``Request`` + ``decide``), ``hishel``
  (``IdleClient.next`` on one stored entry, hishel 2).

Scenarios:
- ``decision_rate``: decisions per second of each implementation, measured in one
  process one after the other, and the ratio to hishel.
- ``hishel_agreement``: on the generated set, how often the store / serve / validate
  decisions agree with hishel (the differences are documented in
  tests/http/test_http_hishel.py).
- ``nginx_agreement``: request sequences replayed through real nginx (proxy_cache:
  expiry, revalidate, Vary, lock, no lock, use_stale updating) and through ``NginxModel``: statuses compared
  (skipped when nginx is not installed).

The layered simulation (:mod:`tradeoff.cdn`), five layers (browser, edges, shield,
proxy, app) in front of the origin, on one generated day of a site (seeded):
- ``simulate_layers`` (timed): the simulation loop, per request, for two edge
  policies; ``simulation_throughput`` (scenario): requests per second through the
  five layers, loop alone and end to end (URL preparation and figures included).
- ``cdn_assets``: content-hashed asset names (``max-age=31536000, immutable``)
  against stable names with ``max-age=300``: stale responses after deploys, the
  longest stale window, origin load, edge hit ratio.
- ``cdn_origin``: origin pull against push (static content uploaded at deploy).
- ``cdn_purge``: purges by URL (one by one, rate-limited) against one surrogate-key
  (tag) purge.
- ``cdn_browser_size``: unbounded browser caches against 10 MB, 1 MB and 200 KB per
  client (LRU by bytes): browser hit ratio and what reaches the origin.
"""
from __future__ import annotations

import time
import uuid

from tradeoff import benchmark, scenario
from tradeoff.harness.errors import Skip

N = 1000
IMPLS = ["tradeoff", "tradeoff_raw", "hishel"]


def _prepared(impl: str, seed: int):
    """(a function making one pass of N decisions, the set)."""
    from tradeoff.http import Request, StoredResponse, decide
    from tradeoff.http._workload import DATE0, header_set

    cases = header_set(N, seed)
    if impl == "tradeoff":
        items = [(Request("GET", rq), StoredResponse(st, rs, Request("GET", rq), DATE0, DATE0), DATE0 + age)
                 for rq, st, rs, age in cases]

        def run():
            for req, stored, now in items:
                decide(req, stored, now)
        return run
    if impl == "tradeoff_raw":
        items = [(rq, st, rs, DATE0 + age) for rq, st, rs, age in cases]

        def run():
            for rq, st, rs, now in items:
                req = Request("GET", rq)
                decide(req, StoredResponse(st, rs, req, DATE0, DATE0), now)
        return run
    if impl == "hishel":
        from tradeoff.suites._peers import require

        hishel = require("hishel", "hishel decisions")
        client = hishel.IdleClient(options=hishel.CacheOptions(shared=True))
        items = []
        for rq, st, rs, _age in cases:
            hreq = hishel.Request("GET", "http://example.test/a", hishel.Headers(dict(rq)))
            entry = hishel.Entry(uuid.uuid4(), hreq, hishel.Response(st, hishel.Headers(dict(rs))))
            items.append((hreq, [entry]))

        def run():
            nxt = client.next
            for hreq, entries in items:
                nxt(hreq, entries)
        return run
    raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")


@benchmark(params={"impl": IMPLS}, compare="impl", inner_loops=N)
def decide(impl, seed):
    """One cache reuse decision (RFC 9111 §4) on typical headers."""
    return _prepared(impl, seed)


def _rate(impl: str, seed: int, passes: int = 20) -> float:
    run = _prepared(impl, seed)
    run()
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return N / best


@scenario
def decision_rate(seed):
    """Decisions per second (best of 20 passes over 1000 header sets) of each
    implementation in this process, and each one's speed-up over hishel."""
    out = {}
    for impl in IMPLS:
        try:
            out[f"{impl}_per_s"] = _rate(impl, seed)
        except Skip:
            out[f"{impl}_per_s"] = None
    for impl in ("tradeoff", "tradeoff_raw"):
        out[f"{impl}_ns"] = 1e9 / out[f"{impl}_per_s"]
        out[f"{impl}_vs_hishel"] = (out[f"{impl}_per_s"] / out["hishel_per_s"]) if out["hishel_per_s"] else None
    return out


@scenario
def hishel_agreement(seed):
    """Share of the generated header set where hishel (shared cache, its clock at the
    same instant) makes the same store and reuse decision as tradeoff.http."""
    import types

    from tradeoff.http import FRESH, MISS, MUST_VALIDATE, Request, StoredResponse, decide, storable
    from tradeoff.http._workload import DATE0, header_set
    from tradeoff.suites._peers import require

    hishel = require("hishel", "hishel agreement")
    spec = require("hishel._core._spec", "hishel agreement")
    same = differ = 0
    saved = spec.time
    opts = hishel.CacheOptions(shared=True)
    try:
        for rq, st, rs, age in header_set(N, seed):
            spec.time = types.SimpleNamespace(time=lambda now=DATE0 + age: now)
            req = Request("GET", rq)
            stored = StoredResponse(st, rs, req, DATE0, DATE0)
            ours = decide(req, stored, DATE0 + age).action if storable(req, stored) else MISS
            hreq = hishel.Request("GET", "http://example.test/a", hishel.Headers(dict(rq)))
            state = spec.CacheMiss(request=hreq, options=opts).next(hishel.Response(st, hishel.Headers(dict(rs))))
            if not isinstance(state, hishel.StoreAndUse):
                theirs = MISS
            else:
                nxt = hishel.IdleClient(options=opts).next(hreq, [hishel.Entry(uuid.uuid4(), hreq, state.response)])
                theirs = FRESH if isinstance(nxt, hishel.FromCache) else MUST_VALIDATE
            same += ours == theirs
            differ += ours != theirs
    finally:
        spec.time = saved
    return {"cases": same + differ, "same": same, "differ": differ, "agreement": same / (same + differ)}


def _agreement_cases():
    from tradeoff.http.nginx import Resource, Step as S

    r = {"/r": Resource({"Cache-Control": "max-age=1", "ETag": '"v1"'})}
    slow = {"/s": Resource({"Cache-Control": "max-age=60"}, delay=0.8)}
    upd = {"/u": Resource({"Cache-Control": "max-age=1"}, delay=0.6)}
    seq = [S(0, "/r"), S(0.3, "/r"), S(1.0, "/r"), S(2.0, "/r"), S(2.3, "/r")]
    burst = [S(0, "/s"), S(0.2, "/s"), S(0.3, "/s"), S(0.4, "/s"), S(1.2, "/s")]
    stale = [S(0, "/u"), S(3.0, "/u"), S(3.2, "/u"), S(3.4, "/u"), S(3.8, "/u")]
    vary = {"/v": Resource({"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"})}
    enc = [S(0.2 * i, "/v", {"Accept-Encoding": e}) for i, e in enumerate(["gzip", "gzip", "br", "br", "gzip"])]
    return {"expiry": ({}, r, seq), "revalidate": ({"revalidate": True}, r, seq), "vary": ({}, vary, enc),
            "lock": ({"lock": True}, slow, burst), "no_lock": ({}, slow, burst),
            "use_stale_updating": ({"use_stale": ("updating",)}, upd, stale)}


@scenario(params={"case": ["expiry", "revalidate", "vary", "lock", "no_lock", "use_stale_updating"]})
def nginx_agreement(case, seed):
    """One request sequence through real nginx and through NginxModel: the statuses,
    and how many agree."""
    from tradeoff.http.nginx import NginxServer, nginx_missing, replay, replay_model

    notice = nginx_missing()
    if notice:
        raise Skip(f"nginx agreement: {notice}")
    opts, resources, steps = _agreement_cases()[case]
    with NginxServer(resources, **opts) as ng:
        real, t0 = replay(ng, steps)
        origin = sum(ng.origin.hits.values())
    model = replay_model(resources, steps, t0, **opts)
    agree = sum(a == b for a, b in zip(real, model))
    return {"requests": len(steps), "agree": agree, "disagree": len(steps) - agree,
            "nginx": " ".join(real), "model": " ".join(model), "origin_requests": origin}


CDN_LAYERS = "browser,edge:pops=5:size=2GB:policy={policy},shield:size=10GB,proxy:size=1GB,app:size=256MB,origin"
CDN_REQUESTS = 300_000
CDN_WORKLOAD = dict(assets=5000, pages=20000, images=20000, videos=500, api=2000, clients=20000,
                    duration="24h")


def _cdn_workload(seed: int, n: int = CDN_REQUESTS):
    from tradeoff.cdn import generate

    key = (seed, n)
    if key not in _CDN_CACHE:
        _CDN_CACHE.clear()
        _CDN_CACHE[key] = generate(n, seed=seed, **CDN_WORKLOAD)
    return _CDN_CACHE[key]


_CDN_CACHE: dict = {}


@benchmark(params={"policy": ["lru", "s3fifo"]}, compare="policy", inner_loops=CDN_REQUESTS)
def simulate_layers(policy, seed):
    """One request through five layers (browser, 5 edges, shield, proxy, app) to the origin."""
    from tradeoff.cdn import simulate

    w = _cdn_workload(seed)
    layers = CDN_LAYERS.format(policy=policy)

    def run():
        simulate(layers, w, seed=seed)
    return run


@scenario
def simulation_throughput(seed):
    """Requests per second through five layers: the loop alone and the whole
    simulate() call (best of 3 on a 300k-request day)."""
    from tradeoff.cdn import simulate

    w = _cdn_workload(seed)
    best_loop = best_all = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        r = simulate(CDN_LAYERS.format(policy="s3fifo"), w, seed=seed)
        best_all = min(best_all, time.perf_counter() - t0)
        best_loop = min(best_loop, r.summary["loop_seconds"])
    return {"requests": len(w), "loop_requests_per_s": len(w) / best_loop,
            "end_to_end_requests_per_s": len(w) / best_all,
            "seconds_for_10M_projected": 10e6 / (len(w) / best_all)}


def _cdn_row(seed, browser: str = "browser", workload=None, **kw):
    from tradeoff.cdn import simulate

    layers = CDN_LAYERS.format(policy="s3fifo").replace("browser,", browser + ",", 1)
    r = simulate(layers, _cdn_workload(seed) if workload is None else workload, seed=seed, **kw)
    s = r.summary
    return {"browser_hit_ratio": r.layer("browser")["hit_ratio"], "origin_requests": s["origin_requests"], "origin_gb": (s["origin_bytes_out"] + s["push_bytes"]) / 1e9,
            "edge_hit_ratio": r.layer("edge")["hit_ratio"], "edge_byte_hit_ratio": r.layer("edge")["byte_hit_ratio"],
            "stale_served": s["stale_served"], "max_stale_window_s": s["max_stale_window_s"],
            "mean_stale_window_s": s["mean_stale_window_s"], "egress_cost": s["egress_cost"],
            "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]}


@scenario(params={"assets": ["hashed", "max-age=300"]}, compare="assets")
def cdn_assets(assets, seed):
    """Hashed against stable asset names, deploys every hour (20% of objects change), tag purges."""
    return _cdn_row(seed, assets=assets, deploy="every=1h", purge="tag")


@scenario(params={"origin": ["pull", "push"]}, compare="origin")
def cdn_origin(origin, seed):
    """Origin pull against push of static content at deploy."""
    return _cdn_row(seed, origin=origin, assets="max-age=300", deploy="every=1h", purge="tag")


@scenario(params={"purge": ["url", "tag"]}, compare="purge")
def cdn_purge(purge, seed):
    """Purge by URL (100 per second) against one surrogate-key purge, after each deploy."""
    return _cdn_row(seed, purge=purge, assets="max-age=300", deploy="every=1h")


@scenario(params={"browser": ["unbounded", "10MB", "1MB", "200KB"]}, compare="browser")
def cdn_browser_size(browser, seed):
    """Browser caches unbounded against a byte capacity per client (LRU): what the
    browsers stop absorbing reaches the edges and the origin."""
    from tradeoff.cdn import generate

    key = ("browsers", seed)
    if key not in _CDN_CACHE:
        _CDN_CACHE.clear()
        # 500 clients: 600 requests each in the day, so that their browsers have something to keep
        _CDN_CACHE[key] = generate(CDN_REQUESTS, seed=seed, **dict(CDN_WORKLOAD, clients=500))
    spec = "browser" if browser == "unbounded" else f"browser:size={browser}"
    return _cdn_row(seed, browser=spec, workload=_CDN_CACHE[key], assets="hashed", deploy="every=1h",
                    purge="tag")


__all__ = ["decide", "decision_rate", "hishel_agreement", "nginx_agreement", "simulate_layers",
           "simulation_throughput", "cdn_assets", "cdn_origin", "cdn_purge", "cdn_browser_size"]
