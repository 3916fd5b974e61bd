# The contracts of tradeoff.balance, shared by the balancers (_impl.pyx), the
# health checks and outlier detection (_base.pyx) and the event simulator
# (_sim.pyx), which drives them all through these C methods without the GIL.
from libc.stdint cimport uint64_t, int64_t, int32_t
from tradeoff._core.rng cimport Rng


cdef class Balancer:
    cdef int32_t n            # number of servers (fixed at construction)
    cdef list _names          # server names (str), index order
    cdef double* weight       # per server, finite, >= 0
    cdef char* up             # 1 unless marked down (health)
    cdef char* ejected        # 1 while ejected (passive outlier detection)
    cdef int32_t n_eligible   # servers that are up and not ejected
    cdef int64_t* active      # open connections: _pick adds one, _done takes one
    cdef Rng rng              # the balancer's own generator (seed= at construction)

    # --- what a policy implements -------------------------------------------
    # choose an eligible server (up, not ejected) for a client word; -1 only
    # when n_eligible == 0. Must not allocate and must not fail.
    cdef int32_t _choose(self, uint64_t client) noexcept nogil
    # hook after a request on `server` finished (duration < 0: unknown)
    cdef void _on_done(self, int32_t server, double duration) noexcept nogil
    # hook after eligibility or a weight changed
    cdef void _on_change(self, int32_t server) noexcept nogil

    # --- what callers use (the base implements these) ------------------------
    cdef int32_t _pick(self, uint64_t client) noexcept nogil          # _choose + active += 1
    cdef void _done(self, int32_t server, double duration) noexcept nogil  # active -= 1 + _on_done
    cdef void _set_up(self, int32_t server, bint up) noexcept nogil
    cdef void _set_ejected(self, int32_t server, bint ejected) noexcept nogil
    cdef void _set_weight(self, int32_t server, double w) noexcept nogil
    cdef bint _eligible(self, int32_t server) noexcept nogil
    cdef uint64_t _client_word(self, object client) except? 0
    cdef void _after(self, int32_t server, bint before) noexcept nogil
    cdef int32_t _server(self, object server) except -1


cdef class HealthCheck:
    """Active health checking with HAProxy's rise and fall (see _base.pyx)."""
    cdef readonly double interval     # seconds between probes of one server
    cdef readonly double timeout      # a probe with no answer within it fails
    cdef readonly int rise            # consecutive successes to turn healthy
    cdef readonly int fall            # consecutive failures to turn unhealthy
    cdef int32_t n
    cdef int32_t* ok_run
    cdef int32_t* fail_run
    cdef char* healthy
    cdef int _bind(self, int32_t n) except -1          # (re)size for n servers, all healthy
    # one probe result: +1 when the server just turned healthy, -1 when it just
    # turned unhealthy, 0 when its state did not change
    cdef int _observe(self, int32_t server, bint ok) noexcept nogil


cdef class OutlierDetector:
    """Passive ejection after consecutive errors, Envoy style (see _base.pyx)."""
    cdef readonly int consecutive_errors
    cdef readonly double base_ejection_time
    cdef readonly double max_ejection_percent
    cdef int32_t n
    cdef int32_t* err_run
    cdef int32_t* times_ejected
    cdef double* ejected_until        # < 0 when not ejected
    cdef int32_t n_ejected
    cdef int _bind(self, int32_t n) except -1
    # one request result at time `now`: 1 when this result ejects the server
    # (the caller then sets it ejected on the balancer), else 0
    cdef int _record(self, int32_t server, bint ok, double now) noexcept nogil
    # the earliest time an ejection ends (+inf when none is ejected)
    cdef double _next_release(self) noexcept nogil
    # end one ejection that is due at `now`: its server index, or -1 when none is due
    cdef int32_t _release_due(self, double now) noexcept nogil
