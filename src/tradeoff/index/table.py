"""Composite indexes and a tiny query planner over a table of numpy columns.

``Table(columns)`` holds equal-length int64 / float64 columns (row ids 0..n-1);
``create_index(columns, kind="btree" | "hash")`` adds a secondary index;
``query(where)`` answers an AND of equality and range predicates and
``explain(where)`` shows how, in the words of SQLite's EXPLAIN QUERY PLAN
(https://www.sqlite.org/eqp.html). ``SQLitePeer`` loads the same table and
indexes into an in-memory SQLite database, the real-world peer.

Predicates. ``where`` is a list of tuples combined with AND: ``("a", "=", 5)``,
``("b", "between", 3, 9)`` (both ends included, as in SQL), ``("c", "<", 4)``,
``"<="``, ``">"``, ``">="``, ``("a", "in", [1, 2])``; or the same as a string,
``"a = 5 AND b BETWEEN 3 AND 9 AND c IN (1, 2)"`` (keywords in any case; a
parse error names its position). Values are numbers (no NaN) compared exactly:
``a < 3.5`` on an int64 column is ``a <= 3`` and ``a = 3.5`` matches nothing,
as in SQLite; numpy would round large ints to float instead.

Indexes.

- B-tree (``tradeoff.index._btree``). On one column: a tree from each distinct
  value to its rows (an Int64BTree for an int64 column, an ObjectBTree of floats
  for a float64 one; a value held by one row maps to that row id, a value held
  by more to a read-only int64 array of them). On several columns (a, b, ...):
  an ObjectBTree keyed by the tuples ``(a, b, ..., row)`` (the value of a key
  is its row), so keys are unique and sorted by the columns in order, then by
  row: the leftmost-prefix rule falls out of tuple order. A search for ``a = x AND b > y`` is one ``irange``
  between the bounds ``(x, y, TOP)`` and ``(x, TOP)``, with ``TOP`` a sentinel
  above every value. Built by sorting (``np.lexsort``) and ``from_sorted``.
- Hash (``tradeoff.index.HashIndex``, the shared ``_core`` table). The int64 key
  of a row is its value on one int64 column, the IEEE bits of its value on one
  float64 column (with -0.0 as 0.0), and on several columns a stable mix of
  those: ``h = mix64(h ^ mix64(code))`` from ``h = 0x9E3779B97F4A7C15``, column
  by column (splitmix64's finalizer; reproducible across runs, unlike
  ``hash()``). Candidates of a several-column key are verified against the
  columns, so a collision never returns a wrong row.

``IndexInfo.nbytes`` counts an index's own memory: the HashIndex's buckets and
row lists, or the B-tree's nodes plus the Python objects they hold (key tuples,
ints, floats, row arrays; estimated from CPython's object sizes, within 10% of
tracemalloc on a 1M-row table). Python objects make a several-column B-tree
index large: about 150 bytes per row on (a, b), against 14 for SQLite's.

The planner (cost-free, rule-based, like SQLite without ANALYZE). Per column
it gathers an equality set (``=`` and ``IN``, intersected) and a range (the
intersection of ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN``); a range on a column
that also has an equality just narrows the set.

- a hash index is usable only when every one of its columns has an equality;
  it then uses all of them;
- a B-tree index on (c1, ..., cn) uses the longest prefix c1..ck with
  equalities, plus c(k+1) when that column has a range (the leftmost-prefix
  rule); it is usable when it uses at least one column;
- among usable indexes the one using the most columns wins; ties go to the one
  with more equality columns (an equality is assumed more selective than a
  range, as SQLite assumes), then to a hash index over a B-tree, then to the
  index created first;
- no usable index: a full scan, one vectorized numpy mask per column.

Predicates the chosen index does not consume are applied as a filter on its
candidate rows (numpy, on the gathered values). An ``IN`` on an index column
becomes one search per combination of values. ``query`` returns the row ids
sorted (an int64 array), or a dict of the requested columns at those rows.

Complexity: a B-tree search O(log n + k) tree steps for k candidate rows (one
per combination of IN values); a hash search O(1 + k) expected; a scan O(n)
vectorized; then O(k log k) to sort the result. Building an index: O(n log n)
(one sort) plus O(n) to fill it.

Our plans beside SQLite 3.40's ``EXPLAIN QUERY PLAN`` on the same table and
indexes (``idx_ab``: B-tree on (a, b); ``idx_c``: hash index here, an ordinary
index in SQLite, which has no hash index). SQLite answers ``SELECT rowid`` from
the index alone, hence its ``COVERING``; its ``b>? AND b<?`` stands for any
lower and upper bound, BETWEEN included, and so does ours:

| where | ours: `str(t.explain(where))` | SQLite 3.40 `EXPLAIN QUERY PLAN` |
|---|---|---|
| `a = 5 AND b = 7` | `SEARCH t USING INDEX idx_ab (a=? AND b=?)` | `SEARCH t USING COVERING INDEX idx_ab (a=? AND b=?)` |
| `a = 5` | `SEARCH t USING INDEX idx_ab (a=?)` | `SEARCH t USING COVERING INDEX idx_ab (a=?)` |
| `a = 5 AND b BETWEEN 3 AND 9` | `SEARCH t USING INDEX idx_ab (a=? AND b>? AND b<?)` | `SEARCH t USING COVERING INDEX idx_ab (a=? AND b>? AND b<?)` |
| `b = 7` | `SCAN t / FILTER b=?` | `SCAN t USING COVERING INDEX idx_ab` |
| `c = 42` | `SEARCH t USING HASH INDEX idx_c (c=?)` | `SEARCH t USING COVERING INDEX idx_c (c=?)` |
| `c < 42` | `SCAN t / FILTER c<?` | `SEARCH t USING COVERING INDEX idx_c (c<?)` |
| `a = 5 AND c < 42` | `SEARCH t USING INDEX idx_ab (a=?) / FILTER c<?` | `SEARCH t USING INDEX idx_ab (a=?)` |
| `a IN (1, 2) AND b > 500` | `SEARCH t USING INDEX idx_ab (a=? AND b>?)` | `SEARCH t USING COVERING INDEX idx_ab (a=? AND b>?)` |

The two differ only where the hash index cannot serve a range (``c < 42``):
SQLite's ordinary index can. ``b = 7`` is a scan in both (SQLite scans the
smaller index instead of the table, still every entry).

>>> import numpy as np
>>> t = Table({"a": np.array([1, 1, 2, 2, 3]), "b": np.array([5, 6, 5, 6, 5]),
...            "c": np.array([0.5, 1.5, 2.5, 3.5, 4.5])})
>>> t.create_index(("a", "b"))
'idx_ab'
>>> t.create_index("c", kind="hash")
'idx_c'
>>> t.query("a = 2 AND b BETWEEN 5 AND 9").tolist()
[2, 3]
>>> print(t.explain([("a", "=", 2), ("b", ">", 5), ("c", "<", 4)]))
SEARCH t USING INDEX idx_ab (a=? AND b>?)
FILTER c<?
>>> print(t.explain("b = 5"))
SCAN t
FILTER b=?
>>> t.query("c = 2.5", columns=["a", "b"])
{'a': array([2]), 'b': array([5])}
"""
import itertools
import math
import re
import sqlite3
import sys
import time
from typing import NamedTuple

