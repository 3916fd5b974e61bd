"""Stable string hashing and the key scanner of the text format (see _hash.pxd).

Everything here works on raw bytes: a ``str`` is hashed as its UTF-8 encoding
(with ``surrogateescape``, so text decoded with that handler hashes as the
bytes it came from), ``bytes`` as they are. The Python-facing functions return
an error position instead of raising, so that the reader can name the file and
the line in its message.
"""
cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr

import numpy as np

cnp.import_array()


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_ASCII(object s)


cdef int parse_int64(const unsigned char* p, Py_ssize_t n, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef bint negative = False
    cdef uint64_t v = 0, d
    if n > 0 and (p[0] == 45 or p[0] == 43):  # '-' or '+'
        negative = p[0] == 45
        i = 1
    if i >= n:
        return 0
    while i < n:
        if p[i] < 48 or p[i] > 57:
            return 0
        d = p[i] - 48
        # v * 10 + d must stay below 2**64
        if v > (<uint64_t>0xFFFFFFFFFFFFFFFFULL - d) // 10:
            return 0
        v = v * 10 + d
        i += 1
    if negative:
        if v > (<uint64_t>1) << 63:
            return 0
        out[0] = <int64_t>(<uint64_t>0 - v)
    else:
        out[0] = <int64_t>v
    return 1


cdef inline object _utf8(object obj):
    """The bytes that represent ``obj`` for hashing, or None for another type."""
    if isinstance(obj, str):
        if PyUnicode_IS_ASCII(obj):
            return obj
        return (<str>obj).encode("utf-8", "surrogateescape")
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    return None


cdef inline int _span(object b, const unsigned char** p, Py_ssize_t* n) except -1:
    """Point ``p``/``n`` at the bytes of ``b`` (an ASCII str or a bytes object)."""
    if isinstance(b, str):
        p[0] = <const unsigned char*>PyUnicode_AsUTF8AndSize(b, n)
    else:
        p[0] = <const unsigned char*>PyBytes_AS_STRING(b)
        n[0] = PyBytes_GET_SIZE(b)
    return 0


def hash_one(obj):
    """The stable hash of one str or bytes-like object, as a Python int (int64 range)."""
    cdef const unsigned char* p
    cdef Py_ssize_t n
    b = _utf8(obj)
    if b is None:
        raise TypeError(f"stable_hash takes str or bytes, got {type(obj).__name__}")
    _span(b, &p, &n)
    return stable_hash_bytes(p, n)


def hash_list(list items, bint reject_blank=False):
    """Hash every item of ``items`` (str or bytes-like).

    Returns ``(hashes, bad)``: an int64 array and -1, or ``(None, i)`` where
    ``items[i]`` is neither str nor bytes-like (or, with ``reject_blank``, is
    empty or only whitespace).
    """
    cdef Py_ssize_t i, j, n, count = len(items)
    cdef const unsigned char* p
    cdef cnp.ndarray out = np.empty(count, dtype=np.int64)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(out)
    cdef bint blank
    for i in range(count):
        b = _utf8(items[i])
        if b is None:
            return None, i
        _span(b, &p, &n)
        if reject_blank:
            blank = True
            for j in range(n):
                if not is_blank(p[j]):
                    blank = False
                    break
            if blank:
                return None, i
        o[i] = stable_hash_bytes(p, n)
    return out, -1


def parse_int_list(list items):
    """Parse every item (str or bytes; surrounding blanks ignored) as an integer key.

    Returns ``(keys, -1)``, or ``(None, i)`` where ``items[i]`` is not an
    integer in the accepted range (see ``parse_int64`` in _hash.pxd).
    """
    cdef Py_ssize_t i, n, count = len(items)
    cdef const unsigned char* p
    cdef cnp.ndarray out = np.empty(count, dtype=np.int64)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(out)
    for i in range(count):
        b = items[i]
        if not isinstance(b, (str, bytes)) or (isinstance(b, str) and not PyUnicode_IS_ASCII(b)):
            return None, i
        _span(b, &p, &n)
        while n > 0 and is_blank(p[0]):
            p += 1
            n -= 1
        while n > 0 and is_blank(p[n - 1]):
            n -= 1
        if not parse_int64(p, n, &o[i]):
            return None, i
    return out, -1


cdef Py_ssize_t _count_lines(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t lines = 1
    cdef const unsigned char* end = p + n
    cdef const unsigned char* q
    while p < end:
        q = <const unsigned char*>memchr(p, 10, end - p)
        if q == NULL:
            break
        lines += 1
        p = q + 1
    return lines


def scan_text(const unsigned char[::1] buf, bint as_int):
    """Read the keys of a text trace: one key per line.

    Lines are split at ``\\n``; blanks (space, tab, CR, VT, FF) around a key are
    ignored; an empty line and a line holding only ``*`` are skipped; a UTF-8
    byte order mark at the start is skipped. With ``as_int`` every key must be
    an integer (``parse_int64``); otherwise every key is hashed.

    Returns ``(keys, status, line, start, end)``. ``status`` 0: ``keys`` is
    the int64 array. Otherwise ``keys`` is None, ``line`` is the 1-based line
    at fault and ``buf[start:end]`` its key: status 1 is a key that is not an
    integer (only with ``as_int``), status 2 a line holding more than one field.
    """
    cdef Py_ssize_t n = buf.shape[0]
    cdef const unsigned char* p = &buf[0] if n > 0 else NULL
    cdef Py_ssize_t cap = _count_lines(p, n) if n > 0 else 1
    cdef cnp.ndarray out = np.empty(cap, dtype=np.int64)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i = 0, e, s, t, q, k = 0, line = 1
    cdef int status = 0
    cdef const unsigned char* nl
    with nogil:
        if n >= 3 and p[0] == 0xEF and p[1] == 0xBB and p[2] == 0xBF:
            i = 3
        while i < n:
            nl = <const unsigned char*>memchr(p + i, 10, n - i)
            e = n if nl == NULL else nl - p
            s = i
            t = e
            while s < t and is_blank(p[s]):
                s += 1
            while t > s and is_blank(p[t - 1]):
                t -= 1
            if s < t and not (t - s == 1 and p[s] == 42):  # '*'
                for q in range(s, t):
                    if is_blank(p[q]):
                        status = 2
                        break
                if status:
                    break
                if as_int:
                    if not parse_int64(p + s, t - s, &o[k]):
                        status = 1
                        break
                else:
                    o[k] = stable_hash_bytes(p + s, t - s)
                k += 1
            line += 1
            i = e + 1
    if status:
        return None, status, line, s, t
    if k < cap:
        out.resize((k,), refcheck=False)
    return out, 0, 0, 0, 0
