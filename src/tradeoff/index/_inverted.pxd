# The inverted index's typed core: compressed posting lists in blocks of 128,
# cursors that decode them a block at a time, and the kernels of the queries.
#
# A term's postings are its (doc, tf) pairs sorted by doc, cut into blocks of
# BLOCK postings (the last block may be shorter). Each block stores the gaps
# (doc - previous doc - 1) bit-packed with the smallest width that fits the
# block's largest gap, then tf - 1 bit-packed the same way; its BlockMeta (the
# skip data) holds the last doc of the block, where its bytes start and the two
# widths. Doc ids here are internal: 0 .. ndocs - 1 in the order documents were
# added (the index maps them to the caller's ids).
from libc.stdint cimport int32_t, uint32_t, int64_t, uint64_t, uint8_t
from tradeoff._core.table cimport I64Table


cdef enum:
    BLOCK = 128             # postings per block
    SLACK = 8               # zero bytes kept after packed data: unaligned 64-bit reads stay inside
    END = 0x7fffffff        # the doc of an exhausted cursor (larger than every doc id)


ctypedef struct BlockMeta:
    int32_t last            # last doc of the block (the skip key)
    uint32_t offset         # where the block starts, relative to its Term.data0
    uint8_t n               # postings in the block, 1..128; only the last block has fewer than 128
    uint8_t dbits           # bit width of the packed gaps (doc - previous doc - 1)
    uint8_t fbits           # bit width of the packed tf - 1
    uint8_t pad


ctypedef struct Term:
    int32_t df              # documents that contain the term (postings)
    int32_t nblocks
    int64_t cf              # occurrences in the whole collection (sum of tf)
    int64_t block0          # its first block in Store.blocks (and Store.bpos, Store.bmax)
    int64_t data0           # where its packed blocks start in Store.data
    int64_t pos0            # where its positions start in Store.pos
    int64_t bmax_gen        # Store.bmax of its blocks is valid when this equals the index's gen
    double tmax             # the largest of its bmax (valid with them)
    int32_t bitset          # its bitset in InvertedIndex.bitsets, -1 if none
    int32_t pad


# The arenas: the terms' segments lie one after the other in term id order, so
# a term's bytes end where the next term's begin (the last ends at the length).
ctypedef struct Store:
    uint8_t* data           # packed blocks, data_len bytes then SLACK zero bytes
    int64_t data_len
    BlockMeta* blocks       # skip data of every block, nblocks of them
    int64_t nblocks
    uint32_t* bpos          # with positions: where each block's positions start, relative to Term.pos0
    uint8_t* pos            # with positions: per posting, its tf positions as varint gaps
    int64_t pos_len
    double* bmax            # per block: max over its postings of tf / (tf + norm(dl)), or NULL


ctypedef struct Cursor:
    const uint8_t* data     # the term's packed blocks
    const BlockMeta* blocks # the term's skip data
    const uint32_t* bpos    # the term's block position offsets (positions only)
    const uint8_t* pos      # the term's positions (positions only)
    int32_t nblocks
    int32_t doc             # current doc, END when exhausted
    int32_t blk             # block decoded in docs[]
    int32_t i               # index of doc in docs[]
    int32_t n               # postings in the decoded block
    int32_t tf_blk          # block whose tfs are in tfs[], -1 if none
    int32_t pos_blk         # block that pp walks, -1 if none
    int32_t pos_i           # the posting of block pos_blk whose positions pp points at
    const uint8_t* pp
    int32_t docs[BLOCK]
    int32_t tfs[BLOCK]


ctypedef struct Hit:
    double score
    int32_t doc


ctypedef struct Tail:
    # the blocks one commit encodes, before they are laid into new arenas
    uint8_t* data
    int64_t data_len
    int64_t data_cap
    BlockMeta* blocks
    uint32_t* bpos
    int64_t nblocks
    int64_t blocks_cap
    uint8_t* pos
    int64_t pos_len
    int64_t pos_cap


