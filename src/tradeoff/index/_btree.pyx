"""A B+tree sorted mapping: ``Int64BTree`` (int64 keys stored unboxed), ``ObjectBTree``
(any totally ordered Python keys) and the ``BTree(key_type=...)`` factory.

The structure is the B-tree of Bayer and McCreight, "Organization and Maintenance
of Large Ordered Indexes" (Acta Informatica 1, 1972), in the B+ form described by
Comer, "The Ubiquitous B-Tree" (ACM Computing Surveys 11(2), 1979, section 3): the
entries live in the leaves, the internal nodes hold separators only, and the
leaves are chained (both ways here) for range scans.

Layout. A node is one raw block: a header, then its key array (``node_size + 1``
slots: an insert may overfill a node by one before it splits), then the values
(leaves) or the children and the number of keys under each child (internal
nodes). The int64 tree keeps its keys unboxed, so a search inside a node is a
branch-free binary search over a C array. Separators are bounds, not copies of
live keys: every key under child i is below separator i, which is <= every key
under child i + 1. A delete never touches the separators above the leaf it
empties (except when it rebalances), so a separator may be a key deleted since.

Subtree counts. Each internal node stores how many keys lie under each child,
kept up to date on every insert and delete (one add per level of the path). The
rank of a position is then the sum of counts to the left of the path, which
makes ``count(lo, hi)`` O(log n) without visiting the leaves in between, and
lets ``irange`` know its length before it starts.

Rebalancing (Comer, section 2). An insert into a full leaf first spills into a
neighbouring leaf (same parent) that has room, moving entries until the two are
even and resetting the separator between them (the redistribution of Knuth's
B*-tree, Comer section 3: it keeps leaves fuller, about 80% instead of 69% after
random inserts); without such a neighbour the leaf splits in two halves and
posts the right half's first key to the parent, which may split in turn; the
root splits into a new root. A delete that leaves a node below half
full (leaf: fewer than ``(node_size + 1) // 2`` keys, internal node: fewer than
``node_size // 2`` separators; the root is exempt) first borrows from a sibling
that has keys to spare (enough to even the two out), otherwise merges with a
sibling and removes a separator from the parent, which may underflow in turn;
a root left with a single child is replaced by it.

Searches. Int64BTree searches a node with a branch-free binary search. As soon
as the address of the next node is known, all of its key lines (and a leaf's
value pointers) are requested at once, sized from node_size rather than read
from its header: the probes of a binary search depend on each other, so without
this a lookup in a cold 1M-key tree waits for one memory latency per probe, with
it about one per level (Python-level ``t[k]`` on 1M random keys: 581 ns without,
398 ns with, in one run). ObjectBTree's searches are bounded by the comparisons
(each reads a key object elsewhere in memory).

Defaults. ``node_size`` 128 for Int64BTree (2 KB leaves; 1M keys in 3 levels):
of 64, 128 and 256 measured in one process on 1M random int64 keys, 128 gave the
fastest lookups (314 / 322 / 346 ns), and inserts and bulk builds differ by less
than the noise. 128 for ObjectBTree too, whose cost is the O(log n) comparisons
whatever the node size. ``from_sorted`` fills nodes to 90% by default.

Complexity, n keys, node size b: get, set, delete, ``in``, floor, ceiling,
pop_min and count O(log n): O(log_b n) levels, O(log b) comparisons per level,
O(b) moves per level for a structure change, and for count (and the start of
irange) up to b subtree counts added per level, no leaf visited. len, min and
max O(1); irange O(log n + k) for k keys; from_sorted O(n); iteration O(n).
Memory: 16 bytes per entry (8 key + 8 value pointer) divided by the fill, plus
one header per node and the internal nodes (about 1/b of the leaves).

Threads. The batch queries of Int64BTree release the GIL; while one runs, a
change from another thread raises RuntimeError instead of freeing nodes under it.

Errors. Int64BTree keys are Python integers (anything with ``__index__``); a
non-integer is a TypeError, an integer outside [-2**63, 2**63 - 1] an
OverflowError, and the tree is unchanged in both cases. ObjectBTree compares
keys with ``<`` only (a total order is assumed: equal means neither is less);
a comparison that raises TypeError is reported as a TypeError naming both key
types, and since every comparison of an operation happens before the first
change, a failed insert or delete leaves the tree unchanged. A comparison that
changes the tree itself raises RuntimeError. Iterators raise RuntimeError when
the tree's structure changed since they were made (overwriting a value does not
count). The values are not seen by the garbage collector: a reference cycle
through a tree is not collected.
"""
from libc.stdint cimport int64_t, int32_t, uint8_t, INT64_MAX
from libc.string cimport memcpy, memmove
from cpython.object cimport PyObject
from cpython.mem cimport PyMem_RawFree
from cpython.long cimport PyLong_FromLongLong, PyLong_Check
from cpython.number cimport PyIndex_Check
from cpython.list cimport PyList_GET_ITEM, PyList_New, PyList_SET_ITEM
from cpython.tuple cimport PyTuple_GET_ITEM

import numpy as np
cimport numpy as cnp

from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport TRADEOFF_PREFETCH

cnp.import_array()

__all__ = ["BTree", "Int64BTree", "ObjectBTree"]

cdef extern from "Python.h":
    void _incref "Py_INCREF"(PyObject* o)
    void _decref "Py_DECREF"(PyObject* o)
    void _xdecref "Py_XDECREF"(PyObject* o)
    int _richcmp "PyObject_RichCompareBool"(PyObject* a, PyObject* b, int op)
    long long _as_ll_ovf "PyLong_AsLongLongAndOverflow"(object o, int* overflow) except? -1
    PyObject* _None "Py_None"
    int _Py_LT "Py_LT"

DEF_INT64_NODE = 128       # default node_size of Int64BTree (measured: see the module docstring)
DEF_OBJECT_NODE = 128      # default node_size of ObjectBTree
MAX_NODE = 1 << 16
_OPEN = object()           # "no bound"
_MISSING = object()


# ------------------------------------------------------------------ C helpers

cdef inline int _lower_i(const Key* a, int n, int64_t k) noexcept nogil:
    """The first j in [0, n] with a[j].i >= k: a binary search without branches
    inside the loop (the comparison selects the next base with a conditional move)."""
    cdef const Key* b = a
    cdef int half
    if n == 0:
        return 0
    while n > 1:
        half = n >> 1
        b = b + half if b[half].i < k else b
        n -= half
    return <int>(b - a) + (b[0].i < k)


cdef inline int _upper_i(const Key* a, int n, int64_t k) noexcept nogil:
    """The first j in [0, n] with a[j].i > k (branch-free, as _lower_i)."""
    cdef const Key* b = a
    cdef int half
    if n == 0:
        return 0
    while n > 1:
        half = n >> 1
        b = b + half if b[half].i <= k else b
        n -= half
    return <int>(b - a) + (b[0].i <= k)


cdef inline int64_t _sum(const int64_t* a, int n) noexcept nogil:
    cdef int64_t s = 0
    cdef int j
    for j in range(n):
        s += a[j]
    return s


cdef inline void _prefetch_span(const void* start, size_t nbytes) noexcept nogil:
    """Request every cache line of [start, start + nbytes) without waiting."""
    cdef const char* p = <const char*>start
    cdef const char* end = p + nbytes
    while p < end:
        TRADEOFF_PREFETCH(p)
        p += 64


cdef inline void _prefetch_child(const Node* x, int cap, bint leaf) noexcept nogil:
    """Request a child's lines as soon as its address is known, sized from node_size
    rather than from its header, so that the header's latency overlaps the keys'
    (and a leaf's values'): header and keys for an internal node, header, keys and
    values for a leaf (the binary search's probes then wait for about one memory
    latency instead of one each)."""
    _prefetch_span(x, sizeof(Node) + (2 * cap + 1 if leaf else cap) * sizeof(Key))


