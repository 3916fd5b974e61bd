"""Linearizability checking: the Cython search on the Jepsen etcd histories and on
generated histories, against a plain pure-Python WGL peer on the same histories.

Timed (pyperf):
- ``etcd``: :func:`tradeoff.consistency.check` of each of the 20 Jepsen etcd register
  histories (Porcupine's test set: about 85 operations each, a sixth of them timed out),
  verdict only, per history, and the peer on the same histories. Target: 100x the
  peer. ``etcd_counterexample``: the same as a user's ``check(h)`` runs it, a
  violation's counterexample included. Target: under 50 ms a history.
- ``register_1000``: a generated register history of 1000 operations (5 clients,
  reads, writes and cas, 5% timed out), per operation; the peer on the same history.
- ``kv_10k``: a generated key-value history of 10,000 operations (get, put, append;
  100 keys, 10 clients, 5% timed out), per operation; the peer on the same history.
  Target: seconds for 10,000+ operations.

Scenarios (generated histories are seeded; times are one run's wall clock, the best of
a few for ours):
- ``etcd_verdicts``: each etcd history's verdict against Porcupine's, its size, the
  search's steps, and the time of ours (with and without the counterexample) and of
  the peer, with their ratio.
- ``check_vs_length``: checking time against the length of generated register
  histories (5 clients), with the peer's time and the ratio.
- ``check_vs_processes``: checking time of 1000-operation register histories against
  the number of concurrent clients; a check that runs out of its budget says
  ``unknown``.
- ``kv_vs_length``: checking time of key-value histories of 10,000 to 100,000
  operations.
- ``worst_case``: many concurrent writes of one value, and long-pending writes of
  unknown outcome (:mod:`tradeoff.consistency.generate`), linearizable and not: the
  verdict (``unknown`` when the budget ran out, reported as it is), the expected one,
  steps, configurations and time.
- ``replication_histories``: histories the single-leader simulator records (sync with
  leader reads; async with follower reads; async with sticky follower reads), checked
  for linearizability, causal consistency and the session guarantees: each verdict, the
  session violations found beside those the simulator counted, and each check's time.
- ``weaker_models``: the sequential, causal (CC, CM, CCv) and session checks on the
  etcd histories (sequential) and a generated 2000-operation kv history of unique
  values (all of them): verdicts and times.

The etcd cases are skipped with a one-line notice when the histories are not found:
``$TRADEOFF_HISTORIES``, else ``../shared/histories`` beside a source checkout.
"""
from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from pathlib import Path

from tradeoff import benchmark, scenario
from tradeoff.harness.errors import Skip

ETCD = [f"etcd_{i:03d}" for i in range(20)]
REGISTER_OPS = 1000
KV_OPS = 10_000
KV_KEYS = 100
#: the budget of one check in the scenarios that can blow up
BUDGET_STEPS = 20_000_000
BUDGET_SECONDS = 2.0
#: check_vs_processes runs the peer (which has no budget) up to this many clients
PEER_MAX_PROCESSES = 16


