"""An SQS-style message queue in memory: Amazon SQS's delivery model, standard and FIFO.

The rules follow the Amazon SQS Developer Guide and API reference: a received
message stays in the queue but is invisible for its *visibility timeout*, and comes
back if nobody deletes it in time; every receive issues a new *receipt handle* and
only the latest one deletes (or changes the visibility of) the message, and only
while it is in flight; messages older than the *retention period* vanish; a *delay*
hides a message for a while after it is sent; with a *redrive policy* a message that
would be received more than ``max_receive_count`` times moves to the *dead-letter
queue* instead. A FIFO queue delivers each *message group* strictly in order, holds a
group back while any of its messages is in flight, and drops a message whose
*deduplication id* it has already accepted in the last five minutes.

Time is whatever the ``clock`` callable returns, in seconds, so the same queue runs
in real time (``time.monotonic``, the default) and in a simulation that moves a fake
clock on:

>>> class Clock:
...     now = 0.0
...     def __call__(self):
...         return self.now
>>> clock = Clock()
>>> q = Queue(visibility_timeout=10, clock=clock)
>>> mid = q.send(b"hello")
>>> [m] = q.receive()
>>> m.body, m.receive_count, q.visible(), q.in_flight()
(b'hello', 1, 0, 1)
>>> q.receive()
[]
>>> clock.now = 10.0
>>> [again] = q.receive()
>>> again.id == mid, again.receive_count
(True, 2)
>>> q.delete(m.receipt_handle), q.delete(again.receipt_handle), len(q)
(False, True, 0)

A FIFO queue:

>>> f = Queue(fifo=True, content_based_dedup=True, clock=clock)
>>> ids = [f.send(b, group_id="order-7") for b in (b"created", b"paid", b"paid")]
>>> ids[1] == ids[2]
True
>>> [m.body for m in f.receive(max_messages=10)]
[b'created', b'paid']
>>> f.receive(max_messages=10)
[]
"""
import hashlib
import heapq
import itertools
import math
import numbers
import secrets
import threading
import time
from collections import OrderedDict, deque
from types import MappingProxyType
from typing import Mapping, NamedTuple, Optional

__all__ = ["InvalidReceiptHandle", "Message", "MessageTooLarge", "Queue"]

#: SQS limits: the longest visibility timeout (12 hours), per-message and queue delay
#: (15 minutes), long-poll wait (20 seconds), messages per receive, the FIFO
#: deduplication interval (5 minutes), group and deduplication id length, and the
#: number of attributes on one message
MAX_VISIBILITY = 43200.0
MAX_DELAY = 900.0
MAX_WAIT = 20.0
MAX_RECEIVE = 10
DEDUP_INTERVAL = 300.0
MAX_ID_CHARS = 128
MAX_ATTRIBUTES = 10

#: how long a long poll on the real clock sleeps between looks at the queue
POLL_STEP = 0.01
#: operations between looks at the heaps' dead entries (each heap is rebuilt when its
#: dead entries outnumber its live ones: amortised O(1) per operation)
COMPACT_EVERY = 64

_REAL_CLOCKS = (time.monotonic, time.time, time.perf_counter)
_EMPTY = MappingProxyType({})

# a stored message's state: visible, in flight (received, timeout not over) or
# delayed (never received here, delay not over)
_VISIBLE, _IN_FLIGHT, _DELAYED = 0, 1, 2


class InvalidReceiptHandle(ValueError):
    """A receipt handle that is not one: malformed, from another queue, or never issued."""


class MessageTooLarge(ValueError):
    """A message (body plus attribute names and values) over the queue's size limit."""


class Message(NamedTuple):
    """One delivery of a message, as :meth:`Queue.receive` returns it.

    ``receipt_handle`` belongs to this delivery only: the next receive of the same
    message issues another, and this one stops working. ``attributes`` is a read-only
    mapping; ``sent_at`` is the clock's time when the message was first sent (kept
    when it moves to a dead-letter queue); ``group_id`` is None on a standard queue.
    """
    id: str
    body: bytes
    attributes: Mapping
    receipt_handle: str
    receive_count: int
    sent_at: float
    group_id: Optional[str]


