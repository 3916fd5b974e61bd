"""The generators of tradeoff.consistency.generate: what they build is linearizable per
the Cython checker and per the pure-Python reference (wgl_model.py), what
break_history makes of it is a violation per both, the worst cases have the verdict
known by construction, a seed gives the same history every time, and bad arguments
raise ValueError naming the argument."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wgl_model
from tradeoff.consistency import History, check, read_history, write_history
from tradeoff.consistency.generate import (break_history, kv_history, long_pending_unknowns,
                                           many_concurrent_writes, register_history)
from tradeoff.consistency.models import KV

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
KV_MODEL = KV()


def kv_step(state, op):
    """The kv model's step for the reference checker (get/put/append/cas)."""
    return KV_MODEL.step(state, op)


def both(h, model="register"):
    """(Cython verdict, reference verdict)."""
    step = wgl_model.register_step if model == "register" else kv_step
    return check(h, model, counterexample=False).verdict, wgl_model.check(h, step)


def _witness_ok(h):
    """Every operation lies inside its interval and the history is well formed."""
    h._check()
    for op in h:
        assert op.status in ("ok", "fail", "unknown")
        if op.status != "unknown":
            assert op.ret is not None and op.ret >= op.call


# -- linearizable by construction ---------------------------------------------------------------
@settings(max_examples=40, **SETTINGS)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 60), processes=st.integers(1, 6),
       unknown=st.sampled_from([0.0, 0.1, 0.3]), cas=st.sampled_from([0.0, 0.2, 0.5]),
       values=st.sampled_from([1, 2, 5, None]))
def test_register_histories_are_linearizable(seed, n, processes, unknown, cas, values):
    h = register_history(n, processes, seed, unknown_fraction=unknown, cas=cas, values=values)
    assert len(h) == n
    _witness_ok(h)
    assert both(h) == ("ok", "ok")


@settings(max_examples=25, **SETTINGS)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 80), keys=st.integers(1, 4),
       processes=st.integers(1, 5), unknown=st.sampled_from([0.0, 0.2]))
def test_kv_histories_are_linearizable(seed, n, keys, processes, unknown):
    h = kv_history(n, keys, processes, seed, unknown_fraction=unknown)
    assert len(h) == n
    _witness_ok(h)
    assert {op.f for op in h} <= {"get", "put", "append"}
    assert {op.key for op in h} <= set(range(keys))
    assert both(h, "kv") == ("ok", "ok")


# -- broken histories ------------------------------------------------------------------------
@settings(max_examples=40, **SETTINGS)
@given(seed=st.integers(0, 2**32), n=st.integers(4, 60), processes=st.integers(1, 6),
       unknown=st.sampled_from([0.0, 0.2]), cas=st.sampled_from([0.0, 0.3]),
       how=st.sampled_from(["auto", "fresh"]))
def test_broken_register_histories_are_violations(seed, n, processes, unknown, cas, how):
    h = register_history(n, processes, seed, unknown_fraction=unknown, cas=cas)
    if not any(op.f == "read" and op.status == "ok" for op in h):
        with pytest.raises(ValueError, match="no completed read"):
            break_history(h, seed, how=how)
        return
    b = break_history(h, seed, how=how)
    changed = [(x, y) for x, y in zip(h, b) if x.fields() != y.fields()]
    assert len(changed) == 1
    x, y = changed[0]
    assert x.f == "read" and x.status == "ok" and x.result != y.result
    assert both(b) == ("violation", "violation")
    assert both(h) == ("ok", "ok")                 # the original is untouched


@settings(max_examples=25, **SETTINGS)
@given(seed=st.integers(0, 2**32), n=st.integers(10, 80), processes=st.integers(1, 5),
       unknown=st.sampled_from([0.0, 0.2]))
def test_broken_stale_reads_are_violations(seed, n, processes, unknown):
    h = register_history(n, processes, seed, unknown_fraction=unknown, values=3)
    try:
        b = break_history(h, seed, how="stale")
    except ValueError as exc:
        assert "stale" in str(exc)
        return
    assert both(b) == ("violation", "violation")


@settings(max_examples=20, **SETTINGS)
@given(seed=st.integers(0, 2**32), n=st.integers(10, 80), keys=st.integers(1, 3))
def test_broken_kv_histories_are_violations(seed, n, keys):
    h = kv_history(n, keys, 3, seed, unknown_fraction=0.1)
    if not any(op.f == "get" and op.status == "ok" for op in h):
        return
    assert both(break_history(h, seed), "kv") == ("violation", "violation")


def test_stale_break_reads_an_overwritten_value():
    h = register_history(200, 3, 5, values=3)
    b = break_history(h, 1, how="stale")
    (x, y), = [(x, y) for x, y in zip(h, b) if x.result != y.result]
    v = y.result
    makers = [op for op in h if op.f == "write" and op.value == v]
    # every write of v completed before some write of another value began, which
    # itself completed before the read began
    assert any(w.value != v and w.ret < x.call and all(m.ret < w.call for m in makers)
               for w in h if w.f == "write")


