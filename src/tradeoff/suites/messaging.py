"""Messaging: the partitioned log (Kafka's model), with ``collections.deque`` as the
floor of an in-memory FIFO that keeps no offsets.

Timed (pyperf, per record):
- ``append``: one ``Log.append(None, value, partition, timestamp)`` from Python, 100-byte
  values, against ``deque.append``.
- ``append_many``: 1M 100-byte values (a numpy ``S100`` array) in one call: into one
  partition of a new log (``cold``: every page of the arenas is touched for the first
  time), keyless over 8 partitions with the sticky partitioner, and into a log whose
  retention keeps 16 MiB, so that freed segments' memory is reused (``steady``: a
  log that has been running); against ``deque.extend`` of the same values as a list.
- ``fetch``: a whole 1M-record partition in batches of 5000; ``fetch_one``: one record
  at a random offset (the segment and index lookups plus building the batch);
  ``offset_for_time``: the time index.

Scenarios (deterministic):
- ``memory``: bytes held per 100-byte record after 1M records, appended in one batch
  or one at a time.
"""
from __future__ import annotations

from collections import deque
from functools import lru_cache

import numpy as np

from tradeoff import benchmark, scenario

RECORDS = 1_000_000
VALUE = 100
SINGLE = 100_000


@lru_cache(maxsize=1)
def _values() -> np.ndarray:
    return np.array([b"%0*d!" % (VALUE - 1, i) for i in range(RECORDS)], dtype=f"S{VALUE}")


def _log(**kw):
    from tradeoff.messaging import Log
    return Log(**kw)


@lru_cache(maxsize=1)
def _full() -> object:
    log = _log(partitions=1)
    vals = _values()
    log.append_many(None, vals, partition=0, timestamps=np.arange(RECORDS, dtype=np.int64))
    return log


@benchmark(params={"impl": ["tradeoff", "deque"]}, compare="impl", inner_loops=SINGLE)
def append(impl):
    """Append 100k 100-byte records one call at a time (the log: partition and
    timestamp given; a fresh log per run)."""
    value = b"x" * VALUE
    if impl == "deque":
        def run():
            d = deque()
            a = d.append
            for _ in range(SINGLE):
                a(value)
        return run

    def run():
        a = _log(partitions=1).append
        for i in range(SINGLE):
            a(None, value, 0, 5)
    return run


@benchmark(params={"impl": ["cold", "sticky8", "steady", "deque"]}, compare="impl",
           inner_loops=RECORDS, processes=6)
def append_many(impl):
    """Append 1M 100-byte values in one call."""
    vals = _values()
    if impl == "deque":
        items = vals.tolist()
        return lambda: deque().extend(items)
    if impl == "cold":
        return lambda: _log(partitions=1).append_many(None, vals, partition=0)
    if impl == "sticky8":
        return lambda: _log(partitions=8).append_many(None, vals)
    log = _log(partitions=1, segment_bytes=8 << 20, retention_bytes=16 << 20)
    stamps = np.zeros(RECORDS, dtype=np.int64)
    log.append_many(None, vals, partition=0, timestamps=stamps)      # warm up
    return lambda: log.append_many(None, vals, partition=0, timestamps=stamps)


@benchmark(inner_loops=RECORDS)
def fetch():
    """Fetch a whole 1M-record partition in batches of 5000."""
    log = _full()

    def run():
        off = 0
        while True:
            b = log.fetch(0, off, max_records=5000, max_bytes=1 << 30)
            if not len(b):
                return
            off = b.next_offset
    return run


@benchmark(params={"by": ["offset", "time"]}, inner_loops=10_000)
def lookup(by, seed):
    """10k lookups at random offsets in a 1M-record partition: ``fetch`` of one
    record, or ``offset_for_time`` (record i has timestamp i)."""
    log = _full()
    targets = np.random.default_rng(seed).integers(0, RECORDS, 10_000).tolist()
    f = log.fetch if by == "offset" else log.offset_for_time
    if by == "offset":
        return lambda: [f(0, t, 1) for t in targets]
    return lambda: [f(0, t) for t in targets]


@scenario(params={"appended": ["batch", "one_by_one"]}, compare="appended")
def memory(appended):
    """Bytes held per 100-byte record after 1M records (no Python object per record:
    24 bytes of bookkeeping, the bytes, the index and the arena's unused room)."""
    vals = _values()
    log = _log(partitions=1)
    if appended == "batch":
        log.append_many(None, vals, partition=0, timestamps=np.zeros(RECORDS, np.int64))
    else:
        a = log.append
        for v in vals.tolist():
            a(None, v, 0, 0)
    return {"bytes_per_record": log.nbytes / len(log), "payload": VALUE,
            "records": len(log)}
