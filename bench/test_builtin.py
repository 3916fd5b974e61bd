"""pytest-benchmark over every timed case of the built-in suites.

    pytest bench/ --benchmark-only                 # time them
    pytest bench/ --benchmark-only -k lru_get      # a subset
    pytest bench/ --benchmark-only --benchmark-save=base
    pytest bench/ --benchmark-only --benchmark-compare=0001 --benchmark-compare-fail=mean:5%

Times are per call; a call performs ``extra_info["inner_loops"]`` operations.
"""
from tradeoff.harness.pytest_bridge import make_test
from tradeoff.harness.registry import builtin_suites

test_builtin = make_test(*builtin_suites())
