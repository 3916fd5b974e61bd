"""Session guarantees (Terry, Demers, Petersen, Spreitzer, Theimer and Welch, "Session
guarantees for weakly consistent replicated data", PDIS 1994) and eventual convergence,
for register and kv histories with unique written values.

A session is a process. The histories, and which operations are kept, are those of
:mod:`.causal` (reads and writes, each value written at most once per key; failed
operations and reads of unknown outcome left out; a write of unknown outcome kept only
when some read returned its value). Relations, as there: PO (program order), wr
(read-from), CO = (PO union wr)+; as there, nothing is PO-after a write of unknown outcome.

Staleness. A read r of key x *misses* a write w of x when r returns the initial value,
or returns the value of a write w' != w with w' CO-before w (w is known to have
overwritten what r returned). A write concurrent with the one r read is not missed:
either may win.

The four guarantees, each a violation when the read r misses the write w named:

- read-your-writes (RYW): w is a write of r's process, PO-before r;
- monotonic reads (MR): an earlier read r1 of r's process, of the same key, returned w
  (per key: a read returns one key's value, so what it observed of other keys is not
  known);
- monotonic writes (MW): w is PO-before a write w2 (of one process), and a read r2 of
  r's process that is r or PO-before r returned w2 (whoever saw w2 must see w1 too);
- writes-follow-reads (WFR): some read r1 returned w, r1 is PO-before a write w2 (of
  one process), and a read r2 of r's process that is r or PO-before r returned w2.

Each path from w to r above (PO; wr.PO; PO.wr.PO; wr.PO.wr.PO) is in CO, so every
session violation is a causal one (WriteCOInitRead or WriteCORead of the causal
checker); the converse does not hold.

Eventual convergence (EC), per key x: let t be the time the last write of x completed
(a write of unknown outcome that never completed counts from its invocation, where the
client gave up on it). Every read of x of known outcome invoked after t must return
the same value, and that value is one that was written to x (by any kept or unknown
write) or the initial value. Keys whose writes never completed, or with no read after
t, have nothing to check.

>>> from tradeoff.consistency.history import History, Operation
>>> h = History([Operation(0, "write", 1, call=0, ret=1), Operation(0, "read", result=None, call=2, ret=3)])
>>> r = check_sessions(h)
>>> r.verdict, sorted(r.violations)
('violation', ['read-your-writes'])
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .causal import READS, WRITES, _bits, _Graph
from .history import History

__all__ = ["GUARANTEES", "SessionResult", "SessionViolation", "check_sessions"]

GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads", "convergence")
_ALIASES = {"ryw": "read-your-writes", "mr": "monotonic-reads", "mw": "monotonic-writes",
            "wfr": "writes-follow-reads", "ec": "convergence", "eventual": "convergence",
            "eventual-convergence": "convergence"}


@dataclass
class SessionViolation:
    """One violation of ``guarantee``: the operations involved (in the order of the
    definition, the read that breaks it last) and a sentence."""
    guarantee: str
    ops: list
    text: str

    def describe(self) -> list:
        lines = [f"{self.guarantee}: {self.text}"]
        for op in self.ops:
            lines.append(f"    {op.where()}: {op.describe()}")
        return lines


@dataclass
class SessionResult:
    """The verdict of :func:`check_sessions`: ``"ok"`` or ``"violation"``;
    ``violations`` maps each guarantee violated to its :class:`SessionViolation` list (at
    most ``limit`` each; ``counts`` has how many in all); ``checked`` the guarantees
    looked at."""
    verdict: str
    violations: dict
    counts: dict
    checked: tuple
    ops: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def describe(self) -> list:
        lines = [f"session guarantees: {self.verdict}, {self.ops} operations, {self.seconds * 1e3:.1f} ms"]
        for gname in self.checked:
            vs = self.violations.get(gname)
            if not vs:
                lines.append(f"  {gname}: ok")
                continue
            lines.append(f"  {gname}: {self.counts[gname]} violation(s)")
            for v in vs:
                lines.extend("    " + s for s in v.describe())
        return lines

    def __repr__(self) -> str:
        bad = ", ".join(self.violations) or "none violated"
        return f"<SessionResult {self.verdict}: {bad}>"


def _names(guarantees) -> tuple:
    if guarantees is None:
        return GUARANTEES
    if isinstance(guarantees, str):
        guarantees = [guarantees]
    out = []
    for gname in guarantees:
        k = str(gname).lower().replace("_", "-").replace(" ", "-")
        k = _ALIASES.get(k, k)
        if k not in GUARANTEES:
            raise ValueError(f"unknown session guarantee {gname!r} (one of {', '.join(GUARANTEES)}, "
                             f"or RYW, MR, MW, WFR, EC)")
        if k not in out:
            out.append(k)
    return tuple(out)


class _Out:
    def __init__(self, g, limit):
        self.g = g
        self.limit = limit
        self.violations: dict = {}
        self.counts: dict = {}

    def add(self, gname, positions, text):
        n = self.counts.get(gname, 0)
        self.counts[gname] = n + 1
        if n < self.limit:
            self.violations.setdefault(gname, []).append(
                SessionViolation(gname, [self.g.ops[i] if isinstance(i, int) else i for i in positions], text))


def _missed(g: _Graph, r: int) -> int:
    """The writes of r's key that r misses (bitset)."""
    wm = g.wmask.get(g.key[r], 0)
    w = g.writer[r]
    if w == -1:
        return wm
    if w == -2:
        return 0                      # a value never written: the causal checker's ThinAirRead
    return g.desc[w] & wm & ~(1 << w)


