"""Balancer base class, active health checks and passive outlier detection.

The policies live in ``_impl.pyx`` and implement ``Balancer._choose``; the event
simulator in ``_sim.pyx`` drives balancers, health checks and detectors through
the C methods declared in ``_base.pxd``.
"""
from libc.stdint cimport uint64_t, int64_t, int32_t
from libc.math cimport isfinite, INFINITY
from libc.string cimport memset
from cpython.mem cimport PyMem_RawFree
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from tradeoff._core.hashing cimport xxh64
from tradeoff._core.checks cimport check_weight
from tradeoff._core.mem cimport mem_resize
from tradeoff._core.rng cimport rng_seed


class NoServerAvailable(LookupError):
    """Every server is marked down or ejected."""


cdef uint64_t _word(object client) except? 0:
    cdef Py_ssize_t n
    cdef const char* p
    if client is None:
        return 0
    if isinstance(client, str):
        p = PyUnicode_AsUTF8AndSize(client, &n)
        return xxh64(<const unsigned char*>p, n, 0)
    if isinstance(client, bytes):
        return xxh64(<const unsigned char*>PyBytes_AS_STRING(client), PyBytes_GET_SIZE(client), 0)
    if isinstance(client, int):
        if not -(1 << 63) <= client < (1 << 64):
            raise OverflowError(f"an int client must fit in 64 bits, got {client}")
        if client < 0:
            return <uint64_t><int64_t>client
        return <uint64_t>client
    raise TypeError(f"a client is None, str, bytes or int, not {type(client).__name__}")


def client_word(client):
    """The 64-bit word a balancer sees for ``client``: None -> 0; an int -> its
    64-bit two's complement; str (as UTF-8) and bytes -> XXH64 with seed 0.

    >>> client_word(None), client_word(5), client_word(-1) == 2**64 - 1
    (0, 5, True)
    """
    return _word(client)


