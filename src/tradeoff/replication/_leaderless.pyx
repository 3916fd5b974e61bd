"""The event loop of :func:`tradeoff.replication.leaderless.simulate`: a
Dynamo-style leaderless key-value store (DeCandia, Hastorun, Jampani,
Kakulapati, Lakshman, Pilchin, Sivasubramanian, Vosshall and Vogels, "Dynamo:
Amazon's highly available key-value store", SOSP 2007, sections 4.5-4.7; the
Apache Cassandra documentation, "Dynamo" and "Read repair" pages), in a
discrete-event simulation that runs without the GIL on the package's shared
event core (:mod:`tradeoff._core.events`).

Placement. ``M`` nodes on a ring, one token each; key k hashes to a home node
``mix64(k) mod M`` and its *preference list* is the ring walk from there: the
first ``N`` nodes own the key (with M = N every node owns every key, in a
per-key order), the rest are its fallbacks (Dynamo 4.3 and 4.6).

Requests. A client sends each request to a *coordinator*, a random node of the
key's targets (below), over a client leg. The coordinator computes the
*targets*: strict quorums take the live owners; a sloppy quorum (Dynamo 4.6)
takes the first N live nodes of the preference list, and each fallback among
them carries a *hint* naming a dead owner (in order). Fewer than W targets (a
write), R (a read) or max(R, W) (a read with blocking repair) and the
coordinator answers "unavailable" at once (Cassandra's UnavailableException:
a definite failure). Otherwise it sends the request to every target and answers
the client after W write acknowledgements, or after R read replies with the
newest version among them.

Versions and last-writer-wins. A write's version is ``(ts, value)``: ``ts`` the
coordinator's clock when the request arrives (the true time plus the node's
clock offset, fixed per node: ``clock_skew``), ``value`` unique per write
(ties on ts go to the larger value). A replica keeps the newer of what it holds
and what it receives (Cassandra's cell timestamps, LWW). A replica that never
saw a write of the key holds version (-inf, 0), the initial value.

Message legs, per replica as in PBS's WARS model (Bailis, Venkataraman,
Franklin, Hellerstein and Stoica, "Probabilistically bounded staleness for
practical partial quorums", VLDB 2012): W (write and write-back requests,
repairs, hints), A (their acknowledgements), R (read requests), S (read
replies); the coordinator's own replica is reached through the same legs (the
storage component is a separate hop, as in WARS). A replica applies a write and
reads its state when the request *arrives*.

Read repair. ``off``; ``async``: Dynamo's (4.5): after answering, the
coordinator waits for the outstanding replies and writes the newest version
back to every replica that replied with an older one (no acknowledgements);
``blocking``: the second phase of ABD (Attiya, Bar-Noy and Dolev, "Sharing
memory robustly in message-passing systems", JACM 1995): before answering, the
newest version must be on W targets: the replies that carried it count, the
other targets get a write-back and the coordinator waits for enough
acknowledgements. With R + W > N and no failures, quorum reads and writes are
then linearizable (writes take their version from the real-time clock).

Failures. Nodes crash and recover at given times (``failures``); a crashed node
keeps its data (durable storage), loses its coordinator state (records in
progress become orphans: their messages still arrive and are counted, nothing
answers), and drops every message that arrives while it is down. A client whose
answer does not come within ``timeout`` gives up: a read *fails*, a write ends
as *info* (Jepsen's meaning: it may have taken effect). Hinted handoff: a
fallback stores a hinted write (in its store too, so a sloppy read of it sees
it) and a hint; when the owner recovers (or the holder, whichever is later),
the holder sends the hint (W leg); a hint that reaches a dead owner waits for
the next recovery.

Partitions (``partitions``: segments of constant connectivity, a group per
node and segment, from :func:`tradeoff.replication.partitions.timeline`; the
segment changes are events of the failure schedule, after the crashes and
recoveries of the same instant). Two nodes can talk iff their groups are
equal. Client c sits beside node ``c mod M``: its coordinator is a random
target among the nodes on its side (none: unavailable at once), and a request
that reaches a coordinator no longer on its side is lost (the client times
out); answers are not cut. A coordinator's targets are the nodes on *its* side
(a sloppy quorum takes fallbacks there, with hints for the owners it cannot
reach, delivered when holder and owner can talk again and are up). A message
between nodes (it carries its sender) that arrives across a cut is **held**
until the two can talk again (``held`` counts them), as the multi-leader
simulator does; then it is delivered as usual (dropped if its receiver is
down). Anti-entropy runs within each side. With no partition every node is in
group 0 and the simulation is the one without partitions, event for event.

Anti-entropy (Dynamo 4.7 compares Merkle trees per pair of replicas): every
``anti_entropy`` seconds, while operations remain, every pair of live owners of
every key is brought to the newest version among them, instantly; the count of
(replica, key) copies updated is what a Merkle exchange would transfer.

What the exchange costs is measured before each round, as Dynamo 4.7 does it:
the keys of each *range* (the keys whose home is node g; owned by nodes g ..
g + N - 1) are split into ``leaves`` buckets (key order within the range,
bucket ``o * leaves // count`` for the o-th key); a leaf's hash is the sum mod
2^64 of ``mix64(value ^ mix64(key + 1))`` over its keys (values are unique per
write; 0 for the initial one), an inner node's the sum of its children's. For
every range and every pair of live owners on one side the two trees are
compared top-down (Merkle, "A digital signature based on a conventional
encryption function", CRYPTO 1987): the root, then the two children of every
inner node that differs (``ae_merkle_hashes`` counts the hashes compared), and
both replicas send every key of each differing leaf (``ae_merkle_keys``);
``ae_full_keys`` counts what a full exchange of the range would send (both
replicas, every key), and ``ae_keys`` the copies actually updated (the least
any exchange must send).

Event sources (at most one pending event each; ties go to the lower number):
0 the failure schedule, 1 the anti-entropy timer, 2 + c client c (its request
reaching the coordinator, its answer reaching it, its timeout, its next
operation), 2 + C + j message slot j (a request and its reply share a slot).
Slots come from a LIFO free list (64 to start, doubled when empty, the event
heap rebuilt), so a pure-Python model replays the same order.

Randomness: xoshiro256** streams (``tradeoff._core.rng``) for the replica legs
(all W/A/R/S draws, in send order), the client legs, the coordinator choice,
and per client its operations and think times, all from the seed.
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.math cimport INFINITY, NAN, isfinite, isnan
from cpython.mem cimport PyMem_RawFree

import numpy as np

from tradeoff._core.rng cimport Rng, rng_seed, rng_uniform, rng_below, rng_exponential
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.dist cimport Dist, dist_draw, dist_set
from tradeoff._core.dist import DISTS
from tradeoff._core.events cimport (Events, ev_init, ev_free, ev_schedule, ev_next, ev_time,
                                    ev_check)
from tradeoff._core.debug cimport DEBUG_ASSERT


# read repair
cdef enum:
    RR_OFF = 0
    RR_ASYNC = 1
    RR_BLOCKING = 2

cdef enum:
    OP_READ = 0
    OP_WRITE = 1

# operation outcomes, and why one failed
cdef enum:
    ST_PENDING = 0
    ST_OK = 1
    ST_FAIL = 2
    ST_INFO = 3

cdef enum:
    WHY_NONE = 0
    WHY_UNAVAILABLE = 1
    WHY_TIMEOUT = 2

# client states
cdef enum:
    CL_IDLE = 0       # waiting to issue its next operation (t_phase)
    CL_REQ = 1        # request in flight to the coordinator (arrives at t_phase)
    CL_WAIT = 2       # the coordinator works on it
    CL_RESP = 3       # the answer is in flight (arrives at t_phase)
    CL_LOST = 4       # request lost (a dead coordinator): waits for the timeout
    CL_DONE = 5

# message kinds
cdef enum:
    M_FREE = 0
    M_WRITE = 1       # coordinator -> replica, W leg; becomes M_ACK
    M_ACK = 2         # replica -> coordinator, A leg
    M_READ = 3        # R leg; becomes M_REPLY
    M_REPLY = 4       # S leg
    M_WB = 5          # blocking read repair: write-back, W leg; becomes M_WB_ACK
    M_WB_ACK = 6      # A leg
    M_REPAIR = 7      # async read repair, W leg, no acknowledgement
    M_HINT = 8        # hinted handoff, holder -> owner, W leg

# a record's phase
cdef enum:
    PH_QUORUM = 0     # waiting for W acks / R replies
    PH_WB = 1         # blocking read repair: waiting for write-back acks
    PH_DONE = 2       # answered (or orphaned): only counting replies

# hint states
cdef enum:
    H_PENDING = 0
    H_FLIGHT = 1
    H_DONE = 2

REPAIRS = {"off": RR_OFF, "async": RR_ASYNC, "blocking": RR_BLOCKING}
SLOTS0 = 64       # message slots to start with (the Python model mirrors it)


cdef inline bint newer(double ts1, int64_t v1, double ts2, int64_t v2) noexcept nogil:
    """Version (ts1, v1) is newer than (ts2, v2) under last-writer-wins."""
    return ts1 > ts2 or (ts1 == ts2 and v1 > v2)


cdef struct Msg:
    int32_t kind
    int32_t src          # the node at the other end (-1: none); a cut between src and dst holds it
    int32_t dst          # the node it goes to
    int32_t key
    int32_t rec          # the coordinator record (-1: none)
    int32_t idx          # the target's index in the record
    int32_t owner        # a hinted write: the owner it stands in for; a hint: its index
    double ts
    int64_t val


cdef struct Rec:
    int32_t client
    int32_t kind
    int32_t key
    int32_t coord
    int32_t n_targets
    int32_t replies, acks, outstanding, wb_need, wb_acks
    int32_t phase
    int32_t next_free
    bint orphan          # its coordinator crashed
    bint answered
    int64_t op
    int64_t value        # a write's value
    double ts            # a write's version
    double best_ts       # a read: the newest version among the replies so far
    int64_t best_val


cdef struct Hint:
    int32_t holder, owner, key, state
    double ts
    int64_t val


cdef struct Client:
    Rng rng
    int32_t home         # the node it sits beside: c mod M (partitions)
    int32_t state
    int32_t kind
    int32_t key
    int32_t coord
    int32_t why          # the answer in flight: WHY_NONE (ok) or WHY_UNAVAILABLE
    int64_t value
    int64_t op
    double res_ts        # a read's answer
    int64_t res_val
    double t_phase
    double deadline
    double arrival
    int64_t reads, writes, ok, failed, info, timeouts, unavailable


cdef class Simulation:
    """One run (built and driven by ``leaderless.simulate``); ``run()`` releases
    the GIL.

    Memory: 16 bytes per (node, key) for the stores, about 60 per operation,
    48 per message in flight, 48 + 40 N per coordinator record in progress,
    32 per hint.
    """
    # configuration
    cdef int32_t N, M, R, W, C, K
    cdef int repair
    cdef bint sloppy, record
    cdef int64_t ops
    cdef double read_fraction, timeout, ae_period
    cdef Dist leg[4]              # W, A, R, S
    cdef Dist cli, think
    cdef double* cdf
    cdef double* skew             # per node clock offset (s)
    cdef int32_t* home            # per key its home node
    cdef double* fail_t
    cdef int32_t* fail_node
    cdef int8_t* fail_up
    cdef int32_t n_fail, next_fail
    cdef int32_t* sides           # [segment * M + node]: the node's group in that segment
    cdef double* seg_t            # when each segment starts
    cdef int32_t n_seg, seg
    cdef int32_t* side            # the current segment's row of sides

    # events
    cdef Events ev
    cdef int32_t src_client, src_msg

    cdef Rng r_net, r_cli, r_pick

    # nodes
    cdef bint* alive
    cdef double* st_ts            # [node * K + key]
    cdef int64_t* st_val

    # message slots
    cdef Msg* msg
    cdef int32_t* free_msg
    cdef int32_t n_free_msg, msg_cap

    # coordinator records
    cdef Rec* rec
    cdef int32_t* rt_node         # [rec * N + i]: target i
    cdef int32_t* rt_owner        # its hint's owner (-1: none)
    cdef int8_t* rt_got           # the reply arrived
    cdef double* rt_ts            # the reply's version
    cdef int64_t* rt_val
    cdef int32_t rec_cap, rec_free, n_rec

    # hints
    cdef Hint* hints
    cdef int64_t n_hints, hint_cap

    # clients
    cdef Client* cl
    cdef int32_t* tmp_nodes       # scratch (M)
    cdef int32_t* tmp_owner
    cdef int32_t* tmp_dead

    # operations, by number
    cdef int8_t* op_kind
    cdef int8_t* op_status
    cdef int8_t* op_why
    cdef int32_t* op_client
    cdef int32_t* op_key
    cdef int32_t* op_coord
    cdef int64_t* op_value        # written, or returned (0: the initial value)
    cdef double* op_ts            # the version written, or returned (-inf: initial; NaN: none)
    cdef double* op_invoke
    cdef double* op_done
    cdef double* op_commit        # a write: when its coordinator had W acks (NaN: never)
    cdef int64_t* val_op          # value -> the write's operation number

    # counters
    cdef public int64_t issued, completed, n_values, events, messages, dropped
    cdef public int64_t hints_stored, hints_delivered, repairs_sent, repairs_applied
    cdef public int64_t ae_rounds, ae_keys, unavailable_reads, unavailable_writes, orphaned, held
    cdef public int64_t ae_merkle_hashes, ae_merkle_keys, ae_full_keys
    cdef int32_t leaves           # Merkle leaves per range (a power of two)
    cdef int32_t* rk              # keys sorted by home node
    cdef int64_t* rk_off          # [g]: where range g starts in rk (M + 1 entries)
    cdef uint64_t* lh             # scratch: leaf hashes [owner * leaves + leaf]
    cdef public double now
    cdef public bint done

    def __cinit__(self):
        cdef int i
        self.cdf = NULL
        self.skew = NULL
        self.home = NULL
        self.fail_t = NULL
        self.fail_node = NULL
        self.fail_up = NULL
        self.sides = NULL
        self.seg_t = NULL
        self.rk = NULL
        self.rk_off = NULL
        self.lh = NULL
        for i in range(4):
            self.leg[i].arr = NULL
        self.cli.arr = NULL
        self.think.arr = NULL
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0
        self.alive = NULL
        self.st_ts = NULL
        self.st_val = NULL
        self.msg = NULL
        self.free_msg = NULL
        self.rec = NULL
        self.rt_node = NULL
        self.rt_owner = NULL
        self.rt_got = NULL
        self.rt_ts = NULL
        self.rt_val = NULL
        self.hints = NULL
        self.cl = NULL
        self.tmp_nodes = NULL
        self.tmp_owner = NULL
        self.tmp_dead = NULL
        self.op_kind = NULL
        self.op_status = NULL
        self.op_why = NULL
        self.op_client = NULL
        self.op_key = NULL
        self.op_coord = NULL
        self.op_value = NULL
        self.op_ts = NULL
        self.op_invoke = NULL
        self.op_done = NULL
        self.op_commit = NULL
        self.val_op = NULL

    def __dealloc__(self):
        cdef int i
        PyMem_RawFree(self.cdf)
        PyMem_RawFree(self.skew)
        PyMem_RawFree(self.home)
        PyMem_RawFree(self.fail_t)
        PyMem_RawFree(self.fail_node)
        PyMem_RawFree(self.fail_up)
        PyMem_RawFree(self.sides)
        PyMem_RawFree(self.seg_t)
        PyMem_RawFree(self.rk)
        PyMem_RawFree(self.rk_off)
        PyMem_RawFree(self.lh)
        for i in range(4):
            PyMem_RawFree(self.leg[i].arr)
        PyMem_RawFree(self.cli.arr)
        PyMem_RawFree(self.think.arr)
        ev_free(&self.ev)
        PyMem_RawFree(self.alive)
        PyMem_RawFree(self.st_ts)
        PyMem_RawFree(self.st_val)
        PyMem_RawFree(self.msg)
        PyMem_RawFree(self.free_msg)
        PyMem_RawFree(self.rec)
        PyMem_RawFree(self.rt_node)
        PyMem_RawFree(self.rt_owner)
        PyMem_RawFree(self.rt_got)
        PyMem_RawFree(self.rt_ts)
        PyMem_RawFree(self.rt_val)
        PyMem_RawFree(self.hints)
        PyMem_RawFree(self.cl)
        PyMem_RawFree(self.tmp_nodes)
        PyMem_RawFree(self.tmp_owner)
        PyMem_RawFree(self.tmp_dead)
        PyMem_RawFree(self.op_kind)
        PyMem_RawFree(self.op_status)
        PyMem_RawFree(self.op_why)
        PyMem_RawFree(self.op_client)
        PyMem_RawFree(self.op_key)
        PyMem_RawFree(self.op_coord)
        PyMem_RawFree(self.op_value)
        PyMem_RawFree(self.op_ts)
        PyMem_RawFree(self.op_invoke)
        PyMem_RawFree(self.op_done)
        PyMem_RawFree(self.op_commit)
        PyMem_RawFree(self.val_op)

    def __init__(self, int32_t n, int32_t nodes, int32_t r, int32_t w, int repair, bint sloppy,
                 int32_t clients, int64_t ops, double read_fraction, int32_t keys, cdf, legs, cli,
                 think, double timeout, skew, failures, double anti_entropy, bint record,
                 uint64_t seed, partitions=None, int32_t leaves=16):
        """``legs``: four (kind, mean, array or None) for W, A, R, S, as in
        :data:`DISTS` (seconds); ``cli`` the client legs, ``think`` the think
        time; ``cdf``: None (uniform keys) or the keys' CDF; ``skew``: each
        node's clock offset (float64, seconds); ``failures``: (times, nodes,
        up) arrays sorted by time (up 1: the node recovers, 0: it crashes);
        ``anti_entropy``: the period (s), 0 for none; ``partitions``: None, or
        (times, sides): segment s starts at times[s] (times[0] = 0) and node i
        is in group sides[s, i]; the failure schedule then holds an entry
        (t, s, up=2) for each segment s > 0 starting at t."""
        cdef int32_t i, c
        cdef int64_t j
        cdef const double[::1] dv
        cdef const int32_t[::1] iv
        cdef const int8_t[::1] bv
        if n < 1 or nodes < n:
            raise ValueError(f"need n >= 1 and nodes >= n, got n={n}, nodes={nodes}")
        if not (1 <= r <= n and 1 <= w <= n):
            raise ValueError(f"r and w must be within 1..n={n}, got r={r}, w={w}")
        if clients < 1 or ops < 0 or keys < 1:
            raise ValueError(f"need clients >= 1, ops >= 0, keys >= 1, got {clients}, {ops}, {keys}")
        if repair not in (RR_OFF, RR_ASYNC, RR_BLOCKING):
            raise ValueError(f"unknown read repair {repair}")
        if not (timeout > 0):
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if not (anti_entropy >= 0 and isfinite(anti_entropy)):
            raise ValueError(f"anti_entropy must be finite and >= 0, got {anti_entropy!r}")
        if <int64_t>nodes * keys > (<int64_t>1 << 40):
            raise ValueError(f"nodes * keys = {<int64_t>nodes * keys} is too large")
        self.N = n
        self.M = nodes
        self.R = r
        self.W = w
        self.repair = repair
        self.sloppy = sloppy
        self.C = clients
        self.K = keys
        self.ops = ops
        self.read_fraction = read_fraction
        self.timeout = timeout
        self.ae_period = anti_entropy
        self.record = record
        if len(legs) != 4:
            raise ValueError("legs: four distributions (W, A, R, S)")
        for i in range(4):
            dist_set(&self.leg[i], legs[i], "WARS"[i])
        dist_set(&self.cli, cli, "client")
        dist_set(&self.think, think, "think")
        if cdf is not None:
            dv = np.ascontiguousarray(cdf, dtype=np.float64)
            if dv.shape[0] != keys:
                raise ValueError(f"the key CDF has {dv.shape[0]} entries for {keys} keys")
            mem_resize(<void**>&self.cdf, keys * sizeof(double))
            for j in range(keys):
                self.cdf[j] = dv[j]
            self.cdf[keys - 1] = 1.0
        dv = np.ascontiguousarray(skew, dtype=np.float64)
        if dv.shape[0] != nodes:
            raise ValueError(f"skew: {dv.shape[0]} clock offsets for {nodes} nodes")
        mem_resize(<void**>&self.skew, nodes * sizeof(double))
        for i in range(nodes):
            if not isfinite(dv[i]):
                raise ValueError(f"skew: clock offsets must be finite, got {dv[i]!r}")
            self.skew[i] = dv[i]
        mem_resize(<void**>&self.home, keys * sizeof(int32_t))
        for j in range(keys):
            self.home[j] = <int32_t>(mix64(<uint64_t>j) % <uint64_t>nodes)
        if leaves < 1 or (leaves & (leaves - 1)) != 0 or leaves > (1 << 20):
            raise ValueError(f"leaves must be a power of two within 1..2^20, got {leaves}")
        self.leaves = leaves
        mem_zeroed(<void**>&self.rk_off, (nodes + 1) * sizeof(int64_t))
        mem_resize(<void**>&self.rk, keys * sizeof(int32_t))
        mem_resize(<void**>&self.lh, <int64_t>n * leaves * sizeof(uint64_t))
        for j in range(keys):
            self.rk_off[self.home[j] + 1] += 1
        for i in range(nodes):
            self.rk_off[i + 1] += self.rk_off[i]
        fill = np.zeros(nodes, np.int64)
        for j in range(keys):
            self.rk[self.rk_off[self.home[j]] + fill[self.home[j]]] = <int32_t>j
            fill[self.home[j]] += 1
        cdef const int32_t[:, ::1] sv
        if partitions is None:
            self.n_seg = 1
            mem_resize(<void**>&self.seg_t, sizeof(double))
            mem_zeroed(<void**>&self.sides, nodes * sizeof(int32_t))
            self.seg_t[0] = 0.0
        else:
            ptimes, psides = partitions
            dv = np.ascontiguousarray(ptimes, dtype=np.float64)
            sv = np.ascontiguousarray(psides, dtype=np.int32)
            if dv.shape[0] < 1 or sv.shape[0] != dv.shape[0] or sv.shape[1] != nodes or dv[0] != 0.0:
                raise ValueError("partitions: (times from 0, one row of groups per time, one group per node)")
            self.n_seg = <int32_t>dv.shape[0]
            mem_resize(<void**>&self.seg_t, self.n_seg * sizeof(double))
            mem_resize(<void**>&self.sides, <int64_t>self.n_seg * nodes * sizeof(int32_t))
            for j in range(self.n_seg):
                if j > 0 and not (dv[j] > dv[j - 1] and isfinite(dv[j])):
                    raise ValueError("partitions: segment times must increase")
                self.seg_t[j] = dv[j]
                for i in range(nodes):
                    self.sides[j * nodes + i] = sv[j, i]
        self.seg = 0
        self.side = self.sides
        times, fnodes, ups = failures
        dv = np.ascontiguousarray(times, dtype=np.float64)
        iv = np.ascontiguousarray(fnodes, dtype=np.int32)
        bv = np.ascontiguousarray(ups, dtype=np.int8)
        if not (dv.shape[0] == iv.shape[0] == bv.shape[0]):
            raise ValueError("failures: times, nodes and up must have one length")
        self.n_fail = <int32_t>dv.shape[0]
        mem_resize(<void**>&self.fail_t, (self.n_fail + 1) * sizeof(double))
        mem_resize(<void**>&self.fail_node, (self.n_fail + 1) * sizeof(int32_t))
        mem_resize(<void**>&self.fail_up, (self.n_fail + 1) * sizeof(int8_t))
        for i in range(self.n_fail):
            if not (dv[i] >= 0 and isfinite(dv[i])) or (i > 0 and dv[i] < dv[i - 1]):
                raise ValueError("failures: times must be finite, >= 0 and sorted")
            if bv[i] == 2:
                if not 0 < iv[i] < self.n_seg or self.seg_t[iv[i]] != dv[i]:
                    raise ValueError(f"failures: no partition segment {iv[i]} starts at {dv[i]!r}")
            elif not 0 <= iv[i] < nodes:
                raise ValueError(f"failures: node {iv[i]} is not within 0..{nodes - 1}")
            self.fail_t[i] = dv[i]
            self.fail_node[i] = iv[i]
            self.fail_up[i] = 2 if bv[i] == 2 else (1 if bv[i] else 0)

        rng_seed(&self.r_net, mix64(seed ^ <uint64_t>0x6c65676c65737321ULL))
        rng_seed(&self.r_cli, mix64(seed ^ <uint64_t>0x636c69656e746c67ULL))
        rng_seed(&self.r_pick, mix64(seed ^ <uint64_t>0x636f6f7264696e61ULL))

        mem_resize(<void**>&self.alive, nodes * sizeof(bint))
        for i in range(nodes):
            self.alive[i] = True
        mem_resize(<void**>&self.st_ts, <int64_t>nodes * keys * sizeof(double))
        mem_zeroed(<void**>&self.st_val, <int64_t>nodes * keys * sizeof(int64_t))
        for j in range(<int64_t>nodes * keys):
            self.st_ts[j] = -INFINITY
        mem_resize(<void**>&self.tmp_nodes, nodes * sizeof(int32_t))
        mem_resize(<void**>&self.tmp_owner, nodes * sizeof(int32_t))
        mem_resize(<void**>&self.tmp_dead, nodes * sizeof(int32_t))

        # records: a free list threaded through next_free
        self.rec_cap = 0
        self.rec_free = -1
        self.n_rec = 0
        self._grow_recs()
        self.n_hints = 0
        self.hint_cap = 16
        mem_resize(<void**>&self.hints, self.hint_cap * sizeof(Hint))

        # operations
        mem_zeroed(<void**>&self.op_kind, ops * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_status, ops * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_why, ops * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_client, ops * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_key, ops * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_coord, ops * sizeof(int32_t))
        mem_zeroed(<void**>&self.op_value, ops * sizeof(int64_t))
        mem_resize(<void**>&self.op_ts, ops * sizeof(double))
        mem_zeroed(<void**>&self.op_invoke, ops * sizeof(double))
        mem_zeroed(<void**>&self.op_done, ops * sizeof(double))
        mem_resize(<void**>&self.op_commit, ops * sizeof(double))
        mem_zeroed(<void**>&self.val_op, (ops + 1) * sizeof(int64_t))
        for j in range(ops):
            self.op_ts[j] = NAN
            self.op_commit[j] = NAN

        # sources and message slots
        self.src_client = 2
        self.src_msg = 2 + clients
        self.msg_cap = 0
        self.n_free_msg = 0
        self._grow_msgs()
        mem_zeroed(<void**>&self.cl, clients * sizeof(Client))
        for c in range(clients):
            rng_seed(&self.cl[c].rng, mix64(seed ^ <uint64_t>0x73657373696f6e73ULL
                                            ^ mix64(<uint64_t>c + 1)))
            self.cl[c].op = -1
            self.cl[c].home = c % nodes
            self.cl[c].state = CL_IDLE
            self.cl[c].t_phase = 0.0
            self.cl[c].deadline = INFINITY
            ev_schedule(&self.ev, self.src_client + c, 0.0)
        self.next_fail = 0
        if self.n_fail > 0:
            ev_schedule(&self.ev, 0, self.fail_t[0])
        if self.ae_period > 0:
            ev_schedule(&self.ev, 1, self.ae_period)
        self.now = 0.0

    # ------------------------------------------------------------------ storage
    cdef int _grow_msgs(self) except -1 nogil:
        """Double the message slots (64 to start) and rebuild the event heap; the
        new slots go on the free list so that the lowest is taken first."""
        cdef int32_t old = self.msg_cap, cap = 64 if self.msg_cap == 0 else 2 * self.msg_cap
        cdef int32_t i, n_src
        cdef Events fresh
        mem_resize(<void**>&self.msg, cap * sizeof(Msg))
        mem_resize(<void**>&self.free_msg, cap * sizeof(int32_t))
        for i in range(old, cap):
            self.msg[i].kind = M_FREE
        for i in range(cap - 1, old - 1, -1):
            self.free_msg[self.n_free_msg] = i
            self.n_free_msg += 1
        n_src = self.src_msg + cap
        fresh.key = NULL
        fresh.heap = NULL
        fresh.hpos = NULL
        ev_init(&fresh, n_src)
        if self.ev.n > 0:
            for i in range(self.ev.n):
                if self.ev.key[i] != INFINITY:
                    ev_schedule(&fresh, i, self.ev.key[i])
        ev_free(&self.ev)
        self.ev = fresh
        self.msg_cap = cap
        return 0

    cdef int _grow_recs(self) except -1 nogil:
        cdef int32_t old = self.rec_cap, cap = 64 if self.rec_cap == 0 else 2 * self.rec_cap
        cdef int32_t i
        cdef int64_t n = self.N
        mem_resize(<void**>&self.rec, cap * sizeof(Rec))
        mem_resize(<void**>&self.rt_node, cap * n * sizeof(int32_t))
        mem_resize(<void**>&self.rt_owner, cap * n * sizeof(int32_t))
        mem_resize(<void**>&self.rt_got, cap * n * sizeof(int8_t))
        mem_resize(<void**>&self.rt_ts, cap * n * sizeof(double))
        mem_resize(<void**>&self.rt_val, cap * n * sizeof(int64_t))
        for i in range(cap - 1, old - 1, -1):
            self.rec[i].phase = PH_DONE
            self.rec[i].client = -1
            self.rec[i].next_free = self.rec_free
            self.rec_free = i
        self.rec_cap = cap
        return 0

    cdef int32_t _new_msg(self, int32_t kind, int32_t dst, int32_t key, int32_t rec, int32_t idx,
                          double ts, int64_t val, double t) except -1 nogil:
        """Take a free slot for a message arriving at t."""
        cdef int32_t s
        cdef Msg* m
        if self.n_free_msg == 0:
            self._grow_msgs()
        self.n_free_msg -= 1
        s = self.free_msg[self.n_free_msg]
        m = &self.msg[s]
        m.kind = kind
        m.src = -1
        m.dst = dst
        m.key = key
        m.rec = rec
        m.idx = idx
        m.owner = -1
        m.ts = ts
        m.val = val
        self.messages += 1
        ev_schedule(&self.ev, self.src_msg + s, t)
        return s

    cdef inline void _free_msg(self, int32_t s) noexcept nogil:
        self.msg[s].kind = M_FREE
        ev_schedule(&self.ev, self.src_msg + s, INFINITY)
        self.free_msg[self.n_free_msg] = s
        self.n_free_msg += 1

    cdef int32_t _new_rec(self) except -1 nogil:
        cdef int32_t i
        if self.rec_free < 0:
            self._grow_recs()
        i = self.rec_free
        self.rec_free = self.rec[i].next_free
        self.n_rec += 1
        return i

    cdef int _free_rec(self, int32_t i) except -1 nogil:
        """Release a record with nothing in flight; async read repair first."""
        cdef Rec* rc = &self.rec[i]
        cdef int32_t j, s
        cdef int64_t b = <int64_t>i * self.N
        cdef double bt = -INFINITY
        cdef int64_t bv = 0
        if rc.kind == OP_READ and self.repair == RR_ASYNC and not rc.orphan:
            # Dynamo 4.5: the newest of every reply goes back to the stale repliers
            for j in range(rc.n_targets):
                if self.rt_got[b + j] and newer(self.rt_ts[b + j], self.rt_val[b + j], bt, bv):
                    bt = self.rt_ts[b + j]
                    bv = self.rt_val[b + j]
            for j in range(rc.n_targets):
                if self.rt_got[b + j] and newer(bt, bv, self.rt_ts[b + j], self.rt_val[b + j]):
                    self.repairs_sent += 1
                    s = self._new_msg(M_REPAIR, self.rt_node[b + j], rc.key, -1, j, bt, bv,
                                      self.now + dist_draw(&self.leg[0], &self.r_net))
                    self.msg[s].src = self.rec[i].coord
                    rc = &self.rec[i]
        rc.phase = PH_DONE
        rc.client = -1
        rc.next_free = self.rec_free
        self.rec_free = i
        self.n_rec -= 1
        return 0

    cdef inline bint _apply(self, int32_t node, int32_t key, double ts, int64_t val) noexcept nogil:
        """Last-writer-wins at a replica; whether it changed."""
        cdef int64_t p = <int64_t>node * self.K + key
        if newer(ts, val, self.st_ts[p], self.st_val[p]):
            self.st_ts[p] = ts
            self.st_val[p] = val
            return True
        return False

    cdef int _add_hint(self, int32_t holder, int32_t owner, int32_t key, double ts,
                       int64_t val) except -1 nogil:
        cdef Hint* h
        if self.n_hints == self.hint_cap:
            self.hint_cap *= 2
            mem_resize(<void**>&self.hints, self.hint_cap * sizeof(Hint))
        h = &self.hints[self.n_hints]
        h.holder = holder
        h.owner = owner
        h.key = key
        h.state = H_PENDING
        h.ts = ts
        h.val = val
        self.n_hints += 1
        self.hints_stored += 1
        return 0

    cdef int32_t _targets(self, int32_t key, int32_t frm) noexcept nogil:
        """The key's targets now, as node ``frm`` sees them (the live nodes on
        its side), into ``tmp_nodes`` (their hints' owners in ``tmp_owner``);
        returns how many."""
        cdef int32_t i, node, n = 0, dead = 0, used = 0, h = self.home[key]
        cdef int32_t me = self.side[frm]
        for i in range(self.M):
            node = h + i
            if node >= self.M:
                node -= self.M
            if i < self.N:
                if self.alive[node] and self.side[node] == me:
                    self.tmp_nodes[n] = node
                    self.tmp_owner[n] = -1
                    n += 1
                else:
                    self.tmp_dead[dead] = node
                    dead += 1
            elif not self.sloppy or n >= self.N:
                break
            elif self.alive[node] and self.side[node] == me:
                self.tmp_nodes[n] = node
                self.tmp_owner[n] = self.tmp_dead[used]
                used += 1
                n += 1
        return n

    # ------------------------------------------------------------------ run
    def run(self, int64_t max_events=-1):
        """Run to the end (every operation completed, every message delivered),
        or until ``max_events`` events (>= 0); returns whether it ended."""
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
            if src >= self.src_msg:
                self._msg_event(src - self.src_msg, t)
            elif src >= self.src_client:
                self._client_event(src - self.src_client, t)
            elif src == 1:
                self._anti_entropy(t)
            else:
                self._fail_event(t)
        self.done = True
        return 0

    # ------------------------------------------------------------------ messages
    cdef int _msg_event(self, int32_t s, double t) except -1 nogil:
        cdef Msg* m = &self.msg[s]
        cdef Rec* rc
        cdef int32_t k = m.kind, ri = m.rec, j
        cdef int64_t b
        if m.src >= 0 and self.side[m.src] != self.side[m.dst]:
            # across a cut: held until the two can talk again
            self.held += 1
            ev_schedule(&self.ev, self.src_msg + s, self._reconnect(m.src, m.dst))
            return 0
        if k == M_WRITE or k == M_READ or k == M_WB:
            # a request reaches a replica
            if not self.alive[m.dst]:
                self.dropped += 1
                self._free_msg(s)
                self.rec[ri].outstanding -= 1
                if self.rec[ri].outstanding == 0:
                    self._free_rec(ri)
                return 0
            if k == M_READ:
                b = <int64_t>m.dst * self.K + m.key
                m.ts = self.st_ts[b]
                m.val = self.st_val[b]
                m.kind = M_REPLY
                ev_schedule(&self.ev, self.src_msg + s, t + dist_draw(&self.leg[3], &self.r_net))
                return 0
            if self._apply(m.dst, m.key, m.ts, m.val) and k == M_WB:
                self.repairs_applied += 1
            if k == M_WRITE and m.owner >= 0:
                self._add_hint(m.dst, m.owner, m.key, m.ts, m.val)
            m.kind = M_ACK if k == M_WRITE else M_WB_ACK
            ev_schedule(&self.ev, self.src_msg + s, t + dist_draw(&self.leg[1], &self.r_net))
            return 0
        if k == M_REPAIR:
            if self.alive[m.dst]:
                if self._apply(m.dst, m.key, m.ts, m.val):
                    self.repairs_applied += 1
            else:
                self.dropped += 1
            self._free_msg(s)
            return 0
        if k == M_HINT:
            j = m.owner
            if self.alive[m.dst]:
                self._apply(m.dst, m.key, m.ts, m.val)
                self.hints[j].state = H_DONE
                self.hints_delivered += 1
            else:
                self.dropped += 1
                self.hints[j].state = H_PENDING
            self._free_msg(s)
            return 0
        # a reply reaches the coordinator
        rc = &self.rec[ri]
        j = m.idx
        b = <int64_t>ri * self.N + j
        if rc.orphan:
            pass
        elif k == M_ACK:
            rc.acks += 1
            if rc.acks == self.W and rc.phase == PH_QUORUM:
                self.op_commit[rc.op] = t
                self._answer(ri, t)
        elif k == M_REPLY:
            self.rt_got[b] = 1
            self.rt_ts[b] = m.ts
            self.rt_val[b] = m.val
            rc.replies += 1
            if newer(m.ts, m.val, rc.best_ts, rc.best_val):
                rc.best_ts = m.ts
                rc.best_val = m.val
            if rc.replies == self.R and rc.phase == PH_QUORUM:
                self._read_quorum(ri, t)
        else:
            rc.wb_acks += 1
            if rc.wb_acks == rc.wb_need and rc.phase == PH_WB:
                self._answer(ri, t)
        self._free_msg(s)
        rc = &self.rec[ri]
        rc.outstanding -= 1
        if rc.outstanding == 0:
            self._free_rec(ri)
        return 0

    cdef double _reconnect(self, int32_t a, int32_t b) noexcept nogil:
        """When nodes a and b can talk again (the start of the next segment that
        puts them in one group; the last segment has every node in one)."""
        cdef int32_t g
        for g in range(self.seg + 1, self.n_seg):
            if self.sides[<int64_t>g * self.M + a] == self.sides[<int64_t>g * self.M + b]:
                return self.seg_t[g]
        return INFINITY

    cdef int _read_quorum(self, int32_t ri, double t) except -1 nogil:
        """R replies are in: answer, or (blocking repair) make sure the newest is
        on W targets first."""
        cdef Rec* rc = &self.rec[ri]
        cdef int32_t j, s, have = 0
        cdef int64_t b = <int64_t>ri * self.N
        if self.repair != RR_BLOCKING or rc.best_ts == -INFINITY:
            self._answer(ri, t)
            return 0
        for j in range(rc.n_targets):
            if self.rt_got[b + j] and self.rt_ts[b + j] == rc.best_ts and self.rt_val[b + j] == rc.best_val:
                have += 1
        if have >= self.W:
            self._answer(ri, t)
            return 0
        rc.phase = PH_WB
        rc.wb_need = self.W - have
        rc.wb_acks = 0
        for j in range(rc.n_targets):
            if not (self.rt_got[b + j] and self.rt_ts[b + j] == rc.best_ts
                    and self.rt_val[b + j] == rc.best_val):
                self.repairs_sent += 1
                s = self._new_msg(M_WB, self.rt_node[b + j], rc.key, ri, j, rc.best_ts, rc.best_val,
                                  t + dist_draw(&self.leg[0], &self.r_net))
                self.rec[ri].outstanding += 1
                self.msg[s].src = self.rec[ri].coord
                rc = &self.rec[ri]
        return 0

    cdef int _answer(self, int32_t ri, double t) except -1 nogil:
        """The coordinator answers the client (if it still waits for this op)."""
        cdef Rec* rc = &self.rec[ri]
        cdef Client* cl = &self.cl[rc.client]
        rc.phase = PH_DONE
        rc.answered = True
        if cl.state == CL_WAIT and cl.op == rc.op:
            if rc.kind == OP_READ:
                cl.res_ts = rc.best_ts
                cl.res_val = rc.best_val
            cl.why = WHY_NONE
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            self._sched(rc.client)
        return 0

    # ------------------------------------------------------------------ failures
    cdef int _fail_event(self, double t) except -1 nogil:
        cdef int32_t node = self.fail_node[self.next_fail], i
        cdef bint up = self.fail_up[self.next_fail] != 0
        self.next_fail += 1
        if self.fail_up[self.next_fail - 1] == 2:
            # the next partition segment: hints whose two ends can talk again go out
            self.seg = node
            self.side = self.sides + <int64_t>node * self.M
            self._send_hints(-1, t)
        elif up and not self.alive[node]:
            self.alive[node] = True
            # hinted handoff: hints for it, and hints it holds for live owners
            self._send_hints(node, t)
        elif not up and self.alive[node]:
            self.alive[node] = False
            # its coordinator state is gone
            for i in range(self.rec_cap):
                if self.rec[i].client >= 0 and self.rec[i].coord == node and not self.rec[i].orphan:
                    self.rec[i].orphan = True
                    self.rec[i].phase = PH_DONE
                    self.orphaned += 1
        ev_schedule(&self.ev, 0, self.fail_t[self.next_fail] if self.next_fail < self.n_fail else INFINITY)
        return 0

    cdef int _send_hints(self, int32_t node, double t) except -1 nogil:
        """Send the pending hints held or owned by ``node`` (-1: every pending
        hint) whose holder and owner are both up and can talk."""
        cdef int64_t i
        cdef Hint* h
        cdef int32_t s
        for i in range(self.n_hints):
            h = &self.hints[i]
            if (h.state == H_PENDING and (node < 0 or h.owner == node or h.holder == node)
                    and self.alive[h.holder] and self.alive[h.owner]
                    and self.side[h.holder] == self.side[h.owner]):
                h.state = H_FLIGHT
                s = self._new_msg(M_HINT, h.owner, h.key, -1, -1, h.ts, h.val,
                                  t + dist_draw(&self.leg[0], &self.r_net))
                self.msg[s].owner = <int32_t>i
                self.msg[s].src = h.holder
        return 0

    cdef int _merkle(self) except -1 nogil:
        """Count what comparing Merkle trees would exchange now (see the module's
        docstring): hashes compared and keys sent, and a full exchange's keys."""
        cdef int32_t g, i, j, a, b, L = self.leaves, leaf, x, y, span
        cdef int64_t lo, cnt, o, k
        cdef bint differs
        for g in range(self.M):
            lo = self.rk_off[g]
            cnt = self.rk_off[g + 1] - lo
            if cnt == 0:
                continue
            for i in range(self.N):
                a = (g + i) % self.M
                for leaf in range(L):
                    self.lh[i * L + leaf] = 0
                for o in range(cnt):
                    k = self.rk[lo + o]
                    leaf = <int32_t>(o * L // cnt)
                    self.lh[i * L + leaf] += mix64(<uint64_t>self.st_val[<int64_t>a * self.K + k]
                                                   ^ mix64(<uint64_t>k + 1))
            for i in range(self.N):
                a = (g + i) % self.M
                if not self.alive[a]:
                    continue
                for j in range(i + 1, self.N):
                    b = (g + j) % self.M
                    if not self.alive[b] or self.side[a] != self.side[b]:
                        continue
                    self.ae_full_keys += 2 * cnt
                    self.ae_merkle_hashes += 1            # the roots
                    span = L
                    while span > 1:
                        # each inner node of this level that differs: its two children are compared
                        x = 0
                        while x < L:
                            differs = False
                            for y in range(x, x + span):
                                if self.lh[i * L + y] != self.lh[j * L + y]:
                                    differs = True
                                    break
                            if differs:
                                self.ae_merkle_hashes += 2
                            x += span
                        span >>= 1
                    for leaf in range(L):
                        if self.lh[i * L + leaf] != self.lh[j * L + leaf]:
                            # keys o with o * L // cnt == leaf: from ceil(leaf cnt / L) on
                            self.ae_merkle_keys += 2 * (((leaf + 1) * cnt + L - 1) // L
                                                        - (leaf * cnt + L - 1) // L)
        return 0

    cdef int _anti_entropy(self, double t) except -1 nogil:
        """Bring the live owners of every key to the newest version among the
        live owners on their side (all of them when nothing is cut)."""
        cdef int32_t k, i, j, node, other, h
        cdef int64_t p
        cdef double bt
        cdef int64_t bv
        self.ae_rounds += 1
        self._merkle()
        for k in range(self.K):
            h = self.home[k]
            for i in range(self.N):
                node = (h + i) % self.M
                if not self.alive[node]:
                    continue
                bt = -INFINITY
                bv = 0
                for j in range(self.N):
                    other = (h + j) % self.M
                    p = <int64_t>other * self.K + k
                    if (self.alive[other] and self.side[other] == self.side[node]
                            and newer(self.st_ts[p], self.st_val[p], bt, bv)):
                        bt = self.st_ts[p]
                        bv = self.st_val[p]
                if self._apply(node, k, bt, bv):
                    self.ae_keys += 1
        ev_schedule(&self.ev, 1, t + self.ae_period if self.completed < self.ops else INFINITY)
        return 0

    # ------------------------------------------------------------------ clients
    cdef inline void _sched(self, int32_t c) noexcept nogil:
        cdef Client* cl = &self.cl[c]
        ev_schedule(&self.ev, self.src_client + c,
                    cl.t_phase if cl.t_phase <= cl.deadline else cl.deadline)

    cdef int _client_event(self, int32_t c, double t) except -1 nogil:
        cdef Client* cl = &self.cl[c]
        if cl.t_phase <= cl.deadline:
            if cl.state == CL_IDLE:
                self._issue(c, t)
            elif cl.state == CL_REQ:
                self._at_coord(c, t)
            else:
                DEBUG_ASSERT(cl.state == CL_RESP, "a client's timed step is its answer")
                if cl.why == WHY_NONE:
                    self._complete(c, t, ST_OK, WHY_NONE)
                else:
                    self._complete(c, t, ST_FAIL, cl.why)
        else:
            cl.timeouts += 1
            self._complete(c, t, ST_FAIL if cl.kind == OP_READ else ST_INFO, WHY_TIMEOUT)
        return 0

    cdef int _issue(self, int32_t c, double t) except -1 nogil:
        """Client c's next operation starts at t (if any is left)."""
        cdef Client* cl = &self.cl[c]
        cdef int64_t op
        cdef double u
        cdef int32_t lo, hi, mid, n
        if self.issued >= self.ops:
            cl.state = CL_DONE
            cl.t_phase = INFINITY
            cl.deadline = INFINITY
            self._sched(c)
            return 0
        op = self.issued
        self.issued += 1
        cl.op = op
        u = rng_uniform(&cl.rng)
        cl.kind = OP_READ if u < self.read_fraction else OP_WRITE
        if self.cdf == NULL:
            cl.key = <int32_t>rng_below(&cl.rng, <uint64_t>self.K)
        else:
            u = rng_uniform(&cl.rng)
            lo = 0
            hi = self.K - 1
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.cdf[mid] > u:
                    hi = mid
                else:
                    lo = mid + 1
            cl.key = lo
        if cl.kind == OP_WRITE:
            self.n_values += 1
            cl.value = self.n_values
            self.val_op[cl.value] = op
            cl.writes += 1
        else:
            cl.value = 0
            cl.reads += 1
        cl.arrival = t
        self.op_client[op] = c
        self.op_key[op] = cl.key
        self.op_invoke[op] = t
        self.op_kind[op] = <int8_t>cl.kind
        cl.deadline = t + self.timeout
        n = self._targets(cl.key, cl.home)
        if n == 0:
            # no node to send it to
            if cl.kind == OP_WRITE:
                self.unavailable_writes += 1
            else:
                self.unavailable_reads += 1
            cl.unavailable += 1
            cl.coord = -1
            cl.why = WHY_UNAVAILABLE
            cl.state = CL_RESP
            cl.t_phase = t
        else:
            cl.coord = self.tmp_nodes[rng_below(&self.r_pick, <uint64_t>n)]
            cl.state = CL_REQ
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
        self.op_coord[op] = cl.coord
        self._sched(c)
        return 0

    cdef int _at_coord(self, int32_t c, double t) except -1 nogil:
        """Client c's request reaches its coordinator."""
        cdef Client* cl = &self.cl[c]
        cdef int32_t n, need, ri, j, co = cl.coord
        cdef int64_t b
        cdef Rec* rc
        cdef int32_t s
        if not self.alive[co] or self.side[co] != self.side[cl.home]:
            cl.state = CL_LOST
            cl.t_phase = INFINITY
            self._sched(c)
            return 0
        n = self._targets(cl.key, co)
        if cl.kind == OP_WRITE:
            need = self.W
        elif self.repair == RR_BLOCKING:
            need = self.R if self.R > self.W else self.W
        else:
            need = self.R
        if n < need:
            if cl.kind == OP_WRITE:
                self.unavailable_writes += 1
            else:
                self.unavailable_reads += 1
            cl.unavailable += 1
            cl.why = WHY_UNAVAILABLE
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            self._sched(c)
            return 0
        ri = self._new_rec()
        rc = &self.rec[ri]
        rc.client = c
        rc.kind = cl.kind
        rc.key = cl.key
        rc.coord = co
        rc.n_targets = n
        rc.replies = 0
        rc.acks = 0
        rc.outstanding = n
        rc.wb_need = 0
        rc.wb_acks = 0
        rc.phase = PH_QUORUM
        rc.orphan = False
        rc.answered = False
        rc.op = cl.op
        rc.value = cl.value
        rc.best_ts = -INFINITY
        rc.best_val = 0
        b = <int64_t>ri * self.N
        if cl.kind == OP_WRITE:
            rc.ts = t + self.skew[co]
            self.op_ts[cl.op] = rc.ts
        else:
            rc.ts = NAN
        for j in range(n):
            self.rt_node[b + j] = self.tmp_nodes[j]
            self.rt_owner[b + j] = self.tmp_owner[j]
            self.rt_got[b + j] = 0
            self.rt_ts[b + j] = -INFINITY
            self.rt_val[b + j] = 0
        for j in range(n):
            if cl.kind == OP_WRITE:
                s = self._new_msg(M_WRITE, self.rt_node[b + j], cl.key, ri, j, self.rec[ri].ts,
                                  cl.value, t + dist_draw(&self.leg[0], &self.r_net))
                self.msg[s].owner = self.rt_owner[b + j]
            else:
                s = self._new_msg(M_READ, self.rt_node[b + j], cl.key, ri, j, 0.0, 0,
                                  t + dist_draw(&self.leg[2], &self.r_net))
            self.msg[s].src = co
        cl.state = CL_WAIT
        cl.t_phase = INFINITY
        self._sched(c)
        return 0

    cdef int _complete(self, int32_t c, double t, int status, int why) except -1 nogil:
        """Client c's operation ends at t; its next one starts after a think time."""
        cdef Client* cl = &self.cl[c]
        cdef int64_t op = cl.op
        cdef double a
        self.op_status[op] = <int8_t>status
        self.op_why[op] = <int8_t>why
        self.op_done[op] = t
        self.completed += 1
        if status == ST_OK:
            cl.ok += 1
            if cl.kind == OP_READ:
                self.op_value[op] = cl.res_val
                self.op_ts[op] = cl.res_ts
            else:
                self.op_value[op] = cl.value
        else:
            if cl.kind == OP_WRITE:
                self.op_value[op] = cl.value
            if status == ST_FAIL:
                cl.failed += 1
            else:
                cl.info += 1
        cl.op = -1
        cl.deadline = INFINITY
        if self.issued >= self.ops:
            cl.state = CL_DONE
            cl.t_phase = INFINITY
            self._sched(c)
            return 0
        a = t + dist_draw(&self.think, &cl.rng)
        cl.state = CL_IDLE
        cl.t_phase = a
        self._sched(c)
        return 0

    # ------------------------------------------------------------------ results
    def ops_arrays(self):
        """Per operation (by number): kind (0 read, 1 write), status (1 ok, 2 fail,
        3 info), why (0, 1 unavailable, 2 timeout), client, key, coordinator
        (-1: none), value (written, or returned: 0 the initial value), ts (the
        version written, or returned: -inf the initial one; NaN none), invoke,
        done and commit (a write's W-th acknowledgement; NaN: never) times."""
        cdef int64_t n = self.issued
        if n == 0:
            z = lambda d: np.zeros(0, d)
            return {"kind": z(np.int8), "status": z(np.int8), "why": z(np.int8), "client": z(np.int32),
                    "key": z(np.int32), "coord": z(np.int32), "value": z(np.int64), "ts": z(np.float64),
                    "invoke": z(np.float64), "done": z(np.float64), "commit": z(np.float64)}
        return {
            "kind": np.asarray(<int8_t[:n]>self.op_kind).copy(),
            "status": np.asarray(<int8_t[:n]>self.op_status).copy(),
            "why": np.asarray(<int8_t[:n]>self.op_why).copy(),
            "client": np.asarray(<int32_t[:n]>self.op_client).copy(),
            "key": np.asarray(<int32_t[:n]>self.op_key).copy(),
            "coord": np.asarray(<int32_t[:n]>self.op_coord).copy(),
            "value": np.asarray(<int64_t[:n]>self.op_value).copy(),
            "ts": np.asarray(<double[:n]>self.op_ts).copy(),
            "invoke": np.asarray(<double[:n]>self.op_invoke).copy(),
            "done": np.asarray(<double[:n]>self.op_done).copy(),
            "commit": np.asarray(<double[:n]>self.op_commit).copy(),
        }

    def stores(self):
        """The replicas' state now: (ts, value) arrays of shape (nodes, keys)."""
        cdef int64_t n = <int64_t>self.M * self.K
        ts = np.asarray(<double[:n]>self.st_ts).reshape(self.M, self.K).copy()
        val = np.asarray(<int64_t[:n]>self.st_val).reshape(self.M, self.K).copy()
        return ts, val

    def preference(self, int32_t key):
        """The key's preference list: every node, the N owners first."""
        return [(self.home[key] + i) % self.M for i in range(self.M)]

    def hint_arrays(self):
        """Per hint stored: holder, owner, key, state (0 pending, 1 in flight, 2 delivered)."""
        cdef int64_t i
        out = {"holder": np.zeros(self.n_hints, np.int32), "owner": np.zeros(self.n_hints, np.int32),
               "key": np.zeros(self.n_hints, np.int32), "state": np.zeros(self.n_hints, np.int8)}
        for i in range(self.n_hints):
            out["holder"][i] = self.hints[i].holder
            out["owner"][i] = self.hints[i].owner
            out["key"][i] = self.hints[i].key
            out["state"][i] = self.hints[i].state
        return out

    def alive_nodes(self):
        cdef int32_t i
        return np.array([bool(self.alive[i]) for i in range(self.M)])

    def session_arrays(self):
        """Per client: reads, writes, ok, failed, info, timeouts, unavailable."""
        names = ("reads", "writes", "ok", "failed", "info", "timeouts", "unavailable")
        out = {name: np.zeros(self.C, np.int64) for name in names}
        cdef int32_t c
        for c in range(self.C):
            out["reads"][c] = self.cl[c].reads
            out["writes"][c] = self.cl[c].writes
            out["ok"][c] = self.cl[c].ok
            out["failed"][c] = self.cl[c].failed
            out["info"][c] = self.cl[c].info
            out["timeouts"][c] = self.cl[c].timeouts
            out["unavailable"][c] = self.cl[c].unavailable
        return out

    @property
    def in_flight(self):
        """Messages in flight now."""
        return self.msg_cap - self.n_free_msg

    @property
    def records(self):
        """Coordinator records in progress now."""
        return self.n_rec

    def _check(self):
        """Assert the invariants: the event heap over the sources; the free
        lists (every slot free or in flight, exactly once; the records too); each
        record's outstanding count equals its messages in flight, its counts
        within its targets, its targets distinct; every stored version is a
        write that reached a coordinator, with that write's timestamp; hints
        delivered reached their owner's store; the clients' sources."""
        cdef int32_t i, s, ri, c, j
        cdef int64_t p, v, op, q
        cdef double a
        cdef Hint h
        cdef Msg* m
        cdef Rec* rc
        cdef Client* cl
        ev_check(&self.ev)
        assert self.ev.n == self.src_msg + self.msg_cap
        seen = np.zeros(self.msg_cap, bool)
        for i in range(self.n_free_msg):
            s = self.free_msg[i]
            assert not seen[s], f"slot {s} twice on the free list"
            seen[s] = True
            assert self.msg[s].kind == M_FREE and ev_time(&self.ev, self.src_msg + s) == INFINITY
        out = np.zeros(self.rec_cap, np.int64)
        for s in range(self.msg_cap):
            if seen[s]:
                continue
            m = &self.msg[s]
            assert M_WRITE <= m.kind <= M_HINT, (s, m.kind)
            assert self.now <= ev_time(&self.ev, self.src_msg + s) < INFINITY, (s, m.kind)
            if m.kind <= M_WB_ACK:
                assert 0 <= m.rec < self.rec_cap and self.rec[m.rec].client >= 0, (s, m.rec)
                out[m.rec] += 1
            if m.kind == M_HINT:
                assert self.hints[m.owner].state == H_FLIGHT
        free = np.zeros(self.rec_cap, bool)
        ri = self.rec_free
        while ri >= 0:
            assert not free[ri] and self.rec[ri].client < 0
            free[ri] = True
            ri = self.rec[ri].next_free
        assert int(np.count_nonzero(~free)) == self.n_rec
        for ri in range(self.rec_cap):
            rc = &self.rec[ri]
            if free[ri]:
                assert out[ri] == 0
                continue
            assert rc.outstanding == out[ri] > 0, (ri, rc.outstanding, out[ri])
            assert 1 <= rc.n_targets <= self.N
            assert 0 <= rc.replies <= rc.n_targets and 0 <= rc.acks <= rc.n_targets
            nodes = [self.rt_node[<int64_t>ri * self.N + j] for j in range(rc.n_targets)]
            assert len(set(nodes)) == len(nodes), nodes
            if rc.answered and rc.kind == OP_WRITE:
                assert rc.acks >= self.W
            if rc.phase == PH_WB:
                assert self.repair == RR_BLOCKING and 0 < rc.wb_need <= self.W and rc.wb_acks < rc.wb_need
        for p in range(<int64_t>self.M * self.K):
            v = self.st_val[p]
            if v == 0:
                assert self.st_ts[p] == -INFINITY
                continue
            assert 0 < v <= self.n_values
            op = self.val_op[v]
            assert self.op_key[op] == p % self.K and self.op_ts[op] == self.st_ts[p], (p, v)
        for p in range(self.n_hints):
            h = self.hints[p]
            assert h.state in (H_PENDING, H_FLIGHT, H_DONE)
            if h.state == H_DONE:
                q = <int64_t>h.owner * self.K + h.key
                assert not newer(h.ts, h.val, self.st_ts[q], self.st_val[q]), "a delivered hint is missing"
        for c in range(self.C):
            cl = &self.cl[c]
            a = cl.t_phase if cl.t_phase <= cl.deadline else cl.deadline
            assert ev_time(&self.ev, self.src_client + c) == a, (c, a)
            if cl.state == CL_DONE:
                assert a == INFINITY
            if cl.state in (CL_WAIT, CL_LOST):
                assert cl.t_phase == INFINITY and cl.deadline < INFINITY
        assert self.completed <= self.issued <= self.ops
        if self.done:
            assert self.completed == self.issued == self.ops and self.n_rec == 0
            assert self.n_free_msg == self.msg_cap
        return True


def staleness(const int32_t[::1] w_key, const double[::1] w_commit, const int64_t[::1] w_rank,
              const int64_t[::1] r_lo, const int64_t[::1] r_hi, const int64_t[::1] r_pos,
              const double[::1] r_start, const int32_t[::1] r_key, int32_t keys):
    """For each read: how many writes of its key that committed before it
    started are newer than what it returned (0: fresh; k-staleness is this + 1),
    and how long before its start the newest of them (in version order)
    committed (NaN: none had).

    Writes come in commit order (``w_commit`` sorted, finite), ``w_rank`` their
    rank in (key, version) order; a read returned the version of rank
    ``r_pos`` (``r_lo - 1`` for the initial value) and its key's writes hold
    ranks ``[r_lo, r_hi)``; reads come in start order. A Fenwick tree over the
    ranks: O((reads + writes) log writes)."""
    cdef int64_t nw = w_key.shape[0], nr = r_start.shape[0], m = 0, i, j, x, total
    cdef int64_t top
    behind = np.zeros(nr, np.int64)
    since = np.full(nr, np.nan)
    newest = np.full(keys, -1, np.int64)
    ncommit = np.full(keys, np.nan)
    cdef int64_t[::1] bv = behind, nv = newest
    cdef double[::1] sv = since, cv = ncommit
    m = r_hi[0] if nr else 0
    for i in range(nr):
        if r_hi[i] > m:
            m = r_hi[i]
    for i in range(nw):
        if w_rank[i] + 1 > m:
            m = w_rank[i] + 1
    tree = np.zeros(m + 1, np.int64)
    cdef int64_t[::1] tv = tree
    j = 0
    with nogil:
        for i in range(nr):
            while j < nw and w_commit[j] < r_start[i]:
                x = w_rank[j] + 1
                while x <= m:
                    tv[x] += 1
                    x += x & (-x)
                if w_rank[j] > nv[w_key[j]]:
                    nv[w_key[j]] = w_rank[j]
                    cv[w_key[j]] = w_commit[j]
                j += 1
            # committed writes with rank in (r_pos, r_hi)
            total = 0
            x = r_hi[i]
            while x > 0:
                total += tv[x]
                x -= x & (-x)
            x = r_pos[i] + 1
            while x > 0:
                total -= tv[x]
                x -= x & (-x)
            bv[i] = total
            top = nv[r_key[i]]
            if top >= r_lo[i]:
                sv[i] = r_start[i] - cv[r_key[i]]
    return behind, since
