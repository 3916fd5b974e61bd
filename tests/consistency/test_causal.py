"""Causal consistency by bad patterns (Bouajjani et al., POPL 2017): one hand-built
history per pattern, the CC / CM / CCv separations, input checks, and hypothesis
comparisons with the definitions themselves (serializations of causal pasts, brute
force) and with LIN => SC => CC."""
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeoff.consistency import History, Operation, check
from tradeoff.consistency.causal import LEVELS, check_causal
from tradeoff.consistency.sequential import check_sequential

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hist(*procs):
    """Processes as lists of ('w', key, value) / ('r', key, result); times in order."""
    ops, t = [], 0
    for p, seq in enumerate(procs):
        for item in seq:
            kind, key, v = item[:3]
            status = item[3] if len(item) > 3 else "ok"
            if kind == "w":
                ops.append(Operation(p, "put", v, result=v, key=key, call=t, ret=t + 1, status=status))
            else:
                ops.append(Operation(p, "get", None, result=v, key=key, call=t, ret=t + 1, status=status))
            t += 2
    ops.sort(key=lambda o: o.call)
    return History(ops)


def names(h, level):
    return check_causal(h, level).found()


# -- one history per bad pattern --------------------------------------------------------------
def test_cyclic_co():
    h = hist([("r", "x", 1), ("w", "y", 1)], [("r", "y", 1), ("w", "x", 1)])
    r = check_causal(h)
    assert r.verdict == "violation" and "CyclicCO" in r.found()
    cyc = next(p for p in r.patterns if p.name == "CyclicCO")
    assert len(cyc.ops) == 4


def test_thin_air_read():
    r = check_causal(hist([("w", "x", 1)], [("r", "x", 7)]))
    assert r.found() == ["ThinAirRead"] and r.patterns[0].ops[0].result == 7


def test_write_co_init_read():
    r = check_causal(hist([("w", "x", 1), ("r", "x", None)]))
    assert r.found() == ["WriteCOInitRead"]
    # through another process: w(x,1) PO w(y,1) wr r(y,1) PO r(x,init)
    r = check_causal(hist([("w", "x", 1), ("w", "y", 1)], [("r", "y", 1), ("r", "x", None)]))
    assert r.found() == ["WriteCOInitRead"]
    assert [o.value for o in r.patterns[0].ops[:1]] == [1]


def test_write_co_read():
    h = hist([("w", "x", 1), ("w", "x", 2)], [("r", "x", 2), ("r", "x", 1)])
    r = check_causal(h)
    assert r.found() == ["WriteCORead"]
    w1, w2, rd = r.patterns[0].ops
    assert (w1.value, w2.value, rd.result) == (1, 2, 1)


def test_write_hb_init_read_cc_not_cm():
    # the paper's CC-but-not-CM shape: p1 sees x=1 ordered before x=2, so w(z,1) is HB before r(z,0)
    h = hist([("w", "z", 1), ("w", "x", 1), ("w", "y", 1)],
             [("w", "x", 2), ("r", "z", None), ("r", "y", 1), ("r", "x", 2)])
    assert names(h, "CC") == []
    r = check_causal(h, "CM")
    assert r.found() == ["WriteHBInitRead"]
    assert r.patterns[0].ops[0].key == "z" and r.patterns[0].ops[1].result is None


def test_cyclic_hb_and_cf():
    # one process reads 1, 2, 1 of two concurrent writes: CC, not CM, not CCv
    h = hist([("w", "x", 1)], [("w", "x", 2)], [("r", "x", 1), ("r", "x", 2), ("r", "x", 1)])
    assert names(h, "CC") == []
    assert names(h, "CM") == ["CyclicHB"]
    assert names(h, "CCv") == ["CyclicCF"]


def test_cm_not_ccv():
    # two processes see two concurrent writes in opposite orders: CM but not CCv
    h = hist([("w", "x", 1), ("r", "x", 1), ("r", "x", 2)], [("w", "x", 2), ("r", "x", 2), ("r", "x", 1)])
    assert check_causal(h, "CC").ok and check_causal(h, "CM").ok
    r = check_causal(h, "CCv")
    assert r.found() == ["CyclicCF"] and len(r.patterns[0].ops) >= 2


def test_cc_not_cm_across_keys():
    # a history that is CC but not causal memory (orders of x and y writes disagree)
    h = hist([("w", "x", 1), ("w", "y", 1), ("w", "z", 1)],
             [("r", "z", 1), ("r", "y", 2), ("r", "t", 2), ("r", "x", 1)],
             [("w", "y", 2), ("w", "x", 2), ("w", "t", 2)])
    assert check_causal(h, "CC").ok
    assert check_causal(h, "CM").found() == ["CyclicHB"]


