# The cache area's typed core: eviction orders over array-backed lists, the
# mapping classes built on them, and the nogil trace replay kernel.
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t

from tradeoff._core.dlist cimport DList
from tradeoff._core.table cimport I64Table


cdef enum:
    POL_LRU = 0
    POL_FIFO = 1
    POL_LFU = 2


# A run of LFU items sharing one use count.
ctypedef struct Bucket:
    int64_t count               # the use count of every item in the bucket
    int32_t head                # its least recent item
    int32_t tail                # its most recent item; for a free bucket: the next free one


# An eviction order over slots 1..cap. Node 0 of ``lst`` is the sentinel: the
# list runs from the next victim (head) to the safest item (tail). LFU keeps the
# list sorted by (count, last use) and marks each run of equal counts as a bucket.
ctypedef struct Order:
    int kind                    # POL_LRU, POL_FIFO or POL_LFU
    Py_ssize_t cap              # slots allocated: valid slots are 1..cap
    DList lst
    int32_t* bucket_of          # LFU, per slot: the bucket it is in
    Bucket* buckets             # LFU: buckets 1..cap (at most one per item)
    DList blst                  # LFU: the buckets in ascending count (sentinel 0), so
                                # a hit finds the bucket of count + 1 in one step
    int32_t bfree               # LFU: first free bucket, -1 when none


cdef int order_init(Order* o, int kind, Py_ssize_t cap) except -1 nogil
cdef int order_reserve(Order* o, Py_ssize_t cap) except -1 nogil
cdef void order_free(Order* o) noexcept nogil
cdef void order_clear(Order* o) noexcept nogil
cdef Py_ssize_t order_nbytes(const Order* o) noexcept nogil


cdef class _Node:
    cdef object value
    cdef int32_t slot


cdef class _Cache:
    # the fields a hit reads come first, so that they share a cache line
    cdef dict index             # key -> its _Node (the only strong reference to a node)
    cdef readonly unsigned long long hits
    cdef bint timed             # a TTL cache: purge expired items first in every operation
    cdef Order order
    cdef readonly unsigned long long misses
    cdef PyObject** nodes       # slot -> its _Node (borrowed from index); NULL when free
    cdef list keys              # slot -> its key (slot 0 and free slots: None); kept out of
                                # the node so that a node is 48 bytes, as small as lru-dict's
    cdef Py_ssize_t _maxsize
    cdef Py_ssize_t size        # items stored
    cdef Py_ssize_t fresh       # lowest slot never used yet
    cdef int32_t free_head      # freed slots, chained through order.lst.next; 0 = none

    cdef int _setup(self, int kind, object maxsize) except -1
    cdef int _purge(self) except -1
    cdef int _on_store(self, Py_ssize_t slot, bint new) except -1
    cdef int _on_drop(self, Py_ssize_t slot) except -1
    cdef int _on_clear(self) except -1
    cdef int _grow(self) except -1
    cdef int _remove(self, Py_ssize_t slot) except -1
    cdef int _store(self, object key, object value) except -1
    cdef list _slots(self)


# A node of the LRU cache's own list: the recency links sit in the node beside its
# key and value (as in lru-dict), so that a hit touches the node and its two
# neighbours, not a separate array of links. prev/next are borrowed: the index
# holds the only strong reference to a node (the root is held by the cache).
cdef class _LNode:
    cdef object key
    cdef object value
    cdef PyObject* prev         # toward the least recent (the root from the head)
    cdef PyObject* next         # toward the most recent


cdef class _LRU(_Cache):
    cdef _LNode root            # the sentinel: root.next is the next victim, root.prev the newest
    cdef bint plain             # every key stored since the start or the last clear() is an
                                # exact int, str, bytes or float (no Python __eq__ can run)

    cdef int _drop(self, PyObject* node) except -1


cdef class _FIFO(_Cache):
    pass


cdef class _LFU(_Cache):
    pass


cdef class _TTL(_Cache):
    cdef DList exp              # expiry order (sentinel 0): set or overwrite time, oldest first
    cdef double* expires        # slot -> time at which it expires
    cdef double _ttl
    cdef object _timer
    cdef bint native_clock      # the timer is time.monotonic: read the clock in C
    cdef double now             # the timer's reading for the current operation
