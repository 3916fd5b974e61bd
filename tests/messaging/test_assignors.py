"""The partition assignors: range and roundrobin against Kafka's worked examples,
properties of all four (every partition owned once, balance), the sticky goal
(balance first, then as little movement as balance allows, checked by brute force on
small cases), the cooperative rounds, and bad input."""
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.messaging.assignors import (ASSIGNORS, PROTOCOLS, cooperative_rounds,
                                          cooperative_sticky, get_assignor, moves, range_assign,
                                          roundrobin_assign, sticky_assign)

NAMES = ["C0", "C1", "C2", "C3", "C4", "C5", "C10", "alpha", "b", "zz"]

members_st = st.lists(st.sampled_from(NAMES), unique=True, max_size=7)
parts_st = st.integers(0, 30)


def owners(assignment):
    out = {}
    for m, parts in assignment.items():
        for p in parts:
            assert p not in out, f"partition {p} owned twice"
            out[p] = m
    return out


def check_valid(assignment, members, P, balanced=True):
    assert set(assignment) == set(members)
    for parts in assignment.values():
        assert parts == sorted(parts)
    assert sorted(owners(assignment)) == (list(range(P)) if members else [])
    if balanced and members:
        sizes = [len(v) for v in assignment.values()]
        assert max(sizes) - min(sizes) <= 1


def random_previous(draw, P):
    """Any previous assignment: present and departed members, partitions past P."""
    holders = draw(st.lists(st.sampled_from(NAMES + ["gone0", "gone1"]), unique=True, max_size=6))
    prev = {m: [] for m in holders}
    if holders:
        for p in draw(st.lists(st.integers(0, P + 2), unique=True)):
            prev[holders[draw(st.integers(0, len(holders) - 1))]].append(p)
    return {m: sorted(v) for m, v in prev.items()}


# ---------------------------------------------------------------- Kafka's examples

def test_range_kafkas_example():
    # the RangeAssignor javadoc: C0 and C1, a topic of 3 partitions
    assert range_assign(["C0", "C1"], 3) == {"C0": [0, 1], "C1": [2]}
    assert range_assign(["C1", "C0"], 3) == {"C0": [0, 1], "C1": [2]}


def test_range_three_members_seven_partitions():
    # 7 // 3 = 2 each, the first 7 % 3 = 1 member one more
    assert range_assign(["C2", "C0", "C1"], 7) == {"C0": [0, 1, 2], "C1": [3, 4], "C2": [5, 6]}
    assert range_assign(["C0", "C1", "C2", "C3"], 2) == {"C0": [0], "C1": [1], "C2": [], "C3": []}


def test_roundrobin_three_members_seven_partitions():
    assert roundrobin_assign(["C1", "C2", "C0"], 7) == {"C0": [0, 3, 6], "C1": [1, 4], "C2": [2, 5]}
    assert roundrobin_assign(["C0", "C1"], 3) == {"C0": [0, 2], "C1": [1]}


def test_members_are_in_javas_string_order():
    # "C10" < "C2" as strings, as in Java; outside the BMP Java compares UTF-16 units,
    # so a surrogate pair (0xD800...) sorts before U+FFFF, unlike Python's str order
    assert range_assign(["C2", "C10"], 3) == {"C10": [0, 1], "C2": [2]}
    astral, high = "\U00010000", "\uffff"
    assert astral > high
    assert roundrobin_assign([high, astral], 2) == {astral: [0], high: [1]}


def test_no_members_or_no_partitions():
    for fn in ASSIGNORS.values():
        assert fn([], 5) == {}
        assert fn(["a", "b"], 0) == {"a": [], "b": []}


# ---------------------------------------------------------------- properties

@pytest.mark.parametrize("name", sorted(ASSIGNORS))
@given(members=members_st, P=parts_st)
def test_every_partition_owned_exactly_once_and_balanced(name, members, P):
    out = get_assignor(name)(members, P)
    check_valid(out, members, P)
    assert get_assignor(name)(list(reversed(members)), P) == out        # order of members


@given(members=members_st, P=parts_st)
def test_range_gives_consecutive_ranges_in_member_order(members, P):
    out = range_assign(members, P)
    flat = [p for m in sorted(members) for p in out[m]]
    assert flat == (list(range(P)) if members else [])


@settings(max_examples=150)
@given(data=st.data(), members=members_st, P=parts_st)
def test_sticky_is_balanced_from_any_previous_and_deterministic(data, members, P):
    prev = random_previous(data.draw, P)
    out = sticky_assign(members, P, prev)
    check_valid(out, members, P)
    shuffled = dict(reversed(list(prev.items())))
    assert sticky_assign(list(reversed(members)), P, shuffled) == out
    assert sticky_assign(members, P, out) == out                       # stable
    assert cooperative_sticky(members, P, prev) == out


@settings(max_examples=60)
@given(data=st.data(), n=st.integers(1, 3), P=st.integers(0, 6))
def test_sticky_keeps_as_much_as_any_balanced_assignment(data, n, P):
    members = NAMES[:n]
    prev = random_previous(data.draw, P)
    out = sticky_assign(members, P, prev)
    before = owners(prev)

    def kept(own):
        return sum(1 for p, m in own.items() if before.get(p) == m)

    best = 0
    for choice in itertools.product(range(n), repeat=P):    # every assignment, by brute force
        sizes = [choice.count(i) for i in range(n)]
        if max(sizes) - min(sizes) <= 1:
            best = max(best, kept({p: members[i] for p, i in enumerate(choice)}))
    assert kept(owners(out)) == best


@given(members=st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=6),
       newcomer=st.sampled_from(["new0", "new1"]), P=parts_st)