class _Stored:
    """A message in one queue (a message moved to a dead-letter queue is a new one there)."""
    __slots__ = ("seq", "id", "body", "attributes", "group", "sent_at", "expires_at",
                 "visible_at", "received_at", "count", "handle", "state", "here",
                 "stored", "ttok", "dtok")

    def __init__(self, seq, mid, body, attributes, group, sent_at, expires_at, visible_at,
                 count):
        self.seq = seq                  # arrival order in this queue
        self.id = mid
        self.body = body
        self.attributes = attributes
        self.group = group
        self.sent_at = sent_at
        self.expires_at = expires_at
        self.visible_at = visible_at    # invisible before this time
        self.received_at = 0.0          # time of the latest receive here
        self.count = count              # receives so far, here and in a source queue
        self.handle = None              # the latest receipt handle
        self.state = _VISIBLE
        self.here = False               # received from this queue at least once
        self.stored = True
        self.ttok = 0                   # the live entry in the timer heap, 0: none
        self.dtok = 0                   # the live entry in the delivery heap (standard)


class _Group:
    """A FIFO message group: its stored messages in order, and its live heap entry."""
    __slots__ = ("gid", "msgs", "tok")

    def __init__(self, gid):
        self.gid = gid
        self.msgs = OrderedDict()       # seq -> _Stored, oldest first
        self.tok = 0


