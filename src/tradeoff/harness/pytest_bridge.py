"""Run registry benchmarks under pytest-benchmark: the same cases, no second list.

``bench/test_builtin.py`` uses it for the built-in suites; a project can do the
same for its own suite file::

    # bench/test_my_suite.py
    from tradeoff.harness.pytest_bridge import make_test
    test_my_suite = make_test("path/to/my_suite.py")

then ``pytest bench/ --benchmark-only`` times every case, and pytest-benchmark's
``--benchmark-save`` / ``--benchmark-compare`` work on them as usual. Setup runs
outside the timing; a case whose setup raises :class:`~tradeoff.Skip` is
skipped. pyperf (``tradeoff run``) remains the precise runner: pytest-benchmark
times in one process, so hash randomization and memory layout are not varied.
"""
from __future__ import annotations

from .errors import Skip
from .registry import KIND_BENCHMARK, collect, expand


def cases_of(suite: str, seed: int = 42):
    """The timed cases of a suite, as pytest params with readable ids."""
    import pytest

    cases = [c for c in expand(collect(suite)) if c.kind == KIND_BENCHMARK]
    return [pytest.param(c, id=f"{c.spec.suite}:{c.name}") for c in cases]


def make_test(*suites: str, seed: int = 42):
    """A pytest test function parametrized over every timed case of the suites."""
    import pytest

    params = [p for s in suites for p in cases_of(s, seed)]

    @pytest.mark.parametrize("case", params)
    def test_case(benchmark, case):
        try:
            fn = case.call(seed)
        except Skip as exc:
            pytest.skip(str(exc))
        inner = case.spec.inner_loops or 1
        benchmark.extra_info["inner_loops"] = inner
        benchmark.extra_info["params"] = dict(case.params)
        benchmark.extra_info["seed"] = seed
        # the callable does `inner` operations; pytest-benchmark reports per call
        benchmark(fn)

    return test_case
