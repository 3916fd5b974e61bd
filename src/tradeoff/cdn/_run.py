"""``simulate``: a workload through a :class:`Topology`; per-layer counts and the
figures derived from them (hit ratios, origin load, latency, egress, staleness)."""
from __future__ import annotations

import time as _time

import numpy as np

from ..cache import make_engine
from ._sim import COUNTERS, Sim, versions
from ._spec import (API, ASSET, CLASSES, IMAGE, ORIGIN_SIDE, PAGE, PERSONAL, VIDEO, Topology,
                    class_headers, parse_duration, parse_size, response_profiles)
from ._workload import Workload

__all__ = ["simulate", "Result", "parse_deploys", "RENDER"]

#: time the origin takes to produce a response, per class (s)
RENDER = {ASSET: 0.002, IMAGE: 0.002, VIDEO: 0.005, PAGE: 0.050, API: 0.020, PERSONAL: 0.080}
#: the round trip from an edge to the push storage (s)
STORAGE_RTT = 0.010


def parse_deploys(spec, duration: float) -> tuple[np.ndarray, float]:
    """(deploy times, fraction of deploy-changing objects changed at each deploy)
    from ``every=1h[,changed=0.2]``, a list ``10m,2h,5h[,changed=1]`` or ``none``."""
    changed = 0.2
    if spec is None or str(spec).strip() in ("", "none"):
        return np.zeros(0), changed
    times = []
    every = None
    for part in (p.strip() for p in str(spec).split(",") if p.strip()):
        if part.startswith("changed="):
            try:
                changed = float(part[8:])
            except ValueError:
                raise ValueError(f"changed must be a fraction, got {part[8:]!r}") from None
            if not 0 <= changed <= 1:
                raise ValueError(f"changed must be between 0 and 1, got {changed}")
        elif part.startswith("every="):
            every = parse_duration(part[6:], "deploy interval")
            if every <= 0:
                raise ValueError("deploy interval must be > 0")
        else:
            times.append(parse_duration(part, "deploy time"))
    if every is not None:
        times.extend(np.arange(every, duration, every).tolist())
    return np.unique(np.array(times, dtype=np.float64)), changed


class Result:
    """What :func:`simulate` measured.

    ``rows``: one dict per layer (browser .. origin, and ``storage`` with push),
    the counters of :data:`tradeoff.cdn._sim.COUNTERS` plus ``hit_ratio`` (hits
    and stale-while-revalidate serves over requests), ``byte_hit_ratio`` (bytes
    served from the layer's storage, 304s included, over bytes requested);
    ``summary``: origin requests and bytes, egress cost, latency percentiles by
    region, staleness after deploys; ``timeline``: per time bucket, requests,
    origin requests and stale serves (for plots)."""

    def __init__(self, rows, summary, timeline, latency_by_region, params):
        self.rows = rows
        self.summary = summary
        self.timeline = timeline
        self.latency_by_region = latency_by_region
        self.params = params

    def layer(self, kind: str) -> dict:
        for r in self.rows:
            if r["layer"] == kind:
                return r
        raise KeyError(kind)


