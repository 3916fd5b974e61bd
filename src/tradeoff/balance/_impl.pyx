"""The balancing policies: each a ``Balancer`` that implements ``_choose``.

Every policy sizes its arrays in ``__init__``; ``_choose`` runs without the GIL
and allocates nothing. The rules shared by all of them:

- A server is *eligible* while it is marked up and not ejected (``_base.pyx``).
- Weight 0 drains a server: it gets no new requests while some eligible server
  has a weight above 0. When every eligible server has weight 0 they are all
  treated as weight 1, so a pick fails (``NoServerAvailable``) only when no
  server is eligible, as the ``Balancer`` contract says. A server that takes
  part in a pick under these rules is *usable*.
- Weights matter in proportion only (2, 2, 4 is 1, 1, 2), except that
  ``RoundRobin`` ignores their size (it gives every usable server one turn).
- Where loads are compared with weights they are compared as
  ``active[i] / weight[i]`` by cross-multiplication
  (``active[i] * weight[j] < active[j] * weight[i]``), as nginx's
  ``least_conn`` does; with equal weights that is comparing ``active``.
- The random policies draw from the balancer's own xoshiro256** generator
  (``seed=``), so a run is reproducible; ``tests/balance/balance_models.py``
  repeats every draw in pure Python and gets the same servers.

The cost of a pick is stated on each class (n servers). Changes of weight or
eligibility call ``_on_change``, which recomputes the usable set in O(n)
(``IPHash`` may also rebuild its ring: O(n v log(n v)) with v vnodes).
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.stdlib cimport qsort
from libc.math cimport isfinite
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.mem cimport mem_resize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from tradeoff._core.hashing cimport mix64, xxh64, xxh64_u64
from tradeoff._core.rng cimport rng_below, rng_uniform
from tradeoff.balance._base cimport Balancer

from bisect import bisect_left

from tradeoff.balance._base import NoServerAvailable, client_word  # noqa: F401


cdef class _Policy(Balancer):
    """The usable set kept in index order, shared by every policy.

    ``usable_idx[0:n_usable]`` lists the usable servers in increasing index
    order; ``n_live`` counts the eligible servers with a weight above 0;
    ``total`` is the sum of the usable servers' effective weights and
    ``equal`` says whether those weights are all the same. All of it is
    recomputed in O(n) when eligibility or a weight changes.
    """
    cdef int32_t* usable_idx
    cdef int32_t n_usable
    cdef int32_t n_live
    cdef double total
    cdef bint equal

    def __cinit__(self, *args, **kwargs):
        self.usable_idx = NULL

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        Balancer.__init__(self, servers, weights, seed=seed)
        mem_resize(<void**>&self.usable_idx, self.n * sizeof(int32_t))
        self._refresh()

    def __dealloc__(self):
        PyMem_RawFree(self.usable_idx)

    cdef inline bint _usable(self, int32_t i) noexcept nogil:
        return (self.up[i] and not self.ejected[i]
                and (self.weight[i] > 0 or self.n_live == 0))

    cdef inline double _w(self, int32_t i) noexcept nogil:
        """The effective weight of a usable server."""
        return self.weight[i] if self.n_live > 0 else 1.0

    cdef inline bint _lighter(self, int32_t i, int32_t j) noexcept nogil:
        """active[i] / w(i) < active[j] / w(j), by cross-multiplication."""
        return <double>self.active[i] * self._w(j) < <double>self.active[j] * self._w(i)

    cdef void _refresh(self) noexcept nogil:
        cdef int32_t i, m = 0
        cdef double w0 = -1.0, w
        self.n_live = 0
        for i in range(self.n):
            if self.up[i] and not self.ejected[i] and self.weight[i] > 0:
                self.n_live += 1
        self.total = 0.0
        self.equal = True
        for i in range(self.n):
            if self._usable(i):
                self.usable_idx[m] = i
                m += 1
                w = self._w(i)
                self.total += w
                if w0 < 0:
                    w0 = w
                elif w != w0:
                    self.equal = False
        self.n_usable = m

    cdef void _on_change(self, int32_t server) noexcept nogil:
        self._refresh()

    @property
    def usable(self):
        """The servers a pick can return now, in index order."""
        return [self.usable_idx[k] for k in range(self.n_usable)]

    def _check(self):
        Balancer._check(self)
        cdef int32_t i, live = 0
        for i in range(self.n):
            live += self.up[i] and not self.ejected[i] and self.weight[i] > 0
        assert live == self.n_live, (live, self.n_live)
        expect = [i for i in range(self.n) if self._usable(i)]
        assert self.usable == expect, (self.usable, expect)
        assert (self.n_usable == 0) == (self.n_eligible == 0)
        ws = [self._w(i) for i in expect]
        assert abs(self.total - sum(ws)) <= 1e-9 * max(1.0, sum(ws))
        assert self.equal == (len(set(ws)) <= 1)


cdef class RoundRobin(_Policy):
    """Round robin: each usable server in turn, in index order.

    A cursor holds the index after the last server picked; a pick takes the
    first usable server at or after the cursor (cyclically) and moves the
    cursor past it. A down, ejected or drained server is skipped: with four
    servers, the last pick 1 and server 2 down, the next pick is 3, then 0.
    When 2 comes back it gets its turn the next time the cursor passes it.
    Weights other than 0 are ignored (see ``WeightedRoundRobin``).

    O(1) per pick while every server is usable; O(n) at worst.

    >>> rr = RoundRobin(4)
    >>> [rr.pick() for _ in range(2)]
    [0, 1]
    >>> rr.mark_down(2)
    >>> [rr.pick() for _ in range(3)]
    [3, 0, 1]
    """
    cdef int32_t pos

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        _Policy.__init__(self, servers, weights, seed=seed)
        self.pos = 0

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef int32_t k, i = self.pos
        for k in range(self.n):
            if self._usable(i):
                self.pos = i + 1 if i + 1 < self.n else 0
                return i
            i = i + 1 if i + 1 < self.n else 0
        return -1

    @property
    def _cursor(self):
        return self.pos

    def _check(self):
        _Policy._check(self)
        assert 0 <= self.pos < self.n


cdef class WeightedRoundRobin(_Policy):
    """nginx's smooth weighted round robin (nginx 1.3.1, 2012,
    ``ngx_http_upstream_round_robin.c``).

    Every server has a current weight, 0 at the start. A pick adds each
    usable server's weight to its current weight, takes the usable server with
    the largest current weight (ties: the lowest index) and subtracts the sum
    of the usable weights from the winner. Over any window the picks follow the
    weights as evenly interleaved as possible: weights 5, 1, 1 give
    a a b a c a a, where plain weighted round robin gives a a a a a b c.

    A server that is not usable is left out of the round (its current weight
    stays as it was until it comes back, as in nginx); weight 0 is never
    picked (unless every eligible server has weight 0, see the module notes).
    A weight change applies from the next pick on; current weights are kept.
    nginx's ``effective_weight`` (lowered on failures) is not modelled: the
    weight is used as set. Current weights are doubles: integer and
    dyadic weights are exact, others may drift by rounding.

    O(n) per pick.

    >>> w = WeightedRoundRobin(["a", "b", "c"], [5, 1, 1])
    >>> "".join(w.names[w.pick()] for _ in range(7))
    'aabacaa'
    """
    cdef double* cw

    def __cinit__(self, *args, **kwargs):
        self.cw = NULL

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        _Policy.__init__(self, servers, weights, seed=seed)
        mem_resize(<void**>&self.cw, self.n * sizeof(double))
        for i in range(self.n):
            self.cw[i] = 0.0

    def __dealloc__(self):
        PyMem_RawFree(self.cw)

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef int32_t k, i, best = -1
        cdef double w, c, top = 0.0, total = 0.0
        cdef double* cw = self.cw
        cdef const double* wt = self.weight
        cdef const int32_t* idx = self.usable_idx
        cdef bint unit = self.n_live == 0
        for k in range(self.n_usable):
            i = idx[k]
            w = 1.0 if unit else wt[i]
            c = cw[i] + w
            cw[i] = c
            total += w
            if best < 0 or c > top:
                best = i
                top = c
        if best >= 0:
            cw[best] = top - total
        return best

    @property
    def current(self):
        """The current weights (the state of the smooth round robin)."""
        return [self.cw[i] for i in range(self.n)]

    def _check(self):
        _Policy._check(self)
        # each pick adds the usable total and takes it away again: the sum of
        # all current weights stays 0 (up to rounding)
        s = sum(self.current)
        scale = max([1.0] + [abs(c) for c in self.current] + self.weights)
        assert abs(s) <= 1e-9 * scale * self.n, (s, self.current)


cdef class LeastConnections(_Policy):
    """Least connections: the usable server with the fewest open connections
    (``active``), relative to its weight when weights differ: the smallest
    ``active / weight``, compared as nginx's ``least_conn`` compares
    (``active[i] * weight[j] < active[j] * weight[i]``).

    Ties go round robin: the scan starts at the server after the last one
    picked (cyclically) and the first server of the smallest load wins, so
    among tied servers the one that comes first after the last pick is taken.
    nginx breaks ties by smooth weighted round robin instead; with equal
    weights both give each tied server a turn.

    O(n) per pick.

    >>> lc = LeastConnections(3)
    >>> lc.pick(), lc.pick()
    (0, 1)
    >>> lc.done(0); lc.pick()
    2
    >>> lc.pick()
    0
    """
    cdef int32_t pos

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        _Policy.__init__(self, servers, weights, seed=seed)
        self.pos = 0

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        # the usable servers in cyclic order from the cursor: usable_idx[k0:]
        # then usable_idx[:k0], where k0 is the first at or after the cursor
        cdef int32_t m = self.n_usable, k, k0 = 0, j, i, best
        cdef const int32_t* idx = self.usable_idx
        cdef const int64_t* act = self.active
        cdef const double* wt = self.weight
        cdef int64_t a, abest
        cdef double wbest
        if m == 0:
            return -1
        while k0 < m and idx[k0] < self.pos:
            k0 += 1
        if k0 == m:
            k0 = 0
        best = idx[k0]
        abest = act[best]
        if self.equal:
            # equal weights: compare the counts themselves
            j = k0
            for k in range(1, m):
                j = j + 1 if j + 1 < m else 0
                i = idx[j]
                a = act[i]
                if a < abest:
                    best = i
                    abest = a
        else:
            wbest = wt[best]
            j = k0
            for k in range(1, m):
                j = j + 1 if j + 1 < m else 0
                i = idx[j]
                if <double>act[i] * wbest < <double>abest * wt[i]:
                    best = i
                    abest = act[i]
                    wbest = wt[i]
        self.pos = best + 1 if best + 1 < self.n else 0
        return best

    @property
    def _cursor(self):
        return self.pos

    def _check(self):
        _Policy._check(self)
        assert 0 <= self.pos < self.n


cdef struct Point:
    uint64_t h         # position on the ring
    int32_t s          # server


cdef int _point_cmp(const void* a, const void* b) noexcept nogil:
    cdef const Point* p = <const Point*>a
    cdef const Point* q = <const Point*>b
    if p.h != q.h:
        return -1 if p.h < q.h else 1
    if p.s != q.s:
        return -1 if p.s < q.s else 1
    return 0


cdef class IPHash(_Policy):
    """Client affinity by consistent hashing: a client goes to the server that
    owns its place on a hash ring, and stays there while that server is
    eligible.

    The ring: server i (name ``s``) owns ``k_i`` points, point j at
    ``XXH64(j as 8 little-endian bytes, seed=XXH64(UTF-8 of s))``, with
    ``k_i = max(1, round(vnodes * weight_i / max weight))`` for a weight above
    0 and no points for weight 0. Points are sorted by (position, server). A
    client's word (``client_word``: XXH64 of a str, an int as it is) is placed
    at ``mix64(word)`` and the request goes to the owner of the first point at
    or after it (clockwise, wrapping), skipping points of servers that are not
    eligible. So when a server goes down only its clients move, each to the
    next eligible server clockwise from its place, and they come back when it
    does; every other client stays put. A weight change moves points only of
    the servers whose point count changes (all of them when the largest weight
    changes, since counts are relative to it). ``pick()`` without a client
    sends every such request to the same server: pass the client address.
    If no eligible server has points (every eligible weight is 0) the request
    goes to the first eligible server at or after ``mix64(word) % n``.

    A pick finds the first point at or after the client's place through a
    table indexed by the top bits of the position (one entry per point,
    rounded up to a power of two) and a binary search within one entry:
    O(1) expected while the owner is eligible, plus one step per point
    skipped; memory 16 bytes per point plus 4 per table entry (n * vnodes
    points at most).

    >>> h = IPHash(["a", "b", "c"], vnodes=40)
    >>> s = h.pick("10.0.0.7"); h.done(s)
    >>> h.pick("10.0.0.7") == s
    True
    """
    cdef readonly int32_t vnodes
    cdef uint64_t* name_hash
    cdef int32_t* npoints
    cdef Point* ring
    cdef int32_t n_points
    cdef int32_t* bucket        # bucket[t]: the first point with h >> shift >= t
    cdef int bits               # the table has 2**bits + 1 entries

    def __cinit__(self, *args, **kwargs):
        self.name_hash = NULL
        self.npoints = NULL
        self.ring = NULL
        self.bucket = NULL

    def __init__(self, servers, weights=None, *, int vnodes=160, uint64_t seed=0):
        if vnodes < 1:
            raise ValueError(f"vnodes must be >= 1, got {vnodes}")
        if vnodes > 1_000_000:
            raise ValueError(f"vnodes must be <= 1000000, got {vnodes}")
        _Policy.__init__(self, servers, weights, seed=seed)
        if <Py_ssize_t>self.n * vnodes > (1 << 28):
            raise ValueError(f"{self.n} servers x {vnodes} vnodes is too many points (max 2**28)")
        self.vnodes = vnodes
        mem_resize(<void**>&self.name_hash, self.n * sizeof(uint64_t))
        mem_resize(<void**>&self.npoints, self.n * sizeof(int32_t))
        mem_resize(<void**>&self.ring, <size_t>(<Py_ssize_t>self.n * vnodes) * sizeof(Point))
        cdef Py_ssize_t cap = <Py_ssize_t>self.n * vnodes
        self.bits = 1
        while (<Py_ssize_t>1 << self.bits) < cap and self.bits < 20:
            self.bits += 1
        mem_resize(<void**>&self.bucket, <size_t>((<Py_ssize_t>1 << self.bits) + 1) * sizeof(int32_t))
        cdef Py_ssize_t blen
        cdef const char* p
        for i, name in enumerate(self._names):
            p = PyUnicode_AsUTF8AndSize(name, &blen)
            self.name_hash[i] = xxh64(<const unsigned char*>p, blen, 0)
            self.npoints[i] = -1
        self.n_points = 0
        self._rebuild()

    def __dealloc__(self):
        PyMem_RawFree(self.name_hash)
        PyMem_RawFree(self.npoints)
        PyMem_RawFree(self.ring)
        PyMem_RawFree(self.bucket)

    cdef int32_t _want(self, int32_t i, double wmax) noexcept nogil:
        cdef double w = self.weight[i]
        cdef int32_t k
        if w <= 0 or wmax <= 0:
            return 0
        k = <int32_t>(self.vnodes * w / wmax + 0.5)
        if k < 1:
            k = 1
        if k > self.vnodes:
            k = self.vnodes
        return k

    cdef double _wmax(self) noexcept nogil:
        cdef double m = 0.0
        cdef int32_t i
        for i in range(self.n):
            if self.weight[i] > m:
                m = self.weight[i]
        return m

    cdef void _rebuild(self) noexcept nogil:
        """Rebuild the ring if some server's point count changed."""
        cdef double wmax = self._wmax()
        cdef int32_t i, j, k, m = 0
        cdef bint same = True
        for i in range(self.n):
            if self._want(i, wmax) != self.npoints[i]:
                same = False
                break
        if same:
            return
        for i in range(self.n):
            k = self._want(i, wmax)
            self.npoints[i] = k
            for j in range(k):
                self.ring[m].h = xxh64_u64(<uint64_t>j, self.name_hash[i])
                self.ring[m].s = i
                m += 1
        self.n_points = m
        qsort(self.ring, m, sizeof(Point), _point_cmp)
        cdef int shift = 64 - self.bits
        cdef int32_t t, nb = 1 << self.bits
        k = 0
        for t in range(nb + 1):
            while k < m and <int32_t>(self.ring[k].h >> shift) < t:
                k += 1
            self.bucket[t] = k

    cdef void _on_change(self, int32_t server) noexcept nogil:
        self._refresh()
        self._rebuild()

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef uint64_t h = mix64(client)
        cdef uint64_t t = h >> (64 - self.bits)
        cdef int32_t lo = self.bucket[t], hi = self.bucket[t + 1], mid, k, s, i
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.ring[mid].h < h:
                lo = mid + 1
            else:
                hi = mid
        if lo == self.n_points:
            lo = 0
        for k in range(self.n_points):
            s = self.ring[lo].s
            if self._usable(s):
                return s
            lo = lo + 1 if lo + 1 < self.n_points else 0
        i = <int32_t>(h % <uint64_t>self.n)
        for k in range(self.n):
            if self._usable(i):
                return i
            i = i + 1 if i + 1 < self.n else 0
        return -1

    @property
    def points(self):
        """The ring as a list of (position, server), sorted."""
        return [(self.ring[k].h, self.ring[k].s) for k in range(self.n_points)]

    def _check(self):
        _Policy._check(self)
        cdef double wmax = self._wmax()
        pts = self.points
        assert pts == sorted(pts)
        assert len(pts) == self.n_points <= self.n * self.vnodes
        for i in range(self.n):
            assert self.npoints[i] == self._want(i, wmax)
        tops = [h >> (64 - self.bits) for h, _ in pts]
        for t in range((1 << self.bits) + 1):
            assert self.bucket[t] == bisect_left(tops, t)
        mine = [(xxh64_u64(<uint64_t>j, self.name_hash[i]), i)
                for i in range(self.n) for j in range(self.npoints[i])]
        assert pts == sorted(mine)


