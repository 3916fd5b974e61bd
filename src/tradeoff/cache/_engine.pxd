# The replay engine contract: one eviction policy's state over int64 keys, driven
# one request at a time by the nogil loop in _engine.pyx (which adds object
# sizes, TTL expiry and prefetching around any policy).
#
# A policy subclasses Engine in its own module and overrides hit, insert and
# remove (all noexcept nogil; nothing may allocate per request: everything is
# sized in __init__ from ``slots``). Slots are small integers 1..nslots naming
# an entry (resident or ghost); the base class keeps each slot's key and size
# and a free list, so that no policy writes that bookkeeping again.
#
# The bookkeeping of an entry coming and going is written once, in the inline
# helpers at the end of this file; a policy only moves slots between its own
# lists. An entry's life:
#
#   s = eng_admit(e, key, size)   a new resident: slot, index entry, counted in
#                                 (e.placed = s, as after eng_revive)
#   eng_evict(e, s)               a resident evicted for good (recorded, counted
#                                 out, out of the index, slot freed)
#   eng_evict_to_ghost(e, s)      a resident evicted but remembered: recorded and
#                                 counted out; slot and index entry stay (a ghost)
#   eng_revive(e, s)              a ghost is resident again (its size set anew
#                                 in ssize[s]): counted in
#   eng_forget(e, s)              an entry no longer resident leaves the index;
#                                 its slot is freed (a ghost dropped)
#   eng_drop(e, s)                a resident removed (remove(): expiry, delete):
#                                 counted out, out of the index, slot freed
#   eng_release(e, s)             the same when the caller already popped the
#                                 index entry (remove() that starts with i64t_pop)
#
# In the debug build (see _core/debug.pxd) these check the slot invariants: a
# slot index is in 1..nslots, a slot handed out is free and a slot freed is in
# use (a free slot's size is 0 there), a key is admitted only when absent from
# the index, and used/resident never go negative.
from libc.stdint cimport int32_t, int64_t, uint64_t

from tradeoff._core.debug cimport DEBUG_ASSERT, DEBUG_CHECKS
from tradeoff._core.table cimport I64Table, i64t_find, i64t_get, i64t_pop, i64t_put_at


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
    # evicted keys and the slots they left, recorded only while ev_cap > 0 (the
    # online mapping wrapper sets both buffers to learn which entries an insert
    # pushed out, and frees their items from those slots without probing the index)
    cdef int64_t* ev_buf        # the evicted keys
    cdef int32_t* ev_slot       # the slot each held when evicted (ghost, freed or reused)
    cdef Py_ssize_t ev_n
    cdef Py_ssize_t ev_cap
    cdef int32_t placed         # the slot eng_admit or eng_revive last made resident
    # the lookup a hit() made through eng_lookup, so that the insert() the driver
    # makes right after a miss gets it from eng_recall without probing again
    cdef int64_t memo_key
    cdef int64_t memo_value
    cdef bint memo_valid        # cleared by eng_recall (and by anything else that
                                # changes the key's entry: remove() clears it)
    # where eng_lookup last found a key absent: the empty bucket it goes to, and the
    # index's size then. eng_admit of that key puts it there without probing again
    # while nothing entered or left the index since: entries only enter through
    # eng_admit (which clears pos_valid), and one that leaves changes the size.
    cdef int64_t pos_key
    cdef uint64_t pos_bucket
    cdef Py_ssize_t pos_size
    cdef bint pos_valid

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
        # eviction of a resident object calls eng_evicted(self, slot)
        # (eng_evict and eng_evict_to_ghost do).
    cdef bint remove(self, int64_t key) noexcept nogil
        # Drop key if resident (TTL expiry, a delete); return whether it was.
        # History (ghost entries, frequency sketches) may keep it.

    # -- optional hooks
    cdef void touch(self, int64_t key, int32_t s) noexcept nogil
        # A hit on key, which the caller (the online mapping) has just found
        # resident at slot s in the index: hit(key) without its lookup. The base
        # calls hit(key); a policy whose hit is a lookup and then an update of
        # slot s overrides it with the update alone.
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
    DEBUG_ASSERT(s >= 1, "eng_slot_new: slot index >= 1")
    DEBUG_ASSERT(s <= e.nslots, "eng_slot_new: a free slot is left (slot index <= nslots)")
    DEBUG_ASSERT(e.ssize[s] == 0, "eng_slot_new: the slot handed out is not in use")
    DEBUG_ASSERT(size >= 1, "eng_slot_new: sizes are >= 1")
    e.skey[s] = key
    e.ssize[s] = size
    return s


cdef inline void eng_slot_free(Engine e, int32_t s) noexcept nogil:
    """Give slot s back (its key and size are dead from now on)."""
    DEBUG_ASSERT(s >= 1, "eng_slot_free: slot index >= 1")
    DEBUG_ASSERT(s < e.fresh, "eng_slot_free: the slot was handed out (slot index < fresh)")
    DEBUG_ASSERT(e.ssize[s] != 0, "eng_slot_free: the slot freed is in use (no double free)")
    if DEBUG_CHECKS:
        e.ssize[s] = 0          # marks the slot free for the checks above
    e.skey[s] = e.free_head
    e.free_head = s


