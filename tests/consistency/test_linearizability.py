"""The linearizability checker: the Jepsen etcd verdicts, the Cython search against the
pure-Python WGL model (wgl_model.py) on random histories, every built-in model against
its own step run through the Python path, unknown outcomes, budgets, the
counterexample, and ``tradeoff check``'s entry point."""
import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import wgl_model
from tradeoff.consistency import History, Model, Operation, check, get_model, read_history
from tradeoff.consistency import linearizability as lin
from tradeoff.consistency.experiment import run_check
from tradeoff.harness.errors import UserError

HISTORIES = Path(os.environ.get("TRADEOFF_HISTORIES",
                                Path(__file__).resolve().parents[2].parent / "shared" / "histories"))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def etcd(i):
    path = HISTORIES / f"etcd_{i:03d}.log.gz"
    if not path.exists():
        pytest.skip(f"no reference histories at {HISTORIES} (set TRADEOFF_HISTORIES)")
    return read_history(path)


def expected(i):
    return json.loads((HISTORIES / "expected.json").read_text())["verdicts"][f"etcd_{i:03d}"]


def op(process, f, value=None, result=None, status="ok", call=0, ret=None, key=None):
    return Operation(process, f, value, result=result, status=status, call=call, ret=ret, key=key)


# -- the reference verdicts -------------------------------------------------------------------
@pytest.mark.parametrize("i", range(20))
def test_etcd_verdict(i):
    h = etcd(i)
    r = check(h, "register")
    assert r.verdict == ("ok" if expected(i) else "violation")
    kr = r.keys[None]
    if r.verdict == "ok":
        assert kr.failed_at is None
        assert len(kr.linearization) >= sum(o.status == "ok" for o in h)
    else:
        assert kr.failed_at is not None and kr.failed_at.status == "ok"
        assert kr.linearization and kr.failed_at not in kr.linearization


def _prefix(h, end):
    """Independently of the checker: the history as it stood when end completed."""
    done = sorted((o for o in h if o.status == "ok"), key=lambda o: (o.ret, o.index))
    upto = done.index(end)
    kept = {o.index for o in done[:upto + 1]}
    out = []
    for o in h:
        if o.status == "fail" or o.call > end.ret:
            continue
        out.append(o if o.index in kept else dataclasses.replace(o, status="unknown", result=None, ret=None))
    return out, done[upto - 1] if upto > 0 else None


@pytest.mark.parametrize("i", [0, 1, 3, 4, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19])
def test_etcd_counterexample_is_the_smallest_failing_prefix(i):
    h = etcd(i)
    kr = check(h).keys[None]
    if kr.verdict != "violation":
        pytest.skip("linearizable")
    failing, before = _prefix(h, kr.failed_at)
    assert wgl_model.check(failing) == "violation"
    if before is not None:
        assert wgl_model.check(_prefix(h, before)[0]) == "ok"
    # the longest linearization is a run of the register, in real-time order
    state = None
    for o in kr.linearization:
        ok, state = wgl_model.register_step(state, o)
        assert ok


def test_etcd_python_model_and_plain_cache_agree():
    for i in range(20):
        h = etcd(i)
        want = "ok" if expected(i) else "violation"
        assert wgl_model.check(h) == want, i
        ops = [o for o in h if o.status != "fail" and not (o.status == "unknown" and o.f == "read")]
        s = lin._search(get_model("register"), None, ops, subsume=False)
        assert s.run() == want, i
        s._check()


# -- random histories: linearizable by construction, then perturbed ----------------------------------
def _reg_op(draw, state):
    f = draw(st.sampled_from(["read", "write", "cas", "cas"]))
    if f == "read":
        return f, None, state, state
    if f == "write":
        v = draw(st.integers(0, 3))
        return f, v, v, v
    expected_ = draw(st.sampled_from([state, 0, 1, 2]))
    new = draw(st.integers(0, 3))
    if expected_ == state:
        return f, (expected_, new), True, new
    return f, (expected_, new), False, state      # an ok cas that reports False


