"""Our indexes give the same answers as the peers the index suite times them
against (each test skips when its peer, from the peers extra, is missing)."""
import numpy as np
import pytest

from tradeoff.index import InvertedIndex, Int64BTree
from tradeoff.index.corpus import zipf_corpus


def test_btree_ranges_equal_llbtree_and_sorteddict():
    llb = pytest.importorskip("BTrees.LLBTree")
    sc = pytest.importorskip("sortedcontainers")
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(-(2**40), 2**40, 20_000))
    ours = Int64BTree.from_sorted(keys, keys.tolist(), node_size=8)
    theirs = llb.LLBTree()
    theirs.update(list(zip(keys.tolist(), keys.tolist())))
    sd = sc.SortedDict(zip(keys.tolist(), keys.tolist()))
    for lo, hi in rng.integers(-(2**40), 2**40, (50, 2)):
        lo, hi = int(min(lo, hi)), int(max(lo, hi))
        expect = list(theirs.keys(lo, hi))
        assert ours.keys_array(lo, hi).tolist() == expect == list(sd.irange(lo, hi))
        assert list(ours.irange(lo, hi)) == expect
        assert ours.count(lo, hi) == len(expect)


def test_and_counts_and_bm25_top10_agree_with_tantivy():
    tantivy = pytest.importorskip("tantivy")
    docs = zipf_corpus(3_000, vocabulary=2_000, mean_length=40, seed=5)
    ix = InvertedIndex()
    ix.add_many(range(len(docs)), docs)
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, index_option="freq")
    sb.add_integer_field("id", stored=True, indexed=False, fast=False)
    index = tantivy.Index(sb.build())
    w = index.writer(heap_size=50_000_000, num_threads=1)
    for i, text in enumerate(docs):
        w.add_document(tantivy.Document(id=i, body=text))
    w.commit()
    w.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    tokens, dfs = ix.doc_freqs()
    rng = np.random.default_rng(1)
    overlaps = []
    for _ in range(40):
        a, b = (tokens[i] for i in rng.integers(0, min(len(tokens), 300), 2))
        q = f"{a} AND {b}"
        result = searcher.search(index.parse_query(q, ["body"]), 10, count=True)
        assert ix.count(q) == result.count, q
        theirs = {searcher.doc(addr)["id"][0] for _, addr in result.hits}
        ours = {d for d, _ in ix.top_k(q, 10)}
        if theirs:
            overlaps.append(len(ours & theirs) / len(theirs))
    # tantivy rounds document lengths to one-byte norms, so near-ties may swap
    assert np.mean(overlaps) > 0.9
