"""Table, its indexes and its planner against pure-Python references
(tests/index/table_models.py) and against SQLite.

- random tables, random indexes, random AND-queries (hypothesis): ``query``
  equals a row-by-row Python filter, a numpy brute force and SQLite's answer,
  and the planner picks the index ``expected_plan`` picks;
- a state machine that creates and drops indexes and queries after every step,
  with ``_check()`` (every index equals a fresh build);
- the issue's plan cases beside SQLite's EXPLAIN QUERY PLAN;
- exact comparisons between int columns and float values (and back);
- the string form: parsing, and errors that give the position;
- bad input: clear errors, nothing changed.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import tradeoff.index.table as table_mod

TABLE_NODE_SIZE = table_mod._NODE_SIZE       # before the fixture below shrinks it
from table_models import TableModel, expected_plan, numpy_filter, python_filter
from tradeoff.index.table import QueryError, SQLitePeer, Table, parse_where


@pytest.fixture(autouse=True)
def small_nodes(monkeypatch):
    """B-tree indexes with tiny nodes, so that small tables span many leaves."""
    monkeypatch.setattr(table_mod, "_NODE_SIZE", 4)


# ---------------------------------------------------------------- strategies

COLS = ("a", "b", "c")               # a, b: int64 with few values; c: float64
INT_VALUES = st.one_of(st.integers(-2, 6), st.sampled_from([2.5, -0.5, 3.0, 7.25]))
FLOAT_VALUES = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.0, 3.25, -1.0]), st.integers(-2, 4))


@st.composite
def tables(draw, max_rows=40):
    n = draw(st.integers(0, max_rows))
    a = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    b = draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n))
    c = draw(st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.0, 3.25, -1.0]), min_size=n, max_size=n))
    return {"a": np.array(a, dtype=np.int64), "b": np.array(b, dtype=np.int64),
            "c": np.array(c, dtype=np.float64)}


@st.composite
def predicates(draw):
    col = draw(st.sampled_from(COLS))
    values = FLOAT_VALUES if col == "c" else INT_VALUES
    op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "between", "in"]))
    if op == "between":
        return (col, op, draw(values), draw(values))
    if op == "in":
        return (col, op, draw(st.lists(values, max_size=3)))
    return (col, op, draw(values))


WHERE = st.lists(predicates(), max_size=4)
INDEX_SPECS = st.lists(st.tuples(st.lists(st.sampled_from(COLS), min_size=1, max_size=3, unique=True),
                                 st.sampled_from(["btree", "hash"])), max_size=4)


def build(cols, specs):
    t = Table(cols)
    made = []
    for i, (columns, kind) in enumerate(specs):
        name = t.create_index(tuple(columns), kind=kind, name=f"i{i}")
        made.append((name, tuple(columns), kind))
    return t, made


def kind_of(plan_text):
    """A plan's first line reduced to its kind: 'SCAN t' or 'SEARCH t USING INDEX
    name (terms)' (SQLite's COVERING and our HASH dropped)."""
    line = plan_text.splitlines()[0]
    if line.startswith("SCAN"):
        return "SCAN t"
    return line.replace("COVERING INDEX", "INDEX").replace("HASH INDEX", "INDEX")


# ---------------------------------------------------------------- against the references

@st.composite
def aimed(draw, cols, specs):
    """Predicates aimed at an index: equalities on a prefix of its columns with
    values taken from a row (so that rows match), maybe a range on the next
    column, plus a few random predicates."""
    extra = draw(st.lists(predicates(), max_size=2))
    n = len(cols["a"])
    if not specs or n == 0 or draw(st.booleans()):
        return extra + draw(WHERE)
    columns, _ = draw(st.sampled_from(specs))
    row = draw(st.integers(0, n - 1))
    k = draw(st.integers(1, len(columns)))
    where = [(c, "=", cols[c][row].item()) for c in columns[:k]]
    if k < len(columns) and draw(st.booleans()):
        v = cols[columns[k]][row].item()
        where.append(draw(st.sampled_from([(columns[k], "between", v - 1, v + 1), (columns[k], "<", v + 0.5),
                                           (columns[k], ">=", v)])))
    return draw(st.permutations(where + extra))


@given(cols=tables(), specs=INDEX_SPECS, data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_query_equals_brute_force_and_sqlite(cols, specs, data):
    where = data.draw(aimed(cols, specs))
    t, made = build(cols, specs)
    got = t.query(where)
    assert got.dtype == np.int64
    want = python_filter(cols, where)
    assert got.tolist() == want
    assert t.query(where).tolist() == want                  # again: through the shape template
    assert t.query(tuple(where)).tolist() == want           # a tuple of predicates: the general path
    assert numpy_filter(cols, where).tolist() == want
    peer = SQLitePeer(t)
    try:
        assert peer.query(where).tolist() == want
    finally:
        peer.close()
    plan = t.explain(where)
    name, used = expected_plan(made, where)
    assert plan.index == name and plan.columns_used == used
    assert (plan.kind == "SCAN") == (name is None)
    event(f"{plan.kind} {plan.index_kind or ''}, {'some' if want else 'no'} rows")
    if where and all(p[1] != "in" or p[2] for p in where):     # the string form says the same
        text = " AND ".join(_as_text(p) for p in where)
        assert t.query(text).tolist() == want
        assert str(t.explain(text)) == str(plan)


def _as_text(p):
    if p[1] == "between":
        return f"{p[0]} BETWEEN {p[2]!r} AND {p[3]!r}"
    if p[1] == "in":
        return f"{p[0]} IN ({', '.join(repr(v) for v in p[2])})"
    return f"{p[0]} {p[1]} {p[2]!r}"


class TableMachine(RuleBasedStateMachine):
    """Create and drop indexes on one table; every query must equal the filter
    and follow the expected plan, and every index must equal a fresh build."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(3)
        n = 120
        self.cols = {"a": rng.integers(0, 5, n), "b": rng.integers(-1, 6, n),
                     "c": rng.choice([0.0, 0.5, 1.5, 2.0, -1.0], n)}
        self.t = Table(self.cols)
        self.made = []
        self.serial = 0

    @rule(columns=st.lists(st.sampled_from(COLS), min_size=1, max_size=3, unique=True),
          kind=st.sampled_from(["btree", "hash"]))
    def create(self, columns, kind):
        name = self.t.create_index(tuple(columns), kind=kind, name=f"x{self.serial}")
        self.serial += 1
        self.made.append((name, tuple(columns), kind))

    @rule(data=st.data())
    def drop(self, data):
        if not self.made:
            with pytest.raises(KeyError, match="no index named"):
                self.t.drop_index("x0")
            return
        i = data.draw(st.integers(0, len(self.made) - 1))
        self.t.drop_index(self.made.pop(i)[0])

    @rule(where=WHERE)
    def query(self, where):
        assert self.t.query(where).tolist() == python_filter(self.cols, where)
        plan = self.t.explain(where)
        assert (plan.index, plan.columns_used) == expected_plan(self.made, where)

    @invariant()
    def consistent(self):
        self.t._check()
        assert [(i.name, i.columns, i.kind) for i in self.t.indexes] == self.made


