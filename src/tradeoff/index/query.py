"""The query language of :class:`~tradeoff.index._inverted.InvertedIndex` and its parser.

Grammar (precedence NOT > AND > OR; operators are upper case, as in Lucene and
tantivy; a lower-case ``and`` is an ordinary word)::

    query    := or_expr END
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*       two adjacent operands: implicit AND
    unary    := "NOT" unary | primary
    primary  := WORD | PHRASE | "(" or_expr ")"

- a WORD is a maximal run of characters other than white space, ``(``, ``)`` and
  ``"`` that is not one of ``AND``, ``OR``, ``NOT``. It goes through the index's
  analyzer: one token is a :class:`Term`; several (``e-mail`` gives ``e`` and
  ``mail`` with the default analyzer) are the AND of their terms; none (``--``)
  is :class:`NoMatch`, which matches no document.
- a PHRASE is ``"..."``; its text goes through the analyzer as a whole and the
  tokens must occur at consecutive positions (:class:`Phrase`; one token is a
  Term, none is NoMatch). Phrases need an index built with ``positions=True``.
- ``NOT x`` is every document of the index except those matching x, so
  ``a AND NOT b`` is a minus b, and a query may start with NOT.

Errors: an unparseable query raises :class:`QuerySyntaxError` (a ValueError)
naming the 1-based column of the offending token and what was expected there.

>>> parse('big AND NOT (red OR "green apple")')
And((Term('big'), Not(Or((Term('red'), Phrase(('green', 'apple')))))))
>>> parse("a b OR c")
Or((And((Term('a'), Term('b'))), Term('c')))
>>> parse("a AND )")
Traceback (most recent call last):
  ...
tradeoff.index.query.QuerySyntaxError: expected a term, a phrase, '(' or 'NOT' at column 7 of 'a AND )', found ')'
"""
from __future__ import annotations

import re

__all__ = ["parse", "default_analyzer", "QuerySyntaxError",
           "Term", "Phrase", "And", "Or", "Not", "NoMatch"]

_TOKEN_RE = re.compile(r"[^\W_]+")


def default_analyzer(text: str) -> list:
    """The default analyzer: lowercase, then the maximal runs of Unicode letters and
    digits (the characters for which ``str.isalnum()`` is true); everything else,
    including ``_``, separates tokens. O(len(text)).

    >>> default_analyzer("Hello, World! e-mail 42x_y")
    ['hello', 'world', 'e', 'mail', '42x', 'y']
    """
    return _TOKEN_RE.findall(text.lower())


class QuerySyntaxError(ValueError):
    """A query that does not parse. Attributes: ``query``, ``column`` (1-based; one
    past the end for "end of query"), ``expected`` and ``found``."""

    def __init__(self, query, column, expected, found):
        self.query = query
        self.column = column
        self.expected = expected
        self.found = found
        super().__init__(f"expected {expected} at column {column} of {query!r}, found {found}")


# ---------------------------------------------------------------- the tree

class _Node:
    __slots__ = ()

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    def __repr__(self):
        return f"{type(self).__name__}({self._key()!r})" if self._key() != () else f"{type(self).__name__}()"


