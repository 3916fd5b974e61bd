"""A tiny suite for the harness tests: two timed benchmarks and two seeded scenarios.

``TINY_BONUS`` (an int in the environment, default 0) is added to the scenarios'
``score``, so a test can change a metric between two runs (scenarios run in-process).
"""
import os

from tradeoff import benchmark, scenario


@benchmark(params={"n": [10, 20]})
def summing(n):
    data = list(range(n))
    return lambda: sum(data)


@scenario(params={"k": [1, 2]})
def metrics(k, seed):
    return {"score": 2 * k + int(os.environ.get("TINY_BONUS", "0")), "seed_seen": seed, "label": f"k{k}"}
