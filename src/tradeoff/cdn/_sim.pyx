"""The hot loop of :func:`tradeoff.cdn.simulate`: every request through the layers.

A request descends from the browser through the shared layers to the origin until
a layer can answer it, and the response climbs back, each layer storing it when
the response's HTTP profile allows (RFC 9111 §3). A profile is one distinct
response (status and header fields: a content class's defaults, or the headers a
trace gives an object); its decisions at each layer (storable, freshness lifetime,
stale-while-revalidate window) are computed once by :mod:`tradeoff.http` and
handed in as tables indexed [profile, level], each URL naming its profile; the loop applies
RFC 9111 §4.2 (fresh while age < lifetime, the age carried by the stored response's
origin time as the Age header does, §4.2.3), RFC 5861 §3 (stale-while-revalidate:
serve, revalidate in the background) and §4.3 (validation: a conditional request
with the stored version as its ETag, answered 304 when the version is unchanged).

Eviction is the engine of a :mod:`tradeoff.cache` policy per cache instance
(sized: capacity in bytes), called through its C methods; the per-object metadata
(version, origin time, local store time, ready time) lives in flat arrays indexed
by instance * urls + url. Request collapsing: a miss stores its entry at once with
a ready time (now + the upstream fetch time); a request that finds the entry not
yet ready waits for it instead of fetching (nginx ``proxy_cache_lock``, Varnish
request coalescing); without collapsing it fetches again.

Browser caches (one per client) are unbounded by default: a hash table from
(client, URL) to an entry. With a byte capacity each client's entries also sit on
a doubly linked list over the entry arrays, most recently used first, and a new
entry evicts from the tail of its client's list until it fits (LRU by bytes);
freed entries are reused through a free list, so nothing is allocated per request.
"""
from libc.math cimport exp, sqrt, log, cos
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t, uint8_t

from tradeoff._core.rng cimport Rng, rng_seed, rng_uniform, rng_uniform_pos
from tradeoff._core.hashing cimport mix64
from tradeoff._core.table cimport I64Table, i64t_free, i64t_get, i64t_init, i64t_pop, i64t_put
from tradeoff.cache._engine cimport Engine

import numpy as np

# actions (counters columns)
cdef enum:
    C_REQ = 0
    C_HIT = 1        # fresh, served from this layer
    C_STALE = 2      # stale within stale-while-revalidate: served, revalidated in the background
    C_V304 = 3       # validated: upstream answered 304, the stored body served
    C_V200 = 4       # validated: upstream sent a new version
    C_MISS = 5       # not stored here (or evicted, purged): fetched
    C_PASS = 6       # not storable here: passed through
    C_COLL = 7       # collapsed onto a fetch in flight
    C_PURGED = 8     # a stored copy dropped by a purge when requested
    C_FWD = 9        # requests this layer sent upstream (background ones included)
    C_BREQ = 10      # bytes of the objects requested
    C_BHIT = 11      # bytes served from this layer's storage (hit, stale, 304)
    C_BUP = 12       # body bytes received from upstream
    C_BOUT = 13      # body bytes sent downstream (0 for a 304)
    NCOUNT = 14
    NONE = -2147483647   # the requester holds no version (versions are >= -1)

COUNTERS = ["requests", "hits", "stale_served", "validated_304", "validated_200", "misses",
            "passed", "collapsed", "purged", "forwarded", "bytes_requested", "bytes_hit",
            "bytes_upstream", "bytes_out"]


cpdef uint64_t changed_hash(int64_t obj, int64_t deploy, uint64_t seed) noexcept nogil:
    """The hash deciding whether object ``obj`` changes at deploy ``deploy``."""
    return mix64(mix64(<uint64_t>obj * <uint64_t>0x9E3779B97F4A7C15 + seed) ^ <uint64_t>(deploy + 1))


