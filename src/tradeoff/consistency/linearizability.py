"""Linearizability checking (Herlihy and Wing, "Linearizability: a correctness condition
for concurrent objects", TOPLAS 12(3), 1990).

A history is linearizable when every operation can be given one instant between its
invocation and its completion such that, taken in the order of those instants, the
operations are a run of the sequential model. An operation whose outcome is unknown
may be given an instant anywhere after its invocation, or left out; a failed operation
is left out.

:func:`check` splits the history into independent parts (the keys of a kv store, the
elements of a set: P-compositionality, Horn and Kroening, FORTE 2015), and searches
each with the Wing and Gong algorithm and Lowe's cache (see ``_wgl.pyx``) under one
budget of steps, seconds and memory. Each part runs two complete searches in turns
(subsumption with the operations of unknown outcome tried last, and the plain cache in
time order; :class:`_Portfolio` says why) and takes the first verdict. A part whose
searches run out of budget is "unknown", never a hang.

Register and kv histories are encoded in Cython in one pass over the history, every
key at once (``_wgl.encode_register``): checking a name, dropping inert operations,
splitting by key, interning values and ordering the entries cost a few attribute reads
per operation, not Python calls. Writes of unknown outcome whose value no read returns
are left out of parts of reads and writes (``_wgl._drop_unseen_writes`` says why that
is exact).

Which models run where: register, kv, counter and set (without whole-set reads) run
entirely in the Cython search on int64 states (interned values, a sum, 0/1 per
element); kv's append, the queue, a set with reads and user-defined models run the same
search with their step computed in Python, once per (state, operation) pair.

For a violation it finds the smallest prefix of the part that no order explains: the
prefixes up to each completion are checked by bisection (linearizability is closed
under prefixes, pending operations counted as of unknown outcome), and the operation
whose completion ends the smallest failing prefix is the one at which every order
fails. The longest partial linearization of that prefix, and the operations
overlapping the failing one, come with it.

>>> from tradeoff.consistency.history import History, Operation
>>> h = History([Operation(0, "write", 1, call=0, ret=1),
...              Operation(1, "read", result=0, call=2, ret=3)])
>>> r = check(h)
>>> r.verdict, r.keys[None].failed_at.describe()
('violation', 'p1 read -> 0')
"""
from __future__ import annotations

import dataclasses
import numbers
from array import array
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from . import _wgl
from ..harness.specs import parse_duration
from .history import History, Operation
from .models import KV, Register, append_value, get_model

__all__ = ["Budget", "CheckResult", "KeyResult", "check", "parse_budget"]

_OP = _wgl.OPCODES
_KNOWN = _wgl.KNOWN
_OPTIONAL = _wgl.OPTIONAL
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


# -- budget ----------------------------------------------------------------------------------
# durations ("60s", "500ms", "2m", a number of seconds, a timedelta) are read by the one
# parser of every area, tradeoff.harness.specs.parse_duration


def parse_budget(budget) -> tuple[Optional[int], Optional[float]]:
    """``budget`` as (max_steps, max_seconds): None (no limit), an int (steps), a
    float, a timedelta or a duration string (seconds)."""
    if budget is None:
        return None, None
    if isinstance(budget, bool):
        raise ValueError(f"budget must be steps (an int) or seconds, got {budget!r}")
    if isinstance(budget, numbers.Integral):
        if budget < 0:
            raise ValueError(f"budget must be >= 0 steps, got {budget}")
        return int(budget), None
    return None, parse_duration(budget, "budget")