cdef inline PyObject** _find_i(const Node* x, int64_t k, int cap, int height) noexcept nogil:
    """The value slot of key k in the int64 tree under x (of the given height), or NULL."""
    cdef int j
    while height > 1:
        x = x.kids[_upper_i(x.keys, x.n, k)]
        height -= 1
        _prefetch_child(x, cap, height == 1)
    j = _lower_i(x.keys, x.n, k)
    if j < x.n and x.keys[j].i == k:
        return &x.vals[j]
    return NULL


cdef inline Py_ssize_t _locate_i(Node* x, int64_t k, bint upper, Node** leaf,
                                 int* pos, int cap) noexcept nogil:
    """The position of the first key > k (upper) or >= k in the int64 tree under x:
    its leaf and index (possibly leaf.n: then the position is the next leaf's
    first key), and its rank (the number of keys before it)."""
    cdef Py_ssize_t r = 0
    cdef int j
    while not x.leaf:
        j = _upper_i(x.keys, x.n, k)
        r += _sum(x.counts, j)
        x = x.kids[j]
        _prefetch_span(x, sizeof(Node) + cap * sizeof(Key))
    j = _upper_i(x.keys, x.n, k) if upper else _lower_i(x.keys, x.n, k)
    leaf[0] = x
    pos[0] = j
    return r + j


cdef inline size_t _leaf_bytes(int cap) noexcept nogil:
    return sizeof(Node) + (cap + 1) * (sizeof(Key) + sizeof(PyObject*))


cdef inline size_t _inner_bytes(int cap) noexcept nogil:
    return sizeof(Node) + (cap + 1) * sizeof(Key) + (cap + 2) * (sizeof(Node*) + sizeof(int64_t))


cdef void _destroy(Node* x, bint obj) noexcept:
    """Free the (detached) subtree under x and release its references."""
    cdef int j
    if x.leaf:
        for j in range(x.n):
            if obj:
                _decref(x.keys[j].o)
            _decref(x.vals[j])
    else:
        for j in range(x.n + 1):
            _destroy(x.kids[j], obj)
        if obj:
            for j in range(x.n):
                _decref(x.keys[j].o)
    PyMem_RawFree(x)


cdef int _pending() except -1:
    """Return the error marker: the caller's pending exception propagates."""
    return -1


cdef int _cmp_failed(PyObject* a, PyObject* b) except -1:
    """Raise the pending comparison error, a TypeError naming both key types."""
    try:
        _pending()
    except TypeError as e:
        raise TypeError(f"ObjectBTree keys must be mutually ordered: cannot compare "
                        f"{type(<object>a).__name__} {_short(<object>a)} with "
                        f"{type(<object>b).__name__} {_short(<object>b)} ({e})") from e
    return -1


cdef str _short(object o):
    try:
        r = repr(o)
    except Exception:
        r = "<unrepresentable>"
    return r if len(r) <= 60 else r[:57] + "..."


cdef inline int _lt(PyObject* a, PyObject* b) except -1:
    """a < b, holding both references during the call."""
    cdef int r
    _incref(a)
    _incref(b)
    r = _richcmp(a, b, _Py_LT)
    if r < 0:
        try:
            _cmp_failed(a, b)
        finally:
            _decref(a)
            _decref(b)
    _decref(a)
    _decref(b)
    return r


cdef inline int _ikey(object key, int64_t* out) except -1:
    """An Int64BTree key as int64: TypeError unless an integer, OverflowError
    outside int64."""
    cdef int ovf = 0
    cdef long long v
    if not PyLong_Check(key) and not PyIndex_Check(key):
        raise TypeError(f"Int64BTree keys must be integers, got {type(key).__name__} {_short(key)}")
    v = _as_ll_ovf(key, &ovf)
    if ovf:
        raise OverflowError(f"Int64BTree key {_short(key)} is outside the int64 range "
                            f"[-2**63, 2**63 - 1]")
    out[0] = v
    return 0


def _int64_array(keys, what="keys"):
    """keys as a contiguous 1-D int64 array, with the same rules as a single key
    (TypeError for non-integers, OverflowError outside int64)."""
    cdef int64_t v
    cdef int64_t[::1] ov
    cdef Py_ssize_t i, n
    if isinstance(keys, (list, tuple)):
        # the common case, converted item by item in C (numpy would first infer a dtype)
        seq = keys
        n = len(seq)
        out = np.empty(n, dtype=np.int64)
        ov = out
        if isinstance(seq, list):
            for i in range(n):
                _ikey(<object>PyList_GET_ITEM(seq, i), &ov[i])
        else:
            for i in range(n):
                _ikey(<object>PyTuple_GET_ITEM(seq, i), &ov[i])
        return out
    a = np.asarray(keys)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    if a.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    kind = a.dtype.kind
    if kind == "O":
        out = np.empty(a.shape[0], dtype=np.int64)
        for i, k in enumerate(a):
            _ikey(k, &v)
            out[i] = v
        return out
    if kind not in "iub":
        raise TypeError(f"{what} must be integers, got an array of dtype {a.dtype}")
    if kind == "u" and a.dtype.itemsize == 8 and a.max() > INT64_MAX:
        raise OverflowError(f"{what}: {int(a.max())} is outside the int64 range")
    return np.ascontiguousarray(a, dtype=np.int64)


cdef int _inclusive(object inclusive, bint* lo, bint* hi) except -1:
    """Unpack the (include lo, include hi) pair; TypeError unless a pair."""
    if type(inclusive) is tuple and len(<tuple>inclusive) == 2:
        lo[0] = bool((<tuple>inclusive)[0])
        hi[0] = bool((<tuple>inclusive)[1])
        return 0
    try:
        a, b = inclusive
    except (TypeError, ValueError):
        raise TypeError(f"inclusive must be a pair of booleans, got {inclusive!r}") from None
    lo[0] = bool(a)
    hi[0] = bool(b)
    return 0


# ------------------------------------------------------------------ the tree

