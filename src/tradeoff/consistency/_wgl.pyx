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
  takes the hardest from 790,000 steps to 7,000. The cache is indexed by (required
  bits, state): one bucket each, found through the table, holding the optional
  bitsets seen with it as a compact antichain (a new set drops the stored sets it is
  a subset of: they cut nothing it does not). A lookup is one probe and a scan of
  that bucket's short words, where a chain of every record with the same required
  part used to be walked (5-30x slower steps with many pending writes). This is the
  subset query of Savnik's set-trie ("Index data structure for fast subset and
  superset queries", CD-ARES 2013) done as a flat scan: the sets are a word or two;
- symmetry (a partial-order reduction in the sense of Godefroid, "Partial-order
  methods for the verification of concurrent systems", LNCS 1032, 1996): two
  operations of one *class* (the same opcode, arguments and known result) do the
  same thing in every state. Among the candidates of a class at a configuration only
  the one whose return entry comes first is tried (an optional one counts as
  returning last; among optional ones, the first invoked). Sound: take a completion
  that starts with x where y of x's class, a candidate too, returns first. If y is
  in the completion, swap the two: y is a candidate now, and x takes y's place,
  where its call is passed and, its return coming after y's, it may still go
  (nothing between needed y's completion before it without needing x's, which
  came later); if y is not (both optional), put y in x's place. The states are the
  same, the length too, so by induction on it a completion that follows the rule
  exists whenever one exists; the rule depends only on the configuration, so the
  cache argument above holds for the searched graph as it is. Many concurrent
  writes of one value then cost n + 1 configurations per level, not 2^n. (It only
  ever skips x for a y that is certainly a candidate; see _loop.)

The history is linearizable iff every operation with a known outcome gets linearized.
The search stops with "unknown" when it has taken ``max_steps`` steps or run past its
deadline (the clock is read every 4096 steps), and can be resumed.

States are int64: a register's interned value, a counter's sum. Operations of models
that do not reduce to the opcodes below (OP_CALL) go through a transition table filled,
once per (state, signature) pair, by a Python callable: the search holds the GIL only
for that call.
"""
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_RawFree
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from tradeoff._core.debug cimport DEBUG_ASSERT
from tradeoff._core.dlist cimport DLink, DList, dl_free, dl_insert_after, dl_resize, dl_ring, dl_unlink
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.table cimport (I64Entry, i64t_check, i64t_find, i64t_free, i64t_get, i64t_init,
                                   i64t_nbytes, i64t_put, i64t_put_at, i64t_ref)

OPCODES = {"read": OP_READ, "write": OP_WRITE, "cas": OP_CAS, "add": OP_ADD, "call": OP_CALL}
VERDICTS = ("ok", "violation", "unknown")
KNOWN = F_KNOWN
OPTIONAL = F_OPTIONAL

# the largest key of the transition table: state * nsig + sig stays below it
cdef int64_t TRANS_LIMIT = (<int64_t>1) << 62
# the clock is read once per this many steps (a power of two)
cdef int64_t CLOCK_EVERY = 4096
# a bucket's header words before its required bits
cdef Py_ssize_t BK_HEAD = 4


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


# -- the encoded operations of one part ------------------------------------------------------
cdef class _Block:
    """Raw arrays that several Encoded parts point into (encode_register's output)."""
    cdef void** ptrs
    cdef Py_ssize_t count

    def __cinit__(self):
        self.ptrs = NULL
        self.count = 0

    cdef void* add(self, size_t nbytes) except NULL:
        cdef void* p = NULL
        mem_resize(<void**>&self.ptrs, (self.count + 1) * sizeof(void*))
        mem_resize(&p, nbytes)
        self.ptrs[self.count] = p
        self.count += 1
        return p

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.count):
            PyMem_RawFree(self.ptrs[i])
        PyMem_RawFree(self.ptrs)


cdef class Encoded:
    """One part's operations as parallel arrays over the n operations (``code``,
    ``arg1``, ``arg2``, ``res``, ``flags``, ``sig``) and its entries in time order
    (``entry_op``: the operation of each entry; ``entry_ret``: 1 for a return entry).
    Every operation has exactly one call entry; one without F_OPTIONAL has one
    return entry after it, an optional one has none. ``transition(state, sig) ->
    (ok, new_state)`` serves the OP_CALL operations (states then are ids >= 0,
    signatures in [0, nsig)). Checked when built; read-only after."""

    def __cinit__(self, *args, **kwargs):
        self.owns = False
        self.owner = None

    def __init__(self, const int32_t[:] code, const int64_t[:] arg1, const int64_t[:] arg2,
                 const int64_t[:] res, const uint8_t[:] flags, const int64_t[:] sig,
                 const int32_t[:] entry_op, const uint8_t[:] entry_ret, int64_t init,
                 transition=None, int64_t nsig=0):
        cdef Py_ssize_t n = code.shape[0], ne = entry_op.shape[0], i, e
        cdef int32_t op
        cdef int32_t* seen_call = NULL
        cdef int32_t* seen_ret = NULL
        for name, arr in (("arg1", arg1), ("arg2", arg2), ("res", res), ("flags", flags), ("sig", sig)):
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} items, code has {n}")
        if entry_ret.shape[0] != ne:
            raise ValueError(f"entry_ret has {entry_ret.shape[0]} items, entry_op has {ne}")
        if n >= 2147483647 // 2:
            raise ValueError(f"too many operations in one partition: {n}")
        if nsig < 0:
            raise ValueError(f"nsig must be >= 0, got {nsig}")
        for i in range(n):
            if code[i] < OP_READ or code[i] > OP_CALL:
                raise ValueError(f"operation {i}: unknown opcode {code[i]}")
            if code[i] == OP_CALL:
                if transition is None:
                    raise ValueError(f"operation {i} needs a transition callable (OP_CALL)")
                if sig[i] < 0 or sig[i] >= nsig:
                    raise ValueError(f"operation {i}: signature {sig[i]} is not in [0, {nsig})")
        try:
            mem_resize(<void**>&seen_call, (n + 1) * sizeof(int32_t))
            mem_resize(<void**>&seen_ret, (n + 1) * sizeof(int32_t))
            for i in range(n):
                seen_call[i] = -1
                seen_ret[i] = -1
            for e in range(ne):
                op = entry_op[e]
                if op < 0 or op >= n:
                    raise ValueError(f"entry {e}: operation {op} is not in [0, {n})")
                if entry_ret[e]:
                    if seen_call[op] < 0:
                        raise ValueError(f"entry {e}: operation {op} returns before its call entry")
                    if seen_ret[op] >= 0:
                        raise ValueError(f"entry {e}: operation {op} has two return entries")
                    if flags[op] & F_OPTIONAL:
                        raise ValueError(f"entry {e}: operation {op} is optional and has a return entry")
                    seen_ret[op] = <int32_t>e
                else:
                    if seen_call[op] >= 0:
                        raise ValueError(f"entry {e}: operation {op} has two call entries")
                    seen_call[op] = <int32_t>e
            for i in range(n):
                if seen_call[i] < 0:
                    raise ValueError(f"operation {i} has no call entry")
                if seen_ret[i] < 0 and not (flags[i] & F_OPTIONAL):
                    raise ValueError(f"operation {i} has a known outcome and no return entry")
        finally:
            PyMem_RawFree(seen_call)
            PyMem_RawFree(seen_ret)
        self.owns = True
        self.n = n
        self.ne = ne
        mem_resize(<void**>&self.code, n * sizeof(int32_t))
        mem_resize(<void**>&self.arg1, n * sizeof(int64_t))
        mem_resize(<void**>&self.arg2, n * sizeof(int64_t))
        mem_resize(<void**>&self.res, n * sizeof(int64_t))
        mem_resize(<void**>&self.flags, n * sizeof(uint8_t))
        mem_resize(<void**>&self.sig, n * sizeof(int64_t))
        mem_resize(<void**>&self.e_op, ne * sizeof(int32_t))
        mem_resize(<void**>&self.e_ret, ne * sizeof(uint8_t))
        for i in range(n):
            self.code[i] = code[i]
            self.arg1[i] = arg1[i]
            self.arg2[i] = arg2[i]
            self.res[i] = res[i]
            self.flags[i] = flags[i]
            self.sig[i] = sig[i]
        for e in range(ne):
            self.e_op[e] = entry_op[e]
            self.e_ret[e] = 1 if entry_ret[e] else 0
        self.init = init
        self.transition = transition
        self.nsig = nsig

    def __dealloc__(self):
        if self.owns:
            PyMem_RawFree(self.code)
            PyMem_RawFree(self.arg1)
            PyMem_RawFree(self.arg2)
            PyMem_RawFree(self.res)
            PyMem_RawFree(self.flags)
            PyMem_RawFree(self.sig)
            PyMem_RawFree(self.e_op)
            PyMem_RawFree(self.e_ret)

    @property
    def n_ops(self):
        return self.n

    @property
    def n_entries(self):
        return self.ne

    def arrays(self):
        """(code, arg1, arg2, res, flags, sig, entry_op, entry_ret, init) as lists (tests)."""
        cdef Py_ssize_t i
        return ([self.code[i] for i in range(self.n)], [self.arg1[i] for i in range(self.n)],
                [self.arg2[i] for i in range(self.n)], [self.res[i] for i in range(self.n)],
                [self.flags[i] for i in range(self.n)], [self.sig[i] for i in range(self.n)],
                [self.e_op[i] for i in range(self.ne)], [self.e_ret[i] for i in range(self.ne)], self.init)

    def search(self, bint subsume=True, bint optional_last=True, Py_ssize_t max_configurations=-1,
               Py_ssize_t max_bytes=-1, bint symmetry=True):
        """A new Search over these operations (see Search)."""
        cdef Search s = Search.__new__(Search)
        s._setup(self, subsume, optional_last, max_configurations, max_bytes, symmetry)
        return s


