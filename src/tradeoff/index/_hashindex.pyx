"""The hash index: int64 keys -> int64 row ids, equality only, non-unique keys.

A secondary index in the sense of Garcia-Molina, Ullman and Widom, *Database
Systems: The Complete Book* (2nd ed.), 14.3: a hash table from a search key to
the rows that hold it, with duplicates kept beside their key. The hash table is
the project's shared one (``tradeoff._core.table``: open addressing, linear
probing, splitmix64, backward-shift deletion after Knuth, TAOCP vol. 3, 6.4
Algorithm R); this module only decides what its int64 value means.

Layout. The table maps a key to a *code*:

- ``row << 1`` (even) when the key has exactly one row: the row id is stored in
  the bucket itself, so a unique key costs one 16-byte bucket (at a load factor
  between 1/4 and 1/2) and no allocation;
- ``slot << 1 | 1`` (odd) when it has two or more: ``lists[slot]`` is a growable
  int64 array of its rows in insertion order (capacity 4, doubled when full).

The representation is canonical: a key with one row is always inline, with two
or more always in a list (a delete that leaves one row moves it back inline and
frees the list). Freed list slots are chained through their ``n`` field and
reused. Row ids must lie in [0, 2**62) so that ``row << 1`` stays a valid
(non-negative) table value.

Complexity (n keys, m entries, r rows of the key in question): ``insert`` O(1)
expected amortized; ``lookup`` O(1 + r) expected (one probe, one copy of a
contiguous array); ``count`` and ``in`` O(1) expected; ``delete(key)`` O(1 + r)
and ``delete(key, row)`` O(1 + r) (a search and a move within the key's list,
which keeps insertion order). ``insert_many`` and ``lookup_many`` run without
the GIL and prefetch the home bucket of the key eight positions ahead.
Memory: 16 bytes per bucket (2 to 4 buckets per key) plus 24 bytes per
non-unique key and 8 to 16 bytes per row of a non-unique key.
"""
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy, memmove
from cpython.long cimport PyLong_Check
from cpython.mem cimport PyMem_RawFree

from operator import index as _index

import numpy as np
cimport numpy as cnp

from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport (I64Entry, I64Table, i64t_check, i64t_clear, i64t_free, i64t_get,
                                   i64t_grow, i64t_init, i64t_nbytes, i64t_pop,
                                   i64t_key, i64t_prefetch, i64t_put_at, i64t_ref)

cnp.import_array()

__all__ = ["HashIndex", "MAX_ROW"]

cdef enum:
    FIRST_CAP = 4           # rows allocated when a key gets its second row
    AHEAD = 8               # batch loops prefetch the bucket of the key this far ahead

#: the largest row id a HashIndex stores (row ids are kept shifted left by one bit)
MAX_ROW = (1 << 62) - 1
cdef int64_t _MAX_ROW = MAX_ROW


# ------------------------------------------------------------------ argument checks

cdef int64_t _as_key(object key) except? -1:
    """A key as int64 (an int or anything with __index__, never a float), or a
    TypeError / OverflowError naming it."""
    try:
        return key if PyLong_Check(key) else _index(key)
    except OverflowError:
        raise OverflowError(f"key {key!r} is outside int64") from None
    except TypeError:
        raise TypeError(f"key must be an integer, not {type(key).__name__}") from None


cdef int64_t _as_row(object row) except? -1:
    cdef int64_t r
    try:
        r = row if PyLong_Check(row) else _index(row)
    except OverflowError:
        raise ValueError(f"row must be in [0, 2**62), got {row!r}") from None
    except TypeError:
        raise TypeError(f"row must be an integer, not {type(row).__name__}") from None
    if r < 0 or r > _MAX_ROW:
        raise ValueError(f"row must be in [0, 2**62), got {row!r}")
    return r


