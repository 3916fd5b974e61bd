"""The delivery scenarios of :mod:`.delivery` run step by step against real brokers:
the package's own :class:`~tradeoff.messaging.Log` with a consumer
:class:`~tradeoff.messaging.Group`, its :class:`~tradeoff.messaging.Queue`, and
Redis Streams (a real ``redis-server``, through the ``redis`` client).

A driver makes the same fault decisions as the simulation (:func:`.delivery.decide`,
by position: the producer's attempt at a message, a consumer's n-th processed
message, its n-th batch), follows the same consumer rules (the log's partitions in
turn, a batch of ``batch`` records each; the queue's messages in order of becoming
visible), and records every message's effects in the broker's own store where it
has one. It keeps no time, except the queue's visibility, which it moves on a fake
clock as the simulation's does. Its per-message effect counts must equal the
simulation's exactly (``tests/messaging/test_delivery.py`` checks this), which is
what ties the fast simulated figures to real brokers.

The producer sends every message first, then the consumers fetch the batches the
simulation fetched (how many records, from which partition, in which order: its
schedule, which depends on timing); what those batches hold, and what a crash
undoes, is up to the broker. The queue driver runs one consumer, with the
simulation's timings at zero except the restart time and the visibility timeout,
where the order of becoming visible decides the batches.

Redis Streams, mapped onto the log's semantics: one stream per partition
(``part:<p>``), one consumer group; a batch is ``XREADGROUP COUNT batch`` (with
``NOACK`` for at-most-once), or, after a crash, ``XAUTOCLAIM`` of the crashed
batch by the consumer's next incarnation (min-idle time 0: the time a real
consumer would wait has passed); the commit is ``XACK``; the idempotent producer is
``XADD`` with an explicit id ``0-<sequence>`` that Redis refuses to repeat; the
transaction is ``MULTI``/``EXEC`` of the effects and the ``XACK``; the idempotent
consumer is a Lua script that adds the message to a set of processed ids and counts
its effect in one step; a delivery above ``max_deliveries`` (``XPENDING``'s count)
goes to the stream ``dead`` instead; a broker restart is a real restart of the
server (append-only file, fsync always: nothing acknowledged is lost).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .delivery import MAX_ATTEMPTS, OUTCOMES, STREAMS, _settings, decide, partition_of

__all__ = ["replay", "LogAdapter", "RedisAdapter", "replay_queue"]


def _outcome(s: dict, k: int, attempt: int) -> int:
    if attempt >= MAX_ATTEMPTS - 1:
        return OUTCOMES["ok"]
    u = decide(s["seed"], STREAMS["produce"], k, attempt)
    if u < s["request_loss"]:
        return OUTCOMES["request-lost"]
    if u < s["request_loss"] + s["ack_loss"]:
        return OUTCOMES["ack-lost"]
    if u < s["request_loss"] + s["ack_loss"] + s["broker_restart"]:
        return OUTCOMES["restart"]
    return OUTCOMES["ok"]


def _produce(s: dict, semantics: str, send: Callable[[int, int, int, int], None],
             restart: Callable[[], None]) -> None:
    """Send every message with the simulation's outcomes: ``send(k, partition,
    sequence, attempt)`` for each attempt that reaches the broker."""
    P = s["partitions"]
    next_seq = [0] * P
    for k in range(s["messages"]):
        p = partition_of(s["seed"], k, P)
        seq = next_seq[p]
        next_seq[p] += 1
        attempt = 0
        while True:
            out = _outcome(s, k, attempt)
            if out != OUTCOMES["request-lost"]:
                send(k, p, seq, attempt)
            if out == OUTCOMES["restart"]:
                restart()
            if semantics == "at-most-once" or out == OUTCOMES["ok"]:
                break
            attempt += 1


def _ranges(P: int, C: int) -> list[range]:
    """Kafka's range assignor: contiguous blocks, the first P % C one larger."""
    out, lo = [], 0
    for c in range(C):
        hi = lo + P // C + (1 if c < P % C else 0)
        out.append(range(lo, hi))
        lo = hi
    return out


