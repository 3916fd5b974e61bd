"""Composite indexes and a tiny query planner over a table of numpy columns.

``Table(columns)`` holds equal-length int64 / float64 columns (row ids 0..n-1,
then more by ``insert``); ``create_index(columns, kind="btree" | "hash")`` adds a
secondary index; ``insert``, ``delete`` and ``update`` change rows;
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

- B-tree (``tradeoff.index._packed.PackedBTree``), on one column or several
  (c1, ..., ck): a B+tree whose keys are the fixed-width words ``(code(c1),
  ..., code(ck), row)``, stored unboxed (8 bytes a word) and compared
  lexicographically as unsigned words. ``code`` preserves order: an int64 with
  its sign bit flipped; a float64's IEEE bits with the sign bit flipped for a
  positive value and every bit flipped for a negative one (-0.0 as 0.0). So
  keys are unique and sorted by the columns in order, then by row: the
  leftmost-prefix rule falls out of word order. A search for ``a = x AND b > y``
  is one descent to the first key whose first two words exceed
  ``(code(x), code(y))``, one descent to the first key whose first word exceeds
  ``code(x)``, and a C loop copying the row word of every key between into an
  int64 array. Built by one ``np.lexsort`` of the codes and ``from_sorted``,
  which fills every leaf.
- Hash (``tradeoff.index.HashIndex``, the shared ``_core`` table). The int64 key
  of a row is its value on one int64 column, the IEEE bits of its value on one
  float64 column (with -0.0 as 0.0), and on several columns a stable mix of
  those: ``h = mix64(h ^ mix64(code))`` from ``h = 0x9E3779B97F4A7C15``, column
  by column (splitmix64's finalizer; reproducible across runs, unlike
  ``hash()``). Candidates of a several-column key are verified against the
  columns, so a collision never returns a wrong row.

``IndexInfo.nbytes`` counts an index's own memory: the HashIndex's buckets and
row lists, or every node of the B-tree (headers, key words, child pointers).
On (a, b) a key is 24 bytes, so a fresh index takes 24.8 bytes per row (full
leaves of 128 keys plus one spare slot and a header each, and the internal
nodes) against about 14 for SQLite's; on one column, 16.6. Inserts split a
full leaf in halves, so a tree grown by random inserts is emptier than a fresh
build: 35.5 bytes per row on (a, b) after growing from 1,000 to 201,000 rows.

Writes. ``insert``, ``delete`` and ``update`` keep every index current (a key
removed and added per changed row and index). A deleted row becomes a
tombstone: its values stay in the columns, ``alive`` marks it dead, scans skip
it and the indexes drop it; row ids are never reused, so the other rows keep
theirs. Every write checks all its input before it changes anything.

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

Repeated queries (as sqlite3's statement cache). A where clause is compiled
once, parsed, checked, planned and turned into the index search, and cached:
a string or a list of predicate tuples by its text or values. A list of
predicate tuples is also cached by its shape (columns, operators), so that a
query that differs only in its values binds them straight to the index search
(no parsing, no name checks, no planning): for equalities only, on a B-tree or
a one-column hash index, the checks of the values, their codes and the search
all run in C (``_packed.scan_eq`` / ``hash_eq``); with a range or a filter, in
a few lines of Python (``_Template.run``). Shapes with IN or a column named
twice take the general path. The caches are dropped when an index is created
or dropped; writes keep them.

Complexity: a B-tree search O(log n + k) for k candidate rows (one descent
pair per combination of IN values); a hash search O(1 + k) expected; a scan
O(n) vectorized; then O(k log k) to sort the result, skipped when the index
gives the rows in order (every column of a B-tree equal to one value; a hash
key whose rows were never re-inserted). Building an index: O(n log n) (one
sort) plus O(n) to fill it. A write of m rows: O(m log n) per B-tree index and
O(m) per hash index, after the query that finds them for delete and update.

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
import operator
import re
import sqlite3
import time
from typing import NamedTuple

import numpy as np

from tradeoff.index._packed import (KeyRanges, PackedBTree, encode_float64, encode_int64, float_bits,
                                    hash_eq, scan_eq, word_of_float, word_of_int)
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

    def add(self, op, args):
        """Narrow by one predicate, its operator and arguments as a Pred holds them."""
        if op == "=":
            self.add_eq(args)
        elif op == "in":
            self.add_eq(args[0])
        elif op == "<":
            self.add_upper(args[0], False)
        elif op == "<=":
            self.add_upper(args[0], True)
        elif op == ">":
            self.add_lower(args[0], False)
        elif op == ">=":
            self.add_lower(args[0], True)
        else:                                   # between
            self.add_lower(args[0], True)
            self.add_upper(args[1], True)

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

def _words(arr):
    """The order-preserving uint64 words of a column's values (see _packed)."""
    return encode_int64(arr) if arr.dtype == np.int64 else encode_float64(arr)