class Budget:
    """What is left of a check's steps and seconds (shared by every search)."""

    def __init__(self, max_steps: Optional[int] = None, max_seconds: Optional[float] = None):
        self.steps = max_steps
        self.deadline = None if max_seconds is None else _wgl.monotonic() + max_seconds

    def run(self, search, max_steps: Optional[int] = None) -> str:
        """Run (or resume) a search for at most max_steps more steps, within what is left."""
        seconds = None
        if self.deadline is not None:
            seconds = max(0.0, self.deadline - _wgl.monotonic())
        cap = self.steps
        if max_steps is not None:
            cap = max_steps if cap is None else min(cap, max_steps)
        before = search.steps
        verdict = search.run(max_steps=cap, max_seconds=seconds)
        if self.steps is not None:
            self.steps = max(0, self.steps - (search.steps - before))
        return verdict

    def spent(self) -> bool:
        return (self.steps is not None and self.steps <= 0) or (
            self.deadline is not None and _wgl.monotonic() >= self.deadline)


# -- results ---------------------------------------------------------------------------------
@dataclass
class KeyResult:
    """The verdict on one independent part (a key) and, for a violation, its
    counterexample: ``failed_at`` is the operation whose completion ends the smallest
    prefix no order explains, ``linearization`` the longest order found for that
    prefix (operations, in order), ``concurrent`` the prefix's operations that overlap
    ``failed_at``."""
    key: Any
    verdict: str
    ops: int                                # operations checked (after dropping inert ones)
    steps: int = 0
    configurations: int = 0
    seconds: float = 0.0
    linearization: list = field(default_factory=list)
    failed_at: Optional[Operation] = None
    concurrent: list = field(default_factory=list)
    prefix_ops: int = 0                     # operations in the smallest failing prefix ...
    prefix_done: int = 0                    # ... of which completed in it (the rest may be left out)
    out_of_memory: bool = False             # "unknown" because the cache reached max_memory

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass
class CheckResult:
    """The verdict of :func:`check`: ``"ok"`` when every key is linearizable,
    ``"violation"`` when one is not, else ``"unknown"`` (the budget ran out); ``keys``
    maps each key to its :class:`KeyResult`."""
    verdict: str
    model: str
    keys: dict
    steps: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def violations(self) -> list:
        return [k for k in self.keys.values() if k.verdict == "violation"]

    def __repr__(self) -> str:
        return (f"<CheckResult {self.verdict}: {len(self.keys)} key(s), model {self.model}, "
                f"{self.steps} steps, {self.seconds * 1e3:.1f} ms>")


# -- encoding one part for the search ----------------------------------------------------------
class _Interner:
    """Exact ids for hashable Python values (a register's values, a model's states)."""

    def __init__(self, first):
        self.ids = {first: 0}
        self.values = [first]

    def __call__(self, v) -> int:
        i = self.ids.get(v)
        if i is None:
            i = self.ids[v] = len(self.values)
            self.values.append(v)
        return i


class _Encoded:
    """The columns of _wgl.Search, built op by op (lists: cheaper to fill one item
    at a time than arrays)."""

    def __init__(self, n):
        self.code = [0] * n
        self.arg1 = [0] * n
        self.arg2 = [0] * n
        self.res = [0] * n
        self.flags = [0] * n
        self.sig = [0] * n
        self.init = 0
        self.transition = None
        self.nsig = 0


def _unhashable(op) -> ValueError:
    return ValueError(f"{op.where()}: a {op.f} with a value that is not hashable ({op.value!r} -> {op.result!r})")


def _encode_register(model, ops, enc: _Encoded) -> None:
    try:
        _encode_register_ops(model, ops, enc)
    except TypeError:
        for op in ops:
            try:
                hash((op.value, op.result))
            except TypeError:
                raise _unhashable(op) from None
        raise


