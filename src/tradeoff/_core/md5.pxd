# MD5 (R. Rivest, RFC 1321, "The MD5 Message-Digest Algorithm", 1992), written from
# the RFC for one purpose: libketama compatibility (tradeoff.ring's HashRing with
# compat="ketama" hashes "name-k" labels and keys with MD5, as memcached clients do).
# It is not used for security. Checked against hashlib.md5 in tests/ring/test_hashring.py.
#
# The round constants are the RFC's T[i] = floor(2^32 * |sin(i)|), i = 1..64; the
# shift amounts and message-word orders are those of RFC 1321 section 3.4. Words
# are read little-endian with memcpy, which is the host order on every platform
# this builds on (as in hashing.pxd's XXH64). Every function here cannot fail.
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memset


cdef inline uint32_t _md5_rotl(uint32_t x, int s) noexcept nogil:
    return (x << s) | (x >> (32 - s))


cdef inline uint32_t _md5_f(uint32_t x, uint32_t y, uint32_t z) noexcept nogil:
    return (x & y) | (~x & z)


cdef inline uint32_t _md5_g(uint32_t x, uint32_t y, uint32_t z) noexcept nogil:
    return (x & z) | (y & ~z)


cdef inline uint32_t _md5_h(uint32_t x, uint32_t y, uint32_t z) noexcept nogil:
    return x ^ y ^ z


cdef inline uint32_t _md5_i(uint32_t x, uint32_t y, uint32_t z) noexcept nogil:
    return y ^ (x | ~z)


cdef inline uint32_t _md5_step(uint32_t f, uint32_t a, uint32_t b, uint32_t m,
                               uint32_t t, int s) noexcept nogil:
    # a = b + ((a + F(b, c, d) + X[k] + T[i]) <<< s)
    return b + _md5_rotl(a + f + m + t, s)


