"""Cache eviction orders, the mapping classes and the nogil replay kernel.

The orders work on slots (small integers) so that the same code serves two
indexes: a Python dict (any hashable key -> slot) in the mapping classes, and
the shared int64 hash table in :func:`replay`.

LFU is the O(1) scheme of Shah, Mitra and Matani, "An O(1) algorithm for
implementing the LFU cache eviction scheme" (2010), laid out over one linked
list kept sorted by (count, last use): each run of equal counts is a bucket with
a head and a tail, and the bucket of count c+1, if any, starts right after the
tail of the bucket of count c.
"""
cimport cython
from cpython.mem cimport PyMem_RawFree
from cpython.ref cimport PyObject
cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
from libc.stdint cimport int32_t, int64_t, uint64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import math
import numbers
import time

import numpy as np

from tradeoff._core.debug cimport DEBUG_ASSERT, DEBUG_CHECKS
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.dlist cimport (DList, dl_free, dl_insert_after, dl_insert_before,
                                   dl_move_before, dl_nbytes, dl_resize, dl_ring, dl_unlink)
from tradeoff._core.table cimport (PREFETCH_DISTANCE, I64Table, i64t_find, i64t_free,
                                   i64t_get, i64t_init, i64t_nbytes, i64t_pop, i64t_prefetch,
                                   i64t_put_at)
from tradeoff.cache._engine cimport Engine, eng_admit, eng_evict, eng_release

cdef extern from "Python.h":
    # the dict as a borrowed PyObject*: no incref/decref of the index on every lookup
    PyObject* PyDict_GetItemWithError(PyObject* d, object key) except? NULL

#: "debug" when built with TRADEOFF_DEBUG=1 (checks on, -O0: not for timing), else "release"
BUILD = "debug" if DEBUG_CHECKS else "release"

cdef object _MISSING = object()

# the most items a cache holds (any larger maxsize is accepted and means "no
# limit below this"): slots and LFU buckets are int32 indexes
MAX_SIZE = (1 << 30)


# ---------------------------------------------------------------- orders

cdef int order_init(Order* o, int kind, Py_ssize_t cap) except -1 nogil:
    o.kind = kind
    o.cap = 0
    o.lst.links = NULL
    o.lst.n = 0
    o.blst.links = NULL
    o.blst.n = 0
    o.bucket_of = NULL
    o.buckets = NULL
    o.bfree = -1
    order_reserve(o, cap)
    dl_ring(&o.lst, 0)
    if kind == POL_LFU:
        dl_ring(&o.blst, 0)
    return 0


