"""Shared C-level pieces, cimported by every area.

- ``hashing.pxd``: 64-bit integer mixers and the stable byte-string hash (inline).
- ``mem.pxd``: ``mem_resize`` and ``mem_zeroed``, the resize-or-raise and
  zeroed-or-raise every typed core allocates with.
- ``debug.pxd`` / ``debug.pyx``: ``DEBUG_ASSERT``, the kernels' invariant checks,
  compiled only into the debug build (``TRADEOFF_DEBUG=1``); ``debug.ENABLED`` says
  which build this is.
- ``table.pxd`` / ``table.pyx``: an int64 -> int64 open-addressing hash table with
  linear probing and backward-shift deletion.
- ``dlist.pxd`` / ``dlist.pyx``: doubly linked lists over int32 index arrays, with
  sentinel nodes, for O(1) recency, FIFO and frequency orders.

Nothing here has a Python API of its own; ``tradeoff._core.table`` exposes a
small ``Int64Table`` wrapper used by the tests to check the table against a dict.
"""
