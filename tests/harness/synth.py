"""Synthetic results files built with the real pyperf API, for the harness tests.

Noise model of a timed benchmark: each run (worker process) gets its own lognormal offset
(``run_sd``, a few percent: hash seed, memory layout, the core it landed on), and each
value within a run its own lognormal noise (``value_sd``); with ``spike_p`` a value is
multiplied by ``spike`` (an interrupt or a neighbour's burst on a shared core).
"""
from __future__ import annotations

import numpy as np
import pyperf

from tradeoff.harness import results


def noisy_runs(rng, mean, n_runs=20, n_values=3, run_sd=0.03, value_sd=0.02,
               spike_p=0.02, spike=1.5):
    """``n_runs`` lists of ``n_values`` timings around ``mean`` seconds."""
    runs = []
    for _ in range(n_runs):
        offset = rng.lognormal(0.0, run_sd)
        vals = mean * offset * rng.lognormal(0.0, value_sd, n_values)
        vals = np.where(rng.random(n_values) < spike_p, vals * spike, vals)
        runs.append([float(v) for v in vals])
    return runs


def timed(func, params, runs, *, compare=None, suite="synth", seed=None, unit="second"):
    """A timed benchmark (``tradeoff_kind = "benchmark"``) from a list of runs."""
    md = {
        "name": results.format_name(func, params),
        "unit": unit,
        "loops": 1,
        "tradeoff_kind": results.KIND_BENCHMARK,
        "tradeoff_func": func,
        "tradeoff_suite": suite,
        "tradeoff_params": results.dumps_json(params),
    }
    if compare:
        md["tradeoff_compare"] = compare
    if seed is not None:
        md["tradeoff_seed"] = seed
    return pyperf.Benchmark(
        [pyperf.Run(list(r), metadata=dict(md), collect_metadata=False) for r in runs])


def scenario(func, params, metrics, *, compare=None, suite="synth", seed=1, wall=0.25):
    """A scenario: one value (the wall time of the computation) and its metrics."""
    md = {
        "name": results.format_name(func, params),
        "unit": "second",
        "loops": 1,
        "tradeoff_kind": results.KIND_SCENARIO,
        "tradeoff_func": func,
        "tradeoff_suite": suite,
        "tradeoff_params": results.dumps_json(params),
        "tradeoff_metrics": results.dumps_json(metrics),
        "tradeoff_seed": seed,
    }
    if compare:
        md["tradeoff_compare"] = compare
    return pyperf.Benchmark([pyperf.Run([wall], metadata=md, collect_metadata=False)])


def write(path, benchmarks):
    """Write the benchmarks as one results file; returns the path."""
    results.dump_suite(pyperf.BenchmarkSuite(list(benchmarks)), path)
    return path


def timed_suite(rng, means, factors=None, **noise):
    """Timed benchmarks ``bench[i=k]`` with the given true means, each times ``factors[k]``."""
    factors = factors or {}
    return [timed("bench", {"i": k}, noisy_runs(rng, m * factors.get(k, 1.0), **noise))
            for k, m in enumerate(means)]
