"""Indexes: a B+tree against BTrees and sortedcontainers, a hash index, an
inverted index against tantivy and pyroaring, and a table with composite
indexes against SQLite.

Timed (pyperf, 1M int64 keys unless said):
- ``btree_build``: from sorted keys: ``Int64BTree.from_sorted`` against
  ``LLBTree.update`` on sorted pairs, ``OOBTree``, ``SortedDict``, a dict and a
  sorted numpy array (per key).
- ``btree_lookup``: ``t[k]`` of present keys in a Python loop; ``lookup_many``
  batch (ours) and ``np.searchsorted`` beside it.
- ``btree_range``: the keys of a range of 10, 1,000 and 100,000 keys
  materialized: our ``keys_array`` (numpy) and ``list(irange)``, ``list(LLBTree.keys(lo,
  hi))``, ``list(SortedDict.irange)``, and a sorted array's slice.
- ``btree_insert``: inserts in random order into an empty tree (per key).
- ``btree_mix``: 50% deletes of present keys and 50% inserts of new ones.
- ``hash_lookup``: equality lookups, ``HashIndex`` against a dict.
- ``inverted_count`` / ``inverted_top10``: two-term AND counts and BM25
  top-10 on a seeded Zipf corpus of 100k documents, by document-frequency
  bucket, against tantivy, pyroaring (``&`` of bitmaps) and numpy
  (``intersect1d``).
- ``table_query``: the same queries through ``Table`` and SQLite in memory.
- ``table_probe``: queries of one shape whose values change every time (the
  plan is reused, the values bound), ours against SQLite with parameters.
- ``table_mix``: a mixed read/write workload (insert, point query, range
  query, delete) on the same table, ours against SQLite in memory.

Scenarios: ``btree_memory`` (bytes per key, ours and the peers', as malloc growth in a
fresh process), ``inverted_build`` (time and bytes per posting), ``plans`` (our
plan and SQLite's EXPLAIN QUERY PLAN for the same queries), ``table_index``
(build time and bytes per row of each index), ``table_mix_agreement`` (the
mixed workload's answers, ours beside SQLite's).
"""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from tradeoff import benchmark, scenario

from . import _peers

N = 1_000_000
LOOKUPS = 10_000


@lru_cache(maxsize=2)
def _keys(seed: int) -> np.ndarray:
    """N distinct sorted int64 keys, spread over 2**40."""
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, 2 ** 40, size=int(N * 1.05)))[:N].astype(np.int64)


@lru_cache(maxsize=2)
def _key_list(seed: int) -> list:
    return _keys(seed).tolist()


def _probe(seed: int, n: int = LOOKUPS) -> list:
    rng = np.random.default_rng(seed + 1)
    return _keys(seed)[rng.integers(0, N, size=n)].tolist()


def _ours_from_sorted(seed):
    from tradeoff.index import Int64BTree
    keys = _keys(seed)
    return Int64BTree.from_sorted(keys, _key_list(seed))


def _built(impl: str, seed: int):
    """A structure holding the N keys (value = key) for the lookup and range benchmarks."""
    kl = _key_list(seed)
    if impl == "tradeoff":
        return _ours_from_sorted(seed)
    if impl == "LLBTree":
        t = _peers.btrees_class("LLBTree")()
        t.update(list(zip(kl, kl)))
        return t
    if impl == "OOBTree":
        t = _peers.btrees_class("OOBTree")()
        t.update(list(zip(kl, kl)))
        return t
    if impl == "SortedDict":
        return _peers.sorted_dict()(zip(kl, kl))
    if impl == "dict":
        return dict(zip(kl, kl))
    if impl == "sorted_array":
        return _keys(seed)
    raise ValueError(impl)


# ------------------------------------------------------------------ B+tree

@benchmark(params={"impl": ["tradeoff", "LLBTree", "OOBTree", "SortedDict", "dict", "sorted_array"]},
           compare="impl", inner_loops=N, processes=4, values=2)
