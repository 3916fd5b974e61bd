"""Consumer groups: rebalances under the eager and cooperative protocols, positions and
commits, the at-least-once duplicates a rebalance causes, auto_offset_reset and
retention, bad input (which must leave the group as it was), and a state machine
that runs a Group beside a small pure-Python model."""
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradeoff.messaging import Group, Log, NoOffset, OffsetOutOfRange, Polled, Rebalance
from tradeoff.messaging.assignors import ASSIGNORS, PROTOCOLS


def filled(partitions=2, per_partition=5, **kw):
    log = Log(partitions, **kw)
    for p in range(partitions):
        for i in range(per_partition):
            log.append(None, b"%d-%d" % (p, i), partition=p, timestamp=0)
    return log


def offsets(polled):
    return [(p, r.offset) for p, r in polled]


def state(g):
    """Everything a group holds."""
    return (g.assignment(), list(g._committed), list(g._position), g.generation, g.members())


# ---------------------------------------------------------------- membership and rebalances

def test_join_and_leave_rebalance_with_the_assignor():
    g = Group(filled(4), "g", assignor="roundrobin")
    r = g.join("b")
    assert isinstance(r, Rebalance) and r.generation == 1 and r.protocol == "eager"
    assert g.assignment() == {"b": [0, 1, 2, 3]}
    assert r.moved == 0 and r.paused == [] and r.assigned == {"b": [0, 1, 2, 3]} and r.revoked == {}
    r = g.join("a")
    assert g.assignment() == {"a": [0, 2], "b": [1, 3]} and g.members() == ["a", "b"]
    assert r.moved == 2 and r.revoked == {"b": [0, 2]} and r.assigned == {"a": [0, 2]}
    assert r.paused == [0, 1, 2, 3] and r.rounds == 1          # eager: everything stops
    r = g.leave("a")
    assert g.assignment() == {"b": [0, 1, 2, 3]}
    assert r.moved == 2 and r.revoked == {"a": [0, 2]} and r.assigned == {"b": [0, 2]}
    r = g.leave("b")
    assert g.assignment() == {} and r.moved == 4 and r.paused == [0, 1, 2, 3]
    assert g.generation == 4


def test_cooperative_pauses_only_what_moves_and_takes_two_rounds_when_it_revokes():
    g = Group(filled(6), "g", assignor="cooperative-sticky", auto_offset_reset="earliest")
    r = g.join("a")
    assert r.protocol == "cooperative" and r.rounds == 1 and r.paused == []
    g.poll("a")
    r = g.join("b")
    assert g.assignment() == {"a": [0, 1, 2], "b": [3, 4, 5]}
    assert r.paused == [3, 4, 5] and r.revoked == {"a": [3, 4, 5]} and r.rounds == 2
    # what stayed with a keeps its position; what moved restarts from the commit
    assert [g._position[p] for p in range(6)] == [5, 5, 5, None, None, None]
    r = g.leave("b")
    assert r.paused == [3, 4, 5] and r.rounds == 1     # nobody who stays gave anything up
    assert g.assignment() == {"a": [0, 1, 2, 3, 4, 5]}


def test_eager_forgets_every_position_even_of_partitions_that_stay():
    g = Group(filled(2), "g", assignor="sticky", auto_offset_reset="earliest")
    g.join("a")
    assert len(g.poll("a")) == 10
    g.commit("a", {0: 2})
    r = g.join("b")
    assert g.assignment() == {"a": [0], "b": [1]}
    assert r.paused == [0, 1] and r.redelivered == {0: 3, 1: 5}
    assert offsets(g.poll("a")) == [(0, 2), (0, 3), (0, 4)]   # a kept 0 but lost its place