def _encode_register_ops(model, ops, enc: _Encoded) -> None:
    vid = _Interner(model.init)
    ids = vid.ids
    intern = vid
    READ, WRITE = model.READ, model.WRITE
    OP_READ, OP_WRITE, OP_CAS, OP_CALL = _OP["read"], _OP["write"], _OP["cas"], _OP["call"]
    code, arg1, arg2, res, flags, sig = enc.code, enc.arg1, enc.arg2, enc.res, enc.flags, enc.sig
    sigs: dict = {}
    sig_ops: list = []
    for i, op in enumerate(ops):
        f = op.f
        if f in READ:
            code[i] = OP_READ
            if op.status == "ok":
                v = op.result
                k = ids.get(v)
                res[i] = k if k is not None else intern(v)
                flags[i] = _KNOWN
        elif f in WRITE:
            code[i] = OP_WRITE
            v = op.value
            k = ids.get(v)
            arg1[i] = k if k is not None else intern(v)
        elif f == "cas":
            code[i] = OP_CAS
            expected, new = op.value
            arg1[i] = intern(expected)
            arg2[i] = intern(new)
            if op.status == "ok":
                res[i] = 0 if op.result is False else 1
                flags[i] = _KNOWN
        else:                                         # kv append: Python computes the new value
            code[i] = OP_CALL
            s = sigs.get(op.value)
            if s is None:
                s = sigs[op.value] = len(sig_ops)
                sig_ops.append(op.value)
            sig[i] = s
    enc.init = 0
    if sig_ops:
        values = vid.values

        def transition(state, sig):
            new = append_value(values[state], sig_ops[sig])
            if new is None:
                return False, state
            return True, vid(new)
        enc.transition = transition
        enc.nsig = len(sig_ops)


def _encode_counter(model, ops, enc: _Encoded) -> bool:
    def fits(v):
        return _I64_MIN <= v <= _I64_MAX
    if not fits(model.init):
        return False
    for i, op in enumerate(ops):
        if op.f == "add":
            if not fits(op.value):
                return False
            enc.code[i] = _OP["add"]
            enc.arg1[i] = op.value
        else:
            enc.code[i] = _OP["read"]
            if op.status == "ok":
                if not fits(op.result):
                    return False
                enc.res[i] = op.result
                enc.flags[i] |= _KNOWN
    enc.init = model.init
    return True


def _encode_set_element(model, element, ops, enc: _Encoded) -> None:
    # one element of a set is a register holding 0 (absent) or 1 (present)
    for i, op in enumerate(ops):
        known = op.status == "ok"
        r = op.result if known and isinstance(op.result, bool) else None
        if op.f == "contains":
            enc.code[i] = _OP["read"]
            if known:
                enc.res[i] = 1 if op.result else 0
                enc.flags[i] |= _KNOWN
        elif r is None:
            enc.code[i] = _OP["write"]
            enc.arg1[i] = 1 if op.f == "add" else 0
        else:                                         # add -> changed iff it was absent
            enc.code[i] = _OP["cas"]
            enc.arg1[i], enc.arg2[i] = (0, 1) if op.f == "add" else (1, 0)
            enc.res[i] = 1 if r else 0
            enc.flags[i] |= _KNOWN
    enc.init = 1 if element in model.init else 0


def _encode_python(model, ops, enc: _Encoded) -> None:
    states = _Interner(model.init)
    sigs: dict = {}
    sig_ops: list = []
    for i, op in enumerate(ops):
        enc.code[i] = _OP["call"]
        try:
            k = (op.f, op.key, op.value, op.result, op.status)
            s = sigs.get(k)
            if s is None:
                s = sigs[k] = len(sig_ops)
                sig_ops.append(op)
        except TypeError:                             # unhashable argument: a signature of its own
            s = len(sig_ops)
            sig_ops.append(op)
        enc.sig[i] = s
        if op.status == "ok":
            enc.flags[i] |= _KNOWN
    values = states.values
    step = model.step

    def transition(state, sig):
        ok, new = step(values[state], sig_ops[sig])
        try:
            return bool(ok), states(new)
        except TypeError:
            raise TypeError(f"the {model.name} model's states must be hashable, got "
                            f"{type(new).__name__}") from None
    enc.init = 0
    enc.transition = transition
    enc.nsig = max(1, len(sig_ops))