def btree_build(impl, seed):
    """Build from 1M sorted keys (values = the keys): ``from_sorted`` (ours),
    ``update`` with sorted pairs (BTrees), the constructor (SortedDict, dict),
    ``np.array`` of the list (a sorted array)."""
    kl = _key_list(seed)
    keys = _keys(seed)
    if impl == "tradeoff":
        from tradeoff.index import Int64BTree
        return lambda: Int64BTree.from_sorted(keys, kl)
    if impl in ("LLBTree", "OOBTree"):
        cls = _peers.btrees_class(impl)
        pairs = list(zip(kl, kl))

        def run():
            t = cls()
            t.update(pairs)
        return run
    if impl == "SortedDict":
        sd = _peers.sorted_dict()
        pairs = list(zip(kl, kl))
        return lambda: sd(pairs)
    if impl == "dict":
        pairs = list(zip(kl, kl))
        return lambda: dict(pairs)
    return lambda: np.array(kl, dtype=np.int64)


@benchmark(params={"impl": ["tradeoff", "LLBTree", "OOBTree", "SortedDict", "dict"]},
           compare="impl", inner_loops=LOOKUPS, processes=6)
def btree_lookup(impl, seed):
    """``t[k]`` of 10k present keys (random order) from Python, 1M keys held."""
    t = _built(impl, seed)
    probe = _probe(seed)

    def run():
        for k in probe:
            t[k]
    return run


@benchmark(params={"impl": ["tradeoff", "sorted_array"]}, compare="impl", inner_loops=LOOKUPS, processes=6)
def btree_lookup_many(impl, seed):
    """Batch membership of 10k keys: ``contains_many`` (a nogil loop) against
    ``np.searchsorted`` on the sorted array."""
    t = _built(impl, seed)
    probe = np.asarray(_probe(seed), dtype=np.int64)
    if impl == "tradeoff":
        return lambda: t.contains_many(probe)
    return lambda: np.searchsorted(t, probe)


def _ranges(seed: int, width: int, count: int = 20):
    rng = np.random.default_rng(seed + width)
    keys = _keys(seed)
    starts = rng.integers(0, N - width, size=count)
    return [(int(keys[s]), int(keys[s + width - 1])) for s in starts]


@benchmark(params={"width": [10, 1_000, 100_000],
                   "impl": ["tradeoff", "tradeoff_list", "LLBTree", "SortedDict", "sorted_array"]},
           compare="impl", inner_loops=20, processes=6)
def btree_range(width, impl, seed):
    """Materialize the keys of a range of ``width`` keys (20 ranges per call,
    time per range): ``keys_array(lo, hi)`` (ours, numpy), ``list(irange(lo, hi))``
    (ours, ``tradeoff_list``), ``list(LLBTree.keys(lo, hi))``,
    ``list(SortedDict.irange(lo, hi))``, and a slice of the sorted array found
    by ``searchsorted`` (copied)."""
    ranges = _ranges(seed, width)
    t = _built("tradeoff" if impl == "tradeoff_list" else impl, seed)
    if impl == "tradeoff":
        f = t.keys_array
        return lambda: [f(lo, hi) for lo, hi in ranges]
    if impl in ("tradeoff_list", "SortedDict"):
        return lambda: [list(t.irange(lo, hi)) for lo, hi in ranges]
    if impl == "LLBTree":
        return lambda: [list(t.keys(lo, hi)) for lo, hi in ranges]
    arr = t

    def run():
        for lo, hi in ranges:
            arr[np.searchsorted(arr, lo):np.searchsorted(arr, hi, "right")].copy()
    return run


@benchmark(params={"impl": ["tradeoff", "LLBTree", "OOBTree", "SortedDict", "dict"]},
           compare="impl", inner_loops=200_000, processes=4, values=2)