# -- encoding register and kv histories in one pass ------------------------------------------
cdef int64_t _I53 = (<int64_t>1) << 53


cdef inline int64_t _dkey(double d) noexcept nogil:
    """An int64 ordered as the double d is (d not NaN; -0.0 as 0.0)."""
    cdef int64_t b
    d = d + 0.0
    memcpy(&b, &d, 8)
    if b < 0:
        b = b ^ <int64_t>0x7FFFFFFFFFFFFFFF
    return b


cdef inline bint _before(const int64_t* key, int32_t a, int32_t b) noexcept nogil:
    return key[a] < key[b] or (key[a] == key[b] and a < b)


def order_ties(calls, rets):
    """The order of the calls and returns that share one instant: calls first, as
    Knossos and Porcupine take touching intervals to overlap, except within a
    process, whose operations are sequential: a process's operation that returns
    at the instant its next one is invoked returns first.

    ``calls`` and ``rets`` are (part, process, op) in their order; ops are numbered
    in history order, so a process's earlier operation has the smaller number. One
    entry at a time, the first that may go: a call whose process has no earlier
    operation still to return; else a return (after its own call) that such a call
    waits for; else the first return. Returns [(0 for a call or 1 for a return, op), ...].

    >>> order_ties([(0, "a", 2), (0, "c", 3)], [(0, "a", 0), (0, "b", 1)])
    [(0, 3), (1, 0), (0, 2), (1, 1)]
    >>> order_ties([(0, "a", 0), (0, "a", 1)], [(0, "a", 0)])   # op 0 takes no time
    [(0, 0), (1, 0), (0, 1)]
    """
    out = []
    pending_calls = list(calls)
    pending_rets = list(rets)
    called = set()

    def waits(c):
        return any(r[0] == c[0] and r[1] == c[1] and r[2] < c[2] for r in pending_rets)

    def may_return(r):
        return r[2] in called or not any(c[2] == r[2] for c in pending_calls)

    def needed(r):
        return any(c[0] == r[0] and c[1] == r[1] and c[2] > r[2] for c in pending_calls)

    while pending_calls:
        pick = next((c for c in pending_calls if not waits(c)), None)
        if pick is not None:
            out.append((0, pick[2]))
            called.add(pick[2])
            pending_calls.remove(pick)
            continue
        pick = next((r for r in pending_rets if may_return(r) and needed(r)), None) or \
            next((r for r in pending_rets if may_return(r)), None)
        if pick is None:                # cannot happen: some return may always go
            break
        out.append((1, pick[2]))
        pending_rets.remove(pick)
    out.extend((0, c[2]) for c in pending_calls)
    out.extend((1, r[2]) for r in pending_rets)
    return out


DEF TIE_MAX = 64      # a tie group of up to this many calls and returns is ordered in C


cdef Py_ssize_t _order_ties_c(Py_ssize_t nc, const int32_t* cpart, const int32_t* cproc,
                              const int32_t* cop, Py_ssize_t nr, const int32_t* rpart,
                              const int32_t* rproc, const int32_t* rop, uint8_t* out_fl,
                              int32_t* out_op) noexcept nogil:
    """:func:`order_ties` on arrays (part, process id, op of each call and each return),
    the same rule step for step, O((nc + nr)^2) per entry placed: the order into
    out_fl (0 call, 1 return) and out_op; returns how many (nc + nr)."""
    cdef uint8_t cdone[TIE_MAX]
    cdef uint8_t rdone[TIE_MAX]
    cdef Py_ssize_t n = 0, left = nc, q, s, pick, first
    cdef bint busy, may
    memset(cdone, 0, sizeof(cdone))
    memset(rdone, 0, sizeof(rdone))
    while left > 0:
        pick = -1
        for q in range(nc):             # the first call whose process has nothing earlier to return
            if cdone[q]:
                continue
            busy = False
            for s in range(nr):
                if not rdone[s] and rpart[s] == cpart[q] and rproc[s] == cproc[q] and rop[s] < cop[q]:
                    busy = True
                    break
            if not busy:
                pick = q
                break
        if pick >= 0:
            out_fl[n] = 0
            out_op[n] = cop[pick]
            n += 1
            cdone[pick] = 1
            left -= 1
            continue
        pick = -1                       # else a return that may go, one a waiting call needs first
        first = -1
        for s in range(nr):
            if rdone[s]:
                continue
            may = True
            for q in range(nc):
                if not cdone[q] and cop[q] == rop[s]:
                    may = False
                    break
            if not may:
                continue
            if first < 0:
                first = s
            for q in range(nc):
                if not cdone[q] and cpart[q] == rpart[s] and cproc[q] == rproc[s] and cop[q] > rop[s]:
                    pick = s
                    break
            if pick >= 0:
                break
        if pick < 0:
            pick = first
        if pick < 0:                    # cannot happen: some return may always go
            break
        out_fl[n] = 1
        out_op[n] = rop[pick]
        n += 1
        rdone[pick] = 1
    for q in range(nc):
        if not cdone[q]:
            out_fl[n] = 0
            out_op[n] = cop[q]
            n += 1
    for s in range(nr):
        if not rdone[s]:
            out_fl[n] = 1
            out_op[n] = rop[s]
            n += 1
    return n