# -- inputs ------------------------------------------------------------------------------------
def histories_dir():
    """The folder of the reference histories: $TRADEOFF_HISTORIES, else
    ../shared/histories beside a source checkout; None when neither exists."""
    env = os.environ.get("TRADEOFF_HISTORIES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up.parent / "shared" / "histories"
        if (up / "pyproject.toml").exists() and cand.is_dir():
            return cand
    return None


def _need_histories() -> Path:
    folder = histories_dir()
    if folder is None or not (folder / "expected.json").exists():
        raise Skip("the Jepsen etcd histories are not here: set TRADEOFF_HISTORIES to their folder")
    return folder


@lru_cache(maxsize=None)
def etcd_history(name: str):
    """One reference history (read once per process)."""
    from tradeoff.consistency import read_history

    return read_history(_need_histories() / f"{name}.log.gz")


@lru_cache(maxsize=1)
def etcd_expected() -> dict:
    """name -> "ok" or "violation", Porcupine's verdicts."""
    raw = json.loads((_need_histories() / "expected.json").read_text())["verdicts"]
    return {k: "ok" if v else "violation" for k, v in raw.items()}


@lru_cache(maxsize=8)
def register_case(n_ops: int, processes: int, seed: int):
    """The generated register history of the timed and scenario cases."""
    from tradeoff.consistency.generate import register_history

    return register_history(n_ops, processes, seed, unknown_fraction=0.05, cas=0.2)


@lru_cache(maxsize=4)
def kv_case(n_ops: int, seed: int):
    """The generated key-value history of the timed and scenario cases."""
    from tradeoff.consistency.generate import kv_history

    return kv_history(n_ops, KV_KEYS, 10, seed, unknown_fraction=0.05)


# -- the peer: a plain pure-Python WGL ----------------------------------------------------------
# THE PEER. Not tradeoff's checker: a plain pure-Python Wing-and-Gong search with Lowe's
# cache, as one would write it from the papers, to measure the Cython search against.
# Written here because the tests' reference model cannot be imported from the package.

def peer_step(state, op):
    """The register / kv model for the peer: (whether op could return what it did in
    ``state``, the state after it). An operation of unknown outcome accepts any result;
    an ok cas swapped unless its result is the boolean False."""
    f = op.f
    if f == "read" or f == "get":
        return (op.status != "ok" or op.result == state), state
    if f == "write" or f == "put":
        return True, op.value
    if f == "cas":
        old, new = op.value
        said = op.result if op.status == "ok" and isinstance(op.result, bool) else None
        if op.status == "ok" and said is None:
            said = True
        if state == old:
            return said is not False, new
        return said is not True, state
    if f == "append":
        x = op.value
        if state is None:
            return True, (x if isinstance(x, (str, tuple)) else (x,))
        if isinstance(state, str) and isinstance(x, str):
            return True, state + x
        if isinstance(state, tuple):
            return True, state + (x if isinstance(x, tuple) else (x,))
        return False, state
    raise ValueError(f"the peer knows read/get, write/put, cas and append, not {f!r}")


def peer_linearizable(ops, step=peer_step, init=None) -> bool:
    """The peer's search over one key's operations (none failed): Wing and Gong,
    "Testing and verifying concurrent objects" (JPDC 17, 1993), with the cache of
    (operations linearized, state) of Lowe, "Testing for linearizability" (CCPE 29(4),
    2017). A doubly linked list of call and return entries in time order (a call
    before a return at equal times); an operation of unknown outcome has no return
    entry and may be left out."""
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        if op.status == "ok":
            events.append((op.ret, 1, i))
    events.sort()
    m = len(events)
    # nodes 1..m are the entries, node 0 the sentinel at both ends
    after = list(range(1, m + 2))
    after[m] = 0
    before = list(range(-1, m))
    before[0] = m
    call_at = [0] * len(ops)
    ret_at = [0] * len(ops)
    for node, (_, is_ret, i) in enumerate(events, 1):
        if is_ret:
            ret_at[i] = node
        else:
            call_at[i] = node
    left = sum(1 for op in ops if op.status == "ok")
    cache = set()
    trail = []
    state = init
    mask = 0
    node = after[0]
    while left:
        _, is_ret, i = events[node - 1]
        if is_ret:
            if not trail:
                return False
            i, state = trail.pop()
            mask ^= 1 << i
            r = ret_at[i]
            if r:
                after[before[r]] = r
                before[after[r]] = r
                left += 1
            c = call_at[i]
            after[before[c]] = c
            before[after[c]] = c
            node = after[c]
            continue
        ok, new = step(state, ops[i])
        if ok:
            key = (mask | (1 << i), new)
            if key not in cache:
                cache.add(key)
                trail.append((i, state))
                state, mask = new, key[0]
                c = call_at[i]
                after[before[c]] = after[c]
                before[after[c]] = before[c]
                r = ret_at[i]
                if r:
                    after[before[r]] = after[r]
                    before[after[r]] = before[r]
                    left -= 1
                node = after[0]
                continue
        node = after[node]
    return True


def peer_check(history) -> str:
    """The peer's verdict on a register or kv history: each key on its own, failed
    operations left out. "ok" or "violation"."""
    parts: dict = {}
    for op in history:
        if op.status != "fail":
            parts.setdefault(op.key, []).append(op)
    for ops in parts.values():
        if not peer_linearizable(ops):
            return "violation"
    return "ok"


# -- timing helpers ----------------------------------------------------------------------------
def _best(fn, repeat: int = 5, budget: float = 0.5):
    """(the last result, the least seconds of up to ``repeat`` calls, stopping after
    ``budget`` seconds)."""
    best = float("inf")
    out = None
    spent = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        if spent > budget:
            break
    return out, best


def _check(model="register", **kw):
    from tradeoff.consistency import check

    return lambda h: check(h, model, **kw)


# -- timed -------------------------------------------------------------------------------------
@benchmark(params={"impl": ["tradeoff", "python"]}, compare="impl", inner_loops=len(ETCD), processes=6)
def etcd(impl):
    """The 20 Jepsen etcd histories checked one after another, per history, verdict
    only: ``check(h, counterexample=False)``, or the pure-Python peer. The histories
    are read before timing."""
    hs = [etcd_history(name) for name in ETCD]
    if impl == "python":
        return lambda: [peer_check(h) for h in hs]
    chk = _check(counterexample=False)
    return lambda: [chk(h) for h in hs]


@benchmark(inner_loops=len(ETCD), processes=6)
def etcd_counterexample():
    """The same 20 histories checked as a user's ``check(h)`` does it: a violation
    comes with its counterexample (the smallest failing prefix, by bisection, and the
    longest partial linearization), per history. Target: under 50 ms."""
    hs = [etcd_history(name) for name in ETCD]
    chk = _check()
    return lambda: [chk(h) for h in hs]


@benchmark(params={"impl": ["tradeoff", "python"]}, compare="impl", inner_loops=REGISTER_OPS, processes=6)
def register_1000(impl, seed):
    """A generated register history of 1000 operations (5 clients, 50% reads, 20% cas,
    5% timed out, values 0-4), checked, per operation: ``check(h)`` or the peer."""
    h = register_case(REGISTER_OPS, 5, seed)
    if impl == "python":
        return lambda: peer_check(h)
    chk = _check()
    return lambda: chk(h)


@benchmark(params={"impl": ["tradeoff", "python"]}, compare="impl", inner_loops=KV_OPS, processes=6)
def kv_10k(impl, seed):
    """A generated key-value history of 10,000 operations (get, put, append over 100
    keys, 10 clients, 5% timed out), checked, per operation: ``check(h, "kv")`` (each
    key on its own) or the peer (each key on its own too)."""
    h = kv_case(KV_OPS, seed)
    if impl == "python":
        return lambda: peer_check(h)
    chk = _check("kv")
    return lambda: chk(h)


# -- scenarios ---------------------------------------------------------------------------------
@scenario(params={"history": ETCD})
def etcd_verdicts(history):
    """One etcd history: our verdict and the peer's against Porcupine's (``match``:
    ours agrees), its operations (completed, unknown, failed), the search's steps,
    the best of 5 of ``check`` with the counterexample (``ms``) and without it
    (``verdict_ms``), one run of the peer (``python_ms``), and ``ratio``: the peer's
    time over ``verdict_ms`` (both decide the verdict only)."""
    h = etcd_history(history)
    want = etcd_expected()[history]
    r, full = _best(lambda: _check()(h))
    _, bare = _best(lambda: _check(counterexample=False)(h))
    t0 = time.perf_counter()
    theirs = peer_check(h)
    peer_s = time.perf_counter() - t0
    return {"verdict": r.verdict, "expected": want, "match": r.verdict == want,
            "python_verdict": theirs, "n_ops": len(h),
            "unknown": sum(op.status == "unknown" for op in h),
            "failed": sum(op.status == "fail" for op in h), "steps": r.steps,
            "ms": full * 1e3, "verdict_ms": bare * 1e3, "python_ms": peer_s * 1e3,
            "ratio": peer_s / bare}


@scenario(params={"ops": [250, 500, 1000, 2000, 4000, 8000]})
def check_vs_length(ops, seed):
    """A generated register history of ``ops`` operations (5 clients, 50% reads, 20%
    cas, 5% timed out): verdict (always linearizable by construction), steps, the best
    of 5 checks (ms, operations per second), one run of the peer and the ratio."""
    h = register_case(ops, 5, seed)
    r, s = _best(lambda: _check(counterexample=False)(h))
    t0 = time.perf_counter()
    theirs = peer_check(h)
    peer_s = time.perf_counter() - t0
    return {"verdict": r.verdict, "expected": "ok", "python_verdict": theirs, "steps": r.steps,
            "ms": s * 1e3, "ops_per_s": ops / s, "python_ms": peer_s * 1e3, "ratio": peer_s / s}


@scenario(params={"processes": [2, 4, 8, 16, 32]})
def check_vs_processes(processes, seed):
    """A generated register history of 1000 operations from ``processes`` concurrent
    clients (50% reads, 20% cas, 5% timed out): verdict (``unknown`` when the budget of
    2 s / 20M steps ran out, ``out_of_memory`` when the cache filled), steps,
    configurations cached, time; and one run of the peer (up to 16 clients: the peer has
    no budget) with the ratio."""
    h = register_case(REGISTER_OPS, processes, seed)
    (r, s) = _best(lambda: _check(counterexample=False, max_steps=BUDGET_STEPS, timeout=BUDGET_SECONDS)(h),
                   repeat=3)
    peer_s = float("nan")
    if processes <= PEER_MAX_PROCESSES:
        t0 = time.perf_counter()
        peer_check(h)
        peer_s = time.perf_counter() - t0
    return {"verdict": r.verdict, "expected": "ok", "steps": r.steps,
            "configurations": sum(k.configurations for k in r.keys.values()),
            "out_of_memory": any(k.out_of_memory for k in r.keys.values()),
            "ms": s * 1e3, "ops_per_s": REGISTER_OPS / s, "python_ms": peer_s * 1e3, "ratio": peer_s / s}


@scenario(params={"ops": [10_000, 100_000]})
def kv_vs_length(ops, seed):
    """A generated key-value history (get, put, append over 100 keys, 10 clients, 5%
    timed out) of ``ops`` operations: verdict, steps, time (best of 3), operations
    per second."""
    h = kv_case(ops, seed)
    r, s = _best(lambda: _check("kv", counterexample=False)(h), repeat=3, budget=2.0)
    return {"verdict": r.verdict, "expected": "ok", "keys": len(r.keys), "steps": r.steps,
            "ms": s * 1e3, "ops_per_s": ops / s}


def worst_history(shape: str, n: int, violation: bool, seed: int):
    """The history of one ``worst_case``."""
    from tradeoff.consistency import generate

    if shape == "concurrent_writes":
        return generate.many_concurrent_writes(n, seed, violation=violation)
    if shape == "pending_unknowns":
        return generate.long_pending_unknowns(n, seed, violation=violation)
    raise ValueError(f"shape must be concurrent_writes or pending_unknowns, got {shape!r}")


@scenario(params={"shape": ["concurrent_writes", "pending_unknowns"], "n": [8, 14, 20],
                  "violation": [False, True]})
def worst_case(shape, n, violation, seed):
    """The shapes that make the search slow (see :mod:`tradeoff.consistency.generate`):
    ``concurrent_writes``: n concurrent writes of one value and a read of the initial
    value among them; ``pending_unknowns``: n writes that never complete alongside 200
    completed reads and writes. With ``violation`` a read returns a value nothing
    wrote. One check, verdict only, within 2 s and 20M steps: the verdict
    (``unknown`` when the budget ran out: reported as it is), the one known by
    construction, steps, configurations cached, time."""
    h = worst_history(shape, n, violation, seed)
    t0 = time.perf_counter()
    r = _check(counterexample=False, max_steps=BUDGET_STEPS, timeout=BUDGET_SECONDS)(h)
    s = time.perf_counter() - t0
    return {"verdict": r.verdict, "expected": "violation" if violation else "ok", "n_ops": len(h),
            "steps": r.steps, "configurations": sum(k.configurations for k in r.keys.values()),
            "out_of_memory": any(k.out_of_memory for k in r.keys.values()), "ms": s * 1e3}


def _leader_history(ops, seed, clients, keys, read_fraction=0.9, run=None, **kw):
    """A history recorded by the single-leader simulator (3 replicas, exponential 5 ms
    delays), read back as the checkers read it; ``run`` (a dict) gets the run."""
    import tempfile

    from tradeoff.consistency import read_history
    from tradeoff.replication.leader import simulate

    r = simulate(n=3, clients=clients, ops=ops, keys=keys, read_fraction=read_fraction,
                 delays="exp:mean=5ms", seed=seed, history=True, **kw)
    if run is not None:
        run["run"] = r
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "h.jsonl")
        r.write_history(path)
        return read_history(path)


