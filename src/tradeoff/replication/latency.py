"""One-way message delays for replication models: named distributions and the
production fits of the PBS paper, drawn as numpy arrays.

Every delay here is in **milliseconds** (float64), the unit of the paper.

A *distribution* draws one-way delays; a *latency model* gives one distribution per
leg of the WARS model (Bailis, Venkataraman, Franklin, Hellerstein and Stoica,
"Probabilistically Bounded Staleness for Practical Partial Quorums", VLDB 2012;
CACM 2014, Section 4.2): ``W`` carries a write from the coordinator to a
replica, ``A`` its acknowledgement back, ``R`` a read request to a replica and
``S`` the response.

:func:`parse_latency` reads the command line's spelling:

* ``lnkd-ssd``: LinkedIn's Voldemort on SSDs, W = A = R = S (the paper's table of fits)
* ``lnkd-disk``: LinkedIn on spinning disks, W fitted apart, A = R = S as lnkd-ssd
* ``ymmr``: Yammer's Riak, W fitted apart from A = R = S
* ``wan``: ``lnkd-disk`` with each replica in its own data centre, 75 ms more
  each way for every message between data centres (``wan:delay=40ms``)
* ``exp:mean=2ms``: exponential (also ``exp:rate=0.5``, per ms, and ``exp:2ms``)
* ``const:1ms``: a constant delay
* ``lognormal:median=1ms,sigma=1``: log-normal with median e^mu and shape sigma
* ``pareto:xm=1ms,alpha=2``: Pareto, P(X > x) = (xm / x)^alpha for x >= xm
* ``file:PATH``: resample the numbers (ms) in a text file
* ``W=exp:mean=10ms;ARS=const:1ms``: one distribution per group of legs

Durations take a unit (``ns``, ``us``, ``ms``, ``s``); a bare number is ms.

>>> import numpy as np
>>> model = parse_latency("lnkd-ssd")
>>> x = model.sample("W", 100_000, np.random.default_rng(1))
>>> x.dtype, x.shape, round(float(np.median(x)), 2)
(dtype('float64'), (100000,), 0.25)
>>> round(float(np.mean(x < 0.235)), 3)      # below the Pareto's xm: the exponential part only
0.029
>>> parse_latency("exp:mean=2ms").sample("S", 3, np.random.default_rng(0)).round(2)
array([1.36, 2.04, 0.04])
>>> parse_latency("pareto:xm=1ms,alpha=0")
Traceback (most recent call last):
...
ValueError: pareto alpha must be > 0, got 0 (in 'pareto:xm=1ms,alpha=0')
"""
from __future__ import annotations

import math
import os
import re
from typing import Sequence

import numpy as np

from ..harness.specs import parse_duration as _parse_duration

__all__ = ["LEGS", "FITS", "Delay", "Exponential", "Constant", "LogNormal", "Pareto", "Empirical",
           "Mixture", "LatencyModel", "WanModel", "parse_latency", "parse_duration", "split_specs",
           "fit"]

#: the four legs of the WARS model, in the order the simulators draw them
LEGS = ("W", "A", "R", "S")

# kinds understood by the Cython sampler of tradeoff.replication._pbs (same numbers there)
K_CONST, K_EXP, K_PARETO, K_LOGNORMAL, K_EMPIRICAL = 0, 1, 2, 3, 4

def parse_duration(text, what: str = "duration") -> float:
    """A duration in milliseconds, the unit of the PBS paper's fits: ``"2ms"`` -> 2.0,
    ``"500us"`` -> 0.5, ``"1.5s"`` -> 1500.0, ``3`` -> 3.0 (see
    :func:`tradeoff.harness.specs.parse_duration`).

    >>> parse_duration("250us"), parse_duration("0.2s"), parse_duration(4)
    (0.25, 200.0, 4.0)
    """
    return _parse_duration(text, what, unit="ms")


# ----------------------------------------------------------------------------- distributions

