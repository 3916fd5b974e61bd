"""An inverted index with compressed block postings, boolean queries and BM25 top-k.

Postings. A term's postings are its (doc, tf) pairs in doc order, cut into blocks
of 128 (the last block may be shorter), the layout of Lucene's and tantivy's
postings (Lemire and Boytsov, "Decoding billions of integers per second through
vectorization", SPE 2015, describe the family). A block stores the gaps
``doc - previous doc - 1`` bit-packed with the smallest width that fits its largest
gap, then ``tf - 1`` packed the same way; its skip entry (BlockMeta) keeps the
block's last doc, where its bytes start and the two widths, so a cursor can jump
over blocks without decoding them. Eight packed values take exactly `width`
bytes, so the decoder has one unrolled loop per width with constant shifts.
Positions, when kept, are varint-coded gaps in a stream of their own, with one
offset per block. All terms' blocks live in one arena (a second for positions),
one segment per term in term id order; a commit lays out new arenas, each
term's segment followed by its new blocks (its last block re-encoded if it was
not full).

Terms that occur in at least ``bitset_fraction`` of the documents (1/16 by
default) also keep a bitset over the doc ids, Roaring's rule for dense
containers (Chambi, Lemire, Kaser and Godin, "Better bitmap performance with
Roaring bitmaps", SPE 2016, use a bitmap above 4096 of 65536 values). The
bitsets cost ndocs / 8 bytes each and are counted in ``memory()``.

Intersections, by the shapes of the inputs:

- two dense terms: a word-wise AND and popcount (or the set bits);
- a list against dense terms: the list's blocks decoded and each doc's bit
  tested, branch-free;
- two lists of similar lengths (within 16x): the shorter one's docs set in a
  scratch bitset, the longer one's probed against it (independent tests, not a
  merge's chain of dependent compares), the scratch cleared after;
- otherwise a leapfrog join led by the rarest list: every other list is asked
  for its first doc >= the candidate, a cursor galloping (exponential then
  binary search, Bentley and Yao, "An almost optimal algorithm for unbounded
  searching", IPL 1976) over the skip entries' last docs, decoding only the
  block it lands in, then a binary search inside it.

Ranking is BM25 (Robertson and Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond", FnTIR 2009). Disjunctions of terms run block-max
WAND (Ding and Suel, "Faster top-k document retrieval using block-max indexes",
SIGIR 2011), built on WAND (Broder, Carmel, Herscovici, Soffer and Zien,
"Efficient query evaluation using a two-level retrieval process", CIKM 2003):
documents whose upper bound, the sum of the terms' block maxima, cannot beat
the k-th best score are skipped without decoding; a two-term disjunction turns
into a conjunction once the k-th score passes both terms' maxima. Every other
query takes its candidates from the boolean evaluation and scores them window
by window, skipping the windows whose block maxima cannot beat the k-th score.

The vocabulary is the shared int64 table of ``tradeoff._core`` from a token's
key (its bytes themselves up to 7 bytes, else its XXH64) to its id; ASCII text
is tokenized in C with exactly the default analyzer's rule.
"""
from libc.stdint cimport int32_t, uint32_t, int64_t, uint64_t, uint8_t
from libc.string cimport memcpy, memset, memcmp
from libc.math cimport log, INFINITY, isfinite
from cpython.mem cimport PyMem_RawFree
from cpython.unicode cimport PyUnicode_AsUTF8AndSize

import math
import operator
import sys

import numpy as np
cimport numpy as cnp

from tradeoff._core.hashing cimport xxh64
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport (I64Table, i64t_check, i64t_find, i64t_free, i64t_get, i64t_init,
                                   i64t_nbytes, i64t_pop, i64t_put, i64t_put_at)
from tradeoff.index.query import (And, NoMatch, Not, Or, Phrase, QuerySyntaxError, Term as QTerm,
                                  default_analyzer, parse)
from tradeoff.index.query import _TOKEN_RE, _tokens

cnp.import_array()

__all__ = ["InvertedIndex"]

cdef extern from *:
    """
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    #error "tradeoff.index._inverted packs bits with little-endian word loads"
    #endif
    static inline int tradeoff_inv_clz32(uint32_t x) { return __builtin_clz(x); }
    static inline int tradeoff_inv_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    """
    int _clz32 "tradeoff_inv_clz32"(uint32_t x) noexcept nogil
    int _ctz64 "tradeoff_inv_ctz64"(uint64_t x) noexcept nogil


cdef enum:
    S_CUR = 0               # a cursor over a term's postings
    S_ARR = 1               # a sorted int32 array
    S_BITS = 2              # a bitset
    S_ALL = 3               # every doc 0 .. ndocs - 1

# commit ingests pending documents in chunks of about this many tokens (bounds
# its scratch memory); tests shrink it with _set_chunk_tokens
cdef int64_t CHUNK_TOKENS = 1 << 22


def _set_chunk_tokens(n):
    """Set the commit chunk size in tokens (for tests); return the old one."""
    global CHUNK_TOKENS
    old = CHUNK_TOKENS
    CHUNK_TOKENS = max(1, int(n))
    return old

cdef double BOUND_SLACK = 1e-12     # relative: a bound summed in another order may round lower


# ================================================================ bits and bytes

cdef inline uint32_t _width(uint32_t x) noexcept nogil:
    """Bits needed for x (0 for 0)."""
    return 0 if x == 0 else 32 - _clz32(x)


cdef inline int64_t _packed(int n, int bits) noexcept nogil:
    return (<int64_t>n * bits + 7) >> 3


cdef inline int64_t _block_bytes(const BlockMeta* m) noexcept nogil:
    return _packed(m.n, m.dbits) + _packed(m.n, m.fbits)


cdef inline uint64_t _popcount(uint64_t x) noexcept nogil:
    """Set bits of x (SWAR: Warren, Hacker's Delight, 5-1; vectorizes, needs no POPCNT)."""
    x = x - ((x >> 1) & <uint64_t>0x5555555555555555)
    x = (x & <uint64_t>0x3333333333333333) + ((x >> 2) & <uint64_t>0x3333333333333333)
    x = (x + (x >> 4)) & <uint64_t>0x0f0f0f0f0f0f0f0f
    return (x * <uint64_t>0x0101010101010101) >> 56


cdef inline void _pack(const uint32_t* v, int n, int bits, uint8_t* p) noexcept nogil:
    """OR n values of `bits` bits each into p, little-endian bit order. p must be zero
    over _packed(n, bits) + SLACK bytes."""
    cdef uint64_t w
    cdef int64_t bp = 0
    cdef int i
    if bits == 0:
        return
    for i in range(n):
        memcpy(&w, p + (bp >> 3), 8)
        w |= (<uint64_t>v[i]) << (bp & 7)
        memcpy(p + (bp >> 3), &w, 8)
        bp += bits


cdef inline int32_t _unpack_w(const uint8_t* p, int n, int bits, int32_t add,
                              int32_t acc, int32_t* out) noexcept nogil:
    """n values of `bits` bits from p, little-endian bit order; with add = 1 they are
    gaps (out[i] = out[i - 1] + value + 1, from acc; returns the last), with add = 0
    tf - 1 values (out[i] = value + 1). Eight values take exactly `bits` bytes, so
    with a constant width (see _unpack) every shift and offset of the unrolled
    inner loop is a constant."""
    cdef int g = 0, i, v, bp
    cdef uint64_t w
    cdef uint64_t mask = ((<uint64_t>1) << bits) - 1
    cdef int64_t bq = 0
    while g + 8 <= n:
        for v in range(8):
            bp = v * bits
            memcpy(&w, p + (bp >> 3), 8)
            if add:
                acc += <int32_t>((w >> (bp & 7)) & mask) + 1
                out[g + v] = acc
            else:
                out[g + v] = <int32_t>((w >> (bp & 7)) & mask) + 1
        p += bits
        g += 8
    for i in range(g, n):
        memcpy(&w, p + (bq >> 3), 8)
        if add:
            acc += <int32_t>((w >> (bq & 7)) & mask) + 1
            out[i] = acc
        else:
            out[i] = <int32_t>((w >> (bq & 7)) & mask) + 1
        bq += bits
    return acc


cdef void _unpack_docs(const uint8_t* p, int n, int bits, int32_t prev, int32_t* out) noexcept nogil:
    """Decode n packed gaps into docs: out[i] = out[i - 1] + gap + 1, from prev (one
    branch per width, so the compiler specializes _unpack_w for each)."""
    cdef int i
    if bits == 0:
        for i in range(n):
            prev += 1
            out[i] = prev
    elif bits == 1:
        _unpack_w(p, n, 1, 1, prev, out)
    elif bits == 2:
        _unpack_w(p, n, 2, 1, prev, out)
    elif bits == 3:
        _unpack_w(p, n, 3, 1, prev, out)
    elif bits == 4:
        _unpack_w(p, n, 4, 1, prev, out)
    elif bits == 5:
        _unpack_w(p, n, 5, 1, prev, out)
    elif bits == 6:
        _unpack_w(p, n, 6, 1, prev, out)
    elif bits == 7:
        _unpack_w(p, n, 7, 1, prev, out)
    elif bits == 8:
        _unpack_w(p, n, 8, 1, prev, out)
    elif bits == 9:
        _unpack_w(p, n, 9, 1, prev, out)
    elif bits == 10:
        _unpack_w(p, n, 10, 1, prev, out)
    elif bits == 11:
        _unpack_w(p, n, 11, 1, prev, out)
    elif bits == 12:
        _unpack_w(p, n, 12, 1, prev, out)
    elif bits == 13:
        _unpack_w(p, n, 13, 1, prev, out)
    elif bits == 14:
        _unpack_w(p, n, 14, 1, prev, out)
    elif bits == 15:
        _unpack_w(p, n, 15, 1, prev, out)
    elif bits == 16:
        _unpack_w(p, n, 16, 1, prev, out)
    elif bits == 17:
        _unpack_w(p, n, 17, 1, prev, out)
    elif bits == 18:
        _unpack_w(p, n, 18, 1, prev, out)
    elif bits == 19:
        _unpack_w(p, n, 19, 1, prev, out)
    elif bits == 20:
        _unpack_w(p, n, 20, 1, prev, out)
    elif bits == 21:
        _unpack_w(p, n, 21, 1, prev, out)
    elif bits == 22:
        _unpack_w(p, n, 22, 1, prev, out)
    elif bits == 23:
        _unpack_w(p, n, 23, 1, prev, out)
    elif bits == 24:
        _unpack_w(p, n, 24, 1, prev, out)
    elif bits == 25:
        _unpack_w(p, n, 25, 1, prev, out)
    elif bits == 26:
        _unpack_w(p, n, 26, 1, prev, out)
    elif bits == 27:
        _unpack_w(p, n, 27, 1, prev, out)
    elif bits == 28:
        _unpack_w(p, n, 28, 1, prev, out)
    elif bits == 29:
        _unpack_w(p, n, 29, 1, prev, out)
    elif bits == 30:
        _unpack_w(p, n, 30, 1, prev, out)
    elif bits == 31:
        _unpack_w(p, n, 31, 1, prev, out)
    elif bits == 32:
        _unpack_w(p, n, 32, 1, prev, out)


cdef void _unpack_tfs(const uint8_t* p, int n, int bits, int32_t* out) noexcept nogil:
    """Decode n packed tf - 1 values into tfs."""
    cdef int i
    if bits == 0:
        for i in range(n):
            out[i] = 1
    elif bits == 1:
        _unpack_w(p, n, 1, 0, 0, out)
    elif bits == 2:
        _unpack_w(p, n, 2, 0, 0, out)
    elif bits == 3:
        _unpack_w(p, n, 3, 0, 0, out)
    elif bits == 4:
        _unpack_w(p, n, 4, 0, 0, out)
    elif bits == 5:
        _unpack_w(p, n, 5, 0, 0, out)
    elif bits == 6:
        _unpack_w(p, n, 6, 0, 0, out)
    elif bits == 7:
        _unpack_w(p, n, 7, 0, 0, out)
    elif bits == 8:
        _unpack_w(p, n, 8, 0, 0, out)
    elif bits == 9:
        _unpack_w(p, n, 9, 0, 0, out)
    elif bits == 10:
        _unpack_w(p, n, 10, 0, 0, out)
    elif bits == 11:
        _unpack_w(p, n, 11, 0, 0, out)
    elif bits == 12:
        _unpack_w(p, n, 12, 0, 0, out)
    elif bits == 13:
        _unpack_w(p, n, 13, 0, 0, out)
    elif bits == 14:
        _unpack_w(p, n, 14, 0, 0, out)
    elif bits == 15:
        _unpack_w(p, n, 15, 0, 0, out)
    elif bits == 16:
        _unpack_w(p, n, 16, 0, 0, out)
    elif bits == 17:
        _unpack_w(p, n, 17, 0, 0, out)
    elif bits == 18:
        _unpack_w(p, n, 18, 0, 0, out)
    elif bits == 19:
        _unpack_w(p, n, 19, 0, 0, out)
    elif bits == 20:
        _unpack_w(p, n, 20, 0, 0, out)
    elif bits == 21:
        _unpack_w(p, n, 21, 0, 0, out)
    elif bits == 22:
        _unpack_w(p, n, 22, 0, 0, out)
    elif bits == 23:
        _unpack_w(p, n, 23, 0, 0, out)
    elif bits == 24:
        _unpack_w(p, n, 24, 0, 0, out)
    elif bits == 25:
        _unpack_w(p, n, 25, 0, 0, out)
    elif bits == 26:
        _unpack_w(p, n, 26, 0, 0, out)
    elif bits == 27:
        _unpack_w(p, n, 27, 0, 0, out)
    elif bits == 28:
        _unpack_w(p, n, 28, 0, 0, out)
    elif bits == 29:
        _unpack_w(p, n, 29, 0, 0, out)
    elif bits == 30:
        _unpack_w(p, n, 30, 0, 0, out)
    elif bits == 31:
        _unpack_w(p, n, 31, 0, 0, out)
    elif bits == 32:
        _unpack_w(p, n, 32, 0, 0, out)