cdef class Random(_Policy):
    """Random: a usable server drawn uniformly when the usable weights are all
    equal, else with probability proportional to its weight.

    Uniform: ``usable[rng_below(m)]`` over the m usable servers in index
    order (Lemire's unbiased bounded draw). Weighted: ``u = rng_uniform() *
    total`` and the first usable server whose running sum of weights exceeds
    ``u`` (binary search over the running sums, recomputed on every change).

    O(1) per pick (uniform), O(log n) (weighted).

    >>> r = Random(4, seed=1)
    >>> all(0 <= r.pick() < 4 for _ in range(100))
    True
    """
    cdef double* cum

    def __cinit__(self, *args, **kwargs):
        self.cum = NULL

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        _Policy.__init__(self, servers, weights, seed=seed)
        mem_resize(<void**>&self.cum, self.n * sizeof(double))
        self._sums()

    def __dealloc__(self):
        PyMem_RawFree(self.cum)

    cdef void _sums(self) noexcept nogil:
        cdef int32_t k
        cdef double c = 0.0
        for k in range(self.n_usable):
            c += self._w(self.usable_idx[k])
            self.cum[k] = c

    cdef void _on_change(self, int32_t server) noexcept nogil:
        self._refresh()
        self._sums()

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef int32_t m = self.n_usable, lo = 0, hi, mid
        cdef double u
        if m == 0:
            return -1
        if self.equal:
            return self.usable_idx[rng_below(&self.rng, <uint64_t>m)]
        u = rng_uniform(&self.rng) * self.cum[m - 1]
        hi = m - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.cum[mid] > u:
                hi = mid
            else:
                lo = mid + 1
        return self.usable_idx[lo]

    def _check(self):
        _Policy._check(self)
        c = 0.0
        for k in range(self.n_usable):
            c += self._w(self.usable_idx[k])
            assert self.cum[k] == c


