"""Cassandra's consistency levels: availability by counting against listing every set
of down replicas and against a Monte Carlo; overlap of read and write levels against
listing every pair of replica sets."""
from itertools import combinations

import numpy as np
import pytest

from tradeoff.replication import quorum as q


@pytest.mark.parametrize("level", q.LEVELS)
@pytest.mark.parametrize("n, dcs", [(1, 1), (3, 1), (5, 1), (3, 2), (2, 3), (4, 2)])
def test_availability_counts_like_listing_every_failure(level, n, dcs):
    for down in range(n * dcs + 1):
        assert q.availability(level, n, dcs, down) == pytest.approx(
            q.availability_by_enumeration(level, n, dcs, down), abs=1e-12)


def test_the_single_datacenter_table():
    df = q.table(3)
    assert df.loc["QUORUM"].tolist() == [1, 1, 0, 0]
    assert df.loc["ONE"].tolist() == [1, 1, 1, 0]
    assert df.loc["ALL"].tolist() == [1, 0, 0, 0]
    # two datacenters of 3: LOCAL_QUORUM survives 2 down unless both are local (3 of 15 pairs)
    assert q.availability("LOCAL_QUORUM", 3, 2, 2) == pytest.approx(1 - 3 / 15)


def test_independent_failures_match_a_monte_carlo():
    rng = np.random.default_rng(3)
    n, dcs, p = 3, 2, 0.2
    down = rng.random((200_000, n * dcs)) < p
    for level in ("QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "TWO"):
        up = (~down).reshape(-1, dcs, n).sum(axis=2)
        ok = np.array([q._ok(level, n, dcs, u) for u in up[:20_000]])
        exact = q.availability_independent(level, n, dcs, p)
        assert ok.mean() == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / len(ok)) + 1e-9)


def brute_overlap(read, write, n, dcs):
    """List every write set and read set the levels allow (coordinator in datacenter
    0); overlap is guaranteed if no pair is disjoint."""
    nodes = range(n * dcs)

    def allowed(level, s):
        up = [sum(1 for r in s if r // n == d) for d in range(dcs)]
        return q._ok(level.upper(), n, dcs, up)

    sets = [frozenset(c) for k in range(n * dcs + 1) for c in combinations(nodes, k)]
    ws = [s for s in sets if allowed(write, s)]
    rs = [s for s in sets if allowed(read, s)]
    return all(w & r for w in ws for r in rs)


@pytest.mark.parametrize("n, dcs", [(3, 1), (4, 1), (3, 2), (2, 2)])
def test_overlap_is_what_listing_every_pair_of_sets_says(n, dcs):
    levels = [lv for lv in q.LEVELS if dcs > 1 or not lv.startswith(("LOCAL", "EACH"))]
    for r in levels:
        for w in levels:
            assert q.overlaps(r, w, n, dcs) == brute_overlap(r, w, n, dcs), (r, w, n, dcs)


def test_the_rule_of_thumb():
    for n in range(1, 8):
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                names = {1: "ONE", 2: "TWO", 3: "THREE", n: "ALL"}
                if r in names and w in names:
                    assert q.overlaps(names[r], names[w], n) == (r + w > n)


@pytest.mark.parametrize("call, message", [
    (lambda: q.required("SOME", 3), "unknown consistency level 'SOME'"),
    (lambda: q.availability("ONE", 0), "replicas per datacenter must be a whole number >= 1"),
    (lambda: q.availability("ONE", 3, down=4), "down must be within 0..3"),
    (lambda: q.availability_independent("ONE", 3, p_down=2), "p_down must be within 0..1"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