class Delay:
    """A distribution of one-way delays in ms. Subclasses draw with numpy
    (:meth:`draw`) and describe themselves to the Cython sampler (:meth:`kernel`)."""

    name = "delay"
    #: the unit of every delay drawn
    unit = "ms"

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def parts(self) -> list:
        """``[(weight, simple distribution), ...]``: a mixture's components, or itself."""
        return [(1.0, self)]

    def kernel(self) -> tuple:
        """``(kind, a, b, values)`` for the Cython sampler (simple distributions
        only): exp (mean), const (value), pareto (xm, alpha), lognormal (mu,
        sigma), empirical (values)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _positive(value, what: str) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{what} must be > 0, got {value:g}")
    return value


class Exponential(Delay):
    """Exponential delays with the given ``mean`` (ms); ``rate`` = 1/mean, the
    paper's lambda (per ms). Draws by inversion: -mean * log(1 - U)."""

    def __init__(self, mean: float | None = None, rate: float | None = None):
        if (mean is None) == (rate is None):
            raise ValueError("exp takes mean= or rate=, one of them")
        self.mean = _positive(mean, "exp mean") if mean is not None else 1.0 / _positive(rate, "exp rate")
        self.name = f"exp:mean={self.mean:g}ms"

    def draw(self, n, rng):
        return rng.exponential(self.mean, n)

    def kernel(self):
        return (K_EXP, self.mean, 0.0, None)


class Constant(Delay):
    """A fixed delay ``value`` (ms, >= 0)."""

    def __init__(self, value: float):
        value = float(value)
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"const delay must be >= 0, got {value:g}")
        self.value = value
        self.name = f"const:{value:g}ms"

    def draw(self, n, rng):
        return np.full(n, self.value)

    def kernel(self):
        return (K_CONST, self.value, 0.0, None)


class LogNormal(Delay):
    """Log-normal delays: log X ~ Normal(log(median), sigma^2)."""

    def __init__(self, median: float, sigma: float):
        self.median = _positive(median, "lognormal median")
        sigma = float(sigma)
        if not (sigma >= 0 and math.isfinite(sigma)):
            raise ValueError(f"lognormal sigma must be >= 0, got {sigma:g}")
        self.sigma = sigma
        self.name = f"lognormal:median={self.median:g}ms,sigma={sigma:g}"

    def draw(self, n, rng):
        return rng.lognormal(math.log(self.median), self.sigma, n)

    def kernel(self):
        return (K_LOGNORMAL, math.log(self.median), self.sigma, None)


class Pareto(Delay):
    """Pareto (type I) delays: P(X > x) = (xm / x)^alpha for x >= xm, drawn as
    xm * (1 - U)^(-1/alpha). The mean is infinite for alpha <= 1."""

    def __init__(self, xm: float, alpha: float):
        self.xm = _positive(xm, "pareto xm")
        self.alpha = _positive(alpha, "pareto alpha")
        self.name = f"pareto:xm={self.xm:g}ms,alpha={self.alpha:g}"

    def draw(self, n, rng):
        return self.xm * np.power(1.0 - rng.random(n), -1.0 / self.alpha)

    def kernel(self):
        return (K_PARETO, self.xm, self.alpha, None)


class Empirical(Delay):
    """Resample (with replacement, uniformly) from observed delays in ms: an
    array, or :meth:`from_file`."""

    def __init__(self, values, name: str = "empirical"):
        arr = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            raise ValueError(f"{name}: no delays to resample")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: delays must be finite numbers")
        if arr.min() < 0:
            raise ValueError(f"{name}: delays must be >= 0, got {arr.min():g}")
        self.values = np.sort(arr)
        self.name = name

    @classmethod
    def from_file(cls, path: str | os.PathLike, scale: float = 1.0) -> "Empirical":
        """Numbers (ms, times ``scale``) separated by spaces, commas or new lines;
        ``#`` starts a comment."""
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read latency file {path}: {getattr(exc, 'strerror', None) or exc}") from None
        values = []
        for lineno, line in enumerate(text.splitlines(), 1):
            for word in line.split("#", 1)[0].replace(",", " ").split():
                try:
                    values.append(float(word))
                except ValueError:
                    raise ValueError(f"latency file {path}, line {lineno}: {word!r} is not a number") from None
        if not values:
            raise ValueError(f"latency file {path} holds no numbers")
        return cls(np.asarray(values) * scale, name=f"file:{path}")

    def draw(self, n, rng):
        return self.values[rng.integers(0, self.values.size, n)]

    def kernel(self):
        return (K_EMPIRICAL, 0.0, 0.0, self.values)


