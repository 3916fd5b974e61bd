"""The event loop of :func:`tradeoff.replication.leader.simulate`: single-leader
replication of a key-value store (Kleppmann, *Designing Data-Intensive
Applications*, O'Reilly 2017, ch. 5 "Leaders and Followers" and "Problems with
Replication Lag"), with clients that read and write, follower lag, session
guarantees, and leader failover, in a discrete-event simulation that runs
without the GIL on the package's shared event core
(:mod:`tradeoff._core.events`).

Times are in seconds. Events come from a fixed set of *sources*, each with at
most one pending event; ties in time go to the lower number, in this order:

- 0: the failover control (the next leader crash, or the promotion of a new
  leader ``detect`` seconds after a crash);
- 1 + r: the next log entry arriving at replica r from the leader (the link is
  FIFO, so the next one is always entry ``applied[r] + 1``);
- 1 + N + r: the next acknowledgement from replica r arriving at the leader
  (semisync and sync modes only);
- 1 + 2N + c: client c's next step (its request reaching a replica, its
  response reaching it, its timeout, or its next operation);
- 1 + 2N + C (only with partitions): the partition control (the next change
  of the schedule, or the end of a cut-off leader's lease).

The replicated log. There is one log array: ``log_stamp[1..log_len]`` is the
leader's log (the *stamp* of each entry; stamps count every append ever made,
so they increase along every replica's log and across leaders, and order the
versions of a key the way the log does). A replica's state is the prefix of
length ``applied[r]``: followers receive entries in log order over a FIFO link
(an entry's arrival is ``max(sent + delay, previous arrival)``) and apply each
on arrival, so every follower's log is a prefix of the leader's (Kleppmann's
"replication log", and the Log Matching property of Raft: Ongaro and
Ousterhout, "In search of an understandable consensus algorithm", USENIX ATC
2014). The key-value state of replica r is implicit: per key a chain of the
positions that wrote it (``head[k]``, ``log_prev[p]``); a read of key k at r
walks back from ``head[k]`` to the first position <= ``applied[r]``.

Writes. A client sends a write (key, a value unique to the operation) to the
replica it believes is the leader; the leader appends it and sends it to every
follower. ``async``: the leader answers the client at once; ``semisync=k``:
after k followers acknowledged the entry (MySQL's semisynchronous replication,
``rpl_semi_sync_master_wait_for_slave_count``; capped at the followers alive);
``sync``: after every live follower did. A follower acknowledges each entry as
it applies it (cumulatively: ``match[f]`` is the highest position acknowledged).

Failover (Kleppmann ch. 5, "Handling Node Outages: Leader failure"). At a crash
the leader stops; its unsent and in-flight messages are lost with it (the
one-way delay stands for the whole path, the sender's queues included), so an
entry that had reached no follower is gone. The followers notice ``detect``
seconds later (no heartbeat), and the live replica with the highest applied
position becomes the leader (Raft's "at least as up-to-date" rule, decided by a
controller, not by votes: the election itself takes no time here). Its log is
the new log: the old leader's entries beyond it (the divergent suffix) are
lost, and the new leader sends every follower the entries it misses. Requests
to the dead leader (and answers it never sends) time out at the client, which
retries against whoever is the leader by then, ``retries`` times, then gives
up: a read *fails*, a write is *info* (it may have taken effect; Jepsen's
meaning, Kingsbury, https://jepsen.io, and ``jepsen.history``).

Partitions (CP; ``partitions``: segments of constant connectivity, a group
per replica, from :func:`tradeoff.replication.partitions.timeline`). Client c
sits beside replica ``c mod N`` and reaches only the replicas on its side: an
attempt made while the leader of the moment is on another side is refused
after a client leg (*unavailable*: a read fails, a write fails if it was its
first attempt, else ends as info). Log entries and acknowledgements across a
cut are **held** and delivered when the two ends can talk again (as in the
multi-leader simulator), in order. The leader holds a lease of ``lease``
seconds: when its side holds no majority of the N replicas (live ones) it
cannot renew it and steps down when it expires (it stays up, as a follower);
then, as after a crash (the same promotion: Raft's "at least as up-to-date"
rule, Ongaro and Ousterhout 2014, section 5.4), the live replica with the
highest applied position *on a side holding a majority* leads, its log is the
log, and the old leader's divergent suffix is lost (every replica's applied
prefix is cut back to the new log: a minority replica serves no client, so
nothing sees it before it hears from the new leader at the heal). With no
majority anywhere nobody leads until a change of the schedule makes one (then
``detect`` seconds later). Crashes and partitions are not combined.

Session guarantees (Terry, Demers, Petersen, Spreitzer, Theimer and Welch,
"Session guarantees for weakly consistent replicated data", PDIS 1994; as
Kleppmann states them). Each client is one session, one operation at a time.
The *version* of a read is the stamp of the entry it returned (0: never
written). A completed read of key k by session s is a

- read-your-writes violation if its version is older than the session's latest
  acknowledged write of k;
- monotonic-reads violation if its version is older than a version of k that
  an earlier read of the session returned;
- consistent-prefix violation if the log holds a write of k that comes before
  (in log order) a write the session has already seen, and the read does not
  see it: with ``seen`` the newest version any earlier read of the session
  returned (of any key), the log has a write of k with a stamp in
  (version, seen]. The session has seen an effect without a cause that the log
  puts before it (Kleppmann's "Consistent Prefix Reads": the answer before the
  question). Every monotonic-reads violation is also one of these.

A read is *stale* when the replica answers with an older version of the key
than the log holds at that moment (the leader's log; between a crash and the
promotion, the dead leader's).

Operations. Closed loop: a client issues its next operation when the last one
completes (after a think time); open loop: each client's operations arrive as a
Poisson process and wait their turn in the session, and latency counts from the
arrival (so queueing shows, without coordinated omission). Keys are drawn by
inversion of a CDF (binary search) built by the caller, or uniformly.

Randomness: separate xoshiro256** streams (``tradeoff._core.rng``) for each
client's operations and think times, the replicas' links, the clients' links
and the choice of replica for a read, all from the seed; one-way delays are
drawn from an exponential, a constant, or uniformly from an array of measured
delays (resampling, as PBS does with its WARS distributions: Bailis,
Venkataraman, Franklin, Hellerstein and Stoica, "Probabilistically bounded
staleness for practical partial quorums", VLDB 2012).
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
from tradeoff._core.events cimport (Events, ev_init, ev_free, ev_schedule, ev_next, ev_time,
                                    ev_check)
from tradeoff._core.table cimport I64Table, i64t_init, i64t_free, i64t_find, i64t_put_at, i64t_grow
from tradeoff._core.debug cimport DEBUG_ASSERT


# replication modes
cdef enum:
    MODE_ASYNC = 0
    MODE_SEMISYNC = 1
    MODE_SYNC = 2

# where reads go
cdef enum:
    READ_LEADER = 0
    READ_FOLLOWER = 1     # a random live follower per read
    READ_ANY = 2          # a random live replica per read
    READ_STICKY = 3       # one follower per session

# operation kinds and outcomes (the op arrays)
cdef enum:
    OP_READ = 0
    OP_WRITE = 1

cdef enum:
    ST_PENDING = 0
    ST_OK = 1
    ST_FAIL = 2
    ST_INFO = 3

# client states
cdef enum:
    CL_IDLE = 0       # waiting to issue its next operation (t_phase)
    CL_REQ = 1        # request in flight to ``target`` (arrives at t_phase)
    CL_WAIT = 2       # write appended, waiting for the followers' acknowledgements
    CL_RESP = 3       # response in flight (arrives at t_phase)
    CL_LOST = 4       # request or response lost (a dead leader): waits for the timeout
    CL_DONE = 5

# the failover control's next step
cdef enum:
    FAIL_CRASH = 0
    FAIL_PROMOTE = 1

MODES = {"async": MODE_ASYNC, "semisync": MODE_SEMISYNC, "sync": MODE_SYNC}
READS = {"leader": READ_LEADER, "follower": READ_FOLLOWER, "any": READ_ANY, "sticky": READ_STICKY}
STATUS = {ST_PENDING: "pending", ST_OK: "ok", ST_FAIL: "fail", ST_INFO: "info"}


cdef struct Entry:
    double t             # when the leader appended it
    int64_t value
    int64_t pos          # its position in the log (kept when it is lost)
    int64_t attempt      # the attempt id of the client request it came from
    int32_t key
    int32_t leader       # the replica that appended it
    int32_t term         # that leader's term (0, 1, ... one per failover)
    int32_t waiter       # the client waiting for its acknowledgements, or -1
    int32_t acks         # follower acknowledgements its leader received
    int32_t need         # acknowledgements needed before the client is answered
    int32_t lost         # 0, or the failover (1, 2, ...) that truncated it
    int8_t acked         # a client received "ok" for it


cdef struct Replica:
    int64_t applied      # its log is log_stamp[1..applied]
    int64_t match        # the leader's view: the highest position it acknowledged
    double last_arr      # arrival of the last entry sent to it (the FIFO link)
    double last_ack      # arrival at the leader of its last acknowledgement
    bint alive
    int64_t* ack_pos     # ring of acknowledgements in flight to the leader
    double* ack_t
    int64_t ack_head, ack_len, ack_cap   # ack_cap: a power of two


cdef struct SessKey:
    int64_t ryw          # stamp of the session's latest acknowledged write of the key
    int64_t mr           # the newest version of the key the session has read


cdef struct Client:
    Rng rng              # its operations and think times / arrivals
    int32_t state
    int32_t kind
    int32_t key
    int32_t target       # the replica of the current attempt
    int32_t sticky       # READ_STICKY: its replica
    int32_t attempts     # sends of the current operation
    int64_t value        # the value a write writes
    int64_t op           # the operation's number (issue order), or -1
    int64_t attempt_id   # the current attempt's id (answers to older ones are ignored)
    int64_t result       # the stamp returned (read: the version; write: its entry)
    double t_phase       # the time of the next step (+inf: none)
    double deadline      # the current attempt's timeout (+inf: none)
    double arrival       # when the operation arrived (latency counts from here)
    double next_arrival  # open loop: the next operation's arrival
    int64_t seen         # the newest version any of its reads returned
    int32_t refused      # the answer in flight is "unavailable" (a partition)
    int32_t home         # the replica it sits beside: c mod N (partitions)
    int64_t reads, writes, ok, failed, info, timeouts
    int64_t ryw, mr, cp, stale


cdef struct Failover:
    double t_crash, t_promote, t_first_ok
    int32_t old, new
    int64_t len_crash    # the old leader's log length at the crash
    int64_t len_new      # the new leader's (what survives)
    int64_t lost         # entries truncated


cdef class Simulation:
    """One run (built and driven by ``leader.simulate``); ``run()`` releases the GIL.

    Memory: about 80 + 8 N bytes per write attempt (the entry, its log slot, its
    apply times), 18 bytes per operation (36 more with the history), about 48 per
    (session, key) pair touched (record and hash table), 8 per key.
    """
    # configuration
    cdef int32_t N, C, K
    cdef int mode, reads
    cdef int32_t k_semi
    cdef int64_t ops
    cdef double read_fraction, rate_per_client, timeout, detect
    cdef int32_t retries
    cdef bint record
    cdef Dist net, cli, think
    cdef double* cdf              # NULL: uniform keys
    cdef double* crash_times
    cdef int32_t n_crashes
    # partitions
    cdef int32_t src_cut          # the partition control's source (-1: no partitions)
    cdef int32_t* sides           # [segment * N + replica]: its group
    cdef double* seg_t
    cdef int32_t n_seg, seg
    cdef int32_t* side            # the current segment's row
    cdef double lease, elect_at
    cdef public int64_t unavailable, held, stepdowns

    # sources
    cdef Events ev
    cdef int32_t src_ack, src_client

    # randomness
    cdef Rng r_net, r_cli, r_pick

    # the log
    cdef Entry* entries           # by stamp (1..n_stamps)
    cdef double* apply            # [stamp * N + r]: when r applied it (NaN: not / never)
    cdef int64_t* log_stamp       # by position (1..log_len); [0] = 0
    cdef int64_t* log_prev        # the previous position that wrote the same key (0: none)
    cdef int64_t* head            # by key: the latest position that wrote it (0: none)
    cdef int64_t cap, n_stamps
    cdef public int64_t log_len

    # replicas
    cdef Replica* reps
    cdef int32_t* followers       # the live followers, in replica order
    cdef int32_t n_followers
    cdef int32_t* live            # the live replicas
    cdef int32_t n_live
    cdef public int32_t leader
    cdef public bint leader_alive
    cdef public int32_t term

    # failover
    cdef int fail_phase
    cdef int32_t next_crash
    cdef Failover* fo
    cdef public int32_t n_failovers

    # clients and sessions
    cdef Client* cl
    cdef I64Table sk              # (client * K + key) -> slot in ``sess``
    cdef SessKey* sess
    cdef int64_t n_sess, sess_cap

    # operations, by number
    cdef int8_t* op_kind
    cdef int8_t* op_status
    cdef double* op_lat
    cdef double* op_done
    # the history (``record``)
    cdef int32_t* op_client
    cdef int32_t* op_key
    cdef int64_t* op_value
    cdef int64_t* op_version
    cdef double* op_invoke
    cdef int32_t* op_attempts

    # counters
    cdef public int64_t issued, completed, n_values, attempt_seq, events, lost_entries
    cdef public double now
    cdef public bint done

    def __cinit__(self):
        self.cdf = NULL
        self.crash_times = NULL
        self.sides = NULL
        self.seg_t = NULL
        self.net.arr = NULL
        self.cli.arr = NULL
        self.think.arr = NULL
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0
        self.entries = NULL
        self.apply = NULL
        self.log_stamp = NULL
        self.log_prev = NULL
        self.head = NULL
        self.reps = NULL
        self.followers = NULL
        self.live = NULL
        self.fo = NULL
        self.cl = NULL
        self.sk.buckets = NULL
        self.sess = NULL
        self.op_kind = NULL
        self.op_status = NULL
        self.op_lat = NULL
        self.op_done = NULL
        self.op_client = NULL
        self.op_key = NULL
        self.op_value = NULL
        self.op_version = NULL
        self.op_invoke = NULL
        self.op_attempts = NULL
        self.N = 0

    def __dealloc__(self):
        cdef int32_t r
        PyMem_RawFree(self.cdf)
        PyMem_RawFree(self.crash_times)
        PyMem_RawFree(self.sides)
        PyMem_RawFree(self.seg_t)
        PyMem_RawFree(self.net.arr)
        PyMem_RawFree(self.cli.arr)
        PyMem_RawFree(self.think.arr)
        ev_free(&self.ev)
        PyMem_RawFree(self.entries)
        PyMem_RawFree(self.apply)
        PyMem_RawFree(self.log_stamp)
        PyMem_RawFree(self.log_prev)
        PyMem_RawFree(self.head)
        if self.reps != NULL:
            for r in range(self.N):
                PyMem_RawFree(self.reps[r].ack_pos)
                PyMem_RawFree(self.reps[r].ack_t)
        PyMem_RawFree(self.reps)
        PyMem_RawFree(self.followers)
        PyMem_RawFree(self.live)
        PyMem_RawFree(self.fo)
        PyMem_RawFree(self.cl)
        i64t_free(&self.sk)
        PyMem_RawFree(self.sess)
        PyMem_RawFree(self.op_kind)
        PyMem_RawFree(self.op_status)
        PyMem_RawFree(self.op_lat)
        PyMem_RawFree(self.op_done)
        PyMem_RawFree(self.op_client)
        PyMem_RawFree(self.op_key)
        PyMem_RawFree(self.op_value)
        PyMem_RawFree(self.op_version)
        PyMem_RawFree(self.op_invoke)
        PyMem_RawFree(self.op_attempts)

    def __init__(self, int32_t n, int mode, int32_t k, int reads, int32_t clients, int64_t ops,
                 double read_fraction, int32_t keys, cdf, net, cli, think, double rate,
                 crash_at, double detect, double timeout, int32_t retries, bint record,
                 uint64_t seed, partitions=None, double lease=0.0):
        """``net``, ``cli``, ``think``: (kind, mean, array or None) as in
        :data:`DISTS`; ``cdf``: None (uniform keys) or the keys' CDF (float64,
        ending at 1); ``rate``: total operations per second (<= 0: closed loop);
        ``crash_at``: increasing crash times (float64); ``partitions``: None or
        (times, sides) (segment g starts at times[g], times[0] = 0, replica r in
        group sides[g, r]); ``lease``: the leader's lease (s)."""
        cdef int32_t r, c
        cdef int64_t g
        cdef const double[::1] cv
        cdef const int32_t[:, ::1] sv
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if clients < 1 or ops < 0 or keys < 1:
            raise ValueError(f"need clients >= 1, ops >= 0, keys >= 1, got {clients}, {ops}, {keys}")
        if mode not in (MODE_ASYNC, MODE_SEMISYNC, MODE_SYNC):
            raise ValueError(f"unknown mode {mode}")
        if mode == MODE_SEMISYNC and not 1 <= k <= n - 1:
            raise ValueError(f"semisync k must be within 1..{n - 1}, got {k}")
        if reads not in (READ_LEADER, READ_FOLLOWER, READ_ANY, READ_STICKY):
            raise ValueError(f"unknown read policy {reads}")
        self.N = n
        self.C = clients
        self.K = keys
        self.mode = mode
        self.k_semi = k
        self.reads = reads
        self.ops = ops
        self.read_fraction = read_fraction
        self.rate_per_client = rate / clients if rate > 0 else 0.0
        self.detect = detect
        self.timeout = timeout
        self.retries = retries
        self.record = record
        dist_set(&self.net, net, "net")
        dist_set(&self.cli, cli, "cli")
        dist_set(&self.think, think, "think")
        if cdf is not None:
            cv = np.ascontiguousarray(cdf, dtype=np.float64)
            if cv.shape[0] != keys:
                raise ValueError(f"the key CDF has {cv.shape[0]} entries for {keys} keys")
            mem_resize(<void**>&self.cdf, keys * sizeof(double))
            for r in range(keys):
                self.cdf[r] = cv[r]
            self.cdf[keys - 1] = 1.0
        cv = np.ascontiguousarray(crash_at if crash_at is not None else np.zeros(0), dtype=np.float64)
        self.n_crashes = <int32_t>cv.shape[0]
        if self.n_crashes > n - 1:
            raise ValueError(f"{self.n_crashes} leader crashes need n >= {self.n_crashes + 1}, got n={n}")
        mem_resize(<void**>&self.crash_times, (self.n_crashes + 1) * sizeof(double))
        for r in range(self.n_crashes):
            self.crash_times[r] = cv[r]
        self.src_cut = -1
        self.n_seg = 1
        mem_zeroed(<void**>&self.seg_t, sizeof(double))
        mem_zeroed(<void**>&self.sides, n * sizeof(int32_t))
        if partitions is not None:
            if self.n_crashes > 0:
                raise ValueError("crash_at and partitions cannot be combined")
            ptimes, psides = partitions
            cv = np.ascontiguousarray(ptimes, dtype=np.float64)
            sv = np.ascontiguousarray(psides, dtype=np.int32)
            if cv.shape[0] < 1 or sv.shape[0] != cv.shape[0] or sv.shape[1] != n or cv[0] != 0.0:
                raise ValueError("partitions: (times from 0, one row of groups per time, one group per replica)")
            if not (lease >= 0 and isfinite(lease)):
                raise ValueError(f"lease must be finite and >= 0, got {lease!r}")
            self.n_seg = <int32_t>cv.shape[0]
            mem_resize(<void**>&self.seg_t, self.n_seg * sizeof(double))
            mem_resize(<void**>&self.sides, <int64_t>self.n_seg * n * sizeof(int32_t))
            for g in range(self.n_seg):
                if g > 0 and not (cv[g] > cv[g - 1] and isfinite(cv[g])):
                    raise ValueError("partitions: segment times must increase")
                self.seg_t[g] = cv[g]
                for r in range(n):
                    self.sides[g * n + r] = sv[g, r]
            self.src_cut = 1 + 2 * n + clients
        self.seg = 0
        self.side = self.sides
        self.lease = lease
        self.elect_at = INFINITY
        mem_zeroed(<void**>&self.fo, (self.n_crashes + self.n_seg + 1) * sizeof(Failover))

        rng_seed(&self.r_net, mix64(seed ^ <uint64_t>0x6e6574776f726b21ULL))
        rng_seed(&self.r_cli, mix64(seed ^ <uint64_t>0x636c69656e746e65ULL))
        rng_seed(&self.r_pick, mix64(seed ^ <uint64_t>0x7069636b72657064ULL))

        # the log (grown by doubling)
        self.cap = 0
        self.n_stamps = 0
        self.log_len = 0
        self._grow(1024)
        self.log_stamp[0] = 0
        self.log_prev[0] = 0
        mem_zeroed(<void**>&self.head, keys * sizeof(int64_t))

        # replicas: 0 leads
        mem_zeroed(<void**>&self.reps, n * sizeof(Replica))
        mem_resize(<void**>&self.followers, n * sizeof(int32_t))
        mem_resize(<void**>&self.live, n * sizeof(int32_t))
        for r in range(n):
            self.reps[r].alive = True
            self.reps[r].ack_cap = 16
            mem_resize(<void**>&self.reps[r].ack_pos, 16 * sizeof(int64_t))
            mem_resize(<void**>&self.reps[r].ack_t, 16 * sizeof(double))
        self.leader = 0
        self.leader_alive = True
        self.term = 0
        self._membership()

        # sessions
        i64t_init(&self.sk, 1024)
        self.sess_cap = 1024
        self.n_sess = 0
        mem_resize(<void**>&self.sess, self.sess_cap * sizeof(SessKey))

        # operations
        mem_zeroed(<void**>&self.op_kind, ops * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_status, ops * sizeof(int8_t))
        mem_zeroed(<void**>&self.op_lat, ops * sizeof(double))
        mem_zeroed(<void**>&self.op_done, ops * sizeof(double))
        if record:
            mem_zeroed(<void**>&self.op_client, ops * sizeof(int32_t))
            mem_zeroed(<void**>&self.op_key, ops * sizeof(int32_t))
            mem_zeroed(<void**>&self.op_value, ops * sizeof(int64_t))
            mem_zeroed(<void**>&self.op_version, ops * sizeof(int64_t))
            mem_zeroed(<void**>&self.op_invoke, ops * sizeof(double))
            mem_zeroed(<void**>&self.op_attempts, ops * sizeof(int32_t))

        # sources
        self.src_ack = 1 + n
        self.src_client = 1 + 2 * n
        ev_init(&self.ev, 1 + 2 * n + clients + (1 if self.src_cut >= 0 else 0))
        mem_zeroed(<void**>&self.cl, clients * sizeof(Client))
        for c in range(clients):
            rng_seed(&self.cl[c].rng, mix64(seed ^ <uint64_t>0x73657373696f6e73ULL
                                            ^ mix64(<uint64_t>c + 1)))
            self.cl[c].op = -1
            self.cl[c].home = c % n
            self.cl[c].t_phase = INFINITY
            self.cl[c].deadline = INFINITY
            self.cl[c].sticky = self.followers[c % self.n_followers] if self.n_followers > 0 else 0
            self.cl[c].state = CL_IDLE
            if self.rate_per_client > 0:
                # open loop: the first operation arrives after an exponential gap
                self.cl[c].arrival = rng_exponential(&self.cl[c].rng, 1.0 / self.rate_per_client)
                self.cl[c].next_arrival = self.cl[c].arrival + rng_exponential(
                    &self.cl[c].rng, 1.0 / self.rate_per_client)
            else:
                # closed loop: the first operation starts at 0
                self.cl[c].arrival = 0.0
            self.cl[c].t_phase = self.cl[c].arrival
        self.fail_phase = FAIL_CRASH
        self.next_crash = 0
        self.n_failovers = 0
        if self.n_crashes > 0:
            ev_schedule(&self.ev, 0, self.crash_times[0])
        for c in range(clients):
            ev_schedule(&self.ev, self.src_client + c, self.cl[c].t_phase)
        if self.src_cut >= 0 and self.n_seg > 1:
            ev_schedule(&self.ev, self.src_cut, self.seg_t[1])
        self.now = 0.0

    # ------------------------------------------------------------------ storage
    cdef int _grow(self, int64_t want) except -1 nogil:
        """Room for stamps (and positions) below ``want``."""
        cdef int64_t i, old = self.cap, c = self.cap if self.cap > 0 else 1024
        if want <= old:
            return 0
        while c < want:
            c *= 2
        mem_resize(<void**>&self.entries, c * sizeof(Entry))
        mem_resize(<void**>&self.apply, c * self.N * sizeof(double))
        mem_resize(<void**>&self.log_stamp, c * sizeof(int64_t))
        mem_resize(<void**>&self.log_prev, c * sizeof(int64_t))
        for i in range(old * self.N, c * self.N):
            self.apply[i] = NAN
        self.cap = c
        return 0

    cdef int _ack_push(self, Replica* rep, int64_t pos, double t) except -1 nogil:
        """Append an acknowledgement to the replica's ring (grown by doubling)."""
        cdef int64_t i, j, nc
        cdef int64_t* np_ = NULL
        cdef double* nt = NULL
        if rep.ack_len == rep.ack_cap:
            nc = 2 * rep.ack_cap
            mem_resize(<void**>&np_, nc * sizeof(int64_t))
            mem_resize(<void**>&nt, nc * sizeof(double))
            for i in range(rep.ack_len):
                j = (rep.ack_head + i) & (rep.ack_cap - 1)
                np_[i] = rep.ack_pos[j]
                nt[i] = rep.ack_t[j]
            PyMem_RawFree(rep.ack_pos)
            PyMem_RawFree(rep.ack_t)
            rep.ack_pos = np_
            rep.ack_t = nt
            rep.ack_head = 0
            rep.ack_cap = nc
        j = (rep.ack_head + rep.ack_len) & (rep.ack_cap - 1)
        rep.ack_pos[j] = pos
        rep.ack_t[j] = t
        rep.ack_len += 1
        return 0

    cdef int64_t _slot(self, int32_t c, int32_t k) except -1 nogil:
        """The session-key record of (client c, key k), created on first use."""
        cdef int64_t key = <int64_t>c * self.K + k
        cdef uint64_t pos
        cdef int64_t v = i64t_find(&self.sk, key, &pos)
        if v >= 0:
            return v
        if self.sk.size >= self.sk.limit:
            i64t_grow(&self.sk)
            i64t_find(&self.sk, key, &pos)
        if self.n_sess == self.sess_cap:
            self.sess_cap *= 2
            mem_resize(<void**>&self.sess, self.sess_cap * sizeof(SessKey))
        v = self.n_sess
        self.n_sess += 1
        self.sess[v].ryw = 0
        self.sess[v].mr = 0
        i64t_put_at(&self.sk, pos, key, v)
        return v

    cdef void _membership(self) noexcept nogil:
        """Rebuild the lists of live replicas and live followers."""
        cdef int32_t r
        self.n_live = 0
        self.n_followers = 0
        for r in range(self.N):
            if self.reps[r].alive:
                self.live[self.n_live] = r
                self.n_live += 1
                if r != self.leader:
                    self.followers[self.n_followers] = r
                    self.n_followers += 1

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
            if self.src_cut >= 0 and self.seg + 1 < self.n_seg and self.seg_t[self.seg + 1] <= t:
                self._advance(t)          # the schedule changes before anything else at t
            if src == self.src_cut:
                self._cut_event(t)
            elif src >= self.src_client:
                self._client_event(src - self.src_client, t)
            elif src >= self.src_ack:
                self._ack_event(src - self.src_ack, t)
            elif src >= 1:
                self._apply_event(src - 1, t)
            else:
                self._fail_event(t)
        self.done = True
        return 0

    # ------------------------------------------------------------------ replication
    cdef inline int64_t _version_at(self, int32_t k, int64_t applied) noexcept nogil:
        """The position of the latest write of key k within the prefix [1, applied]
        (0: none)."""
        cdef int64_t p = self.head[k]
        while p > applied:
            p = self.log_prev[p]
        return p

    cdef int64_t _append(self, int32_t c, double t) except -1 nogil:
        """The leader appends client c's write at t and sends it to every live
        follower; returns its stamp."""
        cdef Client* cl = &self.cl[c]
        cdef int64_t s, p
        cdef int32_t i, f, need
        cdef double a
        cdef Replica* rep
        cdef Entry* e
        self._grow(self.n_stamps + 2)
        self.n_stamps += 1
        s = self.n_stamps
        self.log_len += 1
        p = self.log_len
        self.log_stamp[p] = s
        self.log_prev[p] = self.head[cl.key]
        self.head[cl.key] = p
        if self.mode == MODE_ASYNC:
            need = 0
        elif self.mode == MODE_SYNC:
            need = self.n_followers
        else:
            need = self.k_semi if self.k_semi < self.n_followers else self.n_followers
        e = &self.entries[s]
        e.t = t
        e.value = cl.value
        e.pos = p
        e.attempt = cl.attempt_id
        e.key = cl.key
        e.leader = self.leader
        e.term = self.term
        e.waiter = c if need > 0 else -1
        e.acks = 0
        e.need = need
        e.lost = 0
        e.acked = 0
        self.apply[s * self.N + self.leader] = t
        self.reps[self.leader].applied = p
        for i in range(self.n_followers):
            f = self.followers[i]
            rep = &self.reps[f]
            a = t + dist_draw(&self.net, &self.r_net)
            if a < rep.last_arr:
                a = rep.last_arr          # FIFO: not before the previous entry
            rep.last_arr = a
            self.apply[s * self.N + f] = a
            if rep.applied == p - 1:
                ev_schedule(&self.ev, 1 + f, a)
        return s

    cdef int _apply_event(self, int32_t f, double t) except -1 nogil:
        """Replica f applies its next entry (which arrives now)."""
        cdef Replica* rep = &self.reps[f]
        cdef int64_t p = rep.applied + 1
        cdef double a
        if self.side[f] != self.side[self.leader]:
            # across a cut: held until the link is back
            self.held += 1
            ev_schedule(&self.ev, 1 + f, self._reconnect(f, self.leader))
            return 0
        DEBUG_ASSERT(p <= self.log_len, "a follower applies only entries of the log")
        DEBUG_ASSERT(f != self.leader or not self.leader_alive, "the leader has no incoming link")
        rep.applied = p
        self.apply[self.log_stamp[p] * self.N + f] = t       # later than sent only when held
        if self.mode != MODE_ASYNC and self.leader_alive:
            a = t + dist_draw(&self.net, &self.r_net)
            if a < rep.last_ack:
                a = rep.last_ack
            rep.last_ack = a
            self._ack_push(rep, p, a)
            if rep.ack_len == 1:
                ev_schedule(&self.ev, self.src_ack + f, a)
        if p < self.log_len:
            a = self.apply[self.log_stamp[p + 1] * self.N + f]
            ev_schedule(&self.ev, 1 + f, a if a > t else t)
        else:
            ev_schedule(&self.ev, 1 + f, INFINITY)
        return 0

    cdef int _ack_event(self, int32_t f, double t) except -1 nogil:
        """Follower f's acknowledgement of its next position reaches the leader."""
        cdef Replica* rep = &self.reps[f]
        cdef int64_t p = rep.ack_pos[rep.ack_head], q
        cdef Entry* e
        if self.side[f] != self.side[self.leader]:
            self.held += 1
            ev_schedule(&self.ev, self.src_ack + f, self._reconnect(f, self.leader))
            return 0
        rep.ack_head = (rep.ack_head + 1) & (rep.ack_cap - 1)
        rep.ack_len -= 1
        if rep.ack_len > 0:
            ev_schedule(&self.ev, self.src_ack + f,
                        rep.ack_t[rep.ack_head] if rep.ack_t[rep.ack_head] > t else t)
        else:
            ev_schedule(&self.ev, self.src_ack + f, INFINITY)
        if p <= rep.match:
            return 0
        q = rep.match + 1
        while q <= p:
            e = &self.entries[self.log_stamp[q]]
            if e.term == self.term:
                e.acks += 1
                if e.acks == e.need and e.waiter >= 0:
                    self._answer_write(self.log_stamp[q], t)
            q += 1
        rep.match = p
        return 0

    cdef int _answer_write(self, int64_t s, double t) except -1 nogil:
        """The leader answers the client waiting for entry s (if it still waits for it)."""
        cdef Entry* e = &self.entries[s]
        cdef Client* cl = &self.cl[e.waiter]
        if cl.state == CL_WAIT and cl.attempt_id == e.attempt:
            cl.result = s
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            self._sched(e.waiter)
        e.waiter = -1
        return 0

    # ------------------------------------------------------------------ failover
    cdef int _fail_event(self, double t) except -1 nogil:
        if self.fail_phase == FAIL_CRASH:
            self._crash(t)
        else:
            self._promote(t)
        return 0

    cdef int _crash(self, double t) except -1 nogil:
        """The leader dies at t, with every message it has not delivered."""
        cdef int32_t old = self.leader, i, f, c
        cdef int64_t p
        cdef Replica* rep
        cdef Failover* fo = &self.fo[self.n_failovers]
        fo.t_crash = t
        fo.old = old
        fo.len_crash = self.log_len
        fo.t_promote = NAN
        fo.t_first_ok = NAN
        fo.new = -1
        self.reps[old].alive = False
        self.leader_alive = False
        for i in range(self.n_followers):
            f = self.followers[i]
            rep = &self.reps[f]
            # the entries on their way to f are lost
            for p in range(rep.applied + 1, self.log_len + 1):
                self.apply[self.log_stamp[p] * self.N + f] = NAN
            ev_schedule(&self.ev, 1 + f, INFINITY)
            # and the acknowledgements on their way to it no longer matter
            rep.ack_len = 0
            rep.ack_head = 0
            ev_schedule(&self.ev, self.src_ack + f, INFINITY)
        # the answers it sent that have not arrived
        for c in range(self.C):
            if self.cl[c].state == CL_RESP and self.cl[c].target == old:
                self.cl[c].state = CL_LOST
                self.cl[c].t_phase = INFINITY
                self._sched(c)
        self._membership()        # the dead leader leaves ``live``; followers unchanged
        self.fail_phase = FAIL_PROMOTE
        ev_schedule(&self.ev, 0, t + self.detect)
        return 0

    cdef int _promote(self, double t) except -1 nogil:
        """``detect`` after the crash: the most up-to-date live replica leads; the
        old leader's entries beyond its log are lost; it brings the others up to
        date."""
        self._elect(t, -1)
        self.fail_phase = FAIL_CRASH
        self.next_crash += 1
        if self.next_crash < self.n_crashes:
            ev_schedule(&self.ev, 0, self.crash_times[self.next_crash])
        else:
            ev_schedule(&self.ev, 0, INFINITY)
        return 0

    cdef int _elect(self, double t, int32_t group) except -1 nogil:
        """The most up-to-date live replica (of ``group``; -1: any) leads; the old
        leader's entries beyond its log are lost; it brings the others up to date."""
        cdef Failover* fo = &self.fo[self.n_failovers]
        cdef int32_t r, best = -1, i, f
        cdef int64_t p, s, L
        cdef double a
        cdef Replica* rep
        cdef Entry* e
        for r in range(self.N):
            if (self.reps[r].alive and (group < 0 or self.side[r] == group)
                    and (best < 0 or self.reps[r].applied > self.reps[best].applied)):
                best = r
        DEBUG_ASSERT(best >= 0, "a live replica remains to lead")
        L = self.reps[best].applied
        self.n_failovers += 1
        fo.new = best
        fo.t_promote = t
        fo.len_new = L
        fo.lost = self.log_len - L
        # truncate the divergent suffix (restoring each key's latest position)
        p = self.log_len
        while p > L:
            s = self.log_stamp[p]
            e = &self.entries[s]
            e.lost = self.n_failovers
            e.waiter = -1
            self.head[e.key] = self.log_prev[p]
            p -= 1
        self.lost_entries += self.log_len - L
        self.log_len = L
        self.term += 1
        self.leader = best
        self.leader_alive = True
        self._membership()
        ev_schedule(&self.ev, 1 + best, INFINITY)
        ev_schedule(&self.ev, self.src_ack + best, INFINITY)
        self.reps[best].ack_len = 0
        for i in range(self.n_followers):
            f = self.followers[i]
            rep = &self.reps[f]
            if rep.applied > L:
                rep.applied = L           # a stepped-down leader's (or its side's) divergent suffix
            rep.last_arr = t
            rep.last_ack = t
            rep.match = rep.applied       # learnt during the election
            for p in range(rep.applied + 1, L + 1):
                a = t + dist_draw(&self.net, &self.r_net)
                if a < rep.last_arr:
                    a = rep.last_arr
                rep.last_arr = a
                self.apply[self.log_stamp[p] * self.N + f] = a
            if rep.applied < L:
                ev_schedule(&self.ev, 1 + f, self.apply[self.log_stamp[rep.applied + 1] * self.N + f])
            elif group >= 0:
                ev_schedule(&self.ev, 1 + f, INFINITY)
        return 0

    # ------------------------------------------------------------------ partitions
    cdef double _reconnect(self, int32_t a, int32_t b) noexcept nogil:
        """When replicas a and b can talk again (the next segment that puts them
        in one group; the last segment has every replica in one)."""
        cdef int32_t g
        for g in range(self.seg + 1, self.n_seg):
            if self.sides[<int64_t>g * self.N + a] == self.sides[<int64_t>g * self.N + b]:
                return self.seg_t[g]
        return INFINITY

    cdef int32_t _majority_side(self) noexcept nogil:
        """The group holding a majority of the N replicas (live ones), or -1."""
        cdef int32_t r, q, cnt
        for r in range(self.N):
            if not self.reps[r].alive:
                continue
            cnt = 0
            for q in range(self.N):
                if self.reps[q].alive and self.side[q] == self.side[r]:
                    cnt += 1
            if 2 * cnt > self.N:
                return self.side[r]
        return -1

    cdef void _advance(self, double t) noexcept nogil:
        """Move to the segment of the schedule in force at t."""
        while self.seg + 1 < self.n_seg and self.seg_t[self.seg + 1] <= t:
            self.seg += 1
        self.side = self.sides + <int64_t>self.seg * self.N

    cdef int _cut_event(self, double t) except -1 nogil:
        """The partition control: the next segment of the schedule, and the end
        of a cut-off leader's lease (then an election on the majority side)."""
        cdef int32_t g, f, i
        cdef double nxt
        self._advance(t)
        if self.elect_at <= t:
            self.elect_at = INFINITY
            g = self._majority_side()
            if not (self.leader_alive and g >= 0 and self.side[self.leader] == g):
                if self.leader_alive:
                    # the lease ran out: step down (its acknowledgements in flight no longer count)
                    self.leader_alive = False
                    self.stepdowns += 1
                    for i in range(self.n_followers):
                        f = self.followers[i]
                        self.reps[f].ack_len = 0
                        self.reps[f].ack_head = 0
                        ev_schedule(&self.ev, self.src_ack + f, INFINITY)
                if g >= 0:
                    self.fo[self.n_failovers].t_crash = t - self.lease
                    self.fo[self.n_failovers].old = self.leader
                    self.fo[self.n_failovers].len_crash = self.log_len
                    self.fo[self.n_failovers].t_first_ok = NAN
                    self._elect(t, g)
        if not isfinite(self.elect_at):
            g = self._majority_side()
            if self.leader_alive and (g < 0 or self.side[self.leader] != g):
                self.elect_at = t + self.lease
            elif not self.leader_alive and g >= 0:
                self.elect_at = t + self.detect
        nxt = self.seg_t[self.seg + 1] if self.seg + 1 < self.n_seg else INFINITY
        ev_schedule(&self.ev, self.src_cut, nxt if nxt < self.elect_at else self.elect_at)
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
                self._start(c, t)
            elif cl.state == CL_REQ:
                self._at_replica(c, t)
            else:
                DEBUG_ASSERT(cl.state == CL_RESP, "a client's timed step is its answer")
                if cl.refused:
                    cl.refused = 0
                    self._complete(c, t, ST_FAIL if cl.kind == OP_READ or cl.attempts == 1 else ST_INFO)
                else:
                    self._complete(c, t, ST_OK)
        else:
            self._timeout(c, t)
        return 0

    cdef int _ready(self, int32_t c, double t) except -1 nogil:
        """Client c is free at t: its next operation starts now or later."""
        cdef Client* cl = &self.cl[c]
        cdef double a
        if self.issued >= self.ops:
            self._finish_client(c)
            return 0
        if self.rate_per_client > 0:
            a = cl.next_arrival
            cl.next_arrival = a + rng_exponential(&cl.rng, 1.0 / self.rate_per_client)
        else:
            a = t + dist_draw(&self.think, &cl.rng)
        cl.arrival = a
        if a > t:
            cl.state = CL_IDLE
            cl.t_phase = a
            cl.deadline = INFINITY
            self._sched(c)
            return 0
        self._issue(c, t)
        return 0

    cdef void _finish_client(self, int32_t c) noexcept nogil:
        cdef Client* cl = &self.cl[c]
        cl.state = CL_DONE
        cl.t_phase = INFINITY
        cl.deadline = INFINITY
        self._sched(c)

    cdef int _start(self, int32_t c, double t) except -1 nogil:
        """The IDLE step: the operation that arrived now starts, if any is left."""
        if self.issued >= self.ops:
            self._finish_client(c)
            return 0
        self._issue(c, t)
        return 0

    cdef int _issue(self, int32_t c, double t) except -1 nogil:
        """Draw client c's next operation and send it (``cl.arrival`` is set)."""
        cdef Client* cl = &self.cl[c]
        cdef int64_t op = self.issued
        cdef double u
        cdef int32_t lo, hi, mid
        self.issued += 1
        cl.op = op
        u = rng_uniform(&cl.rng)
        cl.kind = OP_READ if u < self.read_fraction else OP_WRITE
        if self.cdf == NULL:
            cl.key = <int32_t>rng_below(&cl.rng, <uint64_t>self.K)
        else:
            # inversion: the first key whose CDF exceeds u
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
            cl.writes += 1
        else:
            cl.value = 0
            cl.reads += 1
        cl.attempts = 0
        cl.result = 0
        if self.record:
            self.op_client[op] = c
            self.op_key[op] = cl.key
            self.op_value[op] = cl.value
            self.op_invoke[op] = t
        self._send(c, t)
        return 0

    cdef int32_t _pick(self, int32_t c) noexcept nogil:
        """The replica a read of client c goes to."""
        cdef Client* cl = &self.cl[c]
        cdef int32_t r
        if self.reads == READ_LEADER or (self.n_followers == 0 and self.reads != READ_ANY):
            return self.leader
        if self.reads == READ_FOLLOWER:
            return self.followers[rng_below(&self.r_pick, <uint64_t>self.n_followers)]
        if self.reads == READ_ANY:
            return self.live[rng_below(&self.r_pick, <uint64_t>self.n_live)]
        r = cl.sticky
        if not self.reps[r].alive:
            r = self.followers[rng_below(&self.r_pick, <uint64_t>self.n_followers)]
            cl.sticky = r
        return r

    cdef int _send(self, int32_t c, double t) except -1 nogil:
        """Send an attempt of client c's operation: writes to the leader, reads
        where the policy says."""
        cdef Client* cl = &self.cl[c]
        cl.attempts += 1
        self.attempt_seq += 1
        cl.attempt_id = self.attempt_seq
        if self.src_cut >= 0 and self.side[self.leader] != self.side[cl.home]:
            # the leader is on the other side of a cut: "unavailable"
            self.unavailable += 1
            cl.refused = 1
            cl.target = cl.home
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            cl.deadline = INFINITY
            self._sched(c)
            return 0
        cl.target = self.leader if cl.kind == OP_WRITE else self._pick(c)
        if self.src_cut >= 0 and self.side[cl.target] != self.side[cl.home]:
            cl.target = self.leader       # reads stay on the client's side: the leader's
        cl.state = CL_REQ
        cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
        cl.deadline = t + self.timeout
        self._sched(c)
        return 0

    cdef int _at_replica(self, int32_t c, double t) except -1 nogil:
        """Client c's request reaches its replica."""
        cdef Client* cl = &self.cl[c]
        cdef int32_t r = cl.target
        cdef int64_t p, s
        if not self.reps[r].alive or (cl.kind == OP_WRITE and (r != self.leader or not self.leader_alive)):
            cl.state = CL_LOST
            cl.t_phase = INFINITY
            self._sched(c)
            return 0
        if cl.kind == OP_READ:
            p = self._version_at(cl.key, self.reps[r].applied)
            cl.result = self.log_stamp[p]
            if p < self.head[cl.key]:
                cl.stale += 1
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
            self._sched(c)
            return 0
        s = self._append(c, t)
        if self.entries[s].need == 0:
            cl.result = s
            cl.state = CL_RESP
            cl.t_phase = t + dist_draw(&self.cli, &self.r_cli)
        else:
            cl.state = CL_WAIT
            cl.t_phase = INFINITY
        self._sched(c)
        return 0

    cdef int _timeout(self, int32_t c, double t) except -1 nogil:
        cdef Client* cl = &self.cl[c]
        cl.timeouts += 1
        if cl.attempts <= self.retries:
            self._send(c, t)
        else:
            self._complete(c, t, ST_FAIL if cl.kind == OP_READ else ST_INFO)
        return 0

    cdef int _complete(self, int32_t c, double t, int status) except -1 nogil:
        """Client c's operation ends at t; then its next one."""
        cdef Client* cl = &self.cl[c]
        cdef int64_t op = cl.op, sl, v, p
        cdef Failover* fo
        self.op_kind[op] = <int8_t>cl.kind
        self.op_status[op] = <int8_t>status
        self.op_lat[op] = t - cl.arrival
        self.op_done[op] = t
        self.completed += 1
        if status == ST_OK:
            cl.ok += 1
            sl = self._slot(c, cl.key)
            v = cl.result
            if cl.kind == OP_READ:
                if v < self.sess[sl].ryw:
                    cl.ryw += 1
                if v < self.sess[sl].mr:
                    cl.mr += 1
                else:
                    self.sess[sl].mr = v
                if v < cl.seen:
                    # the latest write of the key at or before what the session has seen
                    p = self.head[cl.key]
                    while p > 0 and self.log_stamp[p] > cl.seen:
                        p = self.log_prev[p]
                    if self.log_stamp[p] > v:
                        cl.cp += 1
                else:
                    cl.seen = v
            else:
                if v > self.sess[sl].ryw:
                    self.sess[sl].ryw = v
                self.entries[v].acked = 1
                if self.n_failovers > 0:
                    fo = &self.fo[self.n_failovers - 1]
                    if self.entries[v].term == self.n_failovers and not isfinite(fo.t_first_ok):
                        fo.t_first_ok = t
        elif status == ST_FAIL:
            cl.failed += 1
        else:
            cl.info += 1
        if self.record:
            self.op_attempts[op] = cl.attempts
            if status == ST_OK:
                self.op_version[op] = cl.result
                if cl.kind == OP_READ:
                    self.op_value[op] = self.entries[cl.result].value if cl.result > 0 else 0
        cl.op = -1
        cl.t_phase = INFINITY
        cl.deadline = INFINITY
        self._ready(c, t)
        return 0

    # ------------------------------------------------------------------ results
    def ops_arrays(self):
        """Per operation (by number): kind (0 read, 1 write), status (1 ok, 2 fail,
        3 info), latency and completion time; with the history also client, key,
        value (written, or read; 0: the initial value), version (the stamp read or
        written), invocation time and attempts."""
        cdef int64_t n = self.ops
        out = {
            "kind": np.asarray(<int8_t[:n]>self.op_kind).copy() if n else np.zeros(0, np.int8),
            "status": np.asarray(<int8_t[:n]>self.op_status).copy() if n else np.zeros(0, np.int8),
            "latency": np.asarray(<double[:n]>self.op_lat).copy() if n else np.zeros(0),
            "done": np.asarray(<double[:n]>self.op_done).copy() if n else np.zeros(0),
        }
        if self.record and n:
            out["client"] = np.asarray(<int32_t[:n]>self.op_client).copy()
            out["key"] = np.asarray(<int32_t[:n]>self.op_key).copy()
            out["value"] = np.asarray(<int64_t[:n]>self.op_value).copy()
            out["version"] = np.asarray(<int64_t[:n]>self.op_version).copy()
            out["invoke"] = np.asarray(<double[:n]>self.op_invoke).copy()
            out["attempts"] = np.asarray(<int32_t[:n]>self.op_attempts).copy()
        return out

    def entry_arrays(self):
        """Per log entry ever appended (stamps 1..; row i is stamp i + 1): append
        time, key, value, position, leader, term, lost (0 or the failover),
        acked, acks, need; and ``apply`` (stamps x N): when each replica applied
        it (NaN: never)."""
        cdef int64_t m = self.n_stamps, i
        t = np.empty(m)
        key = np.empty(m, np.int32)
        value = np.empty(m, np.int64)
        pos = np.empty(m, np.int64)
        leader = np.empty(m, np.int32)
        term = np.empty(m, np.int32)
        lost = np.empty(m, np.int32)
        acked = np.empty(m, bool)
        acks = np.empty(m, np.int32)
        need = np.empty(m, np.int32)
        cdef double[::1] tv = t
        cdef int32_t[::1] kv = key, lv = leader, trv = term, lov = lost, av = acks, nv = need
        cdef int64_t[::1] vv = value, pv = pos
        cdef Entry* e
        for i in range(m):
            e = &self.entries[i + 1]
            tv[i] = e.t
            kv[i] = e.key
            vv[i] = e.value
            pv[i] = e.pos
            lv[i] = e.leader
            trv[i] = e.term
            lov[i] = e.lost
            acked[i] = e.acked != 0
            av[i] = e.acks
            nv[i] = e.need
        if m:
            apply = np.asarray(<double[:(m + 1) * self.N]>self.apply).reshape(m + 1, self.N)[1:].copy()
        else:
            apply = np.zeros((0, self.N))
        return {"t": t, "key": key, "value": value, "pos": pos, "leader": leader, "term": term,
                "lost": lost, "acked": acked, "acks": acks, "need": need, "apply": apply}

    def log(self):
        """The leader's log now: the stamps at positions 1..log_len."""
        if self.log_len == 0:
            return np.zeros(0, np.int64)
        return np.asarray(<int64_t[:self.log_len + 1]>self.log_stamp)[1:].copy()

    def replica_arrays(self):
        """Per replica: applied position, alive, and the leader's acknowledged
        position for it."""
        cdef int32_t r
        return {"applied": np.array([self.reps[r].applied for r in range(self.N)], np.int64),
                "alive": np.array([bool(self.reps[r].alive) for r in range(self.N)]),
                "match": np.array([self.reps[r].match for r in range(self.N)], np.int64)}

    def session_arrays(self):
        """Per client: reads, writes, ok, failed, info, timeouts, and its
        read-your-writes, monotonic-reads and consistent-prefix violations and
        stale reads."""
        names = ("reads", "writes", "ok", "failed", "info", "timeouts", "ryw", "mr", "cp", "stale")
        out = {name: np.zeros(self.C, np.int64) for name in names}
        cdef int32_t c
        cdef Client* cl
        for c in range(self.C):
            cl = &self.cl[c]
            out["reads"][c] = cl.reads
            out["writes"][c] = cl.writes
            out["ok"][c] = cl.ok
            out["failed"][c] = cl.failed
            out["info"][c] = cl.info
            out["timeouts"][c] = cl.timeouts
            out["ryw"][c] = cl.ryw
            out["mr"][c] = cl.mr
            out["cp"][c] = cl.cp
            out["stale"][c] = cl.stale
        return out

    def failovers(self):
        """One dict per leader crash (promoted or pending)."""
        cdef int32_t i
        cdef Failover* fo
        out = []
        for i in range(self.n_failovers + (1 if self.fail_phase == FAIL_PROMOTE else 0)):
            fo = &self.fo[i]
            out.append({"crash_time": fo.t_crash, "old_leader": fo.old, "new_leader": fo.new,
                        "promote_time": fo.t_promote, "log_at_crash": fo.len_crash,
                        "log_kept": fo.len_new if fo.new >= 0 else -1,
                        "lost_entries": fo.lost, "first_ok_write_time": fo.t_first_ok})
        return out

    def _check(self):
        """Assert the invariants: the event heap; the log (stamps increase along it,
        each key's chain of positions, lost entries out of it); every live
        replica's log a prefix of it (the leader's is all of it, except while no
        leader is alive, when the dead one's divergent suffix is what no live
        replica has); the FIFO links (arrival times in order, the next pending
        arrival scheduled); the acknowledgement rings and counts; the clients'
        sources."""
        cdef int64_t p, s, q, i, j, cnt
        cdef int32_t r, c, f
        cdef double a, prev
        cdef Replica* rep
        cdef Entry* e
        cdef Client* cl
        ev_check(&self.ev)
        assert 0 <= self.log_len <= self.n_stamps < self.cap, (self.log_len, self.n_stamps, self.cap)
        assert self.log_stamp[0] == 0
        last = np.zeros(self.K, np.int64)
        cdef int64_t[::1] lastv = last
        for p in range(1, self.log_len + 1):
            s = self.log_stamp[p]
            assert 0 < s <= self.n_stamps, (p, s)
            if p > 1:
                assert s > self.log_stamp[p - 1], f"stamps decrease at position {p}"
            e = &self.entries[s]
            assert e.pos == p and e.lost == 0, (p, s, e.pos, e.lost)
            assert self.log_prev[p] == lastv[e.key], f"key chain broken at position {p}"
            lastv[e.key] = p
        for r in range(self.K):
            assert self.head[r] == lastv[r], f"head of key {r}: {self.head[r]} != {lastv[r]}"
        cnt = 0
        for s in range(1, self.n_stamps + 1):
            if self.entries[s].lost == 0:
                cnt += 1
            else:
                assert 1 <= self.entries[s].lost <= self.n_failovers
        assert cnt == self.log_len, f"{cnt} entries not lost, log length {self.log_len}"
        # replicas
        assert self.reps[self.leader].alive == self.leader_alive or (self.src_cut >= 0 and not self.leader_alive)
        for r in range(self.N):
            rep = &self.reps[r]
            if not rep.alive:
                assert ev_time(&self.ev, 1 + r) == INFINITY and rep.ack_len == 0
                continue
            assert 0 <= rep.applied <= self.log_len, (r, rep.applied, self.log_len)
            if r == self.leader:
                assert rep.applied == self.log_len, "the leader's log is the log"
                assert ev_time(&self.ev, 1 + r) == INFINITY
                continue
            for p in range(1, rep.applied + 1):
                s = self.log_stamp[p]
                a = self.apply[s * self.N + r]
                assert isfinite(a) and self.entries[s].t <= a <= self.now, (r, p, a)
            if self.src_cut >= 0:
                continue              # held links: arrival times may be past
            if not self.leader_alive:
                # nothing reaches a follower while no leader is alive
                assert ev_time(&self.ev, 1 + r) == INFINITY
                for p in range(rep.applied + 1, self.log_len + 1):
                    assert not isfinite(self.apply[self.log_stamp[p] * self.N + r])
                assert rep.ack_len == 0
                continue
            prev = -INFINITY
            for p in range(rep.applied + 1, self.log_len + 1):
                a = self.apply[self.log_stamp[p] * self.N + r]
                assert isfinite(a) and a >= self.now and a >= prev, f"link to {r} out of order at {p}"
                assert a <= rep.last_arr
                prev = a
            if rep.applied < self.log_len:
                assert ev_time(&self.ev, 1 + r) == self.apply[self.log_stamp[rep.applied + 1] * self.N + r]
            else:
                assert ev_time(&self.ev, 1 + r) == INFINITY
            if self.mode == MODE_ASYNC:
                assert rep.ack_len == 0 and ev_time(&self.ev, self.src_ack + r) == INFINITY
                continue
            # acknowledgements in flight: positions match + 1 .. applied, in order
            assert rep.match + rep.ack_len == rep.applied, (r, rep.match, rep.ack_len, rep.applied)
            prev = -INFINITY
            for i in range(rep.ack_len):
                j = (rep.ack_head + i) & (rep.ack_cap - 1)
                assert rep.ack_pos[j] == rep.match + 1 + i
                assert rep.ack_t[j] >= prev and rep.ack_t[j] >= self.now
                prev = rep.ack_t[j]
            assert ev_time(&self.ev, self.src_ack + r) == (
                rep.ack_t[rep.ack_head] if rep.ack_len else INFINITY)
        # acknowledgement counts of the current term's entries
        if self.mode != MODE_ASYNC and self.leader_alive:
            for p in range(1, self.log_len + 1):
                e = &self.entries[self.log_stamp[p]]
                if e.term != self.term:
                    continue
                cnt = 0
                for i in range(self.n_followers):
                    if self.reps[self.followers[i]].match >= p:
                        cnt += 1
                assert e.acks == cnt, f"entry at {p}: {e.acks} acks, {cnt} followers acknowledged it"
        for s in range(1, self.n_stamps + 1):
            e = &self.entries[s]
            if e.acked:
                assert e.acks >= e.need, \
                    f"entry {s} acknowledged to its client with {e.acks} of {e.need} acks"
        # clients
        for c in range(self.C):
            cl = &self.cl[c]
            assert CL_IDLE <= cl.state <= CL_DONE, (c, cl.state)
            a = cl.t_phase if cl.t_phase <= cl.deadline else cl.deadline
            assert ev_time(&self.ev, self.src_client + c) == a, (c, a)
            if cl.state == CL_DONE:
                assert a == INFINITY
            if cl.state in (CL_WAIT, CL_LOST):
                assert cl.t_phase == INFINITY
        if self.done:
            assert self.completed == self.ops == self.issued, (self.completed, self.ops, self.issued)
        return True