def order_ties_native(calls, rets):
    """:func:`order_ties` through the C version the encoder uses (processes are
    numbered first); the same answer, for the tests. At most TIE_MAX entries."""
    cdef int32_t cpart[TIE_MAX]
    cdef int32_t cproc[TIE_MAX]
    cdef int32_t cop[TIE_MAX]
    cdef int32_t rpart[TIE_MAX]
    cdef int32_t rproc[TIE_MAX]
    cdef int32_t rop[TIE_MAX]
    cdef uint8_t out_fl[2 * TIE_MAX]
    cdef int32_t out_op[2 * TIE_MAX]
    cdef Py_ssize_t nc = len(calls), nr = len(rets), q, n
    cdef dict procs = {}
    if nc > TIE_MAX or nr > TIE_MAX or nc + nr > TIE_MAX:
        raise ValueError(f"at most {TIE_MAX} calls and returns together")
    for q, (part, proc, op) in enumerate(calls):
        cpart[q] = part
        cproc[q] = procs.setdefault(proc, len(procs))
        cop[q] = op
    for q, (part, proc, op) in enumerate(rets):
        rpart[q] = part
        rproc[q] = procs.setdefault(proc, len(procs))
        rop[q] = op
    n = _order_ties_c(nc, cpart, cproc, cop, nr, rpart, rproc, rop, out_fl, out_op)
    return [(out_fl[q], out_op[q]) for q in range(n)]


cdef int _sort_by(int32_t* idx, Py_ssize_t m, const int64_t* key) except -1 nogil:
    """Sort idx[0:m] by (key[i], i): insertion sort while the input is nearly sorted
    (the completions of a history mostly are: O(m + inversions)); a merge sort once
    the inversions pass 16 m."""
    cdef Py_ssize_t i, j, moved = 0, width, lo, mid, hi, a, b, k
    cdef int32_t x
    cdef int32_t* tmp = NULL
    cdef int32_t* src
    cdef int32_t* dst
    cdef int32_t* sw
    for i in range(1, m):
        x = idx[i]
        j = i
        while j > 0 and _before(key, x, idx[j - 1]):
            idx[j] = idx[j - 1]
            j -= 1
        idx[j] = x
        moved += i - j
        if moved > 16 * m:
            break
    else:
        return 0
    mem_resize(<void**>&tmp, m * sizeof(int32_t))
    src = idx
    dst = tmp
    width = 1
    while width < m:
        lo = 0
        while lo < m:
            mid = lo + width if lo + width < m else m
            hi = lo + 2 * width if lo + 2 * width < m else m
            a = lo
            b = mid
            k = lo
            while a < mid and b < hi:
                if _before(key, src[b], src[a]):
                    dst[k] = src[b]
                    b += 1
                else:
                    dst[k] = src[a]
                    a += 1
                k += 1
            while a < mid:
                dst[k] = src[a]
                a += 1
                k += 1
            while b < hi:
                dst[k] = src[b]
                b += 1
                k += 1
            lo = hi
        sw = src
        src = dst
        dst = sw
        width *= 2
    if src != idx:
        memcpy(idx, src, m * sizeof(int32_t))
    PyMem_RawFree(tmp)
    return 0


cdef class _Times:
    """The times of a history as int64 sort keys: ints as they are, or, when a
    float is among them, every time as an ordered double (ints then only up to
    2^53, where doubles are exact); ``ok`` is false when neither fits (other
    types, NaN, larger ints): the caller then sorts in Python."""
    cdef int64_t* ti
    cdef double* tf
    cdef uint8_t* isf
    cdef bint anyfloat
    cdef bint ok

    def __cinit__(self, Py_ssize_t n):
        self.ti = NULL
        self.tf = NULL
        self.isf = NULL
        mem_resize(<void**>&self.ti, (n + 1) * sizeof(int64_t))
        mem_resize(<void**>&self.tf, (n + 1) * sizeof(double))
        mem_zeroed(<void**>&self.isf, (n + 1) * sizeof(uint8_t))
        self.anyfloat = False
        self.ok = True

    def __dealloc__(self):
        PyMem_RawFree(self.ti)
        PyMem_RawFree(self.tf)
        PyMem_RawFree(self.isf)

    cdef inline bint put(self, Py_ssize_t i, object t) except -1:
        cdef double d
        if type(t) is int:
            try:
                self.ti[i] = <int64_t>t
            except OverflowError:
                self.ok = False
                return False
            return True
        if type(t) is float:
            d = <double>t
            if d != d:
                self.ok = False
                return False
            self.tf[i] = d
            self.isf[i] = 1
            self.anyfloat = True
            return True
        self.ok = False
        return False

    cdef bint finish(self, Py_ssize_t n, bint as_float) noexcept:
        """Turn the times into keys in ti (as doubles when ``as_float``: a float
        is among these times or the others they are compared with); False if
        they cannot be."""
        cdef Py_ssize_t i
        if not self.ok:
            return False
        if not as_float:
            return True
        for i in range(n):
            if self.isf[i]:
                self.ti[i] = _dkey(self.tf[i])
            elif -_I53 <= self.ti[i] <= _I53:
                self.ti[i] = _dkey(<double>self.ti[i])
            else:
                return False
        return True


