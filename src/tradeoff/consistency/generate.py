"""Seeded histories whose linearizability is known by construction.

Each generator first writes down a *hidden sequential execution* and then records what
the clients of that execution saw. Every operation gets an invocation time ``call``, a
completion time ``ret`` and a *linearization instant* inside ``[call, ret]``; the
operations take effect one at a time in the order of their instants, and each read
returns the state at its instant. Giving every operation a point inside its interval
at which it takes effect atomically is exactly the definition of linearizability
(Herlihy and Wing, "Linearizability: a correctness condition for concurrent objects",
TOPLAS 12(3), 1990), so the recorded history is linearizable whatever the seed: the
hidden order is a witness.

Operations of unknown outcome (Jepsen's ``:info``, a timeout) follow the checker's
reading of them: such an operation may take effect at any instant after its
invocation, or never. The generator decides, from the seed, whether it did and when
(possibly after the client gave up on it), and the hidden execution includes it or
not; either way the checker may do the same. As in Jepsen, a client whose operation
timed out is replaced by a fresh process (its number plus ``processes``), so the
concurrency stays the same and no process has two operations open.

A compare-and-set whose expected value did not match is recorded with status
``"fail"`` (Jepsen's ``:fail``): it certainly did not change the state, and a checker
leaves it out.

:func:`break_history` turns such a history into one that is certainly not
linearizable (its docstring gives the argument), and :func:`many_concurrent_writes`
and :func:`long_pending_unknowns` build the shapes that make a Wing-and-Gong search
slow. Every generator is deterministic for a given seed (``random.Random(seed)``).
Times are integers.

>>> from tradeoff.consistency import check
>>> h = register_history(50, processes=4, seed=7, unknown_fraction=0.1, cas=0.2)
>>> len(h), check(h).verdict
(50, 'ok')
>>> check(break_history(h, seed=7)).verdict
'violation'
>>> register_history(50, processes=4, seed=7).same_as(register_history(50, processes=4, seed=7))
True
"""
from __future__ import annotations

import dataclasses
import heapq
import math
import numbers
import random
from typing import Any, Optional

from .history import History, Operation

__all__ = ["break_history", "kv_history", "long_pending_unknowns", "many_concurrent_writes",
           "register_history"]

#: the longest an operation takes, and the longest a client waits between two (time units)
_MAX_DURATION = 20
_MAX_GAP = 10
#: operations a register or kv history may read, write and compare-and-set with
_READS = ("read", "get")
_WRITES = ("write", "put")


# -- argument checks -------------------------------------------------------------------------
def _count(name: str, value, least: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return int(value)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _seed(value) -> random.Random:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"seed must be an int, got {value!r}")
    return random.Random(int(value))


def _values(value) -> Optional[int]:
    if value is None:
        return None
    return _count("values", value, 1)


# -- the hidden execution ----------------------------------------------------------------------
@dataclasses.dataclass
class _Planned:
    """One operation before its outcome is known: who, what, when, and whether (and
    at which instant) it takes effect in the hidden execution."""
    seq: int
    process: Any
    f: str
    key: Any
    value: Any
    call: int
    ret: Optional[int]
    instant: Optional[int]          # None: it never takes effect
    unknown: bool
    result: Any = None
    status: str = "ok"


def _schedule(n_ops: int, processes: int, rng: random.Random, unknown_fraction: float,
              draw_op) -> list:
    """``n_ops`` operations from ``processes`` closed-loop clients.

    The client free soonest invokes next, after a pause of 0 to ``_MAX_GAP``; its
    operation lasts 1 to ``_MAX_DURATION`` and takes effect at a uniform instant of its
    interval. With probability ``unknown_fraction`` it times out instead: then it takes
    effect with probability 1/2, at an instant up to three durations after its call
    (possibly after the client gave up), and the client is replaced by a fresh
    process. ``draw_op(rng) -> (f, key, value)`` picks the operation."""
    free = [(0, slot) for slot in range(processes)]
    ids = list(range(processes))
    plan = []
    for seq in range(n_ops):
        t, slot = heapq.heappop(free)
        call = t + rng.randint(0, _MAX_GAP)
        duration = rng.randint(1, _MAX_DURATION)
        ret = call + duration
        f, key, value = draw_op(rng)
        unknown = unknown_fraction > 0 and rng.random() < unknown_fraction
        if unknown:
            instant = call + rng.randint(0, 3 * duration) if rng.random() < 0.5 else None
        else:
            instant = rng.randint(call, ret)
        plan.append(_Planned(seq, ids[slot], f, key, value, call, ret, instant, unknown))
        if unknown:
            ids[slot] += processes
        heapq.heappush(free, (ret, slot))
    return plan