def test_a_moved_partition_redelivers_what_its_old_owner_did_not_commit():
    log = filled(2, 6)
    g = Group(log, "g", assignor="cooperative-sticky", auto_offset_reset="earliest")
    g.join("a")
    first = g.poll("a", max_records=8)
    assert offsets(first)[:6] == [(0, i) for i in range(6)]
    assert offsets(first)[6:] == [(1, 0), (1, 1)]
    g.commit("a", {0: 6, 1: 1})                 # a processed (1, 1) but did not commit it
    assert g.committed(1) == 1 and g.position(1) == 2
    r = g.join("b")
    assert g.assignment() == {"a": [0], "b": [1]}
    assert r.paused == [1] and r.redelivered == {1: 1}
    again = g.poll("b")
    assert offsets(again) == [(1, i) for i in range(1, 6)]
    duplicates = {(p, rec.offset) for p, rec in first} & {(p, rec.offset) for p, rec in again}
    assert duplicates == {(1, 1)}
    assert offsets(g.poll("a")) == []


def test_a_leavers_uncommitted_progress_is_delivered_again():
    g = Group(filled(1, 4), "g", auto_offset_reset="earliest")
    g.join("a")
    g.join("b")
    owner = [m for m, parts in g.assignment().items() if parts][0]
    other = "b" if owner == "a" else "a"
    assert len(g.poll(owner)) == 4
    r = g.leave(owner)
    assert r.redelivered == {0: 4}
    assert offsets(g.poll(other)) == [(0, i) for i in range(4)]


# ---------------------------------------------------------------- positions and polls

def test_auto_offset_reset_decides_where_a_partition_without_a_commit_starts():
    log = filled(2, 3)
    early = Group(log, "e", auto_offset_reset="earliest")
    late = Group(log, "l", auto_offset_reset="latest")
    none = Group(log, "n", auto_offset_reset="none")
    for g in (early, late, none):
        g.join("m")
    assert len(early.poll("m")) == 6
    assert len(late.poll("m")) == 0
    log.append(None, b"new", partition=1, timestamp=0)
    assert [(p, r.offset, r.value) for p, r in late.poll("m")] == [(1, 3, b"new")]
    with pytest.raises(NoOffset, match="partition 0"):
        none.poll("m")
    with pytest.raises(NoOffset, match="partition 1"):
        none.position(1)
    assert state(none)[2] == [None, None]
    none.commit("m", {0: 1, 1: 2})
    assert offsets(none.poll("m")) == [(0, 1), (0, 2), (1, 2), (1, 3)]


def test_groups_are_independent():
    log = filled(1, 3)
    a, b = Group(log, "a", auto_offset_reset="earliest"), Group(log, "b", auto_offset_reset="earliest")
    a.join("x")
    b.join("x")
    assert len(a.poll("x")) == 3 and len(b.poll("x")) == 3


def test_poll_takes_the_partitions_in_order_within_the_budget_across_segments():
    log = filled(3, 5, segment_bytes=6)            # 3 bytes a value: two records a segment
    g = Group(log, "g", auto_offset_reset="earliest")
    g.join("m")
    got = g.poll("m", max_records=7)
    assert isinstance(got, Polled) and len(got) == 7
    assert offsets(got) == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1)]
    assert [int(b.partition) for b in got.batches] == [0, 0, 0, 1]   # one batch a segment
    assert got.records()[0][1].value == b"0-0"
    assert [g.position(p) for p in range(3)] == [5, 2, 0]
    assert offsets(g.poll("m", max_records=100)) == [(1, 2), (1, 3), (1, 4)] + [(2, i) for i in range(5)]
    assert len(g.poll("m")) == 0 and not g.poll("m")
    assert g.committed(0) is None                 # polling does not commit


def test_commit_and_lag():
    log = filled(2, 4)
    g = Group(log, "g", auto_offset_reset="earliest")
    assert g.lag() == {0: 4, 1: 4}
    g.join("m")
    g.poll("m", max_records=3)
    assert g.commit("m") == {0: 3, 1: 0}
    assert g.committed(0) == 3 and g.committed(1) == 0 and g.lag() == {0: 1, 1: 4}
    assert g.commit("m", {1: 4}) == {1: 4} and g.lag() == {0: 1, 1: 0}
    assert g.position(1) == 0                     # committing an offset does not seek


