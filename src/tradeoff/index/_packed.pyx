"""A B+tree of packed fixed-width keys: ``PackedBTree``, the structure behind the
B-tree indexes of ``tradeoff.index.Table``.

A key is a tuple of ``width`` unsigned 64-bit words compared lexicographically
(word 0 first). Table packs a row of an index on columns (c1, ..., ck) as the
words ``(code(c1), ..., code(ck), row)``, where ``code`` preserves order:

- int64: the value with its sign bit flipped (``v + 2**63`` as unsigned);
- float64: the IEEE bits, with the sign bit flipped for a positive value and
  every bit flipped for a negative one, -0.0 taken as 0.0 (NaN is not allowed).

so unsigned word order is column order, and the row id last makes every key
unique. The keys are stored unboxed: a leaf is one block holding ``node_size``
keys of ``8 * width`` bytes each, the internal nodes hold separators (whole
keys) and child pointers, and the leaves are chained both ways.

Layout and rules. Every key under child i of an internal node is below
separator i, which is <= every key under child i + 1. An insert into a full
leaf splits it in two halves and posts the right half's first key to the
parent, which may split in turn; the root splits into a new root. A delete
removes the key from its leaf, then rebalances as the textbook B+tree delete
(Comer 1979, "The Ubiquitous B-Tree", section 3; Cormen et al., "Introduction
to Algorithms", 18.3, adapted to keys in leaves): a non-root node left below
half (``node_size // 2`` keys in a leaf, as many separators in an internal
node) borrows entries from its left sibling (the right one for a first
child) through their separator while that sibling has more than half; else the
two merge into the left one (the right one is freed and, for leaves, unlinked
from the chain) and the parent loses a separator, which may leave the parent
below half in turn; a root left with one child is replaced by it. So a tree
that loses most of its keys shrinks in nodes, bytes and height as it would
have had it been grown to that size. Merges never allocate: delete cannot fail.
``from_sorted`` fills every leaf but the last completely (``fill=1``), and
gives every internal node at least 3 children below the root.

Searches. A scan takes prefixes as bounds (``KeyRanges``): the lower bound is
the first key whose first m words are >= (or >) a prefix, found by one
descent; the upper bound is another descent; the rows between (the last word
of each key) are counted along the leaf chain, then copied into a new int64
array, with no Python object per key.

Complexity, n keys, node size b, width w: insert, delete, a bound O(w log n);
a scan O(w log n + k) for k keys; ``from_sorted`` O(w n); ``keys_array`` O(w n).
Memory: ``8 * width`` bytes per key divided by the leaf fill, plus one 40-byte
header and one spare key per node, plus the internal nodes (about 1/b of the
leaves): with width 3 and b = 128, 24.5 bytes per key after ``from_sorted``.

>>> import numpy as np
>>> keys = np.array([[1, 5, 0], [1, 7, 2], [2, 5, 1], [2, 6, 3]], dtype=np.uint64)
>>> t = PackedBTree.from_sorted(keys, node_size=3)
>>> t.scan(KeyRanges([((1,), True, (1,), True)], 3)).tolist()      # first word = 1
[0, 2]
>>> t.scan(KeyRanges([((2, 5), False, (), True)], 3)).tolist()     # (w0, w1) > (2, 5)
[3]
>>> t.insert((1, 6, 9)), t.insert((1, 6, 9)), t.delete((2, 5, 1)), len(t)
(True, False, True, 4)
>>> t.keys_array()[:, 2].tolist()
[0, 9, 2, 3]
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.string cimport memcpy, memmove
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cpython.long cimport PyLong_AsUnsignedLongLong

import numpy as np
cimport numpy as cnp

from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport TRADEOFF_PREFETCH

cnp.import_array()

__all__ = ["PackedBTree", "KeyRanges", "encode_int64", "encode_float64", "word_of_int", "word_of_float",
           "float_bits", "scan_eq", "hash_eq"]

DEF_NODE = 128             # default node_size: 3 KB leaves at width 3; 1M keys in 3 levels
MAX_NODE = 1 << 16
SIGN = 1 << 63
_U64 = np.uint64


# ------------------------------------------------------------------ packing

def encode_int64(values):
    """The order-preserving words of an int64 array (sign bit flipped), uint64.

    >>> encode_int64(np.array([-1, 0, 1])).tolist() == [2**63 - 1, 2**63, 2**63 + 1]
    True
    """
    a = np.ascontiguousarray(values, dtype=np.int64)
    return a.view(np.uint64) ^ _U64(SIGN)


def encode_float64(values):
    """The order-preserving words of a float64 array (no NaN; -0.0 as 0.0), uint64.

    >>> w = encode_float64(np.array([-np.inf, -2.5, -0.0, 0.0, 1e-300, np.inf]))
    >>> bool(np.all(w[:-1] <= w[1:])), bool(w[2] == w[3])
    (True, True)
    """
    a = np.ascontiguousarray(values, dtype=np.float64) + 0.0
    bits = a.view(np.uint64)
    neg = (bits >> _U64(63)).astype(bool)
    return np.where(neg, ~bits, bits | _U64(SIGN))


def word_of_int(v):
    """encode_int64 of one Python int in [-2**63, 2**63)."""
    return (v + SIGN) & 0xFFFFFFFFFFFFFFFF


def word_of_float(double v):
    """encode_float64 of one float (not NaN)."""
    cdef uint64_t b
    v += 0.0                                  # -0.0 -> 0.0
    memcpy(&b, &v, 8)
    return ~b if b >> 63 else b | (<uint64_t>1 << 63)


def float_bits(double v):
    """The IEEE bits of one float as a signed int64 (-0.0 as 0.0): the hash code
    of a float64 value in Table's hash indexes."""
    cdef int64_t b
    v += 0.0
    memcpy(&b, &v, 8)
    return b