def _execute(plan: list, rng: random.Random, states: dict) -> None:
    """Run the planned operations that take effect in the order of their instants
    (ties by plan order: both intervals hold the instant, so either order is a valid
    witness), filling in each one's result and status. ``states`` maps a key to its
    value (missing: None, the model's initial value)."""
    for p in sorted((p for p in plan if p.instant is not None), key=lambda p: (p.instant, p.seq)):
        state = states.get(p.key)
        if p.f in _READS:
            p.result = state
        elif p.f in _WRITES:
            states[p.key] = p.value
            p.result = p.value
        elif p.f == "cas":
            expected, new = p.value
            if rng.random() < 0.5:                 # half of them expect what is there
                expected = state
                p.value = (expected, new)
            if state == expected:
                states[p.key] = new
                p.result = p.value
            else:
                p.status = "fail"                  # certainly did not take effect
                p.result = p.value
        elif p.f == "append":
            states[p.key] = p.value if state is None else state + p.value
            p.result = p.value
        else:                                      # pragma: no cover - the generators draw no other
            raise AssertionError(p.f)
    for p in plan:
        if p.unknown:
            p.status, p.result = "unknown", None
        elif p.instant is None:                    # pragma: no cover - every known op has an instant
            raise AssertionError("a completed operation with no instant")


def _history(plan: list) -> History:
    ops = [Operation(p.process, p.f, p.value, result=p.result, status=p.status, call=p.call, ret=p.ret,
                     key=p.key)
           for p in sorted(plan, key=lambda p: (p.call, p.seq))]
    return History(ops)


def _draw_value(rng: random.Random, values: Optional[int], fresh: list) -> int:
    if values is None:                              # every write a value of its own
        fresh[0] += 1
        return fresh[0]
    return rng.randrange(values)


# -- generators --------------------------------------------------------------------------------
def register_history(n_ops: int, processes: int = 5, seed: int = 0, *, unknown_fraction: float = 0.0,
                     cas: float = 0.0, read_fraction: float = 0.5, values: Optional[int] = 5,
                     key: Any = None) -> History:
    """A linearizable history of one register (read, write, cas), ``n_ops`` operations
    from ``processes`` concurrent clients.

    Each operation is a read with probability ``read_fraction``, a compare-and-set
    with probability ``cas`` and a write otherwise. Writes and cas draw their values
    from ``range(values)`` (few values make the search harder: many writes look
    alike), or give every write a new value when ``values`` is None. Half of the cas
    expect the value the register holds at their instant, the others a random value
    (those that then do not match are recorded as failed). ``unknown_fraction`` of
    the operations time out (see the module docstring). All operations carry ``key``.

    O(n log n) time.

    >>> h = register_history(6, processes=2, seed=3)
    >>> [(op.process, op.f, op.value, op.result, op.call, op.ret) for op in h][:3]
    [(0, 'write', 2, 2, 3, 22), (1, 'read', None, None, 7, 26), (0, 'write', 1, 1, 29, 38)]
    """
    n_ops = _count("n_ops", n_ops)
    processes = _count("processes", processes, 1)
    unknown_fraction = _fraction("unknown_fraction", unknown_fraction)
    cas = _fraction("cas", cas)
    read_fraction = _fraction("read_fraction", read_fraction)
    if read_fraction + cas > 1.0:
        raise ValueError(f"read_fraction + cas must be <= 1, got {read_fraction} + {cas}")
    values = _values(values)
    rng = _seed(seed)
    fresh = [0]                                    # the last new value given (values=None)

    def draw(rng):
        u = rng.random()
        if u < read_fraction:
            return "read", key, None
        if u < read_fraction + cas:
            return "cas", key, (_draw_value(rng, values, fresh), _draw_value(rng, values, fresh))
        return "write", key, _draw_value(rng, values, fresh)

    plan = _schedule(n_ops, processes, rng, unknown_fraction, draw)
    _execute(plan, rng, {})
    return _history(plan)