cdef inline void _md5_block(uint32_t* st, const unsigned char* p) noexcept nogil:
    """Process one 64-byte block into the state st[0..3] (A, B, C, D)."""
    cdef uint32_t x[16]
    memcpy(x, p, 64)
    cdef uint32_t a = st[0], b = st[1], c = st[2], d = st[3]
    # round 1
    a = _md5_step(_md5_f(b, c, d), a, b, x[0], 0xd76aa478, 7)
    d = _md5_step(_md5_f(a, b, c), d, a, x[1], 0xe8c7b756, 12)
    c = _md5_step(_md5_f(d, a, b), c, d, x[2], 0x242070db, 17)
    b = _md5_step(_md5_f(c, d, a), b, c, x[3], 0xc1bdceee, 22)
    a = _md5_step(_md5_f(b, c, d), a, b, x[4], 0xf57c0faf, 7)
    d = _md5_step(_md5_f(a, b, c), d, a, x[5], 0x4787c62a, 12)
    c = _md5_step(_md5_f(d, a, b), c, d, x[6], 0xa8304613, 17)
    b = _md5_step(_md5_f(c, d, a), b, c, x[7], 0xfd469501, 22)
    a = _md5_step(_md5_f(b, c, d), a, b, x[8], 0x698098d8, 7)
    d = _md5_step(_md5_f(a, b, c), d, a, x[9], 0x8b44f7af, 12)
    c = _md5_step(_md5_f(d, a, b), c, d, x[10], 0xffff5bb1, 17)
    b = _md5_step(_md5_f(c, d, a), b, c, x[11], 0x895cd7be, 22)
    a = _md5_step(_md5_f(b, c, d), a, b, x[12], 0x6b901122, 7)
    d = _md5_step(_md5_f(a, b, c), d, a, x[13], 0xfd987193, 12)
    c = _md5_step(_md5_f(d, a, b), c, d, x[14], 0xa679438e, 17)
    b = _md5_step(_md5_f(c, d, a), b, c, x[15], 0x49b40821, 22)
    # round 2
    a = _md5_step(_md5_g(b, c, d), a, b, x[1], 0xf61e2562, 5)
    d = _md5_step(_md5_g(a, b, c), d, a, x[6], 0xc040b340, 9)
    c = _md5_step(_md5_g(d, a, b), c, d, x[11], 0x265e5a51, 14)
    b = _md5_step(_md5_g(c, d, a), b, c, x[0], 0xe9b6c7aa, 20)
    a = _md5_step(_md5_g(b, c, d), a, b, x[5], 0xd62f105d, 5)
    d = _md5_step(_md5_g(a, b, c), d, a, x[10], 0x02441453, 9)
    c = _md5_step(_md5_g(d, a, b), c, d, x[15], 0xd8a1e681, 14)
    b = _md5_step(_md5_g(c, d, a), b, c, x[4], 0xe7d3fbc8, 20)
    a = _md5_step(_md5_g(b, c, d), a, b, x[9], 0x21e1cde6, 5)
    d = _md5_step(_md5_g(a, b, c), d, a, x[14], 0xc33707d6, 9)
    c = _md5_step(_md5_g(d, a, b), c, d, x[3], 0xf4d50d87, 14)
    b = _md5_step(_md5_g(c, d, a), b, c, x[8], 0x455a14ed, 20)
    a = _md5_step(_md5_g(b, c, d), a, b, x[13], 0xa9e3e905, 5)
    d = _md5_step(_md5_g(a, b, c), d, a, x[2], 0xfcefa3f8, 9)
    c = _md5_step(_md5_g(d, a, b), c, d, x[7], 0x676f02d9, 14)
    b = _md5_step(_md5_g(c, d, a), b, c, x[12], 0x8d2a4c8a, 20)
    # round 3
    a = _md5_step(_md5_h(b, c, d), a, b, x[5], 0xfffa3942, 4)
    d = _md5_step(_md5_h(a, b, c), d, a, x[8], 0x8771f681, 11)
    c = _md5_step(_md5_h(d, a, b), c, d, x[11], 0x6d9d6122, 16)
    b = _md5_step(_md5_h(c, d, a), b, c, x[14], 0xfde5380c, 23)
    a = _md5_step(_md5_h(b, c, d), a, b, x[1], 0xa4beea44, 4)
    d = _md5_step(_md5_h(a, b, c), d, a, x[4], 0x4bdecfa9, 11)
    c = _md5_step(_md5_h(d, a, b), c, d, x[7], 0xf6bb4b60, 16)
    b = _md5_step(_md5_h(c, d, a), b, c, x[10], 0xbebfbc70, 23)
    a = _md5_step(_md5_h(b, c, d), a, b, x[13], 0x289b7ec6, 4)
    d = _md5_step(_md5_h(a, b, c), d, a, x[0], 0xeaa127fa, 11)
    c = _md5_step(_md5_h(d, a, b), c, d, x[3], 0xd4ef3085, 16)
    b = _md5_step(_md5_h(c, d, a), b, c, x[6], 0x04881d05, 23)
    a = _md5_step(_md5_h(b, c, d), a, b, x[9], 0xd9d4d039, 4)
    d = _md5_step(_md5_h(a, b, c), d, a, x[12], 0xe6db99e5, 11)
    c = _md5_step(_md5_h(d, a, b), c, d, x[15], 0x1fa27cf8, 16)
    b = _md5_step(_md5_h(c, d, a), b, c, x[2], 0xc4ac5665, 23)
    # round 4
    a = _md5_step(_md5_i(b, c, d), a, b, x[0], 0xf4292244, 6)
    d = _md5_step(_md5_i(a, b, c), d, a, x[7], 0x432aff97, 10)
    c = _md5_step(_md5_i(d, a, b), c, d, x[14], 0xab9423a7, 15)
    b = _md5_step(_md5_i(c, d, a), b, c, x[5], 0xfc93a039, 21)
    a = _md5_step(_md5_i(b, c, d), a, b, x[12], 0x655b59c3, 6)
    d = _md5_step(_md5_i(a, b, c), d, a, x[3], 0x8f0ccc92, 10)
    c = _md5_step(_md5_i(d, a, b), c, d, x[10], 0xffeff47d, 15)
    b = _md5_step(_md5_i(c, d, a), b, c, x[1], 0x85845dd1, 21)
    a = _md5_step(_md5_i(b, c, d), a, b, x[8], 0x6fa87e4f, 6)
    d = _md5_step(_md5_i(a, b, c), d, a, x[15], 0xfe2ce6e0, 10)
    c = _md5_step(_md5_i(d, a, b), c, d, x[6], 0xa3014314, 15)
    b = _md5_step(_md5_i(c, d, a), b, c, x[13], 0x4e0811a1, 21)
    a = _md5_step(_md5_i(b, c, d), a, b, x[4], 0xf7537e82, 6)
    d = _md5_step(_md5_i(a, b, c), d, a, x[11], 0xbd3af235, 10)
    c = _md5_step(_md5_i(d, a, b), c, d, x[2], 0x2ad7d2bb, 15)
    b = _md5_step(_md5_i(c, d, a), b, c, x[9], 0xeb86d391, 21)
    st[0] += a
    st[1] += b
    st[2] += c
    st[3] += d


cdef inline void md5_digest(const unsigned char* p, Py_ssize_t n, unsigned char* out) noexcept nogil:
    """The 16-byte MD5 digest of n bytes at p, written to out (equals hashlib.md5(data).digest())."""
    cdef uint32_t st[4]
    cdef unsigned char tail[128]
    cdef Py_ssize_t rest, padded
    cdef uint64_t bits = (<uint64_t>n) << 3
    st[0] = 0x67452301
    st[1] = 0xefcdab89
    st[2] = 0x98badcfe
    st[3] = 0x10325476
    while n >= 64:
        _md5_block(st, p)
        p += 64
        n -= 64
    # padding: a 1 bit, zeros up to 56 mod 64 bytes, the length in bits (64-bit LE)
    rest = n
    memset(tail, 0, 128)
    if rest:
        memcpy(tail, p, rest)
    tail[rest] = 0x80
    padded = 64 if rest < 56 else 128
    memcpy(&tail[padded - 8], &bits, 8)
    _md5_block(st, tail)
    if padded == 128:
        _md5_block(st, &tail[64])
    memcpy(out, st, 16)


cdef inline uint32_t md5_u32le(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """The first 4 digest bytes as a little-endian word: libketama's key hash."""
    cdef unsigned char d[16]
    md5_digest(p, n, d)
    return (<uint32_t>d[0]) | (<uint32_t>d[1] << 8) | (<uint32_t>d[2] << 16) | (<uint32_t>d[3] << 24)


cdef inline uint64_t md5_u64le(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """The first 8 digest bytes as a little-endian 64-bit word."""
    cdef unsigned char d[16]
    cdef uint64_t w = 0
    cdef int i
    md5_digest(p, n, d)
    for i in range(7, -1, -1):
        w = (w << 8) | d[i]
    return w