def _word(kind, v):
    """The word of one value of a column of this kind (an int or a float)."""
    return word_of_int(v) if kind == "i" else word_of_float(v)


def _mix64(x):
    """splitmix64's finalizer on a uint64 array (tradeoff._core.hashing.mix64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


_U64_MASK = (1 << 64) - 1
_FEW = 8                 # index changes of at most this many rows go row by row (no numpy)


def _mix64_int(x):
    """_mix64 of one Python int in [0, 2**64)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _U64_MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _U64_MASK
    return x ^ (x >> 31)


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
    """An index of a Table. ``prepare(cons, k, use_range)`` turns the constraints
    of a query into a search, once per cached query; ``fetch(search)`` runs it
    and returns (candidate rows, whether they are sorted already); ``add(table,
    rows)`` and ``remove(table, rows)`` index and unindex rows by their current
    column values."""

    def __init__(self, name, columns, kind, table):
        self.name, self.columns, self.kind = name, columns, kind
        self.kinds = [table._kinds[c] for c in columns]
        t0 = time.perf_counter()
        self._build(table, table._live_rows())
        self.build_seconds = time.perf_counter() - t0


class _BTreeIndex(_Index):
    """A PackedBTree of the keys (code(c1), ..., code(ck), row)."""

    def _keys(self, table, rows, order=False):
        """The packed keys of these rows, an (n, k + 1) uint64 array (sorted when order)."""
        words = [_words(table._cols[c][rows]) for c in self.columns]
        if order:
            perm = np.lexsort(tuple(reversed(words)))      # stable: rows stay ascending within ties
            words = [w[perm] for w in words]
            rows = rows[perm]
        keys = np.empty((len(rows), len(words) + 1), dtype=np.uint64)
        for j, w in enumerate(words):
            keys[:, j] = w
        keys[:, -1] = rows
        return keys

    def _build(self, table, rows):
        self.tree = PackedBTree.from_sorted(self._keys(table, rows, order=True), node_size=_NODE_SIZE)

    def prepare(self, cons, k, use_range):
        """(KeyRanges, sorted): one range per combination of the equality values
        of the first k columns (in key order), narrowed by the range of column k
        when use_range. The rows come out sorted when every column has one value."""
        eqs = [sorted(_word(kind, v) for v in cons[c].eq) for c, kind in zip(self.columns[:k], self.kinds)]
        rc = cons[self.columns[k]] if use_range else None
        ranges = []
        for p in itertools.product(*eqs):
            if rc is None:
                ranges.append((p, True, p, True))
                continue
            kind = self.kinds[k]
            lo = (p, True) if rc.lo is None else (p + (_word(kind, rc.lo),), rc.lo_inc)
            hi = (p, True) if rc.hi is None else (p + (_word(kind, rc.hi),), rc.hi_inc)
            ranges.append(lo + hi)
        presorted = rc is None and k == len(self.columns) and len(ranges) <= 1
        return KeyRanges(ranges, len(self.columns) + 1), presorted

    def fetch(self, search):
        return self.tree.scan(search[0]), search[1]

    def _key_of(self, vals, row):
        """The packed key (a tuple of words) of a row with these values (a dict
        of column -> Python int or float)."""
        return tuple([word_of_int(vals[c]) if kind == "i" else word_of_float(vals[c])
                      for c, kind in zip(self.columns, self.kinds)]) + (row,)

    def _key(self, table, row):
        return self._key_of(table._row_values(row), row)

    def add_one(self, vals, row):
        self.tree.insert(self._key_of(vals, row))

    def add(self, table, rows, fresh=True):
        if len(rows) <= _FEW:
            for r in rows.tolist():
                self.tree.insert(self._key(table, r))
        else:
            self.tree.insert_many(self._keys(table, rows))

    def remove(self, table, rows):
        if len(rows) <= _FEW:
            for r in rows.tolist():
                self.tree.delete(self._key(table, r))
        else:
            self.tree.delete_many(self._keys(table, rows))

    def nbytes(self):
        """Every node of the tree: headers, key words and child pointers."""
        return self.tree.nbytes

    def _check(self, table):
        self.tree._check()
        want = self._keys(table, table._live_rows(), order=True)
        assert np.array_equal(self.tree.keys_array(), want), f"index {self.name}: keys differ from a rebuild"