def kv_history(n_ops: int, keys: int = 10, processes: int = 5, seed: int = 0, *,
               unknown_fraction: float = 0.0, read_fraction: float = 0.5, append_fraction: float = 0.25,
               values: int = 5) -> History:
    """A linearizable history of a key-value store: ``get``, ``put`` and ``append`` on
    keys ``0 .. keys-1`` (uniform), ``n_ops`` operations from ``processes`` clients.

    A get has probability ``read_fraction``, an append ``append_fraction``, a put the
    rest. Values are strings: a put writes ``"v0"`` .. ``"v{values-1}"``, an append
    adds ``"a0"`` .. ``"a{values-1}"`` to the key's string (to a missing key: starts
    it), as the ``kv`` model of :mod:`tradeoff.consistency.models` reads them.

    O(n log n) time.

    >>> h = kv_history(4, keys=2, processes=2, seed=1)
    >>> [(op.f, op.key, op.value, op.result) for op in h]
    [('put', 0, 'v2', 'v2'), ('get', 1, None, None), ('get', 1, None, 'a1'), ('append', 1, 'a1', 'a1')]
    """
    n_ops = _count("n_ops", n_ops)
    keys = _count("keys", keys, 1)
    processes = _count("processes", processes, 1)
    unknown_fraction = _fraction("unknown_fraction", unknown_fraction)
    read_fraction = _fraction("read_fraction", read_fraction)
    append_fraction = _fraction("append_fraction", append_fraction)
    if read_fraction + append_fraction > 1.0:
        raise ValueError(f"read_fraction + append_fraction must be <= 1, got {read_fraction} + {append_fraction}")
    values = _count("values", values, 1)
    rng = _seed(seed)

    def draw(rng):
        u = rng.random()
        k = rng.randrange(keys)
        if u < read_fraction:
            return "get", k, None
        if u < read_fraction + append_fraction:
            return "append", k, f"a{rng.randrange(values)}"
        return "put", k, f"v{rng.randrange(values)}"

    plan = _schedule(n_ops, processes, rng, unknown_fraction, draw)
    _execute(plan, rng, {})
    return _history(plan)


def many_concurrent_writes(n: int, seed: int = 0, *, value: int = 1, violation: bool = False) -> History:
    """``n`` writes of the same ``value``, all concurrent (every interval holds one
    common instant), and one read, invoked after every write and completed after every
    write, that returns the register's initial value (None).

    It is linearizable: the read takes effect first. It is a worst case for a
    Wing-and-Gong search that walks the entries in time order: every write's call
    comes before the read's, so the search linearizes writes first, and the read can
    follow only the empty set of writes. Lowe's cache tells configurations apart by
    the set of operations linearized, and after any non-empty set of these writes the
    state is the same, so the search can visit all 2^n subsets before it tries the
    read first. (A symmetry reduction that treats equal writes as interchangeable
    needs n + 1.)

    With ``violation=True`` the read returns ``value + 1`` instead, a value no
    operation writes and not the initial one: no order explains it, and a search must
    rule out every subset to say so.

    The seed draws the intervals and which process does what.

    >>> from tradeoff.consistency import check
    >>> h = many_concurrent_writes(3, seed=0)
    >>> [(op.f, op.value, op.result, op.call, op.ret) for op in h]
    [('write', 1, 1, 0, 5), ('write', 1, 1, 1, 5), ('write', 1, 1, 2, 5), ('read', None, None, 3, 7)]
    >>> check(h).verdict, check(many_concurrent_writes(3, violation=True)).verdict
    ('ok', 'violation')
    """
    n = _count("n", n, 1)
    rng = _seed(seed)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"value must be an int, got {value!r}")
    procs = list(range(n))
    rng.shuffle(procs)
    ops = []
    for i in range(n):
        call = rng.randint(0, n - 1)              # every call before n, every ret after n
        ret = n + 1 + rng.randint(0, n - 1)
        ops.append(Operation(procs[i], "write", value, result=value, call=call, ret=ret))
    read = Operation(n, "read", None, result=value + 1 if violation else None, call=n, ret=2 * n + 1)
    ops.sort(key=lambda op: op.call)
    ops.append(read)
    return History(ops)