class Term(_Node):
    """One analyzed token."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def _key(self):
        return self.text


class Phrase(_Node):
    """Two or more tokens at consecutive positions."""
    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = tuple(terms)

    def _key(self):
        return self.terms


class And(_Node):
    """Documents matching every child."""
    __slots__ = ("children",)

    def __init__(self, children):
        self.children = tuple(children)

    def _key(self):
        return self.children


class Or(_Node):
    """Documents matching at least one child."""
    __slots__ = ("children",)

    def __init__(self, children):
        self.children = tuple(children)

    def _key(self):
        return self.children


class Not(_Node):
    """Every document of the index except those matching the child."""
    __slots__ = ("child",)

    def __init__(self, child):
        self.child = child

    def _key(self):
        return self.child


class NoMatch(_Node):
    """Matches no document (a word or phrase that analyzes to no token)."""
    __slots__ = ()

    def _key(self):
        return ()


# ---------------------------------------------------------------- the parser

# groups: 1 "(", 2 ")", 3 phrase text, 4 closing quote (empty: unterminated), 5 word
_LEX = re.compile(r'\s*(?:(\()|(\))|"([^"]*)("?)|([^\s()"]+))')
_OPERATORS = {"AND", "OR", "NOT"}
_OPERAND = "a term, a phrase, '(' or 'NOT'"

# token kinds
_LP, _RP, _PHRASE, _WORD, _AND, _OR, _NOT, _END, _OPEN_PHRASE = range(9)


def _lex(query):
    toks = []
    pos = 0
    n = len(query)
    match = _LEX.match
    while True:
        m = match(query, pos)
        if m is None:                   # only trailing white space is left
            break
        lp, rp, ptext, close, word = m.groups()
        start = m.end() - len(m.group(0).lstrip())
        if lp is not None:
            toks.append((_LP, "(", start))
        elif rp is not None:
            toks.append((_RP, ")", start))
        elif word is not None:
            if word in _OPERATORS:
                toks.append((_AND if word == "AND" else _OR if word == "OR" else _NOT, word, start))
            else:
                toks.append((_WORD, word, start))
        else:
            # an unterminated phrase is reported when the parser reaches it, so the
            # error named is always the leftmost one
            toks.append((_PHRASE if close else _OPEN_PHRASE, ptext, start))
        pos = m.end()
        if pos >= n:
            break
    toks.append((_END, "", n))
    return toks


def _found(tok):
    kind, text, _ = tok
    if kind == _END:
        return "the end of the query"
    if kind == _PHRASE:
        return "a phrase"
    return repr(text)


class _Parser:
    __slots__ = ("toks", "i", "query", "analyzer")

    def __init__(self, query, toks, analyzer):
        self.query = query
        self.toks = toks
        self.i = 0
        self.analyzer = analyzer

    def fail(self, expected):
        tok = self.toks[self.i]
        raise QuerySyntaxError(self.query, tok[2] + 1, expected, _found(tok))

    def or_expr(self):
        children = [self.and_expr()]
        toks = self.toks
        while toks[self.i][0] == _OR:
            self.i += 1
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(children)

    def and_expr(self):
        children = [self.unary()]
        toks = self.toks
        while True:
            kind = toks[self.i][0]
            if kind == _AND:
                self.i += 1
            elif kind not in (_WORD, _PHRASE, _LP, _NOT, _OPEN_PHRASE):
                break
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(children)

    def unary(self):
        tok = self.toks[self.i]
        kind = tok[0]
        if kind == _NOT:
            self.i += 1
            return Not(self.unary())
        if kind == _WORD:
            self.i += 1
            return _word(tok[1], self.analyzer)
        if kind == _PHRASE:
            self.i += 1
            return _phrase(tok[1], self.analyzer)
        if kind == _OPEN_PHRASE:
            raise QuerySyntaxError(self.query, len(self.query) + 1,
                                   f"'\"' (to close the phrase at column {tok[2] + 1})",
                                   "the end of the query")
        if kind == _LP:
            self.i += 1
            node = self.or_expr()
            if self.toks[self.i][0] != _RP:
                self.fail(f"')' (to close the '(' at column {tok[2] + 1}), 'AND', 'OR' or an operand")
            self.i += 1
            return node
        self.fail(_OPERAND)


def _tokens(text, analyzer):
    """``analyzer(text)`` as a list, checked to hold only str (documents and
    queries go through this one check)."""
    toks = analyzer(text)
    if not isinstance(toks, list):
        toks = list(toks)
    for t in toks:
        if type(t) is not str:
            raise TypeError(f"the analyzer must return a list of str, got an item of type {type(t).__name__}")
    return toks


def _word(text, analyzer):
    if analyzer is default_analyzer and text.isascii() and text.isalnum():
        return Term(text.lower())           # what the default analyzer gives, faster
    toks = _tokens(text, analyzer)
    if len(toks) == 1:
        return Term(toks[0])
    if not toks:
        return NoMatch()
    return And([Term(t) for t in toks])


def _phrase(text, analyzer):
    toks = _tokens(text, analyzer)
    if len(toks) == 1:
        return Term(toks[0])
    if not toks:
        return NoMatch()
    return Phrase(toks)


def _parse_words(words, analyzer):
    """The tree of a query without parentheses or phrases, given as its words; the
    same tree the general parser makes. None when it does not parse (the general
    parser then reports where)."""
    ors = []
    ands = []
    nots = 0
    want = True                 # an operand is expected next
    for w in words:
        if w == "AND":
            if want:
                return None
            want = True
        elif w == "OR":
            if want:
                return None
            ors.append(ands[0] if len(ands) == 1 else And(ands))
            ands = []
            want = True
        elif w == "NOT":
            nots += 1
            want = True
        else:
            node = _word(w, analyzer)
            while nots:
                node = Not(node)
                nots -= 1
            ands.append(node)
            want = False
    if want:
        return None
    node = ands[0] if len(ands) == 1 else And(ands)
    if ors:
        ors.append(node)
        return Or(ors)
    return node


def parse(query: str, analyzer=None):
    """The tree of ``query`` (see the module docstring), its words and phrases
    analyzed by ``analyzer`` (a callable text -> list of str; None: the default
    analyzer). Nodes of one kind are not merged: ``a OR (b OR c)`` keeps its
    nesting. O(len(query)) plus the analyzer's cost.

    >>> parse("NOT x")
    Not(Term('x'))
    >>> parse('"a', analyzer=str.split)
    Traceback (most recent call last):
      ...
    tradeoff.index.query.QuerySyntaxError: expected '"' (to close the phrase at column 1) at column 3 of '"a', found the end of the query
    """
    if type(query) is not str:
        raise TypeError(f"query must be a str, not {type(query).__name__}")
    if analyzer is None:
        analyzer = default_analyzer
    if '"' not in query and "(" not in query and ")" not in query:
        node = _parse_words(query.split(), analyzer)
        if node is not None:
            return node
        # not a query: the general parser below finds where and says so
    toks = _lex(query)
    p = _Parser(query, toks, analyzer)
    node = p.or_expr()
    if toks[p.i][0] != _END:
        p.fail("'AND', 'OR', an operand or the end of the query")
    return node