def _urls(w: Workload, deploys: np.ndarray, changed: float, assets: str, seed: int, push_mode: str,
          push_above: int, purge: str, purge_rate: float, push_delay: float):
    """Compact URL ids per request, their per-URL attributes and the origin's (and
    the push storage's) version of each request's URL."""
    hashed = assets == "hashed"
    hobj = w.cls.astype(np.int64) * (1 << 40) + w.obj          # object identity for the change hash
    changes = np.isin(w.cls, [ASSET, PAGE, API]).astype(np.uint8)
    d_now = (np.searchsorted(deploys, w.time, side="right") - 1).astype(np.int64)
    v = versions(hobj, d_now, changed, seed, changes)
    d_push = (np.searchsorted(deploys, w.time - push_delay, side="right") - 1).astype(np.int64)
    vs = versions(hobj, d_push, changed, seed, changes)
    # hashed assets: the version is part of the name, so each version is its own URL
    tag = np.where((w.cls == ASSET) & hashed, v.astype(np.int64) + 1, 0)
    key = (hobj << 12) + tag
    ukeys, first, url = np.unique(key, return_index=True, return_inverse=True)
    url = url.astype(np.int64).ravel()
    ucls = w.cls[first].astype(np.int32)
    usize = w.size[first].astype(np.int64)
    uobj = hobj[first]
    static = np.isin(ucls, [ASSET, IMAGE, VIDEO])
    upushed = (static & ((push_mode == "push") | (usize > push_above))).astype(np.uint8)
    if hashed:
        vs = np.where(w.cls == ASSET, v, vs)               # a hashed URL's content never changes
    purgeable = np.isin(ucls, [PAGE, API]) | ((ucls == ASSET) & (not hashed))
    off = np.full(len(ukeys), -1.0)
    if purge == "tag":
        off[purgeable] = 0.0
    elif purge == "url":
        # the deploy purges the changed URLs one after another at purge_rate per second:
        # a URL waits for the expected number of changed URLs before it
        rank = np.cumsum(purgeable) - 1
        off[purgeable] = rank[purgeable] * changed / purge_rate
    return url, ucls, usize, uobj, upushed, off, v, vs


def _url_profiles(topology: Topology, w: Workload, url: np.ndarray, ucls: np.ndarray, headers: list):
    """(the profile id of each URL, the profiles' decisions per level, the profiles
    as (class, status, headers)). A URL's response is the one its first request
    in the workload carries (the class's default response when the workload has
    none); one profile per distinct (class, response), so the tables stay small
    whatever the number of URLs."""
    if w.responses:
        _, first = np.unique(url, return_index=True)
        ur = w.resp[first].astype(np.int64)
    else:
        ur = np.full(len(ucls), -1, dtype=np.int64)
    width = len(w.responses) + 1
    key = ucls.astype(np.int64) * width + ur + 1
    ukey, inv = np.unique(key, return_inverse=True)
    resp = []
    for kk in ukey.tolist():
        c, r = divmod(kk, width)
        if r == 0:
            resp.append((c, 200, headers[c]))
        else:
            st, h = w.responses[r - 1]
            resp.append((c, st, headers[c] if h is None else h))
    return inv.astype(np.int32).ravel(), response_profiles(topology, resp), resp


