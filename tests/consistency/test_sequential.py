"""Sequential consistency (Lamport 1979): classic examples, the joint check of keys,
unknown outcomes and budgets, hypothesis comparisons with a brute force over all
interleavings, LIN => SC, and the Jepsen etcd histories."""
import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeoff.consistency import History, Operation, check, read_history
from tradeoff.consistency.sequential import check_sequential

HISTORIES = Path(os.environ.get("TRADEOFF_HISTORIES",
                                Path(__file__).resolve().parents[2].parent / "shared" / "histories"))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def op(process, f, value=None, result=None, status="ok", call=0, ret=None, key=None):
    if ret is None and status != "unknown":
        ret = call + 1
    return Operation(process, f, value, result=result, status=status, call=call, ret=ret, key=key)


# -- classic examples ---------------------------------------------------------------------------
def test_sc_but_not_linearizable():
    # a stale read: p1 reads the initial value after p0's write completed
    h = History([op(0, "write", 1, call=0, ret=1), op(1, "read", result=None, call=2, ret=3)])
    assert check(h).verdict == "violation"
    r = check_sequential(h)
    assert r.verdict == "ok" and [o.f for o in r.whole.linearization] == ["read", "write"]


def test_read_from_the_future_is_sc():
    h = History([op(1, "read", result=1, call=0, ret=1), op(0, "write", 1, call=5, ret=6)])
    assert check_sequential(h).ok


def test_not_sc_single_register():
    h = History([op(0, "write", 1, call=0), op(0, "write", 2, call=2), op(1, "read", result=2, call=4),
                 op(1, "read", result=1, call=6)])
    r = check_sequential(h)
    assert r.verdict == "violation"
    kr = r.keys[None]
    assert kr is r.whole and kr.failed_at.result == 1
    assert [o.index for o in kr.linearization] == [0, 1, 2]
    lines = r.describe()
    assert "violation" in lines[0] and any("every order fails before" in s for s in lines)


def test_keys_sc_on_their_own_but_not_jointly():
    # Dekker: each process writes its key, then reads the other's initial value
    h = History([op(0, "put", 1, key="x", call=0), op(1, "put", 1, key="y", call=0),
                 op(0, "get", result=None, key="y", call=2), op(1, "get", result=None, key="x", call=2)])
    r = check_sequential(h, "kv")
    assert all(kr.verdict == "ok" for kr in r.keys.values()) and len(r.keys) == 2
    assert r.verdict == "violation" and r.whole.verdict == "violation"
    assert r.whole.failed_at is not None and len(r.whole.linearization) == 3
    assert any("the whole history" in s for s in r.describe())
    only = check_sequential(h, "kv", joint=False)
    assert only.verdict == "unknown" and only.whole is None


def test_a_key_violation_is_final():
    h = History([op(0, "put", 1, key="x", call=0), op(0, "put", 2, key="x", call=2),
                 op(1, "get", result=2, key="x", call=4), op(1, "get", result=1, key="x", call=6),
                 op(2, "put", 5, key="y", call=0)])
    r = check_sequential(h, "kv")
    assert r.verdict == "violation" and r.keys["x"].verdict == "violation" and r.whole is None
    assert r.violations() == [r.keys["x"]]


def test_unknown_operations_are_optional():
    # a timed-out write explains a read; another is left out
    h = History([op(0, "write", 1, status="unknown", call=0, ret=None), op(1, "read", result=1, call=2),
                 op(1, "read", result=1, call=4), op(2, "write", 2, status="unknown", call=1, ret=None)])
    assert check_sequential(h).ok
    # later operations of the process need not wait for the timed-out one
    h = History([op(0, "write", 1, status="unknown", call=0, ret=1), op(0, "write", 2, call=2),
                 op(1, "read", result=2, call=4), op(1, "read", result=1, call=6)])
    assert check_sequential(h).ok
    # ...but it cannot come before what its process did earlier
    h = History([op(0, "write", 2, call=0), op(0, "write", 1, status="unknown", call=2, ret=None),
                 op(1, "read", result=1, call=4), op(1, "read", result=None, call=6)])
    assert check_sequential(h).verdict == "violation"
    # failed operations are left out
    h = History([op(0, "write", 1, status="fail", call=0), op(1, "read", result=1, call=2)])
    assert check_sequential(h).verdict == "violation"


def test_other_models():
    q = History([op(0, "enqueue", 1, call=0), op(1, "enqueue", 2, call=0), op(0, "dequeue", result=2, call=2),
                 op(1, "dequeue", result=1, call=2)])
    assert check_sequential(q, "queue").ok
    q2 = History([op(0, "enqueue", 1, call=0), op(0, "enqueue", 2, call=2), op(1, "dequeue", result=2, call=4),
                  op(1, "dequeue", result=1, call=6)])
    assert check_sequential(q2, "queue").verdict == "violation"
    c = History([op(0, "add", 1, call=0), op(1, "read", result=0, call=2), op(1, "read", result=3, call=4)])
    assert check_sequential(c, "counter").verdict == "violation"
    s = History([op(0, "add", 1, call=0), op(1, "contains", 1, result=False, call=2),
                 op(1, "contains", 1, result=True, call=4), op(1, "contains", 1, result=False, call=6)])
    assert check_sequential(s, "set").verdict == "violation"


