"""Maglev hashing: a lookup table of M entries, filled by the nodes in turn.

Eisenbud, Yi, Contavalli, Smith, Kononov, Mann-Hielscher, Cilingiroglu,
Cheyney, Shang and Hosein, "Maglev: A Fast and Reliable Software Network Load
Balancer", NSDI 2016, section 3.4. Each node has a preference list, a
permutation of the M table slots given by an offset and a skip drawn from two
hashes of its name; the nodes take turns claiming their most preferred free
slot until the table is full. A lookup is one table read. The table is almost
perfectly balanced (entries per node differ by at most one), at the price of
moving a little more than the minimum when nodes change.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.string cimport memset

import numpy as np
cimport numpy as cnp

from tradeoff._core.hashing cimport mix64, xxh64
from tradeoff.ring._base cimport Partitioner

cnp.import_array()

# seeds of the two XXH64 hashes of a node's UTF-8 name ("maglev01", "maglev02")
cdef uint64_t _OFFSET_SEED = <uint64_t>0x6d61676c65763031
cdef uint64_t _SKIP_SEED = <uint64_t>0x6d61676c65763032

_MAX_TABLE = 2**31 - 1


def _is_prime(n):
    """Deterministic Miller-Rabin for n < 3,317,044,064,679,887,385,961,981
    (bases 2..41; Sorenson and Webster 2015), far beyond any table size."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in small:
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _next_prime(n):
    """The smallest prime >= n."""
    n = max(n, 2)
    while not _is_prime(n):
        n += 1
    return n


cdef void maglev_populate(int32_t* table, uint64_t m, Py_ssize_t n,
                          const uint64_t* offset, const uint64_t* skip,
                          const double* share, double* credit, uint64_t* pos) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint64_t filled = 0, c, sk
    memset(table, 0xff, m * sizeof(int32_t))        # every entry -1 (free)
    if n <= 0:
        return
    for i in range(n):
        pos[i] = offset[i]
        credit[i] = 0.0
    while True:
        for i in range(n):
            credit[i] += share[i]
            if credit[i] < 1.0:
                continue            # a lighter node sits this round out
            credit[i] -= 1.0
            # walk node i's preference list (offset + j * skip mod m, kept as a
            # running position) to its first free slot; m prime and 0 < skip < m
            # make the list a permutation of all m slots, so one is found
            c = pos[i]
            sk = skip[i]
            while table[c] >= 0:
                c += sk
                if c >= m:
                    c -= m
            table[c] = <int32_t>i
            c += sk
            if c >= m:
                c -= m
            pos[i] = c
            filled += 1
            if filled == m:
                return


def _populate(offsets, skips, table_size, shares=None):
    """The table that the populate loop builds from explicit preference lists
    (``offsets[i] + j * skips[i] mod table_size``), as a list: to check the
    loop against a worked example. ``shares`` (each in [0, 1], one of them 1)
    default to all 1.

    >>> _populate([3, 0, 3], [4, 2, 1], 7)
    [1, 0, 1, 0, 2, 2, 0]
    """
    m = int(table_size)
    n = len(offsets)
    if not _is_prime(m) or len(skips) != n or n >= m:
        raise ValueError("need a prime table_size above the number of nodes, and one skip per offset")
    if not all(0 <= o < m for o in offsets) or not all(0 < k < m for k in skips):
        raise ValueError("need 0 <= offset < table_size and 0 < skip < table_size")
    sh = np.ones(max(n, 1), dtype=np.float64)
    if shares is not None:
        sh[:n] = shares
        if n and (sh[:n].min() < 0 or sh[:n].max() != 1.0):
            raise ValueError("shares are in [0, 1] and the largest is 1")
    off = np.zeros(max(n, 1), dtype=np.uint64)
    sk = np.ones(max(n, 1), dtype=np.uint64)
    off[:n] = offsets
    sk[:n] = skips
    credit = np.zeros(max(n, 1), dtype=np.float64)
    pos = np.zeros(max(n, 1), dtype=np.uint64)
    table = np.empty(m, dtype=np.int32)
    maglev_populate(<int32_t*>cnp.PyArray_DATA(table), m, n,
                    <const uint64_t*>cnp.PyArray_DATA(off), <const uint64_t*>cnp.PyArray_DATA(sk),
                    <const double*>cnp.PyArray_DATA(sh), <double*>cnp.PyArray_DATA(credit),
                    <uint64_t*>cnp.PyArray_DATA(pos))
    return table.tolist()


