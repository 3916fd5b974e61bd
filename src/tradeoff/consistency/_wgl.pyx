"""The linearizability search over one partition of a history, without the GIL.

The algorithm is that of Wing and Gong, "Testing and verifying concurrent objects"
(J. Parallel and Distributed Computing 17, 1993), with the memoization of Lowe,
"Testing for linearizability" (Concurrency and Computation: Practice and Experience
29(4), 2017), the form the Porcupine checker (Athalye, 2017) also uses:

- the history is a list of *entries* in time order: a call entry per operation and a
  return entry per operation whose outcome is known; an operation whose outcome is
  unknown has no return entry (it may take effect any time after its call) and need
  not be linearized at all (it may never take effect);
- walking the list from its head, a call entry whose operation the model accepts in
  the current state is *lifted* out of the list (its call and return entries, both)
  and pushed on a call stack with the state before it: the operation is linearized
  next. The walk restarts at the head;
- reaching a return entry means an operation that completed before everything still
  in the list was never linearized: the last choice was wrong. Pop it, *unlift* its
  entries back into place (dancing links: an unlinked node keeps its links, so
  relinking in reverse order restores the list), and try the entry after its call;
- the candidates at a configuration are the call entries before the first return
  entry. They are tried required operations first, then the optional ones (kept in
  a second list, ordered by time, and taken while they come before that return
  entry): a different order over the same candidates, so the search stays
  complete, and it finds a linearization sooner when most timed-out operations
  are not needed to explain the reads;
- Lowe's cache: a configuration is the set of operations linearized (a bitset) and the
  model state. Reaching one seen before can only repeat a search that failed, so that
  branch is cut. The cache is the package's int64 table (tradeoff._core.table) from
  a hash of (bitset, state) to the newest record with that hash; records with equal
  hashes chain and are compared exactly (state, then every word of the bitset). The
  bitset's hash is kept up to date in O(1) as the xor of a random word per operation
  (Zobrist, "A new hashing method with application for game playing", 1970);
- subsumption, for the operations of unknown outcome: a seen configuration (B', s)
  also cuts (B, s) when B is B' plus optional operations only. Whatever completes
  the search from (B, s) completes it from (B', s) too: the candidates depend only on
  the required operations linearized (optional ones have no return entry), the
  state is the same, and the extra optional operations may be left out. (Take a
  finished configuration with a completion of least length d: its successor on that
  completion was searched, or cut by a finished or an ancestor configuration that
  has a completion of length <= d - 1; either contradicts the choice, so no
  finished configuration has a completion, the root included.) So the hash covers
  the required operations only (an optional one's word is 0), and a record matches
  when its required bits equal the current ones and its optional bits are a subset.
  On the Jepsen etcd histories, where a fifth of the operations timed out, this
  takes the hardest from 790,000 steps to 7,000.

The history is linearizable iff every operation with a known outcome gets linearized.
The search stops with "unknown" when it has taken ``max_steps`` steps or run past its
deadline (the clock is read every 4096 steps), and can be resumed.

States are int64: a register's interned value, a counter's sum. Operations of models
that do not reduce to the opcodes below (OP_CALL) go through a transition table filled,
once per (state, signature) pair, by a Python callable: the search holds the GIL only
for that call.
"""
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.dlist cimport DLink, DList, dl_free, dl_insert_after, dl_resize, dl_ring, dl_unlink
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.table cimport (I64Entry, i64t_check, i64t_free, i64t_get, i64t_init, i64t_nbytes,
                                   i64t_put, i64t_put_at, i64t_ref)

OPCODES = {"read": OP_READ, "write": OP_WRITE, "cas": OP_CAS, "add": OP_ADD, "call": OP_CALL}
VERDICTS = ("ok", "violation", "unknown")
KNOWN = F_KNOWN
OPTIONAL = F_OPTIONAL

# the largest key of the transition table: state * nsig + sig stays below it
cdef int64_t TRANS_LIMIT = (<int64_t>1) << 62
# the clock is read once per this many steps (a power of two)
cdef int64_t CLOCK_EVERY = 4096


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + 1e-9 * <double>ts.tv_nsec


def monotonic():
    """The clock the deadlines are measured on (CLOCK_MONOTONIC, seconds)."""
    return _now()