import numpy as np

from tradeoff.index._btree import Int64BTree, ObjectBTree
from tradeoff.index._hashindex import HashIndex

__all__ = ["Table", "Plan", "IndexInfo", "QueryError", "SQLitePeer", "parse_where"]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_OPS = ("=", "<", "<=", ">", ">=", "between", "in")
_RANGE_OPS = ("<", "<=", ">", ">=", "between")
_KEYWORDS = {"and", "between", "in"}
_RESERVED = {"rowid", "oid", "_rowid_"}       # SQLite's names for the row id
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HASH_SEED = 0x9E3779B97F4A7C15
_CACHE_SIZE = 256                   # string queries remembered per table (parsed and checked)
_NODE_SIZE = None                   # node_size of the B-tree indexes (None: the default; tests shrink it)


class QueryError(ValueError):
    """A where clause that cannot be parsed or does not fit the table. ``position``
    is the character offset of the problem in a string query (else None)."""

    def __init__(self, message, position=None):
        super().__init__(message)
        self.position = position


class Pred(NamedTuple):
    """One predicate: ``op`` is one of = < <= > >= between in; ``args`` holds one
    value, two (between) or one tuple of values (in); ``pos`` is its offset in a
    string query."""
    column: str
    op: str
    args: tuple
    pos: object = None

    def text(self):
        """As SQLite's EXPLAIN would show a term: ``a=?``, ``b BETWEEN ? AND ?``."""
        if self.op == "between":
            return f"{self.column} BETWEEN ? AND ?"
        if self.op == "in":
            return f"{self.column} IN ({','.join('?' * len(self.args[0]))})"
        return f"{self.column}{self.op}?"


class IndexInfo(NamedTuple):
    name: str
    columns: tuple
    kind: str
    nbytes: int
    build_seconds: float


# ------------------------------------------------------------------ the string form

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)


def _tokens(text):
    """(kind, text, position) triples, ending with ("end", "", len(text))."""
    out, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise QueryError(f"at position {i}: unexpected character {text[i]!r}", i)
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(), i))
        i = m.end()
    out.append(("end", "", len(text)))
    return out


def parse_where(text):
    """Parse ``"a = 5 AND b BETWEEN 3 AND 9 AND c IN (1, 2)"`` into predicates.

    Grammar: ``cond (AND cond)*`` with ``cond`` one of ``col op number``
    (op: = == < <= > >=), ``col BETWEEN number AND number``, ``col IN (number,
    ...)``; keywords in any case; an empty string is no predicate. A QueryError
    names the position of the first token that does not fit.

    >>> parse_where("a = 5 and b between 3 AND 9.5")
    [Pred(column='a', op='=', args=(5,), pos=0), Pred(column='b', op='between', args=(3, 9.5), pos=10)]
    >>> parse_where("a = 5 AND b 7")
    Traceback (most recent call last):
    tradeoff.index.table.QueryError: at position 12: expected an operator (=, <, <=, >, >=, BETWEEN, IN), found '7'
    """
    toks = _tokens(text)
    i = 0

    def found(t):
        return "the end of the query" if t[0] == "end" else repr(t[1])

    def fail(what):
        t = toks[i]
        raise QueryError(f"at position {t[2]}: expected {what}, found {found(t)}", t[2])

    def number():
        nonlocal i
        t = toks[i]
        if t[0] != "num":
            fail("a number")
        i += 1
        s = t[1]
        return float(s) if any(ch in s for ch in ".eE") else int(s)

    def keyword(word):
        return toks[i][0] == "ident" and toks[i][1].lower() == word

    preds = []
    if toks[0][0] == "end":
        return preds
    while True:
        t = toks[i]
        if t[0] != "ident" or t[1].lower() in _KEYWORDS:
            fail("a column name")
        col, pos = t[1], t[2]
        i += 1
        t = toks[i]
        if t[0] == "op":
            i += 1
            op = "=" if t[1] == "==" else t[1]
            preds.append(Pred(col, op, (number(),), pos))
        elif keyword("between"):
            i += 1
            lo = number()
            if not keyword("and"):
                fail("AND")
            i += 1
            preds.append(Pred(col, "between", (lo, number()), pos))
        elif keyword("in"):
            i += 1
            if toks[i][1] != "(":
                fail("'('")
            i += 1
            vals = [number()]
            while toks[i][1] == ",":
                i += 1
                vals.append(number())
            if toks[i][1] != ")":
                fail("',' or ')'")
            i += 1
            preds.append(Pred(col, "in", (tuple(vals),), pos))
        else:
            fail("an operator (=, <, <=, >, >=, BETWEEN, IN)")
        if toks[i][0] == "end":
            return preds
        if not keyword("and"):
            fail("AND or the end of the query")
        i += 1


