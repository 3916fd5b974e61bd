"""The query parser against a reference built another way.

The reference (below) decides where a query stops being a prefix of any valid
query with a small automaton (expecting an operand / after an operand, and the
depth of parentheses): the grammar is LL(1), so a correct parser must report
the first token the automaton rejects. Trees come from a shunting-yard pass
(NOT > AND > OR, implicit AND between adjacent operands), which keeps
parenthesized groups as nodes of their own, as the recursive-descent parser
does. Hypothesis feeds both random token sequences.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.index.query import (And, NoMatch, Not, Or, Phrase, QuerySyntaxError, Term,
                                  default_analyzer, parse)


# ---------------------------------------------------------------- the reference

def lex(tokens, seps):
    """Join tokens with separators; return the query and each token's 1-based column."""
    query = ""
    cols = []
    for tok, sep in zip(tokens, seps):
        query += sep
        cols.append(len(query) + 1)
        query += tok
    return query, cols


def kind(tok):
    if tok in ("AND", "OR", "NOT", "(", ")"):
        return tok
    if tok.startswith('"'):
        return "PHRASE" if len(tok) > 1 and tok.endswith('"') else "OPEN"
    return "WORD"


def first_error(tokens, cols, query):
    """The column where a parser must fail, or None for a valid query."""
    expect_operand = True
    depth = 0
    for tok, col in zip(tokens, cols):
        k = kind(tok)
        if k == "OPEN":
            return len(query) + 1           # reported at the end, when reached
        if expect_operand or k in ("WORD", "PHRASE", "(", "NOT"):
            if k == "NOT":
                expect_operand = True
            elif k in ("WORD", "PHRASE"):
                expect_operand = False
            elif k == "(":
                depth += 1
                expect_operand = True
            else:
                return col
        elif k in ("AND", "OR"):
            expect_operand = True
        elif k == ")":
            if depth == 0:
                return col
            depth -= 1
        else:
            return col
    if expect_operand or depth:
        return len(query) + 1
    return None


class Group:
    """A parenthesized expression: a boundary no flattening crosses."""

    def __init__(self, node):
        self.node = node


def leaf(tok):
    if tok.startswith('"'):
        toks = default_analyzer(tok[1:-1])
        return NoMatch() if not toks else Term(toks[0]) if len(toks) == 1 else Phrase(toks)
    toks = default_analyzer(tok)
    return NoMatch() if not toks else Term(toks[0]) if len(toks) == 1 else And([Term(t) for t in toks])


def shunting_yard(tokens):
    """The tree of a valid token sequence whose ANDs are all explicit."""
    prec = {"OR": 1, "AND": 2}
    out, ops = [], []
    flat = set()                        # ids of n-ary nodes built here (not groups, not leaves)

    def reduce():
        op = ops.pop()
        if op == "NOT":
            out.append(Not(unwrap(out.pop())))
            return
        b, a = out.pop(), out.pop()
        cls = Or if op == "OR" else And
        children = []
        for x in (a, b):               # the same operator, not parenthesized: one node
            if isinstance(x, cls) and id(x) in flat:
                children.extend(x.children)
            else:
                children.append(unwrap(x))
        node = cls(children)
        flat.add(id(node))
        keep.append(node)               # ids stay unique while the nodes live
        out.append(node)

    keep = []
    for tok in tokens:
        k = kind(tok)
        if k in ("WORD", "PHRASE"):
            out.append(leaf(tok))
            while ops and ops[-1] == "NOT":
                reduce()
        elif k in ("NOT", "("):
            ops.append(k)
        elif k == ")":
            while ops[-1] != "(":
                reduce()
            ops.pop()
            out.append(Group(unwrap(out.pop())))
            while ops and ops[-1] == "NOT":
                reduce()
        else:
            while ops and ops[-1] not in ("(", "NOT") and prec[ops[-1]] >= prec[k]:
                reduce()
            ops.append(k)
    while ops:
        reduce()
    return unwrap(out.pop())


def unwrap(x):
    return x.node if isinstance(x, Group) else x


def reference(tokens, cols, query):
    col = first_error(tokens, cols, query)
    if col is not None:
        return ("error", col)
    # shunting_yard handles implicit AND by itself: feed the tokens one at a time
    return ("tree", shunting_yard_tokens(tokens))


def shunting_yard_tokens(tokens):
    """Insert the implicit ANDs, then run shunting-yard."""
    full = []
    prev_operand = False
    for tok in tokens:
        k = kind(tok)
        if prev_operand and k in ("WORD", "PHRASE", "(", "NOT"):
            full.append("AND")
        full.append(tok)
        prev_operand = k in ("WORD", "PHRASE", ")")
    return shunting_yard(full)


# ---------------------------------------------------------------- tests

TOKENS = ["a", "b", "Cd", "e-f", "--", "AND", "OR", "NOT", "(", ")", '"x y"', '"z"', '"--"', '"open']
SEPS = [" ", "  ", "\t", ""]