cdef void _lfu_free_buckets(Order* o, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    """Push buckets first..last on the free chain (chained through their tail)."""
    cdef Py_ssize_t b = last
    while b >= first:
        o.buckets[b].tail = o.bfree
        o.bfree = <int32_t>b
        b -= 1


cdef int order_reserve(Order* o, Py_ssize_t cap) except -1 nogil:
    """Make room for slots 1..cap (never shrinks)."""
    if cap <= o.cap and o.lst.n > 0:
        return 0
    dl_resize(&o.lst, cap + 1)
    if o.kind == POL_LFU:
        # buckets are 1..cap (an item's bucket holds at least that item); 0 is the
        # sentinel of the bucket list
        mem_resize(<void**>&o.bucket_of, (cap + 1) * sizeof(int32_t))
        mem_resize(<void**>&o.buckets, (cap + 1) * sizeof(Bucket))
        dl_resize(&o.blst, cap + 1)
        _lfu_free_buckets(o, o.cap + 1, cap)
    o.cap = cap
    return 0


cdef void order_free(Order* o) noexcept nogil:
    dl_free(&o.lst)
    dl_free(&o.blst)
    PyMem_RawFree(o.bucket_of)
    PyMem_RawFree(o.buckets)
    o.bucket_of = NULL
    o.buckets = NULL
    o.cap = 0


cdef void order_clear(Order* o) noexcept nogil:
    dl_ring(&o.lst, 0)
    if o.kind == POL_LFU:
        dl_ring(&o.blst, 0)
        o.bfree = -1
        _lfu_free_buckets(o, 1, o.cap)


cdef Py_ssize_t order_nbytes(const Order* o) noexcept nogil:
    cdef Py_ssize_t n = dl_nbytes(&o.lst)
    if o.kind == POL_LFU:
        n += dl_nbytes(&o.blst) + (o.cap + 1) * <Py_ssize_t>(sizeof(int32_t) + sizeof(Bucket))
    return n


cdef inline void _lfu_new_bucket(Order* o, int64_t count, int32_t x, int32_t after) noexcept nogil:
    """A bucket of count holding x alone, placed after bucket ``after`` (0: first)."""
    cdef int32_t b = o.bfree
    DEBUG_ASSERT(b >= 1, "LFU: a free bucket is left")
    o.bfree = o.buckets[b].tail
    o.buckets[b].count = count
    o.buckets[b].head = x
    o.buckets[b].tail = x
    o.bucket_of[x] = b
    dl_insert_after(&o.blst, after, b)


cdef inline void _lfu_detach(Order* o, int32_t x) noexcept nogil:
    """Take x out of its bucket's bounds (not out of the list); free an emptied bucket."""
    cdef int32_t b = o.bucket_of[x]
    if o.buckets[b].head == x:
        if o.buckets[b].tail == x:
            dl_unlink(&o.blst, b)
            o.buckets[b].tail = o.bfree
            o.bfree = b
        else:
            o.buckets[b].head = o.lst.links[x].next
    elif o.buckets[b].tail == x:
        o.buckets[b].tail = o.lst.links[x].prev


cdef inline void _lfu_insert(Order* o, int32_t x) noexcept nogil:
    cdef int32_t b = o.blst.links[0].next
    if b != 0 and o.buckets[b].count == 1:
        dl_insert_after(&o.lst, o.buckets[b].tail, x)
        o.buckets[b].tail = x
        o.bucket_of[x] = b
        return
    dl_insert_after(&o.lst, 0, x)
    _lfu_new_bucket(o, 1, x, 0)


cdef inline void _lfu_touch(Order* o, int32_t x) noexcept nogil:
    cdef int32_t b = o.bucket_of[x]
    cdef int64_t c = o.buckets[b].count
    cdef int32_t t = o.buckets[b].tail
    cdef int32_t nb = o.blst.links[b].next      # the bucket of the next higher count
    if DEBUG_CHECKS and nb != 0:
        DEBUG_ASSERT(o.buckets[nb].count > c, "LFU: buckets run in ascending count")
    if nb != 0 and o.buckets[nb].count == c + 1:
        # join the next bucket as its most recent item
        _lfu_detach(o, x)
        dl_unlink(&o.lst, x)
        dl_insert_after(&o.lst, o.buckets[nb].tail, x)
        o.buckets[nb].tail = x
        o.bucket_of[x] = nb
    elif o.buckets[b].head == x and t == x:
        # alone in its bucket and no bucket c+1: count up in place
        o.buckets[b].count = c + 1
    else:
        # a new bucket c+1 right after this one's run
        _lfu_detach(o, x)
        if x != t:
            dl_unlink(&o.lst, x)
            dl_insert_after(&o.lst, t, x)
        _lfu_new_bucket(o, c + 1, x, b)


cdef inline void order_insert(Order* o, int32_t x) noexcept nogil:
    """x becomes the newest item (LFU: count 1)."""
    if o.kind == POL_LFU:
        _lfu_insert(o, x)
    else:
        dl_insert_before(&o.lst, 0, x)


cdef inline void order_touch(Order* o, int32_t x) noexcept nogil:
    """x was used: a hit or an overwrite."""
    if o.kind == POL_LRU:
        dl_move_before(&o.lst, 0, x)
    elif o.kind == POL_LFU:
        _lfu_touch(o, x)


cdef inline void order_remove(Order* o, int32_t x) noexcept nogil:
    if o.kind == POL_LFU:
        _lfu_detach(o, x)
    dl_unlink(&o.lst, x)


cdef inline int32_t order_victim(const Order* o) noexcept nogil:
    """The next item to evict, 0 when empty."""
    DEBUG_ASSERT(o.lst.links[0].next <= o.cap, "order: the victim is a slot <= cap")
    return o.lst.links[0].next


cdef list _order_slots(const Order* o):
    cdef list out = []
    cdef int32_t x = o.lst.links[0].next
    while x != 0:
        out.append(x)
        x = o.lst.links[x].next
    return out


cdef int _order_check(const Order* o, Py_ssize_t size) except -1:
    """Links are mutual, the list holds ``size`` slots, LFU runs are sorted buckets."""
    cdef int32_t x = 0, nxt
    cdef Py_ssize_t n = 0
    cdef int32_t b, prev_b = -1
    cdef int64_t prev_count = 0
    while True:
        nxt = o.lst.links[x].next
        assert 0 <= nxt <= o.cap, f"link out of range: {x} -> {nxt}"
        assert o.lst.links[nxt].prev == x, f"broken back link at {nxt}"
        x = nxt
        if x == 0:
            break
        n += 1
        assert n <= size, "list longer than the cache"
        if o.kind == POL_LFU:
            b = o.bucket_of[x]
            if b != prev_b:
                assert o.blst.links[prev_b if prev_b >= 0 else 0].next == b, \
                    f"bucket list out of step at bucket {b}"
                assert o.buckets[b].head == x, f"bucket {b} does not start at {x}"
                if prev_b >= 0:
                    assert o.buckets[prev_b].tail == o.lst.links[x].prev, f"bucket {prev_b} does not end before {x}"
                    assert o.buckets[b].count > prev_count, "LFU buckets out of order"
                assert o.buckets[b].count >= 1
                prev_b = b
                prev_count = o.buckets[b].count
    assert n == size, f"list holds {n} items, cache says {size}"
    if o.kind == POL_LFU:
        assert o.blst.links[prev_b if prev_b >= 0 else 0].next == 0, "bucket list longer than the runs"
        if prev_b >= 0:
            assert o.buckets[prev_b].tail == o.lst.links[0].prev, "last bucket does not end at the tail"
    return 0


# ---------------------------------------------------------------- mappings

def _check_maxsize(maxsize):
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise TypeError(f"maxsize must be an int, got {maxsize!r}")
    if maxsize < 1:
        raise ValueError(f"maxsize must be > 0, got {maxsize}")
    if maxsize > PY_SSIZE_T_MAX:
        raise ValueError(f"maxsize must be <= {PY_SSIZE_T_MAX}, got {maxsize}")
    return maxsize


cdef int _miss(_Cache c, object key) except -1:
    """Count a miss and raise KeyError (kept out of line: the hit path stays small)."""
    c.misses += 1
    raise KeyError(key)


@cython.final
@cython.freelist(32)
cdef class _Node:
    """One cached item: its key, its value and its slot in the eviction order."""
    pass


@cython.no_gc_clear
cdef class _Cache:
    """Shared machinery of the mapping caches: a dict from key to node, nodes by
    slot, and an eviction order over the slots."""

    def __cinit__(self, *args, **kwargs):
        self.index = {}
        self.keys = [None]
        self.nodes = NULL
        self.size = 0
        self.fresh = 1
        self.free_head = 0
        self.hits = 0
        self.misses = 0
        self.order.lst.links = NULL

    def __dealloc__(self):
        order_free(&self.order)
        PyMem_RawFree(self.nodes)

    cdef int _setup(self, int kind, object maxsize) except -1:
        if self.order.lst.links != NULL:
            raise RuntimeError(f"{type(self).__name__} is already initialized")
        self._maxsize = _check_maxsize(maxsize)
        order_init(&self.order, kind, min(self._maxsize, 8))
        mem_resize(<void**>&self.nodes, (self.order.cap + 1) * sizeof(PyObject*))
        return 0

    @property
    def maxsize(self):
        """The most items the cache holds."""
        return self._maxsize

    # -- hooks (overridden by the TTL cache)
    cdef int _purge(self) except -1:
        return 0

    cdef int _on_store(self, Py_ssize_t slot, bint new) except -1:
        return 0

    cdef int _on_drop(self, Py_ssize_t slot) except -1:
        return 0

    cdef int _on_clear(self) except -1:
        return 0

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = min(max(2 * self.order.cap, 8), self._maxsize, MAX_SIZE)
        if cap <= self.order.cap:
            raise OverflowError(f"a cache holds at most {MAX_SIZE} items")
        order_reserve(&self.order, cap)
        mem_resize(<void**>&self.nodes, (cap + 1) * sizeof(PyObject*))
        return 0

    # -- core operations
    cdef int _remove(self, Py_ssize_t slot) except -1:
        """Drop the item in slot from every structure and free the slot."""
        cdef int32_t s = <int32_t>slot
        cdef _Node node = <_Node>self.nodes[slot]
        del self.index[self.keys[slot]]
        self.keys[slot] = None
        self.nodes[slot] = NULL
        order_remove(&self.order, s)
        self._on_drop(slot)
        self.order.lst.links[s].next = self.free_head
        self.free_head = s
        self.size -= 1
        return 0

    cdef int _store(self, object key, object value) except -1:
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        cdef _Node node
        cdef Py_ssize_t slot
        cdef object old_key, old_value
        if found != NULL:
            node = <_Node>found
            # the old value is released when this function returns, after every
            # structure is consistent again: its __del__ may use the cache
            old_value = node.value
            node.value = value
            order_touch(&self.order, node.slot)
            self._on_store(node.slot, False)
            return 0
        if self.size >= self._maxsize:
            # reuse the victim's node and slot for the new key
            slot = order_victim(&self.order)
            node = <_Node>self.nodes[slot]
            old_key = self.keys[slot]
            old_value = node.value          # released on return, as above
            self.index[key] = node          # first, so that a failure changes nothing
            del self.index[old_key]
            self.keys[slot] = key
            node.value = value
            order_remove(&self.order, <int32_t>slot)
            self._on_drop(slot)
            order_insert(&self.order, <int32_t>slot)
            self._on_store(slot, True)
            return 0
        if self.free_head != 0:
            slot = self.free_head
        else:
            if self.fresh > self.order.cap:
                self._grow()
            slot = self.fresh
        node = _Node.__new__(_Node)
        node.value = value
        node.slot = <int32_t>slot
        self.index[key] = node
        if slot == self.free_head:
            self.free_head = self.order.lst.links[slot].next
            self.keys[slot] = key
        else:
            self.fresh += 1
            self.keys.append(key)
        self.nodes[slot] = <PyObject*>node
        order_insert(&self.order, <int32_t>slot)
        self._on_store(slot, True)
        self.size += 1
        return 0

    cdef list _slots(self):
        return _order_slots(&self.order)

    # -- the mapping protocol
    def __getitem__(self, key):
        if self.timed:
            self._purge()
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            _miss(self, key)
        self.hits += 1
        order_touch(&self.order, (<_Node>found).slot)
        return (<_Node>found).value

    def get(self, key, default=None):
        """Return the value for key (a use: counts a hit) or default (counts a miss)."""
        if self.timed:
            self._purge()
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            self.misses += 1
            return default
        self.hits += 1
        order_touch(&self.order, (<_Node>found).slot)
        return (<_Node>found).value

    def peek(self, key, default=_MISSING):
        """Return the value for key without counting a use or changing the order."""
        if self.timed:
            self._purge()
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return (<_Node>found).value

    def __setitem__(self, key, value):
        if self.timed:
            self._purge()
        self._store(key, value)

    def __delitem__(self, key):
        if self.timed:
            self._purge()
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            raise KeyError(key)
        self._remove((<_Node>found).slot)

    def pop(self, key, default=_MISSING):
        """Remove key and return its value, or default; KeyError without a default."""
        if self.timed:
            self._purge()
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            if default is _MISSING:
                raise KeyError(key)
            return default
        value = (<_Node>found).value
        self._remove((<_Node>found).slot)
        return value

    def popitem(self):
        """Remove and return the next victim as (key, value); KeyError when empty."""
        if self.timed:
            self._purge()
        cdef Py_ssize_t slot = order_victim(&self.order)
        if slot == 0:
            raise KeyError("popitem(): cache is empty")
        cdef _Node node = <_Node>self.nodes[slot]
        item = (self.keys[slot], node.value)
        self._remove(slot)
        return item

    def __contains__(self, key):
        if self.timed:
            self._purge()
        return PyDict_GetItemWithError(<PyObject*>self.index, key) != NULL

    def __len__(self):
        if self.timed:
            self._purge()
        return self.size

    def __iter__(self):
        """Keys in eviction order (next victim first), from a snapshot."""
        if self.timed:
            self._purge()
        keys = self.keys
        return iter([keys[s] for s in self._slots()])

    def _items(self):
        """(key, value) pairs in eviction order, without counting uses."""
        if self.timed:
            self._purge()
        cdef _Node node
        out = []
        for s in self._slots():
            node = <_Node>self.nodes[<Py_ssize_t>s]
            out.append((self.keys[s], node.value))
        return out

    def clear(self):
        """Remove every item (hits and misses are kept)."""
        cdef Py_ssize_t s
        # empty every structure first; the items are released last, by the index's
        # clear(), which empties the dict before it drops what it held (a value's
        # __del__ may use the cache). The index stays the same dict: a lookup in
        # progress (a key's __eq__ may call clear()) never sees it freed.
        old_keys = self.keys
        self.keys = [None]
        for s in range(1, self.fresh):
            self.nodes[s] = NULL
        order_clear(&self.order)
        self._on_clear()
        self.size = 0
        self.fresh = 1
        self.free_head = 0
        self.index.clear()

    def _check(self):
        """Assert the internal invariants: list links, index, nodes and slots agree."""
        cdef _Node node
        _order_check(&self.order, self.size)
        slots = self._slots()
        assert len(self.index) == self.size, f"index has {len(self.index)} keys, size {self.size}"
        assert self.size <= self._maxsize
        for s in slots:
            assert self.nodes[<Py_ssize_t>s] != NULL, f"slot {s} is in the order but has no node"
            node = <_Node>self.nodes[<Py_ssize_t>s]
            assert node.slot == s, f"node of slot {s} says slot {node.slot}"
            assert self.index.get(self.keys[s]) is node, f"slot {s} and the index disagree"
        seen = set(slots)
        assert len(seen) == len(slots)
        s = self.free_head
        nfree = 0
        while s != 0:
            assert s not in seen, f"slot {s} is both free and used"
            assert self.nodes[<Py_ssize_t>s] == NULL, f"free slot {s} still has a node"
            nfree += 1
            assert nfree <= self.fresh
            s = self.order.lst.links[<Py_ssize_t>s].next
        assert self.size + nfree == self.fresh - 1, "a slot was lost"
        assert len(self.keys) == self.fresh, "keys and slots disagree"

    def __repr__(self):
        items = ", ".join(f"{k!r}: {v!r}" for k, v in self._items())
        return f"{type(self).__name__}({{{items}}}, maxsize={self._maxsize})"

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__} objects")