def long_pending_unknowns(n: int, seed: int = 0, *, ops: int = 200, processes: int = 3,
                          values: int = 3, violation: bool = False) -> History:
    """``n`` writes invoked at the start that never complete (status unknown, no
    completion time), while ``processes`` other clients run ``ops`` reads and writes
    to completion.

    The pending writes write values of their own (``values``, ``values + 1``, ...);
    in the hidden execution half of them take effect, each at a uniform instant of
    the whole run, and the reads after it may see it. It is linearizable by
    construction (the module docstring). A search must carry every pending write
    along: each may be linearized at any point or left out, so the configurations are
    (completed operations linearized, subset of the pending ones, state).

    With ``violation=True`` the last completed read returns ``-1``, a value nothing
    writes (the other values are >= 0) and not the initial one: no order explains it,
    and the search must rule out every placement of the pending writes to say so.

    >>> h = long_pending_unknowns(2, seed=1, ops=4, processes=1)
    >>> [op.describe() for op in h]
    ['p1 write 3 -> ?', 'p2 write 4 -> ?', 'p0 write 0 -> ok', 'p0 write 1 -> ok', 'p0 read -> 1', 'p0 write 0 -> ok']
    >>> [op.ret for op in h][:2]
    [None, None]
    """
    n = _count("n", n)
    ops = _count("ops", ops)
    processes = _count("processes", processes, 1)
    values = _count("values", values, 1)
    rng = _seed(seed)

    def draw(rng):
        if rng.random() < 0.5:
            return "read", None, None
        return "write", None, rng.randrange(values)

    plan = _schedule(ops, processes, rng, 0.0, draw)
    end = max((p.ret for p in plan), default=0)
    for i in range(n):
        instant = rng.randint(0, end) if rng.random() < 0.5 else None
        plan.append(_Planned(ops + i, processes + i, "write", None, values + i, 0, None, instant, True))
    _execute(plan, rng, {})
    if violation:
        done = [p for p in plan if p.f == "read" and p.status == "ok"]
        if not done:
            raise ValueError(f"violation=True needs a completed read, and ops={ops} made none: use more ops")
        max(done, key=lambda p: (p.ret, p.seq)).result = -1
    return _history(plan)


# -- breaking a history --------------------------------------------------------------------------
def _numbers(v, out: list) -> None:
    if isinstance(v, numbers.Real):
        out.append(v)
    elif isinstance(v, (tuple, list)):
        for x in v:
            _numbers(x, out)


def _produced(op) -> list:
    """The values op may leave in its key (a write's argument, a cas's new value)."""
    if op.status == "fail":
        return []
    if op.f in _WRITES:
        return [op.value]
    if op.f == "cas" and isinstance(op.value, (tuple, list)) and len(op.value) == 2:
        return [op.value[1]]
    return []


