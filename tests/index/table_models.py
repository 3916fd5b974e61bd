"""Pure-Python references for the hash index and the Table planner (tradeoff.index):

- ``HashIndexModel``: a dict of lists (key -> rows in insertion order), the
  obvious meaning of a non-unique equality index;
- ``python_filter``: the rows of a table that satisfy an AND of predicates,
  evaluated row by row with Python's exact int/float comparisons;
- ``numpy_filter``: the same with one numpy boolean mask per predicate (the
  brute force the planner's full scan must equal);
- ``expected_plan``: the leftmost-prefix rule written out the long way, for the
  planner's choice of index;
- ``TableModel``: a writable table as a dict of row id -> row (a dict of
  Python ints and floats), ids never reused, for insert, delete and update.
"""
import numpy as np

__all__ = ["HashIndexModel", "python_filter", "numpy_filter", "expected_plan", "TableModel", "OPS"]

OPS = ("=", "<", "<=", ">", ">=", "between", "in")


class HashIndexModel:
    """key -> list of rows, in insertion order."""

    def __init__(self):
        self.d = {}

    def insert(self, key, row):
        self.d.setdefault(key, []).append(row)

    def delete(self, key, row=None):
        """Rows removed, or KeyError (nothing changed)."""
        if key not in self.d:
            raise KeyError(key)
        if row is None:
            return len(self.d.pop(key))
        rows = self.d[key]
        if row not in rows:
            raise KeyError((key, row))
        rows.remove(row)                # the first occurrence
        if not rows:
            del self.d[key]
        return 1

    def lookup(self, key):
        return list(self.d.get(key, []))

    def __len__(self):
        return sum(len(r) for r in self.d.values())


def _holds(v, op, args):
    if op == "=":
        return v == args[0]
    if op == "<":
        return v < args[0]
    if op == "<=":
        return v <= args[0]
    if op == ">":
        return v > args[0]
    if op == ">=":
        return v >= args[0]
    if op == "between":
        return args[0] <= v <= args[1]
    if op == "in":
        return any(v == x for x in args[0])
    raise ValueError(op)


def python_filter(columns, where):
    """Sorted row ids where every (column, op, *args) predicate holds (exact
    comparisons between Python ints and floats)."""
    n = len(next(iter(columns.values()))) if columns else 0
    lists = {name: col.tolist() for name, col in columns.items()}
    return [i for i in range(n)
            if all(_holds(lists[p[0]][i], p[1].lower(), p[2:]) for p in where)]


def numpy_filter(columns, where):
    """The same with numpy masks (exact while values stay within +-2**53)."""
    n = len(next(iter(columns.values()))) if columns else 0
    mask = np.ones(n, dtype=bool)
    for p in where:
        col, op, args = columns[p[0]], p[1].lower(), p[2:]
        if op == "=":
            mask &= col == args[0]
        elif op == "<":
            mask &= col < args[0]
        elif op == "<=":
            mask &= col <= args[0]
        elif op == ">":
            mask &= col > args[0]
        elif op == ">=":
            mask &= col >= args[0]
        elif op == "between":
            mask &= (col >= args[0]) & (col <= args[1])
        elif op == "in":
            m = np.zeros(n, dtype=bool)
            for v in args[0]:
                m |= col == v
            mask &= m
    return np.flatnonzero(mask)


def expected_plan(indexes, where):
    """(index name or None, columns used) by the rule: a hash index needs an
    equality (= or IN) on every one of its columns; a B-tree index uses the
    longest prefix of its columns with equalities, plus one more column if that
    one has a range (<, <=, >, >=, BETWEEN); most columns used wins, then more
    equalities, then hash over B-tree, then the index created first.

    ``indexes`` is a list of (name, columns, kind) in creation order."""
    eq = {p[0] for p in where if p[1].lower() in ("=", "in")}
    rng = {p[0] for p in where if p[1].lower() in ("<", "<=", ">", ">=", "between")}
    best, best_key = None, None
    for order, (name, cols, kind) in enumerate(indexes):
        if kind == "hash":
            if not all(c in eq for c in cols):
                continue
            used, neq = len(cols), len(cols)
        else:
            neq = 0
            while neq < len(cols) and cols[neq] in eq:
                neq += 1
            used = neq + (1 if neq < len(cols) and cols[neq] in rng else 0)
            if used == 0:
                continue
        key = (used, neq, kind == "hash", -order)
        if best_key is None or key > best_key:
            best, best_key = (name, used), key
    return best if best else (None, 0)


class TableModel:
    """Rows by id (dicts of Python values: ints for int64 columns, floats for
    float64 ones); new ids follow the largest ever given; deleted ids stay gone."""

    def __init__(self, columns):
        self.kinds = {c: "i" if a.dtype.kind in "iub" else "f" for c, a in columns.items()}
        n = len(next(iter(columns.values())))
        lists = {c: a.tolist() for c, a in columns.items()}
        self.rows = {i: {c: lists[c][i] for c in columns} for i in range(n)}
        self.next_id = n

    def _value(self, c, v):
        return int(v) if self.kinds[c] == "i" else float(v)

    def insert(self, rows):
        """rows: a list of dicts; returns the new ids."""
        ids = []
        for r in rows:
            self.rows[self.next_id] = {c: self._value(c, r[c]) for c in self.kinds}
            ids.append(self.next_id)
            self.next_id += 1
        return ids

    def query(self, where):
        return [i for i in sorted(self.rows)
                if all(_holds(self.rows[i][p[0]], p[1].lower(), p[2:]) for p in where)]

    def delete(self, where):
        ids = self.query(where)
        for i in ids:
            del self.rows[i]
        return len(ids)

    def update(self, where, values):
        ids = self.query(where)
        for i in ids:
            for c, v in values.items():
                self.rows[i][c] = self._value(c, v)
        return len(ids)