#: replication_histories: the single-leader configurations and what each promises
REPLICATION = {"sync-leader": dict(mode="sync", reads="leader"),
               "async-follower": dict(mode="async", reads="follower"),
               "async-sticky": dict(mode="async", reads="sticky")}


@scenario(params={"config": list(REPLICATION), "ops": [2000, 20000]})
def replication_histories(config, ops, seed):
    """A history of :func:`tradeoff.replication.leader.simulate` (3 replicas, 8 clients,
    20 keys, exponential 5 ms delays, 90% reads) checked for linearizability (kv),
    causal consistency (CC) and every session guarantee: verdicts, the read-your-writes
    and monotonic-reads violations the checker proves beside those the simulator
    counted, and the time of each check (ms)."""
    from tradeoff.consistency import check_causal, check_sessions

    run = {}
    h = _leader_history(ops, seed, clients=8, keys=20, run=run, **REPLICATION[config])
    run = run["run"]
    out = {"n_ops": len(h), "sim_ryw": run.counters["ryw"], "sim_mr": run.counters["mr"],
           "sim_stale": run.counters["stale"]}
    t0 = time.perf_counter()
    lin = _check("kv", counterexample=False, max_steps=BUDGET_STEPS, timeout=BUDGET_SECONDS)(h)
    t1 = time.perf_counter()
    cc = check_causal(h, "CC")
    t2 = time.perf_counter()
    ss = check_sessions(h)
    t3 = time.perf_counter()
    out.update({"linearizable": lin.verdict, "lin_ms": (t1 - t0) * 1e3, "causal": cc.verdict,
                "causal_ms": (t2 - t1) * 1e3, "sessions": ss.verdict, "sessions_ms": (t3 - t2) * 1e3,
                "ryw_found": ss.counts.get("read-your-writes", 0), "mr_found": ss.counts.get("monotonic-reads", 0)})
    return out


