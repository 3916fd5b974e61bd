# LRU stack distances in O(log M) per request and O(M) memory (M: distinct keys):
# the typed core of miss-ratio curves (tradeoff.cache.curves).
#
# Bennett and Kruskal (1975): a key's stack distance is 1 + the number of distinct
# keys requested since its previous request. Keep, for every key, the window
# position of its latest request, and a Fenwick tree with a 1 at each of those
# positions: the distance is 1 + the number of marks after the key's previous
# position. Positions run through a window of ``window`` slots; when it is full,
# the live marks (one per key) are renumbered 0..M-1 in order and the tree is
# rebuilt, so the window never has to cover the whole trace.
#
# Contract: sd_init before use, sd_free once (also after a failed sd_init);
# sd_access fails only when memory runs out or the keys exceed SD_MAX_DISTINCT
# (then -1 with MemoryError / ValueError set).
from libc.stdint cimport int32_t, int64_t, uint64_t

from tradeoff._core.table cimport I64Table


cdef extern from *:
    """
    /* keys enter the table XORed with this, so that the table's bucket (the low bits
       of mix64(key ^ SALT)) is unrelated to SHARDS' sampling test (the low 24 bits of
       mix64(key ^ salt)): sampled keys would otherwise crowd the first buckets */
    #define SD_TABLE_SALT ((int64_t)0x9E3779B97F4A7C15ULL)
    """
    const int64_t SD_TABLE_SALT


cdef enum:
    # window positions and key ids are int32 and the window grows to 3 * distinct,
    # so distinct keys stay within 2**29 (512 Mi keys: ~40 GB of state)
    SD_MAX_DISTINCT = (1 << 29)
    SD_MAX_WINDOW = 0x7FFFFFFF


ctypedef struct StackDist:
    I64Table index          # key ^ SD_TABLE_SALT -> its id (0, 1, ... in order of first request)
    int32_t* last           # id -> window position of the key's latest request
    int32_t* owner          # window position -> id of the key requested there (stale
                            # once that key is requested again: last[owner[p]] != p)
    int32_t* tree           # Fenwick tree over positions, 1-based (tree[p + 1] for position p):
                            # tree[i] = marks in positions (i - lowbit(i), i], 1-based
    int64_t* hist           # hist[d] = requests of distance d (0: first request); NULL: not kept
    Py_ssize_t window       # positions in the window (tree has window + 1 entries)
    Py_ssize_t next         # the next free position
    Py_ssize_t distinct     # keys seen so far = marks in the tree
    Py_ssize_t cap          # ids that last (and hist, cap + 1 entries) have room for
    Py_ssize_t compactions  # times the window was renumbered


cdef int sd_init(StackDist* s, Py_ssize_t window, bint keep_hist) except -1 nogil
cdef void sd_free(StackDist* s) noexcept nogil
cdef int sd_compact(StackDist* s) except -1 nogil
cdef int sd_grow_ids(StackDist* s) except -1 nogil
cdef int64_t sd_access(StackDist* s, int64_t key, int64_t ident) except -1 nogil
cdef Py_ssize_t sd_nbytes(const StackDist* s) noexcept nogil


cdef inline int64_t fw_prefix(const int32_t* tree, Py_ssize_t i) noexcept nogil:
    """Marks at 1-based positions 1..i (Fenwick, "A new data structure for cumulative
    frequency tables", Software: Practice and Experience 24(3), 1994)."""
    cdef int64_t total = 0
    while i > 0:
        total += tree[i]
        i &= i - 1
    return total


cdef inline void fw_add(int32_t* tree, Py_ssize_t n, Py_ssize_t i, int32_t v) noexcept nogil:
    """Add v at 1-based position i of a tree over 1..n."""
    while i <= n:
        tree[i] += v
        i += i & -i
