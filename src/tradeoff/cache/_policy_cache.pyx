"""The typed core of :class:`tradeoff.cache.PolicyCache`: any replay engine as a
mapping's eviction policy, called through its C methods (no Python call per use).

Keys reach the engine as ``hash(key)``, and the engine's own index (the shared
int64 table, hash -> slot) is the mapping's only table: the key and the value of
a resident entry live at its engine slot, in one list (``2 * slot`` and
``2 * slot + 1``), as the specialized classes keep theirs by slot. A lookup is a
hash, one probe of the engine's index, and an identity (else ``==``) test of the
key at that slot; a slot the engine keeps as a ghost, or has freed, holds the
``_EMPTY`` marker. Two keys with equal hashes cannot both be resident: storing
one evicts the other.

Which objects an insert pushed out is read back from the engine after the call,
without probing its index: the engine records each victim's hash and the slot it
held (``ev_buf``, ``ev_slot``), and that slot still holds the victim's item
whether the engine kept it as a ghost, freed it or gave it to the new key, whose
slot is ``placed``. The count of objects that left is checked against
``resident``.
"""
cimport cython
from cpython.object cimport Py_EQ, PyObject_Hash, PyObject_RichCompareBool
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t

from tradeoff._core.debug cimport DEBUG_ASSERT, DEBUG_CHECKS
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.table cimport i64t_get
from tradeoff.cache._engine cimport Engine

cdef extern from *:
    ctypedef struct PyListObject:
        PyObject** ob_item
    # borrowed arguments: no reference counting around the compare
    int _eq_borrowed "PyObject_RichCompareBool"(PyObject* a, PyObject* b, int op) except -1
    bint PyLong_CheckExact(PyObject* o)
    bint PyUnicode_CheckExact(PyObject* o)
    void* Py_TYPE(PyObject* o)

cdef object _MISSING = object()
cdef object _EMPTY = object()         # a slot holding no entry of the mapping


cdef inline object _take(PyObject** kv, Py_ssize_t i):
    """The object at kv[i], with the reference the list held; _EMPTY goes there."""
    cdef object old = <object>kv[i]
    Py_DECREF(old)
    Py_INCREF(_EMPTY)
    kv[i] = <PyObject*>_EMPTY
    return old


cdef Py_ssize_t _find_slow(_PolicyCacheBase c, object key, int64_t h) except -2:
    """As _find, when the key found at the slot is not the same object: compare
    with ==, whose __eq__ may change the cache (then look again, as dict does)."""
    cdef int64_t s
    cdef PyObject* k
    cdef int eq
    while True:
        s = i64t_get(&c._engine.index, h)
        if s < 0:
            return -1
        k = c._kv[2 * s]
        if k == <PyObject*>key:
            return s
        if k == <PyObject*>_EMPTY:
            return -1
        other = <object>k          # held: __eq__ may drop it from the cache
        eq = PyObject_RichCompareBool(other, key, Py_EQ)
        if c._kv[2 * s] == k:
            # still stored, so still at the slot the index gives for hash h
            return s if eq else -1


cdef int _uninitialized(_PolicyCacheBase c) except -1:
    raise RuntimeError(f"{type(c).__name__} was not initialized (its __init__ did not run)")


cdef inline Py_ssize_t _find(_PolicyCacheBase c, object key, int64_t h) except -2:
    """The engine slot holding key (whose hash is h), or -1."""
    cdef int64_t s
    cdef PyObject* k
    if c._kv == NULL:
        _uninitialized(c)
    s = i64t_get(&c._engine.index, h)
    if s < 0:
        return -1
    k = c._kv[2 * s]
    if k == <PyObject*>key:
        return s
    if k == <PyObject*>_EMPTY:
        return -1
    if Py_TYPE(k) == Py_TYPE(<PyObject*>key) and (PyLong_CheckExact(k) or PyUnicode_CheckExact(k)):
        # an equal int or str that is another object: == runs no Python code
        return s if _eq_borrowed(k, <PyObject*>key, Py_EQ) else -1
    return _find_slow(c, key, h)


cdef int _miss(_PolicyCacheBase c, object key) except -1:
    """Count a miss and raise KeyError (out of line: the hit path stays small)."""
    c.misses += 1
    raise KeyError(key)


