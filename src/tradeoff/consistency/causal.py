"""Causal consistency of read/write register histories, by bad patterns (Bouajjani,
Enea, Guerraoui and Hamza, "On verifying causal consistency", POPL 2017).

The histories: reads and writes of registers (``read``/``write`` of the register model,
``get``/``put`` of the kv model; the key is the variable), in which every value is
written at most once per key and never equal to the initial value (the paper's
*differentiated* histories): a read then names the write it read from. A history with
a value written twice raises ValueError. A failed operation is left out, and so is a
read of unknown outcome; a write of unknown outcome is kept when some read returned its
value (it took effect) and left out otherwise (leaving it out only removes constraints).

Relations over the operations kept (the paper's section 3 and 4):

- PO, program order: the operations of a process in the order it invoked them, except
  that nothing is ordered after a write of unknown outcome (the client gave up on it, and
  it may have taken effect later; the same convention as :mod:`.sequential`);
- wr, read-from: ``write(x, v) -> read(x, v)``; a read of the initial value reads from
  no write;
- CO, causal order: the transitive closure of PO union wr (the least causal order any
  explanation needs: a larger one only adds constraints);
- HB_o, for an operation o (causal memory): the least transitive relation that holds
  CO restricted to o's causal past (o and the operations CO-before it) and, whenever
  ``read(x, v)`` is PO-before o or is o, ``write(x, v) wr read(x, v)`` and
  ``write(x, v')`` (v' != v) is HB_o-before that read, orders ``write(x, v')``
  HB_o-before ``write(x, v)``;
- CF, conflict (causal convergence): ``write(x, v') CF write(x, v)`` when some
  ``read(x, v)`` has ``write(x, v')`` CO-before it (v' != v).

The bad patterns (Lemmas of the paper's section 4; each takes polynomial time here):

=================  ==========================================================================
CyclicCO           CO has a cycle
WriteCOInitRead    ``write(x, v) CO read(x, init)``
ThinAirRead        ``read(x, v)`` with v not the initial value and no ``write(x, v)``
WriteCORead        ``write(x, v) CO write(x, v') CO read(x, v)``, v != v'
WriteHBInitRead    ``read(x, init)`` PO-before or equal to o, and ``write(x, v) HB_o read(x, init)``
CyclicHB           HB_o has a cycle, for some o
CyclicCF           CF union CO has a cycle
=================  ==========================================================================

A differentiated history is

- CC (causal consistency, "weak" causal consistency) iff it has none of CyclicCO,
  WriteCOInitRead, ThinAirRead, WriteCORead;
- CM (causal memory, Ahamad et al. 1995) iff it is CC and has neither WriteHBInitRead nor
  CyclicHB;
- CCv (causal convergence, e.g. COPS's causal+) iff it is CC and has no CyclicCF.

CyclicHB and CyclicCF are looked for only when CO is acyclic (their relations contain CO,
so a CO cycle is one of them too, and is reported as CyclicCO). HB_o only grows along a
process's program order, so the two CM patterns are checked at the last operation of
known outcome of each process (and at each kept write of unknown outcome), and the
earliest operation o at which they appear is found by bisection.

Complexity: with n operations, CO's closure is O(n^2) word operations on bitsets (Python
ints); WriteCORead and CF are O(n^2) bitset tests; CM costs, per process, O(log n)
fixpoints of at most O(n^2) added edges each, O(n) bitset updates per edge.

>>> from tradeoff.consistency.history import History, Operation
>>> h = History([Operation(0, "write", 1, call=0, ret=1), Operation(0, "write", 2, call=2, ret=3),
...              Operation(1, "read", result=2, call=4, ret=5), Operation(1, "read", result=1, call=6, ret=7)])
>>> r = check_causal(h)
>>> r.verdict, [p.name for p in r.patterns]
('violation', ['WriteCORead'])
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .history import History

__all__ = ["BadPattern", "CausalResult", "LEVELS", "PATTERNS", "check_causal"]

READS = ("read", "get")
WRITES = ("write", "put")

PATTERNS = ("CyclicCO", "WriteCOInitRead", "ThinAirRead", "WriteCORead", "WriteHBInitRead", "CyclicHB",
            "CyclicCF")
_CC = ("CyclicCO", "WriteCOInitRead", "ThinAirRead", "WriteCORead")
LEVELS = {"CC": _CC, "CM": _CC + ("WriteHBInitRead", "CyclicHB"), "CCv": _CC + ("CyclicCF",)}


@dataclass
class BadPattern:
    """One occurrence of a bad pattern: its ``name`` (one of :data:`PATTERNS`), the
    operations involved, in the order of the pattern's definition, and a sentence."""
    name: str
    ops: list
    text: str

    def describe(self) -> list:
        lines = [f"{self.name}: {self.text}"]
        for op in self.ops:
            lines.append(f"    {op.where()}: {op.describe()}")
        return lines