def test_seek():
    log = filled(2, 5)
    g = Group(log, "g", auto_offset_reset="latest")
    g.join("m")
    g.seek(0, 3)
    assert g.position(0) == 3
    assert offsets(g.poll("m")) == [(0, 3), (0, 4)]
    g.seek_to_beginning(0)
    assert g.position(0) == 0 and g.position(1) == 5
    g.seek_to_beginning()
    assert [g.position(p) for p in range(2)] == [0, 0]
    g.seek_to_end()
    assert [g.position(p) for p in range(2)] == [5, 5]
    g.seek(1, 5)
    assert len(g.poll("m")) == 0


def test_retention_resets_a_position_it_left_behind():
    def setup(reset):
        log = Log(1, segment_bytes=8, retention_bytes=8)    # two 4-byte records a segment
        for _ in range(4):
            log.append(None, b"abcd", partition=0, timestamp=0)
        g = Group(log, "g", auto_offset_reset=reset)
        g.join("m")
        g.commit("m", {0: 1})
        assert offsets(g.poll("m", max_records=1)) == [(0, 1)]
        for _ in range(3):
            log.append(None, b"abcd", partition=0, timestamp=0)
        assert log.log_start_offset(0) == 4 and log.log_end_offset(0) == 7
        return g

    g = setup("earliest")
    assert g.position(0) == 2                      # as it was; the poll resets it
    assert offsets(g.poll("m")) == [(0, 4), (0, 5), (0, 6)]
    g = setup("latest")
    assert offsets(g.poll("m")) == [] and g.position(0) == 7
    g = setup("none")
    before = state(g)
    with pytest.raises(OffsetOutOfRange, match="partition 0"):
        g.poll("m")
    assert state(g) == before
    assert g.lag() == {0: 6}                       # end minus the committed offset


def test_group_memory_does_not_grow_with_records():
    def consumed(n):
        log = filled(3, n)
        g = Group(log, "g", assignor="sticky", auto_offset_reset="earliest")
        g.join("a")
        g.join("b")
        for m in ("a", "b"):
            while len(g.poll(m, max_records=1000)):
                pass
            g.commit(m)
        assert sum(g.lag().values()) == 0
        return {k: (len(v) if hasattr(v, "__len__") else v) for k, v in vars(g).items()
                if k not in ("log", "_assign_fn")}

    small, large = consumed(3), consumed(3000)
    assert small == large
    assert large["_committed"] == large["_position"] == 3


# ---------------------------------------------------------------- bad input