class LogAdapter:
    """The package's :class:`~tradeoff.messaging.Log` and :class:`~tradeoff.messaging.Group`
    as the broker. Kafka keeps no delivery counts and the log has no producer ids, so
    the adapter counts deliveries and keeps the idempotent producer's last sequence
    number per partition itself, as a Kafka broker does."""

    def __init__(self, partitions: int, consumers: int):
        from .groups import Group
        from ._log import Log

        self.log = Log(partitions)
        self.group = Group(self.log, "delivery", assignor="range", auto_offset_reset="earliest")
        for c in range(consumers):
            self.group.join(f"c{c}")
        self.last_seq = [-1] * partitions
        self.delivered: dict[tuple[int, int], int] = {}
        self.counts: np.ndarray | None = None
        self.dead: set[int] = set()

    def begin(self, messages: int) -> None:
        self.counts = np.zeros(messages, np.int32)

    def assignment(self) -> dict[int, list[int]]:
        return {int(m[1:]): parts for m, parts in self.group.assignment().items()}

    def send(self, k: int, p: int, seq: int | None) -> bool:
        if seq is not None:
            if seq <= self.last_seq[p]:
                return False
            self.last_seq[p] = seq
        self.log.append(None, b"%d" % k, partition=p)
        return True

    def restart(self) -> None:
        pass

    def fetch(self, c: int, p: int, n: int) -> list[tuple[int, int, object]]:
        start = self.group.committed(p) or 0
        batch = self.log.fetch(p, start, max_records=n)
        out = []
        for off, value in zip(batch.offsets.tolist(), batch.values):
            d = self.delivered.get((p, off), 0) + 1
            self.delivered[(p, off)] = d
            out.append((int(value), d, off))
        return out

    def dead_letter(self, c: int, p: int, entry) -> None:
        self.dead.add(entry[0])

    def commit(self, c: int, p: int, batch) -> None:
        self.group.commit(f"c{c}", {p: batch[-1][2] + 1})

    def crash(self, c: int, p: int) -> None:
        pass        # the next fetch starts from the committed offset

    def effect(self, m: int) -> None:
        self.counts[m] += 1

    def effect_once(self, m: int) -> bool:
        if self.counts[m]:
            return False
        self.counts[m] = 1
        return True

    def commit_with_effects(self, c: int, p: int, batch, effects: list[int]) -> None:
        for m in effects:
            self.counts[m] += 1
        self.commit(c, p, batch)

    def results(self, messages: int) -> tuple[np.ndarray, np.ndarray]:
        dead = np.zeros(messages, bool)
        dead[list(self.dead)] = True
        return self.counts.copy(), dead