cdef class BTreeBase:
    """The shared core of Int64BTree and ObjectBTree (not instantiated directly)."""

    def __cinit__(self, *args, **kwargs):
        self.root = NULL
        self.first = NULL
        self.last = NULL
        if not isinstance(self, (Int64BTree, ObjectBTree)):
            raise TypeError("BTreeBase is abstract: use Int64BTree, ObjectBTree or BTree()")

    def __dealloc__(self):
        cdef Node* r = self.root
        self.root = NULL
        if r != NULL:
            _destroy(r, self.objkeys)

    cdef int _setup(self, object node_size, int default, bint objkeys) except -1:
        cdef int cap
        if node_size is None:
            cap = default
        else:
            if isinstance(node_size, bool) or not isinstance(node_size, int) \
                    or not 3 <= node_size <= MAX_NODE:
                raise ValueError(f"node_size must be an integer in [3, {MAX_NODE}], "
                                 f"got {node_size!r}")
            cap = node_size
        self.cap = cap
        self.min_leaf = (cap + 1) // 2
        self.min_inner = cap // 2
        self.objkeys = objkeys
        self.root = self._alloc(True)
        self.first = self.last = self.root
        self.depth_ = 1
        self.nkeys = 0
        return 0

    # -------------------------------------------------------------- nodes

    cdef Node* _alloc(self, bint leaf) except NULL:
        cdef size_t sz = _leaf_bytes(self.cap) if leaf else _inner_bytes(self.cap)
        cdef void* p = NULL
        cdef Node* x
        mem_resize(&p, sz)
        x = <Node*>p
        x.n = 0
        x.leaf = leaf
        x.next = NULL
        x.prev = NULL
        x.keys = <Key*>(<char*>p + sizeof(Node))
        if leaf:
            x.vals = <PyObject**>(x.keys + self.cap + 1)
            x.kids = NULL
            x.counts = NULL
        else:
            x.vals = NULL
            x.kids = <Node**>(x.keys + self.cap + 1)
            x.counts = <int64_t*>(x.kids + self.cap + 2)
        self.nbytes_ += sz
        return x

    cdef void _free(self, Node* x) noexcept:
        self.nbytes_ -= _leaf_bytes(self.cap) if x.leaf else _inner_bytes(self.cap)
        PyMem_RawFree(x)

    cdef int _writable(self) except -1:
        if self.readers:
            raise RuntimeError("the tree cannot change while a batch query reads it")
        return 0

    # -------------------------------------------------------------- keys and search

    cdef int _key(self, object key, Key* out) except -1:
        if self.objkeys:
            out.o = <PyObject*>key          # borrowed: the caller holds key
        else:
            _ikey(key, &out.i)
        return 0

    cdef object _keyobj(self, Key k):
        if self.objkeys:
            return <object>k.o
        return PyLong_FromLongLong(k.i)

    cdef int _olt(self, PyObject* a, PyObject* b) except -1:
        """a < b for an ObjectBTree search; RuntimeError if the comparison changed the tree."""
        cdef size_t v = self.version
        cdef int r = _lt(a, b)
        if self.version != v:
            raise RuntimeError("ObjectBTree changed during a key comparison")
        return r

    cdef int _osearch(self, const Key* a, int n, PyObject* k, bint upper) except -1:
        """The first j in [0, n] with a[j] > k (upper) or a[j] >= k, comparing with <."""
        cdef int lo = 0, hi = n, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if upper:
                if self._olt(k, a[mid].o):
                    hi = mid
                else:
                    lo = mid + 1
            else:
                if self._olt(a[mid].o, k):
                    lo = mid + 1
                else:
                    hi = mid
        return lo

    cdef int _descend(self, Key k, Node** path, int* pidx, int* depth, Node** leaf,
                      bint* found) except -1:
        """Walk from the root to the leaf where k belongs, recording each internal
        node and the child taken; return k's lower-bound position in the leaf."""
        cdef Node* x = self.root
        cdef int d = 0, j
        if not self.objkeys:
            while not x.leaf:
                j = _upper_i(x.keys, x.n, k.i)
                path[d] = x
                pidx[d] = j
                d += 1
                x = x.kids[j]
                _prefetch_child(x, self.cap, d + 1 == self.depth_)
            j = _lower_i(x.keys, x.n, k.i)
            found[0] = j < x.n and x.keys[j].i == k.i
        else:
            while not x.leaf:
                j = self._osearch(x.keys, x.n, k.o, True)
                path[d] = x
                pidx[d] = j
                d += 1
                x = x.kids[j]
            j = self._osearch(x.keys, x.n, k.o, False)
            found[0] = j < x.n and not self._olt(k.o, x.keys[j].o)
        depth[0] = d
        leaf[0] = x
        return j

    cdef PyObject** _find(self, object key) except? NULL:
        """The value slot of key, or NULL (no exception) when absent."""
        cdef Key k
        cdef Node* x
        cdef int j
        if not self.objkeys:
            _ikey(key, &k.i)
            return _find_i(self.root, k.i, self.cap, self.depth_)
        k.o = <PyObject*>key
        x = self.root
        while not x.leaf:
            x = x.kids[self._osearch(x.keys, x.n, k.o, True)]
        j = self._osearch(x.keys, x.n, k.o, False)
        if j < x.n and not self._olt(k.o, x.keys[j].o):
            return &x.vals[j]
        return NULL

    cdef Py_ssize_t _locate(self, Key k, bint upper, Node** leaf, int* pos) except -1:
        """The position of the first key > k (upper) or >= k, and its rank."""
        cdef Node* x
        cdef Py_ssize_t r = 0
        cdef int j
        if not self.objkeys:
            return _locate_i(self.root, k.i, upper, leaf, pos, self.cap)
        x = self.root
        while not x.leaf:
            j = self._osearch(x.keys, x.n, k.o, True)
            r += _sum(x.counts, j)
            x = x.kids[j]
        j = self._osearch(x.keys, x.n, k.o, upper)
        leaf[0] = x
        pos[0] = j
        return r + j

    cdef Py_ssize_t _bounds(self, object lo, object hi, object inclusive, Node** sl, int* sp,
                            Node** el, int* ep) except -1:
        """The start and end positions of the keys in [lo, hi] (per inclusive);
        return how many keys lie between (0 for an empty or inverted range)."""
        cdef Key k
        cdef Py_ssize_t a, b
        cdef bint inc_lo, inc_hi
        _inclusive(inclusive, &inc_lo, &inc_hi)
        if lo is None:
            sl[0] = self.first
            sp[0] = 0
            a = 0
        else:
            self._key(lo, &k)
            a = self._locate(k, not inc_lo, sl, sp)
        if hi is None:
            el[0] = self.last
            ep[0] = self.last.n
            b = self.nkeys
        else:
            self._key(hi, &k)
            b = self._locate(k, inc_hi, el, ep)
        return b - a if b > a else 0

    # -------------------------------------------------------------- insert

    cdef int _set(self, Key k, object value) except -1:
        cdef Node* path[MAX_DEPTH]
        cdef int pidx[MAX_DEPTH]
        cdef Node* spare[MAX_DEPTH + 1]
        cdef Node* x
        cdef Node* p = NULL
        cdef Node* sib = NULL
        cdef int d = 0, i, e, j = 0, need = 0, made = 0
        cdef bint found = False
        cdef PyObject* old
        cdef PyObject* drop
        self._writable()
        i = self._descend(k, path, pidx, &d, &x, &found)
        if found:
            old = x.vals[i]
            _incref(<PyObject*>value)
            x.vals[i] = <PyObject*>value
            _decref(old)
            return 0
        # a full leaf spills into a neighbour with room (B*-style redistribution,
        # Knuth; Comer section 3), else splits: the nodes the splits will need are
        # allocated before anything changes
        if x.n == self.cap:
            if d > 0:
                p = path[d - 1]
                j = pidx[d - 1]
                if j > 0 and p.kids[j - 1].n < self.cap:
                    sib = p.kids[j - 1]
                if j < p.n and p.kids[j + 1].n < self.cap and (
                        sib == NULL or p.kids[j + 1].n < sib.n):
                    sib = p.kids[j + 1]
            if sib == NULL:
                need = 1
                e = d - 1
                while e >= 0 and path[e].n == self.cap:
                    need += 1
                    e -= 1
                if e < 0:
                    need += 1
                try:
                    while made < need:
                        spare[made] = self._alloc(made == 0)
                        made += 1
                except MemoryError:
                    for e in range(made):
                        self._free(spare[e])
                    raise
        if self.objkeys:
            _incref(k.o)
        _incref(<PyObject*>value)
        memmove(&x.keys[i + 1], &x.keys[i], (x.n - i) * sizeof(Key))
        memmove(&x.vals[i + 1], &x.vals[i], (x.n - i) * sizeof(PyObject*))
        x.keys[i] = k
        x.vals[i] = <PyObject*>value
        x.n += 1
        for e in range(d):
            path[e].counts[pidx[e]] += 1
        self.nkeys += 1
        self.version += 1
        if x.n > self.cap:
            if sib != NULL:
                drop = self._spill(p, j, x, sib)
                if drop != NULL:
                    _decref(drop)       # the tree is consistent: a release may run code
            else:
                self._split(x, path, pidx, d, spare)
        return 0

    cdef PyObject* _spill(self, Node* p, int j, Node* x, Node* sib) noexcept:
        """Move entries from the overfull leaf x (child j of p) to its neighbour sib
        until the two are even, and reset the separator between them. Returns the
        separator reference the ObjectBTree no longer holds (or NULL)."""
        cdef int k = (x.n - sib.n) >> 1
        cdef PyObject* drop = NULL
        if j < p.n and sib == p.kids[j + 1]:
            self.stats[8] += 1
            memmove(sib.keys + k, sib.keys, sib.n * sizeof(Key))
            memmove(sib.vals + k, sib.vals, sib.n * sizeof(PyObject*))
            memcpy(sib.keys, x.keys + x.n - k, k * sizeof(Key))
            memcpy(sib.vals, x.vals + x.n - k, k * sizeof(PyObject*))
            x.n -= k
            sib.n += k
            p.counts[j] -= k
            p.counts[j + 1] += k
            if self.objkeys:
                drop = p.keys[j].o
                _incref(sib.keys[0].o)
            p.keys[j] = sib.keys[0]
        else:
            self.stats[9] += 1
            memcpy(sib.keys + sib.n, x.keys, k * sizeof(Key))
            memcpy(sib.vals + sib.n, x.vals, k * sizeof(PyObject*))
            memmove(x.keys, x.keys + k, (x.n - k) * sizeof(Key))
            memmove(x.vals, x.vals + k, (x.n - k) * sizeof(PyObject*))
            x.n -= k
            sib.n += k
            p.counts[j] -= k
            p.counts[j - 1] += k
            if self.objkeys:
                drop = p.keys[j - 1].o
                _incref(x.keys[0].o)
            p.keys[j - 1] = x.keys[0]
        return drop

    cdef void _split(self, Node* x, Node** path, int* pidx, int d, Node** spare) noexcept:
        """Split the overfull leaf x (depth d) and every ancestor it overfills, with
        the nodes reserved in spare (the leaf first)."""
        cdef int s = 1, h, m, j
        cdef Node* y = spare[0]
        cdef Node* p
        cdef Node* r
        cdef Key sep
        cdef int64_t ltot, rtot
        h = x.n >> 1
        m = x.n - h
        memcpy(y.keys, x.keys + h, m * sizeof(Key))
        memcpy(y.vals, x.vals + h, m * sizeof(PyObject*))
        y.n = m
        x.n = h
        y.next = x.next
        y.prev = x
        if x.next != NULL:
            x.next.prev = y
        else:
            self.last = y
        x.next = y
        sep = y.keys[0]
        if self.objkeys:
            _incref(sep.o)
        ltot = h
        rtot = m
        self.stats[0] += 1
        while True:
            if d == 0:
                r = spare[s]
                r.keys[0] = sep
                r.kids[0] = x
                r.kids[1] = y
                r.counts[0] = ltot
                r.counts[1] = rtot
                r.n = 1
                self.root = r
                self.depth_ += 1
                return
            d -= 1
            p = path[d]
            j = pidx[d]
            memmove(&p.keys[j + 1], &p.keys[j], (p.n - j) * sizeof(Key))
            memmove(&p.kids[j + 2], &p.kids[j + 1], (p.n - j) * sizeof(Node*))
            memmove(&p.counts[j + 2], &p.counts[j + 1], (p.n - j) * sizeof(int64_t))
            p.keys[j] = sep
            p.kids[j + 1] = y
            p.counts[j] = ltot
            p.counts[j + 1] = rtot
            p.n += 1
            if p.n <= self.cap:
                return
            # p overflowed: its middle separator moves up
            self.stats[1] += 1
            x = p
            y = spare[s]
            s += 1
            h = x.n >> 1
            m = x.n - h - 1
            sep = x.keys[h]
            memcpy(y.keys, x.keys + h + 1, m * sizeof(Key))
            memcpy(y.kids, x.kids + h + 1, (m + 1) * sizeof(Node*))
            memcpy(y.counts, x.counts + h + 1, (m + 1) * sizeof(int64_t))
            y.n = m
            x.n = h
            ltot = _sum(x.counts, h + 1)
            rtot = _sum(y.counts, m + 1)

    # -------------------------------------------------------------- delete

    cdef object _remove_at(self, Node** path, int* pidx, int d, Node* x, int i):
        """Remove entry i of leaf x (reached by path), rebalance, and return its value."""
        cdef PyObject* key = x.keys[i].o
        cdef PyObject* val = x.vals[i]
        cdef PyObject* drop = NULL
        cdef int e
        memmove(&x.keys[i], &x.keys[i + 1], (x.n - i - 1) * sizeof(Key))
        memmove(&x.vals[i], &x.vals[i + 1], (x.n - i - 1) * sizeof(PyObject*))
        x.n -= 1
        for e in range(d):
            path[e].counts[pidx[e]] -= 1
        self.nkeys -= 1
        self.version += 1
        self._rebalance(path, pidx, d, x, &drop)
        # the tree is consistent again: only now may a released reference run code
        result = <object>val
        _decref(val)
        if self.objkeys:
            _decref(key)
            _xdecref(drop)
        return result

    cdef void _rebalance(self, Node** path, int* pidx, int d, Node* x, PyObject** drop) noexcept:
        """Restore the fill of node x at depth d after a removal: borrow from a
        sibling with keys to spare, else merge with one and go up. A separator the
        leaf level no longer needs is stored in *drop (ObjectBTree) for the caller
        to release."""
        cdef Node* p
        cdef Node* left
        cdef Node* right
        cdef Node* a
        cdef Node* b
        cdef int j, k, s, mn
        cdef int64_t moved
        while d > 0:
            mn = self.min_leaf if x.leaf else self.min_inner
            if x.n >= mn:
                return
            p = path[d - 1]
            j = pidx[d - 1]
            left = p.kids[j - 1] if j > 0 else NULL
            right = p.kids[j + 1] if j < p.n else NULL
            if left != NULL and left.n > mn:
                self.stats[2 + (not x.leaf)] += 1
                k = (left.n - x.n) >> 1
                if x.leaf:
                    memmove(x.keys + k, x.keys, x.n * sizeof(Key))
                    memmove(x.vals + k, x.vals, x.n * sizeof(PyObject*))
                    memcpy(x.keys, left.keys + left.n - k, k * sizeof(Key))
                    memcpy(x.vals, left.vals + left.n - k, k * sizeof(PyObject*))
                    left.n -= k
                    x.n += k
                    p.counts[j - 1] -= k
                    p.counts[j] += k
                    if self.objkeys:
                        drop[0] = p.keys[j - 1].o
                        _incref(x.keys[0].o)
                    p.keys[j - 1] = x.keys[0]
                else:
                    memmove(x.keys + k, x.keys, x.n * sizeof(Key))
                    memmove(x.kids + k, x.kids, (x.n + 1) * sizeof(Node*))
                    memmove(x.counts + k, x.counts, (x.n + 1) * sizeof(int64_t))
                    x.keys[k - 1] = p.keys[j - 1]
                    memcpy(x.keys, left.keys + left.n - k + 1, (k - 1) * sizeof(Key))
                    memcpy(x.kids, left.kids + left.n - k + 1, k * sizeof(Node*))
                    memcpy(x.counts, left.counts + left.n - k + 1, k * sizeof(int64_t))
                    p.keys[j - 1] = left.keys[left.n - k]
                    moved = _sum(x.counts, k)
                    left.n -= k
                    x.n += k
                    p.counts[j - 1] -= moved
                    p.counts[j] += moved
                return
            if right != NULL and right.n > mn:
                self.stats[4 + (not x.leaf)] += 1
                k = (right.n - x.n) >> 1
                if x.leaf:
                    memcpy(x.keys + x.n, right.keys, k * sizeof(Key))
                    memcpy(x.vals + x.n, right.vals, k * sizeof(PyObject*))
                    memmove(right.keys, right.keys + k, (right.n - k) * sizeof(Key))
                    memmove(right.vals, right.vals + k, (right.n - k) * sizeof(PyObject*))
                    x.n += k
                    right.n -= k
                    p.counts[j] += k
                    p.counts[j + 1] -= k
                    if self.objkeys:
                        drop[0] = p.keys[j].o
                        _incref(right.keys[0].o)
                    p.keys[j] = right.keys[0]
                else:
                    x.keys[x.n] = p.keys[j]
                    memcpy(x.keys + x.n + 1, right.keys, (k - 1) * sizeof(Key))
                    memcpy(x.kids + x.n + 1, right.kids, k * sizeof(Node*))
                    memcpy(x.counts + x.n + 1, right.counts, k * sizeof(int64_t))
                    moved = _sum(right.counts, k)
                    p.keys[j] = right.keys[k - 1]
                    memmove(right.keys, right.keys + k, (right.n - k) * sizeof(Key))
                    memmove(right.kids, right.kids + k, (right.n + 1 - k) * sizeof(Node*))
                    memmove(right.counts, right.counts + k, (right.n + 1 - k) * sizeof(int64_t))
                    right.n -= k
                    x.n += k
                    p.counts[j] += moved
                    p.counts[j + 1] -= moved
                return
            # merge b into a, its left neighbour; separator s sits between them
            self.stats[6 + (not x.leaf)] += 1
            if left != NULL:
                a, b, s = left, x, j - 1
            else:
                a, b, s = x, right, j
            if a.leaf:
                memcpy(a.keys + a.n, b.keys, b.n * sizeof(Key))
                memcpy(a.vals + a.n, b.vals, b.n * sizeof(PyObject*))
                a.n += b.n
                a.next = b.next
                if b.next != NULL:
                    b.next.prev = a
                else:
                    self.last = a
                if self.objkeys:
                    drop[0] = p.keys[s].o
            else:
                a.keys[a.n] = p.keys[s]
                memcpy(a.keys + a.n + 1, b.keys, b.n * sizeof(Key))
                memcpy(a.kids + a.n + 1, b.kids, (b.n + 1) * sizeof(Node*))
                memcpy(a.counts + a.n + 1, b.counts, (b.n + 1) * sizeof(int64_t))
                a.n += b.n + 1
            self._free(b)
            p.counts[s] += p.counts[s + 1]
            memmove(p.keys + s, p.keys + s + 1, (p.n - s - 1) * sizeof(Key))
            memmove(p.kids + s + 1, p.kids + s + 2, (p.n - s - 1) * sizeof(Node*))
            memmove(p.counts + s + 1, p.counts + s + 2, (p.n - s - 1) * sizeof(int64_t))
            p.n -= 1
            x = p
            d -= 1
        # x is the root
        if not x.leaf and x.n == 0:
            self.root = x.kids[0]
            self._free(x)
            self.depth_ -= 1

    # -------------------------------------------------------------- bulk build

    cdef int _bulk(self, const Key* keys, object values, Py_ssize_t n, double fill) except -1:
        """Build the tree bottom-up from n strictly increasing keys (values: None or
        a list of n values) into this empty tree. Every node is allocated before
        the first reference is taken, so a MemoryError leaves the tree empty."""
        cdef Py_ssize_t widths[MAX_DEPTH]
        cdef Py_ssize_t per, m, c, q, lim, total = 0, made = 0, t, a, cnt, off, noff, qq, rr, j
        cdef int levels = 1, lev
        cdef Node** nodes = NULL
        cdef Key* low = NULL
        cdef int64_t* tot = NULL
        cdef Node* x
        cdef PyObject* v
        cdef Key lk
        cdef int64_t st
        cdef bint obj = self.objkeys
        if n == 0:
            return 0
        per = <Py_ssize_t>(self.cap * fill)
        per = min(max(per, self.min_leaf), self.cap)
        m = (n + per - 1) // per
        lim = n // self.min_leaf
        m = max(min(m, lim), 1)
        widths[0] = m
        c = m
        per = <Py_ssize_t>((self.cap + 1) * fill)
        per = min(max(per, self.min_inner + 1), self.cap + 1)
        while c > 1:
            q = (c + per - 1) // per
            lim = c // (self.min_inner + 1)
            q = max(min(q, lim), 1)
            widths[levels] = q
            levels += 1
            c = q
        for lev in range(levels):
            total += widths[lev]
        try:
            mem_resize(<void**>&nodes, total * sizeof(Node*))
            mem_resize(<void**>&low, m * sizeof(Key))
            mem_resize(<void**>&tot, m * sizeof(int64_t))
            while made < total:
                nodes[made] = self._alloc(made < m)
                made += 1
        except MemoryError:
            for t in range(made):
                self._free(nodes[t])
            PyMem_RawFree(nodes)
            PyMem_RawFree(low)
            PyMem_RawFree(tot)
            raise
        # leaves: m of them, the first n % m with one key more
        qq = n // m
        rr = n % m
        a = 0
        for t in range(m):
            x = nodes[t]
            cnt = qq + (t < rr)
            memcpy(x.keys, keys + a, cnt * sizeof(Key))
            if obj:
                for j in range(cnt):
                    _incref(x.keys[j].o)
            if values is None:
                for j in range(cnt):
                    _incref(_None)
                    x.vals[j] = _None
            else:
                for j in range(cnt):
                    v = <PyObject*>PyList_GET_ITEM(values, a + j)
                    _incref(v)
                    x.vals[j] = v
            x.n = <int32_t>cnt
            x.prev = nodes[t - 1] if t > 0 else NULL
            x.next = nodes[t + 1] if t + 1 < m else NULL
            low[t] = keys[a]
            tot[t] = cnt
            a += cnt
        # internal levels, each over the one below
        off = 0
        c = m
        for lev in range(1, levels):
            q = widths[lev]
            noff = off + c
            qq = c // q
            rr = c % q
            a = 0
            for t in range(q):
                x = nodes[noff + t]
                cnt = qq + (t < rr)
                for j in range(cnt):
                    x.kids[j] = nodes[off + a + j]
                    x.counts[j] = tot[a + j]
                    if j > 0:
                        x.keys[j - 1] = low[a + j]
                        if obj:
                            _incref(low[a + j].o)
                x.n = <int32_t>(cnt - 1)
                lk = low[a]
                st = _sum(&tot[a], <int>cnt)
                low[t] = lk          # t <= a: the entries still to read are not overwritten
                tot[t] = st
                a += cnt
            off = noff
            c = q
        self._free(self.root)
        self.root = nodes[off]
        self.first = nodes[0]
        self.last = nodes[m - 1]
        self.nkeys = n
        self.depth_ = levels
        self.version += 1
        PyMem_RawFree(nodes)
        PyMem_RawFree(low)
        PyMem_RawFree(tot)
        return 0

    # -------------------------------------------------------------- mapping API

    def __len__(self):
        return self.nkeys

    def __getitem__(self, key):
        cdef PyObject** slot = self._find(key)
        if slot == NULL:
            raise KeyError(key)
        return <object>slot[0]

    def __contains__(self, key):
        return self._find(key) != NULL

    def get(self, key, default=None):
        """The value of key, or default when absent."""
        cdef PyObject** slot = self._find(key)
        if slot == NULL:
            return default
        return <object>slot[0]

    def __setitem__(self, key, value):
        cdef Key k
        self._key(key, &k)
        self._set(k, value)

    def __delitem__(self, key):
        if self.pop(key, _MISSING) is _MISSING:
            raise KeyError(key)

    def pop(self, key, default=_MISSING):
        """Remove key and return its value; default (or KeyError) when absent."""
        cdef Node* path[MAX_DEPTH]
        cdef int pidx[MAX_DEPTH]
        cdef Node* x
        cdef int d = 0, i
        cdef bint found = False
        cdef Key k
        self._key(key, &k)
        self._writable()
        i = self._descend(k, path, pidx, &d, &x, &found)
        if not found:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return self._remove_at(path, pidx, d, x, i)

    def _pop_end(self, bint last):
        cdef Node* path[MAX_DEPTH]
        cdef int pidx[MAX_DEPTH]
        cdef Node* x = self.root
        cdef int d = 0, i
        self._writable()
        if self.nkeys == 0:
            raise KeyError(f"pop_{'max' if last else 'min'}(): the tree is empty")
        while not x.leaf:
            path[d] = x
            pidx[d] = x.n if last else 0
            x = x.kids[pidx[d]]
            d += 1
        i = x.n - 1 if last else 0
        key = self._keyobj(x.keys[i])
        value = self._remove_at(path, pidx, d, x, i)
        return key, value

    def pop_min(self):
        """Remove the smallest key and return (key, value); KeyError when empty. O(log n)."""
        return self._pop_end(False)

    def pop_max(self):
        """Remove the largest key and return (key, value); KeyError when empty. O(log n)."""
        return self._pop_end(True)

    def update(self, other=(), **kwargs):
        """Insert the pairs of a mapping (or an iterable of (key, value) pairs), then
        the keyword arguments, as dict.update. Stops at the first bad key, with the
        pairs before it inserted."""
        if isinstance(other, BTreeBase):
            other = list(other.items())
        if hasattr(other, "items"):
            other = other.items()
        elif hasattr(other, "keys"):
            other = [(k, other[k]) for k in other.keys()]
        for pair in other:
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise TypeError(f"update() needs a mapping or (key, value) pairs, got {pair!r}") from None
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def clear(self):
        """Remove every key. O(n)."""
        cdef Node* old
        self._writable()
        old = self.root
        self.root = self.first = self.last = NULL
        self.nbytes_ = 0
        self.root = self._alloc(True)
        self.first = self.last = self.root
        self.nkeys = 0
        self.depth_ = 1
        self.version += 1
        _destroy(old, self.objkeys)

    # -------------------------------------------------------------- iteration

    def __iter__(self):
        return _make_iter(self, self.first, 0, self.nkeys, 0, False, self.version)

    def __reversed__(self):
        return _make_iter(self, self.last, self.last.n, self.nkeys, 0, True, self.version)

    def keys(self):
        """The keys in order, as a new list. O(n)."""
        return self._list(0)

    def values(self):
        """The values in key order, as a new list. O(n)."""
        return self._list(1)

    def items(self):
        """The (key, value) pairs in key order, as a new list. O(n)."""
        return self._list(2)

    cdef list _list(self, int mode):
        # an allocation of a list or tuple may run a garbage collection, and so
        # any __del__: the version check stops the walk if one changed the tree
        cdef size_t v0 = self.version
        cdef list out = PyList_New(self.nkeys)
        cdef Node* x = self.first
        cdef Py_ssize_t t = 0
        cdef int j
        cdef object o, k, v
        if self.version != v0:
            raise RuntimeError("the tree changed while it was being listed")
        while x != NULL:
            for j in range(x.n):
                if mode == 0:
                    o = self._keyobj(x.keys[j])
                elif mode == 1:
                    o = <object>x.vals[j]
                else:
                    k = self._keyobj(x.keys[j])
                    v = <object>x.vals[j]
                    o = (k, v)
                    if self.version != v0:
                        raise RuntimeError("the tree changed while it was being listed")
                _incref(<PyObject*>o)
                PyList_SET_ITEM(out, t, o)
                t += 1
            x = x.next
        return out

    def irange(self, lo=None, hi=None, inclusive=(True, True), reverse=False):
        """An iterator over the keys k with lo <= k <= hi in order (None: unbounded;
        ``inclusive`` says whether each end is included, as in sortedcontainers'
        SortedDict.irange), backwards when reverse. O(log n) to start, O(1) per key."""
        return self._irange(lo, hi, inclusive, reverse, 0)

    def irange_values(self, lo=None, hi=None, inclusive=(True, True), reverse=False):
        """As irange, over the values of those keys."""
        return self._irange(lo, hi, inclusive, reverse, 1)

    def irange_items(self, lo=None, hi=None, inclusive=(True, True), reverse=False):
        """As irange, over (key, value) pairs."""
        return self._irange(lo, hi, inclusive, reverse, 2)

    cdef _irange(self, lo, hi, inclusive, reverse, int mode):
        cdef Node* sl
        cdef Node* el
        cdef int sp, ep
        cdef size_t v = self.version          # before the iterator's allocation (see _list)
        cdef Py_ssize_t n = self._bounds(lo, hi, inclusive, &sl, &sp, &el, &ep)
        if reverse:
            return _make_iter(self, el, ep, n, mode, True, v)
        return _make_iter(self, sl, sp, n, mode, False, v)

    def count(self, lo=None, hi=None, inclusive=(True, True)):
        """How many keys lie between lo and hi (as irange), from the subtree counts:
        O(log n), independent of the size of the range."""
        cdef Node* sl
        cdef Node* el
        cdef int sp, ep
        return self._bounds(lo, hi, inclusive, &sl, &sp, &el, &ep)

    # -------------------------------------------------------------- order queries

    def min(self):
        """The smallest key; ValueError when empty. O(1)."""
        if self.nkeys == 0:
            raise ValueError("min() of an empty tree")
        return self._keyobj(self.first.keys[0])

    def max(self):
        """The largest key; ValueError when empty. O(1)."""
        if self.nkeys == 0:
            raise ValueError("max() of an empty tree")
        return self._keyobj(self.last.keys[self.last.n - 1])

    def floor(self, key):
        """The largest key <= key, or None. O(log n)."""
        cdef Key k
        cdef Node* x
        cdef int j
        self._key(key, &k)
        if self._locate(k, True, &x, &j) == 0:
            return None
        if j == 0:
            x = x.prev
            j = x.n
        return self._keyobj(x.keys[j - 1])

    def ceiling(self, key):
        """The smallest key >= key, or None. O(log n)."""
        cdef Key k
        cdef Node* x
        cdef int j
        self._key(key, &k)
        if self._locate(k, False, &x, &j) == self.nkeys:
            return None
        if j == x.n:
            x = x.next
            j = 0
        return self._keyobj(x.keys[j])

    # -------------------------------------------------------------- introspection

    @property
    def node_size(self):
        """The most keys a node holds."""
        return self.cap

    @property
    def height(self):
        """The number of levels (1: the root is a leaf)."""
        return self.depth_

    @property
    def nbytes(self):
        """Bytes of the tree's own nodes (headers, keys, value pointers, children and
        counts), not of the key or value objects."""
        return self.nbytes_

    def _stats(self):
        """How often each structure change happened since the tree was made (for the
        tests, which check that small nodes exercise every rebalancing case)."""
        names = ("leaf_split", "inner_split", "leaf_borrow_left", "inner_borrow_left",
                 "leaf_borrow_right", "inner_borrow_right", "leaf_merge", "inner_merge",
                 "leaf_spill_right", "leaf_spill_left")
        return {name: self.stats[i] for i, name in enumerate(names)}

    def __repr__(self):
        cdef Py_ssize_t shown = 10 if self.nkeys > 20 else self.nkeys
        parts = []
        for key, value in self.irange_items():
            if len(parts) == shown:
                break
            parts.append(f"{key!r}: {value!r}")
        body = ", ".join(parts)
        if shown < self.nkeys:
            body += f", ... ({self.nkeys} keys)"
        return f"{type(self).__name__}({{{body}}}, node_size={self.cap})"

    def __reduce__(self):
        return (_rebuild, (type(self), self.cap, self.keys(), self.values()))

    def _check(self):
        """Assert the invariants: key order within and across nodes, separators that
        bound their subtrees, fill bounds (the root exempt), equal leaf depth,
        subtree counts, a leaf chain (both ways) that visits every key in order,
        len and nbytes."""
        leaves = []
        nodes = [0, 0]

        def walk(size_t addr, lo, hi, int depth):
            cdef Node* x = <Node*>addr
            cdef int j
            cdef bint is_root = x == self.root
            keys = [self._keyobj(x.keys[j]) for j in range(x.n)]
            for j in range(1, x.n):
                assert keys[j - 1] < keys[j], f"keys out of order in a node: {keys[j - 1]!r}, {keys[j]!r}"
            if keys:
                assert lo is _OPEN or not keys[0] < lo, f"key {keys[0]!r} below its bound {lo!r}"
                assert hi is _OPEN or keys[x.n - 1] < hi, f"key {keys[x.n - 1]!r} not below its bound {hi!r}"
            assert x.n <= self.cap, f"node holds {x.n} > node_size {self.cap}"
            if x.leaf:
                nodes[0] += 1
                assert depth == self.depth_, f"leaf at depth {depth}, height {self.depth_}"
                if not is_root:
                    assert x.n >= self.min_leaf, f"leaf holds {x.n} < {self.min_leaf} keys"
                leaves.append(addr)
                return x.n
            nodes[1] += 1
            if is_root:
                assert x.n >= 1, "internal root without a separator"
            else:
                assert x.n >= self.min_inner, f"internal node holds {x.n} < {self.min_inner} separators"
            total = 0
            for j in range(x.n + 1):
                below = walk(<size_t>x.kids[j], keys[j - 1] if j > 0 else lo,
                             keys[j] if j < x.n else hi, depth + 1)
                assert x.counts[j] == below, f"count {x.counts[j]} of a child holding {below}"
                total += below
            return total

        total = walk(<size_t>self.root, _OPEN, _OPEN, 1)
        assert total == self.nkeys, f"the tree holds {total} keys, len says {self.nkeys}"
        assert <size_t>self.first == leaves[0] and <size_t>self.last == leaves[len(leaves) - 1], "first/last leaf"
        # the chain, forwards and backwards, equals the leaves in tree order
        cdef Node* x = self.first
        cdef Node* prev = NULL
        chain = []
        while x != NULL:
            assert x.prev == prev, "broken prev link"
            chain.append(<size_t>x)
            prev = x
            x = x.next
        assert chain == leaves, "the leaf chain does not visit the leaves in order"
        keys = self.keys()
        assert len(keys) == self.nkeys
        for j in range(1, len(keys)):
            assert keys[j - 1] < keys[j], f"keys out of order across leaves: {keys[j - 1]!r}, {keys[j]!r}"
        assert self.nbytes_ == nodes[0] * _leaf_bytes(self.cap) + nodes[1] * _inner_bytes(self.cap), "nbytes"
        return True


