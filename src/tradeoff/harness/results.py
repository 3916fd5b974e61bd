"""Results files: pyperf benchmark-suite JSON with tradeoff's metadata beside the timings.

A results file is exactly what ``pyperf.BenchmarkSuite.dump`` writes, so
``python -m pyperf stats FILE`` and ``python -m pyperf compare_to A B`` read it as
it is. tradeoff adds metadata keys (pyperf allows any str/int/float metadata):

per benchmark (``Benchmark.get_metadata()``):
    name              ``func[p1=v1,p2=v2]``: the function name and its params, in
                      declaration order; never depends on the suite file's path
    tradeoff_kind     ``"benchmark"`` (timed by pyperf workers) or ``"scenario"``
                      (deterministic metrics; its single value is the wall time
                      of the one computation, not a measurement to compare)
    tradeoff_func     the function name
    tradeoff_suite    the suite it came from (``cache``, or a file's stem)
    tradeoff_params   compact JSON object of the params (values: str/int/float/bool/None)
    tradeoff_compare  optional: the param whose values are shown side by side
                      (e.g. ``impl``); the first value of that param is the baseline
    tradeoff_metrics  scenario only: compact JSON object of metric name -> number/str
    tradeoff_headline optional, scenario only: compact JSON list of the metric names
                      that matter (``["miss_ratio"]``); the report charts these
    tradeoff_seed     optional: the seed the benchmark or scenario used
    tradeoff_interrupted  ``1`` on every benchmark of a run stopped by Ctrl-C: the
                      file holds only the cases that finished

per suite (``BenchmarkSuite.get_metadata()``, common to all benchmarks):
    tradeoff_version, tradeoff_mode (fast/default/rigorous), tradeoff_git_commit
    (when run in a git checkout), plus what pyperf collects itself (python_version,
    cpu_model_name, hostname, date, ...).
    tradeoff_config   optional: compact JSON object of the run-wide configuration of a
                      ``tradeoff simulate`` command (``{"servers":10,"load":0.9}``);
                      not a metric of any row. pyperf has no metadata of the suite
                      alone: it is set on every benchmark, and pyperf writes it once, at
                      the file's root, as metadata common to all of them.

Writes are atomic: the file is written next to its destination and renamed.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from .._atomic import atomic_write_text
from .errors import UserError

KIND_BENCHMARK = "benchmark"
KIND_SCENARIO = "scenario"



#: the columns every results table has; a benchmark's param may not take one of these names
FIXED_COLUMNS = ("name", "suite", "func", "kind", "compare", "mean", "std", "median", "min", "max",
                 "n_values", "n_runs", "unit", "seed")

def format_name(func: str, params: dict[str, Any]) -> str:
    """``func[p=v,...]``, or just ``func`` without params."""
    if not params:
        return func
    inner = ",".join(f"{k}={_fmt_value(v)}" for k, v in params.items())
    return f"{func}[{inner}]"


def _fmt_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return str(v)


def dumps_json(obj: Any) -> str:
    """Compact, newline-free JSON, as pyperf metadata values must be."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=False, allow_nan=True)


def scenario_benchmark(name: str, metrics: dict[str, Any], seconds: float,
                       metadata: dict[str, Any] | None = None):
    """A one-value pyperf Benchmark holding a scenario's metrics; its value is the
    wall time of the one computation (``seconds``)."""
    import pyperf

    md = {"name": name, "unit": "second", "tradeoff_metrics": dumps_json(metrics)}
    md.update(metadata or {})
    run = pyperf.Run([max(float(seconds), 1e-9)], warmups=None, metadata=md, collect_metadata=False)
    return pyperf.Benchmark([run])