def _kv_op(draw, state):
    k = draw(st.sampled_from(["a", "b"]))
    cur = state.get(k)
    f = draw(st.sampled_from(["get", "put", "append", "cas"]))
    if f == "append" and isinstance(cur, int):
        f = "put"                               # an integer cannot be appended to
    if f == "get":
        return f, k, None, cur, state
    if f == "put":
        v = draw(st.integers(0, 2))
        return f, k, v, v, {**state, k: v}
    if f == "append":
        x = draw(st.integers(0, 2))
        new = (cur or ()) + (x,)
        return f, k, x, x, {**state, k: new}
    exp = draw(st.sampled_from([cur, 0, 1]))
    new = draw(st.integers(0, 2))
    if exp == cur:
        return f, k, (exp, new), True, {**state, k: new}
    return f, k, (exp, new), False, state


def _set_op(draw, state):
    f = draw(st.sampled_from(["add", "remove", "contains", "contains", "read"]))
    x = draw(st.integers(0, 2))
    if f == "add":
        return f, x, draw(st.sampled_from([x not in state, None])), state | {x}
    if f == "remove":
        return f, x, draw(st.sampled_from([x in state, None])), state - {x}
    if f == "contains":
        return f, x, x in state, state
    return f, None, tuple(sorted(state)), state


def _queue_op(draw, state):
    if draw(st.booleans()):
        x = draw(st.integers(0, 2))
        return "enqueue", x, x, state + (x,)
    return "dequeue", None, (state[0] if state else None), state[1:]


def _counter_op(draw, state):
    if draw(st.booleans()):
        d = draw(st.integers(-1, 2))
        return "add", d, None, state + d
    return "read", None, state, state


MODEL_OPS = {"register": _reg_op, "kv": _kv_op, "set": _set_op, "queue": _queue_op, "counter": _counter_op}
INIT = {"register": None, "kv": {}, "set": frozenset(), "queue": (), "counter": 0}
READS = {"read", "get", "contains", "dequeue"}


@st.composite
def linearizable_histories(draw, model="register", max_ops=10):
    """A hidden sequential run of `model` by 2-5 clients, each operation given an interval
    around its instant (10, 20, ...), one client's intervals disjoint. Some operations
    report an unknown outcome (they took effect); some that never took effect are added,
    failed or of unknown outcome."""
    clients = draw(st.integers(2, 5))
    n = draw(st.integers(1, max_ops))
    state = INIT[model]
    steps = []
    for i in range(n):
        c = draw(st.integers(0, clients - 1))
        if model == "kv":
            f, key, value, result, state = MODEL_OPS[model](draw, state)
        else:
            key = None
            f, value, result, state = MODEL_OPS[model](draw, state)
        steps.append((c, f, key, value, result))
    ops = []
    last = {}                                   # client -> end of its last interval
    by_client = {}
    for i, s in enumerate(steps):
        by_client.setdefault(s[0], []).append(i)
    for c, idxs in by_client.items():
        for j, i in enumerate(idxs):
            point = 10 * (i + 1)
            nxt = 10 * (idxs[j + 1] + 1) if j + 1 < len(idxs) else point + 30
            call = draw(st.integers(last.get(c, -1) + 1, point))
            ret = draw(st.integers(point, nxt - 1))
            last[c] = ret
            _, f, key, value, result = steps[i]
            status = "ok"
            if draw(st.integers(0, 5)) == 0:
                status, result = "unknown", None
                if j == len(idxs) - 1 and draw(st.booleans()):
                    ret = None                  # the client's last operation never returns
            ops.append(Operation(c, f, value, result=result, status=status, call=call, ret=ret, key=key))
    # operations that never took effect
    for _ in range(draw(st.integers(0, 2))):
        scratch = INIT[model]
        if model == "kv":
            f, key, value, _, _ = MODEL_OPS[model](draw, scratch)
        else:
            key = None
            f, value, _, _ = MODEL_OPS[model](draw, scratch)
        if f in READS or f == "read":
            continue
        call = draw(st.integers(0, 10 * n + 10))
        status = draw(st.sampled_from(["fail", "unknown"]))
        ret = call + draw(st.integers(0, 20)) if status == "fail" else None
        ops.append(Operation(100 + len(ops), f, value, result=None, status=status, call=call, ret=ret, key=key))
    ops.sort(key=lambda o: o.call)
    return History(ops)