def _rebuild(cls, node_size, keys, values):
    return cls.from_sorted(keys, values, node_size=node_size, fill=1.0)


cdef object _make_iter(BTreeBase tree, Node* leaf, int pos, Py_ssize_t n, int mode, bint rev,
                       size_t version):
    cdef _Iter it = _Iter.__new__(_Iter)
    it.tree = tree
    it.leaf = leaf
    it.i = pos
    it.left = n
    it.mode = mode
    it.rev = rev
    it.obj = tree.objkeys
    it.version = version
    return it


cdef class _Iter:
    """An iterator over a range of a BTree (keys, values or items); RuntimeError if
    the tree's structure changes while it runs."""
    cdef BTreeBase tree
    cdef Node* leaf
    cdef int i
    cdef Py_ssize_t left
    cdef int mode
    cdef bint rev
    cdef bint obj
    cdef size_t version

    def __iter__(self):
        return self

    def __length_hint__(self):
        return self.left

    def __next__(self):
        cdef Node* x
        cdef int j
        if self.left <= 0:
            raise StopIteration
        if self.tree.version != self.version:
            self.left = 0
            raise RuntimeError("the tree changed during iteration")
        x = self.leaf
        if self.rev:
            if self.i == 0:
                x = self.leaf = x.prev
                self.i = x.n
            self.i -= 1
            j = self.i
        else:
            if self.i == x.n:
                x = self.leaf = x.next
                self.i = 0
            j = self.i
            self.i += 1
        self.left -= 1
        if self.mode == 0:
            if self.obj:
                return <object>x.keys[j].o
            return PyLong_FromLongLong(x.keys[j].i)
        if self.mode == 1:
            return <object>x.vals[j]
        if self.obj:
            return (<object>x.keys[j].o, <object>x.vals[j])
        return (PyLong_FromLongLong(x.keys[j].i), <object>x.vals[j])