def write_rows(rows: Sequence[dict[str, Any]], path: str | os.PathLike, *, suite: str, func: str,
               params: Sequence[str], compare: str | None, seconds: str = "seconds",
               extra: dict[str, Any] | None = None, headline: Sequence[str] = (),
               config: dict[str, Any] | None = None) -> None:
    """Write table rows from a ``tradeoff simulate`` command as a results file:
    one scenario per row, named by ``func`` and the row's ``params`` columns,
    with the other columns as its metrics and ``seconds`` as its time, so that
    ``tradeoff report`` and ``tradeoff compare`` read it. Atomic; an unwritable
    path is a UserError.

    ``headline`` names the metrics that matter (``("miss_ratio",)``), in order; they
    are stored as ``tradeoff_headline`` and are what ``tradeoff report`` charts.
    ``config`` holds the run-wide settings (``{"servers": 10, "load": 0.9}``), stored
    once as ``tradeoff_config``; a key of ``config`` that is also a column of the rows
    is dropped from each row's metrics (a param of that name stays a param).
    """
    import pyperf

    from .run import base_metadata

    run_md = base_metadata("simulate")
    run_md.update(extra or {})
    conf = {str(k): _plain(v) for k, v in (config or {}).items()}
    if conf:
        run_md["tradeoff_config"] = dumps_json(conf)
    heads = [str(h) for h in headline]
    benches = []
    for row in rows:
        row = {k: _plain(v) for k, v in row.items()}
        p = {k: row[k] for k in params}
        metrics = {k: v for k, v in row.items() if k not in p and k != seconds and k not in conf}
        md = {"tradeoff_kind": KIND_SCENARIO, "tradeoff_func": func, "tradeoff_suite": suite,
              "tradeoff_params": dumps_json(p), **run_md}
        if compare:
            md["tradeoff_compare"] = compare
        if heads:
            md["tradeoff_headline"] = dumps_json(heads)
        benches.append(scenario_benchmark(format_name(func, p), metrics, row.get(seconds, 0.0), md))
    try:
        dump_suite(pyperf.BenchmarkSuite(benches), path)
    except OSError as exc:
        raise UserError(f"cannot write results to {path}: {exc.strerror or exc}") from None


def _plain(v: Any) -> Any:
    """A numpy scalar as the Python number it holds; anything else as it is."""
    return v.item() if hasattr(v, "item") else v


def dump_suite(suite, path: str | os.PathLike) -> None:
    """Write a ``pyperf.BenchmarkSuite`` atomically."""
    data = suite._as_json()
    atomic_write_text(path, json.dumps(data, indent=None, separators=(",", ":")) + "\n")


def read_suite(path: str | os.PathLike):
    """Read a results file as a ``pyperf.BenchmarkSuite``; bad files raise UserError."""
    import pyperf

    p = Path(path)
    if not p.exists():
        raise UserError(f"results file not found: {path}")
    if p.is_dir():
        raise UserError(f"results file is a directory: {path}")
    if p.stat().st_size == 0:
        raise UserError(f"results file is empty: {path}")
    try:
        return pyperf.BenchmarkSuite.load(str(p))
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, EOFError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"not a valid results file: {path} ({detail})") from None


def bench_info(bench) -> dict[str, Any]:
    """The tradeoff fields of one pyperf Benchmark, decoded.

    Keys: ``name, kind, func, suite, params, compare, metrics, seed, unit``, and
    ``headline`` (the list of metric names that matter, ``[]`` when the file has none),
    ``config`` (the run's configuration, ``{}`` when none) and ``interrupted`` (True
    when the run that wrote the benchmark was stopped before its end).
    """
    md = bench.get_metadata()
    name = bench.get_name()
    kind = md.get("tradeoff_kind", KIND_BENCHMARK)
    func = md.get("tradeoff_func", name.split("[", 1)[0])
    params = _loads_or(md.get("tradeoff_params"), {})
    metrics = _loads_or(md.get("tradeoff_metrics"), {})
    headline = _loads_or(md.get("tradeoff_headline"), [])
    config = _loads_or(md.get("tradeoff_config"), {})
    return {
        "name": name,
        "kind": kind,
        "func": func,
        "suite": md.get("tradeoff_suite", ""),
        "params": params,
        "compare": md.get("tradeoff_compare"),
        "metrics": metrics,
        "seed": md.get("tradeoff_seed"),
        "unit": md.get("unit", "second"),
        "headline": [str(h) for h in headline] if isinstance(headline, list) else [],
        "config": config if isinstance(config, dict) else {},
        "interrupted": bool(md.get("tradeoff_interrupted")),
    }