cdef class PowerOfTwoChoices(_Policy):
    """The power of d choices (Mitzenmacher, "The Power of Two Choices in
    Randomized Load Balancing", IEEE TPDS 2001): draw d distinct usable
    servers uniformly at random and take the one with the fewest open
    connections (relative to weight when weights differ, as in
    ``LeastConnections``); ties go to the first drawn.

    The d candidates come from a partial Fisher-Yates shuffle of the usable
    list (draw k takes position ``k + rng_below(m - k)`` and swaps it to
    position k), undone after the pick so the list stays in index order.
    With fewer than d usable servers all of them are candidates (the draws
    still happen, so the order of ties stays random). ``choices=1`` is
    ``Random`` when the weights are equal (the same draws, the same servers);
    with weights, candidates are still drawn uniformly. Weight 0 servers are
    never candidates (module notes).

    O(d) per pick.

    >>> p = PowerOfTwoChoices(10, choices=2, seed=7)
    >>> s = p.pick(); p.active[s]
    1
    """
    cdef readonly int32_t choices
    cdef int32_t d                  # min(choices, n): the most draws a pick makes
    cdef int32_t* swaps

    def __cinit__(self, *args, **kwargs):
        self.swaps = NULL

    def __init__(self, servers, weights=None, *, int choices=2, uint64_t seed=0):
        if choices < 1:
            raise ValueError(f"choices must be >= 1, got {choices}")
        _Policy.__init__(self, servers, weights, seed=seed)
        self.choices = choices
        self.d = choices if choices < self.n else self.n
        mem_resize(<void**>&self.swaps, self.d * sizeof(int32_t))

    def __dealloc__(self):
        PyMem_RawFree(self.swaps)

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef int32_t m = self.n_usable, d = self.d, k, j, c, t, best = -1
        cdef int32_t* idx = self.usable_idx
        if d > m:
            d = m
        for k in range(d):
            j = k + <int32_t>rng_below(&self.rng, <uint64_t>(m - k))
            self.swaps[k] = j
            t = idx[k]
            idx[k] = idx[j]
            idx[j] = t
            c = idx[k]
            if best < 0 or self._lighter(c, best):
                best = c
        k = d - 1
        while k >= 0:
            j = self.swaps[k]
            t = idx[k]
            idx[k] = idx[j]
            idx[j] = t
            k -= 1
        return best