cdef class Balancer:
    """Base of every balancer over a fixed set of servers.

    ``servers`` is a count (servers are then named "s0", "s1", ...) or a
    sequence of distinct names; ``weights`` (default all 1) are finite and >= 0;
    ``seed`` seeds the balancer's own generator (random policies only).
    ``pick(client=None)`` returns a server index and counts one open connection
    on it; ``done(server, duration=None)`` closes it. ``mark_down``/``mark_up``
    (health) and ejection take a server out of rotation and back.
    """

    def __cinit__(self, *args, **kwargs):
        self.n = 0
        self.weight = NULL
        self.up = NULL
        self.ejected = NULL
        self.active = NULL

    def __init__(self, servers, weights=None, *, uint64_t seed=0):
        if self.weight != NULL:
            raise RuntimeError(f"{type(self).__name__} is already initialized")
        if isinstance(servers, bool):
            raise TypeError("servers is a count or a list of names, not a bool")
        if isinstance(servers, int):
            if servers < 1:
                raise ValueError(f"{type(self).__name__} needs at least one server, got {servers}")
            names = [f"s{i}" for i in range(servers)]
        else:
            if isinstance(servers, (str, bytes)):
                raise TypeError("servers is a count or a list of names, not a single string")
            names = list(servers)
            if not names:
                raise ValueError(f"{type(self).__name__} needs at least one server")
            for s in names:
                if not isinstance(s, str):
                    raise TypeError(f"server names are strings, got {s!r}")
            if len(set(names)) != len(names):
                raise ValueError("server names must be distinct")
        if weights is None:
            ws = [1.0] * len(names)
        else:
            ws = [check_weight(w, f"server {names[i]!r}") if i < len(names) else 0
                  for i, w in enumerate(weights)]
            if len(ws) != len(names):
                raise ValueError(f"{len(names)} servers but {len(ws)} weights")
        cdef int32_t n = len(names)
        mem_resize(<void**>&self.weight, n * sizeof(double))
        mem_resize(<void**>&self.up, n)
        mem_resize(<void**>&self.ejected, n)
        mem_resize(<void**>&self.active, n * sizeof(int64_t))
        self.n = n
        self._names = names
        for i in range(n):
            self.weight[i] = ws[i]
            self.up[i] = 1
            self.ejected[i] = 0
            self.active[i] = 0
        self.n_eligible = n
        rng_seed(&self.rng, seed)

    def __dealloc__(self):
        PyMem_RawFree(self.weight)
        PyMem_RawFree(self.up)
        PyMem_RawFree(self.ejected)
        PyMem_RawFree(self.active)

    # ------------------------------------------------------------ the contract
    cdef int32_t _choose(self, uint64_t client) noexcept nogil:
        return -1

    cdef void _on_done(self, int32_t server, double duration) noexcept nogil:
        pass

    cdef void _on_change(self, int32_t server) noexcept nogil:
        pass

    # ------------------------------------------------------------ C API
    cdef bint _eligible(self, int32_t server) noexcept nogil:
        return self.up[server] and not self.ejected[server]

    cdef int32_t _pick(self, uint64_t client) noexcept nogil:
        if self.n_eligible == 0:
            return -1
        cdef int32_t s = self._choose(client)
        if s >= 0:
            self.active[s] += 1
        return s

    cdef void _done(self, int32_t server, double duration) noexcept nogil:
        if self.active[server] > 0:
            self.active[server] -= 1
        self._on_done(server, duration)

    cdef void _set_up(self, int32_t server, bint up) noexcept nogil:
        cdef bint before = self._eligible(server)
        self.up[server] = 1 if up else 0
        self._after(server, before)

    cdef void _set_ejected(self, int32_t server, bint ejected) noexcept nogil:
        cdef bint before = self._eligible(server)
        self.ejected[server] = 1 if ejected else 0
        self._after(server, before)

    cdef void _after(self, int32_t server, bint before) noexcept nogil:
        cdef bint now = self._eligible(server)
        if now != before:
            self.n_eligible += 1 if now else -1
            self._on_change(server)

    cdef void _set_weight(self, int32_t server, double w) noexcept nogil:
        self.weight[server] = w
        self._on_change(server)

    cdef uint64_t _client_word(self, object client) except? 0:
        """None -> 0; int -> its 64-bit two's complement; str (UTF-8) and bytes
        -> XXH64 with seed 0 (see ``client_word``)."""
        return _word(client)

    # ------------------------------------------------------------ Python API
    cdef int32_t _server(self, server) except -1:
        if isinstance(server, str):
            try:
                return self._names.index(server)
            except ValueError:
                raise KeyError(f"no server named {server!r}") from None
        if not isinstance(server, int) or isinstance(server, bool):
            raise TypeError(f"a server is an index or a name, not {type(server).__name__}")
        if not 0 <= server < self.n:
            raise IndexError(f"server index {server} out of range 0..{self.n - 1}")
        return server

    def pick(self, client=None):
        """The index of the server for the next request (from ``client``, for
        policies that look at it); counts one open connection on it."""
        cdef uint64_t w = self._client_word(client)
        cdef int32_t s = self._pick(w)
        if s < 0:
            raise NoServerAvailable(f"{type(self).__name__}: every server is down or ejected")
        return s

    def done(self, server, duration=None):
        """A request on ``server`` finished (``duration`` in seconds, if known).
        Raises ValueError when the server has no open connection."""
        cdef int32_t s = self._server(server)
        cdef double d = -1.0
        if duration is not None:
            d = float(duration)
            if not isfinite(d) or d < 0:
                raise ValueError(f"duration must be finite and >= 0, got {duration!r}")
        if self.active[s] == 0:
            raise ValueError(f"done({server!r}): server {self._names[s]!r} has no open connection")
        self._done(s, d)

    def acquire(self, server):
        """Count one open connection on a server the caller chose itself (a
        sticky session, an affinity rule), bypassing the policy: its state (a
        round-robin cursor, current weights) does not move. The server must be
        eligible, else NoServerAvailable. Release it with ``done`` as usual."""
        cdef int32_t s = self._server(server)
        if not self._eligible(s):
            raise NoServerAvailable(f"server {self._names[s]!r} is down or ejected")
        self.active[s] += 1
        return s

    def eligible(self, server):
        """Whether ``server`` (an index or a name) is up and not ejected."""
        return bool(self._eligible(self._server(server)))

    def mark_down(self, server):
        """Take a server out of rotation (e.g. a failed health check)."""
        self._set_up(self._server(server), False)

    def mark_up(self, server):
        """Put a server back into rotation."""
        self._set_up(self._server(server), True)

    def eject(self, server):
        """Eject a server (passive outlier detection); ``uneject`` restores it."""
        self._set_ejected(self._server(server), True)

    def uneject(self, server):
        self._set_ejected(self._server(server), False)

    def set_weight(self, server, weight):
        """Change a server's weight at run time."""
        cdef int32_t s = self._server(server)
        self._set_weight(s, check_weight(weight, f"server {self._names[s]!r}"))

    @property
    def names(self):
        return list(self._names)

    @property
    def weights(self):
        return [self.weight[i] for i in range(self.n)]

    @property
    def active(self):
        """Open connections per server."""
        return [self.active[i] for i in range(self.n)]

    @property
    def up(self):
        """Whether each server is in rotation (up and not ejected)."""
        return [bool(self._eligible(i)) for i in range(self.n)]

    @property
    def marked_up(self):
        """Whether each server is marked up (health), ejected or not."""
        return [bool(self.up[i]) for i in range(self.n)]

    @property
    def ejected(self):
        """Whether each server is ejected (outlier detection)."""
        return [bool(self.ejected[i]) for i in range(self.n)]

    def __len__(self):
        return self.n

    def _check(self):
        """Assert the shared bookkeeping (subclasses extend this)."""
        cdef int32_t i, e = 0
        for i in range(self.n):
            assert self.active[i] >= 0
            assert isfinite(self.weight[i]) and self.weight[i] >= 0
            e += self._eligible(i)
        assert e == self.n_eligible, (e, self.n_eligible)

    def __repr__(self):
        return f"{type(self).__name__}({self.n} servers)"