cdef class Maglev(Partitioner):
    """Maglev hashing (Eisenbud et al., NSDI 2016, section 3.4).

    ``table_size`` M must be a prime greater than the number of nodes (the
    paper advises M much larger than the node count: 65537 for up to a few
    hundred nodes; ``ValueError`` otherwise, naming the next prime). Node ``i``
    has ``offset = h1(name) mod M`` and ``skip = h2(name) mod (M - 1) + 1``,
    ``h1``/``h2`` being XXH64 of its UTF-8 name with seeds ``0x6d61676c65763031``
    and ``0x6d61676c65763032``; its preference list is ``offset + j * skip mod
    M``, j = 0, 1, ... The populate loop lets the nodes, in index order, each
    claim its most preferred free slot, round after round, until the M slots
    are full. A key goes to ``table[word mod M]``; an int key's word is mixed
    first (splitmix64), a str's is its XXH64.

    Weights: a node takes a turn in a round only when its credit, which
    grows by ``weight / max(weights)`` each round, reaches 1 (it then pays 1).
    The heaviest nodes take every turn; a node of half their weight every
    other round; weight 0 none (unless every weight is 0: then all equal).
    With equal weights this is exactly the paper's loop, and entries per node
    differ by at most one. Envoy's weighted Maglev takes turns the same way.

    Adding or removing a node rebuilds the table: keys move to the new node as
    with any consistent hash, plus a few between old nodes, since the turns
    shift (the paper's Figure 9: a little more than the minimum).

    ``lookup`` is O(1) (a mix, a modulo and a read); building is about
    O(M log M) work; memory is 4 bytes per table entry.

    >>> m = Maglev(["a", "b", "c"], table_size=7)
    >>> m.table.tolist()
    [2, 1, 0, 1, 2, 0, 0]
    >>> m.lookup(7), m.lookup("user:42")
    ('a', 'c')
    >>> m.balance()["max_over_min"]
    1.5
    """

    def __init__(self, nodes, table_size=65537, weights=None):
        if isinstance(table_size, bool) or not isinstance(table_size, (int, np.integer)):
            raise TypeError(f"table_size must be an integer, not {type(table_size).__name__}")
        table_size = int(table_size)
        if not 2 <= table_size <= _MAX_TABLE:
            raise ValueError(f"table_size must be a prime between 2 and 2**31 - 1, got {table_size}")
        if not _is_prime(table_size):
            raise ValueError(f"table_size must be prime, got {table_size} "
                             f"(the next prime is {_next_prime(table_size)})")
        self._m = table_size
        self._n = 0
        Partitioner.__init__(self, nodes, weights)

    def _check_size(self, n):
        if n >= self._m:
            raise ValueError(f"Maglev's table_size ({self._m}) must be greater than the "
                             f"number of nodes ({n}); the next prime above is {_next_prime(n + 1)} "
                             f"(the paper advises about 100 entries per node)")

    def _rebuild(self):
        cdef Py_ssize_t n = len(self._names)
        self._check_size(n)
        cdef uint64_t m = self._m
        offset = np.empty(max(n, 1), dtype=np.uint64)
        skip = np.empty(max(n, 1), dtype=np.uint64)
        cdef uint64_t[::1] ov = offset, sv = skip
        cdef bytes b
        for i, name in enumerate(self._names):
            b = name.encode("utf-8")
            ov[i] = xxh64(<const unsigned char*>b, len(b), _OFFSET_SEED) % m
            sv[i] = xxh64(<const unsigned char*>b, len(b), _SKIP_SEED) % (m - 1) + 1
        top = max(self._weights) if n else 0.0
        shares = np.array([w / top for w in self._weights] if top > 0 else [1.0] * n, dtype=np.float64)
        if n == 0:
            shares = np.ones(1, dtype=np.float64)
        credit = np.empty(max(n, 1), dtype=np.float64)
        pos = np.empty(max(n, 1), dtype=np.uint64)
        table = np.empty(m, dtype=np.int32)
        cdef int32_t* tp = <int32_t*>cnp.PyArray_DATA(table)
        cdef const uint64_t* op = <const uint64_t*>cnp.PyArray_DATA(offset)
        cdef const uint64_t* sp = <const uint64_t*>cnp.PyArray_DATA(skip)
        cdef const double* shp = <const double*>cnp.PyArray_DATA(shares)
        cdef double* cp = <double*>cnp.PyArray_DATA(credit)
        cdef uint64_t* pp = <uint64_t*>cnp.PyArray_DATA(pos)
        with nogil:
            maglev_populate(tp, m, n, op, sp, shp, cp, pp)
        self._table_arr = table
        self._table = tp
        self._n = <int32_t>n

    cdef uint64_t _word_int(self, uint64_t key) noexcept nogil:
        return mix64(key)

    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        if self._n <= 0:
            return -1
        return self._table[word % self._m]

    def add(self, node, weight=1):
        """Add a node (the table is rebuilt); refused if the table would not
        have more entries than nodes."""
        if node not in self._index:                  # else the base names the duplicate
            self._check_size(len(self._names) + 1)
        Partitioner.add(self, node, weight)

    @property
    def table_size(self):
        """M, the number of table entries."""
        return self._m

    @property
    def table(self):
        """The lookup table: M node indexes (a numpy copy)."""
        return self._table_arr.copy() if self._n else np.full(self._m, -1, dtype=np.int32)

    def table_counts(self):
        """Table entries held by each node, in node order (a numpy int64 array)."""
        return np.bincount(self._table_arr, minlength=self._n) if self._n else np.zeros(0, np.int64)

    def balance(self):
        """How evenly the table is shared: entries per node over its fair share
        (M * weight / total weight), for nodes with weight > 0 (all of them
        when every weight is 0): ``peak_to_avg`` (the largest), ``min_to_avg``
        (the smallest) and ``max_over_min``; also ``counts``, the entries per node."""
        counts = self.table_counts()
        w = np.asarray(self._weights, dtype=np.float64)
        if self._n == 0:
            return {"counts": counts, "peak_to_avg": float("nan"), "min_to_avg": float("nan"),
                    "max_over_min": float("nan")}
        if not (w > 0).any():
            w = np.ones_like(w)
        live = w > 0
        ratio = counts[live] / (self._m * w[live] / w[live].sum())
        lo = ratio.min()
        return {"counts": counts, "peak_to_avg": float(ratio.max()), "min_to_avg": float(lo),
                "max_over_min": float(ratio.max() / lo) if lo > 0 else float("inf")}

    @property
    def nbytes(self):
        """Bytes of the lookup table (4 per entry)."""
        return int(self._m * sizeof(int32_t))

    def _check(self):
        """The bookkeeping, a full table of valid indexes equal to a fresh
        populate, and with equal weights per-node counts within one."""
        Partitioner._check(self)
        n = len(self._names)
        assert self._n == n and n < self._m
        table = self._table_arr
        assert len(table) == self._m
        if n == 0:
            return
        assert table.min() >= 0 and table.max() < n
        old = self._table_arr
        self._rebuild()
        assert (self._table_arr == old).all(), "the table is not what populate gives"
        if len(set(self._weights)) == 1:
            counts = self.table_counts()
            assert counts.max() - counts.min() <= 1