def _perturb(draw, h, model):
    """Change what one completed read-like operation returned."""
    reads = [o for o in h if o.status == "ok" and o.f in READS | ({"read"} if model != "counter" else {"read"})]
    assume(reads)
    o = draw(st.sampled_from(reads))
    if model == "set" and o.f == "read":
        new = tuple(sorted(set(draw(st.lists(st.integers(0, 2), max_size=3)))))
    elif model == "set":
        new = not o.result
    elif model == "counter":
        new = o.result + draw(st.sampled_from([-1, 1]))
    elif model == "kv":
        new = draw(st.sampled_from([None, 0, 1, 2, (0,), (1,), (0, 1)]))
    else:
        new = draw(st.sampled_from([None, 0, 1, 2, 3]))
    ops = [dataclasses.replace(x, result=new) if x is o else x for x in h]
    return History(ops)


def _python_model(model):
    """The built-in model's step, run as a user-defined model (the Python path)."""
    m = get_model(model)
    return Model(init=m.init, step=m.step, ops=m.ops, name=f"{model}-py",
                 partition=(lambda o: o.key) if model in ("register", "kv") else None)


def _reference(h, model):
    """The pure-Python WGL model: plain cache, no subsumption, no P-compositionality
    beyond keys."""
    m = get_model(model)
    live = [o for o in h if not (o.status == "unknown" and m.inert(o))]
    return wgl_model.check(live, step=m.step if model != "register" else wgl_model.register_step,
                           init=m.init)


@settings(max_examples=300, **SETTINGS)
@given(linearizable_histories("register", max_ops=12))
def test_register_linearizable_by_construction(h):
    assert check(h).verdict == "ok"
    assert wgl_model.check(h) == "ok"


@settings(max_examples=400, **SETTINGS)
@given(st.data())
def test_register_perturbed_agrees_with_python_model(data):
    h = data.draw(linearizable_histories("register", max_ops=12))
    h = _perturb(data.draw, h, "register")
    want = wgl_model.check(h)
    r = check(h)
    assert r.verdict == want
    assert check(h, _python_model("register")).verdict == want
    ops = [o for o in h if o.status != "fail" and not (o.status == "unknown" and o.f == "read")]
    s = lin._search(get_model("register"), None, ops, subsume=False)
    assert s.run() == want
    s._check()


@pytest.mark.parametrize("model", ["kv", "set", "queue", "counter"])
@settings(max_examples=120, **SETTINGS)
@given(data=st.data())
def test_models_agree_across_paths(model, data):
    h = data.draw(linearizable_histories(model, max_ops=9))
    assert check(h, model).verdict == "ok"
    if data.draw(st.booleans()):
        h = _perturb(data.draw, h, model)
    want = _reference(h, model)
    assert check(h, model).verdict == want
    assert check(h, _python_model(model)).verdict == want


# -- hand-made cases -------------------------------------------------------------------------------
def test_unknown_write_may_take_effect_late():
    h = History([op(0, "write", 1, status="unknown", call=0),            # times out, never returns
                 op(1, "read", result=None, call=1, ret=2),
                 op(1, "read", result=1, call=10, ret=11),
                 op(2, "read", result=1, call=12, ret=13)])
    assert check(h).verdict == "ok"


def test_unknown_write_may_never_take_effect():
    h = History([op(0, "write", 1, status="unknown", call=0, ret=1),
                 op(1, "read", result=None, call=5, ret=6)])
    assert check(h).verdict == "ok"