@cython.final
@cython.no_gc
@cython.freelist(32)
cdef class _LNode:
    """One item of an LRU cache: key, value and its two recency links.

    Not tracked by the garbage collector, so that a node is 48 bytes as lru-dict's
    are (the collector's header would make it 64 and a hit would touch one more
    line): the cache reports its nodes' keys and values to the collector instead
    (``_lru_traverse``), so that a cycle through a value is still collected."""
    pass


cdef inline void _ln_unlink(PyObject* x) noexcept:
    cdef PyObject* p = (<_LNode>x).prev
    cdef PyObject* n = (<_LNode>x).next
    (<_LNode>p).next = n
    (<_LNode>n).prev = p


cdef inline void _ln_append(PyObject* root, PyObject* x) noexcept:
    """Link x in as the newest item, just before the root."""
    cdef PyObject* t = (<_LNode>root).prev
    (<_LNode>x).prev = t
    (<_LNode>x).next = root
    (<_LNode>t).next = x
    (<_LNode>root).prev = x


cdef inline void _ln_touch(PyObject* root, PyObject* x) noexcept:
    """x was used: it becomes the newest item."""
    if (<_LNode>root).prev != x:
        _ln_unlink(x)
        _ln_append(root, x)


cdef extern from "Python.h":
    # the collector's callbacks, declared here without an exception value so that
    # _lru_traverse can stand in the type's slot
    ctypedef int (*_visitproc "visitproc")(PyObject*, void*) noexcept
    ctypedef int (*_traverseproc "traverseproc")(PyObject*, _visitproc, void*) noexcept
    ctypedef struct _TraverseSlot "PyTypeObject":
        _traverseproc tp_traverse
    int PyDict_Next(PyObject* d, Py_ssize_t* pos, PyObject** key, PyObject** value) noexcept
    # the value stored for key, after storing default under it if key was absent
    # (one probe); borrowed
    PyObject* PyDict_SetDefault(PyObject* d, object key, object default) except NULL
    Py_ssize_t PyDict_GET_SIZE(PyObject* d) noexcept
    bint PyLong_CheckExact(object o) noexcept
    bint PyUnicode_CheckExact(object o) noexcept
    bint PyBytes_CheckExact(object o) noexcept
    bint PyFloat_CheckExact(object o) noexcept


