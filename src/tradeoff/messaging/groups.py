"""Kafka-style consumer groups over a :class:`~tradeoff.messaging.Log`.

A :class:`Group` shares the partitions of one log among its members, one owner per
partition, as chosen by an assignor of :mod:`tradeoff.messaging.assignors`; every
:meth:`~Group.join` and :meth:`~Group.leave` rebalances. Each partition has a
*committed offset* (where the group resumes after a rebalance or a restart, Kafka's
``__consumer_offsets``) and a *position* (the next offset its owner will fetch, in
memory only). :meth:`~Group.poll` reads from the positions and moves them on;
:meth:`~Group.commit` makes them the committed offsets.

Rebalances follow the consumer's two protocols. Under the *eager* one (range,
roundrobin and sticky) every member gives up every partition before the new
assignment is handed out, so nothing is consumed during the rebalance and every
partition's position is forgotten: each owner restarts from the committed offset,
even of a partition it keeps. Under the *cooperative* one (cooperative-sticky,
KIP-429) only the partitions that change owner are revoked (in a first round) and
handed over (in a second); the others stay consumable and keep their positions.
Either way a partition whose position was forgotten restarts from its committed
offset, so whatever its owner polled and did not commit is delivered again: the
duplicates of at-least-once delivery, counted in :attr:`Rebalance.redelivered`.

A rebalance completes within the call to join or leave; the :class:`Rebalance` it
returns tells what a real group would have gone through (the partitions paused, the
rounds). The group holds a few integers per partition (owner, committed offset,
position) and nothing per record.

>>> from tradeoff.messaging import Log
>>> log = Log(2)
>>> for i in range(6):
...     _ = log.append(None, b"m%d" % i, partition=i % 2, timestamp=0)
>>> g = Group(log, "billing", auto_offset_reset="earliest")
>>> g.join("a").assigned
{'a': [0, 1]}
>>> [(p, r.offset, r.value) for p, r in g.poll("a", max_records=4)]
[(0, 0, b'm0'), (0, 1, b'm2'), (0, 2, b'm4'), (1, 0, b'm1')]
>>> g.commit("a", {0: 2})
{0: 2}
>>> r = g.join("b")
>>> g.assignment(), r.paused, r.redelivered
({'a': [0], 'b': [1]}, [0, 1], {0: 1, 1: 1})
>>> [(p, r.offset) for p, r in g.poll("a")], [(p, r.offset) for p, r in g.poll("b")]
([(0, 2)], [(1, 0), (1, 1), (1, 2)])
>>> g.lag()
{0: 1, 1: 3}
"""
from typing import NamedTuple

from ._checks import integer
from .assignors import PROTOCOLS, cooperative_rounds, get_assignor, moves
from .errors import NoOffset, OffsetOutOfRange

__all__ = ["Group", "Polled", "Rebalance"]

RESETS = ("earliest", "latest", "none")


class Rebalance(NamedTuple):
    """What one rebalance did.

    ``revoked`` and ``assigned`` are the changes of ownership (member -> partitions
    it lost / gained, members with none left out); under the eager protocol every
    member gives up and gets back all its partitions besides. ``moved`` counts the
    partitions that changed owner (:func:`~tradeoff.messaging.assignors.moves`).
    ``paused`` lists the partitions nobody could consume during the rebalance (eager:
    every partition owned before it; cooperative: those that moved): their positions
    are forgotten and they restart from their committed offsets. ``redelivered``:
    partition -> how many offsets between where the restart will be (the committed
    offset, or the log start under ``auto_offset_reset="earliest"``, as of the
    rebalance) and the forgotten position will be delivered a second time. ``rounds``:
    1, or 2 for a cooperative rebalance that revoked partitions from a member that
    stays (KIP-429's follow-up rebalance)."""
    generation: int
    protocol: str
    moved: int
    revoked: dict
    assigned: dict
    paused: list
    rounds: int
    redelivered: dict


class Polled:
    """What :meth:`Group.poll` returns: ``batches``, the non-empty
    :class:`~tradeoff.messaging.Batch` es fetched in partition order (a partition may
    give several, one per segment). Iterating yields ``(partition, Record)`` pairs;
    ``len`` is the number of records; :meth:`records` is the flat list."""
    __slots__ = ("batches",)

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return sum(len(b) for b in self.batches)

    def __iter__(self):
        for b in self.batches:
            p = int(b.partition)
            for rec in b:
                yield p, rec

    def records(self):
        """``[(partition, Record), ...]`` in the order fetched."""
        return list(self)

    def __repr__(self):
        return f"Polled(batches={len(self.batches)}, records={len(self)})"