cdef class LeastResponseTime(_Policy):
    """Least response time: the usable server with the smallest
    ``(active + 1) * ewma / weight``: the expected time for one more request
    if each open connection and the new one take about the server's average
    response time (the idea of NGINX Plus ``least_time`` and of the
    "peak EWMA" balancers; neither publishes an exact formula, this is ours).

    ``ewma`` is an exponentially weighted moving average of the durations
    given to ``done(server, duration)``: the first sample sets it, each later
    one makes it ``alpha * duration + (1 - alpha) * ewma`` (``alpha`` in
    (0, 1], default 0.3: the newest sample's share; about the last 1/alpha
    requests count). ``done`` without a duration leaves it unchanged. A
    server with no sample yet is scored with the mean ewma of the servers
    that have one (0 when none has), so a new server is neither flooded nor
    starved. Equal scores go to the fewer open connections (so before any
    sample this is least connections), then round robin as in
    ``LeastConnections`` (the first tied server after the last pick).
    Comparisons cross-multiply by the weights, as elsewhere.

    O(n) per pick.

    >>> lt = LeastResponseTime(2)
    >>> a = lt.pick(); lt.done(a, 0.5)
    >>> b = lt.pick(); lt.done(b, 0.1)
    >>> (a, b, lt.pick())
    (0, 1, 1)
    """
    cdef readonly double alpha
    cdef double* ewma
    cdef char* known
    cdef int32_t n_known
    cdef int32_t pos

    def __cinit__(self, *args, **kwargs):
        self.ewma = NULL
        self.known = NULL

    def __init__(self, servers, weights=None, *, double alpha=0.3, uint64_t seed=0):
        if not (isfinite(alpha) and 0 < alpha <= 1):
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        _Policy.__init__(self, servers, weights, seed=seed)
        self.alpha = alpha
        mem_resize(<void**>&self.ewma, self.n * sizeof(double))
        mem_resize(<void**>&self.known, self.n * sizeof(char))
        for i in range(self.n):
            self.ewma[i] = 0.0
            self.known[i] = 0
        self.n_known = 0
        self.pos = 0

    def __dealloc__(self):
        PyMem_RawFree(self.ewma)
        PyMem_RawFree(self.known)

    cdef void _on_done(self, int32_t server, double duration) noexcept nogil:
        if duration < 0:
            return
        if self.known[server]:
            self.ewma[server] = self.alpha * duration + (1.0 - self.alpha) * self.ewma[server]
        else:
            self.ewma[server] = duration
            self.known[server] = 1
            self.n_known += 1

    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        cdef int32_t m = self.n_usable, k, k0 = 0, j, i, best
        cdef const int32_t* idx = self.usable_idx
        cdef const int64_t* act = self.active
        cdef const double* wt = self.weight
        cdef const double* ew = self.ewma
        cdef const char* kn = self.known
        cdef bint unit = self.n_live == 0
        cdef double mean = 0.0, sc, sb, wi, wb, ai, ab
        if m == 0:
            return -1
        if 0 < self.n_known < self.n:
            for i in range(self.n):
                if kn[i]:
                    mean += ew[i]
            mean /= self.n_known
        # the usable servers in cyclic order from the cursor (as LeastConnections)
        while k0 < m and idx[k0] < self.pos:
            k0 += 1
        if k0 == m:
            k0 = 0
        best = idx[k0]
        ab = <double>act[best]
        sb = (ab + 1.0) * (ew[best] if kn[best] else mean)
        wb = 1.0 if unit else wt[best]
        j = k0
        for k in range(1, m):
            j = j + 1 if j + 1 < m else 0
            i = idx[j]
            ai = <double>act[i]
            sc = (ai + 1.0) * (ew[i] if kn[i] else mean)
            wi = 1.0 if unit else wt[i]
            if sc * wb < sb * wi or (sc * wb == sb * wi and ai * wb < ab * wi):
                best = i
                sb = sc
                wb = wi
                ab = ai
        self.pos = best + 1 if best + 1 < self.n else 0
        return best

    @property
    def average(self):
        """Per server, its moving average of durations (None before a sample)."""
        return [self.ewma[i] if self.known[i] else None for i in range(self.n)]

    @property
    def _cursor(self):
        return self.pos

    def _check(self):
        _Policy._check(self)
        assert self.n_known == sum(1 for i in range(self.n) if self.known[i])
        assert 0 <= self.pos < self.n
        for i in range(self.n):
            assert self.ewma[i] >= 0 and isfinite(self.ewma[i])
            if not self.known[i]:
                assert self.ewma[i] == 0