cdef inline bint _plain_key(object key) noexcept:
    """An exact int, str, bytes or float: comparing it with any key of these types
    runs no Python code."""
    return PyLong_CheckExact(key) or PyUnicode_CheckExact(key) or PyBytes_CheckExact(key) or PyFloat_CheckExact(key)


cdef class _LRU(_Cache):
    """The LRU mapping keeps its own pointer-linked list instead of the shared
    slot order: each node carries its links, as lru-dict's do, so that a hit
    reads the node and writes its neighbours and nothing else. (The slot order
    kept the links in an array apart from the node: one more cache line per hit.)
    The hit is then as lean as lru-dict's; most of it is the dict lookup both make."""

    def __cinit__(self, *args, **kwargs):
        self.root = _LNode.__new__(_LNode)
        self.root.prev = <PyObject*>self.root
        self.root.next = <PyObject*>self.root
        self._maxsize = 0
        self.plain = True

    def __init__(self, maxsize):
        if self._maxsize != 0:
            raise RuntimeError(f"{type(self).__name__} is already initialized")
        self._maxsize = _check_maxsize(maxsize)

    def __getitem__(self, key):
        # the hottest path of all
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            _miss(self, key)
        self.hits += 1
        _ln_touch(<PyObject*>self.root, found)
        return (<_LNode>found).value

    def get(self, key, default=None):
        """Return the value for key (a use: counts a hit) or default (counts a miss)."""
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            self.misses += 1
            return default
        self.hits += 1
        _ln_touch(<PyObject*>self.root, found)
        return (<_LNode>found).value

    def peek(self, key, default=_MISSING):
        """Return the value for key without counting a use or changing the order."""
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return (<_LNode>found).value

    def __setitem__(self, key, value):
        self._store(key, value)

    cdef int _store(self, object key, object value) except -1:
        cdef PyObject* root = <PyObject*>self.root
        cdef _LNode node, held
        cdef PyObject* found
        cdef object old_value
        cdef object old_key
        cdef Py_ssize_t before
        cdef PyObject* made = NULL          # the node this call made, if it made one
        if self._maxsize == 0:
            raise RuntimeError(f"{type(self).__name__} is not initialized: call __init__")
        if self.size >= self._maxsize and self.plain and _plain_key(key):
            # full, and every key is plain, so that no probe runs Python code: one
            # probe (setdefault) both looks key up and, if it is absent, files the
            # victim's node under it, the node then reused for key
            node = <_LNode>(<_LNode>root).next
            before = PyDict_GET_SIZE(<PyObject*>self.index)
            found = PyDict_SetDefault(<PyObject*>self.index, key, node)
            if PyDict_GET_SIZE(<PyObject*>self.index) != before:
                old_key = node.key          # both released on return, as below
                old_value = node.value
                del self.index[old_key]
                node.key = key
                node.value = value
                _ln_touch(root, <PyObject*>node)
                return 0
            # else key is present (maybe as the victim's): an overwrite
        else:
            # a probe may run a key's __eq__, which may use this cache: look key up
            # first, deciding nothing before it returns; then file a new node under
            # it with setdefault, which keeps an equal key that such an __eq__ stored
            # meanwhile (then an overwrite of it)
            if not _plain_key(key):
                self.plain = False
            found = PyDict_GetItemWithError(<PyObject*>self.index, key)
            if found == NULL:
                node = _LNode.__new__(_LNode)
                made = <PyObject*>node
                found = PyDict_SetDefault(<PyObject*>self.index, key, node)
        if found != made:
            # key is present: an overwrite, which is a use. The old value is released
            # when this function returns, once all is consistent (its __del__ may use
            # the cache).
            held = <_LNode>found
            old_value = held.value
            held.value = value
            _ln_touch(root, found)
            return 0
        node.key = key
        node.value = value
        _ln_append(root, <PyObject*>node)
        self.size += 1
        while self.size > self._maxsize:
            self._drop((<_LNode>root).next)
        return 0

    cdef int _drop(self, PyObject* x) except -1:
        """Remove the item of node x from the index and the list."""
        cdef _LNode node = <_LNode>x        # keeps the node alive past its index entry
        # first, so that a failure changes nothing (the key's __eq__ may run, and
        # may use the cache)
        del self.index[node.key]
        if node.next == NULL:
            return 0                        # that __eq__ removed the node already
        _ln_unlink(x)
        node.prev = NULL                    # marks a node out of the list
        node.next = NULL
        self.size -= 1
        return 0

    def __delitem__(self, key):
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            raise KeyError(key)
        self._drop(found)

    def pop(self, key, default=_MISSING):
        """Remove key and return its value, or default; KeyError without a default."""
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self.index, key)
        if found == NULL:
            if default is _MISSING:
                raise KeyError(key)
            return default
        value = (<_LNode>found).value
        self._drop(found)
        return value

    def popitem(self):
        """Remove and return the least recent item as (key, value); KeyError when empty."""
        cdef PyObject* x = self.root.next
        if x == <PyObject*>self.root:
            raise KeyError("popitem(): cache is empty")
        item = ((<_LNode>x).key, (<_LNode>x).value)
        self._drop(x)
        return item

    def __iter__(self):
        """Keys in eviction order (least recent first), from a snapshot."""
        cdef PyObject* root = <PyObject*>self.root
        cdef PyObject* x = self.root.next
        cdef list out = []
        while x != root:
            out.append((<_LNode>x).key)
            x = (<_LNode>x).next
        return iter(out)

    def _items(self):
        """(key, value) pairs in eviction order, without counting uses."""
        cdef PyObject* root = <PyObject*>self.root
        cdef PyObject* x = self.root.next
        cdef list out = []
        while x != root:
            out.append(((<_LNode>x).key, (<_LNode>x).value))
            x = (<_LNode>x).next
        return out

    def clear(self):
        """Remove every item (hits and misses are kept)."""
        # empty every structure first; the items are released last, as the base
        # class's clear() does
        cdef PyObject* root = <PyObject*>self.root
        cdef PyObject* x = self.root.next
        cdef PyObject* nxt
        while x != root:                    # mark each node out of the list
            nxt = (<_LNode>x).next
            (<_LNode>x).prev = NULL
            (<_LNode>x).next = NULL
            x = nxt
        self.root.prev = root
        self.root.next = root
        self.size = 0
        self.plain = True
        self.index.clear()

    def _check(self):
        """Assert the internal invariants: the links are mutual and the list and the
        index hold the same nodes."""
        cdef PyObject* root = <PyObject*>self.root
        cdef PyObject* prev = root
        cdef PyObject* x = self.root.next
        cdef Py_ssize_t n = 0
        while x != root:
            assert (<_LNode>x).prev == prev, f"broken back link at item {n}"
            n += 1
            assert n <= self.size, "list longer than the cache"
            assert self.index.get((<_LNode>x).key) is <object>x, f"item {n} and the index disagree"
            prev = x
            x = (<_LNode>x).next
        assert self.root.prev == prev, "the root's back link is not the newest item"
        assert n == self.size, f"list holds {n} items, cache says {self.size}"
        assert len(self.index) == self.size, f"index has {len(self.index)} keys, size {self.size}"
        assert self.size <= self._maxsize