# ------------------------------------------------------------------ binding query values

cdef extern from "Python.h":
    long long _as_ll_ovf "PyLong_AsLongLongAndOverflow"(object o, int* overflow) except? -1
    double _float_value "PyFloat_AS_DOUBLE"(object o)

cdef extern from "math.h":
    double floor(double x) nogil


cdef int _plain(object v) noexcept:
    """1 when v is a plain int or a float that is not NaN (what the fast paths bind)."""
    cdef double d
    if type(v) is int:
        return 1
    if type(v) is float:
        d = _float_value(v)
        return d == d
    return 0


cdef int _eq_code(object v, bint is_int, int64_t* out) except -2:
    """The int64 code an equality with v matches in an int64 column (the value)
    or a float64 one (its IEEE bits, -0.0 as 0.0): 1 with *out set, 0 when no
    value of the column equals v, -1 when the Python path must decide (an int
    against a float64 column: exactness)."""
    cdef double d
    cdef long long x
    cdef int ovf = 0
    if type(v) is int:
        if not is_int:
            return -1
        x = _as_ll_ovf(v, &ovf)
        if ovf:
            return 0
        out[0] = x
        return 1
    d = _float_value(v)
    if is_int:
        if d != floor(d) or not (-9223372036854775808.0 <= d < 9223372036854775808.0):
            return 0
        out[0] = <long long>d
        return 1
    d += 0.0
    memcpy(out, &d, 8)
    return 1


cdef int _check_where(list where, tuple arity) except -1:
    """1 when where is a list of tuples of these arities holding plain values."""
    cdef Py_ssize_t i, n = len(where)
    if n != len(arity):
        return 0
    for i in range(n):
        p = where[i]
        if type(p) is not tuple or len(<tuple>p) != <Py_ssize_t>arity[i]:
            return 0
        if not _plain((<tuple>p)[2]):
            return 0
        if len(<tuple>p) == 4 and not _plain((<tuple>p)[3]):
            return 0
    return 1


def scan_eq(PackedBTree tree, list where, tuple eq, tuple arity):
    """The fast path of Table's one-row lookups: the rows whose first len(eq)
    words are the codes of the values ``where[pos][2]`` for each ``(pos,
    is_int)`` of eq (in key order), as an int64 array in key order; an empty
    array when a value matches nothing in its column; None when where is not
    a list of tuples of the given arities with plain int / float values (not
    NaN), or when an int meets a float64 column (the Python path decides)."""
    cdef uint64_t words[2 * PMAX_WIDTH]
    cdef PRange r
    cdef int64_t code
    cdef Py_ssize_t j, m = len(eq)
    cdef int got, w = tree.width
    if m >= w or not _check_where(where, arity):
        return None
    for j in range(m):
        pos, is_int = eq[j]
        got = _eq_code((<tuple>where[pos])[2], is_int, &code)
        if got < 0:
            return None
        if got == 0:
            return np.zeros(0, dtype=np.int64)
        words[j] = (<uint64_t>code) ^ (<uint64_t>1 << 63) if is_int else _fword_bits(code)
        words[w + j] = words[j]
    r.mlo = r.mhi = <int32_t>m
    r.slo = 0
    r.shi = 1
    return tree._scan(&r, words, 1)


def hash_eq(ix, list where, Py_ssize_t pos, bint is_int, tuple arity):
    """The same for a hash index on one column: ``ix.lookup`` of the code of
    ``where[pos][2]``, an empty array when it matches nothing, None as scan_eq."""
    cdef int64_t code
    cdef int got
    if not _check_where(where, arity):
        return None
    got = _eq_code((<tuple>where[pos])[2], is_int, &code)
    if got < 0:
        return None
    if got == 0:
        return np.zeros(0, dtype=np.int64)
    return ix.lookup(code)


cdef inline uint64_t _fword_bits(int64_t bits) noexcept nogil:
    """encode_float64 from the IEEE bits of a float (-0.0 already as 0.0)."""
    cdef uint64_t b = <uint64_t>bits
    return ~b if b >> 63 else b | (<uint64_t>1 << 63)


