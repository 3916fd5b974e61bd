"""InvertedIndex against the pure-Python model (tests/index/inverted_models.py).

- a hypothesis state machine adds documents (one at a time and in batches, with
  gaps in the doc ids), commits, changes k1 and b, and asks random query trees
  (AND / OR / NOT / parentheses / phrases, rendered as strings with explicit and
  implicit AND) for search, count and top_k, comparing each with set algebra and
  a direct BM25; ``_check()`` after every step; run with and without positions
  and with every term, no term and the default share of terms keeping bitsets;
- larger seeded corpora (several blocks per posting list, so skips and
  block-max WAND really skip) against the model, and the commit in small chunks;
- postings, positions and tfs against the model; wide gaps and large tfs;
- bad input: doc ids out of order, bad types, an analyzer that fails half way
  through add_many (nothing added), phrases without positions, bad k, k1, b, idf.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from inverted_models import InvertedModel, assert_top_k, bm25_idf
import threading

from tradeoff.index._inverted import InvertedIndex, _set_chunk_tokens, _set_weak_token_keys
from tradeoff.index.corpus import zipf_corpus
from tradeoff.index.query import (And, NoMatch, Not, Or, Phrase, QuerySyntaxError, Term,
                                  default_analyzer, parse)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# analyzed tokens; "a" and "b" are frequent, "ü" comes from "Ü", "x9" has a digit,
# the long ones take the hashed-key path of the vocabulary (8 bytes and more)
TOKENS = ["a", "b", "c", "dd", "ee", "x9", "ü", "internationalization", "longword"]
WORDS = ["a", "A", "a", "a", "b", "B", "b", "c", "dd", "ee", "x9", "Ü", "ü",
         "Internationalization", "longword", "LONGWORD"]
SEPS = [" ", "  ", ", ", "-", "\n", "_", "!"]


@st.composite
def texts(draw):
    words = draw(st.lists(st.sampled_from(WORDS), max_size=12))
    seps = draw(st.lists(st.sampled_from(SEPS), min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps))


def trees(phrases):
    leaves = [st.sampled_from(TOKENS + ["nope"]).map(Term), st.just(NoMatch())]
    if phrases:
        leaves.append(st.lists(st.sampled_from(TOKENS[:4]), min_size=2, max_size=3).map(Phrase))
    leaf = st.one_of(*leaves)
    return st.recursive(
        leaf,
        lambda ch: st.one_of(st.lists(ch, min_size=2, max_size=3).map(And),
                             st.lists(ch, min_size=2, max_size=3).map(Or),
                             ch.map(Not)),
        max_leaves=7)


def render(node, implicit=False):
    """A query string that parses back to node."""
    if isinstance(node, Term):
        return node.text
    if isinstance(node, NoMatch):
        return "--"
    if isinstance(node, Phrase):
        return '"' + " ".join(node.terms) + '"'
    if isinstance(node, Not):
        return "NOT " + render(node.child, implicit)
    sep = " OR " if isinstance(node, Or) else (" " if implicit else " AND ")
    return "(" + sep.join(render(c, implicit) for c in node.children) + ")"


def compare(ix, model, tree, k=10, implicit=False):
    q = render(tree, implicit)
    assert parse(q) == tree, q
    want = model.search(tree)
    got = ix.search(q)
    assert got.dtype == np.int64
    assert got.tolist() == want, q
    assert ix.count(q) == len(want), q
    assert ix.count(tree) == len(want)
    assert_top_k(ix.top_k(q, k), model.scores(tree), k)


# ---------------------------------------------------------------- the state machine

class IndexMachine(RuleBasedStateMachine):
    positions = True
    bitset_fraction = 1 / 16

    def __init__(self):
        super().__init__()
        self.ix = InvertedIndex(positions=self.positions, bitset_fraction=self.bitset_fraction)
        self.model = InvertedModel()
        self.next_id = 0

    @rule(text=texts(), gap=st.integers(0, 3))
    def add(self, text, gap):
        d = self.next_id + gap
        self.ix.add(d, text)
        self.model.add(d, text)
        self.next_id = d + 1

    @rule(batch=st.lists(texts(), max_size=50), gaps=st.integers(0, 2))
    def add_many(self, batch, gaps):
        ids = [self.next_id + i * (gaps + 1) for i in range(len(batch))]
        self.ix.add_many(np.array(ids, dtype=np.int64) if gaps else ids, batch)
        for d, t in zip(ids, batch):
            self.model.add(d, t)
        if ids:
            self.next_id = ids[-1] + 1

    @rule(doc_id=st.integers(-3, 3))
    def add_out_of_order(self, doc_id):
        if self.next_id == 0 and doc_id >= 0:
            return
        d = min(doc_id, self.next_id - 1)
        n = len(self.ix)
        with pytest.raises(ValueError):
            self.ix.add(d, "a b")
        with pytest.raises(ValueError):
            self.ix.add_many([self.next_id + 5, self.next_id + 5], ["a", "b"])
        assert len(self.ix) == n

    @rule()
    def commit(self):
        self.ix.commit()

    @rule(k1=st.sampled_from([0.0, 0.5, 1.2, 2.0]), b=st.sampled_from([0.0, 0.3, 0.75, 1.0]))
    def bm25_params(self, k1, b):
        self.ix.k1 = k1
        self.ix.b = b
        self.model.k1 = k1
        self.model.b = b

    @rule(data=st.data(), k=st.integers(0, 12), implicit=st.booleans())
    def query(self, data, k, implicit):
        if not self.model.docs:
            return
        tree = data.draw(trees(self.positions))
        compare(self.ix, self.model, tree, k, implicit)

    @rule(k=st.integers(1, 6), terms=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4))
    def ranked_or_and(self, k, terms):
        """The two fast paths: block-max WAND (OR of terms) and the ranked AND."""
        if not self.model.docs:
            return
        leaves = [Term(t) for t in terms]
        for cls in (Or, And):
            compare(self.ix, self.model, cls(leaves) if len(leaves) > 1 else leaves[0], k)

    @rule()
    def postings(self):
        for tok in TOKENS + ["nope"]:
            docs, tfs = self.ix.postings(tok)
            want_docs, want_tfs = self.model.postings(tok)
            assert docs.tolist() == want_docs and tfs.tolist() == want_tfs
            assert self.ix.doc_freq(tok) == len(want_docs)
            if self.positions:
                for d in want_docs[:3]:
                    assert self.ix.positions_of(tok, d) == self.model.positions(tok, d)

    @invariant()
    def consistent(self):
        assert len(self.ix) == len(self.model.docs)
        self.ix._check()


class IndexMachineNoBitsets(IndexMachine):
    positions = True
    bitset_fraction = None


class IndexMachineAllBitsets(IndexMachine):
    positions = False
    bitset_fraction = 0.0


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=50, stateful_step_count=25, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
TestIndexMachineNoBitsets = IndexMachineNoBitsets.TestCase
TestIndexMachineNoBitsets.settings = TestIndexMachine.settings
TestIndexMachineAllBitsets = IndexMachineAllBitsets.TestCase
TestIndexMachineAllBitsets.settings = TestIndexMachine.settings


# ---------------------------------------------------------------- larger corpora

@pytest.fixture(scope="module")
def zipf_pair():
    """2,500 documents over 200 words: the frequent words span many blocks."""
    docs = zipf_corpus(2500, vocabulary=200, mean_length=12, alpha=1.0, seed=7)
    ix = InvertedIndex(positions=True)
    model = InvertedModel()
    ids = list(range(0, 5000, 2))
    ix.add_many(ids[:1000], docs[:1000])
    ix.commit()
    for d, t in zip(ids[1000:1010], docs[1000:1010]):
        ix.add(d, t)
    ix.add_many(ids[1010:], docs[1010:])
    for d, t in zip(ids, docs):
        model.add(d, t)
    ix._check()
    return ix, model


def _words(model):
    from collections import Counter
    c = Counter(t for toks in model.docs.values() for t in set(toks))
    return [w for w, _ in c.most_common()]


def test_zipf_queries_equal_model(zipf_pair):
    ix, model = zipf_pair
    words = _words(model)
    assert ix.doc_freq(words[0]) > 5 * 128          # several blocks
    rng = np.random.default_rng(3)
    pick = lambda: words[int(min(len(words) - 1, rng.zipf(1.3) - 1))]
    for i in range(60):
        a, b, c = pick(), pick(), pick()
        trees_ = [And([Term(a), Term(b)]), Or([Term(a), Term(b)]), Or([Term(a), Term(b), Term(c)]),
                  And([Term(a), Not(Term(b))]), Not(Or([Term(a), Term(b)])),
                  And([Or([Term(a), Term(b)]), Term(c)]), Phrase([a, b]), Term(a)]
        for tree in trees_:
            for k in (1, 10):
                compare(ix, model, tree, k)


def test_wand_equals_exhaustive_on_many_terms(zipf_pair):
    ix, model = zipf_pair
    words = _words(model)
    for q in [words[:8], words[3:20:2], words[100:110] + words[:2]]:
        tree = Or([Term(w) for w in q])
        for k in (1, 3, 25, 400):
            compare(ix, model, tree, k)


def test_commit_in_small_chunks_equals_model():
    old = _set_chunk_tokens(7)
    try:
        docs = zipf_corpus(400, vocabulary=50, mean_length=6, seed=2)
        ix = InvertedIndex(positions=True, bitset_fraction=0.2)
        ix.add_many(range(400), docs)
        ix._check()
    finally:
        _set_chunk_tokens(old)
    model = InvertedModel()
    for d, t in enumerate(docs):
        model.add(d, t)
    for w in _words(model)[:20]:
        docs_, tfs = ix.postings(w)
        assert (docs_.tolist(), tfs.tolist()) == model.postings(w)
        assert ix.positions_of(w, int(docs_[-1])) == model.positions(w, int(docs_[-1]))


def test_wide_gaps_and_large_tfs():
    ix = InvertedIndex(positions=True)
    texts = ["filler"] * 70_000
    texts[0] = "rare " + "big " * 70_000
    texts[-1] = "rare big"
    ix.add_many(range(70_000), texts)
    ix._check()
    docs, tfs = ix.postings("rare")
    assert docs.tolist() == [0, 69_999] and tfs.tolist() == [1, 1]
    docs, tfs = ix.postings("big")
    assert tfs.tolist() == [70_000, 1]
    assert ix.positions_of("big", 0)[-1] == 70_000
    assert ix.search('"rare big"').tolist() == [0, 69_999]
    assert ix.count("rare AND filler") == 0 and ix.count("NOT filler") == 2
    assert [d for d, _ in ix.top_k("big OR rare", 2)] == [69_999, 0]     # the long one is normalized down


# ---------------------------------------------------------------- the vocabulary

@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=40), min_size=1, max_size=6))
@SETTINGS
def test_ascii_tokenizer_equals_default_analyzer(texts):
    """ASCII texts go through the C tokenizer, others through the regex: same tokens."""
    ix = InvertedIndex(positions=True)
    ix.add_many(range(len(texts)), texts)
    ix._check()
    model = InvertedModel()
    for d, t in enumerate(texts):
        model.add(d, t)
        assert ix.doc_length(d) == len(default_analyzer(t))
    tokens, dfs = ix.doc_freqs()
    assert sorted(tokens) == sorted({t for toks in model.docs.values() for t in toks})
    for tok, df in zip(tokens, dfs):
        assert df == model.df(tok)
        docs, tfs = ix.postings(tok)
        assert (docs.tolist(), tfs.tolist()) == model.postings(tok)
        assert ix.positions_of(tok, int(docs[0])) == model.positions(tok, int(docs[0]))


def test_colliding_token_keys():
    """Long tokens whose keys collide (forced) still get their own ids, also after
    add_many fails half way and rolls them back."""
    _set_weak_token_keys(True)
    try:
        ix = InvertedIndex(analyzer=str.split)
        words = ["abcdefgh", "zzzzzzzz", "abcdefgx", "longer-word1", "longer-word2", "short"]
        ix.add_many([0, 1], [" ".join(words[:3]), " ".join(words[2:])])
        ix._check()
        for w in words:
            assert ix.doc_freq(w) == (2 if w == "abcdefgx" else 1), w
        with pytest.raises(TypeError):
            ix.add_many([2, 3], ["qqqqqqqq yyyyyyyy abcdefgh", 5])
        ix.add_many([2, 3], ["qqqqqqqq yyyyyyyy abcdefgh", "bad!bad! abcdefgh"])
        ix._check()
        assert ix.search("abcdefgh").tolist() == [0, 2, 3]
        assert ix.search("yyyyyyyy OR bad!bad!").tolist() == [2, 3]
        assert ix.search("nothere1").tolist() == []
        tokens, _ = ix.doc_freqs()
        assert len(tokens) == len(set(tokens)) == 9
    finally:
        _set_weak_token_keys(False)


def test_concurrent_queries_equal_serial():
    """Queries release the GIL while they run: threads asking at once (sharing the
    scratch bitset, or not) get the answers one thread gets."""
    docs = zipf_corpus(3000, vocabulary=300, mean_length=30, seed=4)
    ix = InvertedIndex(bitset_fraction=None)
    ix.add_many(range(3000), docs)
    toks, dfs = ix.doc_freqs()
    mid = [t for t, df in zip(toks, dfs) if 50 <= df <= 800][:40]
    queries = [f"{a} AND {b}" for a in mid[:20] for b in mid[20:]]
    want = [ix.search(q).tolist() for q in queries]
    got = {}

    def run(i):
        got[i] = [ix.search(q).tolist() for q in queries]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[i] == want for i in range(4))


# ---------------------------------------------------------------- ranking details

def test_scores_by_hand():
    ix = InvertedIndex()
    ix.add_many([10, 20, 30], ["x y", "x x z", "y"])
    n, avgdl = 3, 6 / 3
    def s(tf, df, dl):
        return bm25_idf(n, df) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))
    got = ix.top_k("x OR y", 5)
    want = sorted([(10, s(1, 2, 2) + s(1, 2, 2)), (20, s(2, 2, 3)), (30, s(1, 2, 1))],
                  key=lambda x: (-x[1], x[0]))
    assert [d for d, _ in got] == [d for d, _ in want]
    assert np.allclose([v for _, v in got], [v for _, v in want], rtol=1e-12)
    # NOT terms do not score; a term under two NOTs does
    assert ix.top_k("x AND NOT y", 5) == [(20, pytest.approx(s(2, 2, 3)))]
    assert ix.top_k("NOT NOT x", 1)[0][1] == pytest.approx(s(2, 2, 3))
    # no positive term: every match scores 0, ties by doc id
    assert ix.top_k("NOT z", 5) == [(10, 0.0), (30, 0.0)]


def test_parameters_and_custom_idf():
    docs = zipf_corpus(300, vocabulary=40, mean_length=8, seed=5)
    ix = InvertedIndex(k1=0.9, b=0.4, idf=lambda n, df: 1.0 + n / df)
    model = InvertedModel(k1=0.9, b=0.4, idf=lambda n, df: 1.0 + n / df)
    ix.add_many(range(300), docs)
    for d, t in enumerate(docs):
        model.add(d, t)
    words = _words(model)
    tree = Or([Term(w) for w in words[:5]])
    compare(ix, model, tree, 7)
    ix.k1, ix.b, model.k1, model.b = 2.0, 1.0, 2.0, 1.0
    compare(ix, model, tree, 7)
    ix.idf = model.idf = None
    model.idf = bm25_idf
    compare(ix, model, tree, 7)
    assert (ix.k1, ix.b, ix.idf) == (2.0, 1.0, None)


def test_custom_analyzer_applies_to_queries():
    ix = InvertedIndex(analyzer=str.split, positions=True)
    ix.add_many([0, 1], ["Foo bar-baz", "foo bar-baz bar"])
    assert ix.search("Foo").tolist() == [0]
    assert ix.search("bar-baz AND bar").tolist() == [1]
    assert ix.search('"foo bar-baz"').tolist() == [1]
    assert ix.parse("Foo") == Term("Foo")


# ---------------------------------------------------------------- sizes

def test_memory_is_reported_and_small():
    docs = zipf_corpus(3000, vocabulary=2000, mean_length=50, seed=1)
    ix = InvertedIndex()
    ix.add_many(range(3000), docs)
    m = ix.memory()
    assert set(m) >= {"postings", "skip", "positions", "bitsets", "terms", "vocabulary"}
    assert ix.nbytes == sum(m.values())
    assert m["positions"] == 0
    assert 0.3 < ix.bytes_per_posting < 2.0, ix.bytes_per_posting
    assert ix.npostings == sum(ix.doc_freq(w) for w in set(" ".join(docs).split()))
    assert ix.nterms == len(set(" ".join(docs).split()))
    assert ix.avgdl == pytest.approx(np.mean([len(d.split()) for d in docs]))


def test_empty_index_and_empty_documents():
    ix = InvertedIndex()
    assert ix.count("a") == 0 and ix.search("NOT a").tolist() == [] and ix.top_k("a") == []
    ix.add(5, "")
    ix.add(6, "!!")
    ix._check()
    assert ix.search("NOT a").tolist() == [5, 6]
    assert ix.top_k("NOT a", 3) == [(5, 0.0), (6, 0.0)]
    assert ix.doc_length(6) == 0
    ix.add(7, "a")
    assert ix.top_k("a OR b") == [(7, pytest.approx(bm25_idf(3, 1) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3))))]


# ---------------------------------------------------------------- bad input

def test_bad_doc_ids_change_nothing():
    ix = InvertedIndex()
    ix.add(3, "a b")
    for bad, exc in [(3, ValueError), (2, ValueError), (-1, ValueError), (2 ** 63, ValueError),
                     (4.0, TypeError), ("5", TypeError)]:
        with pytest.raises(exc):
            ix.add(bad, "c")
    with pytest.raises(ValueError, match="increasing order: 5 after 5"):
        ix.add_many([4, 5, 5], ["c", "c", "c"])
    with pytest.raises(ValueError, match="differ in length"):
        ix.add_many([4, 5], ["c"])
    with pytest.raises(TypeError, match="at index 1"):
        ix.add_many([4, 5], ["c", b"c"])
    with pytest.raises(TypeError):
        ix.add_many(np.array([4.0, 5.0]), ["c", "c"])
    with pytest.raises(TypeError):
        ix.add(4, None)
    assert len(ix) == 1 and ix.nterms == 2 and ix.count("c") == 0
    ix._check()


def test_failing_analyzer_adds_nothing():
    calls = []

    def analyzer(text):
        calls.append(text)
        if text == "boom":
            raise RuntimeError("analyzer failed")
        return text.split()

    ix = InvertedIndex(analyzer=analyzer)
    ix.add_many([0, 1], ["a b", "b c"])
    with pytest.raises(RuntimeError):
        ix.add_many([2, 3, 4], ["new words", "more", "boom"])
    assert len(ix) == 2 and ix.nterms == 3 and ix.count("new") == 0
    ix.add(2, "new")                # the id after the failed batch is still free
    assert ix.search("new").tolist() == [2]
    with pytest.raises(TypeError, match="list of str"):
        InvertedIndex(analyzer=lambda t: [1, 2]).add(0, "x")
    ix._check()


def test_bad_queries_and_parameters():
    ix = InvertedIndex()
    ix.add_many([0, 1], ["a b", "b c"])
    with pytest.raises(QuerySyntaxError) as e:
        ix.search("a AND (b OR")
    assert e.value.column == 12 and isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="positions=True"):
        ix.search('a AND "b c"')
    with pytest.raises(TypeError):
        ix.search(3)
    with pytest.raises(ValueError):
        ix.top_k("a", -1)
    with pytest.raises(TypeError):
        ix.top_k("a", 2.5)
    assert ix.top_k("a", 0) == []
    for kw in [{"k1": -1}, {"b": 1.5}, {"k1": float("nan")}, {"bitset_fraction": 2}]:
        with pytest.raises(ValueError):
            InvertedIndex(**kw)
    for kw in [{"analyzer": 3}, {"idf": "bm25"}]:
        with pytest.raises(TypeError):
            InvertedIndex(**kw)
    with pytest.raises(ValueError):
        ix.b = -0.1
    assert ix.b == 0.75
    ix.idf = lambda n, df: -1.0
    with pytest.raises(ValueError, match="idf"):
        ix.top_k("a")
