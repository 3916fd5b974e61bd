"""Session guarantees (Terry et al. 1994) and eventual convergence: one hand-built
violation of each, and hypothesis comparisons with a literal O(n^4) implementation of
the definitions and with the causal checker (a session violation is a causal one)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeoff.consistency import History, Operation
from tradeoff.consistency.causal import check_causal
from tradeoff.consistency.sessions import GUARANTEES, check_sessions

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hist(*procs, interleave=False):
    """Processes as lists of ('w'|'r', key, value[, status]); one after the other in time
    (or round-robin when interleave)."""
    rows = []
    for p, seq in enumerate(procs):
        for n, item in enumerate(seq):
            rows.append(((n, p) if interleave else (p, n), p, item))
    rows.sort(key=lambda r: r[0])
    ops = []
    for t, (_, p, item) in enumerate(rows):
        kind, key, v = item[:3]
        status = item[3] if len(item) > 3 else "ok"
        if kind == "w":
            ops.append(Operation(p, "put", v, result=v, key=key, call=2 * t, ret=2 * t + 1, status=status))
        else:
            ops.append(Operation(p, "get", None, result=v, key=key, call=2 * t, ret=2 * t + 1, status=status))
    return History(ops)


def bad(h, g):
    return check_sessions(h, [g]).verdict == "violation"


def test_read_your_writes():
    h = hist([("w", "x", 1), ("r", "x", None)])
    r = check_sessions(h)
    assert r.verdict == "violation" and list(r.violations) == ["read-your-writes"]
    v = r.violations["read-your-writes"][0]
    assert [o.f for o in v.ops] == ["put", "get"]
    # reading an older value of another writer is a violation too
    h = hist([("w", "x", 1)], [("r", "x", 1), ("w", "x", 2), ("r", "x", 1)])
    assert bad(h, "RYW")
    # a concurrent write may win
    h = hist([("w", "x", 1), ("r", "x", 2)], [("w", "x", 2)])
    assert not bad(h, "RYW")


def test_monotonic_reads():
    h = hist([("w", "x", 1), ("w", "x", 2)], [("r", "x", 2), ("r", "x", 1)])
    r = check_sessions(h, ["MR"])
    assert r.verdict == "violation"
    r1, r2 = r.violations["monotonic-reads"][0].ops
    assert (r1.result, r2.result) == (2, 1)
    assert bad(hist([("w", "x", 1)], [("r", "x", 1), ("r", "x", None)]), "MR")
    assert not bad(hist([("w", "x", 1)], [("w", "x", 2)], [("r", "x", 1), ("r", "x", 2), ("r", "x", 1)]), "MR")


def test_monotonic_writes():
    # p0 writes x then y; p1 sees y but then misses x
    h = hist([("w", "x", 1), ("w", "y", 1)], [("r", "y", 1), ("r", "x", None)])
    r = check_sessions(h, ["monotonic-writes"])
    assert r.verdict == "violation"
    w1, w2, r2, rd = r.violations["monotonic-writes"][0].ops
    assert (w1.key, w2.key, r2.key, rd.key) == ("x", "y", "y", "x")
    assert not bad(h, "WFR") and not bad(h, "RYW") and not bad(h, "MR")


def test_writes_follow_reads():
    # p1 reads x=1 then writes y; p2 sees that y, then misses x=1
    h = hist([("w", "x", 1)], [("r", "x", 1), ("w", "y", 1)], [("r", "y", 1), ("r", "x", None)])
    r = check_sessions(h, ["writes-follow-reads"])
    assert r.verdict == "violation"
    ops = r.violations["writes-follow-reads"][0].ops
    assert [o.f for o in ops] == ["put", "get", "put", "get", "get"]
    assert not bad(h, "MW")


def test_convergence():
    # after the last write, reads disagree
    h = hist([("w", "x", 1)], [("w", "x", 2)], [("r", "x", 1), ("r", "x", 2)])
    r = check_sessions(h, ["EC"])
    assert r.verdict == "violation"
    assert "2 different values" in r.violations["convergence"][0].text
    # a value never written
    assert bad(hist([("w", "x", 1)], [("r", "x", 3)]), "convergence")
    # agreeing reads, or reads before the last write, are fine
    assert not bad(hist([("w", "x", 1)], [("w", "x", 2)], [("r", "x", 2), ("r", "x", 2)]), "EC")
    assert not bad(hist([("r", "x", None), ("r", "x", 5)], [("w", "x", 5)], interleave=True), "EC")
    # a timed-out write that never completed counts from its invocation
    h = History([Operation(0, "put", 1, key="x", call=0, ret=None, status="unknown"),
                 Operation(1, "get", result=None, key="x", call=1, ret=2),
                 Operation(1, "get", result=1, key="x", call=3, ret=4)])
    assert bad(h, "EC")


def test_ok_history_and_describe():
    h = hist([("w", "x", 1), ("r", "x", 1), ("w", "y", 2)], [("r", "y", 2), ("r", "x", 1)])
    r = check_sessions(h)
    assert r.verdict == "ok" and r.checked == GUARANTEES
    assert all(s.endswith(": ok") for s in r.describe()[1:])
    r = check_sessions(hist([("w", "x", 1), ("r", "x", None)]), "RYW")
    lines = r.describe()
    assert "violation" in lines[0] and any("get ['x']" in s for s in lines)
    with pytest.raises(ValueError, match="unknown session guarantee"):
        check_sessions(h, ["bounded-staleness"])
    with pytest.raises(ValueError, match="unique"):
        check_sessions(hist([("w", "x", 1)], [("w", "x", 1)]))


def test_unknown_writes():
    # a timed-out write nobody read is left out: no RYW violation
    h = hist([("w", "x", 1, "unknown"), ("r", "x", None)])
    assert check_sessions(h, ["RYW"]).ok
    # nor is one that was read ordered before its process's later reads
    h = hist([("w", "x", 1, "unknown"), ("r", "x", None)], [("r", "x", 1)])
    assert check_sessions(h, ["RYW", "MR", "MW", "WFR"]).ok


# -- the definitions, literally ------------------------------------------------------------------
def literal(h):
    """Which guarantees (of the four) are violated, straight from the definitions."""
    ops = [o for o in h if o.status != "fail" and not (o.f == "get" and o.status != "ok")]
    rv = {(o.key, o.result) for o in ops if o.f == "get"}
    ops = [o for o in ops if o.status == "ok" or (o.key, o.value) in rv]
    n = len(ops)
    po = {(a, b) for a in range(n) for b in range(n)
          if a < b and ops[a].process == ops[b].process and ops[a].status == "ok"}
    W = [i for i in range(n) if ops[i].f == "put"]
    R = [i for i in range(n) if ops[i].f == "get"]
    rf = {}
    for r in R:
        ws = [w for w in W if ops[w].key == ops[r].key and ops[w].value == ops[r].result]
        rf[r] = ws[0] if ws else (-1 if ops[r].result is None else -2)
    co = set(po) | {(w, r) for r, w in rf.items() if w >= 0}
    changed = True
    while changed:
        changed = False
        for (a, b) in list(co):
            for (c, d) in list(co):
                if b == c and (a, d) not in co:
                    co.add((a, d))
                    changed = True

    def misses(r, w):
        if ops[w].key != ops[r].key:
            return False
        if rf[r] == -1:
            return True
        return rf[r] >= 0 and rf[r] != w and (rf[r], w) in co

    def po_eq(a, b):
        return a == b or (a, b) in po
    out = set()
    for r in R:
        for w in W:
            if not misses(r, w):
                continue
            if (w, r) in po and ops[w].process == ops[r].process:
                out.add("read-your-writes")
            if any(rf[r1] == w and (r1, r) in po for r1 in R):
                out.add("monotonic-reads")
            for w2 in W:
                if (w, w2) in po:
                    if any(rf[r2] == w2 and po_eq(r2, r) for r2 in R):
                        out.add("monotonic-writes")
                for r1 in R:
                    if rf[r1] == w and (r1, w2) in po and any(rf[r2] == w2 and po_eq(r2, r) for r2 in R):
                        out.add("writes-follow-reads")
    return out


@st.composite
def small(draw, statuses=("ok",)):
    n = draw(st.integers(1, 8))
    fresh = iter(range(1, 100))
    written = {"x": [], "y": []}
    rows = []
    for t in range(n):
        p = draw(st.integers(0, 2))
        k = draw(st.sampled_from(["x", "y"]))
        status = draw(st.sampled_from(statuses))
        if draw(st.booleans()):
            v = next(fresh)
            written[k].append(v)
            rows.append(Operation(p, "put", v, result=v, key=k, call=2 * t, ret=2 * t + 1, status=status))
        else:
            rows.append(Operation(p, "get", None, result=None, key=k, call=2 * t, ret=2 * t + 1, status=status))
    for o in rows:
        if o.f == "get" and o.status == "ok":
            o.result = draw(st.sampled_from([None] + written[o.key]))
    return History(rows)


@settings(max_examples=300, **SETTINGS)
@given(small(statuses=("ok", "ok", "ok", "unknown", "fail")))
def test_matches_the_definitions(h):
    r = check_sessions(h, ["RYW", "MR", "MW", "WFR"])
    assert set(r.violations) == literal(h)


@settings(max_examples=300, **SETTINGS)
@given(small())
def test_session_violations_are_causal_violations(h):
    if check_sessions(h, ["RYW", "MR", "MW", "WFR"]).verdict == "violation":
        assert check_causal(h, "CC").verdict == "violation"
