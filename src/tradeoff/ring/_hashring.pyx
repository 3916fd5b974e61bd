"""The consistent-hash ring with virtual nodes, ketama compatibility and bounded loads.

Layout. The ring is two parallel arrays sorted by (point, owner): ``pts``
(uint64 points) and ``own`` (int32 node index per point), plus a bucket index
over the top ``kbits`` bits of the hash space: ``bidx[b]`` is the first
position whose point has top bits >= b, with 2**kbits >= the number of points.
A lookup of word w reads ``bidx[w >> shift]`` and steps forward over the (on
average less than one) points of that bucket below w; a sentinel 2**64 - 1 after
the last point ends every scan, and past the last point it wraps to position 0.
That is O(1) expected, one table read and one or two point reads, instead of the
~14 dependent reads of a binary search over 16k points; the first two steps are
branch-free, so a lookup costs no mispredicted branch (3.8 ns per integer key in
``lookup_many`` for 100 nodes x 160 points against 13 ns with a scanning loop).

Building sorts the points with the same bucket idea (a counting pass on the
top bits, then an insertion sort inside each bucket; a bucket that is unusually
full falls back to a merge sort), O(points) expected. Adding a node merges its
sorted points into the ring, removing one filters its points out: neither hashes
the other nodes' labels again.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t, uint32_t
from libc.string cimport memcpy, memset
from libc.math cimport ceil, floor, floorf, isfinite
from cpython.mem cimport PyMem_RawFree
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

import numpy as np
cimport numpy as cnp

from fractions import Fraction

from tradeoff._core.hashing cimport mix64, xxh64
from tradeoff._core.md5 cimport md5_digest, md5_u32le, md5_u64le
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport (I64Table, i64t_init, i64t_free, i64t_clear, i64t_get,
                                   i64t_find, i64t_key, i64t_put, i64t_put_at, i64t_pop)
from tradeoff.ring._base cimport Partitioner, int64_keys

cnp.import_array()

HASHES = ("xxh64", "md5")
COMPATS = (None, "ketama", "uhashring")

cdef enum:
    H_XXH64 = 0
    H_MD5 = 1

cdef enum:
    C_NONE = 0
    C_KETAMA = 1            # libketama: first point >= hash, first node wins a shared point
    C_UHASHRING = 2         # uhashring's ketama mode: first point > hash, last node wins

cdef enum:
    OP_FULL = 0
    OP_ADD = 1
    OP_REMOVE = 2
    OP_WEIGHT = 3

cdef enum:
    # an assignment is stored in the key table as seq << NODE_BITS | node
    NODE_BITS = 24
    NODE_MASK = 0xffffff
    MAX_KBITS = 30          # the bucket index has at most 2**30 + 1 entries


# ------------------------------------------------------------------ C helpers

cdef inline Py_ssize_t _ring_pos(const uint64_t* pts, const uint32_t* bidx, Py_ssize_t n,
                                 int shift, uint64_t w) noexcept nogil:
    """Position of the first point >= w, wrapping to 0 past the last (n > 0).

    pts[n] holds the sentinel 2**64 - 1, and every point of a later bucket is
    above w, so the scan needs no end test. A bucket holds under one point on
    average: two branch-free steps cover almost every case, and the loop after
    them is almost never entered (no mispredicted loop exits)."""
    cdef Py_ssize_t i = bidx[w >> shift]
    i += pts[i] < w
    i += pts[i] < w
    while pts[i] < w:
        i += 1
    return i if i < n else 0


cdef inline bint _before(uint64_t p1, int32_t o1, uint64_t p2, int32_t o2) noexcept nogil:
    """(p1, o1) sorts strictly before (p2, o2)."""
    return p1 < p2 or (p1 == p2 and o1 < o2)


cdef inline Py_ssize_t _fmt_u64(uint64_t v, char* out) noexcept nogil:
    """Write v in decimal at out (no terminator); return the length (at most 20)."""
    cdef char tmp[20]
    cdef Py_ssize_t k = 0, i
    while True:
        tmp[k] = <char>(48 + v % 10)
        k += 1
        v //= 10
        if v == 0:
            break
    for i in range(k):
        out[i] = tmp[k - 1 - i]
    return k


cdef inline Py_ssize_t _fmt_i64(int64_t v, char* out) noexcept nogil:
    """Write a signed v in decimal (a leading '-' when negative); return the length."""
    if v < 0:
        out[0] = 45
        # -(v + 1) + 1 avoids overflowing on INT64_MIN
        return 1 + _fmt_u64(<uint64_t>(-(v + 1)) + 1, out + 1)
    return _fmt_u64(<uint64_t>v, out)


cdef void _merge_sort(uint64_t* p, int32_t* o, uint64_t* tp, int32_t* to,
                      Py_ssize_t n) noexcept nogil:
    """Stable bottom-up merge sort of (p, o) by (point, owner), with n-sized scratch."""
    cdef Py_ssize_t width = 1, lo, mid, hi, i, j, k
    cdef uint64_t* sp = p
    cdef int32_t* so = o
    cdef uint64_t* dp = tp
    cdef int32_t* do_ = to
    cdef uint64_t* xp
    cdef int32_t* xo
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if _before(sp[j], so[j], sp[i], so[i]):
                    dp[k] = sp[j]
                    do_[k] = so[j]
                    j += 1
                else:
                    dp[k] = sp[i]
                    do_[k] = so[i]
                    i += 1
                k += 1
            while i < mid:
                dp[k] = sp[i]
                do_[k] = so[i]
                i += 1
                k += 1
            while j < hi:
                dp[k] = sp[j]
                do_[k] = so[j]
                j += 1
                k += 1
            lo = hi
        xp = sp
        sp = dp
        dp = xp
        xo = so
        so = do_
        do_ = xo
        width *= 2
    if sp != p:
        memcpy(p, sp, n * sizeof(uint64_t))
        memcpy(o, so, n * sizeof(int32_t))


cdef int _kbits_for(Py_ssize_t n) noexcept nogil:
    """The bucket index width: the smallest k >= 1 with 2**k >= n (capped)."""
    cdef int k = 1
    while k < MAX_KBITS and (<Py_ssize_t>1 << k) < n:
        k += 1
    return k


cdef int _bucket_sort(const uint64_t* src_p, const int32_t* src_o, uint64_t* dst_p,
                      int32_t* dst_o, Py_ssize_t n) except -1:
    """Sort n points by (point, owner) into dst. Expected O(n) for hashed points.

    A counting pass distributes the points by their top k bits (stably), then
    each bucket is sorted by insertion, or by merge sort when it holds more than
    32 points (only when the points are far from uniform). Runs without the GIL
    after its allocations."""
    cdef int k = _kbits_for(n)
    cdef int shift = 64 - k
    cdef Py_ssize_t nb = (<Py_ssize_t>1) << k
    cdef uint32_t* cur = NULL
    cdef uint64_t* tp = NULL
    cdef int32_t* to = NULL
    cdef Py_ssize_t i, j, b, start, end, big = 0
    cdef uint64_t x
    cdef int32_t y
    if n == 0:
        return 0
    try:
        mem_resize(<void**>&cur, (nb + 1) * sizeof(uint32_t))
        with nogil:
            memset(cur, 0, (nb + 1) * sizeof(uint32_t))
            for i in range(n):
                cur[(src_p[i] >> shift) + 1] += 1
            for b in range(nb):
                if cur[b + 1] > big:
                    big = cur[b + 1]
        if big > 32:
            mem_resize(<void**>&tp, big * sizeof(uint64_t))
            mem_resize(<void**>&to, big * sizeof(int32_t))
        with nogil:
            for b in range(nb):
                cur[b + 1] += cur[b]
            # cur[b] is now the start of bucket b; scatter (stably), advancing cur[b]
            for i in range(n):
                b = <Py_ssize_t>(src_p[i] >> shift)
                j = cur[b]
                dst_p[j] = src_p[i]
                dst_o[j] = src_o[i]
                cur[b] = <uint32_t>(j + 1)
            # after the scatter cur[b] is the end of bucket b (the start of b + 1)
            start = 0
            for b in range(nb):
                end = cur[b]
                if end - start > 32:
                    _merge_sort(dst_p + start, dst_o + start, tp, to, end - start)
                else:
                    for i in range(start + 1, end):
                        x = dst_p[i]
                        y = dst_o[i]
                        j = i - 1
                        while j >= start and _before(x, y, dst_p[j], dst_o[j]):
                            dst_p[j + 1] = dst_p[j]
                            dst_o[j + 1] = dst_o[j]
                            j -= 1
                        dst_p[j + 1] = x
                        dst_o[j + 1] = y
                start = end
    finally:
        PyMem_RawFree(cur)
        PyMem_RawFree(tp)
        PyMem_RawFree(to)
    return 0


def _md5(data):
    """MD5 digest (16 bytes) of a bytes-like object by tradeoff._core.md5 (for tests)."""
    cdef bytes b = bytes(data)
    cdef unsigned char d[16]
    md5_digest(<const unsigned char*>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), d)
    return (<char*>d)[:16]


def _sort_points(points, owners):
    """Sort (point, owner) pairs as the ring build does (for tests): two new arrays."""
    cdef const uint64_t[::1] p = np.ascontiguousarray(points, dtype=np.uint64)
    cdef const int32_t[::1] o = np.ascontiguousarray(owners, dtype=np.int32)
    if p.shape[0] != o.shape[0]:
        raise ValueError("points and owners differ in length")
    cdef Py_ssize_t n = p.shape[0]
    sp = np.empty(n + 1, dtype=np.uint64)
    so = np.empty(n + 1, dtype=np.int32)
    cdef uint64_t[::1] spv = sp
    cdef int32_t[::1] sov = so
    if n:
        _bucket_sort(&p[0], &o[0], &spv[0], &sov[0], n)
    return sp[:n], so[:n]


cdef class HashRing(Partitioner):
    """Consistent hashing with virtual nodes (Karger, Lehman, Leighton, Panigrahy,
    Levine and Lewin, "Consistent hashing and random trees", STOC 1997).

    Each node owns points on a circle of 2**64 positions; a key goes to the node
    of the first point at or after the key's position (clockwise), wrapping past
    the top. With v points per node, a node's share of the circle has a standard
    deviation of about 1/sqrt(v) of the mean (100%, 31.6%, 10%, 3.2% at 1, 10, 100,
    1000 points), and adding or removing a node moves only the keys of the arcs it
    gains or loses: about 1/(n + 1) of them when an (n + 1)-th node joins.

    Parameters
    ----------
    nodes : list of str, or a mapping of name to weight (weights finite, >= 0)
    vnodes : int >= 1, points of a node of weight 1 (default 160)
    hash : "xxh64" (default) or "md5": the hash of point labels and str/bytes keys
    load_factor : None, or a number >= 1 for bounded loads (see below)
    compat : None, "ketama" or "uhashring" (see below)

    Points (compat=None). A node of weight w gets ``p = floor(vnodes * w + 1/2)``
    points (at least 1 when w > 0, none when w == 0); weights are absolute, not
    normalized, so adding a node never changes the points of the others (as
    nginx's ``hash ... consistent`` does with 160 points per unit of weight). Point
    ``i`` (0 <= i < p) of node ``name`` is the hash of the UTF-8 label
    ``f"{name}-{i}"``: its XXH64 (seed 0), or with ``hash="md5"`` the first 8 bytes
    of its MD5 read little-endian. Keys: a str (UTF-8) or bytes key is hashed the
    same way; an integer key is mixed with the splitmix64 finalizer (a bijection,
    so sequential integers spread) in both hash modes. Two nodes on the very same
    point (a 64-bit collision) are ordered by node index: the earlier node wins.

    compat="ketama" maps keys exactly as libketama (Last.fm, 2007) does, so a
    memcached client using libketama and this ring agree key for key: each node
    hashes ``floorf(pct * 40.0 * (float)n)`` labels ``f"{name}-{k}"`` with MD5,
    where ``pct = (float)w / (float)sum(w)`` in single precision (libketama's own
    arithmetic, reproduced bit for bit), and takes 4 points from each 16-byte
    digest (bytes 4h..4h+3 read little-endian, h = 0..3). A key's hash is the first
    4 digest bytes of its MD5, little-endian; it goes to the first point >= its
    hash, wrapping to the first point. A point shared by two nodes goes to the
    node listed first (libketama sorts with the C library's qsort, which is a
    stable merge sort in glibc). ``vnodes`` counts points at the average weight and
    must be a multiple of 4 (160, the default, is libketama's 40 hashes). Integer
    keys are looked up as their decimal string, as memcached clients send them,
    also in ``lookup_many``; bytes keys are hashed as they are. ``hash`` must be
    "md5" or left out.

    compat="uhashring" reproduces uhashring's ketama mode
    (``uhashring.HashRing(nodes, hash_fn="ketama")``, with ``vnodes=vnodes // 4``
    there), which differs from libketama in three places: it computes the label
    count exactly, ``floor(40 * n * w / sum(w))`` (libketama's single-precision
    ``floorf`` gives 39 instead of 40 for some node counts with equal weights,
    e.g. 61, 122, 237, 244 nodes); a key whose hash equals a point goes to the
    *next* point (``bisect_right``); and a point shared by two nodes goes to the
    node listed last. uhashring also hashes ``str(key)`` of a bytes key
    (``"b'...'"``); this ring hashes the bytes themselves in both modes.

    Bounded loads (load_factor=c, Mirrokni, Thorup and Zadimoghaddam, "Consistent
    Hashing with Bounded Loads", SODA 2018, arXiv:1608.01350). The paper gives every
    bin the capacity ``ceil(c * m / n)`` for m balls and n bins (c = 1 + eps) and
    sends a ball clockwise from its position to the first bin that is not full.
    Here a key being placed while m keys are assigned is the (m + 1)-th ball, so
    node j's capacity is ``ceil(c * (m + 1) * w_j / W)`` (computed in double
    precision in that order; w_j / W = 1/n with equal weights: the paper's
    formula), and the key goes to the node of the first point at or after its
    position whose load is below its capacity. Some node always has room, since
    the capacities add up to at least c * (m + 1) > m.

    - ``assign(key)`` / ``assign_many(keys)`` place keys (an assigned key keeps its
      node: assigning it again returns it) and count loads; ``release(key)`` forgets
      one. ``loads``, ``assigned`` and ``capacities`` show the state.
    - ``lookup(key)`` / ``lookup_many`` follow the assignments: an assigned key's
      node, otherwise the node ``assign`` would choose now (nothing is recorded).
    - Assignments are sticky. Releasing a key, adding a node or changing a weight
      moves no other key (so after releases a node may hold more than the
      current ``ceil(c * m * w / W)``; each key was within the bound when it was
      placed, and with assignments only the bound always holds). Removing a node
      places its keys again, in the order they were first assigned, as new keys.
      ``rebalance()`` places every assigned key again in that order, from empty.
    - A key is identified by its 64-bit word (see Points): two different keys
      with the same word count as one (for integer keys this never happens).
    - Bounded loads are not available together with a compat mode.

    Complexity: build O(N) expected for N points (hashing the labels dominates);
    lookup O(1) expected (one bucket-table read and a scan of under one point on
    average); add O(N) (a merge), remove O(N) (a filter); a bounded assignment
    O(1) expected plus the points of the full nodes it walks past. Memory: 12 bytes
    per point plus 4 bytes per bucket (at most 2 buckets per point); a bounded ring
    adds its key table (16 bytes per bucket, at least twice the assigned keys).

    >>> from tradeoff.ring._hashring import HashRing
    >>> ring = HashRing(["a", "b", "c"], vnodes=100)
    >>> ring.lookup("user:42")
    'c'
    >>> ring.lookup_many(__import__("numpy").arange(6)).tolist()
    [2, 0, 2, 1, 2, 2]
    >>> HashRing(["10.0.0.1:11211", "10.0.0.2:11211"], compat="ketama").lookup("foo")
    '10.0.0.2:11211'
    >>> bounded = HashRing(["a", "b", "c"], load_factor=1.0)
    >>> sorted(bounded.assign(k) for k in range(6)), bounded.loads
    (['a', 'a', 'b', 'b', 'c', 'c'], [2, 2, 2])
    """
    cdef uint64_t* pts          # points, sorted by (point, owner)
    cdef int32_t* own           # owner (node index) of each point
    cdef uint32_t* bidx         # 2**kbits + 1 bucket starts
    cdef Py_ssize_t npts
    cdef int kbits
    cdef int shift              # 64 - kbits
    cdef Py_ssize_t _vn          # points of a weight-1 node
    cdef int hash_kind          # H_XXH64 or H_MD5
    cdef int _cm                # compat: C_NONE, C_KETAMA, C_UHASHRING
    cdef list _npoints          # points per node, index order
    cdef int _op                # what the next _rebuild has to do (OP_*)
    cdef Py_ssize_t _op_index   # the node it concerns
    # bounded loads
    cdef bint bounded
    cdef double lf              # load factor c
    cdef I64Table _kt           # key table: key word -> seq << NODE_BITS | node
    cdef int64_t* _ld           # loads: keys per node
    cdef double* wts            # weight per node (C copy)
    cdef double wsum
    cdef Py_ssize_t nload       # length of loads / wts
    cdef int64_t m              # assigned keys
    cdef int64_t seq            # next assignment number

    def __cinit__(self):
        self.pts = NULL
        self.own = NULL
        self.bidx = NULL
        self.npts = 0
        self._ld = NULL
        self.wts = NULL
        self.nload = 0
        self._kt.buckets = NULL
        self._kt.mask = 0
        self._kt.size = 0
        self._kt.limit = 0

    def __dealloc__(self):
        PyMem_RawFree(self.pts)
        PyMem_RawFree(self.own)
        PyMem_RawFree(self.bidx)
        PyMem_RawFree(self._ld)
        PyMem_RawFree(self.wts)
        i64t_free(&self._kt)

    def __init__(self, nodes, vnodes=160, hash=None, load_factor=None, compat=None, weights=None):
        if compat not in COMPATS:
            raise ValueError(f"compat must be one of {', '.join(repr(c) for c in COMPATS)}, got {compat!r}")
        self._cm = C_NONE if compat is None else (C_KETAMA if compat == "ketama" else C_UHASHRING)
        if hash is None:
            hash = "md5" if compat is not None else "xxh64"
        if hash not in HASHES:
            raise ValueError(f"unknown hash {hash!r}: choose one of {', '.join(map(repr, HASHES))}")
        if compat is not None and hash != "md5":
            raise ValueError(f"compat={compat!r} hashes with md5, not {hash!r}")
        self.hash_kind = H_XXH64 if hash == "xxh64" else H_MD5
        if isinstance(vnodes, bool) or not isinstance(vnodes, (int, np.integer)):
            raise TypeError(f"vnodes must be an integer, got {vnodes!r}")
        if vnodes < 1:
            raise ValueError(f"vnodes must be >= 1, got {vnodes}")
        if compat is not None and vnodes % 4:
            raise ValueError(f"compat={compat!r} takes 4 points from each hash: vnodes must be a multiple of 4, got {vnodes}")
        self._vn = vnodes
        if load_factor is not None:
            if compat is not None:
                raise ValueError("bounded loads (load_factor) are not available with a compat mode")
            try:
                lf = float(load_factor)
            except (TypeError, ValueError):
                raise TypeError(f"load_factor must be a number or None, got {load_factor!r}") from None
            if isinstance(load_factor, bool) or not isfinite(lf) or lf < 1:
                raise ValueError(f"load_factor must be a finite number >= 1, got {load_factor!r}")
            self.bounded = True
            self.lf = lf
            i64t_init(&self._kt, 16)
        else:
            self.bounded = False
            self.lf = 0
        self.m = 0
        self.seq = 0
        self._npoints = []
        self._op = OP_FULL
        Partitioner.__init__(self, nodes, weights)

    # ------------------------------------------------------------ points
    cdef Py_ssize_t _points_of(self, double w) except -1:
        """Points of a node of weight w (compat=None)."""
        if w <= 0:
            return 0
        cdef double p = floor(self._vn * w + 0.5)
        if p > 2147483647.0:
            raise ValueError(f"a weight of {w} gives {p:.0f} points: too many (scale the weights down)")
        return max(1, <Py_ssize_t>p)

    def _ketama_counts(self):
        """Labels (MD5 hashes) per node in the compat modes."""
        cdef Py_ssize_t n = len(self._names)
        cdef Py_ssize_t hashes = self._vn // 4
        cdef float pct, total32
        cdef double total = 0
        ws = self._weights
        for w in ws:
            total += w
        if total <= 0:
            return [0] * n
        if self._cm == C_KETAMA:
            # libketama: float pct = (float)mem / (float)total;
            #            unsigned ks = floorf(pct * 40.0 * (float)numservers);
            total32 = <float>total
            out = []
            for w in ws:
                pct = <float>(<float>w / total32)
                out.append(<Py_ssize_t>floorf(<float>(<double>pct * <double>hashes * <double>(<float>n))))
            return out
        # uhashring: (vnodes * len(nodes) * weight) // weight_sum, exactly
        if all(float(w).is_integer() for w in ws):
            iw = [int(w) for w in ws]
            s = sum(iw)
            return [(hashes * n * x) // s for x in iw]
        fw = [Fraction(w) for w in ws]
        s = sum(fw)
        return [int((hashes * n * x) // s) for x in fw]

    cdef int _gen(self, Py_ssize_t j, Py_ssize_t count, uint64_t* p, int32_t* o) except -1:
        """Write node j's points (count labels' worth) to p, o; compat modes give 4 per label."""
        cdef bytes name = (<str>self._names[j]).encode("utf-8")
        cdef Py_ssize_t ln = PyBytes_GET_SIZE(name)
        cdef char* buf = NULL
        cdef Py_ssize_t i, L, h
        cdef unsigned char d[16]
        cdef uint32_t v
        mem_resize(<void**>&buf, ln + 24)
        memcpy(buf, PyBytes_AS_STRING(name), ln)
        buf[ln] = 45        # '-'
        with nogil:
            if self._cm != C_NONE:
                for i in range(count):
                    L = ln + 1 + _fmt_u64(<uint64_t>i, buf + ln + 1)
                    md5_digest(<const unsigned char*>buf, L, d)
                    for h in range(4):
                        memcpy(&v, &d[4 * h], 4)
                        p[4 * i + h] = (<uint64_t>v) << 32
                        o[4 * i + h] = <int32_t>j
            elif self.hash_kind == H_XXH64:
                for i in range(count):
                    L = ln + 1 + _fmt_u64(<uint64_t>i, buf + ln + 1)
                    p[i] = xxh64(<const unsigned char*>buf, L, 0)
                    o[i] = <int32_t>j
            else:
                for i in range(count):
                    L = ln + 1 + _fmt_u64(<uint64_t>i, buf + ln + 1)
                    p[i] = md5_u64le(<const unsigned char*>buf, L)
                    o[i] = <int32_t>j
        PyMem_RawFree(buf)
        return 0

    cdef int _reindex(self) except -1:
        """Rebuild the bucket index from the sorted points, and put the sentinel
        2**64 - 1 after the last point (every points array has room for it)."""
        cdef int k = _kbits_for(self.npts)
        cdef Py_ssize_t nb = (<Py_ssize_t>1) << k
        cdef Py_ssize_t i, b
        cdef int shift = 64 - k
        mem_resize(<void**>&self.bidx, (nb + 1) * sizeof(uint32_t))
        if self.pts != NULL:
            self.pts[self.npts] = <uint64_t>0xffffffffffffffff
        with nogil:
            memset(self.bidx, 0, (nb + 1) * sizeof(uint32_t))
            for i in range(self.npts):
                self.bidx[(self.pts[i] >> shift) + 1] += 1
            for b in range(nb):
                self.bidx[b + 1] += self.bidx[b]
        self.kbits = k
        self.shift = shift
        return 0

    cdef int _set_points(self, uint64_t* p, int32_t* o, Py_ssize_t n) except -1:
        """Adopt sorted arrays p, o (taking ownership) and index them."""
        PyMem_RawFree(self.pts)
        PyMem_RawFree(self.own)
        self.pts = p
        self.own = o
        self.npts = n
        if self._cm == C_UHASHRING:
            self._last_writer_wins()
        return self._reindex()

    cdef void _last_writer_wins(self) noexcept:
        """uhashring keeps one owner per point value: the node written last."""
        cdef Py_ssize_t i = self.npts - 1, j
        while i > 0:
            j = i
            while j > 0 and self.pts[j - 1] == self.pts[i]:
                j -= 1
                self.own[j] = self.own[i]
            i = j - 1

    cdef int _full_build(self) except -1:
        cdef Py_ssize_t n = len(self._names), j, total = 0, at = 0, per
        cdef uint64_t* gp = NULL
        cdef int32_t* go = NULL
        cdef uint64_t* sp = NULL
        cdef int32_t* so = NULL
        if self._cm != C_NONE:
            counts = self._ketama_counts()
            per = 4
        else:
            counts = [self._points_of(w) for w in self._weights]
            per = 1
        for c in counts:
            total += c * per
        if total > 2147483647:
            raise ValueError(f"{total} points do not fit the ring (at most 2**31 - 1)")
        try:
            mem_resize(<void**>&gp, total * sizeof(uint64_t))
            mem_resize(<void**>&go, total * sizeof(int32_t))
            mem_resize(<void**>&sp, (total + 1) * sizeof(uint64_t))   # + the sentinel
            mem_resize(<void**>&so, total * sizeof(int32_t))
            for j in range(n):
                self._gen(j, counts[j], gp + at, go + at)
                at += counts[j] * per
            _bucket_sort(gp, go, sp, so, total)
        except BaseException:
            PyMem_RawFree(sp)
            PyMem_RawFree(so)
            raise
        finally:
            PyMem_RawFree(gp)
            PyMem_RawFree(go)
        self._set_points(sp, so, total)
        self._npoints = [c * per for c in counts]
        return 0

    cdef int _merge_node(self, Py_ssize_t j, Py_ssize_t count) except -1:
        """Merge node j's `count` fresh points into the ring."""
        cdef uint64_t* gp = NULL
        cdef int32_t* go = NULL
        cdef uint64_t* sp = NULL
        cdef int32_t* so = NULL
        cdef uint64_t* np_ = NULL
        cdef int32_t* no = NULL
        cdef Py_ssize_t n = self.npts, total = self.npts + count, a = 0, b = 0, k = 0
        try:
            mem_resize(<void**>&gp, count * sizeof(uint64_t))
            mem_resize(<void**>&go, count * sizeof(int32_t))
            mem_resize(<void**>&sp, count * sizeof(uint64_t))
            mem_resize(<void**>&so, count * sizeof(int32_t))
            mem_resize(<void**>&np_, (total + 1) * sizeof(uint64_t))  # + the sentinel
            mem_resize(<void**>&no, total * sizeof(int32_t))
            self._gen(j, count, gp, go)
            _bucket_sort(gp, go, sp, so, count)
            with nogil:
                while a < n and b < count:
                    if _before(sp[b], so[b], self.pts[a], self.own[a]):
                        np_[k] = sp[b]
                        no[k] = so[b]
                        b += 1
                    else:
                        np_[k] = self.pts[a]
                        no[k] = self.own[a]
                        a += 1
                    k += 1
                while a < n:
                    np_[k] = self.pts[a]
                    no[k] = self.own[a]
                    a += 1
                    k += 1
                while b < count:
                    np_[k] = sp[b]
                    no[k] = so[b]
                    b += 1
                    k += 1
        except BaseException:
            PyMem_RawFree(np_)
            PyMem_RawFree(no)
            raise
        finally:
            PyMem_RawFree(gp)
            PyMem_RawFree(go)
            PyMem_RawFree(sp)
            PyMem_RawFree(so)
        self._set_points(np_, no, total)
        return 0

    cdef int _drop_node(self, Py_ssize_t j, bint renumber) except -1:
        """Remove node j's points; with renumber, owners above j move down by one."""
        cdef Py_ssize_t i, k = 0
        cdef int32_t o
        with nogil:
            for i in range(self.npts):
                o = self.own[i]
                if o == j:
                    continue
                if renumber and o > j:
                    o -= 1
                self.pts[k] = self.pts[i]
                self.own[k] = o
                k += 1
        self.npts = k
        return self._reindex()

    def _rebuild(self):
        """Bring the ring up to date with the nodes and weights (see add/remove)."""
        cdef Py_ssize_t j = self._op_index
        cdef int op = self._op
        self._op = OP_FULL
        if self._cm != C_NONE or op == OP_FULL:
            self._full_build()
        elif op == OP_ADD:
            j = len(self._names) - 1
            c = self._points_of(self._weights[j])
            self._merge_node(j, c)
            self._npoints.append(c)
        elif op == OP_REMOVE:
            self._drop_node(j, True)
            del self._npoints[j]
        elif op == OP_WEIGHT:
            c = self._points_of(self._weights[j])
            if c != self._npoints[j]:
                self._drop_node(j, False)
                self._merge_node(j, c)
                self._npoints[j] = c
        self._sync_weights(op, j)

    cdef int _sync_weights(self, int op, Py_ssize_t j) except -1:
        """Keep the C copies of weights and loads in step with the node list."""
        cdef Py_ssize_t n = len(self._names), i
        if not self.bounded:
            return 0
        mem_resize(<void**>&self.wts, max(n, 1) * sizeof(double))
        if op == OP_REMOVE:
            moved = self._take_keys(j)
            for i in range(j, self.nload - 1):
                self._ld[i] = self._ld[i + 1]
        mem_resize(<void**>&self._ld, max(n, 1) * sizeof(int64_t))
        for i in range(self.nload if op != OP_REMOVE else n, n):
            self._ld[i] = 0
        self.nload = n
        self.wsum = 0
        for i in range(n):
            self.wts[i] = self._weights[i]
            self.wsum += self.wts[i]
        if op == OP_REMOVE:
            self._replace(moved)
        return 0

    # ------------------------------------------------------------ keys
    cdef uint64_t _word_bytes(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        if self._cm == C_KETAMA:
            return (<uint64_t>md5_u32le(p, n)) << 32
        if self._cm == C_UHASHRING:
            # first point > hash: look for the first point >= hash << 32 | 0xffffffff
            return ((<uint64_t>md5_u32le(p, n)) << 32) | <uint64_t>0xffffffff
        if self.hash_kind == H_MD5:
            return md5_u64le(p, n)
        return xxh64(p, n, 0)

    cdef uint64_t _word_int(self, uint64_t key) noexcept nogil:
        cdef char buf[24]
        cdef Py_ssize_t L
        if self._cm != C_NONE:
            L = _fmt_i64(<int64_t>key, buf)
            return self._word_bytes(<const unsigned char*>buf, L)
        return mix64(key)

    cdef int _word_of(self, object key, uint64_t* out) except -1:
        cdef bytes s
        if self._cm != C_NONE and (isinstance(key, int) or isinstance(key, np.integer)):
            # memcached clients send integer keys as their decimal string
            s = str(int(key)).encode("ascii")
            out[0] = self._word_bytes(<const unsigned char*>PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))
            return 0
        return Partitioner._word_of(self, key, out)

    cdef int32_t _owner(self, uint64_t w) noexcept nogil:
        return self.own[_ring_pos(self.pts, self.bidx, self.npts, self.shift, w)]

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        cdef int64_t v
        if self.npts == 0:
            return -1
        if self.bounded:
            v = i64t_get(&self._kt, <int64_t>word)
            if v >= 0:
                return <int32_t>(v & NODE_MASK)
            return self._choose(word)
        return self._owner(word)

    def lookup_many(self, keys):
        """Node indexes of many keys: an int32 numpy array, one per key.

        ``keys`` is a numpy integer array (looked up in a loop without the GIL)
        or a sequence of str/bytes/int keys. On a bounded ring an assigned key
        gives its node and another key the node ``assign`` would choose now."""
        cdef cnp.ndarray arr
        cdef const int64_t[::1] k64
        cdef int32_t[::1] res
        cdef Py_ssize_t i, n
        cdef bint unsigned_keys
        cdef char buf[24]
        cdef Py_ssize_t L
        if not isinstance(keys, np.ndarray):
            return Partitioner.lookup_many(self, keys)
        arr = int64_keys(keys, "lookup_many")
        unsigned_keys = arr.dtype.kind == "u"
        k64 = arr.view(np.int64)
        n = k64.shape[0]
        out = np.empty(n, dtype=np.int32)
        res = out
        if n and self.npts == 0:
            raise LookupError("HashRing has no node to map keys to")
        if n == 0:
            return out
        with nogil:
            if self._cm != C_NONE:
                for i in range(n):
                    if unsigned_keys:
                        L = _fmt_u64(<uint64_t>k64[i], buf)
                    else:
                        L = _fmt_i64(k64[i], buf)
                    res[i] = self._owner(self._word_bytes(<const unsigned char*>buf, L))
            elif self.bounded:
                for i in range(n):
                    res[i] = self._lookup_word(mix64(<uint64_t>k64[i]))
            else:
                for i in range(n):
                    res[i] = self.own[_ring_pos(self.pts, self.bidx, self.npts, self.shift,
                                                mix64(<uint64_t>k64[i]))]
        return out

    # ------------------------------------------------------------ nodes
    def add(self, node, weight=1):
        """Add a node; its points are merged into the ring (no other node's
        points change, except in the compat modes, which renormalize weights)."""
        self._op = OP_ADD
        try:
            Partitioner.add(self, node, weight)
        finally:
            self._op = OP_FULL

    def remove(self, node):
        """Remove a node and its points; node indexes after it shift down by one.
        On a bounded ring its keys are placed again (see the class docstring)."""
        self._op = OP_REMOVE
        self._op_index = self._index.get(node, -1)
        try:
            Partitioner.remove(self, node)
        finally:
            self._op = OP_FULL

    def set_weight(self, node, weight):
        """Change a node's weight: it gains or loses points (compat=None: only its own)."""
        self._op = OP_WEIGHT
        self._op_index = self._index.get(node, -1)
        try:
            Partitioner.set_weight(self, node, weight)
        finally:
            self._op = OP_FULL

    def copy(self):
        """A new ring with the same nodes (in the same order), weights and parameters,
        and no assignments."""
        return HashRing(dict(zip(self._names, self._weights)), vnodes=self._vn,
                        hash=HASHES[self.hash_kind], load_factor=self.load_factor,
                        compat=COMPATS[self._cm])

    # ------------------------------------------------------------ bounded loads
    cdef int32_t _choose(self, uint64_t word) noexcept nogil:
        """The node a new key of this word goes to: the first point clockwise whose
        node is below its capacity ceil(c * (m + 1) * w / W)."""
        cdef Py_ssize_t start = _ring_pos(self.pts, self.bidx, self.npts, self.shift, word)
        cdef Py_ssize_t i = start, steps
        cdef int32_t j
        cdef double mm = <double>(self.m + 1)
        for steps in range(self.npts):
            j = self.own[i]
            if <double>self._ld[j] < ceil(self.lf * mm * self.wts[j] / self.wsum):
                return j
            i += 1
            if i == self.npts:
                i = 0
        return self.own[start]      # unreachable: the capacities add up to more than m

    cdef int32_t _assign_word(self, uint64_t word) except -2 nogil:
        cdef uint64_t pos
        cdef int64_t v = i64t_find(&self._kt, <int64_t>word, &pos)
        cdef int32_t j
        if v >= 0:
            return <int32_t>(v & NODE_MASK)
        j = self._choose(word)
        if self._kt.size >= self._kt.limit:
            i64t_put(&self._kt, <int64_t>word, (self.seq << NODE_BITS) | j)
        else:
            i64t_put_at(&self._kt, pos, <int64_t>word, (self.seq << NODE_BITS) | j)
        self.seq += 1
        self.m += 1
        self._ld[j] += 1
        return j

    cdef int _need_bounded(self) except -1:
        if not self.bounded:
            raise TypeError("assign/release need a bounded ring: HashRing(..., load_factor=c)")
        if self.npts == 0:
            raise LookupError("HashRing has no node to map keys to")
        if len(self._names) > NODE_MASK:
            raise ValueError(f"a bounded ring holds at most {NODE_MASK} nodes")
        return 0

    def assign(self, key):
        """Place a key (bounded rings): its node's name. An assigned key keeps its node."""
        cdef uint64_t w
        self._need_bounded()
        self._word_of(key, &w)
        return self._names[self._assign_word(w)]

    def assign_many(self, keys):
        """Place many keys in order (bounded rings); their node indexes, int32.

        A numpy integer array is placed in a loop without the GIL."""
        cdef cnp.ndarray arr
        cdef const int64_t[::1] k64
        cdef int32_t[::1] res
        cdef Py_ssize_t i, n
        cdef uint64_t w
        self._need_bounded()
        if not isinstance(keys, np.ndarray):
            seq = list(keys)
            out = np.empty(len(seq), dtype=np.int32)
            for i, key in enumerate(seq):
                self._word_of(key, &w)
                out[i] = self._assign_word(w)
            return out
        k64 = int64_keys(keys, "assign_many").view(np.int64)
        n = k64.shape[0]
        out = np.empty(n, dtype=np.int32)
        res = out
        with nogil:
            for i in range(n):
                res[i] = self._assign_word(mix64(<uint64_t>k64[i]))
        return out

    def release(self, key):
        """Forget an assigned key (bounded rings): its node's load drops by one.
        No other key moves. KeyError if the key is not assigned."""
        cdef uint64_t w
        if not self.bounded:
            raise TypeError("assign/release need a bounded ring: HashRing(..., load_factor=c)")
        self._word_of(key, &w)
        cdef int64_t v = i64t_pop(&self._kt, <int64_t>w)
        if v < 0:
            raise KeyError(f"key {key!r} is not assigned")
        self._ld[v & NODE_MASK] -= 1
        self.m -= 1

    def _take_keys(self, Py_ssize_t j):
        """Unassign node j's keys (it is being removed) and renumber the nodes above
        it; return the taken (seq, word) pairs in assignment order."""
        cdef Py_ssize_t b
        cdef int64_t v, node
        taken = []
        if self._kt.buckets == NULL:
            return taken
        for b in range(<Py_ssize_t>(self._kt.mask + 1)):
            v = self._kt.buckets[b].value
            if v < 0:
                continue
            node = v & NODE_MASK
            if node == j:
                taken.append((v >> NODE_BITS, i64t_key(&self._kt.buckets[b])))
            elif node > j:
                self._kt.buckets[b].value = v - 1
        for s, word in taken:
            i64t_pop(&self._kt, word)
        self.m -= len(taken)
        taken.sort()
        return taken

    cdef int _replace(self, list taken) except -1:
        """Place taken (seq, word) pairs again, in order, keeping their seq."""
        cdef int64_t s, word
        cdef int32_t j
        if self.npts == 0:
            return 0        # no node left to hold them: they stay unassigned
        for s, word in taken:
            j = self._choose(<uint64_t>word)
            i64t_put(&self._kt, word, (s << NODE_BITS) | j)
            self.m += 1
            self._ld[j] += 1
        return 0

    def rebalance(self):
        """Place every assigned key again, in the order they were first assigned,
        starting from empty loads (bounded rings): afterwards every node is within
        ``ceil(c * m * w / W)``."""
        cdef Py_ssize_t b, i
        if not self.bounded:
            raise TypeError("rebalance needs a bounded ring: HashRing(..., load_factor=c)")
        taken = []
        for b in range(<Py_ssize_t>(self._kt.mask + 1)):
            if self._kt.buckets[b].value >= 0:
                taken.append((self._kt.buckets[b].value >> NODE_BITS, i64t_key(&self._kt.buckets[b])))
        taken.sort()
        i64t_clear(&self._kt)
        for i in range(self.nload):
            self._ld[i] = 0
        self.m = 0
        self._replace(taken)

    @property
    def load_factor(self):
        """The bound c of bounded loads, or None."""
        return self.lf if self.bounded else None

    @property
    def loads(self):
        """Assigned keys per node, index order (bounded rings; zeros otherwise)."""
        if not self.bounded:
            return [0] * len(self._names)
        return [self._ld[i] for i in range(len(self._names))]

    @property
    def assigned(self):
        """The number of assigned keys."""
        return self.m

    @property
    def capacities(self):
        """Per node, the capacity the next key is checked against:
        ceil(c * (m + 1) * w / W) (bounded rings; None otherwise)."""
        if not self.bounded:
            return None
        return [int(ceil(self.lf * <double>(self.m + 1) * self.wts[i] / self.wsum)) if self.wsum > 0 else 0
                for i in range(len(self._names))]

    # ------------------------------------------------------------ inspection
    @property
    def vnodes(self):
        return self._vn

    @property
    def hash(self):
        return HASHES[self.hash_kind]

    @property
    def compat(self):
        return COMPATS[self._cm]

    @property
    def npoints(self):
        """Points per node, index order."""
        return list(self._npoints)

    @property
    def nbytes(self):
        """Bytes held by the ring's arrays (points, owners, bucket index, key table)."""
        cdef Py_ssize_t b = self.npts * (sizeof(uint64_t) + sizeof(int32_t))
        b += ((<Py_ssize_t>1 << self.kbits) + 1) * sizeof(uint32_t)
        if self.bounded:
            b += (self._kt.mask + 1) * 16 + self.nload * (sizeof(int64_t) + sizeof(double))
        return b

    def points(self):
        """The ring as two arrays in ring order: points (uint64) and owners (int32).
        In the compat modes a 32-bit ketama point p is stored as p << 32."""
        pts = np.empty(self.npts, dtype=np.uint64)
        own = np.empty(self.npts, dtype=np.int32)
        cdef uint64_t[::1] pv = pts
        cdef int32_t[::1] ov = own
        cdef Py_ssize_t i
        for i in range(self.npts):
            pv[i] = self.pts[i]
            ov[i] = self.own[i]
        return pts, own

    def shares(self):
        """The exact fraction of the hash circle each node owns (index order): the
        arc from the previous point (exclusive) to each point (inclusive) belongs
        to the point's owner."""
        out = np.zeros(len(self._names), dtype=np.float64)
        cdef double[::1] ov = out
        cdef Py_ssize_t i
        if self.npts == 0:
            return out
        if self.npts == 1:
            ov[self.own[0]] = 1.0
            return out
        for i in range(self.npts):
            # uint64 subtraction wraps: for i == 0 this is the arc across the top
            ov[self.own[i]] += <double>(self.pts[i] - self.pts[i - 1 if i > 0 else self.npts - 1])
        return out / 18446744073709551616.0

    def _check(self):
        """Assert the ring's invariants: points sorted by (point, owner) (one
        owner per point value in uhashring mode), owners valid and counted per
        node, the bucket index exact, and on a bounded ring the loads equal to the
        recorded assignments."""
        Partitioner._check(self)
        cdef Py_ssize_t n = len(self._names), i
        pts, own = self.points()
        assert len(self._npoints) == n
        assert self.npts == sum(self._npoints)
        if self._cm == C_NONE:
            assert self._npoints == [self._points_of(w) for w in self._weights]
        else:
            assert self._npoints == [4 * c for c in self._ketama_counts()]
        if self.npts:
            assert own.min() >= 0 and own.max() < n
            last = self.npts - 1
            assert (pts[1:] >= pts[:last]).all(), "points sorted"
            same = pts[1:] == pts[:last]
            if self._cm == C_UHASHRING:
                assert (own[1:][same] == own[:last][same]).all(), "one owner per point value"
            else:
                assert (own[1:][same] > own[:last][same]).all(), "ties ordered by owner"
                assert np.bincount(own, minlength=n).tolist() == self._npoints
            if self._cm != C_NONE:
                assert not (pts & np.uint64(0xffffffff)).any()
        nb = 1 << self.kbits
        assert self.kbits == _kbits_for(self.npts) and self.shift == 64 - self.kbits
        top = (pts >> np.uint64(self.shift)).astype(np.int64)
        want = np.searchsorted(top, np.arange(nb + 1), side="left")
        have = np.array([self.bidx[i] for i in range(nb + 1)])
        assert (want == have).all(), "bucket index"
        if self.bounded:
            assert self.nload == n
            assert self.m == self._kt.size
            counts = [0] * n
            for b in range(<Py_ssize_t>(self._kt.mask + 1)):
                v = self._kt.buckets[b].value
                if v >= 0:
                    assert (v & NODE_MASK) < n
                    assert (v >> NODE_BITS) < self.seq
                    counts[v & NODE_MASK] += 1
            loads = [self._ld[i] for i in range(n)]
            assert counts == loads, (counts, loads)
            assert abs(self.wsum - sum(self._weights)) <= 1e-9 * max(1.0, self.wsum)

    def __repr__(self):
        extra = f", compat={COMPATS[self._cm]!r}" if self._cm else ""
        if self.bounded:
            extra += f", load_factor={self.lf}"
        return f"HashRing({len(self._names)} nodes, {self.npts} points{extra})"