cdef class InvertedIndex:
    cdef Term* terms            # one per vocabulary entry (term id = index)
    cdef Py_ssize_t _nterms     # committed terms (terms_cap >= _nterms)
    cdef Py_ssize_t terms_cap
    cdef Store st
    cdef uint64_t** bitsets     # the dense terms' bitsets (NULL: a free slot)
    cdef int32_t nbitsets       # slots in bitsets
    cdef int64_t nwords         # words of every bitset: ceil(ndocs / 64)
    cdef uint64_t* scratch      # a zeroed bitset for intersections (zero again after each use)
    cdef int64_t scratch_words
    cdef bint scratch_busy      # a query (of some thread) is using scratch
    cdef int _readers           # queries running (they release the GIL)
    cdef bint _writing          # a commit is running
    cdef int32_t* dl            # document lengths (tokens), one per committed document
    cdef int64_t* ext           # the caller's doc ids; NULL while they are 0, 1, 2, ...
    cdef Py_ssize_t _ndocs      # committed documents
    cdef Py_ssize_t docs_cap
    cdef int64_t total_len      # sum of dl
    cdef int32_t max_dl
    cdef int64_t _npostings
    cdef int64_t gen            # bumps when BM25's per-document norms change (commit, k1, b)
    cdef double _k1, _b
    cdef double nA, nB          # norm(dl) = nA + nB * dl = k1 * (1 - b + b * dl / avgdl)
    cdef double _bitset_fraction    # < 0: no bitsets
    cdef readonly bint positions
    cdef object _idf            # None (the BM25 IDF) or a callable (N, df) -> float
    cdef object _analyzer       # None (the default analyzer) or a callable
    # the vocabulary: term id <-> token (UTF-8 bytes)
    cdef I64Table vt            # _token_key(token) -> term id
    cdef char* vbytes           # every token's bytes, in term id order
    cdef int64_t vbytes_len
    cdef int64_t vbytes_cap
    cdef int64_t* voff          # term id -> where its bytes start; voff[nvocab] = vbytes_len
    cdef int64_t voff_cap
    cdef Py_ssize_t nvocab      # tokens known, committed or pending (>= _nterms)
    cdef dict _collide          # the rare long token whose hash key another holds: bytes -> id
    # documents added and not committed
    cdef int32_t* ptok          # their token ids, one document after the other
    cdef int64_t ptok_len
    cdef int64_t ptok_cap
    cdef int32_t* plen          # their lengths
    cdef int64_t* pids          # their doc ids
    cdef int64_t npend
    cdef int64_t pend_cap
    cdef int64_t _last_id       # the largest doc id added so far (-1: none)

    # vocabulary and pending documents
    cdef int64_t _term_id(self, const unsigned char* p, Py_ssize_t n, bint create) except -2
    cdef int64_t _term_id_slow(self, const unsigned char* p, Py_ssize_t n, bint create) except -2
    cdef int _push_token(self, int32_t tid) except -1
    cdef int64_t _tokenize_ascii(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef int _rollback(self, int64_t ntok, int64_t npend, Py_ssize_t nvocab) except -1
    # building
    cdef int _grow_terms(self, Py_ssize_t n) except -1
    cdef int _grow_docs(self, Py_ssize_t n) except -1
    cdef int _ingest(self, const int32_t* alltok, const int32_t* lens, Py_ssize_t nd,
                     int32_t base, int64_t tok0, Py_ssize_t V) except -1
    cdef int _encode_tails(self, Tail* tl, Py_ssize_t V, const int64_t* dfb, const int64_t* cfb,
                           const int64_t* doff, const int64_t* poff, const int32_t* bdoc,
                           const int32_t* btf, const int32_t* bpos, int64_t* keep_blocks,
                           int64_t* keep_bytes, int64_t* keep_pos, int64_t* tail0,
                           int32_t** opos, int64_t* opos_cap) except -1 nogil
    cdef int64_t _term_bytes(self, int64_t t) noexcept nogil
    cdef int64_t _term_pos_bytes(self, int64_t t) noexcept nogil
    cdef int _layout(self, Tail* tl, Store* ns, Py_ssize_t V, const int64_t* keep_blocks,
                     const int64_t* keep_bytes, const int64_t* keep_pos, const int64_t* tail0) except -1
    cdef int _update_bitsets(self, int32_t first) except -1
    cdef int _ensure_bmax(self, Term* t) except -1
    cdef void _set_norms(self) noexcept
    # queries
    cdef object _external(self, object docs)
    cdef int64_t _count(self, plan) except -1
    cdef int64_t _count_terms(self, list children) except -1
    cdef object _docs(self, plan)
    cdef tuple _and(self, list pos, list neg, bint count_only)
    cdef object _or(self, list children)
    cdef object _phrase(self, tuple tids)
    cdef list _weights(self, list tids)
    cdef list _top_k(self, plan, list tids, int k)
    cdef list _top_k_or(self, Cursor* curs, double* w, int m, list tids, Hit* h, int k)
    cdef list _hits(self, Hit* h, int size)
