"""Rendezvous hashing: each key goes to the node that scores it highest.

Thaler and Ravishankar, "Using Name-Based Mappings to Increase Hit Rates",
IEEE/ACM Transactions on Networking 6(1), 1998 ("highest random weight").
Every (key, node) pair gets a pseudo-random score; a key's node is the one
with the highest score. Adding a node takes from each old node exactly the
keys the new node outscores; removing one moves only its own keys. The price
is O(n) work per lookup.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.math cimport log

import numpy as np
cimport numpy as cnp

from tradeoff._core.hashing cimport mix64, xxh64
from tradeoff.ring._base cimport Partitioner

cnp.import_array()

# the seed of XXH64 over a node's UTF-8 name ("rendezvo" in ASCII)
cdef uint64_t _NODE_SEED = <uint64_t>0x72656e64657a766f


cdef inline uint64_t _score(uint64_t word, uint64_t seed) noexcept nogil:
    # the score of a key word at a node: one splitmix64 finalizer of their xor
    return mix64(word ^ seed)


cdef class Rendezvous(Partitioner):
    """Highest random weight hashing (Thaler and Ravishankar 1998).

    The score of a key at node ``i`` is ``mix64(word ^ seed_i)``: ``word`` is
    the key's 64-bit word (an int key's own bits, a str's XXH64), ``seed_i``
    the XXH64 of the node's UTF-8 name with seed ``0x72656e64657a766f``, and
    ``mix64`` the splitmix64 finalizer. The key goes to the highest score;
    equal scores go to the lower node index.

    Weights: when every weight is equal the raw scores are compared. Otherwise
    each score becomes ``u`` in (0, 1) (its top 52 bits plus one half, over
    2**52) and the node with the largest ``-weight / ln(u)`` wins, the
    "logarithmic method" (Schindelhauer and Schomaker, "Weighted Distributed
    Hash Tables", SPAA 2005; also Resch's "weighted rendezvous hashing"):
    ``-ln(u) / weight`` is an exponential variable of rate ``weight``, so a
    node wins with probability exactly ``weight / sum(weights)``, and changing
    one node's weight only moves keys to or from that node. A node of weight 0
    gets no keys unless every weight is 0 (then all count as equal). This path
    skips the ``log`` of every node whose bound ``weight / (1 - u)`` cannot
    beat the best score so far (``-ln u >= 1 - u``), which is most of them.

    ``add`` moves to the new node exactly the keys it outscores (an expected
    ``w_new / sum(w)``); ``remove`` moves only the removed node's keys; no key
    ever moves between two nodes that stay.

    ``lookup`` is O(n) per key (n scores); memory is 16 bytes per node.

    >>> r = Rendezvous(["a", "b", "c"])
    >>> [r.lookup(k) for k in range(8)], r.lookup("user:42")
    (['b', 'a', 'b', 'a', 'b', 'b', 'c', 'a'], 'a')
    >>> r.add("d")                 # keys move only to the new node
    >>> [r.lookup(k) for k in range(8)]
    ['b', 'a', 'b', 'd', 'd', 'b', 'c', 'a']
    """

    def __init__(self, nodes, weights=None):
        self._n = 0
        Partitioner.__init__(self, nodes, weights)

    def _rebuild(self):
        cdef Py_ssize_t n = len(self._names)
        cdef bytes b
        seeds = np.empty(max(n, 1), dtype=np.uint64)
        cdef uint64_t[::1] sv = seeds
        for i, name in enumerate(self._names):
            b = name.encode("utf-8")
            sv[i] = xxh64(<const unsigned char*>b, len(b), _NODE_SEED)
        ws = np.asarray(self._weights if n else [1.0], dtype=np.float64)
        self._seed_arr = seeds
        self._w_arr = ws
        self._seed = <const uint64_t*>cnp.PyArray_DATA(seeds)
        self._w = <const double*>cnp.PyArray_DATA(ws)
        self._weighted = len(set(self._weights)) > 1
        self._n = <int32_t>n

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        cdef int32_t n = self._n
        cdef const uint64_t* seed = self._seed
        cdef const double* wt = self._w
        cdef int32_t i, best = 0
        cdef uint64_t s, top
        cdef bint gt
        cdef double u, sc, best_sc = -1.0
        if n <= 0:
            return -1
        if not self._weighted:
            top = _score(word, seed[0])
            for i in range(1, n):
                s = _score(word, seed[i])
                gt = s > top                # selects, not a branch: a new
                best = i if gt else best    # maximum is rare but unpredictable
                top = s if gt else top
            return best
        best = -1
        for i in range(n):
            if wt[i] > 0:
                s = _score(word, seed[i])
                u = (<double><int64_t>(s >> 12) + 0.5) * (1.0 / 4503599627370496.0)
                # -ln(u) >= 1 - u, so weight / (1 - u) bounds the score from
                # above: when even the bound (with a margin far wider than the
                # rounding) is not above the best so far, skip the log. This
                # only skips nodes that cannot win; most nodes are skipped.
                if wt[i] > best_sc * (1.0 - u) * (1.0 - 1e-9):
                    sc = -wt[i] / log(u)
                    if sc > best_sc:
                        best_sc = sc
                        best = i
        return best

    def scores(self, key):
        """The score of ``key`` at every node, in node order (the integer
        scores; with unequal weights, the ``-weight / ln(u)`` values)."""
        cdef uint64_t w
        self._word_of(key, &w)
        out = []
        for i in range(self._n):
            s = _score(w, self._seed[i])
            if self._weighted:
                u = ((s >> 12) + 0.5) / 4503599627370496.0
                out.append(-self._w[i] / log(u))
            else:
                out.append(s)
        return out

    @property
    def nbytes(self):
        """Bytes of the per-node seeds and weights (16 per node)."""
        return int(self._n * (sizeof(uint64_t) + sizeof(double)))

    def _check(self):
        Partitioner._check(self)
        n = len(self._names)
        assert self._n == n
        for i, name in enumerate(self._names):
            b = name.encode("utf-8")
            assert self._seed[i] == xxh64(<const unsigned char*>b, len(b), _NODE_SEED)
            assert self._w[i] == self._weights[i]
        assert self._weighted == (len(set(self._weights)) > 1)