class _HashIndex(_Index):

    def _build(self, table, rows):
        self.ix = HashIndex(expected=len(rows))
        self.ix.insert_many(_hash_keys([table._cols[c][rows] for c in self.columns]), rows)
        # the rows of a key come back in insertion order: ascending until an update
        # re-inserts an old row after newer ones
        self.ordered = True

    def prepare(self, cons, k, use_range):
        """(one key, None) for one value of one column, else (None, unique keys)."""
        sets = [cons[c].eq for c in self.columns]
        if len(sets) == 1 and len(sets[0]) == 1:       # the common case: one int64 key
            v = next(iter(sets[0]))
            return (v if self.kinds[0] == "i" else _float_code(v)), None
        combos = list(itertools.product(*[sorted(s) for s in sets]))
        arrays = [np.array([c[j] for c in combos], dtype=np.int64 if kind == "i" else np.float64)
                  for j, kind in enumerate(self.kinds)]
        return None, np.unique(_hash_keys(arrays))     # two combinations may share a key

    def fetch(self, search):
        key, keys = search
        if keys is None:
            return self.ix.lookup(key), self.ordered
        return self.ix.lookup_many(keys)[1], False

    def _key(self, table, row):
        return self._key_of(table._row_values(row))

    def add_one(self, vals, row):
        self.ix.insert(self._key_of(vals), row)

    def _key_of(self, vals):
        """The HashIndex key of a row with these values (as _hash_keys, in Python ints)."""
        codes = [vals[c] if kind == "i" else float_bits(vals[c]) for c, kind in zip(self.columns, self.kinds)]
        if len(codes) == 1:
            return codes[0]
        h = _HASH_SEED
        for code in codes:
            h = _mix64_int(h ^ _mix64_int(code & _U64_MASK))
        return h - (1 << 64) if h >> 63 else h

    def add(self, table, rows, fresh=True):
        if len(rows) <= _FEW:
            for r in rows.tolist():
                self.ix.insert(self._key(table, r), r)
        else:
            self.ix.insert_many(_hash_keys([table._cols[c][rows] for c in self.columns]), rows)
        if not fresh:
            self.ordered = False

    def remove(self, table, rows):
        delete = self.ix.delete
        if len(rows) <= _FEW:
            for r in rows.tolist():
                delete(self._key(table, r), r)
            return
        keys = _hash_keys([table._cols[c][rows] for c in self.columns])
        for key, row in zip(keys.tolist(), rows.tolist()):
            delete(key, row)

    def nbytes(self):
        return self.ix.nbytes

    def _check(self, table):
        self.ix._check()
        live = table._live_rows()
        assert len(self.ix) == len(live), f"index {self.name}: {len(self.ix)} entries for {len(live)} rows"
        keys = _hash_keys([table._cols[c][live] for c in self.columns])
        uniq = np.unique(keys)
        offsets, rows = self.ix.lookup_many(uniq)
        owner = np.repeat(uniq, np.diff(offsets))       # the key each stored row is under
        order = np.argsort(rows, kind="stable")
        assert np.array_equal(rows[order], live), f"index {self.name}: rows missing or twice"
        assert np.array_equal(owner[order], keys), f"index {self.name}: a row under a wrong key"
        if self.ordered:
            for key in uniq[:64].tolist():
                got = self.ix.lookup(key)
                assert np.all(got[1:] > got[:-1]), f"index {self.name}: rows of a key out of order"


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

class _Query:
    """A where clause compiled against a table: its plan and, for a search, the
    prepared index search and the filters left; cached per where (a string, or
    a list of predicate tuples of plain ints and floats) until the indexes change."""
    __slots__ = ("gen", "plan", "ix", "search", "filters", "empty", "preds")


def _cache_key(where):
    """The key a where argument is cached under, or None when it is not cached: a
    string, None, or predicate tuples whose values are plain ints and floats
    (so that equal keys mean the same query: 1 == 1.0 here, but True == 1 too,
    and a bool must still be refused)."""
    t = type(where)
    if t is str or where is None:
        return where
    if t is tuple and where and type(where[0]) is str:
        where = (where,)
    elif t is not list and t is not tuple:
        return None
    for p in where:
        if type(p) is not tuple:
            return None
        for v in p[2:]:
            tv = type(v)
            if tv is not int and tv is not float:
                return None
    return tuple(where)


