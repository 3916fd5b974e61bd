"""The two partitioners that are not consistent: mod-N and ranges.

They are the baselines the consistent schemes are measured against: ``ModN``
is what ``hash(key) % n`` does (adding one node moves about n/(n+1) of the
keys), ``RangePartitioner`` is what an ordered store does (keys stay in order,
but a range's load depends on the keys, not on a hash).
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.mem cimport mem_resize
from tradeoff.ring._base cimport Partitioner

cdef object _I64_MIN = -(1 << 63)
cdef object _I64_END = 1 << 63          # one past the largest int64


cdef class ModN(Partitioner):
    """Mod-N partitioning: node ``word % n`` for a key's 64-bit word.

    A str or bytes key's word is its XXH64 (seed 0, UTF-8 for str); an integer
    key's word is its own 64-bit two's complement, *not* mixed, so integers
    ``0, 1, 2, ...`` go to nodes ``0, 1, 2, ...`` in turn (as ``k % n`` does) and
    a negative key ``k`` counts as ``k + 2**64``.

    Weights are accepted (the base class checks them) and **ignored**: every node
    gets one residue class, so ``uses_weights`` is False and
    :func:`tradeoff.ring.metrics.spread` compares against equal shares.

    Adding or removing a node changes ``n``, so almost every key moves: from n to
    n + 1 nodes a key stays only when ``word % n == word % (n + 1)``, which holds
    for about 1/(n + 1) of random words; n/(n + 1) of the keys move.

    Lookup O(1) (one 64-bit division); build, add and remove O(1) after the base
    class's O(n) bookkeeping. Memory: nothing beyond the node list.

    >>> from tradeoff.ring._simple import ModN
    >>> p = ModN(["a", "b", "c"])
    >>> [p.lookup(k) for k in range(5)]
    ['a', 'b', 'c', 'a', 'b']
    >>> p.lookup_many(__import__("numpy").arange(4)).tolist()
    [0, 1, 2, 0]
    """
    uses_weights = False

    cdef uint64_t n             # number of nodes (0: empty, lookups fail)

    def __init__(self, nodes, weights=None):
        Partitioner.__init__(self, nodes, weights)

    def _rebuild(self):
        self.n = len(self._names)

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        if self.n == 0:
            return -1
        return <int32_t>(word % self.n)

    def _check(self):
        Partitioner._check(self)
        assert self.n == <uint64_t>len(self._names)

    @property
    def nbytes(self):
        """Bytes of the lookup structure: none beyond the node count."""
        return 0


cdef class RangePartitioner(Partitioner):
    """Range partitioning over signed 64-bit key words.

    ``boundaries`` is a strictly increasing sequence of ``len(nodes) - 1``
    integers in the int64 range. The nodes, in the given order, own consecutive
    half-open ranges: the first node ``[-2**63, b[0])``, node i ``[b[i-1], b[i])``,
    the last ``[b[-1], 2**63)``. A key's word is read as a *signed* int64 and
    goes to the range that contains it (a binary search over the boundaries).

    Integer keys keep their order (their word is their own two's complement; an
    unsigned key of 2**63 or more therefore reads as negative). A str or bytes key's
    word is its XXH64 as a signed int64, which spreads strings over the ranges but
    does not keep their order: map ordered string keys to integers yourself.

    Weights are accepted and **ignored** (``uses_weights`` is False): the ranges,
    not weights, decide the shares.

    Changing the nodes:

    - ``add(node, weight=1, boundary=None)`` splits one range: with ``boundary``,
      the range that contains it is cut there and the new node takes the upper
      part ``[boundary, end)``; without it, the widest range (by int64 width; the
      lowest on a tie) is cut at its midpoint ``lo + (hi - lo) // 2`` and the new
      node takes the upper half. Only keys of that one range move. A boundary
      that already exists, or that would leave the lower part empty, is a
      ValueError. The new node takes the next *index* (as for every partitioner);
      its *range* sits next to the range it split, so index order and range order
      may differ (``ranges`` lists them in range order).
    - ``remove(node)`` merges the node's range into its lower neighbour (into
      the upper neighbour when it is the first range): only its keys move.
    - ``set_weight`` changes nothing but the recorded weight.

    Lookup O(log n); add and remove O(n). Memory: 12 bytes per node.

    >>> from tradeoff.ring._simple import RangePartitioner
    >>> p = RangePartitioner(["low", "mid", "high"], [0, 1000])
    >>> [p.lookup(k) for k in (-5, 0, 999, 1000)]
    ['low', 'mid', 'mid', 'high']
    >>> p.add("top", boundary=5000)
    >>> p.ranges[-2:]
    [('high', 1000, 5000), ('top', 5000, 9223372036854775808)]
    """
    uses_weights = False

    cdef list _bnd              # boundaries, range order (len = number of ranges - 1)
    cdef list _own              # node index of each range, range order
    cdef object _pending        # (position, boundary) of a split that add() is making
    cdef int64_t* bounds        # C copy of _bnd
    cdef int32_t* owners        # C copy of _own
    cdef Py_ssize_t nb          # len(_bnd); -1 when there are no ranges

    def __cinit__(self):
        self.bounds = NULL
        self.owners = NULL
        self.nb = -1

    def __dealloc__(self):
        PyMem_RawFree(self.bounds)
        PyMem_RawFree(self.owners)

    def __init__(self, nodes, boundaries, weights=None):
        if not isinstance(nodes, (str, bytes)) and not hasattr(nodes, "items"):
            nodes = list(nodes)
        n = len(nodes)
        b = _check_boundaries(boundaries)
        if n and len(b) != n - 1:
            raise ValueError(f"{n} nodes need {n - 1} boundaries, got {len(b)}")
        self._bnd = b
        self._own = list(range(n))
        self._pending = None
        Partitioner.__init__(self, nodes, weights)

    def _rebuild(self):
        cdef Py_ssize_t i
        if self._pending == "whole":
            self._own.append(len(self._names) - 1)
            self._pending = None
        elif self._pending is not None:
            pos, boundary = self._pending
            self._bnd.insert(pos, boundary)
            # the new node (the last index) owns the range above the new boundary
            self._own.insert(pos + 1, len(self._names) - 1)
            self._pending = None
        cdef Py_ssize_t r = len(self._own)
        mem_resize(<void**>&self.bounds, sizeof(int64_t) * max(r - 1, 1))
        mem_resize(<void**>&self.owners, sizeof(int32_t) * max(r, 1))
        for i in range(r - 1):
            self.bounds[i] = self._bnd[i]
        for i in range(r):
            self.owners[i] = self._own[i]
        self.nb = r - 1

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        cdef int64_t k = <int64_t>word
        cdef Py_ssize_t lo = 0, hi = self.nb, mid
        if hi < 0:
            return -1
        # count the boundaries <= k: that many ranges lie wholly below k
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.bounds[mid] <= k:
                lo = mid + 1
            else:
                hi = mid
        return self.owners[lo]

    # ------------------------------------------------------------ changes
    def add(self, node, weight=1, boundary=None):
        """Add a node by splitting one range (see the class docstring)."""
        if node in self._index:
            raise ValueError(f"node {node!r} is already in the RangePartitioner")
        r = len(self._own)
        if r == 0:
            if boundary is not None:
                raise ValueError("the first node owns every key: it takes no boundary")
            self._pending = "whole"
            try:
                Partitioner.add(self, node, weight)
            finally:
                self._pending = None
            return
        edges = [_I64_MIN] + self._bnd + [_I64_END]
        if boundary is None:
            widths = [edges[i + 1] - edges[i] for i in range(r)]
            pos = widths.index(max(widths))
            if widths[pos] < 2:
                raise ValueError("no range is wide enough to split")
            split = edges[pos] + widths[pos] // 2
        else:
            split = _as_int64(boundary, "boundary")
            if split in self._bnd:
                raise ValueError(f"boundary {split} already exists")
            pos = 0
            while edges[pos + 1] <= split:
                pos += 1
            if split == edges[pos]:
                raise ValueError(f"boundary {split} would leave the range below it empty")
        self._pending = (pos, split)
        try:
            Partitioner.add(self, node, weight)
        finally:
            self._pending = None

    def remove(self, node):
        """Remove a node; its range merges into its lower neighbour (the upper
        one for the first range). Node indexes after it shift down by one."""
        if node not in self._index:
            raise KeyError(f"node {node!r} is not in the RangePartitioner")
        i = self._index[node]
        pos = self._own.index(i)
        if len(self._own) > 1:
            del self._bnd[pos - 1 if pos > 0 else 0]
        del self._own[pos]
        self._own = [j - 1 if j > i else j for j in self._own]
        Partitioner.remove(self, node)

    # ------------------------------------------------------------ inspection
    @property
    def nbytes(self):
        """Bytes of the lookup arrays (boundaries and owners)."""
        r = len(self._names)
        return 8 * max(r - 1, 1) + 4 * max(r, 1)

    @property
    def boundaries(self):
        """The boundaries in range order (a copy)."""
        return list(self._bnd)

    @property
    def ranges(self):
        """``(node, lo, hi)`` for every range in key order; a range is ``[lo, hi)``."""
        edges = [_I64_MIN] + self._bnd + [_I64_END]
        return [(self._names[j], edges[p], edges[p + 1]) for p, j in enumerate(self._own)]

    def _check(self):
        Partitioner._check(self)
        n = len(self._names)
        assert sorted(self._own) == list(range(n)), "each node owns exactly one range"
        assert len(self._bnd) == max(n - 1, 0)
        assert self.nb == n - 1
        for a, b in zip(self._bnd, self._bnd[1:]):
            assert a < b, "boundaries strictly increase"
        for i in range(n - 1):
            assert self.bounds[i] == self._bnd[i]
        for i in range(n):
            assert self.owners[i] == self._own[i]


def _as_int64(value, what):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    v = value.__index__()
    if not (_I64_MIN <= v < _I64_END):
        raise ValueError(f"{what} {v} is outside the int64 range")
    return v


def _check_boundaries(boundaries):
    if isinstance(boundaries, (str, bytes)):
        raise TypeError("boundaries must be a sequence of integers")
    b = [_as_int64(x, "boundary") for x in boundaries]
    for i in range(1, len(b)):
        if b[i] <= b[i - 1]:
            raise ValueError(f"boundaries must strictly increase: "
                             f"boundary {i} ({b[i]}) is not above boundary {i - 1} ({b[i - 1]})")
    return b