def btree_insert(impl, seed):
    """200k inserts in random order into an empty structure (per insert)."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(_keys(seed)[:200_000]).tolist()
    if impl == "tradeoff":
        from tradeoff.index import Int64BTree
        make = Int64BTree
    elif impl in ("LLBTree", "OOBTree"):
        make = _peers.btrees_class(impl)
    elif impl == "SortedDict":
        make = _peers.sorted_dict()
    else:
        make = dict

    def run():
        t = make()
        for k in keys:
            t[k] = k
    return run


@benchmark(params={"impl": ["tradeoff", "LLBTree", "SortedDict"]}, compare="impl", inner_loops=20_000,
           processes=6)
def btree_mix(impl, seed):
    """10k deletes of present keys and 10k inserts of new keys, interleaved, on
    1M keys (the tree returns to its size after each call)."""
    t = _built(impl, seed)
    rng = np.random.default_rng(seed + 7)
    gone = _keys(seed)[rng.choice(N, 10_000, replace=False)].tolist()
    fresh = (2 ** 41 + rng.choice(2 ** 30, 10_000, replace=False)).tolist()
    state = [0]

    def run():
        out, back = (gone, fresh) if state[0] == 0 else (fresh, gone)
        for a, b in zip(out, back):
            del t[a]
            t[b] = b
        state[0] ^= 1
    return run


def _malloc_in_use() -> int:
    """Bytes glibc's malloc has handed out (mallinfo2: in use + mmapped)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                   "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    m = libc.mallinfo2()
    return m.uordblks + m.hblkhd


def _memory_child(impl: str, seed: int) -> None:
    """Run in a fresh process with PYTHONMALLOC=malloc: print the bytes the
    structure's build adds (every allocation, C arrays and Python objects alike,
    goes through malloc then; tracemalloc would miss BTrees' own arrays)."""
    import gc
    import json

    _key_list(seed)
    _keys(seed)
    gc.collect()
    gc.disable()
    before = _malloc_in_use()
    t = _built(impl, seed)
    used = t.nbytes if impl == "sorted_array" else _malloc_in_use() - before
    print(json.dumps({"bytes": used, "nbytes": int(getattr(t, "nbytes", used))}))


@scenario(params={"impl": ["tradeoff", "LLBTree", "OOBTree", "SortedDict", "dict", "sorted_array"]},
          compare="impl")
def btree_memory(impl, seed):
    """Bytes a structure adds to hold 1M int64 keys, values = the keys (already
    alive: only the structure is counted), per key. Measured in a fresh process
    with ``PYTHONMALLOC=malloc`` as the growth of glibc's bytes in use, the same
    way for every structure (tracemalloc cannot see BTrees' C arrays)."""
    import json
    import os
    import subprocess
    import sys

    from tradeoff.harness.errors import Skip

    if not sys.platform.startswith("linux"):
        raise Skip("btree_memory reads glibc's mallinfo2: Linux only")
    if impl in ("LLBTree", "OOBTree"):
        _peers.btrees_class(impl)
    elif impl == "SortedDict":
        _peers.sorted_dict()
    code = f"from tradeoff.suites.index import _memory_child; _memory_child({impl!r}, {int(seed)})"
    env = dict(os.environ, PYTHONMALLOC="malloc")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"memory measurement of {impl} failed: {p.stderr.strip()[-300:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    row = {"bytes": out["bytes"], "bytes_per_key": out["bytes"] / N}
    if impl == "tradeoff":
        row["nbytes_per_key"] = out["nbytes"] / N
    return row


# ------------------------------------------------------------------ table and planner

ROWS = 1_000_000
QUERIES = {
    "ab_eq": "a = 500 AND b = 7",
    "a_eq": "a = 500",
    "a_eq_b_between": "a = 500 AND b BETWEEN 100 AND 199",
    "b_eq": "b = 7",
    "c_eq": None,            # equality on a present value of c, filled from the data
    "a_eq_c_lt": "a = 500 AND c < 549755813888",
    "a_in_b_lt": "a IN (1, 2, 3) AND b < 100",
}


