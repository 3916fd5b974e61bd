"""Multi-probe consistent hashing: one point per node, k probes per key.

Appleton and O'Reilly, "Multi-probe consistent hashing", arXiv:1505.00062
(2015). A plain ring needs many virtual nodes per node to even out the arcs;
here every node has a single point, and instead each key is hashed k times:
each probe finds the next node point clockwise, and the key goes to the node
whose point is nearest to any of its probes. With k = 21 the peak-to-average
load is about 1.05, with memory of one point per node, at the cost of k
successor searches per lookup.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t

import numpy as np
cimport numpy as cnp

from tradeoff._core.hashing cimport mix64, xxh64
from tradeoff.ring._base cimport Partitioner
from tradeoff.ring._jump cimport require_equal_reweight, require_equal_weight

cnp.import_array()

# seed of XXH64 over a node's UTF-8 name ("multiprb"), and the base of the
# probe seeds ("multiprs"): probe j's seed is mix64(_PROBE_BASE + j)
cdef uint64_t _NODE_SEED = <uint64_t>0x6d756c7469707262
cdef uint64_t _PROBE_BASE = <uint64_t>0x6d756c7469707273

_MAX_PROBES = 1 << 16
_MAX_BITS = 24


cdef class MultiProbe(Partitioner):
    """Multi-probe consistent hashing (Appleton and O'Reilly 2015).

    Node ``i`` has one point on a ring of 2**64 positions: the XXH64 of its
    UTF-8 name with seed ``0x6d756c7469707262``. A key's ``probes`` (k >= 1)
    probes are ``mix64(word ^ s_j)``, j = 0 .. k-1, with ``s_j = mix64(
    0x6d756c7469707273 + j)`` and ``mix64`` the splitmix64 finalizer; ``word``
    is the key's 64-bit word (an int's own bits, a str's XXH64). Each probe's
    distance is clockwise to the first point at or after it (wrapping past
    2**64); the key goes to the owner of the point with the smallest distance
    over all probes. Of equal distances the earlier probe's wins; of nodes
    whose points coincide, the lower node index.

    Weights: the method gives each node one point and an equal expected
    share, so every weight must be equal and > 0 (``ValueError`` otherwise).

    Adding a node takes keys only for the new node; removing one moves only
    its keys (each key's probes are fixed, and the nearest point changes only
    if that point comes or goes).

    ``lookup`` takes O(k) expected time (a bucket index over the top bits of
    the ring, 4 to 8 buckets per point, finds each successor in about one
    step); building O(n log n); memory 12 bytes per node plus the bucket
    index (16 to 32 bytes per node) and 8 bytes per probe.

    >>> mp = MultiProbe(["a", "b", "c"], probes=21)
    >>> [mp.lookup(k) for k in range(8)], mp.lookup("user:42")
    (['b', 'a', 'b', 'c', 'a', 'c', 'b', 'a'], 'a')
    >>> mp.add("d")                # keys move only to the new node
    >>> [mp.lookup(k) for k in range(8)]
    ['b', 'd', 'b', 'c', 'd', 'c', 'b', 'd']
    """

    def __init__(self, nodes, probes=21, weights=None):
        if isinstance(probes, bool) or not isinstance(probes, (int, np.integer)):
            raise TypeError(f"probes must be an integer, not {type(probes).__name__}")
        if not 1 <= probes <= _MAX_PROBES:
            raise ValueError(f"probes must be between 1 and {_MAX_PROBES}, got {probes}")
        self._k = int(probes)
        seeds = np.array([0], dtype=np.uint64).repeat(self._k)
        cdef uint64_t[::1] sv = seeds
        cdef int j
        for j in range(self._k):
            sv[j] = mix64(_PROBE_BASE + <uint64_t>j)
        self._probe_seed_arr = seeds
        self._probe_seed = <const uint64_t*>cnp.PyArray_DATA(seeds)
        self._n = 0
        Partitioner.__init__(self, nodes, weights)

    def _rebuild(self):
        cdef Py_ssize_t i, n = len(self._names)
        cdef bytes b
        cdef int bits, shift
        if n:
            w0 = self._weights[0]
            for name, w in zip(self._names, self._weights):
                require_equal_weight("MultiProbe", [w0], name, w)
        raw = np.empty(n, dtype=np.uint64)
        cdef uint64_t[::1] rv = raw
        for i, name in enumerate(self._names):
            b = name.encode("utf-8")
            rv[i] = xxh64(<const unsigned char*>b, len(b), _NODE_SEED)
        order = np.lexsort((np.arange(n), raw))            # by point, then index
        # one sentinel point (2**64 - 1) after the last: the successor scan
        # stops there without a bounds test
        pts = np.empty(n + 1, dtype=np.uint64)
        pts[:n] = raw[order]
        pts[n] = np.uint64(0xFFFFFFFFFFFFFFFF)
        own = np.zeros(n + 1, dtype=np.int32)
        own[:n] = order
        bits = 1
        while (1 << bits) < 4 * n and bits < _MAX_BITS:
            bits += 1
        shift = 64 - bits
        # bucket t starts at t << shift, t < 2**bits; entry 2**bits is the end (n)
        starts = np.arange((1 << bits) + 1, dtype=np.uint64)
        starts[:1 << bits] <<= np.uint64(shift)
        first = np.searchsorted(pts[:n], starts, side="left").astype(np.int32)
        first[1 << bits] = n
        self._pts_arr, self._own_arr, self._first_arr = pts, own, first
        self._pts = <const uint64_t*>cnp.PyArray_DATA(pts)
        self._own = <const int32_t*>cnp.PyArray_DATA(own)
        self._first = <const int32_t*>cnp.PyArray_DATA(first)
        self._shift = shift
        self._n = <int32_t>n

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        cdef int32_t n = self._n
        cdef const uint64_t* pts = self._pts
        cdef const int32_t* first = self._first
        cdef const uint64_t* seed = self._probe_seed
        cdef int shift = self._shift
        cdef int j
        cdef int32_t i, at = 0
        cdef uint64_t p, d, best_d = 0
        cdef bint better
        if n <= 0:
            return -1
        for j in range(self._k):
            p = mix64(word ^ seed[j])
            i = first[p >> shift]
            i += pts[i] < p             # usually enough: a bucket holds < 1 point
            while pts[i] < p:           # rarely taken; the sentinel ends it
                i += 1
            i = i if i < n else 0       # past the last point: wrap to the first
            d = pts[i] - p              # clockwise distance, mod 2**64
            better = (j == 0) | (d < best_d)    # a tie keeps the earlier probe
            at = i if better else at
            best_d = d if better else best_d
        return self._own[at]

    def add(self, node, weight=1):
        """Add a node with the common weight: its one point joins the ring."""
        require_equal_weight("MultiProbe", self._weights, node, weight)
        Partitioner.add(self, node, weight)

    def set_weight(self, node, weight):
        """Weights cannot differ: only the current common weight is accepted
        (with one node, any weight > 0)."""
        require_equal_reweight(self, "MultiProbe", node, weight)
        Partitioner.set_weight(self, node, weight)

    @property
    def probes(self):
        """k, the number of probes per key."""
        return self._k

    def points(self):
        """(point, node) pairs around the ring, ascending."""
        return [(int(self._pts[i]), self._names[self._own[i]]) for i in range(self._n)]

    @property
    def nbytes(self):
        """Bytes of the point, owner, bucket-index and probe-seed arrays."""
        return int(self._pts_arr.nbytes + self._own_arr.nbytes + self._first_arr.nbytes
                   + self._probe_seed_arr.nbytes)

    def _check(self):
        Partitioner._check(self)
        n = len(self._names)
        assert self._n == n
        assert len(set(self._weights)) <= 1 and all(w > 0 for w in self._weights)
        pts = self._pts_arr
        own = self._own_arr
        assert pts[n] == 0xFFFFFFFFFFFFFFFF
        assert sorted(own[:n].tolist()) == list(range(n))
        for i in range(n):
            b = self._names[own[i]].encode("utf-8")
            assert pts[i] == xxh64(<const unsigned char*>b, len(b), _NODE_SEED)
            if i:
                assert (pts[i - 1], own[i - 1]) < (pts[i], own[i])
        bits = 64 - self._shift
        assert (1 << bits) >= 4 * n or bits == _MAX_BITS
        first = self._first_arr
        assert len(first) == (1 << bits) + 1 and first[1 << bits] == n
        # first[t] = the number of points whose top bits are below t
        per_bucket = np.bincount((pts[:n] >> np.uint64(self._shift)).astype(np.int64), minlength=1 << bits)
        assert (first[1:] == np.cumsum(per_bucket)).all() and first[0] == 0
        for j in range(self._k):
            assert self._probe_seed[j] == mix64(_PROBE_BASE + <uint64_t>j)