def _coerce_where(where):
    """A where argument (None, a string, one predicate tuple or a list of them) as
    a list of Pred with the operator checked and the arity right (values are
    checked against the columns later)."""
    if where is None:
        return []
    if isinstance(where, str):
        return parse_where(where)
    if isinstance(where, tuple) and where and isinstance(where[0], str):
        where = [where]
    try:
        items = list(where)
    except TypeError:
        raise QueryError(f"where must be a string or a list of predicates, not "
                         f"{type(where).__name__}") from None
    preds = []
    for i, p in enumerate(items):
        if isinstance(p, Pred):
            preds.append(p)
            continue
        if not isinstance(p, (tuple, list)) or len(p) < 3:
            raise QueryError(f"predicate {i}: expected (column, op, value...), got {p!r}")
        col, op = p[0], p[1]
        if not isinstance(col, str):
            raise QueryError(f"predicate {i}: the column must be a name, got {col!r}")
        if not isinstance(op, str) or op.lower().replace("==", "=") not in _OPS:
            raise QueryError(f"predicate {i}: unknown operator {op!r} "
                             f"(use one of =, <, <=, >, >=, between, in)")
        op = op.lower().replace("==", "=")
        want = 4 if op == "between" else 3
        if len(p) != want:
            shape = "(column, 'between', lo, hi)" if op == "between" else f"(column, {op!r}, value)"
            raise QueryError(f"predicate {i}: {op!r} takes {shape}, got {len(p) - 2} value(s)")
        if op == "in":
            vals = p[2]
            if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
                raise QueryError(f"predicate {i}: 'in' takes a list of values, got {vals!r}")
            preds.append(Pred(col, op, (tuple(vals),)))
        else:
            preds.append(Pred(col, op, tuple(p[2:])))
    return preds


# ------------------------------------------------------------------ per-column constraints

_NOMATCH = object()


def _number(v, col, where):
    """A predicate value as a Python int or float (numpy scalars unwrapped)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise QueryError(f"{where}: the value for column {col!r} must be a number, "
                         f"got {type(v).__name__} {v!r}")
    if isinstance(v, float) and math.isnan(v):
        raise QueryError(f"{where}: NaN is not a value (column {col!r})")
    return v


def _eq_value(kind, v):
    """The value an equality with v matches in a column of this kind, or _NOMATCH."""
    if kind == "i":
        if isinstance(v, float):
            if not v.is_integer():
                return _NOMATCH
            v = int(v)
        return v if INT64_MIN <= v <= INT64_MAX else _NOMATCH
    if isinstance(v, int):
        try:
            f = float(v)
        except OverflowError:
            return _NOMATCH
        return f if f == v else _NOMATCH
    return v + 0.0                        # -0.0 -> 0.0


def _nearest_float(v):
    """float(v) for an int, or an infinity of its sign when it is too large."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


class _Cons:
    """What the predicates on one column allow: an equality set (None: no equality
    predicate) and a range. For an int64 column the range is inclusive integers
    (lo/hi None: unbounded); for a float64 one, floats with inclusive flags."""

    __slots__ = ("kind", "eq", "lo", "lo_inc", "hi", "hi_inc", "empty", "preds")

    def __init__(self, kind):
        self.kind = kind
        self.eq = None
        self.lo = self.hi = None
        self.lo_inc = self.hi_inc = True
        self.empty = False
        self.preds = []

    def add_eq(self, values):
        vals = {_eq_value(self.kind, v) for v in values} - {_NOMATCH}
        self.eq = vals if self.eq is None else self.eq & vals

    def add_lower(self, v, inc):
        if self.kind == "i":
            if isinstance(v, float):
                if math.isinf(v):
                    if v > 0:
                        self.empty = True
                    return
                v = math.ceil(v) if inc else math.floor(v) + 1
            elif not inc:
                v += 1
            if v > INT64_MAX:
                self.empty = True
            elif v > INT64_MIN and (self.lo is None or v > self.lo):
                self.lo = v
            return
        if isinstance(v, int):                      # exact: no float lies between v and float(v)
            f = _nearest_float(v)
            inc = f > v or (f == v and inc)
            v = f
        if self.lo is None or v > self.lo or (v == self.lo and not inc):
            self.lo, self.lo_inc = v, inc

    def add_upper(self, v, inc):
        if self.kind == "i":
            if isinstance(v, float):
                if math.isinf(v):
                    if v < 0:
                        self.empty = True
                    return
                v = math.floor(v) if inc else math.ceil(v) - 1
            elif not inc:
                v -= 1
            if v < INT64_MIN:
                self.empty = True
            elif v < INT64_MAX and (self.hi is None or v < self.hi):
                self.hi = v
            return
        if isinstance(v, int):
            f = _nearest_float(v)
            inc = f < v or (f == v and inc)
            v = f
        if self.hi is None or v < self.hi or (v == self.hi and not inc):
            self.hi, self.hi_inc = v, inc

    def in_range(self, v):
        if self.lo is not None and (v < self.lo or (v == self.lo and not self.lo_inc)):
            return False
        if self.hi is not None and (v > self.hi or (v == self.hi and not self.hi_inc)):
            return False
        return True

    def finish(self):
        """Fold the range into the equality set; note an empty range."""
        if self.eq is not None:
            self.eq = {v for v in self.eq if self.in_range(v)}
            if not self.eq:
                self.empty = True
        elif self.lo is not None and self.hi is not None:
            if self.lo > self.hi or (self.lo == self.hi and not (self.lo_inc and self.hi_inc)):
                self.empty = True

    def mask(self, values):
        """A boolean mask of the values this column allows (vectorized)."""
        if self.empty:
            return np.zeros(len(values), dtype=bool)
        if self.eq is not None:
            if len(self.eq) == 1:
                return values == next(iter(self.eq))
            return np.isin(values, np.array(sorted(self.eq), dtype=values.dtype))
        m = None
        if self.lo is not None:
            m = values >= self.lo if self.lo_inc else values > self.lo
        if self.hi is not None:
            h = values <= self.hi if self.hi_inc else values < self.hi
            m = h if m is None else m & h
        return np.ones(len(values), dtype=bool) if m is None else m