def _native_parts(model, ops, drop_unseen: bool = True) -> Optional[list]:
    """For the built-in register and kv models (exactly those classes: a subclass
    may change the steps or the split), every part of ``ops`` encoded in one pass in
    Cython (``_wgl.encode_register``): a list of (key, operations, Encoded); None for
    other models, or when the times are not ints and floats (then the Python
    encoders below run)."""
    if type(model) is not Register and type(model) is not KV:
        return None
    return _wgl.encode_register(ops, type(model) is KV, model.init, model.READ, model.WRITE,
                                model.check_op, _unhashable, append_value, drop_unseen)


def _encode(model, key, ops) -> "_wgl.Encoded":
    """One part's operations (none failed) encoded for _wgl.Search, each of them
    (no write left out: the search's indexes are those of ``ops``)."""
    parts = _native_parts(model, ops, drop_unseen=False)
    if parts is not None and len(parts) <= 1:
        if parts:
            return parts[0][2]
        return _wgl.Encoded(array("i"), array("q"), array("q"), array("q"), array("B"), array("q"),
                            array("i"), array("B"), 0)
    n = len(ops)
    enc = _Encoded(n)
    native = model.native
    if native in ("register", "kv"):
        _encode_register(model, ops, enc)
    elif native == "counter":
        if not _encode_counter(model, ops, enc):
            enc = _Encoded(n)
            _encode_python(model, ops, enc)
    elif native == "set" and not any(op.f == "read" for op in ops):
        _encode_set_element(model, key, ops, enc)
    else:
        _encode_python(model, ops, enc)
    flags = enc.flags
    entries = []
    for i, op in enumerate(ops):
        entries.append((op.call, 0, i))
        if op.status == "ok":
            entries.append((op.ret, 1, i))
        else:
            flags[i] |= _OPTIONAL
    entries.sort()
    entries = _ties_in_program_order(entries, ops)
    return _wgl.Encoded(array("i", enc.code), array("q", enc.arg1), array("q", enc.arg2), array("q", enc.res),
                        array("B", flags), array("q", enc.sig), array("i", [e[2] for e in entries]),
                        array("B", [e[1] for e in entries]), enc.init, enc.transition, enc.nsig)


def _ties_in_program_order(entries, ops):
    """Entries sorted by (time, call before return, position), with each instant's
    calls and returns put in the order of :func:`_wgl.order_ties` (a process's
    operation that returns at the instant its next one is invoked returns first)."""
    out, i, n = [], 0, len(entries)
    while i < n:
        j = i + 1
        while j < n and entries[j][0] == entries[i][0]:
            j += 1
        group = entries[i:j]
        if j - i > 1 and group[0][1] == 0 and group[-1][1] == 1:
            calls = [(0, ops[e[2]].process, e[2]) for e in group if e[1] == 0]
            rets = [(0, ops[e[2]].process, e[2]) for e in group if e[1] == 1]
            group = [(entries[i][0], kind, op) for kind, op in _wgl.order_ties(calls, rets)]
        out.extend(group)
        i = j
    return out


def _search(model, key, ops, subsume: bool = True, optional_last: bool = True,
            max_configurations: int = -1, symmetry: bool = True) -> "_wgl.Search":
    """One search over one part's operations (in invocation order; none failed)."""
    return _encode(model, key, ops).search(subsume=subsume, optional_last=optional_last,
                                           max_configurations=max_configurations, symmetry=symmetry)