def encode_register(list ops, bint kv, init, tuple read_names, tuple write_names, check_op, unhashable,
                    append_value=None, bint drop_unseen=True):
    """Encode a register (``kv=False``) or kv history for the search in one pass:
    drop failed operations and reads of unknown outcome (inert), check every
    operation's name (``check_op(op)`` raises for a bad one, as does a cas whose
    argument is not a pair; ``unhashable(op)`` gives the error for an unhashable
    value), split by ``op.key`` (P-compositionality: Horn and Kroening, "Faster
    linearizability checking via P-compositionality", FORTE 2015), intern values
    (one id space for every key: equal ids iff equal values), and build each part's
    arrays and its entries in time order (a call before a return at equal times;
    ties by position) into one shared block. kv's append goes through a transition
    (``append_value(state, x)``, None when x cannot be appended). With
    ``drop_unseen``, writes of unknown outcome that nothing can observe are left
    out (see _drop_unseen_writes).

    A list of (key, the part's operations, Encoded), in order of each key's first
    operation; or None when the times are not ints and floats that sort exactly
    as int64 (the caller then encodes in Python). O(n) for a history in invocation
    order whose completions are nearly sorted; O(n log n) at worst.
    """
    cdef Py_ssize_t N = PyList_GET_SIZE(ops), i, m = 0, nk = 0, j, p, q, nparts, ia, ib, pos
    cdef object op, f, status, v, k, key, t
    cdef int32_t c
    cdef uint8_t fl
    cdef dict ids = {init: 0}
    cdef list values = [init]
    cdef dict sigs = {}
    cdef list sig_ops = []
    cdef dict part_of = {}
    cdef list keys = [], lists = []
    cdef list plist
    cdef _Times tc = _Times(N), tr = _Times(N)
    cdef _Block blk = _Block()
    # per live operation, in history order
    cdef int32_t* pidx = <int32_t*>blk.add((N + 1) * sizeof(int32_t))
    cdef int32_t* loc = <int32_t*>blk.add((N + 1) * sizeof(int32_t))
    cdef int32_t* xcode = <int32_t*>blk.add((N + 1) * sizeof(int32_t))
    cdef int64_t* xa1 = <int64_t*>blk.add((N + 1) * sizeof(int64_t))
    cdef int64_t* xa2 = <int64_t*>blk.add((N + 1) * sizeof(int64_t))
    cdef int64_t* xres = <int64_t*>blk.add((N + 1) * sizeof(int64_t))
    cdef uint8_t* xfl = <uint8_t*>blk.add((N + 1) * sizeof(uint8_t))
    cdef int32_t* calls = <int32_t*>blk.add((N + 1) * sizeof(int32_t))
    cdef int32_t* rets = <int32_t*>blk.add((N + 1) * sizeof(int32_t))
    cdef bint calls_sorted = True
    cdef int64_t a1, a2, r, last_call = 0
    cdef int32_t* opoff
    cdef int32_t* entoff
    cdef int32_t* fill
    cdef int32_t* efill
    cdef int32_t* gcode
    cdef int64_t* ga1
    cdef int64_t* ga2
    cdef int64_t* gres
    cdef uint8_t* gfl
    cdef int64_t* gsig
    cdef int32_t* geop
    cdef uint8_t* geret
    cdef Encoded enc
    cdef Py_ssize_t ia2, ib2, nt
    cdef list tied
    cdef dict procs = {}                            # process -> id, for ties only
    cdef int32_t tpart[TIE_MAX]
    cdef int32_t tproc[TIE_MAX]
    cdef int32_t top[TIE_MAX]
    cdef int32_t upart[TIE_MAX]
    cdef int32_t uproc[TIE_MAX]
    cdef int32_t uop[TIE_MAX]
    cdef uint8_t tfl[TIE_MAX]
    cdef int32_t tops[TIE_MAX]
    for i in range(N):
        op = <object>PyList_GET_ITEM(ops, i)
        f = op.f
        status = op.status
        a1 = 0
        a2 = 0
        r = 0
        if f in read_names:
            c = OP_READ
        elif f in write_names:
            c = OP_WRITE
        elif f == "cas":
            c = OP_CAS
            v = op.value
            if type(v) is not tuple or len(<tuple>v) != 2:
                check_op(op)
                raise ValueError(f"{op.where()}: cas needs [expected new], got {v!r}")
        elif kv and f == "append":
            c = OP_CALL
        else:
            check_op(op)
            raise ValueError(f"{op.where()}: unknown operation {f!r}")
        if status == "ok":
            # known results matter to reads and cas only (as the Python encoder has it)
            fl = F_KNOWN if c == OP_READ or c == OP_CAS else 0
        elif status == "fail":
            continue
        else:
            if c == OP_READ:
                continue                            # inert: changes and constrains nothing
            fl = F_OPTIONAL
        try:
            if c == OP_READ:
                v = op.result
                k = ids.get(v)
                if k is None:
                    k = ids[v] = len(values)
                    values.append(v)
                r = <int64_t>k
            elif c == OP_WRITE:
                v = op.value
                k = ids.get(v)
                if k is None:
                    k = ids[v] = len(values)
                    values.append(v)
                a1 = <int64_t>k
            elif c == OP_CAS:
                for q in range(2):
                    v = (<tuple>op.value)[q]
                    k = ids.get(v)
                    if k is None:
                        k = ids[v] = len(values)
                        values.append(v)
                    if q == 0:
                        a1 = <int64_t>k
                    else:
                        a2 = <int64_t>k
                if fl & F_KNOWN:
                    r = 0 if op.result is False else 1
            else:
                v = op.value
                k = sigs.get(v)
                if k is None:
                    k = sigs[v] = len(sig_ops)
                    sig_ops.append(v)
                a1 = <int64_t>k                     # the signature (moved to sig below)
        except TypeError:
            raise unhashable(op) from None
        key = op.key
        k = part_of.get(key)
        if k is None:
            k = part_of[key] = len(keys)
            keys.append(key)
            lists.append([])
        p = <Py_ssize_t>k
        (<list>lists[p]).append(op)
        if not tc.put(m, op.call):
            return None
        if not (fl & F_OPTIONAL):
            if not tr.put(m, op.ret):
                return None
            rets[nk] = <int32_t>m
            nk += 1
        else:
            tr.ti[m] = 0                            # no return entry: a harmless key
        pidx[m] = <int32_t>p
        xcode[m] = c
        xa1[m] = a1
        xa2[m] = a2
        xres[m] = r
        xfl[m] = fl
        calls[m] = <int32_t>m
        m += 1
    if m > 0 and drop_unseen:
        m = _drop_unseen_writes(m, pidx, xcode, xa1, xa2, xres, xfl, tc, tr, rets, nk, lists, len(values))
    if not tc.finish(m, tc.anyfloat or tr.anyfloat) or not tr.finish(m, tc.anyfloat or tr.anyfloat):
        return None
    for i in range(1, m):
        if tc.ti[i] < tc.ti[i - 1]:
            calls_sorted = False
            break
    if not calls_sorted:
        _sort_by(calls, m, tc.ti)
    _sort_by(rets, nk, tr.ti)
    # group by part: offsets of each part's operations and entries
    nparts = len(keys)
    opoff = <int32_t*>blk.add((nparts + 1) * sizeof(int32_t))
    entoff = <int32_t*>blk.add((nparts + 1) * sizeof(int32_t))
    fill = <int32_t*>blk.add((nparts + 1) * sizeof(int32_t))
    efill = <int32_t*>blk.add((nparts + 1) * sizeof(int32_t))
    memset(fill, 0, (nparts + 1) * sizeof(int32_t))
    memset(efill, 0, (nparts + 1) * sizeof(int32_t))
    for j in range(m):
        fill[pidx[j]] += 1
        efill[pidx[j]] += 1 if xfl[j] & F_OPTIONAL else 2
    opoff[0] = 0
    entoff[0] = 0
    for p in range(nparts):
        opoff[p + 1] = opoff[p] + fill[p]
        entoff[p + 1] = entoff[p] + efill[p]
        fill[p] = 0
        efill[p] = 0
    gcode = <int32_t*>blk.add((m + 1) * sizeof(int32_t))
    ga1 = <int64_t*>blk.add((m + 1) * sizeof(int64_t))
    ga2 = <int64_t*>blk.add((m + 1) * sizeof(int64_t))
    gres = <int64_t*>blk.add((m + 1) * sizeof(int64_t))
    gfl = <uint8_t*>blk.add((m + 1) * sizeof(uint8_t))
    gsig = <int64_t*>blk.add((m + 1) * sizeof(int64_t))
    geop = <int32_t*>blk.add((m + nk + 1) * sizeof(int32_t))
    geret = <uint8_t*>blk.add((m + nk + 1) * sizeof(uint8_t))
    for j in range(m):
        p = pidx[j]
        loc[j] = fill[p]
        fill[p] += 1
        pos = opoff[p] + loc[j]
        gcode[pos] = xcode[j]
        gres[pos] = xres[j]
        gfl[pos] = xfl[j]
        if xcode[j] == OP_CALL:
            ga1[pos] = 0
            ga2[pos] = 0
            gsig[pos] = xa1[j]
        else:
            ga1[pos] = xa1[j]
            ga2[pos] = xa2[j]
            gsig[pos] = 0
    # merge the call entries and the return entries (a call first at equal times,
    # unless the same process's previous operation returns then: see order_ties)
    ia = 0
    ib = 0
    while ia < m or ib < nk:
        if ia < m and ib < nk and tc.ti[calls[ia]] == tr.ti[rets[ib]]:
            ia2 = ia + 1
            while ia2 < m and tc.ti[calls[ia2]] == tc.ti[calls[ia]]:
                ia2 += 1
            ib2 = ib + 1
            while ib2 < nk and tr.ti[rets[ib2]] == tr.ti[rets[ib]]:
                ib2 += 1
            if ia2 - ia + ib2 - ib <= TIE_MAX:
                for q in range(ia, ia2):
                    j = calls[q]
                    tpart[q - ia] = pidx[j]
                    tproc[q - ia] = procs.setdefault((<list>lists[pidx[j]])[loc[j]].process, len(procs))
                    top[q - ia] = <int32_t>j
                for q in range(ib, ib2):
                    j = rets[q]
                    upart[q - ib] = pidx[j]
                    uproc[q - ib] = procs.setdefault((<list>lists[pidx[j]])[loc[j]].process, len(procs))
                    uop[q - ib] = <int32_t>j
                nt = _order_ties_c(ia2 - ia, tpart, tproc, top, ib2 - ib, upart, uproc, uop, tfl, tops)
                for q in range(nt):
                    j = tops[q]
                    p = pidx[j]
                    pos = entoff[p] + efill[p]
                    efill[p] += 1
                    geop[pos] = loc[j]
                    geret[pos] = tfl[q]
            else:
                tied = order_ties([(pidx[calls[q]], (<list>lists[pidx[calls[q]]])[loc[calls[q]]].process, calls[q])
                                   for q in range(ia, ia2)],
                                  [(pidx[rets[q]], (<list>lists[pidx[rets[q]]])[loc[rets[q]]].process, rets[q])
                                   for q in range(ib, ib2)])
                for fl, j in tied:
                    p = pidx[j]
                    pos = entoff[p] + efill[p]
                    efill[p] += 1
                    geop[pos] = loc[j]
                    geret[pos] = fl
            ia = ia2
            ib = ib2
            continue
        if ib >= nk or (ia < m and tc.ti[calls[ia]] < tr.ti[rets[ib]]):
            j = calls[ia]
            ia += 1
            fl = 0
        else:
            j = rets[ib]
            ib += 1
            fl = 1
        p = pidx[j]
        pos = entoff[p] + efill[p]
        efill[p] += 1
        geop[pos] = loc[j]
        geret[pos] = fl
    transition = None
    if sig_ops:
        seen = {}                                   # (state, sig) -> (ok, state'): shared by every search

        def transition(state, sig):
            got = seen.get((state, sig))
            if got is not None:
                return got
            new = append_value(values[state], sig_ops[sig])
            if new is None:
                got = (False, state)
            else:
                k = ids.get(new)
                if k is None:
                    k = ids[new] = len(values)
                    values.append(new)
                got = (True, k)
            seen[(state, sig)] = got
            return got
    out = []
    for p in range(nparts):
        enc = Encoded.__new__(Encoded)
        enc.owner = blk
        enc.n = opoff[p + 1] - opoff[p]
        enc.ne = entoff[p + 1] - entoff[p]
        enc.code = gcode + opoff[p]
        enc.arg1 = ga1 + opoff[p]
        enc.arg2 = ga2 + opoff[p]
        enc.res = gres + opoff[p]
        enc.flags = gfl + opoff[p]
        enc.sig = gsig + opoff[p]
        enc.e_op = geop + entoff[p]
        enc.e_ret = geret + entoff[p]
        enc.init = 0
        enc.transition = transition
        enc.nsig = len(sig_ops)
        out.append((keys[p], lists[p], enc))
    return out