def _loads_or(text, default):
    if text is None:
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def bench_values(bench) -> list[float]:
    """All measured values of a benchmark (warmups excluded), in seconds per operation."""
    return list(bench.get_values())


def run_means(bench) -> list[float]:
    """The mean of each pyperf run (worker process); runs without values are skipped."""
    out = []
    for run in bench.get_runs():
        vals = run.values
        if vals:
            out.append(sum(vals) / len(vals))
    return out


def load(path: str | os.PathLike):
    """Load a results file as a pandas DataFrame, one row per benchmark and params.

    Columns: ``name, suite, func, kind, compare`` then one column per param, then
    ``mean, std, median, min, max, n_values, n_runs, unit`` (seconds per operation;
    for scenarios, the time of the one computation), then one column per scenario
    metric (NaN where a benchmark has no such metric), then ``seed``.

    >>> import tradeoff
    >>> df = tradeoff.load("results/cache.json")      # doctest: +SKIP
    >>> df[df.kind == "scenario"][["name", "hit_ratio"]]  # doctest: +SKIP
    """
    import pandas as pd

    suite = read_suite(path)
    rows = []
    param_cols: list[str] = []
    metric_cols: list[str] = []
    headline: list[str] = []
    config: dict[str, Any] | None = None
    interrupted = False
    for bench in suite.get_benchmarks():
        info = bench_info(bench)
        headline += [h for h in info["headline"] if h not in headline]
        if config is None and info["config"]:
            config = info["config"]
        interrupted = interrupted or info["interrupted"]
        vals = bench_values(bench)
        row: dict[str, Any] = {
            "name": info["name"],
            "suite": info["suite"],
            "func": info["func"],
            "kind": info["kind"],
            "compare": info["compare"],
        }
        for k, v in info["params"].items():
            if k not in param_cols:
                param_cols.append(k)
            row[k] = v
        n = len(vals)
        mean = sum(vals) / n if n else math.nan
        if n > 1:
            std = math.sqrt(sum((x - mean) ** 2 for x in vals) / (n - 1))
        else:
            std = math.nan
        svals = sorted(vals)
        row.update(
            mean=mean,
            std=std,
            median=(svals[n // 2] if n % 2 else (svals[n // 2 - 1] + svals[n // 2]) / 2) if n else math.nan,
            min=svals[0] if n else math.nan,
            max=svals[-1] if n else math.nan,
            n_values=n,
            n_runs=sum(1 for run in bench.get_runs() if run.values),  # not calibration runs
            unit=info["unit"],
        )
        for k, v in info["metrics"].items():
            if k not in metric_cols:
                metric_cols.append(k)
            row["metric:" + k] = v
        row["seed"] = info["seed"]
        rows.append(row)
    # metric columns are named by the metric itself unless that clashes with a fixed column
    fixed = {*FIXED_COLUMNS, *param_cols}
    rename = {"metric:" + m: (m if m not in fixed else "metric_" + m) for m in metric_cols}
    cols = ["name", "suite", "func", "kind", "compare", *param_cols,
            "mean", "std", "median", "min", "max", "n_values", "n_runs", "unit",
            *["metric:" + m for m in metric_cols], "seed"]
    df = pd.DataFrame(rows, columns=cols).rename(columns=rename)
    df.attrs.update(headline=headline, config=config or {}, interrupted=interrupted)
    return df