# ------------------------------------------------------------------ indexes

class _Top:
    """A sentinel above every value: the upper bound of a prefix in tuple keys."""
    __slots__ = ()

    def __lt__(self, other):
        return False

    def __le__(self, other):
        return other is self

    def __gt__(self, other):
        return other is not self

    def __ge__(self, other):
        return True

    def __eq__(self, other):
        return other is self

    def __hash__(self):
        return 0x70F

    def __repr__(self):
        return "TOP"


TOP = _Top()


_FLOAT_BYTES = sys.getsizeof(1.5)
_VIEW_BYTES = sys.getsizeof(np.arange(2)[:1])


def _int_bytes(arr):
    """Bytes of the Python ints arr.tolist() makes (CPython caches -5..256; an int
    takes one 30-bit digit more per 30 bits)."""
    a = np.abs(arr[(arr < -5) | (arr > 256)].astype(np.float64))
    if not len(a):
        return 0
    digits = np.maximum(1, np.ceil(np.log2(a + 1) / 30))
    return int(len(a) * (sys.getsizeof(1) - 4) + digits.sum() * 4)


def _gather(values):
    """Row ids from index values (an int row, or an int64 array of rows)."""
    singles = [v for v in values if type(v) is int]
    arrays = [v for v in values if type(v) is not int]
    if not arrays:
        return np.array(singles, dtype=np.int64)
    if singles:
        arrays.append(np.array(singles, dtype=np.int64))
    return np.concatenate(arrays)