def _sessions(g: _Graph, names, out: _Out) -> None:
    n = g.n
    # per write w2: the writes PO-before it, and the writes read PO-before it (bitsets)
    po_writes = [0] * n
    read_before = [0] * n
    for chain in g.chains:
        ws = rs = 0
        for i in chain:
            if g.is_write[i]:
                po_writes[i] = ws
                read_before[i] = rs
                if g.known[i]:
                    ws |= 1 << i
            elif g.writer[i] >= 0:
                rs |= 1 << g.writer[i]
    for chain in g.chains:
        own = 0                       # writes of this process so far
        seen: dict = {}               # key -> writes read so far on that key
        mw = 0                        # writes PO-before a write read so far
        wfr = 0                       # writes read before a write read so far
        for r in chain:
            if g.is_write[r]:
                if g.known[r]:
                    own |= 1 << r
                continue
            w = g.writer[r]
            if w >= 0:                 # r itself counts as the r2 of MW and WFR
                mw |= po_writes[w]
                wfr |= read_before[w]
            miss = _missed(g, r)
            key = g.key[r]
            if miss:
                if "read-your-writes" in names:
                    for w1 in _bits(own & miss):
                        out.add("read-your-writes", [w1, r], "the process reads a value older than "
                                "its own earlier write")
                if "monotonic-reads" in names:
                    for w1 in _bits(seen.get(key, 0) & miss):
                        r1 = _reader_before(g, chain, r, w1)
                        out.add("monotonic-reads", [r1, r], "the process reads a value older than "
                                "one it read before")
                if "monotonic-writes" in names:
                    for w1 in _bits(mw & miss):
                        w2, r2 = _via(g, chain, r, w1, po_writes)
                        out.add("monotonic-writes", [w1, w2, r2, r], "the process saw a later write "
                                "of a session but then misses an earlier write of that session")
                if "writes-follow-reads" in names:
                    for w1 in _bits(wfr & miss):
                        w2, r2 = _via(g, chain, r, w1, read_before)
                        r1 = _reader_before(g, g.chains[g.proc[w2]], w2, w1)
                        out.add("writes-follow-reads", [w1, r1, w2, r2, r], "the process saw a write "
                                "made after its writer read another write, but then misses that write")
            if w >= 0:
                seen[key] = seen.get(key, 0) | (1 << w)


def _reader_before(g, chain, end, w) -> int:
    """The first read of write w in chain before position end."""
    for i in chain:
        if i == end:
            break
        if not g.is_write[i] and g.writer[i] == w:
            return i
    raise AssertionError("no reader found")


def _via(g, chain, r, w1, rel) -> tuple:
    """(w2, r2): a read r2 of chain, r2 == r or before r, returning a write w2 with w1
    in rel[w2]."""
    for i in chain:
        if not g.is_write[i] and g.writer[i] >= 0 and (rel[g.writer[i]] >> w1) & 1:
            return g.writer[i], i
        if i == r:
            break
    raise AssertionError("no witness found")


def _convergence(history_ops, init, out: _Out) -> None:
    by_key: dict = {}
    for op in history_ops:
        if op.status == "fail":
            continue
        by_key.setdefault(op.key, []).append(op)
    for key, ops in by_key.items():
        writes = [op for op in ops if op.f in WRITES]
        if not writes:
            t = None
        else:
            t = max(op.ret if op.ret is not None else op.call for op in writes)
        written = {op.value for op in writes}
        late = [op for op in ops if op.f in READS and op.status == "ok" and (t is None or op.call > t)]
        if not late:
            continue
        where = "" if key is None else f" of key {key!r}"
        bad = [op for op in late if op.result != init and op.result not in written]
        for op in bad:
            out.add("convergence", [op], f"after the last write{where}, a read returns "
                    f"{op.result!r}, which was never written")
        values = []
        for op in late:
            if op.result not in values:
                values.append(op.result)
        if len(values) > 1:
            firsts = [next(op for op in late if op.result == v) for v in values]
            out.add("convergence", firsts, f"after the last write{where}, reads return "
                    f"{len(values)} different values")


def check_sessions(history, guarantees=None, *, init: Any = None, limit: int = 10) -> SessionResult:
    """Check a register or kv ``history`` (reads and writes, unique written values) for
    the session ``guarantees`` (None: all of :data:`GUARANTEES`; names or RYW, MR, MW,
    WFR, EC), each as defined in the module docstring. ``init``: every key's initial
    value. At most ``limit`` violations of each guarantee are kept.

    ValueError for an unknown guarantee, an operation other than a read or a write, or
    a value written twice to one key. O(n^2 / 64) word operations for the four session
    guarantees (CO's closure), O(n) for convergence.
    """
    names = _names(guarantees)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    t0 = time.perf_counter()
    ops = history.ops if isinstance(history, History) else History(history).ops
    g = _Graph(ops, init)
    out = _Out(g, limit)
    if any(n != "convergence" for n in names):
        _sessions(g, names, out)
    if "convergence" in names:
        _convergence(ops, init, out)
    verdict = "violation" if out.counts else "ok"
    return SessionResult(verdict=verdict, violations=out.violations, counts=out.counts, checked=names,
                         ops=g.n, seconds=time.perf_counter() - t0)
