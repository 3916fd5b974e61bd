"""Cases whose setup raises (or calls sys.exit), beside ones that run."""
import sys

from tradeoff import benchmark, scenario


@benchmark
def ok_bench():
    return lambda: None


@benchmark
def bad_setup():
    raise ValueError("bad setup: table has no rows")


@scenario
def bad_scenario():
    raise ValueError("scenario exploded")


@scenario
def exits():
    sys.exit(0)


@scenario
def ok_scenario():
    return {"value": 3}