def _mix64(x):
    """splitmix64's finalizer on a uint64 array (tradeoff._core.hashing.mix64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _codes(arr):
    """The int64 code of each value: itself (int64) or its bits (float64, -0.0 as 0.0)."""
    if arr.dtype == np.float64:
        return (arr + 0.0).view(np.int64)
    return arr


def _float_code(v):
    """_codes of one float: its IEEE bits as an int64 (-0.0 as 0.0)."""
    return int(np.array([v + 0.0], dtype=np.float64).view(np.int64)[0])


def _hash_keys(arrays):
    """The HashIndex key of each row of these column arrays (see the module docstring)."""
    if len(arrays) == 1:
        return np.ascontiguousarray(_codes(arrays[0]))
    h = np.full(len(arrays[0]), _HASH_SEED, dtype=np.uint64)
    for a in arrays:
        h = _mix64(h ^ _mix64(_codes(a).view(np.uint64)))
    return h.view(np.int64)


class _Index:
    """An index of a Table: ``search(cons, k, use_range)`` returns candidate rows."""

    def __init__(self, name, columns, kind, table):
        self.name, self.columns, self.kind = name, columns, kind
        self.kinds = [table._kinds[c] for c in columns]
        t0 = time.perf_counter()
        self._build([table._cols[c] for c in columns])
        self.build_seconds = time.perf_counter() - t0


class _BTreeIndex(_Index):

    def _build(self, cols):
        n = len(cols[0])
        if len(cols) == 1:
            col = cols[0]
            order = np.argsort(col, kind="stable")
            order.flags.writeable = False
            sv = col[order]
            # groups of equal values: [starts[g], ends[g]) in sorted order
            starts = np.flatnonzero(np.concatenate(([n > 0], sv[1:] != sv[:-1])))
            ends = np.append(starts[1:], n).astype(np.int64)
            vals = order[starts].tolist()
            groups = np.flatnonzero(ends - starts > 1)
            for g in groups.tolist():
                vals[g] = order[starts[g]:ends[g]]
            if self.kinds[0] == "i":
                self.tree = Int64BTree.from_sorted(sv[starts], vals, node_size=_NODE_SIZE)
                key_objects = 0
            else:
                self.tree = ObjectBTree.from_sorted((sv[starts] + 0.0).tolist(), vals,
                                                    node_size=_NODE_SIZE)
                key_objects = len(starts) * _FLOAT_BYTES
            singles = np.delete(order[starts], groups)
            self.object_bytes = (key_objects + _int_bytes(singles)       # order: held by the views
                                 + (order.nbytes + len(groups) * _VIEW_BYTES if len(groups) else 0))
        else:
            order = np.lexsort(tuple(reversed(cols)))
            rows = order.tolist()
            keys = list(zip(*[c[order].tolist() for c in cols], rows))
            # the value of (a, b, ..., row) is row itself (the same int object): a
            # search then reads the values, with no Python-level unpacking of keys
            self.tree = ObjectBTree.from_sorted(keys, rows, node_size=_NODE_SIZE)
            self.object_bytes = (n * sys.getsizeof((0,) * (len(cols) + 1)) + _int_bytes(order)
                                 + sum(_int_bytes(c) if c.dtype == np.int64 else n * _FLOAT_BYTES
                                       for c in cols))

    def search(self, cons, k, use_range):
        """Rows whose first k columns are in their equality sets and, when
        use_range, whose column k is in its range."""
        tree = self.tree
        rc = cons[self.columns[k]] if use_range else None
        if len(self.columns) == 1:
            if rc is None:
                return _gather([v for v in (tree.get(x) for x in sorted(cons[self.columns[0]].eq))
                                if v is not None])
            return _gather(list(tree.irange_values(rc.lo, rc.hi, inclusive=(rc.lo_inc, rc.hi_inc))))
        prefixes = itertools.product(*[sorted(cons[c].eq) for c in self.columns[:k]])
        parts = []
        for p in prefixes:
            if rc is None:
                lo, hi = p, p + (TOP,)
            else:
                lo = p if rc.lo is None else (p + (rc.lo,) if rc.lo_inc else p + (rc.lo, TOP))
                if rc.hi is None:
                    hi = p + (TOP,)
                else:
                    hi = p + (rc.hi, TOP) if rc.hi_inc else p + (rc.hi,)
            n = tree.count(lo, hi)
            if n:
                parts.append(np.fromiter(tree.irange_values(lo, hi), dtype=np.int64, count=n))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def nbytes(self):
        """The tree's nodes plus the Python objects it holds (key tuples, ints,
        floats, row arrays), estimated from CPython's object sizes."""
        return self.tree.nbytes + self.object_bytes

    def _check(self, table):
        self.tree._check()
        cols = [table._cols[c] for c in self.columns]
        fresh = _BTreeIndex.__new__(_BTreeIndex)
        fresh.kinds = self.kinds
        fresh._build(cols)
        if len(self.columns) == 1:
            assert self.tree.keys() == fresh.tree.keys(), f"index {self.name}: keys differ from a rebuild"
            got = [v if type(v) is int else v.tolist() for v in self.tree.values()]
            want = [v if type(v) is int else v.tolist() for v in fresh.tree.values()]
            assert got == want, f"index {self.name}: rows differ from a rebuild"
        else:
            assert self.tree.keys() == fresh.tree.keys(), f"index {self.name}: keys differ from a rebuild"


class _HashIndex(_Index):

    def _build(self, cols):
        self.ix = HashIndex(expected=0)
        self.ix.insert_many(_hash_keys(cols), np.arange(len(cols[0]), dtype=np.int64))

    def search(self, cons, k, use_range):
        sets = [cons[c].eq for c in self.columns]
        if len(sets) == 1 and len(sets[0]) == 1:       # the common case: one int64 key
            v = next(iter(sets[0]))
            return self.ix.lookup(v if self.kinds[0] == "i" else _float_code(v))
        combos = list(itertools.product(*[sorted(s) for s in sets]))
        if not combos:
            return np.zeros(0, dtype=np.int64)
        arrays = [np.array([c[j] for c in combos], dtype=np.int64 if kind == "i" else np.float64)
                  for j, kind in enumerate(self.kinds)]
        keys = np.unique(_hash_keys(arrays))            # two combinations may share a key
        _, rows = self.ix.lookup_many(keys)
        return rows

    def verify(self, table, cons, rows):
        """Drop candidates that only collided (several columns: the key is a mix)."""
        if len(self.columns) == 1 or len(rows) == 0:
            return rows
        m = np.ones(len(rows), dtype=bool)
        for c in self.columns:
            m &= cons[c].mask(table._cols[c][rows])
        return rows[m]

    def nbytes(self):
        return self.ix.nbytes

    def _check(self, table):
        self.ix._check()
        n = table.nrows
        assert len(self.ix) == n, f"index {self.name}: {len(self.ix)} entries for {n} rows"
        keys = _hash_keys([table._cols[c] for c in self.columns])
        uniq = np.unique(keys)
        offsets, rows = self.ix.lookup_many(uniq)
        owner = np.repeat(uniq, np.diff(offsets))       # the key each stored row is under
        order = np.argsort(rows, kind="stable")
        assert np.array_equal(rows[order], np.arange(n)), f"index {self.name}: rows missing or twice"
        assert np.array_equal(owner[order], keys), f"index {self.name}: a row under a wrong key"


# ------------------------------------------------------------------ plans