cdef class Int64BTree(BTreeBase):
    """A sorted mapping from int64 keys (stored unboxed) to any Python values: a
    B+tree (Bayer and McCreight 1972; Comer 1979) with linked leaves and subtree
    counts. See the module docstring for the layout and the rebalancing rules.

    Complexity (n keys): get, set, delete, ``in``, floor, ceiling and count(lo, hi)
    O(log n); len, min, max O(1); irange O(log n + k); from_sorted O(n); the
    batch queries O(m log n) for m keys, without the GIL.

    API notes (both key types): ``keys()``, ``values()`` and ``items()`` return new
    lists in key order; ``irange`` / ``irange_values`` / ``irange_items`` return
    lazy iterators (lo or hi None: unbounded; ``inclusive=(lo_included,
    hi_included)``); ``count`` takes the same bounds; ``min()`` / ``max()`` raise
    ValueError on an empty tree (as the builtins), ``pop_min()`` / ``pop_max()``
    KeyError (as dict.popitem); ``floor`` / ``ceiling`` return None when there is
    no such key. Batch queries (int64 keys only): ``lookup_many(keys, default)``
    (an object array of values), ``contains_many(keys)`` (a bool array),
    ``range_many(los, his, inclusive)`` (int64 counts), ``keys_array(lo, hi,
    inclusive)`` (the keys themselves as int64).

    >>> t = Int64BTree(node_size=4)
    >>> for k in [5, 1, 9, 3, 7]:
    ...     t[k] = str(k)
    >>> t[3], len(t), 4 in t
    ('3', 5, False)
    >>> list(t.irange(2, 7)), list(t.irange(2, 7, inclusive=(True, False), reverse=True))
    ([3, 5, 7], [5, 3])
    >>> t.floor(4), t.ceiling(4), t.count(2, 9), t.pop_min()
    (3, 5, 4, (1, '1'))
    >>> Int64BTree.from_sorted([1, 2, 3], ["a", "b", "c"]).keys_array(2).tolist()
    [2, 3]
    """

    def __cinit__(self, node_size=None):
        self._setup(node_size, DEF_INT64_NODE, False)

    @classmethod
    def from_sorted(cls, keys, values=None, node_size=None, double fill=0.9):
        """A tree built bottom-up from strictly increasing keys (a sequence or an
        integer array) and their values (a sequence of the same length; None: every
        value is None). Leaves get ``fill * node_size`` keys (at least half full;
        0.9 leaves room for a few inserts, as PostgreSQL's default leaf fillfactor),
        internal nodes likewise. ValueError if the keys are not strictly increasing
        or the lengths differ; nothing is built then. O(n)."""
        cdef int64_t[::1] kv
        cdef Py_ssize_t n, i, bad = 0
        if not 0.5 <= fill <= 1.0:
            raise ValueError(f"fill must be in [0.5, 1], got {fill!r}")
        arr = _int64_array(keys)
        kv = arr
        n = kv.shape[0]
        with nogil:
            for i in range(1, n):
                if kv[i] <= kv[i - 1]:
                    bad = i
                    break
        if bad:
            raise ValueError(f"from_sorted: keys are not strictly increasing at position "
                             f"{bad}: {kv[bad - 1]} then {kv[bad]}")
        values = _values_list(values, n)
        t = cls(node_size=node_size)
        if n:
            (<BTreeBase>t)._bulk(<const Key*>&kv[0], values, n, fill)
        return t

    def lookup_many(self, keys, default=None):
        """The value of each key (default where absent), as a numpy object array.
        The searches run without the GIL. O(m log n)."""
        cdef int64_t[::1] kv = _int64_array(keys)
        cdef Py_ssize_t m = kv.shape[0], i
        out = np.empty(m, dtype=object)
        cdef PyObject** ov = <PyObject**>cnp.PyArray_DATA(out)
        cdef PyObject** slot
        cdef PyObject* d = <PyObject*>default
        slots = np.empty(m, dtype=np.intp)
        cdef Py_ssize_t[::1] sv = slots
        cdef Node* root = self.root
        cdef int cap = self.cap, height = self.depth_
        self.readers += 1
        try:
            with nogil:
                for i in range(m):
                    sv[i] = <Py_ssize_t>_find_i(root, kv[i], cap, height)
        finally:
            self.readers -= 1
        for i in range(m):
            slot = <PyObject**>sv[i]
            _xdecref(ov[i])
            if slot == NULL:
                _incref(d)
                ov[i] = d
            else:
                _incref(slot[0])
                ov[i] = slot[0]
        return out

    def contains_many(self, keys):
        """A bool array: is each key in the tree. Without the GIL. O(m log n)."""
        cdef int64_t[::1] kv = _int64_array(keys)
        cdef Py_ssize_t m = kv.shape[0], i
        out = np.zeros(m, dtype=np.bool_)
        cdef uint8_t[::1] ov = out.view(np.uint8)
        cdef Node* root = self.root
        cdef int cap = self.cap, height = self.depth_
        self.readers += 1
        try:
            with nogil:
                for i in range(m):
                    ov[i] = _find_i(root, kv[i], cap, height) != NULL
        finally:
            self.readers -= 1
        return out

    def range_many(self, los, his, inclusive=(True, True)):
        """For each i, how many keys lie between los[i] and his[i] (as count()), as
        an int64 array. Without the GIL; O(m log n), independent of the ranges' sizes."""
        cdef int64_t[::1] lv = _int64_array(los, "los")
        cdef int64_t[::1] hv = _int64_array(his, "his")
        cdef Py_ssize_t m = lv.shape[0], i, a, b
        cdef bint inc_lo, inc_hi
        cdef Node* leaf
        cdef int pos
        if hv.shape[0] != m:
            raise ValueError(f"los and his differ in length: {m} and {hv.shape[0]}")
        _inclusive(inclusive, &inc_lo, &inc_hi)
        out = np.zeros(m, dtype=np.int64)
        cdef int64_t[::1] ov = out
        cdef Node* root = self.root
        cdef int cap = self.cap
        self.readers += 1
        try:
            with nogil:
                for i in range(m):
                    a = _locate_i(root, lv[i], not inc_lo, &leaf, &pos, cap)
                    b = _locate_i(root, hv[i], inc_hi, &leaf, &pos, cap)
                    ov[i] = b - a if b > a else 0
        finally:
            self.readers -= 1
        return out

    def keys_array(self, lo=None, hi=None, inclusive=(True, True)):
        """The keys between lo and hi (as irange) as an int64 numpy array, copied
        leaf by leaf along the chain. O(log n + k)."""
        cdef Node* sl
        cdef Node* el
        cdef int sp, ep, take
        cdef size_t v
        cdef Py_ssize_t n, t = 0
        while True:
            # the array's allocation may run a collection that changes the tree
            v = self.version
            n = self._bounds(lo, hi, inclusive, &sl, &sp, &el, &ep)
            out = np.empty(n, dtype=np.int64)
            if self.version == v:
                break
        cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(out)
        cdef Node* x = sl
        cdef int j = sp
        self.readers += 1
        try:
            with nogil:
                while t < n:
                    if j == x.n:
                        x = x.next
                        j = 0
                    take = x.n - j
                    if take > n - t:
                        take = <int>(n - t)
                    memcpy(o + t, &x.keys[j], take * sizeof(int64_t))
                    t += take
                    j += take
        finally:
            self.readers -= 1
        return out