def test_unknown_write_takes_effect_once():
    h = History([op(0, "write", 1, status="unknown", call=0),
                 op(1, "read", result=1, call=1, ret=2),
                 op(1, "write", 2, call=3, ret=4),
                 op(1, "read", result=1, call=5, ret=6)])
    assert check(h).verdict == "violation"


def test_failed_operations_are_left_out():
    h = History([op(0, "write", 5, status="fail", call=0, ret=1),
                 op(1, "read", result=None, call=2, ret=3)])
    assert check(h).verdict == "ok"
    h = History([op(0, "write", 5, call=0, ret=1),
                 op(0, "cas", (4, 6), result=(4, 6), status="fail", call=2, ret=3),
                 op(1, "read", result=5, call=4, ret=5)])
    assert check(h).verdict == "ok"


def test_stale_read_is_a_violation_with_its_counterexample():
    h = History([op(0, "write", 1, call=0, ret=1),
                 op(0, "write", 2, call=2, ret=3),
                 op(1, "read", result=1, call=4, ret=5),
                 op(1, "read", result=2, call=6, ret=7)])
    r = check(h)
    kr = r.keys[None]
    assert r.verdict == "violation"
    assert kr.failed_at is h[2]
    assert [o.index for o in kr.linearization] == [0, 1]


def test_kv_keys_are_checked_apart():
    h = History([op(0, "put", 1, key="a", call=0, ret=1),
                 op(0, "put", 1, key="b", call=2, ret=3),
                 op(1, "get", result=1, key="a", call=4, ret=5),
                 op(1, "get", result=None, key="b", call=6, ret=7),
                 op(2, "append", "x", key="c", call=0, ret=1),
                 op(2, "append", "y", key="c", call=2, ret=3),
                 op(2, "get", result="xy", key="c", call=4, ret=5)])
    r = check(h, "kv")
    assert r.verdict == "violation"
    assert {k: v.verdict for k, v in r.keys.items()} == {"a": "ok", "b": "violation", "c": "ok"}


def test_queue_and_counter():
    q = History([op(0, "enqueue", 1, call=0, ret=1), op(1, "enqueue", 2, call=0, ret=1),
                 op(0, "dequeue", result=2, call=2, ret=3), op(1, "dequeue", result=1, call=2, ret=3)])
    assert check(q, "queue").verdict == "ok"
    q.ops[3] = dataclasses.replace(q.ops[3], result=2)
    assert check(History(q.ops), "queue").verdict == "violation"
    c = History([op(0, "add", 2, call=0, ret=5), op(1, "add", 3, call=1, ret=2),
                 op(2, "read", result=3, call=3, ret=4), op(2, "read", result=4, call=6, ret=7)])
    assert check(c, "counter").verdict == "violation"


def test_user_model():
    # a register that may lose writes: any read of any value written is fine
    lossy = Model(init=frozenset([None]), step=lambda s, o: (True, s | {o.value}) if o.f == "write"
                  else (o.status != "ok" or o.result in s, s), ops=("read", "write"), name="lossy")
    h = History([op(0, "write", 1, call=0, ret=1), op(0, "write", 2, call=2, ret=3),
                 op(1, "read", result=1, call=4, ret=5)])
    assert check(h, "register").verdict == "violation"
    assert check(h, lossy).verdict == "ok"
    with pytest.raises(ValueError, match="unknown operation 'cas' for the lossy model"):
        check(History([op(0, "cas", (1, 2), call=0, ret=1)]), lossy)


def test_user_model_errors_propagate():
    def boom(state, o):
        raise RuntimeError("model bug")
    with pytest.raises(RuntimeError, match="model bug"):
        check(History([op(0, "write", 1, call=0, ret=1)]), Model(init=0, step=boom))
    unhashable = Model(init=0, step=lambda s, o: (True, [s]))
    with pytest.raises(TypeError, match="states must be hashable"):
        check(History([op(0, "write", 1, call=0, ret=1)]), unhashable)