@scenario(params={"check": ["sequential-etcd", "sequential-kv", "CC", "CM", "CCv", "sessions"]})
def weaker_models(check, seed):
    """The checks weaker than linearizability: sequential consistency over the 20 etcd
    histories (verdicts; all are sequentially consistent) or a generated kv history of
    2000 operations (the single-leader simulator, synchronous, reads from the leader: 8
    clients, 4 keys, half writes, each of a unique value), and the causal and session
    checks on that kv history: the verdict and the time (best of 3, ms)."""
    from tradeoff.consistency import check_causal, check_sequential, check_sessions

    if check == "sequential-etcd":
        hs = [etcd_history(name) for name in ETCD]
        t0 = time.perf_counter()
        verdicts = [check_sequential(h, "register").verdict for h in hs]
        s = time.perf_counter() - t0
        return {"verdict": "ok" if all(v == "ok" for v in verdicts) else "violation",
                "ok": sum(v == "ok" for v in verdicts), "histories": len(hs), "ms": s * 1e3}
    h = _leader_history(2000, seed, clients=8, keys=4, read_fraction=0.5, mode="sync", reads="leader")
    run = {"sequential-kv": lambda: check_sequential(h, "kv", timeout=BUDGET_SECONDS, max_steps=BUDGET_STEPS),
           "CC": lambda: check_causal(h, "CC"), "CM": lambda: check_causal(h, "CM"),
           "CCv": lambda: check_causal(h, "CCv"), "sessions": lambda: check_sessions(h)}[check]
    r, s = _best(run, repeat=3, budget=2.0)
    return {"verdict": r.verdict, "expected": "ok", "n_ops": len(h), "ms": s * 1e3}