def test_cc_but_not_sc():
    # Dekker: each process writes its key and reads the other's initial value
    h = hist([("w", "x", 1), ("r", "y", None)], [("w", "y", 1), ("r", "x", None)])
    for level in LEVELS:
        assert check_causal(h, level).ok, level
    assert check_sequential(h, "kv").verdict == "violation"


def test_describe_and_repr():
    r = check_causal(hist([("w", "x", 1), ("w", "x", 2)], [("r", "x", 2), ("r", "x", 1)]))
    lines = r.describe()
    assert lines[0].startswith("causal consistency (CC): violation")
    assert any("WriteCORead" in s for s in lines) and any("put ['x'] 2" in s for s in lines)
    assert "WriteCORead" in repr(r)
    ok = check_causal(hist([("w", "x", 1)], [("r", "x", 1)]), "ccv")
    assert ok.level == "CCv" and ok.verdict == "ok" and "none of" in ok.describe()[1]


# -- input ------------------------------------------------------------------------------------
def test_refuses_duplicate_values_and_other_ops():
    with pytest.raises(ValueError, match="unique"):
        check_causal(hist([("w", "x", 1)], [("w", "x", 1)]))
    with pytest.raises(ValueError, match="initial value"):
        check_causal(hist([("w", "x", None)]))
    with pytest.raises(ValueError, match="reads and writes"):
        check_causal([Operation(0, "cas", (1, 2), call=0, ret=1)])
    with pytest.raises(ValueError, match="level"):
        check_causal(hist([("w", "x", 1)]), "SC")
    # the same value on two keys is fine
    assert check_causal(hist([("w", "x", 1)], [("w", "y", 1)])).ok


def test_unknown_and_failed_operations():
    # a timed-out write that someone read took effect; one nobody read is left out
    h = hist([("w", "x", 1, "unknown"), ("r", "x", None)], [("r", "x", 1)])
    assert check_causal(h).ok                  # nothing is PO-after the unknown write
    h = hist([("w", "x", 1, "unknown")], [("r", "x", None), ("r", "x", None)])
    assert check_causal(h).ok and check_causal(h).ops == 2
    # failed writes are left out, so reading their value is thin air
    h = hist([("w", "x", 1, "fail")], [("r", "x", 1)])
    assert check_causal(h).found() == ["ThinAirRead"]
    # register names work too
    h = History([Operation(0, "write", 1, call=0, ret=1), Operation(1, "read", result=1, call=2, ret=3)])
    assert check_causal(h).ok


# -- the definitions, brute force ----------------------------------------------------------------
def _relations(h):
    """Independently of the checker: the kept operations, PO pairs, wr, CO (closure)."""
    ops = [o for o in h if o.status != "fail" and not (o.f in ("get", "read") and o.status != "ok")]
    read_vals = {(o.key, o.result) for o in ops if o.f in ("get", "read")}
    ops = [o for o in ops if o.status == "ok" or (o.key, o.value) in read_vals]
    n = len(ops)
    rel = set()
    for a in range(n):
        for b in range(a + 1, n):
            if ops[a].process == ops[b].process and ops[a].status == "ok":
                rel.add((a, b))
    writer = {}
    for b in range(n):
        if ops[b].f in ("get", "read"):
            ws = [a for a in range(n) if ops[a].f in ("put", "write") and ops[a].key == ops[b].key
                  and ops[a].value == ops[b].result]
            writer[b] = ws[0] if ws else (None if ops[b].result is None else "air")
            if ws:
                rel.add((ws[0], b))
    co = set(rel)
    for k in range(n):
        for i in range(n):
            if (i, k) in co:
                for j in range(n):
                    if (k, j) in co:
                        co.add((i, j))
    return ops, co, writer


def _extensions(items, co):
    """Every order of items that extends co."""
    for perm in itertools.permutations(items):
        where = {v: i for i, v in enumerate(perm)}
        if all(where[a] < where[b] for (a, b) in co if a in where and b in where):
            yield perm


def _legal(order, ops, reads, writer):
    """Whether every read in `reads` returns the last write of its key before it in order."""
    last = {}
    for i in order:
        op = ops[i]
        if op.f in ("put", "write"):
            last[op.key] = i
        elif i in reads and last.get(op.key) != writer[i]:
            return False
    return True


