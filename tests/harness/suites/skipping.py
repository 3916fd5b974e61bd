"""Cases that skip themselves (a missing peer) beside ones that run."""
from tradeoff import Skip, benchmark, scenario


@benchmark
def needs_peer():
    raise Skip("peer x not installed")


@scenario
def needs_peer_too():
    raise Skip("peer y not installed")


@scenario
def fine(seed):
    return {"value": 1, "seed": seed}