cdef class HealthCheck:
    """Active health checks with HAProxy's ``rise`` and ``fall``.

    Every server is probed every ``interval`` seconds; a probe that gets no
    answer within ``timeout`` seconds fails. A healthy server turns unhealthy
    after ``fall`` consecutive failed probes, an unhealthy one healthy after
    ``rise`` consecutive successes (HAProxy configuration manual, "inter",
    "rise", "fall", "timeout check"). Servers start healthy. The defaults are
    HAProxy's: interval 2 s, rise 2, fall 3; timeout defaults to the interval.

    >>> hc = HealthCheck(interval=1.0, rise=2, fall=3)
    >>> hc.bind(1); [hc.observe(0, False) for _ in range(3)]
    [0, 0, -1]
    >>> [hc.observe(0, True) for _ in range(2)]
    [0, 1]
    """

    def __cinit__(self, *args, **kwargs):
        self.n = 0
        self.ok_run = NULL
        self.fail_run = NULL
        self.healthy = NULL

    def __init__(self, double interval=2.0, int rise=2, int fall=3, timeout=None):
        if not isfinite(interval) or interval <= 0:
            raise ValueError(f"health check interval must be > 0 seconds, got {interval!r}")
        if rise < 1:
            raise ValueError(f"rise must be >= 1, got {rise}")
        if fall < 1:
            raise ValueError(f"fall must be >= 1, got {fall}")
        cdef double t = interval if timeout is None else float(timeout)
        if not isfinite(t) or t <= 0:
            raise ValueError(f"health check timeout must be > 0 seconds, got {timeout!r}")
        self.interval = interval
        self.rise = rise
        self.fall = fall
        self.timeout = t

    def __dealloc__(self):
        PyMem_RawFree(self.ok_run)
        PyMem_RawFree(self.fail_run)
        PyMem_RawFree(self.healthy)

    cdef int _bind(self, int32_t n) except -1:
        self.n = 0
        mem_resize(<void**>&self.ok_run, n * sizeof(int32_t))
        mem_resize(<void**>&self.fail_run, n * sizeof(int32_t))
        mem_resize(<void**>&self.healthy, n)
        for i in range(n):
            self.ok_run[i] = 0
            self.fail_run[i] = 0
            self.healthy[i] = 1
        self.n = n
        return 0

    cdef int _observe(self, int32_t server, bint ok) noexcept nogil:
        # the runs saturate at rise / fall (only reaching them matters), so
        # they never overflow however long a server stays in one state
        if ok:
            self.fail_run[server] = 0
            if self.ok_run[server] < self.rise:
                self.ok_run[server] += 1
            if not self.healthy[server] and self.ok_run[server] >= self.rise:
                self.healthy[server] = 1
                return 1
        else:
            self.ok_run[server] = 0
            if self.fail_run[server] < self.fall:
                self.fail_run[server] += 1
            if self.healthy[server] and self.fail_run[server] >= self.fall:
                self.healthy[server] = 0
                return -1
        return 0

    def bind(self, int n):
        """Track ``n`` servers, all healthy (a simulation does this itself)."""
        if n < 1:
            raise ValueError(f"a health check needs at least one server, got {n}")
        self._bind(n)

    def observe(self, int server, bint ok):
        """Feed one probe result; returns +1 (turned healthy), -1 (turned
        unhealthy) or 0 (no change)."""
        if not 0 <= server < self.n:
            raise IndexError(f"server {server} out of range (bound to {self.n})")
        return self._observe(server, ok)

    @property
    def healthy(self):
        return [bool(self.healthy[i]) for i in range(self.n)]

    def _check(self):
        """At most one of the runs is nonzero; a run never exceeds its
        threshold; a healthy server's failure run is below ``fall`` and an
        unhealthy one's success run below ``rise``."""
        cdef int32_t i
        for i in range(self.n):
            assert 0 <= self.ok_run[i] <= self.rise and 0 <= self.fail_run[i] <= self.fall
            assert self.ok_run[i] == 0 or self.fail_run[i] == 0
            if self.healthy[i]:
                assert self.fail_run[i] < self.fall
            else:
                assert self.ok_run[i] < self.rise

    def __repr__(self):
        return (f"HealthCheck(interval={self.interval}, rise={self.rise}, fall={self.fall}, "
                f"timeout={self.timeout})")


