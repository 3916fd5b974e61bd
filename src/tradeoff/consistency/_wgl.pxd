# The linearizability search of Wing and Gong with Lowe's memoization over one
# partition of a history (one key): the contract of _wgl.pyx.
#
# The caller (tradeoff.consistency.linearizability) encodes every operation as an
# opcode on an int64 state, orders the entries (one call entry per operation, one
# return entry per operation whose outcome is known) and runs the search with a
# step and time budget. A search can be resumed after its budget ran out.
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


cdef class Search:
    cdef:
        Py_ssize_t n              # operations
        Py_ssize_t ne             # entries; the sentinels are nodes ne (list A) and ne + 1 (list B)
        Py_ssize_t nwords         # 64-bit words of a bitset of n operations
        int32_t* code             # per operation: OP_*
        int64_t* arg1
        int64_t* arg2
        int64_t* res              # the result, when F_KNOWN
        uint8_t* flags            # F_KNOWN | F_OPTIONAL
        int64_t* sig              # OP_CALL: the operation's signature id in [0, nsig)
        int32_t* e_op             # per entry: its operation
        uint8_t* e_ret            # per entry: 1 for a return entry
        int32_t* call_e           # per operation: its call entry
        int32_t* ret_e            # per operation: its return entry, or -1 (optional ones)
        uint64_t* zob             # per operation: a random word (0 for optional ones); a set
                                  # hashes to the xor of its words: the hash of its required part
        uint64_t* reqmask         # nwords: the bits of the required operations (all, without subsumption)
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
        # Lowe's cache of configurations seen: (bitset, state) pairs, where a seen
        # (B', s) also covers every (B, s) whose B adds only optional operations to B'
        # (subsumption). The table maps a hash of (B's required part, s) to the newest
        # record with that hash; records with equal hashes chain and are compared
        # exactly. A record is `stride` words in one block:
        # [state, index of the previous record with the hash (or -1), bitset]
        I64Table memo
        uint64_t* recs
        Py_ssize_t stride         # nwords + 2
        Py_ssize_t nrec
        Py_ssize_t rec_cap
        Py_ssize_t max_rec        # stop ("unknown") rather than hold more records; -1: no limit
        # OP_CALL transitions: key state * nsig + sig -> 2 * state' + ok
        I64Table trans
        int64_t nsig
        object transition         # callable (state, sig) -> (ok, state'), or None
        # where the search stands (kept between runs, so that a run can resume)
        int32_t cur_e
        int32_t cur_lim           # -1: walking list A; else walking B below this entry
        int64_t cur_state
        uint64_t h                # the hash of bits
        Py_ssize_t depth
        Py_ssize_t remaining      # operations that must still be linearized (not optional)
        int64_t nsteps
        int64_t ncalls            # transitions computed by the Python callable
        int verdict               # -1 while undecided
        bint is_full              # the last run stopped at max_rec
        bint broken               # a callback raised: the search cannot go on

    cdef int _call(self, int32_t op, int64_t state, int64_t* out) except -1 nogil
    cdef int _memo_add(self, uint64_t h, int64_t state) except -1 nogil
    cdef int _loop(self, int64_t max_steps, double deadline) except -1 nogil