cdef inline void eng_evicted(Engine e, int32_t s) noexcept nogil:
    """Record that slot s's key left the cache by eviction (for the mapping
    wrapper): the key and the slot, which the wrapper reads back after insert()
    (the slot still holds its item there, whether the policy kept it as a ghost,
    freed it, or gave it to the key just admitted)."""
    if e.ev_n < e.ev_cap:
        e.ev_buf[e.ev_n] = e.skey[s]
        e.ev_slot[e.ev_n] = s
        e.ev_n += 1


cdef inline int64_t eng_lookup(Engine e, int64_t key) noexcept nogil:
    """The index value for key (-1: absent), remembered for eng_recall; when key is
    absent, also where it would go, for eng_admit."""
    cdef uint64_t pos = 0
    cdef int64_t v = i64t_find(&e.index, key, &pos)
    e.memo_key = key
    e.memo_value = v
    e.memo_valid = True
    if v < 0:
        e.pos_key = key
        e.pos_bucket = pos
        e.pos_size = e.index.size
        e.pos_valid = True
    return v


cdef inline int64_t eng_recall(Engine e, int64_t key) noexcept nogil:
    """The index value for key: the one eng_lookup last found, when it was for
    this key, else a fresh lookup. Clears the memo."""
    cdef int64_t v
    if e.memo_valid and e.memo_key == key:
        v = e.memo_value
    else:
        v = i64t_get(&e.index, key)
    e.memo_valid = False
    if DEBUG_CHECKS:
        DEBUG_ASSERT(v == i64t_get(&e.index, key), "eng_recall: the memo agrees with the index")
    return v


cdef inline int32_t eng_admit(Engine e, int64_t key, int64_t size) noexcept nogil:
    """Key (absent from the index: the policy made room first) becomes resident:
    a new slot, its index entry (the slot), and size counted in. Returns the slot;
    the policy then puts it on its lists. The bucket comes from the eng_lookup
    that missed key when the index is unchanged since (pos_valid), else a probe."""
    cdef uint64_t pos = 0
    cdef uint64_t check = 0
    cdef int32_t s
    if e.pos_valid and e.pos_key == key and e.pos_size == e.index.size:
        pos = e.pos_bucket
        if DEBUG_CHECKS:
            DEBUG_ASSERT(i64t_find(&e.index, key, &check) < 0 and check == pos,
                         "eng_admit: the bucket eng_lookup found is where the key goes")
    elif i64t_find(&e.index, key, &pos) >= 0:
        DEBUG_ASSERT(False, "eng_admit: the key admitted is not already in the index")
    e.pos_valid = False
    s = eng_slot_new(e, key, size)
    i64t_put_at(&e.index, pos, key, s)
    e.used += size
    e.resident += 1
    e.placed = s
    return s


cdef inline void _eng_count_out(Engine e, int32_t s) noexcept nogil:
    e.used -= e.ssize[s]
    e.resident -= 1
    DEBUG_ASSERT(e.used >= 0, "an entry leaving: used >= 0")
    DEBUG_ASSERT(e.resident >= 0, "an entry leaving: resident >= 0")


cdef inline void eng_forget(Engine e, int32_t s) noexcept nogil:
    """Entry s, not (or no longer) counted resident, leaves the index; its slot is
    freed. For a ghost dropped, or after eng_evict_to_ghost when the policy keeps
    no ghost after all."""
    if DEBUG_CHECKS:
        DEBUG_ASSERT(i64t_get(&e.index, e.skey[s]) == s,
                     "eng_forget: the index maps the slot's key to the slot")
    i64t_pop(&e.index, e.skey[s])
    eng_slot_free(e, s)


cdef inline void eng_evict_to_ghost(Engine e, int32_t s) noexcept nogil:
    """Resident s leaves the cache by eviction but stays known (a ghost): recorded,
    counted out; its slot, size and index entry stay."""
    eng_evicted(e, s)
    _eng_count_out(e, s)


cdef inline void eng_revive(Engine e, int32_t s) noexcept nogil:
    """Ghost s (see eng_evict_to_ghost) is resident again, with the size now in
    ssize[s], after the policy made room: counted in."""
    e.used += e.ssize[s]
    e.resident += 1
    e.placed = s
    DEBUG_ASSERT(e.used <= e.capacity, "eng_revive: used <= capacity (room was made first)")


cdef inline void eng_evict(Engine e, int32_t s) noexcept nogil:
    """Resident s (already off the policy's lists) leaves the cache by eviction:
    recorded, counted out, out of the index, slot freed."""
    eng_evict_to_ghost(e, s)
    eng_forget(e, s)


cdef inline void eng_drop(Engine e, int32_t s) noexcept nogil:
    """Resident s (already off the policy's lists) is removed, not evicted (expiry,
    a delete): counted out, out of the index, slot freed; nothing recorded."""
    _eng_count_out(e, s)
    eng_forget(e, s)


cdef inline void eng_release(Engine e, int32_t s) noexcept nogil:
    """As eng_drop, for a caller that has already popped s's index entry."""
    _eng_count_out(e, s)
    eng_slot_free(e, s)
