"""A finished scenario, then a timed benchmark slow enough to be interrupted in mid-run
(half a second per call: a worker process with 5 values lives for about 3 s)."""
import time

from tradeoff import benchmark, scenario


@scenario
def first():
    return {"value": 1}


@benchmark
def slow():
    return lambda: time.sleep(0.5)


@scenario
def after():
    return {"value": 2}
