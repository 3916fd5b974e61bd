"""LRU stack distances: the nogil kernel behind :func:`tradeoff.cache.curves.mrc`.

A request's LRU stack distance is 1 + the number of distinct other keys
requested since the previous request for the same key, and 0 for the first
request of a key. An LRU cache of c objects hits a request exactly when
1 <= distance <= c (Mattson, Gecsei, Slutz and Traiger, "Evaluation techniques
for storage hierarchies", IBM Systems Journal 9(2), 1970), so one pass gives the
hit count of every cache size at once.

The distances are computed as Bennett and Kruskal, "LRU stack processing", IBM
Journal of R&D 19(4), 1975: a Fenwick tree over request positions holds a 1 at
each key's latest request, and a key's distance is 1 + the marks after its
previous position. Positions live in a window that is compacted when it fills
(the live marks, one per key, are renumbered 0..M-1 in order and the tree is
rebuilt in O(window)), so memory is O(M) for M distinct keys, whatever the
length of the trace, and time is O(N log M) (amortized compaction O(1) per
request). Nothing is allocated per request.
"""
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset

import numpy as np

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.hashing cimport mix64
from tradeoff._core.table cimport (PREFETCH_DISTANCE, TRADEOFF_PREFETCH, I64Table,
                                   i64t_find, i64t_free, i64t_get, i64t_init, i64t_nbytes,
                                   i64t_prefetch, i64t_put, i64t_put_at)


cdef enum:
    # the exact loop's software pipeline (see _kernel): how many requests ahead it
    # loads a key's table bucket, looks up its id, loads its tree leaf; RING (a
    # power of two > LOOKUP_DISTANCE) holds the ids looked up ahead. Tuned on the
    # 10M-request Zipf trace: about 25% faster than prefetching buckets alone.
    # (Its own depth: twice the replay loops' PREFETCH_DISTANCE of table.pxd.)
    BUCKET_DISTANCE = 2 * PREFETCH_DISTANCE
    LOOKUP_DISTANCE = 16
    TREE_DISTANCE = 8
    RING = 32
    # the window a run starts with when the caller does not choose one
    DEFAULT_WINDOW = (1 << 16)

#: SHARDS' hash modulus P: a request is sampled iff (mix64(key ^ salt) mod P) < T
SAMPLE_MODULUS = (1 << 24)
#: the most distinct keys a run can hold
MAX_DISTINCT = SD_MAX_DISTINCT

cdef uint64_t _P = (1 << 24)


# ---------------------------------------------------------------- the state

cdef int sd_init(StackDist* s, Py_ssize_t window, bint keep_hist) except -1 nogil:
    """Empty state with a window of ``window`` positions (>= 1)."""
    s.index.buckets = NULL
    s.last = NULL
    s.owner = NULL
    s.tree = NULL
    s.hist = NULL
    s.window = window if window > 0 else 1
    if s.window > SD_MAX_WINDOW:
        s.window = SD_MAX_WINDOW
    s.next = 0
    s.distinct = 0
    s.cap = 0
    s.compactions = 0
    i64t_init(&s.index, 1024)
    mem_resize(<void**>&s.owner, s.window * sizeof(int32_t))
    mem_resize(<void**>&s.tree, (s.window + 1) * sizeof(int32_t))
    memset(s.tree, 0, (s.window + 1) * sizeof(int32_t))
    if keep_hist:
        mem_resize(<void**>&s.hist, sizeof(int64_t))
        s.hist[0] = 0
    sd_grow_ids(s)
    return 0


cdef void sd_free(StackDist* s) noexcept nogil:
    i64t_free(&s.index)
    PyMem_RawFree(s.last)
    PyMem_RawFree(s.owner)
    PyMem_RawFree(s.tree)
    PyMem_RawFree(s.hist)
    s.last = NULL
    s.owner = NULL
    s.tree = NULL
    s.hist = NULL


cdef Py_ssize_t sd_nbytes(const StackDist* s) noexcept nogil:
    """Bytes held: table, per-id arrays and the window (the O(M) claim, measured)."""
    cdef Py_ssize_t n = i64t_nbytes(&s.index)
    n += s.cap * <Py_ssize_t>sizeof(int32_t)
    n += (2 * s.window + 1) * <Py_ssize_t>sizeof(int32_t)
    if s.hist != NULL:
        n += (s.cap + 1) * <Py_ssize_t>sizeof(int64_t)
    return n