@dataclass
class CausalResult:
    """The verdict of :func:`check_causal` at ``level`` (CC, CM or CCv): ``"ok"`` when
    no bad pattern of that level occurs, else ``"violation"`` (never ``"unknown"``:
    the check is polynomial). ``patterns`` lists the occurrences found (at most
    ``limit`` per pattern; ``counts`` has how many were found in all, for the
    patterns that count them), ``checked`` the patterns looked for."""
    verdict: str
    level: str
    patterns: list
    counts: dict
    checked: tuple
    ops: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def found(self) -> list:
        """The names of the patterns found, in the order of :data:`PATTERNS`."""
        names = {p.name for p in self.patterns}
        return [n for n in PATTERNS if n in names]

    def describe(self) -> list:
        lines = [f"causal consistency ({self.level}): {self.verdict}, {self.ops} operations, "
                 f"{self.seconds * 1e3:.1f} ms"]
        if self.verdict == "ok":
            lines.append(f"  none of {', '.join(self.checked)}")
        for name in self.found():
            n = self.counts.get(name)
            lines.append(f"  {name}" + (f" ({n} found)" if n else ""))
            for p in self.patterns:
                if p.name == name:
                    lines.extend("    " + s for s in p.describe())
        return lines

    def __repr__(self) -> str:
        return f"<CausalResult {self.level} {self.verdict}: {', '.join(self.found()) or 'no bad pattern'}>"