TestTableMachine = TableMachine.TestCase
TestTableMachine.settings = settings(max_examples=25, stateful_step_count=15, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- plans beside SQLite

@pytest.fixture
def ab_table():
    rng = np.random.default_rng(11)
    n = 3000
    t = Table({"a": rng.integers(0, 50, n), "b": rng.integers(0, 50, n), "c": rng.integers(0, 10**6, n)})
    t.create_index(("a", "b"))
    return t


CASES = [
    # (where, our plan's first line); SQLite must agree in kind
    ("a = 5 AND b = 7", "SEARCH t USING INDEX idx_ab (a=? AND b=?)"),
    ("a = 5", "SEARCH t USING INDEX idx_ab (a=?)"),
    ("a = 5 AND b BETWEEN 3 AND 9", "SEARCH t USING INDEX idx_ab (a=? AND b>? AND b<?)"),
    ("b = 7", "SCAN t"),
    ("b BETWEEN 3 AND 9", "SCAN t"),
    ("a > 40", "SEARCH t USING INDEX idx_ab (a>?)"),
    ("b > 3 AND a = 5", "SEARCH t USING INDEX idx_ab (a=? AND b>?)"),
    ("a IN (1, 2) AND b = 3", "SEARCH t USING INDEX idx_ab (a=? AND b=?)"),
    ("a = 5 AND c < 500000", "SEARCH t USING INDEX idx_ab (a=?)"),
]


@pytest.mark.parametrize("where, ours", CASES)
def test_plan_agrees_with_sqlite(ab_table, where, ours):
    peer = SQLitePeer(ab_table)
    try:
        plan = str(ab_table.explain(where))
        assert plan.splitlines()[0] == ours
        assert kind_of(plan) == kind_of(peer.explain(where)), peer.explain(where)
        assert ab_table.query(where).tolist() == peer.query(where).tolist()
    finally:
        peer.close()


def test_filters_are_listed(ab_table):
    assert str(ab_table.explain("b = 7")) == "SCAN t\nFILTER b=?"
    assert str(ab_table.explain("a = 5 AND c < 9 AND b IN (1, 2)")) == \
        "SEARCH t USING INDEX idx_ab (a=? AND b=?)\nFILTER c<?"
    assert str(ab_table.explain([("a", ">=", 1), ("b", "between", 1, 2), ("c", "in", [1, 2, 3])])) == \
        "SEARCH t USING INDEX idx_ab (a>?)\nFILTER b BETWEEN ? AND ? AND c IN (?,?,?)"
    assert str(ab_table.explain(None)) == "SCAN t" == str(ab_table.explain([]))


def test_hash_index_serves_only_equality_on_all_its_columns(ab_table):
    ab_table.create_index(("a", "c"), kind="hash")
    ab_table.create_index("c", kind="hash")
    assert str(ab_table.explain("c = 3")) == "SEARCH t USING HASH INDEX idx_c (c=?)"
    assert str(ab_table.explain("c = 3 AND a = 1")) == "SEARCH t USING HASH INDEX idx_ac (a=? AND c=?)"
    assert str(ab_table.explain("c < 3")) == "SCAN t\nFILTER c<?"
    assert ab_table.explain("c IN (1, 2) AND a = 4").index == "idx_ac"
    # equal use: a hash index before a B-tree for pure equality, whatever the creation order
    ab_table.create_index("b")
    ab_table.create_index("b", kind="hash", name="hash_b")
    assert ab_table.explain("b = 3").index == "hash_b"
    assert ab_table.explain("b > 3").index == "idx_b"
    peer = SQLitePeer(ab_table)
    try:
        for where in ("c = 3", "c = 3 AND a = 1", "c IN (1, 2) AND a = 4", "b = 3", "b > 3"):
            assert ab_table.query(where).tolist() == peer.query(where).tolist()
            assert kind_of(peer.explain(where)).startswith("SEARCH")
    finally:
        peer.close()


def test_ties_prefer_equality_then_creation_order():
    t = Table({"a": np.arange(20) % 4, "c": np.arange(20)})
    t.create_index("c")
    t.create_index("a")
    assert t.explain("a = 1 AND c < 9").index == "idx_a"         # equality over range
    assert t.explain("a < 1 AND c < 9").index == "idx_c"         # created first
    t.create_index(("a", "c"))
    assert t.explain("a = 1 AND c < 9").index == "idx_ac"        # two columns beat one


def test_hash_candidates_are_verified():
    t = Table({"a": np.array([1, 2, 3, 1]), "b": np.array([5, 6, 7, 8])})
    t.create_index(("a", "b"), kind="hash")
    ix = t._indexes["idx_ab"]
    key = int(table_mod._hash_keys([np.array([1]), np.array([5])])[0])
    ix.ix.insert(key, 2)                  # a forged collision: row 2 under (1, 5)'s key
    assert t.query("a = 1 AND b = 5").tolist() == [0]


def test_float_hash_index_and_negative_zero():
    cols = {"c": np.array([0.0, -0.0, 1.5, 2.0])}
    by_hash, by_tree = Table(cols), Table(cols)
    by_hash.create_index("c", kind="hash")
    by_tree.create_index("c")
    for where in ("c = 0", "c = -0.0", "c IN (0.0, 2)", "c = 2", "c IN (-0.0, 1.5, 7)"):
        want = python_filter(cols, [(p.column, p.op, *p.args) for p in parse_where(where)])
        assert by_hash.explain(where).index_kind == "hash"
        assert by_hash.query(where).tolist() == want == by_tree.query(where).tolist(), where
    assert by_hash.query("c = 0").tolist() == [0, 1]


# ---------------------------------------------------------------- exact comparisons

def test_int_column_with_float_values_and_extremes():
    big = 2**53 + 1                      # not a float
    cols = {"a": np.array([big, big - 1, 3, -(2**63), 2**63 - 1], dtype=np.int64),
            "f": np.array([float(2**53), 1.0, 2.5, -1e300, 1e300])}
    t = Table(cols)
    t.create_index("a")
    t.create_index("f")
    for where in ([("a", "=", big)], [("a", "=", float(big - 1))], [("a", "<", 3.5)], [("a", "=", 3.5)],
                  [("a", ">", 2**63)], [("a", "<=", -(2**64))], [("a", "between", -1e400, 1e400)],
                  [("a", ">", float("inf"))], [("a", ">=", float("-inf"))], [("a", "in", [3.0, 4.5])],
                  [("f", "=", big)], [("f", "<", big)], [("f", "<=", big - 2)], [("f", ">", 2**53)],
                  [("f", ">=", big)], [("f", "=", 2**2000)], [("f", "<", 2**2000)],
                  [("f", "<=", -(2**2000))]):
        want = python_filter(cols, where)
        assert t.query(where).tolist() == want, where
        t2 = Table(cols)                 # and by a full scan
        assert t2.query(where).tolist() == want, where


def test_columns_argument():
    t = Table({"a": np.array([3, 1, 3]), "b": np.array([1.5, 2.5, 3.5])})
    got = t.query("a = 3", columns=["b", "a"])
    assert list(got) == ["b", "a"]
    assert got["b"].tolist() == [1.5, 3.5] and got["a"].tolist() == [3, 3]
    assert t.query("a = 9", columns="b")["b"].tolist() == []
    with pytest.raises(QueryError, match="unknown column 'z'"):
        t.query("a = 3", columns=["z"])


# ---------------------------------------------------------------- the string form

def test_parse_forms():
    P = parse_where
    assert P("") == [] and P("   ") == []
    assert [(p.column, p.op, p.args) for p in P("a=5 and B between -3 AND 9.5e0 AND c in (1,2.5 , -3)")] == \
        [("a", "=", (5,)), ("B", "between", (-3, 9.5)), ("c", "in", ((1, 2.5, -3),))]
    assert [(p.op, p.args) for p in P("x == 1 AND x<=2 AND x>=3 AND x<.5 AND x>1e3")] == \
        [("=", (1,)), ("<=", (2,)), (">=", (3,)), ("<", (0.5,)), (">", (1000.0,))]
    assert P("a = 1")[0].pos == 0 and P("a = 1 AND  bb < 2")[1].pos == 11


@pytest.mark.parametrize("text, pos, what", [
    ("a = ", 4, "expected a number, found the end of the query"),
    ("a = 5 b = 6", 6, "expected AND or the end of the query, found 'b'"),
    ("= 5", 0, "expected a column name, found '='"),
    ("a = 5 AND", 9, "expected a column name, found the end of the query"),
    ("a BETWEEN 1 9", 12, "expected AND, found '9'"),
    ("a IN 1, 2", 5, "expected '\\(', found '1'"),
    ("a IN (1 2)", 8, "expected ',' or '\\)', found '2'"),
    ("a ! 3", 2, "unexpected character '!'"),
    ("a = x", 4, "expected a number, found 'x'"),
    ("and = 3", 0, "expected a column name, found 'and'"),
    ("a LIKE 3", 2, "expected an operator"),
])
def test_parse_errors_give_the_position(text, pos, what):
    with pytest.raises(QueryError, match=f"at position {pos}: {what}") as e:
        parse_where(text)
    assert e.value.position == pos


# ---------------------------------------------------------------- bad input

def test_bad_where_changes_nothing():
    t = Table({"a": np.arange(5), "b": np.arange(5.0)})
    t.create_index(("a", "b"))
    before = [(i.name, i.columns, i.kind) for i in t.indexes]
    bad = [
        ("a = 1 AND zz < 3", QueryError, "unknown column 'zz' at position 10 \\(columns: a, b\\)"),
        ([("zz", "=", 1)], QueryError, "predicate 0: unknown column 'zz'"),
        ([("a", "!=", 1)], QueryError, "predicate 0: unknown operator '!='"),
        ([("a", "=", 1, 2)], QueryError, "predicate 0: '=' takes \\(column, '=', value\\), got 2 value"),
        ([("a", "between", 1)], QueryError, "'between' takes \\(column, 'between', lo, hi\\)"),
        ([("a", "in", 3)], QueryError, "'in' takes a list of values"),
        ([("a", "=", "x")], QueryError, "value for column 'a' must be a number, got str"),
        ([("a", "=", None)], QueryError, "must be a number, got NoneType"),
        ([("b", "<", float("nan"))], QueryError, "NaN is not a value"),
        ([()], QueryError, "predicate 0: expected \\(column, op, value...\\), got \\(\\)"),
        ([("a", "=", 1), "junk"], QueryError, "predicate 1: expected"),
        ([(1, "=", 1)], QueryError, "the column must be a name"),
        (42, QueryError, "where must be a string or a list of predicates, not int"),
    ]
    for where, exc, msg in bad:
        with pytest.raises(exc, match=msg):
            t.query(where)
        with pytest.raises(exc, match=msg):
            t.explain(where)
    assert [(i.name, i.columns, i.kind) for i in t.indexes] == before
    assert t.query(("a", "=", 2)).tolist() == [2]             # one predicate as a bare tuple
    t._check()


def test_bad_tables():
    with pytest.raises(ValueError, match=r"columns differ in length \(a: 2, b: 3\)"):
        Table({"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(TypeError, match="column 's' has dtype <U1; int64 and float64 are supported"):
        Table({"s": np.array(["x", "y"])})
    with pytest.raises(ValueError, match="column 'f' holds NaN at row 1"):
        Table({"f": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="one-dimensional"):
        Table({"a": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="column name must be an identifier"):
        Table({"a b": [1]})
    with pytest.raises(ValueError, match="column name 'rowid' is reserved"):
        Table({"rowid": [1]})
    with pytest.raises(ValueError, match="column name 'and' is reserved"):
        Table({"and": [1]})
    with pytest.raises(ValueError, match="outside int64"):
        Table({"u": np.array([2**64 - 1], dtype=np.uint64)})
    with pytest.raises(ValueError, match="non-empty dict"):
        Table({})
    t = Table({"a": [1, 2], "f": np.array([1, 2], dtype=np.float32), "k": np.array([True, False])})
    assert t.column("a").dtype == np.int64 and t.column("f").dtype == np.float64
    assert t.column("k").dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        t.column("a")[0] = 5


def test_bad_indexes_change_nothing():
    t = Table({"a": np.arange(4), "b": np.arange(4)})
    t.create_index("a")
    cases = [
        (lambda: t.create_index(("a", "zz")), KeyError, "unknown column 'zz'"),
        (lambda: t.create_index(()), ValueError, "at least one column"),
        (lambda: t.create_index(("a", "a")), ValueError, "appears twice"),
        (lambda: t.create_index("b", kind="bitmap"), ValueError,
         "kind must be 'btree' or 'hash', got 'bitmap'"),
        (lambda: t.create_index("a"), ValueError, "an index named 'idx_a' exists already"),
        (lambda: t.create_index("b", name="bad name"), ValueError, "index name must be an identifier"),
        (lambda: t.create_index(5), TypeError, "columns must be a name or a tuple of names"),
        (lambda: t.drop_index("nope"), KeyError, "no index named 'nope' \\(indexes: idx_a\\)"),
    ]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f()
    assert [i.name for i in t.indexes] == ["idx_a"]
    assert t.create_index(("a", "b"), name="ab2") == "ab2"
    assert t.create_index(("b",), kind="hash", name="hb") == "hb"
    info = {i.name: i for i in t.indexes}
    assert info["ab2"].columns == ("a", "b") and info["hb"].kind == "hash" and info["ab2"].nbytes > 0
    t._check()


def test_default_index_names():
    t = Table({"price": np.arange(3), "qty": np.arange(3), "a": np.arange(3), "b": np.arange(3)})
    assert t.create_index(("price", "qty")) == "idx_price_qty"
    assert t.create_index(("a", "b"), kind="hash") == "idx_ab"


# ---------------------------------------------------------------- writes

INT_CELLS = st.one_of(st.integers(-1, 5), st.sampled_from([2.0, -1.0]))       # integral floats fit int64
FLOAT_CELLS = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.0, 3.25, -1.0]), st.integers(-2, 4))
ROWS = st.lists(st.fixed_dictionaries({"a": st.integers(0, 4), "b": INT_CELLS, "c": FLOAT_CELLS}), max_size=6)
VALUES = st.dictionaries(st.sampled_from(COLS), st.integers(-1, 5), max_size=2)


def _as_form(rows, form):
    if form == "dicts":
        return rows
    if form == "tuples":
        return [tuple(r[c] for c in COLS) for r in rows]
    return {c: [r[c] for r in rows] for c in COLS}


class WriteMachine(RuleBasedStateMachine):
    """Insert, delete, update and query one table (with random indexes, tiny
    nodes) and the same in SQLite and in a pure-Python list of rows; every
    answer must agree, and after every step ``_check()`` holds (every index
    equals a fresh build from the live rows) and the live rows equal the model's."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(5)
        n = 30
        cols = {"a": rng.integers(0, 5, n), "b": rng.integers(-1, 6, n),
                "c": rng.choice([0.0, -0.0, 0.5, 1.5, 2.0, -1.0], n)}
        self.t = Table(cols)
        self.model = TableModel(cols)
        self.peer = None
        self.serial = 0

    @initialize(specs=INDEX_SPECS)
    def indexes(self, specs):
        for columns, kind in specs:
            self.create(columns, kind)
        self.peer = SQLitePeer(self.t)

    def create(self, columns, kind):
        name = self.t.create_index(tuple(columns), kind=kind, name=f"w{self.serial}")
        self.serial += 1
        if self.peer is not None:
            self.peer.create_index(name, tuple(columns))

    @rule(columns=st.lists(st.sampled_from(COLS), min_size=1, max_size=3, unique=True),
          kind=st.sampled_from(["btree", "hash"]))
    def create_later(self, columns, kind):
        self.create(columns, kind)

    @rule(rows=ROWS, form=st.sampled_from(["dicts", "tuples", "columns"]))
    def insert(self, rows, form):
        ids = self.t.insert(_as_form(rows, form))
        assert ids.dtype == np.int64
        assert ids.tolist() == self.model.insert(rows)
        assert self.peer.insert(_as_form(rows, form)).tolist() == ids.tolist()

    @rule(where=WHERE)
    def delete(self, where):
        n = self.t.delete(where)
        assert n == self.model.delete(where)
        assert self.peer.delete(where) == n

    @rule(where=WHERE, values=VALUES)
    def update(self, where, values):
        n = self.t.update(where, values)
        assert n == self.model.update(where, values)
        assert self.peer.update(where, values) == n

    @rule()
    def compact(self):
        old = self.t.compact()
        assert old.dtype == np.int64 and old.tolist() == sorted(self.model.rows)
        self.model.rows = {i: self.model.rows[o] for i, o in enumerate(old.tolist())}
        self.model.next_id = len(old)
        self.peer.close()
        self.peer = SQLitePeer(self.t)          # SQLite's rowids numbered as ours are now

    @rule(where=WHERE)
    def query(self, where):
        want = self.model.query(where)
        assert self.t.query(where).tolist() == want
        assert self.peer.query(where).tolist() == want
        if where and all(p[1] != "in" or p[2] for p in where):
            assert self.t.query(" AND ".join(_as_text(p) for p in where)).tolist() == want

    @invariant()
    def consistent(self):
        self.t._check()
        live = np.flatnonzero(self.t.alive)
        assert live.tolist() == sorted(self.model.rows) == self.t.query().tolist()
        assert len(self.t) == len(self.model.rows) and self.t.nrows == self.model.next_id
        for c in COLS:
            assert self.t.column(c)[live].tolist() == [self.model.rows[i][c] for i in live.tolist()]

    def teardown(self):
        if self.peer is not None:
            self.peer.close()


TestWriteMachine = WriteMachine.TestCase
TestWriteMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


@given(cols=tables(), specs=INDEX_SPECS, writes=st.lists(st.tuples(st.sampled_from(["insert", "delete", "update"]),
                                                                    ROWS, WHERE, VALUES), max_size=6),
       data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_queries_after_writes_equal_sqlite(cols, specs, writes, data):
    t, made = build(cols, specs)
    peer = SQLitePeer(t)
    model = TableModel(cols)
    try:
        for op, rows, where, values in writes:
            if op == "insert":
                assert t.insert(rows).tolist() == peer.insert(rows).tolist() == model.insert(rows)
            elif op == "delete":
                assert t.delete(where) == peer.delete(where) == model.delete(where)
            else:
                assert t.update(where, values) == peer.update(where, values) == model.update(where, values)
        t._check()
        for _ in range(3):
            where = data.draw(WHERE)
            assert t.query(where).tolist() == peer.query(where).tolist() == model.query(where)
            plan = t.explain(where)
            assert (plan.index, plan.columns_used) == expected_plan(made, where)
    finally:
        peer.close()


def test_row_ids_stay_and_tombstones_are_skipped():
    t = Table({"a": [5, 6, 5, 7], "b": [0.5, 1.5, 2.5, 3.5]})
    t.create_index(("a", "b"))
    t.create_index("a", kind="hash")
    assert t.delete("a = 5") == 2
    assert (len(t), t.nrows, t.alive.tolist()) == (2, 4, [False, True, False, True])
    assert t.query().tolist() == [1, 3] and t.query("b > 0").tolist() == [1, 3]
    assert t.insert([(5, 9.0)]).tolist() == [4]                 # ids are never reused
    assert t.query("a = 5").tolist() == [4] and t.query([("a", "in", [5, 7])]).tolist() == [3, 4]
    t.create_index("b", name="late")                            # built from the live rows only
    assert t.query("b < 3").tolist() == [1]
    assert t.column("a").tolist() == [5, 6, 5, 7, 5]            # dead rows keep their values
    assert t.update("a = 7", {"b": -1}) == 1 and t.query("b < 0").tolist() == [3]
    assert t.delete("a = 5") == 1 and t.delete("a = 5") == 0
    assert t.delete(None) == 2 and len(t) == 0 and t.query().tolist() == []
    t._check()
    assert t.insert({"a": [1], "b": [1]}).tolist() == [5]
    t._check()


def test_insert_converts_exactly():
    t = Table({"a": np.array([0]), "f": np.array([0.0])})
    t.create_index(("a", "f"))
    ids = t.insert({"a": [2**62 + 1, 3.0, -2**63], "f": [1, 2**53 + 1, -0.0]})
    assert ids.tolist() == [1, 2, 3]
    assert t.column("a").tolist() == [0, 2**62 + 1, 3, -2**63]  # not through float64
    assert t.column("f").tolist()[1:3] == [1.0, float(2**53)]
    assert t.insert([{"a": np.int64(7), "f": np.float32(0.5)}]).tolist() == [4]
    assert t.query("a = 4611686018427387905").tolist() == [1]
    assert t.query("f = 0").tolist() == [0, 3]                    # -0.0 is 0.0
    assert t.insert([]).tolist() == [] and t.insert({"a": [], "f": []}).tolist() == []
    t._check()


def _state(t):
    return (t.nrows, len(t), t.alive.tolist(), {c: t.column(c).tolist() for c in t.columns},
            [(i.name, i.nbytes) for i in t.indexes],
            {name: ix.tree.keys_array().tolist() if ix.kind == "btree" else ix.ix.to_dict()
             for name, ix in t._indexes.items()},
            [t.query(w).tolist() for w in ("", "a = 1", "b > 1", "c = 2.5")])


BAD_INSERTS = [
    ({"a": [1], "b": [2]}, "missing column 'c'"),
    ({"a": [1], "b": [2], "c": [1.0], "zz": [1]}, "unknown column 'zz'"),
    ({"a": [1, 2], "b": [1.5, 2], "c": [1.0, 2.0]}, "column 'b' holds integers, got 1.5"),
    ({"a": [2**63], "b": [0], "c": [0.0]}, "column 'a': 9223372036854775808 is outside int64"),
    ({"a": [-2**63 - 1], "b": [0], "c": [0.0]}, "outside int64"),
    ({"a": np.array([2**63], dtype=np.uint64), "b": [0], "c": [0.0]}, "outside int64"),
    ({"a": [1e300], "b": [0], "c": [0.0]}, "column 'a': 1e\\+300 is outside int64"),
    ({"a": [1], "b": [0], "c": [float("nan")]}, "column 'c': NaN is not a value"),
    ({"a": ["x"], "b": [0], "c": [0.0]}, "column 'a' takes numbers"),
    ({"a": [1, 2], "b": [0], "c": [0.0]}, r"columns differ in length \(a: 2, b: 1, c: 1\)"),
    ({"a": [[1]], "b": [0], "c": [0.0]}, "expected one value per row"),
    ([(1, 2)], "row 0: 2 values for 3 columns"),
    ([(1, 2, 0.5), (1, 2.5, 0.5)], "column 'b' holds integers, got 2.5"),
    ([(1, 2, 0.5), {"a": 1, "b": 2}], "row 1: missing column 'c'"),
    ([(True, 1, 1.0)], "column 'a' takes numbers, got bool"),
    ([(1, 2, None)], "column 'c' takes numbers, got NoneType"),
    ([(1, 2**64, 0.0)], "outside int64"),
    ([(1, 2, 10**400)], "too large for a float64"),
    ([5], "row 0: expected a tuple or a dict, got int"),
    ("abc", "rows must be a dict of columns or a list of rows"),
]


@pytest.mark.parametrize("rows, msg", BAD_INSERTS)
def test_bad_insert_changes_nothing(rows, msg):
    t = Table({"a": [1, 2, 3], "b": [2, 3, 4], "c": [0.5, 2.5, 2.5]})
    t.create_index(("a", "b", "c"))
    t.create_index(("c", "a"), kind="hash")
    t.delete("a = 3")
    before = _state(t)
    peer = SQLitePeer(t)
    with pytest.raises(ValueError, match=msg) as e:
        t.insert(rows)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=msg):
        peer.insert(rows)
    assert _state(t) == before
    assert peer.query(None).tolist() == [0, 1]
    t._check()
    peer.close()


BAD_UPDATES = [
    ("a = 1", {"zz": 1}, ValueError, "unknown column 'zz'"),
    ("a = 1", {"b": 5, "a": 1.5}, ValueError, "column 'a' holds integers, got 1.5"),
    ("a = 1", {"b": 5, "a": 2**64}, ValueError, "outside int64"),
    ("a = 1", {"b": 5, "c": float("nan")}, ValueError, "NaN is not a value"),
    ("a = 1", {"b": "x"}, ValueError, "column 'b' takes numbers, got str"),
    ("a = 1", {"b": True}, ValueError, "got bool"),
    ("a = 1", [("b", 5)], ValueError, "values must be a dict"),
    ("zz = 1", {"b": 5}, QueryError, "unknown column 'zz'"),
    ("a = ", {"b": 5}, QueryError, "at position 4: expected a number"),
]


@pytest.mark.parametrize("where, values, exc, msg", BAD_UPDATES)
def test_bad_update_and_delete_change_nothing(where, values, exc, msg):
    t = Table({"a": [1, 2, 1], "b": [2, 3, 4], "c": [0.5, 2.5, -0.0]})
    t.create_index(("a", "b"))
    t.create_index("b", kind="hash")
    before = _state(t)
    peer = SQLitePeer(t)
    with pytest.raises(exc, match=msg):
        t.update(where, values)
    with pytest.raises(exc, match=msg):
        peer.update(where, values)
    if exc is QueryError:
        with pytest.raises(exc, match=msg):
            t.delete(where)
        with pytest.raises(exc, match=msg):
            peer.delete(where)
    assert _state(t) == before
    assert peer.query("b > 0").tolist() == [0, 1, 2]
    t._check()
    peer.close()


def test_cached_queries_still_refuse_bad_values():
    t = Table({"a": [0, 1, 2]})
    assert t.query([("a", "=", 1)]).tolist() == [1]
    assert t.query([("a", "=", 1.0)]).tolist() == [1]             # the same query, cached
    with pytest.raises(QueryError, match="must be a number, got bool"):
        t.query([("a", "=", True)])                               # equal to 1, yet refused
    assert t.query(("a", ">", 0)).tolist() == [1, 2]
    assert t._shapes[(("a", "="),)] is None                      # no index: not a template
    t.create_index("a", kind="hash")                              # a new index: planned again
    assert str(t.explain([("a", "=", 1)])).startswith("SEARCH t USING HASH INDEX idx_a")
    assert t.query([("a", "=", 2)]).tolist() == [2]
    assert t._shapes[(("a", "="),)].ix.name == "idx_a"
    t.insert([(1,)])
    assert t.query([("a", "=", 1)]).tolist() == [1, 3]


def test_templates_bind_values_exactly():
    """A shape seen once is a template; later values bind to it and must give
    what the general path gives, on the edges of exactness and range."""
    big = 2**63 - 1
    t = Table({"a": np.array([0, 1, 1, -2**63, big, 3]), "f": np.array([0.0, -0.0, 1.5, -np.inf, np.inf, 2.0])})
    t.create_index(("a", "f"))
    t.create_index("f", kind="hash", name="hf")
    shapes = [
        lambda v, w: [("a", "=", v), ("f", "=", w)],
        lambda v, w: [("f", "=", w)],                                   # the hash index
        lambda v, w: [("a", "=", v), ("f", "<", w)],
        lambda v, w: [("a", "=", v), ("f", "between", w, 2.0)],
        lambda v, w: [("a", ">", v), ("f", ">=", w)],                   # range on a, filter on f
    ]
    values = [(1, 1.5), (1.0, -0.0), (1.5, 0.0), (big, np.inf), (2**63, 0.0), (-2**63, -np.inf),
              (-2**63 - 1, 5), (0, 0), (3, 2), (3.0, 2**53 + 1), (1, float("inf")), (2.0**63, -0.0),
              (-2.0**63, -np.inf), (float("inf"), 1.5), (-0.0, 0), (1, 2**1100), (1, -2**1100)]
    cols = {"a": t.column("a"), "f": t.column("f")}
    for make in shapes:
        for v, w in values:
            where = make(v, w)
            want = python_filter(cols, where)
            assert t.query(where).tolist() == want, where
            assert t.query(tuple(where)).tolist() == want, where
    assert len(t._shapes) == len(shapes)
    # the first two shapes run in C (scan_eq, hash_eq), the others through _Template.run
    assert [tpl.fast for tpl in t._shapes.values()] == [1, 2, 0, 0, 0]
    for bad in ([("a", "=", True), ("f", "=", 0.0)], [("f", "=", float("nan"))], [("a", "=", 1, 2), ("f", "=", 0)],
                [("a", "=", "1"), ("f", "=", 0.0)], [("a", "=", 1), ("f", "between", 1)],
                [("a", ">", 2**70), ("f", ">=", float("nan"))],      # an empty range, yet refused
                [("a", "=", 0.5), ("f", "<", None)]):
        with pytest.raises(QueryError):
            t.query(bad)
    t._check()


def test_compact_reclaims_deleted_rows_and_sparse_index_nodes(monkeypatch):
    monkeypatch.setattr(table_mod, "_NODE_SIZE", TABLE_NODE_SIZE)   # the real nodes
    rng = np.random.default_rng(11)
    n = 200_000
    t = Table({"a": rng.integers(0, 1000, n), "b": rng.integers(0, 1000, n), "c": rng.random(n)})
    t.create_index(("a", "b"))
    t.create_index("c", kind="hash")
    full = {ix.name: ix.nbytes for ix in t.indexes}
    assert t.delete("c < 0.75") > 0               # rows spread over every leaf of idx_ab
    kept = t.query("a = 7 AND b < 500")
    values = {c: t.column(c)[kept].tolist() for c in t.columns}
    sparse = {ix.name: ix.nbytes for ix in t.indexes}
    old = t.compact()
    t._check()
    assert t.nrows == len(t) == len(old) and t.alive.all()
    assert len(t.column("a")) == len(old)
    after = {ix.name: ix.nbytes for ix in t.indexes}
    # a quarter of the rows are left: deletes already shrank the B-tree (nodes below
    # half borrow or merge), to leaves between half and fully used; compact packs
    # it full again, and the hash index shrinks to about a quarter of its size too
    assert 0.27 * full["idx_ab"] < sparse["idx_ab"] < 0.5 * full["idx_ab"]
    assert after["idx_ab"] < 0.8 * sparse["idx_ab"]
    assert after["idx_ab"] < 0.35 * full["idx_ab"] and after["idx_c"] < 0.5 * full["idx_c"]
    # the same rows answer, under their new ids
    new = t.query("a = 7 AND b < 500")
    assert old[new].tolist() == kept.tolist()
    assert {c: t.column(c)[new].tolist() for c in t.columns} == values
    assert t.explain("a = 7").index == "idx_ab"
    # writes go on from the new numbering
    assert t.insert([(7, 1, 0.5)]).tolist() == [len(old)]
    t._check()


def test_compact_of_a_table_without_deletes_changes_nothing():
    t = Table({"a": np.arange(5)})
    t.create_index("a")
    before = t.column("a")
    assert t.compact().tolist() == [0, 1, 2, 3, 4]
    assert t.column("a") is before and t.nrows == 5
    t.delete(None)
    assert t.compact().tolist() == [] and len(t) == 0 and t.nrows == 0
    t._check()
    assert t.insert([(3,)]).tolist() == [0] and t.query("a = 3").tolist() == [0]
