"""Four timed benchmarks of pure-Python busy work, 20-50 us per call, for the gate tests.

The amount of work of each is multiplied by a factor read at setup time from
``factor.json`` next to this file (``{"bench_b": 1.3}``; missing file or name: 1.0), so a
test can make one benchmark slower without touching the code or the names.
"""
import json
from pathlib import Path

from tradeoff import benchmark


def _factor(name):
    path = Path(__file__).with_name("factor.json")
    try:
        factors = json.loads(path.read_text())
    except FileNotFoundError:
        return 1.0
    return float(factors.get(name, 1.0))


def _busy(name, n):
    n = int(round(n * _factor(name)))

    def work():
        s = 0
        for i in range(n):
            s += i * i % 7
        return s

    return work


@benchmark
def bench_a():
    return _busy("bench_a", 400)


@benchmark
def bench_b():
    return _busy("bench_b", 600)


@benchmark
def bench_c():
    return _busy("bench_c", 800)


@benchmark
def bench_d():
    return _busy("bench_d", 1000)