def test_budget_gives_unknown():
    # many processes writing and reading back: the search has to work
    ops = []
    for p in range(7):
        ops.append(op(p, "write", p, call=p))
        ops.append(op(p, "read", result=(p + 1) % 7, call=10 + p))
        ops.append(op(p, "read", result=(p + 2) % 7, call=20 + p))
    h = History(sorted(ops, key=lambda o: o.call))
    r = check_sequential(h, max_steps=300)
    assert r.verdict == "unknown" and r.whole.verdict == "unknown"
    assert any("budget" in s for s in r.describe())
    with pytest.raises(ValueError):
        check_sequential(h, timeout="soon")
    with pytest.raises(ValueError, match="unknown operation"):
        check_sequential(History([op(0, "frob", call=0)]))


# -- brute force -------------------------------------------------------------------------------
def reg_step(state, o):
    """A register's step, written independently of models.py (Jepsen conventions)."""
    if o.f == "read":
        return (o.status != "ok" or o.result == state), state
    if o.f == "write":
        return True, o.value
    exp, new = o.value
    if o.status != "ok":
        return True, (new if state == exp else state)
    return (o.result is not False) == (state == exp), (new if state == exp else state)


def kv_step(state, o):
    d = dict(state)
    ok, new = reg_step(d.get(o.key), o)
    d[o.key] = new
    return ok, tuple(sorted(d.items(), key=repr))


def brute_sc(h, step=reg_step, init=None) -> bool:
    """Every subset of the unknown operations, every order of the chosen ones."""
    ops = [o for o in h if o.status != "fail"]
    unknown = [o for o in ops if o.status == "unknown"]
    known = [o for o in ops if o.status == "ok"]
    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            for order in itertools.permutations(known + list(chosen)):
                where = {id(o): i for i, o in enumerate(order)}
                good = True
                for a in order:
                    for b in order:
                        if (a.process == b.process and a.status == "ok" and a.index < b.index
                                and where[id(a)] > where[id(b)]):
                            good = False
                if not good:
                    continue
                s = init
                for o in order:
                    ok, s = step(s, o)
                    if not ok:
                        break
                else:
                    return True
    return False


def valid_order(h, order, step=reg_step, init=None) -> bool:
    """The order returned for an "ok" is an SC order: every known op once, program order, a run."""
    known = {o.index for o in h if o.status == "ok"}
    placed = [o.index for o in order]
    if len(set(placed)) != len(placed) or not known <= set(placed):
        return False
    where = {i: n for n, i in enumerate(placed)}
    for a in h:
        for b in h:
            if (a.index in where and b.index in where and a.process == b.process and a.status == "ok"
                    and a.index < b.index and where[a.index] > where[b.index]):
                return False
    s = init
    for o in order:
        ok, s = step(s, o)
        if not ok:
            return False
    return True


@st.composite
def histories(draw, kv=False, max_ops=6, ties=False):
    """ties: a process may invoke at the very instant its previous operation completed
    (the linearizability check then counts the two as overlapping)."""
    n = draw(st.integers(1, max_ops))
    ops, busy = [], {}
    for _ in range(n):
        p = draw(st.integers(0, 2))
        call = max(busy.get(p, 0), draw(st.integers(0, 10)))
        ret = call + draw(st.integers(0, 3))
        busy[p] = ret if ties else ret + 1
        status = draw(st.sampled_from(["ok", "ok", "ok", "ok", "unknown", "fail"]))
        f = draw(st.sampled_from(["read", "read", "write", "cas"]))
        key = draw(st.sampled_from(["a", "b"])) if kv else None
        if f == "read":
            value, result = None, draw(st.sampled_from([None, 0, 1]))
        elif f == "write":
            value = draw(st.integers(0, 1))
            result = value
        else:
            value = (draw(st.sampled_from([None, 0, 1])), draw(st.integers(0, 1)))
            result = draw(st.booleans())
        if status != "ok":
            result = None
        o = Operation(p, f, value, result=result, status=status, call=call, ret=ret, key=key)
        if status == "unknown" and draw(st.booleans()):
            o.ret = None
        ops.append(o)
    ops.sort(key=lambda o: o.call)
    return History(ops)