# the traversal Cython generated for _LRU (the index and the root), extended below
cdef _traverseproc _lru_fields_traverse = (<_TraverseSlot*>_LRU).tp_traverse


cdef int _lru_traverse(PyObject* o, _visitproc visit, void* arg) noexcept:
    """Report to the collector, beside the cache's own fields, the key and value that
    each node holds (nodes are untracked). The nodes are read from the index, which
    owns them, not from the list: if the collector has cleared the index, there is
    nothing left to report."""
    cdef int r = _lru_fields_traverse(o, visit, arg)
    cdef PyObject* index = <PyObject*>(<_Cache>o).index
    cdef PyObject* k
    cdef PyObject* v
    cdef Py_ssize_t pos = 0
    if r != 0 or type(<object>index) is not dict:
        return r
    while PyDict_Next(index, &pos, &k, &v):
        r = visit(<PyObject*>(<_LNode>v).key, arg)
        if r != 0:
            return r
        r = visit(<PyObject*>(<_LNode>v).value, arg)
        if r != 0:
            return r
    return 0


(<_TraverseSlot*>_LRU).tp_traverse = _lru_traverse


cdef class _FIFO(_Cache):
    def __init__(self, maxsize):
        self._setup(POL_FIFO, maxsize)


cdef class _LFU(_Cache):
    def __init__(self, maxsize):
        self._setup(POL_LFU, maxsize)