def versions(const int64_t[:] obj, const int64_t[:] deploy, double frac, uint64_t seed,
             const uint8_t[:] changes):
    """The version (ETag) of each object at each deploy index: the last deploy <= d
    at which it changed (an object changes at a deploy with probability ``frac``,
    seeded), -1 before any change; objects with ``changes[i] == 0`` keep -1."""
    cdef Py_ssize_t i, n = obj.shape[0]
    cdef int64_t d
    cdef uint64_t cut = <uint64_t>(frac * 18446744073709551615.0) if frac < 1.0 else 0xFFFFFFFFFFFFFFFF
    out = np.full(n, -1, dtype=np.int32)
    cdef int32_t[:] o = out
    with nogil:
        for i in range(n):
            if not changes[i]:
                continue
            d = deploy[i]
            while d >= 0 and changed_hash(obj[i], d, seed) > cut:
                d -= 1
            o[i] = <int32_t>d
    return out


cdef class Sim:
    """The state of one simulation run (built by :func:`tradeoff.cdn.simulate`)."""
    cdef int m                      # shared layers 1..m; level 0 browser; m+1 origin; m+2 storage
    cdef bint browser
    cdef int edge                   # the edge level (pushed objects' upstream is storage), -1: none
    cdef list engines               # one Engine per (level, instance), flat
    cdef int[:] ninst, base         # instances per level, first flat instance
    cdef double[:] rtt              # rtt[k]: the round trip of the hop into level k
    cdef double sigma               # lognormal spread of each hop
    cdef uint8_t[:] collapse        # per level
    cdef uint8_t[:] inval           # per level: drop a copy whose version is not the origin's (app, db)
    cdef uint8_t[:] purgeable_level
    cdef uint8_t[:, :] store        # [profile, level]
    cdef double[:, :] life, swr     # [profile, level]
    cdef double[:] render           # origin time per class
    cdef int32_t[:] ucls
    cdef int32_t[:] uprof           # the response profile of each URL
    cdef int64_t[:] usize
    cdef uint8_t[:] upushed
    cdef double[:] upurge_off       # purge offset after a deploy (-1: never purged)
    cdef int64_t[:] uobj
    cdef int nurl
    cdef double[:] deploys
    cdef double[:] pdelay           # purge / push propagation delay per flat instance
    cdef uint64_t seed
    cdef uint64_t cut
    cdef int32_t[:] mver
    cdef double[:] motime, mltime, mready
    cdef I64Table btab
    cdef int32_t[:] bver
    cdef double[:] botime
    cdef Py_ssize_t bn
    cdef int64_t bcap               # bytes per browser cache; 0: unbounded (no lists kept)
    cdef int64_t[:] bkey            # entry -> its (client, URL) key in btab
    cdef int64_t[:] bprev, bnext    # entry -> neighbours on its client's list (-1: none); bnext
                                    # chains the free entries
    cdef int64_t[:] bhead, btail    # client -> most / least recently used entry (-1: none)
    cdef int64_t[:] bused           # client -> bytes held
    cdef int64_t bfree              # first free entry (-1: none)
    cdef Rng rng
    cdef public object counts      # int64 [levels + 3, NCOUNT]
    cdef int64_t[:, :] cnt
    cdef int32_t cur_v              # the origin's version of the current request's URL
    cdef int32_t cur_vs             # the push storage's version of it

    def __cinit__(self):
        self.btab.buckets = NULL

    def __dealloc__(self):
        i64t_free(&self.btab)

    def __init__(self, dict p):
        self.m = p["m"]
        self.browser = p["browser"]
        self.edge = p["edge"]
        self.engines = p["engines"]
        self.ninst = p["ninst"]
        self.base = p["base"]
        self.rtt = p["rtt"]
        self.sigma = p["sigma"]
        self.collapse = p["collapse"]
        self.inval = p["inval"]
        self.purgeable_level = p["purgeable_level"]
        self.store = p["store"]
        self.life = p["life"]
        self.swr = p["swr"]
        self.render = p["render"]
        self.ucls = p["ucls"]
        self.uprof = p["uprof"]
        self.usize = p["usize"]
        self.upushed = p["upushed"]
        self.upurge_off = p["upurge_off"]
        self.uobj = p["uobj"]
        self.nurl = self.ucls.shape[0]
        self.deploys = p["deploys"]
        self.pdelay = p["pdelay"]
        self.seed = p["seed"]
        frac = p["frac"]
        self.cut = <uint64_t>(frac * 18446744073709551615.0) if frac < 1.0 else 0xFFFFFFFFFFFFFFFF
        total = int(np.sum(p["ninst"]))
        self.mver = np.full(total * self.nurl, -2, dtype=np.int32)
        self.motime = np.zeros(total * self.nurl)
        self.mltime = np.zeros(total * self.nurl)
        self.mready = np.zeros(total * self.nurl)
        nb = max(1, p["browser_entries"])
        i64t_init(&self.btab, nb)
        self.bver = np.zeros(nb, dtype=np.int32)
        self.botime = np.zeros(nb)
        self.bn = 0
        self.bcap = p.get("browser_size", 0)
        nc = max(1, p.get("clients", 1)) if self.bcap > 0 else 1
        ne = nb if self.bcap > 0 else 1
        self.bkey = np.zeros(ne, dtype=np.int64)
        self.bprev = np.full(ne, -1, dtype=np.int64)
        self.bnext = np.full(ne, -1, dtype=np.int64)
        self.bhead = np.full(nc, -1, dtype=np.int64)
        self.btail = np.full(nc, -1, dtype=np.int64)
        self.bused = np.zeros(nc, dtype=np.int64)
        self.bfree = -1
        rng_seed(&self.rng, p["seed"] ^ 0x5DEECE66D)
        self.counts = np.zeros((self.m + 3, NCOUNT), dtype=np.int64)
        self.cnt = self.counts

    cdef inline double hop(self, int k) noexcept:
        """One round trip into level k: rtt[k] times a lognormal factor of median 1."""
        cdef double u1, u2
        if self.sigma <= 0.0 or self.rtt[k] <= 0.0:
            return self.rtt[k]
        u1 = rng_uniform_pos(&self.rng)
        u2 = rng_uniform(&self.rng)
        return self.rtt[k] * exp(self.sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2))

    cdef int purged(self, int k, int inst, Py_ssize_t u, double t, Py_ssize_t idx) except -1:
        """Was the copy at flat instance ``inst`` of URL u purged since it was stored?
        A deploy purges u (when u changed at it) at this instance ``off`` seconds
        after the deploy; purges are applied lazily, when the copy is next requested."""
        cdef double off = self.upurge_off[u]
        cdef Py_ssize_t lo, hi, mid
        if off < 0 or not self.purgeable_level[k]:
            return False
        off += self.pdelay[inst]
        lo = 0
        hi = self.deploys.shape[0]
        while lo < hi:                      # first deploy with deploys + off > t
            mid = (lo + hi) // 2
            if self.deploys[mid] + off <= t:
                lo = mid + 1
            else:
                hi = mid
        # every purge that reached this instance after the copy was stored (and by t)
        lo -= 1
        while lo >= 0 and self.deploys[lo] + off > self.mltime[idx]:
            if changed_hash(self.uobj[u], lo, self.seed) <= self.cut:
                return True
            lo -= 1
        return False

    cdef inline void b_unlink(self, int64_t client, int64_t e) noexcept:
        """Take entry e off its client's list."""
        cdef int64_t a = self.bprev[e], b = self.bnext[e]
        if a >= 0:
            self.bnext[a] = b
        else:
            self.bhead[client] = b
        if b >= 0:
            self.bprev[b] = a
        else:
            self.btail[client] = a

    cdef inline void b_front(self, int64_t client, int64_t e) noexcept:
        """Put entry e at the head (most recently used) of its client's list."""
        cdef int64_t h = self.bhead[client]
        self.bprev[e] = -1
        self.bnext[e] = h
        if h >= 0:
            self.bprev[h] = e
        else:
            self.btail[client] = e
        self.bhead[client] = e

    cdef inline void b_touch(self, int64_t client, int64_t e) noexcept:
        """A use of entry e: it becomes the most recently used of its client."""
        if self.bhead[client] != e:
            self.b_unlink(client, e)
            self.b_front(client, e)

    cdef int64_t b_new(self, int64_t client, int64_t key, int64_t size) except -2:
        """An entry for key in a client's browser cache: its index, or -1 when the
        object is larger than the whole cache (not stored). A bounded cache first
        evicts its least recently used entries until the object fits."""
        cdef int64_t e, victim, vs
        if self.bcap > 0:
            if size > self.bcap:
                return -1
            while self.bused[client] + size > self.bcap:
                victim = self.btail[client]
                self.b_unlink(client, victim)
                vs = self.usize[self.bkey[victim] % self.nurl]
                self.bused[client] -= vs if vs > 0 else 1
                i64t_pop(&self.btab, self.bkey[victim])
                self.bnext[victim] = self.bfree
                self.bfree = victim
            if self.bfree >= 0:
                e = self.bfree
                self.bfree = self.bnext[e]
            else:
                if self.bn >= self.bver.shape[0]:
                    raise RuntimeError("browser entries exhausted")
                e = self.bn
                self.bn += 1
            self.bkey[e] = key
            self.bused[client] += size
            self.b_front(client, e)
        else:
            if self.bn >= self.bver.shape[0]:
                raise RuntimeError("browser entries exhausted")
            e = self.bn
            self.bn += 1
        i64t_put(&self.btab, key, e)
        return e

    cdef int fetch(self, int k, Py_ssize_t u, int c, int64_t client, int region, double t,
                   int32_t have, int32_t* ver, double* otime, double* lat) except -1:
        """A request for u arriving at level k from a requester holding version
        ``have`` (NONE: none). Fills the version and origin time of the response and
        the time from its arrival at k to the response leaving k."""
        cdef int64_t size = self.usize[u]
        cdef int64_t[:, :] cnt = self.cnt
        cdef int m = self.m, inst = 0, kk
        cdef int p = self.uprof[u]          # the response profile: what the headers allow
        cdef int64_t csize = size if size > 0 else 1    # what an empty body takes in a cache
        cdef Py_ssize_t idx = -1
        cdef int64_t bkey = 0, e = -1
        cdef bint resident = False, storing, inside = False, stale_ok
        cdef int32_t sv = -1
        cdef double sot = 0.0
        cdef int32_t v2 = -1
        cdef double ot2 = 0.0, l2 = 0.0, age, h
        cdef Engine eng = None
        if k == m + 1:                      # the origin
            cnt[k, C_REQ] += 1
            cnt[k, C_BREQ] += size
            ver[0] = self.cur_v
            otime[0] = t
            lat[0] = self.render[c]
            if self.cur_v != have:
                cnt[k, C_BOUT] += size
            return 0
        if k == m + 2:                      # the push storage
            cnt[k, C_REQ] += 1
            cnt[k, C_BREQ] += size
            ver[0] = self.cur_vs
            otime[0] = t
            lat[0] = 0.0
            if self.cur_vs != have:
                cnt[k, C_BOUT] += size
            return 0
        cnt[k, C_REQ] += 1
        cnt[k, C_BREQ] += size
        storing = self.store[p, k] and (k > 0 or self.browser)
        if storing:
            if k == 0:
                bkey = client * self.nurl + u
                e = i64t_get(&self.btab, bkey)
                resident = e >= 0
                if resident:
                    idx = e
                    if self.bcap > 0:
                        self.b_touch(client, e)
            else:
                inst = self.base[k] + (region % self.ninst[k] if self.ninst[k] > 1 else 0)
                idx = <Py_ssize_t>inst * self.nurl + u
                eng = <Engine>self.engines[inst]
                resident = eng.hit(u)
                if resident and self.purged(k, inst, u, t, idx):
                    eng.remove(u)
                    resident = False
                    cnt[k, C_PURGED] += 1
                if resident and self.inval[k] and self.mver[idx] != self.cur_v:
                    eng.remove(u)
                    resident = False
                inside = resident
        kk = k + 1
        if k == self.edge and self.upushed[u]:
            kk = m + 2
        if resident:
            if k == 0:
                sv = self.bver[idx]
                sot = self.botime[idx]
            else:
                sv = self.mver[idx]
                sot = self.motime[idx]
                if self.mready[idx] > t:
                    if self.collapse[k]:
                        cnt[k, C_COLL] += 1
                        ver[0] = sv
                        otime[0] = sot
                        lat[0] = self.mready[idx] - t
                        if sv != have:
                            cnt[k, C_BOUT] += size
                        return 0
                    resident = False        # no collapsing: fetch again
        if resident:
            age = t - sot
            if age < self.life[p, k]:
                cnt[k, C_HIT] += 1
                cnt[k, C_BHIT] += size
                ver[0] = sv
                otime[0] = sot
                lat[0] = 0.0
            else:
                cnt[k, C_FWD] += 1
                stale_ok = age < self.life[p, k] + self.swr[p, k]
                h = self.hop(kk)
                # stale-while-revalidate (RFC 5861 §3): serve now, revalidate in the
                # background; else validate first, the stored version as the ETag
                # (RFC 9111 §4.3.1)
                self.fetch(kk, u, c, client, region, t, sv, &v2, &ot2, &l2)
                if stale_ok:
                    cnt[k, C_STALE] += 1
                    cnt[k, C_BHIT] += size
                    ver[0] = sv
                    otime[0] = sot
                    lat[0] = 0.0
                    if v2 != sv:
                        cnt[k, C_BUP] += size
                else:
                    if v2 == sv:
                        cnt[k, C_V304] += 1
                        cnt[k, C_BHIT] += size
                    else:
                        cnt[k, C_V200] += 1
                        cnt[k, C_BUP] += size
                    ver[0] = v2
                    otime[0] = ot2
                    lat[0] = h + l2
                if k == 0:
                    self.bver[idx] = v2
                    self.botime[idx] = ot2
                else:
                    self.mver[idx] = v2
                    self.motime[idx] = ot2
                    self.mltime[idx] = t
            if ver[0] != have:
                cnt[k, C_BOUT] += size
            return 0
        # not stored here: fetch (unconditionally when this layer will store the
        # response: it needs the body; else the requester's validator passes on)
        cnt[k, C_MISS if storing else C_PASS] += 1
        cnt[k, C_FWD] += 1
        h = self.hop(kk)
        self.fetch(kk, u, c, client, region, t, NONE if storing else have, &v2, &ot2, &l2)
        lat[0] = h + l2
        if storing or v2 != have:
            cnt[k, C_BUP] += size
        if storing:
            if k == 0:
                idx = self.b_new(client, bkey, csize)
                if idx >= 0:
                    self.bver[idx] = v2
                    self.botime[idx] = ot2
            else:
                if not inside and csize <= eng.capacity:
                    eng.insert(u, csize)
                self.mver[idx] = v2
                self.motime[idx] = ot2
                self.mltime[idx] = t
                self.mready[idx] = t + lat[0]
        ver[0] = v2
        otime[0] = ot2
        if v2 != have:
            cnt[k, C_BOUT] += size
        return 0

    def run(self, const double[:] times, const int64_t[:] client, const int32_t[:] region,
            const int64_t[:] url, const int32_t[:] v, const int32_t[:] vs, double[:] latency,
            int32_t[:] served_stale, int8_t[:] reached):
        """Every request in order; latency[i] the client's wait, served_stale[i] 1 when
        the client got another version than the origin's, reached[i] the requests it
        caused at the origin (background revalidations included)."""
        cdef int64_t before
        cdef Py_ssize_t i, n = times.shape[0], u
        cdef int32_t ver = 0
        cdef double otime = 0.0, lat = 0.0
        for i in range(n):
            u = url[i]
            self.cur_v = v[i]
            self.cur_vs = vs[i]
            before = self.cnt[self.m + 1, C_REQ]
            self.fetch(0, u, self.ucls[u], client[i], region[i], times[i], NONE, &ver, &otime, &lat)
            latency[i] = lat
            served_stale[i] = ver != v[i]
            reached[i] = <int8_t>(self.cnt[self.m + 1, C_REQ] - before)
        return self.counts