def _cell(name, kind, v):
    """One value for a column of this kind, exactly: an int in int64 for "i" (an
    integral float accepted), a float for "f"; ValueError otherwise."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"column {name!r} takes numbers, got {type(v).__name__} {v!r}")
    if isinstance(v, float) and math.isnan(v):
        raise ValueError(f"column {name!r}: NaN is not a value")
    if kind == "i":
        given = v
        if isinstance(v, float):
            if not v.is_integer():
                raise ValueError(f"column {name!r} holds integers, got {v!r}")
            v = int(v)
        if not INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"column {name!r}: {given!r} is outside int64")
        return v
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"column {name!r}: {v} is too large for a float64") from None


def _column_values(name, kind, values):
    """The values of one column for insert, checked (see _cell), as an int64 or
    float64 array; ValueError naming the column otherwise."""
    if isinstance(values, np.ndarray):
        a = values
    else:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        values = list(values)
        a = np.asarray(values) if values else np.zeros(0, dtype=np.int64 if kind == "i" else np.float64)
        if kind == "i" and a.dtype.kind == "f":
            a = np.array(values, dtype=object)        # exactly, not through float64
    if a.ndim != 1:
        raise ValueError(f"column {name!r}: expected one value per row, got shape {a.shape}")
    k = a.dtype.kind
    if k in "iu":
        if kind == "i":
            if k == "u" and a.size and int(a.max()) > INT64_MAX:
                raise ValueError(f"column {name!r}: {int(a.max())} is outside int64")
            return a.astype(np.int64)
        return a.astype(np.float64)
    if k == "f":
        a = a.astype(np.float64)
        if np.isnan(a).any():
            raise ValueError(f"column {name!r}: NaN is not a value")
        if kind == "i":
            bad = ~np.isfinite(a) | (a != np.floor(a)) | (a < -2.0 ** 63) | (a >= 2.0 ** 63)
            if bad.any():
                v = float(a[bad][0])
                if not v.is_integer():
                    raise ValueError(f"column {name!r} holds integers, got {v!r}")
                raise ValueError(f"column {name!r}: {v!r} is outside int64")
            return a.astype(np.int64)
        return a
    if k == "O":
        return np.array([_cell(name, kind, v) for v in a.tolist()],
                        dtype=np.int64 if kind == "i" else np.float64)
    raise ValueError(f"column {name!r} takes numbers, got dtype {a.dtype}")


_MISS = object()
_SHAPE = operator.itemgetter(0, 1)             # the shape of a predicate tuple: (column, op)
_EMPTY_ROWS = np.zeros(0, dtype=np.int64)
_EMPTY_ROWS.flags.writeable = False


def _pred_cons(kind, op, args):
    """The _Cons of one predicate on a column of this kind, or None when a value
    is not a plain int or float or is NaN (the caller then takes the general
    path, which raises the right error)."""
    if len(args) != (2 if op == "between" else 1):
        return None
    for v in args:
        tv = type(v)
        if (tv is not int and tv is not float) or v != v:
            return None
    c = _Cons(kind)
    c.add(op, args)
    c.finish()
    return c


class _Template:
    """A compiled shape of the list-of-tuples where form (the columns, operators
    and arities of its predicates, not their values): the index the planner
    chose and where each of its search values sits, so that a query of a known
    shape binds its values and goes to the index without parsing, checking
    names or planning. Shapes with IN, a column named twice, or no usable
    index are not templated (the general path serves them)."""
    __slots__ = ("gen", "ix", "eq", "rng", "filters", "width", "presorted", "arity", "fast", "ceq")

    def run(self, table, where):
        """The sorted rows, or None to take the general path (a value that is not
        a plain int or float, or NaN)."""
        # every value is checked before any answer (an empty one included)
        if tuple(map(len, where)) != self.arity:
            return None
        for p in where:
            v = p[2]
            tv = type(v)
            if (tv is not int and tv is not float) or v != v:
                return None
            if len(p) == 4:
                v = p[3]
                tv = type(v)
                if (tv is not int and tv is not float) or v != v:
                    return None
        ix = self.ix
        words = []
        for pos, kind in self.eq:
            x = _eq_value(kind, where[pos][2])
            if x is _NOMATCH:
                return _EMPTY_ROWS.copy()
            if ix.kind == "hash":
                return self._filter(table, where, ix.ix.lookup(x if kind == "i" else float_bits(x)), ix.ordered)
            words.append(word_of_int(x) if kind == "i" else word_of_float(x))
        p = tuple(words)
        if self.rng is None:
            rows = ix.tree.scan_one(p, True, p, True)
        else:
            pos, kind, op = self.rng
            rc = _pred_cons(kind, op, where[pos][2:])
            if rc is None:
                return None
            if rc.empty:
                return _EMPTY_ROWS.copy()
            word = word_of_int if kind == "i" else word_of_float
            lo = p if rc.lo is None else p + (word(rc.lo),)
            hi = p if rc.hi is None else p + (word(rc.hi),)
            rows = ix.tree.scan_one(lo, rc.lo is None or rc.lo_inc, hi, rc.hi is None or rc.hi_inc)
        return self._filter(table, where, rows, self.presorted)

    def _filter(self, table, where, rows, ordered):
        cols = table._cols
        for pos, name, kind, op in self.filters:
            c = _pred_cons(kind, op, where[pos][2:])
            if c is None:
                return None
            if len(rows):
                rows = rows[c.mask(cols[name][rows])]
        if not ordered and len(rows) > 1:
            rows.sort()
        return rows


class Table:
    """A table of equal-length numpy columns (int64 or float64) with secondary
    B-tree and hash indexes, a rule-based planner (see the module docstring for
    the rules and the index layouts), and inserts, deletes and updates.

    Row ids. Rows are numbered 0, 1, ... in insertion order and keep their id
    for life: ``delete`` leaves a tombstone (the row's values stay in the
    column arrays, marked dead, and scans skip them; the indexes drop the row)
    and ids are never reused, so ``insert`` numbers new rows from ``nrows``
    (ids ever given), while ``len(t)`` counts the live rows. ``column(name)``
    is a read-only view of the values by row id, dead rows included, as they
    are when it is called (take it again after a write); ``alive`` tells which
    rows are live. ``compact()`` reclaims the deleted rows, as SQLite's
    ``VACUUM`` does, and numbers the live rows again from 0.

    Writes check everything first (columns, types, ranges, the where clause)
    and change nothing on an error (ValueError, or its subclass QueryError for
    a where clause); then every index is updated.

    Complexity: ``create_index`` O(n log n); ``query`` O(log n + k) through a
    B-tree, O(1 + k) through a hash index, O(n) vectorized for a scan, plus
    O(k log k) to sort the k rows returned (skipped when the index gives them
    in order); ``insert`` of m rows O(m log n) per B-tree index and O(m) per hash
    index (amortized: the columns double when full); ``delete`` and ``update``
    cost the query plus the same per row changed.

    >>> import numpy as np
    >>> t = Table({"a": np.arange(10) % 3, "b": np.arange(10.0)})
    >>> t.create_index(["a", "b"], name="by_ab")
    'by_ab'
    >>> t.query([("a", "=", 1), ("b", ">=", 4)]).tolist()
    [4, 7]
    >>> str(t.explain([("b", "<", 3)]))
    'SCAN t\\nFILTER b<?'
    >>> t.insert({"a": [1, 1], "b": [4.5, 20]}).tolist()
    [10, 11]
    >>> t.delete("a = 1 AND b < 5"), t.update([("b", ">", 10)], {"a": 2})
    (3, 1)
    >>> t.query("a = 1").tolist(), t.query("a = 2").tolist(), len(t), t.nrows
    ([7], [2, 5, 8, 11], 9, 12)
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
            cols[cname], kinds[cname] = a, kind
        self.name = name
        self._kinds = kinds
        # the column buffers (private copies, writable, capacity >= nrows) and the
        # read-only views of their first nrows values that everything else reads
        self._bufs = cols
        self._alive_buf = np.ones(n, dtype=bool)
        self.nrows = n
        self._ndead = 0
        self._views()
        self._indexes = {}                  # name -> _Index, in creation order
        # where -> _Query, as sqlite3's statement cache: a repeated query is not
        # parsed or planned again (entries of an older index set are recompiled)
        self._queries = {}
        self._shapes = {}                   # shape of a list-of-tuples where -> _Template or None
        self._gen = 0

    def _views(self):
        n = self.nrows
        self._cols = {}
        for cname, buf in self._bufs.items():
            v = buf[:n]
            v.flags.writeable = False
            self._cols[cname] = v
        self._alive = self._alive_buf[:n]
        self._alive.flags.writeable = False

    def _live_rows(self):
        """The ids of the live rows, ascending (int64)."""
        if self._ndead == 0:
            return np.arange(self.nrows, dtype=np.int64)
        return np.flatnonzero(self._alive)

    # -------------------------------------------------------------- columns and indexes

    def __len__(self):
        return self.nrows - self._ndead

    @property
    def columns(self):
        """The column names, in order."""
        return list(self._bufs)

    @property
    def alive(self):
        """A read-only bool array by row id: False for a deleted row."""
        return self._alive

    def column(self, name):
        """The (read-only) array of a column by row id, deleted rows included."""
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
        self._gen += 1
        self._shapes.clear()                # None entries too: a shape may be templated now
        return name

    def drop_index(self, name):
        """Remove an index (KeyError naming the existing ones if there is none)."""
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r} (indexes: {', '.join(self._indexes) or 'none'})")
        del self._indexes[name]
        self._gen += 1
        self._shapes.clear()

    @property
    def indexes(self):
        """IndexInfo(name, columns, kind, nbytes, build_seconds) in creation order."""
        return [IndexInfo(ix.name, ix.columns, ix.kind, ix.nbytes(), ix.build_seconds)
                for ix in self._indexes.values()]

    # -------------------------------------------------------------- planning

    def _preds(self, where):
        """The predicates of a where argument, checked against the columns."""
        return self._check_preds(_coerce_where(where))

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
            c.add(p.op, p.args)
        for c in cons.values():
            c.finish()
        return cons

    def _choose(self, preds):
        """(index or None, equality columns used, whether the range is used), by the
        rules of the module docstring."""
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

    def _compile(self, where):
        preds = self._preds(where)
        cons = self._constraints(preds)
        q = _Query()
        q.gen, q.preds = self._gen, preds
        q.plan, q.ix, k, use_range = self._plan(preds)
        q.empty = any(c.empty for c in cons.values())
        q.search = None
        if q.ix is None:
            q.filters = list(cons.items())
        else:
            # a several-column hash index re-checks its own columns (a key is a mix)
            used = set() if q.ix.kind == "hash" and len(q.ix.columns) > 1 else \
                set(q.ix.columns[:k + use_range])
            q.filters = [(name, c) for name, c in cons.items() if name not in used]
            if not q.empty:
                q.search = q.ix.prepare(cons, k, use_range)
        return q

    def _get(self, where):
        """The compiled query of a where argument, from the cache when it can be."""
        key = _cache_key(where)
        if key is None:
            return self._compile(where)
        q = self._queries.get(key)
        if q is None or q.gen != self._gen:
            q = self._compile(where)
            if len(self._queries) >= _CACHE_SIZE:
                self._queries.clear()
            self._queries[key] = q
        return q

    def _template(self, where):
        """A _Template for the shape of this list of predicate tuples, or None when
        the shape is not one templates serve. Raises QueryError as query does."""
        q = self._get(where)
        ix, preds = q.ix, q.preds
        if ix is None or any(p.op == "in" for p in preds) or len({p.column for p in preds}) < len(preds):
            return None
        if ix.kind == "hash" and len(ix.columns) > 1:
            return None
        at = {p.column: i for i, p in enumerate(preds)}
        tpl = _Template()
        tpl.gen, tpl.ix, tpl.width = self._gen, ix, len(ix.columns) + 1
        k = len(q.plan.eq_columns)
        tpl.eq = [(at[c], self._kinds[c]) for c in ix.columns[:k]]
        rcol = q.plan.range_column
        tpl.rng = None if rcol is None else (at[rcol], self._kinds[rcol], preds[at[rcol]].op)
        used = set(ix.columns[:k]) | ({rcol} if rcol else set())
        tpl.filters = [(i, p.column, self._kinds[p.column], p.op) for i, p in enumerate(preds)
                       if p.column not in used]
        tpl.presorted = rcol is None and k == len(ix.columns)
        tpl.arity = tuple(4 if p.op == "between" else 3 for p in preds)
        # fast: 1 when the C path (scan_eq) serves it, 2 for hash_eq, 0 for run()
        tpl.ceq = tuple((pos, kind == "i") for pos, kind in tpl.eq)
        tpl.fast = 0 if rcol is not None or tpl.filters else (2 if ix.kind == "hash" else 1)
        return tpl

    def explain(self, where=None):
        """The plan ``query(where)`` would follow (see Plan). Raises QueryError
        for a where clause that does not fit the table."""
        return self._get(where).plan

    def query(self, where=None, columns=None):
        """The ids of the live rows where every predicate holds, sorted (int64
        array); with ``columns``, a dict of those columns at those rows instead."""
        if columns is not None:
            if isinstance(columns, str):
                columns = [columns]
            for c in columns:
                self._need_column(c)
        rows = None
        if type(where) is list:
            # the list-of-tuples form: a template per shape, values bound per call
            try:
                shape = tuple(map(_SHAPE, where))       # arities are checked by the template
                tpl = self._shapes.get(shape, _MISS)
            except (TypeError, IndexError, KeyError):
                shape, tpl = None, None
            if tpl is _MISS or (tpl is not None and tpl.gen != self._gen):
                tpl = self._template(where)
                if len(self._shapes) >= _CACHE_SIZE:
                    self._shapes.clear()
                self._shapes[shape] = tpl
            if tpl is not None:
                if tpl.fast == 1:                       # equalities only, on a B-tree: all in C
                    rows = scan_eq(tpl.ix.tree, where, tpl.ceq, tpl.arity)
                    if rows is not None and not tpl.presorted and len(rows) > 1:
                        rows.sort()
                elif tpl.fast == 2:                     # one equality on a one-column hash index
                    ix = tpl.ix
                    rows = hash_eq(ix.ix, where, tpl.eq[0][0], tpl.ceq[0][1], tpl.arity)
                    if rows is not None and not ix.ordered and len(rows) > 1:
                        rows.sort()
                if rows is None:
                    rows = tpl.run(self, where)
        if rows is None:
            key = _cache_key(where)
            q = self._queries.get(key) if key is not None else None
            if q is None or q.gen != self._gen:
                q = self._get(where)
            rows = self._run(q)
        if columns is None:
            return rows
        return {c: self._cols[c][rows] for c in columns}

    def _run(self, q):
        if q.empty:
            return np.zeros(0, dtype=np.int64)
        cols = self._cols
        if q.ix is None:
            mask = None
            for name, c in q.filters:
                m = c.mask(cols[name])
                mask = m if mask is None else mask & m
            if self._ndead:
                mask = self._alive if mask is None else mask & self._alive
            return np.arange(self.nrows, dtype=np.int64) if mask is None else np.flatnonzero(mask)
        rows, ordered = q.ix.fetch(q.search)
        for name, c in q.filters:
            if len(rows):
                rows = rows[c.mask(cols[name][rows])]
        if not ordered and len(rows) > 1:
            rows.sort()
        return rows

    # -------------------------------------------------------------- writes

    def _rows_to_columns(self, rows):
        """The new rows as a dict of checked column arrays of one length. rows is
        a dict of column -> values, or a list of rows (tuples in column order, or
        dicts); every column must be given and no other."""
        names = list(self._bufs)

        def same_columns(keys, what):
            extra = [k for k in keys if k not in self._bufs]
            if extra:
                raise ValueError(f"{what}unknown column {extra[0]!r} (columns: {', '.join(names)})")
            missing = [c for c in names if c not in keys]
            if missing:
                raise ValueError(f"{what}missing column {missing[0]!r}")

        if isinstance(rows, dict):
            same_columns(rows, "")
            out = {c: _column_values(c, self._kinds[c], rows[c]) for c in names}
        else:
            if isinstance(rows, (str, bytes, np.ndarray)) or not hasattr(rows, "__iter__"):
                raise ValueError(f"rows must be a dict of columns or a list of rows, "
                                 f"got {type(rows).__name__}")
            per = {c: [] for c in names}
            for i, r in enumerate(rows):
                if isinstance(r, dict):
                    same_columns(r, f"row {i}: ")
                    for c in names:
                        per[c].append(r[c])
                elif isinstance(r, (tuple, list)):
                    if len(r) != len(names):
                        raise ValueError(f"row {i}: {len(r)} values for {len(names)} columns "
                                         f"({', '.join(names)})")
                    for c, v in zip(names, r):
                        per[c].append(v)
                else:
                    raise ValueError(f"row {i}: expected a tuple or a dict, got {type(r).__name__}")
            out = {c: np.array([_cell(c, self._kinds[c], v) for v in per[c]],
                               dtype=np.int64 if self._kinds[c] == "i" else np.float64)
                   for c in names}
        lens = {len(a) for a in out.values()}
        if len(lens) > 1:
            raise ValueError("columns differ in length (" +
                             ", ".join(f"{c}: {len(a)}" for c, a in out.items()) + ")")
        return out

    def _values(self, values):
        """An update's dict of column -> one value, checked (see _cell)."""
        if not isinstance(values, dict):
            raise ValueError(f"values must be a dict of column -> value, got {type(values).__name__}")
        out = {}
        for c, v in values.items():
            if c not in self._bufs:
                raise ValueError(f"unknown column {c!r} (columns: {', '.join(self._bufs)})")
            out[c] = _cell(c, self._kinds[c], v)
        return out

    def insert(self, rows):
        """Add rows (a dict of column -> values, or a list of row tuples in column
        order or of dicts; every column given); returns their ids, numbered from
        ``nrows``. Values must fit their column exactly (an integral float is
        accepted in an int64 column); on any error nothing changes."""
        bufs = self._bufs
        if type(rows) is list and len(rows) == 1 and type(rows[0]) is tuple and len(rows[0]) == len(bufs):
            # one row tuple (the common write): no numpy arrays on the way
            vals = {c: _cell(c, self._kinds[c], v) for c, v in zip(bufs, rows[0])}
            n0 = self.nrows
            self._reserve(n0 + 1)
            for c, buf in self._bufs.items():
                buf[n0] = vals[c]
            self._alive_buf[n0] = True
            self.nrows = n0 + 1
            self._views()
            for ix in self._indexes.values():
                ix.add_one(vals, n0)
            return np.array([n0], dtype=np.int64)
        new = self._rows_to_columns(rows)
        m = len(next(iter(new.values())))
        n0 = self.nrows
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        n1 = n0 + m
        self._reserve(n1)
        for c, a in new.items():
            self._bufs[c][n0:n1] = a
        self._alive_buf[n0:n1] = True
        self.nrows = n1
        self._views()
        ids = np.arange(n0, n1, dtype=np.int64)
        for ix in self._indexes.values():
            ix.add(self, ids)
        return ids

    def _row_values(self, row):
        """The values of one row, a dict of column -> Python int or float."""
        return {c: buf[row].item() for c, buf in self._bufs.items()}

    def _reserve(self, n1):
        """Room for n1 rows in every buffer (grown by doubling; all the new buffers
        are made before any replaces an old one)."""
        n0 = self.nrows
        cap = len(self._alive_buf)
        if n1 > cap:
            cap = max(n1, 2 * cap, 16)
            bufs = {}
            for c, b in self._bufs.items():
                nb = np.empty(cap, dtype=b.dtype)
                nb[:n0] = b[:n0]
                bufs[c] = nb
            alive = np.zeros(cap, dtype=bool)
            alive[:n0] = self._alive_buf[:n0]
            self._bufs, self._alive_buf = bufs, alive

    def delete(self, where):
        """Delete the live rows matching where (all of them for None or ""):
        tombstones, the other rows keep their ids. Returns how many."""
        rows = self.query(where)
        if len(rows):
            for ix in self._indexes.values():
                ix.remove(self, rows)
            self._alive_buf[rows] = False
            self._ndead += len(rows)
        return len(rows)

    def compact(self):
        """Reclaim the deleted rows, as SQLite's ``VACUUM`` does: the live rows are
        copied into new column buffers of just their size and numbered 0, 1, ...
        in their old order, and every index is built again from them, bottom-up
        (full B-tree leaves, as ``create_index`` builds them; a tree whose nodes
        deletes have left between half and fully used is packed full again).
        Returns the old ids of the rows kept: the row that had id ``old[i]`` has
        id ``i`` afterwards.

        Row ids change, so it is never done behind the caller's back: call it
        when ``len(t)`` has fallen well below ``t.nrows``. O(n log n) for the
        sorts of the B-tree indexes; needs the memory of the new copy while it
        runs, and on an error the table is left as it was.

        >>> import numpy as np
        >>> t = Table({"a": np.arange(6)})
        >>> _ = t.create_index("a")
        >>> t.delete("a < 4"), t.nrows, len(t)
        (4, 6, 2)
        >>> t.compact().tolist(), t.nrows, t.query("a >= 5").tolist()
        ([4, 5], 2, [1])
        """
        live = self._live_rows()
        if self._ndead == 0 and len(self._alive_buf) == self.nrows:
            return live
        fresh = Table({c: self._cols[c][live] for c in self._bufs}, name=self.name)
        for ix in self._indexes.values():
            fresh.create_index(ix.columns, kind=ix.kind, name=ix.name)
        # nothing above changed self; from here on only assignments
        self._bufs, self._alive_buf = fresh._bufs, fresh._alive_buf
        self.nrows, self._ndead = fresh.nrows, 0
        self._indexes = fresh._indexes
        self._views()
        self._queries.clear()
        self._shapes.clear()
        self._gen += 1
        return live

    def update(self, where, values):
        """Set the columns of ``values`` (a dict of column -> value) on the live
        rows matching where; returns how many rows matched. The indexes on the
        changed columns are updated."""
        vals = self._values(values)
        rows = self.query(where)
        if len(rows) and vals:
            touched = [ix for ix in self._indexes.values() if any(c in vals for c in ix.columns)]
            for ix in touched:
                ix.remove(self, rows)
            for c, v in vals.items():
                self._bufs[c][rows] = v
            for ix in touched:
                ix.add(self, rows, fresh=False)
        return len(rows)

    def _check(self):
        """The column views are read-only and nrows long; the tombstones are
        counted right; every index equals a fresh build from the live rows (and
        passes its own _check)."""
        for name, a in self._cols.items():
            assert len(a) == self.nrows and not a.flags.writeable, f"column {name!r}"
            assert a.dtype == (np.int64 if self._kinds[name] == "i" else np.float64)
            assert a.base is self._bufs[name], f"column {name!r}: a stale view"
        assert len(self._alive) == self.nrows
        assert self._ndead == self.nrows - int(self._alive.sum()), "dead rows miscounted"
        for ix in self._indexes.values():
            ix._check(self)

    def __repr__(self):
        return (f"Table({self.name!r}, rows={len(self)}, columns={self.columns}, "
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
    parameters. ``insert``, ``delete`` and ``update`` take what the Table's
    take, check it the same way and number new rows as the Table does (from
    ``next_row``), so that both can be changed alike and compared.

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
        live = table._live_rows()
        self.conn.executemany(f"INSERT INTO {table.name} (rowid, {', '.join(names)}) VALUES ({marks})",
                              zip(live.tolist(), *[table._cols[c][live].tolist() for c in names]))
        self.next_row = table.nrows          # rowids of inserted rows follow the table's numbering
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

    def insert(self, rows):
        """Insert rows given as to ``Table.insert`` (checked the same way: the
        same errors, nothing inserted on one), numbered from ``next_row``;
        returns their ids."""
        cols = self.table._rows_to_columns(rows)
        names = list(cols)
        m = len(cols[names[0]])
        ids = list(range(self.next_row, self.next_row + m))
        marks = ", ".join("?" * (len(names) + 1))
        self.conn.executemany(f"INSERT INTO {self.table.name} (rowid, {', '.join(names)}) VALUES ({marks})",
                              zip(ids, *[cols[c].tolist() for c in names]))
        self.next_row += m
        return np.array(ids, dtype=np.int64)

    def delete(self, where):
        """``DELETE FROM t WHERE ...``; returns the number of rows deleted."""
        text, params = self.sql(where)
        return self.conn.execute("DELETE" + text[len("SELECT rowid"):], params).rowcount

    def update(self, where, values):
        """``UPDATE t SET ... WHERE ...`` with values checked as ``Table.update``
        checks them; returns the number of rows matched."""
        vals = self.table._values(values)
        text, params = self.sql(where)
        if not vals:
            return len(self.conn.execute(text, params).fetchall())
        sets = ", ".join(f"{c} = ?" for c in vals)
        tail = text[len(f"SELECT rowid FROM {self.table.name}"):]
        return self.conn.execute(f"UPDATE {self.table.name} SET {sets}{tail}",
                                 list(vals.values()) + params).rowcount

    def close(self):
        self.conn.close()