@lru_cache(maxsize=1)
def _table(seed: int):
    """1M rows: a and b with 1000 distinct values each, c random below 2**40;
    a B-tree index on (a, b) and a hash index on c; the same in SQLite."""
    from tradeoff.index import SQLitePeer, Table

    rng = np.random.default_rng(seed)
    t = Table({"a": rng.integers(0, 1000, ROWS), "b": rng.integers(0, 1000, ROWS),
               "c": rng.integers(0, 2 ** 40, ROWS)})
    t.create_index(("a", "b"), kind="btree", name="idx_ab")
    t.create_index("c", kind="hash", name="idx_c")
    return t, SQLitePeer(t)


def _where(name: str, seed: int) -> str:
    if name == "c_eq":
        t, _ = _table(seed)
        return f"c = {int(t.column('c')[ROWS // 2])}"
    return QUERIES[name]


@benchmark(params={"query": list(QUERIES), "impl": ["tradeoff", "sqlite"]}, compare="impl", processes=3)
def table_query(query, impl, seed):
    """One query on a 1M-row table with a B-tree index on (a, b) and a hash
    index on c (SQLite: ordinary indexes on both), returning the matching row
    ids: ``Table.query`` (sorted numpy array) against ``execute(...).fetchall()``."""
    t, peer = _table(seed)
    where = _where(query, seed)
    if impl == "tradeoff":
        return lambda: t.query(where)
    text, params = peer.sql(where)
    conn = peer.conn
    return lambda: conn.execute(text, params).fetchall()


@scenario(params={"query": list(QUERIES)})
def plans(query, seed):
    """Our plan and SQLite's EXPLAIN QUERY PLAN for each query, and the rows both return."""
    t, peer = _table(seed)
    where = _where(query, seed)
    ours = t.query(where)
    theirs = np.sort(np.asarray([r[0] for r in peer.fetch(where)], dtype=np.int64))
    return {"where": where, "ours": " / ".join(str(t.explain(where)).splitlines()),
            "sqlite": peer.explain(where), "rows": int(ours.size), "equal": bool(np.array_equal(ours, theirs))}


@scenario(params={"index": ["idx_ab", "idx_c"], "impl": ["tradeoff", "sqlite"]}, compare="impl")
def table_index(index, impl, seed):
    """Building each index over 1M rows, and its memory per row (ours: ``nbytes``
    of the index structures, Python key tuples included; SQLite: its pages)."""
    t, peer = _table(seed)
    if impl == "sqlite":
        return {"build_s": peer.index_seconds[index], "bytes_per_row": (peer.nbytes(index) or float("nan")) / ROWS}
    info = {i.name: i for i in t.indexes}[index]
    return {"build_s": info.build_seconds, "bytes_per_row": info.nbytes / ROWS}


PROBES = 1_000             # queries per timed call of table_probe


@benchmark(params={"shape": ["ab_eq", "c_eq", "a_eq_b_between"], "impl": ["tradeoff", "sqlite"]},
           compare="impl", inner_loops=PROBES, processes=3)
def table_probe(shape, impl, seed):
    """Queries of one shape whose values change every time (seeded; c from
    present rows), on the table of ``table_query``: ``a = ? AND b = ?``, ``c =
    ?`` and ``a = ? AND b BETWEEN ? AND ? + 99``. Ours as a list of predicate
    tuples (planned once per shape, values bound per query), SQLite as
    ``execute(sql, params).fetchall()`` (its statement cache)."""
    t, peer = _table(seed)
    rng = np.random.default_rng(seed + 3)
    a, b = rng.integers(0, 1000, PROBES).tolist(), rng.integers(0, 900, PROBES).tolist()
    c = t.column("c")[rng.integers(0, ROWS, PROBES)].tolist()
    if shape == "ab_eq":
        wheres = [[("a", "=", x), ("b", "=", y)] for x, y in zip(a, b)]
        sql, params = "a = ? AND b = ?", list(zip(a, b))
    elif shape == "c_eq":
        wheres = [[("c", "=", z)] for z in c]
        sql, params = "c = ?", [(z,) for z in c]
    else:
        wheres = [[("a", "=", x), ("b", "between", y, y + 99)] for x, y in zip(a, b)]
        sql, params = "a = ? AND b BETWEEN ? AND ?", [(x, y, y + 99) for x, y in zip(a, b)]
    if impl == "tradeoff":
        query = t.query

        def run():
            for w in wheres:
                query(w)
        return run
    text = f"SELECT rowid FROM {t.name} WHERE {sql}"
    conn = peer.conn

    def run():
        ex = conn.execute
        for p in params:
            ex(text, p).fetchall()
    return run


