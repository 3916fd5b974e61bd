"""The typed core of :class:`tradeoff.cache.PolicyCache`: any replay engine as a
mapping's eviction policy, called through its C methods (no Python call per use).

Keys reach the engine as ``hash(key)``. ``data`` maps each stored key to an entry
(its value and hash); ``owner`` maps a resident hash back to its key, and is
touched only when keys come and go, so a hit costs one dict lookup and one C
call. Two keys with equal hashes cannot both be resident: storing one evicts the
other.
"""
from cpython.mem cimport PyMem_RawFree
from cpython.object cimport PyObject_Hash
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t

from tradeoff._core.mem cimport mem_resize
from tradeoff.cache._engine cimport Engine

cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(PyObject* d, object key) except? NULL
    int PyDict_DelItem(object d, object key) except -1

cdef object _MISSING = object()


cdef class _Entry:
    cdef object value
    cdef int64_t h


cdef class _PolicyCacheBase:
    cdef Engine _engine
    cdef dict _data                 # key -> _Entry
    cdef dict _owner                # hash -> key, for the resident keys
    cdef readonly unsigned long long hits
    cdef readonly unsigned long long misses
    cdef readonly Py_ssize_t maxsize
    cdef readonly str policy
    cdef readonly dict params
    cdef int64_t* _gone             # keys (hashes) an insert pushed out
    cdef Py_ssize_t _gone_cap

    def __cinit__(self):
        self._gone = NULL

    def __dealloc__(self):
        PyMem_RawFree(self._gone)

    def _setup(self, Engine engine, Py_ssize_t maxsize, str policy, dict params):
        if self._engine is not None:
            raise RuntimeError("a cache is initialized once")
        self._engine = engine
        self._data = {}
        self._owner = {}
        self.maxsize = maxsize
        self.policy = policy
        self.params = params
        # unit sizes: an insert evicts at most one object (or refuses the new one)
        self._gone_cap = 8
        mem_resize(<void**>&self._gone, self._gone_cap * sizeof(int64_t))

    def __getitem__(self, key):
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self._data, key)
        if found == NULL:
            self.misses += 1
            raise KeyError(key)
        self.hits += 1
        self._engine.hit((<_Entry>found).h)
        return (<_Entry>found).value

    def get(self, key, default=None):
        """The value for key (a use: counts a hit), or default (counts a miss)."""
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self._data, key)
        if found == NULL:
            self.misses += 1
            return default
        self.hits += 1
        self._engine.hit((<_Entry>found).h)
        return (<_Entry>found).value

    def peek(self, key, default=_MISSING):
        """The value for key without counting a use or telling the policy."""
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self._data, key)
        if found == NULL:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return (<_Entry>found).value

    def __setitem__(self, key, value):
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self._data, key)
        cdef _Entry e
        cdef int64_t h
        cdef Py_ssize_t i
        cdef Engine eng = self._engine
        if found != NULL:
            # an overwrite is a use
            eng.hit((<_Entry>found).h)
            (<_Entry>found).value = value
            return
        h = <int64_t>PyObject_Hash(key)
        hobj = h
        # values leave only at the end, when the structures agree again (a value's
        # __del__ may use this cache)
        cdef list dropped = None
        cdef PyObject* other = PyDict_GetItemWithError(<PyObject*>self._owner, hobj)
        if other != NULL:
            # another key with the same hash makes way
            eng.remove(h)
            dropped = [self._data.pop(<object>other)]
            del self._owner[hobj]
        e = _Entry.__new__(_Entry)
        e.value = value
        e.h = h
        if eng.hit(h):
            raise AssertionError(f"the engine holds hash {h}, the mapping does not")
        eng.ev_buf = self._gone
        eng.ev_n = 0
        eng.ev_cap = self._gone_cap
        eng.insert(h, 1)
        eng.ev_cap = 0
        eng.ev_buf = NULL
        # store first, then drop what left: a refused key is reported as gone itself
        self._data[key] = e
        self._owner[hobj] = key
        if eng.ev_n:
            if dropped is None:
                dropped = []
            for i in range(eng.ev_n):
                g = self._gone[i]
                gone = <object>PyDict_GetItemWithError(<PyObject*>self._owner, g)
                PyDict_DelItem(self._owner, g)
                dropped.append(<object>PyDict_GetItemWithError(<PyObject*>self._data, gone))
                PyDict_DelItem(self._data, gone)

    def __delitem__(self, key):
        cdef PyObject* found = PyDict_GetItemWithError(<PyObject*>self._data, key)
        if found == NULL:
            raise KeyError(key)
        cdef int64_t h = (<_Entry>found).h
        self._engine.remove(h)
        del self._owner[h]
        del self._data[key]

    def __contains__(self, key):
        return key in self._data

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter(list(self._data))

    def _items(self):
        """(key, value) pairs, in insertion order of the dict (not eviction order)."""
        return [(k, (<_Entry>e).value) for k, e in self._data.items()]

    def clear(self):
        """Remove every key (the policy's history, such as ghosts, may remain)."""
        cdef int64_t h
        for h in self._owner:
            self._engine.remove(h)
        self._owner.clear()
        self._data.clear()

    def _check(self):
        """The engine's resident set is exactly the stored keys' hashes."""
        self._engine._check()
        assert sorted(self._engine._resident()) == sorted(self._owner), "engine and mapping disagree"
        assert len(self._data) == len(self._owner) <= self.maxsize
        for h, key in self._owner.items():
            assert (<_Entry>self._data[key]).h == h