class Plan:
    """How a query runs: ``kind`` "SEARCH" (through ``index``) or "SCAN"; the
    columns of the index it uses (``eq_columns`` with equalities, then
    ``range_column`` or None); ``filters``: the predicates applied to the
    candidates. ``str()`` is one line per step, in the words of SQLite's
    EXPLAIN QUERY PLAN."""

    def __init__(self, table, kind, index=None, index_kind=None, eq_columns=(), range_column=None,
                 range_ends=(False, False), filters=()):
        self.table, self.kind, self.index, self.index_kind = table, kind, index, index_kind
        self.eq_columns, self.range_column = tuple(eq_columns), range_column
        self.range_ends = range_ends
        self.filters = list(filters)

    @property
    def columns_used(self):
        return len(self.eq_columns) + (self.range_column is not None)

    @property
    def steps(self):
        if self.kind == "SCAN":
            lines = [f"SCAN {self.table}"]
        else:
            terms = [f"{c}=?" for c in self.eq_columns]
            if self.range_column is not None:
                if self.range_ends[0]:
                    terms.append(f"{self.range_column}>?")
                if self.range_ends[1]:
                    terms.append(f"{self.range_column}<?")
            how = "HASH INDEX" if self.index_kind == "hash" else "INDEX"
            lines = [f"SEARCH {self.table} USING {how} {self.index} ({' AND '.join(terms)})"]
        if self.filters:
            lines.append("FILTER " + " AND ".join(p.text() for p in self.filters))
        return lines

    def __str__(self):
        return "\n".join(self.steps)

    def __repr__(self):
        return f"<Plan {' / '.join(self.steps)}>"


# ------------------------------------------------------------------ the table