cdef int sd_grow_ids(StackDist* s) except -1 nogil:
    """Double the room for ids (``last`` and ``hist``); amortized O(1) per new key."""
    cdef Py_ssize_t cap = s.cap * 2 if s.cap > 0 else 1024
    if cap > SD_MAX_DISTINCT:
        cap = SD_MAX_DISTINCT
    if cap <= s.cap:
        with gil:
            raise ValueError(f"a trace may hold at most {SD_MAX_DISTINCT} distinct keys")
    mem_resize(<void**>&s.last, cap * sizeof(int32_t))
    if s.hist != NULL:
        mem_resize(<void**>&s.hist, (cap + 1) * sizeof(int64_t))
        memset(&s.hist[s.cap + 1], 0, (cap - s.cap) * sizeof(int64_t))
    s.cap = cap
    return 0


cdef int sd_compact(StackDist* s) except -1 nogil:
    """Renumber the live positions (one per key) 0..distinct-1, keeping their order,
    grow the window when more than half of it would stay live, rebuild the tree.

    O(window). After it at least half the window is free, so compactions are at
    least window/2 requests apart: amortized O(1) per request."""
    cdef Py_ssize_t p, c = 0, i, lo, live = s.distinct
    cdef Py_ssize_t w = s.window
    cdef int32_t ident
    cdef int32_t* owner = s.owner
    cdef int32_t* last = s.last
    # a stale position p (its key was requested again later) has last[owner[p]] > p;
    # c <= p throughout, so a rewritten last[] never matches a position still ahead
    for p in range(s.next):
        ident = owner[p]
        if last[ident] == p:
            owner[c] = ident
            last[ident] = <int32_t>c
            c += 1
    DEBUG_ASSERT(c == live, "mrc compaction: one live position per distinct key")
    if 2 * live > w:
        w = 3 * live if 3 * live < SD_MAX_WINDOW else SD_MAX_WINDOW
        mem_resize(<void**>&s.owner, w * sizeof(int32_t))
        mem_resize(<void**>&s.tree, (w + 1) * sizeof(int32_t))
        s.window = w
    # a 1 at 1-based positions 1..live: node i covers (i - lowbit(i), i]
    s.tree[0] = 0
    for i in range(1, w + 1):
        lo = i - (i & -i)
        s.tree[i] = <int32_t>((i if i < live else live) - lo) if live > lo else 0
    s.next = live
    s.compactions += 1
    return 0


cdef int64_t sd_access(StackDist* s, int64_t key, int64_t ident) except -1 nogil:
    """Record a request for key; return its stack distance (0: first request).
    ``ident`` is key's id when the caller already looked it up, else -1.

    A repeat costs one range count and one move of the key's mark, both walked as
    two Fenwick paths that stop where they meet: O(log(positions between the two
    requests)), so the frequent short reuses of a skewed trace are the cheap ones."""
    cdef uint64_t pos
    cdef int64_t tkey = key ^ SD_TABLE_SALT
    cdef int64_t d, count
    cdef Py_ssize_t a, b, n
    cdef int32_t* tree
    if s.next == s.window:
        sd_compact(s)
    if ident < 0:
        ident = i64t_find(&s.index, tkey, &pos)
    tree = s.tree
    n = s.window
    if ident >= 0:
        DEBUG_ASSERT(s.last[ident] < s.next, "mrc: a key's last position is before the next one")
        # marks at 1-based positions (a, b]: the keys requested since, each once
        a = s.last[ident] + 1
        b = s.next
        count = 0
        while b != a:
            if b > a:
                count += tree[b]
                b &= b - 1
            else:
                count -= tree[a]
                a &= a - 1
        d = count + 1
        DEBUG_ASSERT(d <= s.distinct, "mrc: a stack distance is at most the distinct keys")
        # move the mark from a to b (1-based): -1 up a's path, +1 up b's, until
        # the paths join (from there on the two cancel)
        a = s.last[ident] + 1
        b = s.next + 1
        while a != b and (a <= n or b <= n):
            if a < b:
                tree[a] -= 1
                a += a & -a
            else:
                tree[b] += 1
                b += b & -b
    else:
        if s.distinct >= s.cap:
            sd_grow_ids(s)
        ident = s.distinct
        if s.index.size < s.index.limit:
            i64t_put_at(&s.index, pos, tkey, ident)
        else:
            i64t_put(&s.index, tkey, ident)
        s.distinct += 1
        d = 0
        fw_add(tree, n, s.next + 1, 1)
    s.last[ident] = <int32_t>s.next
    s.owner[s.next] = <int32_t>ident
    s.next += 1
    if s.hist != NULL:
        s.hist[d] += 1
    return d


