# Stable 64-bit hashing of byte strings, and integer parsing of key tokens, for
# the trace readers. The hash is part of the on-disk meaning of a trace (a string
# key always becomes the same int64), so it must never change:
#
#     stable_hash(b) = <int64> mix64(fnv1a64(b))
#
# fnv1a64 is 64-bit FNV-1a (Fowler, Noll, Vo; offset basis 0xcbf29ce484222325,
# prime 0x100000001b3) over the bytes; mix64 is the splitmix64 finalizer from
# tradeoff._core.hashing; the uint64 result is reinterpreted as int64 (two's
# complement). A str is hashed as its UTF-8 encoding.
from libc.stdint cimport int64_t, uint64_t
from tradeoff._core.hashing cimport fnv1a64, mix64, stable_hash_bytes


cdef inline bint is_blank(unsigned char c) noexcept nogil:
    # the whitespace stripped around a key token (newline separates lines)
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


# Parse [p, p+n) as a decimal integer: optional sign, then one or more ASCII
# digits, nothing else. Values in [2**63, 2**64) wrap to negative int64 (a uint64
# object id keeps its bit pattern); a magnitude beyond that, or any other byte,
# fails. Returns 1 and stores *out on success, 0 on failure.
cdef int parse_int64(const unsigned char* p, Py_ssize_t n, int64_t* out) noexcept nogil