# -- budgets -----------------------------------------------------------------------------------------
def hard_history(n=22):
    """n overlapping writes of distinct values and reads no order explains: every
    order of the writes is tried before the search gives up."""
    ops = [op(i, "write", i, call=0, ret=100) for i in range(n)]
    ops.append(op(n, "read", result=-1, call=200, ret=201))
    return History(ops)


def test_step_budget_gives_unknown_and_resumes():
    h = hard_history(14)
    r = check(h, budget=1000)
    assert r.verdict == "unknown" and r.keys[None].verdict == "unknown"
    s = lin._search(get_model("register"), None, list(h))
    assert s.run(max_steps=500) == "unknown"
    s._check()
    assert s.steps == 500
    assert s.run(max_steps=700) == "unknown"
    s._check()
    assert s.run() == "violation"
    s._check()


def test_time_budget_gives_unknown():
    r = check(hard_history(40), timeout="50ms")
    assert r.verdict == "unknown"
    assert r.seconds < 5
    assert check(hard_history(40), budget=0.05).verdict == "unknown"


def test_memory_cap_gives_unknown():
    r = check(hard_history(30), max_memory=200_000)
    kr = r.keys[None]
    assert r.verdict == "unknown" and kr.out_of_memory
    assert kr.configurations <= 200_000 // (8 * 3 + 33)
    s = lin._search(get_model("register"), None, list(hard_history(12)), max_configurations=50)
    assert s.run() == "unknown" and s.full and s.configurations == 50
    s._check()


@pytest.mark.parametrize("budget, want", [(None, (None, None)), (10, (10, None)), ("2s", (None, 2.0)),
                                          ("500ms", (None, 0.5)), (1.5, (None, 1.5))])
def test_parse_budget(budget, want):
    assert lin.parse_budget(budget) == want


@pytest.mark.parametrize("bad", [-1, "soon", True, "-3s"])
def test_parse_budget_rejects(bad):
    with pytest.raises(ValueError):
        lin.parse_budget(bad)


# -- tradeoff check ------------------------------------------------------------------------------------
def test_run_check_statuses(tmp_path):
    etcd(0)
    bad = run_check(str(HISTORIES / "etcd_000.log.gz"))
    assert bad.status == 1
    assert any("NOT linearizable" in line for line in bad.lines)
    good = run_check(str(HISTORIES / "etcd_002.log.gz"), fmt="json")
    assert good.status == 0
    assert json.loads(good.lines[0])["verdict"] == "ok"
    hard = tmp_path / "hard.jsonl"
    hard.write_text(hard_history(40).to_jsonl())
    assert run_check(str(hard), timeout="20ms").status == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(path="missing.edn"), "cannot read missing.edn: no such file"),
    (dict(consistency="causal", model="queue"), "checks histories of reads and writes"),
    (dict(consistency="eventual-ish"), "unknown consistency"),
    (dict(model="stack"), "unknown model 'stack'"),
    (dict(timeout="soon"), "bad --timeout .soon.: write a number of seconds"),
    (dict(fmt="xml"), "unknown output format"),
])
def test_run_check_user_errors(tmp_path, kwargs, message):
    good = tmp_path / "h.jsonl"
    good.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1}\n')
    kwargs.setdefault("path", str(good))
    with pytest.raises(UserError, match=message):
        run_check(**kwargs)


