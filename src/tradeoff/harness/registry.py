"""The registry: benchmarks and scenarios declared once, by decorator.

A *benchmark* is timed by pyperf in worker processes: the decorated function
does its setup and returns the zero-argument callable to time. A *scenario*
computes deterministic metrics once per parameter set: the decorated function
returns a dict of metric name -> number (or short string).

Each function is expanded over the cartesian product of its ``params`` (in the
order they are declared); a *case* is one function with one set of values, named
``func[p1=v1,p2=v2]``. The name never depends on the file the suite lives in, so
the same suite run from two checkouts compares.

Both the built-in suites (``tradeoff.suites.<name>``) and users' files
(``tradeoff run path/to/suite.py``) are read the same way: the module is imported
and its decorated functions are collected in definition order, which is the
order pyperf workers rely on.
"""
from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import inspect
import itertools
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

KIND_BENCHMARK = "benchmark"
KIND_SCENARIO = "scenario"
_ATTR = "__tradeoff_spec__"
_SCALARS = (str, int, float, bool, type(None))


@dataclass
class Spec:
    """One decorated function: what it is, its params and how to run it."""

    func: Callable
    kind: str
    params: dict[str, list]
    compare: str | None = None
    inner_loops: int | None = None
    processes: int | None = None
    values: int | None = None
    description: str = ""
    suite: str = ""

    @property
    def name(self) -> str:
        return self.func.__name__

    @property
    def wants_seed(self) -> bool:
        return "seed" in inspect.signature(self.func).parameters and "seed" not in self.params

    def cases(self) -> list["Case"]:
        from .results import format_name

        keys = list(self.params)
        out = []
        for combo in itertools.product(*(self.params[k] for k in keys)):
            p = dict(zip(keys, combo))
            out.append(Case(self, p, format_name(self.name, p)))
        return out


@dataclass
class Case:
    """One function with one set of param values."""

    spec: Spec
    params: dict[str, Any]
    name: str
    seed: int | None = field(default=None)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def call(self, seed: int | None = None):
        kwargs = dict(self.params)
        if self.spec.wants_seed:
            kwargs["seed"] = seed if seed is not None else 0
        return self.spec.func(**kwargs)


def _check_params(func_name: str, params) -> dict[str, list]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TypeError(f"{func_name}: params must be a dict of name -> list of values")
    out = {}
    for k, values in params.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise TypeError(f"{func_name}: param names must be identifiers, got {k!r}")
        from .results import FIXED_COLUMNS
        if k in FIXED_COLUMNS:
            raise ValueError(f"{func_name}: param {k!r} is the name of a results column "
                             f"({', '.join(FIXED_COLUMNS)}); call it something else")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        values = list(values)
        if not values:
            raise ValueError(f"{func_name}: param {k!r} has no values")
        for v in values:
            if not isinstance(v, _SCALARS):
                raise TypeError(f"{func_name}: param {k!r} values must be str, int, float, bool or None, got {v!r}")
        out[k] = values
    return out


def _decorator(kind: str, func=None, *, params=None, compare=None, inner_loops=None,
               processes=None, values=None):
    def wrap(f):
        p = _check_params(f.__name__, params)
        if compare is not None and compare not in p:
            raise ValueError(f"{f.__name__}: compare={compare!r} is not one of its params")
        if inner_loops is not None and (not isinstance(inner_loops, int) or inner_loops < 1):
            raise ValueError(f"{f.__name__}: inner_loops must be a positive int")
        spec = Spec(func=f, kind=kind, params=p, compare=compare, inner_loops=inner_loops,
                    processes=processes, values=values,
                    description=(inspect.getdoc(f) or "").split("\n", 1)[0])
        setattr(f, _ATTR, spec)
        return f

    return wrap(func) if func is not None else wrap


def benchmark(func=None, *, params=None, compare=None, inner_loops=None, processes=None, values=None):
    """Declare a timed benchmark.

    The function receives one value of each param, does its setup (not timed)
    and returns the zero-argument callable that pyperf times. When one call of
    that callable performs ``inner_loops`` operations, say so and the results are
    per operation. ``compare`` names the param whose values are shown side by side
    in reports (the first value is the baseline). ``processes``/``values`` set the
    pyperf worker count and values per worker for the default mode (``--fast``
    uses max(N/2, 3) processes, ``--rigorous`` 2N, as pyperf does with its own
    defaults), for benchmarks too slow for pyperf's defaults.

    >>> from tradeoff import benchmark
    >>> @benchmark(params={"n": [1_000, 100_000]})
    ... def sort_reversed(n):
    ...     data = list(range(n, 0, -1))   # setup, not timed
    ...     return lambda: sorted(data)     # the timed call
    """
    return _decorator(KIND_BENCHMARK, func, params=params, compare=compare,
                      inner_loops=inner_loops, processes=processes, values=values)


def scenario(func=None, *, params=None, compare=None):
    """Declare a scenario: deterministic metrics computed once per param set.

    The function returns a dict of metric name -> number or string. If it takes
    a ``seed`` argument (not among its params), the run's seed is passed in and
    recorded with the results.

    >>> from tradeoff import scenario
    >>> @scenario(params={"policy": ["lru", "lfu"]})
    ... def hit_ratio(policy, seed):
    ...     return {"hit_ratio": 0.5}
    """
    return _decorator(KIND_SCENARIO, func, params=params, compare=compare)


# ------------------------------------------------------------------ suites

def builtin_suites() -> list[str]:
    """Names of the built-in suites (modules of ``tradeoff.suites``)."""
    from .. import suites

    return sorted(m.name for m in pkgutil.iter_modules(suites.__path__) if not m.name.startswith("_"))