_EFFECT_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
end
return 0
"""


class RedisAdapter:
    """Redis Streams as the broker (see the module's notes); ``server`` is a running
    :class:`~tradeoff.harness.servers.RedisServer` (restarted for broker restarts)."""

    GROUP = "delivery"

    def __init__(self, server, partitions: int, consumers: int):
        self.server = server
        self.P = partitions
        self.incarnation = [0] * consumers
        self._connect()
        self.r.flushall()
        for p in range(partitions):
            self.r.xgroup_create(self._stream(p), self.GROUP, id="0", mkstream=True)
        self.crashed: set[tuple[int, int]] = set()

    def _connect(self) -> None:
        self.r = self.server.client()
        self.once = self.r.register_script(_EFFECT_ONCE)

    @staticmethod
    def _stream(p: int) -> str:
        return f"part:{p}"

    def _name(self, c: int) -> str:
        return f"c{c}.{self.incarnation[c]}"

    def begin(self, messages: int) -> None:
        self.messages = messages

    def assignment(self) -> dict[int, list[int]]:
        return {c: list(r) for c, r in enumerate(_ranges(self.P, len(self.incarnation)))}

    def send(self, k: int, p: int, seq: int | None) -> bool:
        import redis

        if seq is None:
            self.r.xadd(self._stream(p), {"m": k})
        else:
            try:
                self.r.xadd(self._stream(p), {"m": k}, id=f"0-{seq + 1}")
            except redis.ResponseError as exc:
                if "equal or smaller" not in str(exc):
                    raise
                return False            # a retried duplicate: refused
        return True

    def restart(self) -> None:
        self.server.restart()
        self._connect()

    def fetch(self, c: int, p: int, n: int):
        s = self._stream(p)
        if (c, p) in self.crashed:
            self.crashed.discard((c, p))
            _, entries, _ = self.r.xautoclaim(s, self.GROUP, self._name(c), 0, "0-0", count=n)
            if entries:
                counts = {e["message_id"]: e["times_delivered"] for e in
                          self.r.xpending_range(s, self.GROUP, min=entries[0][0],
                                                max=entries[-1][0], count=n)}
                got = [(int(f[b"m"]), counts[i], i) for i, f in entries]
                # the batch again, and as many new records as the simulation took besides
                return got + (self._read(c, s, n - len(got), noack=False) if len(got) < n else [])
        return self._read(c, s, n, noack=self.noack)

    def _read(self, c: int, s: str, n: int, noack: bool):
        reply = self.r.xreadgroup(self.GROUP, self._name(c), {s: ">"}, count=n, noack=noack)
        if not reply:
            return []
        return [(int(f[b"m"]), 1, i) for i, f in reply[0][1]]

    def dead_letter(self, c: int, p: int, entry) -> None:
        # acknowledged with its batch, as the log commits a dead letter's offset
        self.r.xadd("dead", {"m": entry[0], "from": self._stream(p)})

    def commit(self, c: int, p: int, batch) -> None:
        if not self.noack:
            self.r.xack(self._stream(p), self.GROUP, *[e[2] for e in batch])

    def crash(self, c: int, p: int) -> None:
        self.incarnation[c] += 1
        if not self.noack:
            self.crashed.add((c, p))

    def effect(self, m: int) -> None:
        self.r.hincrby("effects", m, 1)

    def effect_once(self, m: int) -> bool:
        return bool(self.once(keys=["processed", "effects"], args=[m]))

    def commit_with_effects(self, c: int, p: int, batch, effects: list[int]) -> None:
        pipe = self.r.pipeline(transaction=True)          # MULTI ... EXEC
        for m in effects:
            pipe.hincrby("effects", m, 1)
        pipe.xack(self._stream(p), self.GROUP, *[e[2] for e in batch])
        pipe.execute()

    def results(self, messages: int) -> tuple[np.ndarray, np.ndarray]:
        counts = np.zeros(messages, np.int32)
        for m, v in self.r.hgetall("effects").items():
            counts[int(m)] = int(v)
        dead = np.zeros(messages, bool)
        for _, f in self.r.xrange("dead"):
            dead[int(f[b"m"])] = True
        return counts, dead


def replay(adapter, semantics: str, schedule, **settings) -> tuple[np.ndarray, np.ndarray]:
    """Run the log scenario of :func:`.delivery.simulate` (same settings, same seed)
    through ``adapter`` (:class:`LogAdapter` or :class:`RedisAdapter`), fetching the
    batches the simulation fetched (``schedule``: its ``run.schedule``, rows of
    consumer, partition, records); returns the effect count and the dead-letter flag
    of every message. Which records a batch holds, what a crash or a refused commit
    undoes and what is delivered again is the broker's doing."""
    s = _settings("log", **settings)
    M, P, C = s["messages"], s["partitions"], s["consumers"]
    seed, max_d = s["seed"], s["max_deliveries"]
    adapter.noack = semantics == "at-most-once"
    adapter.begin(M)
    if adapter.assignment() != {c: list(r) for c, r in enumerate(_ranges(P, C))}:
        raise AssertionError(f"the group's assignment {adapter.assignment()} is not the range assignor's")
    eos = semantics == "exactly-once"
    _produce(s, semantics, lambda k, p, seq, a: adapter.send(k, p, seq if eos else None),
             adapter.restart)

    steps = [0] * C
    batches = [0] * C
    for c, p, n in np.asarray(schedule).tolist():
        batch = adapter.fetch(c, p, n)
        if len(batch) != n:
            raise AssertionError(f"consumer {c} fetched {len(batch)} records of partition {p}, expected {n}")
        batches[c] += 1
        skip = [max_d > 0 and d > max_d for _, d, _ in batch]
        for entry, sk in zip(batch, skip):
            if sk:
                adapter.dead_letter(c, p, entry)
        if semantics == "at-most-once":
            adapter.commit(c, p, batch)
        buffered = []
        crashed = False
        for (m, _, _), sk in zip(batch, skip):
            if sk:
                continue
            if semantics in ("at-most-once", "at-least-once"):
                adapter.effect(m)
            elif semantics == "idempotent-consumer":
                adapter.effect_once(m)
            else:
                buffered.append(m)
            steps[c] += 1
            if decide(seed, STREAMS["crash"], c, steps[c] - 1) < s["crash"]:
                crashed = True
                break
        if crashed:
            adapter.crash(c, p)
            continue
        if semantics == "at-most-once":
            continue                        # committed first; a rebalance only pauses
        if decide(seed, STREAMS["rebalance"], c, batches[c] - 1) < s["rebalance"]:
            adapter.crash(c, p)             # the commit is refused: another generation
            continue
        if eos:
            adapter.commit_with_effects(c, p, batch, buffered)
        else:
            adapter.commit(c, p, batch)
    return adapter.results(M)


def replay_queue(semantics: str, **settings) -> tuple[np.ndarray, np.ndarray]:
    """The queue scenario through the package's :class:`~tradeoff.messaging.Queue`
    with one consumer, on a fake clock that moves only by the restart time after a
    crash and to the next visibility deadline when nothing is visible. Compare with
    :func:`.delivery.simulate` on the queue with ``consumers=1`` and ``rate``,
    ``rtt``, ``timeout``, ``service`` and ``commit_time`` all 0."""
    from .queue import Queue

    s = _settings("queue", **settings)
    if s["consumers"] != 1:
        raise ValueError("the queue driver runs one consumer")
    M, B, seed = s["messages"], s["batch"], s["seed"]

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    dlq = Queue(clock=clock, retention=1e12) if s["max_deliveries"] else None
    q = Queue(visibility_timeout=s["visibility"], clock=clock, retention=1e12, dead_letter=dlq,
              max_receive_count=s["max_deliveries"] or None)
    counts = np.zeros(M, np.int32)
    _produce(s, semantics, lambda k, p, seq, a: q.send(b"%d" % k), lambda: None)

    in_flight: dict[str, float] = {}           # receipt handle -> visibility deadline
    steps = 0
    while len(q):
        msgs = q.receive(max_messages=B)
        now = clock.now
        for h in [h for h, d in in_flight.items() if d <= now]:
            del in_flight[h]
        if not msgs:
            if not in_flight:
                break
            clock.now = min(in_flight.values())
            continue
        for msg in msgs:
            in_flight[msg.receipt_handle] = now + s["visibility"]
        if semantics == "at-most-once":
            for msg in msgs:
                q.delete(msg.receipt_handle)
                in_flight.pop(msg.receipt_handle, None)
        crashed = False
        for msg in msgs:
            m = int(msg.body)
            if semantics in ("exactly-once", "idempotent-consumer"):
                if counts[m] == 0:
                    counts[m] = 1
            else:
                counts[m] += 1
            steps += 1
            if decide(seed, STREAMS["crash"], 0, steps - 1) < s["crash"]:
                crashed = True
                break
        if crashed:
            clock.now += s["restart_time"]
            continue
        if semantics != "at-most-once":
            for msg in msgs:
                q.delete(msg.receipt_handle)
                in_flight.pop(msg.receipt_handle, None)
    dead = np.zeros(M, bool)
    if dlq is not None:
        while True:
            got = dlq.receive(max_messages=10)
            if not got:
                break
            for msg in got:
                dead[int(msg.body)] = True
                dlq.delete(msg.receipt_handle)
    return counts, dead