def simulate(topology, workload: Workload, *, assets: str = "hashed", deploy="every=1h",
             purge: str = "tag", origin: str = "pull", push_above="100MB", purge_delay="2s",
             purge_rate: float = 100.0, sigma: float = 0.25, bucket: float = 300.0,
             price_origin: float = 0.09, price_edge: float = 0.02, seed: int = 0,
             progress=None) -> Result:
    """Run ``workload`` through ``topology``; see :class:`Result`.

    - ``assets``: ``hashed`` or ``max-age=N`` (see :func:`class_headers`);
    - ``deploy``: see :func:`parse_deploys`; deploy-changing content (assets,
      pages, API responses) gets a new version for a seeded ``changed`` fraction
      of objects at each deploy;
    - ``purge``: ``url`` (the changed URLs, one by one at ``purge_rate``/s), ``tag``
      (one surrogate-key purge for all) or ``none``; a purge reaches edge ``i``
      of ``P`` ``purge_delay * (i + 1) / P`` after the deploy, the shield before
      any edge (``purge_delay / 2P``) and the reverse proxy at once;
    - ``origin``: ``pull`` (edges fetch on a miss) or ``push`` (static content is
      uploaded to CDN storage at deploy; an edge miss for it is served by the
      storage, never the origin); objects above ``push_above`` are always pushed;
    - prices: dollars per GB leaving the origin and leaving an edge.
    """
    if not isinstance(topology, Topology):
        topology = Topology(topology)
    if purge not in ("url", "tag", "none"):
        raise ValueError(f"purge must be url, tag or none, got {purge!r}")
    if origin not in ("pull", "push"):
        raise ValueError(f"origin must be pull or push, got {origin!r}")
    if purge_rate <= 0:
        raise ValueError(f"purge_rate must be > 0, got {purge_rate}")
    push_above = parse_size(push_above, "push_above")
    pdel = parse_duration(purge_delay, "purge delay")
    headers = class_headers(assets)
    deploys, changed = parse_deploys(deploy, workload.duration)
    url, ucls, usize, uobj, upushed, uoff, v, vs = _urls(workload, deploys, changed, assets, seed,
                                                         origin, push_above, purge, purge_rate, pdel)
    shared = topology.shared
    m = len(shared)
    uprof, prof, _resp = _url_profiles(topology, workload, url, ucls, headers)
    nc = len(CLASSES)
    npr = len(prof)
    store = np.zeros((npr, m + 1), dtype=np.uint8)
    life = np.zeros((npr, m + 1))
    swr = np.zeros((npr, m + 1))
    for q in range(npr):
        for k in range(m + 1):
            store[q, k], life[q, k], swr[q, k] = prof[q][k]
    ninst = np.array([1] + [l.pops if l.kind == "edge" else 1 for l in shared] + [1, 1], dtype=np.int32)
    ninst[0] = 0
    base = np.concatenate([[0], np.cumsum(ninst)[:-1]]).astype(np.int32)
    engines, pdelay = [], []
    pops = max([l.pops for l in shared if l.kind == "edge"] or [1])
    nurl = len(ucls)
    for l in shared:
        for i in range(l.pops if l.kind == "edge" else 1):
            slots = max(1, min(nurl, l.size))
            engines.append(make_engine(l.policy, l.size, slots=slots, sized=True))
            # the shield first (before any edge), as CDNs advise for shielding: an edge
            # purged before its shield would refetch the old copy from it
            # the reverse proxy is the site's own: the deploy clears it at once (else the
            # shield, purged, would refetch the old copy from it and keep it a day)
            pdelay.append(pdel * (i + 1) / l.pops if l.kind == "edge" else
                          0.0 if l.kind == "proxy" else pdel / (2 * max(1, pops)))
    kinds = [l.kind for l in shared]
    edge = kinds.index("edge") + 1 if "edge" in kinds else -1
    if edge < 0:
        upushed[:] = 0                      # push needs a CDN: without edges everything is pulled
    rtt = np.array([0.0] + [l.rtt for l in shared] + [topology.origin.rtt, STORAGE_RTT])
    p = {"m": m, "browser": topology.browser, "edge": edge, "engines": engines,
         "ninst": ninst, "base": base, "rtt": rtt, "sigma": float(sigma),
         "collapse": np.array([0] + [l.collapse for l in shared] + [0, 0], dtype=np.uint8),
         "inval": np.array([0] + [l.kind in ("app", "db") for l in shared] + [0, 0], dtype=np.uint8),
         "purgeable_level": np.array([0] + [l.kind in ("edge", "shield", "proxy") for l in shared] + [0, 0],
                                     dtype=np.uint8),
         "store": store, "life": life, "swr": swr,
         "render": np.array([RENDER[c] for c in range(nc)]),
         "ucls": ucls, "uprof": uprof, "usize": usize, "upushed": upushed, "upurge_off": uoff, "uobj": uobj,
         "deploys": deploys, "pdelay": np.array(pdelay + [0.0]), "seed": int(seed) & (2**64 - 1),
         "frac": float(changed),
         "browser_entries": len(workload) if topology.browser else 1,
         "browser_size": int(topology.browser_size),
         "clients": int(workload.client.max()) + 1 if len(workload) else 1}
    sim = Sim(p)
    n = len(workload)
    latency = np.zeros(n)
    stale = np.zeros(n, dtype=np.int32)
    reached = np.zeros(n, dtype=np.int8)
    t0 = _time.perf_counter()
    counts = sim.run(workload.time, workload.client, workload.region, url, v, vs, latency, stale, reached)
    loop_s = _time.perf_counter() - t0
    # rows
    names = ["browser"] + kinds + ["origin", "storage"]
    rows = []
    for k, name in enumerate(names):
        if name == "browser" and not topology.browser:
            continue
        if name == "storage" and counts[k, 0] == 0 and not upushed.any():
            continue
        r = {"layer": name}
        r.update({c: int(counts[k, j]) for j, c in enumerate(COUNTERS)})
        req = r["requests"]
        r["hit_ratio"] = (r["hits"] + r["stale_served"]) / req if req else 0.0
        r["byte_hit_ratio"] = r["bytes_hit"] / r["bytes_requested"] if r["bytes_requested"] else 0.0
        rows.append(r)
    # egress: bytes out of the first origin-side layer, and of the edges to clients
    first_origin = next(name for name in names if name in ORIGIN_SIDE)
    origin_out = int(counts[names.index(first_origin), COUNTERS.index("bytes_out")])
    push_bytes = 0
    if upushed.any():
        # uploads: every pushed object once, and again at each deploy that changes it
        pushed_ids = np.flatnonzero(upushed)
        push_bytes = int(usize[pushed_ids].sum())
        if len(deploys) and changed > 0:
            chg = np.isin(ucls[pushed_ids], [ASSET]) & (assets != "hashed")
            push_bytes += int(usize[pushed_ids][chg].sum() * changed * len(deploys))
            if assets == "hashed":
                pass  # each hashed version is its own URL, counted once above
    edge_out = int(counts[edge, COUNTERS.index("bytes_out")]) if edge > 0 else 0
    lat_region = {}
    for r in range(workload.regions):
        sel = latency[workload.region == r]
        if len(sel):
            lat_region[r] = {q: float(np.percentile(sel, q)) * 1000 for q in (50, 95, 99)}
    # staleness after each deploy: the last stale serve before the next deploy
    windows, stale_counts = [], []
    if len(deploys):
        d_now = np.searchsorted(deploys, workload.time, side="right") - 1
        sel = stale.astype(bool) & (d_now >= 0)
        for d in range(len(deploys)):
            s = sel & (d_now == d)
            stale_counts.append(int(s.sum()))
            windows.append(float(workload.time[s].max() - deploys[d]) if s.any() else 0.0)
    nb = max(1, int(np.ceil(max(workload.duration, 1e-9) / bucket)))
    b = np.minimum((workload.time // bucket).astype(np.int64), nb - 1)
    timeline = {"t": np.arange(nb) * bucket, "requests": np.bincount(b, minlength=nb),
                "origin": np.bincount(b, weights=reached, minlength=nb).astype(np.int64),
                "stale": np.bincount(b, weights=stale, minlength=nb).astype(np.int64)}
    total_lat = latency * 1000
    summary = {
        "requests": n, "loop_seconds": loop_s, "requests_per_s": n / loop_s if loop_s > 0 else 0.0,
        "origin_requests": int(counts[m + 1, 0]), "origin_bytes_out": origin_out,
        "push_bytes": push_bytes, "edge_bytes_out": edge_out,
        "egress_cost": (origin_out + push_bytes) / 1e9 * price_origin + edge_out / 1e9 * price_edge,
        "p50_ms": float(np.percentile(total_lat, 50)) if n else 0.0,
        "p99_ms": float(np.percentile(total_lat, 99)) if n else 0.0,
        "stale_served": int(stale.sum()), "deploys": len(deploys),
        "max_stale_window_s": max(windows) if windows else 0.0,
        "mean_stale_window_s": float(np.mean(windows)) if windows else 0.0,
        "stale_windows": windows, "stale_per_deploy": stale_counts,
        "urls": nurl, "responses": npr,
    }
    params = {"layers": ",".join(topology.kinds()), "browser_size": topology.browser_size, "assets": assets,
              "deploy": str(deploy),
              "purge": purge, "origin": origin, "push_above": push_above, "purge_delay": pdel,
              "purge_rate": purge_rate, "seed": seed, "sigma": sigma, "changed": changed,
              "workload": workload.info}
    return Result(rows, summary, timeline, lat_region, params)
