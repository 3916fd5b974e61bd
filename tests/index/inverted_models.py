"""Pure-Python references for the inverted index: documents as token lists, queries
evaluated as set algebra, BM25 computed straight from its formula."""
import math

from tradeoff.index.query import And, NoMatch, Not, Or, Phrase, Term, default_analyzer


def bm25_idf(n, df):
    """Robertson and Zaragoza (2009) with 1 added inside the log, as Lucene does."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class InvertedModel:
    """doc id -> tokens; the postings are recomputed from them on every question."""

    def __init__(self, analyzer=None, k1=1.2, b=0.75, idf=None):
        self.analyzer = analyzer or default_analyzer
        self.k1 = k1
        self.b = b
        self.idf = idf or bm25_idf
        self.docs = {}              # doc id -> list of tokens, in the order added
        self._df = {}               # token -> df, cleared by add

    def add(self, doc_id, text):
        if self.docs:
            assert doc_id > max(self.docs)
        self.docs[doc_id] = list(self.analyzer(text))
        self._df = {}

    # ---------------------------------------------------------- postings

    def df(self, token):
        if token not in self._df:
            self._df[token] = sum(1 for toks in self.docs.values() if token in toks)
        return self._df[token]

    def tf(self, token, doc_id):
        return self.docs[doc_id].count(token)

    def postings(self, token):
        ids = sorted(d for d, toks in self.docs.items() if token in toks)
        return ids, [self.tf(token, d) for d in ids]

    def positions(self, token, doc_id):
        return [i for i, t in enumerate(self.docs[doc_id]) if t == token]

    # ---------------------------------------------------------- boolean

    def has_phrase(self, doc_id, words):
        toks = self.docs[doc_id]
        n = len(words)
        return any(toks[i:i + n] == list(words) for i in range(len(toks) - n + 1))

    def eval(self, node):
        """The set of doc ids matching a query tree."""
        if isinstance(node, Term):
            return {d for d, toks in self.docs.items() if node.text in toks}
        if isinstance(node, Phrase):
            return {d for d in self.docs if self.has_phrase(d, node.terms)}
        if isinstance(node, And):
            out = set(self.docs)
            for c in node.children:
                out &= self.eval(c)
            return out
        if isinstance(node, Or):
            out = set()
            for c in node.children:
                out |= self.eval(c)
            return out
        if isinstance(node, Not):
            return set(self.docs) - self.eval(node.child)
        if isinstance(node, NoMatch):
            return set()
        raise TypeError(node)

    def search(self, node):
        return sorted(self.eval(node))

    # ---------------------------------------------------------- ranking

    def scoring_terms(self, node, negated=False):
        """Distinct tokens that score: those not under an odd number of NOTs."""
        if isinstance(node, Term):
            return set() if negated else {node.text}
        if isinstance(node, Phrase):
            return set() if negated else set(node.terms)
        if isinstance(node, (And, Or)):
            out = set()
            for c in node.children:
                out |= self.scoring_terms(c, negated)
            return out
        if isinstance(node, Not):
            return self.scoring_terms(node.child, not negated)
        return set()

    def score(self, doc_id, terms, avgdl=None):
        n = len(self.docs)
        if avgdl is None:
            avgdl = sum(len(t) for t in self.docs.values()) / n
        dl = len(self.docs[doc_id])
        s = 0.0
        for t in terms:
            tf = self.tf(t, doc_id)
            if tf:
                idf = self.idf(n, self.df(t))
                s += idf * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * dl / avgdl))
        return s

    def scores(self, node):
        """doc id -> score for every matching document."""
        terms = self.scoring_terms(node)
        avgdl = sum(len(t) for t in self.docs.values()) / max(1, len(self.docs))
        return {d: self.score(d, terms, avgdl) for d in self.eval(node)}

    def top_k(self, node, k):
        sc = self.scores(node)
        return sorted(sc.items(), key=lambda x: (-x[1], x[0]))[:k]


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def assert_top_k(got, scores, k, rel=1e-9):
    """got (a list of (doc, score)) is a correct top-k for the model's scores (doc ->
    score of every match): each score is the model's; the list is ordered by score
    descending then doc ascending; and no document left out scores above the last
    one taken. Scores equal up to rounding may come in either order."""
    assert len(got) == min(k, len(scores)), (len(got), k, len(scores))
    docs = [d for d, _ in got]
    assert len(set(docs)) == len(docs)
    for d, s in got:
        assert d in scores, d
        assert close(s, scores[d], rel), (d, s, scores[d])
    for (d1, s1), (d2, s2) in zip(got, got[1:]):
        assert s1 > s2 or (s1 == s2 and d1 < d2), (got,)
    if got:
        last = got[-1][1]
        taken = set(docs)
        for d, s in scores.items():
            if d not in taken:
                assert s <= last or close(s, last, rel), (d, s, last)
    want = sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]
    for (_, s1), (_, s2) in zip(got, want):
        assert close(s1, s2, rel)
