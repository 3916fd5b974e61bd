"""Partitioning: which node holds a key, how evenly keys spread, and how many move
when nodes come and go.

Partitioners (all ``Partitioner`` subclasses with ``lookup(key) -> node name``,
``lookup_many(keys) -> node indexes``, ``add``, ``remove``, ``nodes``,
``weights``): ``ModN``, ``RangePartitioner``, ``HashRing`` (virtual nodes,
weights, ``compat="ketama"``, bounded loads with ``load_factor=``),
``JumpHash`` (and the function ``jump_hash``), ``Rendezvous``, ``Maglev`` and
``MultiProbe``. Keys are str (hashed as UTF-8 with XXH64), bytes or 64-bit
ints. ``spread`` and ``movement`` measure a partitioner on a set of keys.

>>> from tradeoff.ring import HashRing, JumpHash, jump_hash, movement
>>> ring = HashRing(["a", "b", "c"], vnodes=100)
>>> ring.lookup("user:42") in ("a", "b", "c")
True
>>> jump_hash(123456789, 10)      # as jump-consistent-hash and the paper's code give
7
>>> before = JumpHash(["a", "b", "c"]); after = JumpHash(["a", "b", "c", "d"])
>>> round(movement(before, after, list(range(100_000))).fraction, 2)   # 1/4 of keys move, all to d
0.25
"""
from ._base import Partitioner
from ._hashring import HashRing
from ._jump import JumpHash, jump_hash
from ._maglev import Maglev
from ._multiprobe import MultiProbe
from ._rendezvous import Rendezvous
from ._simple import ModN, RangePartitioner
from .metrics import Movement, Spread, movement, spread

__all__ = ["Partitioner", "ModN", "RangePartitioner", "HashRing", "JumpHash", "jump_hash",
           "Rendezvous", "Maglev", "MultiProbe", "spread", "movement", "Spread", "Movement"]
