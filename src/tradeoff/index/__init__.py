"""Indexes: a B+tree, a hash index, an inverted index with BM25, and a table with
composite indexes and a small query planner.

- ``BTree`` / ``Int64BTree`` / ``ObjectBTree``: sorted mappings (int64 keys
  unboxed, or any ordered Python keys) with range iteration, floor/ceiling,
  counts in O(log n), bulk building from sorted keys and nogil batch queries.
- ``HashIndex``: int64 keys to int64 row ids (non-unique keys), equality only,
  on the shared open-addressing table of ``tradeoff._core``.
- ``InvertedIndex``: documents to compressed posting lists; boolean queries
  (AND, OR, NOT, parentheses, phrases) and BM25 top-k.
- ``Table``: numpy columns with B-tree and hash indexes, ``query(where)`` and
  ``explain(where)`` by the leftmost-prefix rule; ``SQLitePeer`` runs the same
  table and queries through SQLite.

>>> from tradeoff.index import BTree
>>> t = BTree()
>>> for k in (5, 1, 9, 3):
...     t[k] = str(k)
>>> list(t.irange(2, 8)), t.floor(4), t.count(1, 9)
([3, 5], 3, 4)
"""
from ._btree import BTree, Int64BTree, ObjectBTree
from ._hashindex import HashIndex
from ._inverted import InvertedIndex
from .table import SQLitePeer, Table

__all__ = ["BTree", "Int64BTree", "ObjectBTree", "HashIndex", "InvertedIndex", "Table", "SQLitePeer"]