cdef class _TTL(_Cache):
    def __cinit__(self, *args, **kwargs):
        self.exp.links = NULL
        self.exp.n = 0
        self.expires = NULL

    def __init__(self, maxsize, ttl, timer=time.monotonic):
        if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real):
            raise TypeError(f"ttl must be a number of seconds, got {ttl!r}")
        if not (ttl > 0) or not math.isfinite(ttl):
            raise ValueError(f"ttl must be > 0 and finite, got {ttl!r}")
        if not callable(timer):
            raise TypeError(f"timer must be callable, got {timer!r}")
        self._setup(POL_LRU, maxsize)
        self._ttl = float(ttl)
        self._timer = timer
        # time.monotonic is clock_gettime(CLOCK_MONOTONIC) on POSIX: read it
        # directly, with the same conversion to float seconds
        self.native_clock = timer is time.monotonic and time.get_clock_info("monotonic").implementation == "clock_gettime(CLOCK_MONOTONIC)"
        self.timed = True
        dl_resize(&self.exp, self.order.cap + 1)
        mem_resize(<void**>&self.expires, (self.order.cap + 1) * sizeof(double))
        dl_ring(&self.exp, 0)

    def __dealloc__(self):
        dl_free(&self.exp)
        PyMem_RawFree(self.expires)

    @property
    def ttl(self):
        """Seconds an item lives after its insert or last overwrite."""
        return self._ttl

    @property
    def timer(self):
        return self._timer

    cdef int _grow(self) except -1:
        _Cache._grow(self)
        dl_resize(&self.exp, self.order.cap + 1)
        mem_resize(<void**>&self.expires, (self.order.cap + 1) * sizeof(double))
        return 0

    cdef int _purge(self) except -1:
        """Read the timer once and drop every expired item (oldest set first)."""
        cdef int32_t s
        cdef timespec ts
        if self.native_clock:
            clock_gettime(CLOCK_MONOTONIC, &ts)
            self.now = <double>(<int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec) / 1e9
        else:
            self.now = self._timer()
        s = self.exp.links[0].next
        while s != 0 and self.now >= self.expires[s]:
            self._remove(s)
            s = self.exp.links[0].next
        return 0

    cdef int _on_store(self, Py_ssize_t slot, bint new) except -1:
        cdef int32_t s = <int32_t>slot
        self.expires[s] = self.now + self._ttl
        if new:
            dl_insert_before(&self.exp, 0, s)
        else:
            dl_move_before(&self.exp, 0, s)
        return 0

    cdef int _on_drop(self, Py_ssize_t slot) except -1:
        dl_unlink(&self.exp, <int32_t>slot)
        return 0

    cdef int _on_clear(self) except -1:
        dl_ring(&self.exp, 0)
        return 0

    def _check(self):
        _Cache._check(self)
        cdef int32_t s = self.exp.links[0].next
        cdef Py_ssize_t n = 0
        cdef double last = -float("inf")
        while s != 0:
            assert self.exp.links[self.exp.links[s].next].prev == s, "broken expiry link"
            assert self.expires[s] >= last, "expiry list out of order"
            assert self.nodes[s] != NULL, "expiry list holds a removed slot"
            last = self.expires[s]
            n += 1
            s = self.exp.links[s].next
        assert n == self.size, f"expiry list holds {n} items, cache {self.size}"