# ---------------------------------------------------------------- kernels

cdef inline int64_t _key(const char* base, Py_ssize_t stride, Py_ssize_t i) noexcept nogil:
    """Key i of a strided trace. A field of a packed record (a memory-mapped
    structured array) may sit at any byte offset: memcpy is the defined way to
    load it, and compiles to one plain load."""
    cdef int64_t k
    memcpy(&k, base + i * stride, sizeof(int64_t))
    return k


cdef int _kernel(const int64_t[:] keys, StackDist* s, uint64_t salt, uint64_t threshold,
                 int64_t* out, Py_ssize_t* sampled_out) except -1 nogil:
    """Feed the trace to ``s``. With threshold >= P every request counts and its
    distance goes to out[i] (when out is not NULL); otherwise only the requests
    whose key passes the SHARDS test (mix64(key ^ salt) mod P < threshold) count."""
    cdef Py_ssize_t i, n = keys.shape[0], sampled = 0
    cdef Py_ssize_t stride = keys.strides[0]
    cdef const char* base = <const char*>&keys[0] if n > 0 else NULL
    cdef int64_t key, d, ident
    # the ids of the next LOOKUP_DISTANCE requests (-1: not known yet), a ring
    cdef int64_t ring[RING]
    for i in range(RING):
        ring[i] = -1
    if threshold >= _P:
        # a software pipeline over future requests, all hints: load the key's table
        # bucket BUCKET_DISTANCE ahead; look its id up LOOKUP_DISTANCE ahead (kept:
        # ids never change, so the access needs no second lookup unless the key was
        # new then) and load its last[] entry; TREE_DISTANCE ahead, load the tree
        # leaf of its previous position
        for i in range(n):
            if i + BUCKET_DISTANCE < n:
                i64t_prefetch(&s.index, _key(base, stride, i + BUCKET_DISTANCE) ^ SD_TABLE_SALT)
            if i + LOOKUP_DISTANCE < n:
                ident = i64t_get(&s.index, _key(base, stride, i + LOOKUP_DISTANCE) ^ SD_TABLE_SALT)
                ring[(i + LOOKUP_DISTANCE) & (RING - 1)] = ident
                if ident >= 0:
                    TRADEOFF_PREFETCH(&s.last[ident])
            if i + TREE_DISTANCE < n:
                ident = ring[(i + TREE_DISTANCE) & (RING - 1)]
                if ident >= 0:
                    TRADEOFF_PREFETCH(&s.tree[s.last[ident] + 1])
            d = sd_access(s, _key(base, stride, i), ring[i & (RING - 1)])
            if out != NULL:
                out[i] = d
        sampled = n
    else:
        for i in range(n):
            key = _key(base, stride, i)
            if (mix64(<uint64_t>key ^ salt) & (_P - 1)) < threshold:
                sd_access(s, key, -1)
                sampled += 1
    sampled_out[0] = sampled
    return 0


def _keys(trace):
    """The trace as an int64 view (uint64 keys keep their bits), after checking it."""
    if not isinstance(trace, np.ndarray):
        raise TypeError(f"trace must be a numpy array of int64 or uint64, got {type(trace).__name__}")
    if trace.dtype != np.int64 and trace.dtype != np.uint64:
        hint = " (non-native byte order: use trace.astype(np.int64))" \
            if trace.dtype.kind in "iu" and trace.dtype.itemsize == 8 else ""
        raise TypeError(f"trace must have dtype int64 or uint64, got {trace.dtype}{hint}")
    if trace.ndim != 1:
        raise ValueError(f"trace must be 1-D, got {trace.ndim} dimensions")
    return trace.view(np.int64) if trace.dtype == np.uint64 else trace