def brute(h, level):
    ops, co, writer = _relations(h)
    n = len(ops)
    if any((i, i) in co for i in range(n)) or "air" in writer.values():
        return False
    past = {o: {a for a in range(n) if (a, o) in co} | {o} for o in range(n)}
    if level == "CCv":
        for arb in _extensions(range(n), co):
            if all(_legal([i for i in arb if i in past[o]], ops, {o}, writer) for o in writer):
                return True
        return False
    for o in range(n):
        if level == "CC":
            if o not in writer:
                continue
            reads = {o}
        else:
            reads = {r for r in writer if r in past[o] and ops[r].process == ops[o].process
                     and (r == o or (r, o) in co)}
            if not reads:
                continue
        if not any(_legal(p, ops, reads, writer) for p in _extensions(sorted(past[o]), co)):
            return False
    return True


@st.composite
def small_histories(draw, max_ops=6, statuses=("ok",), nkeys=2, initial=True):
    nproc = draw(st.integers(1, 3))
    n = draw(st.integers(1, max_ops))
    keys = ["x", "y"][:draw(st.integers(1, nkeys))]
    fresh = iter(range(1, 100))
    written = {k: [] for k in keys}
    items = []
    for _ in range(n):
        p = draw(st.integers(0, nproc - 1))
        k = draw(st.sampled_from(keys))
        status = draw(st.sampled_from(statuses))
        if draw(st.booleans()):
            v = next(fresh)
            written[k].append(v)
            items.append((p, "put", k, v, v, status))
        else:
            items.append((p, "get", k, None, "?" if initial else len(written[k]), status))
    # reads return a value written to the key anywhere (maybe later), the initial one, or rarely thin air
    ops = []
    for t, (p, f, k, v, res, status) in enumerate(items):
        if res == "?":
            res = draw(st.sampled_from([None] + written[k] + ([99] if draw(st.integers(0, 9)) == 0 else [])))
        elif f == "get":                      # a write drawn before the read (no initial reads)
            res = draw(st.sampled_from(written[k][:res] or written[k] or [None]))
        if status == "unknown" and f == "get":
            res = None
        ops.append(Operation(p, f, v, result=res, key=k, call=2 * t, ret=2 * t + 1, status=status))
    return History(ops)


@settings(max_examples=300, **SETTINGS)
@given(small_histories(), st.sampled_from(list(LEVELS)))
def test_bad_patterns_match_the_definitions(h, level):
    r = check_causal(h, level)
    assert r.verdict == ("ok" if brute(h, level) else "violation"), (level, r.describe())


@settings(max_examples=150, **SETTINGS)
@given(small_histories(max_ops=6, nkeys=1, initial=False), st.sampled_from(list(LEVELS)))
def test_write_orders_match_the_definitions(h, level):
    # one key, no initial reads: where CyclicHB and CyclicCF show up
    assert check_causal(h, level).verdict == ("ok" if brute(h, level) else "violation")


@settings(max_examples=100, **SETTINGS)
@given(small_histories(max_ops=5, statuses=("ok", "ok", "unknown", "fail")), st.sampled_from(list(LEVELS)))
def test_unknown_outcomes_match_the_definitions(h, level):
    assert check_causal(h, level).verdict == ("ok" if brute(h, level) else "violation")


@settings(max_examples=200, **SETTINGS)
@given(small_histories(max_ops=7))
def test_levels_are_ordered(h):
    cc, cm, ccv = (check_causal(h, lv).ok for lv in ("CC", "CM", "CCv"))
    assert cc or not (cm or ccv)              # CM => CC and CCv => CC


@st.composite
def timed_register_histories(draw):
    """Register histories with unique written values and random overlapping intervals."""
    n = draw(st.integers(1, 7))
    fresh = iter(range(1, 100))
    ops, busy = [], {}
    written = []
    for _ in range(n):
        p = draw(st.integers(0, 2))
        call = max(busy.get(p, 0), draw(st.integers(0, 12)))
        ret = call + draw(st.integers(0, 4))
        busy[p] = ret + 1
        status = draw(st.sampled_from(["ok", "ok", "ok", "unknown"]))
        if draw(st.booleans()):
            v = next(fresh)
            written.append(v)
            ops.append(Operation(p, "write", v, result=v, call=call, ret=ret, status=status))
        else:
            ops.append(Operation(p, "read", None, result=None, call=call, ret=ret, status=status))
    for o in ops:
        if o.f == "read" and o.status == "ok":
            o.result = draw(st.sampled_from([None] + written))
        if o.status == "unknown" and draw(st.booleans()):
            o.ret = None
    ops.sort(key=lambda o: o.call)
    return History(ops)


@settings(max_examples=300, **SETTINGS)
@given(timed_register_histories())
def test_lin_implies_sc_implies_causal(h):
    lin = check(h, "register").verdict
    sc = check_sequential(h, "register").verdict
    if lin == "ok":
        assert sc == "ok"
    if sc == "ok":
        for level in LEVELS:
            assert check_causal(h, level).ok, level
