"""The event loop of :func:`tradeoff.balance.simulator`: a balancer in front of
servers, in a discrete-event simulation that runs without the GIL.

Time is in units of the mean service time (a request of work ``w`` takes
``w / speed`` on a server); ``unit`` converts to the seconds in which health
checks, outlier detection and the balancer's ``done(duration)`` count.

Events come from a fixed set of *sources*, each with at most one pending event,
held in the package's shared event heap (``tradeoff._core.events``): the
failure schedule, outlier releases, the FIFO of requests that time out against
a dead server, one departure source per server, one probe source per server and
the arrival process. Ties in time go to the lower source number, in this order:
failures and recoveries, ejection releases, timed-out errors, departures (by
server), probes (by server), the arrival. Updating a source is one sift,
O(log(2n)).

Requests in the system live in a pool of ``Job`` records (grown by doubling,
never per event): per server a FIFO list (FCFS) or a leftist heap on finish tags
(processor sharing), and one FIFO list of requests waiting for their error.

Processor sharing is exact, with virtual time: while a server holds k jobs its
virtual clock V runs at speed/k; a job of work w arriving at V gets finish tag
V + w and leaves when V reaches it, so the next departure is the smallest tag,
at real time now + (tag - V) * k / speed, recomputed on every arrival and
departure at that server (Demers, Keshav and Shenker, SIGCOMM 1989, for the
virtual clock; Kleinrock, Queueing Systems vol. 2, 1976, for PS).
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.math cimport log, exp, sqrt, cos, sin, pow, INFINITY, NAN, isfinite, M_PI
from cpython.mem cimport PyMem_RawFree

import numpy as np

from tradeoff._core.rng cimport (Rng, rng_seed, rng_uniform, rng_uniform_pos, rng_below,
                                 rng_exponential)
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.pool cimport Pool, pool_init, pool_alloc, pool_free, pool_free_count, pool_release
from tradeoff._core.events cimport (Events, ev_init, ev_free, ev_schedule, ev_next, ev_time,
                                    ev_check)
from tradeoff.balance._base cimport Balancer, HealthCheck, OutlierDetector


# service distributions (mean 1 at speed 1)
cdef enum:
    SVC_EXP = 0
    SVC_CONST = 1
    SVC_BIMODAL = 2
    SVC_LOGNORMAL = 3
    SVC_PARETO = 4
    SVC_RESAMPLE = 5
    SVC_ORDER = 6

# arrival processes
cdef enum:
    ARR_POISSON = 0
    ARR_ONOFF = 1
    ARR_BATCH = 2
    ARR_TRACE = 3

# outcome of each request (the status array)
cdef enum:
    ST_UNRESOLVED = -1
    ST_OK = 0
    ST_ERROR = 1       # sent to a server that was down
    ST_DROPPED = 2     # queued or in service on a server when it failed
    ST_REJECTED = 3    # no server in rotation: the balancer had nothing to pick

# the fixed event sources; departures of server s are D0 + s, probes D0 + n + s,
# the arrival D0 + 2n
cdef enum:
    SRC_FAIL = 0
    SRC_REL = 1
    SRC_ERR = 2
    D0 = 3

# the same numbers for Python (simulate.py)
SERVICE_KINDS = {"exp": SVC_EXP, "const": SVC_CONST, "bimodal": SVC_BIMODAL,
                 "lognormal": SVC_LOGNORMAL, "pareto": SVC_PARETO,
                 "resample": SVC_RESAMPLE, "order": SVC_ORDER}
ARRIVAL_KINDS = {"poisson": ARR_POISSON, "onoff": ARR_ONOFF, "batch": ARR_BATCH,
                 "trace": ARR_TRACE}
STATUS = {"unresolved": ST_UNRESOLVED, "ok": ST_OK, "error": ST_ERROR,
          "dropped": ST_DROPPED, "rejected": ST_REJECTED}


cdef struct Job:
    double arrival     # when the request arrived
    double work        # FCFS: work (time at speed 1); PS: finish tag in the
                       # server's virtual time; error FIFO: when the error returns
    int64_t idx        # arrival index (< requests: measured and recorded)
    int32_t server
    int32_t next       # FCFS queue, error FIFO, free list; scratch stack in drops
    int32_t left       # PS leftist heap: children and null-path length
    int32_t right
    int32_t rank


cdef class Simulator:
    """One run of the event loop (built and driven by ``simulate``).

    ``run(until)`` processes events until ``until`` requests have arrived or the
    run is complete, with the GIL released; ``finish()`` then closes the
    balancer connections of requests still in the system (the extra arrivals
    that kept the load steady while the last measured ones finished).
    """
    # the policy and its companions
    cdef Balancer bal
    cdef HealthCheck hc
    cdef OutlierDetector od
    cdef bint has_hc, has_od
    cdef double unit               # seconds per time unit
    cdef double hc_interval, hc_timeout   # in time units
    cdef double err_timeout        # <= 0: an error returns at once

    # servers
    cdef int32_t n
    cdef bint ps
    cdef double* speed
    cdef char* up                  # the server's true state (failures), not the balancer's
    cdef int64_t* k                # requests at the server (in service + queued)
    cdef int32_t* head             # FCFS queue (head is in service)
    cdef int32_t* tail
    cdef int32_t* root             # PS: leftist heap of finish tags
    cdef double* vt                # PS: virtual time
    cdef double* vt_last           # PS: real time of the last virtual-time update

    # statistics over the measured window
    cdef bint window_open
    cdef double t_open, t_close
    cdef double* last
    cdef double* area              # integral of k over the window
    cdef double* busy              # time with k > 0
    cdef int64_t* kmax

    # event heap over the sources
    cdef Events ev

    # job pool
    cdef Pool pool              # the requests: jobs is pool.base, re-read after each _alloc
    cdef Job* jobs
    cdef int32_t err_head, err_tail

    # arrivals
    cdef Rng rng
    cdef int arr_kind
    cdef double lam                # mean arrival rate (per time unit)
    cdef double on_rate, on_mean, off_mean, period_end
    cdef double batch_mean
    cdef bint batch_fixed
    cdef int64_t batch_left
    cdef const double[::1] trace
    cdef int64_t n_arrived, arrival_limit, requests, warmup, outstanding
    cdef double next_t

    # service
    cdef int svc_kind
    cdef double p1, p2, p3         # distribution parameters (see set_service)
    cdef bint have_spare
    cdef double spare
    cdef const double[::1] values
    cdef int64_t order_i

    # clients
    cdef uint64_t n_clients
    cdef const uint64_t[::1] client_words
    cdef bint client_array

    # records (numpy arrays owned by the caller)
    cdef double[::1] lat
    cdef int32_t[::1] srv
    cdef int8_t[::1] status

    # health checks
    cdef char* probe_pending
    cdef double* probe_sent

    # failure schedule and outages
    cdef const double[::1] f_time
    cdef const int32_t[::1] f_server
    cdef const int8_t[::1] f_up
    cdef const int32_t[::1] f_outage
    cdef int32_t f_pos, n_fail
    cdef int32_t* cur_outage       # per server: its latest outage, or -1
    cdef int8_t* phase             # 0 none, 1 down and still in rotation,
                                   # 2 down and taken out, 3 back up, not yet back in
    cdef double[::1] out_detect    # absolute times (time units), NaN: never
    cdef double[::1] out_reinstate
    cdef int64_t[::1] out_errors
    cdef int64_t[::1] out_dropped

    # outlier releases
    cdef double rel_s              # next release, in seconds

    # counters
    cdef readonly int64_t events
    cdef readonly int64_t errors, dropped, rejected
    cdef readonly double now
    cdef readonly bint done

    def __cinit__(self):
        self.speed = NULL
        self.up = NULL
        self.k = NULL
        self.head = NULL
        self.tail = NULL
        self.root = NULL
        self.vt = NULL
        self.vt_last = NULL
        self.last = NULL
        self.area = NULL
        self.busy = NULL
        self.kmax = NULL
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0
        self.jobs = NULL
        self.probe_pending = NULL
        self.probe_sent = NULL
        self.cur_outage = NULL
        self.phase = NULL
        self.pool.base = NULL

    def __dealloc__(self):
        PyMem_RawFree(self.speed)
        PyMem_RawFree(self.up)
        PyMem_RawFree(self.k)
        PyMem_RawFree(self.head)
        PyMem_RawFree(self.tail)
        PyMem_RawFree(self.root)
        PyMem_RawFree(self.vt)
        PyMem_RawFree(self.vt_last)
        PyMem_RawFree(self.last)
        PyMem_RawFree(self.area)
        PyMem_RawFree(self.busy)
        PyMem_RawFree(self.kmax)
        ev_free(&self.ev)
        pool_release(&self.pool)
        PyMem_RawFree(self.probe_pending)
        PyMem_RawFree(self.probe_sent)
        PyMem_RawFree(self.cur_outage)
        PyMem_RawFree(self.phase)

    def __init__(self, Balancer balancer, speeds, bint ps, double unit, int64_t requests,
                 int64_t warmup, int64_t arrival_limit, uint64_t seed,
                 double[::1] lat, int32_t[::1] srv, int8_t[::1] status,
                 HealthCheck health=None, OutlierDetector outlier=None,
                 double err_timeout=0.0):
        cdef double[::1] sp = np.ascontiguousarray(speeds, dtype=np.float64)
        cdef int32_t n = balancer.n, s, i
        if sp.shape[0] != n:
            raise ValueError(f"{sp.shape[0]} speeds for {n} servers")
        if requests < 1 or not 0 <= warmup < requests or arrival_limit < requests:
            raise ValueError("need requests >= 1, 0 <= warmup < requests <= arrival_limit")
        if lat.shape[0] < requests or srv.shape[0] < requests or status.shape[0] < requests:
            raise ValueError("record arrays are shorter than requests")
        self.bal = balancer
        self.n = n
        self.ps = ps
        self.unit = unit
        self.requests = requests
        self.warmup = warmup
        self.arrival_limit = arrival_limit
        self.lat = lat
        self.srv = srv
        self.status = status
        self.err_timeout = err_timeout / unit
        mem_resize(<void**>&self.speed, n * sizeof(double))
        mem_resize(<void**>&self.up, n)
        mem_resize(<void**>&self.k, n * sizeof(int64_t))
        mem_resize(<void**>&self.head, n * sizeof(int32_t))
        mem_resize(<void**>&self.tail, n * sizeof(int32_t))
        mem_resize(<void**>&self.root, n * sizeof(int32_t))
        mem_resize(<void**>&self.vt, n * sizeof(double))
        mem_resize(<void**>&self.vt_last, n * sizeof(double))
        mem_resize(<void**>&self.last, n * sizeof(double))
        mem_resize(<void**>&self.area, n * sizeof(double))
        mem_resize(<void**>&self.busy, n * sizeof(double))
        mem_resize(<void**>&self.kmax, n * sizeof(int64_t))
        mem_resize(<void**>&self.probe_pending, n)
        mem_resize(<void**>&self.probe_sent, n * sizeof(double))
        mem_resize(<void**>&self.cur_outage, n * sizeof(int32_t))
        mem_resize(<void**>&self.phase, n)
        for s in range(n):
            if not (sp[s] > 0 and isfinite(sp[s])):
                raise ValueError(f"server speeds must be finite and > 0, got {sp[s]!r}")
            self.speed[s] = sp[s]
            self.up[s] = 1
            self.k[s] = 0
            self.head[s] = -1
            self.tail[s] = -1
            self.root[s] = -1
            self.vt[s] = 0.0
            self.vt_last[s] = 0.0
            self.last[s] = 0.0
            self.area[s] = 0.0
            self.busy[s] = 0.0
            self.kmax[s] = 0
            self.probe_pending[s] = 0
            self.probe_sent[s] = 0.0
            self.cur_outage[s] = -1
            self.phase[s] = 0

        ev_init(&self.ev, D0 + 2 * n + 1)

        cdef Job probe
        pool_init(&self.pool, sizeof(Job), <size_t>(<char*>&probe.next - <char*>&probe), 1024 if n < 256 else 4 * n,
                  "requests")
        self.jobs = <Job*>self.pool.base
        self.err_head = -1
        self.err_tail = -1

        rng_seed(&self.rng, mix64(seed ^ <uint64_t>0x73696d756c61746fULL))
        self.arr_kind = -1
        self.svc_kind = -1
        self.n_clients = 1
        self.client_array = False
        self.have_spare = False

        self.hc = health
        self.has_hc = health is not None
        if self.has_hc:
            health._bind(n)
            for s in range(n):
                # a server the balancer has marked down starts unhealthy, so that
                # `rise` good probes bring it back
                if not balancer.up[s]:
                    health.healthy[s] = 0
            self.hc_interval = health.interval / unit
            self.hc_timeout = health.timeout / unit
            for s in range(n):
                # staggered deterministically over the first interval
                self._schedule(D0 + n + s, self.hc_interval * s / n)
        self.od = outlier
        self.has_od = outlier is not None
        if self.has_od:
            outlier._bind(n)
            for s in range(n):
                # the detector starts with nothing ejected: neither does the balancer
                if balancer.ejected[s]:
                    balancer._set_ejected(s, False)
        self.rel_s = INFINITY
        self.n_fail = 0
        self.f_pos = 0
        self.window_open = False
        self.t_open = NAN
        self.t_close = NAN

    # ---------------------------------------------------------------- setup
    def set_arrivals(self, int kind, double lam=1.0, double on_mean=0.0, double off_mean=0.0,
                     double batch_mean=1.0, bint batch_fixed=False, trace=None):
        """Poisson at rate ``lam``; on/off (exponential on and off periods with
        means ``on_mean``/``off_mean``, Poisson during on periods at the rate that
        makes the average ``lam``, nothing during off periods; starts on);
        batch Poisson (batches at rate ``lam / batch_mean``, sizes fixed or
        geometric with mean ``batch_mean``); or a trace of absolute times (time
        units, non-decreasing). All times are in time units."""
        self.arr_kind = kind
        self.lam = lam
        if kind == ARR_ONOFF:
            self.on_mean = on_mean
            self.off_mean = off_mean
            self.on_rate = lam * (on_mean + off_mean) / on_mean
            self.period_end = rng_exponential(&self.rng, on_mean)
        elif kind == ARR_BATCH:
            self.batch_mean = batch_mean
            self.batch_fixed = batch_fixed
            self.batch_left = 0
        elif kind == ARR_TRACE:
            self.trace = np.ascontiguousarray(trace, dtype=np.float64)
            if self.trace.shape[0] < self.arrival_limit:
                raise ValueError("the arrival trace is shorter than the requests")
        elif kind != ARR_POISSON:
            raise ValueError(f"unknown arrival kind {kind}")

    def set_service(self, int kind, double p1=0.0, double p2=0.0, double p3=0.0, values=None):
        """exp; const; bimodal (p1 = probability of the long value p3, else the
        short value p2); lognormal (p1 = mu, p2 = sigma); pareto (p1 = scale,
        p2 = alpha); resample or order over ``values`` (already normalized)."""
        self.svc_kind = kind
        self.p1 = p1
        self.p2 = p2
        self.p3 = p3
        if kind == SVC_RESAMPLE or kind == SVC_ORDER:
            self.values = np.ascontiguousarray(values, dtype=np.float64)
            if self.values.shape[0] == 0:
                raise ValueError("no service times given")
        elif not SVC_EXP <= kind <= SVC_PARETO:
            raise ValueError(f"unknown service kind {kind}")

    def set_clients(self, clients):
        """A count (each request from a client drawn uniformly, whose word is its
        number) or an array of client words, used in order and cycled."""
        if isinstance(clients, int):
            if clients < 1:
                raise ValueError(f"clients must be >= 1, got {clients}")
            self.n_clients = clients
            self.client_array = False
        else:
            self.client_words = np.ascontiguousarray(clients, dtype=np.uint64)
            if self.client_words.shape[0] == 0:
                raise ValueError("the client array is empty")
            self.client_array = True

    def set_failures(self, times, servers, ups, outages, int32_t n_outages):
        """The failure schedule, sorted: time units, server, 1 for a recovery and
        0 for a failure, and the outage each event belongs to."""
        self.f_time = np.ascontiguousarray(times, dtype=np.float64)
        self.f_server = np.ascontiguousarray(servers, dtype=np.int32)
        self.f_up = np.ascontiguousarray(ups, dtype=np.int8)
        self.f_outage = np.ascontiguousarray(outages, dtype=np.int32)
        self.n_fail = self.f_time.shape[0]
        self.f_pos = 0
        self.out_detect = np.full(n_outages, np.nan)
        self.out_reinstate = np.full(n_outages, np.nan)
        self.out_errors = np.zeros(n_outages, dtype=np.int64)
        self.out_dropped = np.zeros(n_outages, dtype=np.int64)
        if self.n_fail:
            self._schedule(SRC_FAIL, self.f_time[0])

    def start(self):
        """Schedule the first arrival (after set_arrivals/set_service)."""
        if self.arr_kind < 0 or self.svc_kind < 0:
            raise RuntimeError("set_arrivals and set_service first")
        if self.out_detect is None:
            self.set_failures([], [], [], [], 0)
        self.n_arrived = 0
        self.outstanding = 0
        self._schedule(D0 + 2 * self.n, self._next_arrival(0.0))

    # ---------------------------------------------------------------- running
    def run(self, int64_t until):
        """Process events (GIL released) until ``until`` requests have arrived or
        the run is complete; returns whether it is complete."""
        with nogil:
            self._run(until)
        return self.done

    cdef int _run(self, int64_t until) except -1 nogil:
        cdef int32_t src, n = self.n
        cdef double t
        while not self.done:
            if self.n_arrived >= until:
                return 0
            src = ev_next(&self.ev)
            t = ev_time(&self.ev, src)
            if t == INFINITY:
                self.done = True
                break
            self.now = t
            self.events += 1
            if src >= D0:
                if src < D0 + n:
                    self._departure(src - D0, t)
                elif src < D0 + 2 * n:
                    self._probe(src - D0 - n, t)
                else:
                    self._arrival(t)
            elif src == SRC_FAIL:
                self._failure(t)
            elif src == SRC_REL:
                self._release(t)
            else:
                self._error_due(t)
            if self.outstanding == 0 and self.n_arrived >= self.requests:
                self.done = True
        return 0

    @property
    def arrived(self):
        """Requests that have arrived so far (measured and extra)."""
        return self.n_arrived

    def finish(self):
        """Close the balancer connections of the requests left in the system
        (unmeasured extra arrivals), so that the balancer ends with none open."""
        cdef int32_t s, j, nx
        for s in range(self.n):
            self._drop_all(s, self.now, False)
        j = self.err_head
        while j >= 0:
            nx = self.jobs[j].next
            self.bal._done(self.jobs[j].server, -1.0)
            self._free(j)
            j = nx
        self.err_head = -1
        self.err_tail = -1
        self._schedule(SRC_ERR, INFINITY)

    cdef inline void _schedule(self, int32_t src, double t) noexcept nogil:
        """Set the time of a source's pending event (+inf: none)."""
        ev_schedule(&self.ev, src, t)

    # ---------------------------------------------------------------- job pool
    cdef inline int32_t _alloc(self) except -1 nogil:
        cdef int32_t j = pool_alloc(&self.pool)
        self.jobs = <Job*>self.pool.base
        return j

    cdef inline void _free(self, int32_t j) noexcept nogil:
        pool_free(&self.pool, j)

    # ---------------------------------------------------------------- draws
    cdef double _next_arrival(self, double t) noexcept nogil:
        cdef double g, u
        if self.arr_kind == ARR_POISSON:
            return t + rng_exponential(&self.rng, 1.0 / self.lam)
        if self.arr_kind == ARR_TRACE:
            if self.n_arrived < self.trace.shape[0]:
                return self.trace[self.n_arrived]
            return INFINITY
        if self.arr_kind == ARR_BATCH:
            if self.batch_left > 0:
                self.batch_left -= 1
                return t
            if self.batch_fixed:
                self.batch_left = <int64_t>self.batch_mean - 1
            elif self.batch_mean > 1.0:
                # geometric on {1, 2, ...} with mean batch_mean, by inversion
                u = rng_uniform_pos(&self.rng)
                self.batch_left = <int64_t>(log(u) / log(1.0 - 1.0 / self.batch_mean))
            else:
                self.batch_left = 0
            return t + rng_exponential(&self.rng, self.batch_mean / self.lam)
        # on/off: Poisson at on_rate inside on periods; memoryless, so a draw
        # that crosses the end of the period is dropped and redrawn after it
        while True:
            g = t + rng_exponential(&self.rng, 1.0 / self.on_rate)
            if g <= self.period_end:
                return g
            t = self.period_end + rng_exponential(&self.rng, self.off_mean)
            self.period_end = t + rng_exponential(&self.rng, self.on_mean)

    cdef double _service(self) noexcept nogil:
        cdef int kind = self.svc_kind
        cdef double r
        if kind == SVC_EXP:
            return rng_exponential(&self.rng, 1.0)
        if kind == SVC_CONST:
            return 1.0
        if kind == SVC_BIMODAL:
            return self.p3 if rng_uniform(&self.rng) < self.p1 else self.p2
        if kind == SVC_LOGNORMAL:
            return exp(self.p1 + self.p2 * self._normal())
        if kind == SVC_PARETO:
            return self.p1 * pow(rng_uniform_pos(&self.rng), -1.0 / self.p2)
        if kind == SVC_RESAMPLE:
            return self.values[rng_below(&self.rng, <uint64_t>self.values.shape[0])]
        r = self.values[self.order_i % self.values.shape[0]]
        self.order_i += 1
        return r

    cdef double _normal(self) noexcept nogil:
        """A standard normal (Box-Muller; the second value of a pair is kept)."""
        cdef double r, a
        if self.have_spare:
            self.have_spare = False
            return self.spare
        r = sqrt(-2.0 * log(rng_uniform_pos(&self.rng)))
        a = 2.0 * M_PI * rng_uniform(&self.rng)
        self.spare = r * sin(a)
        self.have_spare = True
        return r * cos(a)

    cdef inline uint64_t _client(self, int64_t idx) noexcept nogil:
        if self.client_array:
            return self.client_words[idx % self.client_words.shape[0]]
        return rng_below(&self.rng, self.n_clients)

    # ---------------------------------------------------------------- statistics
    cdef inline void _account(self, int32_t s, double t) noexcept nogil:
        """Integrate the queue of server s up to t (call before k[s] changes)."""
        cdef double dt
        if self.window_open:
            dt = t - self.last[s]
            self.area[s] += self.k[s] * dt
            if self.k[s] > 0:
                self.busy[s] += dt
            self.last[s] = t

    cdef void _open_window(self, double t) noexcept nogil:
        cdef int32_t s
        for s in range(self.n):
            self.last[s] = t
            self.area[s] = 0.0
            self.busy[s] = 0.0
            self.kmax[s] = self.k[s]
        self.window_open = True
        self.t_open = t

    cdef void _close_window(self, double t) noexcept nogil:
        cdef int32_t s
        for s in range(self.n):
            self._account(s, t)
        self.window_open = False
        self.t_close = t

    # ---------------------------------------------------------------- balancer state
    cdef void _eligibility(self, int32_t s, double t) noexcept nogil:
        """Note detection / reinstatement after the balancer's view of s changed."""
        cdef int8_t ph = self.phase[s]
        if ph == 1 and not self.bal._eligible(s):
            self.out_detect[self.cur_outage[s]] = t
            self.phase[s] = 2
        elif ph == 3 and self.bal._eligible(s):
            self.out_reinstate[self.cur_outage[s]] = t
            self.phase[s] = 0

    cdef void _result(self, int32_t s, bint ok, double t) noexcept nogil:
        """A request result on s reaches the outlier detector."""
        if self.has_od and self.od._record(s, ok, t * self.unit):
            self.bal._set_ejected(s, True)
            self._eligibility(s, t)
            self._plan_release()

    cdef void _plan_release(self) noexcept nogil:
        self.rel_s = self.od._next_release()
        self._schedule(SRC_REL, self.rel_s / self.unit if self.rel_s < INFINITY else INFINITY)

    cdef void _release(self, double t) noexcept nogil:
        cdef double now_s = self.rel_s if self.rel_s > t * self.unit else t * self.unit
        cdef int32_t s = self.od._release_due(now_s)
        while s >= 0:
            self.bal._set_ejected(s, False)
            self._eligibility(s, t)
            s = self.od._release_due(now_s)
        self._plan_release()

    # ---------------------------------------------------------------- events
    cdef int _arrival(self, double t) except -1 nogil:
        cdef int64_t idx = self.n_arrived
        cdef double work
        cdef uint64_t client
        cdef int32_t s, j
        cdef bint measured = idx < self.requests
        if idx == self.warmup:
            self._open_window(t)
        work = self._service()
        client = self._client(idx)
        s = self.bal._pick(client)
        self.n_arrived += 1
        if measured:
            self.outstanding += 1
            self.srv[idx] = s
        if s < 0:
            if measured:
                self.status[idx] = ST_REJECTED
                self.rejected += 1
                self.outstanding -= 1
        elif not self.up[s]:
            self._send_error(s, idx, t)
        else:
            j = self._alloc()
            self.jobs[j].arrival = t
            self.jobs[j].idx = idx
            self.jobs[j].server = s
            self._enqueue(s, j, work, t)
        if self.n_arrived < self.arrival_limit:
            self._schedule(D0 + 2 * self.n, self._next_arrival(t))
        else:
            self._schedule(D0 + 2 * self.n, INFINITY)
        if idx == self.requests - 1:
            self._close_window(t)
        return 0

    cdef int _send_error(self, int32_t s, int64_t idx, double t) except -1 nogil:
        """A request reached a server that is down."""
        cdef int32_t j
        if idx < self.requests:
            self.status[idx] = ST_ERROR
            self.errors += 1
            if self.phase[s] == 1 or self.phase[s] == 2:
                self.out_errors[self.cur_outage[s]] += 1
        if self.err_timeout <= 0:
            self._resolve_error(s, idx, t)
        else:
            j = self._alloc()
            self.jobs[j].idx = idx
            self.jobs[j].server = s
            self._push_error(j, t + self.err_timeout)
        return 0

    cdef void _push_error(self, int32_t j, double when) noexcept nogil:
        """Queue job j's error to return at `when` (never before those queued)."""
        self.jobs[j].work = when
        self.jobs[j].next = -1
        if self.err_tail < 0:
            self.err_head = j
            self._schedule(SRC_ERR, when)
        else:
            self.jobs[self.err_tail].next = j
        self.err_tail = j

    cdef void _resolve_error(self, int32_t s, int64_t idx, double t) noexcept nogil:
        self.bal._done(s, -1.0)
        if idx < self.requests:
            self.outstanding -= 1
        self._result(s, False, t)

    cdef void _error_due(self, double t) noexcept nogil:
        cdef int32_t j = self.err_head
        self.err_head = self.jobs[j].next
        if self.err_head < 0:
            self.err_tail = -1
            self._schedule(SRC_ERR, INFINITY)
        else:
            self._schedule(SRC_ERR, self.jobs[self.err_head].work)
        self._resolve_error(self.jobs[j].server, self.jobs[j].idx, t)
        self._free(j)

    cdef void _enqueue(self, int32_t s, int32_t j, double work, double t) noexcept nogil:
        self._account(s, t)
        if self.ps:
            self._ps_advance(s, t)
            self.k[s] += 1
            self.jobs[j].work = self.vt[s] + work
            self.jobs[j].left = -1
            self.jobs[j].right = -1
            self.jobs[j].rank = 1
            self.root[s] = self._merge(self.root[s], j)
            self._ps_plan(s, t)
        else:
            self.k[s] += 1
            self.jobs[j].work = work
            self.jobs[j].next = -1
            if self.tail[s] < 0:
                self.head[s] = j
                self._schedule(D0 + s, t + work / self.speed[s])
            else:
                self.jobs[self.tail[s]].next = j
            self.tail[s] = j
        if self.window_open and self.k[s] > self.kmax[s]:
            self.kmax[s] = self.k[s]

    cdef void _departure(self, int32_t s, double t) noexcept nogil:
        cdef int32_t j
        cdef double d
        cdef int64_t idx
        self._account(s, t)
        if self.ps:
            self._ps_advance(s, t)
            j = self.root[s]
            self.root[s] = self._merge(self.jobs[j].left, self.jobs[j].right)
            self.k[s] -= 1
            if self.k[s] == 0:
                self.vt[s] = 0.0
            self._ps_plan(s, t)
        else:
            j = self.head[s]
            self.head[s] = self.jobs[j].next
            self.k[s] -= 1
            if self.head[s] < 0:
                self.tail[s] = -1
                self._schedule(D0 + s, INFINITY)
            else:
                self._schedule(D0 + s, t + self.jobs[self.head[s]].work / self.speed[s])
        d = t - self.jobs[j].arrival
        idx = self.jobs[j].idx
        if idx < self.requests:
            self.lat[idx] = d
            self.status[idx] = ST_OK
            self.outstanding -= 1
        self._free(j)
        self.bal._done(s, d * self.unit)
        self._result(s, True, t)

    # processor sharing: virtual time and a leftist heap of finish tags
    cdef inline void _ps_advance(self, int32_t s, double t) noexcept nogil:
        if self.k[s] > 0:
            self.vt[s] += (t - self.vt_last[s]) * self.speed[s] / self.k[s]
        self.vt_last[s] = t

    cdef void _ps_plan(self, int32_t s, double t) noexcept nogil:
        cdef double dt
        if self.k[s] == 0:
            self._schedule(D0 + s, INFINITY)
            return
        dt = (self.jobs[self.root[s]].work - self.vt[s]) * self.k[s] / self.speed[s]
        self._schedule(D0 + s, t + (dt if dt > 0 else 0.0))

    cdef int32_t _merge(self, int32_t a, int32_t b) noexcept nogil:
        """Merge two leftist heaps (smallest finish tag on top, ties: earlier
        arrival). Recursion follows right spines only: depth O(log k)."""
        cdef int32_t t, l, r
        cdef int32_t ra, rb
        if a < 0:
            return b
        if b < 0:
            return a
        if (self.jobs[b].work < self.jobs[a].work
                or (self.jobs[b].work == self.jobs[a].work and self.jobs[b].idx < self.jobs[a].idx)):
            t = a
            a = b
            b = t
        self.jobs[a].right = self._merge(self.jobs[a].right, b)
        l = self.jobs[a].left
        r = self.jobs[a].right
        ra = self.jobs[l].rank if l >= 0 else 0
        rb = self.jobs[r].rank if r >= 0 else 0
        if ra < rb:
            self.jobs[a].left = r
            self.jobs[a].right = l
            rb = ra
        self.jobs[a].rank = rb + 1
        return a

    cdef void _probe(self, int32_t s, double t) noexcept nogil:
        """A probe of s is sent (a live server answers at once; a dead one is
        noticed after the timeout), or a pending probe times out. The next
        probe goes `interval` after the previous one was sent, and never while
        one is pending."""
        cdef int r
        cdef double nt
        if not self.probe_pending[s]:
            if self.up[s]:
                r = self.hc._observe(s, True)
                self._health_change(s, r, t)
                self._schedule(D0 + self.n + s, t + self.hc_interval)
            else:
                self.probe_pending[s] = 1
                self.probe_sent[s] = t
                self._schedule(D0 + self.n + s, t + self.hc_timeout)
        else:
            self.probe_pending[s] = 0
            r = self.hc._observe(s, False)
            self._health_change(s, r, t)
            nt = self.probe_sent[s] + self.hc_interval
            self._schedule(D0 + self.n + s, nt if nt > t else t)

    cdef inline void _health_change(self, int32_t s, int r, double t) noexcept nogil:
        if r > 0:
            self.bal._set_up(s, True)
            self._eligibility(s, t)
        elif r < 0:
            self.bal._set_up(s, False)
            self._eligibility(s, t)

    cdef int _failure(self, double t) except -1 nogil:
        cdef int32_t i = self.f_pos
        cdef int32_t s = self.f_server[i]
        cdef int32_t o = self.f_outage[i]
        self.f_pos += 1
        self._schedule(SRC_FAIL, self.f_time[self.f_pos] if self.f_pos < self.n_fail else INFINITY)
        if self.f_up[i]:
            if not self.up[s]:
                self.up[s] = 1
                if self.phase[s] == 1 or self.phase[s] == 2:
                    self.phase[s] = 3
                    self._eligibility(s, t)
        else:
            if self.up[s]:
                self.up[s] = 0
                self.cur_outage[s] = o
                self.phase[s] = 1
                self._eligibility(s, t)
                self._drop_all(s, t, True)
        return 0

    cdef void _drop_all(self, int32_t s, double t, bint failed) noexcept nogil:
        """Empty server s. failed: its requests fail (errors now, or after the
        error timeout); else (end of run) their connections just close."""
        cdef int32_t j, nx, stack, c
        self._account(s, t)
        if self.ps:
            # walk the heap with an explicit stack threaded through `next`
            stack = self.root[s]
            if stack >= 0:
                self.jobs[stack].next = -1
            while stack >= 0:
                j = stack
                stack = self.jobs[j].next
                c = self.jobs[j].left
                if c >= 0:
                    self.jobs[c].next = stack
                    stack = c
                c = self.jobs[j].right
                if c >= 0:
                    self.jobs[c].next = stack
                    stack = c
                self._drop(s, j, t, failed)
            self.root[s] = -1
            self.vt[s] = 0.0
            self.vt_last[s] = t
        else:
            j = self.head[s]
            while j >= 0:
                nx = self.jobs[j].next
                self._drop(s, j, t, failed)
                j = nx
            self.head[s] = -1
            self.tail[s] = -1
        self.k[s] = 0
        self._schedule(D0 + s, INFINITY)

    cdef void _drop(self, int32_t s, int32_t j, double t, bint failed) noexcept nogil:
        cdef int64_t idx = self.jobs[j].idx
        if not failed:
            self.bal._done(s, -1.0)
            self._free(j)
            return
        if idx < self.requests:
            self.status[idx] = ST_DROPPED
            self.dropped += 1
            self.out_dropped[self.cur_outage[s]] += 1
        if self.err_timeout <= 0:
            self._free(j)
            self._resolve_error(s, idx, t)
        else:
            self._push_error(j, t + self.err_timeout)

    # ---------------------------------------------------------------- results
    def stats(self):
        """Per-server and per-outage figures (window times in time units)."""
        cdef int32_t s
        cdef double span = self.t_close - self.t_open
        util = np.empty(self.n)
        qmean = np.empty(self.n)
        qmax = np.empty(self.n, dtype=np.int64)
        for s in range(self.n):
            util[s] = self.busy[s] / span if span > 0 else np.nan
            qmean[s] = self.area[s] / span if span > 0 else np.nan
            qmax[s] = self.kmax[s]
        return {
            "utilization": util, "queue_mean": qmean, "queue_max": qmax,
            "t_open": self.t_open, "t_close": self.t_close, "t_end": self.now,
            "events": self.events, "errors": self.errors, "dropped": self.dropped,
            "rejected": self.rejected,
            "detect_t": np.asarray(self.out_detect).copy(),
            "reinstate_t": np.asarray(self.out_reinstate).copy(),
            "outage_errors": np.asarray(self.out_errors).copy(),
            "outage_dropped": np.asarray(self.out_dropped).copy(),
        }

    def _check(self):
        """Assert the invariants: heap order and positions, each server's queue
        or leftist heap holds k[s] jobs in order, every pool slot is either free
        or in exactly one list, the PS virtual time never passes a finish tag."""
        cdef int32_t s, j, c, cnt, total = 0, free = 0
        ev_check(&self.ev)
        for s in range(self.n):
            if self.ps:
                cnt = self._check_tree(self.root[s], -INFINITY)
                if self.root[s] >= 0:
                    assert self.jobs[self.root[s]].work >= self.vt[s] - 1e-9 * (1 + abs(self.vt[s]))
            else:
                cnt = 0
                j = self.head[s]
                while j >= 0:
                    cnt += 1
                    assert self.jobs[j].server == s
                    if self.jobs[j].next < 0:
                        assert self.tail[s] == j
                    j = self.jobs[j].next
                assert (self.head[s] < 0) == (self.tail[s] < 0)
            assert cnt == self.k[s], (s, cnt, self.k[s])
            assert self.k[s] == 0 or self.up[s]
            assert (ev_time(&self.ev, D0 + s) < INFINITY) == (self.k[s] > 0)
            total += cnt
        j = self.err_head
        while j >= 0:
            total += 1
            j = self.jobs[j].next
        free = pool_free_count(&self.pool)
        assert total + free == self.pool.cap, (total, free, self.pool.cap)
        assert self.outstanding >= 0

    cdef int32_t _check_tree(self, int32_t j, double floor) except -1:
        cdef int32_t l, r, rl, rr
        if j < 0:
            return 0
        assert self.jobs[j].work >= floor
        l = self.jobs[j].left
        r = self.jobs[j].right
        rl = self.jobs[l].rank if l >= 0 else 0
        rr = self.jobs[r].rank if r >= 0 else 0
        assert rl >= rr and self.jobs[j].rank == rr + 1
        return 1 + self._check_tree(l, self.jobs[j].work) + self._check_tree(r, self.jobs[j].work)