cdef Py_ssize_t _drop_unseen_writes(Py_ssize_t m, int32_t* pidx, int32_t* xcode, int64_t* xa1, int64_t* xa2,
                                    int64_t* xres,
                                    uint8_t* xfl, _Times tc, _Times tr, int32_t* rets, Py_ssize_t nk,
                                    list lists, Py_ssize_t nvalues) except -1:
    """Leave out the writes of unknown outcome whose value nothing can observe, in
    the parts made of reads and writes only; the operations left (compacted in
    place, lists too).

    Sound: in such a part, take a linearization in which an optional write w of
    value v comes. The operations after w up to the next write see the state v;
    they are reads of known result (an unknown read was dropped as inert), and none
    returns v, so there are none: w is followed by a write, which accepts any state,
    or by nothing. Taking w out leaves every other operation's state as it was, and
    w, being optional, has no return entry that could constrain the others. So the
    part is linearizable iff it is without w (one pass: removing a write changes no
    read). Jepsen's timed-out writes are mostly of this kind, and long-pending
    writes that no read saw would otherwise multiply the configurations by 2^n."""
    cdef Py_ssize_t nparts = len(lists), j, w, p, nd = 0
    cdef uint8_t* mixed = NULL
    cdef int32_t* newidx = NULL
    cdef int32_t* seen_in = NULL
    cdef I64Table seen
    cdef int64_t key
    cdef list keep
    i64t_init(&seen, 16)
    try:
        mem_zeroed(<void**>&mixed, (nparts + 1) * sizeof(uint8_t))
        mem_resize(<void**>&newidx, (m + 1) * sizeof(int32_t))
        for j in range(m):
            if xcode[j] != OP_READ and xcode[j] != OP_WRITE:
                mixed[pidx[j]] = 1
            elif xcode[j] == OP_READ and xfl[j] & F_KNOWN:
                i64t_put(&seen, <int64_t>pidx[j] * nvalues + xres[j], 1)
        for j in range(m):
            newidx[j] = -1
            if xcode[j] == OP_WRITE and xfl[j] == F_OPTIONAL and not mixed[pidx[j]] \
                    and i64t_get(&seen, <int64_t>pidx[j] * nvalues + xa1[j]) < 0:
                nd += 1
        if nd == 0:
            return m
        # the operations of each part, dropped ones marked, to rebuild its list
        mem_zeroed(<void**>&seen_in, (nparts + 1) * sizeof(int32_t))
        drops = [None] * nparts
        w = 0
        for j in range(m):
            p = pidx[j]
            if xcode[j] == OP_WRITE and xfl[j] == F_OPTIONAL and not mixed[p] \
                    and i64t_get(&seen, <int64_t>p * nvalues + xa1[j]) < 0:
                if drops[p] is None:
                    drops[p] = set()
                drops[p].add(seen_in[p])
                seen_in[p] += 1
                continue
            seen_in[p] += 1
            newidx[j] = <int32_t>w
            pidx[w] = pidx[j]
            xcode[w] = xcode[j]
            xa1[w] = xa1[j]
            xa2[w] = xa2[j]
            xres[w] = xres[j]
            xfl[w] = xfl[j]
            tc.ti[w] = tc.ti[j]
            tc.tf[w] = tc.tf[j]
            tc.isf[w] = tc.isf[j]
            tr.ti[w] = tr.ti[j]
            tr.tf[w] = tr.tf[j]
            tr.isf[w] = tr.isf[j]
            w += 1
        for j in range(nk):
            rets[j] = newidx[rets[j]]
        for p in range(nparts):
            if drops[p] is not None:
                d = drops[p]
                lists[p] = [x for i, x in enumerate(lists[p]) if i not in d]
        return w
    finally:
        i64t_free(&seen)
        PyMem_RawFree(mixed)
        PyMem_RawFree(newidx)
        PyMem_RawFree(seen_in)


# -- the search --------------------------------------------------------------------------------
cdef inline uint64_t _class_hash(int32_t c, int64_t a, int64_t b, int64_t r, bint opt) noexcept nogil:
    cdef uint64_t x = mix64(<uint64_t>c * <uint64_t>0x9E3779B97F4A7C15 ^ <uint64_t>a)
    x = mix64(x ^ <uint64_t>b)
    x = mix64(x ^ <uint64_t>r)
    return x ^ (<uint64_t>0xD6E8FEB86659FD93 if opt else 0)