def _check_window(window):
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"_window must be an int, got {window!r}")
    if window < 1:
        raise ValueError(f"_window must be >= 1, got {window}")
    return int(window)


def stack_distances(trace, *, _window=None):
    """The LRU stack distance of every request of ``trace``, as an int64 array.

    ``trace`` is a 1-D numpy array of int64 or uint64 keys; it may be strided (a
    column of a 2-D array, a field of a memory-mapped structured array): it is
    read in place, not copied. Distance d >= 1 means d - 1 distinct other keys were
    requested since the key's previous request, so an LRU cache of c objects hits
    it iff d <= c; a first request has distance **0**.

    O(N log M) time for N requests over M distinct keys, O(M) memory besides the
    N-element result; the loop runs without the GIL (Bennett and Kruskal 1975,
    with a compacted Fenwick-tree window: see the module docstring). ``_window``
    (private, for tests) is the first window size; small values force frequent
    compactions.

    >>> import numpy as np
    >>> stack_distances(np.array([1, 2, 1, 3, 2, 2], dtype=np.int64)).tolist()
    [0, 0, 2, 0, 3, 1]
    """
    cdef const int64_t[:] keys = _keys(trace)
    window = _check_window(_window)
    cdef Py_ssize_t n = keys.shape[0], sampled = 0
    cdef Py_ssize_t w = window if window is not None else min(DEFAULT_WINDOW, max(n, 1))
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t* optr = &o[0] if n > 0 else NULL
    cdef StackDist s
    try:            # sd_init sets every pointer before it can fail: sd_free is safe
        sd_init(&s, w, False)
        if n > 0:
            with nogil:
                _kernel(keys, &s, 0, _P, optr, &sampled)
    finally:
        sd_free(&s)
    return out


def _histogram(trace, salt=0, threshold=SAMPLE_MODULUS, _window=None):
    """Distance histogram of (a SHARDS sample of) ``trace``: the engine of ``mrc``.

    Returns ``(hist, sampled, stats)``: ``hist[d]`` is the number of counted
    requests of stack distance d over the counted sub-trace (``hist[0]``: first
    requests; length distinct + 1), ``sampled`` the requests counted, and
    ``stats`` a dict of ``distinct``, ``window``, ``compactions`` and ``nbytes``
    (bytes of state at the end: O(distinct), independent of the trace length).
    With ``threshold`` >= ``SAMPLE_MODULUS`` every request counts; otherwise only
    those with ``(mix64(key ^ salt) mod SAMPLE_MODULUS) < threshold``.
    """
    cdef const int64_t[:] keys = _keys(trace)
    window = _check_window(_window)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ValueError(f"threshold must be an int >= 1, got {threshold!r}")
    cdef uint64_t c_salt = int(salt) & 0xFFFFFFFFFFFFFFFF
    cdef uint64_t c_thr = min(int(threshold), SAMPLE_MODULUS)
    cdef Py_ssize_t n = keys.shape[0], sampled = 0
    # a sample holds about threshold/P of the keys: start the window near that
    cdef Py_ssize_t w = window if window is not None else \
        min(DEFAULT_WINDOW, max(1, (n * <Py_ssize_t>c_thr) // SAMPLE_MODULUS + 1))
    cdef int64_t[::1] hv
    cdef StackDist s
    try:            # sd_init sets every pointer before it can fail: sd_free is safe
        sd_init(&s, w, True)
        if n > 0:
            with nogil:
                _kernel(keys, &s, c_salt, c_thr, NULL, &sampled)
        hist = np.empty(s.distinct + 1, dtype=np.int64)
        hv = hist
        memcpy(&hv[0], s.hist, (s.distinct + 1) * sizeof(int64_t))
        stats = {"distinct": s.distinct, "window": s.window,
                 "compactions": s.compactions, "nbytes": sd_nbytes(&s)}
    finally:
        sd_free(&s)
    return hist, sampled, stats


def _mix64(x):
    """mix64 (the splitmix64 finalizer of ``tradeoff._core.hashing``) of a 64-bit int,
    for Python code that must agree with the kernel (salts, tests)."""
    return mix64(<uint64_t>(int(x) & 0xFFFFFFFFFFFFFFFF))
