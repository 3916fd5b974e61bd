# The contract every partitioner implements (tradeoff.ring).
#
# A partitioner maps a key to one of its nodes. The base class owns the node
# names and weights, the key -> 64-bit word conversion, lookup/lookup_many and
# add/remove; a subclass implements `_lookup_word` (and `_rebuild`, a def
# method called after every change of nodes or weights), and may override how
# words are made from bytes and from integer keys.
from libc.stdint cimport uint64_t, int64_t, int32_t


cdef class Partitioner:
    cdef list _names          # node names, index order (lookup_many returns these indexes)
    cdef dict _index          # name -> index
    cdef list _weights        # float weight per node, same order

    # the node index (0 <= i < len(nodes)) for a key word; -1 only when empty.
    # Must not allocate, must not fail: the batch loop runs it without the GIL.
    cdef int32_t _lookup_word(self, uint64_t word) noexcept nogil
    # key word of a byte string (str keys arrive as their UTF-8 bytes); default XXH64, seed 0
    cdef uint64_t _word_bytes(self, const unsigned char* p, Py_ssize_t n) noexcept nogil
    # key word of an integer key (its 64-bit two's complement); default: the key itself
    cdef uint64_t _word_int(self, uint64_t key) noexcept nogil
    # convert any accepted Python key; raises TypeError/OverflowError
    cdef int _word_of(self, object key, uint64_t* out) except -1
    cdef int32_t _index_of_key(self, object key) except -2
    cdef _append(self, name, weight)


# a 1-d numpy integer array as a contiguous, native-order 64-bit array (narrower
# integers widen, big-endian arrays are swapped; unsigned stays unsigned);
# raises TypeError/ValueError naming `what` for other dtypes or shapes
cpdef object int64_keys(object keys, str what=*)