cdef inline void _relink(DList* d, int32_t x) noexcept nogil:
    """Put x back where it was unlinked from (its links are unchanged since)."""
    dl_insert_after(d, d.links[x].prev, x)


cdef class Search:
    """A linearizability search over one partition; see the module docstring.

    Built from parallel arrays over the n operations (``code``, ``arg1``, ``arg2``,
    ``res``, ``flags``, ``sig``) and the entries in time order (``entry_op``: the
    operation of each entry; ``entry_ret``: 1 for a return entry). Every operation has
    exactly one call entry; one without F_OPTIONAL has one return entry after it, an
    optional one has none. ``transition(state, sig) -> (ok, new_state)`` serves the
    OP_CALL operations (states then are ids >= 0, signatures in [0, nsig)).
    ``subsume=False`` turns subsumption off (the plain cache of Lowe);
    ``optional_last=False`` tries the candidates in time order only;
    ``max_configurations`` caps the cache (memory): reaching it ends a run with
    "unknown" (``full`` is then true).

    Time O(steps), where a step moves along, lifts or unlifts one entry; memory
    O(n) plus nwords + 3 words per cached configuration.

    >>> import numpy as np
    >>> z = np.zeros(2, np.int64)
    >>> s = Search(np.array([OPCODES["write"], OPCODES["read"]], np.int32),
    ...            np.array([5, 0]), z, np.array([0, 5]), np.array([KNOWN, KNOWN], np.uint8), z,
    ...            np.array([0, 1, 0, 1], np.int32), np.array([0, 0, 1, 1], np.uint8), 0)
    >>> s.run(), s.linearization()
    ('ok', [0, 1])
    """

    def __cinit__(self, const int32_t[:] code, const int64_t[:] arg1, const int64_t[:] arg2,
                  const int64_t[:] res, const uint8_t[:] flags, const int64_t[:] sig,
                  const int32_t[:] entry_op, const uint8_t[:] entry_ret, int64_t init,
                  transition=None, int64_t nsig=0, bint subsume=True, bint optional_last=True,
                  Py_ssize_t max_configurations=-1):
        cdef Py_ssize_t n = code.shape[0], ne = entry_op.shape[0], i, e
        cdef int32_t op
        cdef uint64_t z
        self.verdict = -1
        self.max_rec = max_configurations if max_configurations >= 0 else -1
        for name, arr in (("arg1", arg1), ("arg2", arg2), ("res", res), ("flags", flags), ("sig", sig)):
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} items, code has {n}")
        if entry_ret.shape[0] != ne:
            raise ValueError(f"entry_ret has {entry_ret.shape[0]} items, entry_op has {ne}")
        if n >= 2147483647 // 2:
            raise ValueError(f"too many operations in one partition: {n}")
        if nsig < 0:
            raise ValueError(f"nsig must be >= 0, got {nsig}")
        self.n = n
        self.ne = ne
        self.nwords = (n + 63) // 64 if n > 0 else 1
        self.stride = self.nwords + 2
        self.nsig = nsig
        self.transition = transition
        mem_resize(<void**>&self.code, n * sizeof(int32_t))
        mem_resize(<void**>&self.arg1, n * sizeof(int64_t))
        mem_resize(<void**>&self.arg2, n * sizeof(int64_t))
        mem_resize(<void**>&self.res, n * sizeof(int64_t))
        mem_resize(<void**>&self.flags, n * sizeof(uint8_t))
        mem_resize(<void**>&self.sig, n * sizeof(int64_t))
        mem_resize(<void**>&self.call_e, n * sizeof(int32_t))
        mem_resize(<void**>&self.ret_e, n * sizeof(int32_t))
        mem_resize(<void**>&self.zob, n * sizeof(uint64_t))
        mem_resize(<void**>&self.stk_op, n * sizeof(int32_t))
        mem_resize(<void**>&self.stk_state, n * sizeof(int64_t))
        mem_resize(<void**>&self.stk_lim, n * sizeof(int32_t))
        mem_resize(<void**>&self.best, n * sizeof(int32_t))
        mem_resize(<void**>&self.e_op, ne * sizeof(int32_t))
        mem_resize(<void**>&self.e_ret, ne * sizeof(uint8_t))
        mem_zeroed(<void**>&self.bits, self.nwords * sizeof(uint64_t))
        mem_zeroed(<void**>&self.reqmask, self.nwords * sizeof(uint64_t))
        dl_resize(&self.links, ne + 2)
        i64t_init(&self.memo, 1024)
        i64t_init(&self.trans, 64)
        self.remaining = 0
        for i in range(n):
            if code[i] < OP_READ or code[i] > OP_CALL:
                raise ValueError(f"operation {i}: unknown opcode {code[i]}")
            if code[i] == OP_CALL:
                if transition is None:
                    raise ValueError(f"operation {i} needs a transition callable (OP_CALL)")
                if sig[i] < 0 or sig[i] >= nsig:
                    raise ValueError(f"operation {i}: signature {sig[i]} is not in [0, {nsig})")
            self.code[i] = code[i]
            self.arg1[i] = arg1[i]
            self.arg2[i] = arg2[i]
            self.res[i] = res[i]
            self.flags[i] = flags[i]
            self.sig[i] = sig[i]
            self.call_e[i] = -1
            self.ret_e[i] = -1
            z = mix64(<uint64_t>i + <uint64_t>0x9E3779B97F4A7C15)
            if flags[i] & F_OPTIONAL and subsume:
                self.zob[i] = 0
            else:
                self.zob[i] = z if z != 0 else 1
                self.reqmask[i >> 6] |= (<uint64_t>1) << (i & 63)
            if not (flags[i] & F_OPTIONAL):
                self.remaining += 1
        # the list, and the check that the entries are well formed
        dl_ring(&self.links, <int32_t>ne)
        dl_ring(&self.links, <int32_t>(ne + 1))
        for e in range(ne):
            op = entry_op[e]
            if op < 0 or op >= n:
                raise ValueError(f"entry {e}: operation {op} is not in [0, {n})")
            self.e_op[e] = op
            self.e_ret[e] = 1 if entry_ret[e] else 0
            if entry_ret[e]:
                if self.call_e[op] < 0:
                    raise ValueError(f"entry {e}: operation {op} returns before its call entry")
                if self.ret_e[op] >= 0:
                    raise ValueError(f"entry {e}: operation {op} has two return entries")
                if flags[op] & F_OPTIONAL:
                    raise ValueError(f"entry {e}: operation {op} is optional and has a return entry")
                self.ret_e[op] = <int32_t>e
            else:
                if self.call_e[op] >= 0:
                    raise ValueError(f"entry {e}: operation {op} has two call entries")
                self.call_e[op] = <int32_t>e
            if flags[op] & F_OPTIONAL and optional_last:
                dl_insert_after(&self.links, self.links.links[ne + 1].prev, <int32_t>e)
            else:
                dl_insert_after(&self.links, self.links.links[ne].prev, <int32_t>e)
        for i in range(n):
            if self.call_e[i] < 0:
                raise ValueError(f"operation {i} has no call entry")
            if self.ret_e[i] < 0 and not (flags[i] & F_OPTIONAL):
                raise ValueError(f"operation {i} has a known outcome and no return entry")
        self.cur_e = self.links.links[ne].next
        self.cur_lim = -1
        self.cur_state = init
        self.h = 0

    def __dealloc__(self):
        PyMem_RawFree(self.code)
        PyMem_RawFree(self.arg1)
        PyMem_RawFree(self.arg2)
        PyMem_RawFree(self.res)
        PyMem_RawFree(self.flags)
        PyMem_RawFree(self.sig)
        PyMem_RawFree(self.call_e)
        PyMem_RawFree(self.ret_e)
        PyMem_RawFree(self.zob)
        PyMem_RawFree(self.stk_op)
        PyMem_RawFree(self.stk_state)
        PyMem_RawFree(self.stk_lim)
        PyMem_RawFree(self.best)
        PyMem_RawFree(self.e_op)
        PyMem_RawFree(self.e_ret)
        PyMem_RawFree(self.bits)
        PyMem_RawFree(self.reqmask)
        PyMem_RawFree(self.recs)
        dl_free(&self.links)
        i64t_free(&self.memo)
        i64t_free(&self.trans)

    # -- the model step of OP_CALL -------------------------------------------------------
    cdef int _call(self, int32_t op, int64_t state, int64_t* out) except -1 nogil:
        """1 if the transition table accepts op in state (the next state in *out),
        else 0; a missing transition is asked of the Python callable once."""
        cdef int64_t key, v
        DEBUG_ASSERT(state >= 0, "OP_CALL: states are ids >= 0")
        key = state * self.nsig + self.sig[op]
        v = i64t_get(&self.trans, key)
        if v < 0:
            with gil:
                v = self._fill(state, self.sig[op])
            i64t_put(&self.trans, key, v)
            self.ncalls += 1
        out[0] = v >> 1
        return <int>(v & 1)

    def _fill(self, int64_t state, int64_t sig):
        """Ask the transition callable; 2 * new_state + ok, checked."""
        try:
            ok, new = self.transition(state, sig)
        except BaseException:
            self.broken = True
            raise
        new = int(new)
        if new < 0 or new >= TRANS_LIMIT // (self.nsig if self.nsig > 0 else 1):
            self.broken = True
            raise OverflowError(f"transition gave state id {new}: ids must be in [0, 2**62 / {self.nsig})")
        return 2 * new + (1 if ok else 0)

    # -- Lowe's cache -----------------------------------------------------------------
    cdef int _memo_add(self, uint64_t h, int64_t state) except -1 nogil:
        """Record (bits, state), h being the hash of bits' required part; 1 if it is
        new, 0 if a configuration seen before covers it, 2 if it is new and the cache
        is full (nothing recorded)."""
        cdef int64_t key = <int64_t>(h ^ (<uint64_t>state * <uint64_t>0x9E3779B97F4A7C15))
        cdef uint64_t pos = 0
        cdef I64Entry* ref = i64t_ref(&self.memo, key, &pos)
        cdef int64_t r = ref.value if ref != NULL else -1
        cdef int64_t head = r
        cdef Py_ssize_t nw = self.nwords, stride = self.stride, k, cap
        cdef const uint64_t* bits = self.bits
        cdef const uint64_t* req = self.reqmask
        cdef uint64_t* p
        cdef uint64_t rw, cw
        while r >= 0:
            p = &self.recs[r * stride]
            if <int64_t>p[0] == state:
                # covered: the record's bits are a subset of ours, equal on the required
                k = 0
                while k < nw:
                    rw = p[2 + k]
                    cw = bits[k]
                    if (rw & ~cw) != 0 or ((rw ^ cw) & req[k]) != 0:
                        break
                    k += 1
                if k == nw:
                    return 0
            r = <int64_t>p[1]
        if self.nrec == self.max_rec:
            return 2
        if self.nrec == self.rec_cap:
            cap = self.rec_cap * 2 if self.rec_cap > 0 else 1024
            if self.max_rec >= 0 and cap > self.max_rec:
                cap = self.max_rec if self.max_rec > self.nrec else self.nrec + 1
            mem_resize(<void**>&self.recs, cap * stride * sizeof(uint64_t))
            self.rec_cap = cap
        r = self.nrec
        p = &self.recs[r * stride]
        p[0] = <uint64_t>state
        p[1] = <uint64_t>head
        for k in range(nw):
            p[2 + k] = bits[k]
        self.nrec += 1
        if ref != NULL:
            ref.value = r                       # the new record heads the chain
        elif self.memo.size < self.memo.limit:
            i64t_put_at(&self.memo, pos, key, r)
        else:
            i64t_put(&self.memo, key, r)
        return 1

    # -- the search -------------------------------------------------------------------
    cdef int _loop(self, int64_t max_steps, double deadline) except -1 nogil:
        """Search on from where the last run stopped; the verdict (V_*)."""
        cdef int32_t head = <int32_t>self.ne, head_b = <int32_t>(self.ne + 1)
        cdef int32_t e = self.cur_e, lim = self.cur_lim, op, c, r
        cdef int64_t state = self.cur_state, new_state
        cdef int64_t steps = 0
        cdef int verdict, ok, m
        cdef uint8_t fl
        # the arrays, in locals (the compiler cannot keep fields in registers
        # across stores through int64 pointers, which may alias them)
        cdef uint64_t* bits = self.bits
        cdef DLink* L = self.links.links
        cdef const int32_t* e_op = self.e_op
        cdef const uint8_t* e_ret = self.e_ret
        cdef const int32_t* code = self.code
        cdef const int64_t* arg1 = self.arg1
        cdef const int64_t* arg2 = self.arg2
        cdef const int64_t* res = self.res
        cdef const uint8_t* flags = self.flags
        cdef const int32_t* ret_e = self.ret_e
        cdef const uint64_t* zob = self.zob
        cdef int32_t* stk_op = self.stk_op
        cdef int64_t* stk_state = self.stk_state
        cdef int32_t* stk_lim = self.stk_lim
        cdef Py_ssize_t depth = self.depth, remaining = self.remaining
        cdef uint64_t h = self.h
        while True:
            if remaining == 0:
                verdict = V_OK
                break
            if max_steps >= 0 and steps >= max_steps:
                verdict = V_UNKNOWN
                break
            if deadline > 0 and (steps & (CLOCK_EVERY - 1)) == 0 and steps > 0 and _now() >= deadline:
                verdict = V_UNKNOWN
                break
            steps += 1
            # a required operation is left, so list A holds its return entry: the
            # walk along A never meets A's sentinel
            DEBUG_ASSERT(lim >= 0 or e != head, "list A holds a return entry while one is required")
            if lim < 0 and e_ret[e]:
                # A's first return entry: the required candidates are done; the
                # optional ones invoked before it come next
                lim = e
                e = L[head_b].next
            if lim >= 0 and (e == head_b or e > lim):
                # every candidate tried: undo the last choice
                if depth == 0:
                    verdict = V_VIOLATION
                    break
                depth -= 1
                op = stk_op[depth]
                state = stk_state[depth]
                bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                h ^= zob[op]
                # unlift, in the reverse order of the lift
                r = ret_e[op]
                if r >= 0:
                    _relink(&self.links, r)
                    remaining += 1
                    lim = -1
                else:
                    lim = stk_lim[depth]
                _relink(&self.links, self.call_e[op])
                e = L[self.call_e[op]].next
                continue
            op = e_op[e]
            # the model step, inline for the built-in opcodes
            c = code[op]
            fl = flags[op]
            if c == OP_READ:
                new_state = state
                ok = not (fl & F_KNOWN) or state == res[op]
            elif c == OP_WRITE:
                new_state = arg1[op]
                ok = 1
            elif c == OP_CAS:
                if state == arg1[op]:
                    new_state = arg2[op]
                    ok = not (fl & F_KNOWN) or res[op] != 0
                else:
                    new_state = state
                    ok = not (fl & F_KNOWN) or res[op] == 0
            elif c == OP_ADD:
                new_state = <int64_t>(<uint64_t>state + <uint64_t>arg1[op])
                ok = 1
            else:
                ok = self._call(op, state, &new_state)
            if ok:
                bits[op >> 6] |= (<uint64_t>1) << (op & 63)
                h ^= zob[op]
                m = self._memo_add(h, new_state)
                if m == 2:
                    bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                    h ^= zob[op]
                    self.is_full = True
                    verdict = V_UNKNOWN
                    break
                if m:
                    stk_op[depth] = op
                    stk_state[depth] = state
                    stk_lim[depth] = lim
                    depth += 1
                    state = new_state
                    # lift: the call entry, then the return entry
                    dl_unlink(&self.links, e)
                    r = ret_e[op]
                    if r >= 0:
                        dl_unlink(&self.links, r)
                        remaining -= 1
                    if depth > self.best_len:
                        memcpy(self.best, stk_op, depth * sizeof(int32_t))
                        self.best_len = depth
                    e = L[head].next
                    lim = -1
                    continue
                bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                h ^= zob[op]
            e = L[e].next
        self.cur_e = e
        self.cur_lim = lim
        self.cur_state = state
        self.h = h
        self.depth = depth
        self.remaining = remaining
        self.nsteps += steps
        return verdict

    def run(self, max_steps=None, max_seconds=None):
        """Search until decided or out of budget: ``"ok"``, ``"violation"`` or
        ``"unknown"`` (the budget ran out: calling run again goes on from there).
        ``max_steps``: at most this many more steps; ``max_seconds``: stop after about
        this long (None: no limit)."""
        cdef int64_t steps_cap = -1
        cdef double deadline = 0.0
        cdef int v
        if self.broken:
            raise RuntimeError("this search stopped on an error (in its transition callable, or memory)")
        if self.verdict >= 0:
            return VERDICTS[self.verdict]
        self.is_full = False
        if max_steps is not None:
            if max_steps < 0:
                raise ValueError(f"max_steps must be >= 0, got {max_steps}")
            steps_cap = max_steps
        if max_seconds is not None:
            if not max_seconds >= 0:
                raise ValueError(f"max_seconds must be >= 0, got {max_seconds}")
            deadline = _now() + max_seconds
            if deadline <= 0:
                deadline = 1e-300
        try:
            with nogil:
                v = self._loop(steps_cap, deadline)
        except BaseException:
            self.broken = True
            raise
        if v != V_UNKNOWN:
            self.verdict = v
        return VERDICTS[v]

    # -- results ----------------------------------------------------------------------
    def verdict_ok(self):
        """Whether the search found a linearization."""
        return self.verdict == V_OK

    def linearization(self):
        """The operations of the longest linearization seen, in order (all of the
        required ones when the verdict is ok)."""
        return [self.best[i] for i in range(self.best_len)]

    @property
    def steps(self):
        """Steps taken so far (over every run)."""
        return self.nsteps

    @property
    def full(self):
        """Whether the last run stopped because the cache reached max_configurations."""
        return self.is_full

    @property
    def record_bytes(self):
        """Bytes one cached configuration takes (its record and its share of the table)."""
        return 8 * self.stride + 1 + 32

    @property
    def configurations(self):
        """Configurations (bitset, state) in Lowe's cache."""
        return self.nrec

    @property
    def callbacks(self):
        """Transitions computed by the Python callable."""
        return self.ncalls

    @property
    def nbytes(self):
        """Memory held, about."""
        cdef Py_ssize_t n = self.n, ne = self.ne
        return (n * (4 + 8 * 3 + 1 + 8 + 4 * 2 + 8 + 4 + 8 + 4 + 4) + ne * 5 + (ne + 2) * 8
                + self.nwords * 16 + self.rec_cap * 8 * self.stride
                + i64t_nbytes(&self.memo) + i64t_nbytes(&self.trans))

    def _check(self):
        """Assert the invariants: the list links back, holds exactly the entries of
        the operations not linearized, the stack's operations are the bits set, the
        count of required operations left is right, the cache table is sound."""
        cdef Py_ssize_t i, k, count = 0, required = 0
        cdef int32_t e, head = <int32_t>self.ne
        cdef uint64_t h = 0
        cdef int32_t op
        in_list = set()
        for sentinel in (head, head + 1):
            e = self.links.links[sentinel].next
            last = -1
            while e != sentinel:
                assert self.links.links[self.links.links[e].next].prev == e, f"entry {e}: next.prev != it"
                assert e not in in_list, f"entry {e} twice in the lists"
                assert e > last, f"entry {e} after entry {last}: not in time order"
                if sentinel == head + 1:
                    assert self.flags[self.e_op[e]] & F_OPTIONAL, f"entry {e} in the wrong list"
                last = e
                in_list.add(e)
                e = self.links.links[e].next
        stacked = set()
        for k in range(self.depth):
            op = self.stk_op[k]
            assert op not in stacked, f"operation {op} twice on the stack"
            stacked.add(op)
        for i in range(self.n):
            lin = (self.bits[i >> 6] >> (i & 63)) & 1
            assert bool(lin) == (i in stacked), f"operation {i}: bit {lin}, on the stack: {i in stacked}"
            assert (self.call_e[i] in in_list) == (not lin), f"operation {i}: call entry misplaced"
            if self.ret_e[i] >= 0:
                assert (self.ret_e[i] in in_list) == (not lin), f"operation {i}: return entry misplaced"
                if not lin:
                    required += 1
            if lin:
                h ^= self.zob[i]
            count += lin
        assert count == self.depth, f"{count} bits set, stack depth {self.depth}"
        assert required == self.remaining, f"{required} required left, counted {self.remaining}"
        assert h == self.h, "the bitset hash is stale"
        assert self.best_len >= self.depth, "the longest linearization is shorter than the stack"
        assert self.nrec <= self.rec_cap, "more records than room"
        assert self.memo.size <= self.nrec, "more cache keys than records"
        for k in range(self.nrec):
            assert <int64_t>self.recs[k * self.stride + 1] < k, f"record {k} chains forward"
        i64t_check(&self.memo)
        i64t_check(&self.trans)