# -- worst cases -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_many_concurrent_writes(n):
    h = many_concurrent_writes(n, seed=n)
    writes = [op for op in h if op.f == "write"]
    assert len(writes) == n and len({op.value for op in writes}) == 1
    # one instant shared by every interval: all pairwise concurrent
    assert max(op.call for op in h) <= min(op.ret for op in h)
    assert both(h) == ("ok", "ok")
    assert both(many_concurrent_writes(n, seed=n, violation=True)) == ("violation", "violation")


@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_long_pending_unknowns(n):
    h = long_pending_unknowns(n, seed=n, ops=40)
    pending = [op for op in h if op.status == "unknown"]
    assert len(pending) == n and all(op.ret is None and op.f == "write" for op in pending)
    assert len(h) == n + 40
    assert both(h) == ("ok", "ok")
    assert both(long_pending_unknowns(n, seed=n, ops=40, violation=True)) == ("violation", "violation")


def test_some_pending_writes_are_seen():
    """Half of the pending writes take effect: across seeds, reads do see them."""
    seen = 0
    for seed in range(10):
        h = long_pending_unknowns(4, seed=seed, ops=100)
        mine = {op.value for op in h if op.status == "unknown"}
        seen += any(op.f == "read" and op.result in mine for op in h)
    assert seen >= 3


# -- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda s: register_history(80, 4, s, unknown_fraction=0.2, cas=0.3),
    lambda s: kv_history(80, 3, 4, s, unknown_fraction=0.2),
    lambda s: many_concurrent_writes(7, s),
    lambda s: long_pending_unknowns(5, s, ops=50),
    lambda s: break_history(register_history(80, 4, 0), s),
])
def test_a_seed_gives_the_same_history(make):
    assert make(3).same_as(make(3))
    assert any(not make(3).same_as(make(s)) for s in range(4, 10))


def test_a_history_survives_jsonl(tmp_path):
    h = register_history(60, 4, 9, unknown_fraction=0.2, cas=0.3)
    path = tmp_path / "h.jsonl"
    write_history(h, path)
    back = read_history(path)
    assert check(back).verdict == "ok"
    assert len(back) == len(h)


def test_unknown_clients_are_replaced():
    h = register_history(300, 3, 1, unknown_fraction=0.3)
    by_process: dict = {}
    for op in h:
        by_process.setdefault(op.process, []).append(op)
    for ops in by_process.values():
        # a process's operations do not overlap, and only its last may be unknown
        for a, b in zip(ops, ops[1:]):
            assert a.ret <= b.call and a.status != "unknown"
    assert len(by_process) > 3


def test_cas_that_does_not_match_fails():
    h = register_history(300, 4, 2, cas=0.5)
    cas = [op for op in h if op.f == "cas"]
    assert {op.status for op in cas} == {"ok", "fail"}
    assert both(h) == ("ok", "ok")


def test_unique_values():
    h = register_history(100, 3, 4, values=None)
    written = [op.value for op in h if op.f == "write"]
    assert len(written) == len(set(written))


# -- arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: register_history(-1), "n_ops"),
    (lambda: register_history(1.5), "n_ops"),
    (lambda: register_history(True), "n_ops"),
    (lambda: register_history(10, 0), "processes"),
    (lambda: register_history(10, 2, "x"), "seed"),
    (lambda: register_history(10, unknown_fraction=1.5), "unknown_fraction"),
    (lambda: register_history(10, cas=-0.1), "cas"),
    (lambda: register_history(10, read_fraction=0.9, cas=0.2), "read_fraction"),
    (lambda: register_history(10, values=0), "values"),
    (lambda: kv_history(10, 0), "keys"),
    (lambda: kv_history(-5), "n_ops"),
    (lambda: kv_history(10, append_fraction=2), "append_fraction"),
    (lambda: kv_history(10, read_fraction=0.6, append_fraction=0.6), "append_fraction"),
    (lambda: many_concurrent_writes(0), "n"),
    (lambda: many_concurrent_writes(3, value="a"), "value"),
    (lambda: long_pending_unknowns(-1), "n"),
    (lambda: long_pending_unknowns(2, ops=-3), "ops"),
    (lambda: long_pending_unknowns(2, processes=0), "processes"),
    (lambda: long_pending_unknowns(2, ops=0, violation=True), "ops"),
    (lambda: break_history([], 0), "h"),
    (lambda: break_history(register_history(5), 0, how="worse"), "how"),
    (lambda: break_history(History(), 0), "read"),
])
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_break_refuses_other_models():
    from tradeoff.consistency import Operation
    h = History([Operation(0, "add", 1, call=0, ret=1), Operation(1, "read", result=1, call=2, ret=3)])
    with pytest.raises(ValueError, match="register and kv"):
        break_history(h, 0)