# ------------------------------------------------------------------ node helpers

cdef inline int _cmp(const uint64_t* a, const uint64_t* b, int m) noexcept nogil:
    """Compare the first m words: -1, 0 or 1."""
    cdef int j
    for j in range(m):
        if a[j] != b[j]:
            return -1 if a[j] < b[j] else 1
    return 0


cdef inline int _search(const uint64_t* keys, int n, int w, const uint64_t* q, int m,
                        bint strict) noexcept nogil:
    """The first i in [0, n] whose key's first m words are > q (strict) or >= q."""
    cdef int lo = 0, hi = n, mid, c
    while lo < hi:
        mid = (lo + hi) >> 1
        c = _cmp(keys + <Py_ssize_t>mid * w, q, m)
        if c < 0 or (strict and c == 0):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline size_t _leaf_bytes(int cap, int w) noexcept nogil:
    return sizeof(PNode) + <size_t>(cap + 1) * w * sizeof(uint64_t)


cdef inline size_t _inner_bytes(int cap, int w) noexcept nogil:
    return sizeof(PNode) + <size_t>(cap + 1) * w * sizeof(uint64_t) + <size_t>(cap + 2) * sizeof(PNode*)


cdef void _destroy(PNode* x) noexcept:
    cdef int j
    if not x.leaf:
        for j in range(x.n + 1):
            _destroy(x.kids[j])
    PyMem_RawFree(x)


cdef int _words(object key, uint64_t* out, int maxw) except -1:
    """Copy a sequence of Python ints (each in [0, 2**64)) into out; returns how many."""
    cdef int m = len(key), j
    if m > maxw:
        raise ValueError(f"a key of {m} words for a tree of width {maxw}")
    for j in range(m):
        out[j] = PyLong_AsUnsignedLongLong(key[j])
    return m


cdef Py_ssize_t _span(PNode* sl, int sp, PNode* el, int ep) noexcept nogil:
    """Keys from (sl, sp) up to (el, ep) (NULL: the end), sl at or before el."""
    cdef Py_ssize_t c
    if sl == el:
        return ep - sp
    c = sl.n - sp
    sl = sl.next
    while sl != el:
        c += sl.n
        sl = sl.next
    return c + ep


# ------------------------------------------------------------------ ranges

cdef class KeyRanges:
    """Ranges of packed keys for ``PackedBTree.scan``, parsed once into C arrays.

    ``KeyRanges(ranges, width)``: each range is ``(lo, lo_inclusive, hi,
    hi_inclusive)`` with lo and hi prefixes (tuples of at most ``width`` words):
    the keys whose first ``len(lo)`` words are >= lo (> when not inclusive) and
    whose first ``len(hi)`` words are <= hi (< when not inclusive). An empty
    prefix is no bound. O(width) per range.
    """

    def __cinit__(self, ranges, int width):
        cdef Py_ssize_t i
        cdef PRange* p
        cdef uint64_t* w
        self.r = NULL
        self.words = NULL
        if not 1 <= width <= PMAX_WIDTH:
            raise ValueError(f"width must be in [1, {PMAX_WIDTH}], got {width}")
        ranges = list(ranges)
        self.width = width
        self.m = len(ranges)
        mem_resize(<void**>&self.r, max(1, self.m) * sizeof(PRange))
        mem_resize(<void**>&self.words, max(1, self.m) * 2 * width * sizeof(uint64_t))
        for i in range(self.m):
            lo, lo_inc, hi, hi_inc = ranges[i]
            p = &self.r[i]
            w = self.words + i * 2 * width
            p.mlo = _words(lo, w, width)
            p.mhi = _words(hi, w + width, width)
            p.slo = not lo_inc
            p.shi = bool(hi_inc)

    def __dealloc__(self):
        PyMem_RawFree(self.r)
        PyMem_RawFree(self.words)

    def __len__(self):
        return self.m


# ------------------------------------------------------------------ the tree

