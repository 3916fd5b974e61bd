"""Cases whose params must be positive, for the tests of a ``-p`` override that no case
accepts: ``fill`` and ``occupancy`` name the bad value in their error, ``probe`` and
``assoc`` do not."""
from tradeoff import benchmark, scenario


def _check(maxsize):
    if maxsize <= 0:
        raise ValueError(f"maxsize must be positive, got {maxsize}")


@benchmark(params={"maxsize": [8, 64]})
def fill(maxsize):
    _check(maxsize)
    data = list(range(maxsize))
    return lambda: sum(data)


@scenario(params={"maxsize": [8]})
def occupancy(maxsize):
    _check(maxsize)
    return {"slots": maxsize}


@benchmark(params={"ways": [2]})
def probe(ways):
    if ways < 1:
        raise ValueError("too few ways")
    return lambda: None


@scenario(params={"ways": [2, 4]})
def assoc(ways):
    if ways < 1:
        raise ValueError("too few ways")
    return {"sets": 64 // ways}