@given(st.lists(st.sampled_from(TOKENS), max_size=9), st.data())
@settings(max_examples=500, deadline=None)
def test_parser_equals_reference(tokens, data):
    if '"open' in tokens:                       # only last: it swallows the rest
        tokens = tokens[:tokens.index('"open') + 1]
    seps = [data.draw(st.sampled_from(SEPS)) if i else data.draw(st.sampled_from(["", " "]))
            for i in range(len(tokens))]
    # words must not run into each other
    for i in range(1, len(tokens)):
        if seps[i] == "" and not (tokens[i] in "()" or tokens[i - 1] in "()"):
            seps[i] = " "
    query, cols = lex(tokens, seps)
    want = reference(tokens, cols, query)
    if want[0] == "error":
        with pytest.raises(QuerySyntaxError) as e:
            parse(query)
        assert e.value.column == want[1], (query, e.value)
        assert f"column {want[1]}" in str(e.value)
        assert e.value.query == query
    else:
        assert parse(query) == want[1], query


def tree_tokens():
    """Token lists of random trees: And / Or children in parentheses unless
    precedence makes them unneeded, NOT before its operand."""
    leaf_ = st.sampled_from(["a", "b", "Cd", "e-f", "--", '"x y"', '"z"'])
    tree = st.recursive(leaf_.map(lambda t: ("leaf", t)),
                        lambda ch: st.one_of(st.tuples(st.sampled_from(["AND", "OR", ""]),
                                                       st.lists(ch, min_size=2, max_size=3)),
                                             st.tuples(st.just("NOT"), ch)),
                        max_leaves=8)

    def render(node, parens):
        op, body = node
        if op == "leaf":
            return [body]
        if op == "NOT":
            inner = render(body, parens)
            return ["NOT"] + (["("] + inner + [")"] if body[0] in ("AND", "OR", "") else inner)
        out = []
        for i, child in enumerate(body):
            if i:
                out += [op] if op else []
            inner = render(child, parens)
            # parentheses always (parens) or only where precedence needs them: an
            # OR under an AND (a child of the same operator then merges into it)
            nested = child[0] in ("AND", "OR", "")
            need = nested and (parens or (child[0] == "OR" and op != "OR"))
            out += ["("] + inner + [")"] if need else inner
        return out

    return st.builds(render, tree, st.booleans())


@given(tree_tokens(), st.integers(0, 2), st.integers(0, 40), st.sampled_from(TOKENS))
@settings(max_examples=400, deadline=None)
def test_parser_equals_reference_on_trees(tokens, mutate, where, extra):
    tokens = list(tokens)
    if mutate == 1 and tokens:
        del tokens[where % len(tokens)]
    elif mutate == 2 and extra != '"open':
        tokens.insert(where % (len(tokens) + 1), extra)
    query, cols = lex(tokens, [" "] * len(tokens))
    want = reference(tokens, cols, query)
    if want[0] == "error":
        with pytest.raises(QuerySyntaxError) as e:
            parse(query)
        assert e.value.column == want[1], (query, e.value)
    else:
        assert parse(query) == want[1], query


@pytest.mark.parametrize("query,column,found", [
    ("", 1, "the end of the query"),
    ("   ", 4, "the end of the query"),
    ("a AND", 6, "the end of the query"),
    ("a AND )", 7, "')'"),
    ("(a", 3, "the end of the query"),
    ("a)", 2, "')'"),
    ("()", 2, "')'"),
    ("OR a", 1, "'OR'"),
    ("a OR OR b", 6, "'OR'"),
    ("a AND (b OR", 12, "the end of the query"),
    ("NOT", 4, "the end of the query"),
    ('x "a b', 7, "the end of the query"),
    ('a ) "b', 3, "')'"),
    ("a AND NOT AND b", 11, "'AND'"),
])
def test_error_positions(query, column, found):
    with pytest.raises(QuerySyntaxError) as e:
        parse(query)
    assert isinstance(e.value, ValueError)
    assert (e.value.column, e.value.found) == (column, found)
    assert str(e.value).startswith("expected ")


def test_trees():
    assert parse("a b OR c AND NOT d") == Or([And([Term("a"), Term("b")]),
                                              And([Term("c"), Not(Term("d"))])])
    assert parse("a OR (b OR c)") == Or([Term("a"), Or([Term("b"), Term("c")])])
    assert parse("(a)") == Term("a")
    assert parse('"Big  Apple" "x"') == And([Phrase(["big", "apple"]), Term("x")])
    assert parse('"" OR --') == Or([NoMatch(), NoMatch()])
    assert parse("and or not") == And([Term("and"), Term("or"), Term("not")])
    assert parse("NOT NOT a") == Not(Not(Term("a")))
    assert parse("e-mail") == And([Term("e"), Term("mail")])
    assert parse("Ünï") == Term("ünï")
    assert parse("a", analyzer=lambda t: [t.upper(), "z"]) == And([Term("A"), Term("z")])
    assert repr(parse("NOT x")) == "Not(Term('x'))"
    assert {Term("a"): 1}[Term("a")] == 1


def test_fast_path_equals_general_parser():
    from tradeoff.index import query as q
    for text in ["a AND b OR NOT c d", "NOT NOT x", "x OR y z", "Foo-Bar baz", "-- a"]:
        toks = q._lex(text)
        general = q._Parser(text, toks, default_analyzer).or_expr()
        assert parse(text) == general


def test_bad_arguments():
    with pytest.raises(TypeError):
        parse(b"a")
    with pytest.raises(TypeError, match="list of str"):
        parse("a", analyzer=lambda t: [1])