cdef class OutlierDetector:
    """Passive outlier detection: eject a server after consecutive errors.

    Modelled on Envoy's ``consecutive_5xx`` detection: after
    ``consecutive_errors`` failed requests in a row a server is ejected for
    ``base_ejection_time`` times the number of times it has been ejected, unless
    that would eject more than ``max_ejection_percent`` of the servers (Envoy's
    rule, stated exactly below). A success
    resets the run of errors. Defaults are Envoy's: 5 errors, 30 s, 10 %.
    Results recorded while a server is ejected (requests still in flight when
    it was ejected) are ignored, so it comes back with a clean run; a run that
    reaches the threshold while the cap forbids an ejection stays at the
    threshold, and the next error once there is room ejects. The count of
    ejections never decreases (Envoy lowers it again after a healthy period;
    this does not). ``_next_release`` and ``_release_due`` scan the servers: O(n).

    Envoy allows an ejection when the ejected share stays within the maximum,
    and always allows ejecting one host when the maximum would round to zero
    hosts only if the percentage is above zero; here: an ejection is allowed
    when ``(n_ejected + 1) * 100 <= max_ejection_percent * n`` or when nothing
    is ejected and ``max_ejection_percent > 0``.
    """

    def __cinit__(self, *args, **kwargs):
        self.n = 0
        self.err_run = NULL
        self.times_ejected = NULL
        self.ejected_until = NULL

    def __init__(self, int consecutive_errors=5, double base_ejection_time=30.0,
                 double max_ejection_percent=10.0):
        if consecutive_errors < 1:
            raise ValueError(f"consecutive_errors must be >= 1, got {consecutive_errors}")
        if not isfinite(base_ejection_time) or base_ejection_time <= 0:
            raise ValueError(f"base_ejection_time must be > 0 seconds, got {base_ejection_time!r}")
        if not 0 <= max_ejection_percent <= 100:
            raise ValueError(f"max_ejection_percent must be in [0, 100], got {max_ejection_percent!r}")
        self.consecutive_errors = consecutive_errors
        self.base_ejection_time = base_ejection_time
        self.max_ejection_percent = max_ejection_percent

    def __dealloc__(self):
        PyMem_RawFree(self.err_run)
        PyMem_RawFree(self.times_ejected)
        PyMem_RawFree(self.ejected_until)

    cdef int _bind(self, int32_t n) except -1:
        self.n = 0
        mem_resize(<void**>&self.err_run, n * sizeof(int32_t))
        mem_resize(<void**>&self.times_ejected, n * sizeof(int32_t))
        mem_resize(<void**>&self.ejected_until, n * sizeof(double))
        for i in range(n):
            self.err_run[i] = 0
            self.times_ejected[i] = 0
            self.ejected_until[i] = -1.0
        self.n = n
        self.n_ejected = 0
        return 0

    cdef int _record(self, int32_t server, bint ok, double now) noexcept nogil:
        if self.ejected_until[server] >= 0:
            return 0
        if ok:
            self.err_run[server] = 0
            return 0
        if self.err_run[server] < self.consecutive_errors:
            self.err_run[server] += 1
        if self.err_run[server] < self.consecutive_errors:
            return 0
        if not ((self.n_ejected + 1) * 100.0 <= self.max_ejection_percent * self.n
                or (self.n_ejected == 0 and self.max_ejection_percent > 0)):
            return 0
        self.times_ejected[server] += 1
        self.ejected_until[server] = now + self.base_ejection_time * self.times_ejected[server]
        self.err_run[server] = 0
        self.n_ejected += 1
        return 1

    cdef double _next_release(self) noexcept nogil:
        cdef double t = INFINITY
        cdef int32_t i
        if self.n_ejected == 0:
            return t
        for i in range(self.n):
            if self.ejected_until[i] >= 0 and self.ejected_until[i] < t:
                t = self.ejected_until[i]
        return t

    cdef int32_t _release_due(self, double now) noexcept nogil:
        cdef int32_t i
        if self.n_ejected == 0:
            return -1
        for i in range(self.n):
            if self.ejected_until[i] >= 0 and self.ejected_until[i] <= now:
                self.ejected_until[i] = -1.0
                self.n_ejected -= 1
                return i
        return -1

    def bind(self, int n):
        """Track ``n`` servers, none ejected (a simulation does this itself)."""
        if n < 1:
            raise ValueError(f"an outlier detector needs at least one server, got {n}")
        self._bind(n)

    def record(self, int server, bint ok, double now):
        """Feed one request result at time ``now``; True when it ejects the server."""
        if not 0 <= server < self.n:
            raise IndexError(f"server {server} out of range (bound to {self.n})")
        if not isfinite(now) or now < 0:
            raise ValueError(f"now must be a finite time >= 0, got {now!r}")
        return bool(self._record(server, ok, now))

    def release_due(self, double now):
        """End every ejection due at ``now``; returns the released servers."""
        out = []
        cdef int32_t s = self._release_due(now)
        while s >= 0:
            out.append(s)
            s = self._release_due(now)
        return out

    @property
    def ejected(self):
        return [self.ejected_until[i] >= 0 for i in range(self.n)]

    @property
    def ejected_until(self):
        """Per server, the time its ejection ends (None when not ejected)."""
        return [self.ejected_until[i] if self.ejected_until[i] >= 0 else None
                for i in range(self.n)]

    @property
    def times_ejected(self):
        """Per server, how many times it has been ejected."""
        return [self.times_ejected[i] for i in range(self.n)]

    def _check(self):
        """The ejected count matches; runs stay within the threshold; an
        ejected server has a clean run and has been ejected at least once."""
        cdef int32_t i, e = 0
        for i in range(self.n):
            assert 0 <= self.err_run[i] <= self.consecutive_errors
            assert self.times_ejected[i] >= 0
            if self.ejected_until[i] >= 0:
                e += 1
                assert self.times_ejected[i] >= 1 and self.err_run[i] == 0
        assert e == self.n_ejected, (e, self.n_ejected)

    def __repr__(self):
        return (f"OutlierDetector(consecutive_errors={self.consecutive_errors}, "
                f"base_ejection_time={self.base_ejection_time}, "
                f"max_ejection_percent={self.max_ejection_percent})")
