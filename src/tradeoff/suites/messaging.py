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


# ------------------------------------------------------------------ compaction

def _worker_calls(default: int = 5, most: int = 8) -> int:
    """How many times this pyperf worker calls the timed function: (warmups + values)
    x loops, read off the command line pyperf gave it (one loop while it calibrates
    them: a call of ``compaction`` is longer than pyperf's minimum time). ``default``
    outside a pyperf worker (the pytest-benchmark bridge); at most ``most``."""
    argv = sys.argv

    def number(name: str, otherwise: int) -> int:
        for i, arg in enumerate(argv):
            if arg == name and i + 1 < len(argv):
                return int(argv[i + 1])
            if arg.startswith(name + "="):
                return int(arg.partition("=")[2])
        return otherwise

    if "--worker" not in argv:
        return default
    calls = number("--loops", 1) * (number("--warmups", 1) + number("--values", 3))
    return max(1, min(calls, most))


@lru_cache(maxsize=1)
def _keys() -> np.ndarray:
    """Record i's key: ``key-NNNNN`` with NNNNN = i % 10k."""
    return np.array([b"key-%05d" % k for k in range(KEYS)], dtype="S9")[np.arange(RECORDS) % KEYS]


def _dirty_log():
    """1M 100-byte records over 10k keys in 1 MiB segments of a compacted log, none
    compacted yet."""
    log = _log(partitions=1, segment_bytes=1 << 20, cleanup_policy="compact")
    log.append_many(_keys(), _values(), partition=0, timestamps=np.zeros(RECORDS, np.int64))
    return log


@benchmark(inner_loops=RECORDS, processes=6)
def compaction():
    """Compact 1M 100-byte records over 10k keys in 1 MiB segments (about 100 closed
    ones, every one dirty; the active segment is left as it is), per record appended.

    Compaction changes the log, so every call needs a log of its own: they are built
    before the timing, one per call this worker will make (:func:`_worker_calls`), and
    the compacted ones are kept to the end, so that freeing them is not timed either. A
    call beyond those builds its log inside the timing (only pytest-benchmark, which
    decides its rounds as it goes, gets there)."""
    fresh = [_dirty_log() for _ in range(_worker_calls())]
    spent = []

    def run():
        log = fresh.pop() if fresh else _dirty_log()
        log.compact(now=0)
        spent.append(log)
    return run


# ------------------------------------------------------------------ consumer groups

@benchmark(params={"assignor": list(ASSIGNORS)}, compare="assignor", inner_loops=2)
def rebalance(assignor):
    """A member joins a consumer group of 10 members over 100 partitions, then leaves
    (two rebalances a call, per rebalance: the assignor, the revocations and what is
    paused)."""
    from tradeoff.messaging import Group

    group = Group(_log(partitions=GROUP_PARTITIONS), "g", assignor=assignor)
    for i in range(GROUP_MEMBERS):
        group.join(f"member-{i:02d}")
    join, leave = group.join, group.leave

    def run():
        join("newcomer")
        leave("newcomer")
    return run


# ------------------------------------------------------------------ the queue