cdef inline void _class_of(Search s, int32_t x, int64_t* a, int64_t* b, int64_t* r) noexcept:
    """What decides op x's transitions besides its opcode, as (a, b, r): a write or
    an add ignores its result (its argument decides); a read, whether its result is
    known (a) and which (r); a cas, its arguments and, when known, whether it
    swapped; an OP_CALL operation, its signature (its flags reach no transition)."""
    cdef int32_t c = s.code[x]
    cdef bint known = (s.flags[x] & F_KNOWN) != 0
    a[0] = 0
    b[0] = 0
    r[0] = 0
    if c == OP_READ:
        a[0] = 1 if known else 0
        r[0] = s.res[x] if known else 0
    elif c == OP_WRITE or c == OP_ADD:
        a[0] = s.arg1[x]
    elif c == OP_CAS:
        a[0] = s.arg1[x]
        b[0] = s.arg2[x]
        r[0] = (2 if s.res[x] != 0 else 1) if known else 0
    else:
        a[0] = s.sig[x]


cdef class Search:
    """A linearizability search over one partition; see the module docstring.

    Built from parallel arrays over the n operations and the entries in time order,
    as :class:`Encoded` takes them (or from an Encoded part: ``enc.search(...)``).
    ``subsume=False`` turns subsumption off (the plain cache of Lowe);
    ``optional_last=False`` tries the candidates in time order only;
    ``symmetry=False`` turns the symmetry reduction off; ``max_configurations``
    caps the cache (memory), as does ``max_bytes`` (bytes, about): reaching either
    ends a run with "unknown" (``full`` is then true).

    Time O(steps), where a step moves along, lifts or unlifts one entry; memory
    O(n) plus about ``record_bytes`` per cached configuration.

    >>> import numpy as np
    >>> z = np.zeros(2, np.int64)
    >>> s = Search(np.array([OPCODES["write"], OPCODES["read"]], np.int32),
    ...            np.array([5, 0]), z, np.array([0, 5]), np.array([KNOWN, KNOWN], np.uint8), z,
    ...            np.array([0, 1, 0, 1], np.int32), np.array([0, 0, 1, 1], np.uint8), 0)
    >>> s.run(), s.linearization()
    ('ok', [0, 1])
    """

    def __cinit__(self, *args, **kwargs):
        self.verdict = -1
        self.max_rec = -1

    def __init__(self, code, arg1, arg2, res, flags, sig, entry_op, entry_ret, int64_t init,
                 transition=None, int64_t nsig=0, bint subsume=True, bint optional_last=True,
                 Py_ssize_t max_configurations=-1, Py_ssize_t max_bytes=-1, bint symmetry=True):
        enc = Encoded(code, arg1, arg2, res, flags, sig, entry_op, entry_ret, init, transition, nsig)
        self._setup(enc, subsume, optional_last, max_configurations, max_bytes, symmetry)

    cdef int _setup(self, Encoded enc, bint subsume, bint optional_last, Py_ssize_t max_configurations,
                    Py_ssize_t max_bytes, bint symmetry) except -1:
        cdef Py_ssize_t n = enc.n, ne = enc.ne, i, e, nopt = 0
        cdef int32_t op
        cdef uint64_t z
        cdef Py_ssize_t cap
        if self.enc is not None:
            raise RuntimeError("a Search is set up once")
        self.enc = enc
        self.n = n
        self.ne = ne
        self.code = enc.code
        self.arg1 = enc.arg1
        self.arg2 = enc.arg2
        self.res = enc.res
        self.flags = enc.flags
        self.sig = enc.sig
        self.e_op = enc.e_op
        self.e_ret = enc.e_ret
        self.nsig = enc.nsig
        self.transition = enc.transition
        self.symmetry = symmetry
        self.nwords = (n + 63) // 64 if n > 0 else 1
        self.bstride = self.nwords + BK_HEAD
        mem_resize(<void**>&self.call_e, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.ret_e, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.zob, (n + 1) * sizeof(uint64_t))
        mem_resize(<void**>&self.dom_prev, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.oidx, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.stk_op, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.stk_state, (n + 1) * sizeof(int64_t))
        mem_resize(<void**>&self.stk_lim, (n + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.best, (n + 1) * sizeof(int32_t))
        mem_zeroed(<void**>&self.bits, self.nwords * sizeof(uint64_t))
        mem_zeroed(<void**>&self.reqmask, self.nwords * sizeof(uint64_t))
        dl_resize(&self.links, ne + 2)
        i64t_init(&self.memo, n + 16 if n < 4096 else 4096)
        i64t_init(&self.trans, 8)
        self.remaining = 0
        for i in range(n):
            self.call_e[i] = -1
            self.ret_e[i] = -1
            self.dom_prev[i] = -1
            self.oidx[i] = -1
            z = mix64(<uint64_t>i + <uint64_t>0x9E3779B97F4A7C15)
            if self.flags[i] & F_OPTIONAL:
                if subsume:
                    self.zob[i] = 0
                    self.oidx[i] = <int32_t>nopt
                    nopt += 1
                    continue
            else:
                self.remaining += 1
            self.zob[i] = z if z != 0 else 1
            self.reqmask[i >> 6] |= (<uint64_t>1) << (i & 63)
        self.kw = (nopt + 63) // 64
        mem_zeroed(<void**>&self.obits, (self.kw + 1) * sizeof(uint64_t))
        dl_ring(&self.links, <int32_t>ne)
        dl_ring(&self.links, <int32_t>(ne + 1))
        for e in range(ne):
            op = self.e_op[e]
            if self.e_ret[e]:
                self.ret_e[op] = <int32_t>e
            else:
                self.call_e[op] = <int32_t>e
            if self.flags[op] & F_OPTIONAL and optional_last:
                dl_insert_after(&self.links, self.links.links[ne + 1].prev, <int32_t>e)
            else:
                dl_insert_after(&self.links, self.links.links[ne].prev, <int32_t>e)
        if symmetry:
            self._classes()
        if max_configurations >= 0:
            self.max_rec = max_configurations
        if max_bytes >= 0:
            cap = max_bytes // self.record_bytes
            if cap < 1:
                cap = 1
            if self.max_rec < 0 or cap < self.max_rec:
                self.max_rec = cap
        self.cur_e = self.links.links[ne].next
        self.cur_lim = -1
        self.cur_state = enc.init
        self.h = 0
        return 0

    cdef int _classes(self) except -1:
        """dom_prev: chain each operation to the previous one of its class (see the
        pxd), walking the entries in time order: a required operation joins at its
        return entry, an optional one at its call entry. A hash collision between
        two classes leaves the newcomer unchained (a finer partition: still sound)."""
        cdef I64Table t
        cdef Py_ssize_t e
        cdef int32_t x, y, c
        cdef int64_t a, b, r, key
        cdef int64_t ya, yb, yr
        cdef uint64_t pos = 0
        cdef bint opt
        i64t_init(&t, self.n + 1)
        try:
            for e in range(self.ne):
                x = self.e_op[e]
                opt = (self.flags[x] & F_OPTIONAL) != 0
                if opt == (self.e_ret[e] != 0):
                    continue                        # join at the return entry (required) or call (optional)
                c = self.code[x]
                _class_of(self, x, &a, &b, &r)
                key = <int64_t>_class_hash(c, a, b, r, opt)
                y = <int32_t>i64t_find(&t, key, &pos)
                if y < 0:
                    i64t_put(&t, key, x)
                    continue
                _class_of(self, y, &ya, &yb, &yr)
                if self.code[y] == c and ya == a and yb == b and yr == r \
                        and ((self.flags[y] & F_OPTIONAL) != 0) == opt:
                    self.dom_prev[x] = y
                    i64t_put(&t, key, x)
        finally:
            i64t_free(&t)
        return 0

    def __dealloc__(self):
        PyMem_RawFree(self.call_e)
        PyMem_RawFree(self.ret_e)
        PyMem_RawFree(self.zob)
        PyMem_RawFree(self.dom_prev)
        PyMem_RawFree(self.oidx)
        PyMem_RawFree(self.obits)
        PyMem_RawFree(self.stk_op)
        PyMem_RawFree(self.stk_state)
        PyMem_RawFree(self.stk_lim)
        PyMem_RawFree(self.best)
        PyMem_RawFree(self.bits)
        PyMem_RawFree(self.reqmask)
        PyMem_RawFree(self.bk)
        PyMem_RawFree(self.arena)
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
        cdef int64_t b = ref.value if ref != NULL else -1
        cdef int64_t head = b
        cdef Py_ssize_t nw = self.nwords, bs = self.bstride, kw = self.kw, k, j, cnt, cap, off, noff
        cdef const uint64_t* bits = self.bits
        cdef const uint64_t* req = self.reqmask
        cdef const uint64_t* ob = self.obits
        cdef uint64_t* p = NULL
        cdef uint64_t* rec
        cdef uint64_t* last
        cdef bint sub, sup
        while b >= 0:
            p = &self.bk[b * bs]
            if <int64_t>p[0] == state:
                k = 0
                while k < nw and (bits[k] & req[k]) == p[BK_HEAD + k]:
                    k += 1
                if k == nw:
                    break
            b = <int64_t>p[1]
        if b >= 0:
            if kw == 0:
                return 0
            # the bucket's optional sets: covered if one is a subset of ours; drop
            # those ours is a subset of (they cut nothing ours does not)
            off = <Py_ssize_t>p[2]
            cnt = <Py_ssize_t>(p[3] & <uint64_t>0xFFFFFFFF)
            cap = <Py_ssize_t>(p[3] >> 32)
            j = 0
            while j < cnt:
                rec = &self.arena[off + j * kw]
                sub = True
                sup = True
                for k in range(kw):
                    if rec[k] & ~ob[k]:
                        sub = False
                    if ob[k] & ~rec[k]:
                        sup = False
                if sub:
                    p[3] = <uint64_t>cnt | (<uint64_t>cap << 32)
                    return 0
                if sup:
                    cnt -= 1
                    last = &self.arena[off + cnt * kw]
                    for k in range(kw):
                        rec[k] = last[k]
                    continue
                j += 1
            if self.nconf == self.max_rec:
                p[3] = <uint64_t>cnt | (<uint64_t>cap << 32)
                return 2
            if cnt == cap:
                noff = self._arena_take(2 * cap * kw)
                memcpy(&self.arena[noff], &self.arena[off], cnt * kw * sizeof(uint64_t))
                off = noff
                cap *= 2
            rec = &self.arena[off + cnt * kw]
            for k in range(kw):
                rec[k] = ob[k]
            cnt += 1
            p[2] = <uint64_t>off
            p[3] = <uint64_t>cnt | (<uint64_t>cap << 32)
            self.nconf += 1
            return 1
        if self.nconf == self.max_rec:
            return 2
        if self.nbk == self.bk_cap:
            cap = self.bk_cap * 2 if self.bk_cap > 0 else (self.n + 16 if self.n < 1024 else 1024)
            if self.max_rec >= 0 and cap > self.max_rec:
                cap = self.max_rec if self.max_rec > self.nbk else self.nbk + 1
            mem_resize(<void**>&self.bk, cap * bs * sizeof(uint64_t))
            self.bk_cap = cap
        b = self.nbk
        p = &self.bk[b * bs]
        p[0] = <uint64_t>state
        p[1] = <uint64_t>head
        for k in range(nw):
            p[BK_HEAD + k] = bits[k] & req[k]
        if kw > 0:
            off = self._arena_take(kw)
            rec = &self.arena[off]
            for k in range(kw):
                rec[k] = ob[k]
            p[2] = <uint64_t>off
            p[3] = <uint64_t>1 | (<uint64_t>1 << 32)
        else:
            p[2] = 0
            p[3] = 0
        self.nbk += 1
        self.nconf += 1
        if ref != NULL:
            ref.value = b                       # the new bucket heads the chain
        elif self.memo.size < self.memo.limit:
            i64t_put_at(&self.memo, pos, key, b)
        else:
            i64t_put(&self.memo, key, b)
        return 1

    cdef Py_ssize_t _arena_take(self, Py_ssize_t words) except -1 nogil:
        """The offset of `words` fresh words at the arena's end."""
        cdef Py_ssize_t cap, off
        if self.arena_len + words > self.arena_cap:
            cap = self.arena_cap * 2 if self.arena_cap > 0 else 256
            while cap < self.arena_len + words:
                cap *= 2
            mem_resize(<void**>&self.arena, cap * sizeof(uint64_t))
            self.arena_cap = cap
        off = self.arena_len
        self.arena_len += words
        return off

    # -- the search -------------------------------------------------------------------
    cdef int _loop(self, int64_t max_steps, double deadline) except -1 nogil:
        """Search on from where the last run stopped; the verdict (V_*)."""
        cdef int32_t head = <int32_t>self.ne, head_b = <int32_t>(self.ne + 1)
        cdef int32_t e = self.cur_e, lim = self.cur_lim, op, c, r, y, fr = -1, s, o
        cdef int64_t state = self.cur_state, new_state
        cdef int64_t steps = 0, skipped = 0
        cdef int verdict, ok, m
        cdef uint8_t fl
        cdef bint skip
        # the arrays, in locals (the compiler cannot keep fields in registers
        # across stores through int64 pointers, which may alias them)
        cdef uint64_t* bits = self.bits
        cdef uint64_t* obits = self.obits
        cdef DLink* L = self.links.links
        cdef const int32_t* e_op = self.e_op
        cdef const uint8_t* e_ret = self.e_ret
        cdef const int32_t* code = self.code
        cdef const int64_t* arg1 = self.arg1
        cdef const int64_t* arg2 = self.arg2
        cdef const int64_t* res = self.res
        cdef const uint8_t* flags = self.flags
        cdef const int32_t* ret_e = self.ret_e
        cdef const int32_t* call_e = self.call_e
        cdef const int32_t* dom_prev = self.dom_prev
        cdef const int32_t* oidx = self.oidx
        cdef const uint64_t* zob = self.zob
        cdef int32_t* stk_op = self.stk_op
        cdef int64_t* stk_state = self.stk_state
        cdef int32_t* stk_lim = self.stk_lim
        cdef Py_ssize_t depth = self.depth, remaining = self.remaining, agree = self.agree
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
                if agree > depth:
                    agree = depth
                op = stk_op[depth]
                state = stk_state[depth]
                bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                h ^= zob[op]
                o = oidx[op]
                if o >= 0:
                    obits[o >> 6] &= ~((<uint64_t>1) << (o & 63))
                # unlift, in the reverse order of the lift
                r = ret_e[op]
                if r >= 0:
                    _relink(&self.links, r)
                    remaining += 1
                    lim = -1
                else:
                    lim = stk_lim[depth]
                _relink(&self.links, call_e[op])
                e = L[call_e[op]].next
                fr = -1
                continue
            op = e_op[e]
            fl = flags[op]
            y = dom_prev[op]
            if y >= 0:
                # symmetry (module docstring): skip op when an operation of its class
                # that returns first (optional: was invoked first) is a candidate
                skip = False
                if fl & F_OPTIONAL:
                    # y was invoked before op: a candidate unless linearized
                    skip = not ((bits[y >> 6] >> (y & 63)) & 1)
                else:
                    # y returns before op; it is a candidate iff it is not
                    # linearized and its call comes before A's first return entry
                    # fr (found once per configuration). The chain goes back in
                    # return order; one returning before fr is linearized, as
                    # are all before it
                    if fr < 0:
                        s = e
                        while not e_ret[s]:
                            s = L[s].next
                        fr = s
                    while y >= 0 and ret_e[y] >= fr:
                        if not ((bits[y >> 6] >> (y & 63)) & 1) and call_e[y] < fr:
                            skip = True
                            break
                        y = dom_prev[y]
                if skip:
                    skipped += 1
                    e = L[e].next
                    continue
            # the model step, inline for the built-in opcodes
            c = code[op]
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
                o = oidx[op]
                if o >= 0:
                    obits[o >> 6] |= (<uint64_t>1) << (o & 63)
                m = self._memo_add(h, new_state)
                if m == 2:
                    bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                    h ^= zob[op]
                    if o >= 0:
                        obits[o >> 6] &= ~((<uint64_t>1) << (o & 63))
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
                    # the longest linearization: best[:agree] == the stack's
                    # prefix, so that extending it is O(1), not a copy
                    if agree == depth - 1 and depth <= self.best_len and self.best[depth - 1] == op:
                        agree = depth
                    if depth > self.best_len:
                        if agree < depth - 1:
                            memcpy(self.best, stk_op, (depth - 1) * sizeof(int32_t))
                        self.best[depth - 1] = op
                        self.best_len = depth
                        agree = depth
                    e = L[head].next
                    lim = -1
                    fr = -1
                    continue
                bits[op >> 6] &= ~((<uint64_t>1) << (op & 63))
                h ^= zob[op]
                if o >= 0:
                    obits[o >> 6] &= ~((<uint64_t>1) << (o & 63))
            e = L[e].next
        self.cur_e = e
        self.cur_lim = lim
        self.cur_state = state
        self.h = h
        self.depth = depth
        self.agree = agree
        self.remaining = remaining
        self.nsteps += steps
        self.nskipped += skipped
        return verdict

    def run(self, max_steps=None, max_seconds=None):
        """Search until decided or out of budget: ``"ok"``, ``"violation"`` or
        ``"unknown"`` (the budget ran out: calling run again goes on from there).
        ``max_steps``: at most this many more steps; ``max_seconds``: stop after about
        this long (None: no limit)."""
        cdef int64_t steps_cap = -1
        cdef double deadline = 0.0
        cdef int v
        if self.enc is None:
            raise RuntimeError("this search was not set up")
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

    def linearization_of(self, list ops):
        """linearization(), each index replaced by ops[index]."""
        cdef Py_ssize_t i
        if len(ops) != self.n:
            raise ValueError(f"{len(ops)} operations given, the search has {self.n}")
        return [ops[self.best[i]] for i in range(self.best_len)]

    @property
    def steps(self):
        """Steps taken so far (over every run)."""
        return self.nsteps

    @property
    def skipped(self):
        """Candidates the symmetry reduction skipped (over every run)."""
        return self.nskipped

    @property
    def full(self):
        """Whether the last run stopped because the cache reached its cap."""
        return self.is_full

    @property
    def record_bytes(self):
        """Bytes one cached configuration takes at most: a bucket, its share of the
        table, and its optional bitset with the arena's slack (four times its words)."""
        return 8 * self.bstride + 32 + 32 * self.kw

    @property
    def configurations(self):
        """Configurations recorded in Lowe's cache."""
        return self.nconf

    @property
    def callbacks(self):
        """Transitions computed by the Python callable."""
        return self.ncalls

    @property
    def nbytes(self):
        """Memory held, about."""
        cdef Py_ssize_t n = self.n, ne = self.ne
        return (n * (4 * 7 + 8 * 2) + (ne + 2) * 8 + self.nwords * 16 + self.kw * 8
                + self.bk_cap * 8 * self.bstride + self.arena_cap * 8
                + i64t_nbytes(&self.memo) + i64t_nbytes(&self.trans))

    def _check(self):
        """Assert the invariants: the list links back, holds exactly the entries of
        the operations not linearized, the stack's operations are the bits set, the
        count of required operations left is right, the optional bitset matches,
        the cache is sound (buckets chain back, hold required bits only, their
        optional sets form an antichain), the symmetry chains go back in time."""
        cdef Py_ssize_t i, k, j, count = 0, required = 0, bs = self.bstride, kw = self.kw
        cdef int32_t e, head = <int32_t>self.ne, y
        cdef uint64_t h = 0
        cdef int32_t op
        cdef uint64_t* p
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
        for k in range(min(self.agree, self.depth)):
            assert self.best[k] == self.stk_op[k], f"best[{k}] is not the stack's"
        for i in range(self.n):
            lin = (self.bits[i >> 6] >> (i & 63)) & 1
            assert bool(lin) == (i in stacked), f"operation {i}: bit {lin}, on the stack: {i in stacked}"
            assert (self.call_e[i] in in_list) == (not lin), f"operation {i}: call entry misplaced"
            if self.ret_e[i] >= 0:
                assert (self.ret_e[i] in in_list) == (not lin), f"operation {i}: return entry misplaced"
                if not lin:
                    required += 1
            if self.oidx[i] >= 0:
                o = self.oidx[i]
                assert ((self.obits[o >> 6] >> (o & 63)) & 1) == lin, f"operation {i}: optional bit stale"
            if lin:
                h ^= self.zob[i]
            count += lin
            y = self.dom_prev[i]
            if y >= 0:
                assert (self.flags[y] & F_OPTIONAL) == (self.flags[i] & F_OPTIONAL), f"{i}: class kinds differ"
                if self.flags[i] & F_OPTIONAL:
                    assert self.call_e[y] < self.call_e[i], f"operation {i}: its class chain goes forward"
                else:
                    assert self.ret_e[y] < self.ret_e[i], f"operation {i}: its class chain goes forward"
        assert count == self.depth, f"{count} bits set, stack depth {self.depth}"
        assert required == self.remaining, f"{required} required left, counted {self.remaining}"
        assert h == self.h, "the bitset hash is stale"
        assert self.best_len >= self.depth, "the longest linearization is shorter than the stack"
        assert self.nbk <= self.bk_cap or self.nbk == 0, "more buckets than room"
        assert self.memo.size <= self.nbk, "more cache keys than buckets"
        assert self.max_rec < 0 or self.nconf <= self.max_rec, "more configurations than allowed"
        for j in range(self.nbk):
            p = &self.bk[j * bs]
            assert <int64_t>p[1] < j, f"bucket {j} chains forward"
            for k in range(self.nwords):
                assert p[BK_HEAD + k] & ~self.reqmask[k] == 0, f"bucket {j} holds optional bits"
            cnt = p[3] & 0xFFFFFFFF
            assert kw > 0 or cnt == 0, f"bucket {j} holds optional sets without optional operations"
            assert cnt <= (p[3] >> 32), f"bucket {j}: more sets than room"
            sets = [tuple(self.arena[p[2] + a * kw + k] for k in range(kw)) for a in range(cnt)]
            for a in range(len(sets)):
                for b in range(len(sets)):
                    if a != b:
                        assert any(sets[a][k] & ~sets[b][k] for k in range(kw)), \
                            f"bucket {j}: set {a} is a subset of set {b}"
        i64t_check(&self.memo)
        i64t_check(&self.trans)

