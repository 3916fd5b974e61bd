"""A small pure-Python model of the layered caches of tradeoff.cdn, written from the
issue's description and not from the Cython loop: dict-based LRU caches by bytes
(OrderedDict; one per client for bounded browser caches), and every HTTP decision
made by tradeoff.http.decide on a stored response (not by the precomputed tables
the loop uses) built from the URL's response: the status and headers of its first
request in the workload, or its class's defaults."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from tradeoff.cdn import Topology, class_headers
from tradeoff.cdn._run import RENDER, STORAGE_RTT, _urls, parse_deploys
from tradeoff.cdn._sim import changed_hash
from tradeoff.http import (FRESH, MISS, STALE_OK, Request, StoredResponse, decide, normalize_headers,
                           parse_http_date, storable, strip_surrogate)

PAGE_API = (3, 4)
NONE = -2147483647      # the requester holds no version


class LRUBytes:
    def __init__(self, capacity):
        self.cap = capacity
        self.d = OrderedDict()          # url -> size
        self.used = 0

    def hit(self, u):
        if u in self.d:
            self.d.move_to_end(u)
            return True
        return False

    def insert(self, u, size):
        if size > self.cap:
            return
        while self.used + size > self.cap:
            _, s = self.d.popitem(last=False)
            self.used -= s
        self.d[u] = size
        self.used += size

    def remove(self, u):
        self.used -= self.d.pop(u)


class Model:
    """Counts per level, as tradeoff.cdn.simulate (sigma=0: no latency noise)."""

    def __init__(self, layers, w, assets="hashed", deploy="every=1h", purge="tag", origin="pull",
                 push_above=10**8, purge_delay=2.0, purge_rate=100.0, seed=0):
        self.topo = Topology(layers)
        self.w = w
        self.headers = class_headers(assets)
        self.bcap = self.topo.layers[0].size if self.topo.browser else 0
        self.bcache = {}        # client -> LRUBytes (bounded browsers)
        self.deploys, self.changed = parse_deploys(deploy, w.duration)
        (self.url, self.ucls, self.usize, self.uobj, self.upushed, self.uoff, self.v,
         self.vs) = _urls(w, self.deploys, self.changed, assets, seed, origin, push_above, purge,
                          purge_rate, purge_delay)
        self.seed = seed
        self.cut = int(self.changed * (2**64 - 1)) if self.changed < 1 else 2**64 - 1
        self.shared = self.topo.shared
        self.m = len(self.shared)
        pops = max([l.pops for l in self.shared if l.kind == "edge"] or [1])
        self.caches = []        # per level: list of (LRUBytes, meta dict, purge delay) per instance
        for l in self.shared:
            n = l.pops if l.kind == "edge" else 1
            self.caches.append([(LRUBytes(l.size), {},
                                 purge_delay * (i + 1) / l.pops if l.kind == "edge" else
                                 0.0 if l.kind == "proxy" else purge_delay / (2 * pops))
                                for i in range(n)])
        self.browser = {}
        self.counts = [dict.fromkeys(("requests", "hits", "stale_served", "validated_304", "validated_200",
                                      "misses", "passed", "collapsed", "purged", "forwarded", "bytes_out"), 0)
                       for _ in range(self.m + 3)]
        self.rtt = [0.0] + [l.rtt for l in self.shared] + [self.topo.origin.rtt, STORAGE_RTT]
        self.stale = []
        # each URL's response: its first request's (status, headers), else the class's
        self.response = {}
        for i in range(len(w)):
            u = int(self.url[i])
            if u in self.response:
                continue
            c = int(self.ucls[u])
            r = int(w.resp[i])
            if r < 0:
                self.response[u] = (200, self.headers[c])
            else:
                st, h = w.responses[r]
                self.response[u] = (st, self.headers[c] if h is None else h)

    def kind(self, k):
        return "browser" if k == 0 else self.shared[k - 1].kind

    def http_storable(self, u, c, k):
        kind = self.kind(k)
        st, h = self.response[u]
        if kind in ("app", "db"):
            return c in PAGE_API and st == 200
        if kind == "browser":
            return storable(Request(), StoredResponse(st, strip_surrogate(h)), shared=False)
        return storable(Request(), StoredResponse(st, h), shared=True, surrogate=kind in ("edge", "shield"))

    def action(self, u, k, otime, t):
        kind = self.kind(k)
        if kind in ("app", "db"):
            return FRESH if t - otime < self.shared[k - 1].ttl else "MUST_VALIDATE"
        st, h = self.response[u]
        h = h if kind != "browser" else strip_surrogate(h)
        # the simulation's clock: the response left the origin at otime, which its Date (when
        # it has one) names; an Age field is not modelled (the age is the time since otime)
        h = {k2: v for k2, v in h.items() if k2.lower() != "age"}
        date = parse_http_date(normalize_headers(h).get("date"))
        base = otime if date is None else date
        resp = StoredResponse(st, h, request_time=base, response_time=base)
        d = decide(Request(), resp, base + (t - otime), shared=kind != "browser",
                   surrogate=kind in ("edge", "shield"))
        assert d.action != MISS
        return d.action

    def purged(self, u, delay, ltime, t):
        if self.uoff[u] < 0:
            return False
        for d, T in enumerate(self.deploys):
            when = T + self.uoff[u] + delay
            if ltime < when <= t and changed_hash(int(self.uobj[u]), d, self.seed) <= self.cut:
                return True
        return False

    def fetch(self, k, u, c, client, region, t, have):
        cnt = self.counts[k]
        size = int(self.usize[u])
        m = self.m
        if k >= m + 1:
            cnt["requests"] += 1
            v = self.cur_v if k == m + 1 else self.cur_vs
            if v != have:
                cnt["bytes_out"] += size
            return v, t, (RENDER[c] if k == m + 1 else 0.0)
        cnt["requests"] += 1
        storing = self.http_storable(u, c, k) and (k > 0 or self.topo.browser)
        entry = None
        inside = False
        if storing:
            if k == 0:
                if not self.bcap:
                    entry = self.browser.get((client, u))
                elif self.bcache.setdefault(client, LRUBytes(self.bcap)).hit(u):
                    entry = self.browser[(client, u)]
            else:
                insts = self.caches[k - 1]
                cache, meta, delay = insts[region % len(insts)]
                if cache.hit(u):
                    entry = meta[u]
                    if self.kind(k) in ("edge", "shield", "proxy") and self.purged(u, delay, entry["ltime"], t):
                        cache.remove(u)
                        entry = None
                        cnt["purged"] += 1
                    elif self.kind(k) in ("app", "db") and entry["ver"] != self.cur_v:
                        cache.remove(u)
                        entry = None
                    inside = entry is not None
        up = k + 1
        if self.kind(k) == "edge" and self.upushed[u]:
            up = m + 2
        if entry is not None and k > 0 and entry["ready"] > t:
            if self.shared[k - 1].collapse:
                cnt["collapsed"] += 1
                if entry["ver"] != have:
                    cnt["bytes_out"] += size
                return entry["ver"], entry["otime"], entry["ready"] - t
            entry = None
        if entry is not None:
            act = self.action(u, k, entry["otime"], t)
            if act == FRESH:
                cnt["hits"] += 1
                ver, ot, lat = entry["ver"], entry["otime"], 0.0
            else:
                cnt["forwarded"] += 1
                v2, ot2, l2 = self.fetch(up, u, c, client, region, t, entry["ver"])
                if act == STALE_OK:
                    cnt["stale_served"] += 1
                    ver, ot, lat = entry["ver"], entry["otime"], 0.0
                else:
                    cnt["validated_304" if v2 == entry["ver"] else "validated_200"] += 1
                    ver, ot, lat = v2, ot2, self.rtt[up] + l2
                entry.update(ver=v2, otime=ot2, ltime=t)
            if ver != have:
                cnt["bytes_out"] += size
            return ver, ot, lat
        cnt["misses" if storing else "passed"] += 1
        cnt["forwarded"] += 1
        v2, ot2, l2 = self.fetch(up, u, c, client, region, t, NONE if storing else have)
        lat = self.rtt[up] + l2
        if storing:
            if k == 0:
                if self.bcap:
                    self.bcache[client].insert(u, max(size, 1))
                self.browser[(client, u)] = {"ver": v2, "otime": ot2}
            else:
                if not inside:
                    cache.insert(u, max(size, 1))
                meta[u] = {"ver": v2, "otime": ot2, "ltime": t, "ready": t + lat}
        if v2 != have:
            cnt["bytes_out"] += size
        return v2, ot2, lat

    def run(self):
        w = self.w
        for i in range(len(w)):
            u = int(self.url[i])
            self.cur_v = int(self.v[i])
            self.cur_vs = int(self.vs[i])
            ver, _, _ = self.fetch(0, u, int(self.ucls[u]), int(w.client[i]), int(w.region[i]),
                                   float(w.time[i]), NONE)
            self.stale.append(ver != self.cur_v)
        return self.counts


def names(topology):
    return ["browser"] + [l.kind for l in topology.shared] + ["origin", "storage"]


def as_rows(model):
    out = {}
    for k, name in enumerate(names(model.topo)):
        out[name] = dict(model.counts[k])
    return out


def stale_array(model):
    return np.array(model.stale, dtype=bool)