MIX_BLOCKS = 100           # blocks of (insert, point query, range query, delete) per timed call


@lru_cache(maxsize=1)
def _mix_table(impl: str, seed: int):
    """The table of ``_table`` (same data and indexes), private to the mixed
    workload since it writes: ours, or SQLite's (loaded from ours)."""
    from tradeoff.index import SQLitePeer, Table

    rng = np.random.default_rng(seed)
    t = Table({"a": rng.integers(0, 1000, ROWS), "b": rng.integers(0, 1000, ROWS),
               "c": rng.integers(0, 2 ** 40, ROWS)})
    t.create_index(("a", "b"), kind="btree", name="idx_ab")
    t.create_index("c", kind="hash", name="idx_c")
    return SQLitePeer(t) if impl == "sqlite" else t


def _mix_ops(seed: int) -> list:
    """Seeded blocks of four operations: insert a row (a, b random, c = 2**41 + j,
    above every loaded c), look up a random (a, b), read a random a with b in a
    random window of 100 values (about 100 rows), delete the row inserted by
    ``c = 2**41 + j``. A call leaves the table with the rows it started with."""
    rng = np.random.default_rng(seed + 11)
    r = rng.integers(0, 1000, (MIX_BLOCKS, 6)).tolist()
    return [((a, b, 2 ** 41 + j), (pa, pb), (ra, lo % 900, lo % 900 + 99), 2 ** 41 + j)
            for j, (a, b, pa, pb, ra, lo) in enumerate(r)]


@benchmark(params={"impl": ["tradeoff", "sqlite"]}, compare="impl", inner_loops=4 * MIX_BLOCKS, processes=3)
def table_mix(impl, seed):
    """A mixed read/write workload on the 1M-row table of ``table_query``: per
    block, one insert, one point query ``a = ? AND b = ?``, one range query
    ``a = ? AND b BETWEEN ? AND ?`` and one delete ``c = ?`` (hash index on c
    here, an ordinary index in SQLite), timed per operation. Ours through the
    public API (``insert`` of a row tuple, ``query`` and ``delete`` of a list of
    predicate tuples); SQLite through ``execute`` with parameters (its statement
    cache), one commit per call."""
    target = _mix_table(impl, seed)
    ops = _mix_ops(seed)
    if impl == "tradeoff":
        t = target

        def run():
            for row, (pa, pb), (ra, lo, hi), c in ops:
                t.insert([row])
                t.query([("a", "=", pa), ("b", "=", pb)])
                t.query([("a", "=", ra), ("b", "between", lo, hi)])
                t.delete([("c", "=", c)])
        return run
    conn = target.conn
    name = target.table.name
    ins = f"INSERT INTO {name} (a, b, c) VALUES (?, ?, ?)"
    point = f"SELECT rowid FROM {name} WHERE a = ? AND b = ?"
    window = f"SELECT rowid FROM {name} WHERE a = ? AND b BETWEEN ? AND ?"
    dele = f"DELETE FROM {name} WHERE c = ?"

    def run():
        ex = conn.execute
        for row, pq, rq, c in ops:
            ex(ins, row)
            ex(point, pq).fetchall()
            ex(window, rq).fetchall()
            ex(dele, (c,))
        conn.commit()
    return run


