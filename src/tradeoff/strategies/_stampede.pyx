"""The event loop of :func:`tradeoff.strategies.stampede.simulate`: K hot keys read by
Poisson requests, each cached value living ``ttl`` seconds, a recompute (a database
query) taking a drawn time, and a fix against the stampede of recomputes when a hot
key expires. Runs without the GIL on the shared discrete-event core.

Times are in seconds. Two event sources in the shared heap
(``tradeoff._core.events``), ties to the lower number: 0, the earliest recompute to
complete (the pending completions are in a small binary heap of their own, ordered
by time, then by start order), and 1, the next request. A completion sets the
key's value: it expires ``ttl`` after (``ttl * (1 - spread * U)`` under ``jitter``)
and remembers the recompute's duration ``delta`` (XFetch needs it).

A request for key k at time t, the value expiring at ``expiry[k]``:

- fresh (``t < expiry[k]``): a hit, latency 0 (the cache read itself is not
  modelled). Under ``xfetch`` the request first draws U in (0, 1] and recomputes
  early, itself, when ``t - delta * beta * ln(U) >= expiry[k]`` (Vattani,
  Chierichetti and Lowenstein, "Optimal probabilistic cache stampede
  prevention", PVLDB 8(8), 2015, algorithm XFetch).
- expired: ``none``, ``jitter``, ``xfetch``: the request recomputes (latency:
  the recompute time), whatever else is in flight. ``lock``: the first request
  recomputes, holding the key's lock; the others wait for it (latency: until it
  completes) or, with ``stale``, get the expired value at once (a stale read).
  ``swr`` (stale-while-revalidate, RFC 5861): within ``window`` of the expiry
  every request gets the expired value at once (a stale read), and the first
  starts one background refresh; past the window, as ``none``.

Counted: recomputes, refresh *episodes* (a recompute starting while none of the
key is in flight: one per expiry, early or not), the peak of recomputes in flight
over all keys (concurrent database queries), stale reads, waits, and every
non-zero latency (the zeros are only counted).

Four xoshiro streams seeded from the seed draw the arrival gaps, the keys, the
recompute times and the fixes' own numbers (XFetch's U, the jitter), so that every
fix sees the same requests at the same times (common random numbers).
"""
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport log, INFINITY
from cpython.mem cimport PyMem_RawFree

import numpy as np

from tradeoff._core.rng cimport Rng, rng_seed, rng_uniform, rng_uniform_pos, rng_below, rng_exponential
from tradeoff._core.hashing cimport mix64
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.dist cimport Dist, dist_set, dist_free, dist_draw
from tradeoff._core.events cimport Events, ev_init, ev_free, ev_schedule, ev_next, ev_time, ev_check


cdef enum:
    FIX_NONE = 0
    FIX_LOCK = 1
    FIX_JITTER = 2
    FIX_XFETCH = 3
    FIX_SWR = 4

cdef enum:
    SRC_DONE = 0
    SRC_ARRIVAL = 1

#: the fixes by name, for stampede.py
FIX_KINDS = {"none": FIX_NONE, "lock": FIX_LOCK, "jitter": FIX_JITTER, "xfetch": FIX_XFETCH, "swr": FIX_SWR}

# stream salts (ASCII of "arrivals", "keys    ", "recomput", "fixdraws")
cdef uint64_t SALT_ARR = <uint64_t>0x6172726976616c73ULL
cdef uint64_t SALT_KEY = <uint64_t>0x6b65797320202020ULL
cdef uint64_t SALT_CMP = <uint64_t>0x7265636f6d707574ULL
cdef uint64_t SALT_FIX = <uint64_t>0x6669786472617773ULL
SALTS = {"arrivals": SALT_ARR, "keys": SALT_KEY, "recompute": SALT_CMP, "fix": SALT_FIX}


def arrival_schedule(int64_t n, double rate, int32_t keys, uint64_t seed):
    """The first n request times (seconds) and keys of a run with this rate, number
    of keys and seed: what every fix sees, and what a real run replays."""
    if n < 0 or not (rate > 0 and rate < INFINITY) or keys < 1:
        raise ValueError(f"need n >= 0, a finite rate > 0 and keys >= 1, got {n}, {rate!r}, {keys}")
    times = np.empty(n, dtype=np.float64)
    ks = np.empty(n, dtype=np.int32)
    cdef double[::1] tv = times
    cdef int32_t[::1] kv = ks
    cdef Rng ra, rk
    cdef double t = 0.0, mean = 1.0 / rate
    cdef int64_t i
    rng_seed(&ra, mix64(seed ^ SALT_ARR))
    rng_seed(&rk, mix64(seed ^ SALT_KEY))
    with nogil:
        for i in range(n):
            t = t + rng_exponential(&ra, mean)
            tv[i] = t
            kv[i] = <int32_t>rng_below(&rk, <uint64_t>keys)
    return times, ks


