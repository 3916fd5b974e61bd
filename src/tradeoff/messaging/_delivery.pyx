"""The event loop of :func:`tradeoff.messaging.delivery.simulate`: a producer, a
broker (a partitioned log or an SQS-style queue) and consumers, with crashes, lost
acknowledgements, broker restarts and rebalances, on the package's shared
discrete-event core (:mod:`tradeoff._core.events`), without the GIL.

Event sources: 0 the producer, 1..C the consumers (ties in time go to the lower
number). Every fault is a *decision* that depends on the seed and on a logical
position only, never on time or on the order in which the random timing draws were
made (:func:`decide`): the outcome of the producer's attempt ``a`` at message ``k``,
a crash after consumer ``c``'s ``s``-th processed message, a rebalance at its
``b``-th batch. The same decisions drive the Python drivers of the real brokers
(:mod:`tradeoff.messaging.drivers`), so the counts of lost and duplicated messages
can be compared one for one.

What the consumers do (``B`` = batch):

- log: consumer ``c`` owns a contiguous block of partitions (Kafka's range
  assignor) and polls them in turn: up to ``B`` records (``max.poll.records``)
  from the first partition, from the one whose turn it is, that has any; the
  turn moves past that partition when the batch completes (after a crash or a
  failed commit the consumer starts again at the committed offsets, from the
  same partition).
- queue: each receive takes up to ``B`` (at most 10) visible messages, in order of
  becoming visible (then of sending), as :class:`tradeoff.messaging.Queue` does.

Semantics (what a consumer does with a batch):

- at-most-once: commit (or delete) first, then process; the producer sends once
  without waiting for an acknowledgement (acks=0), so a lost request is a lost
  message.
- at-least-once: process, then commit; the producer retries until acknowledged,
  so a lost acknowledgement writes the message twice.
- exactly-once: log: the idempotent producer (a sequence number per partition;
  the broker drops a retried duplicate) and transactions (the batch's outputs and
  its offsets commit atomically; a crash or a fenced commit aborts them and
  read_committed readers never see them); queue: a standard SQS queue has
  neither an idempotent producer nor transactions, so exactly-once is the
  idempotent consumer below (FIFO queues' five-minute deduplication ids are not
  modelled here).
- idempotent-consumer: at-least-once delivery and a consumer-side table of
  processed message ids, written atomically with the effect.
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.math cimport INFINITY, NAN, log
from libc.string cimport memset
from cpython.mem cimport PyMem_RawFree

import numpy as np

from tradeoff._core.rng cimport Rng, rng_seed, rng_exponential
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize, mem_zeroed
from tradeoff._core.events cimport (Events, ev_init, ev_free, ev_schedule, ev_next, ev_time,
                                    ev_check)

cdef enum:
    AMO = 0
    ALO = 1
    EOS = 2
    DEDUP = 3

cdef enum:
    BROKER_LOG = 0
    BROKER_QUEUE = 1

# producer attempt outcomes
cdef enum:
    OUT_OK = 0
    OUT_REQUEST_LOST = 1
    OUT_ACK_LOST = 2
    OUT_RESTART = 3

# decision streams
cdef enum:
    STREAM_PRODUCE = 1
    STREAM_CRASH = 2
    STREAM_REBALANCE = 3

# consumer states
cdef enum:
    C_WAIT = 0       # nothing to fetch yet (no pending event)
    C_PROC = 1       # processing message ``pos`` of its batch
    C_COMMIT = 2     # committing (or deleting) the batch
    C_DOWN = 3       # crashed, restarting
    C_DONE = 4

SEMANTICS = {"at-most-once": AMO, "at-least-once": ALO, "exactly-once": EOS,
             "idempotent-consumer": DEDUP}
BROKERS = {"log": BROKER_LOG, "queue": BROKER_QUEUE}
OUTCOMES = {"ok": OUT_OK, "request-lost": OUT_REQUEST_LOST, "ack-lost": OUT_ACK_LOST,
            "restart": OUT_RESTART}
STREAMS = {"produce": STREAM_PRODUCE, "crash": STREAM_CRASH, "rebalance": STREAM_REBALANCE}
cdef enum:
    _MAX_ATTEMPTS = 64

#: attempts per message at most (the last one always succeeds)
MAX_ATTEMPTS = _MAX_ATTEMPTS


cdef inline double _u01(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) noexcept nogil:
    cdef uint64_t h = mix64(seed * <uint64_t>0x9e3779b97f4a7c15ULL ^ mix64(
        (stream << 56) ^ (a << 32) ^ b ^ <uint64_t>0x6465636964656421ULL))
    return (h >> 11) * (1.0 / 9007199254740992.0)


def partition_of(uint64_t seed, int64_t k, int32_t partitions):
    """The partition of message ``k`` (a fixed hash of its number and the seed)."""
    return <int32_t>(mix64(<uint64_t>k ^ seed) % <uint64_t>partitions)


def decide(uint64_t seed, int stream, uint64_t a, uint64_t b):
    """The uniform number in [0, 1) behind decision (``stream``, ``a``, ``b``): a
    counter-based draw (splitmix64 of the position), the same in every driver."""
    return _u01(seed, stream, a, b)


cdef struct Consumer:
    int32_t state
    int32_t p_lo, p_hi      # log: partitions [p_lo, p_hi)
    int32_t rr              # log: the partition whose turn it is
    int64_t start           # log: first offset of the batch
    int32_t n               # messages in the batch
    int32_t pos             # next message of the batch to process
    int64_t steps           # messages processed so far (the crash counter)
    int64_t batches         # batches fetched so far (the rebalance counter)
    int32_t* batch          # queue: entry numbers; log: message ids
    int64_t* receipt        # queue: the receipt handle each entry came with
    uint8_t* skip           # per batch slot: dead-lettered, not processed


cdef class Simulation:
    """One run (built and driven by ``simulate``); ``run()`` releases the GIL."""
    # parameters
    cdef int32_t sem, broker, P, C, B, max_deliveries
    cdef int64_t M
    cdef double rate, rtt, timeout, service, commit_time, restart_time, rebalance_time
    cdef double visibility
    cdef double p_req, p_ack, p_restart, p_crash, p_rebalance
    cdef uint64_t seed
    cdef Rng rng
    cdef Events ev
    cdef public double now
    cdef public bint done

    # messages
    cdef double* arrive
    cdef double* first_effect
    cdef int32_t* count
    cdef uint8_t* dead
    cdef int32_t* seq_of        # EOS on the log: the message's sequence number

    # the producer
    cdef int64_t k              # the message being sent
    cdef int32_t attempt
    cdef bint producer_done
    cdef int32_t* next_seq      # per partition: the producer's next sequence number
    cdef int32_t* last_seq      # per partition: the broker's last accepted

    # log broker: per partition the message ids in offset order, with delivery counts
    cdef int32_t** plog
    cdef uint8_t** pdeliv
    cdef int64_t* plen
    cdef int64_t* pcap
    cdef int64_t* committed
    cdef int32_t* owner

    # queue broker: entries in send order
    cdef int32_t* q_msg
    cdef int32_t* q_recv
    cdef int64_t* q_receipt     # -1: deleted
    cdef double* q_deadline
    cdef int64_t q_len, q_cap, q_new, q_serial, q_live
    cdef int32_t* q_exp         # ring of entries back from flight (deadline order)
    cdef int64_t q_exp_head, q_exp_len
    cdef int32_t* q_fly         # ring of entries in flight, in receive order
    cdef int64_t* q_fly_receipt
    cdef int64_t q_fly_head, q_fly_len

    cdef Consumer* cons

    # the batches, in the order they were fetched (consumer, partition, size), kept
    # when ``record`` is set: the schedule the drivers of the real brokers follow
    cdef public bint record
    cdef int32_t* rec
    cdef int64_t rec_len, rec_cap

    # counters
    cdef public int64_t attempts, requests_lost, acks_lost, restarts, dropped_duplicates
    cdef public int64_t records, crashes, rebalances, redelivered, suppressed, aborted
    cdef public int64_t dead_lettered, commits_failed, events
    cdef public double producer_end     # when the last message was sent (and acknowledged)

    def __cinit__(self):
        self.arrive = NULL
        self.first_effect = NULL
        self.count = NULL
        self.dead = NULL
        self.seq_of = NULL
        self.next_seq = NULL
        self.last_seq = NULL
        self.plog = NULL
        self.pdeliv = NULL
        self.plen = NULL
        self.pcap = NULL
        self.committed = NULL
        self.owner = NULL
        self.q_msg = NULL
        self.q_recv = NULL
        self.q_receipt = NULL
        self.q_deadline = NULL
        self.q_exp = NULL
        self.q_fly = NULL
        self.q_fly_receipt = NULL
        self.cons = NULL
        self.rec = NULL
        self.rec_len = 0
        self.rec_cap = 0
        self.P = 0
        self.C = 0
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0

    def __dealloc__(self):
        cdef int32_t i
        PyMem_RawFree(self.arrive)
        PyMem_RawFree(self.first_effect)
        PyMem_RawFree(self.count)
        PyMem_RawFree(self.dead)
        PyMem_RawFree(self.seq_of)
        PyMem_RawFree(self.next_seq)
        PyMem_RawFree(self.last_seq)
        if self.plog != NULL:
            for i in range(self.P):
                PyMem_RawFree(self.plog[i])
                PyMem_RawFree(self.pdeliv[i])
        PyMem_RawFree(self.plog)
        PyMem_RawFree(self.pdeliv)
        PyMem_RawFree(self.plen)
        PyMem_RawFree(self.pcap)
        PyMem_RawFree(self.committed)
        PyMem_RawFree(self.owner)
        PyMem_RawFree(self.q_msg)
        PyMem_RawFree(self.q_recv)
        PyMem_RawFree(self.q_receipt)
        PyMem_RawFree(self.q_deadline)
        PyMem_RawFree(self.q_exp)
        PyMem_RawFree(self.q_fly)
        PyMem_RawFree(self.q_fly_receipt)
        if self.cons != NULL:
            for i in range(self.C):
                PyMem_RawFree(self.cons[i].batch)
                PyMem_RawFree(self.cons[i].receipt)
                PyMem_RawFree(self.cons[i].skip)
        PyMem_RawFree(self.cons)
        PyMem_RawFree(self.rec)
        ev_free(&self.ev)

    def __init__(self, int semantics, int broker, int64_t messages, int32_t partitions,
                 int32_t consumers, int32_t batch, double rate, double rtt, double timeout,
                 double service, double commit_time, double restart_time,
                 double rebalance_time, double visibility, double request_loss,
                 double ack_loss, double broker_restart, double crash, double rebalance,
                 int32_t max_deliveries, uint64_t seed):
        cdef int32_t i, per, extra, lo
        self.sem = semantics
        self.broker = broker
        self.M = messages
        self.P = partitions if broker == BROKER_LOG else 1
        self.C = consumers
        self.B = batch
        self.rate = rate
        self.rtt = rtt
        self.timeout = timeout
        self.service = service
        self.commit_time = commit_time
        self.restart_time = restart_time
        self.rebalance_time = rebalance_time
        self.visibility = visibility
        self.p_req = request_loss
        self.p_ack = ack_loss
        self.p_restart = broker_restart
        self.p_crash = crash
        self.p_rebalance = rebalance if broker == BROKER_LOG else 0.0
        self.max_deliveries = max_deliveries
        self.seed = seed
        rng_seed(&self.rng, mix64(seed ^ <uint64_t>0x64656c6976657279ULL))

        mem_resize(<void**>&self.arrive, messages * sizeof(double))
        mem_resize(<void**>&self.first_effect, messages * sizeof(double))
        mem_zeroed(<void**>&self.count, messages * sizeof(int32_t))
        mem_zeroed(<void**>&self.dead, messages * sizeof(uint8_t))
        mem_zeroed(<void**>&self.seq_of, messages * sizeof(int32_t))
        for i in range(messages):
            self.first_effect[i] = NAN

        mem_zeroed(<void**>&self.next_seq, self.P * sizeof(int32_t))
        mem_zeroed(<void**>&self.last_seq, self.P * sizeof(int32_t))
        for i in range(self.P):
            self.last_seq[i] = -1
        mem_zeroed(<void**>&self.cons, self.C * sizeof(Consumer))
        for i in range(self.C):
            mem_resize(<void**>&self.cons[i].batch, batch * sizeof(int32_t))
            mem_zeroed(<void**>&self.cons[i].receipt, batch * sizeof(int64_t))
            mem_zeroed(<void**>&self.cons[i].skip, batch * sizeof(uint8_t))
        if broker == BROKER_LOG:
            mem_zeroed(<void**>&self.plog, self.P * sizeof(int32_t*))
            mem_zeroed(<void**>&self.pdeliv, self.P * sizeof(uint8_t*))
            mem_zeroed(<void**>&self.plen, self.P * sizeof(int64_t))
            mem_zeroed(<void**>&self.pcap, self.P * sizeof(int64_t))
            mem_zeroed(<void**>&self.committed, self.P * sizeof(int64_t))
            mem_resize(<void**>&self.owner, self.P * sizeof(int32_t))
            # Kafka's range assignor: the first P % C consumers take one more
            per = self.P // self.C
            extra = self.P % self.C
            lo = 0
            for i in range(self.C):
                self.cons[i].p_lo = lo
                lo += per + (1 if i < extra else 0)
                self.cons[i].p_hi = lo
                self.cons[i].rr = self.cons[i].p_lo
            for i in range(self.C):
                for lo in range(self.cons[i].p_lo, self.cons[i].p_hi):
                    self.owner[lo] = i
        else:
            self.q_cap = 0
            self._q_grow(1024)
        ev_init(&self.ev, 1 + self.C)
        self.now = 0.0
        self.arrive[0] = self._gap() if messages > 0 else 0.0
        ev_schedule(&self.ev, 0, self.arrive[0])
        for i in range(self.C):
            self.cons[i].state = C_WAIT

    cdef inline double _gap(self) noexcept nogil:
        return rng_exponential(&self.rng, 1.0 / self.rate) if self.rate > 0 else 0.0

    cdef inline double _svc(self) noexcept nogil:
        return rng_exponential(&self.rng, self.service) if self.service > 0 else 0.0

    # ------------------------------------------------------------------ run
    def run(self, int64_t max_events=-1):
        """Run to the end (every message settled, every consumer idle and caught up),
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
            self.now = t
            self.events += 1
            if src == 0:
                self._produce(t)
            else:
                self._consumer_event(src - 1, t)
        self.done = True
        return 0

    # ------------------------------------------------------------------ producer
    cdef int _produce(self, double t) except -1 nogil:
        """Send attempt ``attempt`` of message ``k`` at time t."""
        cdef int64_t k = self.k
        cdef double u
        cdef int32_t outcome, p
        cdef bint written
        if self.attempt == 0:
            if self.sem == EOS and self.broker == BROKER_LOG:
                # the idempotent producer numbers its records per partition
                p = <int32_t>(mix64(<uint64_t>k ^ self.seed) % <uint64_t>self.P)
                self.seq_of[k] = self.next_seq[p]
                self.next_seq[p] += 1
        self.attempts += 1
        if self.attempt >= _MAX_ATTEMPTS - 1:
            outcome = OUT_OK
        else:
            u = _u01(self.seed, STREAM_PRODUCE, <uint64_t>k, <uint64_t>self.attempt)
            if u < self.p_req:
                outcome = OUT_REQUEST_LOST
            elif u < self.p_req + self.p_ack:
                outcome = OUT_ACK_LOST
            elif u < self.p_req + self.p_ack + self.p_restart:
                outcome = OUT_RESTART
            else:
                outcome = OUT_OK
        written = outcome != OUT_REQUEST_LOST
        if outcome == OUT_REQUEST_LOST:
            self.requests_lost += 1
        elif outcome == OUT_ACK_LOST:
            self.acks_lost += 1
        elif outcome == OUT_RESTART:
            self.restarts += 1
        if written:
            self._write(k, t)
        if self.sem == AMO:
            # acks=0: sent once, never retried; the next message when it arrives
            self._next_message(t)
        elif outcome == OUT_OK:
            self._next_message(t + self.rtt)
        else:
            self.attempt += 1
            ev_schedule(&self.ev, 0, t + (self.restart_time if outcome == OUT_RESTART
                                          else self.timeout))
        return 0

    cdef int _next_message(self, double t) except -1 nogil:
        cdef int32_t c
        self.k += 1
        self.attempt = 0
        if self.k >= self.M:
            self.producer_done = True
            self.producer_end = t
            ev_schedule(&self.ev, 0, INFINITY)
            for c in range(self.C):
                self._wake(c, t)
            return 0
        self.arrive[self.k] = self.arrive[self.k - 1] + self._gap()
        ev_schedule(&self.ev, 0, t if t > self.arrive[self.k] else self.arrive[self.k])
        return 0

    cdef int _write(self, int64_t k, double t) except -1 nogil:
        """The broker receives message k (once per attempt that arrives)."""
        cdef int32_t p, c
        cdef int64_t n
        cdef int32_t sq
        if self.broker == BROKER_LOG:
            p = <int32_t>(mix64(<uint64_t>k ^ self.seed) % <uint64_t>self.P)
            if self.sem == EOS:
                sq = self.seq_of[k]
                if sq <= self.last_seq[p]:
                    self.dropped_duplicates += 1
                    return 0
                self.last_seq[p] = sq
            n = self.plen[p]
            if n == self.pcap[p]:
                self.pcap[p] = 2 * n if n > 0 else 256
                mem_resize(<void**>&self.plog[p], self.pcap[p] * sizeof(int32_t))
                mem_resize(<void**>&self.pdeliv[p], self.pcap[p] * sizeof(uint8_t))
            self.plog[p][n] = <int32_t>k
            self.pdeliv[p][n] = 0
            self.plen[p] = n + 1
            self.records += 1
            c = self.owner[p]
            self._wake(c, t)
        else:
            if self.q_len == self.q_cap:
                self._q_grow(2 * self.q_cap)
            self.q_msg[self.q_len] = <int32_t>k
            self.q_recv[self.q_len] = 0
            self.q_receipt[self.q_len] = 0
            self.q_deadline[self.q_len] = t
            self.q_len += 1
            self.q_live += 1
            self.records += 1
            for c in range(self.C):
                self._wake(c, t)
        return 0

    cdef int _q_grow(self, int64_t cap) except -1 nogil:
        mem_resize(<void**>&self.q_msg, cap * sizeof(int32_t))
        mem_resize(<void**>&self.q_recv, cap * sizeof(int32_t))
        mem_resize(<void**>&self.q_receipt, cap * sizeof(int64_t))
        mem_resize(<void**>&self.q_deadline, cap * sizeof(double))
        mem_resize(<void**>&self.q_exp, cap * sizeof(int32_t))
        mem_resize(<void**>&self.q_fly, cap * sizeof(int32_t))
        mem_resize(<void**>&self.q_fly_receipt, cap * sizeof(int64_t))
        # the rings keep their contents at the same logical places
        self._ring_regrow(self.q_exp, self.q_exp_head, self.q_exp_len, self.q_cap, cap)
        self._ring_regrow_fly(self.q_cap, cap)
        self.q_cap = cap
        return 0

    cdef void _ring_regrow(self, int32_t* ring, int64_t head, int64_t n, int64_t old,
                           int64_t cap) noexcept nogil:
        cdef int64_t i
        if old == 0 or head + n <= old:
            return
        # the wrapped part moves right after the old end
        for i in range(head + n - old):
            ring[old + i] = ring[i]

    cdef void _ring_regrow_fly(self, int64_t old, int64_t cap) noexcept nogil:
        cdef int64_t i
        if old == 0 or self.q_fly_head + self.q_fly_len <= old:
            return
        for i in range(self.q_fly_head + self.q_fly_len - old):
            self.q_fly[old + i] = self.q_fly[i]
            self.q_fly_receipt[old + i] = self.q_fly_receipt[i]

    # ------------------------------------------------------------------ consumers
    cdef inline void _wake(self, int32_t c, double t) noexcept nogil:
        if self.cons[c].state == C_WAIT:
            ev_schedule(&self.ev, 1 + c, t)

    cdef int _consumer_event(self, int32_t c, double t) except -1 nogil:
        cdef Consumer* cs = &self.cons[c]
        if cs.state == C_WAIT or cs.state == C_DOWN:
            cs.state = C_WAIT
            ev_schedule(&self.ev, 1 + c, INFINITY)
            self._fetch(c, t)
        elif cs.state == C_PROC:
            self._processed(c, t)
        elif cs.state == C_COMMIT:
            self._committed(c, t)
        return 0

    cdef int _fetch(self, int32_t c, double t) except -1 nogil:
        """Take the next batch if there is one; otherwise wait (or finish)."""
        cdef Consumer* cs = &self.cons[c]
        cdef int32_t p, tries, i, n, width
        cdef int64_t avail, off
        if self.broker == BROKER_LOG:
            width = cs.p_hi - cs.p_lo
            if width == 0:
                cs.state = C_DONE
                return 0
            # the first of its partitions with records, from the one whose turn it is
            tries = 0
            p = cs.rr
            while tries < width:
                avail = self.plen[p] - self.committed[p]
                if avail > 0:
                    break
                p = p + 1 if p + 1 < cs.p_hi else cs.p_lo
                tries += 1
            if tries == width:
                if self.producer_done:
                    cs.state = C_DONE
                return 0           # wait for a record
            cs.rr = p
            n = <int32_t>(avail if avail < self.B else self.B)
            cs.start = self.committed[p]
            cs.n = n
            cs.batches += 1
            if self.record:
                self._record(c, p, n)
            for i in range(n):
                off = cs.start + i
                cs.batch[i] = self.plog[p][off]
                if self.pdeliv[p][off] < 255:
                    self.pdeliv[p][off] += 1
                cs.skip[i] = 0
                if self.pdeliv[p][off] > 1:
                    self.redelivered += 1
                if self.max_deliveries > 0 and self.pdeliv[p][off] > self.max_deliveries:
                    cs.skip[i] = 1
                    if not self.dead[cs.batch[i]]:
                        self.dead[cs.batch[i]] = 1
                    self.dead_lettered += 1
        else:
            n = self._q_receive(c, t)
            if n == 0:
                return 0
            cs.n = n
            cs.batches += 1
            if self.record:
                self._record(c, 0, n)
        cs.pos = 0
        if self.sem == AMO:
            # commit first (the offsets or the deletes), then process
            self._commit_batch(c)
            cs.state = C_COMMIT
            ev_schedule(&self.ev, 1 + c, t + self.commit_time)
        else:
            self._start_next(c, t)
        return 0

    cdef int32_t _q_receive(self, int32_t c, double t) except -1 nogil:
        """Receive up to B visible entries (in order of becoming visible, then of
        sending); if fewer than B are visible and the producer is not done, take
        none and wait (until the next entry comes back from flight, if any)."""
        cdef Consumer* cs = &self.cons[c]
        cdef int64_t visible, e, r
        cdef int32_t n = 0, want
        cdef double wake
        while True:
            self._q_expire(t)
            visible = (self.q_len - self.q_new) + self.q_exp_len
            if self.q_live == 0:
                if self.producer_done:
                    cs.state = C_DONE
                return 0
            if visible < self.B and not self.producer_done or visible == 0:
                wake = self._q_next_deadline()
                if wake < INFINITY:
                    ev_schedule(&self.ev, 1 + c, wake)
                return 0
            want = self.B
            while n < want and (self.q_new < self.q_len or self.q_exp_len > 0):
                if self.q_exp_len > 0 and (self.q_new >= self.q_len or
                                           self._q_exp_first(self.q_exp[self.q_exp_head], self.q_new)):
                    e = self.q_exp[self.q_exp_head]
                    self.q_exp_head = (self.q_exp_head + 1) % self.q_cap
                    self.q_exp_len -= 1
                else:
                    e = self.q_new
                    self.q_new += 1
                if self.q_receipt[e] < 0:
                    continue
                if self.max_deliveries > 0 and self.q_recv[e] >= self.max_deliveries:
                    # the redrive policy: to the dead-letter queue instead of the consumer
                    self.q_receipt[e] = -1
                    self.q_live -= 1
                    self.dead[self.q_msg[e]] = 1
                    self.dead_lettered += 1
                    continue
                self.q_recv[e] += 1
                if self.q_recv[e] > 1:
                    self.redelivered += 1
                self.q_serial += 1
                self.q_receipt[e] = self.q_serial
                self.q_deadline[e] = t + self.visibility
                cs.batch[n] = <int32_t>e
                cs.receipt[n] = self.q_serial
                cs.skip[n] = 0
                n += 1
            if n > 0:
                self._q_fly_batch(cs, n)
                return n
            # every visible one went to the dead-letter queue: look again

    cdef void _q_fly_batch(self, Consumer* cs, int32_t n) noexcept nogil:
        """Put the batch's entries in flight, in order of sending: they share a
        deadline, and come back in the order the queue gives equal times (by
        sending), so the flight ring stays in (deadline, sending) order."""
        cdef int32_t i, j, j2, e
        cdef int64_t r
        for i in range(n):
            e = cs.batch[i]
            j = 0
            while j < i:
                r = (self.q_fly_head + self.q_fly_len - i + j) % self.q_cap
                if self.q_fly[r] > e:
                    break
                j += 1
            # shift the later ones right by one, then place e at j
            r = self.q_fly_len - i
            for j2 in range(i, j, -1):
                self.q_fly[(self.q_fly_head + r + j2) % self.q_cap] = \
                    self.q_fly[(self.q_fly_head + r + j2 - 1) % self.q_cap]
                self.q_fly_receipt[(self.q_fly_head + r + j2) % self.q_cap] = \
                    self.q_fly_receipt[(self.q_fly_head + r + j2 - 1) % self.q_cap]
            self.q_fly[(self.q_fly_head + r + j) % self.q_cap] = e
            self.q_fly_receipt[(self.q_fly_head + r + j) % self.q_cap] = cs.receipt[i]
            self.q_fly_len += 1

    cdef inline bint _q_exp_first(self, int64_t e_exp, int64_t e_new) noexcept nogil:
        """Whether the entry back from flight becomes visible before the new one
        (ties: the earlier sent)."""
        cdef double a = self.q_deadline[e_exp], b = self.q_deadline[e_new]
        return a < b or (a == b and e_exp < e_new)

    cdef double _q_next_deadline(self) noexcept nogil:
        cdef int64_t i, r, e
        for i in range(self.q_fly_len):
            r = (self.q_fly_head + i) % self.q_cap
            e = self.q_fly[r]
            if self.q_receipt[e] == self.q_fly_receipt[r]:
                return self.q_deadline[e]
        return INFINITY

    cdef void _q_expire(self, double t) noexcept nogil:
        """Entries whose visibility timeout has passed come back (in deadline order)."""
        cdef int64_t e, r
        while self.q_fly_len > 0:
            r = self.q_fly_head
            e = self.q_fly[r]
            if self.q_receipt[e] == self.q_fly_receipt[r]:
                if self.q_deadline[e] > t:
                    break
                self.q_receipt[e] = 0          # visible, no valid receipt
                self.q_exp[(self.q_exp_head + self.q_exp_len) % self.q_cap] = <int32_t>e
                self.q_exp_len += 1
            self.q_fly_head = (self.q_fly_head + 1) % self.q_cap
            self.q_fly_len -= 1

    cdef int _start_next(self, int32_t c, double t) except -1 nogil:
        """Process the next message of the batch (skipping dead-lettered ones), or
        commit when the batch is done."""
        cdef Consumer* cs = &self.cons[c]
        while cs.pos < cs.n and cs.skip[cs.pos]:
            cs.pos += 1
        if cs.pos < cs.n:
            cs.state = C_PROC
            ev_schedule(&self.ev, 1 + c, t + self._svc())
        elif self.sem == AMO:
            self._batch_done(c, t)
        else:
            cs.state = C_COMMIT
            ev_schedule(&self.ev, 1 + c, t + self.commit_time)
        return 0

    cdef inline int32_t _msg(self, int32_t c, int32_t i) noexcept nogil:
        if self.broker == BROKER_LOG:
            return self.cons[c].batch[i]
        return self.q_msg[self.cons[c].batch[i]]

    cdef inline void _effect(self, int32_t m, double t) noexcept nogil:
        if self.count[m] == 0:
            self.first_effect[m] = t
        self.count[m] += 1

    cdef int _processed(self, int32_t c, double t) except -1 nogil:
        """Message ``pos`` of the batch is processed; then, maybe, a crash."""
        cdef Consumer* cs = &self.cons[c]
        cdef int32_t m = self._msg(c, cs.pos)
        if self.sem == DEDUP or (self.sem == EOS and self.broker == BROKER_QUEUE):
            if self.count[m] == 0:
                self._effect(m, t)
            else:
                self.suppressed += 1
        elif self.sem != EOS:
            self._effect(m, t)
        cs.steps += 1
        cs.pos += 1
        if _u01(self.seed, STREAM_CRASH, <uint64_t>c, <uint64_t>(cs.steps - 1)) < self.p_crash:
            self.crashes += 1
            if self.sem == EOS and self.broker == BROKER_LOG:
                self.aborted += 1
            self._restart(c, t, self.restart_time)
            return 0
        self._start_next(c, t)
        return 0

    cdef int _restart(self, int32_t c, double t, double pause) except -1 nogil:
        """The consumer loses its batch; it fetches again from the committed
        positions (log) or whatever is visible (queue) after ``pause``."""
        cdef Consumer* cs = &self.cons[c]
        cs.n = 0
        cs.pos = 0
        cs.state = C_DOWN
        ev_schedule(&self.ev, 1 + c, t + pause)
        return 0

    cdef int _commit_batch(self, int32_t c) except -1 nogil:
        """Commit the batch's offsets (log) or delete its messages (queue); a delete
        with an outdated receipt handle deletes nothing."""
        cdef Consumer* cs = &self.cons[c]
        cdef int32_t i
        cdef int64_t e
        if self.broker == BROKER_LOG:
            self.committed[cs.rr] = cs.start + cs.n
        else:
            for i in range(cs.n):
                e = cs.batch[i]
                if self.q_receipt[e] == cs.receipt[i]:
                    self.q_receipt[e] = -1
                    self.q_live -= 1
                else:
                    self.commits_failed += 1     # an outdated receipt handle
        return 0

    cdef int _committed(self, int32_t c, double t) except -1 nogil:
        cdef Consumer* cs = &self.cons[c]
        cdef int32_t i
        if self.sem == AMO:
            # the offsets are committed; now process
            self._start_next(c, t)
            return 0
        # the batch is processed; its commit lands now (unless fenced by a rebalance)
        if (self.broker == BROKER_LOG and
                _u01(self.seed, STREAM_REBALANCE, <uint64_t>c, <uint64_t>(cs.batches - 1))
                < self.p_rebalance):
            self.rebalances += 1
            self.commits_failed += 1
            if self.sem == EOS:
                self.aborted += 1
            self._restart(c, t, self.rebalance_time)
            return 0
        if self.sem == EOS and self.broker == BROKER_LOG:
            # the transaction commits: the outputs become visible with the offsets
            for i in range(cs.n):
                if not cs.skip[i]:
                    self._effect(self._msg(c, i), t)
        if self.broker == BROKER_QUEUE:
            self._q_expire(t)
        self._commit_batch(c)
        self._batch_done(c, t)
        return 0

    cdef int _batch_done(self, int32_t c, double t) except -1 nogil:
        cdef Consumer* cs = &self.cons[c]
        if self.broker == BROKER_LOG:
            if self.sem == AMO:
                # rebalances during processing: the consumer has its records and
                # finishes them (its commit was first); it only pauses
                if (_u01(self.seed, STREAM_REBALANCE, <uint64_t>c, <uint64_t>(cs.batches - 1))
                        < self.p_rebalance):
                    self.rebalances += 1
                    cs.rr = cs.rr + 1 if cs.rr + 1 < cs.p_hi else cs.p_lo
                    self._restart(c, t, self.rebalance_time)
                    return 0
            cs.rr = cs.rr + 1 if cs.rr + 1 < cs.p_hi else cs.p_lo
        cs.n = 0
        cs.state = C_WAIT
        ev_schedule(&self.ev, 1 + c, INFINITY)
        self._fetch(c, t)
        return 0

    cdef int _record(self, int32_t c, int32_t p, int32_t n) except -1 nogil:
        if self.rec_len == self.rec_cap:
            self.rec_cap = 2 * self.rec_cap if self.rec_cap else 1024
            mem_resize(<void**>&self.rec, 3 * self.rec_cap * sizeof(int32_t))
        self.rec[3 * self.rec_len] = c
        self.rec[3 * self.rec_len + 1] = p
        self.rec[3 * self.rec_len + 2] = n
        self.rec_len += 1
        return 0

    def schedule(self):
        """The batches fetched, in order: an (n, 3) int32 array of (consumer,
        partition, records); empty unless ``record`` was set before ``run``."""
        if self.rec_len == 0:
            return np.zeros((0, 3), np.int32)
        return np.asarray(<int32_t[:3 * self.rec_len]>self.rec).reshape(-1, 3).copy()

    # ------------------------------------------------------------------ results
    def arrays(self):
        """Per message: arrival time, first effect time (NaN: never), effect count,
        dead-lettered."""
        cdef int64_t M = self.M
        return {
            "arrive": np.asarray(<double[:M]>self.arrive).copy() if M else np.zeros(0),
            "first_effect": np.asarray(<double[:M]>self.first_effect).copy() if M else np.zeros(0),
            "count": np.asarray(<int32_t[:M]>self.count).copy() if M else np.zeros(0, np.int32),
            "dead": np.asarray(<uint8_t[:M]>self.dead).astype(bool) if M else np.zeros(0, bool),
        }

    def _check(self):
        """Assert the invariants: the event heap, every record in its partition
        once per write, committed offsets within the partitions, consumers in a
        known state, the queue's live count."""
        cdef int32_t p, c
        cdef int64_t total = 0, live = 0, e
        ev_check(&self.ev)
        if self.broker == BROKER_LOG:
            for p in range(self.P):
                assert 0 <= self.committed[p] <= self.plen[p], (p, self.committed[p], self.plen[p])
                total += self.plen[p]
                for e in range(self.plen[p]):
                    assert 0 <= self.plog[p][e] < self.M
            assert total == self.records
        else:
            for e in range(self.q_len):
                if self.q_receipt[e] >= 0:
                    live += 1
            assert live == self.q_live, (live, self.q_live)
            assert self.q_len == self.records
        for c in range(self.C):
            assert C_WAIT <= self.cons[c].state <= C_DONE
        if self.done:
            for c in range(self.C):
                assert self.cons[c].state in (C_WAIT, C_DONE), (c, self.cons[c].state)
            if self.broker == BROKER_LOG:
                for p in range(self.P):
                    assert self.committed[p] == self.plen[p], (p, self.committed[p], self.plen[p])
            else:
                assert self.q_live == 0, self.q_live
        return True