@scenario(params={"impl": ["tradeoff", "sqlite"]}, compare="impl")
def table_mix_agreement(impl, seed):
    """The mixed workload's answers, checked: one pass of ``table_mix``'s
    operations on a fresh copy, ours beside SQLite's, every query's rows and
    every delete's count compared (``equal``), and the bytes per row of the
    (a, b) index after it (ours: ``nbytes``; SQLite: its pages)."""
    from tradeoff.index import SQLitePeer, Table

    t, _ = _table(seed)
    ours = Table({c: t.column(c) for c in t.columns})
    ours.create_index(("a", "b"), name="idx_ab")
    ours.create_index("c", kind="hash", name="idx_c")
    peer = SQLitePeer(ours)
    equal = True
    t0 = time.perf_counter()
    for row, (pa, pb), (ra, lo, hi), c in _mix_ops(seed):
        equal &= ours.insert([row]).tolist() == peer.insert([row]).tolist()
        for where in ([("a", "=", pa), ("b", "=", pb)], [("a", "=", ra), ("b", "between", lo, hi)]):
            equal &= np.array_equal(ours.query(where), peer.query(where))
        equal &= ours.delete([("c", "=", c)]) == peer.delete([("c", "=", c)]) == 1
    seconds = time.perf_counter() - t0
    if impl == "sqlite":
        nbytes = peer.nbytes("idx_ab") or float("nan")
    else:
        nbytes = {i.name: i.nbytes for i in ours.indexes}["idx_ab"]
    peer.close()
    return {"equal": bool(equal), "bytes_per_row": nbytes / len(ours), "check_s": seconds}


# ------------------------------------------------------------------ inverted index

DOCS = 100_000
PAIRS = 50
BUCKETS = ["rare_rare", "rare_common", "mid_mid", "mid_common", "common_common"]


@lru_cache(maxsize=1)
def _corpus(seed: int) -> list:
    from tradeoff.index.corpus import zipf_corpus
    return zipf_corpus(DOCS, seed=seed)


@lru_cache(maxsize=1)
def _ours(seed: int):
    from tradeoff.index import InvertedIndex

    ix = InvertedIndex()
    ix.add_many(range(DOCS), _corpus(seed))
    ix.commit()
    return ix


@lru_cache(maxsize=1)
def _tantivy(seed: int):
    """tantivy over the same texts: one text field (default tokenizer, which
    splits these lowercase words exactly as ours does), in RAM, one writer thread."""
    tantivy = _peers.require("tantivy", "tantivy index")
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, index_option="freq")
    sb.add_integer_field("id", stored=True, indexed=False, fast=False)
    index = tantivy.Index(sb.build())
    t0 = time.perf_counter()
    w = index.writer(heap_size=400_000_000, num_threads=1)
    for i, text in enumerate(_corpus(seed)):
        w.add_document(tantivy.Document(id=i, body=text))
    w.commit()
    w.wait_merging_threads()
    index.reload()
    return index, index.searcher(), time.perf_counter() - t0