@settings(max_examples=300, **SETTINGS)
@given(histories())
def test_register_matches_brute_force(h):
    r = check_sequential(h, "register")
    want = brute_sc(h)
    assert r.verdict == ("ok" if want else "violation")
    if want:
        assert valid_order(h, r.whole.linearization)
    else:
        # the longest order is a run, and nothing the model accepts extends it
        s = None
        for o in r.whole.linearization:
            ok, s = reg_step(s, o)
            assert ok
        nxt = [o for o in r.whole.concurrent if o.status == "ok"]
        assert r.whole.failed_at in nxt
        assert not any(reg_step(s, o)[0] for o in nxt)


@settings(max_examples=200, **SETTINGS)
@given(histories(kv=True))
def test_kv_joint_check_matches_brute_force(h):
    r = check_sequential(h, "kv")
    want = brute_sc(h, kv_step, ())
    assert r.verdict == ("ok" if want else "violation")
    if want:
        assert valid_order(h, r.whole.linearization, kv_step, ())


@settings(max_examples=200, **SETTINGS)
@given(histories(max_ops=8))
def test_linearizable_implies_sc(h):
    if check(h, "register").verdict == "ok":
        assert check_sequential(h, "register").verdict == "ok"


# -- the linearizability shortcut ----------------------------------------------------------------
@settings(max_examples=300, **SETTINGS)
@given(histories(kv=True, max_ops=6, ties=True))
def test_shortcut_matches_brute_force_and_the_search(h):
    r = check_sequential(h, "kv")
    want = brute_sc(h, kv_step, ())
    assert r.verdict == ("ok" if want else "violation")
    assert check_sequential(h, "kv", shortcut=False).verdict == r.verdict
    if want:
        assert valid_order(h, r.whole.linearization, kv_step, ())
        if r.via == "linearizable":          # each key's order is the whole order's projection
            for key, kr in r.keys.items():
                assert [o for o in r.whole.linearization if o.key == key or len(r.keys) == 1] == kr.linearization


def test_a_read_that_starts_as_its_process_write_ends_comes_after_it():
    # the read is invoked at the instant the write completes, in the same process:
    # neither the linearizability check nor the SC search may order the read first
    h = History([op(0, "write", 1, key="x", call=0, ret=1), op(0, "read", result=None, key="x", call=1, ret=2),
                 op(1, "write", 1, key="y", call=0, ret=1)])
    assert check(h, "kv").verdict == "violation" and not brute_sc(h, kv_step, ())
    r = check_sequential(h, "kv")
    assert r.verdict == "violation" and r.via == "search"


def gpa_step(state, o):
    """get / put / append of strings on a kv store, written independently of models.py."""
    d = dict(state)
    cur = d.get(o.key)
    if o.f == "get":
        return (o.status != "ok" or o.result == cur), state
    d[o.key] = o.value if o.f == "put" else (cur or "") + o.value
    return True, tuple(sorted(d.items(), key=repr))


@pytest.mark.parametrize("seed, unknown", [(1, 0.0), (2, 0.1), (3, 0.3)])
def test_generated_kv_histories_take_the_shortcut(seed, unknown):
    from tradeoff.consistency.generate import kv_history
    h = kv_history(300, keys=6, processes=5, seed=seed, unknown_fraction=unknown)
    r = check_sequential(h, "kv", max_steps=100_000)
    assert r.verdict == "ok" and r.via == "linearizable" and len(r.keys) > 1
    assert r.whole is not None and r.whole is not r.keys[0]
    assert valid_order(h, r.whole.linearization, gpa_step, ())
    assert any("linearizable" in s for s in r.describe())


def test_a_stale_kv_history_falls_back_to_the_search():
    # SC, not linearizable: p1's reads lag behind p0's writes on both keys, in order
    h = History([op(0, "write", 1, key="x", call=0), op(0, "write", 1, key="y", call=2),
                 op(1, "read", result=None, key="x", call=4), op(1, "read", result=None, key="y", call=6),
                 op(1, "read", result=1, key="x", call=8)])
    assert check(h, "kv").verdict == "violation"
    r = check_sequential(h, "kv")
    assert r.verdict == "ok" and r.via == "search" and valid_order(h, r.whole.linearization, kv_step, ())


# -- the Jepsen etcd histories -------------------------------------------------------------------
def etcd(i):
    path = HISTORIES / f"etcd_{i:03d}.log.gz"
    if not path.exists():
        pytest.skip(f"no reference histories at {HISTORIES} (set TRADEOFF_HISTORIES)")
    return read_history(path)


@pytest.mark.parametrize("i", range(20))
def test_etcd(i):
    h = etcd(i)
    linearizable = json.loads((HISTORIES / "expected.json").read_text())["verdicts"][f"etcd_{i:03d}"]
    r = check_sequential(h, "register", timeout=60)
    assert r.verdict != "unknown"
    if linearizable:
        assert r.verdict == "ok"
    if r.verdict == "ok":
        assert valid_order(h, r.whole.linearization)