cdef inline uint8_t* _put_varint(uint8_t* p, uint32_t v) noexcept nogil:
    """LEB128: 7 bits a byte, low bits first, the high bit set on all but the last."""
    while v >= 0x80:
        p[0] = <uint8_t>(v | 0x80)
        p += 1
        v >>= 7
    p[0] = <uint8_t>v
    return p + 1


cdef inline const uint8_t* _get_varint(const uint8_t* p, uint32_t* v) noexcept nogil:
    cdef uint32_t x = 0
    cdef int s = 0
    while p[0] & 0x80:
        x |= (<uint32_t>(p[0] & 0x7f)) << s
        s += 7
        p += 1
    v[0] = x | ((<uint32_t>p[0]) << s)
    return p + 1


cdef inline const uint8_t* _skip_varints(const uint8_t* p, int64_t k) noexcept nogil:
    while k > 0:
        if (p[0] & 0x80) == 0:
            k -= 1
        p += 1
    return p


cdef inline bint _bit(const uint64_t* bits, int32_t d) noexcept nogil:
    return (bits[d >> 6] >> (d & 63)) & 1


cdef inline int32_t _bits_next(const uint64_t* bits, int64_t nwords, int32_t target) noexcept nogil:
    """The first set bit >= target, or END."""
    cdef int64_t w = target >> 6
    cdef uint64_t x
    if w >= nwords:
        return END
    x = bits[w] & ((~(<uint64_t>0)) << (target & 63))
    while x == 0:
        w += 1
        if w >= nwords:
            return END
        x = bits[w]
    return <int32_t>(w * 64 + _ctz64(x))


cdef inline int64_t _bits_extract(const uint64_t* bits, int64_t nwords, int32_t* out) noexcept nogil:
    """Write the set bits in increasing order; return how many."""
    cdef int64_t w, k = 0
    cdef uint64_t x
    for w in range(nwords):
        x = bits[w]
        while x:
            out[k] = <int32_t>(w * 64 + _ctz64(x))
            k += 1
            x &= x - 1
    return k


# ================================================================ cursors

cdef inline void _cur_load(Cursor* c, int32_t b) noexcept nogil:
    """Decode the docs of block b (b < nblocks) and stand on its first."""
    cdef const BlockMeta* m = &c.blocks[b]
    _unpack_docs(c.data + m.offset, m.n, m.dbits, c.blocks[b - 1].last if b > 0 else -1, c.docs)
    c.blk = b
    c.n = m.n
    c.i = 0
    c.doc = c.docs[0]


cdef inline void _cur_init(Cursor* c, const Store* st, const Term* t) noexcept nogil:
    c.data = st.data + t.data0
    c.blocks = st.blocks + t.block0
    c.bpos = (st.bpos + t.block0) if st.bpos != NULL else NULL
    c.pos = (st.pos + t.pos0) if st.pos != NULL else NULL
    c.nblocks = t.nblocks
    c.tf_blk = -1
    c.pos_blk = -1
    c.pos_i = 0
    c.pp = NULL
    if t.nblocks == 0:
        c.doc = END
        c.blk = 0
        c.n = 0
        c.i = 0
    else:
        _cur_load(c, 0)


cdef inline int32_t _cur_next(Cursor* c) noexcept nogil:
    c.i += 1
    if c.i < c.n:
        c.doc = c.docs[c.i]
    elif c.blk + 1 < c.nblocks:
        _cur_load(c, c.blk + 1)
    else:
        c.i = c.n
        c.doc = END
    return c.doc


cdef inline int32_t _find_block(const BlockMeta* bl, int32_t nb, int32_t lo, int32_t target) noexcept nogil:
    """The first block b >= lo whose last doc is >= target, or nb: galloping from lo
    (exponential steps, then a binary search in the last step)."""
    cdef int32_t hi, mid, step = 1
    if lo >= nb or bl[lo].last >= target:
        return lo
    while True:                     # bl[lo].last < target
        hi = lo + step
        if hi >= nb:
            hi = nb
            break
        if bl[hi].last >= target:
            break
        lo = hi
        step <<= 1
    while hi - lo > 1:              # the answer is in (lo, hi]
        mid = (lo + hi) >> 1
        if bl[mid].last >= target:
            hi = mid
        else:
            lo = mid
    return hi


cdef inline int32_t _cur_seek(Cursor* c, int32_t target) noexcept nogil:
    """Move to the first doc >= target (never backwards); return it, or END."""
    cdef int32_t b, base, half, length
    cdef const int32_t* d
    if c.doc >= target:
        return c.doc
    if target > c.blocks[c.blk].last:
        b = _find_block(c.blocks, c.nblocks, c.blk + 1, target)
        if b >= c.nblocks:
            c.i = c.n
            c.doc = END
            return END
        _cur_load(c, b)
        if c.doc >= target:
            return c.doc
    # docs[i] < target <= docs[n - 1]: the answer is in [i + 1, n - 1]
    d = c.docs
    base = c.i + 1
    if d[base] < target:
        base += 1
        length = c.n - base
        while length > 1:           # branch-free lower bound
            half = length >> 1
            base = base + half if d[base + half - 1] < target else base
            length -= half
    c.i = base
    c.doc = d[base]
    return c.doc


cdef inline int32_t _cur_tf(Cursor* c) noexcept nogil:
    """The tf of the current posting (decodes the block's tfs once)."""
    cdef const BlockMeta* m
    if c.tf_blk != c.blk:
        m = &c.blocks[c.blk]
        _unpack_tfs(c.data + m.offset + _packed(m.n, m.dbits), m.n, m.fbits, c.tfs)
        c.tf_blk = c.blk
    return c.tfs[c.i]


cdef inline int32_t _cur_positions(Cursor* c, int32_t* out) noexcept nogil:
    """Write the current posting's positions (increasing) to out; return tf."""
    cdef int32_t tf = _cur_tf(c), j, v = -1
    cdef uint32_t x
    cdef const uint8_t* p
    if c.pos_blk != c.blk or c.pos_i > c.i:
        c.pp = c.pos + c.bpos[c.blk]
        c.pos_blk = c.blk
        c.pos_i = 0
    while c.pos_i < c.i:
        c.pp = _skip_varints(c.pp, c.tfs[c.pos_i])
        c.pos_i += 1
    p = c.pp
    for j in range(tf):
        p = _get_varint(p, &x)
        v += <int32_t>x + 1
        out[j] = v
    c.pp = p
    c.pos_i += 1
    return tf


cdef int64_t _decode_all(const Store* st, const Term* t, int32_t* docs, int32_t* tfs) noexcept nogil:
    """Every doc (and tf, when tfs is not NULL) of the term, in order; return df."""
    cdef int32_t b, prev = -1
    cdef int64_t k = 0
    cdef const BlockMeta* bl = st.blocks + t.block0
    cdef const uint8_t* data = st.data + t.data0
    for b in range(t.nblocks):
        _unpack_docs(data + bl[b].offset, bl[b].n, bl[b].dbits, prev, docs + k)
        if tfs != NULL:
            _unpack_tfs(data + bl[b].offset + _packed(bl[b].n, bl[b].dbits), bl[b].n, bl[b].fbits, tfs + k)
        prev = bl[b].last
        k += bl[b].n
    return k


cdef void _bits_set_term(const Store* st, const Term* t, uint64_t* bits, int32_t start) noexcept nogil:
    """Set the bits of the term's docs >= start."""
    cdef Cursor c
    cdef int32_t d
    _cur_init(&c, st, t)
    d = _cur_seek(&c, start)
    while d != END:
        bits[d >> 6] |= (<uint64_t>1) << (d & 63)
        d = _cur_next(&c)


# ================================================================ sources of a conjunction

ctypedef struct Src:
    int kind
    int32_t doc
    int64_t size            # the number of docs (orders the sources; the smallest leads)
    Cursor* cur
    const int32_t* arr
    int64_t n
    int64_t i
    const uint64_t* bits
    int64_t nwords
    int32_t ndocs


cdef inline int32_t _src_first(Src* s) noexcept nogil:
    if s.kind == S_CUR:
        s.doc = s.cur.doc
    elif s.kind == S_ARR:
        s.i = 0
        s.doc = s.arr[0] if s.n > 0 else END
    elif s.kind == S_BITS:
        s.doc = _bits_next(s.bits, s.nwords, 0)
    else:
        s.doc = 0 if s.ndocs > 0 else END
    return s.doc


cdef inline int32_t _arr_seek(Src* s, int32_t target) noexcept nogil:
    """Galloping search from the current index for the first value >= target."""
    cdef int64_t lo = s.i, hi, mid, step = 1, n = s.n
    cdef const int32_t* a = s.arr
    if lo >= n:
        s.doc = END
        return END
    if a[lo] >= target:
        s.doc = a[lo]
        return s.doc
    while True:                     # a[lo] < target
        hi = lo + step
        if hi >= n:
            hi = n
            break
        if a[hi] >= target:
            break
        lo = hi
        step <<= 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if a[mid] >= target:
            hi = mid
        else:
            lo = mid
    s.i = hi
    s.doc = a[hi] if hi < n else END
    return s.doc


cdef inline int32_t _src_seek(Src* s, int32_t target) noexcept nogil:
    if s.doc >= target:
        return s.doc
    if s.kind == S_CUR:
        s.doc = _cur_seek(s.cur, target)
    elif s.kind == S_ARR:
        _arr_seek(s, target)
    elif s.kind == S_BITS:
        s.doc = _bits_next(s.bits, s.nwords, target)
    else:
        s.doc = target if target < s.ndocs else END
    return s.doc


cdef inline int32_t _src_next(Src* s) noexcept nogil:
    if s.doc == END:
        return END
    if s.kind == S_CUR:
        s.doc = _cur_next(s.cur)
    elif s.kind == S_ARR:
        s.i += 1
        s.doc = s.arr[s.i] if s.i < s.n else END
    elif s.kind == S_BITS:
        s.doc = _bits_next(s.bits, s.nwords, s.doc + 1)
    else:
        s.doc = s.doc + 1 if s.doc + 1 < s.ndocs else END
    return s.doc


cdef inline bint _src_has(Src* s, int32_t d) noexcept nogil:
    """Whether d is in the source (d never decreases between calls)."""
    if s.kind == S_BITS:
        return _bit(s.bits, d)
    return _src_seek(s, d) == d


cdef int64_t _conjunction(Src* p, int np_, Src* q, int nq, int32_t* out) noexcept nogil:
    """Leapfrog join: the docs in every p (p[0] leads: the smallest) and in no q,
    written to out unless out is NULL; return how many. A bitset source is tested
    bit by bit; any other is asked for its first doc >= the candidate, and a miss
    moves the lead to that doc."""
    cdef Src* lead = &p[0]
    cdef Src* s
    cdef int32_t doc, d
    cdef int j
    cdef int64_t cnt = 0
    cdef bint ok
    for j in range(np_):
        _src_first(&p[j])
    for j in range(nq):
        _src_first(&q[j])
    doc = lead.doc
    while doc != END:
        j = 1
        d = doc
        while j < np_:
            s = &p[j]
            if s.kind == S_BITS:
                if not _bit(s.bits, doc):
                    d = doc + 1
                    break
            else:
                d = _src_seek(s, doc)
                if d != doc:
                    break
            j += 1
        if j < np_:
            doc = _src_seek(lead, d) if d != END else END
            continue
        ok = True
        for j in range(nq):
            if _src_has(&q[j], doc):
                ok = False
                break
        if ok:
            if out != NULL:
                out[cnt] = doc
            cnt += 1
        doc = _src_next(lead)
    return cnt


cdef int64_t _conjunction_words(const uint64_t** pb, int npb, const uint64_t** nb, int nnb,
                                int64_t nwords, int32_t ndocs, int32_t* out) noexcept nogil:
    """The same over bitsets only: AND of pb, minus each nb (none of pb: all docs),
    word by word; count with a popcount, or write the docs when out is not NULL."""
    cdef int64_t w, cnt = 0
    cdef uint64_t x
    cdef uint64_t full = ~(<uint64_t>0)
    cdef int j
    for w in range(nwords):
        x = full
        for j in range(npb):
            x &= pb[j][w]
        for j in range(nnb):
            x &= ~nb[j][w]
        if w == nwords - 1 and (ndocs & 63):
            x &= ((<uint64_t>1) << (ndocs & 63)) - 1
        if out == NULL:
            cnt += _popcount(x)
        else:
            while x:
                out[cnt] = <int32_t>(w * 64 + _ctz64(x))
                cnt += 1
                x &= x - 1
    return cnt


cdef int64_t _intersect2_scratch(Cursor* a, Cursor* b, uint64_t* scratch, int32_t* out) noexcept nogil:
    """The docs of both cursors through a zeroed scratch bitset over all docs: set
    a's bits, probe b's docs (independent, branch-free tests: no chain of
    dependent loads as in a merge), then clear the words a touched. Blocks of b
    outside a's range are skipped undecoded. O(|a| + |b| + range / 64).
    Writes to out unless NULL; returns the count."""
    cdef int64_t cnt = 0
    cdef int32_t i, d, lo, hi
    if a.doc == END or b.doc == END:
        return 0
    lo = a.doc
    hi = lo
    while a.doc != END:
        for i in range(a.i, a.n):
            d = a.docs[i]
            scratch[d >> 6] |= (<uint64_t>1) << (d & 63)
        hi = a.docs[a.n - 1]
        a.i = a.n - 1
        _cur_next(a)
    _cur_seek(b, lo)
    while b.doc <= hi:              # END > hi ends it too
        for i in range(b.i, b.n):   # docs past hi find their bit clear
            d = b.docs[i]
            if out != NULL:
                out[cnt] = d
            cnt += (scratch[d >> 6] >> (d & 63)) & 1
        b.i = b.n - 1
        _cur_next(b)
    memset(scratch + (lo >> 6), 0, ((hi >> 6) - (lo >> 6) + 1) * sizeof(uint64_t))
    return cnt