def _seconds(name, value, lo, hi):
    if type(value) is float and lo <= value <= hi:     # the common case, quickly
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    value = float(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be within {lo:g}..{hi:g} seconds, got {value!r}")
    return value


def _whole(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__}")
    if value < lo:
        raise ValueError(f"{name} must be at least {lo}, got {value!r}")
    return int(value)


def _token(name, value):
    """A group or deduplication id: 1..128 ASCII letters, digits and punctuation."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not (0 < len(value) <= MAX_ID_CHARS and value.isascii() and value.isprintable()
            and " " not in value):
        raise ValueError(f"{name} must be 1..{MAX_ID_CHARS} ASCII letters, digits or "
                         f"punctuation, got {value!r}")
    return value


def _attributes(attributes):
    """A frozen copy of a message's attributes and their size in bytes, as SQS counts it
    (names and values; a number counts as its decimal text)."""
    if attributes is None:
        return _EMPTY, 0
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a mapping, not {type(attributes).__name__}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"a message has at most {MAX_ATTRIBUTES} attributes, "
                         f"got {len(attributes)}")
    size = 0
    for name, value in attributes.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"an attribute name must be a non-empty str, got {name!r}")
        size += len(name.encode())
        if isinstance(value, str):
            size += len(value.encode())
        elif isinstance(value, bytes):
            size += len(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            size += len(str(value))
        else:
            raise TypeError(f"attribute {name!r} must be str, bytes or a number, "
                            f"not {type(value).__name__}")
    if not attributes:
        return _EMPTY, 0
    return MappingProxyType(dict(attributes)), size


class Queue:
    """An SQS queue in memory; see the module docstring for the rules.

    Parameters (times in seconds of ``clock``):
        fifo: a FIFO queue (message groups, ordering, deduplication) or a standard one.
        visibility_timeout: how long a received message stays invisible (0..43200).
        retention: how long a message is kept after it was sent (any positive time;
            SQS allows 60 s to 14 days).
        delay: how long every new message stays invisible (0..900).
        max_message_bytes: the largest message, body plus attribute names and values
            (SQS allows 1 KiB to 256 KiB; any positive size here).
        dead_letter, max_receive_count: the redrive policy, both or neither: a message
            that would be received for the ``max_receive_count + 1``-th time moves to
            ``dead_letter`` (a queue of the same type) instead, with its id, body,
            attributes, group and receive count. There it expires by its original
            send time on a standard queue and by the time of the move on a FIFO one,
            as SQS does; the two queues should share the clock.
        content_based_dedup: FIFO only: a message without a ``dedup_id`` is
            deduplicated by the SHA-256 of its body.
        clock: a callable returning the time in seconds; it must not go backwards
            (if it does, the queue holds its last time).
        name: a label for repr; it does not identify the queue (receipt handles carry
            a random id of their own).

    Order of delivery: SQS promises none on a standard queue; this one delivers the
    message that became visible first (ties: the one sent first). A FIFO queue hands
    out the group that became ready first (ties: the group whose head was sent
    first), as many of its messages in order as fit, then the next group.

    Counters: ``len(q)`` counts stored messages: visible (:meth:`visible`, on a FIFO
    queue including those held back behind their group), :meth:`in_flight` (received,
    visibility timeout not over) and :meth:`delayed` (delay not over).

    Thread-safe (one lock per queue). Not modelled: SQS's limits on messages in flight
    (120,000 standard, 20,000 FIFO), batch sizes and rates, receive request attempt
    ids, standard queues' occasional duplicate or missing deliveries, the 1-minute
    cache behind queue attribute changes (there are none: settings are fixed).
    """

    def __init__(self, *, fifo=False, visibility_timeout=30.0, retention=4 * 86400.0,
                 delay=0.0, max_message_bytes=256 * 1024, dead_letter=None,
                 max_receive_count=None, content_based_dedup=False, clock=time.monotonic,
                 name=None):
        vt = _seconds("visibility_timeout", visibility_timeout, 0.0, MAX_VISIBILITY)
        retention = _seconds("retention", retention, 0.0, math.inf)
        if not 0.0 < retention < math.inf:
            raise ValueError(f"retention must be a positive finite time, got {retention!r}")
        delay = _seconds("delay", delay, 0.0, MAX_DELAY)
        size = _whole("max_message_bytes", max_message_bytes, 1)
        if (dead_letter is None) != (max_receive_count is None):
            raise ValueError("dead_letter and max_receive_count go together: give both or "
                             "neither")
        if dead_letter is not None:
            if not isinstance(dead_letter, Queue):
                raise TypeError(f"dead_letter must be a Queue, not {type(dead_letter).__name__}")
            if dead_letter._fifo != bool(fifo):
                raise ValueError("the dead-letter queue must be of the same type: "
                                 f"{'FIFO' if fifo else 'standard'} here, "
                                 f"{'FIFO' if dead_letter._fifo else 'standard'} there")
            max_receive_count = _whole("max_receive_count", max_receive_count, 1)
        if content_based_dedup and not fifo:
            raise ValueError("content_based_dedup applies to FIFO queues only")
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, not "
                            f"{type(clock).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")

        self._fifo = bool(fifo)
        self._vt = vt
        self._retention = retention
        self._delay = delay
        self._max_bytes = size
        self._dlq = dead_letter
        self._max_rc = max_receive_count
        self._content_dedup = bool(content_based_dedup)
        self._clock = clock
        self._real = clock in _REAL_CLOCKS
        self._name = name
        self._uid = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._last = -math.inf          # the latest time seen
        self._seq = 0                   # next arrival number
        self._serial = 0                # next receipt number
        self._tok = itertools.count(1).__next__
        self._msgs = {}                 # seq -> _Stored, every stored message
        self._expiry = []               # heap of (expires_at, seq, msg)
        self._timers = []               # heap of (visible_at, seq, tok, msg): in flight or delayed
        self._ready = []                # standard: heap of (visible_at, seq, tok, msg)
        self._groups = {}               # FIFO: group id -> _Group
        self._gheap = []                # FIFO: heap of (ready_at, head seq, tok, group)
        self._dedup = {}                # FIFO: dedup id -> message id, within the interval
        self._dedup_q = deque()         # FIFO: (end of interval, dedup id), oldest first
        self._n_in_flight = 0
        self._n_delayed = 0
        self._countdown = COMPACT_EVERY  # operations until the next look at dead entries
        self._stats = dict.fromkeys(("sent", "received", "deleted", "redriven",
                                     "redriven_in", "expired", "deduplicated"), 0)

    # -- settings -----------------------------------------------------------------------
    fifo = property(lambda self: self._fifo, doc="True for a FIFO queue.")
    name = property(lambda self: self._name, doc="The label given, or None.")
    visibility_timeout = property(lambda self: self._vt, doc="The default visibility timeout.")
    retention = property(lambda self: self._retention, doc="The retention period.")
    delay = property(lambda self: self._delay, doc="The queue's delay for new messages.")
    max_message_bytes = property(lambda self: self._max_bytes, doc="The size limit.")
    dead_letter = property(lambda self: self._dlq, doc="The dead-letter queue, or None.")
    max_receive_count = property(lambda self: self._max_rc,
                                 doc="Receives before a message moves to the dead-letter queue.")
    content_based_dedup = property(lambda self: self._content_dedup,
                                   doc="FIFO: deduplicate by the body's SHA-256.")

    def __repr__(self):
        kind = "FIFO" if self._fifo else "standard"
        label = f" {self._name!r}" if self._name is not None else ""
        return f"<Queue{label} {kind}, {len(self._msgs)} stored>"

    # -- sending ------------------------------------------------------------------------
    def send(self, body, delay=None, attributes=None, group_id=None, dedup_id=None):
        """Store one message and return its id.

        ``body`` is bytes (1 byte up to the size limit, attributes included); ``delay``
        (0..900 s, standard queues only) overrides the queue's delay. A FIFO queue
        needs ``group_id``, and ``dedup_id`` unless it deduplicates by content; a
        message whose deduplication id was accepted less than five minutes ago is
        accepted but dropped, and the first message's id comes back.
        """
        attrs, extra = _attributes(attributes)
        self._check_body(body, extra)
        hold = self._check_delay(delay)
        self._check_group(group_id)
        key = self._dedup_key(body, dedup_id)
        with self._lock:
            now = self._time()
            self._advance(now)
            return self._send(body, attrs, group_id, key, now, hold)

    def send_many(self, bodies, delay=None, attributes=None, group_id=None, dedup_ids=None):
        """Send each of ``bodies`` in order with the same settings; return their ids.

        ``dedup_ids``, if given, holds one deduplication id per body. Every body is
        checked before any is stored: bad input stores none. (SQS's batch send takes
        at most 10 messages; this takes any number.)
        """
        bodies = list(bodies)
        attrs, extra = _attributes(attributes)
        for body in bodies:
            self._check_body(body, extra)
        hold = self._check_delay(delay)
        self._check_group(group_id)
        if dedup_ids is None:
            keys = [self._dedup_key(body, None) for body in bodies]
        else:
            dedup_ids = list(dedup_ids)
            if len(dedup_ids) != len(bodies):
                raise ValueError(f"{len(bodies)} bodies but {len(dedup_ids)} dedup_ids")
            keys = [self._dedup_key(b, d) for b, d in zip(bodies, dedup_ids)]
        with self._lock:
            now = self._time()
            self._advance(now)
            return [self._send(body, attrs, group_id, key, now, hold)
                    for body, key in zip(bodies, keys)]

    def _check_body(self, body, extra):
        if type(body) is not bytes:
            raise TypeError(f"a message body must be bytes, not {type(body).__name__}")
        size = len(body) + extra
        if size > self._max_bytes:
            raise MessageTooLarge(f"message is {size} bytes, over the queue's limit of "
                                  f"{self._max_bytes} bytes")
        if not body:
            raise ValueError("a message body must hold at least 1 byte (SQS's minimum)")

    def _check_delay(self, delay):
        if delay is None:
            return self._delay
        if self._fifo:
            raise ValueError("a FIFO queue takes no per-message delay (set the queue's delay)")
        return _seconds("delay", delay, 0.0, MAX_DELAY)

    def _check_group(self, group_id):
        if self._fifo:
            if group_id is None:
                raise ValueError("a FIFO queue needs a group_id on every message")
            _token("group_id", group_id)
        elif group_id is not None:
            raise ValueError("group_id applies to FIFO queues only")

    def _dedup_key(self, body, dedup_id):
        if not self._fifo:
            if dedup_id is not None:
                raise ValueError("dedup_id applies to FIFO queues only")
            return None
        if dedup_id is not None:
            return _token("dedup_id", dedup_id)
        if not self._content_dedup:
            raise ValueError("a FIFO queue without content_based_dedup needs a dedup_id")
        return hashlib.sha256(body).hexdigest()

    def _send(self, body, attrs, group_id, key, now, hold):
        if key is not None:
            first = self._dedup.get(key)
            if first is not None:
                self._stats["deduplicated"] += 1
                return first
        seq = self._seq
        msg = self._store(f"{self._uid}-{seq}", body, attrs, group_id, now, now,
                          now + self._retention, now + hold, 0)
        if key is not None:
            self._dedup[key] = msg.id
            self._dedup_q.append((now + DEDUP_INTERVAL, key))
        self._stats["sent"] += 1
        return msg.id

    def _store(self, mid, body, attrs, group_id, now, sent_at, expires_at, visible_at, count):
        seq = self._seq
        self._seq = seq + 1
        msg = _Stored(seq, mid, body, attrs, group_id, sent_at, expires_at, visible_at, count)
        self._msgs[seq] = msg
        heapq.heappush(self._expiry, (expires_at, seq, msg))
        if visible_at > now:
            msg.state = _DELAYED
            self._n_delayed += 1
            msg.ttok = tok = self._tok()
            heapq.heappush(self._timers, (visible_at, seq, tok, msg))
        if self._fifo:
            group = self._groups.get(group_id)
            if group is None:
                group = self._groups[group_id] = _Group(group_id)
                group.msgs[seq] = msg
                self._rekey(group)
            else:
                # the tail changes neither the head nor the received prefix: same key
                group.msgs[seq] = msg
        else:
            msg.dtok = tok = self._tok()
            heapq.heappush(self._ready, (visible_at, seq, tok, msg))
        return msg

    def _arrive(self, msg):
        """Take ``msg`` (stored in a source queue, just removed there) by redrive."""
        with self._lock:
            now = self._time()
            self._advance(now)
            start = now if self._fifo else msg.sent_at
            self._store(msg.id, msg.body, msg.attributes, msg.group, now, msg.sent_at,
                        start + self._retention, now, msg.count)
            self._stats["redriven_in"] += 1

    # -- receiving ----------------------------------------------------------------------
    def receive(self, max_messages=1, visibility_timeout=None, wait_time=0.0):
        """Up to ``max_messages`` (1..10) visible messages, each now invisible for
        ``visibility_timeout`` (default: the queue's) and with a new receipt handle.

        ``wait_time`` (0..20 s) long-polls: with a real clock (``time.monotonic``,
        ``time.time`` or ``time.perf_counter``) the call sleeps in steps of
        ``POLL_STEP`` until a message is visible or the time is up. With any other
        clock (a simulation's) it returns at once what is available: nothing else
        would move that clock on.
        """
        if type(max_messages) is not int and (isinstance(max_messages, bool) or
                                              not isinstance(max_messages, numbers.Integral)):
            raise TypeError(f"max_messages must be a whole number, not "
                            f"{type(max_messages).__name__}")
        if not 1 <= max_messages <= MAX_RECEIVE:
            raise ValueError(f"max_messages must be within 1..{MAX_RECEIVE}, got {max_messages}")
        limit = int(max_messages)
        vt = (self._vt if visibility_timeout is None else
              _seconds("visibility_timeout", visibility_timeout, 0.0, MAX_VISIBILITY))
        wait = _seconds("wait_time", wait_time, 0.0, MAX_WAIT)
        with self._lock:
            now = self._time()
            self._advance(now)
            got = self._receive(limit, vt, now)
        if got or wait == 0.0 or not self._real:
            return got
        deadline = self._clock() + wait
        while True:
            left = deadline - self._clock()
            if left <= 0.0:
                return []
            time.sleep(min(POLL_STEP, left))
            with self._lock:
                now = self._time()
                self._advance(now)
                got = self._receive(limit, vt, now)
            if got:
                return got

    def _receive(self, limit, vt, now):
        if self._fifo:
            return self._receive_fifo(limit, vt, now)
        ready = self._ready
        max_rc = self._max_rc
        taken = []
        while ready and ready[0][0] <= now:
            _, _, tok, msg = heapq.heappop(ready)
            if msg.dtok != tok:
                continue
            msg.dtok = 0
            if max_rc is not None and msg.count >= max_rc:
                self._redrive(msg)
                continue
            taken.append(msg)
            if len(taken) == limit:
                break
        return self._deliver(taken, vt, now)

    def _receive_fifo(self, limit, vt, now):
        gheap = self._gheap
        max_rc = self._max_rc
        taken = []
        touched = []
        while len(taken) < limit and gheap and gheap[0][0] <= now:
            _, _, tok, group = heapq.heappop(gheap)
            if group.tok != tok:
                continue
            group.tok = 0
            touched.append(group)
            room = limit - len(taken)
            take = []
            dead = []
            for msg in group.msgs.values():
                if len(take) == room or msg.visible_at > now:
                    break
                if max_rc is not None and msg.count >= max_rc:
                    dead.append(msg)
                else:
                    take.append(msg)
            for msg in dead:
                self._redrive(msg, rekey=False)
            taken.extend(take)
        out = self._deliver(taken, vt, now)
        for group in touched:
            if self._groups.get(group.gid) is group:
                self._rekey(group)
        return out

    def _deliver(self, taken, vt, now):
        out = []
        if not taken:
            return out
        until = now + vt
        uid = self._uid
        fifo = self._fifo
        serial = self._serial
        self._serial = serial + len(taken)
        for msg in taken:
            msg.count += 1
            msg.handle = handle = f"{uid}.{msg.seq}.{serial}"
            serial += 1
            msg.received_at = now
            msg.visible_at = until
            msg.here = True
            tok = self._tok()
            if vt > 0.0:
                msg.state = _IN_FLIGHT
                self._n_in_flight += 1
                msg.ttok = tok
                heapq.heappush(self._timers, (until, msg.seq, tok, msg))
            if not fifo:
                msg.dtok = tok
                heapq.heappush(self._ready, (until, msg.seq, tok, msg))
            out.append(Message(msg.id, msg.body, msg.attributes, handle, msg.count,
                               msg.sent_at, msg.group))
        self._stats["received"] += len(out)
        return out

    def _redrive(self, msg, rekey=True):
        self._remove(msg, rekey)
        self._stats["redriven"] += 1
        self._dlq._arrive(msg)

    # -- deleting and changing visibility -----------------------------------------------
    def _held(self, receipt_handle):
        """(the in-flight message ``receipt_handle`` is the latest handle of, or None;
        now), after the clock's timers have run; the caller holds the lock."""
        seq = self._parse(receipt_handle)
        now = self._time()
        self._advance(now)
        return self._in_flight_msg(seq, receipt_handle), now

    def delete(self, receipt_handle):
        """Delete the message that ``receipt_handle`` was issued for, if it is the
        message's latest handle and the message is in flight; return whether it was.

        A handle that is not one this queue issued raises :class:`InvalidReceiptHandle`
        (a ValueError), as SQS does for another queue's handle.
        """
        with self._lock:
            msg, _ = self._held(receipt_handle)
            if msg is None:
                return False
            self._remove(msg)
            self._stats["deleted"] += 1
            return True

    def change_visibility(self, receipt_handle, timeout):
        """Make an in-flight message invisible for ``timeout`` (0..43200) seconds from
        now (0: visible at once); return False if the handle is outdated or the message
        no longer in flight. SQS rejects (ValueError here) a timeout that would keep the
        message invisible for more than 12 hours after the receive."""
        timeout = _seconds("timeout", timeout, 0.0, MAX_VISIBILITY)
        with self._lock:
            msg, now = self._held(receipt_handle)
            if msg is None:
                return False
            if now + timeout - msg.received_at > MAX_VISIBILITY:
                raise ValueError(f"a message stays invisible at most {MAX_VISIBILITY:g} s "
                                 f"after its receive; {timeout:g} s from now would be "
                                 f"{now + timeout - msg.received_at:g} s")
            until = now + timeout
            msg.visible_at = until
            tok = self._tok()
            if timeout > 0.0:
                msg.ttok = tok
                heapq.heappush(self._timers, (until, msg.seq, tok, msg))
            else:
                msg.ttok = 0
                msg.state = _VISIBLE
                self._n_in_flight -= 1
            if self._fifo:
                self._rekey(self._groups[msg.group])
            else:
                msg.dtok = tok
                heapq.heappush(self._ready, (until, msg.seq, tok, msg))
            return True

    def _parse(self, handle):
        if not isinstance(handle, str):
            raise TypeError(f"a receipt handle is a str, not {type(handle).__name__}")
        parts = handle.split(".")
        if len(parts) != 3:
            raise InvalidReceiptHandle(f"malformed receipt handle {handle!r}")
        uid, seq, serial = parts
        if not (seq.isdigit() and serial.isdigit() and seq.isascii() and serial.isascii()
                and len(uid) == len(self._uid)):
            raise InvalidReceiptHandle(f"malformed receipt handle {handle!r}")
        if uid != self._uid:
            raise InvalidReceiptHandle(f"receipt handle {handle!r} belongs to another queue")
        seq, serial = int(seq), int(serial)
        if f"{self._uid}.{seq}.{serial}" != handle or seq >= self._seq or serial >= self._serial:
            raise InvalidReceiptHandle(f"receipt handle {handle!r} was never issued by "
                                       "this queue")
        return seq

    def _in_flight_msg(self, seq, handle):
        msg = self._msgs.get(seq)
        if msg is None or msg.handle != handle or msg.state != _IN_FLIGHT:
            return None
        return msg

    # -- bookkeeping --------------------------------------------------------------------
    def _time(self):
        now = self._clock()
        if now >= self._last:
            self._last = now
            return now
        return self._last               # a clock that went back (or NaN)

    def _advance(self, now):
        """Bring the queue to time ``now``: expire messages, end delays and visibility
        timeouts, forget old deduplication ids, and drop dead heap entries in bulk."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            msg = heapq.heappop(expiry)[2]
            if msg.stored:
                self._remove(msg)
                self._stats["expired"] += 1
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, tok, msg = heapq.heappop(timers)
            if msg.ttok == tok:
                msg.ttok = 0
                if msg.state == _IN_FLIGHT:
                    self._n_in_flight -= 1
                else:
                    self._n_delayed -= 1
                msg.state = _VISIBLE
        dq = self._dedup_q
        while dq and dq[0][0] <= now:
            del self._dedup[dq.popleft()[1]]
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = COMPACT_EVERY
            self._compact()

    def _remove(self, msg, rekey=True):
        del self._msgs[msg.seq]
        msg.stored = False
        if msg.state == _IN_FLIGHT:
            self._n_in_flight -= 1
        elif msg.state == _DELAYED:
            self._n_delayed -= 1
        msg.state = _VISIBLE
        msg.ttok = msg.dtok = 0
        if self._fifo:
            group = self._groups[msg.group]
            del group.msgs[msg.seq]
            if not group.msgs:
                del self._groups[msg.group]
                group.tok = 0
            elif rekey:
                self._rekey(group)

    def _rekey(self, group):
        """Push the group's entry: ready when its head and every message received from
        it are visible (a received prefix of at most 10 messages), ties by head."""
        msgs = iter(group.msgs.values())
        head = next(msgs)
        ready = head.visible_at
        if head.here:
            for msg in msgs:
                if not msg.here:
                    break
                if msg.visible_at > ready:
                    ready = msg.visible_at
        group.tok = tok = self._tok()
        heapq.heappush(self._gheap, (ready, head.seq, tok, group))

    def _compact(self):
        """Rebuild a heap once its dead entries outnumber its live ones (amortised O(1))."""
        n = len(self._msgs)
        if len(self._expiry) > 2 * n + 64:
            self._expiry = [e for e in self._expiry if e[2].stored]
            heapq.heapify(self._expiry)
        if len(self._timers) > 2 * (self._n_in_flight + self._n_delayed) + 64:
            self._timers = [e for e in self._timers if e[3].ttok == e[2]]
            heapq.heapify(self._timers)
        if self._fifo:
            if len(self._gheap) > 2 * len(self._groups) + 64:
                self._gheap = [e for e in self._gheap if e[3].tok == e[2]]
                heapq.heapify(self._gheap)
        elif len(self._ready) > 2 * n + 64:
            self._ready = [e for e in self._ready if e[3].dtok == e[2]]
            heapq.heapify(self._ready)

    # -- counters -----------------------------------------------------------------------
    def _now_counts(self):
        with self._lock:
            self._advance(self._time())
            return len(self._msgs), self._n_in_flight, self._n_delayed

    def __len__(self):
        """Stored messages: visible, in flight or delayed."""
        return self._now_counts()[0]

    def visible(self):
        """Stored messages neither in flight nor delayed."""
        n, flying, held = self._now_counts()
        return n - flying - held

    def in_flight(self):
        """Received messages whose visibility timeout is not over (neither deleted)."""
        return self._now_counts()[1]

    def delayed(self):
        """Messages whose delay is not over (never received from this queue)."""
        return self._now_counts()[2]

    def stats(self):
        """Counts since creation: ``sent`` (stored by send), ``received`` (deliveries),
        ``deleted``, ``redriven`` (moved to the dead-letter queue), ``redriven_in``
        (moved here from a source queue), ``expired`` and ``deduplicated`` (sends
        accepted and dropped). At any time
        ``sent + redriven_in == len(q) + deleted + expired + redriven``."""
        with self._lock:
            self._advance(self._time())
            return dict(self._stats)

    def _check(self):
        """Check every internal invariant (O(n), for tests); raise AssertionError."""
        with self._lock:
            now = self._time()
            self._advance(now)
            flying = held = 0
            for seq, msg in self._msgs.items():
                assert msg.seq == seq and msg.stored and msg.expires_at > now
                if msg.visible_at <= now:
                    assert msg.state == _VISIBLE and msg.ttok == 0
                else:
                    assert msg.state == (_IN_FLIGHT if msg.here else _DELAYED)
                    assert msg.ttok
                    flying += msg.state == _IN_FLIGHT
                    held += msg.state == _DELAYED
                assert msg.here == (msg.handle is not None)
            assert (flying, held) == (self._n_in_flight, self._n_delayed)
            live = [e for e in self._timers if e[3].ttok == e[2]]
            assert sorted(e[1] for e in live) == sorted(
                m.seq for m in self._msgs.values() if m.state != _VISIBLE)
            assert all(e[0] == e[3].visible_at for e in live)
            assert sorted(e[1] for e in self._expiry if e[2].stored) == sorted(self._msgs)
            if self._fifo:
                assert not self._ready
                seen = 0
                for gid, group in self._groups.items():
                    assert group.gid == gid and group.msgs
                    seqs = list(group.msgs)
                    assert seqs == sorted(seqs)
                    assert all(self._msgs[s].group == gid for s in seqs)
                    here = [m.here for m in group.msgs.values()]
                    prefix = here.index(False) if False in here else len(here)
                    assert not any(here[prefix:]) and prefix <= MAX_RECEIVE
                    seen += len(seqs)
                    entries = [e for e in self._gheap if e[3] is group and e[2] == group.tok]
                    assert len(entries) == 1
                    head = group.msgs[seqs[0]]
                    ready = max([head.visible_at] + [m.visible_at for m in group.msgs.values()
                                                     if m.here])
                    assert entries[0][:2] == (ready, head.seq)
                assert seen == len(self._msgs)
                assert len(self._dedup) == len(self._dedup_q)
                assert all(self._dedup.get(k) is not None and t > now
                           for t, k in self._dedup_q)
            else:
                assert not self._groups and not self._gheap and not self._dedup
                live = [e for e in self._ready if e[3].dtok == e[2]]
                assert sorted(e[1] for e in live) == sorted(self._msgs)
                assert all(e[0] == e[3].visible_at for e in live)
            s = self._stats
            assert s["sent"] + s["redriven_in"] == (len(self._msgs) + s["deleted"]
                                                  + s["expired"] + s["redriven"])
