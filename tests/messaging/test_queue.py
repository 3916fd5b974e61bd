"""Queue (tradeoff.messaging.queue): each SQS rule on a fake clock, then standard and
FIFO queues with a dead-letter queue against a naive model (lists scanned on every
call) in a hypothesis state machine."""
import hashlib
import threading
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradeoff.messaging import InvalidReceiptHandle, Message, MessageTooLarge, Queue


class Clock:
    """A fake clock: ``now`` moves only when a test moves it."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def fifo(clock, **kw):
    kw.setdefault("content_based_dedup", True)
    return Queue(fifo=True, clock=clock, **kw)


def bodies(messages):
    return [m.body for m in messages]


def snapshot(q):
    return (len(q), q.visible(), q.in_flight(), q.delayed(), q.stats(),
            sorted(m.id for m in q._msgs.values()))


# -- visibility, receipt handles, deleting ------------------------------------------------

def test_received_message_is_invisible_then_comes_back(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    mid = q.send(b"a")
    [m] = q.receive()
    assert isinstance(m, Message)
    assert (m.id, m.body, m.receive_count, m.sent_at, m.group_id) == (mid, b"a", 1, 0.0, None)
    assert (len(q), q.visible(), q.in_flight(), q.delayed()) == (1, 0, 1, 0)
    clock.now = 9.99
    assert q.receive() == []
    clock.now = 10.0
    [again] = q.receive()
    assert again.id == mid and again.receive_count == 2
    assert again.receipt_handle != m.receipt_handle


def test_receive_visibility_timeout_overrides_queue_default(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    q.receive(visibility_timeout=2)
    clock.now = 2.0
    assert bodies(q.receive(visibility_timeout=0)) == [b"a"]
    assert q.in_flight() == 0 and q.visible() == 1     # timeout 0: visible at once
    assert [m.receive_count for m in q.receive()] == [3]


def test_only_latest_handle_of_in_flight_message_deletes(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    [first] = q.receive()
    clock.now = 10.0
    assert q.delete(first.receipt_handle) is False       # visible again: nothing in flight
    [second] = q.receive()
    assert q.delete(first.receipt_handle) is False       # outdated handle
    assert len(q) == 1
    assert q.delete(second.receipt_handle) is True
    assert q.delete(second.receipt_handle) is False      # already gone
    assert len(q) == 0 and q.stats()["deleted"] == 1


def test_handle_from_another_queue_or_malformed_raises(clock):
    q, other = Queue(clock=clock), Queue(clock=clock)
    other.send(b"x")
    q.send(b"y")
    [m] = other.receive()
    [mine] = q.receive()
    with pytest.raises(InvalidReceiptHandle, match="another queue"):
        q.delete(m.receipt_handle)
    with pytest.raises(ValueError):
        q.change_visibility(m.receipt_handle, 5)
    uid, seq, serial = mine.receipt_handle.split(".")
    for bad in ["", "nonsense", "a.b.c", f"{uid}.{seq}", f"{uid}.{seq}.x", f"{uid}.0{seq}.{serial}",
                f"{uid}.{seq}.{serial}.0", f"{uid}.{seq}.99", f"{uid}.99.{serial}",
                f"{uid}.-1.{serial}", f"{uid}.{seq}.{serial} "]:
        with pytest.raises(InvalidReceiptHandle):
            q.delete(bad)
    with pytest.raises(TypeError):
        q.delete(None)
    assert q.in_flight() == 1 and q.delete(mine.receipt_handle)


# -- change_visibility ----------------------------------------------------------------------

def test_change_visibility(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    [m] = q.receive()
    clock.now = 5.0
    assert q.change_visibility(m.receipt_handle, 20) is True     # counts from now
    clock.now = 24.9
    assert q.receive() == []
    assert q.delete(m.receipt_handle)
    q.send(b"b")
    [m] = q.receive()
    assert q.change_visibility(m.receipt_handle, 0) is True
    assert q.visible() == 1 and q.in_flight() == 0
    assert q.change_visibility(m.receipt_handle, 5) is False     # not in flight any more
    assert q.delete(m.receipt_handle) is False
    [m2] = q.receive()
    assert m2.receive_count == 2
    assert q.change_visibility(m.receipt_handle, 5) is False     # outdated


def test_change_visibility_bounds_and_twelve_hours(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    [m] = q.receive()
    for bad in (-1, 43200.5, float("nan")):
        with pytest.raises(ValueError):
            q.change_visibility(m.receipt_handle, bad)
    with pytest.raises(TypeError):
        q.change_visibility(m.receipt_handle, "5")
    assert q.change_visibility(m.receipt_handle, 43200)          # exactly 12 h after receive
    clock.now = 100.0
    with pytest.raises(ValueError, match="12|43200"):
        q.change_visibility(m.receipt_handle, 43200)              # 12 h + 100 s after receive
    assert q.change_visibility(m.receipt_handle, 43100)
    assert q.in_flight() == 1


# -- retention and delay --------------------------------------------------------------------

def test_retention_expires_messages_even_in_flight(clock):
    q = Queue(visibility_timeout=50, retention=100, clock=clock)
    q.send(b"old")
    clock.now = 60.0
    q.send(b"new")
    [m] = q.receive()
    assert m.body == b"old" and q.in_flight() == 1
    clock.now = 100.0
    assert len(q) == 1 and q.in_flight() == 0 and q.stats()["expired"] == 1
    assert q.delete(m.receipt_handle) is False
    clock.now = 160.0
    assert len(q) == 0 and q.stats()["expired"] == 2


def test_delay_hides_new_messages(clock):
    q = Queue(delay=5, clock=clock)
    q.send(b"queue-delay")
    q.send(b"none", delay=0)
    q.send(b"long", delay=8)
    assert (q.visible(), q.delayed()) == (1, 2)
    assert bodies(q.receive(10)) == [b"none"]
    clock.now = 5.0
    assert bodies(q.receive(10)) == [b"queue-delay"]
    clock.now = 8.0
    assert q.delayed() == 0
    assert bodies(q.receive(10)) == [b"long"]
    for bad in (-1, 901):
        with pytest.raises(ValueError):
            q.send(b"x", delay=bad)
    with pytest.raises(ValueError):
        Queue(delay=901)


# -- order of a standard queue --------------------------------------------------------------

def test_standard_order_is_oldest_visible_first(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    q.send(b"b", delay=3)
    q.send(b"c")
    [a] = q.receive()
    clock.now = 5.0
    q.send(b"d")
    # visible since: c 0, b 3, d 5; a comes back at 10
    assert bodies(q.receive(2)) == [b"c", b"b"]
    clock.now = 20.0
    # visible since: d 5, a 10, b and c 15
    assert bodies(q.receive(10)) == [b"d", b"a", b"b", b"c"]


def test_receive_never_returns_a_message_twice_in_one_call(clock):
    for q in (Queue(clock=clock), fifo(clock)):
        q.send(b"a", **({"group_id": "g"} if q.fifo else {}))
        assert len(q.receive(10, visibility_timeout=0)) == 1
        assert len(q.receive(10, visibility_timeout=0)) == 1


def test_max_messages_bounds(clock):
    q = Queue(clock=clock)
    q.send_many([b"%d" % i for i in range(12)])
    for bad in (0, 11, -1):
        with pytest.raises(ValueError):
            q.receive(bad)
    for bad in (True, 1.0, "3"):
        with pytest.raises(TypeError):
            q.receive(bad)
    with pytest.raises(ValueError):
        q.receive(1, visibility_timeout=43201)
    with pytest.raises(ValueError):
        q.receive(1, wait_time=21)
    assert len(q.receive(10)) == 10 and len(q.receive(10)) == 2


# -- redrive --------------------------------------------------------------------------------

def test_redrive_moves_message_on_the_receive_past_max(clock):
    dlq = Queue(clock=clock, retention=1000)
    q = Queue(visibility_timeout=10, dead_letter=dlq, max_receive_count=2, clock=clock)
    mid = q.send(b"poison", attributes={"kind": "order", "n": 7})
    for count in (1, 2):
        got = q.receive(1)
        assert [(m.id, m.receive_count) for m in got] == [(mid, count)]
        clock.now += 10
    q.send(b"fine")
    [m] = q.receive(10)           # the third receive of "poison": moved instead
    assert m.body == b"fine"
    assert len(q) == 1 and len(dlq) == 1
    assert q.stats()["redriven"] == 1 and dlq.stats()["redriven_in"] == 1
    [dead] = dlq.receive()
    assert (dead.id, dead.body, dict(dead.attributes), dead.receive_count, dead.sent_at) == \
        (mid, b"poison", {"kind": "order", "n": 7}, 3, 0.0)
    # a standard dead-letter queue keeps the original send time for retention
    clock.now = 999.0
    assert len(dlq) == 1
    clock.now = 1000.0
    assert len(dlq) == 0 and dlq.stats()["expired"] == 1


def test_fifo_redrive_resets_retention_and_keeps_group(clock):
    dlq = fifo(clock, retention=100)
    q = fifo(clock, visibility_timeout=10, dead_letter=dlq, max_receive_count=1)
    q.send(b"a", group_id="g")
    q.send(b"b", group_id="g")
    assert bodies(q.receive(1)) == [b"a"]
    clock.now = 50.0
    assert [(m.body, m.receive_count) for m in q.receive(10)] == [(b"b", 1)]
    [dead] = dlq.receive()
    assert (dead.body, dead.group_id, dead.receive_count) == (b"a", "g", 2)  # 1 + this one
    clock.now = 149.0
    assert len(dlq) == 1          # retention counts from the move at 50
    clock.now = 150.0
    assert len(dlq) == 0


def test_redrive_policy_checks(clock):
    with pytest.raises(ValueError, match="same type"):
        Queue(dead_letter=fifo(clock), max_receive_count=1)
    with pytest.raises(ValueError, match="same type"):
        Queue(fifo=True, dead_letter=Queue(), max_receive_count=1)
    with pytest.raises(ValueError):
        Queue(dead_letter=Queue())
    with pytest.raises(ValueError):
        Queue(max_receive_count=3)
    with pytest.raises(ValueError):
        Queue(dead_letter=Queue(), max_receive_count=0)
    with pytest.raises(TypeError):
        Queue(dead_letter="dlq", max_receive_count=1)


# -- FIFO -----------------------------------------------------------------------------------

def test_fifo_needs_group_and_standard_refuses_fifo_fields(clock):
    f, s = fifo(clock), Queue(clock=clock)
    with pytest.raises(ValueError, match="group_id"):
        f.send(b"a")
    with pytest.raises(ValueError, match="group_id"):
        s.send(b"a", group_id="g")
    with pytest.raises(ValueError, match="dedup_id"):
        s.send(b"a", dedup_id="d")
    with pytest.raises(ValueError, match="delay"):
        f.send(b"a", group_id="g", delay=1)
    with pytest.raises(ValueError, match="dedup"):
        Queue(fifo=True, clock=clock).send(b"a", group_id="g")
    with pytest.raises(ValueError):
        Queue(content_based_dedup=True)
    for bad in ("", "x" * 129, "has space", "é"):
        with pytest.raises(ValueError):
            f.send(b"a", group_id=bad)
        with pytest.raises(ValueError):
            f.send(b"a", group_id="g", dedup_id=bad)
    with pytest.raises(TypeError):
        f.send(b"a", group_id=7)
    f.send(b"a", group_id="x" * 128, dedup_id="!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    assert len(f) == 1 and len(s) == 0


def test_fifo_group_in_order_and_blocked_while_in_flight(clock):
    f = fifo(clock, visibility_timeout=10)
    for i in range(4):
        f.send(b"a%d" % i, group_id="a")
    f.send(b"b0", group_id="b")
    assert bodies(f.receive(2)) == [b"a0", b"a1"]
    assert bodies(f.receive(10)) == [b"b0"]     # group a is blocked
    assert f.receive(10) == []
    clock.now = 10.0
    assert bodies(f.receive(10)) == [b"a0", b"a1", b"a2", b"a3", b"b0"]  # b0 came back too


def test_fifo_group_unblocks_only_when_nothing_in_flight(clock):
    f = fifo(clock, visibility_timeout=10)
    for i in range(3):
        f.send(b"%d" % i, group_id="g")
    m0, m1 = f.receive(2)
    assert f.delete(m1.receipt_handle)          # deleting out of order is allowed
    assert f.receive(10) == []                  # m0 still in flight
    assert f.change_visibility(m0.receipt_handle, 0)
    assert [(m.body, m.receive_count) for m in f.receive(10)] == [(b"0", 2), (b"2", 1)]


def test_fifo_groups_ready_first_go_first(clock):
    f = fifo(clock, visibility_timeout=10)
    f.send(b"a", group_id="A")
    f.send(b"b", group_id="B")
    f.send(b"c", group_id="C")
    [a] = f.receive(1)
    clock.now = 10.0
    # ready since: B 0, C 0, A 10
    assert bodies(f.receive(10)) == [b"b", b"c", b"a"]


def test_fifo_dedup_by_id_and_content(clock):
    f = Queue(fifo=True, clock=clock)
    first = f.send(b"x", group_id="g", dedup_id="d")
    assert f.send(b"other", group_id="h", dedup_id="d") == first
    clock.now = 299.9
    assert f.send(b"x", group_id="g", dedup_id="d") == first
    assert f.stats()["deduplicated"] == 2 and len(f) == 1
    clock.now = 300.0
    assert f.send(b"x", group_id="g", dedup_id="d") != first
    c = fifo(clock)
    one = c.send(b"body", group_id="g")
    assert c.send(b"body", group_id="other") == one
    assert c.send(b"body", group_id="g", dedup_id="explicit") != one        # explicit wins
    assert c.send(b"else", group_id="g", dedup_id=hashlib.sha256(b"body").hexdigest()) == one
    [m] = c.receive()
    assert c.delete(m.receipt_handle)
    assert c.send(b"body", group_id="g") == one    # still within the interval after delete
    assert len(c) == 1


def test_fifo_queue_delay(clock):
    f = fifo(clock, delay=5)
    f.send(b"a", group_id="g")
    assert f.delayed() == 1 and f.receive() == []
    clock.now = 5.0
    assert bodies(f.receive()) == [b"a"]


# -- bodies and attributes ------------------------------------------------------------------

def test_body_type_and_size(clock):
    q = Queue(max_message_bytes=10, clock=clock)
    for bad in ("text", bytearray(b"x"), memoryview(b"x"), None, 3):
        with pytest.raises(TypeError):
            q.send(bad)
    with pytest.raises(MessageTooLarge, match=r"11 bytes.*limit of 10"):
        q.send(b"x" * 11)
    with pytest.raises(ValueError, match="11 bytes"):
        q.send(b"x" * 6, attributes={"ab": "cde"})     # attributes count toward the limit
    with pytest.raises(ValueError):
        q.send(b"")
    q.send(b"x" * 10)
    q.send(b"x" * 5, attributes={"ab": "cde"})
    assert len(q) == 2


def test_attributes_checked_and_read_only(clock):
    q = Queue(clock=clock)
    for bad in ([("a", 1)], {1: "x"}, {"a": None}, {"a": True}, {"": "x"}):
        with pytest.raises(TypeError):
            q.send(b"x", attributes=bad)
    with pytest.raises(ValueError):
        q.send(b"x", attributes={str(i): i for i in range(11)})
    attrs = {"a": "1", "b": b"2", "c": 3.5}
    q.send(b"x", attributes=attrs)
    attrs["a"] = "changed"
    [m] = q.receive()
    assert dict(m.attributes) == {"a": "1", "b": b"2", "c": 3.5}
    with pytest.raises(TypeError):
        m.attributes["a"] = "x"


# -- counters, stats, bad input ------------------------------------------------------------

def test_counters_and_stats(clock):
    dlq = Queue(clock=clock)
    q = Queue(visibility_timeout=10, retention=100, delay=0, dead_letter=dlq,
              max_receive_count=1, clock=clock)
    ids = q.send_many([b"a", b"b", b"c"])
    q.send(b"d", delay=50)
    assert len(ids) == 3 and len(set(ids)) == 3
    a, b = q.receive(2)
    q.delete(a.receipt_handle)
    assert (len(q), q.visible(), q.in_flight(), q.delayed()) == (3, 1, 1, 1)
    clock.now = 10.0
    assert bodies(q.receive(10)) == [b"c"]      # b is redriven on its second receive
    clock.now = 100.0
    assert q.stats() == {"sent": 4, "received": 3, "deleted": 1, "redriven": 1,
                         "redriven_in": 0, "expired": 2, "deduplicated": 0}
    assert len(q) == 0
    assert dlq.stats()["redriven_in"] == 1


BAD_CALLS = [
    lambda q, h: q.send("text"),
    lambda q, h: q.send(b"x" * 2000),
    lambda q, h: q.send(b"x", delay=-1),
    lambda q, h: q.send(b"x", attributes=[1]),
    lambda q, h: q.send_many([b"ok", b"ok", "bad"]),
    lambda q, h: q.send_many([b"ok", b"x" * 2000]),
    lambda q, h: q.send_many([b"a", b"b"], group_id="g", dedup_ids=["x"]),
    lambda q, h: q.receive(0),
    lambda q, h: q.receive(1, visibility_timeout=-1),
    lambda q, h: q.receive(1, wait_time=-1),
    lambda q, h: q.delete("junk"),
    lambda q, h: q.change_visibility("junk", 5),
    lambda q, h: q.change_visibility(h, 43201),
    lambda q, h: q.change_visibility(h, -1),
]


@pytest.mark.parametrize("fifo_queue", [False, True])
@pytest.mark.parametrize("call", BAD_CALLS)
def test_bad_input_changes_nothing(clock, call, fifo_queue):
    q = fifo(clock, max_message_bytes=1000) if fifo_queue else Queue(max_message_bytes=1000,
                                                                       clock=clock)
    kw = {"group_id": "g"} if fifo_queue else {}
    q.send_many([b"1", b"2", b"3"], **kw)
    [m] = q.receive(1)
    before = snapshot(q)
    with pytest.raises((TypeError, ValueError)):
        call(q, m.receipt_handle)
    assert snapshot(q) == before
    q._check()


def test_send_many_dedup_within_one_call(clock):
    f = fifo(clock)
    ids = f.send_many([b"a", b"b", b"a"], group_id="g")
    assert ids[0] == ids[2] != ids[1] and len(f) == 2
    ids = f.send_many([b"p", b"q"], group_id="g", dedup_ids=["1", "1"])
    assert ids[0] == ids[1] and len(f) == 3
    assert f.send_many([], group_id="g") == []


def test_constructor_checks():
    for kw in ({"visibility_timeout": -1}, {"visibility_timeout": 43201}, {"retention": 0},
               {"retention": float("inf")}, {"delay": 901}, {"max_message_bytes": 0}):
        with pytest.raises(ValueError):
            Queue(**kw)
    for kw in ({"visibility_timeout": "30"}, {"max_message_bytes": 1.5}, {"clock": 3},
               {"name": 5}):
        with pytest.raises(TypeError):
            Queue(**kw)
    q = Queue(fifo=True, name="jobs.fifo", content_based_dedup=True, visibility_timeout=5)
    assert (q.fifo, q.name, q.visibility_timeout, q.content_based_dedup) == (True, "jobs.fifo",
                                                                              5.0, True)
    assert "jobs.fifo" in repr(q) and "FIFO" in repr(q)


def test_clock_going_back_is_held(clock):
    q = Queue(visibility_timeout=10, clock=clock)
    q.send(b"a")
    clock.now = 20.0
    q.receive()
    clock.now = 5.0
    assert q.in_flight() == 1
    clock.now = 30.0
    assert q.in_flight() == 0


def test_dead_entries_are_compacted(clock):
    for q in (Queue(clock=clock), fifo(clock)):
        kw = {"group_id": "g"} if q.fifo else {}
        for i in range(5000):
            q.send(b"%d" % i, **kw)
            [m] = q.receive()
            q.change_visibility(m.receipt_handle, 5)
            assert q.delete(m.receipt_handle)
        heaps = [q._expiry, q._timers, q._ready, q._gheap]
        assert max(map(len, heaps)) <= 500      # not 5000: dead entries are dropped
        q._check()


# -- long polling ---------------------------------------------------------------------------

def test_wait_time_on_a_fake_clock_returns_at_once(clock):
    q = Queue(clock=clock)
    start = time.monotonic()
    assert q.receive(wait_time=20) == []
    assert time.monotonic() - start < 1.0


def test_long_poll_on_the_real_clock():
    q = Queue()
    start = time.monotonic()
    assert q.receive(wait_time=0.05) == []
    assert time.monotonic() - start >= 0.05
    q.send(b"later", delay=0.05)
    start = time.monotonic()
    assert bodies(q.receive(wait_time=5)) == [b"later"]
    assert time.monotonic() - start < 2.0
    sender = threading.Timer(0.03, q.send, args=(b"from a thread",))
    sender.start()
    assert bodies(q.receive(wait_time=5)) == [b"from a thread"]
    sender.join()


# -- the state machine: Queue against a naive model ----------------------------------------

class Model:
    """The rules stated as plainly as possible: every stored message a dict in a list,
    every question answered by scanning it."""

    def __init__(self, fifo, vt, retention, delay, max_rc=None, dlq=None):
        self.fifo, self.vt, self.retention, self.delay = fifo, vt, retention, delay
        self.max_rc, self.dlq = max_rc, dlq
        self.msgs = []
        self.seq = 0
        self.dedup = []               # (key, first send time, id)
        self.fate = {}                # id -> stored, deleted, expired, redriven
        self.stats = dict.fromkeys(("sent", "received", "deleted", "redriven", "redriven_in",
                                    "expired", "deduplicated"), 0)

    def advance(self, now):
        for m in [m for m in self.msgs if m["expires"] <= now]:
            self.msgs.remove(m)
            self.fate[m["id"]] = "expired"
            self.stats["expired"] += 1
        self.dedup = [d for d in self.dedup if d[1] + 300.0 > now]

    def store(self, mid, body, attrs, group, sent_at, expires, visible, count):
        self.msgs.append(dict(id=mid, body=body, attrs=attrs, group=group, seq=self.seq,
                              sent_at=sent_at, expires=expires, visible=visible, count=count,
                              here=False, handle=None, received_at=None))
        self.seq += 1
        self.fate[mid] = "stored"

    def duplicate_of(self, key):
        return next((mid for k, _, mid in self.dedup if k == key), None)

    def send(self, now, mid, body, attrs, group, key, hold):
        self.store(mid, body, attrs, group, now, now + self.retention, now + hold, 0)
        if key is not None:
            self.dedup.append((key, now, mid))
        self.stats["sent"] += 1

    def arrive(self, m, now):
        self.advance(now)
        start = now if self.fifo else m["sent_at"]
        self.store(m["id"], m["body"], m["attrs"], m["group"], m["sent_at"],
                   start + self.retention, now, m["count"])
        self.stats["redriven_in"] += 1

    def remove(self, m, fate):
        self.msgs.remove(m)
        self.fate[m["id"]] = fate
        self.stats[fate] += 1

    def dead(self, m):
        return self.max_rc is not None and m["count"] >= self.max_rc

    def redrive(self, m, now):
        self.remove(m, "redriven")
        self.dlq.arrive(m, now)

    def receive(self, now, limit, vt):
        out = []
        if not self.fifo:
            for m in sorted((m for m in self.msgs if m["visible"] <= now),
                            key=lambda m: (m["visible"], m["seq"])):
                if len(out) == limit:
                    break
                if self.dead(m):
                    self.redrive(m, now)
                else:
                    out.append(m)
        else:
            done = set()
            while len(out) < limit:
                ready = []
                for g in {m["group"] for m in self.msgs} - done:
                    ms = [m for m in self.msgs if m["group"] == g]
                    when = max([ms[0]["visible"]] + [m["visible"] for m in ms if m["here"]])
                    if when <= now:
                        ready.append((when, ms[0]["seq"], g))
                if not ready:
                    break
                g = min(ready)[2]
                done.add(g)
                for m in [m for m in self.msgs if m["group"] == g]:
                    if len(out) == limit or m["visible"] > now:
                        break
                    if self.dead(m):
                        self.redrive(m, now)
                    else:
                        out.append(m)
        for m in out:
            m["count"] += 1
            m["here"] = True
            m["received_at"] = now
            m["visible"] = now + vt
        self.stats["received"] += len(out)
        return out

    def find_in_flight(self, handle, now):
        return next((m for m in self.msgs if m["handle"] == handle and m["visible"] > now), None)

    def counts(self, now):
        flying = sum(1 for m in self.msgs if m["visible"] > now and m["here"])
        held = sum(1 for m in self.msgs if m["visible"] > now and not m["here"])
        return len(self.msgs), len(self.msgs) - flying - held, flying, held


BODIES = st.sampled_from([b"a", b"b", b"c"]) | st.binary(min_size=1, max_size=4)
STEPS = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.5, 5.0, 5.0, 10.0, 10.0, 30.0, 61.0, 150.0, 301.0])
TIMEOUTS = st.sampled_from([0.0, 1.0, 5.0, 10.0, 40.0, 43200.0])


class QueueMachine(RuleBasedStateMachine):
    FIFO = False

    @initialize(vt=st.sampled_from([0.0, 10.0, 30.0]), delay=st.sampled_from([0.0, 5.0]),
                max_rc=st.sampled_from([None, 1, 2, 3]), content=st.booleans())
    def setup(self, vt, delay, max_rc, content):
        self.clock = Clock(1000.0)
        dedup = {"content_based_dedup": content} if self.FIFO else {}
        self.content = content and self.FIFO
        self.dlq = Queue(fifo=self.FIFO, visibility_timeout=10, retention=120,
                         clock=self.clock, **dedup)
        self.dlq_model = Model(self.FIFO, 10.0, 120.0, 0.0)
        kw = dict(dead_letter=self.dlq, max_receive_count=max_rc) if max_rc else {}
        self.q = Queue(fifo=self.FIFO, visibility_timeout=vt, retention=200, delay=delay,
                       clock=self.clock, **dedup, **kw)
        self.model = Model(self.FIFO, vt, 200.0, delay, max_rc, self.dlq_model)
        self.pairs = [(self.q, self.model), (self.dlq, self.dlq_model)]
        self.handles = [[], []]
        self.sent = set()
        self.fresh = 0

    def send_args(self, data, body):
        raise NotImplementedError

    @rule(data=st.data(), body=BODIES, attrs=st.sampled_from([None, {"k": "v"}, {"n": 1}]))
    def send(self, data, body, attrs):
        kw, key, hold = self.send_args(data, body)
        now = self.clock.now
        self.model.advance(now)
        if self.FIFO and key is None:
            with pytest.raises(ValueError):
                self.q.send(body, attributes=attrs, **kw)
            return
        mid = self.q.send(body, attributes=attrs, **kw)
        first = self.model.duplicate_of(key) if key is not None else None
        if first is not None:
            assert mid == first
            self.model.stats["deduplicated"] += 1
        else:
            assert mid not in self.model.fate and mid not in self.dlq_model.fate
            self.model.send(now, mid, body, attrs or {}, kw.get("group_id"), key, hold)
            self.sent.add(mid)

    @rule(which=st.sampled_from([0, 1]), limit=st.integers(1, 10),
          vt=st.sampled_from([None, None, 0.0, 5.0, 10.0, 40.0]))
    def receive(self, which, limit, vt):
        q, model = self.pairs[which]
        now = self.clock.now
        model.advance(now)
        got = q.receive(limit, visibility_timeout=vt)
        want = model.receive(now, limit, model.vt if vt is None else vt)
        assert [(m.id, m.body, m.receive_count, m.group_id, m.sent_at, dict(m.attributes))
                for m in got] == \
            [(m["id"], m["body"], m["count"], m["group"], m["sent_at"], m["attrs"])
             for m in want]
        fresh = {m.receipt_handle for m in got}
        assert len(fresh) == len(got) and not fresh & set(self.handles[which])
        for m, mm in zip(got, want):
            mm["handle"] = m.receipt_handle
            self.handles[which].append(m.receipt_handle)

    @precondition(lambda self: any(self.handles))
    @rule(which=st.sampled_from([0, 1]), pick=st.integers(0, 10**6))
    def delete(self, which, pick):
        if not self.handles[which]:
            which = 1 - which
        q, model = self.pairs[which]
        recent = self.handles[which][-8:]        # mostly live, some outdated
        handle = recent[pick % len(recent)]
        now = self.clock.now
        model.advance(now)
        m = model.find_in_flight(handle, now)
        assert q.delete(handle) is (m is not None)
        if m is not None:
            model.remove(m, "deleted")

    @precondition(lambda self: any(self.handles))
    @rule(which=st.sampled_from([0, 1]), pick=st.integers(0, 10**6), timeout=TIMEOUTS)
    def change_visibility(self, which, pick, timeout):
        if not self.handles[which]:
            which = 1 - which
        q, model = self.pairs[which]
        recent = self.handles[which][-8:]        # mostly live, some outdated
        handle = recent[pick % len(recent)]
        now = self.clock.now
        model.advance(now)
        m = model.find_in_flight(handle, now)
        if m is not None and now + timeout - m["received_at"] > 43200.0:
            with pytest.raises(ValueError):
                q.change_visibility(handle, timeout)
            return
        assert q.change_visibility(handle, timeout) is (m is not None)
        if m is not None:
            m["visible"] = now + timeout

    @precondition(lambda self: any(self.handles))
    @rule(which=st.sampled_from([0, 1]), kind=st.integers(0, 5))
    def bad_input(self, which, kind):
        q = self.pairs[which][0]
        before = snapshot(q)
        handle = (self.handles[which] or self.handles[1 - which])[0]
        calls = [lambda: q.send("text"), lambda: q.receive(11),
                 lambda: q.delete(handle + "x"), lambda: q.change_visibility(handle, -1),
                 lambda: q.send(b"x", group_id=None if q.fifo else "g"),
                 lambda: q.send_many([b"x", b""], group_id="g" if q.fifo else None)]
        with pytest.raises((TypeError, ValueError)):
            calls[kind]()
        assert snapshot(q) == before

    @rule(dt=STEPS)
    def advance(self, dt):
        self.clock.now += dt

    @invariant()
    def agree(self):
        if not hasattr(self, "q"):
            return
        now = self.clock.now
        for q, model in self.pairs:
            model.advance(now)
            q._check()
            assert (len(q), q.visible(), q.in_flight(), q.delayed()) == model.counts(now)
            assert q.stats() == model.stats
            assert sorted(m.id for m in q._msgs.values()) == sorted(m["id"] for m in model.msgs)
        # nothing lost: every message sent is stored, deleted, expired or redriven, and
        # every redriven one is accounted for in the dead-letter queue
        fates = self.model.fate
        assert set(fates) == self.sent
        for mid in self.sent:
            assert fates[mid] in ("stored", "deleted", "expired", "redriven")
            if fates[mid] == "redriven":
                assert self.dlq_model.fate[mid] in ("stored", "deleted", "expired")


class StandardMachine(QueueMachine):
    FIFO = False

    def send_args(self, data, body):
        delay = data.draw(st.sampled_from([None, 0.0, 3.0, 20.0]))
        return {"delay": delay}, None, self.model.delay if delay is None else delay


class FifoMachine(QueueMachine):
    FIFO = True

    def send_args(self, data, body):
        group = data.draw(st.sampled_from(["g1", "g2", "g3"]))
        dedup = data.draw(st.sampled_from([None, "k1", "k2", "fresh", "fresh", "fresh"]))
        if dedup == "fresh":
            self.fresh += 1
            dedup = f"u{self.fresh}"
        key = dedup if dedup is not None else (
            hashlib.sha256(body).hexdigest() if self.content else None)
        return {"group_id": group, "dedup_id": dedup}, key, self.model.delay


MACHINE_SETTINGS = settings(max_examples=120, stateful_step_count=40, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow])
TestStandardMachine = StandardMachine.TestCase
TestStandardMachine.settings = MACHINE_SETTINGS
TestFifoMachine = FifoMachine.TestCase
TestFifoMachine.settings = MACHINE_SETTINGS