class Mixture(Delay):
    """With probability ``weight_i`` a draw comes from distribution ``i``
    (weights are normalized to sum to 1). The paper's fits are mixtures of a
    Pareto body and an exponential tail."""

    def __init__(self, parts: Sequence[tuple], name: str | None = None):
        flat = []
        for weight, dist in parts:
            weight = float(weight)
            if not (weight >= 0 and math.isfinite(weight)):
                raise ValueError(f"mixture weights must be >= 0, got {weight:g}")
            flat += [(weight * w, d) for w, d in dist.parts()]
        flat = [(w, d) for w, d in flat if w > 0]
        total = sum(w for w, _ in flat)
        if not flat or total <= 0:
            raise ValueError("a mixture needs a part with a positive weight")
        self._parts = [(w / total, d) for w, d in flat]
        self.name = name or "mix(" + ", ".join(f"{w:.4g}*{d.name}" for w, d in self._parts) + ")"

    def parts(self):
        return list(self._parts)

    def draw(self, n, rng):
        cum = np.cumsum([w for w, _ in self._parts])
        pick = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(self._parts) - 1)
        out = np.empty(n)
        for j, (_, dist) in enumerate(self._parts):
            where = np.flatnonzero(pick == j)
            if where.size:
                out[where] = dist.draw(where.size, rng)
        return out


def _pareto_exp(p_pareto: float, xm: float, alpha: float, rate: float, name: str) -> Mixture:
    return Mixture([(p_pareto, Pareto(xm, alpha)), (1.0 - p_pareto, Exponential(rate=rate))], name=name)


# ----------------------------------------------------------------------------- models