class Table:
    """A table of equal-length numpy columns (int64 or float64; row ids 0..n-1)
    with secondary B-tree and hash indexes and a rule-based planner (see the
    module docstring for the rules and the index layouts).

    The columns are copied and frozen (read-only), so an index never goes stale.
    Complexity: ``create_index`` O(n log n); ``query`` O(log n + k) through a
    B-tree, O(1 + k) through a hash index, O(n) vectorized for a scan, plus
    O(k log k) to sort the k rows returned; ``explain`` O(predicates + indexes).

    >>> import numpy as np
    >>> t = Table({"a": np.arange(10) % 3, "b": np.arange(10.0)})
    >>> t.create_index(["a", "b"], name="by_ab")
    'by_ab'
    >>> t.query([("a", "=", 1), ("b", ">=", 4)]).tolist()
    [4, 7]
    >>> str(t.explain([("b", "<", 3)]))
    'SCAN t\\nFILTER b<?'
    """

    def __init__(self, columns, name="t"):
        if not isinstance(name, str) or not _IDENT.match(name):
            raise ValueError(f"table name must be an identifier, got {name!r}")
        if not isinstance(columns, dict) or not columns:
            raise ValueError("columns must be a non-empty dict of name -> 1-d array")
        cols, kinds, n = {}, {}, None
        for cname, values in columns.items():
            if not isinstance(cname, str) or not _IDENT.match(cname):
                raise ValueError(f"column name must be an identifier, got {cname!r}")
            if cname.lower() in _KEYWORDS or cname.lower() in _RESERVED:
                raise ValueError(f"column name {cname!r} is reserved")
            a = np.asarray(values)
            if a.ndim != 1:
                raise ValueError(f"column {cname!r} must be one-dimensional, got shape {a.shape}")
            if a.dtype.kind in "iub":
                if a.dtype.kind == "u" and a.size and int(a.max()) > INT64_MAX:
                    raise ValueError(f"column {cname!r} holds {int(a.max())}, outside int64")
                a, kind = np.array(a, dtype=np.int64), "i"
            elif a.dtype.kind == "f":
                a, kind = np.array(a, dtype=np.float64), "f"
                if np.isnan(a).any():
                    first = int(np.flatnonzero(np.isnan(a))[0])
                    raise ValueError(f"column {cname!r} holds NaN at row {first}"
                                     f" (NaN equals nothing; not supported)")
            else:
                raise TypeError(f"column {cname!r} has dtype {a.dtype}; int64 and float64 are supported")
            if n is None:
                n = len(a)
            elif len(a) != n:
                lens = ", ".join(f"{k}: {len(np.asarray(v))}" for k, v in columns.items())
                raise ValueError(f"columns differ in length ({lens})")
            a.flags.writeable = False
            cols[cname], kinds[cname] = a, kind
        self.name = name
        self._cols, self._kinds = cols, kinds
        self.nrows = n
        self._indexes = {}                  # name -> _Index, in creation order
        # string where -> (checked predicates, constraints), and predicate shape ->
        # index choice: as sqlite3's statement cache, so that a repeated query is
        # not parsed or planned again (choices are forgotten when indexes change)
        self._parsed = {}
        self._choices = {}

    # -------------------------------------------------------------- columns and indexes

    def __len__(self):
        return self.nrows

    @property
    def columns(self):
        """The column names, in order."""
        return list(self._cols)

    def column(self, name):
        """The (read-only) array of a column."""
        self._need_column(name)
        return self._cols[name]

    def _need_column(self, name, where="", position=None):
        if name not in self._cols:
            at = f" at position {position}" if position is not None else ""
            raise QueryError(f"{where}unknown column {name!r}{at} (columns: {', '.join(self._cols)})",
                             position)

    def create_index(self, columns, kind="btree", name=None):
        """Index the table on one column (a name) or several (a tuple, in key
        order); kind "btree" (equality and ranges, leftmost prefix) or "hash"
        (equality on all columns). Returns the index name (default
        ``idx_`` + the column names, run together when they are single letters,
        else joined by ``_``). Nothing changes on an error."""
        if isinstance(columns, str):
            columns = (columns,)
        try:
            columns = tuple(columns)
        except TypeError:
            raise TypeError(f"columns must be a name or a tuple of names, "
                            f"not {type(columns).__name__}") from None
        if not columns:
            raise ValueError("an index needs at least one column")
        for c in columns:
            if not isinstance(c, str):
                raise TypeError(f"column names must be strings, got {c!r}")
            if c not in self._cols:
                raise KeyError(f"unknown column {c!r} (columns: {', '.join(self._cols)})")
        if len(set(columns)) != len(columns):
            raise ValueError(f"a column appears twice in {columns}")
        if kind not in ("btree", "hash"):
            raise ValueError(f"kind must be 'btree' or 'hash', got {kind!r}")
        if name is None:
            sep = "" if all(len(c) == 1 for c in columns) else "_"
            name = "idx_" + sep.join(columns)
        if not isinstance(name, str) or not _IDENT.match(name):
            raise ValueError(f"index name must be an identifier, got {name!r}")
        if name in self._indexes:
            raise ValueError(f"an index named {name!r} exists already")
        cls = _BTreeIndex if kind == "btree" else _HashIndex
        self._indexes[name] = cls(name, columns, kind, self)
        self._choices.clear()
        return name

    def drop_index(self, name):
        """Remove an index (KeyError naming the existing ones if there is none)."""
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r} (indexes: {', '.join(self._indexes) or 'none'})")
        del self._indexes[name]
        self._choices.clear()

    @property
    def indexes(self):
        """IndexInfo(name, columns, kind, nbytes, build_seconds) in creation order."""
        return [IndexInfo(ix.name, ix.columns, ix.kind, ix.nbytes(), ix.build_seconds)
                for ix in self._indexes.values()]

    # -------------------------------------------------------------- planning

    def _prepare(self, where):
        """(predicates checked against the columns, constraints per column) of a
        where argument; remembered for a string (constraints are never changed
        after they are made)."""
        if isinstance(where, str):
            got = self._parsed.get(where)
            if got is None:
                preds = self._check_preds(_coerce_where(where))
                got = (preds, self._constraints(preds))
                if len(self._parsed) >= _CACHE_SIZE:
                    self._parsed.clear()
                self._parsed[where] = got
            return got
        preds = self._check_preds(_coerce_where(where))
        return preds, self._constraints(preds)

    def _preds(self, where):
        """The predicates of a where argument, checked against the columns."""
        return self._prepare(where)[0]

    def _check_preds(self, preds):
        out = []
        for i, p in enumerate(preds):
            label = f"predicate {i}" if p.pos is None else f"at position {p.pos}"
            self._need_column(p.column, "" if p.pos is not None else f"predicate {i}: ", p.pos)
            if p.op == "in":
                args = (tuple(_number(v, p.column, label) for v in p.args[0]),)
            else:
                args = tuple(_number(v, p.column, label) for v in p.args)
            out.append(Pred(p.column, p.op, args, p.pos))
        return out

    def _constraints(self, preds):
        cons = {}
        for p in preds:
            c = cons.get(p.column)
            if c is None:
                c = cons[p.column] = _Cons(self._kinds[p.column])
            c.preds.append(p)
            op, a = p.op, p.args
            if op == "=":
                c.add_eq(a)
            elif op == "in":
                c.add_eq(a[0])
            elif op == "<":
                c.add_upper(a[0], False)
            elif op == "<=":
                c.add_upper(a[0], True)
            elif op == ">":
                c.add_lower(a[0], False)
            elif op == ">=":
                c.add_lower(a[0], True)
            else:
                c.add_lower(a[0], True)
                c.add_upper(a[1], True)
        for c in cons.values():
            c.finish()
        return cons

    def _choose(self, preds):
        """(index or None, equality columns used, whether the range is used), by the
        rules of the module docstring; remembered per shape of the predicates."""
        shape = tuple([(p.column, p.op) for p in preds])
        got = self._choices.get(shape)
        if got is None:
            got = self._choose_uncached(preds)
            if len(self._choices) >= _CACHE_SIZE:
                self._choices.clear()
            self._choices[shape] = got
        return got

    def _choose_uncached(self, preds):
        has_eq = {p.column for p in preds if p.op in ("=", "in")}
        has_range = {p.column for p in preds if p.op in _RANGE_OPS}
        best, best_key = None, None
        for order, ix in enumerate(self._indexes.values()):
            cols = ix.columns
            if ix.kind == "hash":
                if not all(c in has_eq for c in cols):
                    continue
                k, use_range = len(cols), False
            else:
                k = 0
                while k < len(cols) and cols[k] in has_eq:
                    k += 1
                use_range = k < len(cols) and cols[k] in has_range
                if k == 0 and not use_range:
                    continue
            key = (k + use_range, k, ix.kind == "hash", -order)
            if best_key is None or key > best_key:
                best, best_key = (ix, k, use_range), key
        return best if best is not None else (None, 0, False)

    def _plan(self, preds):
        """(Plan, index or None, equality columns used, whether the range is used)."""
        ix, k, use_range = self._choose(preds)
        if ix is None:
            return Plan(self.name, "SCAN", filters=preds), None, 0, False
        used = set(ix.columns[:k + use_range])
        rcol = ix.columns[k] if use_range else None
        ends = (False, False)
        if rcol is not None:
            rp = [p for p in preds if p.column == rcol]
            ends = (any(p.op in (">", ">=", "between") for p in rp),
                    any(p.op in ("<", "<=", "between") for p in rp))
        plan = Plan(self.name, "SEARCH", ix.name, ix.kind, ix.columns[:k], rcol, ends,
                    [p for p in preds if p.column not in used])
        return plan, ix, k, use_range

    def explain(self, where=None):
        """The plan ``query(where)`` would follow (see Plan). Raises QueryError
        for a where clause that does not fit the table."""
        return self._plan(self._preds(where))[0]

    def query(self, where=None, columns=None):
        """The ids of the rows where every predicate holds, sorted (int64 array);
        with ``columns``, a dict of those columns at those rows instead."""
        if columns is not None:
            if isinstance(columns, str):
                columns = [columns]
            for c in columns:
                self._need_column(c)
        preds, cons = self._prepare(where)
        ix, k, use_range = self._choose(preds)
        if any(c.empty for c in cons.values()):
            rows = np.zeros(0, dtype=np.int64)
        elif ix is None:
            rows = None
            mask = None
            for name, c in cons.items():
                m = c.mask(self._cols[name])
                mask = m if mask is None else mask & m
            rows = np.arange(self.nrows, dtype=np.int64) if mask is None else np.flatnonzero(mask)
        else:
            rows = ix.search(cons, k, use_range)
            if ix.kind == "hash":
                rows = ix.verify(self, cons, rows)
            used = set(ix.columns[:k + use_range])
            for name, c in cons.items():
                if name not in used and len(rows):
                    rows = rows[c.mask(self._cols[name][rows])]
            rows = np.sort(rows)
        if columns is None:
            return rows
        return {c: self._cols[c][rows] for c in columns}

    def _check(self):
        """Every column is frozen and of the table's length; every index equals a
        fresh build from the columns (and passes its own _check)."""
        for name, a in self._cols.items():
            assert len(a) == self.nrows and not a.flags.writeable, f"column {name!r}"
            assert a.dtype == (np.int64 if self._kinds[name] == "i" else np.float64)
        for ix in self._indexes.values():
            ix._check(self)

    def __repr__(self):
        return (f"Table({self.name!r}, rows={self.nrows}, columns={self.columns}, "
                f"indexes={list(self._indexes)})")