# ------------------------------------------------------------------ helpers


def hash_key(str text, uint64_t seed=0):
    """XXH64 of the UTF-8 of ``text`` with ``seed``: the stable hash the L7
    router places clients with (A/B variants).

    >>> hash_key("a") == client_word("a")
    True
    """
    cdef Py_ssize_t n
    cdef const char* p = PyUnicode_AsUTF8AndSize(text, &n)
    return xxh64(<const unsigned char*>p, n, seed)


def _bench_pick_done(Balancer b, int64_t requests, int inflight=8, uint64_t seed=1):
    """Time ``requests`` pick + done pairs through the C methods, without the
    GIL, keeping ``inflight`` requests open (the oldest finishes, with a
    duration between 1.0 and 1.6, before each new pick once the window is
    full). Clients are distinct words. Returns nanoseconds per pick + done.
    The balancer is left with the open requests released."""
    if requests < 1 or inflight < 1:
        raise ValueError("requests and inflight must be >= 1")
    cdef int32_t* window = NULL
    mem_resize(<void**>&window, <size_t>inflight * sizeof(int32_t))
    cdef int64_t i, head = 0, count = 0
    cdef int32_t s
    cdef timespec t0, t1
    cdef bint failed = False
    try:
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for i in range(requests):
                if count == inflight:
                    b._done(window[head], 1.0 + <double>(i % 7) * 0.1)
                    head = head + 1 if head + 1 < inflight else 0
                    count -= 1
                s = b._pick(mix64(<uint64_t>i + seed))
                if s < 0:
                    failed = True
                    break
                window[(head + count) % inflight] = s
                count += 1
            clock_gettime(CLOCK_MONOTONIC, &t1)
            while count > 0:
                b._done(window[head], -1.0)
                head = head + 1 if head + 1 < inflight else 0
                count -= 1
    finally:
        PyMem_RawFree(window)
    if failed:
        raise NoServerAvailable("every server is down or ejected")
    return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / requests