def as_int64_array(values, str what):
    """``values`` as a contiguous one-dimensional int64 numpy array, or a clear error
    naming ``what`` (a float, string or out-of-range entry is refused, never cast)."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    kind = a.dtype.kind
    if kind == "O":
        if not all(isinstance(v, (int, np.integer)) for v in a.tolist()):
            bad = next(v for v in a.tolist() if not isinstance(v, (int, np.integer)))
            raise TypeError(f"{what} must hold integers, found {type(bad).__name__} {bad!r}")
        lo, hi = min(a.tolist()), max(a.tolist())
        if lo < -(1 << 63) or hi >= (1 << 63):
            raise OverflowError(f"{what} hold {hi if hi >= (1 << 63) else lo}, outside int64")
    elif kind == "u":
        if a.dtype.itemsize == 8 and int(a.max()) >= (1 << 63):
            raise OverflowError(f"{what} hold {int(a.max())}, outside int64")
    elif kind not in "ib":
        raise TypeError(f"{what} must hold integers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


# ------------------------------------------------------------------ the index

cdef class HashIndex:
    """An equality index from int64 keys to int64 row ids; a key may have many rows.

    Built on the shared open-addressing table of ``tradeoff._core.table`` (one
    probe sequence per operation); a key with one row keeps it in its bucket,
    a key with more keeps them in a growable array in insertion order (see the
    module docstring for the layout and Garcia-Molina, Ullman and Widom 14.3 for
    the idea).

    Complexity: insert, count and membership O(1) expected (amortized over
    growth); lookup and delete O(1 + r) for a key with r rows. Equality only: a
    hash index cannot answer range queries (use a B-tree).

    >>> ix = HashIndex()
    >>> ix.insert(7, 0); ix.insert(7, 3); ix.insert(-2, 1)
    >>> ix.lookup(7).tolist(), ix.count(-2), len(ix), ix.n_keys
    ([0, 3], 1, 3, 2)
    >>> offsets, rows = ix.lookup_many(np.array([7, 5, -2]))
    >>> offsets.tolist(), rows.tolist()
    ([0, 2, 2, 3], [0, 3, 1])
    >>> ix.delete(7, 0)
    1
    >>> ix.lookup(7).tolist(), 7 in ix, 5 in ix
    ([3], True, False)
    """

    def __cinit__(self, Py_ssize_t expected=0):
        self.lists = NULL
        self.lists_cap = 0
        self.lists_top = 0
        self.free_slot = -1
        self.n_entries = 0
        self.n_resizes = 0
        self.row_bytes = 0
        self.t.buckets = NULL
        if expected < 0:
            raise ValueError(f"expected must be >= 0, got {expected}")
        i64t_init(&self.t, expected)

    def __dealloc__(self):
        cdef Py_ssize_t s
        if self.lists != NULL:
            for s in range(self.lists_top):
                if self.lists[s].rows != NULL:
                    PyMem_RawFree(self.lists[s].rows)
            PyMem_RawFree(self.lists)
            self.lists = NULL
        i64t_free(&self.t)

    # -------------------------------------------------------------- C core

    cdef int _slot_room(self) except -1 nogil:
        cdef Py_ssize_t cap
        if self.free_slot >= 0 or self.lists_top < self.lists_cap:
            return 0
        cap = 16 if self.lists_cap == 0 else 2 * self.lists_cap
        mem_resize(<void**>&self.lists, cap * sizeof(RowList))
        self.lists_cap = cap
        return 0

    cdef Py_ssize_t _take_slot(self) noexcept nogil:
        cdef Py_ssize_t s
        if self.free_slot >= 0:
            s = self.free_slot
            self.free_slot = self.lists[s].n
        else:
            s = self.lists_top
            self.lists_top += 1
        self.lists[s].rows = NULL
        self.lists[s].n = 0
        self.lists[s].cap = 0
        return s

    cdef void _free_slot(self, Py_ssize_t s) noexcept nogil:
        cdef RowList* L = &self.lists[s]
        PyMem_RawFree(L.rows)
        self.row_bytes -= L.cap * <Py_ssize_t>sizeof(int64_t)
        L.rows = NULL
        L.cap = 0
        L.n = self.free_slot
        self.free_slot = s

    cdef int _add(self, int64_t key, int64_t row) except -1 nogil:
        cdef uint64_t pos
        cdef I64Entry* e = i64t_ref(&self.t, key, &pos)
        cdef RowList* L
        cdef int64_t* p = NULL
        cdef Py_ssize_t s
        if e == NULL:                                   # a new key: inline
            if self.t.size >= self.t.limit:
                i64t_grow(&self.t)
                self.n_resizes += 1
                i64t_ref(&self.t, key, &pos)            # its empty bucket in the new table
            i64t_put_at(&self.t, pos, key, row << 1)
        elif (e.value & 1) == 0:                        # its second row: inline -> list
            self._slot_room()
            mem_resize(<void**>&p, FIRST_CAP * sizeof(int64_t))
            s = self._take_slot()
            L = &self.lists[s]
            L.rows = p
            L.cap = FIRST_CAP
            L.n = 2
            p[0] = e.value >> 1
            p[1] = row
            self.row_bytes += FIRST_CAP * sizeof(int64_t)
            e.value = (<int64_t>s << 1) | 1
        else:                                           # append to its list
            L = &self.lists[e.value >> 1]
            if L.n == L.cap:
                mem_resize(<void**>&L.rows, 2 * L.cap * sizeof(int64_t))
                self.row_bytes += L.cap * sizeof(int64_t)
                L.cap *= 2
            L.rows[L.n] = row
            L.n += 1
        self.n_entries += 1
        return 0

    # -------------------------------------------------------------- writes

    def insert(self, key, row):
        """Add row to key's rows (after those already there). O(1) expected."""
        cdef int64_t k = _as_key(key)
        cdef int64_t r = _as_row(row)
        self._add(k, r)

    def insert_many(self, keys, rows):
        """Insert (keys[i], rows[i]) for every i, in order, without the GIL.

        Both are checked before anything is stored (integers, equal lengths, rows
        in [0, 2**62)); only a MemoryError can stop the loop part-way, and then the
        pairs before it are stored. O(n) expected."""
        k = as_int64_array(keys, "keys")
        r = as_int64_array(rows, "rows")
        if k.shape[0] != r.shape[0]:
            raise ValueError(f"keys and rows differ in length: {k.shape[0]} and {r.shape[0]}")
        if r.shape[0] and (r.min() < 0 or r.max() > _MAX_ROW):
            bad = r[(r < 0) | (r > _MAX_ROW)][0]
            raise ValueError(f"rows must be in [0, 2**62), got {bad}")
        cdef const int64_t[::1] kv = k
        cdef const int64_t[::1] rv = r
        cdef Py_ssize_t i, n = kv.shape[0]
        with nogil:
            for i in range(n):
                if i + AHEAD < n:
                    i64t_prefetch(&self.t, kv[i + AHEAD])
                self._add(kv[i], rv[i])

    def delete(self, key, row=None):
        """Remove every row of key (row None) or the first occurrence of row under key.

        Returns the number of entries removed; KeyError (nothing changed) when the
        key, or that row under it, is absent. O(1 + r) expected."""
        cdef int64_t k = _as_key(key)
        cdef int64_t r, code, n
        cdef uint64_t pos
        cdef I64Entry* e
        cdef RowList* L
        cdef Py_ssize_t j, m
        if row is None:
            code = i64t_pop(&self.t, k)
            if code < 0:
                raise KeyError(key)
            if (code & 1) == 0:
                n = 1
            else:
                n = self.lists[code >> 1].n
                self._free_slot(code >> 1)
            self.n_entries -= n
            return n
        r = _as_row(row)
        e = i64t_ref(&self.t, k, &pos)
        if e == NULL:
            raise KeyError(key)
        code = e.value
        if (code & 1) == 0:
            if (code >> 1) != r:
                raise KeyError((key, row))
            i64t_pop(&self.t, k)
        else:
            L = &self.lists[code >> 1]
            m = L.n
            j = 0
            while j < m and L.rows[j] != r:
                j += 1
            if j == m:
                raise KeyError((key, row))
            memmove(&L.rows[j], &L.rows[j + 1], (m - j - 1) * sizeof(int64_t))
            L.n -= 1
            if L.n == 1:                                # back to inline
                e.value = L.rows[0] << 1
                self._free_slot(code >> 1)
        self.n_entries -= 1
        return 1

    def clear(self):
        """Remove everything (the table keeps its buckets). O(buckets + lists)."""
        cdef Py_ssize_t s
        for s in range(self.lists_top):
            if self.lists[s].rows != NULL:
                PyMem_RawFree(self.lists[s].rows)
        self.lists_top = 0
        self.free_slot = -1
        self.row_bytes = 0
        self.n_entries = 0
        i64t_clear(&self.t)

    # -------------------------------------------------------------- reads

    def lookup(self, key):
        """The rows of key as a new int64 array, in insertion order (empty if absent)."""
        cdef int64_t code = i64t_get(&self.t, _as_key(key))
        cdef cnp.ndarray out
        cdef RowList* L
        if code < 0:
            return np.zeros(0, dtype=np.int64)
        if (code & 1) == 0:
            out = np.empty(1, dtype=np.int64)
            (<int64_t*>cnp.PyArray_DATA(out))[0] = code >> 1
            return out
        L = &self.lists[code >> 1]
        out = np.empty(L.n, dtype=np.int64)
        memcpy(cnp.PyArray_DATA(out), L.rows, L.n * sizeof(int64_t))
        return out

    def lookup_many(self, keys):
        """The rows of many keys in CSR form: ``(offsets, rows)`` with
        ``rows[offsets[i]:offsets[i + 1]]`` the rows of ``keys[i]`` (insertion order).

        Two passes without the GIL: probe and count (the codes are kept), then copy.
        O(len(keys) + rows returned) expected."""
        k = as_int64_array(keys, "keys")
        cdef const int64_t[::1] kv = k
        cdef Py_ssize_t i, n = kv.shape[0]
        codes_arr = np.empty(n, dtype=np.int64)
        offsets = np.empty(n + 1, dtype=np.int64)
        cdef int64_t[::1] codes = codes_arr
        cdef int64_t[::1] off = offsets
        cdef int64_t c, total = 0
        cdef RowList* L
        with nogil:
            off[0] = 0
            for i in range(n):
                if i + AHEAD < n:
                    i64t_prefetch(&self.t, kv[i + AHEAD])
                c = i64t_get(&self.t, kv[i])
                codes[i] = c
                if c >= 0:
                    total += 1 if (c & 1) == 0 else self.lists[c >> 1].n
                off[i + 1] = total
        rows = np.empty(total, dtype=np.int64)
        cdef int64_t[::1] out = rows
        with nogil:
            for i in range(n):
                c = codes[i]
                if c < 0:
                    continue
                if (c & 1) == 0:
                    out[off[i]] = c >> 1
                else:
                    L = &self.lists[c >> 1]
                    memcpy(&out[off[i]], L.rows, L.n * sizeof(int64_t))
        return offsets, rows

    def count(self, key):
        """The number of rows of key (0 if absent). O(1) expected."""
        cdef int64_t code = i64t_get(&self.t, _as_key(key))
        if code < 0:
            return 0
        return 1 if (code & 1) == 0 else self.lists[code >> 1].n

    def __contains__(self, key):
        try:
            return i64t_get(&self.t, _as_key(key)) >= 0
        except (TypeError, OverflowError):
            return False

    def __len__(self):
        """The number of (key, row) entries."""
        return self.n_entries

    def keys(self):
        """The distinct keys as an int64 array (in bucket order, not sorted)."""
        cdef uint64_t b
        cdef Py_ssize_t j = 0
        out = np.empty(self.t.size, dtype=np.int64)
        cdef int64_t[::1] ov = out
        for b in range(self.t.mask + 1):
            if self.t.buckets[b].value >= 0:
                ov[j] = i64t_key(&self.t.buckets[b])
                j += 1
        return out

    def to_dict(self):
        """{key: [rows in insertion order]} (for tests and debugging)."""
        return {int(k): self.lookup(k).tolist() for k in self.keys()}

    # -------------------------------------------------------------- figures

    @property
    def n_keys(self):
        """The number of distinct keys."""
        return self.t.size

    @property
    def nbuckets(self):
        return self.t.mask + 1

    @property
    def load_factor(self):
        """Distinct keys over buckets (at most 1/2: the table doubles at 1/2)."""
        return self.t.size / <double>(self.t.mask + 1)

    @property
    def resizes(self):
        """How many times the key table has doubled."""
        return self.n_resizes

    @property
    def nbytes(self):
        """Bytes held: buckets, list headers and row arrays (capacity, not use)."""
        return (i64t_nbytes(&self.t) + self.lists_cap * <Py_ssize_t>sizeof(RowList)
                + self.row_bytes)

    def __repr__(self):
        return (f"HashIndex(n_keys={self.t.size}, entries={self.n_entries}, "
                f"load_factor={self.load_factor:.3f})")

    def _check(self):
        """Assert the invariants: the table's probe runs; every code is canonical
        (inline row in range, or a live list of 2..cap rows in range); each list
        slot is used by exactly one key or is on the free chain; the entry and
        byte counts agree."""
        cdef uint64_t b
        cdef int64_t code
        cdef Py_ssize_t s, j, entries = 0, used = 0, free = 0, nbytes = 0
        cdef RowList* L
        i64t_check(&self.t)
        assert self.lists_top <= self.lists_cap
        owner = bytearray(self.lists_top)
        for b in range(self.t.mask + 1):
            code = self.t.buckets[b].value
            if code < 0:
                continue
            if (code & 1) == 0:
                entries += 1
                continue
            s = code >> 1
            assert 0 <= s < self.lists_top, f"key {i64t_key(&self.t.buckets[b])}: slot {s} out of range"
            assert not owner[s], f"slot {s} used by two keys"
            owner[s] = 1
            used += 1
            L = &self.lists[s]
            assert L.rows != NULL, f"slot {s} in use but has no rows"
            assert 2 <= L.n <= L.cap, f"slot {s}: {L.n} rows, capacity {L.cap}"
            for j in range(L.n):
                assert 0 <= L.rows[j] <= _MAX_ROW, f"slot {s}: bad row {L.rows[j]}"
            entries += L.n
            nbytes += L.cap * sizeof(int64_t)
        s = self.free_slot
        while s >= 0:
            assert s < self.lists_top, f"free slot {s} out of range"
            assert not owner[s], f"slot {s} both used and free"
            assert self.lists[s].rows == NULL and self.lists[s].cap == 0
            owner[s] = 1
            free += 1
            s = self.lists[s].n
        assert used + free == self.lists_top, f"{self.lists_top} slots but {used} used, {free} free"
        assert entries == self.n_entries, f"{self.n_entries} entries counted, {entries} stored"
        assert nbytes == self.row_bytes, f"row bytes {self.row_bytes}, counted {nbytes}"
