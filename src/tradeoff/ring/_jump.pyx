"""Jump consistent hash: ``jump_hash(key, n)`` and the ``JumpHash`` partitioner.

Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
A key walks through a pseudo-random sequence of "jumps" seeded by itself; the
last jump below ``n`` is its bucket. Growing ``n`` to ``n + 1`` moves exactly
the keys whose next jump is ``n``: an expected ``1/(n + 1)`` of them, all to the
new bucket. No memory but the bucket count; the buckets are numbered, so only
the last one can leave without disturbing the others (see ``JumpHash.remove``).
"""
from libc.stdint cimport uint64_t, int64_t, int32_t

import numpy as np
cimport numpy as cnp

from tradeoff.ring._base cimport Partitioner, int64_keys

cnp.import_array()

_MAX_BUCKETS = 2**31 - 1


def jump_hash(key, n):
    """The bucket in ``[0, n)`` that jump consistent hash gives ``key``.

    Exactly the reference function of Lamping and Veach (2014, Figure 1):
    ``key`` is taken as an unsigned 64-bit integer (a negative int as its
    two's complement, so ``-1`` is ``2**64 - 1``), ``n`` is the number of
    buckets, ``1 <= n <= 2**31 - 1`` (the paper's ``int32_t``). Expected
    O(ln n) time, no memory.

    >>> jump_hash(0, 1)
    0
    >>> [jump_hash(k, 10) for k in range(8)]
    [0, 6, 6, 8, 1, 4, 9, 0]
    >>> jump_hash(-1, 1000) == jump_hash(2**64 - 1, 1000)
    True
    """
    cdef uint64_t k
    try:
        key = key.__index__()
    except AttributeError:
        raise TypeError(f"jump_hash takes an integer key, not {type(key).__name__}") from None
    try:
        n = n.__index__()
    except AttributeError:
        raise TypeError(f"jump_hash takes an integer number of buckets, not {type(n).__name__}") from None
    if not 1 <= n <= _MAX_BUCKETS:
        raise ValueError(f"jump_hash needs 1 <= n <= 2**31 - 1 buckets, got {n}")
    if key < 0:
        if key < -(1 << 63):
            raise OverflowError(f"key {key} does not fit in 64 bits")
        k = <uint64_t><int64_t>key
    else:
        if key >= (1 << 64):
            raise OverflowError(f"key {key} does not fit in 64 bits")
        k = <uint64_t>key
    return jump_bucket(k, <int32_t>n)


cdef enum:
    _LANES = 8      # keys in flight in jump_buckets (8 measured fastest of 2..16)


cdef void jump_buckets(const uint64_t* keys, Py_ssize_t m, int32_t n,
                       const int32_t* remap, int32_t* out) noexcept nogil:
    # The loop of jump_bucket run for _LANES keys side by side. A lane whose
    # jump has left [0, n) is frozen by selects (no branch), so one step costs
    # the same for every lane and the CPU overlaps their divisions; the group
    # ends when every lane is frozen. One key at a time, each key's loop exit
    # is a mispredicted branch and its divisions wait for each other: this is
    # about 2.5x faster at n = 100 with the same results.
    cdef uint64_t k[_LANES]
    cdef int64_t b[_LANES]
    cdef int64_t j[_LANES]
    cdef uint64_t nk
    cdef int64_t nj
    cdef bint live, any_live
    cdef int l
    cdef Py_ssize_t base = 0, i
    while base + _LANES <= m:
        for l in range(_LANES):
            k[l] = keys[base + l]
            b[l] = -1
            j[l] = 0
        any_live = True
        while any_live:
            any_live = False
            for l in range(_LANES):
                live = j[l] < n
                nk = k[l] * <uint64_t>2862933555777941757 + 1
                nj = <int64_t>(<double>(j[l] + 1) * (2147483648.0 / <double>(<int64_t>(nk >> 33) + 1)))
                b[l] = j[l] if live else b[l]
                k[l] = nk if live else k[l]
                j[l] = nj if live else j[l]
                any_live |= (nj < n) & live       # & not `and`: no branch
        if remap == NULL:
            for l in range(_LANES):
                out[base + l] = <int32_t>b[l]
        else:
            for l in range(_LANES):
                out[base + l] = remap[b[l]]
        base += _LANES
    for i in range(base, m):
        out[i] = jump_bucket(keys[i], n) if remap == NULL else remap[jump_bucket(keys[i], n)]


cdef int require_equal_weight(str cls, list weights, object node, object weight) except -1:
    # called before any state changes; a weight that is not a number is left
    # for the base class to refuse with its own message
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        return 0
    if not weight > 0:
        raise ValueError(f"{cls} gives every node an equal share: weight of node {node!r} "
                         f"must be > 0, got {weight!r}")
    for w in weights:
        if w != weight:
            raise ValueError(f"{cls} cannot weight nodes: every weight must be equal "
                             f"(the others have {w!r}), got {weight!r} for node {node!r}")
    return 0


cdef int require_equal_reweight(Partitioner p, str cls, object node, object weight) except -1:
    if node not in p._index:
        raise KeyError(f"node {node!r} is not in the {cls}")
    others = [w for name, w in zip(p._names, p._weights) if name != node]
    return require_equal_weight(cls, others, node, weight)