def _bits(x: int):
    """The positions of the set bits of x, lowest first."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


class _Graph:
    """The operations kept, PO, wr and CO's closure as bitsets (shared with
    :mod:`.sessions`).

    ``ops[i]``; ``proc[i]`` the process number; ``chains[p]`` a process's positions in
    program order; ``is_write[i]``; ``key[i]``; ``known[i]`` whether its outcome is
    known; ``writer[i]`` for a read: the write it read, -1 for the initial value, -2 for a value never written; ``wmask[key]`` the
    writes of a key; ``anc[i]`` the positions CO-before i (i itself when on a cycle);
    ``cyclic`` whether CO has a cycle; ``scc`` the components with a cycle.
    """

    def __init__(self, history, init=None):
        ops = history.ops if isinstance(history, History) else History(history).ops
        for op in ops:
            if op.f not in READS and op.f not in WRITES:
                raise ValueError(f"{op.where()}: causal consistency is checked for reads and writes "
                                 f"(read/get, write/put), got {op.f!r}")
        written: dict = {}
        for op in ops:
            if op.f in WRITES and op.status != "fail":
                try:
                    k = (op.key, op.value)
                    hash(k)
                except TypeError:
                    raise ValueError(f"{op.where()}: a written value must be hashable, got {op.value!r}") from None
                if op.value == init:
                    raise ValueError(f"{op.where()}: writes the initial value {init!r}; causal consistency "
                                     f"is checked on histories whose written values are unique")
                prev = written.get(k)
                if prev is not None:
                    raise ValueError(f"{op.where()}: writes {op.value!r} to key {op.key!r}, as {prev.where()} "
                                     f"did; causal consistency is checked on histories whose written values "
                                     f"are unique per key")
                written[k] = op
        read_vals = set()
        for op in ops:
            if op.f in READS and op.status == "ok":
                try:
                    read_vals.add((op.key, op.result))
                except TypeError:
                    raise ValueError(f"{op.where()}: a read value must be hashable, got {op.result!r}") from None
        kept = []
        for op in ops:
            if op.status == "fail":
                continue
            if op.f in READS and op.status != "ok":
                continue
            if op.f in WRITES and op.status != "ok" and (op.key, op.value) not in read_vals:
                continue
            kept.append(op)
        self.ops = kept
        self.init = init
        n = self.n = len(kept)
        pos = {id(op): i for i, op in enumerate(kept)}
        pnum: dict = {}
        self.proc = [pnum.setdefault(op.process, len(pnum)) for op in kept]
        self.chains = [[] for _ in pnum]
        for i, p in enumerate(self.proc):
            self.chains[p].append(i)
        self.is_write = [op.f in WRITES for op in kept]
        self.key = [op.key for op in kept]
        self.wmask: dict = {}
        wpos: dict = {}
        for i, op in enumerate(kept):
            if self.is_write[i]:
                self.wmask[op.key] = self.wmask.get(op.key, 0) | (1 << i)
                wpos[(op.key, op.value)] = i
        self.writer = [0] * n
        for i, op in enumerate(kept):
            if not self.is_write[i]:
                if op.result == init:
                    self.writer[i] = -1
                else:
                    self.writer[i] = wpos.get((op.key, op.result), -2)
        # direct edges: PO successor, wr
        self.preds = [[] for _ in range(n)]
        self.succs = [[] for _ in range(n)]
        self.known = [op.status == "ok" for op in kept]
        for chain in self.chains:
            last = None                               # the last operation of known outcome
            for b in chain:
                if last is not None:
                    self.preds[b].append(last)
                    self.succs[last].append(b)
                if self.known[b]:
                    last = b
        for i in range(n):
            w = self.writer[i]
            if not self.is_write[i] and w >= 0:
                self.preds[i].append(w)
                self.succs[w].append(i)
        self.pos = pos
        self._closure()

    def _closure(self) -> None:
        comps = _tarjan(self.n, self.succs)           # reverse topological order
        comp = [0] * self.n
        for c, members in enumerate(comps):
            for v in members:
                comp[v] = c
        anc = [0] * self.n
        self.scc = []
        for c in range(len(comps) - 1, -1, -1):        # sources first
            members = comps[c]
            base = 0
            for v in members:
                for p in self.preds[v]:
                    if comp[p] != c:
                        base |= anc[p] | (1 << p)
            if len(members) > 1:
                self.scc.append(members)
                for v in members:
                    base |= 1 << v
            for v in members:
                anc[v] = base
        self.anc = anc
        self.cyclic = bool(self.scc)
        self._comps = comps
        self._comp = comp
        self._desc = None

    @property
    def desc(self) -> list:
        """desc[i]: the positions CO-after i (the transpose of anc)."""
        if self._desc is None:
            # the mirror of _closure: components sinks first, each the union of its
            # successors' descendants (one big-int OR per edge, not one per bit of anc)
            comp = self._comp
            d = [0] * self.n
            for c, members in enumerate(self._comps):
                base = 0
                for v in members:
                    for q in self.succs[v]:
                        if comp[q] != c:
                            base |= d[q] | (1 << q)
                if len(members) > 1:
                    for v in members:
                        base |= 1 << v
                for v in members:
                    d[v] = base
            self._desc = d
        return self._desc

    def co(self, a: int, b: int) -> bool:
        return (self.anc[b] >> a) & 1 == 1

    def cycle_in(self, members, extra_succs=None) -> list:
        """A cycle (positions, in order) through the component ``members``."""
        inside = set(members)
        start = members[0]
        prev = {start: None}
        queue = [start]
        for v in queue:
            nexts = list(self.succs[v]) + (list(extra_succs.get(v, ())) if extra_succs else [])
            for w in nexts:
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1]
                if w in inside and w not in prev:
                    prev[w] = v
                    queue.append(w)
        return list(members)


def _tarjan(n: int, succs) -> list:
    """Strongly connected components (Tarjan 1972), iterative; in reverse topological
    order of the condensation."""
    index = [-1] * n
    low = [0] * n
    on = [False] * n
    stack: list = []
    out: list = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on[root] = True
        while work:
            v, k = work[-1]
            if k < len(succs[v]):
                work[-1] = (v, k + 1)
                w = succs[v][k]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = True
                    work.append((w, 0))
                elif on[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on[w] = False
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


class _Collector:
    def __init__(self, g: _Graph, limit: int):
        self.g = g
        self.limit = limit
        self.patterns: list = []
        self.counts: dict = {}

    def add(self, name: str, positions, text: str) -> None:
        n = self.counts.get(name, 0)
        self.counts[name] = n + 1
        if n < self.limit:
            self.patterns.append(BadPattern(name, [self.g.ops[i] for i in positions], text))


def _check_cc(g: _Graph, out: _Collector) -> None:
    if g.cyclic:
        for members in g.scc:
            cyc = g.cycle_in(members)
            out.add("CyclicCO", cyc, f"program order and read-from form a cycle of {len(cyc)} operations")
    for r in range(g.n):
        if g.is_write[r]:
            continue
        w = g.writer[r]
        op = g.ops[r]
        before = g.anc[r] & g.wmask.get(g.key[r], 0)
        if w == -2:
            out.add("ThinAirRead", [r], f"reads {op.result!r}, which no write wrote")
        elif w == -1:
            if before:
                w1 = next(_bits(before))
                out.add("WriteCOInitRead", [w1, r], "a write of the key is causally before a read of the "
                        "initial value")
        else:
            for w2 in _bits(before & ~(1 << w)):
                if g.co(w, w2):
                    out.add("WriteCORead", [w, w2, r], "the read returns a value overwritten by a write "
                            "causally between the write it read and the read")
                    break


def _hb(g: _Graph, o: int):
    """HB_o as ancestor bitsets over o's causal past; returns (hb, cycle witness or
    None)."""
    past = g.anc[o] | (1 << o)
    hb = {v: g.anc[v] for v in _bits(past)}
    p = g.proc[o]
    chain = g.chains[p]
    upto = chain[:chain.index(o) + 1]
    reads = [r for r in upto if not g.is_write[r] and g.writer[r] >= 0]
    changed = True
    while changed:
        changed = False
        for r in reads:
            w2 = g.writer[r]
            cand = hb[r] & g.wmask[g.key[r]] & ~(1 << w2) & ~hb[w2]
            for w1 in _bits(cand):
                if (hb[w1] >> w2) & 1:
                    return hb, (w1, w2, r)
                if (hb[w2] >> w1) & 1:
                    continue                 # added through an earlier edge of this round
                add = hb[w1] | (1 << w1)
                for v in hb:
                    if v == w2 or (hb[v] >> w2) & 1:
                        hb[v] |= add
                changed = True
    return hb, None


def _hb_bad(g: _Graph, o: int):
    """The CM bad patterns at o: (name, positions, text) or None."""
    hb, cyc = _hb(g, o)
    if cyc is not None:
        w1, w2, r = cyc
        return ("CyclicHB", [w1, w2, r, o] if o != r else [w1, w2, r],
                "HB_o orders each of the two writes before the other: the first is causally before a "
                "read (PO-before o) of the second, and the second is HB_o-before the first")
    p = g.proc[o]
    chain = g.chains[p]
    for r in chain[:chain.index(o) + 1]:
        if not g.is_write[r] and g.writer[r] == -1:
            before = hb[r] & g.wmask.get(g.key[r], 0)
            if before:
                w = next(_bits(before))
                return ("WriteHBInitRead", [w, r, o] if o != r else [w, r],
                        "a write of the key is HB_o-before a read of the initial value PO-before o")
    return None


def _check_cm(g: _Graph, out: _Collector) -> None:
    for full in g.chains:
        for o in full:                              # nothing is PO-after these: on their own
            if not g.known[o]:
                bad = _hb_bad(g, o)
                if bad is not None:
                    out.add(*bad)
        chain = [o for o in full if g.known[o]]     # HB_o grows along these
        if not chain or _hb_bad(g, chain[-1]) is None:
            continue
        lo, hi = 0, len(chain) - 1                  # the pattern appears at chain[hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if _hb_bad(g, chain[mid]) is None:
                lo = mid + 1
            else:
                hi = mid
        name, positions, text = _hb_bad(g, chain[hi])
        out.add(name, positions, text)


def _check_ccv(g: _Graph, out: _Collector) -> None:
    cf: dict = {}
    for r in range(g.n):
        w2 = g.writer[r]
        if g.is_write[r] or w2 < 0:
            continue
        for w1 in _bits(g.anc[r] & g.wmask[g.key[r]] & ~(1 << w2)):
            cf.setdefault(w1, set()).add(w2)
    if not cf:
        return
    succs = [list(g.succs[v]) + sorted(cf.get(v, ())) for v in range(g.n)]
    for members in _tarjan(g.n, succs):
        if len(members) > 1:
            cyc = g.cycle_in(members, cf)
            out.add("CyclicCF", cyc, "the conflict order (a write before the write a read returns, when it "
                    "is causally before that read) and causal order form a cycle")


def check_causal(history, level: str = "CC", *, init: Any = None, limit: int = 10) -> CausalResult:
    """Check a register or kv ``history`` (reads and writes, unique written values)
    for causal consistency at ``level``: ``"CC"``, ``"CM"`` or ``"CCv"`` (see the
    module docstring for the exact definitions). ``init`` is every register's initial
    value (None: Jepsen's nil). At most ``limit`` occurrences of each pattern are kept.

    ValueError for an unknown level, an operation other than a read or a write, or a
    value written twice to one key (or the initial value written).
    """
    lv = {k.lower(): k for k in LEVELS}.get(str(level).lower())
    if lv is None:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    t0 = time.perf_counter()
    g = _Graph(history, init)
    out = _Collector(g, limit)
    _check_cc(g, out)
    if not g.cyclic:
        if lv == "CM":
            _check_cm(g, out)
        elif lv == "CCv":
            _check_ccv(g, out)
    checked = LEVELS[lv]
    verdict = "violation" if any(p.name in checked for p in out.patterns) else "ok"
    return CausalResult(verdict=verdict, level=lv, patterns=out.patterns, counts=out.counts,
                        checked=checked, ops=g.n, seconds=time.perf_counter() - t0)
