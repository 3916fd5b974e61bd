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
- ``compaction``: ``Log.compact()`` of 1M 100-byte records over 10k keys in 1 MiB
  segments (every closed segment dirty); the log is built before the timing.
- ``rebalance``: a join and a leave of a 100-partition consumer group of 10 members,
  per rebalance, for each assignor.
- ``queue_cycle``: the SQS-style queue, standard and FIFO (10 message groups,
  explicit deduplication ids), in cycles of 10 ``send``, one ``receive(max_messages=10)``
  and 10 ``delete``, per message, on a fake clock.
- ``produce`` and ``consume``: the same work against Redis Streams on a unix socket
  (a ``redis-server`` per worker process, no persistence), per record: 100k 100-byte
  records in batches of 1000 (``append_many`` per batch; a pipeline of 1000 ``XADD``
  without MULTI), and a whole 100k-record partition or stream read in batches of 5000
  through a consumer group (``Group.poll`` and ``commit``; ``XREADGROUP COUNT 5000``
  and ``XACK``). 100k, not 1M: Redis takes about 11 us a record from Python. Skipped,
  with a notice, where ``redis-server`` or the ``redis`` package is missing.

Scenarios (deterministic, but for the wall-clock seconds they report):
- ``memory``: bytes held per 100-byte record after 1M records, appended in one batch
  or one at a time.
- ``delivery``: :func:`tradeoff.messaging.delivery.compare` of 1M messages at the
  default settings but ``crash=0.001`` and ``ack_loss=0.001``, one row per semantics:
  messages lost and duplicated, extra processings, latency, throughput.
- ``spike``: :func:`tradeoff.messaging.backlog.simulate` of a traffic spike on the log
  and on the queue: the peak backlog, the time to drain it, the latency.
- ``rebalance_moves``: members 1 to 8 join a 12-partition group one by one: the
  partitions that change owner (in all, and the most in one join) and those paused
  (the cooperative protocol pauses only those that move; eager ones pause all).
- ``fanout_memory``: the memory 1, 10 and 100 consumer groups add to one 1M-record
  log (a few integers per partition each; the log itself is shared).
"""
from __future__ import annotations

import gc
import sys
import tracemalloc
from collections import deque
from functools import lru_cache

import numpy as np

from tradeoff import benchmark, scenario
from tradeoff.harness.errors import Skip
from tradeoff.messaging.assignors import ASSIGNORS
from tradeoff.messaging.backlog import BROKERS
from tradeoff.messaging.delivery import SEMANTICS
from tradeoff.suites._peers import require

RECORDS = 1_000_000
VALUE = 100
SINGLE = 100_000
KEYS = 10_000                   # compaction: distinct keys among the RECORDS records
PEER_RECORDS = 100_000          # produce/consume: records per call
PRODUCE_BATCH = 1000            # records per append_many call or Redis pipeline
CONSUME_BATCH = 5000            # records per poll or XREADGROUP
GROUP_PARTITIONS = 100          # rebalance: partitions of the timed group
GROUP_MEMBERS = 10              # rebalance: its members before the timed join
QUEUE_BATCH = 10                # queue_cycle: sends, then one receive of this many
QUEUE_MESSAGES = 1000           # queue_cycle: messages per call
FIFO_GROUPS = 10                # queue_cycle: message groups of the FIFO queue


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
