# The linearizability search of Wing and Gong with Lowe's memoization over one
# partition of a history (one key): the contract of _wgl.pyx.
#
# The caller (tradeoff.consistency.linearizability) encodes every operation as an
# opcode on an int64 state, orders the entries (one call entry per operation, one
# return entry per operation whose outcome is known) into an Encoded part, and runs
# Searches over it with a step and time budget. A search can be resumed after its
# budget ran out. The register and kv models are encoded by encode_register in one
# pass over the history, every part at once.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

from tradeoff._core.dlist cimport DList
from tradeoff._core.table cimport I64Table


# what an operation does to the int64 state (the same numbers as OPCODES)
cdef enum:
    OP_READ = 0       # ok iff the result is unknown or state == res; state unchanged
    OP_WRITE = 1      # state = arg1
    OP_CAS = 2        # if state == arg1: state = arg2 (ok unless res == 0); else ok unless res == 1
    OP_ADD = 3        # state += arg1 (two's complement wrap)
    OP_CALL = 4       # transition table (state, sig) -> (ok, state'), filled by a Python callable

# verdicts (the same numbers as VERDICTS)
cdef enum:
    V_OK = 0
    V_VIOLATION = 1
    V_UNKNOWN = 2

# flags of an operation
cdef enum:
    F_KNOWN = 1       # its result is known (res holds it); else any result is accepted
    F_OPTIONAL = 2    # its outcome is unknown: it may take effect after its call, or never


cdef class Encoded:
    """One part's operations and entries, read-only once built; shared by the
    searches over it (a portfolio runs two)."""
    cdef:
        Py_ssize_t n              # operations
        Py_ssize_t ne             # entries
        int32_t* code             # per operation: OP_*
        int64_t* arg1
        int64_t* arg2
        int64_t* res              # the result, when F_KNOWN
        uint8_t* flags            # F_KNOWN | F_OPTIONAL
        int64_t* sig              # OP_CALL: the operation's signature id in [0, nsig)
        int32_t* e_op             # per entry: its operation
        uint8_t* e_ret            # per entry: 1 for a return entry
        int64_t init
        object transition         # callable (state, sig) -> (ok, state'), or None
        int64_t nsig
        object owner              # holds the memory the pointers point into (None: self)
        bint owns                 # the pointers are this object's own allocations


cdef class Search:
    cdef:
        Encoded enc               # the operations (kept alive: the pointers below are into it)
        Py_ssize_t n              # operations
        Py_ssize_t ne             # entries; the sentinels are nodes ne (list A) and ne + 1 (list B)
        Py_ssize_t nwords         # 64-bit words of a bitset of n operations
        const int32_t* code
        const int64_t* arg1
        const int64_t* arg2
        const int64_t* res
        const uint8_t* flags
        const int64_t* sig
        const int32_t* e_op
        const uint8_t* e_ret
        int32_t* call_e           # per operation: its call entry
        int32_t* ret_e            # per operation: its return entry, or -1 (optional ones)
        uint64_t* zob             # per operation: a random word (0 for optional ones with
                                  # subsumption); a set hashes to the xor of its words
        uint64_t* reqmask         # nwords: the bits of the operations the hash covers
        # symmetry: per operation, the previous operation of its class (the same
        # opcode, arguments and known result): for a required one, the one whose return
        # entry comes last before its own; for an optional one, the one whose call
        # entry comes last before its own; -1: none (see _dominated)
        int32_t* dom_prev
        bint symmetry
        # subsumption: the optional operations numbered 0 .. nopt-1 (oidx, -1 for a
        # required one), and the linearized ones among them as a bitset of kw words
        int32_t* oidx
        uint64_t* obits
        Py_ssize_t kw
        # the entries not yet linearized, in time order, in two lists: A holds the
        # entries of the required operations (calls and returns), B the call entries
        # of the optional ones (they have no return entry)
        DList links
        uint64_t* bits            # the linearized operations
        int32_t* stk_op           # the call stack: operations linearized, in order ...
        int64_t* stk_state        # ... and the state before each ...
        int32_t* stk_lim          # ... and, for an optional one, the walk's limit in list B
        int32_t* best             # the longest linearization seen (a copy of the stack)
        Py_ssize_t best_len
        Py_ssize_t agree          # best[:agree] is the stack's prefix (extending best is O(1))
        # Lowe's cache. A bucket per (required bits, state) seen, found through the
        # table from a hash of them (buckets with equal hashes chain); a bucket holds
        # the optional bitsets seen with it (kw words each, an antichain: a new one
        # drops those it is a subset of) in a run of `arena`. A bucket is bstride
        # words: [state, previous bucket with the hash (or -1), arena offset,
        # count | capacity << 32, the required bits (nwords)]
        I64Table memo
        uint64_t* bk
        Py_ssize_t bstride
        Py_ssize_t nbk
        Py_ssize_t bk_cap
        uint64_t* arena
        Py_ssize_t arena_len
        Py_ssize_t arena_cap
        Py_ssize_t nconf          # configurations recorded (insertions)
        Py_ssize_t max_rec        # stop ("unknown") rather than record more; -1: no limit
        # OP_CALL transitions: key state * nsig + sig -> 2 * state' + ok
        I64Table trans
        int64_t nsig
        object transition
        # where the search stands (kept between runs, so that a run can resume)
        int32_t cur_e
        int32_t cur_lim           # -1: walking list A; else walking B below this entry
        int64_t cur_state
        uint64_t h                # the hash of bits
        Py_ssize_t depth
        Py_ssize_t remaining      # operations that must still be linearized (not optional)
        int64_t nsteps
        int64_t ncalls            # transitions computed by the Python callable
        int64_t nskipped          # candidates skipped by the symmetry reduction
        int verdict               # -1 while undecided
        bint is_full              # the last run stopped at max_rec
        bint broken               # a callback raised: the search cannot go on

    cdef int _setup(self, Encoded enc, bint subsume, bint optional_last, Py_ssize_t max_configurations,
                    Py_ssize_t max_bytes, bint symmetry) except -1
    cdef int _classes(self) except -1
    cdef int _call(self, int32_t op, int64_t state, int64_t* out) except -1 nogil
    cdef int _memo_add(self, uint64_t h, int64_t state) except -1 nogil
    cdef Py_ssize_t _arena_take(self, Py_ssize_t words) except -1 nogil
    cdef int _loop(self, int64_t max_steps, double deadline) except -1 nogil
