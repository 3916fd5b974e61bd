"""The event loop of :func:`tradeoff.replication.multileader.simulate`:
multi-leader replication of a key-value store across M data centres
(Kleppmann, *Designing Data-Intensive Applications*, O'Reilly 2017, ch. 5
"Multi-Leader Replication" and "Handling Write Conflicts"), in a discrete-event
simulation that runs without the GIL on the package's shared event core
(:mod:`tradeoff._core.events`, :mod:`tradeoff._core.pool`).

The model. M leaders, one per data centre, each with a full copy; C clients,
client c in the data centre of leader ``c % M``, always talking to it.
Operations arrive as one stream (gaps from a distribution), each to a random
client; a client runs one operation at a time and queues the rest (latency
counts from the arrival). A request takes a client delay to reach the leader,
which executes it at once and answers (the answer takes another client delay):

- a write gets a write id w (1, 2, ...; its value is w, unique), the leader's
  clock reading ``t + offset[leader]`` as its timestamp (the per-node clock
  skew), and a version vector: the leader's causal context for the key with its
  own entry incremented. The leader applies it and sends it to every other
  leader (asynchronous replication: the client is answered before anyone else
  has it);
- a read returns the leader's state of the key.

A leader that is down (``failures``) answers nothing: an operation that reaches
it fails (at once; it had no effect). Crashes lose no data (the leader's state
and its outgoing replication stream are durable; it resumes on recovery).

Links. Every ordered pair of leaders is a FIFO link (an arrival is never before
the previous one on the link). A link is *cut* while either end is down or a
partition separates them. A message sent at t with delay d (drawn at the send)
leaves at ``up(t)``, the first instant >= t when the link is not cut, and
arrives at ``up(up(t) + d)``: messages are **held, not dropped**, on both sides
of a cut and delivered after it heals (a reliable replication stream, as
multi-leader tools replay their log). The cut intervals of each link are
computed by the caller (sorted, disjoint).

Causality per key. ``ctx[i][k]`` is a version vector: for each leader j the
number of j's writes of key k in the causal past of what leader i has (it is a
prefix of j's writes: j's n-th write has its (n-1)-th in its past). A write's
vector is its leader's context plus one for itself; a delivery merges the
write's vector into the receiver's context. Write u happened before w
(``u -> w``) iff vv(u) <= vv(w) (Parker et al., IEEE TSE 1983; Fidge 1988;
Mattern 1988). A delivery is a *conflict* when the incoming write and the
receiver's context are concurrent (neither <= the other): the receiver must
resolve two versions neither of which knew the other.

Policies (per key):

- ``lww``: the replica keeps the write with the largest (timestamp, leader);
- ``vv``: the replica keeps siblings, the versions not dominated by another it
  has seen (Dynamo, Riak); a local write supersedes them all, a delivery drops
  the siblings its vector dominates and is dropped if one dominates it; at most
  one sibling per leader;
- ``crdt``: each write is an increment or decrement of a PN-counter (Shapiro et
  al., INRIA RR 7506, Specification 7): a replica keeps per leader the counts of
  increments and decrements, a write carries its leader's counts after it, a
  delivery merges by the maximum (order and duplicates do not matter).

Measured here: per operation its outcome, times and the read's result and
staleness (a read is stale when its leader lacks a write of the key that some
leader executed before the read: ``behind`` counts them); per write its vector,
timestamp and when each leader got it; conflicts; the largest sibling set; the
time of the last delivery that changed a replica's state (convergence). The
losses of ``lww`` are computed from the write arrays by the caller.

Sources of the event heap, ties in time to the lower number: ``a * M + b`` the
head message of link a -> b; ``M*M + c`` client c's next step; ``M*M + C`` the
next arrival of an operation.

Randomness: xoshiro256** streams (``tradeoff._core.rng``) from the seed: the
arrivals (gaps, client, kind, key, sign), the links' delays, the clients' delays.
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.math cimport INFINITY, NAN, isfinite
from cpython.mem cimport PyMem_RawFree

import numpy as np

from tradeoff._core.rng cimport Rng, rng_seed, rng_uniform, rng_below, rng_exponential
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.dist cimport Dist, dist_draw, dist_set
from tradeoff._core.dist import DISTS
from tradeoff._core.events cimport Events, ev_init, ev_free, ev_schedule, ev_next, ev_time, ev_check
from tradeoff._core.pool cimport (Pool, pool_init, pool_alloc, pool_free, pool_release, pool_free_count)
from tradeoff._core.debug cimport DEBUG_ASSERT


cdef enum:
    POL_LWW = 0
    POL_VV = 1
    POL_CRDT = 2

cdef enum:
    OP_READ = 0
    OP_WRITE = 1

cdef enum:
    ST_PENDING = 0
    ST_OK = 1
    ST_FAIL = 2

cdef enum:
    CL_IDLE = 0
    CL_REQ = 1       # request in flight to the leader (arrives at t_phase)
    CL_RESP = 2      # answer in flight (arrives at t_phase)

POLICIES = {"lww": POL_LWW, "vv": POL_VV, "crdt": POL_CRDT}


cdef struct Msg:
    double t             # arrival
    int64_t w            # the write it carries
    int32_t next         # the next message on the link (the pool's link while free)


cdef struct Link:
    int32_t head, tail   # pool indexes, -1: empty
    int64_t count
    double last_arr      # the FIFO bound
    int32_t off, n       # its cut intervals: cut_s/cut_e[off .. off + n)


cdef struct Client:
    int32_t state
    int32_t node
    int64_t op           # the current operation, -1: none
    int64_t qhead, qtail # queued operations (through op_next), -1: none
    double t_phase


cdef inline double up_at(const double* s, const double* e, int32_t n, double t) noexcept nogil:
    """The first instant >= t outside the sorted, disjoint intervals [s_i, e_i)."""
    cdef int32_t lo = 0, hi = n, mid
    # the last interval starting at or before t
    while lo < hi:
        mid = (lo + hi) >> 1
        if s[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    if lo > 0 and t < e[lo - 1]:
        return e[lo - 1]
    return t


cdef class Simulation:
    """One run (built and driven by ``multileader.simulate``); ``run()`` releases
    the GIL. Memory: about 45 + 20 M bytes per write, 70 per operation (+8 M
    with the history under ``vv``), 4 M^2 + 40 M bytes per key."""
    # configuration
    cdef int32_t M, C, K
    cdef int policy
    cdef int64_t ops
    cdef double read_fraction
    cdef bint record
    cdef Dist net, cli, gap
    cdef double* cdf
    cdef double* offset
    cdef double* cut_s
    cdef double* cut_e
    cdef double* down_s
    cdef double* down_e
    cdef int32_t* down_off       # node i's down intervals: [down_off[i], down_off[i+1])

    cdef Events ev
    cdef int32_t src_client, src_arr
    cdef Rng r_arr, r_net, r_cli
    cdef Pool pool
    cdef Link* links
    cdef Client* cl
    cdef double next_arr

    # replicas' state
    cdef int32_t* ctx            # [(i*K + k)*M + j]
    cdef int32_t* issued         # [k*M + j]: writes of k executed by j so far
    cdef int64_t* win            # lww: [i*K + k] the winning write (0: none)
    cdef int64_t* sib            # vv: [(i*K + k)*M + s] siblings
    cdef int32_t* nsib           # vv: [i*K + k]
    cdef int64_t* pc             # crdt: [(i*K + k)*M + j] increments of j
    cdef int64_t* nc             # crdt: decrements of j

    # writes, by id 1..n_writes
    cdef int32_t* w_key
    cdef int32_t* w_node
    cdef int64_t* w_op
    cdef int8_t* w_delta
    cdef double* w_t
    cdef double* w_ts
    cdef int32_t* w_vv           # [w*M + j]
    cdef double* w_arr           # [w*M + j]: when leader j got it (NaN: not yet)
    cdef int64_t* w_seq          # [w*M + j]: the event number of that
    cdef int64_t* w_pcnt         # crdt: its leader's increment count after it
    cdef int64_t* w_ncnt
    cdef int8_t* w_sib           # vv: it was kept as a sibling next to another version

    # operations, by number
    cdef int8_t* op_kind
    cdef int8_t* op_status
    cdef int8_t* op_sign
    cdef int32_t* op_client
    cdef int32_t* op_key
    cdef int32_t* op_behind
    cdef int64_t* op_result      # write: its id; read: lww the winner, vv the sibling count, crdt the value
    cdef int64_t* op_next
    cdef int64_t* op_seq
    cdef double* op_invoke
    cdef double* op_exec
    cdef double* op_done
    cdef int64_t* op_sibs        # vv with the history: [op*M + s] the siblings read

    # counters
    cdef public int64_t issued_ops, completed, n_writes, n_reads, failed, events
    cdef public int64_t conflicts, stale, behind, deliveries, changes, held
    cdef public int32_t max_siblings
    cdef public double now, last_write, last_change
    cdef public bint done

    def __cinit__(self):
        self.M = 0
        self.cdf = NULL
        self.offset = NULL
        self.cut_s = NULL
        self.cut_e = NULL
        self.down_s = NULL
        self.down_e = NULL
        self.down_off = NULL
        self.net.arr = NULL
        self.cli.arr = NULL
        self.gap.arr = NULL
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0
        self.pool.base = NULL
        self.pool.cap = 0
        self.links = NULL
        self.cl = NULL
        self.ctx = NULL
        self.issued = NULL
        self.win = NULL
        self.sib = NULL
        self.nsib = NULL
        self.pc = NULL
        self.nc = NULL
        self.w_key = NULL
        self.w_node = NULL
        self.w_op = NULL
        self.w_delta = NULL
        self.w_t = NULL
        self.w_ts = NULL
        self.w_vv = NULL
        self.w_arr = NULL
        self.w_seq = NULL
        self.w_pcnt = NULL
        self.w_ncnt = NULL
        self.w_sib = NULL
        self.op_kind = NULL
        self.op_status = NULL
        self.op_sign = NULL
        self.op_client = NULL
        self.op_key = NULL
        self.op_behind = NULL
        self.op_result = NULL
        self.op_next = NULL
        self.op_seq = NULL
        self.op_invoke = NULL
        self.op_exec = NULL
        self.op_done = NULL
        self.op_sibs = NULL

    def __dealloc__(self):
        PyMem_RawFree(self.cdf)
        PyMem_RawFree(self.offset)
        PyMem_RawFree(self.cut_s)
        PyMem_RawFree(self.cut_e)
        PyMem_RawFree(self.down_s)
        PyMem_RawFree(self.down_e)
        PyMem_RawFree(self.down_off)
        PyMem_RawFree(self.net.arr)
        PyMem_RawFree(self.cli.arr)
        PyMem_RawFree(self.gap.arr)
        ev_free(&self.ev)
        pool_release(&self.pool)
        PyMem_RawFree(self.links)
        PyMem_RawFree(self.cl)
        PyMem_RawFree(self.ctx)
        PyMem_RawFree(self.issued)
        PyMem_RawFree(self.win)
        PyMem_RawFree(self.sib)
        PyMem_RawFree(self.nsib)
        PyMem_RawFree(self.pc)
        PyMem_RawFree(self.nc)
        PyMem_RawFree(self.w_key)
        PyMem_RawFree(self.w_node)
        PyMem_RawFree(self.w_op)
        PyMem_RawFree(self.w_delta)
        PyMem_RawFree(self.w_t)
        PyMem_RawFree(self.w_ts)
        PyMem_RawFree(self.w_vv)
        PyMem_RawFree(self.w_arr)
        PyMem_RawFree(self.w_seq)
        PyMem_RawFree(self.w_pcnt)
        PyMem_RawFree(self.w_ncnt)
        PyMem_RawFree(self.w_sib)
        PyMem_RawFree(self.op_kind)
        PyMem_RawFree(self.op_status)
        PyMem_RawFree(self.op_sign)
        PyMem_RawFree(self.op_client)
        PyMem_RawFree(self.op_key)
        PyMem_RawFree(self.op_behind)
        PyMem_RawFree(self.op_result)
        PyMem_RawFree(self.op_next)
        PyMem_RawFree(self.op_seq)
        PyMem_RawFree(self.op_invoke)
        PyMem_RawFree(self.op_exec)
        PyMem_RawFree(self.op_done)
        PyMem_RawFree(self.op_sibs)

    def __init__(self, int32_t m, int policy, int32_t clients, int64_t ops, double read_fraction,
                 int32_t keys, cdf, net, cli, gap, offsets, cuts, downs, bint record, uint64_t seed):
        """``net``, ``cli``, ``gap``: (kind, mean, array or None) as in
        :data:`DISTS` (seconds); ``cdf``: None (uniform keys) or the keys' CDF;
        ``offsets``: M clock offsets (s); ``cuts``: M*M lists of the links'
        cut intervals [(start, end)] sorted and disjoint (a -> b at a*M + b);
        ``downs``: M such lists, when each leader is down."""
        cdef int32_t i, j, c, n
        cdef int64_t total
        cdef const double[::1] cv
        if m < 1:
            raise ValueError(f"m must be >= 1, got {m}")
        if clients < 1 or ops < 0 or keys < 1:
            raise ValueError(f"need clients >= 1, ops >= 0, keys >= 1, got {clients}, {ops}, {keys}")
        if policy not in (POL_LWW, POL_VV, POL_CRDT):
            raise ValueError(f"unknown policy {policy}")
        if len(offsets) != m or len(cuts) != m * m or len(downs) != m:
            raise ValueError("offsets, cuts and downs must have M, M*M and M entries")
        self.M = m
        self.C = clients
        self.K = keys
        self.policy = policy
        self.ops = ops
        self.read_fraction = read_fraction
        self.record = record
        dist_set(&self.net, net, "net")
        dist_set(&self.cli, cli, "cli")
        dist_set(&self.gap, gap, "gap")
        if cdf is not None:
            cv = np.ascontiguousarray(cdf, dtype=np.float64)
            if cv.shape[0] != keys:
                raise ValueError(f"the key CDF has {cv.shape[0]} entries for {keys} keys")
            mem_resize(<void**>&self.cdf, keys * sizeof(double))
            for i in range(keys):
                self.cdf[i] = cv[i]
            self.cdf[keys - 1] = 1.0
        mem_resize(<void**>&self.offset, m * sizeof(double))
        for i in range(m):
            self.offset[i] = float(offsets[i])
        # the links' cut intervals, then the leaders' down intervals
        total = sum(len(x) for x in cuts)
        mem_resize(<void**>&self.cut_s, (total + 1) * sizeof(double))
        mem_resize(<void**>&self.cut_e, (total + 1) * sizeof(double))
        mem_zeroed(<void**>&self.links, m * m * sizeof(Link))
        n = 0
        for i in range(m * m):
            self.links[i].head = -1
            self.links[i].tail = -1
            self.links[i].off = n
            self.links[i].last_arr = -INFINITY
            for s, e in cuts[i]:
                self.cut_s[n] = s
                self.cut_e[n] = e
                n += 1
            self.links[i].n = n - self.links[i].off
        total = sum(len(x) for x in downs)
        mem_resize(<void**>&self.down_s, (total + 1) * sizeof(double))
        mem_resize(<void**>&self.down_e, (total + 1) * sizeof(double))
        mem_resize(<void**>&self.down_off, (m + 1) * sizeof(int32_t))
        n = 0
        for i in range(m):
            self.down_off[i] = n
            for s, e in downs[i]:
                self.down_s[n] = s
                self.down_e[n] = e
                n += 1
        self.down_off[m] = n

        rng_seed(&self.r_arr, mix64(seed ^ <uint64_t>0x6172726976616c73ULL))
        rng_seed(&self.r_net, mix64(seed ^ <uint64_t>0x6e6574776f726b21ULL))
        rng_seed(&self.r_cli, mix64(seed ^ <uint64_t>0x636c69656e746e65ULL))

        mem_zeroed(<void**>&self.ctx, <size_t>m * keys * m * sizeof(int32_t))
        mem_zeroed(<void**>&self.issued, <size_t>keys * m * sizeof(int32_t))
        if policy == POL_LWW:
            mem_zeroed(<void**>&self.win, <size_t>m * keys * sizeof(int64_t))
        elif policy == POL_VV:
            mem_zeroed(<void**>&self.sib, <size_t>m * keys * m * sizeof(int64_t))
            mem_zeroed(<void**>&self.nsib, <size_t>m * keys * sizeof(int32_t))
        else:
            mem_zeroed(<void**>&self.pc, <size_t>m * keys * m * sizeof(int64_t))
            mem_zeroed(<void**>&self.nc, <size_t>m * keys * m * sizeof(int64_t))

        # writes (at most one per operation; id 0 unused)
        total = ops + 1
        mem_zeroed(<void**>&self.w_key, total * sizeof(int32_t))
        mem_zeroed(<void**>&self.w_node, total * sizeof(int32_t))
        mem_zeroed(<void**>&self.w_op, total * sizeof(int64_t))
        mem_zeroed(<void**>&self.w_delta, total * sizeof(int8_t))
        mem_zeroed(<void**>&self.w_t, total * sizeof(double))
        mem_zeroed(<void**>&self.w_ts, total * sizeof(double))
        mem_zeroed(<void**>&self.w_vv, total * m * sizeof(int32_t))
        mem_zeroed(<void**>&self.w_arr, total * m * sizeof(double))
        mem_zeroed(<void**>&self.w_seq, total * m * sizeof(int64_t))
        mem_zeroed(<void**>&self.w_sib, total * sizeof(int8_t))
        if policy == POL_CRDT:
            mem_zeroed(<void**>&self.w_pcnt, total * sizeof(int64_t))
            mem_zeroed(<void**>&self.w_ncnt, total * sizeof(int64_t))

        total = ops if ops > 0 else 1
        mem_zeroed(<void**>&self.op_kind, total * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_status, total * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_sign, total * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_client, total * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_key, total * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_behind, total * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_result, total * sizeof(int64_t))
        mem_zeroed(<void**>&self.op_next, total * sizeof(int64_t))
        mem_zeroed(<void**>&self.op_seq, total * sizeof(int64_t))
        mem_zeroed(<void**>&self.op_invoke, total * sizeof(double))
        mem_zeroed(<void**>&self.op_exec, total * sizeof(double))
        mem_zeroed(<void**>&self.op_done, total * sizeof(double))
        if record and policy == POL_VV:
            mem_zeroed(<void**>&self.op_sibs, total * m * sizeof(int64_t))

        cdef Msg probe
        pool_init(&self.pool, sizeof(Msg), <size_t>(<char*>&probe.next - <char*>&probe), 1024,
                  b"messages in flight")

        self.src_client = m * m
        self.src_arr = m * m + clients
        ev_init(&self.ev, m * m + clients + 1)
        mem_zeroed(<void**>&self.cl, clients * sizeof(Client))
        for c in range(clients):
            self.cl[c].state = CL_IDLE
            self.cl[c].node = c % m
            self.cl[c].op = -1
            self.cl[c].qhead = -1
            self.cl[c].qtail = -1
            self.cl[c].t_phase = INFINITY
        self.last_write = NAN
        self.last_change = NAN
        self.now = 0.0
        if ops > 0:
            self.next_arr = dist_draw(&self.gap, &self.r_arr)
            ev_schedule(&self.ev, self.src_arr, self.next_arr)
        else:
            self.next_arr = INFINITY

    # ------------------------------------------------------------------ run
    def run(self, int64_t max_events=-1):
        """Run to the end (every operation completed, every message delivered), or
        until ``max_events`` events (>= 0); returns whether it ended."""
        with nogil:
            self._run(max_events)
        return self.done

    cdef int _run(self, int64_t max_events) except -1 nogil:
        cdef int32_t src
        cdef double t
        while True:
            if max_events >= 0 and self.events >= max_events:
                return 0
            src = ev_next(&self.ev)
            t = ev_time(&self.ev, src)
            if t == INFINITY:
                break
            DEBUG_ASSERT(t >= self.now, "events come in time order")
            self.now = t
            self.events += 1
            if src < self.src_client:
                self._deliver(src, t)
            elif src < self.src_arr:
                self._client_step(src - self.src_client, t)
            else:
                self._arrival(t)
        self.done = True
        return 0

    cdef inline int32_t _pick_key(self) noexcept nogil:
        cdef double u
        cdef int32_t lo, hi, mid
        if self.cdf == NULL:
            return <int32_t>rng_below(&self.r_arr, <uint64_t>self.K)
        u = rng_uniform(&self.r_arr)
        lo = 0
        hi = self.K - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.cdf[mid] > u:
                hi = mid
            else:
                lo = mid + 1
        return lo

    cdef int _arrival(self, double t) except -1 nogil:
        """The next operation arrives, at a random client."""
        cdef int64_t op = self.issued_ops
        cdef int32_t c = <int32_t>rng_below(&self.r_arr, <uint64_t>self.C)
        cdef Client* cl = &self.cl[c]
        self.issued_ops += 1
        self.op_kind[op] = OP_READ if rng_uniform(&self.r_arr) < self.read_fraction else OP_WRITE
        self.op_key[op] = self._pick_key()
        self.op_sign[op] = 1 if (self.policy != POL_CRDT or rng_below(&self.r_arr, 2) == 0) else -1
        self.op_client[op] = c
        self.op_invoke[op] = t
        self.op_next[op] = -1
        if cl.op < 0:
            self._start(c, op, t)
        elif cl.qtail < 0:
            cl.qhead = op
            cl.qtail = op
        else:
            self.op_next[cl.qtail] = op
            cl.qtail = op
        if self.issued_ops < self.ops:
            self.next_arr = t + dist_draw(&self.gap, &self.r_arr)
        else:
            self.next_arr = INFINITY
        ev_schedule(&self.ev, self.src_arr, self.next_arr)
        return 0

    cdef int _start(self, int32_t c, int64_t op, double t) except -1 nogil:
        cdef Client* cl = &self.cl[c]
        cl.op = op
        cl.state = CL_REQ
        cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
        ev_schedule(&self.ev, self.src_client + c, cl.t_phase)
        return 0

    cdef int _client_step(self, int32_t c, double t) except -1 nogil:
        cdef Client* cl = &self.cl[c]
        cdef int64_t op = cl.op, nxt
        if cl.state == CL_REQ:
            self._execute(c, op, t)
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            ev_schedule(&self.ev, self.src_client + c, cl.t_phase)
            return 0
        # the answer reaches the client
        self.op_done[op] = t
        self.completed += 1
        cl.op = -1
        cl.state = CL_IDLE
        cl.t_phase = INFINITY
        if cl.qhead >= 0:
            nxt = cl.qhead
            cl.qhead = self.op_next[nxt]
            if cl.qhead < 0:
                cl.qtail = -1
            self._start(c, nxt, t)
        else:
            ev_schedule(&self.ev, self.src_client + c, INFINITY)
        return 0

    cdef inline bint _down(self, int32_t i, double t) noexcept nogil:
        cdef int32_t o = self.down_off[i]
        return up_at(self.down_s + o, self.down_e + o, self.down_off[i + 1] - o, t) != t

    cdef int _execute(self, int32_t c, int64_t op, double t) except -1 nogil:
        """Client c's operation reaches its leader at t."""
        cdef int32_t i = self.cl[c].node, k = self.op_key[op], j, s
        cdef int64_t base = (<int64_t>i * self.K + k) * self.M, w, total
        cdef int32_t behind = 0
        self.op_exec[op] = t
        self.op_seq[op] = self.events
        if self._down(i, t):
            self.op_status[op] = ST_FAIL
            self.failed += 1
            return 0
        self.op_status[op] = ST_OK
        if self.op_kind[op] == OP_READ:
            self.n_reads += 1
            for j in range(self.M):
                if self.issued[k * self.M + j] > self.ctx[base + j]:
                    behind += self.issued[k * self.M + j] - self.ctx[base + j]
            self.op_behind[op] = behind
            if behind > 0:
                self.stale += 1
                self.behind += behind
            if self.policy == POL_LWW:
                self.op_result[op] = self.win[<int64_t>i * self.K + k]
            elif self.policy == POL_VV:
                self.op_result[op] = self.nsib[<int64_t>i * self.K + k]
                if self.record:
                    for s in range(self.nsib[<int64_t>i * self.K + k]):
                        self.op_sibs[op * self.M + s] = self.sib[base + s]
            else:
                total = 0
                for j in range(self.M):
                    total += self.pc[base + j] - self.nc[base + j]
                self.op_result[op] = total
            return 0
        self._write(i, op, t)
        return 0

    cdef int _write(self, int32_t i, int64_t op, double t) except -1 nogil:
        """Leader i executes the write of operation op at t and sends it on."""
        cdef int32_t k = self.op_key[op], j
        cdef int64_t base = (<int64_t>i * self.K + k) * self.M
        cdef int64_t w
        self.n_writes += 1
        w = self.n_writes
        self.op_result[op] = w
        self.ctx[base + i] += 1
        self.issued[k * self.M + i] += 1
        for j in range(self.M):
            self.w_vv[w * self.M + j] = self.ctx[base + j]
            self.w_arr[w * self.M + j] = NAN
        self.w_key[w] = k
        self.w_node[w] = i
        self.w_op[w] = op
        self.w_t[w] = t
        self.w_ts[w] = t + self.offset[i]
        self.w_delta[w] = self.op_sign[op]
        self.w_arr[w * self.M + i] = t
        self.w_seq[w * self.M + i] = self.events
        self.last_write = t
        if self.policy == POL_LWW:
            if self._lww_wins(w, self.win[<int64_t>i * self.K + k]):
                self.win[<int64_t>i * self.K + k] = w
        elif self.policy == POL_VV:
            # the new version's vector dominates every sibling here
            self.sib[base] = w
            self.nsib[<int64_t>i * self.K + k] = 1
            if self.max_siblings < 1:
                self.max_siblings = 1
        else:
            if self.op_sign[op] > 0:
                self.pc[base + i] += 1
            else:
                self.nc[base + i] += 1
            self.w_pcnt[w] = self.pc[base + i]
            self.w_ncnt[w] = self.nc[base + i]
        for j in range(self.M):
            if j != i:
                self._send(i, j, w, t)
        return 0

    cdef inline bint _lww_wins(self, int64_t w, int64_t cur) noexcept nogil:
        """Whether write w beats write cur (0: nothing) on (timestamp, leader)."""
        if cur == 0:
            return True
        if self.w_ts[w] != self.w_ts[cur]:
            return self.w_ts[w] > self.w_ts[cur]
        return self.w_node[w] > self.w_node[cur]

    cdef int _send(self, int32_t a, int32_t b, int64_t w, double t) except -1 nogil:
        cdef Link* L = &self.links[a * self.M + b]
        cdef double d = dist_draw(&self.net, &self.r_net)
        cdef double leave = up_at(self.cut_s + L.off, self.cut_e + L.off, L.n, t)
        cdef double arr = up_at(self.cut_s + L.off, self.cut_e + L.off, L.n, leave + d)
        cdef int32_t j
        cdef Msg* m
        if arr > t + d:
            self.held += 1
        if arr < L.last_arr:
            arr = L.last_arr
        L.last_arr = arr
        j = pool_alloc(&self.pool)
        m = <Msg*>self.pool.base + j
        m.t = arr
        m.w = w
        m.next = -1
        if L.tail < 0:
            L.head = j
            L.tail = j
            ev_schedule(&self.ev, a * self.M + b, arr)
        else:
            (<Msg*>self.pool.base + L.tail).next = j
            L.tail = j
        L.count += 1
        return 0

    cdef int _deliver(self, int32_t src, double t) except -1 nogil:
        """The head message of link src = a * M + b reaches b."""
        cdef Link* L = &self.links[src]
        cdef int32_t b = src % self.M, j = L.head
        cdef Msg* m = <Msg*>self.pool.base + j
        cdef int64_t w = m.w
        L.head = m.next
        if L.head < 0:
            L.tail = -1
            ev_schedule(&self.ev, src, INFINITY)
        else:
            ev_schedule(&self.ev, src, (<Msg*>self.pool.base + L.head).t)
        L.count -= 1
        pool_free(&self.pool, j)
        self.deliveries += 1
        self.w_arr[w * self.M + b] = t
        self.w_seq[w * self.M + b] = self.events
        if self._apply(b, w):
            self.changes += 1
            self.last_change = t
        return 0

    cdef bint _apply(self, int32_t b, int64_t w) noexcept nogil:
        """Leader b merges write w into its state; returns whether its visible
        state changed. Counts conflicts (w concurrent with b's context)."""
        cdef int32_t k = self.w_key[w], o = self.w_node[w], j, s, n, keep
        cdef int64_t base = (<int64_t>b * self.K + k) * self.M, bk = <int64_t>b * self.K + k
        cdef int32_t* vv = self.w_vv + w * self.M
        cdef bint le = True, ge = True, changed = False, dominated
        cdef int64_t u
        for j in range(self.M):
            if vv[j] > self.ctx[base + j]:
                le = False
                self.ctx[base + j] = vv[j]
            elif vv[j] < self.ctx[base + j]:
                ge = False
        if not le and not ge:
            self.conflicts += 1
        if self.policy == POL_LWW:
            if self._lww_wins(w, self.win[bk]):
                self.win[bk] = w
                changed = True
        elif self.policy == POL_VV:
            n = self.nsib[bk]
            dominated = False
            for s in range(n):
                if self._vv_le(w, self.sib[base + s]):
                    dominated = True
                    break
            if not dominated:
                keep = 0
                for s in range(n):
                    u = self.sib[base + s]
                    if not self._vv_le(u, w):
                        self.sib[base + keep] = u
                        keep += 1
                self.sib[base + keep] = w
                keep += 1
                self.nsib[bk] = keep
                changed = True
                if keep > 1:
                    self.w_sib[w] = 1
                    for s in range(keep - 1):
                        self.w_sib[self.sib[base + s]] = 1
                if keep > self.max_siblings:
                    self.max_siblings = keep
        else:
            if self.w_pcnt[w] > self.pc[base + o]:
                self.pc[base + o] = self.w_pcnt[w]
                changed = True
            if self.w_ncnt[w] > self.nc[base + o]:
                self.nc[base + o] = self.w_ncnt[w]
                changed = True
        return changed

    cdef inline bint _vv_le(self, int64_t u, int64_t w) noexcept nogil:
        cdef int32_t j
        for j in range(self.M):
            if self.w_vv[u * self.M + j] > self.w_vv[w * self.M + j]:
                return False
        return True

    # ------------------------------------------------------------------ results
    def ops_arrays(self):
        """Per operation, by number: kind (0 read, 1 write), status (1 ok, 2 fail),
        client, key, sign (crdt: +1 / -1), invocation, execution at the leader and
        completion times, the event number of its execution, ``result`` (a write:
        its id; a read: lww the winning write id (0: none), vv the number of
        siblings, crdt the counter's value), ``behind`` (a read: writes of the key
        its leader lacked); vv with the history: ``sibs`` (ops x M, the sibling
        write ids read, 0-padded)."""
        cdef int64_t n = self.issued_ops
        out = {
            "kind": np.asarray(<int8_t[:self.ops]>self.op_kind)[:n].copy() if self.ops else np.zeros(0, np.int8),
            "status": np.asarray(<int8_t[:self.ops]>self.op_status)[:n].copy() if self.ops else np.zeros(0, np.int8),
            "sign": np.asarray(<int8_t[:self.ops]>self.op_sign)[:n].copy() if self.ops else np.zeros(0, np.int8),
            "client": np.asarray(<int32_t[:self.ops]>self.op_client)[:n].copy() if self.ops else np.zeros(0, np.int32),
            "key": np.asarray(<int32_t[:self.ops]>self.op_key)[:n].copy() if self.ops else np.zeros(0, np.int32),
            "behind": np.asarray(<int32_t[:self.ops]>self.op_behind)[:n].copy() if self.ops else np.zeros(0, np.int32),
            "result": np.asarray(<int64_t[:self.ops]>self.op_result)[:n].copy() if self.ops else np.zeros(0, np.int64),
            "seq": np.asarray(<int64_t[:self.ops]>self.op_seq)[:n].copy() if self.ops else np.zeros(0, np.int64),
            "invoke": np.asarray(<double[:self.ops]>self.op_invoke)[:n].copy() if self.ops else np.zeros(0),
            "exec": np.asarray(<double[:self.ops]>self.op_exec)[:n].copy() if self.ops else np.zeros(0),
            "done": np.asarray(<double[:self.ops]>self.op_done)[:n].copy() if self.ops else np.zeros(0),
        }
        if self.op_sibs != NULL and self.ops:
            out["sibs"] = np.asarray(<int64_t[:self.ops * self.M]>self.op_sibs).reshape(self.ops, self.M)[:n].copy()
        return out

    def write_arrays(self):
        """Per write (row i is write id i + 1): key, node (its leader), op, delta
        (+1 / -1), t (executed), ts (its leader's clock), vv (writes x M), arrive
        (writes x M: when each leader got it, NaN: not yet), seq (the event number
        of that), sibling (vv: kept next to another version somewhere); crdt:
        pcount, ncount (its leader's counts after it)."""
        cdef int64_t n = self.n_writes, M = self.M
        if n == 0:
            out = {"key": np.zeros(0, np.int32), "node": np.zeros(0, np.int32), "op": np.zeros(0, np.int64),
                   "delta": np.zeros(0, np.int8), "t": np.zeros(0), "ts": np.zeros(0),
                   "vv": np.zeros((0, M), np.int32), "arrive": np.zeros((0, M)),
                   "seq": np.zeros((0, M), np.int64), "sibling": np.zeros(0, bool)}
            if self.policy == POL_CRDT:
                out["pcount"] = np.zeros(0, np.int64)
                out["ncount"] = np.zeros(0, np.int64)
            return out
        out = {
            "key": np.asarray(<int32_t[:n + 1]>self.w_key)[1:].copy(),
            "node": np.asarray(<int32_t[:n + 1]>self.w_node)[1:].copy(),
            "op": np.asarray(<int64_t[:n + 1]>self.w_op)[1:].copy(),
            "delta": np.asarray(<int8_t[:n + 1]>self.w_delta)[1:].copy(),
            "t": np.asarray(<double[:n + 1]>self.w_t)[1:].copy(),
            "ts": np.asarray(<double[:n + 1]>self.w_ts)[1:].copy(),
            "vv": np.asarray(<int32_t[:(n + 1) * M]>self.w_vv).reshape(n + 1, M)[1:].copy(),
            "arrive": np.asarray(<double[:(n + 1) * M]>self.w_arr).reshape(n + 1, M)[1:].copy(),
            "seq": np.asarray(<int64_t[:(n + 1) * M]>self.w_seq).reshape(n + 1, M)[1:].copy(),
            "sibling": np.asarray(<int8_t[:n + 1]>self.w_sib)[1:].astype(bool),
        }
        if self.policy == POL_CRDT:
            out["pcount"] = np.asarray(<int64_t[:n + 1]>self.w_pcnt)[1:].copy()
            out["ncount"] = np.asarray(<int64_t[:n + 1]>self.w_ncnt)[1:].copy()
        return out

    def state(self, int32_t i):
        """Leader i's state now, one entry per key: lww the winning write id (0:
        none); vv a sorted tuple of the sibling write ids; crdt the counter's
        (value, increments per leader, decrements per leader)."""
        cdef int32_t k, s, j
        cdef int64_t base
        if not 0 <= i < self.M:
            raise ValueError(f"leader must be within 0..{self.M - 1}, got {i}")
        out = []
        for k in range(self.K):
            base = (<int64_t>i * self.K + k) * self.M
            if self.policy == POL_LWW:
                out.append(self.win[<int64_t>i * self.K + k])
            elif self.policy == POL_VV:
                out.append(tuple(sorted(self.sib[base + s] for s in range(self.nsib[<int64_t>i * self.K + k]))))
            else:
                p = tuple(self.pc[base + j] for j in range(self.M))
                q = tuple(self.nc[base + j] for j in range(self.M))
                out.append((sum(p) - sum(q), p, q))
        return out

    def context(self, int32_t i):
        """Leader i's causal context: a K x M array of per-leader write counts."""
        if not 0 <= i < self.M:
            raise ValueError(f"leader must be within 0..{self.M - 1}, got {i}")
        return np.asarray(<int32_t[:self.K * self.M]>(self.ctx + <int64_t>i * self.K * self.M)).reshape(
            self.K, self.M).copy()

    def in_flight(self):
        """Messages on the links now."""
        cdef int32_t i
        return int(sum(self.links[i].count for i in range(self.M * self.M)))

    def _check(self):
        """Assert the invariants: the event heap; every link's queue (FIFO arrival
        times, the head scheduled, the pool's free count); each leader's context
        (at most the writes executed, at least its own, the writes it got);
        lww: the winner is the largest (timestamp, leader) it got; vv: the
        siblings pairwise concurrent, each got here, every write got here under
        one; crdt: the counts are the maxima of the writes got; the clients'
        queues and sources; the counters."""
        cdef int32_t i, j, k, s, c, n
        cdef int32_t M = self.M, K = self.K
        cdef int64_t w, base, q, inflight = 0
        cdef double prev
        cdef Link* L
        cdef Msg* m
        cdef Client* cl
        ev_check(&self.ev)
        for i in range(M * M):
            L = &self.links[i]
            n = 0
            prev = -INFINITY
            j = L.head
            while j >= 0:
                m = <Msg*>self.pool.base + j
                assert m.t >= prev and m.t >= self.now, f"link {i}: arrivals out of order"
                assert not isfinite(self.w_arr[m.w * M + i % M]), "a write in flight is not there yet"
                prev = m.t
                n += 1
                if m.next < 0:
                    assert L.tail == j
                j = m.next
            assert n == L.count, (i, n, L.count)
            inflight += n
            assert ev_time(&self.ev, i) == ((<Msg*>self.pool.base + L.head).t if L.head >= 0 else INFINITY)
        assert pool_free_count(&self.pool) == self.pool.cap - inflight
        assert self.deliveries + inflight == self.n_writes * (M - 1), "every write goes to every other leader"
        wa = self.write_arrays()
        got = np.isfinite(wa["arrive"])
        for i in range(M):
            ctx = self.context(i)
            for k in range(K):
                for j in range(M):
                    assert ctx[k, j] <= self.issued[k * M + j]
            mine = got[:, i]
            for j in range(M):
                # its context covers every write it got and nothing a write it got did not know
                cover = np.zeros(K, np.int64)
                np.maximum.at(cover, wa["key"][mine], wa["vv"][mine, j])
                assert np.array_equal(cover, ctx[:, j]), f"leader {i}: context of leader {j}'s writes"
            st = self.state(i)
            for k in range(K):
                ws = np.flatnonzero(mine & (wa["key"] == k)) + 1
                if self.policy == POL_LWW:
                    best = 0
                    for w in ws:
                        if self._lww_wins(w, best):
                            best = w
                    assert st[k] == best, f"leader {i}, key {k}: winner {st[k]}, expected {best}"
                elif self.policy == POL_VV:
                    assert len(st[k]) <= M
                    for a in st[k]:
                        assert got[a - 1, i]
                        for b in st[k]:
                            if a != b:
                                assert not self._vv_le(a, b), f"leader {i}, key {k}: siblings {a} <= {b}"
                    for w in ws:
                        assert any(self._vv_le(w, a) for a in st[k]), f"write {w} lost at leader {i}"
                else:
                    for j in range(M):
                        sel = (wa["node"][ws - 1] == j)
                        assert st[k][1][j] == int(wa["pcount"][ws - 1][sel].max(initial=0))
                        assert st[k][2][j] == int(wa["ncount"][ws - 1][sel].max(initial=0))
        # clients
        queued = 0
        for c in range(self.C):
            cl = &self.cl[c]
            assert ev_time(&self.ev, self.src_client + c) == cl.t_phase
            if cl.op < 0:
                assert cl.state == CL_IDLE and cl.qhead < 0 and cl.t_phase == INFINITY
            q = cl.qhead
            while q >= 0:
                assert self.op_client[q] == c
                queued += 1
                if self.op_next[q] < 0:
                    assert cl.qtail == q
                q = self.op_next[q]
        busy = sum(1 for c in range(self.C) if self.cl[c].op >= 0)
        assert self.completed + busy + queued == self.issued_ops, (self.completed, busy, queued)
        assert self.n_reads + self.n_writes + self.failed <= self.issued_ops
        assert ev_time(&self.ev, self.src_arr) == self.next_arr
        if self.done:
            assert self.completed == self.issued_ops == self.ops and inflight == 0
        return True