def test_bad_construction():
    log = filled(1, 1)
    with pytest.raises(ValueError, match=r"^unknown assignor 'fair': choose from range, roundrobin"):
        Group(log, "g", assignor="fair")
    with pytest.raises(ValueError, match="auto_offset_reset"):
        Group(log, "g", auto_offset_reset="smallest")
    with pytest.raises(TypeError):
        Group(log, 7)
    with pytest.raises(ValueError):
        Group(log, "")
    with pytest.raises(TypeError):
        Group([1, 2], "g")


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
def test_bad_input_changes_nothing(name):
    log = filled(3, 4)
    g = Group(log, "g", assignor=name, auto_offset_reset="earliest")
    g.join("a")
    g.join("b")
    mine = g.assignment()["a"]
    theirs = g.assignment()["b"]
    g.poll("a", max_records=2)
    g.commit("a")
    bad = [
        (ValueError, "'a' has already joined", lambda: g.join("a")),
        (TypeError, None, lambda: g.join(3)),
        (ValueError, None, lambda: g.join("")),
        (ValueError, "unknown member 'zed'", lambda: g.leave("zed")),
        (TypeError, None, lambda: g.leave(None)),
        (ValueError, "unknown member 'zed'", lambda: g.poll("zed")),
        (ValueError, "max_records", lambda: g.poll("a", max_records=0)),
        (TypeError, None, lambda: g.poll("a", max_records=2.5)),
        (ValueError, "unknown member", lambda: g.commit("zed")),
        (ValueError, "does not own partition", lambda: g.commit("a", {mine[0]: 1, theirs[0]: 1})),
        (OffsetOutOfRange, None, lambda: g.commit("a", {mine[0]: 5})),
        (ValueError, "offset must be >= 0", lambda: g.commit("a", {mine[0]: -1})),
        (ValueError, "unknown partition 3", lambda: g.commit("a", {3: 0})),
        (TypeError, None, lambda: g.commit("a", {mine[0]: 1.0})),
        (TypeError, None, lambda: g.commit("a", [(mine[0], 1)])),
        (ValueError, "offset must be >= 0", lambda: g.seek(0, -1)),
        (TypeError, None, lambda: g.seek(0, 1.5)),
        (TypeError, None, lambda: g.seek(0, "2")),
        (TypeError, None, lambda: g.seek(0, True)),
        (TypeError, None, lambda: g.seek(True, 0)),
        (OffsetOutOfRange, "past the log end", lambda: g.seek(0, 5)),
        (ValueError, "unknown partition 3", lambda: g.seek(3, 0)),
        (ValueError, "unknown partition -1", lambda: g.seek(-1, 0)),
        (ValueError, "unknown partition 9", lambda: g.seek_to_beginning(9)),
        (ValueError, "unknown partition 9", lambda: g.seek_to_end(9)),
        (TypeError, None, lambda: g.seek_to_end("0")),
        (ValueError, "unknown partition 9", lambda: g.position(9)),
        (ValueError, "unknown partition 9", lambda: g.committed(9)),
    ]
    for exc, match, call in bad:
        before = state(g)
        with pytest.raises(exc, match=match):
            call()
        assert state(g) == before, call


# ---------------------------------------------------------------- the model

class GroupModel:
    """A consumer group in a few dicts: offsets as plain numbers, records as lists."""

    def __init__(self, log, assignor, reset):
        self.log = log                  # consulted only for its log start offsets
        self.P = log.partitions
        self.assign = ASSIGNORS[assignor]
        self.cooperative = PROTOCOLS[assignor] == "cooperative"
        self.reset = reset
        self.values = [[] for _ in range(self.P)]      # partition -> value at each offset
        self.assignment = {}
        self.committed = {}
        self.position = {}
        self.generation = 0

    def start(self, p):
        return self.log.log_start_offset(p)

    def end(self, p):
        return len(self.values[p])

    def rebalance(self, members):
        prev = self.assignment
        target = self.assign(members, self.P, prev)
        before = {p: m for m, ps in prev.items() for p in ps}
        after = {p: m for m, ps in target.items() for p in ps}
        moved = sorted(p for p, m in before.items() if after.get(p) != m)
        paused = moved if self.cooperative else sorted(before)
        rounds = 2 if self.cooperative and any(before[p] in target for p in moved) else 1
        redelivered = {}
        for p in paused:
            restart = self.committed.get(p)
            if restart is None and self.reset == "earliest":
                restart = self.start(p)
            pos = self.position.pop(p, None)
            if pos is not None and restart is not None and pos > restart:
                redelivered[p] = pos - restart
        revoked = {m: [p for p in ps if after.get(p) != m] for m, ps in prev.items()}
        assigned = {m: [p for p in ps if before.get(p) != m] for m, ps in target.items()}
        self.assignment = target
        self.generation += 1
        return (len(moved), {m: ps for m, ps in revoked.items() if ps},
                {m: ps for m, ps in assigned.items() if ps}, sorted(paused), rounds, redelivered)

    def initial(self, p):
        if p in self.committed:
            return self.committed[p]
        if self.reset == "none":
            raise NoOffset
        return self.start(p) if self.reset == "earliest" else self.end(p)

    def poll(self, member, budget):
        plan = []
        for p in sorted(self.assignment[member]):
            pos = self.position[p] if p in self.position else self.initial(p)
            if not self.start(p) <= pos <= self.end(p):
                if self.reset == "none":
                    raise OffsetOutOfRange
                pos = self.start(p) if self.reset == "earliest" else self.end(p)
            plan.append((p, pos))
        out = []
        for p, pos in plan:
            take = min(budget, self.end(p) - pos)
            out += [(p, o, self.values[p][o]) for o in range(pos, pos + take)]
            budget -= take
            self.position[p] = pos + take
        return out