cdef int64_t _filter_bits(Cursor* lead, const uint64_t** pb, int npb, const uint64_t** nb, int nnb,
                         int32_t* out) noexcept nogil:
    """The lead's docs whose bit is set in every pb and in no nb, a decoded block
    at a time with branch-free bit tests. Writes to out unless NULL; returns the count."""
    cdef int64_t cnt = 0
    cdef int32_t i, d
    cdef int j
    cdef uint64_t ok
    while lead.doc != END:
        for i in range(lead.i, lead.n):
            d = lead.docs[i]
            ok = 1
            for j in range(npb):
                ok &= pb[j][d >> 6] >> (d & 63)
            for j in range(nnb):
                ok &= ~(nb[j][d >> 6] >> (d & 63))
            if out != NULL:
                out[cnt] = d
            cnt += ok & 1
        lead.i = lead.n - 1
        _cur_next(lead)
    return cnt


cdef inline bint _bits_but_lead(const Src* s, int npos, int nneg) noexcept nogil:
    """Every source but the lead is a bitset."""
    cdef int i
    for i in range(1, npos + nneg):
        if s[i].kind != S_BITS:
            return False
    return True


cdef int64_t _count_and_words(const uint64_t* a, const uint64_t* b, int64_t nwords) noexcept nogil:
    """popcount(a AND b) over nwords words (the two-dense-terms count)."""
    cdef int64_t w
    cdef uint64_t cnt = 0
    for w in range(nwords):
        cnt += _popcount(a[w] & b[w])
    return <int64_t>cnt


# ================================================================ phrases

cdef bint _phrase_at(int32_t** pb, const int32_t* plen, const int32_t* offs, int m,
                     int32_t* ptr) noexcept nogil:
    """Whether some start s has s + offs[j] among the positions pb[j] of every j."""
    cdef int a = 0, j
    cdef int32_t k, s, want
    cdef bint ok
    for j in range(1, m):
        if plen[j] < plen[a]:
            a = j
    for j in range(m):
        ptr[j] = 0
    for k in range(plen[a]):
        s = pb[a][k] - offs[a]
        ok = True
        for j in range(m):
            if j == a:
                continue
            want = s + offs[j]
            while ptr[j] < plen[j] and pb[j][ptr[j]] < want:
                ptr[j] += 1
            if ptr[j] == plen[j]:
                return False
            if pb[j][ptr[j]] != want:
                ok = False
                break
        if ok:
            return True
    return False


cdef int64_t _phrase(Cursor* c, int m, const int32_t* order, const int32_t* offs,
                     int32_t** pb, int32_t* plen, int32_t* ptr, int32_t* out) noexcept nogil:
    """Docs where term j (cursor c[j]) occurs at position start + offs[j] for one start:
    a leapfrog join of the cursors (order[0], the rarest, leads), then the positions
    of each joined doc. Every pb[j] holds at least max tf positions."""
    cdef Cursor* lead = &c[order[0]]
    cdef int32_t doc = lead.doc, d
    cdef int j
    cdef int64_t cnt = 0
    while doc != END:
        d = doc
        for j in range(1, m):
            d = _cur_seek(&c[order[j]], doc)
            if d != doc:
                break
        if d != doc:
            doc = _cur_seek(lead, d)
            continue
        for j in range(m):
            plen[j] = _cur_positions(&c[j], pb[j])
        if _phrase_at(pb, plen, offs, m, ptr):
            out[cnt] = doc
            cnt += 1
        doc = _cur_next(lead)
    return cnt


# ================================================================ top-k

cdef inline bint _below(double s1, int32_t d1, double s2, int32_t d2) noexcept nogil:
    """(s1, d1) ranks below (s2, d2): a lower score, or the same score and a larger doc."""
    return s1 < s2 or (s1 == s2 and d1 > d2)


cdef inline void _heap_offer(Hit* h, int* size, int k, double s, int32_t d) noexcept nogil:
    """Keep the k best hits in a min-heap whose root ranks lowest."""
    cdef int i, child, parent
    cdef Hit x
    if size[0] < k:
        i = size[0]
        size[0] += 1
        while i > 0:
            parent = (i - 1) >> 1
            if _below(s, d, h[parent].score, h[parent].doc):
                h[i] = h[parent]
                i = parent
            else:
                break
        h[i].score = s
        h[i].doc = d
        return
    if not _below(h[0].score, h[0].doc, s, d):
        return
    i = 0
    while True:
        child = 2 * i + 1
        if child >= k:
            break
        if child + 1 < k and _below(h[child + 1].score, h[child + 1].doc, h[child].score, h[child].doc):
            child += 1
        if _below(h[child].score, h[child].doc, s, d):
            h[i] = h[child]
            i = child
        else:
            break
    h[i].score = s
    h[i].doc = d


cdef inline double _tfn(int32_t tf, int32_t dl, double nA, double nB) noexcept nogil:
    """BM25's saturating tf part, tf / (tf + k1 * (1 - b + b * dl / avgdl)), in (0, 1)."""
    return <double>tf / (<double>tf + (nA + nB * <double>dl))


cdef inline double _theta(const Hit* h, int size, int k) noexcept nogil:
    """The score a new hit must beat (docs arrive in increasing order, so a tie loses)."""
    return h[0].score if size == k else -INFINITY


cdef int _topk_or(Cursor* c, const double* w, double** bm, int m,
                  const int32_t* dl, double nA, double nB, int32_t* order,
                  Hit* h, int k, int* stop) noexcept nogil:
    """Block-max WAND over m cursors (Ding and Suel 2011; WAND: Broder et al. 2003).

    Cursors are kept sorted by doc. The pivot is the first cursor at which the
    running sum of the terms' upper bounds (w * tmax) exceeds theta; every doc
    before the pivot doc can only collect the terms before it, which cannot beat
    theta. At the pivot doc the sum of the block maxima of the cursors at or
    before it is the tighter bound: when it fails, no doc up to the first block
    end among them (or the next cursor's doc) can beat theta, and all of them jump
    past it. Scores sum the terms in cursor index order, so one doc always gets
    the same double. Returns the number of hits.

    With stop not NULL (two terms), it stops and sets *stop = 1 as soon as theta
    reaches both terms' upper bounds: only documents that have both can still
    enter, and the caller finishes the query as a conjunction from the cursors'
    positions on (their intersection, found with bitsets, then scored window by
    window), which is faster than pivoting doc by doc. (Stopping earlier, when
    theta passes one term's bound as MaxScore would, loses: block-max WAND then
    prunes the other term's lone documents by its own block maxima alone.)"""
    cdef int size = 0, r, j, p, x
    cdef int32_t pdoc, b, nxt, d
    cdef double acc, bsum, s, theta
    cdef Cursor* cj
    cdef bint low0, low1
    for j in range(m):
        order[j] = j
    while True:
        for r in range(1, m):               # insertion sort by doc (nearly sorted)
            x = order[r]
            j = r - 1
            while j >= 0 and c[order[j]].doc > c[x].doc:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = x
        theta = _theta(h, size, k)
        if stop != NULL and size == k:
            low0 = w[0] * bm[0][c[0].nblocks] * (1.0 + BOUND_SLACK) <= theta
            low1 = w[1] * bm[1][c[1].nblocks] * (1.0 + BOUND_SLACK) <= theta
            if low0 and low1:
                stop[0] = 1
                return size
        acc = 0.0
        p = -1
        for r in range(m):
            cj = &c[order[r]]
            if cj.doc == END:
                break
            acc += w[order[r]] * bm[order[r]][cj.nblocks]     # bm[j][nblocks] holds tmax
            if acc * (1.0 + BOUND_SLACK) > theta:
                p = r
                break
        if p < 0:
            return size
        pdoc = c[order[p]].doc
        while p + 1 < m and c[order[p + 1]].doc == pdoc:
            p += 1
        bsum = 0.0
        nxt = c[order[p + 1]].doc if p + 1 < m else END
        for r in range(p + 1):
            cj = &c[order[r]]
            b = _find_block(cj.blocks, cj.nblocks, cj.blk, pdoc)
            if b < cj.nblocks:
                bsum += w[order[r]] * bm[order[r]][b]
                if cj.blocks[b].last < nxt - 1:
                    nxt = cj.blocks[b].last + 1
        if bsum * (1.0 + BOUND_SLACK) > theta:
            if c[order[0]].doc == pdoc:
                s = 0.0
                for j in range(m):
                    if c[j].doc == pdoc:
                        s += w[j] * _tfn(_cur_tf(&c[j]), dl[pdoc], nA, nB)
                _heap_offer(h, &size, k, s, pdoc)
                for r in range(p + 1):
                    _cur_next(&c[order[r]])
            else:
                for r in range(p + 1):
                    if c[order[r]].doc < pdoc:
                        _cur_seek(&c[order[r]], pdoc)
        else:
            for r in range(p + 1):
                _cur_seek(&c[order[r]], nxt)


cdef int _topk_docs(Cursor* c, const double* w, double** bm, int m, const int32_t* docs,
                    int64_t n, const int32_t* dl, double nA, double nB, Hit* h, int k,
                    int size) noexcept nogil:
    """Top-k of given candidate docs (sorted) scored by m terms, window by window.

    A window is the run of candidates up to the first end of the blocks the terms'
    next postings lie in: inside it every term's contribution is bounded by its
    block maximum, so once the heap is full a window whose sum of block maxima
    cannot beat theta is skipped without decoding (the block-max bound of Ding and
    Suel 2011, applied to a candidate list: conjunctions and other non-OR
    queries). The heap h already holds `size` hits. Scores sum the terms in index
    order, as _topk_or does."""
    cdef int j
    cdef int64_t i = 0
    cdef int32_t d, b, win_end, last
    cdef double bsum, s
    cdef Cursor* cj
    while i < n:
        d = docs[i]
        win_end = d
        if size == k:
            bsum = 0.0
            last = END - 1
            for j in range(m):
                cj = &c[j]
                b = _find_block(cj.blocks, cj.nblocks, cj.blk, d)
                if b < cj.nblocks:
                    bsum += w[j] * bm[j][b]
                    if cj.blocks[b].last < last:
                        last = cj.blocks[b].last
            if bsum * (1.0 + BOUND_SLACK) <= h[0].score:
                i += 1
                while i < n and docs[i] <= last:
                    i += 1
                continue
            win_end = last
        while True:
            d = docs[i]
            s = 0.0
            for j in range(m):
                if _cur_seek(&c[j], d) == d:
                    s += w[j] * _tfn(_cur_tf(&c[j]), dl[d], nA, nB)
            _heap_offer(h, &size, k, s, d)
            i += 1
            if i >= n or docs[i] > win_end:
                break
    return size


# ================================================================ building

cdef int _reserve(void** p, int64_t* cap, int64_t need, size_t size) except -1 nogil:
    """Grow the array *p of *cap items of `size` bytes to hold `need` (1.5x steps)."""
    cdef int64_t c
    if need <= cap[0]:
        return 0
    c = cap[0] + (cap[0] >> 1)
    if c < need:
        c = need
    if c < 16:
        c = 16
    mem_resize(p, <size_t>(c * <int64_t>size))
    cap[0] = c
    return 0


cdef int _encode(Tail* tl, int64_t* rel, int64_t* prel, int32_t prev, const int32_t* docs,
                 const int32_t* tfs, const int32_t* pos, int64_t n, bint with_pos) except -1 nogil:
    """Append n postings (docs > prev, increasing) as blocks of 128 to the tail.
    rel / prel: the term-relative offsets of the next block's bytes and positions."""
    cdef uint32_t gaps[BLOCK]
    cdef uint32_t fv[BLOCK]
    cdef int64_t k = 0, pk = 0, size, dbytes, cf
    cdef int cnt, i, j, tf
    cdef uint32_t gor, f_or
    cdef BlockMeta* m
    cdef uint8_t* pp
    cdef int32_t last
    while k < n:
        cnt = <int>(n - k) if n - k < BLOCK else BLOCK
        gor = 0
        f_or = 0
        for i in range(cnt):
            gaps[i] = <uint32_t>(docs[k + i] - prev - 1)
            prev = docs[k + i]
            gor |= gaps[i]
            fv[i] = <uint32_t>(tfs[k + i] - 1)
            f_or |= fv[i]
        dbytes = _packed(cnt, _width(gor))
        size = dbytes + _packed(cnt, _width(f_or))
        if rel[0] + size > <int64_t>0xffffffff:
            with gil:
                raise OverflowError("a term's postings exceed 4 GiB")
        _reserve(<void**>&tl.data, &tl.data_cap, tl.data_len + size + SLACK, 1)
        memset(tl.data + tl.data_len, 0, size + SLACK)
        _pack(gaps, cnt, _width(gor), tl.data + tl.data_len)
        _pack(fv, cnt, _width(f_or), tl.data + tl.data_len + dbytes)
        if tl.nblocks + 1 > tl.blocks_cap:
            _reserve(<void**>&tl.blocks, &tl.blocks_cap, tl.nblocks + 1, sizeof(BlockMeta))
            if with_pos:
                mem_resize(<void**>&tl.bpos, <size_t>tl.blocks_cap * sizeof(uint32_t))
        m = &tl.blocks[tl.nblocks]
        m.last = prev
        m.offset = <uint32_t>rel[0]
        m.n = <uint8_t>cnt
        m.dbits = <uint8_t>_width(gor)
        m.fbits = <uint8_t>_width(f_or)
        m.pad = 0
        tl.data_len += size
        rel[0] += size
        if with_pos:
            if prel[0] > <int64_t>0xffffffff:
                with gil:
                    raise OverflowError("a term's positions exceed 4 GiB")
            tl.bpos[tl.nblocks] = <uint32_t>prel[0]
            for i in range(cnt):
                tf = tfs[k + i]
                _reserve(<void**>&tl.pos, &tl.pos_cap, tl.pos_len + 5 * <int64_t>tf, 1)
                pp = tl.pos + tl.pos_len
                last = -1
                for j in range(tf):
                    pp = _put_varint(pp, <uint32_t>(pos[pk + j] - last - 1))
                    last = pos[pk + j]
                pk += tf
                size = pp - (tl.pos + tl.pos_len)
                tl.pos_len += size
                prel[0] += size
        tl.nblocks += 1
        k += cnt
    return 0