cdef class PackedBTree:
    """A B+tree set of fixed-width keys of uint64 words (see the module docstring).

    ``PackedBTree(width, node_size=None)`` is empty; ``from_sorted(keys)`` builds
    from an (n, width) uint64 array sorted strictly ascending. ``insert(key)`` /
    ``delete(key)`` (a tuple of words) and their ``_many`` forms on arrays;
    ``scan(KeyRanges)`` returns the last word of every key in the ranges, range
    by range, in key order, as an int64 array.

    Complexity: insert, delete O(width log n); scan O(width log n + k) per range;
    from_sorted O(width n). Memory: see ``nbytes`` (every node counted).

    >>> t = PackedBTree(2, node_size=4)
    >>> t.insert_many(np.array([[3, 0], [1, 1], [3, 2], [2, 3]], dtype=np.uint64))
    4
    >>> t.scan(KeyRanges([((3,), True, (3,), True), ((), True, (2,), False)], 2)).tolist()
    [0, 2, 1]
    >>> t.delete_many(np.array([[3, 0], [9, 9]], dtype=np.uint64)), len(t)
    (1, 3)
    """

    def __cinit__(self, int width, node_size=None):
        cdef int cap
        self.root = self.first = self.last = NULL
        if not 1 <= width <= PMAX_WIDTH:
            raise ValueError(f"width must be in [1, {PMAX_WIDTH}], got {width}")
        if node_size is None:
            cap = DEF_NODE
        else:
            if isinstance(node_size, bool) or not isinstance(node_size, int) \
                    or not 3 <= node_size <= MAX_NODE:
                raise ValueError(f"node_size must be an integer in [3, {MAX_NODE}], got {node_size!r}")
            cap = node_size
        self.width = width
        self.cap = cap
        self.root = self._alloc(True)
        self.first = self.last = self.root
        self.depth_ = 1
        self.nkeys = 0

    def __dealloc__(self):
        if self.root != NULL:
            _destroy(self.root)
            self.root = NULL

    cdef PNode* _alloc(self, bint leaf) except NULL:
        cdef size_t sz = _leaf_bytes(self.cap, self.width) if leaf else _inner_bytes(self.cap, self.width)
        cdef void* p = NULL
        cdef PNode* x
        mem_resize(&p, sz)
        x = <PNode*>p
        x.n = 0
        x.leaf = leaf
        x.next = x.prev = NULL
        x.keys = <uint64_t*>(<char*>p + sizeof(PNode))
        x.kids = NULL if leaf else <PNode**>(x.keys + <size_t>(self.cap + 1) * self.width)
        self.nbytes_ += sz
        self.nnodes += 1
        return x

    cdef void _free(self, PNode* x) noexcept:
        self.nbytes_ -= _leaf_bytes(self.cap, self.width) if x.leaf else _inner_bytes(self.cap, self.width)
        self.nnodes -= 1
        PyMem_RawFree(x)

    # -------------------------------------------------------------- building

    @classmethod
    def from_sorted(cls, keys, node_size=None, double fill=1.0):
        """A tree of the rows of ``keys`` (an (n, width) array of uint64 words,
        strictly ascending), leaves filled to ``fill`` (0 < fill <= 1: every leaf
        but the last holds ``round(node_size * fill)`` keys). O(width n)."""
        cdef cnp.ndarray arr = np.ascontiguousarray(keys, dtype=np.uint64)
        if arr.ndim != 2 or arr.shape[1] < 1:
            raise ValueError(f"keys must be an (n, width) array, got shape {np.shape(keys)}")
        if not 0.0 < fill <= 1.0:
            raise ValueError(f"fill must be in (0, 1], got {fill}")
        cdef Py_ssize_t n = arr.shape[0], i
        cdef int w = arr.shape[1]
        cdef PackedBTree t = cls(w, node_size)
        cdef const uint64_t* src = <const uint64_t*>cnp.PyArray_DATA(arr)
        for i in range(1, n):
            if _cmp(src + (i - 1) * w, src + i * w, w) >= 0:
                raise ValueError(f"keys must be strictly ascending: row {i - 1} >= row {i}")
        if n:
            t._bulk(src, n, fill)
        return t

    cdef int _bulk(self, const uint64_t* src, Py_ssize_t n, double fill) except -1:
        cdef int w = self.width, cap = self.cap
        cdef int per = max(1, min(cap, <int>(cap * fill + 0.5)))
        cdef int fan = max(3, min(cap + 1, <int>((cap + 1) * fill + 0.5)))
        cdef Py_ssize_t count = (n + per - 1) // per, i, j, c, base, extra, parents, k
        cdef Py_ssize_t made = 0
        cdef PNode** level = NULL
        cdef PNode** allnodes = NULL       # every node made, to free them all on MemoryError
        cdef const uint64_t** firsts = NULL
        cdef PNode* x
        cdef PNode* p
        cdef PNode* prev = NULL
        cdef PNode* old = self.root
        cdef int depth = 1
        try:
            mem_resize(<void**>&level, count * sizeof(PNode*))
            mem_resize(<void**>&firsts, count * sizeof(uint64_t*))
            mem_resize(<void**>&allnodes, (2 * count + PMAX_DEPTH) * sizeof(PNode*))
            for i in range(count):
                x = self._alloc(True)
                allnodes[made] = x
                made += 1
                level[i] = x
                c = min(<Py_ssize_t>per, n - i * per)
                memcpy(x.keys, src + i * per * w, c * w * sizeof(uint64_t))
                x.n = <int32_t>c
                firsts[i] = x.keys
                x.prev = prev
                if prev != NULL:
                    prev.next = x
                prev = x
            while count > 1:
                parents = (count + fan - 1) // fan
                base, extra = count // parents, count % parents
                k = 0
                for i in range(parents):
                    p = self._alloc(False)
                    allnodes[made] = p
                    made += 1
                    c = base + (1 if i < extra else 0)
                    for j in range(c):
                        p.kids[j] = level[k + j]
                        if j:
                            memcpy(p.keys + (j - 1) * w, firsts[k + j], w * sizeof(uint64_t))
                    p.n = <int32_t>(c - 1)
                    level[i] = p             # i <= k: slots before k are read already
                    firsts[i] = firsts[k]
                    k += c
                count = parents
                depth += 1
        except MemoryError:
            while made > 0:
                made -= 1
                self._free(allnodes[made])
            PyMem_RawFree(level)
            raise
        finally:
            PyMem_RawFree(firsts)
            PyMem_RawFree(allnodes)
        self.root = level[0]
        PyMem_RawFree(level)
        self.first = x = self.root
        while not x.leaf:
            x = x.kids[0]
        self.first = x
        self.last = prev
        self.depth_ = depth
        self.nkeys = n
        self._free(old)
        return 0

    # -------------------------------------------------------------- searches

    cdef void _seek(self, const uint64_t* q, int m, bint strict, PNode** leaf, int* pos) noexcept nogil:
        cdef PNode* x = self.root
        cdef int w = self.width, i
        while not x.leaf:
            x = x.kids[_search(x.keys, x.n, w, q, m, strict)]
            TRADEOFF_PREFETCH(x.keys)
        i = _search(x.keys, x.n, w, q, m, strict)
        if i == x.n:
            x = x.next
            i = 0
        leaf[0] = x
        pos[0] = i

    def scan(self, KeyRanges ranges):
        """The last word of every key in each range, in key order range after
        range (a key in two overlapping ranges comes twice), as an int64 array."""
        if ranges.width != self.width:
            raise ValueError(f"ranges of width {ranges.width} for a tree of width {self.width}")
        return self._scan(ranges.r, ranges.words, ranges.m)

    def scan_one(self, lo, bint lo_inclusive, hi, bint hi_inclusive):
        """``scan`` of the one range (lo, lo_inclusive, hi, hi_inclusive), without
        making a KeyRanges (the fast path of a one-row lookup)."""
        cdef uint64_t words[2 * PMAX_WIDTH]
        cdef PRange r
        r.mlo = _words(lo, words, self.width)
        r.mhi = _words(hi, words + self.width, self.width)
        r.slo = not lo_inclusive
        r.shi = hi_inclusive
        return self._scan(&r, words, 1)

    cdef object _scan(self, const PRange* rs, const uint64_t* words, Py_ssize_t m):
        cdef Py_ssize_t i, total = 0, t = 0
        cdef int w = self.width, j, take
        cdef PNode* small_s[4]
        cdef PNode* small_e[4]
        cdef int small_sp[4]
        cdef int small_ep[4]
        cdef PNode** sl = small_s
        cdef PNode** el = small_e
        cdef int* sp = small_sp
        cdef int* ep = small_ep
        cdef void* buf = NULL
        cdef const PRange* r
        cdef const uint64_t* lo
        cdef PNode* x
        cdef cnp.ndarray out
        cdef int64_t* o
        cdef cnp.npy_intp dims[1]
        if m > 4:
            mem_resize(&buf, m * (2 * sizeof(PNode*) + 2 * sizeof(int)))
            sl = <PNode**>buf
            el = sl + m
            sp = <int*>(el + m)
            ep = sp + m
        for i in range(m):
            r = &rs[i]
            lo = words + i * 2 * w
            self._seek(lo, r.mlo, r.slo, &sl[i], &sp[i])
            if sl[i] != NULL:
                # empty unless the first key past the lower bound passes the upper one
                j = _cmp(sl[i].keys + <Py_ssize_t>sp[i] * w, lo + w, r.mhi)
                if j > 0 or (j == 0 and not r.shi):
                    sl[i] = NULL
            if sl[i] == NULL:
                el[i] = NULL
                sp[i] = ep[i] = 0
                continue
            self._seek(lo + w, r.mhi, r.shi, &el[i], &ep[i])
            total += _span(sl[i], sp[i], el[i], ep[i])
        dims[0] = total
        out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
        o = <int64_t*>cnp.PyArray_DATA(out)
        for i in range(m):
            x = sl[i]
            if x == NULL:
                continue
            j = sp[i]
            while True:
                take = ep[i] if x == el[i] else x.n
                while j < take:
                    o[t] = <int64_t>x.keys[<Py_ssize_t>j * w + w - 1]
                    t += 1
                    j += 1
                if x == el[i]:
                    break
                x = x.next
                j = 0
                if x == NULL:
                    break
        PyMem_RawFree(buf)
        return out

    def count(self, KeyRanges ranges):
        """How many keys ``scan(ranges)`` would return (without copying them)."""
        return len(self.scan(ranges))

    # -------------------------------------------------------------- changes

    cdef int _insert(self, const uint64_t* key) except -1:
        cdef PNode* path[PMAX_DEPTH]
        cdef int pidx[PMAX_DEPTH]
        cdef PNode* spare[PMAX_DEPTH + 1]
        cdef uint64_t sep[PMAX_WIDTH]
        cdef int w = self.width, cap = self.cap
        cdef int d = 0, i, e, need = 0, made = 0, h, r
        cdef PNode* x = self.root
        cdef PNode* y
        cdef PNode* p
        while not x.leaf:
            i = _search(x.keys, x.n, w, key, w, True)
            path[d] = x
            pidx[d] = i
            d += 1
            x = x.kids[i]
        i = _search(x.keys, x.n, w, key, w, False)
        if i < x.n and _cmp(x.keys + <Py_ssize_t>i * w, key, w) == 0:
            return 0
        if x.n == cap:                      # nodes to allocate before changing anything
            need = 1
            e = d - 1
            while e >= 0 and path[e].n == cap:
                need += 1
                e -= 1
            if e < 0:
                need += 1
            try:
                while made < need:
                    spare[made] = self._alloc(made == 0)
                    made += 1
            except MemoryError:
                while made > 0:
                    made -= 1
                    self._free(spare[made])
                raise
        memmove(x.keys + <Py_ssize_t>(i + 1) * w, x.keys + <Py_ssize_t>i * w,
                <size_t>(x.n - i) * w * sizeof(uint64_t))
        memcpy(x.keys + <Py_ssize_t>i * w, key, w * sizeof(uint64_t))
        x.n += 1
        self.nkeys += 1
        if x.n <= cap:
            return 1
        # split the leaf: the right half moves to a new leaf after it
        y = spare[0]
        made = 1
        h = (x.n + 1) // 2
        r = x.n - h
        memcpy(y.keys, x.keys + <Py_ssize_t>h * w, <size_t>r * w * sizeof(uint64_t))
        y.n = r
        x.n = h
        y.next = x.next
        y.prev = x
        if x.next != NULL:
            x.next.prev = y
        else:
            self.last = y
        x.next = y
        memcpy(sep, y.keys, w * sizeof(uint64_t))
        d -= 1
        while True:
            if d < 0:                       # x was the root: a new root above x and y
                p = spare[made]
                p.n = 1
                memcpy(p.keys, sep, w * sizeof(uint64_t))
                p.kids[0] = x
                p.kids[1] = y
                self.root = p
                self.depth_ += 1
                return 1
            p = path[d]
            i = pidx[d]
            memmove(p.keys + <Py_ssize_t>(i + 1) * w, p.keys + <Py_ssize_t>i * w,
                    <size_t>(p.n - i) * w * sizeof(uint64_t))
            memcpy(p.keys + <Py_ssize_t>i * w, sep, w * sizeof(uint64_t))
            memmove(&p.kids[i + 2], &p.kids[i + 1], <size_t>(p.n - i) * sizeof(PNode*))
            p.kids[i + 1] = y
            p.n += 1
            if p.n <= cap:
                return 1
            # split the internal node: separator h goes up, the ones after it move right
            x = p
            y = spare[made]
            made += 1
            h = x.n // 2
            r = x.n - h - 1
            memcpy(sep, x.keys + <Py_ssize_t>h * w, w * sizeof(uint64_t))
            memcpy(y.keys, x.keys + <Py_ssize_t>(h + 1) * w, <size_t>r * w * sizeof(uint64_t))
            memcpy(y.kids, &x.kids[h + 1], <size_t>(r + 1) * sizeof(PNode*))
            y.n = r
            x.n = h
            d -= 1

    cdef int _delete(self, const uint64_t* key) noexcept:
        cdef PNode* path[PMAX_DEPTH]
        cdef int pidx[PMAX_DEPTH]
        cdef int w = self.width, half = self.cap // 2
        cdef int d = 0, i, j, s
        cdef PNode* x = self.root
        cdef PNode* p
        cdef PNode* L
        cdef PNode* R
        cdef size_t kb = w * sizeof(uint64_t)
        while not x.leaf:
            i = _search(x.keys, x.n, w, key, w, True)
            path[d] = x
            pidx[d] = i
            d += 1
            x = x.kids[i]
        i = _search(x.keys, x.n, w, key, w, False)
        if i == x.n or _cmp(x.keys + <Py_ssize_t>i * w, key, w) != 0:
            return 0
        memmove(x.keys + <Py_ssize_t>i * w, x.keys + <Py_ssize_t>(i + 1) * w,
                <size_t>(x.n - i - 1) * kb)
        x.n -= 1
        self.nkeys -= 1
        # rebalance up the path: a non-root node below half (cap // 2 keys in a
        # leaf, cap // 2 separators in an internal node) borrows entries one by
        # one from its left sibling (its right one for a first child) while that
        # one has more than half, else the two merge and the parent loses a separator
        d -= 1
        while d >= 0 and x.n < half:
            p = path[d]
            j = pidx[d]
            if p.n == 0:                     # one child only: nothing to balance with
                break
            if j > 0:
                L = p.kids[j - 1]
                R = x
                s = j - 1
            else:
                L = x
                R = p.kids[1]
                s = 0
            if (L if j > 0 else R).n > half:     # borrow one entry through separator s
                if x.leaf:
                    if j > 0:                # L's last key becomes R's first
                        memmove(R.keys + w, R.keys, <size_t>R.n * kb)
                        memcpy(R.keys, L.keys + <Py_ssize_t>(L.n - 1) * w, kb)
                        L.n -= 1
                        R.n += 1
                    else:                    # R's first key becomes L's last
                        memcpy(L.keys + <Py_ssize_t>L.n * w, R.keys, kb)
                        memmove(R.keys, R.keys + w, <size_t>(R.n - 1) * kb)
                        L.n += 1
                        R.n -= 1
                    memcpy(p.keys + <Py_ssize_t>s * w, R.keys, kb)
                elif j > 0:                  # rotate right: separator down into R, L's last up
                    memmove(R.keys + w, R.keys, <size_t>R.n * kb)
                    memmove(&R.kids[1], &R.kids[0], <size_t>(R.n + 1) * sizeof(PNode*))
                    memcpy(R.keys, p.keys + <Py_ssize_t>s * w, kb)
                    R.kids[0] = L.kids[L.n]
                    memcpy(p.keys + <Py_ssize_t>s * w, L.keys + <Py_ssize_t>(L.n - 1) * w, kb)
                    L.n -= 1
                    R.n += 1
                else:                        # rotate left: separator down into L, R's first up
                    memcpy(L.keys + <Py_ssize_t>L.n * w, p.keys + <Py_ssize_t>s * w, kb)
                    L.kids[L.n + 1] = R.kids[0]
                    memcpy(p.keys + <Py_ssize_t>s * w, R.keys, kb)
                    memmove(R.keys, R.keys + w, <size_t>(R.n - 1) * kb)
                    memmove(&R.kids[0], &R.kids[1], <size_t>R.n * sizeof(PNode*))
                    L.n += 1
                    R.n -= 1
                continue                     # again while x is short (from_sorted's last leaf)
            # merge R into L (fits: at most half - 1 + half (+ 1 separator) <= cap)
            if x.leaf:
                memcpy(L.keys + <Py_ssize_t>L.n * w, R.keys, <size_t>R.n * kb)
                L.n += R.n
                L.next = R.next
                if R.next != NULL:
                    R.next.prev = L
                else:
                    self.last = L
            else:
                memcpy(L.keys + <Py_ssize_t>L.n * w, p.keys + <Py_ssize_t>s * w, kb)
                memcpy(L.keys + <Py_ssize_t>(L.n + 1) * w, R.keys, <size_t>R.n * kb)
                memcpy(&L.kids[L.n + 1], R.kids, <size_t>(R.n + 1) * sizeof(PNode*))
                L.n += R.n + 1
            self._free(R)
            memmove(p.keys + <Py_ssize_t>s * w, p.keys + <Py_ssize_t>(s + 1) * w,
                    <size_t>(p.n - s - 1) * kb)
            memmove(&p.kids[s + 1], &p.kids[s + 2], <size_t>(p.n - s - 1) * sizeof(PNode*))
            p.n -= 1
            x = p
            d -= 1
        # an internal root keeps two or more children
        while not self.root.leaf and self.root.n == 0:
            p = self.root
            self.root = p.kids[0]
            self._free(p)
            self.depth_ -= 1
        return 1

    def insert(self, key):
        """Add a key (a tuple of width words); False if it was there already."""
        cdef uint64_t buf[PMAX_WIDTH]
        if _words(key, buf, self.width) != self.width:
            raise ValueError(f"a key needs {self.width} words, got {len(key)}")
        return self._insert(buf) == 1

    def delete(self, key):
        """Remove a key (a tuple of width words); False if it was absent."""
        cdef uint64_t buf[PMAX_WIDTH]
        if _words(key, buf, self.width) != self.width:
            raise ValueError(f"a key needs {self.width} words, got {len(key)}")
        return self._delete(buf) == 1

    def insert_many(self, keys):
        """Insert the rows of an (n, width) uint64 array; returns how many were new."""
        cdef cnp.ndarray arr = self._rows(keys)
        cdef const uint64_t* src = <const uint64_t*>cnp.PyArray_DATA(arr)
        cdef Py_ssize_t i, added = 0
        for i in range(arr.shape[0]):
            added += self._insert(src + i * self.width)
        return added

    def delete_many(self, keys):
        """Delete the rows of an (n, width) uint64 array; returns how many were present."""
        cdef cnp.ndarray arr = self._rows(keys)
        cdef const uint64_t* src = <const uint64_t*>cnp.PyArray_DATA(arr)
        cdef Py_ssize_t i, gone = 0
        for i in range(arr.shape[0]):
            gone += self._delete(src + i * self.width)
        return gone

    def _rows(self, keys):
        arr = np.ascontiguousarray(keys, dtype=np.uint64)
        if arr.ndim != 2 or arr.shape[1] != self.width:
            raise ValueError(f"keys must be an (n, {self.width}) array, got shape {arr.shape}")
        return arr

    # -------------------------------------------------------------- whole tree

    def keys_array(self):
        """Every key in order, as an (n, width) uint64 array. O(width n)."""
        out = np.empty((self.nkeys, self.width), dtype=np.uint64)
        cdef uint64_t* o = <uint64_t*>cnp.PyArray_DATA(out)
        cdef PNode* x = self.first
        cdef Py_ssize_t t = 0, k
        while x != NULL:
            k = <Py_ssize_t>x.n * self.width
            memcpy(o + t, x.keys, k * sizeof(uint64_t))
            t += k
            x = x.next
        return out

    def __len__(self):
        return self.nkeys

    @property
    def node_size(self):
        return self.cap

    @property
    def height(self):
        """Levels (1: the root is a leaf)."""
        return self.depth_

    @property
    def nbytes(self):
        """Bytes of all nodes (headers, key arrays, child arrays)."""
        return self.nbytes_

    def __repr__(self):
        return f"PackedBTree(width={self.width}, keys={self.nkeys}, node_size={self.cap}, height={self.depth_})"

    def _check(self, bint min_fill=False):
        """Assert the invariants: keys strictly ascending within and across nodes,
        separators bound their children, every leaf at the same depth, non-root
        nodes non-empty, an internal root with >= 2 children, the leaf chain in
        order both ways, the counts of keys, nodes and bytes. With ``min_fill``,
        also every non-root node at least half full (``node_size // 2`` keys in a
        leaf, as many separators in an internal node): true of a tree grown by
        inserts and deletes from empty (``from_sorted`` may leave its last leaf
        short)."""
        cdef int w = self.width
        leaves = []
        stats = {"nodes": 0, "bytes": 0, "keys": 0}

        def words(size_t addr, int j):
            cdef PNode* x = <PNode*>addr
            return tuple(x.keys[j * w + k] for k in range(w))

        def walk(size_t addr, lo, hi, int depth):
            cdef PNode* x = <PNode*>addr
            cdef int j
            cdef bint is_root = x == self.root
            stats["nodes"] += 1
            stats["bytes"] += _leaf_bytes(self.cap, w) if x.leaf else _inner_bytes(self.cap, w)
            assert 0 <= x.n <= self.cap, f"node holds {x.n} of {self.cap}"
            ks = [words(addr, j) for j in range(x.n)]
            assert all(a < b for a, b in zip(ks, ks[1:])), "keys out of order in a node"
            for k in ks:
                assert (lo is None or lo <= k) and (hi is None or k < hi), "a key outside its bounds"
            if x.leaf:
                assert depth == self.depth_, f"a leaf at depth {depth} of {self.depth_}"
                assert x.n >= 1 or is_root, "an empty non-root leaf"
                assert not min_fill or is_root or x.n >= self.cap // 2, \
                    f"a leaf below half: {x.n} of {self.cap}"
                stats["keys"] += x.n
                leaves.append(addr)
                return
            assert depth < self.depth_, "an internal node at the leaf level"
            assert x.n >= 1 or not is_root, "an internal root with one child"
            assert x.n >= 1 or is_root, "a non-root internal node with one child"
            assert not min_fill or is_root or x.n >= self.cap // 2, \
                f"an internal node below half: {x.n} of {self.cap}"
            bounds = [lo] + ks + [hi]
            for j in range(x.n + 1):
                walk(<size_t>x.kids[j], bounds[j], bounds[j + 1], depth + 1)

        walk(<size_t>self.root, None, None, 1)
        assert stats["keys"] == self.nkeys, f"{stats['keys']} keys counted, {self.nkeys} recorded"
        assert stats["nodes"] == self.nnodes, f"{stats['nodes']} nodes, {self.nnodes} recorded"
        assert stats["bytes"] == self.nbytes_, f"{stats['bytes']} bytes, {self.nbytes_} recorded"
        cdef PNode* x = self.first
        cdef PNode* prev = NULL
        chain = []
        while x != NULL:
            assert x.prev == prev, "leaf chain: a wrong prev link"
            chain.append(<size_t>x)
            prev = x
            x = x.next
        assert prev == self.last, "leaf chain: the last leaf is wrong"
        assert chain == leaves, "leaf chain differs from the tree order"
        allk = self.keys_array()
        if len(allk) > 1:
            ks = [tuple(r) for r in allk.tolist()]
            assert all(a < b for a, b in zip(ks, ks[1:])), "keys out of order across leaves"
