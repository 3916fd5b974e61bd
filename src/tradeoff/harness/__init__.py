"""The benchmark harness: registry, pyperf worker, runner, results, stats, compare, reports."""