class _Portfolio:
    """Two complete searches of one part, run in turns with doubling step slices
    until one decides: (a) with subsumption, trying the operations of unknown outcome
    last, and (b) Lowe's plain cache in time order. (a) is far ahead when few of the
    timed-out operations took effect (the Jepsen etcd histories: 7,000 steps against
    790,000 for the hardest); (b) when most did (it then walks almost straight to a
    linearization, where (a) backtracks to place each one). Either verdict is right;
    (b) starts only once (a) has taken a few steps per entry (an easy part is decided
    by (a) alone), so the pair costs at most about four times the better one plus
    O(entries). Without operations of unknown outcome the two are the same search,
    and only (a) runs. Memory: a search that runs alone may fill all of
    ``max_memory``; two get half each."""

    FIRST_SLICE = 1024

    def __init__(self, model, key, ops, max_memory: Optional[int] = None, enc=None):
        if enc is None:
            parts = _native_parts(model, ops)
            if parts is not None and len(parts) == 1:
                _, ops, enc = parts[0]              # unseen writes left out
            else:
                enc = _encode(model, key, ops)
        self.ops = ops
        self.enc = enc
        self.max_memory = max_memory
        self.out_of_memory = False
        self.two = self.enc.n_entries < 2 * len(ops)        # some outcome is unknown
        self.searches = [self._new(True)]
        # the second search starts once the first has taken a few steps per entry:
        # an easy part (a few steps per entry) is then decided by one search, not
        # two in turns, and the pair still costs O(steps of the better + entries)
        self.first_slice = max(self.FIRST_SLICE, 4 * self.enc.n_entries)
        self.slice = self.first_slice
        self.decided = None

    def _new(self, first: bool):
        # a search that runs alone may fill all of the memory allowed; two share it
        cap = -1
        if self.max_memory is not None:
            cap = self.max_memory // 2 if self.two else self.max_memory
        return self.enc.search(subsume=first, optional_last=first, max_bytes=cap)

    def run(self, budget: Budget) -> str:
        """"ok", "violation", or "unknown" when the budget ran out or both searches
        filled the memory allowed."""
        while True:
            if self.two and len(self.searches) == 1 and self.searches[0].steps >= self.first_slice:
                self.searches.append(self._new(False))
            progress = False
            for s in self.searches:
                if s.full:
                    continue
                v = budget.run(s, max_steps=self.slice)
                if v != "unknown":
                    self.decided = s
                    return v
                if budget.spent():
                    return "unknown"
                progress = True
            if not progress:
                self.out_of_memory = True
                return "unknown"
            self.slice *= 2

    @property
    def steps(self) -> int:
        return sum(s.steps for s in self.searches)

    @property
    def configurations(self) -> int:
        return sum(s.configurations for s in self.searches)

    def linearization(self) -> list:
        """The operations, in order, of the deciding search's linearization when it
        found one, else of the longest one either search reached."""
        if self.decided is not None and self.decided.verdict_ok():
            return self.decided.linearization_of(self.ops)
        best = max(self.searches, key=lambda s: len(s.linearization()))
        return best.linearization_of(self.ops)


# -- the check --------------------------------------------------------------------------------
def _prefix(ops, end: Operation) -> list:
    """The operations of the prefix that ends with end's completion entry: those
    whose call entry comes before it (an invocation at that very time overlaps, so it
    counts); those whose completion entry does not come before it become of unknown
    outcome (pending)."""
    t = end.ret
    out = []
    for op in ops:
        if op.call > t:
            continue
        if op.status == "ok" and (op.ret, op.index) <= (t, end.index):
            out.append(op)
        else:
            out.append(dataclasses.replace(op, status="unknown", result=None, ret=None))
    return out


def _prefix_search(model, key, ops, end, max_memory) -> _Portfolio:
    part = [op for op in _prefix(ops, end) if not (op.status == "unknown" and model.inert(op))]
    return _Portfolio(model, key, part, max_memory)


