# The replay engine contract: one eviction policy's state over int64 keys, driven
# one request at a time by the nogil loop in _engine.pyx (which adds object
# sizes, TTL expiry and prefetching around any policy).
#
# A policy subclasses Engine in its own module and overrides hit, insert and
# remove (all noexcept nogil; nothing may allocate per request: everything is
# sized in __init__ from ``slots``). Slots are small integers 1..nslots naming
# an entry (resident or ghost); the base class keeps each slot's key and size
# and a free list, so that no policy writes that bookkeeping again.
from libc.stdint cimport int32_t, int64_t, uint64_t

from tradeoff._core.table cimport I64Table


cdef class Engine:
    # -- state every policy shares (the driver reads index, capacity and used)
    cdef I64Table index         # key -> a policy-defined value >= 0 (usually its slot)
    cdef readonly int64_t capacity  # in units: objects, or bytes when sizes are given
    cdef readonly int64_t used  # units held by resident objects
    cdef readonly Py_ssize_t resident   # resident objects
    cdef readonly bint sized    # objects have sizes (capacity counts bytes)
    cdef int64_t* skey          # slot -> key (a free slot: the next free slot)
    cdef int64_t* ssize         # slot -> size in units
    cdef int32_t nslots         # valid slots are 1..nslots
    cdef int32_t fresh          # lowest slot never handed out
    cdef int32_t free_head      # freed slots, chained through skey; 0 = none
    # evicted keys, recorded only while ev_cap > 0 (the online mapping wrapper
    # sets it to learn which key an insert pushed out)
    cdef int64_t* ev_buf
    cdef Py_ssize_t ev_n
    cdef Py_ssize_t ev_cap

    cdef int _base_init(self, int64_t capacity, Py_ssize_t nslots, Py_ssize_t index_entries,
                        bint sized) except -1

    # -- the policy (override all three)
    cdef bint hit(self, int64_t key) noexcept nogil
        # A request for key. Resident: record the use, return True. Not resident:
        # learn from the miss if the policy does (sketch counts, ghost state) and
        # return False; the driver then calls insert(key, size) at once.
    cdef void insert(self, int64_t key, int64_t size) noexcept nogil
        # Admit key (not resident; 1 <= size <= capacity), first evicting until
        # used + size <= capacity; or reject it (admission policies). Each
        # eviction of a resident object calls eng_evicted(self, key).
    cdef bint remove(self, int64_t key) noexcept nogil
        # Drop key if resident (TTL expiry, a delete); return whether it was.
        # History (ghost entries, frequency sketches) may keep it.

    # -- optional hooks
    cdef int prepare(self, const int64_t[:] keys) except -1
        # Called once with the whole trace before the replay (Belady's future).
    cdef Py_ssize_t nbytes(self) noexcept
        # Bytes of memory the policy's structures hold (the base counts its own).


cdef inline int32_t eng_slot_new(Engine e, int64_t key, int64_t size) noexcept nogil:
    """A free slot, now holding key and size. The policy sized nslots so that one
    is always free when it asks (a bug otherwise: the debug build asserts)."""
    cdef int32_t s
    if e.free_head != 0:
        s = e.free_head
        e.free_head = <int32_t>e.skey[s]
    else:
        s = e.fresh
        e.fresh += 1
    e.skey[s] = key
    e.ssize[s] = size
    return s


cdef inline void eng_slot_free(Engine e, int32_t s) noexcept nogil:
    e.skey[s] = e.free_head
    e.free_head = s


cdef inline void eng_evicted(Engine e, int64_t key) noexcept nogil:
    """Record that key left the cache by eviction (for the mapping wrapper)."""
    if e.ev_n < e.ev_cap:
        e.ev_buf[e.ev_n] = key
        e.ev_n += 1