cdef int _store_new(_PolicyCacheBase c, object key, object value, int64_t h, int64_t s) except -1:
    """Store key (hash h, not stored) as a missed request and an insert, after a
    stored key of equal hash (if any) makes way; s is the engine's index value for
    h (-1: absent). The keys and values that leave are released last, when the
    engine and the store agree again (a __del__ may use this cache)."""
    cdef Engine eng = c._engine
    cdef PyObject** kv = c._kv
    cdef PyObject* out[20]          # references taken out of the store, released last
    cdef Py_ssize_t i, t, n = 0, nout = 0, left
    cdef int64_t* saved_buf
    cdef int32_t* saved_slot
    cdef bint admitted = True
    if s >= 0 and kv[2 * s] != <PyObject*>_EMPTY:
        # another key with the same hash makes way
        eng.remove(h)
        nout = _take_slot(kv, s, out, nout)
        c._len -= 1
    if eng.hit(h):
        _release(out, nout)
        raise AssertionError(f"the engine holds hash {h}, the mapping does not")
    saved_buf = eng.ev_buf
    saved_slot = eng.ev_slot
    eng.ev_buf = c._gone
    eng.ev_slot = c._gone_slot
    eng.ev_n = 0
    eng.ev_cap = c._gone_cap
    eng.insert(h, 1)
    eng.ev_cap = 0
    eng.ev_buf = saved_buf
    eng.ev_slot = saved_slot
    # the entries pushed out are at the slots the engine recorded: each still holds
    # its item there, kept as a ghost, freed, or given to h itself (whose item is
    # stored below, after theirs are taken out)
    for i in range(eng.ev_n):
        if c._gone[i] == h:
            admitted = False            # refused (admission policies)
            continue
        t = c._gone_slot[i]
        if kv[2 * t] != <PyObject*>_EMPTY:
            nout = _take_slot(kv, t, out, nout)
            n += 1
    c._len -= n
    left = c._len + admitted - eng.resident
    if left != 0:
        _release(out, nout)
        raise AssertionError(f"{n + left} entries left the engine, {n} found")
    if admitted:
        s = eng.placed
        if DEBUG_CHECKS:
            DEBUG_ASSERT(s == i64t_get(&eng.index, h), "_store_new: placed is the new key's slot")
            DEBUG_ASSERT(kv[2 * s] == <PyObject*>_EMPTY, "_store_new: the new key's slot is empty")
        Py_INCREF(key)
        Py_INCREF(value)
        kv[2 * s] = <PyObject*>key
        kv[2 * s + 1] = <PyObject*>value
        Py_DECREF(_EMPTY)
        Py_DECREF(_EMPTY)
        c._len += 1
    _release(out, nout)
    return 0


cdef inline Py_ssize_t _take_slot(PyObject** kv, Py_ssize_t s, PyObject** out, Py_ssize_t n) noexcept:
    """Move slot s's key and value references to out[n], out[n + 1]; _EMPTY goes
    in their place. Returns the new count."""
    out[n] = kv[2 * s]
    out[n + 1] = kv[2 * s + 1]
    Py_INCREF(_EMPTY)
    Py_INCREF(_EMPTY)
    kv[2 * s] = <PyObject*>_EMPTY
    kv[2 * s + 1] = <PyObject*>_EMPTY
    return n + 2


cdef inline void _release(PyObject** out, Py_ssize_t n) noexcept:
    """Drop the references _take_slot moved out (any __del__ runs here)."""
    cdef Py_ssize_t i
    for i in range(n):
        Py_DECREF(<object>out[i])