def test_run_check_malformed_file(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1}\n{oops\n')
    with pytest.raises(UserError, match="line 2: not JSON"):
        run_check(str(p))
    p.write_text('{"process": 0, "type": "invoke", "f": "frob", "value": 1}\n')
    with pytest.raises(UserError, match="line 1: unknown operation 'frob'"):
        run_check(str(p))


# -- the Cython encoder, the cache, symmetry, the portfolio's memory ----------------------------------
@st.composite
def alike_histories(draw, max_ops=11):
    """Register histories where many operations look alike: writes, reads and cas
    over two values, a third of them of unknown outcome (some never complete), a
    few failed, on intervals drawn at random (mostly not linearizable)."""
    n = draw(st.integers(1, max_ops))
    ops = []
    for i in range(n):
        f = draw(st.sampled_from(["write", "write", "read", "read", "cas"]))
        call = draw(st.integers(0, 12))
        ret = call + draw(st.integers(0, 8))
        status = draw(st.sampled_from(["ok", "ok", "unknown", "fail"]))
        value = result = None
        if f == "write":
            value = result = draw(st.sampled_from([1, 2]))
        elif f == "read":
            result = draw(st.sampled_from([None, 1, 2]))
        else:
            value = (draw(st.sampled_from([None, 1, 2])), draw(st.sampled_from([1, 2])))
            result = draw(st.sampled_from([True, False, value]))
        if status == "unknown":
            result = None
            if draw(st.booleans()):
                ret = None
        ops.append(Operation(draw(st.integers(0, 3)), f, value, result=result, status=status, call=call,
                             ret=ret))
    ops.sort(key=lambda o: o.call)
    return History(ops)


@settings(max_examples=500, **SETTINGS)
@given(alike_histories())
def test_symmetry_and_cache_agree_with_python_model(h):
    want = wgl_model.check(h)
    assert check(h).verdict == want
    assert check(h, _python_model("register")).verdict == want
    ops = [o for o in h if o.status != "fail" and not (o.status == "unknown" and o.f == "read")]
    for subsume in (True, False):
        for symmetry in (True, False):
            s = lin._search(get_model("register"), None, ops, subsume=subsume, optional_last=subsume,
                            symmetry=symmetry)
            assert s.run() == want, (subsume, symmetry)
            s._check()


@settings(max_examples=200, **SETTINGS)
@given(st.data())
def test_kv_alike_agrees_with_python_model(data):
    h = data.draw(alike_histories(max_ops=10))
    keys = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=len(h), max_size=len(h)))
    h = History([dataclasses.replace(o, key=k, f={"write": "put", "read": "get"}.get(o.f, o.f))
                 for o, k in zip(h, keys)])
    assert check(h, "kv").verdict == _reference(h, "kv")


@settings(max_examples=200, **SETTINGS)
@given(alike_histories(max_ops=9), st.sampled_from(["int", "float", "mixed", "shuffled"]))
def test_cython_encoder_matches_python_encoder(h, times):
    """encode_register builds what the Python encoder builds, for times given as
    ints, floats or both, and for operations out of invocation order."""
    import random
    ops = [o for o in h if o.status != "fail" and not (o.status == "unknown" and o.f == "read")]
    if times == "float":
        ops = [dataclasses.replace(o, call=o.call / 4, ret=None if o.ret is None else o.ret / 4) for o in ops]
    elif times == "mixed":
        ops = [dataclasses.replace(o, call=float(o.call)) if i % 2 else o for i, o in enumerate(ops)]
    elif times == "shuffled":
        random.Random(len(ops)).shuffle(ops)
    m = get_model("register")
    parts = lin._native_parts(m, ops, drop_unseen=False)
    assert parts is not None
    if not ops:
        assert parts == []
        return
    [(key, part, enc)] = parts
    assert key is None and part == ops
    py = lin._Encoded(len(ops))
    lin._encode_register(m, ops, py)
    entries = sorted([(o.call, 0, i) for i, o in enumerate(ops)]
                     + [(o.ret, 1, i) for i, o in enumerate(ops) if o.status == "ok"])
    entries = lin._ties_in_program_order(entries, ops)
    flags = [f | (0 if o.status == "ok" else lin._OPTIONAL) for f, o in zip(py.flags, ops)]
    want = (py.code, py.arg1, py.arg2, py.res, flags, py.sig, [e[2] for e in entries], [e[1] for e in entries], 0)
    assert enc.arrays() == want