def _stale_candidates(ops: list) -> list:
    """(read position, stale value) pairs that make a read certainly wrong: see
    :func:`break_history`."""
    by_key: dict = {}
    for i, op in enumerate(ops):
        by_key.setdefault(op.key, []).append(i)
    out = []
    for key, idx in by_key.items():
        part = [ops[i] for i in idx]
        if any(op.f not in _READS + _WRITES + ("cas",) for op in part):
            continue                               # appends can build values: not this argument
        latest: dict = {None: -math.inf}           # value -> the last completion of an op that makes it
        for op in part:
            for v in _produced(op):
                if op.status != "ok":
                    latest[v] = math.inf           # unknown outcome: it may land any time
                else:
                    latest[v] = max(latest.get(v, -math.inf), op.ret)
        stale = [v for v, t in latest.items() if t < math.inf]
        writes = [op for op in part if op.f in _WRITES and op.status == "ok"]
        # per stale value: the first completion of a write of another value invoked
        # after everything that makes it; a read invoked later cannot see it
        overwritten = {}
        for v in stale:
            rets = [w.ret for w in writes if w.value != v and w.call > latest[v]]
            if rets:
                overwritten[v] = min(rets)
        for i in idx:
            r = ops[i]
            if r.f in _READS and r.status == "ok":
                out.extend((i, v) for v, t in overwritten.items() if t < r.call)
    return out


def break_history(h: History, seed: int = 0, *, how: str = "auto") -> History:
    """A copy of the register or kv history ``h`` in which one completed read returns
    a value that no linearization allows; ``h`` itself is left as it is.

    ``how="stale"``: the read returns a value ``v`` that was overwritten strictly before
    the read began: there is a completed write ``w`` of another value with
    ``w.ret < read.call``, and every operation that could leave ``v`` in the register
    (a write of ``v``, a cas to ``v``, of any status but failed; the initial value
    counts as one that precedes everything) completed before ``w`` was invoked. Why
    that is certainly a violation: a completed operation takes effect inside its
    interval, so each of those happened before ``w``, ``w`` before the read, and
    nothing between ``w`` and the read can put ``v`` back (operations of unknown
    outcome that write ``v`` are excluded, since they may land any time after their
    call). Only keys without appends qualify (an append can build a value).

    ``how="fresh"``: the read returns an integer larger than any number the history
    holds. A register's or a kv key's state is always its initial value (None), a
    value some operation wrote, or the result of appends (a string or a tuple, never
    an integer); so no state equals it, and a completed read must take effect.

    ``how="auto"`` tries ``stale`` and falls back to ``fresh``. The read (and for
    ``stale`` the value) is drawn from ``seed``. ValueError when ``h`` has no
    completed read (``read``/``get``), or holds operations other than read, get,
    write, put, cas and append.

    >>> h = register_history(30, processes=3, seed=2)
    >>> [(x.index, x.result, y.result) for x, y in zip(h, break_history(h, seed=0)) if x.result != y.result]
    [(20, 2, None)]
    >>> [(x.index, x.result, y.result) for x, y in zip(h, break_history(h, seed=0, how="fresh"))
    ...  if x.result != y.result]
    [(12, 2, 5)]
    """
    if not isinstance(h, History):
        raise ValueError(f"h must be a History, got {type(h).__name__}")
    if how not in ("auto", "stale", "fresh"):
        raise ValueError(f"how must be auto, stale or fresh, got {how!r}")
    rng = _seed(seed)
    known = set(_READS + _WRITES + ("cas", "append"))
    for op in h:
        if op.f not in known:
            raise ValueError(f"h: {op.where()} is a {op.f!r}; break_history takes register and kv "
                             f"histories (read, get, write, put, cas, append)")
    ops = list(h.ops)
    reads = [i for i, op in enumerate(ops) if op.f in _READS and op.status == "ok"]
    if not reads:
        raise ValueError("h has no completed read to break")
    choice = None
    if how in ("auto", "stale"):
        cands = _stale_candidates(ops)
        if cands:
            choice = cands[rng.randrange(len(cands))]
        elif how == "stale":
            raise ValueError("h has no read that can be made stale (see break_history's docstring)")
    if choice is None:
        nums: list = [0]
        for op in ops:
            _numbers(op.value, nums)
            _numbers(op.result, nums)
        choice = (reads[rng.randrange(len(reads))], int(math.floor(max(nums))) + 1)
    i, v = choice
    ops = [dataclasses.replace(op) for op in ops]
    ops[i].result = v
    return History(ops)
