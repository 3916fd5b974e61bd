# The B+tree behind tradeoff.index.BTree: Int64BTree (int64 keys stored unboxed)
# and ObjectBTree (any totally ordered Python keys), on one node layout.
#
# Contract: a node is one raw block (the Node header, then its arrays); leaves hold
# owned references to their values, and in an ObjectBTree owned references to
# their keys; internal nodes of an ObjectBTree own a reference to each separator.
# Separator i of an internal node bounds its children: every key under kids[i]
# is < keys[i] <= every key under kids[i + 1].
from libc.stdint cimport int64_t, int32_t
from cpython.object cimport PyObject


cdef union Key:
    int64_t i               # Int64BTree: the key itself
    PyObject* o             # ObjectBTree: the key object (owned reference)


cdef struct Node:
    int32_t n               # keys in use (leaf: entries; internal: separators, kids = n + 1)
    int32_t leaf            # 1 for a leaf
    Node* next              # leaf chain in key order (NULL at the ends; unused in internal nodes)
    Node* prev
    Key* keys               # node_size + 1 slots: one spare for the insert that precedes a split
    PyObject** vals         # leaf: the values (owned), node_size + 1 slots; NULL in internal nodes
    Node** kids             # internal: the children, node_size + 2 slots; NULL in leaves
    int64_t* counts         # internal: keys under each child (for ranks and count()); NULL in leaves


cdef enum:
    MAX_DEPTH = 64          # path arrays; a tree of height 64 would hold over 2**64 keys


cdef class BTreeBase:
    cdef Node* root         # never NULL after __cinit__; an empty tree is one empty leaf
    cdef Node* first        # leftmost and rightmost leaves (the ends of the leaf chain)
    cdef Node* last
    cdef Py_ssize_t nkeys   # keys stored
    cdef Py_ssize_t nbytes_ # bytes of all nodes (headers and arrays)
    cdef int cap            # node_size: the most keys a node holds between operations
    cdef int min_leaf       # the fewest keys of a non-root leaf: (cap + 1) // 2
    cdef int min_inner      # the fewest separators of a non-root internal node: cap // 2
    cdef int depth_         # levels; 1 when the root is a leaf
    cdef bint objkeys       # ObjectBTree
    cdef size_t version     # bumped by every change of structure (iterators check it)
    cdef int readers        # batch reads running without the GIL; writes refuse meanwhile
    cdef Py_ssize_t stats[10] # structure changes, by kind (see _stats())

    cdef int _setup(self, object node_size, int default, bint objkeys) except -1
    cdef Node* _alloc(self, bint leaf) except NULL
    cdef void _free(self, Node* x) noexcept
    cdef int _writable(self) except -1
    cdef int _key(self, object key, Key* out) except -1
    cdef object _keyobj(self, Key k)
    cdef int _olt(self, PyObject* a, PyObject* b) except -1
    cdef int _osearch(self, const Key* a, int n, PyObject* k, bint upper) except -1
    cdef int _descend(self, Key k, Node** path, int* pidx, int* depth, Node** leaf,
                      bint* found) except -1
    cdef PyObject** _find(self, object key) except? NULL
    cdef Py_ssize_t _locate(self, Key k, bint upper, Node** leaf, int* pos) except -1
    cdef Py_ssize_t _bounds(self, object lo, object hi, object inclusive, Node** sl, int* sp,
                            Node** el, int* ep) except -1
    cdef int _set(self, Key k, object value) except -1
    cdef void _split(self, Node* x, Node** path, int* pidx, int d, Node** spare) noexcept
    cdef PyObject* _spill(self, Node* p, int j, Node* x, Node* sib) noexcept
    cdef object _remove_at(self, Node** path, int* pidx, int d, Node* x, int i)
    cdef void _rebalance(self, Node** path, int* pidx, int d, Node* x, PyObject** drop) noexcept
    cdef int _bulk(self, const Key* keys, object values, Py_ssize_t n, double fill) except -1
    cdef list _list(self, int mode)
    cdef _irange(self, lo, hi, inclusive, reverse, int mode)


cdef class Int64BTree(BTreeBase):
    pass


cdef class ObjectBTree(BTreeBase):
    pass