class Group:
    """A consumer group ``group_id`` reading ``log``.

    ``assignor``: a name of :data:`~tradeoff.messaging.assignors.ASSIGNORS` (range,
    roundrobin, sticky, cooperative-sticky). ``auto_offset_reset``: where a partition
    with no committed offset starts, and where a position outside the log (below the
    log start offset after retention, or past the end) goes: ``"earliest"`` (the log
    start offset), ``"latest"`` (the log end offset, when the position is first
    needed) or ``"none"`` (:class:`~tradeoff.messaging.errors.NoOffset` for a missing
    commit, :class:`~tradeoff.messaging.OffsetOutOfRange` for a position outside the
    log).

    Every method checks its arguments before it changes anything: a call that raises
    leaves the group as it was. Member ids are non-empty strings.
    """

    def __init__(self, log, group_id, assignor="range", auto_offset_reset="latest"):
        if not isinstance(group_id, str):
            raise TypeError(f"group_id must be a string, got {group_id!r}")
        if not group_id:
            raise ValueError("group_id must not be empty")
        fn = get_assignor(assignor)
        if auto_offset_reset not in RESETS:
            raise ValueError(f"auto_offset_reset must be one of {', '.join(RESETS)}, "
                             f"got {auto_offset_reset!r}")
        for attr in ("partitions", "log_start_offset", "log_end_offset", "fetch"):
            if not hasattr(log, attr):
                raise TypeError(f"log must be a tradeoff.messaging.Log, got {type(log).__name__}")
        self.log = log
        self.group_id = group_id
        self.assignor = assignor
        self.protocol = PROTOCOLS[assignor]
        self.auto_offset_reset = auto_offset_reset
        self.generation = 0
        self._assign_fn = fn
        self._P = int(log.partitions)
        self._assignment = {}                   # member -> sorted list of partitions
        self._committed = [None] * self._P      # committed offset per partition
        self._position = [None] * self._P       # next offset to fetch; None: not known yet

    def __repr__(self):
        return (f"Group({self.group_id!r}, assignor={self.assignor!r}, members={len(self._assignment)}, "
                f"generation={self.generation})")

    # ------------------------------------------------------------ checking

    def _member(self, member):
        if not isinstance(member, str):
            raise TypeError(f"a member id must be a string, got {member!r}")
        if member not in self._assignment:
            raise ValueError(f"unknown member {member!r} of group {self.group_id!r}")
        return member

    def _partition(self, partition):
        p = integer(partition, "partition")
        if not 0 <= p < self._P:
            raise ValueError(f"unknown partition {p}: the log has partitions 0..{self._P - 1}")
        return p

    def _offset(self, p, offset):
        off = integer(offset, "offset")
        if off < 0:
            raise ValueError(f"offset must be >= 0, got {off}")
        end = self.log.log_end_offset(p)
        if off > end:
            raise OffsetOutOfRange(f"offset {off} is past the log end offset {end} of partition {p}")
        return off

    # ------------------------------------------------------------ membership

    def members(self):
        """The member ids, sorted."""
        return sorted(self._assignment)

    def assignment(self):
        """member -> its partitions (sorted), a copy."""
        return {m: list(parts) for m, parts in self._assignment.items()}

    def join(self, member):
        """Add ``member`` and rebalance; the :class:`Rebalance`."""
        if not isinstance(member, str):
            raise TypeError(f"a member id must be a string, got {member!r}")
        if not member:
            raise ValueError("a member id must not be empty")
        if member in self._assignment:
            raise ValueError(f"member {member!r} has already joined group {self.group_id!r}")
        return self._rebalance(list(self._assignment) + [member])

    def leave(self, member):
        """Remove ``member`` and rebalance; the :class:`Rebalance`. Its uncommitted
        progress is lost: the partitions' next owners restart from the committed
        offsets."""
        self._member(member)
        return self._rebalance([m for m in self._assignment if m != member])

    def _rebalance(self, members):
        previous = self._assignment
        target = self._assign_fn(members, self._P, previous)
        old_owner = {p: m for m, parts in previous.items() for p in parts}
        new_owner = {p: m for m, parts in target.items() for p in parts}
        revoked, assigned = {}, {}
        for m, parts in previous.items():
            lost = [p for p in parts if new_owner.get(p) != m]
            if lost:
                revoked[m] = lost
        for m, parts in target.items():
            got = [p for p in parts if old_owner.get(p) != m]
            if got:
                assigned[m] = got
        if self.protocol == "cooperative":
            paused = sorted(p for p, m in old_owner.items() if new_owner.get(p) != m)
            round1, _ = cooperative_rounds(previous, target)
            rounds = 2 if any(round1[m] != previous[m] for m in round1 if m in previous) else 1
        else:
            paused = sorted(old_owner)
            rounds = 1
        redelivered = {}
        for p in paused:
            pos = self._position[p]
            restart = self._committed[p]
            if restart is None and self.auto_offset_reset == "earliest":
                restart = self.log.log_start_offset(p)
            if pos is not None and restart is not None and pos > restart:
                redelivered[p] = pos - restart
        # everything is known: change the state
        for p in paused:
            self._position[p] = None
        self._assignment = {m: list(target[m]) for m in sorted(target)}
        self.generation += 1
        return Rebalance(self.generation, self.protocol, moves(previous, target), revoked, assigned,
                         paused, rounds, redelivered)

    # ------------------------------------------------------------ offsets

    def _start(self, p):
        """Where partition p starts with no position: the committed offset, else per
        auto_offset_reset."""
        c = self._committed[p]
        if c is not None:
            return c
        if self.auto_offset_reset == "earliest":
            return self.log.log_start_offset(p)
        if self.auto_offset_reset == "latest":
            return self.log.log_end_offset(p)
        raise NoOffset(f"partition {p} has no committed offset in group {self.group_id!r} "
                       f"and auto_offset_reset is 'none'")

    def committed(self, partition):
        """The committed offset of ``partition``, or None."""
        return self._committed[self._partition(partition)]

    def position(self, partition):
        """The next offset the owner of ``partition`` fetches. Not known yet (a new
        group, or after a rebalance paused it): the committed offset, else per
        ``auto_offset_reset``, which becomes the position (as Kafka's
        ``position()`` looks it up); :class:`~tradeoff.messaging.errors.NoOffset`
        under ``"none"``. A position that retention has left below the log start is
        returned as it is; the next poll resets it."""
        p = self._partition(partition)
        if self._position[p] is None:
            self._position[p] = self._start(p)
        return self._position[p]

    def seek(self, partition, offset):
        """Set the position of ``partition`` (owned or not: positions belong to the
        group here, not to a member) to ``offset`` (0 to the log end offset; past the
        end: :class:`~tradeoff.messaging.OffsetOutOfRange`. Kafka accepts it and
        resets at the next fetch; here positions never pass the end). A rebalance
        that pauses the partition forgets the position again."""
        p = self._partition(partition)
        self._position[p] = self._offset(p, offset)

    def _some(self, partition):
        return range(self._P) if partition is None else [self._partition(partition)]

    def seek_to_beginning(self, partition=None):
        """Set the position of ``partition`` (default: every partition) to its log
        start offset now."""
        for p in self._some(partition):
            self._position[p] = self.log.log_start_offset(p)

    def seek_to_end(self, partition=None):
        """Set the position of ``partition`` (default: every partition) to its log end
        offset now."""
        for p in self._some(partition):
            self._position[p] = self.log.log_end_offset(p)

    def commit(self, member, offsets=None):
        """Commit ``member``'s positions (those known) or ``offsets`` ({partition:
        offset}, only partitions ``member`` owns; offsets from 0 to the log end);
        returns what was committed, {partition: offset}."""
        self._member(member)
        mine = self._assignment[member]
        if offsets is None:
            todo = {p: self._position[p] for p in mine if self._position[p] is not None}
        else:
            if not hasattr(offsets, "items"):
                raise TypeError(f"offsets must be a dict of partition -> offset, got {type(offsets).__name__}")
            owned = set(mine)
            todo = {}
            for partition, offset in offsets.items():
                p = self._partition(partition)
                if p not in owned:
                    raise ValueError(f"member {member!r} does not own partition {p} "
                                     f"(it owns {mine})")
                todo[p] = self._offset(p, offset)
        for p, off in todo.items():
            self._committed[p] = off
        return dict(sorted(todo.items()))

    def lag(self):
        """partition -> log end offset minus the committed offset (no commit: minus
        the log start offset)."""
        out = {}
        for p in range(self._P):
            c = self._committed[p]
            out[p] = self.log.log_end_offset(p) - (self.log.log_start_offset(p) if c is None else c)
        return out

    # ------------------------------------------------------------ reading

    def poll(self, member, max_records=500):
        """Fetch up to ``max_records`` records for ``member``: its partitions in
        order, each from its position (first the committed offset, else per
        ``auto_offset_reset``), until the records run out or the budget does (so a
        busy low partition can hold back the later ones). A position below the log
        start offset (retention deleted what it pointed at) or past the end is reset
        per ``auto_offset_reset`` (``"none"``:
        :class:`~tradeoff.messaging.OffsetOutOfRange`). Every position is looked up
        and checked before anything is fetched, so an error leaves the group as it was.

        The positions move past what was returned; the committed offsets do not
        (:meth:`commit`). Returns a :class:`Polled`.
        """
        self._member(member)
        budget = integer(max_records, "max_records")
        if budget < 1:
            raise ValueError(f"max_records must be >= 1, got {budget}")
        plan = []
        for p in self._assignment[member]:
            pos = self._position[p]
            if pos is None:
                pos = self._start(p)
            start, end = self.log.log_start_offset(p), self.log.log_end_offset(p)
            if not start <= pos <= end:
                if self.auto_offset_reset == "none":
                    raise OffsetOutOfRange(f"the position {pos} of partition {p} is out of range: "
                                           f"the log holds offsets {start} to {end} (end), and "
                                           f"auto_offset_reset is 'none'")
                pos = start if self.auto_offset_reset == "earliest" else end
            plan.append((p, pos))
        batches = []
        for p, pos in plan:
            while budget > 0:
                batch = self.log.fetch(p, pos, max_records=budget)
                pos = batch.next_offset
                if not len(batch):
                    break
                batches.append(batch)
                budget -= len(batch)
            self._position[p] = pos
        return Polled(batches)
