"""A scenario that is "interrupted" (raises KeyboardInterrupt) after two cases finished."""
from tradeoff import benchmark, scenario


@scenario
def first():
    return {"value": 1}


@benchmark
def second():
    return lambda: None


@scenario
def ctrl_c():
    raise KeyboardInterrupt


@scenario
def never_reached():
    return {"value": 4}
