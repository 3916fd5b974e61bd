# The packed-key B+tree behind the B-tree indexes of tradeoff.index.Table:
# PackedBTree, whose keys are fixed-width tuples of uint64 words stored unboxed
# and compared lexicographically as unsigned words.
#
# Contract: a node is one raw block (the PNode header, then its arrays). Keys are
# unique. Separator i of an internal node bounds its children: every key under
# kids[i] is < separator i <= every key under kids[i + 1]. Every non-root node is
# non-empty (a leaf holds >= 1 key, an internal node >= 1 child); an internal
# root has >= 2 children. Deletes borrow from or merge with a sibling a node left
# below half (node_size // 2), so trees grown by inserts and deletes stay half full (see the .pyx).
from libc.stdint cimport uint64_t, int32_t


cdef struct PNode:
    int32_t n               # leaf: keys in use; internal: separators (children = n + 1)
    int32_t leaf            # 1 for a leaf
    PNode* next             # leaf chain in key order (NULL at the ends; unused in internal nodes)
    PNode* prev
    uint64_t* keys          # (node_size + 1) * width words: one spare key for the insert before a split
    PNode** kids            # internal: node_size + 2 children; NULL in leaves


# One range of a scan, over prefixes: the scan starts at the first key whose
# first mlo words compare > (slo) or >= (not slo) the lower prefix, and stops
# before the first key whose first mhi words compare > (shi) or >= (not shi) the
# upper prefix. m = 0 compares nothing: equal to every key.
cdef struct PRange:
    int32_t mlo
    int32_t mhi
    int32_t slo
    int32_t shi


cdef enum:
    PMAX_DEPTH = 64         # path arrays of insert and delete
    PMAX_WIDTH = 64         # words per key


cdef class PackedBTree:
    cdef PNode* root        # never NULL after __cinit__; an empty tree is one empty leaf
    cdef PNode* first       # the ends of the leaf chain
    cdef PNode* last
    cdef readonly int width # words per key
    cdef int cap            # node_size: the most keys (leaf) or separators (internal) between operations
    cdef int depth_         # levels; 1 when the root is a leaf
    cdef Py_ssize_t nkeys   # keys stored
    cdef Py_ssize_t nbytes_ # bytes of all nodes
    cdef Py_ssize_t nnodes  # nodes allocated

    cdef PNode* _alloc(self, bint leaf) except NULL
    cdef void _free(self, PNode* x) noexcept
    # the first key (leaf, pos) whose first m words are > (strict) or >= q; (NULL, 0) past the end
    cdef void _seek(self, const uint64_t* q, int m, bint strict, PNode** leaf, int* pos) noexcept nogil
    # 1 when the key was added, 0 when it was there already; MemoryError leaves the tree unchanged
    cdef int _insert(self, const uint64_t* key) except -1
    # 1 when the key was removed, 0 when it was absent
    cdef int _delete(self, const uint64_t* key) noexcept
    # fill the (empty) tree from n sorted keys; MemoryError leaves it empty
    # the last word of the keys in m ranges (2 * width words each), concatenated
    cdef object _scan(self, const PRange* rs, const uint64_t* words, Py_ssize_t m)
    cdef int _bulk(self, const uint64_t* src, Py_ssize_t n, double fill) except -1


cdef class KeyRanges:
    cdef int width          # words per bound (the tree's width)
    cdef Py_ssize_t m       # ranges
    cdef PRange* r          # m ranges
    cdef uint64_t* words    # 2 * width words per range: the lower prefix, then the upper one