cdef class ObjectBTree(BTreeBase):
    """A sorted mapping from any totally ordered Python keys (str, bytes, float,
    tuples, ...) to any values: the same B+tree as Int64BTree (Bayer and McCreight
    1972; Comer 1979), comparing keys with ``<`` only. Tuple keys give composite
    indexes: ``irange((a,), (a + 1,), inclusive=(True, False))`` scans the keys
    that start with a (for integer a).

    Complexity (n keys): O(log n) comparisons for get, set, delete, floor, ceiling
    and count; irange O(log n + k); from_sorted O(n).

    >>> t = ObjectBTree(node_size=4)
    >>> t.update([(("a", 2), 1), (("a", 1), 2), (("b", 1), 3)])
    >>> list(t.irange(("a",), ("b",), inclusive=(True, False)))
    [('a', 1), ('a', 2)]
    >>> t[1] = "x"
    Traceback (most recent call last):
    TypeError: ObjectBTree keys must be mutually ordered: ...
    >>> len(t)
    3
    """

    def __cinit__(self, node_size=None):
        self._setup(node_size, DEF_OBJECT_NODE, True)

    @classmethod
    def from_sorted(cls, keys, values=None, node_size=None, double fill=0.9):
        """A tree built bottom-up from strictly increasing keys and their values (as
        Int64BTree.from_sorted). ValueError if the keys are not strictly increasing
        (TypeError if two cannot be compared); nothing is built then. O(n)."""
        cdef list kl = list(keys)
        cdef Py_ssize_t n = len(kl), i
        cdef Key* buf = NULL
        if not 0.5 <= fill <= 1.0:
            raise ValueError(f"fill must be in [0.5, 1], got {fill!r}")
        for i in range(1, n):
            if not _lt(<PyObject*>kl[i - 1], <PyObject*>kl[i]):
                raise ValueError(f"from_sorted: keys are not strictly increasing at position "
                                 f"{i}: {_short(kl[i - 1])} then {_short(kl[i])}")
        values = _values_list(values, n)
        t = cls(node_size=node_size)
        if n == 0:
            return t
        mem_resize(<void**>&buf, n * sizeof(Key))
        try:
            for i in range(n):
                buf[i].o = <PyObject*>PyList_GET_ITEM(kl, i)
            (<BTreeBase>t)._bulk(buf, values, n, fill)
        finally:
            PyMem_RawFree(buf)
        return t