def test_encoder_falls_back_for_other_times():
    h = [op(0, "write", 1, call="a", ret="b"), op(1, "read", result=1, call="c", ret="d")]
    assert lin._native_parts(get_model("register"), h) is None
    assert check(h).verdict == "ok"
    big = [op(0, "write", 1, call=2 ** 70, ret=2 ** 70 + 1), op(1, "read", result=2, call=2 ** 70 + 2, ret=2 ** 71)]
    assert lin._native_parts(get_model("register"), big) is None
    assert check(big).verdict == "violation"
    # ints beyond 2^53 with a float among them cannot all be doubles exactly
    mixed = [op(0, "write", 1, call=2 ** 60, ret=2 ** 60 + 1), op(1, "read", result=1, call=1e20, ret=1e21)]
    assert lin._native_parts(get_model("register"), mixed) is None
    assert check(mixed).verdict == "ok"


def test_encoder_reports_bad_operations():
    with pytest.raises(ValueError, match="cas needs"):
        check(History([op(0, "cas", 3, call=0, ret=1)]))
    with pytest.raises(ValueError, match="unknown operation 'append' for the register model"):
        check(History([op(0, "append", 3, call=0, ret=1)]))
    with pytest.raises(ValueError, match="not hashable"):
        check(History([op(0, "write", [1], call=0, ret=1)]))
    # a failed operation is still checked, as before
    with pytest.raises(ValueError, match="cas needs"):
        check(History([op(0, "cas", 3, status="fail", call=0, ret=1)]))


def test_unseen_unknown_writes_are_left_out():
    """Writes of unknown outcome whose value no read returns cannot matter in a part
    of reads and writes: they are left out (and the verdict is that of the model)."""
    from tradeoff.consistency.generate import long_pending_unknowns
    h = History([op(0, "write", 7, status="unknown", call=0),
                 op(1, "write", 1, call=1, ret=2),
                 op(1, "read", result=1, call=3, ret=4)])
    r = check(h)
    assert r.verdict == "ok" and r.keys[None].ops == 2
    # with a cas in the part, nothing is left out (a failed cas sees any value)
    h2 = History(list(h) + [op(2, "cas", (1, 3), result=False, call=5, ret=6)])
    assert check(h2).keys[None].ops == 4
    for n in (8, 14):
        for violation in (False, True):
            h = long_pending_unknowns(n, 3, violation=violation)
            assert check(h, max_steps=20_000_000, timeout=2.0).verdict == ("violation" if violation else "ok")


def test_many_equal_writes_are_polynomial():
    from tradeoff.consistency.generate import many_concurrent_writes
    for violation in (False, True):
        h = many_concurrent_writes(20, 0, violation=violation)
        r = check(h, counterexample=False, max_steps=100_000)
        assert r.verdict == ("violation" if violation else "ok")
        assert r.steps < 5_000                     # 2^20 configurations without the reduction
        ops = list(h)
        s = lin._search(get_model("register"), None, ops, symmetry=False)
        assert s.run(max_steps=100_000) == "unknown"
        s = lin._search(get_model("register"), None, ops)
        assert s.run() == r.verdict and s.skipped > 0
        s._check()


def test_pending_unknowns_cache_is_an_antichain():
    """The cache with many optional operations: a bucket per (required set, state),
    its optional sets an antichain (_check asserts it), the verdict that of the
    plain cache, and the steps fast (the writes here are all seen by some read, so
    none is left out)."""
    ops = [op(100 + i, "write", 10 + i, status="unknown", call=0) for i in range(8)]
    t = 1
    for i in range(8):
        ops.append(op(0, "read", result=10 + i, call=t, ret=t + 1))
        ops.append(op(0, "write", 0, call=t + 2, ret=t + 3))
        t += 4
    ops.append(op(0, "read", result=-1, call=t, ret=t + 1))
    h = History(ops)
    assert wgl_model.check(h) == "violation"
    a = lin._search(get_model("register"), None, list(h))
    assert a.run() == "violation"
    a._check()
    b = lin._search(get_model("register"), None, list(h), subsume=False, optional_last=False)
    assert b.run() == "violation"
    assert a.configurations <= b.configurations