def _counterexample(model, key, ops, budget: Budget, kr: KeyResult, main: _Portfolio,
                    max_memory: Optional[int]) -> None:
    """Bisect for the smallest failing prefix; fill kr's counterexample fields.
    ``main`` is the search that found the violation."""
    done = sorted((op for op in ops if op.status == "ok"), key=lambda o: (o.ret, o.index))
    lo, hi = 0, len(done) - 1                 # invariant: the prefix ending at done[hi] fails
    found = main                              # ... as its search found
    while lo < hi and not budget.spent():
        mid = (lo + hi) // 2
        p = _prefix_search(model, key, ops, done[mid], max_memory)
        v = p.run(budget)
        kr.steps += p.steps
        if v == "unknown":
            break
        if v == "violation":
            hi = mid
            found = p
        else:
            lo = mid + 1
        del p
    end = done[hi]
    p = found
    kr.failed_at = end
    kr.linearization = p.linearization()
    kr.prefix_ops = len(p.ops)
    kr.prefix_done = sum(1 for op in p.ops if op.status == "ok")
    kr.concurrent = [op for op in p.ops if op is not end and op.call <= end.ret
                     and (op.ret is None or op.ret >= end.call)]


def check(history, model="register", budget=None, *, max_steps: Optional[int] = None,
          timeout=None, max_memory: Optional[int] = 1 << 30, counterexample: bool = True) -> CheckResult:
    """Check ``history`` (a :class:`History` or a list of operations) for
    linearizability against ``model`` (a name, see :mod:`.models`, or a model).

    ``budget``: None (no limit), an int (steps), or seconds (a float, a timedelta or a
    string such as ``"60s"``); or give ``max_steps`` and ``timeout`` separately. Every
    part's search shares it; one that runs out is "unknown". ``max_memory`` (bytes, None:
    no limit) caps the cache of configurations of each part's search: a part that
    reaches it is "unknown" too. Operations the model does not know raise ValueError
    naming their line.
    """
    if max_memory is not None and max_memory <= 0:
        raise ValueError(f"max_memory must be > 0 bytes, got {max_memory}")
    t0 = time.perf_counter()
    model = get_model(model)
    steps_cap, seconds_cap = parse_budget(budget)
    if max_steps is not None:
        ms = parse_budget(int(max_steps))[0]
        steps_cap = ms if steps_cap is None else min(steps_cap, ms)
    if timeout is not None:
        t = parse_duration(timeout, "timeout")
        seconds_cap = min(seconds_cap, t) if seconds_cap is not None else t
    if isinstance(history, History):
        ops = history.ops
    else:
        ops = History(history).ops                 # checks every operation
    parts = _native_parts(model, ops)
    if parts is None:
        model.check_ops(ops)
        inert = model.inert
        live = [op for op in ops if op.status == "ok" or (op.status == "unknown" and not inert(op))]
        parts = [(key, part, None) for key, part in model.partition(live)]
    elif not parts:
        parts = [(None, [], None)]                 # as model.partition([]) has it
    budget_left = Budget(steps_cap, seconds_cap)
    results: dict = {}
    searches = {}
    for key, part, enc in parts:
        t1 = time.perf_counter()
        p = _Portfolio(model, key, part, max_memory, enc)
        v = p.run(budget_left)
        kr = KeyResult(key=key, verdict=v, ops=len(part), steps=p.steps,
                       configurations=p.configurations, seconds=time.perf_counter() - t1,
                       out_of_memory=p.out_of_memory)
        if v == "ok":
            kr.linearization = p.linearization()
        results[key] = kr
        if v == "violation" and counterexample:
            searches[key] = p                 # kept for its counterexample; the others are freed
        del p
    for key, p in searches.items():
        kr = results[key]
        t1 = time.perf_counter()
        _counterexample(model, key, p.ops, budget_left, kr, p, max_memory)
        kr.seconds += time.perf_counter() - t1
    verdicts = [kr.verdict for kr in results.values()]
    if "violation" in verdicts:
        verdict = "violation"
    elif "unknown" in verdicts:
        verdict = "unknown"
    else:
        verdict = "ok"
    return CheckResult(verdict=verdict, model=model.name, keys=results,
                       steps=sum(kr.steps for kr in results.values()),
                       seconds=time.perf_counter() - t0)