cdef class Stampede:
    """One run (built and driven by ``stampede.simulate``).

    ``Stampede(fix, keys, rate, ttl, recompute, seed, beta=1, spread=0.1,
    stale=False, window=inf, delta0=mean)``; ``recompute`` is a dist spec
    ``(kind, mean, values)`` of ``tradeoff._core.dist``; then ``run(n)``.
    O(log m) per event for m recomputes in flight, O(1) memory per key.
    """
    cdef int fix
    cdef int32_t K
    cdef double rate, ttl, beta, spread, window
    cdef bint stale
    cdef Dist dist
    cdef Rng r_arr, r_key, r_cmp, r_fix
    cdef Events ev

    # per key
    cdef double* expiry        # when the cached value expires
    cdef double* delta         # the duration of the recompute that made it
    cdef double* lock_done     # lock: when the lock holder's recompute completes
    cdef int32_t* inflight     # recomputes of the key in flight

    # pending completions: a binary heap by (time, seq)
    cdef double* c_time
    cdef double* c_dur
    cdef int64_t* c_seq
    cdef int32_t* c_key
    cdef int64_t c_n, c_cap, c_next_seq

    # non-zero latencies
    cdef double* lat
    cdef int64_t lat_n, lat_cap

    cdef double next_arrival
    cdef readonly double now
    cdef readonly int64_t requests, hits, recomputes, episodes, early, background, waits
    cdef readonly int64_t stale_reads, sync_recomputes, in_flight, peak_in_flight, events
    cdef readonly bint ran

    def __cinit__(self):
        self.dist.arr = NULL
        self.dist.n = 0
        self.ev.key = NULL
        self.ev.heap = NULL
        self.ev.hpos = NULL
        self.ev.n = 0
        self.expiry = NULL
        self.delta = NULL
        self.lock_done = NULL
        self.inflight = NULL
        self.c_time = NULL
        self.c_dur = NULL
        self.c_seq = NULL
        self.c_key = NULL
        self.lat = NULL

    def __dealloc__(self):
        dist_free(&self.dist)
        ev_free(&self.ev)
        PyMem_RawFree(self.expiry)
        PyMem_RawFree(self.delta)
        PyMem_RawFree(self.lock_done)
        PyMem_RawFree(self.inflight)
        PyMem_RawFree(self.c_time)
        PyMem_RawFree(self.c_dur)
        PyMem_RawFree(self.c_seq)
        PyMem_RawFree(self.c_key)
        PyMem_RawFree(self.lat)

    def __init__(self, int fix, int32_t keys, double rate, double ttl, recompute, uint64_t seed,
                 double beta=1.0, double spread=0.1, bint stale=False, double window=INFINITY,
                 delta0=None):
        cdef int32_t k
        if fix < FIX_NONE or fix > FIX_SWR:
            raise ValueError(f"unknown fix kind {fix}")
        if keys < 1:
            raise ValueError(f"keys must be >= 1, got {keys}")
        if not (rate > 0 and rate < INFINITY):
            raise ValueError(f"rate must be finite and > 0, got {rate!r}")
        if not (ttl > 0 and ttl < INFINITY):
            raise ValueError(f"ttl must be finite and > 0, got {ttl!r}")
        if not (beta > 0 and beta < INFINITY):
            raise ValueError(f"beta must be finite and > 0, got {beta!r}")
        if not (0 <= spread < 1):
            raise ValueError(f"spread must be in [0, 1), got {spread!r}")
        if not window >= 0:
            raise ValueError(f"window must be >= 0, got {window!r}")
        dist_set(&self.dist, recompute, "recompute")
        self.fix = fix
        self.K = keys
        self.rate = rate
        self.ttl = ttl
        self.beta = beta
        self.spread = spread
        self.stale = stale
        self.window = window
        rng_seed(&self.r_arr, mix64(seed ^ SALT_ARR))
        rng_seed(&self.r_key, mix64(seed ^ SALT_KEY))
        rng_seed(&self.r_cmp, mix64(seed ^ SALT_CMP))
        rng_seed(&self.r_fix, mix64(seed ^ SALT_FIX))
        ev_init(&self.ev, 2)
        mem_resize(<void**>&self.expiry, keys * sizeof(double))
        mem_resize(<void**>&self.delta, keys * sizeof(double))
        mem_resize(<void**>&self.lock_done, keys * sizeof(double))
        mem_resize(<void**>&self.inflight, keys * sizeof(int32_t))
        d0 = float(delta0) if delta0 is not None else float(recompute[1])
        # every key set together at time 0 (by a recompute that took delta0)
        for k in range(keys):
            self.expiry[k] = self._ttl()
            self.delta[k] = d0
            self.lock_done[k] = 0.0
            self.inflight[k] = 0
        self.c_cap = 64
        mem_resize(<void**>&self.c_time, self.c_cap * sizeof(double))
        mem_resize(<void**>&self.c_dur, self.c_cap * sizeof(double))
        mem_resize(<void**>&self.c_seq, self.c_cap * sizeof(int64_t))
        mem_resize(<void**>&self.c_key, self.c_cap * sizeof(int32_t))
        self.c_n = 0
        self.c_next_seq = 0
        self.lat_cap = 1024
        mem_resize(<void**>&self.lat, self.lat_cap * sizeof(double))
        self.lat_n = 0
        self.now = 0.0
        self.ran = False

    cdef inline double _ttl(self) noexcept nogil:
        if self.fix == FIX_JITTER:
            return self.ttl * (1.0 - self.spread * rng_uniform(&self.r_fix))
        return self.ttl

    # ------------------------------------------------------------ completions heap
    cdef inline bint _c_before(self, int64_t a, int64_t b) noexcept nogil:
        return self.c_time[a] < self.c_time[b] or (self.c_time[a] == self.c_time[b] and
                                                   self.c_seq[a] < self.c_seq[b])

    cdef inline void _c_swap(self, int64_t a, int64_t b) noexcept nogil:
        cdef double t = self.c_time[a], d = self.c_dur[a]
        cdef int64_t s = self.c_seq[a]
        cdef int32_t k = self.c_key[a]
        self.c_time[a] = self.c_time[b]
        self.c_dur[a] = self.c_dur[b]
        self.c_seq[a] = self.c_seq[b]
        self.c_key[a] = self.c_key[b]
        self.c_time[b] = t
        self.c_dur[b] = d
        self.c_seq[b] = s
        self.c_key[b] = k

    cdef int _c_push(self, double t, double d, int32_t k) except -1 nogil:
        cdef int64_t i, p
        if self.c_n == self.c_cap:
            self.c_cap *= 2
            mem_resize(<void**>&self.c_time, self.c_cap * sizeof(double))
            mem_resize(<void**>&self.c_dur, self.c_cap * sizeof(double))
            mem_resize(<void**>&self.c_seq, self.c_cap * sizeof(int64_t))
            mem_resize(<void**>&self.c_key, self.c_cap * sizeof(int32_t))
        i = self.c_n
        self.c_time[i] = t
        self.c_dur[i] = d
        self.c_seq[i] = self.c_next_seq
        self.c_key[i] = k
        self.c_next_seq += 1
        self.c_n += 1
        while i > 0:
            p = (i - 1) >> 1
            if not self._c_before(i, p):
                break
            self._c_swap(i, p)
            i = p
        return 0

    cdef void _c_pop(self) noexcept nogil:
        """Remove the root (the earliest completion)."""
        cdef int64_t i = 0, c
        self.c_n -= 1
        if self.c_n == 0:
            return
        self._c_swap(0, self.c_n)
        while True:
            c = 2 * i + 1
            if c >= self.c_n:
                break
            if c + 1 < self.c_n and self._c_before(c + 1, c):
                c += 1
            if not self._c_before(c, i):
                break
            self._c_swap(i, c)
            i = c

    # ------------------------------------------------------------ the loop
    cdef int _latency(self, double x) except -1 nogil:
        if x > 0.0:
            if self.lat_n == self.lat_cap:
                self.lat_cap *= 2
                mem_resize(<void**>&self.lat, self.lat_cap * sizeof(double))
            self.lat[self.lat_n] = x
            self.lat_n += 1
        return 0

    cdef double _start(self, int32_t k, double t) except -1.0 nogil:
        """Start a recompute of k at t; returns its duration."""
        cdef double d = dist_draw(&self.dist, &self.r_cmp)
        self._c_push(t + d, d, k)
        ev_schedule(&self.ev, SRC_DONE, self.c_time[0])
        if self.inflight[k] == 0:
            self.episodes += 1
        self.inflight[k] += 1
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight
        self.recomputes += 1
        return d

    cdef int _arrival(self, double t) except -1 nogil:
        cdef int32_t k = <int32_t>rng_below(&self.r_key, <uint64_t>self.K)
        cdef double exp_k = self.expiry[k], d
        self.requests += 1
        if t < exp_k:
            if self.fix == FIX_XFETCH and \
                    t - self.delta[k] * self.beta * log(rng_uniform_pos(&self.r_fix)) >= exp_k:
                d = self._start(k, t)
                self.early += 1
                self.sync_recomputes += 1
                return self._latency(d)
            self.hits += 1
            return 0
        if self.fix == FIX_LOCK:
            if self.inflight[k] > 0:
                if self.stale:
                    self.stale_reads += 1
                    return 0
                self.waits += 1
                return self._latency(self.lock_done[k] - t)
            d = self._start(k, t)
            self.lock_done[k] = t + d
            self.sync_recomputes += 1
            return self._latency(d)
        if self.fix == FIX_SWR and t < exp_k + self.window:
            self.stale_reads += 1
            if self.inflight[k] == 0:
                self._start(k, t)
                self.background += 1
            return 0
        d = self._start(k, t)
        self.sync_recomputes += 1
        return self._latency(d)

    cdef int _complete(self) except -1 nogil:
        cdef int32_t k = self.c_key[0]
        cdef double t = self.c_time[0], d = self.c_dur[0]
        self._c_pop()
        ev_schedule(&self.ev, SRC_DONE, self.c_time[0] if self.c_n > 0 else INFINITY)
        self.inflight[k] -= 1
        self.in_flight -= 1
        self.expiry[k] = t + self._ttl()
        self.delta[k] = d
        return 0

    cdef int _run(self, int64_t n) except -1 nogil:
        cdef int32_t src
        cdef double t, mean = 1.0 / self.rate
        cdef int64_t left = n
        if left <= 0:
            return 0
        ev_schedule(&self.ev, SRC_ARRIVAL, rng_exponential(&self.r_arr, mean))
        while True:
            src = ev_next(&self.ev)
            t = ev_time(&self.ev, src)
            self.now = t
            self.events += 1
            if src == SRC_DONE:
                self._complete()
            else:
                self._arrival(t)
                left -= 1
                if left == 0:
                    break
                ev_schedule(&self.ev, SRC_ARRIVAL, t + rng_exponential(&self.r_arr, mean))
        return 0

    def run(self, int64_t n):
        """Serve n requests (once per object)."""
        if self.ran:
            raise RuntimeError("a Stampede runs once")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.ran = True
        with nogil:
            self._run(n)
        return self

    def latencies(self):
        """The non-zero latencies, in the order they were drawn (a copy); the other
        ``requests - len(...)`` latencies are 0."""
        out = np.empty(self.lat_n, dtype=np.float64)
        cdef double[::1] o = out
        cdef int64_t i
        for i in range(self.lat_n):
            o[i] = self.lat[i]
        return out

    def _check(self):
        """Assert the invariants: event heap order, completion heap order, the
        in-flight counts (per key and in all) against the pending completions."""
        cdef int64_t i
        cdef int32_t k
        ev_check(&self.ev)
        for i in range(1, self.c_n):
            assert not self._c_before(i, (i - 1) >> 1), f"completion heap out of order at {i}"
        counts = [0] * self.K
        for i in range(self.c_n):
            counts[self.c_key[i]] += 1
        for k in range(self.K):
            assert counts[k] == self.inflight[k], f"key {k}: {self.inflight[k]} in flight, {counts[k]} pending"
        assert self.c_n == self.in_flight
        assert self.hits + self.sync_recomputes + self.waits + self.stale_reads == self.requests
        assert self.recomputes == self.sync_recomputes + self.background
        assert (self.ev.key[SRC_DONE] == (self.c_time[0] if self.c_n > 0 else INFINITY))
        return True
