"""Partitioners: rings, jump hash, rendezvous, Maglev and multi-probe, with
uhashring and jump-consistent-hash side by side.

Timed (pyperf, per key):
- ``lookup_str``: ``lookup`` of a str key on a 100-node ring with 160 vnodes,
  against uhashring's ``get_node``; in each library's default mode and in
  ketama mode (where both place keys exactly as libketama does).
- ``lookup_many``: every partitioner on 1M random int64 keys over 100 nodes,
  one ``lookup_many`` call (a loop without the GIL).
- ``jump``: jump hash of 1M keys into 100 buckets: our ``lookup_many``, and
  jump-consistent-hash's C function called per key from Python.
- ``build``: a 1000-node ring with 160 vnodes (and a ketama ring), against
  uhashring building the same; ``build_all``: every partitioner at 1000 nodes.

Scenarios (deterministic):
- ``ring_spread``: keys per node on a 100-node ring with 1, 10, 100 and 1000
  vnodes (the classic ~100%, 31%, 9.9%, 3.1% stdev/mean).
- ``spread``: every partitioner at 100 nodes; ``maglev_balance`` the lookup
  table's entries per node; ``multiprobe_probes`` peak-to-average against the
  number of probes.
- ``movement``: the fraction of keys that move when an 11th or a 101st node
  joins, against the minimum 1/(n+1).
- ``memory``: bytes each partitioner holds for 100 and 1000 nodes.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from tradeoff import benchmark, scenario

from . import _peers

NODES = 100
VNODES = 160
KEYS = 1_000_000
STR_KEYS = 10_000

def _all() -> list[str]:
    from tradeoff.ring.experiment import PARTITIONERS      # the ring catalogue
    return PARTITIONERS.names


ALL = _all()


def _ex():
    from tradeoff.ring import experiment
    return experiment


@lru_cache(maxsize=2)
def _int_keys(seed: int) -> np.ndarray:
    return _ex().make_keys(KEYS, "int", seed)


def _str_keys() -> list[str]:
    return [f"user:{i}" for i in range(STR_KEYS)]


@benchmark(params={"mode": ["default", "ketama"], "impl": ["tradeoff", "uhashring"]},
           compare="impl", inner_loops=STR_KEYS)
def lookup_str(mode, impl):
    """``lookup(key)`` of 10k distinct str keys, 100 nodes (160 vnodes in default mode;
    ketama mode: 160 points per node of equal weight, MD5)."""
    names = _ex().node_names(NODES)
    if impl == "tradeoff":
        ring = _ex().make("ketama" if mode == "ketama" else f"ring:vnodes={VNODES}", names)
        f = ring.lookup
    else:
        f = _peers.uhashring_ring(names, mode, VNODES).get_node
    keys = _str_keys()

    def run():
        for k in keys:
            f(k)
    return run


@benchmark(params={"partitioner": ALL}, inner_loops=KEYS)
def lookup_many(partitioner, seed):
    """``lookup_many`` of 1M random int64 keys over 100 nodes."""
    part = _ex().make(partitioner, NODES)
    keys = _int_keys(seed)
    return lambda: part.lookup_many(keys)


@benchmark(params={"impl": ["tradeoff", "jump_c_loop"]}, compare="impl", inner_loops=KEYS)
def jump(impl, seed):
    """Jump hash of 1M keys into 100 buckets: ``JumpHash.lookup_many`` on the array,
    or jump-consistent-hash's C ``hash(key, n)`` called per key (keys as Python ints)."""
    keys = _int_keys(seed)
    if impl == "tradeoff":
        part = _ex().make("jump", NODES)
        return lambda: part.lookup_many(keys)
    h = _peers.jump_hash_function()
    ukeys = keys.view(np.uint64).tolist()     # the C function takes unsigned 64-bit keys
    return lambda: [h(k, NODES) for k in ukeys]


@benchmark(params={"mode": ["default", "ketama"], "impl": ["tradeoff", "uhashring"]},
           compare="impl", processes=6)
def build(mode, impl):
    """Build a ring of 1000 nodes (160 vnodes; ketama: 160 points per node)."""
    names = _ex().node_names(1000)
    if impl == "tradeoff":
        spec = "ketama" if mode == "ketama" else f"ring:vnodes={VNODES}"
        make = _ex().make
        return lambda: make(spec, names)
    _peers.require("uhashring", "uhashring build")
    return lambda: _peers.uhashring_ring(names, mode, VNODES)


@benchmark(params={"partitioner": ALL}, processes=6)
def build_all(partitioner):
    """Build each partitioner over 1000 nodes."""
    names = _ex().node_names(1000)
    make = _ex().make
    return lambda: make(partitioner, names)


# ----------------------------------------------------------------- scenarios

def _spread_row(part, keys):
    from tradeoff.ring.metrics import spread

    s = spread(part, keys)
    return {"cv": s.cv, "peak_to_avg": s.peak_to_average, "min_to_avg": s.min_to_average}


@scenario(params={"vnodes": [1, 10, 100, 1000]}, compare="vnodes")
def ring_spread(vnodes, seed):
    """Keys per node (1M random keys) on a 100-node ring: stdev/mean falls as
    1/sqrt(vnodes) (about 100%, 31%, 9.9%, 3.1%)."""
    part = _ex().make(f"ring:vnodes={vnodes}", NODES)
    return {**_spread_row(part, _int_keys(seed)), "expected_cv": 1 / np.sqrt(vnodes)}


@scenario(params={"partitioner": ALL}, compare="partitioner")
def spread(partitioner, seed):
    """Keys per node (1M random keys) over 100 nodes, for every partitioner."""
    return _spread_row(_ex().make(partitioner, NODES), _int_keys(seed))


@scenario(params={"nodes": [10, 100], "partitioner": ALL}, compare="partitioner")
def movement(nodes, partitioner, seed):
    """Keys (1M) that change node when node n+1 joins n nodes, beside the share a
    perfectly balanced partitioner moves, 1/(n+1) (an expectation, not a bound: a
    ring whose new node gets a small arc moves less): mod-N moves almost all, jump
    and rendezvous the new node's share, Maglev a little more."""
    df = _ex().compare([_ex().parse_partitioners(partitioner)[0]], nodes=nodes,
                       keys=_int_keys(seed), add=1)
    row = df.iloc[0]
    return {"moved": float(row["moved"]), "expected": float(row["expected"]),
            "moved_over_expected": float(row["moved_over_expected"])}


@scenario(params={"nodes": [100, 1000], "table_size": [65537, 655373]})
def maglev_balance(nodes, table_size):
    """Entries per node in Maglev's lookup table (peak and min over the mean)."""
    part = _ex().make(f"maglev:table_size={table_size}", nodes)
    counts = np.bincount(np.asarray(part.table), minlength=nodes)
    mean = counts.mean()
    return {"peak_to_avg": counts.max() / mean, "min_to_avg": counts.min() / mean,
            "max_over_min": counts.max() / counts.min()}


@scenario(params={"probes": [1, 5, 21, 51]}, compare="probes")
def multiprobe_probes(probes, seed):
    """Peak-to-average of multi-probe hashing (100 nodes) against the probe count
    (the paper: 1.05 with 21 probes)."""
    return _spread_row(_ex().make(f"multiprobe:probes={probes}", NODES), _int_keys(seed))


@scenario(params={"nodes": [100, 1000], "partitioner": ALL}, compare="partitioner")
def memory(nodes, partitioner):
    """Bytes a partitioner holds for its lookup structure."""
    part = _ex().make(partitioner, nodes)
    return {"bytes": int(part.nbytes), "bytes_per_node": part.nbytes / nodes}
