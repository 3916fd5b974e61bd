"""Sequential consistency checking (Lamport, "How to make a multiprocessor computer that
correctly executes multiprocess programs", IEEE Transactions on Computers C-28(9), 1979).

A history is sequentially consistent (SC) when its operations can be put in one total
order that keeps each process's operations in the order the process issued them
(program order: here, invocation order within a process) and that is a run of the
sequential model. Unlike linearizability, real time between processes does not count:
a read may return a value that another process writes "later".

Operations whose outcome is known (``"ok"``) must all be placed; failed ones are left
out (as in :mod:`.linearizability`). An operation of unknown outcome may be placed or
left out, and when placed it must come after the operations of known outcome its
process issued before it, but the operations its process issued after it need not wait
for it (the client gave up on it, and it may take effect late; in Jepsen such a process
never issues again anyway). An unknown
operation the model marks inert (a timed-out read) is dropped.

The search (Gibbons and Korach, "Testing shared memories", SIAM J. Comput. 26(4), 1997,
show that deciding SC is NP-complete even for one register, so it is a search) is a
depth-first search over configurations (how many operations of each process are
placed, which unknown ones are placed, the model state) with a memo of configurations
already explored, like Lowe's cache for linearizability (Lowe, "Testing for
linearizability", CCPE 29(4), 2017). Two reductions keep it small, both exact:

- an operation of known outcome that never changes any state (a read, a contains, a
  cas known to have failed, of the built-in models) and that the model accepts in the
  current state is placed at once, without branching: moving it to the front of any
  completion from here keeps the completion valid (the states along it are unchanged);
- an unknown operation that would not change the state is never placed (placing it is
  the same as leaving it out).

Children are tried in invocation order, so a history that is close to linearizable
is found SC almost without backtracking.

Sequential consistency is not compositional (Herlihy and Wing, TOPLAS 1990, section
3.4): each key of a kv store can be SC on its own while the whole store is not (two
processes each write one key and then read the other's initial value). So this
checker does not stop at the keys:

1. when the model splits the history into independent parts (the keys of a kv store,
   the elements of a set; :meth:`.Model.partition`), each part is first checked on its
   own. A part that is not SC proves the whole history is not (the projection of an SC
   order on one key is an SC order of that key), so its verdict is final;
2. the whole history is then checked jointly, with a product state (one component per
   part, each stepped by the model), and that verdict decides. With one part (a single
   register, a queue, a counter, a set with whole-set reads) step 2 is step 1.

The result keeps both: ``keys`` holds each part's :class:`KeyResult`, and ``whole`` the
joint one (the same object as the single key's when there is one part).

Before both, a shortcut (``shortcut=True``, the default): a linearizable history is
SC (a linearization respects real time, hence program order), and linearizability is
local (Herlihy and Wing 1990, theorem 1: the history is linearizable iff each key is),
so the per-key Cython search of :func:`.linearizability.check` runs first on a share of
the budget. When it finds every key linearizable, the per-key linearizations, merged
by linearization points, are replayed as an SC order (program order, each key a run of
the model) and returned (``via == "linearizable"``); when that check says anything
else, or the merged order fails the replay, the search above decides as before. The
replay matters: the linearizability check counts an invocation at the very instant of
another operation's completion as overlapping it, even within one process, so its
order may break program order at such ties.

>>> from tradeoff.consistency.history import History, Operation
>>> h = History([Operation(0, "write", 1, call=0, ret=1),
...              Operation(1, "read", result=None, call=2, ret=3)])   # stale, but SC
>>> check_sequential(h).verdict
'ok'
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from .history import History
from ..harness.specs import parse_duration
from .linearizability import KeyResult, parse_budget
from .models import KV, Counter, Register, Set, get_model

__all__ = ["SequentialResult", "check_sequential"]


@dataclass
class SequentialResult:
    """The verdict of :func:`check_sequential`.

    ``verdict``: ``"ok"`` (an order exists for the whole history), ``"violation"`` (no
    order exists for some key or for the whole history) or ``"unknown"`` (the budget ran
    out first). ``keys`` maps each independent part to its :class:`KeyResult` (that
    part checked on its own: a necessary condition only); ``whole`` is the
    :class:`KeyResult` of the joint check (None when a part's violation made it
    unneeded, or when it did not start). In a KeyResult, ``linearization`` is the
    order found (for a violation or an unknown verdict: the longest order the search
    reached), ``failed_at`` the earliest-invoked operation of known outcome that could
    not extend that longest order, and ``concurrent`` every operation that could have
    come next there (the model refused each of them).
    """
    verdict: str
    model: str
    keys: dict
    whole: Optional[KeyResult]
    steps: int
    seconds: float
    via: str = "search"          # "linearizable": the order found is a linearization

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def violations(self) -> list:
        out = [k for k in self.keys.values() if k.verdict == "violation"]
        if self.whole is not None and self.whole.verdict == "violation" and self.whole not in out:
            out.append(self.whole)
        return out

    def describe(self) -> list:
        """Human-readable lines: the verdict, then the counterexample of a violation."""
        lines = [f"sequential consistency ({self.model}): {self.verdict}, {len(self.keys)} part(s), "
                 f"{self.steps} steps, {self.seconds * 1e3:.1f} ms"]
        bad = self.violations()
        for kr in bad:
            where = "the whole history" if kr is self.whole and len(self.keys) > 1 else f"key {kr.key!r}"
            lines.append(f"  {where}: no order of {kr.ops} operations respects program order "
                         f"and the {self.model} model")
            lines.append(f"    longest order found ({len(kr.linearization)} operations):")
            for op in kr.linearization[-10:]:
                lines.append(f"      {op.where()}: {op.describe()}")
            if len(kr.linearization) > 10:
                lines.append(f"      ... and {len(kr.linearization) - 10} before")
            if kr.failed_at is not None:
                lines.append(f"    every order fails before {kr.failed_at.where()}: {kr.failed_at.describe()}")
            for op in kr.concurrent:
                if op is not kr.failed_at:
                    lines.append(f"    also refused next: {op.where()}: {op.describe()}")
        if self.verdict == "unknown":
            lines.append("  the budget ran out before a verdict; raise timeout or max_steps")
        if self.verdict == "ok" and self.via == "linearizable":
            lines.append("  the history is linearizable, and a linearization is an SC order")
        elif self.verdict == "ok" and len(self.keys) > 1:
            lines.append("  every key on its own and the whole history jointly are SC")
        return lines

    def __repr__(self) -> str:
        return (f"<SequentialResult {self.verdict}: {len(self.keys)} part(s), model {self.model}, "
                f"{self.steps} steps, {self.seconds * 1e3:.1f} ms>")


class _Budget:
    def __init__(self, max_steps, max_seconds):
        self.steps_left = max_steps
        self.deadline = None if max_seconds is None else time.monotonic() + max_seconds

    def spent(self, used: int) -> bool:
        if self.steps_left is not None and used >= self.steps_left:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    def charge(self, used: int) -> None:
        if self.steps_left is not None:
            self.steps_left = max(0, self.steps_left - used)


class _Search:
    """Depth-first search for an SC order of ``ops`` (in invocation order; none failed).

    ``steps(op_position, state) -> (ok, new_state)`` is the model's step on the
    (possibly product) state; results are cached per (state, operation).
    """

    CHECK_EVERY = 256

    def __init__(self, ops, init, step, pure=()):
        self.ops = ops
        self.pure = pure                 # positions of ops that never change any state
        self.init = init
        self.step = step
        procs: dict = {}
        for i, op in enumerate(ops):
            procs.setdefault(op.process, []).append(i)
        self.chains = []                 # per process: positions of its known-outcome ops
        self.optional = []               # (position, process number, known ops of it before)
        for p, (_, idxs) in enumerate(procs.items()):
            chain = []
            for i in idxs:
                if ops[i].status == "ok":
                    chain.append(i)
                else:
                    self.optional.append((i, p, len(chain)))
            self.chains.append(chain)
        self.total = sum(len(c) for c in self.chains)
        self.cache: dict = {}
        self.steps = 0
        self.configurations = 0
        self.best: list = []             # the longest order reached (positions)
        self.order: Optional[list] = None

    def _apply(self, state, i):
        k = (state, i)
        r = self.cache.get(k)
        if r is None:
            ok, new = self.step(i, state)
            r = self.cache[k] = (bool(ok), new)
        return r

    def _close(self, pos, ubits, state, path):
        """Place every pure known op that is next in its chain and accepted (exact)."""
        if not self.pure:
            return tuple(pos), ubits, state
        pure = self.pure
        pos = list(pos)
        moved = True
        while moved:
            moved = False
            for p, chain in enumerate(self.chains):
                while pos[p] < len(chain):
                    i = chain[pos[p]]
                    if i not in pure:
                        break
                    ok, new = self._apply(state, i)
                    if not ok:
                        break
                    pos[p] += 1
                    path.append(i)
                    moved = True
        return tuple(pos), ubits, state

    def _children(self, pos, ubits, state):
        out = []
        for p, chain in enumerate(self.chains):
            if pos[p] < len(chain):
                i = chain[pos[p]]
                ok, new = self._apply(state, i)
                if ok:
                    np_ = list(pos)
                    np_[p] += 1
                    out.append((i, tuple(np_), ubits, new))
        for u, (i, p, need) in enumerate(self.optional):
            if not (ubits >> u) & 1 and pos[p] >= need:
                ok, new = self._apply(state, i)
                if ok and new != state:
                    out.append((i, pos, ubits | (1 << u), new))
        out.sort(key=lambda c: c[0])     # invocation order first
        return out

    def run(self, budget: _Budget) -> str:
        seen = set()
        path: list = []
        c0 = self._close((0,) * len(self.chains), 0, self.init, path)
        stack = [(c0, len(path), None)]   # (configuration, path length on entry, children)
        seen.add(c0)
        self.configurations = 1
        used = 0
        while stack:
            conf, plen, kids = stack[-1]
            if kids is None:
                pos, ubits, state = conf
                del path[plen:]
                if sum(pos) == self.total:
                    self.order = list(path)
                    self._charge(budget, used)
                    return "ok"
                if len(path) > len(self.best):
                    self.best = list(path)
                kids = self._children(pos, ubits, state)
                kids.reverse()
                stack[-1] = (conf, plen, kids)
                self.steps += 1
                used += 1
                if used % self.CHECK_EVERY == 0 and budget.spent(used):
                    self._charge(budget, used)
                    return "unknown"
            if not kids:
                stack.pop()
                continue
            i, pos, ubits, state = kids.pop()
            del path[plen:]
            path.append(i)
            child = self._close(pos, ubits, state, path)
            if child in seen:
                continue
            seen.add(child)
            self.configurations += 1
            stack.append((child, len(path), None))
        self._charge(budget, used)
        return "violation"

    @staticmethod
    def _charge(budget, used):
        budget.charge(used)

    def frontier(self) -> list:
        """The positions that could come next after the longest order (all refused)."""
        placed = set(self.best)
        out = []
        for chain in self.chains:
            for i in chain:
                if i not in placed:
                    out.append(i)
                    break
        for i, p, need in self.optional:
            if i not in placed and all(self.chains[p][k] in placed for k in range(need)):
                out.append(i)
        return sorted(out)


def _pure(model, op) -> bool:
    """Whether op (of known outcome) leaves every state of a built-in model unchanged."""
    if op.status != "ok" or type(model) not in _PURE:
        return False
    f = op.f
    if f == "cas":
        return op.result is False and model.native in ("register", "kv")
    return f in _PURE[type(model)]


_PURE = {Register: Register.READ, KV: KV.READ, Counter: ("read",), Set: ("contains", "read")}


def _run_part(model, key, ops, init, step, budget) -> KeyResult:
    t0 = time.perf_counter()
    pure = frozenset(i for i, op in enumerate(ops) if _pure(model, op))
    s = _Search(ops, init, step, pure)
    v = s.run(budget)
    kr = KeyResult(key=key, verdict=v, ops=len(ops), steps=s.steps, configurations=s.configurations)
    if v == "ok":
        kr.linearization = [ops[i] for i in s.order]
    else:
        kr.linearization = [ops[i] for i in s.best]
        if v == "violation":
            nxt = [ops[i] for i in s.frontier()]
            kr.concurrent = nxt
            known = [op for op in nxt if op.status == "ok"]
            kr.failed_at = min(known, key=lambda o: o.index) if known else None
            kr.prefix_ops = len(ops)
            kr.prefix_done = sum(1 for op in ops if op.status == "ok")
    kr.seconds = time.perf_counter() - t0
    return kr


#: the linearizability pre-check's share of the budget (steps and seconds), and its step cap
#: when the caller gave no budget (then a hard history falls through to the SC search soon)
LIN_SHARE = 0.5
LIN_STEPS_FREE = 10_000
LIN_STEPS_PER_OP = 64


def _merge_linearizations(model, live, parts, lin) -> Optional[list]:
    """One order of every operation of ``live`` that the linearizability check
    placed, made of its per-part linearizations, or None when they do not make a valid
    SC order (then the SC search decides).

    Each part's linearization is turned into linearization points: along it, an
    operation's point is the latest of its invocation and the point before it, which
    must not pass its completion (an operation of unknown outcome has none). Merging
    the parts by point (a heap over the part heads, so each part keeps its own order)
    gives a linearization of the whole history (locality of linearizability: Herlihy
    and Wing, TOPLAS 12(3), 1990, theorem 1), which respects real time and hence
    program order. Ties of equal points between parts are where that argument is
    thin (an operation that completes at the very instant its process invokes the
    next), so the merged order is then replayed: every known operation exactly once,
    each placed operation after the known operations its process issued before it,
    and each part a run of the model from its initial state. Cost O(n log parts).
    """
    import heapq
    part_of = {}
    for n, (_, ops) in enumerate(parts):
        for op in ops:
            part_of[id(op)] = n
    seqs = []
    for kr in lin.keys.values():
        pts = []
        t = None
        for op in kr.linearization:
            if id(op) not in part_of:
                return None
            c = op.call
            t = c if t is None or c > t else t
            if op.status == "ok" and op.ret is not None and t > op.ret:
                return None
            pts.append(t)
        if pts:
            seqs.append((pts, kr.linearization))
    heap = [(pts[0], ops[0].call, ops[0].index, s, 0) for s, (pts, ops) in enumerate(seqs)]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, _, s, j = heapq.heappop(heap)
        pts, ops = seqs[s]
        order.append(ops[j])
        j += 1
        if j < len(ops):
            heapq.heappush(heap, (pts[j], ops[j].call, ops[j].index, s, j))
    # replay
    known_before: dict = {}                  # process -> count of its known ops so far (in index order)
    rank = {}
    for op in live:
        if op.status == "ok":
            k = known_before.get(op.process, 0)
            rank[id(op)] = k
            known_before[op.process] = k + 1
        else:
            rank[id(op)] = known_before.get(op.process, 0)
    placed_known: dict = {}
    seen = set()
    states = [model.init] * len(parts)
    step = model.step
    for op in order:
        if id(op) in seen:
            return None
        seen.add(id(op))
        p = op.process
        done = placed_known.get(p, 0)
        if op.status == "ok":
            if done != rank[id(op)]:
                return None
            placed_known[p] = done + 1
        elif done < rank[id(op)]:
            return None
        n = part_of[id(op)]
        ok, states[n] = step(states[n], op)
        if not ok:
            return None
    if placed_known != known_before:
        return None
    return order


def _via_linearizability(model, ops, live, parts, budget: "_Budget", steps_cap, seconds_cap):
    """The linearizability check of ``ops`` on a share of the budget; (keys, whole,
    steps) from its linearization when it finds one that is an SC order, else
    (None, None, steps) and the SC search runs."""
    from .linearizability import check
    if steps_cap is None and seconds_cap is None:
        lin_steps = LIN_STEPS_FREE + LIN_STEPS_PER_OP * len(live)
    else:
        lin_steps = None if steps_cap is None else int(steps_cap * LIN_SHARE)
    lin_seconds = None if seconds_cap is None else seconds_cap * LIN_SHARE
    t0 = time.perf_counter()
    try:
        lin = check(ops, model, max_steps=lin_steps, timeout=lin_seconds, counterexample=False)
    except (ValueError, TypeError):
        return None, None, 0             # a shape the linearizability check does not take
    budget.charge(lin.steps)
    if lin.verdict != "ok":
        return None, None, lin.steps
    order = _merge_linearizations(model, live, parts, lin)
    if order is None:
        return None, None, lin.steps
    seconds = time.perf_counter() - t0
    which = {}
    for n, (_, part) in enumerate(parts):
        for op in part:
            which[id(op)] = n
    per: list = [[] for _ in parts]
    for op in order:
        per[which[id(op)]].append(op)
    keys = {}
    for n, (key, part) in enumerate(parts):
        lk = lin.keys.get(key)
        keys[key] = KeyResult(key=key, verdict="ok", ops=len(part), linearization=per[n],
                              steps=0 if lk is None else lk.steps,
                              configurations=0 if lk is None else lk.configurations,
                              seconds=0.0 if lk is None else lk.seconds)
    if len(parts) == 1:
        whole = next(iter(keys.values()))
    else:
        whole = KeyResult(key=None, verdict="ok", ops=len(live), linearization=order, steps=lin.steps,
                          seconds=seconds)
    return keys, whole, lin.steps


def check_sequential(history, model="register", timeout=None, *, max_steps: Optional[int] = None,
                     budget=None, joint: bool = True, shortcut: bool = True) -> SequentialResult:
    """Check ``history`` (a :class:`History` or a list of operations) for sequential
    consistency against ``model`` (a name or a :class:`.Model`).

    ``timeout`` (seconds, or a string such as ``"10s"``), ``max_steps`` (configurations
    expanded) and ``budget`` (either, as in :func:`.linearizability.check`) bound the
    whole check; when they run out the verdict is ``"unknown"``. ``joint=False`` skips
    the joint check of a partitioned history and reports only the per-part verdicts
    (then "ok" means only that every part is SC on its own; the verdict of such a
    result is "ok" only when there is one part, "unknown" otherwise).

    ``shortcut`` (default True): first run the linearizability check (on half of the
    budget; with no budget, on at most 10,000 + 64 per operation steps). A linearizable
    history is SC, and its linearization, merged across parts, is returned as the SC
    order (``via == "linearizable"``); otherwise the SC search below decides.

    Costs: exponential in the number of processes in the worst case (the problem is
    NP-complete); each configuration is stored once (memory grows with those explored).
    """
    t0 = time.perf_counter()
    model = get_model(model)
    steps_cap, seconds_cap = parse_budget(budget)
    if max_steps is not None:
        ms = parse_budget(int(max_steps))[0]
        steps_cap = ms if steps_cap is None else min(steps_cap, ms)
    if timeout is not None:
        t = parse_duration(timeout, "timeout")
        seconds_cap = t if seconds_cap is None else min(seconds_cap, t)
    ops = history.ops if isinstance(history, History) else History(history).ops
    model.check_ops(ops)
    inert = model.inert
    live = [op for op in ops if op.status == "ok" or (op.status == "unknown" and not inert(op))]
    b = _Budget(steps_cap, seconds_cap)
    parts = model.partition(live)
    if shortcut:
        keys, whole, _ = _via_linearizability(model, ops, live, parts, b, steps_cap, seconds_cap)
        if keys is not None:
            return SequentialResult(verdict="ok", model=model.name, keys=keys, whole=whole,
                                    steps=sum(kr.steps for kr in keys.values()),
                                    seconds=time.perf_counter() - t0, via="linearizable")
    mstep = model.step
    keys: dict = {}
    for key, part in parts:
        def step(i, state, part=part):
            return mstep(state, part[i])
        keys[key] = _run_part(model, key, part, model.init, step, b)
    whole = None
    verdicts = [kr.verdict for kr in keys.values()]
    if len(parts) == 1:
        whole = next(iter(keys.values()))
    elif "violation" not in verdicts and joint:
        which = {}
        for n, (key, part) in enumerate(parts):
            for op in part:
                which[id(op)] = n
        comp = [which[id(op)] for op in live]

        def step(i, state):
            n = comp[i]
            ok, new = mstep(state[n], live[i])
            if not ok:
                return False, state
            return True, state[:n] + (new,) + state[n + 1:]
        init = tuple(model.init for _ in parts)
        whole = _run_part(model, None, live, init, step, b)
    if "violation" in verdicts:
        verdict = "violation"
    elif whole is None:
        verdict = "unknown"
    else:
        verdict = whole.verdict
    steps = sum(kr.steps for kr in keys.values())
    if whole is not None and len(parts) > 1:
        steps += whole.steps
    return SequentialResult(verdict=verdict, model=model.name, keys=keys, whole=whole, steps=steps,
                            seconds=time.perf_counter() - t0)