def test_a_lone_search_gets_all_the_memory():
    h = hard_history(30)                             # no unknown outcomes: one search
    p = lin._Portfolio(get_model("register"), None, list(h), max_memory=200_000)
    assert not p.two
    assert p.run(lin.Budget()) == "unknown" and p.out_of_memory
    per = p.searches[0].record_bytes
    assert p.configurations == 200_000 // per
    h2 = History(list(h) + [op(99, "cas", (100, 101), status="unknown", call=0)])
    q = lin._Portfolio(get_model("register"), None, [o for o in h2], max_memory=200_000)
    assert q.two
    q.run(lin.Budget())
    assert all(s.configurations <= 100_000 // s.record_bytes for s in q.searches)


# -- a process's operations are sequential, also when one starts the instant the last ends --

@pytest.mark.parametrize("model, ops", [
    ("register", [Operation(0, "write", 1, call=0, ret=1), Operation(0, "read", result=None, call=1, ret=2)]),
    ("register", [Operation(0, "write", 1, call=0, ret=0), Operation(0, "read", result=None, call=0, ret=2)]),
    ("kv", [Operation(0, "put", 1, key="x", call=0.0, ret=1.5), Operation(0, "get", result=None, key="x",
                                                                         call=1.5, ret=2.0)]),
])
def test_touching_operations_of_one_process_are_sequential(model, ops):
    """The write ends at the instant the read starts, in the same process: the read
    comes after it and must see it. Both encoders (Cython, and the Python one that
    user models take) say so."""
    h = History(ops)
    assert check(h, model).verdict == "violation"
    assert check(h, _python_model(model)).verdict == "violation"


def test_touching_operations_of_two_processes_may_overlap():
    """Across processes, touching intervals overlap (as Knossos and Porcupine take
    them): the read may be ordered before the write."""
    h = History([Operation(0, "write", 1, call=0, ret=1), Operation(1, "read", result=None, call=1, ret=2)])
    assert check(h, "register").verdict == "ok"


def test_order_ties_against_a_brute_force_rule():
    """order_ties keeps each process's entries in program order and otherwise puts
    calls before returns."""
    import itertools

    from tradeoff.consistency._wgl import order_ties

    for procs in itertools.product("ab", repeat=4):
        # ops 0..3 in history order; op k's call and return both at the instant when k is even
        calls = [(0, procs[k], k) for k in range(4)]
        rets = [(0, procs[k], k) for k in range(4) if k % 2 == 0]
        out = order_ties(calls, rets)
        assert sorted(out) == sorted([(0, k) for k in range(4)] + [(1, k) for k in range(0, 4, 2)])
        pos = {e: i for i, e in enumerate(out)}
        for k in range(4):
            if (1, k) in pos:
                assert pos[(0, k)] < pos[(1, k)]                       # its own call first
            for j in range(k):
                if procs[j] == procs[k] and (1, j) in pos:
                    assert pos[(1, j)] < pos[(0, k)]                   # program order


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_encoders_c_tie_order_is_order_ties(data):
    """The encoder orders tie groups of up to TIE_MAX entries in C: the same answer
    as order_ties on random groups (parts, processes, ops with and without their
    own return at the instant)."""
    from tradeoff.consistency._wgl import order_ties, order_ties_native

    n = data.draw(st.integers(0, 12))
    ops = sorted(data.draw(st.lists(st.integers(0, 40), min_size=n, max_size=n, unique=True)))
    calls, rets = [], []
    for k in ops:
        part, proc = data.draw(st.integers(0, 2)), data.draw(st.sampled_from("abc"))
        kind = data.draw(st.sampled_from(["call", "ret", "both"]))
        if kind in ("call", "both"):
            calls.append((part, proc, k))
        if kind in ("ret", "both"):
            rets.append((part, proc, k))
    assert order_ties_native(calls, rets) == order_ties(calls, rets)
