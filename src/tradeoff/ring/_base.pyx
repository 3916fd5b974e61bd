"""The partitioner base class: node bookkeeping, key words and lookups.

Keys may be ``str`` (hashed as UTF-8), ``bytes`` or ``int`` (any value that fits
in 64 bits, signed or unsigned). A key becomes a 64-bit *word*: a string's
XXH64 (seed 0) and an integer's own two's complement bits, unless a subclass
says otherwise (a ring mixes integer keys before placing them; ketama mode
hashes everything with MD5). The subclass turns the word into a node index.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.math cimport isfinite
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

import numpy as np
cimport numpy as cnp

from tradeoff._core.hashing cimport xxh64
from tradeoff._core.checks cimport check_weight

cnp.import_array()


cpdef object int64_keys(object keys, str what="lookup_many"):
    """A 1-d numpy integer array as a contiguous, native-order 64-bit array:
    narrower integers widen, a big-endian array (``'>i8'``) is byte-swapped,
    unsigned stays unsigned. Other dtypes or shapes raise a clear error."""
    cdef cnp.ndarray arr = keys
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} takes an integer array (or a list of str keys), not dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{what} takes a one-dimensional array")
    if arr.dtype.itemsize != 8 or not arr.dtype.isnative:
        arr = arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64)
    return np.ascontiguousarray(arr)


def _xxh64(data, uint64_t seed=0):
    """XXH64 of a bytes-like object (exposed for tests and docs)."""
    cdef const unsigned char[::1] view = memoryview(bytes(data)).cast("B")
    if view.shape[0] == 0:
        return xxh64(<const unsigned char*>b"", 0, seed)
    return xxh64(&view[0], view.shape[0], seed)


cdef class Partitioner:
    """Base of every partitioner: maps keys to node names.

    ``nodes`` is a sequence of distinct strings, or a mapping of name to weight
    (weights are finite and >= 0; a partitioner that ignores weights says so).
    ``lookup(key)`` returns the node's name; ``lookup_many(keys)`` returns the
    node *indexes* (into ``nodes``) of a numpy integer array (in a loop without
    the GIL) or of a list of str/bytes keys.
    """

    def __init__(self, nodes, weights=None):
        self._names = []
        self._index = {}
        self._weights = []
        if isinstance(nodes, str) or isinstance(nodes, bytes):
            raise TypeError("nodes must be a list of names (or a name -> weight mapping), not a single string")
        if hasattr(nodes, "items"):
            if weights is not None:
                raise TypeError("give weights either in the nodes mapping or as weights=, not both")
            pairs = list(nodes.items())
        else:
            names = list(nodes)
            if weights is None:
                ws = [1.0] * len(names)
            else:
                ws = list(weights)
                if len(ws) != len(names):
                    raise ValueError(f"{len(names)} nodes but {len(ws)} weights")
            pairs = list(zip(names, ws))
        if not pairs:
            raise ValueError(f"{type(self).__name__} needs at least one node")
        for name, w in pairs:
            self._append(name, w)
        self._rebuild()

    cdef _append(self, name, weight):
        if not isinstance(name, str):
            raise TypeError(f"node names are strings, got {name!r}")
        if name in self._index:
            raise ValueError(f"node {name!r} is already in the {type(self).__name__}")
        cdef double w = check_weight(weight, f"node {name!r}")
        self._index[name] = len(self._names)
        self._names.append(name)
        self._weights.append(w)

    # ------------------------------------------------------------ the contract
    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil:
        return -1

    cdef uint64_t _word_bytes(self, const unsigned char* p, Py_ssize_t n) noexcept nogil:
        return xxh64(p, n, 0)

    cdef uint64_t _word_int(self, uint64_t key) noexcept nogil:
        return key

    def _rebuild(self):
        """Recompute the lookup structure after nodes or weights changed."""
        raise NotImplementedError

    # ------------------------------------------------------------ keys
    cdef int _word_of(self, object key, uint64_t* out) except -1:
        cdef Py_ssize_t n
        cdef const char* p
        if isinstance(key, str):
            p = PyUnicode_AsUTF8AndSize(key, &n)
            out[0] = self._word_bytes(<const unsigned char*>p, n)
        elif isinstance(key, bytes):
            out[0] = self._word_bytes(<const unsigned char*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
        elif isinstance(key, int) or isinstance(key, np.integer):
            if key < 0:
                if key < -(1 << 63):
                    raise OverflowError(f"integer key {key} does not fit in 64 bits")
                out[0] = self._word_int(<uint64_t><int64_t>key)
            else:
                if key >= (1 << 64):
                    raise OverflowError(f"integer key {key} does not fit in 64 bits")
                out[0] = self._word_int(<uint64_t>key)
        else:
            raise TypeError(f"keys are str, bytes or int, not {type(key).__name__}")
        return 0

    cdef int32_t _index_of_key(self, key) except -2:
        cdef uint64_t w
        self._word_of(key, &w)
        cdef int32_t i = self._lookup_word(w)
        if i < 0:
            raise LookupError(f"{type(self).__name__} has no node to map keys to")
        return i

    def lookup(self, key):
        """The name of the node that ``key`` maps to."""
        return self._names[self._index_of_key(key)]

    def lookup_index(self, key):
        """The index (into ``nodes``) of the node that ``key`` maps to."""
        return self._index_of_key(key)

    def lookup_many(self, keys):
        """Node indexes of many keys: an int32 numpy array, one per key.

        ``keys`` is a numpy array of integers (looked up without the GIL) or a
        sequence of str/bytes/int keys."""
        cdef cnp.ndarray arr
        cdef const int64_t[::1] k64
        cdef int32_t[::1] res
        cdef Py_ssize_t i, n
        cdef uint64_t w
        cdef int32_t j
        cdef bint empty = False
        if isinstance(keys, np.ndarray):
            k64 = int64_keys(keys, "lookup_many").view(np.int64)
            n = k64.shape[0]
            out = np.empty(n, dtype=np.int32)
            res = out
            if not self._names:
                if n:
                    raise LookupError(f"{type(self).__name__} has no node to map keys to")
                return out
            with nogil:
                for i in range(n):
                    res[i] = self._lookup_word(self._word_int(<uint64_t>k64[i]))
            return out
        seq = list(keys)
        n = len(seq)
        out = np.empty(n, dtype=np.int32)
        res = out
        for i in range(n):
            res[i] = self._index_of_key(seq[i])
        return out

    # ------------------------------------------------------------ nodes
    @property
    def nodes(self):
        """The node names, in index order (a copy)."""
        return list(self._names)

    @property
    def weights(self):
        """The node weights, in index order (a copy)."""
        return list(self._weights)

    def __len__(self):
        return len(self._names)

    def __contains__(self, node):
        return node in self._index

    def add(self, node, weight=1):
        """Add a node (a new name) with a weight >= 0; it takes the next index."""
        self._append(node, weight)
        self._rebuild()

    def remove(self, node):
        """Remove a node; the indexes of the nodes after it shift down by one."""
        if node not in self._index:
            raise KeyError(f"node {node!r} is not in the {type(self).__name__}")
        cdef Py_ssize_t i = self._index.pop(node)
        del self._names[i]
        del self._weights[i]
        for j in range(i, len(self._names)):
            self._index[self._names[j]] = j
        self._rebuild()

    def set_weight(self, node, weight):
        """Change a node's weight."""
        if node not in self._index:
            raise KeyError(f"node {node!r} is not in the {type(self).__name__}")
        self._weights[self._index[node]] = check_weight(weight, f"node {node!r}")
        self._rebuild()

    def _check(self):
        """Assert the node bookkeeping is consistent (subclasses extend this)."""
        assert len(self._names) == len(self._index) == len(self._weights)
        for i, name in enumerate(self._names):
            assert self._index[name] == i
        for w in self._weights:
            assert isfinite(w) and w >= 0

    def __repr__(self):
        return f"{type(self).__name__}({len(self._names)} nodes)"