def test_sticky_adding_a_member_moves_at_most_its_share(members, newcomer, P):
    prev = sticky_assign(members, P)
    out = sticky_assign(members + [newcomer], P, prev)
    n = len(members)
    assert moves(prev, out) <= math.ceil(P / (n + 1))
    assert moves(prev, out) == len(out[newcomer])           # only to the newcomer
    for m in members:
        assert set(out[m]) <= set(prev[m])


@given(members=st.lists(st.sampled_from(NAMES), unique=True, min_size=2, max_size=7),
       data=st.data(), P=parts_st)
def test_sticky_removing_a_member_moves_only_the_leavers(members, data, P):
    # a balanced previous reached through a few rebalances, not only from scratch
    prev = sticky_assign(members[:-1], P)
    prev = sticky_assign(members, P, prev)
    leaver = data.draw(st.sampled_from(members))
    rest = [m for m in members if m != leaver]
    out = sticky_assign(rest, P, prev)
    assert moves(prev, out) == len(prev[leaver])
    for m in rest:
        assert set(prev[m]) <= set(out[m])


@settings(max_examples=150)
@given(data=st.data(), members=members_st, P=parts_st)
def test_cooperative_rounds_revoke_then_assign(data, members, P):
    prev = random_previous(data.draw, P)
    prev = {m: [p for p in v if p < P] for m, v in prev.items()}
    target = cooperative_sticky(members, P, prev)
    round1, round2 = cooperative_rounds(prev, target)
    assert round2 == target
    assert set(round1) == set(target)
    before, after = owners(prev), owners(target)
    moving = {p for p, m in before.items() if after.get(p) != m}
    assert len(moving) == moves(prev, target)
    for m, parts in round1.items():
        assert set(parts) <= set(prev.get(m, ()))           # round 1 only takes away
        assert not set(parts) & moving
        assert set(parts) <= set(target[m])
    # round 2 hands out only what moved or nobody owned; the rest round 1 kept
    for p, m in after.items():
        assert p in round1[m] or p in moving or p not in before


def test_cooperative_rounds_example():
    prev = {"a": [0, 1, 2], "b": [3, 4, 5]}
    target = sticky_assign(["a", "b", "c"], 6, prev)
    assert target == {"a": [0, 1], "b": [3, 4], "c": [2, 5]}
    assert cooperative_rounds(prev, target) == ({"a": [0, 1], "b": [3, 4], "c": []}, target)
    # a member that left is in neither round
    r1, r2 = cooperative_rounds({"a": [0, 1], "gone": [2]}, {"a": [0, 1, 2]})
    assert r1 == {"a": [0, 1]} and r2 == {"a": [0, 1, 2]}


def test_sticky_drops_partitions_past_the_topic_and_leavers():
    out = sticky_assign(["a", "b"], 4, {"a": [0, 1, 7], "gone": [2, 3], "b": []})
    assert out == {"a": [0, 1], "b": [2, 3]}


# ---------------------------------------------------------------- moves

def test_moves_counts_owner_changes():
    assert moves({}, {"a": [0, 1]}) == 0                            # newly owned
    assert moves({"a": [0, 1]}, {"a": [0, 1]}) == 0
    assert moves({"a": [0, 1]}, {"a": [0], "b": [1]}) == 1
    assert moves({"a": [0, 1], "gone": [2]}, {"a": [0, 1, 2]}) == 1   # its owner left
    assert moves({"a": [0, 1]}, {}) == 2                            # nobody owns them now
    assert moves({"a": [0]}, {"a": [0], "b": [5]}) == 0


# ---------------------------------------------------------------- catalogue and bad input

def test_catalogue():
    assert list(ASSIGNORS) == ["range", "roundrobin", "sticky", "cooperative-sticky"]
    assert set(PROTOCOLS) == set(ASSIGNORS)
    assert PROTOCOLS["cooperative-sticky"] == "cooperative"
    assert {PROTOCOLS[n] for n in ("range", "roundrobin", "sticky")} == {"eager"}
    for name, fn in ASSIGNORS.items():
        assert get_assignor(name) is fn
        assert fn.__doc__
    with pytest.raises(ValueError) as e:
        get_assignor("x")
    assert str(e.value) == "unknown assignor 'x': choose from range, roundrobin, sticky, cooperative-sticky"
    with pytest.raises(TypeError):
        get_assignor(None)


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
def test_bad_members_and_partitions(name):
    fn = ASSIGNORS[name]
    with pytest.raises(ValueError, match="'a' appears twice"):
        fn(["a", "b", "a"], 3)
    with pytest.raises(TypeError):
        fn(["a", 1], 3)
    with pytest.raises(TypeError):
        fn("ab", 3)
    with pytest.raises(ValueError):
        fn(["a"], -1)
    for bad in (True, 2.0, "3", None):
        with pytest.raises(TypeError):
            fn(["a"], bad)


def test_bad_previous_assignments():
    with pytest.raises(ValueError, match="partition 1 is owned by both"):
        sticky_assign(["a", "b"], 3, {"a": [0, 1], "b": [1]})
    with pytest.raises(ValueError):
        sticky_assign(["a"], 3, {"a": [-1]})
    with pytest.raises(TypeError):
        sticky_assign(["a"], 3, {"a": [True]})
    with pytest.raises(TypeError):
        sticky_assign(["a"], 3, {"a": 0})
    with pytest.raises(TypeError):
        sticky_assign(["a"], 3, [("a", [0])])
    with pytest.raises(TypeError):
        moves({1: [0]}, {})
    with pytest.raises(ValueError):
        cooperative_rounds({"a": [0]}, {"a": [0], "b": [0]})
    prev = {"a": [1, 0], "b": [2]}
    sticky_assign(["a", "b"], 3, prev)
    assert prev == {"a": [1, 0], "b": [2]}                          # not changed