# ------------------------------------------------------------------ the SQLite peer

class SQLitePeer:
    """The same table in an in-memory SQLite database (Python's sqlite3): one
    column per table column (INTEGER or REAL), ``rowid`` = our row id, and an
    ordinary index (``CREATE INDEX name ON t(a, b)``) for each of the table's
    indexes, hash ones included (SQLite has no hash index).

    ``load_seconds`` and ``index_seconds[name]`` time the load and each CREATE
    INDEX; ``query(where)`` returns the sorted row ids, ``explain(where)`` the
    text of SQLite's EXPLAIN QUERY PLAN, ``sql(where)`` the statement and its
    parameters.

    >>> import numpy as np
    >>> t = Table({"a": np.array([3, 1, 3]), "b": np.array([1.0, 2.0, 3.0])})
    >>> _ = t.create_index(("a", "b"))
    >>> peer = SQLitePeer(t)
    >>> peer.query("a = 3 AND b > 1").tolist(), peer.explain("a = 3 AND b > 1")
    ([2], 'SEARCH t USING COVERING INDEX idx_ab (a=? AND b>?)')
    """

    def __init__(self, table, indexes=True):
        self.table = table
        self.conn = sqlite3.connect(":memory:")
        names = table.columns
        types = ["INTEGER" if table._kinds[c] == "i" else "REAL" for c in names]
        t0 = time.perf_counter()
        decl = ", ".join(f"{c} {ty}" for c, ty in zip(names, types))
        self.conn.execute(f"CREATE TABLE {table.name} ({decl})")
        marks = ", ".join("?" * (len(names) + 1))
        self.conn.executemany(f"INSERT INTO {table.name} (rowid, {', '.join(names)}) VALUES ({marks})",
                              zip(range(table.nrows), *[table._cols[c].tolist() for c in names]))
        self.conn.commit()
        self.load_seconds = time.perf_counter() - t0
        self.index_seconds = {}
        if indexes:
            for info in table.indexes:
                self.create_index(info.name, info.columns)

    def nbytes(self, name=None):
        """Bytes of the pages of an index (or, by default, of the table itself),
        from SQLite's dbstat virtual table; None when SQLite was built without it."""
        try:
            got = self.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?",
                                    (name or self.table.name,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return got[0]

    def create_index(self, name, columns):
        t0 = time.perf_counter()
        self.conn.execute(f"CREATE INDEX {name} ON {self.table.name} ({', '.join(columns)})")
        self.index_seconds[name] = time.perf_counter() - t0

    def sql(self, where, select="rowid"):
        """(statement, parameters) for ``SELECT rowid FROM t WHERE ...``."""
        preds = self.table._preds(where)
        terms, params = [], []
        for p in preds:
            if p.op == "between":
                terms.append(f"{p.column} BETWEEN ? AND ?")
                params += list(p.args)
            elif p.op == "in":
                terms.append(f"{p.column} IN ({', '.join('?' * len(p.args[0]))})")
                params += list(p.args[0])
            else:
                terms.append(f"{p.column} {p.op} ?")
                params.append(p.args[0])
        text = f"SELECT {select} FROM {self.table.name}"
        if terms:
            text += " WHERE " + " AND ".join(terms)
        return text, params

    def fetch(self, where):
        """The raw result rows of the query (what a timing should cover)."""
        text, params = self.sql(where)
        return self.conn.execute(text, params).fetchall()

    def query(self, where):
        rows = self.fetch(where)
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))

    def explain(self, where):
        text, params = self.sql(where)
        return "\n".join(r[-1] for r in self.conn.execute("EXPLAIN QUERY PLAN " + text, params))

    def close(self):
        self.conn.close()