# ---------------------------------------------------------------- replay

_POLICIES = {"lru": POL_LRU, "fifo": POL_FIFO, "lfu": POL_LFU}


cdef int _replay_kernel(const int64_t[::1] trace, Order* o, I64Table* t, int64_t* slot_key,
                        Py_ssize_t capacity, Py_ssize_t* hits_out) except -1 nogil:
    """Replay every key: a hit is a use, a miss inserts the key (evicting when full)."""
    cdef Py_ssize_t i, n = trace.shape[0], hits = 0, used = 0
    cdef Py_ssize_t ahead = n - PREFETCH_DISTANCE
    cdef int64_t key, slot
    cdef int32_t victim
    cdef uint64_t pos
    for i in range(n):
        if i < ahead:
            i64t_prefetch(t, trace[i + PREFETCH_DISTANCE])
        key = trace[i]
        slot = i64t_find(t, key, &pos)
        if slot >= 0:
            hits += 1
            order_touch(o, <int32_t>slot)
            continue
        if used < capacity:
            used += 1
            slot = used
            i64t_put_at(t, pos, key, slot)
        else:
            # the new key goes in first, where the probe left off (the table has
            # room for capacity + 1), then the victim's key leaves
            slot = order_victim(o)
            DEBUG_ASSERT(slot >= 1, "replay: a full cache has a victim")
            i64t_put_at(t, pos, key, slot)
            i64t_pop(t, slot_key[slot])
            order_remove(o, <int32_t>slot)
            # the next victim is known now: start loading its bucket, which the
            # next miss (a few requests away) will remove
            victim = order_victim(o)
            i64t_prefetch(t, slot_key[victim])
        slot_key[slot] = key
        order_insert(o, <int32_t>slot)
    hits_out[0] = hits
    return 0