class LatencyModel:
    """One delay distribution per WARS leg. ``LatencyModel(d)`` uses ``d`` for
    all four legs; ``LatencyModel(W=dw, A=da, R=dr, S=ds)`` sets each (a leg left
    out takes ``W``'s).

    ``sample(leg, n, rng)`` draws ``n`` delays (ms) for one leg, vectorized;
    ``sample_wars(trials, n, rng)`` draws ``(W, A, R, S)``, each of shape
    ``(trials, n)``: one row per trial, one column per replica. Both take O(n)
    time (a mixture adds a pass per component).

    >>> m = LatencyModel(W=Exponential(mean=10.0), A=Constant(1.0))
    >>> m.leg("R").name, m.sample("A", 2, np.random.default_rng(0)).tolist()
    ('exp:mean=10ms', [1.0, 1.0])
    >>> [x.shape for x in m.sample_wars(5, 3, np.random.default_rng(0))]
    [(5, 3), (5, 3), (5, 3), (5, 3)]
    >>> m._check()
    """

    #: the unit of every delay drawn
    unit = "ms"
    #: added to every message between data centres (ms); 0: one data centre
    dc_delay = 0.0

    def __init__(self, W: Delay, A: Delay | None = None, R: Delay | None = None,
                 S: Delay | None = None, name: str | None = None):
        legs = {"W": W, "A": A if A is not None else W, "R": R if R is not None else W,
                "S": S if S is not None else W}
        for leg, dist in legs.items():
            if not isinstance(dist, Delay):
                raise ValueError(f"leg {leg} needs a delay distribution, got {type(dist).__name__}")
        self.legs = legs
        self.name = name or (W.name if len({id(d) for d in legs.values()}) == 1
                             else ";".join(f"{k}={d.name}" for k, d in legs.items()))

    def _check(self) -> None:
        """Assert the invariants: four legs, each a distribution whose parts'
        weights are positive and sum to 1."""
        assert tuple(self.legs) == LEGS, self.legs
        for dist in self.legs.values():
            assert isinstance(dist, Delay)
            weights = [w for w, _ in dist.parts()]
            assert all(w > 0 for w in weights) and abs(sum(weights) - 1.0) < 1e-12, weights
        assert self.dc_delay >= 0

    def leg(self, leg: str) -> Delay:
        key = str(leg).upper()
        if key not in self.legs:
            raise ValueError(f"unknown leg {leg!r}: the legs are W, A, R, S")
        return self.legs[key]

    def sample(self, leg: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` one-way delays (ms, float64) of ``leg`` ("W", "A", "R" or "S")."""
        dist = self.leg(leg)
        return dist.draw(_count(n), rng)

    def sample_wars(self, trials: int, n: int, rng: np.random.Generator):
        """``(W, A, R, S)`` for ``trials`` trials over ``n`` replicas: four
        ``(trials, n)`` arrays of ms."""
        trials, n = _count(trials), _count(n)
        return tuple(self.legs[leg].draw(trials * n, rng).reshape(trials, n) for leg in LEGS)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class WanModel(LatencyModel):
    """Replicas in different data centres (the paper's ``WAN``, described with the
    production fits):
    each of the N replicas sits in its own data centre; a write's coordinator is
    in a data centre chosen uniformly at random, and so, independently, is a
    read's. Every message between the coordinator and a replica in another data
    centre takes ``delay`` ms more (75 ms in the paper) on top of ``base``.

    ``sample_wars`` draws that structure (per trial, one local replica for the
    write and one for the read). ``sample(leg, n, rng)`` draws the marginal of
    one message when there are ``replicas`` data centres: remote (``+delay``)
    with probability (replicas - 1) / replicas.
    """

    def __init__(self, base: LatencyModel, delay: float = 75.0, replicas: int = 3, name: str | None = None):
        delay = float(delay)
        if not (delay >= 0 and math.isfinite(delay)):
            raise ValueError(f"wan delay must be >= 0 ms, got {delay:g}")
        super().__init__(**base.legs, name=name or f"wan(delay={delay:g}ms, {base.name})")
        self.base = base
        self.dc_delay = delay
        self.replicas = _count(replicas)

    def sample(self, leg, n, rng):
        x = super().sample(leg, n, rng)
        remote = rng.random(x.size) < (self.replicas - 1) / self.replicas
        return x + self.dc_delay * remote

    def sample_wars(self, trials, n, rng):
        W, A, R, S = super().sample_wars(trials, n, rng)
        cols = np.arange(n)
        wdc = rng.integers(0, n, W.shape[0])[:, None] != cols
        rdc = rng.integers(0, n, W.shape[0])[:, None] != cols
        d = self.dc_delay
        return W + d * wdc, A + d * wdc, R + d * rdc, S + d * rdc


def _count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"a count must be a whole number >= 0, got {n!r}")
    return int(n)


# ----------------------------------------------------------------------------- the paper's fits

def _lnkd_ssd_leg() -> Mixture:
    # the paper's table of fits: 91.22% Pareto(xm=.235, alpha=10), 8.78% exponential(lambda=1.66)
    return _pareto_exp(0.9122, 0.235, 10.0, 1.66, "lnkd-ssd")


def _make_fit(name: str) -> LatencyModel:
    ssd = _lnkd_ssd_leg()
    if name == "lnkd-ssd":
        return LatencyModel(ssd, name="lnkd-ssd")
    if name == "lnkd-disk":
        # the table of fits: W 38% Pareto(xm=1.05, alpha=1.51), 62% exponential(lambda=.183); A=R=S as lnkd-ssd
        w = _pareto_exp(0.38, 1.05, 1.51, 0.183, "lnkd-disk-W")
        return LatencyModel(W=w, A=ssd, R=ssd, S=ssd, name="lnkd-disk")
    if name == "ymmr":
        # the table of fits: W 93.9% Pareto(xm=3, alpha=3.35), 6.1% exponential(lambda=.0028);
        # A=R=S 98.2% Pareto(xm=1.5, alpha=3.8), 1.8% exponential(lambda=.0217)
        w = _pareto_exp(0.939, 3.0, 3.35, 0.0028, "ymmr-W")
        ars = _pareto_exp(0.982, 1.5, 3.8, 0.0217, "ymmr-ARS")
        return LatencyModel(W=w, A=ars, R=ars, S=ars, name="ymmr")
    if name == "wan":
        return WanModel(_make_fit("lnkd-disk"), 75.0, name="wan")
    raise ValueError(f"unknown fit {name!r}: choose from {', '.join(FITS)}")


#: the production fits of the PBS paper (VLDB 2012: "Production Latency Model Fitting",
#: the table "Distribution fits for production latency distributions", and the WAN scenario)
FITS = ("lnkd-ssd", "lnkd-disk", "ymmr", "wan")


def fit(name: str) -> LatencyModel:
    """The paper's model ``name`` (one of :data:`FITS`), freshly built."""
    return _make_fit(str(name).strip().lower())


# ----------------------------------------------------------------------------- parsing

_PARAMS = {"exp": ("mean", "rate"), "const": ("value",), "lognormal": ("median", "sigma"),
           "pareto": ("xm", "alpha"), "wan": ("delay",)}
_KINDS = ("exp", "const", "lognormal", "pareto", "file")
_ALIASES = {"exponential": "exp", "constant": "const", "fixed": "const", "log-normal": "lognormal",
            "lnkd_ssd": "lnkd-ssd", "lnkd_disk": "lnkd-disk", "yammer": "ymmr"}
_CONTINUATION = re.compile(r"^\s*(mean|rate|value|median|sigma|xm|alpha|delay)\s*=", re.I)


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of latency specs, keeping a spec's own
    ``name=value`` parameters with it.

    >>> split_specs("lnkd-ssd,lognormal:median=1ms,sigma=1,wan")
    ['lnkd-ssd', 'lognormal:median=1ms,sigma=1', 'wan']
    """
    out: list[str] = []
    for piece in str(text).split(","):
        if out and _CONTINUATION.match(piece) and not out[-1].lower().startswith("file:"):
            out[-1] += "," + piece.strip()
        elif piece.strip():
            out.append(piece.strip())
    return out


def _distribution(spec: str) -> Delay:
    """One distribution from ``kind:params`` (no fits, no per-leg groups)."""
    kind, _, rest = spec.partition(":")
    kind = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind == "file":
        if not rest.strip():
            raise ValueError("file: needs a path, e.g. file:delays.txt")
        return Empirical.from_file(rest.strip())
    if kind not in _PARAMS or kind == "wan":
        raise ValueError(f"unknown latency {spec.split(':')[0]!r}: choose {', '.join(FITS)}, "
                         f"or a distribution {', '.join(k + ':' for k in _KINDS)}")
    params: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in re.split(r"[,:]", rest))):
        key, eq, val = item.partition("=")
        if not eq:                              # a bare value: the first parameter
            key, val = _PARAMS[kind][0], item
        key = key.strip().lower()
        if key not in _PARAMS[kind]:
            raise ValueError(f"{kind} takes {', '.join(p + '=' for p in _PARAMS[kind])} not {key!r}")
        if key in params:
            raise ValueError(f"{kind}: {key} given twice")
        if key in ("sigma", "alpha", "rate"):
            try:
                params[key] = float(val)
            except ValueError:
                raise ValueError(f"{kind} {key} must be a number, got {val.strip()!r}") from None
        else:
            params[key] = parse_duration(val, f"{kind} {key}")
    if kind == "exp":
        return Exponential(**params)
    need = [p for p in _PARAMS[kind] if p not in params]
    if need:
        raise ValueError(f"{kind} needs {', '.join(p + '=' for p in need)}")
    return {"const": Constant, "lognormal": LogNormal, "pareto": Pareto}[kind](**params)


def parse_latency(spec) -> LatencyModel:
    """A :class:`LatencyModel` from a spec (see the module's table), a
    :class:`LatencyModel` (returned as is), a :class:`Delay` (used for every leg),
    or an array of observed delays in ms (resampled for every leg). A bad spec is
    a one-line ValueError naming the problem.

    >>> parse_latency("W=exp:mean=10ms;ARS=exp:mean=1ms").leg("A").name
    'exp:mean=1ms'
    >>> parse_latency("wan:delay=40ms").dc_delay
    40.0
    """
    if isinstance(spec, LatencyModel):
        return spec
    if isinstance(spec, Delay):
        return LatencyModel(spec)
    if isinstance(spec, (np.ndarray, list, tuple)):
        return LatencyModel(Empirical(spec))
    if not isinstance(spec, str):
        raise ValueError(f"a latency is a spec string, a distribution or an array, not {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise ValueError("empty latency spec")
    try:
        return _parse_text(text)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if text in msg else f"{msg} (in {text!r})") from None


def _parse_text(text: str) -> LatencyModel:
    low = text.lower()
    name = _ALIASES.get(low, low)
    if name in FITS:
        return fit(name)
    if name.startswith("wan:"):
        params = {}
        for item in filter(None, (p.strip() for p in re.split(r"[,:]", text[4:]))):
            key, eq, val = item.partition("=")
            if not eq or key.strip().lower() != "delay":
                raise ValueError(f"wan takes delay= (ms between data centres), not {item!r}")
            params["delay"] = parse_duration(val, "wan delay")
        return WanModel(fit("lnkd-disk"), params.get("delay", 75.0), name=text)
    if re.match(r"^\s*[warsWARS]+\s*=", text):
        legs: dict[str, Delay] = {}
        for group in filter(None, (g.strip() for g in text.split(";"))):
            keys, eq, sub = group.partition("=")
            keys = keys.strip().upper()
            if not eq or not keys or set(keys) - set(LEGS):
                raise ValueError(f"bad leg group {group!r}: write LEGS=SPEC with LEGS from W, A, R, S")
            sub_model = _parse_text(sub.strip())
            if len({id(d) for d in sub_model.legs.values()}) != 1 or sub_model.dc_delay:
                raise ValueError(f"leg group {group!r} needs a plain distribution, not a fitted model")
            for k in keys:
                if k in legs:
                    raise ValueError(f"leg {k} is given twice")
                legs[k] = sub_model.legs["W"]
        missing = [k for k in LEGS if k not in legs]
        if missing:
            raise ValueError(f"leg {', '.join(missing)} has no distribution: give every one of W, A, R, S")
        return LatencyModel(**legs, name=text)
    return LatencyModel(_distribution(text), name=text)