cdef object _values_list(object values, Py_ssize_t n):
    """None, or the values as a list of length n (a numpy array through tolist())."""
    if values is None:
        return None
    if isinstance(values, np.ndarray):
        values = values.tolist()
    elif not isinstance(values, list):
        values = list(values)
    if len(values) != n:
        raise ValueError(f"from_sorted: {n} keys but {len(values)} values")
    return values


def _tree_class(key_type):
    if key_type == "int64":
        return Int64BTree
    if key_type == "object":
        return ObjectBTree
    raise ValueError(f"key_type must be 'int64' or 'object', got {key_type!r}")


class _BTreeMeta(type):
    """Makes ``isinstance(t, BTree)`` true for the trees BTree makes."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, (Int64BTree, ObjectBTree))

    def __subclasscheck__(cls, sub):
        return issubclass(sub, (Int64BTree, ObjectBTree))


class BTree(metaclass=_BTreeMeta):
    """A new empty B+tree: ``BTree(key_type="int64", node_size=None)`` is an
    Int64BTree for key_type "int64" (int64 keys stored unboxed, the fast path),
    an ObjectBTree for "object" (any totally ordered keys). ``BTree`` itself is
    only the entry point: calling it returns one of the two classes, and
    ``BTree.from_sorted`` builds one from sorted keys the same way.

    >>> BTree("object").__class__.__name__, BTree().__class__.__name__
    ('ObjectBTree', 'Int64BTree')
    >>> t = BTree.from_sorted([1, 4, 9], ["a", "b", "c"])
    >>> type(t).__name__, t[4], isinstance(t, BTree)
    ('Int64BTree', 'b', True)
    >>> list(BTree.from_sorted(["x", "y"], key_type="object").items())
    [('x', None), ('y', None)]
    """

    def __new__(cls, key_type="int64", node_size=None):
        return _tree_class(key_type)(node_size=node_size)

    @staticmethod
    def from_sorted(keys, values=None, key_type="int64", node_size=None, fill=0.9):
        """``Int64BTree.from_sorted`` (key_type "int64") or ``ObjectBTree.from_sorted``
        ("object") with the same arguments: keys ascending, values None or one per key."""
        return _tree_class(key_type).from_sorted(keys, values, node_size=node_size, fill=fill)