class _Clock:
    """A fake clock for :class:`tradeoff.messaging.Queue`: it returns ``now``, which
    only moves when it is set."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@benchmark(params={"queue": ["standard", "fifo"]}, compare="queue", inner_loops=QUEUE_MESSAGES)
def queue_cycle(queue):
    """1000 messages of 100 bytes through the queue in cycles of 10 ``send``, one
    ``receive(max_messages=10)`` and 10 ``delete`` of the received handles, per message.
    FIFO: the 10 messages of a cycle go to 10 message groups, each with a deduplication
    id of its own. The fake clock moves 10 minutes between calls, past the 5-minute
    deduplication interval, so the next call's ids are new again (forgetting the old ones
    is part of the timing). (The param is not called ``kind``: results files have a
    column of that name.)"""
    from tradeoff.messaging import Queue
    from tradeoff.messaging.queue import DEDUP_INTERVAL

    fifo = queue == "fifo"
    clock = _Clock()
    q = Queue(fifo=fifo, clock=clock)
    bodies = [b"%0*d!" % (VALUE - 1, i) for i in range(QUEUE_MESSAGES)]
    groups = [f"group-{i % FIFO_GROUPS}" if fifo else None for i in range(QUEUE_MESSAGES)]
    dedup = [f"dedup-{i}" if fifo else None for i in range(QUEUE_MESSAGES)]
    cycles = [list(zip(bodies[i:i + QUEUE_BATCH], groups[i:i + QUEUE_BATCH], dedup[i:i + QUEUE_BATCH]))
              for i in range(0, QUEUE_MESSAGES, QUEUE_BATCH)]
    send, receive, delete = q.send, q.receive, q.delete
    step = 2 * DEDUP_INTERVAL

    def run():
        clock.now += step
        for cycle in cycles:
            for body, group, dedup_id in cycle:
                send(body, group_id=group, dedup_id=dedup_id)
            for m in receive(max_messages=QUEUE_BATCH):
                delete(m.receipt_handle)

    for _ in range(2):      # the second call sends the same ids again: none is dropped
        run()
    stats = q.stats()
    if len(q) or stats["deleted"] != 2 * QUEUE_MESSAGES or stats["deduplicated"]:
        raise AssertionError(f"queue_cycle[queue={queue}] left {len(q)} messages, {stats}")
    return run


# ------------------------------------------------------------------ Redis Streams

#: this worker process's redis-server (it stops itself at exit), started on first use
_redis_server = None


def _redis():
    """A client of this process's redis-server, started now if it is not running; Skip
    if ``redis-server`` or the ``redis`` package is missing."""
    global _redis_server
    from tradeoff.harness.servers import RedisServer, missing_notice

    notice = missing_notice("redis-server")
    if notice:
        raise Skip(f"Redis Streams peer: {notice}")
    require("redis", "Redis Streams peer")
    if _redis_server is None:
        _redis_server = RedisServer(appendonly=False).start()
    return _redis_server.client()


def _xadd_all(client, stream: str, values: list) -> None:
    """XADD every value (field ``v``) to ``stream``, pipelined by PRODUCE_BATCH."""
    for i in range(0, len(values), PRODUCE_BATCH):
        pipe = client.pipeline(transaction=False)
        for v in values[i:i + PRODUCE_BATCH]:
            pipe.xadd(stream, {"v": v})
        pipe.execute()


@benchmark(params={"impl": ["tradeoff", "redis"]}, compare="impl", inner_loops=PEER_RECORDS,
           processes=6)
def produce(impl):
    """Append 100k 100-byte records in batches of 1000: ``append_many`` per batch into a
    new log, or a pipeline of 1000 ``XADD`` (no MULTI) per batch into a stream that the
    call first ``UNLINK`` s (freed in Redis's background thread)."""
    vals = _values()[:PEER_RECORDS]
    if impl == "tradeoff":
        batches = [vals[i:i + PRODUCE_BATCH] for i in range(0, PEER_RECORDS, PRODUCE_BATCH)]

        def run():
            append = _log(partitions=1).append_many
            for batch in batches:
                append(None, batch, partition=0)
        return run
    client = _redis()
    values = vals.tolist()

    def run():
        client.unlink("produce")
        _xadd_all(client, "produce", values)

    run()
    if client.xlen("produce") != PEER_RECORDS:
        raise AssertionError(f"produce[impl=redis]: the stream holds {client.xlen('produce')} entries")
    return run


@benchmark(params={"impl": ["tradeoff", "redis"]}, compare="impl", inner_loops=PEER_RECORDS,
           processes=6)
def consume(impl):
    """Read a whole 100k-record partition (or stream) through a consumer group, in
    batches of 5000, each acknowledged: ``Group.poll(max_records=5000)`` and ``commit``,
    or ``XREADGROUP COUNT 5000`` and ``XACK`` of its ids. Each call first moves the
    group back to the start (``seek_to_beginning``; ``XGROUP SETID 0``)."""
    vals = _values()[:PEER_RECORDS]
    if impl == "tradeoff":
        from tradeoff.messaging import Group

        log = _log(partitions=1)
        log.append_many(None, vals, partition=0, timestamps=np.zeros(PEER_RECORDS, np.int64))
        group = Group(log, "g", auto_offset_reset="earliest")
        group.join("c")
        poll, commit = group.poll, group.commit

        def run():
            group.seek_to_beginning()
            n = 0
            while True:
                got = poll("c", max_records=CONSUME_BATCH)
                if not len(got):
                    return n
                n += len(got)
                commit("c")
    else:
        client = _redis()
        client.unlink("consume")
        _xadd_all(client, "consume", vals.tolist())
        client.xgroup_create("consume", "g", id="0")

        def run():
            client.xgroup_setid("consume", "g", id="0")
            n = 0
            while True:
                got = client.xreadgroup("g", "c", {"consume": ">"}, count=CONSUME_BATCH)
                if not got or not got[0][1]:
                    return n
                ids = [entry_id for entry_id, _ in got[0][1]]
                client.xack("consume", "g", *ids)
                n += len(ids)

    n = run()
    if n != PEER_RECORDS:
        raise AssertionError(f"consume[impl={impl}] read {n} records, not {PEER_RECORDS}")
    return run


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


@scenario(params={"semantics": list(SEMANTICS)}, compare="semantics")
def delivery(semantics):
    """Delivery semantics under faults: 1M messages through the simulated log at the
    default settings but 0.1% of consumers crashing after a message and 0.1% of
    acknowledgements lost (the same faults for every semantics)."""
    from tradeoff.messaging.delivery import compare

    row = compare([semantics], messages=RECORDS, crash=0.001, ack_loss=0.001).iloc[0]
    out = {k: row[k] for k in ("lost", "duplicated", "extra_processings", "p50_ms", "p99_ms",
                                "throughput", "wall_seconds")}
    out["invariant"] = row["invariant"]
    return out


@scenario(params={"broker": list(BROKERS)}, compare="broker")
def spike(broker):
    """A traffic spike (3x the 100 messages/s for 30 s, 4 consumers of 30 ms a
    message, 10 minutes) into the log (12 partitions, range-assigned) or the queue:
    the peak backlog, the seconds from the end of the spike until it drained, and the
    end-to-end latency."""
    from tradeoff.messaging.backlog import simulate

    r = simulate(broker, profile="spike")
    return {"peak_backlog": r.peak_backlog, "drain_time_s": r.drain_time,
            "p50_ms": 1e3 * r.latency_p50, "p99_ms": 1e3 * r.latency_p99,
            "max_ms": 1e3 * r.latency_max, "served": r.served}


@scenario(params={"assignor": list(ASSIGNORS)}, compare="assignor")
def rebalance_moves(assignor):
    """Members 1 to 8 join a group over 12 partitions one at a time: the partitions
    that change owner (in all, and the most in one join) and those paused by the
    rebalances, against the eager protocol's count for the same joins (every partition
    owned before the join)."""
    from tradeoff.messaging import Group

    group = Group(_log(partitions=12), "g", assignor=assignor)
    moved, paused, eager, rounds = [], [], [], 0
    for i in range(1, 9):
        owned = sum(len(parts) for parts in group.assignment().values())
        r = group.join(f"member-{i}")
        moved.append(r.moved)
        paused.append(len(r.paused))
        eager.append(owned)
        rounds += r.rounds
    return {"moved_total": sum(moved), "moved_max": max(moved), "paused_total": sum(paused),
            "paused_max": max(paused), "paused_if_eager": sum(eager), "rounds": rounds,
            "protocol": group.protocol}


@lru_cache(maxsize=1)
def _spread() -> object:
    """1M 100-byte keyless records over 12 partitions."""
    log = _log(partitions=12)
    log.append_many(None, _values(), timestamps=np.zeros(RECORDS, np.int64))
    return log


@scenario(params={"groups": [1, 10, 100]}, compare="groups")
def fanout_memory(groups):
    """The memory (tracemalloc) that ``groups`` consumer groups add to one log of 1M
    100-byte records over 12 partitions, each with one member that polled 500 records,
    moved to the end and committed there: the groups hold offsets, not records."""
    from tradeoff.messaging import Group

    def consumed(name):
        group = Group(log, name, auto_offset_reset="earliest")
        group.join("consumer")
        group.poll("consumer", max_records=500)
        group.seek_to_end()
        group.commit("consumer")
        return group

    log = _spread()
    before = log.nbytes
    consumed("warm-up")      # what the first group would allocate once for all (caches)
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        held = [consumed(f"group-{i}") for i in range(groups)]
        gc.collect()
        added = tracemalloc.get_traced_memory()[0] - start
    finally:
        if not tracing:
            tracemalloc.stop()
    if any(sum(group.lag().values()) for group in held):
        raise AssertionError("fanout_memory: a group did not commit at the end")
    return {"bytes": added, "bytes_per_group": added / groups,
            "bytes_per_group_partition": added / groups / log.partitions,
            "log_bytes": log.nbytes, "log_bytes_added": log.nbytes - before,
            "records": len(log)}
