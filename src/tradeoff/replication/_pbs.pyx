"""The WARS Monte Carlo of :func:`tradeoff.replication.pbs`, without the GIL.

The model is the one of Bailis, Venkataraman, Franklin, Hellerstein and Stoica,
"Probabilistically Bounded Staleness for Practical Partial Quorums", VLDB 2012
(and CACM 2014, Sections 4.2 and 5.1): a coordinator sends a write to
all N replicas (delay W_i each) and commits at the W-th acknowledgement to
arrive, at w_t = the W-th smallest W_i + A_i. A read issued t ms after the
commit reaches replica i at w_t + t + R_i, and that replica has the write iff
W_i <= w_t + t + R_i. The read returns with the first R responses, those of the
R smallest R_i + S_i (ties to the lower replica number), and is consistent iff
one of those R replicas had the write.

So each trial reduces to one number, ``visible``: min over the R responders of
(W_i - R_i), minus w_t. The read is consistent at t iff visible <= t, for every
t at once; the caller counts. A trial also yields the write latency w_t and the
read latency, the R-th smallest R_i + S_i.

Per trial the work is O(N^2) (insertion sorts of N values; N is a replication
factor, a handful), with a branch-free path for N = 3 that gives the same values.

Delays are drawn here from a flat description of each leg's distribution: a
list of components, each with a cumulative-weight range [lo, hi) of the leg's
mixture (one uniform picks the component; a leg of one component skips it).
Exponential and Pareto delays use ziggurats (Marsaglia and Tsang, "The Ziggurat
Method for Generating Random Variables", Journal of Statistical Software 5(8),
2000): 256 layers of equal area under the density, so that most draws cost one
64-bit random word, a multiplication and a comparison, with no logarithm or
power. The exponential's layer constants (R, V) are the paper's; a Pareto's
layers are solved here for its alpha (:func:`pareto_ziggurat`). Log-normals use Box-Muller; empirical
delays a uniform index.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport log, exp, pow, sqrt, cos, M_PI, INFINITY, isfinite
from libc.string cimport memcpy
from cpython.mem cimport PyMem_RawFree

from tradeoff._core.rng cimport Rng, rng_seed, rng_next, rng_uniform, rng_uniform_pos, rng_below
from tradeoff._core.mem cimport mem_resize

import math

# component kinds (the same numbers as tradeoff.replication.latency.K_*)
cdef enum:
    K_CONST = 0
    K_EXP = 1
    K_PARETO = 2
    K_LOGNORMAL = 3
    K_EMPIRICAL = 4
    K_PARETO_INV = 5     # a Pareto whose alpha is too small for a ziggurat: by inversion

KINDS = {"const": K_CONST, "exp": K_EXP, "pareto": K_PARETO, "lognormal": K_LOGNORMAL,
         "empirical": K_EMPIRICAL, "pareto-inv": K_PARETO_INV}

# trials drawn together, leg by leg
cdef enum:
    BATCH = 256
    BUCKET_BITS = 18     # order_stats: the histogram's resolution

#: doubles in a Pareto's ziggurat table: the 257 layer edges, then the density at each
PARETO_TABLE = 514


# ----------------------------------------------------------------------------- ziggurat
# 256 layers of equal area V under f(x) = exp(-x): layer 0 is the rectangle
# [0, R] x [0, f(R)] with the tail beyond R, drawn as if it were a rectangle of
# width X[0] = V / f(R); layer i >= 1 is [0, X[i]] x [f(X[i]), f(X[i + 1])].
# R and V for 256 layers are the constants of Marsaglia and Tsang (2000).
cdef double ZIG_R = 7.69711747013104972
cdef double ZX[257]        # layer edges, X[0] > X[1] = R > ... > X[256] = 0
cdef double ZF[257]        # exp(-X[i])


def _ziggurat_tables():
    """Fill the tables (at import): X[i + 1] = -log(f(X[i]) + V / X[i]); the
    last step must land on f = 1 (X[256] = 0), which checks R and V."""
    r = ZIG_R
    v = (r + 1.0) * math.exp(-r)
    xs = [v / math.exp(-r), r]
    for i in range(1, 255):
        xs.append(-math.log(math.exp(-xs[i]) + v / xs[i]))
    top = math.exp(-xs[255]) + v / xs[255]
    if abs(top - 1.0) > 1e-12:
        raise RuntimeError(f"ziggurat tables do not close: f(X[256]) = {top!r}, not 1")
    xs.append(0.0)
    for i in range(257):
        ZX[i] = xs[i]
        ZF[i] = math.exp(-xs[i])
    return xs


_ziggurat_tables()


cdef double _exp1_slow(Rng* g, int i, double x) noexcept nogil:
    """The rare rest of :func:`_exp1`: x fell outside layer i's inner
    rectangle (or in the base layer's tail)."""
    cdef uint64_t bits
    while True:
        if i == 0:
            return ZIG_R - log(rng_uniform_pos(g))    # the tail beyond R (memoryless)
        if ZF[i] + rng_uniform(g) * (ZF[i + 1] - ZF[i]) < exp(-x):
            return x
        bits = rng_next(g)
        i = <int>(bits & 255)
        x = <double>(bits >> 11) * (1.0 / 9007199254740992.0) * ZX[i]
        if x < ZX[i + 1]:
            return x


cdef inline double _exp1(Rng* g) noexcept nogil:
    """A standard exponential variate (mean 1): the layer from the low 8 bits,
    the position in it from the top 53."""
    cdef uint64_t bits = rng_next(g)
    cdef int i = <int>(bits & 255)
    cdef double x = <double>(bits >> 11) * (1.0 / 9007199254740992.0) * ZX[i]
    if x < ZX[i + 1]:
        return x                              # inside the curve: most draws end here
    return _exp1_slow(g, i, x)


def exponential_draws(Py_ssize_t n, uint64_t seed):
    """``n`` standard exponential variates from the ziggurat (for tests)."""
    import numpy as np
    out = np.empty(n)
    cdef double[::1] o = out
    cdef Rng g
    cdef Py_ssize_t i
    rng_seed(&g, seed)
    with nogil:
        for i in range(n):
            o[i] = _exp1(&g)
    return out


# Pareto(1, alpha): density f(y) = alpha y^(-alpha-1) on y >= 1, decreasing. Layer 0
# is [1, R] x [0, f(R)] with the tail beyond R (area V in all); layer i >= 1 is
# [1, X[i]] x [f(X[i]), f(X[i + 1])], X[256] = 1. R is found by bisection so that
# the 256 layers of area V = (R - 1) f(R) + R^-alpha exactly fill the density.

cdef double _pareto_layers(double r, double alpha, double* xs, double* fs) noexcept nogil:
    """Stack the layers up from R; return how far the top overshoots f(1) =
    alpha (0: the ziggurat closes; > 0: V too large; +inf: it closed early)."""
    cdef double v, f
    cdef int i
    fs[1] = alpha * pow(r, -alpha - 1.0)
    v = (r - 1.0) * fs[1] + pow(r, -alpha)
    xs[1] = r
    xs[0] = 1.0 + v / fs[1]
    fs[0] = 0.0
    for i in range(1, 255):
        f = fs[i] + v / (xs[i] - 1.0)
        if not f < alpha:
            return INFINITY
        fs[i + 1] = f
        xs[i + 1] = pow(alpha / f, 1.0 / (alpha + 1.0))
        if not xs[i + 1] > 1.0:
            return INFINITY
    return fs[255] + v / (xs[255] - 1.0) - alpha


def pareto_ziggurat(double alpha):
    """The ziggurat of Pareto(1, alpha): PARETO_TABLE doubles (X[0..256], then
    f(X[0..256])), or None when alpha is too small for the layers to fit in
    doubles (then the sampler inverts instead)."""
    import numpy as np
    if not (alpha > 0 and isfinite(alpha)):
        raise ValueError(f"pareto alpha must be > 0, got {alpha}")
    out = np.zeros(PARETO_TABLE)
    cdef double[::1] t = out
    cdef double* xs = &t[0]
    cdef double* fs = &t[257]
    cdef double lo = 1.0 + 1e-12, hi = 2.0, mid, g
    cdef int it
    while _pareto_layers(hi, alpha, xs, fs) > 0:       # grow until V is small enough
        hi *= hi
        if not hi < 1e250:
            return None
    for it in range(400):
        mid = sqrt(lo * hi) if hi > 2.0 * lo else 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        g = _pareto_layers(mid, alpha, xs, fs)
        if g > 0:
            lo = mid
        else:
            hi = mid
    g = _pareto_layers(hi, alpha, xs, fs)
    if not abs(g) < 1e-9 * alpha:
        raise RuntimeError(f"the Pareto ziggurat for alpha={alpha} does not close ({g})")
    xs[256] = 1.0
    fs[256] = alpha
    return out


cdef double _pareto1_slow(Rng* g, const double* X, double alpha, int i, double x) noexcept nogil:
    """The rare rest of :func:`_pareto1`."""
    cdef const double* F = X + 257
    cdef uint64_t bits
    while True:
        if i == 0:
            return X[1] * exp(_exp1(g) / alpha)        # the tail beyond R: Pareto(R, alpha)
        if F[i] + rng_uniform(g) * (F[i + 1] - F[i]) < alpha * exp(-(alpha + 1.0) * log(x)):
            return x
        bits = rng_next(g)
        i = <int>(bits & 255)
        x = 1.0 + <double>(bits >> 11) * (1.0 / 9007199254740992.0) * (X[i] - 1.0)
        if x < X[i + 1]:
            return x


cdef inline double _pareto1(Rng* g, const double* X, double alpha) noexcept nogil:
    """A Pareto(1, alpha) variate from its ziggurat table X (edges; densities
    at X + 257)."""
    cdef uint64_t bits = rng_next(g)
    cdef int i = <int>(bits & 255)
    cdef double x = 1.0 + <double>(bits >> 11) * (1.0 / 9007199254740992.0) * (X[i] - 1.0)
    if x < X[i + 1]:
        return x
    return _pareto1_slow(g, X, alpha, i, x)


def pareto_draws(Py_ssize_t n, double alpha, uint64_t seed):
    """``n`` Pareto(1, alpha) variates from the ziggurat (for tests)."""
    import numpy as np
    table = pareto_ziggurat(alpha)
    if table is None:
        raise ValueError(f"no ziggurat for alpha={alpha}")
    out = np.empty(n)
    cdef double[::1] o = out
    cdef const double[::1] tab = table
    cdef Rng g
    cdef Py_ssize_t i
    rng_seed(&g, seed)
    with nogil:
        for i in range(n):
            o[i] = _pareto1(&g, &tab[0], alpha)
    return out


# ----------------------------------------------------------------------------- legs

cdef struct Legs:
    const int32_t* kind      # per component
    const double* hi         # cumulative weight up to and with it (the leg's last one: 1)
    const double* a          # const value | exp mean | pareto xm | lognormal mu
    const double* b          # pareto alpha | lognormal sigma
    const int64_t* doff      # empirical values | pareto table: first double in ``data``
    const int64_t* dlen      # their number
    const double* data
    int64_t start[5]         # leg l's components: start[l] .. start[l + 1] - 1


cdef inline double _one(Rng* g, const Legs* d, int64_t j) noexcept nogil:
    """One delay from component j."""
    cdef int kind = d.kind[j]
    cdef double z
    if kind == K_PARETO:
        return d.a[j] * _pareto1(g, d.data + d.doff[j], d.b[j])
    if kind == K_EXP:
        return d.a[j] * _exp1(g)
    if kind == K_CONST:
        return d.a[j]
    if kind == K_LOGNORMAL:
        z = sqrt(-2.0 * log(rng_uniform_pos(g))) * cos(2.0 * M_PI * rng_uniform(g))
        return exp(d.a[j] + d.b[j] * z)
    if kind == K_PARETO_INV:
        return d.a[j] * exp(_exp1(g) / d.b[j])
    return d.data[d.doff[j] + <int64_t>rng_below(g, <uint64_t>d.dlen[j])]


cdef void _fill(Rng* g, const Legs* d, int leg, double* out, Py_ssize_t m) noexcept nogil:
    """``m`` delays of ``leg`` (0 W, 1 A, 2 R, 3 S) into ``out``; the common
    single-component legs get loops of their own."""
    cdef int64_t first = d.start[leg]
    cdef int64_t last = d.start[leg + 1] - 1
    cdef int64_t j
    cdef Py_ssize_t k
    cdef double u, a
    cdef uint64_t cut
    cdef const double* X
    if first == last:
        a = d.a[first]
        if d.kind[first] == K_PARETO:
            X = d.data + d.doff[first]
            for k in range(m):
                out[k] = a * _pareto1(g, X, d.b[first])
        elif d.kind[first] == K_EXP:
            for k in range(m):
                out[k] = a * _exp1(g)
        else:
            for k in range(m):
                out[k] = _one(g, d, first)
        return
    if last == first + 1 and d.kind[first] == K_PARETO and d.kind[last] == K_EXP:
        # the paper's fits: a Pareto body and an exponential tail
        X = d.data + d.doff[first]
        cut = <uint64_t>(d.hi[first] * 18446744073709551616.0) if d.hi[first] < 1.0 else <uint64_t>0xffffffffffffffff
        for k in range(m):
            if rng_next(g) < cut:
                out[k] = d.a[first] * _pareto1(g, X, d.b[first])
            else:
                out[k] = d.a[last] * _exp1(g)
        return
    for k in range(m):
        u = rng_uniform(g)
        j = first
        while j < last and u >= d.hi[j]:
            j += 1
        out[k] = _one(g, d, j)


cdef inline void _trial(int n, int r, int w, const double* Wv, const double* Av,
                        const double* Rv, const double* Sv, double* x, int* idx,
                        double* visible, double* wlat, double* rlat) noexcept nogil:
    """Evaluate one trial's draws (each of length n); x (n doubles) and idx
    (n ints) are scratch."""
    cdef int i, j, k
    cdef double key, m, d
    # commit: the w-th smallest W_i + A_i
    for i in range(n):
        key = Wv[i] + Av[i]
        j = i
        while j > 0 and x[j - 1] > key:
            x[j] = x[j - 1]
            j -= 1
        x[j] = key
    wlat[0] = x[w - 1]
    # read: replicas in order of R_i + S_i, stable (ties to the lower number)
    for i in range(n):
        key = Rv[i] + Sv[i]
        j = i
        while j > 0 and x[j - 1] > key:
            x[j] = x[j - 1]
            idx[j] = idx[j - 1]
            j -= 1
        x[j] = key
        idx[j] = i
    rlat[0] = x[r - 1]
    m = INFINITY
    for k in range(r):
        i = idx[k]
        d = Wv[i] - Rv[i]
        if d < m:
            m = d
    visible[0] = m - wlat[0]


cdef inline double _min(double a, double b) noexcept nogil:
    return a if a < b else b


cdef inline double _max(double a, double b) noexcept nogil:
    return b if a < b else a


cdef inline void _trial3(int r, int w, const double* Wv, const double* Av, const double* Rv,
                         const double* Sv, double* visible, double* wlat, double* rlat) noexcept nogil:
    """:func:`_trial` for three replicas, with comparisons the compiler turns
    into conditional moves (random data makes branches mispredict). The same
    values, ties included."""
    cdef double x0 = Wv[0] + Av[0], x1 = Wv[1] + Av[1], x2 = Wv[2] + Av[2]
    cdef double lo = _min(x0, x1), hi = _max(x0, x1)
    cdef double mid = _min(hi, x2)
    hi = _max(hi, x2)
    wlat[0] = _min(lo, mid) if w == 1 else (_max(lo, mid) if w == 2 else hi)
    cdef double k0 = Rv[0] + Sv[0], k1 = Rv[1] + Sv[1], k2 = Rv[2] + Sv[2]
    cdef double d0 = Wv[0] - Rv[0], d1 = Wv[1] - Rv[1], d2 = Wv[2] - Rv[2]
    cdef double kmin, kmax, m
    cdef int j
    if r == 1:          # the first response: the smallest key, ties to the lower replica
        kmin = k1 if k1 < k0 else k0
        m = d1 if k1 < k0 else d0
        m = d2 if k2 < kmin else m
        rlat[0] = _min(kmin, k2)
    elif r == 2:        # all but the last response: the largest key, ties to the higher replica
        j = 1 if k1 >= k0 else 0
        kmax = _max(k0, k1)
        j = 2 if k2 >= kmax else j
        m = _min(d1, d2) if j == 0 else (_min(d0, d2) if j == 1 else _min(d0, d1))
        lo = _min(k0, k1)
        rlat[0] = _max(lo, _min(kmax, k2))
    else:
        m = _min(d0, _min(d1, d2))
        rlat[0] = _max(k0, _max(k1, k2))
    visible[0] = m - wlat[0]


def simulate(int n, int r, int w, const int32_t[::1] kind, const double[::1] hi,
             const double[::1] a, const double[::1] b, const int64_t[::1] doff, const int64_t[::1] dlen,
             const double[::1] data, const int64_t[::1] start, double dc_delay, uint64_t seed,
             double[::1] visible, double[::1] wlat, double[::1] rlat, double[:, ::1] draws=None):
    """Run ``len(visible)`` trials from seed ``seed``, drawing delays from the
    flat leg description; fill ``visible``, ``wlat`` and ``rlat``. ``draws``
    (trials x 4n, optional) receives each trial's W_0..W_{n-1}, A.., R.., S..
    after any data-centre delay, for checking. The GIL is released."""
    cdef Py_ssize_t trials = visible.shape[0]
    cdef int leg
    if wlat.shape[0] != trials or rlat.shape[0] != trials:
        raise ValueError("visible, wlat and rlat must have the same length")
    if not (1 <= r <= n and 1 <= w <= n):
        raise ValueError(f"need 1 <= r, w <= n, got n={n}, r={r}, w={w}")
    if start.shape[0] != 5 or start[0] != 0 or start[4] != kind.shape[0]:
        raise ValueError("start must hold 5 offsets from 0 to the number of components")
    for leg in range(4):
        if start[leg + 1] <= start[leg]:
            raise ValueError(f"leg {leg} has no component")
    if draws is not None and (draws.shape[0] != trials or draws.shape[1] != 4 * n):
        raise ValueError("draws must have shape (trials, 4 * n)")
    cdef Py_ssize_t ncomp = kind.shape[0], j
    if hi.shape[0] != ncomp or a.shape[0] != ncomp or b.shape[0] != ncomp \
            or doff.shape[0] != ncomp or dlen.shape[0] != ncomp:
        raise ValueError("kind, hi, a, b, doff and dlen must have one entry per component")
    for j in range(ncomp):
        if not K_CONST <= kind[j] <= K_PARETO_INV:
            raise ValueError(f"component {j} has an unknown kind {kind[j]}")
        if kind[j] == K_PARETO and dlen[j] != PARETO_TABLE or kind[j] == K_EMPIRICAL and dlen[j] < 1:
            raise ValueError(f"component {j} has {dlen[j]} doubles of data")
        if (kind[j] == K_PARETO or kind[j] == K_EMPIRICAL) and not 0 <= doff[j] <= data.shape[0] - dlen[j]:
            raise ValueError(f"component {j}'s data lies outside the data array")
    for leg in range(4):
        if hi[start[leg + 1] - 1] != 1.0:
            raise ValueError(f"leg {leg}'s last component must end at 1")
    cdef Legs d
    d.kind = &kind[0]
    d.hi = &hi[0]
    d.a = &a[0]
    d.b = &b[0]
    d.doff = &doff[0]
    d.dlen = &dlen[0]
    d.data = &data[0] if data.shape[0] > 0 else NULL
    for leg in range(5):
        d.start[leg] = start[leg]
    cdef bint keep = draws is not None
    cdef double* buf = NULL
    cdef int* idx = NULL
    cdef Rng g
    cdef Py_ssize_t t0, t, m, bn = BATCH * n
    cdef int i, leg2, wdc, rdc
    cdef double* row
    rng_seed(&g, seed)
    try:
        mem_resize(<void**>&buf, sizeof(double) * (4 * bn + n))
        mem_resize(<void**>&idx, sizeof(int) * n)
        with nogil:
            # batches of BATCH trials: each leg's delays drawn in one run (row t of
            # leg l at buf + l * bn + t * n), then the trials evaluated
            t0 = 0
            while t0 < trials:
                m = min(<Py_ssize_t>BATCH, trials - t0)
                for leg2 in range(4):
                    _fill(&g, &d, leg2, buf + leg2 * bn, m * n)
                if dc_delay > 0:
                    for t in range(m):
                        row = buf + t * n
                        wdc = <int>rng_below(&g, <uint64_t>n)
                        rdc = <int>rng_below(&g, <uint64_t>n)
                        for i in range(n):
                            row[i] += dc_delay * (i != wdc)
                            row[bn + i] += dc_delay * (i != wdc)
                            row[2 * bn + i] += dc_delay * (i != rdc)
                            row[3 * bn + i] += dc_delay * (i != rdc)
                for t in range(m):
                    row = buf + t * n
                    if keep:
                        for leg2 in range(4):
                            for i in range(n):
                                draws[t0 + t, leg2 * n + i] = row[leg2 * bn + i]
                    if n == 3:
                        _trial3(r, w, row, row + bn, row + 2 * bn, row + 3 * bn,
                                &visible[t0 + t], &wlat[t0 + t], &rlat[t0 + t])
                    else:
                        _trial(n, r, w, row, row + bn, row + 2 * bn, row + 3 * bn, buf + 4 * bn, idx,
                               &visible[t0 + t], &wlat[t0 + t], &rlat[t0 + t])
                t0 += m
    finally:
        PyMem_RawFree(buf)
        PyMem_RawFree(idx)


def evaluate(int r, int w, const double[:, ::1] W, const double[:, ::1] A, const double[:, ::1] R,
             const double[:, ::1] S, double[::1] visible, double[::1] wlat, double[::1] rlat,
             bint generic=False):
    """The same evaluation on given draws: W, A, R, S of shape (trials, n).
    ``generic``: use the general code for three replicas too (for tests)."""
    cdef Py_ssize_t trials = W.shape[0]
    cdef int n = <int>W.shape[1]
    if (A.shape[0] != trials or R.shape[0] != trials or S.shape[0] != trials
            or A.shape[1] != n or R.shape[1] != n or S.shape[1] != n):
        raise ValueError("W, A, R and S must have the same shape (trials, n)")
    if visible.shape[0] != trials or wlat.shape[0] != trials or rlat.shape[0] != trials:
        raise ValueError("the outputs must have one entry per trial")
    if not (1 <= r <= n and 1 <= w <= n):
        raise ValueError(f"need 1 <= r, w <= n, got n={n}, r={r}, w={w}")
    cdef double* x = NULL
    cdef int* idx = NULL
    cdef Py_ssize_t t
    try:
        mem_resize(<void**>&x, sizeof(double) * n)
        mem_resize(<void**>&idx, sizeof(int) * n)
        with nogil:
            for t in range(trials):
                if n == 3 and not generic:
                    _trial3(r, w, &W[t, 0], &A[t, 0], &R[t, 0], &S[t, 0], &visible[t], &wlat[t], &rlat[t])
                else:
                    _trial(n, r, w, &W[t, 0], &A[t, 0], &R[t, 0], &S[t, 0], x, idx,
                           &visible[t], &wlat[t], &rlat[t])
    finally:
        PyMem_RawFree(x)
        PyMem_RawFree(idx)


# ----------------------------------------------------------------------------- order statistics

cdef inline uint64_t _order_key(double v) noexcept nogil:
    """The bits of v as an unsigned integer with the same order as v (for
    every double but NaN): the sign flipped for positives, all bits for negatives."""
    cdef uint64_t bits
    memcpy(&bits, &v, 8)
    if bits >> 63:
        return ~bits
    return bits | (<uint64_t>1 << 63)


def order_stats(const double[::1] x, ranks):
    """The values of rank ``k`` (0-based, ascending) of ``x`` for each ``k`` in
    ``ranks``: one pass counts the values in 2^18 buckets by the top 18 bits of
    their order key (sign, exponent and 6 bits of mantissa: buckets 1.6% wide),
    a second gathers the few buckets that hold the ranks, which are then
    partitioned. O(n), exact."""
    import numpy as np
    cdef Py_ssize_t n = x.shape[0], i
    cdef list ks = [int(k) for k in ranks]
    for k in ks:
        if not 0 <= k < n:
            raise ValueError(f"rank {k} is outside 0..{n - 1}")
    counts = np.zeros(1 << BUCKET_BITS, dtype=np.int64)
    cdef int64_t[::1] c = counts
    with nogil:
        for i in range(n):
            c[_order_key(x[i]) >> (64 - BUCKET_BITS)] += 1
    before = np.concatenate([[0], np.cumsum(counts)])
    home = {k: int(np.searchsorted(before, k, side="right")) - 1 for k in ks}
    buckets = sorted(set(home.values()))
    slot = np.zeros(1 << BUCKET_BITS, dtype=np.int32)       # bucket -> 1 + its place in ``buckets``
    for j, b in enumerate(buckets):
        slot[b] = j + 1
    starts = np.concatenate([[0], np.cumsum([counts[b] for b in buckets])]).astype(np.int64)
    gathered = np.empty(int(starts[len(buckets)]))
    cdef int32_t[::1] sl = slot
    cdef int64_t[::1] cursor = starts[:len(buckets)].copy()
    cdef double[::1] gt = gathered
    cdef Py_ssize_t s
    with nogil:
        for i in range(n):
            s = sl[_order_key(x[i]) >> (64 - BUCKET_BITS)]
            if s > 0:
                s -= 1
                gt[cursor[s]] = x[i]
                cursor[s] += 1
    for j, b in enumerate(buckets):
        inside = sorted({k - int(before[b]) for k in ks if home[k] == b})
        gathered[starts[j]:starts[j + 1]] = np.partition(gathered[starts[j]:starts[j + 1]], inside)
    return [float(gathered[starts[buckets.index(home[k])] + k - before[home[k]]]) for k in ks]