@lru_cache(maxsize=8)
def _pairs(bucket: str, seed: int) -> list:
    """PAIRS term pairs of a document-frequency bucket: rare df < 0.1% of the
    documents, mid 1%-10%, common > 10%."""
    tokens, dfs = _ours(seed).doc_freqs()
    tok = np.array(tokens, dtype=object)
    groups = {"rare": tok[dfs < DOCS // 1000], "mid": tok[(dfs >= DOCS // 100) & (dfs <= DOCS // 10)],
              "common": tok[dfs > DOCS // 10]}
    a_group, b_group = (groups[g] for g in bucket.split("_"))
    rng = np.random.default_rng([seed, BUCKETS.index(bucket)])
    out = []
    while len(out) < PAIRS:
        a, b = a_group[rng.integers(len(a_group))], b_group[rng.integers(len(b_group))]
        if a != b:
            out.append((str(a), str(b)))
    return out


@benchmark(params={"bucket": BUCKETS, "impl": ["tradeoff", "tantivy", "pyroaring", "numpy"]},
           compare="impl", inner_loops=PAIRS, processes=3)
def inverted_count(bucket, impl, seed):
    """The number of documents holding both terms (``"a AND b"``), per query,
    100k-document Zipf corpus: ``count`` (ours, query string parsed each time),
    tantivy's ``search(parse_query(...), 1, count=True).count`` (its limit must
    be >= 1), ``len(BitMap & BitMap)`` on prebuilt pyroaring bitmaps, and
    ``np.intersect1d`` of the raw posting arrays."""
    pairs = _pairs(bucket, seed)
    queries = [f"{a} AND {b}" for a, b in pairs]
    if impl == "tradeoff":
        count = _ours(seed).count
        return lambda: [count(q) for q in queries]
    if impl == "tantivy":
        index, searcher, _ = _tantivy(seed)
        return lambda: [searcher.search(index.parse_query(q, ["body"]), 1, count=True).count for q in queries]
    ix = _ours(seed)
    post = {t: ix.postings(t)[0] for pair in pairs for t in pair}
    if impl == "pyroaring":
        bm = _peers.require("pyroaring", "pyroaring BitMap").BitMap
        maps = {t: bm(p.astype(np.uint32)) for t, p in post.items()}
        return lambda: [len(maps[a] & maps[b]) for a, b in pairs]
    return lambda: [len(np.intersect1d(post[a], post[b], assume_unique=True)) for a, b in pairs]


@benchmark(params={"bucket": BUCKETS, "op": ["AND", "OR"], "impl": ["tradeoff", "tantivy"]},
           compare="impl", inner_loops=PAIRS, processes=3)
def inverted_top10(bucket, op, impl, seed):
    """BM25 top-10 of ``"a AND b"`` / ``"a OR b"`` per query (k1 1.2, b 0.75,
    the same IDF in both libraries)."""
    queries = [f"{a} {op} {b}" for a, b in _pairs(bucket, seed)]
    if impl == "tradeoff":
        top = _ours(seed).top_k
        return lambda: [top(q, 10) for q in queries]
    index, searcher, _ = _tantivy(seed)
    return lambda: [searcher.search(index.parse_query(q, ["body"]), 10, count=False).hits for q in queries]


@scenario(params={"impl": ["tradeoff", "tantivy"]}, compare="impl")
def inverted_build(impl, seed):
    """Indexing the 100k documents (one thread each), and the memory they take:
    ours in RAM (postings bit-packed in blocks of 128, with skip data), tantivy's
    index files (in RAM here; they include a stored id field)."""
    _corpus(seed)
    if impl == "tradeoff":
        from tradeoff.index import InvertedIndex

        t0 = time.perf_counter()
        ix = InvertedIndex()
        ix.add_many(range(DOCS), _corpus(seed))
        ix.commit()
        return {"build_s": time.perf_counter() - t0, "bytes": ix.nbytes, "postings": ix.npostings,
                "bytes_per_posting": ix.nbytes / ix.npostings,
                "posting_list_bytes_per_posting": ix.bytes_per_posting}
    _, _, seconds = _tantivy(seed)
    return {"build_s": seconds}


@scenario(params={"bucket": BUCKETS})
def inverted_agreement(bucket, seed):
    """Our counts against tantivy's and pyroaring's on the same pairs (must be
    equal), and the overlap of the two BM25 top-10 lists (tantivy rounds
    document lengths to one-byte norms, so near-ties can swap)."""
    ix = _ours(seed)
    index, searcher, _ = _tantivy(seed)
    equal, overlap = 0, []
    for a, b in _pairs(bucket, seed):
        q = f"{a} AND {b}"
        theirs = searcher.search(index.parse_query(q, ["body"]), 10, count=True)
        equal += ix.count(q) == theirs.count
        ours_top = {d for d, _ in ix.top_k(q, 10)}
        their_top = {searcher.doc(addr)["id"][0] for _, addr in theirs.hits}
        if their_top:
            overlap.append(len(ours_top & their_top) / len(their_top))
    return {"counts_equal": equal / PAIRS, "top10_overlap": float(np.mean(overlap)) if overlap else float("nan")}