cdef class JumpHash(Partitioner):
    """Jump consistent hash over a list of nodes (Lamping and Veach 2014).

    An integer key goes straight to :func:`jump_hash` (the paper's function,
    bit for bit); a str or bytes key goes through its XXH64 word (seed 0).
    The key's bucket names a node through ``buckets`` (bucket ``b`` -> node).

    - ``add(node)`` appends a bucket: exactly the keys that jump to the new
      bucket move, an expected ``1/(n + 1)``, and no key moves between the
      old nodes.
    - ``remove(node)`` of the node holding the last bucket just drops that
      bucket: only its keys move (``1/n``), spread over the others.
      Removing any other node ``x``: the node ``y`` holding the last bucket
      takes over ``x``'s bucket and the last bucket goes. So ``x``'s keys all
      move (to ``y``) and ``y``'s old keys spread over the ``n - 1`` buckets
      (those landing on ``x``'s old bucket stay on ``y``): about
      ``1/n + (1/n)(n - 2)/(n - 1)``, nearly ``2/n`` of the keys, twice the
      minimum. (Shifting the buckets down instead would move most keys.)
      The mapping then depends on history: ``buckets`` is no longer the node
      order, and a fresh ``JumpHash`` of the same nodes maps differently.
    - Weights: jump hash gives every bucket the same share, so every weight
      must be equal and > 0; anything else raises ``ValueError``.

    ``lookup`` and each key of ``lookup_many`` take expected O(ln n) time;
    memory is one int32 per node.

    >>> ring = JumpHash(["a", "b", "c"])
    >>> ring.lookup(1), ring.lookup("user:42")
    ('a', 'a')
    >>> ring.lookup(1) == ["a", "b", "c"][jump_hash(1, 3)]
    True
    >>> ring.remove("a"); ring.buckets
    ['c', 'b']
    """

    def __init__(self, nodes, weights=None):
        self._order = []
        self._n = 0
        Partitioner.__init__(self, nodes, weights)

    def _rebuild(self):
        cdef Py_ssize_t n = len(self._names)
        if n > _MAX_BUCKETS:
            raise ValueError(f"JumpHash takes at most 2**31 - 1 nodes, got {n}")
        if n:
            w0 = self._weights[0]
            for name, w in zip(self._names, self._weights):
                require_equal_weight("JumpHash", [w0], name, w)
        # new nodes (all of them at construction, one after add) get new buckets
        self._order.extend(range(len(self._order), n))
        arr = np.asarray(self._order, dtype=np.int32) if n else np.zeros(1, dtype=np.int32)
        self._order_arr = arr
        self._bucket_node = <const int32_t*>cnp.PyArray_DATA(arr)
        self._n = <int32_t>n

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        if self._n <= 0:
            return -1
        return self._bucket_node[jump_bucket(word, self._n)]

    def lookup_many(self, keys):
        """Node indexes of many keys (see ``Partitioner.lookup_many``); an
        integer array goes through ``jump_buckets``, eight keys at a time."""
        cdef cnp.ndarray arr
        cdef Py_ssize_t m
        if (not isinstance(keys, np.ndarray) or keys.dtype.kind not in "iu"
                or keys.ndim != 1 or self._n <= 0):
            return Partitioner.lookup_many(self, keys)     # other inputs, and its errors
        arr = int64_keys(keys, "lookup_many")
        m = arr.shape[0]
        out = np.empty(m, dtype=np.int32)
        cdef const uint64_t* src = <const uint64_t*>cnp.PyArray_DATA(arr)
        cdef int32_t* dst = <int32_t*>cnp.PyArray_DATA(out)
        with nogil:
            jump_buckets(src, m, self._n, self._bucket_node, dst)
        return out

    def add(self, node, weight=1):
        """Add a node with the common weight; it takes a new last bucket."""
        require_equal_weight("JumpHash", self._weights, node, weight)
        Partitioner.add(self, node, weight)

    def remove(self, node):
        """Remove a node. Its bucket passes to the node holding the last
        bucket, which is dropped; node indexes after it shift down by one."""
        if node not in self._index:
            raise KeyError(f"node {node!r} is not in the JumpHash")
        cdef Py_ssize_t i = self._index[node]
        order = self._order
        cdef Py_ssize_t b = order.index(i)
        last = order.pop()
        if b < len(order):
            order[b] = last
        self._order = [x - 1 if x > i else x for x in order]
        Partitioner.remove(self, node)

    def set_weight(self, node, weight):
        """Weights cannot differ: only the current common weight is accepted
        (with one node, any weight > 0)."""
        require_equal_reweight(self, "JumpHash", node, weight)
        Partitioner.set_weight(self, node, weight)

    @property
    def nbytes(self):
        """Bytes of the bucket -> node map (4 per node); jump hash itself needs none."""
        return int(self._n * sizeof(int32_t))

    @property
    def buckets(self):
        """The node of each bucket, bucket 0 first (the node order until a
        node other than the last-bucket one is removed)."""
        return [self._names[i] for i in self._order]

    def _check(self):
        Partitioner._check(self)
        n = len(self._names)
        assert self._n == n
        assert sorted(self._order) == list(range(n))
        assert [self._bucket_node[b] for b in range(n)] == self._order
        assert len(set(self._weights)) <= 1
        assert all(w > 0 for w in self._weights)