def replay_fast(const int64_t[::1] keys, int kind, Py_ssize_t cap):
    """The plain LRU/FIFO/LFU replay (every size 1, no expiry): one loop
    specialized for the array-backed orders. ``cap`` is at most the number of
    requests (checked by the caller). Returns (hits, memory bytes)."""
    cdef Order o
    cdef I64Table t
    cdef int64_t* slot_key = NULL
    cdef Py_ssize_t hits = 0, nbytes
    t.buckets = NULL
    order_init(&o, kind, cap)
    try:
        i64t_init(&t, cap + 1)
        mem_resize(<void**>&slot_key, (cap + 1) * sizeof(int64_t))
        nbytes = order_nbytes(&o) + i64t_nbytes(&t) + (cap + 1) * <Py_ssize_t>sizeof(int64_t)
        with nogil:
            _replay_kernel(keys, &o, &t, slot_key, cap, &hits)
    finally:
        order_free(&o)
        i64t_free(&t)
        PyMem_RawFree(slot_key)
    return hits, nbytes


cdef class OrderEngine(Engine):
    """LRU, FIFO or LFU as a replay engine, for replays with object sizes or
    expiry (the plain case runs in :func:`replay_fast`). The order is the same
    array-backed list as the mapping classes'; eviction takes the order's head
    until the new object fits."""
    cdef Order order

    def __cinit__(self):
        self.order.lst.links = NULL
        self.order.bucket_of = NULL
        self.order.buckets = NULL
        self.order.blst.links = NULL

    def __init__(self, int64_t capacity, Py_ssize_t slots, bint sized, *, str kind):
        if kind not in _POLICIES:
            raise ValueError(f"unknown order {kind!r}")
        self._base_init(capacity, slots, slots, sized)
        order_init(&self.order, _POLICIES[kind], slots)

    def __dealloc__(self):
        order_free(&self.order)

    cdef bint hit(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_get(&self.index, key)
        if s < 0:
            return False
        order_touch(&self.order, <int32_t>s)
        return True

    cdef void insert(self, int64_t key, int64_t size) noexcept nogil:
        cdef int32_t v
        while self.used + size > self.capacity or self.resident == self.nslots:
            v = order_victim(&self.order)
            order_remove(&self.order, v)
            eng_evict(self, v)
        order_insert(&self.order, eng_admit(self, key, size))

    cdef bint remove(self, int64_t key) noexcept nogil:
        cdef int64_t s = i64t_pop(&self.index, key)
        if s < 0:
            return False
        order_remove(&self.order, <int32_t>s)
        eng_release(self, <int32_t>s)
        return True

    cdef Py_ssize_t nbytes(self) noexcept:
        return Engine.nbytes(self) + order_nbytes(&self.order)

    def _resident(self):
        """Resident keys in eviction order, the next victim first."""
        return [self.skey[s] for s in _order_slots(&self.order)]

    def _check(self):
        _order_check(&self.order, self.resident)
        cdef int64_t total = 0
        for s in _order_slots(&self.order):
            assert i64t_get(&self.index, self.skey[s]) == s, "index out of step with the order"
            total += self.ssize[s]
        assert total == self.used, f"sizes add up to {total}, used says {self.used}"
        assert self.used <= self.capacity
        assert self.index.size == self.resident