def suite_summary(name: str) -> tuple[int, str]:
    """``(cases, the first paragraph of its docstring, whole)`` of a built-in suite, for
    ``tradeoff list``."""
    import sys

    n = sum(len(s.cases()) for s in collect(name))
    doc = sys.modules[f"tradeoff.suites.{name}"].__doc__ or ""
    return n, " ".join(doc.strip().split("\n\n")[0].split())


def _is_path(ref: str) -> bool:
    return ref.endswith(".py") or "/" in ref or "\\" in ref or Path(ref).is_file()


def load_module(ref: str):
    """Import a built-in suite by name or a user's suite file by path."""
    if _is_path(ref):
        path = Path(ref)
        if not path.is_file():
            raise UserError(f"suite file not found: {ref}")
        modname = f"_tradeoff_suite_{path.stem}"
        if modname in sys.modules and getattr(sys.modules[modname], "__file__", None) == str(path.resolve()):
            return sys.modules[modname]
        spec = importlib.util.spec_from_file_location(modname, path.resolve())
        if spec is None or spec.loader is None:
            raise UserError(f"cannot load suite file {ref}: not a Python file")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        # like pytest and `python file.py`: the suite may import modules beside it
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(mod)
        except UserError:
            raise
        except BaseException as exc:  # a user's file may raise anything, even SystemExit
            del sys.modules[modname]
            if isinstance(exc, KeyboardInterrupt):
                raise
            where = _last_frame_in(exc, path)
            detail = exc.msg if isinstance(exc, SyntaxError) and exc.msg else exc
            raise UserError(f"cannot load suite file {ref}{where}: {type(exc).__name__}: {detail}") from None
        return mod
    names = builtin_suites()
    if ref not in names:
        raise UserError(f"unknown suite {ref!r}: built-in suites are {', '.join(names) or '(none)'}; "
                        "or give a path to a .py file")
    return importlib.import_module(f"tradeoff.suites.{ref}")


def _last_frame_in(exc: BaseException, path: Path) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None and isinstance(exc, SyntaxError) and exc.lineno:
        line = exc.lineno
    return f" (line {line})" if line else ""


def suite_name(ref: str) -> str:
    return Path(ref).stem if _is_path(ref) else ref


def collect(ref: str) -> list[Spec]:
    """The specs of a suite, in definition order."""
    mod = load_module(ref)
    name = suite_name(ref)
    specs = []
    for obj in list(vars(mod).values()):
        spec = getattr(obj, _ATTR, None)
        if isinstance(spec, Spec) and getattr(obj, "__module__", None) == mod.__name__:
            spec.suite = name
            specs.append(spec)
    return specs


def quick_patterns(ref: str) -> list[str]:
    """The ``-k`` patterns of a suite's first look (``tradeoff run SUITE --quick``):
    its module's ``QUICK`` list; every case when it has none."""
    quick = getattr(load_module(ref), "QUICK", None)
    if quick is None:
        return []
    if isinstance(quick, str) or not all(isinstance(q, str) for q in quick):
        raise UserError(f"suite {ref!r}: QUICK must be a list of -k patterns (strings)")
    return list(quick)


def parse_param_overrides(items: list[str]) -> dict[str, list[str]]:
    """``name=v1,v2`` strings -> {name: [raw values]}."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier() or not raw.strip():
            raise UserError(f"bad param {item!r}: expected NAME=VALUE[,VALUE...]")
        out[name] = [v.strip() for v in raw.split(",")]
    return out


def _convert(raw: str, like: list, what: str):
    kinds = {type(v) for v in like if v is not None}
    if kinds <= {bool}:
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    elif kinds <= {int}:
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            pass
    elif kinds <= {int, float}:
        try:
            return float(raw.replace("_", ""))
        except ValueError:
            pass
    else:
        return raw
    expected = "/".join(sorted(k.__name__ for k in kinds))
    raise UserError(f"bad param {what}={raw!r}: expected {expected}")


def expand(specs: list[Spec], overrides: dict[str, list[str]] | None = None,
           patterns: list[str] | None = None) -> list[Case]:
    """Every case of the specs, with param overrides applied, filtered by -k patterns.

    A pattern selects the cases whose name contains it; one with ``*``, ``?`` or ``[``
    also selects the names it matches as a glob. Several patterns select what any of
    them selects.
    """
    overrides = overrides or {}
    used = set()
    cases: list[Case] = []
    for spec in specs:
        if overrides:
            params = dict(spec.params)
            for name, raws in overrides.items():
                if name in params:
                    params[name] = [_convert(r, spec.params[name], name) for r in raws]
                    used.add(name)
            spec = Spec(**{**spec.__dict__, "params": params})
        cases.extend(spec.cases())
    unknown = set(overrides) - used
    if unknown:
        known = sorted({k for s in specs for k in s.params})
        raise UserError(f"unknown param {sorted(unknown)[0]!r}: the selected benchmarks take "
                        f"{', '.join(known) or 'no params'}")
    if patterns:
        def match(name: str) -> bool:
            for pat in patterns:
                # a substring first: a full case name such as ``f[n=10]`` has a "[" but is
                # not meant as a glob (as one, "[n=10]" would be a character class)
                if pat in name:
                    return True
                if any(ch in pat for ch in "*?[") and fnmatch.fnmatchcase(name, pat):
                    return True
            return False

        cases = [c for c in cases if match(c.name)]
    return cases


def find_case(ref: str, name: str, overrides: dict[str, list[str]] | None = None) -> Case:
    for case in expand(collect(ref), overrides):
        if case.name == name:
            return case
    raise UserError(f"no benchmark named {name!r} in suite {ref!r}")