@cython.no_gc_clear
cdef class _PolicyCacheBase:
    cdef Engine _engine
    cdef PyObject** _kv             # the item array of _store (never resized)
    cdef list _store                # 2*slot -> key, 2*slot+1 -> value; _EMPTY: no entry
    cdef Py_ssize_t _len            # entries stored
    cdef readonly unsigned long long hits
    cdef readonly unsigned long long misses
    cdef readonly Py_ssize_t maxsize
    cdef readonly str policy
    cdef readonly dict params
    cdef int64_t* _gone             # keys (hashes) an insert pushed out
    cdef int32_t* _gone_slot        # the engine slot each of them left
    cdef Py_ssize_t _gone_cap

    def __cinit__(self):
        self._gone = NULL
        self._gone_slot = NULL
        self._kv = NULL

    def __dealloc__(self):
        PyMem_RawFree(self._gone)
        PyMem_RawFree(self._gone_slot)

    def _setup(self, Engine engine not None, Py_ssize_t maxsize, str policy, dict params):
        if self._engine is not None:
            raise RuntimeError("a cache is initialized once")
        # unit sizes: an insert evicts at most one object (or refuses the new one)
        self._gone_cap = 8
        mem_resize(<void**>&self._gone, self._gone_cap * sizeof(int64_t))
        mem_resize(<void**>&self._gone_slot, self._gone_cap * sizeof(int32_t))
        self._store = [_EMPTY] * (2 * (<Py_ssize_t>engine.nslots + 1))
        self._len = 0
        self.maxsize = maxsize
        self.policy = policy
        self.params = params
        self._engine = engine
        self._kv = (<PyListObject*>self._store).ob_item     # last: marks the cache ready

    def __getitem__(self, key):
        cdef int64_t h = PyObject_Hash(key)
        cdef Py_ssize_t s = _find(self, key, h)
        if s < 0:
            _miss(self, key)
        self.hits += 1
        self._engine.touch(h, <int32_t>s)
        return <object>self._kv[2 * s + 1]

    def get(self, key, default=None):
        """The value for key (a use: counts a hit), or default (counts a miss)."""
        cdef int64_t h = PyObject_Hash(key)
        cdef Py_ssize_t s = _find(self, key, h)
        if s < 0:
            self.misses += 1
            return default
        self.hits += 1
        self._engine.touch(h, <int32_t>s)
        return <object>self._kv[2 * s + 1]

    def peek(self, key, default=_MISSING):
        """The value for key without counting a use or telling the policy."""
        cdef Py_ssize_t s = _find(self, key, PyObject_Hash(key))
        if s < 0:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return <object>self._kv[2 * s + 1]

    def __setitem__(self, key, value):
        cdef int64_t h = PyObject_Hash(key)
        cdef PyObject** kv = self._kv
        cdef int64_t s
        cdef PyObject* old
        if kv == NULL:
            _uninitialized(self)
        s = i64t_get(&self._engine.index, h)
        if s >= 0 and kv[2 * s] != <PyObject*>_EMPTY:
            if kv[2 * s] != <PyObject*>key:
                s = _find(self, key, h)     # == (its __eq__ may change the cache)
                if s < 0:
                    # another key of equal hash, or none now: look again
                    _store_new(self, key, value, h, i64t_get(&self._engine.index, h))
                    return
            # an overwrite is a use
            self._engine.touch(h, <int32_t>s)
            old = kv[2 * s + 1]
            Py_INCREF(value)
            kv[2 * s + 1] = <PyObject*>value
            Py_DECREF(<object>old)      # last: its __del__ may use the cache
            return
        _store_new(self, key, value, h, s)

    def __delitem__(self, key):
        cdef int64_t h = PyObject_Hash(key)
        cdef Py_ssize_t s = _find(self, key, h)
        if s < 0:
            raise KeyError(key)
        self._engine.remove(h)
        k = _take(self._kv, 2 * s)
        v = _take(self._kv, 2 * s + 1)
        self._len -= 1

    def __contains__(self, key):
        return _find(self, key, PyObject_Hash(key)) >= 0

    def __len__(self):
        return self._len

    cdef list _slots(self):
        cdef Py_ssize_t s
        cdef PyObject** kv = self._kv
        if kv == NULL:
            _uninitialized(self)
        return [s for s in range(1, self._engine.nslots + 1) if kv[2 * s] != <PyObject*>_EMPTY]

    def __iter__(self):
        """Keys in slot order, from a snapshot."""
        cdef Py_ssize_t s
        return iter([<object>self._kv[2 * s] for s in self._slots()])

    def _items(self):
        """(key, value) pairs in slot order, without counting uses."""
        cdef Py_ssize_t s
        return [(<object>self._kv[2 * s], <object>self._kv[2 * s + 1]) for s in self._slots()]

    def clear(self):
        """Remove every key (the policy's history, such as ghosts, may remain)."""
        cdef Py_ssize_t s
        cdef list gone = []
        for s in self._slots():
            self._engine.remove(self._engine.skey[s])
            gone.append(_take(self._kv, 2 * s))
            gone.append(_take(self._kv, 2 * s + 1))
        self._len = 0

    def _check(self):
        """The engine's resident set is exactly the stored keys' hashes, each key at
        the slot the engine's index gives for its hash."""
        cdef Py_ssize_t s
        cdef int64_t h
        self._engine._check()
        slots = self._slots()
        assert len(slots) == self._len == self._engine.resident <= self.maxsize, \
            f"{len(slots)} entries, len {self._len}, engine {self._engine.resident}"
        hashes = []
        for s in slots:
            h = hash(<object>self._kv[2 * s])
            assert self._engine.skey[s] == h, f"slot {s}: the engine holds another key"
            assert i64t_get(&self._engine.index, h) == s, f"slot {s}: the index points elsewhere"
            hashes.append(h)
        assert sorted(self._engine._resident()) == sorted(hashes), "engine and mapping disagree"
        assert len(self._store) == 2 * (self._engine.nslots + 1)
        assert self._kv[0] == <PyObject*>_EMPTY and self._kv[1] == <PyObject*>_EMPTY