MEMBERS = ["m0", "m1", "m2", "m3"]


class GroupMachine(RuleBasedStateMachine):
    @initialize(assignor=st.sampled_from(sorted(ASSIGNORS)),
                reset=st.sampled_from(["earliest", "latest", "none"]),
                partitions=st.integers(1, 4), retention=st.booleans(), first=st.integers(0, 3),
                prefill=st.integers(0, 6))
    def setup(self, assignor, reset, partitions, retention, first, prefill):
        # with retention: 4-byte values, two a segment, about four records kept
        kw = {"segment_bytes": 8, "retention_bytes": 8} if retention else {}
        self.log = Log(partitions, **kw)
        self.group = Group(self.log, "machine", assignor=assignor, auto_offset_reset=reset)
        self.model = GroupModel(self.log, assignor, reset)
        self.P = partitions
        for p in range(partitions):
            self.add(p, prefill)
        for member in MEMBERS[:first]:
            self.model.rebalance(list(self.model.assignment) + [member])
            self.group.join(member)

    def expect_failure(self, exc, call):
        before = state(self.group)
        with pytest.raises(exc):
            call()
        assert state(self.group) == before

    def member(self, data, call, *args):
        """A member to call ``call`` for: now and then a stranger, which must fail."""
        members = sorted(self.model.assignment)         # not empty: the rules' precondition
        member = data.draw(st.sampled_from(members)) if data.draw(st.integers(0, 7)) != 3 else "stranger"
        if member == "stranger":
            self.expect_failure(ValueError, lambda: getattr(self.group, call)(member, *args))
            return None
        return member

    @rule(member=st.sampled_from(MEMBERS))
    def join(self, member):
        if member in self.model.assignment:
            self.expect_failure(ValueError, lambda: self.group.join(member))
            return
        expected = self.model.rebalance(list(self.model.assignment) + [member])
        r = self.group.join(member)
        assert (r.moved, r.revoked, r.assigned, r.paused, r.rounds, r.redelivered) == expected

    @precondition(lambda self: self.model.assignment)
    @rule(data=st.data())
    def leave(self, data):
        member = self.member(data, "leave")
        if member is None:
            return
        expected = self.model.rebalance([m for m in self.model.assignment if m != member])
        r = self.group.leave(member)
        assert (r.moved, r.revoked, r.assigned, r.paused, r.rounds, r.redelivered) == expected

    def add(self, p, n):
        for _ in range(n):
            value = b"%d:%02d" % (p, len(self.model.values[p]) % 100)
            self.log.append(None, value, partition=p, timestamp=0)
            self.model.values[p].append(value)

    @rule(data=st.data(), n=st.integers(1, 8))
    def append(self, data, n):
        for _ in range(n):
            self.add(data.draw(st.integers(0, self.P - 1)), 1)

    def check_poll(self, member, budget):
        try:
            expected = self.model.poll(member, budget)
        except (NoOffset, OffsetOutOfRange) as e:
            self.expect_failure(type(e), lambda: self.group.poll(member, budget))
            return False
        got = [(p, r.offset, r.value) for p, r in self.group.poll(member, budget)]
        assert got == expected
        return True

    @precondition(lambda self: self.model.assignment)
    @rule(data=st.data(), budget=st.integers(1, 7))
    def poll(self, data, budget):
        member = self.member(data, "poll", budget)
        if member is not None:
            self.check_poll(member, budget)

    @precondition(lambda self: self.model.assignment)
    @rule(data=st.data(), budget=st.integers(1, 7))
    def poll_and_commit(self, data, budget):
        """A consumer's loop: poll, then commit what it polled."""
        member = self.member(data, "poll", budget)
        if member is not None and self.check_poll(member, budget):
            expected = {p: self.model.position[p] for p in self.model.assignment[member]}
            assert self.group.commit(member) == expected
            self.model.committed.update(expected)

    @precondition(lambda self: self.model.assignment)
    @rule(data=st.data())
    def commit(self, data):
        member = self.member(data, "commit")
        if member is None:
            return
        if data.draw(st.booleans()):
            expected = {p: self.model.position[p] for p in self.model.assignment[member]
                        if p in self.model.position}
            assert self.group.commit(member) == expected
            self.model.committed.update(expected)
            return
        wanted = data.draw(st.dictionaries(st.integers(0, self.P - 1), st.integers(0, 12), max_size=3))
        owned = set(self.model.assignment[member])
        if any(p not in owned for p in wanted):
            self.expect_failure(ValueError, lambda: self.group.commit(member, wanted))
        elif any(off > self.model.end(p) for p, off in wanted.items()):
            self.expect_failure(OffsetOutOfRange, lambda: self.group.commit(member, wanted))
        else:
            assert self.group.commit(member, wanted) == dict(sorted(wanted.items()))
            self.model.committed.update(wanted)

    @rule(data=st.data(), how=st.sampled_from(["seek", "beginning", "end"]))
    def seek(self, data, how):
        if how == "seek":
            p = data.draw(st.integers(0, self.P - 1))
            off = data.draw(st.integers(-1, self.model.end(p) + 1))
            if off < 0:
                self.expect_failure(ValueError, lambda: self.group.seek(p, off))
            elif off > self.model.end(p):
                self.expect_failure(OffsetOutOfRange, lambda: self.group.seek(p, off))
            else:
                self.group.seek(p, off)
                self.model.position[p] = off
            return
        p = data.draw(st.none() | st.integers(0, self.P - 1))
        (self.group.seek_to_end if how == "end" else self.group.seek_to_beginning)(p)
        for q in (range(self.P) if p is None else [p]):
            self.model.position[q] = self.model.end(q) if how == "end" else self.model.start(q)

    @rule(data=st.data())
    def position(self, data):
        p = data.draw(st.integers(0, self.P - 1))
        if p not in self.model.position:
            try:
                self.model.position[p] = self.model.initial(p)
            except NoOffset:
                self.expect_failure(NoOffset, lambda: self.group.position(p))
                return
        assert self.group.position(p) == self.model.position[p]

    @precondition(lambda self: hasattr(self, "group"))
    @invariant()
    def agrees_with_the_model(self):
        g, m = self.group, self.model
        assert g.assignment() == m.assignment
        assert g.members() == sorted(m.assignment)
        assert g.generation == m.generation
        assert [g.committed(p) for p in range(self.P)] == [m.committed.get(p) for p in range(self.P)]
        assert g._position == [m.position.get(p) for p in range(self.P)]
        assert g.lag() == {p: m.end(p) - m.committed.get(p, m.start(p)) for p in range(self.P)}
        assert [self.log.log_end_offset(p) for p in range(self.P)] == [m.end(p) for p in range(self.P)]
        owned = sorted(p for ps in m.assignment.values() for p in ps)
        assert owned == (list(range(self.P)) if m.assignment else [])


GroupMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
test_group_machine = GroupMachine.TestCase