# ================================================================ the index

cdef unsigned char _ALNUM[256]      # 1 for the ASCII letters and digits
for _c in range(256):
    _ALNUM[_c] = 1 if (48 <= _c <= 57 or 65 <= _c <= 90 or 97 <= _c <= 122) else 0


cdef bint WEAK_KEYS = False        # tests: long tokens of one length share a key


def _set_weak_token_keys(flag):
    """Make every long token of a given length collide (tests of the collision
    path). Only for a fresh index, used and dropped while the flag holds."""
    global WEAK_KEYS
    WEAK_KEYS = bool(flag)


cdef inline int64_t _token_key(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """An int64 standing for the token p[:n]: up to 7 bytes, the bytes and the
    length themselves (one key per token, nothing to confirm); longer, its XXH64
    with the top bit set (which short keys never have), confirmed against the
    stored bytes."""
    cdef uint64_t k = 0
    if n <= 7:
        memcpy(&k, p, n)
        return <int64_t>(k | ((<uint64_t>n) << 56))
    if WEAK_KEYS:
        return <int64_t>(<uint64_t>n | ((<uint64_t>1) << 63))
    return <int64_t>(xxh64(p, n, 0) | ((<uint64_t>1) << 63))


cdef inline double _bm25_idf(double n, double df) noexcept:
    return log(1.0 + (n - df + 0.5) / (df + 0.5))


cdef class InvertedIndex:
    """An inverted index over documents of text: boolean queries and BM25 top-k.

    Parameters
    ----------
    positions : bool
        keep token positions, for phrase queries (default False)
    analyzer : callable or None
        text -> list of str tokens, used for documents and for query words and
        phrases alike. None: lowercase, then the runs of Unicode letters and digits
        (:func:`tradeoff.index.query.default_analyzer`)
    k1, b : float
        BM25's tf saturation (k1 >= 0, default 1.2) and length normalization
        (0 <= b <= 1, default 0.75); both settable later
    idf : callable or None
        ``idf(N, df) -> float >= 0``; None: ``ln(1 + (N - df + 0.5) / (df + 0.5))``,
        the IDF of Robertson and Zaragoza (2009, eq. 3.3 plus 1 inside the log so it
        never goes negative) and of Lucene's BM25Similarity; settable later
    bitset_fraction : float or None
        a term in at least this fraction of the documents also keeps a bitset over
        the doc ids (default 1/16; None: never)

    Documents. ``add(doc_id, text)`` and ``add_many(doc_ids, texts)`` take doc ids
    that are integers 0 <= id < 2**63, strictly increasing over all calls (as
    documents get ids in a Lucene segment); anything else is a ValueError and
    changes nothing. Added documents are buffered; ``commit()`` (called by every
    query) indexes them, in O(new tokens + index size) since the arenas are laid
    out again: add in batches.

    Queries (:mod:`tradeoff.index.query`): ``AND``, ``OR``, ``NOT``, parentheses,
    implicit AND between adjacent operands, ``"phrases"`` (positions=True only;
    otherwise a ValueError). Results equal set algebra over the documents, with
    ``NOT x`` meaning all documents except x.

    - ``search(q)``: the matching doc ids, a sorted int64 array;
    - ``count(q)``: their number (a pure AND of terms is counted while it is
      intersected, nothing materialized);
    - ``top_k(q, k=10)``: the k best (doc_id, score) pairs, by score descending,
      ties by doc id ascending, among the documents that match q.

    Scoring. score(d) = sum over the distinct terms t of the query that occur in
    d, except terms that occur only under an odd number of NOTs (phrase words
    count as terms), of ``idf(N, df_t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``
    where N is the number of documents in the index, df_t the number that contain
    t, tf the occurrences of t in d, dl the number of tokens of d (after
    analysis) and avgdl the mean dl over the N documents (Robertson and Zaragoza
    2009, eq. 3.5). Lucene and tantivy use the same IDF; tantivy rounds dl to a
    one-byte norm, so its scores differ slightly.

    Concurrency: queries release the GIL in their loops and may run in several
    threads at once, and alongside ``add``; ``commit`` (also the implicit one of
    a query after an ``add``) raises RuntimeError while another thread's query
    runs, and queries raise while a commit runs.

    Memory (``memory()``, ``nbytes``, ``bytes_per_posting``): on
    ``zipf_corpus(100_000)`` (7.75M postings) the packed doc ids and tfs take
    1.24 bytes a posting, 1.38 with the skip data; positions add 11.4 MB.

    Complexity: add O(tokens); commit O(new tokens + index bytes) (the arenas
    are laid out again); a two-term AND O(rarer df * log(longer / rarer)) with
    skips, O(df1 + df2) for lists of similar length, O(ndocs / 64) for two dense
    terms; top_k of a disjunction far below the sum of the dfs when block-max
    WAND skips, at worst O(sum df * (m + log k)) for m terms.

    >>> ix = InvertedIndex(positions=True)
    >>> ix.add_many([1, 2, 3], ["the quick brown fox", "the lazy dog", "a quick dog"])
    >>> ix.search("quick AND dog").tolist(), ix.count("the OR dog"), ix.count("NOT the")
    ([3], 3, 1)
    >>> ix.search('"quick brown"').tolist()
    [1]
    >>> [(d, round(s, 4)) for d, s in ix.top_k("quick OR dog", k=2)]
    [(3, 0.9801), (2, 0.4901)]
    """

    def __cinit__(self):
        self.gen = 1
        self._last_id = -1
        i64t_init(&self.vt, 0)
        self.voff_cap = 16
        mem_resize(<void**>&self.voff, self.voff_cap * sizeof(int64_t))
        self.voff[0] = 0
        self._collide = {}

    def __init__(self, positions=False, analyzer=None, k1=1.2, b=0.75, idf=None,
                 bitset_fraction=0.0625):
        if analyzer is not None and not callable(analyzer):
            raise TypeError(f"analyzer must be callable or None, not {type(analyzer).__name__}")
        if idf is not None and not callable(idf):
            raise TypeError(f"idf must be callable or None, not {type(idf).__name__}")
        self._k1 = _check_k1(k1)
        self._b = _check_b(b)
        if bitset_fraction is None:
            self._bitset_fraction = -1.0
        else:
            f = float(bitset_fraction)
            if not (0.0 <= f <= 1.0):
                raise ValueError(f"bitset_fraction must be in [0, 1] or None, got {bitset_fraction!r}")
            self._bitset_fraction = f
        self.positions = bool(positions)
        self._analyzer = analyzer
        self._idf = idf
        self._set_norms()

    def __dealloc__(self):
        cdef int32_t i
        PyMem_RawFree(self.terms)
        PyMem_RawFree(self.dl)
        PyMem_RawFree(self.ext)
        PyMem_RawFree(self.st.data)
        PyMem_RawFree(self.st.blocks)
        PyMem_RawFree(self.st.bpos)
        PyMem_RawFree(self.st.pos)
        PyMem_RawFree(self.st.bmax)
        PyMem_RawFree(self.scratch)
        i64t_free(&self.vt)
        PyMem_RawFree(self.vbytes)
        PyMem_RawFree(self.voff)
        PyMem_RawFree(self.ptok)
        PyMem_RawFree(self.plen)
        PyMem_RawFree(self.pids)
        if self.bitsets != NULL:
            for i in range(self.nbitsets):
                PyMem_RawFree(self.bitsets[i])
            PyMem_RawFree(self.bitsets)

    # ------------------------------------------------------------ parameters

    @property
    def k1(self):
        """BM25's k1 (>= 0). Settable."""
        return self._k1

    @k1.setter
    def k1(self, value):
        self._k1 = _check_k1(value)
        self.gen += 1
        self._set_norms()

    @property
    def b(self):
        """BM25's b (0 <= b <= 1). Settable."""
        return self._b

    @b.setter
    def b(self, value):
        self._b = _check_b(value)
        self.gen += 1
        self._set_norms()

    @property
    def idf(self):
        """The IDF function (N, df) -> float, or None for BM25's. Settable."""
        return self._idf

    @idf.setter
    def idf(self, value):
        if value is not None and not callable(value):
            raise TypeError(f"idf must be callable or None, not {type(value).__name__}")
        self._idf = value

    @property
    def analyzer(self):
        """The analyzer (text -> list of str tokens); None means the default one."""
        return self._analyzer

    @property
    def bitset_fraction(self):
        return None if self._bitset_fraction < 0 else self._bitset_fraction

    cdef void _set_norms(self) noexcept:
        cdef double avgdl = <double>self.total_len / self._ndocs if self._ndocs > 0 else 0.0
        self.nA = self._k1 * (1.0 - self._b)
        self.nB = self._k1 * self._b / avgdl if avgdl > 0 else 0.0

    # ------------------------------------------------------------ sizes

    def __len__(self):
        """Documents added (committed or not)."""
        return self._ndocs + self.npend

    @property
    def ndocs(self):
        """Documents added (committed or not)."""
        return self._ndocs + self.npend

    @property
    def nterms(self):
        """Distinct tokens indexed."""
        self.commit()
        return self._nterms

    @property
    def npostings(self):
        """(term, document) pairs indexed."""
        self.commit()
        return self._npostings

    @property
    def avgdl(self):
        """The mean document length in tokens (0.0 when empty)."""
        self.commit()
        return <double>self.total_len / self._ndocs if self._ndocs else 0.0

    def memory(self):
        """Bytes held, by part: ``postings`` (packed blocks), ``skip`` (block
        metadata), ``positions`` (streams and their block offsets), ``bitsets``,
        ``block_max`` (the BM25 cache; bitsets include the intersection
        scratch bitset), ``terms`` (per-term records),
        ``documents`` (lengths and ids), ``vocabulary`` (the tokens' bytes and
        the table from token to term id) and ``pending`` (added, not committed)."""
        self.commit()
        cdef int32_t i
        cdef int64_t bits = 0
        for i in range(self.nbitsets):
            if self.bitsets[i] != NULL:
                bits += self.nwords * 8
        vocab = i64t_nbytes(&self.vt) + self.vbytes_cap + self.voff_cap * 8 + sys.getsizeof(self._collide)
        return {
            "postings": int(self.st.data_len + (SLACK if self.st.data != NULL else 0)),
            "skip": int(self.st.nblocks * sizeof(BlockMeta)),
            "positions": int(self.st.pos_len + (self.st.nblocks * 4 if self.positions else 0)),
            "bitsets": int(bits + self.nbitsets * sizeof(void*) + self.scratch_words * 8),
            "block_max": int(self.st.nblocks * 8 if self.st.bmax != NULL else 0),
            "terms": int(self.terms_cap * sizeof(Term)),
            "documents": int(self.docs_cap * (4 + (8 if self.ext != NULL else 0))),
            "vocabulary": int(vocab),
            "pending": int(self.ptok_cap * 4 + self.pend_cap * 12),
        }

    @property
    def nbytes(self):
        """Total bytes held (the sum of :meth:`memory`)."""
        return sum(self.memory().values())

    @property
    def bytes_per_posting(self):
        """(postings + skip data) bytes per (term, document) pair: the doc ids and tfs."""
        m = self.memory()
        return (m["postings"] + m["skip"]) / self._npostings if self._npostings else 0.0

    # ------------------------------------------------------------ adding

    cdef int _grow_terms(self, Py_ssize_t n) except -1:
        cdef int64_t cap = self.terms_cap
        cdef Py_ssize_t old = self.terms_cap, i
        if n <= cap:
            return 0
        _reserve(<void**>&self.terms, &cap, n, sizeof(Term))
        memset(&self.terms[old], 0, (cap - old) * sizeof(Term))
        for i in range(old, cap):
            self.terms[i].bitset = -1
        self.terms_cap = cap
        return 0

    cdef int _grow_docs(self, Py_ssize_t n) except -1:
        cdef int64_t cap = self.docs_cap
        cdef Py_ssize_t old = self.docs_cap
        if n <= cap:
            return 0
        _reserve(<void**>&self.dl, &cap, n, sizeof(int32_t))
        if self.ext != NULL:
            mem_resize(<void**>&self.ext, cap * sizeof(int64_t))
        self.docs_cap = cap
        return 0

    # ------------------------------------------------------------ vocabulary

    cdef int64_t _term_id(self, const unsigned char* p, Py_ssize_t n, bint create) except -2:
        """The term id of the token p[:n] (UTF-8); a new id when unknown and create,
        else -1."""
        cdef uint64_t pos
        cdef int64_t key = _token_key(p, n)
        cdef int64_t v = i64t_find(&self.vt, key, &pos), t
        if v >= 0:
            if n <= 7 or (self.voff[v + 1] - self.voff[v] == n
                          and memcmp(self.vbytes + self.voff[v], p, n) == 0):
                return v
            return self._term_id_slow(p, n, create)
        if not create:
            return -1
        t = self.nvocab
        _reserve(<void**>&self.vbytes, &self.vbytes_cap, self.vbytes_len + n + 1, 1)
        _reserve(<void**>&self.voff, &self.voff_cap, t + 2, sizeof(int64_t))
        memcpy(self.vbytes + self.vbytes_len, p, n)
        self.vbytes_len += n
        self.voff[t + 1] = self.vbytes_len
        self.nvocab = t + 1
        if self.vt.size < self.vt.limit:
            i64t_put_at(&self.vt, pos, key, t)
        else:
            i64t_put(&self.vt, key, t)
        return t

    cdef int64_t _term_id_slow(self, const unsigned char* p, Py_ssize_t n, bint create) except -2:
        """A long token whose key another token holds (a 64-bit hash collision):
        it lives in the _collide dict instead."""
        cdef int64_t t
        b = p[:n]
        v = self._collide.get(b)
        if v is not None:
            return v
        if not create:
            return -1
        t = self.nvocab
        _reserve(<void**>&self.vbytes, &self.vbytes_cap, self.vbytes_len + n + 1, 1)
        _reserve(<void**>&self.voff, &self.voff_cap, t + 2, sizeof(int64_t))
        memcpy(self.vbytes + self.vbytes_len, p, n)
        self.vbytes_len += n
        self.voff[t + 1] = self.vbytes_len
        self.nvocab = t + 1
        self._collide[b] = t
        return t

    def _lookup(self, token):
        """The committed term id of an analyzed token, or None."""
        b = token.encode("utf-8", "surrogatepass")
        v = self._term_id(b, len(b), False)
        return None if v < 0 or v >= self._nterms else v

    def _token(self, Py_ssize_t t):
        return self.vbytes[self.voff[t]:self.voff[t + 1]].decode("utf-8", "surrogatepass")

    cdef int _push_token(self, int32_t tid) except -1:
        if self.ptok_len == self.ptok_cap:
            _reserve(<void**>&self.ptok, &self.ptok_cap, self.ptok_len + 1, sizeof(int32_t))
        self.ptok[self.ptok_len] = tid
        self.ptok_len += 1
        return 0

    cdef int64_t _tokenize_ascii(self, const unsigned char* p, Py_ssize_t n) except -1:
        """The default analyzer on ASCII text, in C: runs of letters and digits,
        lowercased, each looked up (or added) and appended to the pending tokens.
        Returns how many. The same tokens as default_analyzer gives."""
        cdef unsigned char buf[64]
        cdef unsigned char* big = NULL
        cdef unsigned char* q
        cdef unsigned char ch
        cdef Py_ssize_t i = 0, start, L, j
        cdef int64_t cnt = 0, key, v
        cdef uint64_t pos
        try:
            while i < n:
                if not _ALNUM[p[i]]:
                    i += 1
                    continue
                start = i
                while i < n and _ALNUM[p[i]]:
                    i += 1
                L = i - start
                if L <= 64:
                    q = buf
                else:
                    mem_resize(<void**>&big, L)
                    q = big
                for j in range(L):
                    ch = p[start + j]
                    q[j] = ch + 32 if 65 <= ch <= 90 else ch
                if L <= 7:              # the common case inline: the key is the token
                    key = _token_key(q, L)
                    v = i64t_find(&self.vt, key, &pos)
                    if v < 0:
                        v = self._term_id(q, L, True)
                else:
                    v = self._term_id(q, L, True)
                if self.ptok_len == self.ptok_cap:
                    _reserve(<void**>&self.ptok, &self.ptok_cap, self.ptok_len + 1, sizeof(int32_t))
                self.ptok[self.ptok_len] = <int32_t>v
                self.ptok_len += 1
                cnt += 1
        finally:
            PyMem_RawFree(big)
        return cnt

    cdef int _rollback(self, int64_t ntok, int64_t npend, Py_ssize_t nvocab) except -1:
        """Forget the pending tokens, documents and vocabulary entries added after
        the given counts (add_many failed half way)."""
        cdef Py_ssize_t t
        cdef int64_t key
        cdef const unsigned char* p
        for t in range(self.nvocab - 1, nvocab - 1, -1):
            p = <const unsigned char*>self.vbytes + self.voff[t]
            key = _token_key(p, self.voff[t + 1] - self.voff[t])
            if i64t_get(&self.vt, key) == t:
                i64t_pop(&self.vt, key)
            else:
                del self._collide[p[:self.voff[t + 1] - self.voff[t]]]
        self.nvocab = nvocab
        self.vbytes_len = self.voff[nvocab]
        self.ptok_len = ntok
        self.npend = npend
        return 0

    # ------------------------------------------------------------ adding

    def add(self, doc_id, text):
        """Add one document (committed with the next query or :meth:`commit`)."""
        if type(text) is not str:
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        self.add_many((doc_id,), (text,))

    def _analyze(self, text):
        if self._analyzer is None:
            return _TOKEN_RE.findall(text.lower())
        return _tokens(text, self._analyzer)

    def add_many(self, doc_ids, texts):
        """Add documents: doc_ids (integers, strictly increasing and above every id
        added before) and texts (str) of the same length. On any error nothing is
        added."""
        cdef Py_ssize_t i, n, nt
        cdef int64_t ntok0 = self.ptok_len, npend0 = self.npend, k, tid
        cdef Py_ssize_t nvocab0 = self.nvocab
        cdef const char* p
        texts = list(texts)
        if isinstance(doc_ids, np.ndarray):
            if doc_ids.dtype.kind not in "iu":
                raise TypeError(f"doc_ids must be integers, got an array of {doc_ids.dtype}")
            ids = [int(x) for x in doc_ids.tolist()]
        else:
            ids = list(doc_ids)
        if len(ids) != len(texts):
            raise ValueError(f"doc_ids and texts differ in length: {len(ids)} and {len(texts)}")
        if self._writing:
            raise RuntimeError("the index is being committed in another thread")
        last = self._last_id
        for i in range(len(ids)):
            try:
                d = operator.index(ids[i])
            except TypeError:
                raise TypeError(f"a doc id must be an integer, not {type(ids[i]).__name__}") from None
            if d < 0 or d >= 2 ** 63:
                raise ValueError(f"a doc id must be in [0, 2**63), got {d}")
            if d <= last:
                raise ValueError(f"doc ids must be added in increasing order: {d} after {last}")
            ids[i] = last = d
            if type(texts[i]) is not str:
                raise TypeError(f"texts must be str, got {type(texts[i]).__name__} at index {i}")
        n = len(ids)
        if self.npend + self._ndocs + n >= 0x7ffffffe:
            raise OverflowError("an index holds at most 2**31 - 2 documents")
        try:
            _reserve(<void**>&self.plen, &self.pend_cap, self.npend + n, sizeof(int32_t))
            mem_resize(<void**>&self.pids, self.pend_cap * sizeof(int64_t) + 8)
            for i in range(n):
                text = texts[i]
                if self._analyzer is None and text.isascii():
                    p = PyUnicode_AsUTF8AndSize(text, &nt)
                    k = self._tokenize_ascii(<const unsigned char*>p, nt)
                else:
                    toks = self._analyze(text)
                    for t in toks:
                        b = (<str>t).encode("utf-8", "surrogatepass")
                        tid = self._term_id(b, len(b), True)
                        self._push_token(<int32_t>tid)
                    k = len(toks)
                if k > 0x7fffffff:
                    raise OverflowError("a document holds at most 2**31 - 1 tokens")
                self.plen[self.npend] = <int32_t>k
                self.pids[self.npend] = <int64_t>ids[i]
                self.npend += 1
            if self.nvocab >= 0x7fffffff:
                raise OverflowError("an index holds at most 2**31 - 1 distinct tokens")
        except BaseException:
            self._rollback(ntok0, npend0, nvocab0)
            raise
        if n:
            self._last_id = last

    def commit(self):
        """Index the documents added since the last commit. Every query commits
        first; call it to pay the cost at a time of your choosing. A MemoryError
        here leaves the index unusable. Raises RuntimeError while a query runs in
        another thread (queries release the GIL; they may run concurrently with
        each other and with add, not with a commit)."""
        if self.npend == 0:
            return
        if self._readers:
            raise RuntimeError("cannot commit while a query runs in another thread")
        if self._writing:
            raise RuntimeError("a commit is already running in another thread")
        self._writing = True
        try:
            self._commit()
        finally:
            self._writing = False

    def _commit(self):
        cdef Py_ssize_t nnew = self.npend, V = self.nvocab, i, start, stop
        cdef int64_t tokens, ntok = 0
        cdef const int32_t* lens = self.plen
        cdef const int32_t* toks = self.ptok
        cdef const int64_t* ids = self.pids
        cdef int64_t first
        if nnew == 0:
            return
        self._grow_terms(V)
        self._grow_docs(self._ndocs + nnew)
        if self.ext == NULL and not (ids[0] == self._ndocs and ids[nnew - 1] == self._ndocs + nnew - 1):
            mem_resize(<void**>&self.ext, self.docs_cap * sizeof(int64_t))
            for i in range(self._ndocs):
                self.ext[i] = i
        first = self._ndocs
        for i in range(nnew):
            self.dl[first + i] = lens[i]
            if self.ext != NULL:
                self.ext[first + i] = ids[i]
            self.total_len += lens[i]
            if lens[i] > self.max_dl:
                self.max_dl = lens[i]
        # bitsets first grow to the final size, so each chunk can set its docs' bits
        self.nwords = (first + nnew + 63) >> 6
        for i in range(self.nbitsets):
            if self.bitsets[i] != NULL:
                mem_resize(<void**>&self.bitsets[i], self.nwords * 8)
                memset(self.bitsets[i] + ((first + 63) >> 6), 0,
                       (self.nwords - ((first + 63) >> 6)) * 8)
        start = 0
        while start < nnew:
            stop = start
            tokens = 0
            while stop < nnew and (stop == start or tokens + lens[stop] <= CHUNK_TOKENS):
                tokens += lens[stop]
                stop += 1
            self._ingest(toks, &lens[start], stop - start,
                         <int32_t>(first + start), ntok, V)
            ntok += tokens
            start = stop
        self._ndocs = first + nnew
        self._nterms = V
        self._update_bitsets(<int32_t>first)
        self.npend = 0
        self.ptok_len = 0
        if self.ptok_cap > 1 << 16:        # a large batch: give its buffers back
            PyMem_RawFree(self.ptok)
            self.ptok = NULL
            self.ptok_cap = 0
        if self.pend_cap > 1 << 12:
            PyMem_RawFree(self.plen)
            PyMem_RawFree(self.pids)
            self.plen = NULL
            self.pids = NULL
            self.pend_cap = 0
        PyMem_RawFree(self.st.bmax)
        self.st.bmax = NULL
        self.gen += 1
        self._set_norms()

    cdef int _ingest(self, const int32_t* alltok, const int32_t* lens, Py_ssize_t nd,
                     int32_t base, int64_t tok0, Py_ssize_t V) except -1:
        """Index documents base .. base + nd - 1, whose tokens start at alltok[tok0]:
        count, bucket the postings by term, encode the touched terms' new blocks
        (re-encoding a last block that was not full), then lay out new arenas."""
        cdef int64_t* work = NULL       # per term: 11 int64 columns
        cdef int32_t* last = NULL
        cdef int32_t* bdoc = NULL
        cdef int32_t* btf = NULL
        cdef int32_t* bpos = NULL
        cdef int32_t* opos = NULL
        cdef Tail tl
        cdef Store ns
        cdef const int32_t* tok = (alltok + tok0) if alltok != NULL else NULL
        cdef int64_t ntok = 0, npost = 0, k, j, t, tot = 0, opos_cap = 0
        cdef int64_t* dfb
        cdef int64_t* cfb
        cdef int64_t* doff
        cdef int64_t* poff
        cdef int64_t* keep_blocks
        cdef int64_t* keep_bytes
        cdef int64_t* keep_pos
        cdef int64_t* tail0
        cdef Py_ssize_t d, p
        cdef bint with_pos = self.positions
        memset(&tl, 0, sizeof(Tail))
        memset(&ns, 0, sizeof(Store))
        for d in range(nd):
            ntok += lens[d]
        try:
            mem_resize(<void**>&work, 11 * V * sizeof(int64_t) + 8)
            memset(work, 0, 11 * V * sizeof(int64_t))
            dfb = work
            cfb = work + V
            doff = work + 2 * V
            poff = work + 3 * V
            keep_blocks = work + 4 * V
            keep_bytes = work + 5 * V
            keep_pos = work + 6 * V
            tail0 = work + 7 * V            # 4 columns: first tail block, bytes, positions, blocks
            mem_resize(<void**>&last, V * sizeof(int32_t) + 4)
            with nogil:
                memset(last, 0xff, V * sizeof(int32_t))
                k = 0
                for d in range(nd):
                    for p in range(lens[d]):
                        t = tok[k]
                        k += 1
                        cfb[t] += 1
                        if last[t] != d:
                            last[t] = <int32_t>d
                            dfb[t] += 1
                for t in range(V):
                    doff[t] = npost
                    npost += dfb[t]
                    poff[t] = tot
                    tot += cfb[t]
            mem_resize(<void**>&bdoc, npost * sizeof(int32_t) + 4)
            mem_resize(<void**>&btf, npost * sizeof(int32_t) + 4)
            if with_pos:
                mem_resize(<void**>&bpos, ntok * sizeof(int32_t) + 4)
            with nogil:
                memset(last, 0xff, V * sizeof(int32_t))
                # doff / poff become fill pointers, then are restored
                k = 0
                for d in range(nd):
                    for p in range(lens[d]):
                        t = tok[k]
                        k += 1
                        if last[t] != d:
                            last[t] = <int32_t>d
                            bdoc[doff[t]] = base + <int32_t>d
                            btf[doff[t]] = 1
                            doff[t] += 1
                        else:
                            btf[doff[t] - 1] += 1
                        if with_pos:
                            bpos[poff[t]] = <int32_t>p
                            poff[t] += 1
                for t in range(V):
                    doff[t] -= dfb[t]
                    poff[t] -= cfb[t]
            self._encode_tails(&tl, V, dfb, cfb, doff, poff, bdoc, btf, bpos,
                               keep_blocks, keep_bytes, keep_pos, tail0, &opos, &opos_cap)
            self._layout(&tl, &ns, V, keep_blocks, keep_bytes, keep_pos, tail0)
            self._npostings += npost
        finally:
            PyMem_RawFree(work)
            PyMem_RawFree(last)
            PyMem_RawFree(bdoc)
            PyMem_RawFree(btf)
            PyMem_RawFree(bpos)
            PyMem_RawFree(opos)
            PyMem_RawFree(tl.data)
            PyMem_RawFree(tl.blocks)
            PyMem_RawFree(tl.bpos)
            PyMem_RawFree(tl.pos)
        return 0

    cdef int _encode_tails(self, Tail* tl, Py_ssize_t V, const int64_t* dfb, const int64_t* cfb,
                           const int64_t* doff, const int64_t* poff, const int32_t* bdoc,
                           const int32_t* btf, const int32_t* bpos, int64_t* keep_blocks,
                           int64_t* keep_bytes, int64_t* keep_pos, int64_t* tail0,
                           int32_t** opos, int64_t* opos_cap) except -1 nogil:
        """Encode each touched term's new postings (after its last block if that one
        was not full) into the tail; record what of its old segment is kept."""
        cdef Term* T
        cdef const BlockMeta* bl
        cdef const BlockMeta* m
        cdef int32_t odoc[BLOCK]
        cdef int32_t otf[BLOCK]
        cdef int32_t prev, mo, take, i, j, v
        cdef int64_t t, b, npo, ntake, rel, prel, k
        cdef uint32_t x
        cdef const uint8_t* pp
        cdef Store* st = &self.st
        cdef bint with_pos = self.positions
        cdef int64_t* tb0 = tail0
        cdef int64_t* tbytes = tail0 + V
        cdef int64_t* tpos = tail0 + 2 * V
        cdef int64_t* tnb = tail0 + 3 * V
        for t in range(V):
            T = &self.terms[t]
            keep_blocks[t] = T.nblocks
            keep_bytes[t] = self._term_bytes(t)
            keep_pos[t] = self._term_pos_bytes(t)
            tb0[t] = tl.nblocks
            tbytes[t] = tl.data_len
            tpos[t] = tl.pos_len
            if dfb[t] == 0:
                continue
            T.df += <int32_t>dfb[t]         # re-encoding a partial block changes neither
            T.cf += cfb[t]
            bl = st.blocks + T.block0
            prev = bl[T.nblocks - 1].last if T.nblocks > 0 else -1
            rel = keep_bytes[t]
            prel = keep_pos[t]
            mo = 0
            ntake = 0
            take = 0
            if T.nblocks > 0 and bl[T.nblocks - 1].n < BLOCK:
                b = T.nblocks - 1
                m = &bl[b]
                mo = m.n
                prev = bl[b - 1].last if b > 0 else -1
                _unpack_docs(st.data + T.data0 + m.offset, mo, m.dbits, prev, odoc)
                _unpack_tfs(st.data + T.data0 + m.offset + _packed(mo, m.dbits), mo, m.fbits, otf)
                take = BLOCK - mo if dfb[t] > BLOCK - mo else <int32_t>dfb[t]
                for i in range(take):
                    odoc[mo + i] = bdoc[doff[t] + i]
                    otf[mo + i] = btf[doff[t] + i]
                npo = 0
                for i in range(mo + take):
                    npo += otf[i]
                if with_pos:
                    _reserve(<void**>opos, opos_cap, npo + 1, sizeof(int32_t))
                    pp = st.pos + T.pos0 + st.bpos[T.block0 + b]
                    k = 0
                    for i in range(mo):
                        v = -1
                        for j in range(otf[i]):
                            pp = _get_varint(pp, &x)
                            v += <int32_t>x + 1
                            opos[0][k] = v
                            k += 1
                    for i in range(k, npo):
                        opos[0][i] = bpos[poff[t] + i - k]
                    ntake = npo - k
                    keep_pos[t] = st.bpos[T.block0 + b]
                keep_blocks[t] = b
                keep_bytes[t] = m.offset
                rel = keep_bytes[t]
                prel = keep_pos[t]
                _encode(tl, &rel, &prel, prev, odoc, otf, opos[0] if with_pos else NULL,
                        mo + take, with_pos)
                prev = odoc[mo + take - 1]
            if dfb[t] > take:
                _encode(tl, &rel, &prel, prev, bdoc + doff[t] + take, btf + doff[t] + take,
                        (bpos + poff[t] + ntake) if with_pos else NULL, dfb[t] - take, with_pos)
            tnb[t] = tl.nblocks - tb0[t]
            tbytes[t] = tl.data_len - tbytes[t]
            tpos[t] = tl.pos_len - tpos[t]
        # untouched terms: nothing in the tail
        for t in range(V):
            if dfb[t] == 0:
                tnb[t] = 0
                tbytes[t] = 0
                tpos[t] = 0
        return 0

    cdef int64_t _term_bytes(self, int64_t t) noexcept nogil:
        """Bytes of term t's blocks (0 for a term that has none yet)."""
        cdef Term* T
        if t >= self._nterms:
            return 0
        T = &self.terms[t]
        if T.nblocks == 0:
            return 0
        return self.st.blocks[T.block0 + T.nblocks - 1].offset + _block_bytes(&self.st.blocks[T.block0 + T.nblocks - 1])

    cdef int64_t _term_pos_bytes(self, int64_t t) noexcept nogil:
        """Bytes of term t's positions: up to the next term's (segments are in id order)."""
        if t >= self._nterms or not self.positions:
            return 0
        if t + 1 < self._nterms:
            return self.terms[t + 1].pos0 - self.terms[t].pos0
        return self.st.pos_len - self.terms[t].pos0

    cdef int _layout(self, Tail* tl, Store* ns, Py_ssize_t V, const int64_t* keep_blocks,
                     const int64_t* keep_bytes, const int64_t* keep_pos, const int64_t* tail0) except -1:
        """New arenas: each term's kept segment followed by its tail, in id order."""
        cdef int64_t t, nb = 0, nbytes = 0, npos = 0, d = 0, bl = 0, ps = 0
        cdef const int64_t* tb0 = tail0
        cdef const int64_t* tbytes = tail0 + V
        cdef const int64_t* tpos = tail0 + 2 * V
        cdef const int64_t* tnb = tail0 + 3 * V
        cdef int64_t tdata0 = 0, tpos0 = 0
        cdef Term* T
        cdef bint with_pos = self.positions
        for t in range(V):
            nb += keep_blocks[t] + tnb[t]
            nbytes += keep_bytes[t] + tbytes[t]
            npos += keep_pos[t] + tpos[t]
        try:
            mem_resize(<void**>&ns.data, nbytes + SLACK)
            mem_resize(<void**>&ns.blocks, nb * sizeof(BlockMeta) + 1)
            if with_pos:
                mem_resize(<void**>&ns.bpos, nb * sizeof(uint32_t) + 1)
                mem_resize(<void**>&ns.pos, npos + 1)
        except MemoryError:
            PyMem_RawFree(ns.data)
            PyMem_RawFree(ns.blocks)
            PyMem_RawFree(ns.bpos)
            PyMem_RawFree(ns.pos)
            raise
        with nogil:
            for t in range(V):
                T = &self.terms[t]
                memcpy(ns.data + d, self.st.data + T.data0, keep_bytes[t])
                memcpy(ns.data + d + keep_bytes[t], tl.data + tdata0, tbytes[t])
                memcpy(ns.blocks + bl, self.st.blocks + T.block0, keep_blocks[t] * sizeof(BlockMeta))
                memcpy(ns.blocks + bl + keep_blocks[t], tl.blocks + tb0[t], tnb[t] * sizeof(BlockMeta))
                if with_pos:
                    memcpy(ns.bpos + bl, self.st.bpos + T.block0, keep_blocks[t] * sizeof(uint32_t))
                    memcpy(ns.bpos + bl + keep_blocks[t], tl.bpos + tb0[t], tnb[t] * sizeof(uint32_t))
                    memcpy(ns.pos + ps, self.st.pos + T.pos0, keep_pos[t])
                    memcpy(ns.pos + ps + keep_pos[t], tl.pos + tpos0, tpos[t])
                T.data0 = d
                T.block0 = bl
                T.pos0 = ps
                T.nblocks = <int32_t>(keep_blocks[t] + tnb[t])
                d += keep_bytes[t] + tbytes[t]
                bl += keep_blocks[t] + tnb[t]
                ps += keep_pos[t] + tpos[t]
                tdata0 += tbytes[t]
                tpos0 += tpos[t]
            memset(ns.data + d, 0, SLACK)
        PyMem_RawFree(self.st.data)
        PyMem_RawFree(self.st.blocks)
        PyMem_RawFree(self.st.bpos)
        PyMem_RawFree(self.st.pos)
        self.st.data = ns.data
        self.st.data_len = nbytes
        self.st.blocks = ns.blocks
        self.st.nblocks = nb
        self.st.bpos = ns.bpos
        self.st.pos = ns.pos
        self.st.pos_len = npos
        self._nterms = V
        return 0

    cdef int _update_bitsets(self, int32_t first) except -1:
        """After a commit of docs >= first: set their bits in the dense terms'
        bitsets, create bitsets for terms now dense, free those of terms that fell
        below half the threshold."""
        cdef Py_ssize_t t
        cdef Term* T
        cdef int32_t slot, i
        cdef double need = self._bitset_fraction * self._ndocs
        for t in range(self._nterms):
            T = &self.terms[t]
            if T.bitset >= 0:
                if self._bitset_fraction < 0 or T.df < need / 2:
                    PyMem_RawFree(self.bitsets[T.bitset])
                    self.bitsets[T.bitset] = NULL
                    T.bitset = -1
                else:
                    _bits_set_term(&self.st, T, self.bitsets[T.bitset], first)
            elif self._bitset_fraction >= 0 and T.df >= need and T.df > 0:
                slot = -1
                for i in range(self.nbitsets):
                    if self.bitsets[i] == NULL:
                        slot = i
                        break
                if slot < 0:
                    mem_resize(<void**>&self.bitsets, (self.nbitsets + 1) * sizeof(void*))
                    slot = self.nbitsets
                    self.bitsets[slot] = NULL
                    self.nbitsets += 1
                mem_resize(<void**>&self.bitsets[slot], self.nwords * 8 + 8)
                memset(self.bitsets[slot], 0, self.nwords * 8)
                _bits_set_term(&self.st, T, self.bitsets[slot], 0)
                T.bitset = slot
        return 0

    cdef int _ensure_bmax(self, Term* t) except -1:
        """Compute the term's block maxima of tf / (tf + norm(dl)) if stale."""
        cdef Cursor c
        cdef int32_t b, i
        cdef double mx, v, tmax = 0.0
        cdef double* bm
        if t.bmax_gen == self.gen and self.st.bmax != NULL:
            return 0
        if self.st.bmax == NULL:
            mem_resize(<void**>&self.st.bmax, self.st.nblocks * sizeof(double) + 8)
        bm = self.st.bmax + t.block0
        with nogil:
            _cur_init(&c, &self.st, t)
            for b in range(t.nblocks):
                if b > 0:
                    _cur_load(&c, b)
                _cur_tf(&c)
                mx = 0.0
                for i in range(c.n):
                    v = _tfn(c.tfs[i], self.dl[c.docs[i]], self.nA, self.nB)
                    if v > mx:
                        mx = v
                bm[b] = mx
                if mx > tmax:
                    tmax = mx
        t.tmax = tmax
        t.bmax_gen = self.gen
        return 0

    # ------------------------------------------------------------ queries

    def parse(self, query):
        """The query's tree (:func:`tradeoff.index.query.parse` with this analyzer)."""
        return parse(query, self._analyzer)

    def _plan(self, node):
        """The tree as a plan over term ids, simplified: ("t", id), ("ph", ids),
        ("and", positives, negatives), ("or", children), ("not", child), ("all",),
        ("none",)."""
        cls = type(node)
        if cls is QTerm:
            tid = self._lookup(node.text)
            return _NONE if tid is None else ("t", tid)
        if cls is And:
            pos = []
            neg = []
            for child in node.children:
                c = self._plan(child)
                kind = c[0]
                if kind == "none":
                    return _NONE
                if kind == "all":
                    continue
                if kind == "not":
                    neg.append(c[1])
                elif kind == "and":
                    pos.extend(c[1])
                    neg.extend(c[2])
                else:
                    pos.append(c)
            if not pos and not neg:
                return _ALL
            if len(pos) == 1 and not neg:
                return pos[0]
            return ("and", pos, neg)
        if cls is Or:
            cs = []
            for child in node.children:
                c = self._plan(child)
                if c[0] == "all":
                    return _ALL
                if c[0] == "or":
                    cs.extend(c[1])
                elif c[0] != "none":
                    cs.append(c)
            if not cs:
                return _NONE
            return cs[0] if len(cs) == 1 else ("or", cs)
        if cls is Not:
            c = self._plan(node.child)
            if c[0] == "none":
                return _ALL
            if c[0] == "all":
                return _NONE
            if c[0] == "not":
                return c[1]
            return ("not", c)
        if cls is Phrase:
            if not self.positions:
                raise ValueError(f"phrase query {' '.join(node.terms)!r} needs an index built with positions=True")
            tids = []
            for w in node.terms:
                tid = self._lookup(w)
                if tid is None:
                    return _NONE
                tids.append(tid)
            return ("ph", tuple(tids))
        if cls is NoMatch:
            return _NONE
        raise TypeError(f"not a query node: {node!r}")

    def _prepare(self, query):
        node = parse(query, self._analyzer) if type(query) is str else query
        self._reading()
        return node, self._plan(node)

    def _reading(self):
        """Commit pending documents; refuse while another thread commits."""
        if self.npend:
            self.commit()
        if self._writing:
            raise RuntimeError("the index is being committed in another thread")

    def search(self, query):
        """The ids of the documents matching query (a str, or a tree from
        :meth:`parse`), as a sorted int64 array."""
        node, plan = self._prepare(query)
        self._readers += 1
        try:
            return self._external(self._docs(plan))
        finally:
            self._readers -= 1

    def count(self, query):
        """The number of documents matching query."""
        node, plan = self._prepare(query)
        self._readers += 1
        try:
            return self._count(plan)
        finally:
            self._readers -= 1

    def top_k(self, query, k=10):
        """The k documents matching query with the highest BM25 scores, as a list of
        (doc_id, score), best first, ties by doc id ascending (fewer when fewer
        match)."""
        try:
            k = operator.index(k)
        except TypeError:
            raise TypeError(f"k must be an integer, not {type(k).__name__}") from None
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        if k > 0x7fffffff:
            k = 0x7fffffff
        node, plan = self._prepare(query)
        tids = _scoring_terms(node, self._lookup)
        if k == 0 or plan[0] == "none":
            return []
        self._readers += 1
        try:
            return self._top_k(plan, tids, k)
        finally:
            self._readers -= 1

    # ------------------------------------------------------------ evaluation

    cdef object _external(self, object docs):
        """Internal doc ids (sorted int32) to the caller's (sorted int64)."""
        cdef cnp.ndarray out
        cdef int64_t[::1] o
        cdef const int32_t[::1] d
        cdef Py_ssize_t i, n = docs.shape[0]
        if self.ext == NULL:
            return docs.astype(np.int64)
        out = np.empty(n, dtype=np.int64)
        o = out
        d = docs
        for i in range(n):
            o[i] = self.ext[d[i]]
        return out

    cdef int64_t _count(self, plan) except -1:
        cdef str kind = plan[0]
        if kind == "t":
            return self.terms[<Py_ssize_t>plan[1]].df
        if kind == "none":
            return 0
        if kind == "all":
            return self._ndocs
        if kind == "and" and not plan[2]:
            for c in plan[1]:
                if c[0] != "t":
                    break
            else:
                return self._count_terms(plan[1])
        if kind == "and":
            return self._and(plan[1], plan[2], True)[1]
        return len(self._docs(plan))

    cdef int64_t _count_terms(self, list children) except -1:
        """A pure AND of terms, counted while intersecting."""
        cdef Term* a
        cdef Term* b
        if len(children) == 2:
            a = &self.terms[<Py_ssize_t>children[0][1]]
            b = &self.terms[<Py_ssize_t>children[1][1]]
            if a.bitset >= 0 and b.bitset >= 0:
                return _count_and_words(self.bitsets[a.bitset], self.bitsets[b.bitset], self.nwords)
        return self._and(children, [], True)[1]

    cdef object _docs(self, plan):
        """The plan's docs: a sorted int32 array of internal ids."""
        cdef str kind = plan[0]
        cdef cnp.ndarray out
        cdef Term* T
        if kind == "t":
            T = &self.terms[<Py_ssize_t>plan[1]]
            out = np.empty(T.df, dtype=np.int32)
            if T.df:
                _decode_all(&self.st, T, <int32_t*>cnp.PyArray_DATA(out), NULL)
            return out
        if kind == "none":
            return np.empty(0, dtype=np.int32)
        if kind == "all":
            return np.arange(self._ndocs, dtype=np.int32)
        if kind == "and":
            return self._and(plan[1], plan[2], False)[0]
        if kind == "or":
            return self._or(plan[1])
        if kind == "not":
            mask = np.ones(self._ndocs, dtype=bool)
            mask[self._docs(plan[1])] = False
            return np.flatnonzero(mask).astype(np.int32)
        if kind == "ph":
            return self._phrase(plan[1])
        raise AssertionError(plan)

    cdef tuple _and(self, list pos, list neg, bint count_only):
        """(docs or None, count) of AND(pos) minus each of neg (pos empty: all docs)."""
        cdef int npos = len(pos), nneg = len(neg), i, j, ncur = 0, nb_p = 0, nb_n = 0
        cdef Src* srcs = NULL
        cdef Cursor* curs = NULL
        cdef const uint64_t** pbits = NULL
        cdef int64_t cap, cnt
        cdef Term* T
        cdef cnp.ndarray out = None
        cdef cnp.ndarray arr
        cdef list keep = []
        cdef bint words_only = True
        cdef Src tmp
        cdef int32_t* outp = NULL
        cdef uint64_t* mine = NULL
        cdef Src* s
        cdef int n_src = (npos if npos > 0 else 1) + nneg
        try:
            mem_resize(<void**>&srcs, n_src * sizeof(Src))
            memset(srcs, 0, n_src * sizeof(Src))
            mem_resize(<void**>&curs, (npos + nneg + 1) * sizeof(Cursor))
            mem_resize(<void**>&pbits, (n_src + 1) * sizeof(void*))
            # the positive sources, then the negative ones
            for i in range(npos + nneg):
                c = pos[i] if i < npos else neg[i - npos]
                s = &srcs[i if npos > 0 else i + 1]
                s.ndocs = <int32_t>self._ndocs
                s.nwords = self.nwords
                if c[0] == "t":
                    T = &self.terms[<Py_ssize_t>c[1]]
                    s.size = T.df
                    if T.bitset >= 0:
                        s.kind = S_BITS
                        s.bits = self.bitsets[T.bitset]
                    else:
                        s.kind = S_CUR
                        _cur_init(&curs[ncur], &self.st, T)
                        s.cur = &curs[ncur]
                        ncur += 1
                        words_only = False
                else:
                    arr = self._docs(c)
                    keep.append(arr)
                    s.kind = S_ARR
                    s.arr = <const int32_t*>cnp.PyArray_DATA(arr)
                    s.n = arr.shape[0]
                    s.size = s.n
                    words_only = False
            if npos == 0:
                srcs[0].kind = S_ALL
                srcs[0].ndocs = <int32_t>self._ndocs
                srcs[0].size = self._ndocs
                npos = 1
            # the smallest positive leads; a bitset source is better tested than led by
            for i in range(1, npos):
                tmp = srcs[i]
                j = i - 1
                while j >= 0 and (srcs[j].size > tmp.size or (srcs[j].size == tmp.size and srcs[j].kind == S_BITS)):
                    srcs[j + 1] = srcs[j]
                    j -= 1
                srcs[j + 1] = tmp
            cap = srcs[0].size
            for i in range(npos):
                if srcs[i].size == 0:
                    cap = 0
            if cap == 0:
                return (np.empty(0, dtype=np.int32), 0)
            if not count_only:
                out = np.empty(cap, dtype=np.int32)
                outp = <int32_t*>cnp.PyArray_DATA(out)
            if (npos == 2 and nneg == 0 and srcs[0].kind == S_CUR and srcs[1].kind == S_CUR
                    and srcs[1].size <= 16 * srcs[0].size):
                if self.scratch_busy:   # another thread's query has it: a private one
                    mem_resize(<void**>&mine, (self.nwords + 1) * sizeof(uint64_t))
                    memset(mine, 0, (self.nwords + 1) * sizeof(uint64_t))
                    with nogil:
                        cnt = _intersect2_scratch(srcs[0].cur, srcs[1].cur, mine, outp)
                else:
                    if self.scratch_words < self.nwords:
                        mem_resize(<void**>&self.scratch, (self.nwords + 1) * sizeof(uint64_t))
                        memset(self.scratch, 0, (self.nwords + 1) * sizeof(uint64_t))
                        self.scratch_words = self.nwords
                    self.scratch_busy = True
                    try:
                        with nogil:
                            cnt = _intersect2_scratch(srcs[0].cur, srcs[1].cur, self.scratch, outp)
                    finally:
                        self.scratch_busy = False
            elif srcs[0].kind == S_CUR and _bits_but_lead(srcs, npos, nneg):
                for i in range(1, npos):
                    pbits[nb_p] = srcs[i].bits
                    nb_p += 1
                for i in range(nneg):
                    pbits[npos + nb_n] = srcs[npos + i].bits
                    nb_n += 1
                with nogil:
                    cnt = _filter_bits(srcs[0].cur, pbits, nb_p, pbits + npos, nb_n, outp)
            elif words_only:
                for i in range(npos):
                    if srcs[i].kind == S_BITS:
                        pbits[nb_p] = srcs[i].bits
                        nb_p += 1
                for i in range(nneg):
                    pbits[npos + nb_n] = srcs[npos + i].bits
                    nb_n += 1
                with nogil:
                    cnt = _conjunction_words(pbits, nb_p, pbits + npos, nb_n, self.nwords,
                                             <int32_t>self._ndocs, outp)
            else:
                with nogil:
                    cnt = _conjunction(srcs, npos, srcs + npos, nneg, outp)
            if count_only:
                return (None, cnt)
            return (out[:cnt], cnt)
        finally:
            PyMem_RawFree(srcs)
            PyMem_RawFree(curs)
            PyMem_RawFree(pbits)
            PyMem_RawFree(mine)

    cdef object _or(self, list children):
        """The union of the children's docs: through a bitset when they are many
        (O(ndocs / 64 + sum of sizes)), else by sorting their concatenation."""
        cdef int64_t total = 0, n
        cdef Term* T
        cdef uint64_t* w
        cdef const int32_t[::1] a
        cdef Py_ssize_t i
        cdef cnp.ndarray words, out
        parts = []
        for c in children:
            if c[0] == "t":
                total += self.terms[<Py_ssize_t>c[1]].df
                parts.append(c)
            else:
                arr = self._docs(c)
                total += arr.shape[0]
                parts.append(arr)
        if total * 16 < self.nwords:
            arrays = [self._docs(p) if isinstance(p, tuple) else p for p in parts]
            return np.unique(np.concatenate(arrays)).astype(np.int32, copy=False)
        words = np.zeros(self.nwords + 1, dtype=np.uint64)
        w = <uint64_t*>cnp.PyArray_DATA(words)
        for p in parts:
            if isinstance(p, tuple):
                T = &self.terms[<Py_ssize_t>p[1]]
                if T.bitset >= 0:
                    for i in range(self.nwords):
                        w[i] |= self.bitsets[T.bitset][i]
                else:
                    with nogil:
                        _bits_set_term(&self.st, T, w, 0)
            else:
                a = p
                with nogil:
                    for i in range(a.shape[0]):
                        w[a[i] >> 6] |= (<uint64_t>1) << (a[i] & 63)
        out = np.empty(min(total, self._ndocs), dtype=np.int32)
        with nogil:
            n = _bits_extract(w, self.nwords, <int32_t*>cnp.PyArray_DATA(out))
        return out[:n]

    cdef object _phrase(self, tuple tids):
        cdef int m = len(tids), j
        cdef Cursor* curs = NULL
        cdef int32_t* ints = NULL           # order, offs, plen, ptr: 4 * m
        cdef int32_t** pb = NULL
        cdef int64_t cnt, cap = 0x7fffffffffffffff
        cdef cnp.ndarray out
        cdef Term* T
        try:
            mem_resize(<void**>&curs, m * sizeof(Cursor))
            mem_resize(<void**>&ints, 4 * m * sizeof(int32_t))
            mem_resize(<void**>&pb, m * sizeof(int32_t*))
            memset(pb, 0, m * sizeof(int32_t*))
            for j in range(m):
                T = &self.terms[<Py_ssize_t>tids[j]]
                _cur_init(&curs[j], &self.st, T)
                mem_resize(<void**>&pb[j], (self.max_dl + 1) * sizeof(int32_t))
                ints[m + j] = j                 # offsets: the word's place in the phrase
                cap = min(cap, T.df)
            dfs = [self.terms[<Py_ssize_t>t].df for t in tids]
            order = sorted(range(m), key=dfs.__getitem__)
            for j in range(m):
                ints[j] = order[j]
            out = np.empty(cap, dtype=np.int32)
            with nogil:
                cnt = _phrase(curs, m, ints, ints + m, pb, ints + 2 * m, ints + 3 * m,
                              <int32_t*>cnp.PyArray_DATA(out))
            return out[:cnt]
        finally:
            if pb != NULL:
                for j in range(m):
                    PyMem_RawFree(pb[j])
            PyMem_RawFree(pb)
            PyMem_RawFree(ints)
            PyMem_RawFree(curs)

    # ------------------------------------------------------------ ranking

    cdef list _weights(self, list tids):
        """idf(N, df) * (k1 + 1) per term."""
        cdef double N = self._ndocs
        out = []
        for tid in tids:
            df = self.terms[<Py_ssize_t>tid].df
            if self._idf is None:
                v = _bm25_idf(N, df)
            else:
                v = float(self._idf(self._ndocs, df))
                if not (v >= 0 and math.isfinite(v)):
                    raise ValueError(f"idf({self._ndocs}, {df}) must be finite and >= 0, got {v!r}")
            out.append(v * (self._k1 + 1.0))
        return out

    cdef list _top_k(self, plan, list tids, int k):
        """Disjunctions of terms run block-max WAND; every other query scores its
        candidate docs (from the boolean evaluation) window by window."""
        cdef str kind = plan[0]
        cdef int m = len(tids), j, size
        cdef Cursor* curs = NULL
        cdef double* w = NULL
        cdef double** bm = NULL
        cdef Hit* h = NULL
        cdef Term* T
        cdef cnp.ndarray docs
        cdef int64_t n
        wand = False
        if kind == "t" or kind == "or":
            wand = True
            for c in ([plan] if kind == "t" else plan[1]):
                if c[0] != "t":
                    wand = False
                    break
            if wand and set([plan[1]] if kind == "t" else [c[1] for c in plan[1]]) != set(tids):
                wand = False            # a term scores that the plan does not walk
        if k > self._ndocs:
            k = <int>self._ndocs
        if k == 0:
            return []
        try:
            mem_resize(<void**>&curs, (m + 1) * sizeof(Cursor))
            mem_resize(<void**>&w, (m + 1) * sizeof(double))
            mem_resize(<void**>&bm, (m + 1) * sizeof(double*))
            mem_resize(<void**>&h, k * sizeof(Hit))
            ws = self._weights(tids)
            for j in range(m):
                w[j] = ws[j]
                T = &self.terms[<Py_ssize_t>tids[j]]
                self._ensure_bmax(T)
            for j in range(m):
                T = &self.terms[<Py_ssize_t>tids[j]]
                _cur_init(&curs[j], &self.st, T)
                bm[j] = self.st.bmax + T.block0
            if wand:
                return self._top_k_or(curs, w, m, tids, h, k)
            docs = self._docs(plan)
            n = docs.shape[0]
            with nogil:
                size = _topk_docs(curs, w, bm, m, <int32_t*>cnp.PyArray_DATA(docs), n, self.dl,
                                  self.nA, self.nB, h, k, 0)
            return self._hits(h, size)
        finally:
            PyMem_RawFree(curs)
            PyMem_RawFree(w)
            PyMem_RawFree(bm)
            PyMem_RawFree(h)

    cdef list _top_k_or(self, Cursor* curs, double* w, int m, list tids, Hit* h, int k):
        """Block-max WAND with each term's maxima extended by its tmax (the caller's
        cursors are initialized)."""
        cdef double** bm = NULL
        cdef int32_t* order = NULL
        cdef int j, size
        cdef Term* T
        cdef double* ext = NULL
        cdef int64_t total = 0, off = 0, n
        cdef int stop = 0
        cdef cnp.ndarray docs
        try:
            for j in range(m):
                total += self.terms[<Py_ssize_t>tids[j]].nblocks + 1
            mem_resize(<void**>&ext, total * sizeof(double) + 8)
            mem_resize(<void**>&bm, m * sizeof(double*) + 8)
            mem_resize(<void**>&order, m * sizeof(int32_t) + 4)
            for j in range(m):
                T = &self.terms[<Py_ssize_t>tids[j]]
                memcpy(ext + off, self.st.bmax + T.block0, T.nblocks * sizeof(double))
                ext[off + T.nblocks] = T.tmax
                bm[j] = ext + off
                off += T.nblocks + 1
            with nogil:
                size = _topk_or(curs, w, bm, m, self.dl, self.nA, self.nB, order, h, k,
                                &stop if m == 2 else NULL)
            if stop:                    # both terms needed: their intersection
                resume = max(curs[0].doc, curs[1].doc)
                docs = self._and([("t", tids[0]), ("t", tids[1])], [], False)[0]
                docs = docs[np.searchsorted(docs, resume):]
                n = docs.shape[0]
                with nogil:
                    size = _topk_docs(curs, w, bm, m, <int32_t*>cnp.PyArray_DATA(docs), n, self.dl,
                                      self.nA, self.nB, h, k, size)
            return self._hits(h, size)
        finally:
            PyMem_RawFree(ext)
            PyMem_RawFree(bm)
            PyMem_RawFree(order)

    cdef list _hits(self, Hit* h, int size):
        cdef int i
        hits = sorted([(-h[i].score, h[i].doc) for i in range(size)])
        if self.ext == NULL:
            return [(d, -s) for s, d in hits]
        return [(self.ext[d], -s) for s, d in hits]

    # ------------------------------------------------------------ inspection

    def _internal(self, doc_id):
        """The internal id of a committed doc id, or -1."""
        cdef Py_ssize_t lo = 0, hi = self._ndocs, mid
        d = operator.index(doc_id)
        if self.ext == NULL:
            return d if 0 <= d < self._ndocs else -1
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.ext[mid] < d:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < self._ndocs and self.ext[lo] == d else -1

    def doc_freq(self, token):
        """The number of documents that contain the (analyzed) token."""
        self.commit()
        tid = self._lookup(token)
        return 0 if tid is None else self.terms[<Py_ssize_t>tid].df

    def doc_freqs(self):
        """(tokens, dfs): every indexed token in first-seen order and the number of
        documents that contain it (an int64 array)."""
        cdef cnp.ndarray out
        cdef int64_t[::1] o
        cdef Py_ssize_t t
        self.commit()
        out = np.empty(self._nterms, dtype=np.int64)
        o = out
        for t in range(self._nterms):
            o[t] = self.terms[t].df
        return [self._token(t) for t in range(self._nterms)], out

    def doc_length(self, doc_id):
        """The number of tokens of a document."""
        self.commit()
        i = self._internal(doc_id)
        if i < 0:
            raise KeyError(doc_id)
        return self.dl[<Py_ssize_t>i]

    def postings(self, token):
        """(doc ids int64, tfs int32) of the (analyzed) token, in doc order."""
        cdef cnp.ndarray docs, tfs
        cdef Term* T
        self._reading()
        tid = self._lookup(token)
        if tid is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        T = &self.terms[<Py_ssize_t>tid]
        docs = np.empty(T.df, dtype=np.int32)
        tfs = np.empty(T.df, dtype=np.int32)
        if T.df:
            _decode_all(&self.st, T, <int32_t*>cnp.PyArray_DATA(docs), <int32_t*>cnp.PyArray_DATA(tfs))
        return self._external(docs), tfs

    def positions_of(self, token, doc_id):
        """The positions (token indexes) of token in a document, increasing."""
        cdef Cursor c
        cdef cnp.ndarray out
        cdef int32_t tf
        if not self.positions:
            raise ValueError("positions_of needs an index built with positions=True")
        self._reading()
        tid = self._lookup(token)
        i = self._internal(doc_id)
        if i < 0:
            raise KeyError(doc_id)
        if tid is None:
            return []
        _cur_init(&c, &self.st, &self.terms[<Py_ssize_t>tid])
        if _cur_seek(&c, <int32_t>i) != i:
            return []
        out = np.empty(self.max_dl + 1, dtype=np.int32)
        tf = _cur_positions(&c, <int32_t*>cnp.PyArray_DATA(out))
        return out[:tf].tolist()

    def _check(self):
        """Assert the invariants: every term's blocks decode to strictly increasing
        docs below ndocs with tf >= 1, each block's skip entry (last doc, offset,
        count, minimal bit widths) agrees with its contents and re-encodes to the
        same bytes, the segments tile the arenas in term id order, df / cf / the
        positions (increasing, below the doc's length, tf of them) agree, the
        lengths of the documents equal the sums of their tfs, the bitsets equal the
        postings of exactly the dense terms, cached block maxima are exact, and
        the vocabulary maps ids both ways."""
        cdef Py_ssize_t t, V
        cdef Term* T
        cdef int32_t b, i, prev, j
        cdef uint32_t gor, f_or
        cdef const BlockMeta* m
        cdef uint32_t gaps[BLOCK]
        cdef uint32_t fv[BLOCK]
        cdef int32_t dd[BLOCK]
        cdef int32_t ff[BLOCK]
        cdef uint8_t buf[BLOCK * 8 + SLACK]
        cdef int64_t off, npost = 0, pos_at, cf
        cdef const uint8_t* pp
        cdef uint32_t x
        cdef int32_t v
        cdef int64_t[::1] sums
        cdef double mx, tmax, val
        self.commit()
        V = self.nvocab
        assert V == self._nterms and self.npend == 0 and self.ptok_len == 0
        i64t_check(&self.vt)
        assert self.vt.size + len(self._collide) == V and self.voff[0] == 0 and self.voff[V] == self.vbytes_len
        for t in range(V):
            assert self.voff[t + 1] >= self.voff[t]
            tb = self.vbytes[self.voff[t]:self.voff[t + 1]]
            assert self._lookup(self._token(t)) == t, "the vocabulary maps the token back to its id"
            if tb in self._collide:
                assert self._collide[tb] == t and len(tb) > 7
            else:
                assert i64t_get(&self.vt, _token_key(<const unsigned char*><char*>tb, len(tb))) == t
        sums = np.zeros(self._ndocs, dtype=np.int64)
        total = 0
        for i in range(self._ndocs):
            assert 0 <= self.dl[i] <= self.max_dl
            total += self.dl[i]
            if self.ext != NULL:
                assert self.ext[i] >= 0 and (i == 0 or self.ext[i] > self.ext[i - 1])
            if self.ext != NULL and i == self._ndocs - 1:
                assert self.ext[i] == self._last_id
        assert total == self.total_len
        mdl = 0
        for i in range(self._ndocs):
            mdl = max(mdl, self.dl[i])
        assert self.max_dl == mdl
        if self.ext == NULL:
            assert self._last_id == self._ndocs - 1
        nblocks = 0
        data_at = 0
        pos_at = 0
        for t in range(V):
            T = &self.terms[t]
            assert T.df >= 1, f"term {self._token(t)!r} has df {T.df}"
            assert T.nblocks == (T.df + BLOCK - 1) // BLOCK
            assert T.block0 == nblocks and T.data0 == data_at
            if self.positions:
                assert T.pos0 == pos_at
            nblocks += T.nblocks
            prev = -1
            off = 0
            cf = 0
            for b in range(T.nblocks):
                m = &self.st.blocks[T.block0 + b]
                assert m.offset == off, "blocks tile the term's bytes"
                assert m.n == (BLOCK if b < T.nblocks - 1 else T.df - BLOCK * (T.nblocks - 1))
                _unpack_docs(self.st.data + T.data0 + m.offset, m.n, m.dbits, prev, dd)
                _unpack_tfs(self.st.data + T.data0 + m.offset + _packed(m.n, m.dbits), m.n, m.fbits, ff)
                gor = 0
                f_or = 0
                for i in range(m.n):
                    assert dd[i] > prev and dd[i] < self._ndocs, "docs increase, below ndocs"
                    assert ff[i] >= 1
                    gaps[i] = <uint32_t>(dd[i] - prev - 1)
                    fv[i] = <uint32_t>(ff[i] - 1)
                    gor |= gaps[i]
                    f_or |= fv[i]
                    prev = dd[i]
                    sums[dd[i]] += ff[i]
                    cf += ff[i]
                assert m.last == prev, "skip entry holds the block's last doc"
                assert m.dbits == _width(gor) and m.fbits == _width(f_or), "minimal widths"
                memset(buf, 0, sizeof(buf))
                _pack(gaps, m.n, m.dbits, buf)
                _pack(fv, m.n, m.fbits, buf + _packed(m.n, m.dbits))
                assert memcmp(buf, self.st.data + T.data0 + m.offset, _block_bytes(m)) == 0, "round trip"
                if self.positions:
                    assert self.st.bpos[T.block0 + b] == pos_at - T.pos0
                    pp = self.st.pos + pos_at
                    for i in range(m.n):
                        v = -1
                        for j in range(ff[i]):
                            pp = _get_varint(pp, &x)
                            v += <int32_t>x + 1
                            assert v < self.dl[dd[i]], "positions below the doc's length"
                        pos_at = pp - self.st.pos
                if self.st.bmax != NULL and T.bmax_gen == self.gen:
                    mx = 0.0
                    for i in range(m.n):
                        val = _tfn(ff[i], self.dl[dd[i]], self.nA, self.nB)
                        mx = val if val > mx else mx
                    assert self.st.bmax[T.block0 + b] == mx, "block max"
                off += _block_bytes(m)
            assert cf == T.cf
            data_at += off
            npost += T.df
            if T.bitset >= 0:
                assert self._bitset_fraction >= 0 and T.df >= self._bitset_fraction * self._ndocs / 2
                bits = np.empty(self.nwords, dtype=np.uint64)
                memcpy(cnp.PyArray_DATA(bits), self.bitsets[T.bitset], self.nwords * 8)
                docs = self._docs(("t", t))
                want = np.zeros(self.nwords, dtype=np.uint64)
                np.bitwise_or.at(want, docs >> 6, np.left_shift(np.uint64(1), (docs & 63).astype(np.uint64)))
                assert (bits == want).all(), "bitset equals the postings"
            else:
                assert self._bitset_fraction < 0 or T.df < self._bitset_fraction * self._ndocs
        assert nblocks == self.st.nblocks and data_at == self.st.data_len
        if self.positions:
            assert pos_at == self.st.pos_len
        assert npost == self._npostings
        for i in range(self._ndocs):
            assert sums[i] == self.dl[i], "a document's length is the sum of its tfs"


_NONE = ("none",)
_ALL = ("all",)


def _check_k1(k1):
    v = float(k1)
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"k1 must be finite and >= 0, got {k1!r}")
    return v


def _check_b(b):
    v = float(b)
    if not (0 <= v <= 1):
        raise ValueError(f"b must be in [0, 1], got {b!r}")
    return v


def _scoring_terms(node, lookup):
    """The distinct term ids that score: every term and phrase word of the tree
    under an even number of NOTs, in order of first appearance, if indexed."""
    out = []
    seen = set()
    stack = [(node, False)]
    while stack:
        n, negated = stack.pop()
        cls = type(n)
        if cls is QTerm:
            words = (n.text,)
        elif cls is Phrase:
            words = n.terms
        elif cls is Not:
            stack.append((n.child, not negated))
            continue
        elif cls is And or cls is Or:
            stack.extend((c, negated) for c in reversed(n.children))
            continue
        else:
            continue
        if negated:
            continue
        for w in words:
            tid = lookup(w)
            if tid is not None and tid not in seen:
                seen.add(tid)
                out.append(tid)
    return out
